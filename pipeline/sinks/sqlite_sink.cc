#include "pipeline/sinks/sqlite_sink.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <map>

namespace kappa {
namespace {

// Owns a prepared statement.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }
  // The text is not copied: it must live until reset(), which every caller runs after step().
  void bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, const DimValue& v) {
    if (std::holds_alternative<std::monostate>(v))
      sqlite3_bind_null(stmt_, i);
    else if (const auto* n = std::get_if<int64_t>(&v))
      bind(i, *n);
    else
      bind(i, std::string_view(std::get<std::string>(v)));
  }
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

std::string quote(std::string_view identifier) {  // REQUIRES: validated identifier
  return "\"" + std::string(identifier) + "\"";
}

// SQLite's memory statistics take a global mutex on every allocation; nothing here reads them.
// This must run before SQLite initialises; if something else initialised it first, the call is
// refused and the statistics stay on, which is only slower.
void configure_sqlite_once() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

// Rows are inserted up to this many to a statement: one statement's overhead for many rows.
constexpr size_t kRowsPerInsert = 16;

struct SqliteSink::Cache {
  struct Table {
    std::string insert_head;  // INSERT INTO t (...) VALUES
    // By row count; one row made with the table, the others when first needed.
    std::array<std::unique_ptr<Statement>, kRowsPerInsert + 1> inserts;
    std::unique_ptr<Statement> remove;  // update mode: the row with the same key
    std::unique_ptr<Statement> clear;   // complete mode: every row
    bool indexed = false;               // the index update mode's deletes search
  };
  std::unique_ptr<Statement> begin, commit, rollback, seen, ledger;
  std::map<std::string, Table, std::less<>> tables;
};

Result<std::unique_ptr<SqliteSink>> SqliteSink::open(const std::string& path, FaultHook* faults) {
  configure_sqlite_once();
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open SQLite database " + path + ": " +
                      (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return Status::unavailable(msg);
  }
  std::unique_ptr<SqliteSink> sink(new SqliteSink(db, path, faults));
  sqlite3_busy_timeout(db, 5000);
  if (path != ":memory:") {
    KAPPA_RETURN_IF_ERROR(sink->exec("PRAGMA journal_mode=WAL"));
    // FULL: the WAL is synced at every commit, before the job's checkpoint says the batch is done.
    KAPPA_RETURN_IF_ERROR(sink->exec("PRAGMA synchronous=FULL"));
  }
  KAPPA_RETURN_IF_ERROR(sink->exec(
      "CREATE TABLE IF NOT EXISTS kappa_ledger (query_id TEXT NOT NULL, batch_id INTEGER NOT NULL, "
      "table_name TEXT NOT NULL, source_end TEXT NOT NULL, row_count INTEGER NOT NULL, "
      "PRIMARY KEY (query_id, batch_id)) WITHOUT ROWID"));
  KAPPA_RETURN_IF_ERROR(sink->exec(
      "CREATE TABLE IF NOT EXISTS kappa_views (view TEXT PRIMARY KEY, target TEXT NOT NULL)"));
  return sink;
}

SqliteSink::SqliteSink(sqlite3* db, std::string path, FaultHook* faults)
    : db_(db), path_(std::move(path)), faults_(faults), cache_(std::make_unique<Cache>()) {}

SqliteSink::~SqliteSink() {
  cache_.reset();  // statements before the connection
  sqlite3_close(db_);
}

Status SqliteSink::error(const std::string& what) const {
  return Status::unavailable(describe() + ": " + what + ": " + sqlite3_errmsg(db_));
}

Status SqliteSink::exec(const std::string& sql) {
  std::lock_guard lock(mu_);
  return exec_locked(sql);
}

Status SqliteSink::exec_locked(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "unknown error";
    sqlite3_free(msg);
    cache_->tables.clear();  // the schema may have changed under us
    return Status::unavailable(describe() + ": " + m);
  }
  return Status::ok();
}

