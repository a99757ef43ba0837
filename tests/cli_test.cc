// The command line's contract: exit codes and what it prints (DESIGN.md §5).
#include "replay/cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

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

}  // namespace
}  // namespace kappa
