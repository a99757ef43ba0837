// The jobs as services, as separate processes on a real Kafka (scripts/start-kafka.sh):
// kcat reads what `kappa generate` and `kappa stage` wrote, and `kappa aggregate` killed with
// SIGKILL mid-stream and started again leaves its table with no lost or duplicated rows.
// Without a broker these tests skip; in CI (CI=true) they fail.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "broker/client/kafka_log.h"
#include "broker/client/test_servers.h"
#include "pipeline/sinks/sqlite_sink.h"
#include "tests/test_processes.h"

namespace kappa {
namespace {

using test_servers::env_or;
using test_servers::kafka_url;
std::string bootstrap() { return kafka_url().substr(std::string("kafka://").size()); }

#define KAPPA_REQUIRE_KAFKA() KAPPA_REQUIRE_SERVER(test_servers::kafka_up(), "Kafka")

std::string prefix_for(const std::string& test) {
  return "svc" + std::to_string(::getpid()) + "_" + test + "_";
}

int64_t end_offset(Log& log, const std::string& topic) {
  auto r = log.offsets(topic, 0);
  return r ? r->end : -1;
}

TEST(Services, KcatReadsWhatGenerateAndStageWrote) {
  KAPPA_REQUIRE_KAFKA();
  if (std::system("command -v kcat >/dev/null 2>&1") != 0) {
    if (env_or("CI", "") == "true") FAIL() << "CI=true and kcat is not installed";
    GTEST_SKIP() << "kcat is not installed";
  }
  const Dir dir("kcat");
  const std::string prefix = prefix_for("kcat");
  Child gen({"generate", "--broker", kafka_url(), "--topic-prefix", prefix, "--rate", "20",
             "--count", "40"},
            dir / "generate.log");
  ASSERT_EQ(gen.wait(), 0) << gen.output();
  Child stage({"stage", "--broker", kafka_url(), "--topic-prefix", prefix, "--trigger", "1s",
               "--checkpoint", dir / "ckpt"},
              dir / "stage.log");
  auto log = KafkaLog::open(kafka_url());
  ASSERT_TRUE(log);
  ASSERT_TRUE(eventually(30, [&] { return end_offset(**log, prefix + "events_stages") == 40; }))
      << "staged " << end_offset(**log, prefix + "events_stages") << "\n"
      << stage.output();
  const int status = stage.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << stage.output();
  EXPECT_NE(stage.output().find("stage stopped after"), std::string::npos) << stage.output();

  const std::string events = run_capture("kcat -b " + bootstrap() + " -C -t " + prefix +
                                         "events -o beginning -e -q -f '%s\\n'");
  const std::string staged = run_capture("kcat -b " + bootstrap() + " -C -t " + prefix +
                                         "events_stages -o beginning -e -q -f '%k\\t%s\\n'");
  std::istringstream ev(events), st(staged);
  std::string line;
  int n = 0;
  while (std::getline(ev, line)) {
    const auto j = nlohmann::ordered_json::parse(line);
    EXPECT_EQ(j["hello"], "ssm-seoul");
    EXPECT_EQ(j["id"], n);
    ++n;
  }
  EXPECT_EQ(n, 40);
  n = 0;
  while (std::getline(st, line)) {
    const auto tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const auto j = nlohmann::ordered_json::parse(line.substr(tab + 1));
    std::vector<std::string> keys;
    for (const auto& [k, _] : j.items()) keys.push_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{"time", "user_id", "user_name", "dept_name", "gender",
                                              "age", "hello", "id"}));
    const int64_t id = j["id"];
    EXPECT_EQ(line.substr(0, tab), std::to_string(id % 10)) << "key = user_id";
    EXPECT_EQ(j["user_id"], id % 10);
    EXPECT_EQ(j["age"], id % 100 + 1);
    ++n;
  }
  EXPECT_EQ(n, 40);
}