Status SqliteSink::write_rows(const BatchCommit& commit) {
  const TableSpec& t = commit.table;
  auto it = cache_->tables.find(t.name);
  if (it == cache_->tables.end()) {
    const std::string table = quote(t.name);
    const std::string dim = quote(t.dimension);
    const std::string dim_type = t.dimension_type == ColumnType::kBigint ? "BIGINT" : "TEXT";
    KAPPA_RETURN_IF_ERROR(exec_locked("CREATE TABLE IF NOT EXISTS " + table +
                                      " (\"start\" TIMESTAMP, \"end\" TIMESTAMP, " + dim + " " +
                                      dim_type + ", \"count\" BIGINT NOT NULL)"));
    Cache::Table statements;
    statements.insert_head =
        "INSERT INTO " + table + " (\"start\", \"end\", " + dim + ", \"count\") VALUES ";
    statements.inserts[1] =
        std::make_unique<Statement>(db_, statements.insert_head + "(?, ?, ?, ?)");
    statements.remove = std::make_unique<Statement>(
        db_, "DELETE FROM " + table + " WHERE \"start\" = ? AND \"end\" = ? AND " + dim + " IS ?");
    statements.clear = std::make_unique<Statement>(db_, "DELETE FROM " + table);
    if (!statements.inserts[1]->ok() || !statements.remove->ok() || !statements.clear->ok()) {
      return error("preparing statements for " + t.name);
    }
    it = cache_->tables.emplace(t.name, std::move(statements)).first;
  }
  Cache::Table& st = it->second;
  auto fail = [&](const std::string& what) {
    Status s = error(what + " " + t.name);
    cache_->tables.erase(t.name);
    return s;
  };
  if (commit.mode == OutputMode::kUpdate && !st.indexed) {
    // In the batch's transaction, like the table. Only update mode gets one: append mode's
    // inserts need none.
    KAPPA_RETURN_IF_ERROR(exec_locked("CREATE INDEX IF NOT EXISTS " +
                                      quote("kappa_window_" + t.name) + " ON " + quote(t.name) +
                                      " (\"start\", \"end\", " + quote(t.dimension) + ")"));
    st.indexed = true;  // a rollback clears the cache, so a rolled-back index is made again
  }
  if (commit.mode == OutputMode::kComplete) {
    const int rc = st.clear->step();
    st.clear->reset();
    if (rc != SQLITE_DONE) return fail("clearing");
  }
  if (commit.mode == OutputMode::kUpdate) {
    for (const TableRow& r : commit.rows) {
      st.remove->bind(1, std::string_view(r.start));
      st.remove->bind(2, std::string_view(r.end));
      st.remove->bind(3, r.dim);
      const int rc = st.remove->step();
      st.remove->reset();
      if (rc != SQLITE_DONE) return fail("updating");
      Statement& insert = *st.inserts[1];
      insert.bind(1, std::string_view(r.start));
      insert.bind(2, std::string_view(r.end));
      insert.bind(3, r.dim);
      insert.bind(4, r.count);
      const int rc2 = insert.step();
      insert.reset();
      if (rc2 != SQLITE_DONE) return fail("inserting into");
    }
    return Status::ok();
  }
  // Append and complete mode: the rows in order, up to kRowsPerInsert to a statement (a
  // multi-row VALUES inserts in its order, so rowids follow the rows as one at a time would).
  for (size_t at = 0; at < commit.rows.size();) {
    const size_t n = std::min(kRowsPerInsert, commit.rows.size() - at);
    std::unique_ptr<Statement>& insert = st.inserts[n];
    if (!insert) {
      std::string sql = st.insert_head;
      for (size_t i = 0; i < n; ++i) sql += i ? ", (?, ?, ?, ?)" : "(?, ?, ?, ?)";
      insert = std::make_unique<Statement>(db_, sql);
      if (!insert->ok()) return fail("preparing an insert into");
    }
    for (size_t i = 0; i < n; ++i) {
      const TableRow& r = commit.rows[at + i];
      const int p = static_cast<int>(4 * i);
      insert->bind(p + 1, std::string_view(r.start));
      insert->bind(p + 2, std::string_view(r.end));
      insert->bind(p + 3, r.dim);
      insert->bind(p + 4, r.count);
    }
    const int rc = insert->step();
    insert->reset();
    if (rc != SQLITE_DONE) return fail("inserting into");
    at += n;
  }
  return Status::ok();
}

