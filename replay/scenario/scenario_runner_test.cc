// The scenario runner: the actions and expectations that bundled scenarios cannot show failing on
// their own (balanced counts, views, errors of steps that cannot run), and record -> replay.
#include "replay/scenario/scenario_runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "broker/embedded/embedded_broker.h"
#include "pipeline/sinks/sqlite_sink.h"
#include "replay/scenario/capture.h"

namespace kappa {
namespace {

Scenario scenario(std::string_view text, const std::string& path = "runner_test.json") {
  auto doc = JsonDocument::parse(text, path);
  EXPECT_TRUE(doc) << doc.status().message();
  auto s = parse_scenario(*doc);
  EXPECT_TRUE(s) << s.status().message();
  return *s;
}

struct Rig {
  EmbeddedBroker broker;
  std::unique_ptr<SqliteSink> sink = std::move(SqliteSink::open(":memory:").value());
  RunReport run(const Scenario& s) { return run_scenario(s, broker, *sink, RunOptions{}); }
};

std::string all_lines(const RunReport& r) {
  std::string out;
  for (const auto& f : r.failures) {
    out += f.title + "\n";
    for (const auto& l : f.lines) out += "  " + l + "\n";
  }
  return out;
}

// Forty events, 16:42:00 .. 16:42:39: v1 closes [16:42:00,10) and [10,20) (W = 16:42:24).
constexpr std::string_view kForty = R"({"actions": [
  {"generate": {"rate": 1, "count": 40}},
  {"advance": "1m"},
  {"expect": {"table": "events_users_v1", "row_count": 20}},
  {"expect": {"balanced": true}}
]})";

TEST(ScenarioRunner, BalancedHoldsOnAnUntouchedRun) {
  Rig rig;
  const RunReport r = rig.run(scenario(kForty));
  EXPECT_TRUE(r.passed()) << all_lines(r) << r.error.message();
  EXPECT_EQ(r.expectations, 2);
}

TEST(ScenarioRunner, BalancedFailsWhenTheTableHoldsRowsNoBatchCounted) {
  Rig rig;
  // Someone else appends a row to the table before the run: the table no longer equals what
  // the query counted, and the balance says so.
  const TableRow extra{"2022-09-30 16:42:00", "2022-09-30 16:42:10", DimValue(std::string("zero")),
                       5};
  BatchCommit commit;
  commit.query_id = "someone_else";
  commit.table = TableSpec{"events_users_v1", "user_name", ColumnType::kText};
  commit.rows = std::span<const TableRow>(&extra, 1);
  commit.source_end = "events_stages/0:0";
  ASSERT_TRUE(rig.sink->commit_batch(commit));
  const RunReport r = rig.run(scenario(kForty));
  ASSERT_EQ(r.failures.size(), 2u) << all_lines(r);  // the row count (21) and the balance
  EXPECT_EQ(r.failures[1].title.find("expect balanced"), 0u) << r.failures[1].title;
  ASSERT_FALSE(r.failures[1].lines.empty());
  EXPECT_NE(r.failures[1].lines[0].find("events_users_v1"), std::string::npos)
      << r.failures[1].lines[0];
  EXPECT_NE(r.failures[1].lines[0].find("counted 40 = 25 in events_users_v1 + 20 in open windows"),
            std::string::npos)
      << r.failures[1].lines[0];
}

TEST(ScenarioRunner, AViewBeforeAnyCutoverIsAFailureNotACrash) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"advance": "5s"},
    {"expect": {"view": "events_users", "reads": "events_users_v1"}}
  ]})"));
  ASSERT_EQ(r.failures.size(), 1u) << r.error.message();
  ASSERT_FALSE(r.failures[0].lines.empty());
  EXPECT_NE(r.failures[0].lines[0].find("events_users"), std::string::npos)
      << r.failures[0].lines[0];
}

TEST(ScenarioRunner, CutoverRepointsTheViewAndBack) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"advance": "1m"},
    {"recover": {"table": "events_users_v2", "watermark": "1m"}},
    {"run_until_idle": true},
    {"cutover": {"to": "events_users_v2"}},
    {"expect": {"view": "events_users", "reads": "events_users_v2"}},
    {"cutover": {"to": "events_users_v1"}},
    {"expect": {"view": "events_users", "reads": "events_users_v1"}},
    {"expect": {"table": "events_users", "row_count": 20}}
  ]})"));
  EXPECT_TRUE(r.passed()) << all_lines(r) << r.error.message();
  const auto views = rig.sink->view_target("events_users");
  ASSERT_TRUE(views) << views.status().message();
  EXPECT_EQ(views->value_or(""), "events_users_v1");
}

TEST(ScenarioRunner, CutoverToAMissingTableIsRefused) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"advance": "5s"},
    {"cutover": {"to": "events_users_v9"}}
  ]})"));
  EXPECT_FALSE(r.error.is_ok());
  EXPECT_NE(r.error.message().find("events_users_v9"), std::string::npos) << r.error.message();
  EXPECT_EQ(r.error_where.location.line, 3);
}

