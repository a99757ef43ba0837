// The Sink contract on a real MySQL/MariaDB server: $KAPPA_TEST_MYSQL (default
// mysql://scott:tiger@127.0.0.1:3306/default, as scripts/start-mysql.sh makes it). Each test
// works in a database of its own, kappa_test_<pid>_<n>, created and dropped around it, so
// parallel ctest processes never meet. Without a server the tests are skipped with the reason;
// in CI (CI=true) they fail.
#include "pipeline/sinks/mysql_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "broker/url.h"
#include "pipeline/sinks/sqlite_sink.h"

namespace kappa {
namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string base_url() {
  return env_or("KAPPA_TEST_MYSQL", "mysql://scott:tiger@127.0.0.1:3306/default");
}

bool in_ci() { return env_or("CI", "") == "true"; }

// `url` with its database replaced by `db`, everything else (the password too) kept as written.
std::string with_database(const std::string& url, const std::string& db) {
  const size_t authority = url.find("://") + 3;
  return url.substr(0, url.find('/', authority)) + "/" + db;
}

TableSpec users() { return TableSpec{"events_users_v1", "user_name", ColumnType::kText}; }

TableRow r(std::string start, DimValue dim, int64_t count) {
  std::string end = start.substr(0, 17) + "10";
  return TableRow{std::move(start), std::move(end), std::move(dim), count};
}

TableRow r(std::string start, const char* dim, int64_t count) {
  return r(std::move(start), DimValue(std::string(dim)), count);
}

BatchCommit commit(int64_t batch, std::span<const TableRow> rows,
                   OutputMode mode = OutputMode::kAppend, std::string query = "q1") {
  BatchCommit c;
  c.query_id = std::move(query);
  c.batch_id = batch;
  c.table = users();
  c.mode = mode;
  c.rows = rows;
  c.source_end = "events_stages/0:" + std::to_string(batch);
  return c;
}

std::string show(const std::optional<LedgerEntry>& e) {
  if (!e) return "none";
  return e->query_id + "/" + std::to_string(e->batch_id) + " " + e->table + " " + e->source_end +
         " " + std::to_string(e->rows);
}

class MysqlSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto admin = MysqlSink::open(base_url());
    if (!admin) {
      const std::string why = redact(admin.status().message());
      if (in_ci()) FAIL() << "CI=true and the MySQL server is not available: " << why;
      GTEST_SKIP() << "MySQL server not available: " << why;
    }
    admin_ = std::move(*admin);
    static int n = 0;
    db_ = "kappa_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    ASSERT_TRUE(admin_->exec("DROP DATABASE IF EXISTS `" + db_ + "`"));
    auto created = admin_->exec("CREATE DATABASE `" + db_ + "` CHARACTER SET utf8mb4");
    ASSERT_TRUE(created) << created.message();
    url_ = with_database(base_url(), db_);
    auto sink = MysqlSink::open(url_);
    ASSERT_TRUE(sink) << sink.status().message();
    sink_ = std::move(*sink);
  }

  void TearDown() override {
    sink_.reset();
    if (admin_ && !db_.empty()) {
      EXPECT_TRUE(admin_->exec("DROP DATABASE IF EXISTS `" + db_ + "`"));
    }
  }

  std::unique_ptr<MysqlSink> admin_;  // on the URL's own database: creates and drops ours
  std::string db_;
  std::string url_;
  std::unique_ptr<MysqlSink> sink_;
};

TEST_F(MysqlSinkTest, CreatesTheTableOnTheFirstBatchEvenIfEmpty) {
  EXPECT_FALSE(*sink_->table_exists("events_users_v1"));
  EXPECT_EQ(*sink_->commit_batch(commit(0, {})), CommitOutcome::kWritten);
  EXPECT_TRUE(*sink_->table_exists("events_users_v1"));
  EXPECT_FALSE(*sink_->table_exists("EVENTS_USERS_V1"));
  EXPECT_TRUE(sink_->read_table("events_users_v1")->empty());
}

