// The command line's contract: exit codes and what it prints (DESIGN.md §5).
#include "replay/cli/cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kappa {
namespace {

std::string source(const std::string& relative) {
  const char* dir = std::getenv("KAPPA_SOURCE_DIR");
  return (std::filesystem::path(dir ? dir : ".") / relative).string();
}

struct Ran {
  int code;
  std::string out, err;
};

Ran kappa(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = kappa_main(args, out, err);
  return {code, out.str(), err.str()};
}

std::string temp_file(const std::string& name, const std::string& text) {
  const auto path =
      std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Cli, QuickstartPassesAndPrintsItsTable) {
  const Ran r = kappa({"run", "--print-tables", source("scenarios/quickstart.json")});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS "), std::string::npos);
  EXPECT_NE(r.out.find("events_users_v1 (580 rows)"), std::string::npos);
  EXPECT_NE(r.out.find("|2022-09-30 16:51:30|2022-09-30 16:51:40|zero     |1    |"),
            std::string::npos)
      << r.out;
}

TEST(Cli, OneChangedCountExitsOneAndNamesTheRow) {
  std::string text = read(source("scenarios/quickstart.json"));
  const std::string row = R"(["2022-09-30 16:45:00", "2022-09-30 16:45:10", "three", 1])";
  const auto at = text.find(row);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, row.size(), R"(["2022-09-30 16:45:00", "2022-09-30 16:45:10", "three", 7])");
  const std::string path = temp_file("quickstart_changed.json", text);
  const Ran r = kappa({"run", path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("FAIL " + path), std::string::npos);
  EXPECT_NE(
      r.out.find(
          R"(wrong count: ["2022-09-30 16:45:00", "2022-09-30 16:45:10", "three"] expected 7, found 1)"),
      std::string::npos)
      << r.out;
  std::filesystem::remove(path);
}

TEST(Cli, BadInputExitsTwoNamingFileLineAndKey) {
  const std::string path = temp_file(
      "bad.json", "{\n  \"actions\": [\n    {\"advance\": \"5s\", \"oops\": 1}\n  ]\n}\n");
  const Ran r = kappa({"run", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(path + ":3:5: expected an action"), std::string::npos) << r.err;
  std::filesystem::remove(path);

  const Ran missing = kappa({"run", "/nonexistent/x.json"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/x.json"), std::string::npos);

  EXPECT_EQ(kappa({}).code, 2);
  EXPECT_EQ(kappa({"fly"}).code, 2);
  EXPECT_EQ(kappa({"run"}).code, 2);
  EXPECT_EQ(kappa({"run", "--colour", "x.json"}).code, 2);
}

TEST(Cli, ReservedNamesExitTwoNamingTheNameAndWhy) {
  const std::string path =
      temp_file("reserved.json", R"({"pipeline": {"aggregations": [{"table": "kappa_ledger"}]},
  "actions": [{"generate": {"rate": 1, "count": 5}}, {"advance": "30s"}]})");
  const Ran r = kappa({"run", path});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("table name 'kappa_ledger' is reserved"), std::string::npos) << r.err;
  std::filesystem::remove(path);

  const std::string db = temp_file("reserved.db", "");
  std::filesystem::remove(db);
  const Ran cut = kappa(
      {"cutover", "--sink", "sqlite:" + db, "--view", "sqlite_master", "--to", "events_users_v1"});
  EXPECT_EQ(cut.code, 2) << cut.out << cut.err;
  EXPECT_NE(cut.err.find("view name 'sqlite_master' is reserved"), std::string::npos) << cut.err;
  const Ran aggregate = kappa({"aggregate", "--broker", "kafka://127.0.0.1:1", "--sink",
                               "sqlite:" + db, "--table", "sqlite_stat1"});
  EXPECT_EQ(aggregate.code, 2) << aggregate.out << aggregate.err;
  EXPECT_NE(aggregate.err.find("table name 'sqlite_stat1' is reserved"), std::string::npos)
      << aggregate.err;
  std::filesystem::remove(db);
}

TEST(Cli, TraceShowsEachBatch) {
  const Ran r = kappa({"run", "--trace", source("scenarios/quickstart.json")});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(
      r.out.find(
          "[2022-09-30 16:42:05] events_users_v1 batch 1: read 5 (partition:[from,to) 0:[1,6)), "
          "watermark 2022-09-30 16:41:45 -> 2022-09-30 16:41:50, late 0, dead letters 0, written "
          "0"),
      std::string::npos)
      << r.out.substr(0, 2000);
  EXPECT_NE(r.out.find("[2022-09-30 16:42:00] stage batch 0: read 1 (partition:[from,to) 0:[0,1)), "
                       "dead letters 0, written 1\n"),
            std::string::npos);
}

// A folder of scenarios: one that passes, one that fails, one in a subfolder.
struct Folder {
  std::filesystem::path dir;
  explicit Folder(const std::string& name) {
    dir = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "more");
  }
  ~Folder() { std::filesystem::remove_all(dir); }
  std::string write(const std::string& relative, const std::string& text) const {
    std::ofstream(dir / relative) << text;
    return (dir / relative).string();
  }
};

// 40 events from 16:42:00: v1 closes two 10 s windows, 20 rows (see scenario_runner_test.cc).
std::string forty_events_expecting(int rows) {
  return R"({"actions": [
    {"generate": {"rate": 1, "count": 40}},
    {"advance": "1m"},
    {"expect": {"table": "events_users_v1", "row_count": )" +
         std::to_string(rows) + R"(}}
  ]})";
}