TEST(ScenarioRunner, StepsThatCannotRunNameTheirLine) {
  {
    Rig rig;  // an arrival before the clock
    const RunReport r = rig.run(scenario(R"({"actions": [
      {"advance": "1m"},
      {"produce": {"at": "2022-09-30 16:42:10", "event": {"id": 1}}}
    ]})"));
    EXPECT_EQ(r.error.code(), StatusCode::kInvalidArgument) << r.error.message();
    EXPECT_EQ(r.error_where.location.line, 3);
  }
  {
    Rig rig;  // a crash of a query that does not exist
    const RunReport r = rig.run(scenario(R"({"actions": [
      {"fault": {"crash": {"query": "events_users_v7", "at": "before_rows"}}}
    ]})"));
    EXPECT_EQ(r.error.code(), StatusCode::kInvalidArgument) << r.error.message();
    EXPECT_NE(r.error.message().find("events_users_v7"), std::string::npos);
  }
  {
    Rig rig;  // windows that do not tile: 10 s against 15 s
    const RunReport r = rig.run(scenario(R"({"actions": [
      {"generate": {"rate": 1, "count": 40}},
      {"advance": "1m"},
      {"recover": {"table": "events_users_v2", "window": "15s"}},
      {"run_until_idle": true},
      {"compare": {"tables": ["events_users_v1", "events_users_v2"]}}
    ]})"));
    EXPECT_EQ(r.error.code(), StatusCode::kInvalidArgument) << r.error.message();
    EXPECT_NE(r.error.message().find("tile"), std::string::npos) << r.error.message();
  }
}

TEST(ScenarioRunner, AnExpectedRefusalThatDoesNotHappenFails) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"advance": "5s"},
    {"recover": {"table": "events_users_v2", "expect_error": "refusing"}}
  ]})"));
  ASSERT_EQ(r.failures.size(), 1u) << r.error.message();
  EXPECT_NE(r.failures[0].lines[0].find("was accepted"), std::string::npos)
      << r.failures[0].lines[0];
}

TEST(ScenarioRunner, ACrashWithManualRestartStaysDownUntilRestarted) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"fault": {"crash": {"query": "events_users_v1", "at": "before_rows", "after": 2}}},
    {"advance": "30s"},
    {"expect": {"metrics": {"query": "events_users_v1", "state": "crashed", "batches": 2}}},
    {"restart": "events_users_v1"},
    {"advance": "30s"},
    {"expect": {"metrics": {"query": "events_users_v1", "state": "running"}}},
    {"expect": {"table": "events_users_v1", "row_count": 20}},
    {"expect": {"balanced": true}}
  ]})"));
  EXPECT_TRUE(r.passed()) << all_lines(r) << r.error.message();
}

// A query whose batch fails at every attempt until the scenario ends has not done its work:
// the scenario fails, naming the query, the attempts and the last error, even with no
// expectation about that query.
TEST(ScenarioRunner, AQueryFailingUntilTheEndFailsTheScenario) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"fault": {"sink_unavailable": {"commits": 1000, "query": "events_users_v1"}}},
    {"advance": "1m"}
  ]})"));
  EXPECT_FALSE(r.passed()) << r.error.message();
  ASSERT_EQ(r.failures.size(), 1u) << all_lines(r) << r.error.message();
  const std::string lines = all_lines(r);
  EXPECT_NE(r.failures[0].title.find("events_users_v1"), std::string::npos) << lines;
  EXPECT_NE(lines.find("13 attempts"), std::string::npos) << lines;
  EXPECT_NE(lines.find("injected"), std::string::npos) << "the last error: " << lines;
  EXPECT_EQ(r.failures[0].where.location.line, 4) << "the step during which it began failing";
}

// The same run passes when the scenario expects the failure: a metrics expectation of the query's
// failed attempts or state after it began failing (as a sink-outage scenario would check).
TEST(ScenarioRunner, AnExpectedFailureUntilTheEndPasses) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"fault": {"sink_unavailable": {"commits": 1000, "query": "events_users_v1"}}},
    {"advance": "1m"},
    {"expect": {"metrics": {"query": "events_users_v1", "failed_attempts": 13}}}
  ]})"));
  EXPECT_TRUE(r.passed()) << all_lines(r) << r.error.message();
  // A crash left standing to the end, expected as such, passes too.
  Rig rig2;
  const RunReport crashed = rig2.run(scenario(R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"fault": {"crash": {"query": "events_users_v1", "at": "before_rows", "after": 2}}},
    {"advance": "30s"},
    {"expect": {"metrics": {"query": "events_users_v1", "state": "crashed"}}}
  ]})"));
  EXPECT_TRUE(crashed.passed()) << all_lines(crashed) << crashed.error.message();
  // ... and fails when it is not expected.
  Rig rig3;
  const RunReport unexpected = rig3.run(scenario(R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"fault": {"crash": {"query": "events_users_v1", "at": "before_rows", "after": 2}}},
    {"advance": "30s"},
    {"expect": {"metrics": {"query": "stage", "state": "running"}}}
  ]})"));
  EXPECT_FALSE(unexpected.passed()) << all_lines(unexpected);
}

