// The Sink contract on a real MongoDB-wire server: $KAPPA_TEST_MONGODB (default
// mongodb://127.0.0.1:27017/kappa, the FerretDB that scripts/start-mongodb.sh starts). Each test
// works in a database of its own, kappa_test_<pid>_<n>, dropped around it, so parallel ctest
// processes never meet. Without a server the tests are skipped with the reason; in CI (CI=true)
// they fail.
#include "pipeline/sinks/mongo_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "broker/url.h"
#include "pipeline/sinks/mongo_test_server.h"
#include "pipeline/sinks/sqlite_sink.h"

namespace kappa {
namespace {

using test_servers::mongodb_url;

// `url` with its database replaced by `db`, everything else (a password too) kept as written.
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

class MongoSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KAPPA_REQUIRE_SERVER(test_servers::mongodb_up(), "MongoDB server");
    static int n = 0;
    db_ = "kappa_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    url_ = with_database(mongodb_url(), db_);
    auto sink = MongoSink::open(url_);
    ASSERT_TRUE(sink) << sink.status().message();
    sink_ = std::move(*sink);
    ASSERT_TRUE(sink_->drop_database());
    sink = MongoSink::open(url_);  // the ledger again, in the empty database
    ASSERT_TRUE(sink) << sink.status().message();
    sink_ = std::move(*sink);
  }

  void TearDown() override {
    if (sink_) {
      EXPECT_TRUE(sink_->drop_database());
    }
  }

  std::string db_;
  std::string url_;
  std::unique_ptr<MongoSink> sink_;
};

TEST_F(MongoSinkTest, CreatesTheCollectionOnTheFirstBatchEvenIfEmpty) {
  EXPECT_FALSE(*sink_->table_exists("events_users_v1"));
  EXPECT_EQ(*sink_->commit_batch(commit(0, {})), CommitOutcome::kWritten);
  EXPECT_TRUE(*sink_->table_exists("events_users_v1"));
  EXPECT_FALSE(*sink_->table_exists("EVENTS_USERS_V1"));
  EXPECT_TRUE(sink_->read_table("events_users_v1")->empty());
}

TEST_F(MongoSinkTest, AppendsAndReadsBackSortedWithDuplicatesKept) {
  const TableRow a[] = {r("2022-09-30 16:42:10", "two", 3), r("2022-09-30 16:42:00", "two", 1),
                        r("2022-09-30 16:42:00", "남성", 4)};
  const TableRow b[] = {r("2022-09-30 16:42:00", "two", 1), r("1999-12-31 23:59:50", "zero", 9)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, a)));
  ASSERT_TRUE(sink_->commit_batch(commit(1, b)));
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>{
                r("1999-12-31 23:59:50", "zero", 9), r("2022-09-30 16:42:00", "two", 1),
                r("2022-09-30 16:42:00", "two", 1), r("2022-09-30 16:42:00", "남성", 4),
                r("2022-09-30 16:42:10", "two", 3)}));
}

TEST_F(MongoSinkTest, WindowBoundsAreBsonDatesInUtc) {
  const TableRow a[] = {r("2022-09-30 16:42:00", "one", 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, a)));
  auto docs = sink_->documents_json("events_users_v1");
  ASSERT_TRUE(docs) << docs.status().message();
  ASSERT_EQ(docs->size(), 1u);
  const std::string& d = docs->front();
  // 2022-09-30 16:42:00 UTC is 1664556120000 ms after the epoch.
  EXPECT_NE(d.find("\"start\" : { \"$date\" : { \"$numberLong\" : \"1664556120000\" } }"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("\"user_name\" : \"one\""), std::string::npos) << d;
  EXPECT_NE(d.find("\"count\" : { \"$numberLong\" : \"1\" }"), std::string::npos) << d;
  const TableRow bad[] = {r("2022-13-30 16:42:00", "one", 1)};
  auto refused = sink_->commit_batch(commit(1, bad));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("2022-13-30 16:42:00"), std::string::npos)
      << refused.status().message();
}

TEST_F(MongoSinkTest, IntegerAndNullDimensions) {
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
}

