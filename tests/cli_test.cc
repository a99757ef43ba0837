// The command line's contract: exit codes and what it prints (DESIGN.md §5).
#include "replay/cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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
  EXPECT_NE(xml.find(R"(<testcase classname="kappa scenarios" name="b_fail")"), std::string::npos) << xml;
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

TEST(Cli, RecordCapturesATopicThatAScenarioReplays) {
  const Folder f("cli_test_record");
  const std::string capture = (f.dir / "events.jsonl").string();
  const Ran rec = kappa({"record", "--topic", "events", "--out", capture, source("scenarios/out_of_order.json")});
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
  const Ran unknown = kappa({"record", "--topic", "no_such_topic", "--out", capture, source("scenarios/out_of_order.json")});
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