// A failure that recovers before the end is no failure of the scenario.
TEST(ScenarioRunner, AFailureThatRecoversPasses) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"fault": {"sink_unavailable": {"commits": 3, "query": "events_users_v1"}}},
    {"advance": "1m"},
    {"expect": {"table": "events_users_v1", "row_count": 20}}
  ]})"));
  EXPECT_TRUE(r.passed()) << all_lines(r) << r.error.message();
}

// A topic recorded from one run and replayed into another arrives at the same times and gives
// the same table.
TEST(ScenarioRunner, RecordedTopicReplaysToTheSameTable) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "runner_replay";
  std::filesystem::create_directories(dir);
  const std::string capture = (dir / "events.jsonl").string();
  constexpr std::string_view kOriginal = R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"produce": {"at": "2022-09-30 16:42:33", "event": {"id": 900, "time": "2022-09-30 16:42:02"}}},
    {"advance": "1m"}
  ]})";
  std::vector<TableRow> original_rows;
  {
    Rig rig;
    const RunReport r = rig.run(scenario(kOriginal));
    ASSERT_TRUE(r.passed()) << r.error.message();
    std::ofstream out(capture);
    auto n = write_capture(rig.broker, {"events"}, out);
    ASSERT_TRUE(n) << n.status().message();
    EXPECT_EQ(*n, 41);
    original_rows = rig.sink->read_table("events_users_v1").value();
  }
  const std::string replayed = R"({"actions": [
    {"replay": {"file": "events.jsonl", "timing": "recorded"}},
    {"advance": "1m"},
    {"expect": {"topic": "events", "count": 41}},
    {"expect": {"metrics": {"query": "events_users_v1", "dropped_as_late": 1}}}
  ]})";
  Rig rig;
  const RunReport r = rig.run(scenario(replayed, (dir / "replay.json").string()));
  EXPECT_TRUE(r.passed()) << all_lines(r) << r.error.message();
  auto rows = rig.sink->read_table("events_users_v1");
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, original_rows);
  EXPECT_EQ(rows->size(), 20u);
}

TEST(ScenarioRunner, AMissingCaptureFileIsNamed) {
  Rig rig;
  const RunReport r = rig.run(scenario(R"({"actions": [
    {"replay": {"file": "no_such_capture.jsonl"}}
  ]})",
                                       "/tmp/kappa_runner_test/s.json"));
  EXPECT_EQ(r.error.code(), StatusCode::kNotFound) << r.error.message();
  EXPECT_NE(r.error.message().find("/tmp/kappa_runner_test/no_such_capture.jsonl"),
            std::string::npos)
      << r.error.message();
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

// What only the run knows: the records of a capture count against max_events when replayed.
TEST(ScenarioRunnerLimits, AReplayPastMaxEventsIsInvalidArgumentNamingTheLimit) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "runner_limits_replay";
  std::filesystem::create_directories(dir);
  {
    std::ofstream capture(dir / "three.jsonl");
    for (int i = 0; i < 3; ++i) {
      capture << R"({"topic":"events","partition":0,"offset":)" << i
              << R"(,"timestamp":1664523720000,"key":null,"value":"x"})"
              << "\n";
    }
  }
  const std::string text = R"({"actions": [{"replay": {"file": "three.jsonl", "timing": "now"}}]})";
  ScenarioLimits limits;
  limits.max_events = 2;
  auto doc = JsonDocument::parse(text, (dir / "s.json").string());
  ASSERT_TRUE(doc);
  auto s = parse_scenario(*doc, limits);
  ASSERT_TRUE(s) << s.status().message();
  Rig rig;
  const RunReport r = rig.run(*s);
  EXPECT_EQ(r.error.code(), StatusCode::kInvalidArgument) << r.error.message();
  EXPECT_NE(r.error.message().find("max_events of 2"), std::string::npos) << r.error.message();
  EXPECT_EQ(r.error_where.pointer, "/actions/0/replay");

  limits.max_events = 3;
  auto fits = parse_scenario(*doc, limits);
  ASSERT_TRUE(fits);
  Rig again;
  EXPECT_TRUE(again.run(*fits).error.is_ok());
  std::filesystem::remove_all(dir);
}

// A produce step's repeat is known when parsed: the error points at "repeat".
TEST(ScenarioRunnerLimits, AProduceRepeatPastMaxEventsIsRefusedWhenParsed) {
  auto doc =
      JsonDocument::parse(R"({"actions": [{"produce": {"raw": "x", "repeat": 5}}]})", "r.json");
  ScenarioLimits limits;
  limits.max_events = 4;
  auto s = parse_scenario(*doc, limits);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("r.json:1:49: "), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("max_events of 4"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("/actions/0/produce/repeat"), std::string::npos);
}

}  // namespace
}  // namespace kappa
