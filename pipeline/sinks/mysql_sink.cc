#include "pipeline/sinks/mysql_sink.h"

#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <variant>

namespace kappa {
namespace {

constexpr int kDefaultPort = 3306;
constexpr int kReconnectAttempts = 6;
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

// The server and client error numbers we act on.
constexpr int kErConCount = 1040;
constexpr int kErServerShutdown = 1053;
constexpr int kErBadDb = 1049;
constexpr int kErDupEntry = 1062;
constexpr int kErDupKeyname = 1061;  // an index of that name exists
constexpr int kErNoSuchTable = 1146;
constexpr int kErAbortingConnection = 1152;
constexpr int kErTooManyUserConnections = 1203;
constexpr int kErConnectionKilled = 1927;
constexpr int kCrConnectionError = 2002;
constexpr int kCrConnHostError = 2003;
constexpr int kCrServerGone = 2006;
constexpr int kCrServerLost = 2013;
constexpr int kCrServerLostExtended = 2055;

// The connection is gone: discard it and connect again.
bool connection_lost(int code) {
  switch (code) {
    case kErServerShutdown:
    case kErAbortingConnection:
    case kErConnectionKilled:
    case kCrConnectionError:
    case kCrConnHostError:
    case kCrServerGone:
    case kCrServerLost:
    case kCrServerLostExtended:
      return true;
    default:
      return false;
  }
}

// Connecting failed for a reason that waiting may cure.
bool transient_connect_error(int code) {
  return connection_lost(code) || code == kErConCount || code == kErTooManyUserConnections;
}

using PreparedPtr = std::unique_ptr<sql::PreparedStatement>;
using ResultSetPtr = std::unique_ptr<sql::ResultSet>;

std::string quote(std::string_view identifier) {  // REQUIRES: validated identifier
  return "`" + std::string(identifier) + "`";
}

// Text from the connector or the server, with every URL redacted and the password itself
// replaced, in case a message ever quotes it bare.
std::string scrub(std::string_view text, const Url& url) {
  std::string out = redact(text);
  if (url.password && url.password->size() >= 3) {
    const std::string& p = *url.password;
    for (size_t at = out.find(p); at != std::string::npos; at = out.find(p, at + 3)) {
      out.replace(at, p.size(), "***");
    }
  }
  return out;
}

Status sql_error(const Url& url, std::string_view what, const sql::SQLException& e) {
  std::string msg = url.describe() + ": " + std::string(what) + ": " + scrub(e.what(), url);
  if (e.getErrorCode() != 0) {
    msg += " (MySQL error " + std::to_string(e.getErrorCode()) + ", SQLSTATE " +
           scrub(e.getSQLState(), url) + ")";
  }
  const bool missing = e.getErrorCode() == kErNoSuchTable || e.getErrorCode() == kErBadDb;
  if (missing) return Status(StatusCode::kNotFound, std::move(msg));
  // SQLSTATE class 22 (data exception: a time outside TIMESTAMP's range, a value too long)
  // will fail the same way on every retry: a permanent error, not an outage.
  if (e.getSQLState().rfind("22", 0) == 0)
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  return Status(StatusCode::kUnavailable, std::move(msg));
}

sql::Driver& driver() {
  static sql::Driver* const d = sql::mysql::get_mysql_driver_instance();  // once, thread-safe
  return *d;
}

// A new connection with the session the sink relies on. Throws sql::SQLException.
std::unique_ptr<sql::Connection> connect(const Url& url) {
  const int port = url.port ? url.port : kDefaultPort;
  sql::ConnectOptionsMap options;
  // "tcp://" makes the client use TCP even for "localhost" (not the default unix socket).
  options["hostName"] = sql::SQLString("tcp://" + url.host + ":" + std::to_string(port));
  options["port"] = port;
  options["userName"] = sql::SQLString(url.user);
  options["password"] = sql::SQLString(url.password.value_or(""));
  options["schema"] = sql::SQLString(url.path);
  options["OPT_CONNECT_TIMEOUT"] = 5;
  options["OPT_READ_TIMEOUT"] = 120;  // longer than InnoDB's 50 s lock wait
  options["OPT_WRITE_TIMEOUT"] = 120;
  options["OPT_RECONNECT"] = false;  // a silent reconnect would lose the session and transaction
  options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  std::unique_ptr<sql::Connection> conn(driver().connect(options));
  std::unique_ptr<sql::Statement> st(conn->createStatement());
  // Wall-clock text in, the same text out; strict so a bad value is an error, never a zero.
  st->execute(
      "SET SESSION time_zone = '+00:00', SESSION sql_mode = "
      "'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
      "NO_ENGINE_SUBSTITUTION'");
  return conn;
}

bool integer_type(int type) {
  return type == sql::DataType::BIGINT || type == sql::DataType::INTEGER ||
         type == sql::DataType::MEDIUMINT || type == sql::DataType::SMALLINT ||
         type == sql::DataType::TINYINT;
}

// The table a view made by point_view reads: its definition, as the server keeps it, ends in
// " from `<db>`.`<table>`". Anything else is not a view of ours.
std::optional<std::string> view_source(std::string_view definition, std::string_view db) {
  if (definition.size() < 2 || definition.back() != '`') return std::nullopt;
  const size_t open = definition.rfind('`', definition.size() - 2);
  if (open == std::string_view::npos) return std::nullopt;
  std::string table(definition.substr(open + 1, definition.size() - open - 2));
  if (!validate_identifier(table, "table name")) return std::nullopt;
  std::string escaped_db;
  for (char c : db) {
    escaped_db += c;
    if (c == '`') escaped_db += c;
  }
  const std::string suffix = " from `" + escaped_db + "`." + quote(table);
  if (definition.size() < suffix.size() ||
      definition.substr(definition.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  return table;
}

}  // namespace

struct MysqlSink::Session {
  std::unique_ptr<sql::Connection> conn;  // first: destroyed after the statements
  struct Table {
    PreparedPtr insert;
    PreparedPtr remove;    // update mode: the row with the same key
    PreparedPtr clear;     // complete mode: every row
    bool indexed = false;  // kappa_window on (`start`, `end`) is known to exist
  };
  std::map<std::string, Table, std::less<>> tables;
  PreparedPtr seen, ledger, kind, view, index_query;
  bool broken = false;  // a ROLLBACK failed: the connection's state is unknown

  sql::PreparedStatement& prepare(PreparedPtr& slot, const std::string& sql) {
    if (!slot) slot.reset(conn->prepareStatement(sql));
    return *slot;
  }
  void execute(const std::string& sql) {
    std::unique_ptr<sql::Statement> st(conn->createStatement());
    st->execute(sql);
  }
  void rollback() noexcept {
    try {
      execute("ROLLBACK");
    } catch (...) {
      broken = true;
    }
  }
  // The statements that write `t`, made (with the table, if it is missing) on first use. DDL
  // commits implicitly: call this before the batch's transaction begins.
  Table& table(const TableSpec& t) {
    auto it = tables.find(t.name);
    if (it != tables.end()) return it->second;
    const std::string name = quote(t.name);
    const std::string dim = quote(t.dimension);
    const bool bigint = t.dimension_type == ColumnType::kBigint;
    execute("CREATE TABLE IF NOT EXISTS " + name +
            " (`start` TIMESTAMP NULL, `end` TIMESTAMP NULL, " + dim +
            (bigint ? " BIGINT" : " TEXT") +
            ", `count` BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    Table st;
    st.insert.reset(conn->prepareStatement("INSERT INTO " + name + " (`start`, `end`, " + dim +
                                           ", `count`) VALUES (?, ?, ?, ?)"));
    // Strings compare as bytes, as SQLite's IS does (the column's collation would fold case).
    const std::string dim_match =
        bigint ? dim + " <=> ?" : "CAST(" + dim + " AS BINARY) <=> CAST(? AS BINARY)";
    st.remove.reset(conn->prepareStatement(
        "DELETE FROM " + name + " WHERE `start` <=> ? AND `end` <=> ? AND " + dim_match));
    st.clear.reset(conn->prepareStatement("DELETE FROM " + name));
    return tables.emplace(t.name, std::move(st)).first->second;
  }
  // Update mode deletes the previous row of each key: without an index on the window every such
  // DELETE reads the whole table. (`start`, `end`) narrows it to one window's rows; a TEXT key
  // could only be indexed by a prefix. DDL: call before the batch's transaction, like table().
  void index_windows(const TableSpec& t, Table& st) {
    if (st.indexed) return;
    sql::PreparedStatement& q =
        prepare(index_query,
                "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
                "TABLE_NAME = ? AND INDEX_NAME = 'kappa_window'");
    q.setString(1, t.name);
    ResultSetPtr rs(q.executeQuery());
    if (!rs->next()) {
      try {
        execute("ALTER TABLE " + quote(t.name) + " ADD INDEX kappa_window (`start`, `end`)");
      } catch (const sql::SQLException& e) {
        if (e.getErrorCode() != kErDupKeyname) throw;  // another writer made it first
      }
    }
    st.indexed = true;
  }
  // "BASE TABLE", "VIEW", ... for a name in the current database; empty if there is none.
  std::string kind_of(const std::string& name) {
    sql::PreparedStatement& q = prepare(
        kind,
        "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
        "TABLE_NAME = ? AND CAST(TABLE_NAME AS BINARY) = CAST(? AS BINARY)");
    q.setString(1, name);
    q.setString(2, name);
    ResultSetPtr rs(q.executeQuery());
    return rs->next() ? std::string(rs->getString(1)) : std::string();
  }
};

MysqlSink::MysqlSink(Url url, FaultHook* faults) : url_(std::move(url)), faults_(faults) {}

MysqlSink::~MysqlSink() = default;

Result<std::unique_ptr<MysqlSink>> MysqlSink::open(std::string_view url, FaultHook* faults) {
  auto parsed = parse_url(url);
  if (!parsed) return parsed.status();
  KAPPA_RETURN_IF_ERROR(fill_password(*parsed));
  const std::string expected = "expected mysql://USER:PASS@HOST:PORT/DB";
  if (parsed->scheme != "mysql") {
    return Status::invalid_argument(expected + ", found '" + parsed->describe() + "'");
  }
  if (parsed->user.empty() || parsed->path.empty() ||
      parsed->hosts.find(',') != std::string::npos) {
    return Status::invalid_argument(expected + " (one host, a user and a database), found '" +
                                    parsed->describe() + "'");
  }
  std::unique_ptr<MysqlSink> sink(new MysqlSink(std::move(*parsed), faults));
  {
    std::lock_guard lock(sink->mu_);
    KAPPA_RETURN_IF_ERROR(sink->connect_locked(1));
    auto ledger = sink->run<std::monostate>("creating kappa_ledger", [](Session& s) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS kappa_ledger ("
          "query_id VARBINARY(255) NOT NULL, batch_id BIGINT NOT NULL, "
          "table_name VARBINARY(64) NOT NULL, source_end TEXT NOT NULL, "
          "row_count BIGINT NOT NULL, PRIMARY KEY (query_id, batch_id)) "
          "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
      return Result<std::monostate>(std::monostate{});
    });
    if (!ledger) return ledger.status();
  }
  return sink;
}

Status MysqlSink::connect_locked(int attempts) {
  session_.reset();
  auto delay = kFirstBackoff;
  Status last;
  for (int attempt = 1;; ++attempt) {
    try {
      auto s = std::make_unique<Session>();
      s->conn = connect(url_);
      session_ = std::move(s);
      return Status::ok();
    } catch (const sql::SQLException& e) {
      last = sql_error(url_,
                       attempts == 1 ? std::string("cannot connect")
                                     : "cannot reconnect (attempt " + std::to_string(attempt) +
                                           " of " + std::to_string(attempts) + ")",
                       e);
      if (e.getErrorCode() == kErBadDb) return Status::not_found(last.message());
      if (attempts == 1 &&
          (e.getErrorCode() == kCrConnectionError || e.getErrorCode() == kCrConnHostError)) {
        last = Status::unavailable(last.message() +
                                   " (is the server running? scripts/start-mysql.sh starts one)");
      }
      if (attempt >= attempts || !transient_connect_error(e.getErrorCode())) break;
    } catch (const std::exception& e) {
      last = Status::unavailable(describe() + ": cannot connect: " + scrub(e.what(), url_));
      break;
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, kMaxBackoff);
  }
  return Status::unavailable(last.message());
}

template <class T, class Body>
Result<T> MysqlSink::run(std::string_view what, Body&& body) {
  for (int attempt = 0;; ++attempt) {
    if (!session_) KAPPA_RETURN_IF_ERROR(connect_locked(kReconnectAttempts));
    try {
      Result<T> out = body(*session_);
      if (session_->broken) session_.reset();
      return out;
    } catch (const sql::SQLException& e) {
      Status s = sql_error(url_, what, e);
      bool lost = session_->broken || connection_lost(e.getErrorCode());
      if (!lost) {
        try {
          lost = !session_->conn->isValid();
        } catch (...) {
          lost = true;
        }
      }
      if (!lost) return s;
      session_.reset();
      if (attempt > 0) return Status::unavailable(s.message());
      // Once more on a new connection: whatever the lost one had begun was rolled back.
    } catch (const std::exception& e) {
      session_.reset();
      return Status::unavailable(describe() + ": " + std::string(what) + ": " +
                                 scrub(e.what(), url_));
    }
  }
}

Result<CommitOutcome> MysqlSink::commit_batch(const BatchCommit& commit) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(commit.table.name, "table name"));
  KAPPA_RETURN_IF_ERROR(validate_identifier(commit.table.dimension, "dimension column"));
  std::lock_guard lock(mu_);
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.before_commit", commit.query_id));
  const std::string what = "committing batch " + std::to_string(commit.batch_id) + " of " +
                           commit.query_id + " to " + commit.table.name;
  auto bind_dim = [&](sql::PreparedStatement& st, unsigned i, const DimValue& v) {
    if (std::holds_alternative<std::monostate>(v)) {
      st.setNull(i, commit.table.dimension_type == ColumnType::kBigint ? sql::DataType::BIGINT
                                                                       : sql::DataType::VARCHAR);
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      st.setInt64(i, *n);
    } else {
      st.setString(i, std::get<std::string>(v));
    }
  };
  auto outcome = run<CommitOutcome>(what, [&](Session& s) -> Result<CommitOutcome> {
    Session::Table& st = s.table(commit.table);
    if (commit.mode == OutputMode::kUpdate) s.index_windows(commit.table, st);
    s.execute("START TRANSACTION");
    try {
      sql::PreparedStatement& seen = s.prepare(
          s.seen, "SELECT source_end FROM kappa_ledger WHERE query_id = ? AND batch_id = ?");
      seen.setString(1, commit.query_id);
      seen.setInt64(2, commit.batch_id);
      if (ResultSetPtr found(seen.executeQuery()); found->next()) {
        const std::string recorded = found->getString(1);
        s.rollback();
        if (recorded != commit.source_end) return ledger_mismatch(commit, recorded, describe());
        return CommitOutcome::kAlreadyCommitted;
      }
      if (commit.mode == OutputMode::kComplete) st.clear->executeUpdate();
      for (const TableRow& r : commit.rows) {
        if (commit.mode == OutputMode::kUpdate) {
          st.remove->setString(1, r.start);
          st.remove->setString(2, r.end);
          bind_dim(*st.remove, 3, r.dim);
          st.remove->executeUpdate();
        }
        st.insert->setString(1, r.start);
        st.insert->setString(2, r.end);
        bind_dim(*st.insert, 3, r.dim);
        st.insert->setInt64(4, r.count);
        st.insert->executeUpdate();
      }
      if (Status f = fault_at(faults_, "sink.between_rows_and_ledger", commit.query_id); !f) {
        s.rollback();
        return f;
      }
      sql::PreparedStatement& ledger =
          s.prepare(s.ledger,
                    "INSERT INTO kappa_ledger (query_id, batch_id, table_name, source_end, "
                    "row_count) VALUES (?, ?, ?, ?, ?)");
      ledger.setString(1, commit.query_id);
      ledger.setInt64(2, commit.batch_id);
      ledger.setString(3, commit.table.name);
      ledger.setString(4, commit.source_end);
      ledger.setInt64(5, static_cast<int64_t>(commit.rows.size()));
      try {
        ledger.executeUpdate();
      } catch (const sql::SQLException& e) {
        if (e.getErrorCode() != kErDupEntry) throw;
        s.rollback();  // another writer committed this batch while we wrote it
        return CommitOutcome::kAlreadyCommitted;
      }
      s.execute("COMMIT");
    } catch (...) {
      s.rollback();
      s.tables.erase(commit.table.name);  // the table may have changed under us
      throw;
    }
    return CommitOutcome::kWritten;
  });
  if (!outcome) return outcome;
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.after_commit", commit.query_id));
  return outcome;
}

Result<bool> MysqlSink::table_exists(const std::string& table) {
  std::lock_guard lock(mu_);
  return run<bool>("reading the schema",
                   [&](Session& s) -> Result<bool> { return !s.kind_of(table).empty(); });
}

Result<std::string> MysqlSink::table_ddl(const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  std::lock_guard lock(mu_);
  return run<std::string>("reading the schema of " + table, [&](Session& s) -> Result<std::string> {
    if (s.kind_of(table).empty()) {
      return Status::not_found("table " + table + " does not exist in " + describe());
    }
    std::unique_ptr<sql::Statement> st(s.conn->createStatement());
    ResultSetPtr rs(st->executeQuery("SHOW CREATE TABLE " + quote(table)));
    if (!rs->next()) {
      return Status::not_found("table " + table + " does not exist in " + describe());
    }
    return std::string(rs->getString(2));
  });
}

Result<std::vector<TableRow>> MysqlSink::read_table(const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  std::lock_guard lock(mu_);
  return run<std::vector<TableRow>>(
      "reading " + table, [&](Session& s) -> Result<std::vector<TableRow>> {
        if (s.kind_of(table).empty()) {
          return Status::not_found("table " + table + " does not exist in " + describe());
        }
        // The dimension is the third column, whatever its name. The text protocol hands
        // TIMESTAMPs over as the server formats them: "YYYY-MM-DD HH:MM:SS" in the session zone.
        std::unique_ptr<sql::Statement> st(s.conn->createStatement());
        ResultSetPtr rs(st->executeQuery("SELECT * FROM " + quote(table)));
        sql::ResultSetMetaData* meta = rs->getMetaData();  // owned by rs
        if (meta->getColumnCount() != 4) {
          return Status::failed_precondition("table " + table + " has " +
                                             std::to_string(meta->getColumnCount()) +
                                             " columns; expected start, end, <dimension>, count");
        }
        const bool integer_dim = integer_type(meta->getColumnType(3));
        std::vector<TableRow> rows;
        while (rs->next()) {
          TableRow r;
          r.start = rs->getString(1);
          r.end = rs->getString(2);
          if (rs->isNull(3)) {
            r.dim = std::monostate{};
          } else if (integer_dim) {
            r.dim = static_cast<int64_t>(rs->getInt64(3));
          } else {
            r.dim = std::string(rs->getString(3));
          }
          r.count = rs->getInt64(4);
          rows.push_back(std::move(r));
        }
        std::sort(rows.begin(), rows.end());
        return rows;
      });
}

Result<std::optional<LedgerEntry>> MysqlSink::last_batch(const std::string& query_id) {
  std::lock_guard lock(mu_);
  return run<std::optional<LedgerEntry>>(
      "reading the ledger", [&](Session& s) -> Result<std::optional<LedgerEntry>> {
        std::unique_ptr<sql::PreparedStatement> q(s.conn->prepareStatement(
            "SELECT batch_id, table_name, source_end, row_count FROM kappa_ledger WHERE "
            "query_id = ? ORDER BY batch_id DESC LIMIT 1"));
        q->setString(1, query_id);
        ResultSetPtr rs(q->executeQuery());
        if (!rs->next()) return std::optional<LedgerEntry>{};
        return std::optional<LedgerEntry>(LedgerEntry{query_id, rs->getInt64(1), rs->getString(2),
                                                      rs->getString(3), rs->getInt64(4)});
      });
}

Result<std::vector<std::string>> MysqlSink::writers(const std::string& table) {
  std::lock_guard lock(mu_);
  return run<std::vector<std::string>>(
      "reading the ledger", [&](Session& s) -> Result<std::vector<std::string>> {
        std::unique_ptr<sql::PreparedStatement> q(s.conn->prepareStatement(
            "SELECT DISTINCT query_id FROM kappa_ledger WHERE table_name = ?"));
        q->setString(1, table);
        ResultSetPtr rs(q->executeQuery());
        std::vector<std::string> out;
        while (rs->next()) out.push_back(rs->getString(1));
        std::sort(out.begin(), out.end());  // byte order, as SQLite's ORDER BY
        return out;
      });
}

Status MysqlSink::point_view(const std::string& view, const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(view, "view name"));
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  std::lock_guard lock(mu_);
  return run<std::monostate>(
             "pointing view " + view + " at " + table,
             [&](Session& s) -> Result<std::monostate> {
               if (s.kind_of(table) != "BASE TABLE") {
                 return Status::not_found("cannot point view " + view + " at " + table +
                                          ": no such table in " + describe());
               }
               if (const std::string kind = s.kind_of(view); !kind.empty() && kind != "VIEW") {
                 return Status::failed_precondition(view + " is a table in " + describe() +
                                                    ", not a view; cut-over needs a view name");
               }
               // One statement, atomic for readers: they see the old table or the new one.
               s.execute("CREATE OR REPLACE VIEW " + quote(view) + " AS SELECT * FROM " +
                         quote(table));
               return std::monostate{};
             })
      .status();
}

Result<std::optional<std::string>> MysqlSink::view_target(const std::string& view) {
  std::lock_guard lock(mu_);
  return run<std::optional<std::string>>(
      "reading view " + view, [&](Session& s) -> Result<std::optional<std::string>> {
        sql::PreparedStatement& q =
            s.prepare(s.view,
                      "SELECT VIEW_DEFINITION, DATABASE() FROM information_schema.VIEWS WHERE "
                      "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND "
                      "CAST(TABLE_NAME AS BINARY) = CAST(? AS BINARY)");
        q.setString(1, view);
        q.setString(2, view);
        ResultSetPtr rs(q.executeQuery());
        if (!rs->next()) return std::optional<std::string>{};
        return view_source(std::string(rs->getString(1)), std::string(rs->getString(2)));
      });
}

Status MysqlSink::exec(const std::string& sql) {
  std::lock_guard lock(mu_);
  return run<std::monostate>("running SQL",
                             [&](Session& s) -> Result<std::monostate> {
                               s.tables.clear();  // the schema may change under us
                               s.execute(sql);
                               return std::monostate{};
                             })
      .status();
}

Result<std::vector<std::string>> MysqlSink::query_plan(const std::string& sql) {
  std::lock_guard lock(mu_);
  return run<std::vector<std::string>>(
      "explaining a statement", [&](Session& s) -> Result<std::vector<std::string>> {
        std::unique_ptr<sql::Statement> st(s.conn->createStatement());
        ResultSetPtr rs(st->executeQuery("EXPLAIN " + sql));
        std::vector<std::string> lines;
        while (rs->next()) {
          auto field = [&](const char* column) -> std::string {
            return rs->isNull(column) ? "NULL" : std::string(rs->getString(column));
          };
          lines.push_back(field("table") + " type=" + field("type") + " key=" + field("key"));
        }
        return lines;
      });
}

Result<int64_t> MysqlSink::connection_id() {
  std::lock_guard lock(mu_);
  return run<int64_t>("reading the connection id", [&](Session& s) -> Result<int64_t> {
    std::unique_ptr<sql::Statement> st(s.conn->createStatement());
    ResultSetPtr rs(st->executeQuery("SELECT CONNECTION_ID()"));
    if (!rs->next()) return Status::internal("SELECT CONNECTION_ID() returned no row");
    return static_cast<int64_t>(rs->getInt64(1));
  });
}

}  // namespace kappa
