// Every bundled scenario passes, and fails when one of its expectations is changed: proof that
// each expectation is checked, not decoration.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>

#include "broker/embedded/embedded_broker.h"
#include "pipeline/sinks/sqlite_sink.h"
#include "replay/scenario/scenario_runner.h"
#include "tests/bundled_scenarios.h"

namespace kappa {
namespace {

RunReport run(const Scenario& s) {
  EmbeddedBroker broker;
  auto sink = SqliteSink::open(":memory:");
  EXPECT_TRUE(sink);
  return run_scenario(s, broker, **sink, RunOptions{});
}

class BundledScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledScenario, Passes) {
  auto s = load_scenario(GetParam());
  ASSERT_TRUE(s) << s.status().message();
  const RunReport r = run(*s);
  EXPECT_TRUE(r.error.is_ok()) << r.error_where.to_string() << ": " << r.error.message();
  for (const auto& f : r.failures) {
    ADD_FAILURE() << f.where.to_string() << ": " << f.title << "\n  "
                  << (f.lines.empty() ? "" : f.lines[0]);
  }
  EXPECT_GT(r.expectations, 0) << "a bundled scenario must check something";
}

// One way to change one expectation of a scenario: the run must then fail at that step.
struct Mutation {
  size_t step;
  std::string what;  // "row_count 280 -> 281"
  std::function<void(Step&)> apply;
};

std::string num(int64_t v) { return std::to_string(v); }

// Every field of every expectation (table rows, topics, dead letters, metrics, catch-up, views,
// comparisons, refused recoveries), each changed on its own.
std::vector<Mutation> mutations(const Scenario& s) {
  std::vector<Mutation> out;
  auto add = [&](size_t i, std::string what, std::function<void(Step&)> f) {
    out.push_back({i, std::move(what), std::move(f)});
  };
  auto bump = [&](size_t i, const std::string& field, const std::optional<int64_t>& v,
                  auto member) {
    if (!v) return;
    add(i, field + " " + num(*v) + " -> " + num(*v + 1), [member](Step& st) {
      auto& opt = member(st);
      *opt += 1;
    });
  };
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const Step& step = s.steps[i];
    if (const auto* c = std::get_if<CompareStep>(&step.action)) {
      auto cmp = [](Step& st) -> CompareStep& { return std::get<CompareStep>(st.action); };
      bump(
          i, "compare same", c->same, [cmp](Step & st) -> auto& { return cmp(st).same; });
      bump(
          i, "compare changed", c->changed, [cmp](Step & st) -> auto& { return cmp(st).changed; });
      bump(
          i, "compare added", c->added, [cmp](Step & st) -> auto& { return cmp(st).added; });
      bump(
          i, "compare removed", c->removed, [cmp](Step & st) -> auto& { return cmp(st).removed; });
      continue;
    }
    if (const auto* r = std::get_if<RecoverStep>(&step.action)) {
      if (r->expect_error) {
        add(i, "the refusal's text", [](Step& st) {
          *std::get<RecoverStep>(st.action).expect_error = "a message no refusal has";
        });
      }
      continue;
    }
    const auto* e = std::get_if<ExpectStep>(&step.action);
    if (!e) continue;
    if (const auto* t = std::get_if<ExpectTableStep>(e)) {
      auto table = [](Step& st) -> ExpectTableStep& {
        return std::get<ExpectTableStep>(std::get<ExpectStep>(st.action));
      };
      if (t->rows && !t->rows->empty()) {
        for (size_t r = 0; r < t->rows->size(); r += std::max<size_t>(1, t->rows->size() / 3)) {
          add(i, "the count of rows[" + num(static_cast<int64_t>(r)) + "]",
              [table, r](Step& st) { table(st).rows->at(r).row.count += 1; });
        }
        add(i, "one row fewer", [table](Step& st) { table(st).rows->pop_back(); });
      } else if (t->rows) {
        add(i, "a row in an empty table", [table](Step& st) {
          table(st).rows->push_back(ExpectedRow{
              TableRow{"2000-01-01 00:00:00", "2000-01-01 00:00:10", DimValue(std::string("x")), 1},
              {}});
        });
      }
      for (size_t r = 0; r < t->contains.size(); ++r) {
        add(i, "the count of contains[" + num(static_cast<int64_t>(r)) + "]",
            [table, r](Step& st) { table(st).contains.at(r).row.count += 1; });
      }
      for (size_t r = 0; r < t->absent.size(); ++r) {
        // A row that is there: one the same expectation says the table holds.
        const ExpectedRow* present = !t->contains.empty()             ? &t->contains.front()
                                     : (t->rows && !t->rows->empty()) ? &t->rows->front()
                                                                      : nullptr;
        if (!present) continue;
        const ExpectedRow row = *present;
        add(i, "absent[" + num(static_cast<int64_t>(r)) + "] names a row that is there",
            [table, r, row](Step& st) { table(st).absent.at(r) = row; });
      }
      bump(
          i, "row_count",
          t->row_count, [table](Step & st) -> auto& { return table(st).row_count; });
    } else if (const auto* tp = std::get_if<ExpectTopicStep>(e)) {
      auto topic = [](Step& st) -> ExpectTopicStep& {
        return std::get<ExpectTopicStep>(std::get<ExpectStep>(st.action));
      };
      bump(
          i, "topic count", tp->count, [topic](Step & st) -> auto& { return topic(st).count; });
      if (tp->values && !tp->values->empty()) {
        add(i, "the last value",
            [topic](Step& st) { topic(st).values->back().value = "a value not there"; });
      }
      for (size_t v = 0; v < tp->contains.size(); ++v) {
        add(i, "contains[" + num(static_cast<int64_t>(v)) + "]", [topic, v](Step& st) {
          auto& value = topic(st).contains.at(v).value;
          if (value.is_object() && !value.empty()) {
            value.erase(value.begin());  // the same record with one field fewer
          } else {
            value = "a value not there";
          }
        });
      }
    } else if (const auto* d = std::get_if<ExpectDeadLettersStep>(e)) {
      auto dl = [](Step& st) -> ExpectDeadLettersStep& {
        return std::get<ExpectDeadLettersStep>(std::get<ExpectStep>(st.action));
      };
      bump(
          i, "dead-letter count", d->count, [dl](Step & st) -> auto& { return dl(st).count; });
      for (size_t r = 0; r < d->reasons.size(); ++r) {
        add(i, "reason " + d->reasons[r].first,
            [dl, r](Step& st) { dl(st).reasons.at(r).second += 1; });
      }
    } else if (const auto* m = std::get_if<ExpectMetricsStep>(e)) {
      auto met = [](Step& st) -> ExpectMetricsStep& {
        return std::get<ExpectMetricsStep>(std::get<ExpectStep>(st.action));
      };
      if (m->watermark_ms) {
        add(i, "watermark + 1 s", [met](Step& st) { *met(st).watermark_ms += 1000; });
      }
      bump(
          i, "batches", m->batches, [met](Step & st) -> auto& { return met(st).batches; });
      bump(
          i, "rows_in", m->rows_in, [met](Step & st) -> auto& { return met(st).rows_in; });
      bump(
          i, "rows_out", m->rows_out, [met](Step & st) -> auto& { return met(st).rows_out; });
      bump(
          i, "dead_letters",
          m->dead_letters, [met](Step & st) -> auto& { return met(st).dead_letters; });
      bump(
          i, "dropped_as_late",
          m->dropped_as_late, [met](Step & st) -> auto& { return met(st).dropped_as_late; });
      bump(
          i, "late_groups",
          m->late_groups, [met](Step & st) -> auto& { return met(st).late_groups; });
      bump(
          i, "failed_attempts",
          m->failed_attempts, [met](Step & st) -> auto& { return met(st).failed_attempts; });
      if (m->state) {
        add(i, "state", [met](Step& st) {
          auto& state = *met(st).state;
          state = state == "running" ? "crashed" : "running";
        });
      }
    } else if (std::holds_alternative<ExpectCaughtUpStep>(*e)) {
      add(i, "caught_up flipped", [](Step& st) {
        auto& c = std::get<ExpectCaughtUpStep>(std::get<ExpectStep>(st.action));
        c.caught_up = !c.caught_up;
      });
    } else if (std::holds_alternative<ExpectViewStep>(*e)) {
      add(i, "the table the view reads", [](Step& st) {
        std::get<ExpectViewStep>(std::get<ExpectStep>(st.action)).reads = "events_users_elsewhere";
      });
    }
    // `balanced` has nothing to change; scenario_runner_test shows it fail on unbalanced counts.
  }
  return out;
}