TEST_F(MongoSinkTest, ALedgeredBatchIsNeverWrittenTwice) {
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  EXPECT_EQ(*sink_->commit_batch(commit(1, rows)), CommitOutcome::kWritten);
  EXPECT_EQ(*sink_->commit_batch(commit(1, rows)), CommitOutcome::kAlreadyCommitted);
  auto other = MongoSink::open(url_);
  ASSERT_TRUE(other) << other.status().message();
  EXPECT_EQ(*(*other)->commit_batch(commit(1, rows)), CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
}

TEST_F(MongoSinkTest, ALedgerEntryWithOtherOffsetsIsAnErrorNotASkip) {
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  BatchCommit first = commit(3, rows);
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

TEST_F(MongoSinkTest, LastBatchAndWriters) {
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
  EXPECT_FALSE(sink_->last_batch("Q1")->has_value());

  ASSERT_TRUE(sink_->commit_batch(commit(0, {}, OutputMode::kAppend, "q_b")));
  ASSERT_TRUE(sink_->commit_batch(commit(0, {}, OutputMode::kAppend, "a/1")));
  BatchCommit other = commit(0, {}, OutputMode::kAppend, "q_c");
  other.table.name = "events_users_v2";
  ASSERT_TRUE(sink_->commit_batch(other));
  EXPECT_EQ(*sink_->writers("events_users_v1"), (std::vector<std::string>{"a/1", "q1", "q_b"}));
  EXPECT_EQ(*sink_->writers("events_users_v2"), (std::vector<std::string>{"q_c"}));
}

TEST_F(MongoSinkTest, UpdateReplacesMatchingRowsAndCompleteReplacesAll) {
  const TableRow a[] = {r("2022-09-30 16:42:00", "one", 1), r("2022-09-30 16:42:00", "two", 1),
                        r("2022-09-30 16:42:00", DimValue(), 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, a, OutputMode::kUpdate)));
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
  // A re-run of the last batch changes nothing.
  EXPECT_EQ(*sink_->commit_batch(commit(2, c, OutputMode::kComplete)),
            CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
  ASSERT_TRUE(sink_->commit_batch(commit(3, {}, OutputMode::kComplete)));
  EXPECT_TRUE(sink_->read_table("events_users_v1")->empty());
}

TEST_F(MongoSinkTest, AFaultBetweenRowsAndLedgerShowsNothingAndTheRerunWritesOnce) {
  FaultPlan faults;
  faults.arm("sink.between_rows_and_ledger", StatusCode::kAborted);
  sink_->set_faults(&faults);
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1), r("2022-09-30 16:42:00", "two", 2)};
  auto failed = sink_->commit_batch(commit(3, rows));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().code(), StatusCode::kAborted);
  EXPECT_EQ(faults.fired(), 1);
  EXPECT_FALSE(sink_->last_batch("q1")->has_value());
  EXPECT_TRUE(sink_->read_table("events_users_v1")->empty()) << "rows without a ledger entry";
  // The re-run, with fewer rows than the crashed attempt wrote: only its own rows count.
  EXPECT_EQ(*sink_->commit_batch(commit(3, std::span(rows, 1))), CommitOutcome::kWritten);
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>{r("2022-09-30 16:42:00", "one", 1)}));
  EXPECT_EQ(sink_->documents_json("events_users_v1")->size(), 1u);
  sink_->set_faults(nullptr);
}