Result<CommitOutcome> SqliteSink::commit_batch(const BatchCommit& commit) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(commit.table.name, "table name"));
  KAPPA_RETURN_IF_ERROR(validate_identifier(commit.table.dimension, "dimension column"));
  std::lock_guard lock(mu_);
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.before_commit", commit.query_id));
  Cache& c = *cache_;
  if (!c.begin) {
    c.begin = std::make_unique<Statement>(db_, "BEGIN IMMEDIATE");
    c.commit = std::make_unique<Statement>(db_, "COMMIT");
    c.rollback = std::make_unique<Statement>(db_, "ROLLBACK");
    c.seen = std::make_unique<Statement>(
        db_, "SELECT source_end FROM kappa_ledger WHERE query_id = ? AND batch_id = ?");
    c.ledger =
        std::make_unique<Statement>(db_,
                                    "INSERT INTO kappa_ledger (query_id, batch_id, table_name, "
                                    "source_end, row_count) VALUES (?, ?, ?, ?, ?)");
    if (!c.begin->ok() || !c.commit->ok() || !c.rollback->ok() || !c.seen->ok() ||
        !c.ledger->ok()) {
      Status s = error("preparing the ledger statements");
      c.begin.reset();
      return s;
    }
  }
  auto run = [](Statement& st) {
    const int rc = st.step();
    st.reset();
    return rc;
  };
  if (run(*c.begin) != SQLITE_DONE) return error("beginning a transaction");
  auto rollback = [&](Status s) {
    run(*c.rollback);
    c.tables.clear();  // a table created in this transaction is gone again
    return s;
  };
  // The ledger row first: its primary key (query_id, batch_id) refuses a batch committed
  // before, which is then read back; one statement for the common case, not a lookup and an
  // insert. The rows follow in the same transaction, so either order commits the same.
  c.ledger->bind(1, std::string_view(commit.query_id));
  c.ledger->bind(2, commit.batch_id);
  c.ledger->bind(3, std::string_view(commit.table.name));
  c.ledger->bind(4, std::string_view(commit.source_end));
  c.ledger->bind(5, static_cast<int64_t>(commit.rows.size()));
  const int written = c.ledger->step();
  const int written_why = sqlite3_extended_errcode(db_);
  c.ledger->reset();
  if (written == SQLITE_CONSTRAINT && written_why == SQLITE_CONSTRAINT_PRIMARYKEY) {
    c.seen->bind(1, std::string_view(commit.query_id));
    c.seen->bind(2, commit.batch_id);
    const int seen = c.seen->step();
    const std::string recorded = seen == SQLITE_ROW ? c.seen->text(0) : std::string();
    c.seen->reset();
    if (seen != SQLITE_ROW) return rollback(error("reading the ledger"));
    run(*c.rollback);
    if (recorded != commit.source_end) return ledger_mismatch(commit, recorded, describe());
    return CommitOutcome::kAlreadyCommitted;
  }
  if (written != SQLITE_DONE) return rollback(error("writing the ledger"));
  if (Status s = write_rows(commit); !s) return rollback(s);
  // The fault point of a failure with the rows written (here, after the ledger row too).
  if (Status s = fault_at(faults_, "sink.between_rows_and_ledger", commit.query_id); !s)
    return rollback(s);
  if (run(*c.commit) != SQLITE_DONE) return rollback(error("committing"));
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.after_commit", commit.query_id));
  return CommitOutcome::kWritten;
}

Result<bool> SqliteSink::table_exists(const std::string& table) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?");
  if (!q.ok()) return error("reading the schema");
  q.bind(1, std::string_view(table));
  return q.step() == SQLITE_ROW;
}

Result<std::string> SqliteSink::table_ddl(const std::string& table) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT sql FROM sqlite_master WHERE name = ?");
  if (!q.ok()) return error("reading the schema");
  q.bind(1, std::string_view(table));
  if (q.step() != SQLITE_ROW)
    return Status::not_found("table " + table + " does not exist in " + describe());
  return q.text(0);
}

Result<std::string> SqliteSink::pragma(const std::string& name) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(name, "pragma name"));
  std::lock_guard lock(mu_);
  Statement q(db_, "PRAGMA " + name);
  if (!q.ok()) return error("reading PRAGMA " + name);
  if (q.step() != SQLITE_ROW) return Status::not_found("PRAGMA " + name + " has no value");
  return q.text(0);
}

Result<std::vector<std::string>> SqliteSink::query_plan(const std::string& sql) {
  std::lock_guard lock(mu_);
  Statement q(db_, "EXPLAIN QUERY PLAN " + sql);
  if (!q.ok()) return error("planning " + sql);
  std::vector<std::string> lines;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) lines.push_back(q.text(3));  // the detail column
  if (rc != SQLITE_DONE) return error("planning " + sql);
  return lines;
}