TEST_F(MysqlSinkTest, AppendsAndReadsBackSorted) {
  const TableRow a[] = {r("2022-09-30 16:42:10", "two", 3), r("2022-09-30 16:42:00", "two", 1),
                        r("2022-09-30 16:42:00", "남성", 4)};
  const TableRow b[] = {r("2022-09-30 16:42:00", "one", 2), r("1999-12-31 23:59:50", "zero", 9)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, a)));
  ASSERT_TRUE(sink_->commit_batch(commit(1, b)));
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>{
                r("1999-12-31 23:59:50", "zero", 9), r("2022-09-30 16:42:00", "one", 2),
                r("2022-09-30 16:42:00", "two", 1), r("2022-09-30 16:42:00", "남성", 4),
                r("2022-09-30 16:42:10", "two", 3)}));
}

TEST_F(MysqlSinkTest, AValueTheColumnCannotHoldIsAPermanentErrorNotAnOutage) {
  // TIMESTAMP ends in 2038: retrying would fail forever, so it is not kUnavailable.
  const TableRow late[] = {r("2040-01-01 00:00:00", "zero", 1)};
  auto written = sink_->commit_batch(commit(0, late));
  ASSERT_FALSE(written);
  EXPECT_EQ(written.status().code(), StatusCode::kInvalidArgument) << written.status().message();
  EXPECT_FALSE(*sink_->last_batch("q1")) << "nothing of the failed batch is in the ledger";
}

TEST_F(MysqlSinkTest, IntegerAndNullDimensionsAndSparksJdbcColumnTypes) {
  BatchCommit c = commit(0, {});
  c.table = TableSpec{"events_ages", "age", ColumnType::kBigint};
  const TableRow ages[] = {r("2022-09-30 16:42:00", DimValue(int64_t{7}), 2),
                           r("2022-09-30 16:42:00", DimValue(), 1),
                           r("2022-09-30 16:42:00", DimValue(int64_t{-3}), 5)};
  c.rows = ages;
  ASSERT_TRUE(sink_->commit_batch(c));
  EXPECT_EQ(*sink_->read_table("events_ages"),
            (std::vector<TableRow>{r("2022-09-30 16:42:00", DimValue(), 1),
                                   r("2022-09-30 16:42:00", DimValue(int64_t{-3}), 5),
                                   r("2022-09-30 16:42:00", DimValue(int64_t{7}), 2)}));
  const TableRow names[] = {r("2022-09-30 16:42:00", DimValue(), 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(1, names)));
  EXPECT_EQ(sink_->read_table("events_users_v1")->at(0).dim, DimValue());

  const std::string ages_ddl = *sink_->table_ddl("events_ages");
  // MySQL 8 drops bigint's display width, MariaDB shows bigint(20).
  for (const char* column :
       {"`start` timestamp NULL DEFAULT NULL", "`end` timestamp NULL DEFAULT NULL", "`age` bigint",
        "`count` bigint", " NOT NULL\n)", "ENGINE=InnoDB"}) {
    EXPECT_NE(ages_ddl.find(column), std::string::npos) << column << " in " << ages_ddl;
  }
  const std::string users_ddl = *sink_->table_ddl("events_users_v1");
  EXPECT_NE(users_ddl.find("`user_name` text DEFAULT NULL"), std::string::npos) << users_ddl;
}