TEST(Cli, TestRunsAFolderRecursivelyAndEndsWithTheTally) {
  const Folder f("cli_test_folder");
  const std::string pass = f.write("a_pass.json", forty_events_expecting(20));
  const std::string fail = f.write("b_fail.json", forty_events_expecting(21));
  const std::string nested = f.write("more/c_pass.json", forty_events_expecting(20));
  const std::string junit = (f.dir / "junit.xml").string();
  const Ran r = kappa({"test", "--junit", junit, f.dir.string()});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS " + pass), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL " + fail), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("row count: expected 21, found 20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS " + nested), std::string::npos) << r.out;
  const std::string closing = "2 passed, 1 failed\n";
  ASSERT_GE(r.out.size(), closing.size());
  EXPECT_EQ(r.out.substr(r.out.size() - closing.size()), closing) << r.out;

  const std::string xml = read(junit);
  EXPECT_NE(xml.find(R"(<testsuite name="kappa scenarios" tests="3" failures="1" errors="0")"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find(R"(<testcase classname="kappa scenarios" name="b_fail")"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure message="), std::string::npos) << xml;
  EXPECT_NE(xml.find("  row count: expected 21, found 20\n</failure>"), std::string::npos) << xml;
}

TEST(Cli, TestWithAnUnreadableScenarioExitsTwoAndReportsAnError) {
  const Folder f("cli_test_bad");
  f.write("a_pass.json", forty_events_expecting(20));
  const std::string bad = f.write("b_bad.json", "{\"actions\": [{\"advance\": \"5 parsecs\"}]}");
  const std::string junit = (f.dir / "junit.xml").string();
  const Ran r = kappa({"test", "--junit", junit, f.dir.string()});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL " + bad), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bad + ":1:26"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 passed, 1 failed"), std::string::npos) << r.out;
  EXPECT_NE(read(junit).find(R"(failures="0" errors="1")"), std::string::npos) << read(junit);

  EXPECT_EQ(kappa({"test", (f.dir / "nothing_here").string()}).code, 2);
  EXPECT_EQ(kappa({"test", "--junit"}).code, 2);
  const Folder empty("cli_test_empty");
  EXPECT_EQ(kappa({"test", empty.dir.string()}).code, 2);
}

TEST(Cli, TestPassesEveryBundledScenario) {
  const Ran r = kappa({"test", source("scenarios")});
  EXPECT_EQ(r.code, 0) << r.out;
  const auto closing = r.out.rfind('\n', r.out.size() - 2);
  const std::string last = r.out.substr(closing + 1);
  int passed = -1, failed = -1;
  ASSERT_EQ(std::sscanf(last.c_str(), "%d passed, %d failed", &passed, &failed), 2) << last;
  EXPECT_GE(passed, 9);
  EXPECT_EQ(failed, 0);
}

// Hostile scenario files: each asks for more than a limit (replay/scenario/scenario_limits.h) and
// must exit 2 quickly, naming the file, the JSON pointer, the key and the limit.
struct Attack {
  Ran ran;
  double seconds;
};

