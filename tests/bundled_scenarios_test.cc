// Every bundled scenario passes, and fails when one of its expectations is changed: proof that
// each expectation is checked, not decoration.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "broker/embedded_broker.h"
#include "pipeline/sqlite_sink.h"
#include "replay/scenario_runner.h"

namespace kappa {
namespace {

std::vector<std::string> bundled() {
  std::vector<std::string> files;
  const char* dir = std::getenv("KAPPA_SOURCE_DIR");
  const std::filesystem::path root = dir ? dir : ".";
  for (const auto& e : std::filesystem::directory_iterator(root / "scenarios")) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

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

// Changes each expectation in turn (one at a time) and checks that the run then fails, naming
// what was changed.
TEST_P(BundledScenario, FailsWhenAnyExpectationChanges) {
  auto original = load_scenario(GetParam());
  ASSERT_TRUE(original) << original.status().message();
  int mutated = 0;
  for (size_t i = 0; i < original->steps.size(); ++i) {
    auto* e = std::get_if<ExpectStep>(&original->steps[i].action);
    if (!e) continue;
    Scenario s = *original;
    auto& t = std::get<ExpectTableStep>(std::get<ExpectStep>(s.steps[i].action));
    std::string changed;
    if (t.rows && !t.rows->empty()) {
      auto& row = t.rows->back().row;
      row.count += 1;
      changed = "expected " + std::to_string(row.count);
    } else if (!t.contains.empty()) {
      t.contains.back().row.count += 1;
      changed = "expected " + std::to_string(t.contains.back().row.count);
    } else if (t.row_count) {
      *t.row_count += 1;
      changed = "expected " + std::to_string(*t.row_count);
    } else if (t.rows) {  // an expected empty table: expect a row that is not there
      t.rows->push_back(ExpectedRow{
          TableRow{"2000-01-01 00:00:00", "2000-01-01 00:00:10", DimValue(std::string("x")), 1},
          {}});
      changed = "missing";
    } else {
      continue;
    }
    const RunReport r = run(s);
    ++mutated;
    ASSERT_EQ(r.failures.size(), 1u)
        << "changing the expectation at " << s.steps[i].where.to_string()
        << " did not make the scenario fail";
    ASSERT_FALSE(r.failures[0].lines.empty());
    EXPECT_NE(r.failures[0].lines[0].find(changed), std::string::npos) << r.failures[0].lines[0];
  }
  EXPECT_GT(mutated, 0);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BundledScenario, ::testing::ValuesIn(bundled()),
                         [](const auto& param_info) {
                           std::string name =
                               std::filesystem::path(param_info.param).stem().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace kappa