TEST_F(MysqlSinkTest, ALedgeredBatchIsNeverWrittenTwice) {
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  EXPECT_EQ(*sink_->commit_batch(commit(1, rows)), CommitOutcome::kWritten);
  EXPECT_EQ(*sink_->commit_batch(commit(1, rows)), CommitOutcome::kAlreadyCommitted);
  // A second writer on another connection is refused as well.
  auto other = MysqlSink::open(url_);
  ASSERT_TRUE(other) << other.status().message();
  EXPECT_EQ(*(*other)->commit_batch(commit(1, rows)), CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
}

TEST_F(MysqlSinkTest, ALedgerRowWithOtherOffsetsIsAnErrorNotASkip) {
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  BatchCommit first = commit(3, rows);
  first.source_start = "events_stages/0:0";
  ASSERT_EQ(*sink_->commit_batch(first), CommitOutcome::kWritten);
  BatchCommit other = first;
  other.source_end = "events_stages/0:800";
  auto refused = sink_->commit_batch(other);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  const std::string m = refused.status().message();
  for (const char* part : {"query q1", "batch 3", "events_stages/0:3", "events_stages/0:800"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " in: " << m;
  }
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
}

TEST_F(MysqlSinkTest, LastBatchIsTheHighestCommitted) {
  EXPECT_FALSE(sink_->last_batch("q1")->has_value());
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1), r("2022-09-30 16:42:00", "two", 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(2, rows)));
  ASSERT_TRUE(sink_->commit_batch(commit(0, {})));
  auto last = sink_->last_batch("q1");
  ASSERT_TRUE(last && last->has_value()) << last.status().message();
  EXPECT_EQ((*last)->query_id, "q1");
  EXPECT_EQ((*last)->batch_id, 2);
  EXPECT_EQ((*last)->table, "events_users_v1");
  EXPECT_EQ((*last)->source_end, "events_stages/0:2");
  EXPECT_EQ((*last)->rows, 2);
  EXPECT_FALSE(sink_->last_batch("q2")->has_value());
  EXPECT_FALSE(sink_->last_batch("Q1")->has_value());
}

TEST_F(MysqlSinkTest, WritersAreTheQueriesInTheLedgerOfATable) {
  EXPECT_TRUE(sink_->writers("events_users_v1")->empty());
  ASSERT_TRUE(sink_->commit_batch(commit(0, {}, OutputMode::kAppend, "q_b")));
  ASSERT_TRUE(sink_->commit_batch(commit(0, {}, OutputMode::kAppend, "q_a")));
  ASSERT_TRUE(sink_->commit_batch(commit(1, {}, OutputMode::kAppend, "q_b")));
  BatchCommit other = commit(0, {}, OutputMode::kAppend, "q_c");
  other.table.name = "events_users_v2";
  ASSERT_TRUE(sink_->commit_batch(other));
  EXPECT_EQ(*sink_->writers("events_users_v1"), (std::vector<std::string>{"q_a", "q_b"}));
  EXPECT_EQ(*sink_->writers("events_users_v2"), (std::vector<std::string>{"q_c"}));
}

TEST_F(MysqlSinkTest, UpdateReplacesMatchingRowsAndCompleteReplacesAll) {
  const TableRow a[] = {r("2022-09-30 16:42:00", "one", 1), r("2022-09-30 16:42:00", "two", 1),
                        r("2022-09-30 16:42:00", DimValue(), 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, a, OutputMode::kUpdate)));
  // "One" is another key than "one" (bytes, as in SQLite), and NULL matches NULL.
  const TableRow b[] = {r("2022-09-30 16:42:00", "one", 5), r("2022-09-30 16:42:00", "One", 7),
                        r("2022-09-30 16:42:00", DimValue(), 4)};
  ASSERT_TRUE(sink_->commit_batch(commit(1, b, OutputMode::kUpdate)));
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>{
                r("2022-09-30 16:42:00", DimValue(), 4), r("2022-09-30 16:42:00", "One", 7),
                r("2022-09-30 16:42:00", "one", 5), r("2022-09-30 16:42:00", "two", 1)}));
  const TableRow c[] = {r("2022-09-30 16:43:00", "one", 6)};
  ASSERT_TRUE(sink_->commit_batch(commit(2, c, OutputMode::kComplete)));
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>{r("2022-09-30 16:43:00", "one", 6)}));
  ASSERT_TRUE(sink_->commit_batch(commit(3, {}, OutputMode::kComplete)));
  EXPECT_TRUE(sink_->read_table("events_users_v1")->empty());
}

