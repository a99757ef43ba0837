// Strict validation of scenario files: every error names file, line, column and JSON pointer.
#include "replay/scenario/scenario.h"

#include <gtest/gtest.h>

namespace kappa {
namespace {

Status parse(std::string_view text) {
  auto doc = JsonDocument::parse(text, "s.json");
  if (!doc) return doc.status();
  return parse_scenario(*doc).status();
}

void expect_error(std::string_view text, std::string_view fragment) {
  const Status s = parse(text);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << text;
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "message: " << s.message();
}

TEST(Scenario, AMinimalScenarioUsesTheLabDefaults) {
  auto doc = JsonDocument::parse(R"({"actions": [{"advance": "5s"}]})", "s.json");
  auto s = parse_scenario(*doc);
  ASSERT_TRUE(s) << s.status().message();
  ASSERT_EQ(s->pipeline.aggregations.size(), 1u);
  EXPECT_EQ(s->pipeline.aggregations[0].spec.table, "events_users_v1");
  EXPECT_EQ(s->pipeline.aggregations[0].spec.watermark_delay_ms, 15000);
  EXPECT_EQ(s->pipeline.zone, "Asia/Seoul");
  EXPECT_EQ(s->start_ms, 1664523720000);  // 2022-09-30 16:42:00 in Seoul
  EXPECT_EQ(s->name, "s");
}

TEST(Scenario, ParsesEveryField) {
  auto doc = JsonDocument::parse(R"({
    // a comment
    "name": "n",
    "pipeline": {
      "zone": "UTC", "trigger": "10 seconds",
      "topics": {"events": {"partitions": 3}, "events_dlq": {"name": "dead"}},
      "stage": {"starting_offsets": "earliest", "max_records_per_batch": 100},
      "aggregations": [
        {"table": "t1", "dimension": "age", "window": "1 minute", "slide": "30s", "watermark": "1m",
         "output_mode": "update", "late_rule": "spark-3.4", "trigger": "1s",
         "starting_offsets": {"offsets": {"0": 5}}},
      ],
    },
    "clock": {"start": "2024-01-01 00:00:00"},
    "actions": [
      {"generate": {"rate": 2, "count": 10, "first_id": 5, "hello": null}},
      {"produce": {"event": {"id": 1, "time_ago": "30s"}, "key": "k", "repeat": 2}},
      {"produce": {"topic": "events_stages", "value": {"time": "x"}}},
      {"produce": {"raw": "not json"}},
      {"produce": {"null_value": true, "partition": 2}},
      {"advance": {"to": "2024-01-01 00:10:00"}},
      {"run_until_idle": true},
      {"expect": {"table": "t1", "rows": [["2024-01-01 00:00:00", "2024-01-01 00:01:00", 7, 2]], "row_count": 1}},
    ],
  })",
                                 "s.json");
  ASSERT_TRUE(doc) << doc.status().message();
  auto s = parse_scenario(*doc);
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_EQ(s->pipeline.trigger_ms, 10000);
  EXPECT_EQ(s->pipeline.events.partitions, 3);
  EXPECT_EQ(s->pipeline.dlq.name, "dead");
  EXPECT_EQ(s->pipeline.stage.max_records_per_batch, 100);
  const auto& a = s->pipeline.aggregations.at(0);
  EXPECT_EQ(a.spec.window.size_ms, 60000);
  EXPECT_EQ(a.spec.window.slide_ms, 30000);
  EXPECT_EQ(a.spec.mode, OutputMode::kUpdate);
  EXPECT_EQ(a.spec.late_rule, LateRule::kSpark34);
  EXPECT_EQ(a.options.starting.kind, StartingPosition::Kind::kOffsets);
  EXPECT_EQ(s->steps.size(), 8u);
  const auto& expect = std::get<ExpectTableStep>(std::get<ExpectStep>(s->steps[7].action));
  EXPECT_EQ(expect.rows->at(0).row.dim, DimValue(int64_t{7}));
  EXPECT_EQ(expect.rows->at(0).where.location.line, 23);
  const auto& p = std::get<ProduceStep>(s->steps[2].action);
  EXPECT_EQ(p.value, std::optional<std::string>(R"({"time":"x"})"));
}