TEST_F(MongoSinkTest, ACrashBeforeTheOutputModeIsFinishedHealsOnTheRerun) {
  const TableRow a[] = {r("2022-09-30 16:42:00", "one", 1), r("2022-09-30 16:42:00", "two", 1)};
  ASSERT_TRUE(sink_->commit_batch(commit(0, a, OutputMode::kUpdate)));
  FaultPlan faults;
  faults.arm("sink.between_ledger_and_finish", StatusCode::kAborted);
  sink_->set_faults(&faults);
  const TableRow b[] = {r("2022-09-30 16:42:00", "one", 5)};
  ASSERT_EQ(sink_->commit_batch(commit(1, b, OutputMode::kUpdate)).status().code(),
            StatusCode::kAborted);
  // Committed but not finished: the old row of the window is still there beside the new one.
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 3u);
  EXPECT_EQ(*sink_->commit_batch(commit(1, b, OutputMode::kUpdate)),
            CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>{r("2022-09-30 16:42:00", "one", 5),
                                   r("2022-09-30 16:42:00", "two", 1)}));

  faults.arm("sink.between_ledger_and_finish", StatusCode::kAborted);
  const TableRow c[] = {r("2022-09-30 16:43:00", "three", 2)};
  ASSERT_FALSE(sink_->commit_batch(commit(2, c, OutputMode::kComplete)));
  EXPECT_EQ(*sink_->commit_batch(commit(2, c, OutputMode::kComplete)),
            CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(*sink_->read_table("events_users_v1"),
            (std::vector<TableRow>(std::begin(c), std::end(c))));
  // An older batch's re-run finishes nothing: it would undo the later batches.
  EXPECT_EQ(*sink_->commit_batch(commit(1, b, OutputMode::kUpdate)),
            CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
  sink_->set_faults(nullptr);
}

TEST_F(MongoSinkTest, FaultsBeforeAndAfterTheCommit) {
  FaultPlan faults;
  faults.arm("sink.before_commit", StatusCode::kUnavailable);
  faults.arm("sink.after_commit", StatusCode::kAborted);
  sink_->set_faults(&faults);
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  EXPECT_EQ(sink_->commit_batch(commit(0, rows)).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(*sink_->table_exists("events_users_v1"));
  EXPECT_EQ(sink_->commit_batch(commit(0, rows)).status().code(), StatusCode::kAborted);
  EXPECT_EQ(*sink_->commit_batch(commit(0, rows)), CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(sink_->read_table("events_users_v1")->size(), 1u);
  EXPECT_EQ(faults.pending(), 0);
  sink_->set_faults(nullptr);
}

TEST_F(MongoSinkTest, MissingTablesAndBadIdentifiers) {
  auto missing = sink_->read_table("missing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("table missing does not exist"), std::string::npos)
      << missing.status().message();
  EXPECT_FALSE(*sink_->table_exists("missing"));
  BatchCommit c = commit(0, {});
  c.table.name = "events.system";
  auto s = sink_->commit_batch(c);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("table name"), std::string::npos);
  for (const char* dim : {"user$name", "_id", "start", "count"}) {
    c = commit(0, {});
    c.table.dimension = dim;
    EXPECT_EQ(sink_->commit_batch(c).status().code(), StatusCode::kInvalidArgument) << dim;
  }
  EXPECT_EQ(sink_->read_table("a.b").status().code(), StatusCode::kInvalidArgument);
  for (const char* reserved : {"kappa_ledger", "kappa_views", "sqlite_master"}) {
    c = commit(0, {});
    c.table.name = reserved;
    EXPECT_EQ(sink_->commit_batch(c).status().code(), StatusCode::kInvalidArgument) << reserved;
    EXPECT_EQ(sink_->read_table(reserved).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(sink_->point_view("events_users", reserved).code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(MongoSinkTest, ViewsPointRepointAndNameTheirTarget) {
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
  ASSERT_TRUE(sink_->point_view("events_users", "events_users_v1"));
  EXPECT_EQ(sink_->view_target("events_users")->value_or(""), "events_users_v1");

  EXPECT_EQ(sink_->point_view("events_users", "events_users_v3").code(), StatusCode::kNotFound);
  EXPECT_EQ(sink_->point_view("other", "events_users").code(), StatusCode::kNotFound)
      << "a view is no table to point at";
  const Status table = sink_->point_view("events_users_v2", "events_users_v1");
  EXPECT_EQ(table.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(table.message().find("events_users_v2 is a table"), std::string::npos)
      << table.message();
  EXPECT_FALSE(sink_->view_target("events_users_v2")->has_value()) << "a table is no view";
  BatchCommit onto_view = commit(1, v1);
  onto_view.table.name = "events_users";
  EXPECT_EQ(sink_->commit_batch(onto_view).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(sink_->view_target("events_users")->value_or(""), "events_users_v1");
}

TEST_F(MongoSinkTest, UrlsAndServersThatAreNotThere) {
  auto refused = MongoSink::open("mongodb://scott:Secret42@127.0.0.1:1/kappa");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  const std::string m = refused.status().message();
  EXPECT_EQ(m.find("Secret42"), std::string::npos) << m;
  EXPECT_NE(m.find("mongodb://scott@127.0.0.1:1/kappa"), std::string::npos) << m;
  for (const char* bad :
       {"mysql://scott:Secret42@h:1/db", "mongodb://scott:Secret42@h:1",
        "mongodb://scott:Secret42@h:1,g:2/db", "mongodb://h:1/a.b", "mongodb://h:1/a$b"}) {
    auto s = MongoSink::open(bad);
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.status().message().find("Secret42"), std::string::npos) << s.status().message();
  }
}

TEST_F(MongoSinkTest, DescribeHasNoPassword) {
  auto u = parse_url(url_);
  ASSERT_TRUE(u);
  EXPECT_EQ(sink_->describe(),
            "mongodb://" + (u->user.empty() ? "" : u->user + "@") + u->hosts + "/" + db_);
  auto with_password = MongoSink::open("mongodb://scott:Secret42@" + u->hosts + "/" + db_ +
                                       "_never");  // no connection needed
  if (with_password) {
    EXPECT_EQ((*with_password)->describe().find("Secret42"), std::string::npos);
  } else {
    EXPECT_EQ(with_password.status().message().find("Secret42"), std::string::npos);
  }
}

TEST_F(MongoSinkTest, ReadsBackWhatSqliteSinkReadsBackForTheSameCommits) {
  auto sqlite = SqliteSink::open(":memory:").value();
  const TableRow a[] = {r("2022-09-30 16:42:10", "two", 3), r("2022-09-30 16:42:00", "남성", 1),
                        r("2022-09-30 16:42:00", DimValue(), 2),
                        r("2022-09-30 16:42:00", "Two", 1)};
  const TableRow b[] = {r("2022-09-30 16:42:10", "two", 4), r("2022-09-30 16:42:00", DimValue(), 5),
                        r("2022-09-30 16:42:20", "Unknown Name", 1)};
  for (OutputMode mode : {OutputMode::kAppend, OutputMode::kUpdate, OutputMode::kComplete}) {
    SCOPED_TRACE(std::string(to_string(mode)));
    const std::string q = "q_" + std::string(to_string(mode));
    for (Sink* s : {static_cast<Sink*>(sqlite.get()), static_cast<Sink*>(sink_.get())}) {
      BatchCommit c0 = commit(0, a, mode, q), c1 = commit(1, b, mode, q);
      c0.table.name = c1.table.name = "t_" + std::string(to_string(mode));
      ASSERT_TRUE(s->commit_batch(c0));
      ASSERT_TRUE(s->commit_batch(c1));
    }
    const std::string t = "t_" + std::string(to_string(mode));
    EXPECT_EQ(*sink_->read_table(t), *sqlite->read_table(t));
  }
}

}  // namespace
}  // namespace kappa