// Update mode deletes the previous row of each changed key; without an index every such DELETE
// read the whole table. The plan must find the rows through an index on the window.
TEST_F(MysqlSinkTest, UpdateModeDeletesFindTheirRowThroughAnIndex) {
  std::vector<TableRow> rows;
  for (int minute = 10; minute < 50; ++minute) {
    for (const char* user : {"one", "two", "three"}) {
      rows.push_back(r("2022-09-30 16:" + std::to_string(minute) + ":00", user, 1));
    }
  }
  ASSERT_TRUE(sink_->commit_batch(commit(0, rows, OutputMode::kUpdate)));
  // A second connection finds the index there and does not make it twice.
  auto other = MysqlSink::open(url_);
  ASSERT_TRUE(other) << other.status().message();
  ASSERT_TRUE((*other)->commit_batch(commit(1, rows, OutputMode::kUpdate)));
  const std::string remove =
      "DELETE FROM events_users_v1 WHERE `start` <=> '2022-09-30 16:42:00' AND `end` <=> "
      "'2022-09-30 16:42:10' AND CAST(user_name AS BINARY) <=> CAST('one' AS BINARY)";
  auto plan = sink_->query_plan(remove);
  ASSERT_TRUE(plan) << plan.status().message();
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_NE((*plan)[0].find("key=kappa_window"), std::string::npos) << (*plan)[0];
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), rows.size());
  // Append mode only inserts: no index to keep up.
  BatchCommit appended = commit(0, rows, OutputMode::kAppend, "qa");
  appended.table.name = "events_users_append";
  ASSERT_TRUE(sink_->commit_batch(appended));
  EXPECT_EQ(sink_->table_ddl("events_users_append")->find("KEY"), std::string::npos);
}

TEST_F(MysqlSinkTest, AFaultBetweenRowsAndLedgerLeavesNothing) {
  FaultPlan faults;
  faults.arm("sink.between_rows_and_ledger", StatusCode::kAborted);
  sink_->set_faults(&faults);
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  auto failed = sink_->commit_batch(commit(3, rows));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().code(), StatusCode::kAborted);
  EXPECT_EQ(faults.fired(), 1);
  EXPECT_FALSE(sink_->last_batch("q1")->has_value());
  EXPECT_TRUE(sink_->read_table("events_users_v1")->empty());  // created before the transaction
  EXPECT_EQ(*sink_->commit_batch(commit(3, rows)), CommitOutcome::kWritten);
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
  sink_->set_faults(nullptr);
}

