// `kappa lab` as a process: its JSON API (docs/lab-api.md) while it runs on fast settings (20
// events/s, 1 s trigger, 2 s windows, 1 s watermark), kcat on its broker, a clean stop on
// SIGTERM, and a restart on the same --data that continues ids, offsets and figures.
// HTTP goes through the tiny blocking client below (no curl needed).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_processes.h"

namespace kappa {
namespace {

using json = nlohmann::json;

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// One request on a fresh connection (Connection: close); status 0 when the lab did not answer.
HttpAnswer http(const std::string& address, const std::string& method, const std::string& target,
                const std::string& body = "") {
  const int fd = connect_to(address);
  HttpAnswer answer;
  if (fd < 0) return answer;
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + address +
                        "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const auto space = raw.find(' ');
  const auto end = raw.find("\r\n\r\n");
  if (space == std::string::npos || end == std::string::npos) return answer;
  answer.status = std::stoi(raw.substr(space + 1, 3));
  answer.body = raw.substr(end + 4);
  return answer;
}

json get_json(const std::string& web, const std::string& target) {
  const HttpAnswer a = http(web, "GET", target);
  if (a.status != 200) return json();
  return json::parse(a.body, nullptr, false);
}

const json* job(const json& status, const std::string& name) {
  for (const auto& j : status["jobs"]) {
    if (j["name"] == name) return &j;
  }
  return nullptr;
}

// A running lab and the addresses it printed.
struct RunningLab {
  std::unique_ptr<Child> child;
  std::string kafka, web;