Result<std::vector<TableRow>> SqliteSink::read_table(const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  auto exists = table_exists(table);
  if (!exists) return exists.status();
  if (!*exists) return Status::not_found("table " + table + " does not exist in " + describe());
  std::lock_guard lock(mu_);
  // The dimension is the third column, whatever its name.
  Statement q(db_, "SELECT * FROM " + quote(table));
  if (!q.ok()) return error("reading " + table);
  if (sqlite3_column_count(q.get()) != 4) {
    return Status::failed_precondition("table " + table + " has " +
                                       std::to_string(sqlite3_column_count(q.get())) +
                                       " columns; expected start, end, <dimension>, count");
  }
  std::vector<TableRow> rows;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    TableRow r;
    r.start = q.text(0);
    r.end = q.text(1);
    switch (sqlite3_column_type(q.get(), 2)) {
      case SQLITE_NULL:
        r.dim = std::monostate{};
        break;
      case SQLITE_INTEGER:
        r.dim = static_cast<int64_t>(sqlite3_column_int64(q.get(), 2));
        break;
      default:
        r.dim = q.text(2);
    }
    r.count = sqlite3_column_int64(q.get(), 3);
    rows.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return error("reading " + table);
  std::sort(rows.begin(), rows.end());
  return rows;
}

Result<std::optional<LedgerEntry>> SqliteSink::last_batch(const std::string& query_id) {
  std::lock_guard lock(mu_);
  Statement q(db_,
              "SELECT batch_id, table_name, source_end, row_count FROM kappa_ledger WHERE query_id "
              "= ? ORDER BY batch_id DESC LIMIT 1");
  if (!q.ok()) return error("reading the ledger");
  q.bind(1, std::string_view(query_id));
  if (q.step() != SQLITE_ROW) return std::optional<LedgerEntry>{};
  return std::optional<LedgerEntry>(LedgerEntry{query_id, sqlite3_column_int64(q.get(), 0),
                                                q.text(1), q.text(2),
                                                sqlite3_column_int64(q.get(), 3)});
}

Result<std::vector<std::string>> SqliteSink::writers(const std::string& table) {
  std::lock_guard lock(mu_);
  Statement q(db_,
              "SELECT DISTINCT query_id FROM kappa_ledger WHERE table_name = ? ORDER BY query_id");
  if (!q.ok()) return error("reading the ledger");
  q.bind(1, std::string_view(table));
  std::vector<std::string> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.text(0));
  if (rc != SQLITE_DONE) return error("reading the ledger");
  return out;
}

Status SqliteSink::point_view(const std::string& view, const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(view, "view name"));
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  std::lock_guard lock(mu_);
  auto kind = [&](const std::string& name) -> std::string {
    Statement q(db_, "SELECT type FROM sqlite_master WHERE name = ?");
    q.bind(1, std::string_view(name));
    return q.step() == SQLITE_ROW ? q.text(0) : std::string();
  };
  if (kind(table) != "table") {
    return Status::not_found("cannot point view " + view + " at " + table + ": no such table in " +
                             describe());
  }
  if (kind(view) == "table") {
    return Status::failed_precondition(view + " is a table in " + describe() +
                                       ", not a view; cut-over needs a view name");
  }
  KAPPA_RETURN_IF_ERROR(exec_locked("BEGIN IMMEDIATE"));
  Status s = exec_locked("DROP VIEW IF EXISTS " + quote(view));
  if (s) s = exec_locked("CREATE VIEW " + quote(view) + " AS SELECT * FROM " + quote(table));
  if (s) {
    Statement record(db_, "INSERT OR REPLACE INTO kappa_views (view, target) VALUES (?, ?)");
    record.bind(1, std::string_view(view));
    record.bind(2, std::string_view(table));
    if (!record.ok() || record.step() != SQLITE_DONE) s = error("recording view " + view);
  }
  if (s) s = exec_locked("COMMIT");
  if (!s) {
    (void)exec_locked("ROLLBACK");
    return s;
  }
  return Status::ok();
}

Result<std::optional<std::string>> SqliteSink::view_target(const std::string& view) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT target FROM kappa_views WHERE view = ?");
  if (!q.ok()) return error("reading the views");
  q.bind(1, std::string_view(view));
  if (q.step() != SQLITE_ROW) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

}  // namespace kappa
