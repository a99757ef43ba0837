// The Sink seam: where aggregate tables are written, one micro-batch at a time, exactly once.
//
// Tables have Spark's JDBC shape (DESIGN.md §3.8): `start`, `end` (session-zone wall-clock
// timestamps, written as text "YYYY-MM-DD HH:MM:SS"), the dimension (TEXT for string fields,
// BIGINT for integer fields, as Spark maps StringType and LongType), and `count` BIGINT NOT NULL.
//
// Readers read through a view (`events_users`) that cut-over repoints from one table to another
// (v1 to v2, and back) atomically.
//
// Every commit carries (query id, batch id, source end offsets). The sink writes the rows and a
// ledger row in one transaction; if the ledger already holds (query id, batch id) with the same
// source end offsets, the batch is skipped and nothing is written. That is what makes a batch
// re-run after a crash harmless. A ledger row with other offsets means the query's checkpoint
// and the sink disagree (a checkpoint lost, rolled back or of another run): skipping would lose
// the batch's rows and writing would double earlier ones, so the commit fails with
// ledger_mismatch() and the query stops.
//
// Output modes (DESIGN.md §3.5-3.6): append inserts the rows; update replaces the rows with the
// same (start, end, dimension) and inserts the rest; complete replaces the whole table.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "broker/result.h"
#include "pipeline/engine/faults.h"

namespace kappa {

enum class OutputMode { kAppend, kUpdate, kComplete };
std::string_view to_string(OutputMode mode);

enum class ColumnType { kText, kBigint };

// A dimension value: SQL NULL, an integer or a string.
using DimValue = std::variant<std::monostate, int64_t, std::string>;
std::string to_display(const DimValue& v);  // NULL, 42, or the string as is

struct TableRow {
  std::string start;
  std::string end;
  DimValue dim;
  int64_t count = 0;
  friend bool operator==(const TableRow&, const TableRow&) = default;
  friend auto operator<=>(const TableRow&, const TableRow&) = default;
};

struct TableSpec {
  std::string name;       // validated identifier
  std::string dimension;  // validated identifier
  ColumnType dimension_type = ColumnType::kText;
};

struct BatchCommit {
  std::string query_id;
  int64_t batch_id = 0;
  TableSpec table;
  OutputMode mode = OutputMode::kAppend;
  std::span<const TableRow> rows;
  std::string source_start;  // the batch's source start offsets (for messages; not stored)
  std::string source_end;    // the batch's source end offsets, "events_stages/0:120,..."
};

enum class CommitOutcome { kWritten, kAlreadyCommitted };

struct LedgerEntry {
  std::string query_id;
  int64_t batch_id = 0;
  std::string table;
  std::string source_end;
  int64_t rows = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Where faults are injected (tests, scenarios); nullptr for none.
  virtual void set_faults(FaultHook* faults) = 0;
  // Password-free description: "sqlite::memory:", "mysql://scott@127.0.0.1:3306/default".
  virtual std::string describe() const = 0;
  virtual Result<CommitOutcome> commit_batch(const BatchCommit& commit) = 0;
  virtual Result<bool> table_exists(const std::string& table) = 0;
  // Every row, sorted by (start, end, dimension, count). kNotFound if the table is missing.
  virtual Result<std::vector<TableRow>> read_table(const std::string& table) = 0;
  // The ledger entry of the query's highest committed batch, if any.
  virtual Result<std::optional<LedgerEntry>> last_batch(const std::string& query_id) = 0;
  // The queries whose batches the ledger records for `table`.
  virtual Result<std::vector<std::string>> writers(const std::string& table) = 0;

  // Cut-over: creates or repoints the view `view` to read `table`, in one transaction, so a
  // reader sees the old table or the new one, never neither. kNotFound if the table is missing,
  // kFailedPrecondition if `view` names a table.
  virtual Status point_view(const std::string& view, const std::string& table) = 0;
  // The table a view reads, or nullopt if there is no such view.
  virtual Result<std::optional<std::string>> view_target(const std::string& view) = 0;
};

// kFailedPrecondition for a batch whose ledger row in `sink` records `recorded_end` as its
// source end offsets, which are not the commit's: names the query, the batch and both ranges.
Status ledger_mismatch(const BatchCommit& commit, std::string_view recorded_end,
                       std::string_view sink);

// SQL identifiers we create or read: [A-Za-z_][A-Za-z0-9_]*, at most 64 characters (MySQL's
// limit). Everything else is refused, never quoted around. Names a sink keeps for itself are
// refused too, in any letter case: sqlite_* (SQLite's own tables) and kappa_* (the sinks'
// kappa_ledger and kappa_views), on every sink, so a scenario means the same on each. The one
// rule for table, view and column names: the lab, scenario files, the command line and the
// sinks all call it. (NamespacedSink's run prefixes, "k" + hex digits + "_", never start so.)
Status validate_identifier(std::string_view name, std::string_view what);

}  // namespace kappa