TEST_F(MysqlSinkTest, FaultsBeforeAndAfterTheCommit) {
  FaultPlan faults;
  faults.arm("sink.before_commit", StatusCode::kUnavailable);
  faults.arm("sink.after_commit", StatusCode::kAborted);
  sink_->set_faults(&faults);
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  EXPECT_EQ(sink_->commit_batch(commit(0, rows)).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(*sink_->table_exists("events_users_v1"));  // before anything
  // After the commit: the batch is in, the caller crashed before recording it; the re-run is
  // skipped.
  EXPECT_EQ(sink_->commit_batch(commit(0, rows)).status().code(), StatusCode::kAborted);
  EXPECT_EQ(*sink_->commit_batch(commit(0, rows)), CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
  EXPECT_EQ(faults.pending(), 0);
  sink_->set_faults(nullptr);
}

TEST_F(MysqlSinkTest, MissingTablesAndBadIdentifiers) {
  auto missing = sink_->read_table("missing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("table missing does not exist"), std::string::npos)
      << missing.status().message();
  EXPECT_FALSE(*sink_->table_exists("missing"));
  EXPECT_EQ(sink_->table_ddl("missing").status().code(), StatusCode::kNotFound);
  BatchCommit c = commit(0, {});
  c.table.name = "events; DROP TABLE kappa_ledger";
  auto s = sink_->commit_batch(c);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("table name"), std::string::npos);
  c = commit(0, {});
  c.table.dimension = "user`name";
  EXPECT_EQ(sink_->commit_batch(c).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink_->read_table("a`b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink_->point_view("v; x", "events_users_v1").code(), StatusCode::kInvalidArgument);
  // The names the sinks reserve, refused on MySQL as on SQLite.
  for (const char* reserved : {"kappa_ledger", "kappa_views", "sqlite_master"}) {
    c = commit(0, {});
    c.table.name = reserved;
    EXPECT_EQ(sink_->commit_batch(c).status().code(), StatusCode::kInvalidArgument) << reserved;
    EXPECT_EQ(sink_->read_table(reserved).status().code(), StatusCode::kInvalidArgument)
        << reserved;
    EXPECT_EQ(sink_->point_view("events_users", reserved).code(), StatusCode::kInvalidArgument)
        << reserved;
  }
}

TEST_F(MysqlSinkTest, ViewsPointRepointAndNameTheirTarget) {
  const TableRow v1[] = {r("2022-09-30 16:42:00", "one", 1)};
  const TableRow v2[] = {r("2022-09-30 16:42:00", "one", 2), r("2022-09-30 16:42:00", "two", 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, v1)));
  BatchCommit c2 = commit(0, v2, OutputMode::kAppend, "q2");
  c2.table.name = "events_users_v2";
  ASSERT_TRUE(sink_->commit_batch(c2));

  EXPECT_FALSE(sink_->view_target("events_users")->has_value());
  ASSERT_TRUE(sink_->point_view("events_users", "events_users_v1"));
  EXPECT_EQ(sink_->view_target("events_users")->value_or(""), "events_users_v1");
  EXPECT_TRUE(*sink_->table_exists("events_users"));
  EXPECT_EQ(*sink_->read_table("events_users"), *sink_->read_table("events_users_v1"));

  ASSERT_TRUE(sink_->point_view("events_users", "events_users_v2"));
  EXPECT_EQ(sink_->view_target("events_users")->value_or(""), "events_users_v2");
  EXPECT_EQ(*sink_->read_table("events_users"), *sink_->read_table("events_users_v2"));
  ASSERT_TRUE(sink_->point_view("events_users", "events_users_v1"));  // rolling back
  EXPECT_EQ(sink_->view_target("events_users")->value_or(""), "events_users_v1");

  EXPECT_EQ(sink_->point_view("events_users", "events_users_v3").code(), StatusCode::kNotFound);
  EXPECT_EQ(sink_->point_view("other", "events_users").code(), StatusCode::kNotFound)
      << "a view is no table to point at";
  const Status table = sink_->point_view("events_users_v2", "events_users_v1");
  EXPECT_EQ(table.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(table.message().find("events_users_v2 is a table"), std::string::npos)
      << table.message();
  EXPECT_FALSE(sink_->view_target("events_users_v2")->has_value()) << "a table is no view";
  EXPECT_EQ(sink_->view_target("events_users")->value_or(""), "events_users_v1");
}

TEST_F(MysqlSinkTest, AWrongPasswordIsReportedWithoutThePassword) {
  auto u = parse_url(url_);
  ASSERT_TRUE(u);
  const std::string wrong = "mysql://" + u->user + ":NotThePassword42@" + u->hosts + "/" + u->path;
  auto sink = MysqlSink::open(wrong);
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.status().code(), StatusCode::kUnavailable);
  const std::string m = sink.status().message();
  EXPECT_EQ(m.find("NotThePassword42"), std::string::npos) << m;
  if (u->password) {
    EXPECT_EQ(m.find(*u->password), std::string::npos) << m;
  }
  EXPECT_NE(m.find(u->hosts), std::string::npos) << "names the server: " << m;
  EXPECT_NE(m.find("ccess denied"), std::string::npos) << m;
}

TEST_F(MysqlSinkTest, ServersThatAreNotThereAreUnavailableAndBadUrlsInvalid) {
  auto u = parse_url(url_);
  ASSERT_TRUE(u);
  const std::string password = u->password.value_or("");
  auto refused = MysqlSink::open("mysql://" + u->user + ":" + password + "@127.0.0.1:1/" + u->path);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  if (!password.empty()) {
    EXPECT_EQ(refused.status().message().find(password), std::string::npos);
  }
  auto no_db = MysqlSink::open(with_database(url_, "kappa_test_no_such_db"));
  EXPECT_EQ(no_db.status().code(), StatusCode::kNotFound) << no_db.status().message();
  for (const char* bad : {"kafka://scott:tiger@h:1/db", "mysql://scott:tiger@h:1", "mysql://h:1/db",
                          "mysql://scott:tiger@h:1,g:2/db"}) {
    auto s = MysqlSink::open(bad);
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.status().message().find("tiger"), std::string::npos) << s.status().message();
  }
}

TEST_F(MysqlSinkTest, DescribeHasNoPassword) {
  auto u = parse_url(url_);
  ASSERT_TRUE(u);
  EXPECT_EQ(sink_->describe(), "mysql://" + u->user + "@" + u->hosts + "/" + db_);
  if (u->password) {
    EXPECT_EQ(sink_->describe().find(":" + *u->password), std::string::npos);
  }
}

TEST_F(MysqlSinkTest, ReconnectsAfterItsConnectionIsKilled) {
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, rows)));
  auto before = sink_->connection_id();
  ASSERT_TRUE(before) << before.status().message();
  ASSERT_TRUE(admin_->exec("KILL " + std::to_string(*before)));
  auto written = sink_->commit_batch(commit(1, rows));
  ASSERT_TRUE(written) << written.status().message();
  EXPECT_EQ(*written, CommitOutcome::kWritten);
  auto after = sink_->connection_id();
  ASSERT_TRUE(after);
  EXPECT_NE(*after, *before);
  // The new connection has the session too: wall-clock text still round-trips.
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>{r("2022-09-30 16:42:00", "one", 1),
                                   r("2022-09-30 16:42:00", "one", 1)}));
  // Reads reconnect as well.
  ASSERT_TRUE(admin_->exec("KILL " + std::to_string(*after)));
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 2u);
  EXPECT_EQ(sink_->last_batch("q1")->value().batch_id, 1);
}

