// The expectations a Run checks (run.h): compare, tables, topics, dead letters, metrics, the
// balance of counts, caught up, the view.
#include "pipeline/codec/event_codec.h"
#include "pipeline/time/duration.h"
#include "replay/scenario/run.h"
#include "replay/scenario/table_compare.h"
#include "replay/scenario/table_diff.h"

namespace kappa::runner {

const AggregationConfig* Run::aggregation_of(const std::string& table) const {
  for (const auto& a : pipeline_->config().aggregations) {
    if (a.spec.table == table) return &a;
  }
  return nullptr;
}

Status Run::compare(const CompareStep& c) {
  const AggregationConfig* l = aggregation_of(c.left);
  const AggregationConfig* r = aggregation_of(c.right);
  if (!l || !r) {
    return Status::invalid_argument("compare needs two tables the pipeline writes; " +
                                    (!l ? c.left : c.right) + " is not one");
  }
  auto left = sink_.read_table(c.left);
  if (!left) return left.status();
  auto right = sink_.read_table(c.right);
  if (!right) return right.status();
  auto cmp = compare_tables(c.left, *left, l->spec.window, c.right, *right, r->spec.window, zone());
  if (!cmp) return cmp.status();
  for (const auto& line : cmp->lines) report_.notes.push_back(line);
  std::vector<std::string> lines;
  auto check = [&](const char* what, const std::optional<int64_t>& want, int64_t got) {
    if (!want) return;
    ++report_.expectations;
    if (*want != got)
      lines.push_back(std::string(what) + ": expected " + std::to_string(*want) + ", found " +
                      std::to_string(got));
  };
  check("same", c.same, cmp->same);
  check("changed", c.changed, cmp->changed);
  check("added", c.added, cmp->added);
  check("removed", c.removed, cmp->removed);
  if (!lines.empty()) {
    lines.insert(lines.end(), cmp->lines.begin(), cmp->lines.end());
    --report_.expectations;
    fail(std::move(lines));
  }
  return Status::ok();
}

Status Run::expect(const ExpectStep& e) {
  ++report_.expectations;
  return std::visit(Overloaded{
                        [&](const ExpectTableStep& t) { return expect_table(t); },
                        [&](const ExpectTopicStep& t) { return expect_topic(t); },
                        [&](const ExpectDeadLettersStep& d) { return expect_dead_letters(d); },
                        [&](const ExpectMetricsStep& m) { return expect_metrics(m); },
                        [&](const ExpectBalancedStep&) { return expect_balanced(); },
                        [&](const ExpectCaughtUpStep& c) { return expect_caught_up(c); },
                        [&](const ExpectViewStep& v) { return expect_view(v); },
                    },
                    e);
}

Status Run::expect_table(const ExpectTableStep& t) {
  auto rows = sink_.read_table(t.table);
  if (!rows) {
    if (rows.status().code() != StatusCode::kNotFound) return rows.status();
    rows = std::vector<TableRow>{};
    if ((t.rows && !t.rows->empty()) || !t.contains.empty() || (t.row_count && *t.row_count > 0)) {
      fail({"table " + t.table + " does not exist (no batch has been written to it)"});
      return Status::ok();
    }
  }
  report_.rows_checked += static_cast<int64_t>(rows->size());
  std::vector<std::string> lines;
  auto just_rows = [](const std::vector<ExpectedRow>& expected) {
    std::vector<TableRow> out;
    for (const auto& r : expected) out.push_back(r.row);
    return out;
  };
  // Differences about an expected row say where that row is written.
  auto line_of = [](const std::vector<ExpectedRow>& expected, const TableRow& row) {
    for (const auto& x : expected) {
      if (x.row == row) return " (line " + std::to_string(x.where.location.line) + ")";
    }
    return std::string();
  };
  auto report = [&](const std::vector<ExpectedRow>& expected, const TableDiff& d, bool exact) {
    for (const auto& w : d.wrong_count) {
      lines.push_back("wrong count: " + format_row_key(w.expected) + " expected " +
                      std::to_string(w.expected.count) + ", found " + std::to_string(w.actual) +
                      line_of(expected, w.expected));
    }
    for (const auto& m : d.missing)
      lines.push_back("missing:     " + format_row(m) + line_of(expected, m));
    if (exact) {
      for (const auto& u : d.unexpected) lines.push_back("unexpected:  " + format_row(u));
    }
  };
  if (t.rows) report(*t.rows, diff_rows(just_rows(*t.rows), *rows), true);
  if (!t.contains.empty()) report(t.contains, diff_rows(just_rows(t.contains), *rows), false);
  for (const auto& a : t.absent) {
    for (const auto& r : *rows) {
      if (r == a.row)
        lines.push_back("present:     " + format_row(r) + " (expected absent, line " +
                        std::to_string(a.where.location.line) + ")");
    }
  }
  if (t.row_count && static_cast<int64_t>(rows->size()) != *t.row_count) {
    lines.push_back("row count: expected " + std::to_string(*t.row_count) + ", found " +
                    std::to_string(rows->size()));
  }
  if (!lines.empty()) fail(std::move(lines));
  return Status::ok();
}

// The records of a topic (or one partition), through the log without faults.
Result<std::vector<std::string>> Run::topic_values(const std::string& topic,
                                                   std::optional<int32_t> only,
                                                   std::vector<bool>* null_values) {
  std::vector<std::string> out;
  auto n = log_.partition_count(topic);
  if (!n)
    return n.status().code() == StatusCode::kNotFound ? Result<std::vector<std::string>>(out)
                                                      : n.status();
  for (int32_t p = 0; p < *n; ++p) {
    if (only && *only != p) continue;
    auto range = log_.offsets(topic, p);
    if (!range) return range.status();
    KAPPA_RETURN_IF_ERROR(
        scan_records(log_, topic, p, range->earliest, range->end, [&](const RecordView& r) {
          out.emplace_back(r.value.value_or(""));
          if (null_values) null_values->push_back(!r.value.has_value());
        }));
  }
  return out;
}

bool Run::value_matches(const nlohmann::ordered_json& expected, const std::string& actual) {
  if (expected.is_string()) return expected.get<std::string>() == actual;
  const auto parsed = nlohmann::ordered_json::parse(actual, nullptr, false);
  return !parsed.is_discarded() && parsed == expected;
}

Status Run::expect_topic(const ExpectTopicStep& t) {
  auto values = topic_values(t.topic, t.partition);
  if (!values) return values.status();
  std::vector<std::string> lines;
  if (t.count && static_cast<int64_t>(values->size()) != *t.count) {
    lines.push_back("record count: expected " + std::to_string(*t.count) + ", found " +
                    std::to_string(values->size()));
  }
  if (t.values) {
    const size_t n = std::max(values->size(), t.values->size());
    for (size_t i = 0; i < n; ++i) {
      if (i >= t.values->size()) {
        lines.push_back("unexpected record " + std::to_string(i) + ": " + (*values)[i]);
      } else if (i >= values->size()) {
        lines.push_back("missing record " + std::to_string(i) + ": " + (*t.values)[i].value.dump() +
                        " (line " + std::to_string((*t.values)[i].where.location.line) + ")");
      } else if (!value_matches((*t.values)[i].value, (*values)[i])) {
        lines.push_back("record " + std::to_string(i) + ": expected " +
                        (*t.values)[i].value.dump() + ", found " + (*values)[i] + " (line " +
                        std::to_string((*t.values)[i].where.location.line) + ")");
      }
    }
  }
  for (const auto& c : t.contains) {
    const bool found = std::any_of(values->begin(), values->end(),
                                   [&](const std::string& v) { return value_matches(c.value, v); });
    if (!found)
      lines.push_back("missing: " + c.value.dump() + " (line " +
                      std::to_string(c.where.location.line) + ")");
  }
  if (!lines.empty()) fail(std::move(lines));
  return Status::ok();
}

Status Run::expect_dead_letters(const ExpectDeadLettersStep& d) {
  auto values = topic_values(pipeline_->config().dlq.name, std::nullopt);
  if (!values) return values.status();
  std::map<std::string, int64_t> reasons;
  for (const auto& v : *values) {
    const auto j = nlohmann::json::parse(v, nullptr, false);
    reasons[j.is_object() && j.contains("reason") && j["reason"].is_string()
                ? j["reason"].get<std::string>()
                : "?"]++;
  }
  std::vector<std::string> lines;
  if (d.count && static_cast<int64_t>(values->size()) != *d.count) {
    lines.push_back("dead letters: expected " + std::to_string(*d.count) + ", found " +
                    std::to_string(values->size()));
  }
  for (const auto& [reason, want] : d.reasons) {
    if (reasons[reason] != want) {
      lines.push_back("reason " + reason + ": expected " + std::to_string(want) + ", found " +
                      std::to_string(reasons[reason]));
    }
  }
  if (!lines.empty()) fail(std::move(lines));
  return Status::ok();
}

Status Run::expect_metrics(const ExpectMetricsStep& m) {
  if (m.failed_attempts || m.state) {
    if (auto it = failing_.find(m.query); it != failing_.end()) it->second.expected = true;
  }
  Status missing;
  MicroBatchQuery* q = query_or_fail(m.query, missing);
  if (!q) return missing;
  auto totals = pipeline_->totals(m.query);
  if (!totals) return totals.status();
  const auto& t = *totals;
  std::vector<std::string> lines;
  auto check = [&](const char* what, const std::optional<int64_t>& want, int64_t got) {
    if (want && *want != got)
      lines.push_back(std::string(what) + ": expected " + std::to_string(*want) + ", found " +
                      std::to_string(got));
  };
  if (m.watermark_ms && *m.watermark_ms != q->watermark_ms()) {
    lines.push_back("watermark: expected " + format_timestamp_ms(*m.watermark_ms, zone()) +
                    ", found " + format_timestamp_ms(q->watermark_ms(), zone()));
  }
  check("batches", m.batches, t.batches);
  check("rows_in", m.rows_in, t.rows_in);
  check("rows_out", m.rows_out, t.rows_out);
  check("dead_letters", m.dead_letters, t.dead_letters);
  check("dropped_as_late", m.dropped_as_late, t.late_rows);
  check("late_groups", m.late_groups, t.late_groups);
  check("failed_attempts", m.failed_attempts, t.failed_attempts);
  if (m.state) {
    const char* state = q->run_state() == MicroBatchQuery::RunState::kRunning   ? "running"
                        : q->run_state() == MicroBatchQuery::RunState::kCrashed ? "crashed"
                                                                                : "stopped";
    if (*m.state != state) lines.push_back("state: expected " + *m.state + ", found " + state);
  }
  if (!lines.empty()) fail(std::move(lines));
  return Status::ok();
}

Status Run::expect_balanced() {
  std::vector<std::string> lines;
  for (MicroBatchQuery* q : pipeline_->queries()) {
    const std::string& id = q->name();
    auto totals = pipeline_->totals(id);
    if (!totals) return totals.status();
    const auto& t = *totals;
    std::string figures = id + ": read " + std::to_string(t.rows_in) + " = " +
                          std::to_string(t.decoded) + " processed + " +
                          std::to_string(t.dead_letters) + " dead letters";
    bool ok = t.rows_in == t.decoded + t.dead_letters;
    if (auto* agg = dynamic_cast<AggregateProcessor*>(&q->processor())) {
      const auto& spec = agg->spec();
      figures += "; window rows " + std::to_string(t.windowed_rows + t.late_rows) + " = " +
                 std::to_string(t.windowed_rows) + " counted + " + std::to_string(t.late_rows) +
                 " late";
      if (spec.window.size_ms == spec.window.slide_ms)
        ok = ok && t.decoded == t.windowed_rows + t.late_rows;
      if (spec.mode == OutputMode::kAppend) {
        auto rows = sink_.read_table(spec.table);
        int64_t written = 0;
        if (rows) {
          for (const auto& r : *rows) written += r.count;
        }
        figures += "; counted " + std::to_string(t.windowed_rows) + " = " +
                   std::to_string(written) + " in " + spec.table + " + " +
                   std::to_string(agg->state_count()) + " in open windows";
        ok = ok && t.windowed_rows == written + agg->state_count();
      }
    }
    report_.notes.push_back(figures);
    if (!ok) lines.push_back("unbalanced: " + figures);
  }
  if (!lines.empty()) fail(std::move(lines));
  return Status::ok();
}

Status Run::expect_caught_up(const ExpectCaughtUpStep& c) {
  auto up = pipeline_->caught_up(c.query, c.with);
  if (!up) return up.status();
  if (*up != c.caught_up) {
    auto offsets = [&](const std::string& id) {
      const auto* q = pipeline_->query(id);
      return format_offsets(q->spec().source_topic, q->committed_offsets());
    };
    fail({c.query + " has read to " + offsets(c.query) + ", " + c.with + " to " + offsets(c.with) +
          ": " + (*up ? "caught up" : "not caught up")});
  }
  return Status::ok();
}

Status Run::expect_view(const ExpectViewStep& v) {
  auto target = sink_.view_target(v.view);
  if (!target) return target.status();
  if (!*target || **target != v.reads) {
    fail({"view " + v.view + " reads " +
          (*target ? **target : std::string("nothing (no such view)")) + ", expected " + v.reads});
  }
  return Status::ok();
}

}  // namespace kappa::runner