Attack attack(const Folder& f, const std::string& name, const std::string& text,
              std::vector<std::string> flags = {}) {
  const std::string path = f.write(name + ".json", text);
  std::vector<std::string> args{"run"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back(path);
  const auto began = std::chrono::steady_clock::now();
  Ran ran = kappa(args);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return {std::move(ran), seconds};
}

void expect_refused(const Attack& a, const std::vector<std::string>& words) {
  EXPECT_EQ(a.ran.code, 2) << a.ran.out << a.ran.err;
  EXPECT_LT(a.seconds, 5.0);
  for (const auto& w : words)
    EXPECT_NE(a.ran.err.find(w), std::string::npos) << w << "\n" << a.ran.err;
}

TEST(CliLimits, AFixtureMustBeARegularFile) {
  const Folder f("cli_limits_fixtures");
  std::filesystem::create_directories(f.dir / "a_dir");
  for (const std::string fixture : {"/dev/zero", "/proc/self/mem", "a_dir"}) {
    const Attack a = attack(f, "fixture",
                            R"({"pipeline": {"fixtures": {"names": ")" + fixture +
                                R"("}}, "actions": [{"advance": "5s"}]})");
    expect_refused(a, {"fixture.json:1:", "/pipeline/fixtures/names", "regular file"});
  }
  const std::string big = f.write("big.jsonl", std::string(2000, '\n'));
  const Attack small_cap =
      attack(f, "fixture", R"({"pipeline": {"fixtures": {"names": "big.jsonl"}},
    "actions": [{"advance": "5s"}]})");
  EXPECT_EQ(small_cap.ran.code, 0) << small_cap.ran.err;
}

TEST(CliLimits, AFixtureOverTheSizeLimitIsRefusedBeforeItIsRead) {
  const Folder f("cli_limits_fixture_size");
  f.write("names.jsonl", std::string((16 << 20) + 1, '\n'));
  const Attack a = attack(f, "fixture", R"({"pipeline": {"fixtures": {"names": "names.jsonl"}},
    "actions": [{"advance": "5s"}]})");
  expect_refused(a, {"/pipeline/fixtures/names", "max_input_file_bytes", "16777216"});
}

TEST(CliLimits, AGeneratorOfAMillionEventsASecondForADayIsRefused) {
  const Folder f("cli_limits_rate");
  const Attack a = attack(f, "rate", R"({"actions": [
    {"generate": {"rate": 1000000}},
    {"advance": "1d"}]})");
  expect_refused(a,
                 {"rate.json:3:17", "/actions/1/advance", "max_events of 1000000", "rate 1000000"});
}

TEST(CliLimits, ADayWindowSlidingByAMillisecondIsRefused) {
  const Folder f("cli_limits_slide");
  const Attack a = attack(f, "slide", R"({"pipeline": {"aggregations": [
    {"table": "t", "window": "1d", "slide": "1ms"}]}, "actions": [{"advance": "5s"}]})");
  expect_refused(a, {"slide.json:2:45", "/pipeline/aggregations/0/slide", "86400000 windows",
                     "max_windows_per_event of 1000"});
}

TEST(CliLimits, AScenarioFileOverTheSizeLimitIsRefusedBeforeItIsRead) {
  const Folder f("cli_limits_file");
  std::string text = R"({"actions": [)";
  const std::string action = R"({"produce": {"raw": "x"}},)";
  while (text.size() <= (4u << 20)) text += action;
  text += R"({"advance": "1s"}]})";
  const Attack a = attack(f, "huge", text);
  expect_refused(a, {"huge.json", "max_scenario_bytes", "4194304"});
  // A file a little over the limit runs when the limits are raised on purpose.
  const Attack raised = attack(f, "huge", text, {"--limits-scale", "2"});
  EXPECT_EQ(raised.ran.code, 0) << raised.ran.out.substr(0, 500) << raised.ran.err.substr(0, 500);
}

TEST(CliLimits, RaisingTheLimitsLetsAWiderWindowRun) {
  const Folder f("cli_limits_scale");
  const std::string text = R"({"pipeline": {"aggregations": [
    {"table": "t", "window": "2000s", "slide": "1s"}]},
    "actions": [{"produce": {"event": {"id": 1}}}, {"advance": "10s"}]})";
  expect_refused(attack(f, "wide", text), {"2000 windows", "max_windows_per_event of 1000"});
  EXPECT_EQ(attack(f, "wide", text, {"--limits-scale", "2"}).ran.code, 0);
  EXPECT_EQ(kappa({"run", "--limits-scale", "0", "x.json"}).code, 2);
  EXPECT_EQ(kappa({"run", "--limits-scale"}).code, 2);
}

