// A Sink on MongoDB through the MongoDB C driver (libmongoc 1.23), opened from
// "mongodb://[USER[:PASS]@]HOST[:PORT]/DB" (port 27017 when absent). It answers every Sink call
// as SqliteSink does: the same rows read back in the same order, the same error codes. It runs
// on MongoDB itself and on FerretDB (which has neither views nor multi-document transactions),
// so exactly-once comes from idempotent writes, not from a transaction.
//
// A table is a collection of documents, one a row, in Spark's shape (docs/backends.md):
//   {_id: <tag>, start: <BSON date>, end: <BSON date>, <dimension>: <string|int64|null>,
//    count: <int64>}
// `start` and `end` are BSON dates: the UTC instant whose wall clock is the row's text, as
// Spark's MongoDB connector writes TimestampType; read_table formats them back as
// "YYYY-MM-DD HH:MM:SS" in UTC, so the text round-trips whatever the server's zone.
// `_id` tags the row with the batch that wrote it: "<batch>|<length of query id>:<query
// id>|<row index>", so a re-run of a batch overwrites its own documents and nothing else.
//
// The ledger is the collection `kappa_ledger`:
//   {_id: "<batch>|<length>:<query id>", query_id, batch_id: int64, table, source_end, rows}
// A commit (1) looks the batch up in the ledger (there: kAlreadyCommitted or ledger_mismatch),
// (2) deletes documents an earlier crashed attempt of this batch left, (3) upserts the rows,
// (4) inserts the ledger document (the commit point: one document, atomic on every server), then
// (5) finishes the output mode: update deletes the older documents with the same (start, end,
// dimension), complete every document of other batches. Readers (read_table, and so the lab, the
// comparison and the recovery guard) show only documents whose batch is in the ledger, so rows
// of a batch that crashed before (4) are never seen. Step (5) runs again when a re-run finds its
// batch already committed (if it is the query's last), so a crash between (4) and (5) heals on
// restart; until then readers see an updated window twice, or a complete table's old rows too.
// Fault points: sink.before_commit, sink.between_rows_and_ledger (after 3),
// sink.between_ledger_and_finish (after 4), sink.after_commit.
//
// Cut-over: the collection `kappa_views` holds one pointer document a view, {_id: view, table},
// written in one upsert (atomic): view_target and read_table follow it. On a server with views
// (MongoDB) point_view also creates or repoints (collMod) a real view on the table, so other
// tools can read the view by name; FerretDB answers NotImplemented and only the pointer is kept.
//
// Errors: kUnavailable for the server (unreachable, authentication, a command failing),
// kNotFound for a missing table, kFailedPrecondition when a view name is a table or a table name
// a view, kInvalidArgument for bad identifiers, URLs and values (a start that is not a
// timestamp; dimensions named _id, start, end or count). Messages name the server by
// describe(); the password never appears in them.
//
// Thread safety: one client, serialized by an internal mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/url.h"
#include "pipeline/engine/faults.h"
#include "pipeline/sinks/sink.h"

namespace kappa {

class MongoSink final : public Sink {
 public:
  // Connects once (a server that is not there is reported at once, kUnavailable).
  static Result<std::unique_ptr<MongoSink>> open(std::string_view url, FaultHook* faults = nullptr);
  ~MongoSink() override;

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

  // Every document of a collection as canonical extended JSON, in _id order (tests, tools).
  Result<std::vector<std::string>> documents_json(const std::string& collection);
  // Drops the URL's database (tests).
  Status drop_database();

 private:
  struct Client;  // the driver's client and database handles

  MongoSink(Url url, FaultHook* faults);
  Status prepare_table_locked(const TableSpec& t);
  Status finish_locked(const BatchCommit& commit);
  // "collection", "view" (a server view or a pointer in kappa_views) or "" for neither.
  Result<std::string> kind_locked(const std::string& name);
  Result<std::optional<std::string>> pointer_locked(const std::string& view);
  Result<std::optional<LedgerEntry>> last_batch_locked(const std::string& query_id);

  const Url url_;  // with the password: never printed, only describe()d
  FaultHook* faults_;
  std::mutex mu_;
  std::unique_ptr<Client> client_;
};

}  // namespace kappa
