// The embedded Sink: SQLite, a file or ":memory:".
//
// Tables are created as Spark's JDBC writer would create them (sink.h), with double-quoted
// identifiers. The ledger is the table `kappa_ledger`:
//   query_id TEXT, batch_id INTEGER, table_name TEXT, source_end TEXT, row_count INTEGER,
//   PRIMARY KEY (query_id, batch_id), WITHOUT ROWID (the key is the table: one b-tree, not two;
//   a database made before that keeps its rowid ledger, which serves the same)
// and a batch's rows and its ledger row are written in one BEGIN IMMEDIATE transaction. Views made
// by cut-over are recorded in `kappa_views` (view TEXT PRIMARY KEY, target TEXT), changed in the
// same transaction as the view itself. Files use
// WAL with synchronous=FULL: a committed batch is on disk when commit_batch returns, so it
// survives a power loss as well as a crash, and a job's checkpoint, written after it, is never
// ahead of the table (docs/semantics.md, "Exactly once").
//
// Thread safety: one connection, serialized by an internal mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "pipeline/engine/faults.h"
#include "pipeline/sinks/sink.h"

struct sqlite3;

namespace kappa {

class SqliteSink final : public Sink {
 public:
  // path: a file name, or ":memory:".
  static Result<std::unique_ptr<SqliteSink>> open(const std::string& path,
                                                  FaultHook* faults = nullptr);
  ~SqliteSink() override;

  std::string describe() const override { return "sqlite:" + path_; }
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

  // The CREATE statement SQLite keeps for a table or view.
  Result<std::string> table_ddl(const std::string& table);
  // The value of `PRAGMA <name>` on this connection (the durability settings, for tests).
  Result<std::string> pragma(const std::string& name);

  // The lines of EXPLAIN QUERY PLAN for a statement: how SQLite would run it (for tests).
  Result<std::vector<std::string>> query_plan(const std::string& sql);

  // Runs SQL with no result rows (schema changes, views): for callers in this layer and tests.
  Status exec(const std::string& sql);

 private:
  struct Cache;  // prepared statements, per table and for the ledger

  SqliteSink(sqlite3* db, std::string path, FaultHook* faults);
  Status error(const std::string& what) const;
  Status write_rows(const BatchCommit& commit);
  Status exec_locked(const std::string& sql);

  sqlite3* db_;
  std::string path_;
  FaultHook* faults_;
  std::mutex mu_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace kappa
