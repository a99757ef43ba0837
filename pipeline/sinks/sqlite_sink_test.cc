#include "pipeline/sinks/sqlite_sink.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

namespace kappa {
namespace {

TableSpec users() { return TableSpec{"events_users_v1", "user_name", ColumnType::kText}; }

TableRow r(std::string start, std::string dim, int64_t count) {
  return TableRow{start, start.substr(0, 17) + "10", DimValue(std::move(dim)), count};
}

BatchCommit commit(int64_t batch, std::span<const TableRow> rows,
                   OutputMode mode = OutputMode::kAppend) {
  BatchCommit c;
  c.query_id = "q1";
  c.batch_id = batch;
  c.table = users();
  c.mode = mode;
  c.rows = rows;
  c.source_end = "events_stages/0:" + std::to_string(batch);
  return c;
}

TEST(SqliteSink, CreatesTheTableAsSparksJdbcWriterOnTheFirstBatchEvenIfEmpty) {
  auto sink = SqliteSink::open(":memory:").value();
  EXPECT_FALSE(*sink->table_exists("events_users_v1"));
  ASSERT_TRUE(sink->commit_batch(commit(0, {})));
  EXPECT_TRUE(*sink->table_exists("events_users_v1"));
  EXPECT_TRUE(sink->read_table("events_users_v1")->empty());
}

// The order of durable writes: a batch's rows and ledger row are on disk before commit_batch
// returns, so the job's checkpoint (fdatasync'ed after it) can never be ahead of the table after
// a power loss. In WAL mode that takes synchronous=FULL: NORMAL syncs the WAL only at SQLite's
// own checkpoints, so the last commits may roll back.
TEST(SqliteSink, AFileCommitsDurablyBeforeCommitBatchReturns) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sqlite_sink_sync_" + std::to_string(::getpid()) + ".db");
  {
    auto sink = SqliteSink::open(path.string()).value();
    EXPECT_EQ(*sink->pragma("journal_mode"), "wal");
    EXPECT_EQ(*sink->pragma("synchronous"), "2") << "FULL";
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

// A re-run batch is skipped only when its ledger row has the same source offsets as its plan;
// other offsets mean the checkpoint and the sink disagree, and the commit fails naming both.
TEST(SqliteSink, ALedgerRowWithOtherOffsetsIsAnErrorNotASkip) {
  auto sink = SqliteSink::open(":memory:").value();
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  BatchCommit first = commit(3, rows);
  first.source_start = "events_stages/0:0";
  first.source_end = "events_stages/0:30";
  ASSERT_EQ(*sink->commit_batch(first), CommitOutcome::kWritten);
  EXPECT_EQ(*sink->commit_batch(first), CommitOutcome::kAlreadyCommitted)
      << "the same plan: a re-run";
  BatchCommit other = first;
  other.source_start = "events_stages/0:0";
  other.source_end = "events_stages/0:800";
  auto refused = sink->commit_batch(other);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  const std::string m = refused.status().message();
  for (const char* part :
       {"query q1", "batch 3", "events_stages/0:30", "events_stages/0:800", "events_stages/0:0"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " in: " << m;
  }
  EXPECT_EQ(sink->read_table("events_users_v1")->size(), 1u) << "nothing written twice";
}

TEST(SqliteSink, ALedgeredBatchIsNeverWrittenTwice) {
  auto sink = SqliteSink::open(":memory:").value();
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  EXPECT_EQ(*sink->commit_batch(commit(1, rows)), CommitOutcome::kWritten);
  EXPECT_EQ(*sink->commit_batch(commit(1, rows)), CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(sink->read_table("events_users_v1")->size(), 1u);
  auto last = sink->last_batch("q1");
  ASSERT_TRUE(last && last->has_value());
  EXPECT_EQ((*last)->batch_id, 1);
  EXPECT_EQ((*last)->source_end, "events_stages/0:1");
  EXPECT_EQ((*last)->rows, 1);
  EXPECT_FALSE(sink->last_batch("q2")->has_value());
}

TEST(SqliteSink, UpdateReplacesMatchingRowsAndCompleteReplacesAll) {
  auto sink = SqliteSink::open(":memory:").value();
  const TableRow a[] = {r("2022-09-30 16:42:00", "one", 1), r("2022-09-30 16:42:00", "two", 1)};
  ASSERT_TRUE(sink->commit_batch(commit(0, a, OutputMode::kUpdate)));
  const TableRow b[] = {r("2022-09-30 16:42:00", "one", 5)};
  ASSERT_TRUE(sink->commit_batch(commit(1, b, OutputMode::kUpdate)));
  EXPECT_EQ(*sink->read_table("events_users_v1"),
            (std::vector<TableRow>{r("2022-09-30 16:42:00", "one", 5),
                                   r("2022-09-30 16:42:00", "two", 1)}));
  ASSERT_TRUE(sink->commit_batch(commit(2, b, OutputMode::kComplete)));
  EXPECT_EQ(*sink->read_table("events_users_v1"),
            (std::vector<TableRow>{r("2022-09-30 16:42:00", "one", 5)}));
}

// Update mode deletes the row of each changed window before inserting it again; without an index
// that delete reads the whole table, so a day of one-second batches took minutes instead of a
// fraction of a second. The plan must search an index on the window and dimension.
TEST(SqliteSink, UpdateModeDeletesFindTheirRowThroughAnIndex) {
  auto sink = SqliteSink::open(":memory:").value();
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  ASSERT_TRUE(sink->commit_batch(commit(0, rows, OutputMode::kUpdate)));
  auto plan = sink->query_plan(
      "DELETE FROM \"events_users_v1\" WHERE \"start\" = ? AND \"end\" = ? AND \"user_name\" IS ?");
  ASSERT_TRUE(plan) << plan.status().message();
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_NE((*plan)[0].find("USING INDEX"), std::string::npos) << (*plan)[0];
  // Append mode only inserts: no index to keep up.
  auto appended = SqliteSink::open(":memory:").value();
  ASSERT_TRUE(appended->commit_batch(commit(0, rows)));
  plan = appended->query_plan("SELECT * FROM \"events_users_v1\" WHERE \"start\" = ?");
  ASSERT_TRUE(plan);
  EXPECT_NE((*plan)[0].find("SCAN"), std::string::npos) << (*plan)[0];
}

// Rows go in by statements of up to 16 rows: every row arrives, in the batch's order (the
// table's rowid order, which is what a reader without ORDER BY sees), whatever the count; a
// retry still writes none.
TEST(SqliteSink, ManyRowsArriveInTheirOrder) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sqlite_sink_order_" + std::to_string(::getpid()) + ".db");
  std::vector<std::string> expected;  // "dim count" in insertion order
  {
    auto sink = SqliteSink::open(path.string()).value();
    int64_t batch = 0;
    for (int n : {1, 15, 16, 17, 33, 40}) {
      std::vector<TableRow> rows;
      for (int i = 0; i < n; ++i) {
        rows.push_back(r("2022-09-30 16:42:0" + std::to_string(i % 10),
                         "u" + std::to_string(batch) + "-" + std::to_string(n - i), i + 1));
        expected.push_back(std::get<std::string>(rows.back().dim) + " " + std::to_string(i + 1));
      }
      ASSERT_EQ(*sink->commit_batch(commit(batch, rows)), CommitOutcome::kWritten) << n;
      ASSERT_EQ(*sink->commit_batch(commit(batch, rows)), CommitOutcome::kAlreadyCommitted) << n;
      ++batch;
    }
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT user_name, count FROM events_users_v1 ORDER BY rowid",
                               -1, &q, nullptr),
            SQLITE_OK);
  std::vector<std::string> got;
  while (sqlite3_step(q) == SQLITE_ROW) {
    got.push_back(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)) + std::string(" ") +
                  std::to_string(sqlite3_column_int64(q, 1)));
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  EXPECT_EQ(got, expected);
}

TEST(SqliteSink, AFaultBetweenRowsAndLedgerLeavesNothing) {
  FaultPlan faults;
  faults.arm("sink.between_rows_and_ledger", StatusCode::kAborted);
  auto sink = SqliteSink::open(":memory:", &faults).value();
  const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
  auto failed = sink->commit_batch(commit(3, rows));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().code(), StatusCode::kAborted);
  EXPECT_FALSE(sink->last_batch("q1")->has_value());
  EXPECT_EQ(*sink->commit_batch(commit(3, rows)), CommitOutcome::kWritten);
  EXPECT_EQ(sink->read_table("events_users_v1")->size(), 1u);
}

TEST(SqliteSink, RefusesBadIdentifiers) {
  auto sink = SqliteSink::open(":memory:").value();
  BatchCommit c = commit(0, {});
  c.table.name = "events; DROP TABLE kappa_ledger";
  auto s = sink->commit_batch(c);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("table name"), std::string::npos);
  EXPECT_EQ(sink->read_table("missing").status().code(), StatusCode::kNotFound);
}