TEST(Scenario, UnknownKeysAreNamedWithASuggestion) {
  expect_error(R"({"actions": [], "pipline": {}})",
               R"(s.json:1:17: unknown key "pipline" in the scenario; did you mean "pipeline"?)");
  expect_error("{\"actions\": [\n  {\"advance\": \"5s\", \"x\": 1}\n]}",
               "s.json:2:3: expected an action");
  expect_error("{\"actions\": [\n  {\"generate\": {\"rte\": 2}}\n]}",
               R"(s.json:2:17: unknown key "rte" in generate; did you mean "rate"?)");
  expect_error(R"({"actions": [{"teleport": "5s"}]})", R"(unknown key "teleport" in an action)");
}

TEST(Scenario, WrongTypesAndBadValuesSayWhatWasExpected) {
  expect_error(
      R"({"actions": [{"advance": 5}]})",
      "expected an object (advance), found an integer (at JSON pointer /actions/0/advance)");
  expect_error(R"({"actions": [{"advance": "5 parsecs"}]})", "invalid duration");
  expect_error(R"({"actions": [{"advance": {"to": "tomorrow"}}]})", "tomorrow");
  expect_error(R"({"actions": [{"generate": {"rate": 0}}]})",
               "expected an integer from 1 to 1000000, found 0");
  expect_error(R"({"pipeline": {"zone": "Mars/Olympus"}, "actions": []})", "Mars/Olympus");
  expect_error(R"({"pipeline": {"aggregations": [{"table": "x; drop"}]}, "actions": []})",
               "table name");
  expect_error(
      R"({"pipeline": {"aggregations": [{"table": "t", "dimension": "shoe_size"}]}, "actions": []})",
      "unknown dimension 'shoe_size'");
  expect_error(
      R"({"pipeline": {"aggregations": [{"table": "t", "window": "10s", "slide": "20s"}]}, "actions": []})",
      "slide");
  expect_error(R"({"pipeline": {"aggregations": [{"table": "t"}, {"table": "t"}]}, "actions": []})",
               "two queries are named 't'");
  expect_error(R"({"actions": [{"produce": {"raw": "a", "value": 1}}]})", "give exactly one of");
  expect_error(R"({"actions": [{"expect": {"table": "t"}}]})", "say what to expect");
  expect_error(
      R"({"actions": [{"expect": {"table": "t", "rows": [["2022-09-30 16:42:00", "x", "a", 1]]}}]})",
      "/actions/0/expect/rows/0/1");
  expect_error(R"({"actions": [{"expect": {"table": "t", "rows": [[1, 2, 3]]}}]})",
               "found 3 values");
  expect_error(R"({"pipeline": {}})", "missing key \"actions\"");
}

TEST(Scenario, NamesTheSinksReserveAreRefused) {
  expect_error(R"({"pipeline": {"aggregations": [{"table": "kappa_ledger"}]}, "actions": []})",
               "table name 'kappa_ledger' is reserved");
  expect_error(R"({"pipeline": {"aggregations": [{"table": "sqlite_master"}]}, "actions": []})",
               "table name 'sqlite_master' is reserved");
  expect_error(R"({"actions": [{"recover": {"table": "kappa_views"}}]})",
               "table name 'kappa_views' is reserved");
  expect_error(R"({"actions": [{"cutover": {"view": "sqlite_master", "to": "events_users_v1"}}]})",
               "view name 'sqlite_master' is reserved");
  expect_error(R"({"actions": [{"cutover": {"to": "kappa_ledger"}}]})", "/actions/0/cutover/to");
}