TEST_F(MysqlSinkTest, ReadsBackWhatSqliteSinkReadsBackForTheSameCommits) {
  auto sqlite = SqliteSink::open(":memory:").value();
  const TableRow a[] = {r("2022-09-30 16:42:10", "two", 3), r("2022-09-30 16:42:00", "남성", 1),
                        r("2022-09-30 16:42:00", DimValue(), 2),
                        r("2022-09-30 16:42:00", "Two", 1)};
  const TableRow b[] = {r("2022-09-30 16:42:10", "two", 4), r("2022-09-30 16:42:00", DimValue(), 5),
                        r("2022-09-30 16:42:20", "Unknown Name", 1)};
  const TableRow ages[] = {r("2022-09-30 16:42:00", DimValue(int64_t{31}), 1),
                           r("2022-09-30 16:42:00", DimValue(), 1),
                           r("2022-09-30 16:42:00", DimValue(int64_t{7}), 2)};
  std::vector<BatchCommit> commits = {commit(0, a),
                                      commit(1, b),
                                      commit(1, b),
                                      commit(0, a, OutputMode::kUpdate, "qu"),
                                      commit(1, b, OutputMode::kUpdate, "qu"),
                                      commit(0, b, OutputMode::kComplete, "qc"),
                                      commit(0, ages, OutputMode::kAppend, "qa")};
  commits[3].table.name = commits[4].table.name = "events_users_update";
  commits[5].table.name = "events_users_complete";
  commits[6].table = TableSpec{"events_ages", "age", ColumnType::kBigint};
  for (Sink* sink : {static_cast<Sink*>(sqlite.get()), static_cast<Sink*>(sink_.get())}) {
    for (const BatchCommit& c : commits) ASSERT_TRUE(sink->commit_batch(c)) << sink->describe();
    ASSERT_TRUE(sink->point_view("events_users", "events_users_update"));
  }
  for (const char* table : {"events_users_v1", "events_users_update", "events_users_complete",
                            "events_ages", "events_users"}) {
    auto expected = sqlite->read_table(table);
    auto actual = sink_->read_table(table);
    ASSERT_TRUE(expected && actual) << table;
    EXPECT_EQ(*actual, *expected) << table;
  }
  for (const char* query : {"q1", "qu", "qc", "qa"}) {
    EXPECT_EQ(show(*sink_->last_batch(query)), show(*sqlite->last_batch(query)));
  }
  EXPECT_EQ(*sink_->writers("events_users_v1"), *sqlite->writers("events_users_v1"));
  EXPECT_EQ(*sink_->view_target("events_users"), *sqlite->view_target("events_users"));
}

}  // namespace
}  // namespace kappa