TEST(Services, AggregateKilledMidStreamResumesWithoutLossOrDuplicates) {
  KAPPA_REQUIRE_KAFKA();
  const Dir dir("kill9");
  const std::string prefix = prefix_for("kill9");
  // 200 events over 10 s, staged as they come; two aggregations read them: v1, killed with
  // SIGKILL twice and restarted, and ref, left alone. Both must end with the same table.
  Child gen({"generate", "--broker", kafka_url(), "--topic-prefix", prefix, "--rate", "20",
             "--count", "200"},
            dir / "generate.log");
  Child stage({"stage", "--broker", kafka_url(), "--topic-prefix", prefix, "--trigger", "1s",
               "--checkpoint", dir / "ckpt"},
              dir / "stage.log");
  const std::vector<std::string> common = {"--broker",     kafka_url(), "--topic-prefix",
                                           prefix,         "--trigger", "1s",
                                           "--checkpoint", dir / "ckpt"};
  auto aggregate = [&](const std::string& table, const std::string& db) {
    std::vector<std::string> args = {"aggregate"};
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), {"--sink", "sqlite:" + (dir / db), "--table", table, "--window", "2s",
                             "--watermark", "1s"});
    return args;
  };
  Child ref(aggregate("events_users_ref", "ref.db"), dir / "ref.log");
  auto v1 = std::make_unique<Child>(aggregate("events_users_v1", "v1.db"), dir / "v1.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  v1->stop(SIGKILL);
  v1 = std::make_unique<Child>(aggregate("events_users_v1", "v1.db"), dir / "v1.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(2700));
  v1->stop(SIGKILL);
  v1 = std::make_unique<Child>(aggregate("events_users_v1", "v1.db"), dir / "v1.log");
  ASSERT_EQ(gen.wait(), 0) << gen.output();

  auto log = KafkaLog::open(kafka_url());
  ASSERT_TRUE(log);
  ASSERT_TRUE(eventually(30, [&] { return end_offset(**log, prefix + "events_stages") == 200; }))
      << stage.output();
  auto rows = [&](const std::string& db, const std::string& table) {
    auto sink = SqliteSink::open(dir / db);
    if (!sink) return std::vector<TableRow>{};
    auto r = (*sink)->read_table(table);
    return r ? *r : std::vector<TableRow>{};
  };
  auto sum = [](const std::vector<TableRow>& rs) {
    int64_t n = 0;
    for (const auto& r : rs) n += r.count;
    return n;
  };
  // Both have read everything when their ledgers reach the end of events_stages; the last
  // windows close at the next trigger (a no-data batch). Wait for that, then compare.
  auto read_all = [&](const std::string& db, const std::string& query) {
    auto sink = SqliteSink::open(dir / db);
    if (!sink) return false;
    auto last = (*sink)->last_batch(query);
    return last && *last && (*last)->source_end.find("/0:200") != std::string::npos;
  };
  ASSERT_TRUE(eventually(40, [&] {
    return read_all("ref.db", "events_users_ref") && read_all("v1.db", "events_users_v1");
  })) << v1->output();
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  const std::vector<TableRow> a = rows("ref.db", "events_users_ref");
  const std::vector<TableRow> b = rows("v1.db", "events_users_v1");
  EXPECT_GT(sum(a), 0) << "the reference closed no window";
  EXPECT_EQ(a, b);
  for (const auto& r : b) EXPECT_GT(r.count, 0);
  EXPECT_EQ(v1->stop(SIGTERM), 0);
  ref.stop(SIGTERM);
  stage.stop(SIGTERM);

  // Started again from "another directory": without the checkpoint they ran with, both jobs
  // refuse to start (exit 1) and say what they found, instead of skipping v1's batches as
  // "already committed" or staging every event twice.
  std::vector<std::string> elsewhere = aggregate("events_users_v1", "v1.db");
  std::replace(elsewhere.begin(), elsewhere.end(), dir / "ckpt", dir / "elsewhere");
  Child lost(elsewhere, dir / "lost.log");
  EXPECT_EQ(WEXITSTATUS(lost.wait_for(20)), 1) << lost.output();
  EXPECT_NE(lost.output().find("query events_users_v1: the ledger in sqlite:"), std::string::npos)
      << lost.output();
  EXPECT_NE(lost.output().find("but it has no checkpoint"), std::string::npos) << lost.output();
  Child lost_stage({"stage", "--broker", kafka_url(), "--topic-prefix", prefix, "--checkpoint",
                    dir / "elsewhere"},
                   dir / "lost_stage.log");
  EXPECT_EQ(WEXITSTATUS(lost_stage.wait_for(20)), 1) << lost_stage.output();
  EXPECT_NE(lost_stage.output().find("query stage: " + prefix + "events_stages/"),
            std::string::npos)
      << lost_stage.output();
  EXPECT_EQ(rows("v1.db", "events_users_v1"), b) << "the refused start wrote nothing";

  // The Kappa move as services: recover into v2 with a longer watermark until caught up, then
  // cut the view over. Recovering into the table v1 wrote is refused.
  std::vector<std::string> recover = {"recover"};
  recover.insert(recover.end(), common.begin(), common.end());
  recover.insert(recover.end(),
                 {"--sink", "sqlite:" + (dir / "v1.db"), "--window", "2s", "--watermark", "5s"});
  std::vector<std::string> refused = recover;
  refused.insert(refused.end(), {"--table", "events_users_v1", "--query", "v1_again"});
  Child no(refused, dir / "refused.log");
  EXPECT_EQ(WEXITSTATUS(no.wait()), 1) << no.output();
  EXPECT_NE(no.output().find("refusing to recover into events_users_v1: it already has"),
            std::string::npos)
      << no.output();
  recover.insert(recover.end(), {"--table", "events_users_v2", "--until-idle"});
  Child rec(recover, dir / "recover.log");
  EXPECT_EQ(rec.wait(), 0) << rec.output();
  // Nothing was late, so every window v2 has closed (fewer: its watermark is 5 s behind, not
  // 1 s) holds the counts v1 has for it.
  const std::vector<TableRow> v2 = rows("v1.db", "events_users_v2");
  EXPECT_FALSE(v2.empty());
  EXPECT_LT(v2.size(), b.size());
  for (const auto& r : v2)
    EXPECT_NE(std::find(b.begin(), b.end(), r), b.end()) << r.start << " " << to_display(r.dim);
  Child cut({"cutover", "--sink", "sqlite:" + (dir / "v1.db"), "--to", "events_users_v2"},
            dir / "cutover.log");
  EXPECT_EQ(cut.wait(), 0) << cut.output();
  EXPECT_NE(cut.output().find("view events_users now reads events_users_v2"), std::string::npos)
      << cut.output();
  auto sink = SqliteSink::open(dir / "v1.db");
  ASSERT_TRUE(sink);
  EXPECT_EQ((*sink)->view_target("events_users")->value_or(""), "events_users_v2");
}

TEST(Services, StageProcessesInOneGroupShareThePartitions) {
  KAPPA_REQUIRE_KAFKA();
  const Dir dir("group");
  const std::string prefix = prefix_for("group");
  const std::string group = prefix + "stagers";
  auto log = KafkaLog::open(kafka_url());
  ASSERT_TRUE(log);
  auto staged = [&] {
    int64_t n = 0;
    for (int32_t p = 0; p < 4; ++p) {
      auto r = (*log)->offsets(prefix + "events_stages", p);
      n += r ? r->end : 0;
    }
    return n;
  };
  auto stage = [&](const std::string& name) {
    return std::make_unique<Child>(
        std::vector<std::string>{"stage", "--broker", kafka_url(), "--topic-prefix", prefix,
                                 "--partitions", "4", "--trigger", "1s", "--group", group,
                                 "--checkpoint", dir / "ckpt"},
        dir / name);
  };
  // Two members: the group gives each some of the 4 partitions of events.
  auto a = stage("a.log");
  auto b = stage("b.log");
  Child gen({"generate", "--broker", kafka_url(), "--topic-prefix", prefix, "--partitions", "4",
             "--rate", "50", "--count", "200"},
            dir / "generate.log");
  ASSERT_EQ(gen.wait(), 0) << gen.output();
  ASSERT_TRUE(eventually(40, [&] { return staged() == 200; })) << staged() << "\n"
                                                               << a->output() << b->output();
  // One leaves; the other takes over its partitions and stages what comes next.
  EXPECT_EQ(b->stop(SIGTERM), 0) << b->output();
  Child more({"generate", "--broker", kafka_url(), "--topic-prefix", prefix, "--partitions", "4",
              "--rate", "50", "--count", "100", "--first-id", "200"},
             dir / "generate2.log");
  ASSERT_EQ(more.wait(), 0) << more.output();
  EXPECT_TRUE(eventually(40, [&] { return staged() == 300; })) << staged() << "\n" << a->output();
  EXPECT_EQ(a->stop(SIGTERM), 0) << a->output();

  // Both read, neither read everything, and together they staged each event exactly once.
  auto read_count = [](const std::string& out) {
    const auto at = out.find(" stopped after ");
    if (at == std::string::npos) return int64_t{-1};
    const auto read = out.find("read ", at);
    return static_cast<int64_t>(std::stoll(out.substr(read + 5)));
  };
  const int64_t by_a = read_count(a->output()), by_b = read_count(b->output());
  EXPECT_GT(by_b, 0) << b->output();
  EXPECT_LT(by_b, 200) << b->output();
  EXPECT_GT(by_a, 100) << a->output();
  EXPECT_EQ(by_a + by_b, 300);
  std::set<int64_t> ids;
  for (int32_t p = 0; p < 4; ++p) {
    auto f = (*log)->fetch(prefix + "events_stages", p, 0, FetchLimits{});
    ASSERT_TRUE(f) << f.status().message();
    for (const auto& r : f->records)
      ids.insert(nlohmann::json::parse(*r.value)["id"].get<int64_t>());
  }
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(*ids.begin(), 0);
  EXPECT_EQ(*ids.rbegin(), 299);
}

}  // namespace
}  // namespace kappa