TEST(SqliteSink, RefusesReservedNames) {
  auto sink = SqliteSink::open(":memory:").value();
  for (const char* reserved : {"sqlite_master", "kappa_ledger", "kappa_views"}) {
    BatchCommit c = commit(0, {});
    c.table.name = reserved;
    EXPECT_EQ(sink->commit_batch(c).status().code(), StatusCode::kInvalidArgument) << reserved;
    EXPECT_EQ(sink->read_table(reserved).status().code(), StatusCode::kInvalidArgument) << reserved;
    EXPECT_EQ(sink->point_view(reserved, "events_users_v1").code(), StatusCode::kInvalidArgument)
        << reserved;
  }
  ASSERT_TRUE(sink->commit_batch(commit(0, {})));
  EXPECT_EQ(sink->point_view("events_users", "kappa_ledger").code(), StatusCode::kInvalidArgument);
}

TEST(SqliteSink, ColumnsHaveSparksJdbcTypes) {
  auto sink = SqliteSink::open(":memory:").value();
  BatchCommit c = commit(0, {});
  c.table = TableSpec{"events_ages", "age", ColumnType::kBigint};
  const TableRow rows[] = {
      TableRow{"2022-09-30 16:42:00", "2022-09-30 16:42:10", DimValue(int64_t{7}), 2}};
  c.rows = rows;
  ASSERT_TRUE(sink->commit_batch(c));
  EXPECT_EQ(sink->read_table("events_ages")->at(0).dim, DimValue(int64_t{7}));
  EXPECT_EQ(*sink->table_ddl("events_ages"),
            "CREATE TABLE \"events_ages\" (\"start\" TIMESTAMP, \"end\" TIMESTAMP, \"age\" BIGINT, "
            "\"count\" BIGINT NOT NULL)");
  ASSERT_TRUE(sink->commit_batch(commit(1, {})));
  EXPECT_EQ(*sink->table_ddl("events_users_v1"),
            "CREATE TABLE \"events_users_v1\" (\"start\" TIMESTAMP, \"end\" TIMESTAMP, "
            "\"user_name\" TEXT, "
            "\"count\" BIGINT NOT NULL)");
}

