// The real Sink: MySQL or MariaDB through mysql-connector-c++ (the 1.1 JDBC-like API), opened
// from "mysql://USER:PASS@HOST:PORT/DB" (port 3306 when absent). It behaves as SqliteSink does
// for every Sink call: the same rows read back in the same order, the same error codes.
//
// Tables are created as Spark's JDBC writer creates them on MySQL (sink.h), backtick-quoted:
//   `start` TIMESTAMP NULL, `end` TIMESTAMP NULL, `<dim>` TEXT (BIGINT for integer dimensions),
//   `count` BIGINT NOT NULL, ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
// (utf8mb4 whatever the database's default, so "남성" fits). Every connection sets
// time_zone='+00:00' and a strict sql_mode, so the wall-clock text "YYYY-MM-DD HH:MM:SS" we write
// is what a reader sees, whatever the server's zone (TIMESTAMP's range applies: 1970-01-01
// 00:00:01 to 2038-01-19 03:14:07 as text; outside it a commit fails).
//
// The ledger is the table `kappa_ledger`:
//   query_id VARBINARY(255), batch_id BIGINT, table_name VARBINARY(64), source_end TEXT,
//   row_count BIGINT, PRIMARY KEY (query_id, batch_id)
// (binary, so ids compare byte for byte, as SQLite's do). A batch's rows and its ledger row are
// written in one InnoDB transaction. MySQL commits DDL implicitly, so a batch's table is created
// (CREATE TABLE IF NOT EXISTS) before the transaction begins: a crash can leave an empty table,
// never rows without their ledger row. Update mode deletes the rows with the same (start, end,
// dimension) first (NULL-safe `<=>`, strings compared as bytes); complete mode deletes every row;
// both inside the transaction.
//
// Cut-over is CREATE OR REPLACE VIEW, atomic for readers. The view itself records its target:
// view_target() reads it back from information_schema.VIEWS, so the answer is always what
// readers see (no side table that a crash could leave behind).
//
// Connections: one, opened by open(). A call that finds it lost (server restarted, connection
// killed) reconnects with exponential backoff (50 ms doubling to 1 s, 6 tries) and runs again
// once; if that fails the call returns kUnavailable and the next call tries again. A transaction
// that fails is rolled back, or its connection discarded. A commit whose COMMIT was sent but not
// acknowledged is safe to run again: the ledger then answers kAlreadyCommitted.
//
// Errors: kUnavailable for the server (unreachable, access denied, lost, a statement failing),
// kNotFound for a missing table or database, kFailedPrecondition when a view name is a table,
// kInvalidArgument for bad identifiers or URLs. Messages name the server by describe(); the
// password never appears in them.
//
// Thread safety: one connection, serialized by an internal mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "broker/url.h"
#include "pipeline/engine/faults.h"
#include "pipeline/sinks/sink.h"

namespace kappa {

class MysqlSink final : public Sink {
 public:
  // Connects once (no retry: a server that is not there is reported at once, kUnavailable) and
  // creates the ledger table if it is missing.
  static Result<std::unique_ptr<MysqlSink>> open(std::string_view url, FaultHook* faults = nullptr);
  ~MysqlSink() override;

  std::string describe() const override { return url_.describe(); }
  void set_faults(FaultHook* faults) override {
    std::lock_guard lock(mu_);
    faults_ = faults;
  }
  Result<CommitOutcome> commit_batch(const BatchCommit& commit) override;
  Result<bool> table_exists(const std::string& table) override;
  Result<std::vector<TableRow>> read_table(const std::string& table) override;
  Result<std::optional<LedgerEntry>> last_batch(const std::string& query_id) override;
  Result<std::vector<std::string>> writers(const std::string& table) override;
  Status point_view(const std::string& view, const std::string& table) override;
  Result<std::optional<std::string>> view_target(const std::string& view) override;

  // The CREATE statement the server keeps for a table or view (SHOW CREATE TABLE).
  Result<std::string> table_ddl(const std::string& table);

  // EXPLAIN of one statement, a line per row: "<table> type=<access> key=<index or NULL>".
  Result<std::vector<std::string>> query_plan(const std::string& sql);

  // Runs SQL with no result rows (schema changes, databases, KILL): for callers in this layer
  // and tests. Never build `sql` from values.
  Status exec(const std::string& sql);

  // The server's id of the current connection (CONNECTION_ID()), connecting first if needed.
  Result<int64_t> connection_id();

 private:
  struct Session;  // a connection and its prepared statements

  MysqlSink(Url url, FaultHook* faults);
  Status connect_locked(int attempts);
  // Runs `body` on the session, connecting first if there is none; a lost connection is
  // reconnected and `body` run once more. REQUIRES: mu_ held.
  template <class T, class Body>
  Result<T> run(std::string_view what, Body&& body);

  const Url url_;  // with the password: never printed, only describe()d
  FaultHook* faults_;
  std::mutex mu_;
  std::unique_ptr<Session> session_;  // null while disconnected
};

}  // namespace kappa