TEST(Scenario, ActionsOfRecoveryFaultsAndReplaySayWhatWasExpected) {
  expect_error(
      R"({"actions": [{"fault": {"crash": {"query": "events_users_v1", "at": "teatime"}}}]})",
      "expected one of after_plan, before_rows, between_rows_and_ledger, after_commit, "
      "before_checkpoint, "
      "found \"teatime\" (at JSON pointer /actions/0/fault/crash/at)");
  expect_error(R"({"actions": [{"fault": {"crash": {"query": "stage", "at": "before_rows"}}}]})",
               "the stage job writes no table");
  expect_error(
      R"({"actions": [{"fault": {"crash": {"query": "q", "at": "after_plan", "restart": "soon"}}}]})",
      "expected \"immediately\" or \"manual\"");
  expect_error(R"({"actions": [{"fault": {"sink_unavailable": {"commits": 1, "at": "lunch"}}}]})",
               "/actions/0/fault/sink_unavailable/at");
  expect_error(R"({"actions": [{"fault": {"sink_unavailable": {}}}]})", "missing key \"commits\"");
  expect_error(R"({"actions": [{"fault": {"broker_unavailable": {"for": "a while"}}}]})",
               "invalid duration");
  expect_error(
      R"({"actions": [{"fault": {"sink_unavailable": {"commits": 1}, "broker_unavailable": {"for": "1s"}}}]})",
      "give one fault");
  expect_error(R"({"actions": [{"recover": {"window": "1m"}}]})", "missing key \"table\"");
  expect_error(R"({"actions": [{"recover": {"table": "v2", "from": "yesterday"}}]})",
               "/actions/0/recover/from");
  expect_error(R"({"actions": [{"recover": {"table": "v2", "max_records_per_batch": 0}}]})",
               "/actions/0/recover/max_records_per_batch");
  expect_error(R"({"actions": [{"compare": {"tables": ["a"]}}]})", "expected two tables");
  expect_error(R"({"actions": [{"compare": {"tables": ["a", "b"], "expect": {"similar": 1}}}]})",
               "unknown key \"similar\"");
  expect_error(R"({"actions": [{"cutover": {"view": "events_users"}}]})", "missing key \"to\"");
  expect_error(R"({"actions": [{"cutover": {"to": "v2; drop table v1"}}]})", "table name");
  expect_error(R"({"actions": [{"replay": {"file": "x.jsonl", "timing": "later"}}]})",
               "expected \"relative\"");
  expect_error(R"({"actions": [{"produce": {"at": "soon", "event": {"id": 1}}}]})",
               "/actions/0/produce/at");
  expect_error(R"({"actions": [{"expect": {"metrics": {"query": "q", "state": "asleep"}}}]})",
               "expected \"running\", \"crashed\" or \"stopped\"");
  expect_error(R"({"actions": [{"expect": {"dead_letters": {"reasons": {"cosmic_ray": 1}}}}]})",
               "unknown key \"cosmic_ray\"");
  expect_error(R"({"actions": [{"expect": {"table": "t", "row_count": 1, "topic": "events"}}]})",
               "expect one thing at a time");
  expect_error(R"({"actions": [{"expect": {"balanced": false}}]})", "expected true");
  expect_error(R"({"actions": [{"stop": "everything"}]})", "/actions/0/stop");
}

TEST(Scenario, TruncatedMissingAndDirectoryFiles) {
  const Status truncated = parse("{\"actions\": [\n  {\"advance\": \"5s\"}");
  EXPECT_NE(truncated.message().find("s.json:2:20: unexpected end of input"), std::string::npos)
      << truncated.message();
  auto missing = load_scenario("/nonexistent/scenario.json");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/scenario.json"), std::string::npos);
}

TEST(Scenario, FixturePathsAreRelativeToTheScenario) {
  auto doc = JsonDocument::parse(
      R"({"pipeline": {"fixtures": {"names": "../fixtures/n.jsonl"}}, "actions": []})",
      "scenarios/x.json");
  auto s = parse_scenario(*doc);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pipeline.names_fixture, std::optional<std::string>("fixtures/n.jsonl"));
}

}  // namespace
}  // namespace kappa