TEST(SqliteSink, CommittedBatchesSurviveReopening) {
  const auto path =
      std::filesystem::temp_directory_path() / ("kappa_sink_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    auto sink = SqliteSink::open(path.string()).value();
    const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
    ASSERT_TRUE(sink->commit_batch(commit(0, rows)));
  }
  auto again = SqliteSink::open(path.string()).value();
  EXPECT_EQ(again->read_table("events_users_v1")->size(), 1u);
  EXPECT_EQ(again->last_batch("q1")->value().batch_id, 0);
  again.reset();
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

// The CREATE statement SQLite keeps for the ledger of the database at `path`.
std::string ledger_ddl(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "(cannot open " + path + ")";
  }
  sqlite3_stmt* q = nullptr;
  std::string ddl = "(no ledger)";
  if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = 'kappa_ledger'", -1, &q,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW) {
    ddl = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return ddl;
}

// A database made before the ledger became a WITHOUT ROWID table keeps its rowid ledger, which
// serves the same: a new batch is written, a ledgered one is known, other offsets are an error.
TEST(SqliteSink, AnEarlierRowidLedgerStillServes) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("kappa_sink_rowid_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.string().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE kappa_ledger (query_id TEXT NOT NULL, batch_id INTEGER NOT "
                         "NULL, table_name TEXT NOT NULL, source_end TEXT NOT NULL, row_count "
                         "INTEGER NOT NULL, PRIMARY KEY (query_id, batch_id))",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  {
    auto sink = SqliteSink::open(path.string()).value();
    const TableRow rows[] = {r("2022-09-30 16:42:00", "one", 1)};
    EXPECT_EQ(*sink->commit_batch(commit(0, rows)), CommitOutcome::kWritten);
    EXPECT_EQ(*sink->commit_batch(commit(0, rows)), CommitOutcome::kAlreadyCommitted);
    BatchCommit other = commit(0, rows);
    other.source_end = "events_stages/0:99";
    auto refused = sink->commit_batch(other);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(*sink->commit_batch(commit(1, rows)), CommitOutcome::kWritten);
    EXPECT_EQ(sink->read_table("events_users_v1")->size(), 2u);
    EXPECT_EQ(sink->last_batch("q1")->value().batch_id, 1);
  }
  const std::string ddl = ledger_ddl(path.string());
  EXPECT_NE(ddl.find("CREATE TABLE kappa_ledger"), std::string::npos) << ddl;
  EXPECT_EQ(ddl.find("WITHOUT ROWID"), std::string::npos) << ddl;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

// New databases get the ledger as a WITHOUT ROWID table: its primary key is the table.
TEST(SqliteSink, ANewLedgerIsClusteredByItsPrimaryKey) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("kappa_sink_clustered_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  SqliteSink::open(path.string()).value().reset();
  const std::string ddl = ledger_ddl(path.string());
  EXPECT_NE(ddl.find("WITHOUT ROWID"), std::string::npos) << ddl;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

}  // namespace
}  // namespace kappa
