// The same scenarios on every backend: each bundled scenario passes on embedded|kafka x
// sqlite|mysql and on embedded x mongodb, and writes identical tables in all five. The real
// servers come from $KAPPA_TEST_KAFKA (default kafka://127.0.0.1:9092, scripts/start-kafka.sh),
// $KAPPA_TEST_MYSQL (default mysql://scott:tiger@127.0.0.1:3306/default, scripts/start-mysql.sh)
// and $KAPPA_TEST_MONGODB (default mongodb://127.0.0.1:27017/kappa, scripts/start-mongodb.sh). A
// combination whose server is not there is skipped, loudly; in CI (CI=true) it fails.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "broker/client/kafka_log.h"
#include "broker/client/test_servers.h"
#include "broker/url.h"
#include "pipeline/sinks/mongo_test_server.h"
#include "pipeline/sinks/mysql_sink.h"
#include "replay/backends/backends.h"
#include "replay/cli/cli.h"
#include "replay/scenario/scenario_runner.h"
#include "tests/bundled_scenarios.h"

namespace kappa {
namespace {

using test_servers::env_or;
using test_servers::in_ci;
using test_servers::kafka_up;
using test_servers::kafka_url;
using test_servers::mongodb_up;
using test_servers::mongodb_url;
using test_servers::mysql_url;

// Whether the MySQL server answers, asked once per process.
const Status& mysql_up() {
  static const Status s = [] {
    auto sink = MysqlSink::open(mysql_url());
    return sink ? Status::ok() : Status(sink.status().code(), redact(sink.status().message()));
  }();
  return s;
}

// The servers a combination needs that are not there.
std::vector<const Status*> missing_servers(const BackendUrls& urls) {
  std::vector<const Status*> out;
  for (const Status* s : {urls.broker == "embedded" ? nullptr : &kafka_up(),
                          urls.sink.rfind("mysql://", 0) == 0 ? &mysql_up() : nullptr,
                          urls.sink.rfind("mongodb://", 0) == 0 ? &mongodb_up() : nullptr}) {
    if (s && !*s) out.push_back(s);
  }
  return out;
}

// Skips (or, in CI, fails) when a server the combination needs is not there.
#define KAPPA_REQUIRE_SERVERS(urls)                                                     \
  do {                                                                                  \
    for (const Status* s : missing_servers(urls)) {                                     \
      if (in_ci()) FAIL() << "CI=true and a server is not available: " << s->message(); \
      GTEST_SKIP() << "server not available: " << s->message();                         \
    }                                                                                   \
  } while (0)

// Every aggregate table a scenario writes: its pipeline's and its recoveries'.
std::set<std::string> tables_of(const Scenario& s) {
  std::set<std::string> out;
  for (const auto& a : s.pipeline.aggregations) out.insert(a.spec.table);
  for (const auto& st : s.steps) {
    if (const auto* r = std::get_if<RecoverStep>(&st.action); r && !r->expect_error)
      out.insert(r->aggregation.spec.table);
  }
  return out;
}

using Tables = std::map<std::string, std::vector<TableRow>>;

void run_on(const Scenario& s, const BackendUrls& urls, Tables& tables) {
  auto b = Backends::open(urls);
  ASSERT_TRUE(b) << redact(b.status().message());
  const RunReport r = run_scenario(s, (*b)->log(), (*b)->sink(), RunOptions{});
  ASSERT_TRUE(r.error.is_ok()) << urls.broker << " + " << redact(urls.sink) << ": "
                               << r.error_where.to_string() << ": " << r.error.message();
  for (const auto& f : r.failures) {
    ADD_FAILURE() << urls.broker << " + " << redact(urls.sink) << ": " << f.where.to_string()
                  << ": " << f.title << (f.lines.empty() ? "" : "\n  " + f.lines[0]);
  }
  for (const auto& t : tables_of(s)) {
    auto rows = (*b)->sink().read_table(t);
    if (rows)
      tables[t] = *rows;
    else if (rows.status().code() != StatusCode::kNotFound)
      ADD_FAILURE() << rows.status().message();
  }
}

class EveryBackend : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryBackend, SameTablesInEveryCombination) {
  auto s = load_scenario(GetParam());
  ASSERT_TRUE(s) << s.status().message();
  Tables reference;
  run_on(*s, BackendUrls{}, reference);
  ASSERT_FALSE(HasFailure());
  for (const BackendUrls& urls :
       {BackendUrls{kafka_url(), "sqlite::memory:"}, BackendUrls{"embedded", mysql_url()},
        BackendUrls{kafka_url(), mysql_url()}, BackendUrls{"embedded", mongodb_url()}}) {
    SCOPED_TRACE(urls.broker + " + " + redact(urls.sink));
    const auto missing = missing_servers(urls);
    for (const Status* st : missing) {
      if (in_ci()) ADD_FAILURE() << "CI=true and a server is not available: " << st->message();
    }
    if (!missing.empty()) continue;
    Tables got;
    run_on(*s, urls, got);
    EXPECT_EQ(got.size(), reference.size());
    for (const auto& [table, rows] : reference) {
      EXPECT_EQ(got[table], rows) << table << " differs";
    }
  }
  if (!kafka_up() || !mysql_up() || !mongodb_up()) {
    GTEST_SKIP() << "compared only where servers were available: kafka: "
                 << (kafka_up() ? "up" : kafka_up().message())
                 << "; mysql: " << (mysql_up() ? "up" : mysql_up().message())
                 << "; mongodb: " << (mongodb_up() ? "up" : mongodb_up().message());
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, EveryBackend, ::testing::ValuesIn(bundled_scenario_files()),
                         ScenarioTestName());

// The command line against the real servers: the acceptance command, and no password anywhere.
TEST(RealBackendsCli, TestPassesEveryBundledScenarioAndNeverPrintsThePassword) {
  const BackendUrls urls{kafka_url(), mysql_url()};
  KAPPA_REQUIRE_SERVERS(urls);
  std::ostringstream out, err;
  const int code = kappa_main({"test", "--trace", "--broker", urls.broker, "--sink", urls.sink,
                               env_or("KAPPA_SOURCE_DIR", ".") + "/scenarios"},
                              out, err);
  EXPECT_EQ(code, 0) << out.str() << err.str();
  EXPECT_NE(out.str().find(", 0 failed\n"), std::string::npos)
      << out.str().substr(out.str().size() - 300);
  EXPECT_NE(out.str().find("tables in mysql://scott@"), std::string::npos);
  auto u = parse_url(urls.sink);
  ASSERT_TRUE(u && u->password);
  EXPECT_EQ(out.str().find(*u->password), std::string::npos);
  EXPECT_EQ(err.str().find(*u->password), std::string::npos);
}

// The acceptance command on MongoDB (FerretDB from scripts/start-mongodb.sh, or a MongoDB).
TEST(RealBackendsCli, TestPassesEveryBundledScenarioOnMongodb) {
  const BackendUrls urls{"embedded", mongodb_url()};
  KAPPA_REQUIRE_SERVERS(urls);
  std::ostringstream out, err;
  const int code = kappa_main(
      {"test", "--sink", urls.sink, env_or("KAPPA_SOURCE_DIR", ".") + "/scenarios"}, out, err);
  EXPECT_EQ(code, 0) << out.str() << err.str();
  EXPECT_NE(out.str().find(", 0 failed\n"), std::string::npos)
      << out.str().substr(out.str().size() > 300 ? out.str().size() - 300 : 0);
  EXPECT_NE(out.str().find("tables in mongodb://"), std::string::npos) << out.str();
}

TEST(RealBackendsCli, AWrongPasswordIsReportedWithoutEitherPassword) {
  const BackendUrls urls{"embedded", mysql_url()};
  KAPPA_REQUIRE_SERVERS(urls);
  auto u = parse_url(mysql_url());
  ASSERT_TRUE(u);
  const std::string wrong = "mysql://" + u->user + ":NotThePassword42@" + u->hosts + "/" + u->path;
  std::ostringstream out, err;
  const int code = kappa_main(
      {"run", "--sink", wrong, env_or("KAPPA_SOURCE_DIR", ".") + "/scenarios/out_of_order.json"},
      out, err);
  EXPECT_NE(code, 0);
  const std::string all = out.str() + err.str();
  EXPECT_NE(all.find(u->hosts), std::string::npos) << "the error names the server: " << all;
  EXPECT_EQ(all.find("NotThePassword42"), std::string::npos) << all;
  if (u->password) {
    EXPECT_EQ(all.find(*u->password), std::string::npos) << all;
  }
}

}  // namespace
}  // namespace kappa