// Changes each expectation in turn (one change at a time) and checks that the run then fails at
// that step and nowhere else.
TEST_P(BundledScenario, FailsWhenAnyExpectationChanges) {
  auto original = load_scenario(GetParam());
  ASSERT_TRUE(original) << original.status().message();
  const auto all = mutations(*original);
  RecordProperty("mutations", static_cast<int>(all.size()));
  std::set<size_t> expectation_steps;
  for (size_t i = 0; i < original->steps.size(); ++i) {
    const auto& a = original->steps[i].action;
    if (std::holds_alternative<ExpectStep>(a) || std::holds_alternative<CompareStep>(a) ||
        (std::holds_alternative<RecoverStep>(a) && std::get<RecoverStep>(a).expect_error)) {
      if (!std::holds_alternative<ExpectStep>(a) ||
          !std::holds_alternative<ExpectBalancedStep>(std::get<ExpectStep>(a))) {
        expectation_steps.insert(i);
      }
    }
  }
  std::set<size_t> mutated;
  for (const Mutation& m : all) {
    Scenario s = *original;
    m.apply(s.steps[m.step]);
    const RunReport r = run(s);
    const Where& at = s.steps[m.step].where;
    ASSERT_TRUE(r.error.is_ok()) << at.to_string() << " (" << m.what << "): " << r.error.message();
    ASSERT_EQ(r.failures.size(), 1u) << "changing " << m.what << " at " << at.to_string()
                                     << " did not make exactly that step fail";
    EXPECT_EQ(r.failures[0].where.location.line, at.location.line)
        << m.what << ": " << r.failures[0].title;
    EXPECT_FALSE(r.failures[0].lines.empty());
    mutated.insert(m.step);
  }
  EXPECT_EQ(mutated, expectation_steps) << "every expectation must be changed at least once";
  EXPECT_FALSE(mutated.empty());
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BundledScenario, ::testing::ValuesIn(bundled_scenario_files()),
                         ScenarioTestName());

}  // namespace
}  // namespace kappa