  RunningLab(const Dir& dir, const std::string& log_name) {
    child = std::make_unique<Child>(
        std::vector<std::string>{"lab", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", dir / "lab",
                                 "--rate", "20", "--trigger", "1s", "--window", "2s", "--watermark", "1s"},
        dir / log_name);
    const std::regex line(R"(kappa lab: kafka on ([0-9.]+:[0-9]+), web on http://([0-9.]+:[0-9]+)/)");
    eventually(20, [&] {
      std::smatch m;
      const std::string out = child->output();
      if (!std::regex_search(out, m, line)) return false;
      kafka = m[1];
      web = m[2];
      return true;
    });
  }
};

bool exited_cleanly(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

TEST(Lab, RejectsBadFlags) {
  const Dir dir("lab_flags");
  Child lab({"lab", "--rate", "0", "--data", dir / "lab"}, dir / "lab.log");
  const int status = lab.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << lab.output();
  EXPECT_NE(lab.output().find("--rate"), std::string::npos) << lab.output();
}

TEST(Lab, ApiShowsThePipelineAndActsOnIt) {
  const Dir dir("lab_api");
  RunningLab lab(dir, "lab.log");
  ASSERT_FALSE(lab.web.empty()) << lab.child->output();

  // The page and the errors.
  const HttpAnswer page = http(lab.web, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  EXPECT_EQ(http(lab.web, "GET", "/api/nothing").status, 404);
  EXPECT_EQ(http(lab.web, "POST", "/api/recover", "not json").status, 400);

  // v1 fills, and the counts balance.
  json status;
  ASSERT_TRUE(eventually(30, [&] {
    status = get_json(lab.web, "/api/status");
    const json* v1 = status.is_object() ? job(status, "events_users_v1") : nullptr;
    return v1 && (*v1)["rows_out"].get<int64_t>() > 0;
  })) << status.dump() << lab.child->output();
  EXPECT_EQ(status["counts"]["balanced"], true) << status.dump();
  EXPECT_EQ(status["view"]["target"], "events_users_v1") << status.dump();
  EXPECT_EQ(job(status, "generator")->at("state"), "running");
  const json table = get_json(lab.web, "/api/tables/events_users_v1?limit=5");
  EXPECT_EQ(table["columns"], json({"window_start", "window_end", "user_name", "count"}));
  EXPECT_LE(table["rows"].size(), 5u);
  EXPECT_GT(table["total_rows"].get<int64_t>(), 0);
  const json latest = get_json(lab.web, "/api/topics/events/latest?n=3");
  ASSERT_EQ(latest["records"].size(), 3u) << latest.dump();
  EXPECT_GT(latest["records"][0]["offset"].get<int64_t>(), latest["records"][1]["offset"].get<int64_t>());

  // A late event is dropped, and the timeline shows it on the wrong side of the watermark.
  const int64_t late_before = status["counts"]["dropped_late"];
  const HttpAnswer injected = http(lab.web, "POST", "/api/inject-late", R"({"seconds_late": 30})");
  ASSERT_EQ(injected.status, 200) << injected.body;
  const int64_t late_id = json::parse(injected.body)["id"];
  ASSERT_TRUE(eventually(20, [&] {
    status = get_json(lab.web, "/api/status");
    return status.is_object() && status["counts"]["dropped_late"].get<int64_t>() > late_before;
  })) << status.dump();
  EXPECT_EQ(status["counts"]["balanced"], true) << status.dump();
  const json timeline = get_json(lab.web, "/api/timeline");
  bool seen_late = false;
  for (const auto& e : timeline["events"]) {
    if (e["id"] == late_id && e["query"] == "events_users_v1") seen_late = e["late"];
  }
  EXPECT_TRUE(seen_late) << "injected id " << late_id;
  EXPECT_FALSE(timeline["watermark"].empty());

  // Recovery into v2 with a longer watermark: refused twice, caught up, compared, cut over.
  const std::string recover = R"({"table": "events_users_v2", "window": "2s", "watermark": "1m"})";
  const HttpAnswer started = http(lab.web, "POST", "/api/recover", recover);
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(json::parse(started.body)["query"], "events_users_v2");
  EXPECT_EQ(http(lab.web, "POST", "/api/recover", recover).status, 409);
  EXPECT_EQ(http(lab.web, "POST", "/api/recover", R"({"table": "events_users_v1"})").status, 409);
  ASSERT_TRUE(eventually(30, [&] {
    status = get_json(lab.web, "/api/status");
    const json* v2 = status.is_object() ? job(status, "events_users_v2") : nullptr;
    return v2 && (*v2)["state"] == "caught_up";
  })) << status.dump();
  const json diff = get_json(lab.web, "/api/diff?a=events_users_v1&b=events_users_v2");
  ASSERT_TRUE(diff.contains("same")) << diff.dump();
  EXPECT_TRUE(diff["changed"].is_array() && diff["only_a"].is_array() && diff["only_b"].is_array());
  // v2 (1 min watermark) has closed no window yet that v1 closed: v1's rows are all only_a.
  EXPECT_GT(diff["only_a_total"].get<int64_t>(), 0) << diff.dump();

  HttpAnswer cut = http(lab.web, "POST", "/api/cutover", R"({"view": "events_users", "to": "events_users_v2"})");
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(get_json(lab.web, "/api/status")["view"]["target"], "events_users_v2");
  EXPECT_EQ(http(lab.web, "POST", "/api/cutover", R"({"to": "no_such_table"})").status, 404);
  cut = http(lab.web, "POST", "/api/cutover", R"({"view": "events_users", "to": "events_users_v1"})");
  EXPECT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(get_json(lab.web, "/api/status")["view"]["target"], "events_users_v1");

  // The other dimensions.
  const HttpAnswer ages = http(lab.web, "POST", "/api/dimensions", R"({"dimension": "ages", "on": true})");
  ASSERT_EQ(ages.status, 200) << ages.body;
  EXPECT_EQ(json::parse(ages.body)["ages"], true);
  EXPECT_EQ(http(lab.web, "POST", "/api/dimensions", R"({"dimension": "shoes"})").status, 400);
  EXPECT_TRUE(eventually(20, [&] {
    const json t = get_json(lab.web, "/api/tables");
    return t.is_object() && std::find(t["tables"].begin(), t["tables"].end(), "events_ages") != t["tables"].end();
  }));

  // kcat reads the staged records from the lab's broker while it runs, in the documented shape
  // (docs/events_stages.md: these fields, in this order).
  ASSERT_EQ(std::system("command -v kcat >/dev/null 2>&1"), 0) << "kcat is not installed (scripts/setup.sh installs it)";
  {
    const std::string staged = run_capture("timeout 20 kcat -b " + lab.kafka + " -C -t events_stages -e -q");
    const std::vector<std::string> documented = {"time", "user_id", "user_name", "dept_name", "gender", "age", "hello", "id"};
    std::istringstream lines(staged);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      const nlohmann::ordered_json j = nlohmann::ordered_json::parse(line, nullptr, false);
      ASSERT_TRUE(j.is_object()) << line;
      std::vector<std::string> keys;
      for (const auto& [k, v] : j.items()) keys.push_back(k);
      EXPECT_EQ(keys, documented) << line;
      ++n;
    }
    EXPECT_GT(n, 20) << staged;
  }

  EXPECT_TRUE(exited_cleanly(lab.child->stop(SIGTERM))) << lab.child->output();
  EXPECT_NE(lab.child->output().find("events_users_v1 stopped after"), std::string::npos);
}

TEST(Lab, RestartOnTheSameDataContinues) {
  const Dir dir("lab_restart");
  int64_t first_end = 0, first_stage_read = 0;
  {
    RunningLab lab(dir, "first.log");
    ASSERT_FALSE(lab.web.empty()) << lab.child->output();
    json status;
    ASSERT_TRUE(eventually(30, [&] {
      status = get_json(lab.web, "/api/status");
      return status.is_object() && job(status, "stage")->at("rows_in").get<int64_t>() >= 40;
    })) << status.dump();
    ASSERT_EQ(http(lab.web, "POST", "/api/inject-late", R"({"seconds_late": 10})").status, 200);
    ASSERT_TRUE(exited_cleanly(lab.child->stop(SIGTERM))) << lab.child->output();
  }
  {
    RunningLab lab(dir, "second.log");
    ASSERT_FALSE(lab.web.empty()) << lab.child->output();
    json status = get_json(lab.web, "/api/status");
    ASSERT_TRUE(status.is_object());
    first_end = status["counts"]["generated"];
    first_stage_read = job(status, "stage")->at("rows_in");
    EXPECT_GE(first_stage_read, 40) << "the stage job's figures survive the restart: " << status.dump();
    ASSERT_TRUE(eventually(30, [&] {
      status = get_json(lab.web, "/api/status");
      return status.is_object() && status["counts"]["generated"].get<int64_t>() >= first_end + 40 &&
             job(status, "stage")->at("rows_in").get<int64_t>() >= first_end + 20;
    })) << status.dump();
    EXPECT_EQ(status["counts"]["balanced"], true) << status.dump();

    // Generated ids run on without a gap or a repeat; the second injected event has the next id.
    const HttpAnswer injected = http(lab.web, "POST", "/api/inject-late", R"({"seconds_late": 10})");
    ASSERT_EQ(injected.status, 200);
    EXPECT_EQ(json::parse(injected.body)["id"], 1000002);
    const json records = get_json(lab.web, "/api/topics/events/latest?n=1000");
    std::vector<int64_t> ids;
    for (const auto& r : records["records"]) {
      const json v = json::parse(r["value"].get<std::string>());
      if (v["hello"] == "ssm-seoul") ids.push_back(v["id"]);
    }
    std::sort(ids.begin(), ids.end());
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), 0);
    EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size()) << "no id twice";
    EXPECT_EQ(ids.back() - ids.front() + 1, static_cast<int64_t>(ids.size())) << "no id skipped";
    // The stage job resumed from its checkpoint: nothing is staged twice.
    const json staged = get_json(lab.web, "/api/topics/events_stages/latest?n=1000");
    std::set<int64_t> staged_ids;
    for (const auto& r : staged["records"]) {
      staged_ids.insert(json::parse(r["value"].get<std::string>())["id"].get<int64_t>());
    }
    EXPECT_EQ(staged_ids.size(), staged["records"].size()) << "no record staged twice";
    EXPECT_TRUE(exited_cleanly(lab.child->stop(SIGTERM))) << lab.child->output();
  }
}

}  // namespace
}  // namespace kappa