TEST(CliLimits, DecadesOfSimulatedTimeAreRefused) {
  const Folder f("cli_limits_span");
  expect_refused(attack(f, "years", R"({"actions": [{"advance": "99999999999d"}]})"),
                 {"years.json:1:26", "/actions/0/advance", "out of range"});
  expect_refused(
      attack(f, "decade", R"({"pipeline": {"trigger": "1d"}, "actions": [{"advance": "4000d"}]})"),
      {"/actions/0/advance", "max_simulated_ms"});
  expect_refused(attack(f, "until", R"({"actions": [{"run_until_idle": {"limit": "99999d"}}]})"),
                 {"/actions/0/run_until_idle", "max_simulated_ms"});
}

TEST(CliLimits, AMillisecondTriggerForAYearIsRefused) {
  const Folder f("cli_limits_trigger");
  expect_refused(
      attack(f, "trigger", R"({"pipeline": {"trigger": "1ms"}, "actions": [{"advance": "365d"}]})"),
      {"trigger.json:1:", "/actions/0/advance", "max_trigger_reads of 2000000", "trigger 1ms"});
}

TEST(CliLimits, AnAdvanceThatOverflowsIsOutOfRange) {
  const Folder f("cli_limits_overflow");
  const Attack a = attack(f, "overflow", R"({"actions": [{"advance": "106751991167d"}]})");
  expect_refused(a, {"/actions/0/advance", "out of range"});
  EXPECT_EQ(a.ran.err.find("-292275"), std::string::npos) << a.ran.err;
  expect_refused(attack(f, "sum", R"({"clock": {"start": "9999-12-01 00:00:00"},
    "pipeline": {"trigger": "1d"}, "actions": [{"advance": "40d"}]})"),
                 {"sum.json:2:", "/actions/0/advance", "9999-12-31"});
}

TEST(CliLimits, AClockBefore1970IsOutOfRange) {
  const Folder f("cli_limits_year0");
  const Attack a = attack(f, "year0", R"({"clock": {"start": "0000-01-01 00:00:00"},
    "actions": [{"advance": "5s"}]})");
  expect_refused(a, {"year0.json:1:21", "/clock/start", "out of range", "1970"});
}

TEST(Cli, RecordCapturesATopicThatAScenarioReplays) {
  const Folder f("cli_test_record");
  const std::string capture = (f.dir / "events.jsonl").string();
  const Ran rec = kappa(
      {"record", "--topic", "events", "--out", capture, source("scenarios/out_of_order.json")});
  EXPECT_EQ(rec.code, 0) << rec.out << rec.err;
  EXPECT_NE(rec.out.find("recorded 10 records to " + capture), std::string::npos) << rec.out;
  const std::string text = read(capture);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10);
  // The first arrival of out_of_order.json: id 12 at 16:42:14 (KST) = 1664523734000 ms.
  EXPECT_EQ(text.substr(0, text.find('\n')),
            R"({"topic":"events","partition":0,"offset":0,"timestamp":1664523734000,"key":null,)"
            R"("value":"{\"hello\":\"ssm-seoul\",\"id\":12,\"time\":\"2022-09-30 16:42:14\"}"})");

  const std::string replay = f.write("replay.json", R"({"actions": [
    {"replay": {"file": "events.jsonl", "timing": "recorded"}},
    {"advance": {"to": "2022-09-30 16:43:30"}},
    {"expect": {"metrics": {"query": "events_users_v1", "rows_in": 10, "dropped_as_late": 1}}},
    {"expect": {"table": "events_users_v1", "row_count": 8}}
  ]})");
  const Ran r = kappa({"run", replay});
  EXPECT_EQ(r.code, 0) << r.out << r.err;

  EXPECT_EQ(kappa({"record", "--out", capture, source("scenarios/out_of_order.json")}).code, 2);
  EXPECT_EQ(kappa({"record", "--topic", "events", source("scenarios/out_of_order.json")}).code, 2);
  const Ran unknown = kappa({"record", "--topic", "no_such_topic", "--out", capture,
                             source("scenarios/out_of_order.json")});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("no_such_topic"), std::string::npos) << unknown.err;
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* command : {"run", "test", "record", "bench"}) {
    const Ran r = kappa({command, "--help"});
    EXPECT_EQ(r.code, 0) << command << ": " << r.err;
    EXPECT_NE(r.out.find("usage: kappa"), std::string::npos) << command;
  }
}

}  // namespace
}  // namespace kappa
