#include "pipeline/sinks/mongo_sink.h"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <set>
#include <variant>

#include "pipeline/time/timestamp.h"

namespace kappa {
namespace {

constexpr int kDefaultPort = 27017;
constexpr int kTimeoutMs = 5000;

// The server's error codes we act on.
constexpr uint32_t kNamespaceNotFound = 26;
constexpr uint32_t kNamespaceExists = 48;
constexpr uint32_t kCommandNotFound = 59;
constexpr uint32_t kCommandNotSupported = 115;
constexpr uint32_t kNotImplemented = 238;
constexpr uint32_t kDuplicateKey = 11000;
// Errors that retrying cannot cure: the request itself is wrong.
bool permanent(uint32_t code) {
  switch (code) {
    case 2:      // BadValue
    case 9:      // FailedToParse
    case 14:     // TypeMismatch
    case 73:     // InvalidNamespace
    case 10334:  // BSONObjectTooLarge
      return true;
    default:
      return false;
  }
}

const char* const kLedger = "kappa_ledger";
const char* const kViews = "kappa_views";

const TimeZone& utc() {
  static const TimeZone zone = TimeZone::utc();
  return zone;
}

// A bson_t on the stack.
struct Bson {
  bson_t b;
  Bson() { bson_init(&b); }
  ~Bson() { bson_destroy(&b); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  bson_t* get() { return &b; }
};

struct CursorCloser {
  void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
};
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorCloser>;
struct CollectionCloser {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionCloser>;
struct BulkCloser {
  void operator()(mongoc_bulk_operation_t* b) const { mongoc_bulk_operation_destroy(b); }
};
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t, BulkCloser>;

void append(bson_t* b, const char* key, std::string_view s) {
  bson_append_utf8(b, key, -1, s.data(), static_cast<int>(s.size()));
}

void append_dim(bson_t* b, const char* key, const DimValue& v) {
  if (std::holds_alternative<std::monostate>(v))
    bson_append_null(b, key, -1);
  else if (const auto* n = std::get_if<int64_t>(&v))
    bson_append_int64(b, key, -1, *n);
  else
    append(b, key, std::string_view(std::get<std::string>(v)));
}

std::optional<std::string> utf8_field(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return std::nullopt;
  uint32_t len = 0;
  const char* s = bson_iter_utf8(&it, &len);
  return std::string(s, len);
}

std::optional<int64_t> int_field(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key)) return std::nullopt;
  if (BSON_ITER_HOLDS_INT64(&it)) return bson_iter_int64(&it);
  if (BSON_ITER_HOLDS_INT32(&it)) return bson_iter_int32(&it);
  return std::nullopt;
}

// A batch's tag: "<batch>|<length>:<query id>". Tags are prefix-free: the batch runs to the first
// '|', the length says where the query id ends.
std::string batch_tag(const std::string& query_id, int64_t batch_id) {
  return std::to_string(batch_id) + "|" + std::to_string(query_id.size()) + ":" + query_id;
}

// Text from the driver or the server, with every URL redacted and the password itself replaced,
// in case a message ever quotes it bare.
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

Status mongo_error(const Url& url, std::string_view what, const bson_error_t& e) {
  std::string msg = url.describe() + ": " + std::string(what) + ": " + scrub(e.message, url);
  const bool server = e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_WRITE_CONCERN;
  if (server) msg += " (MongoDB error " + std::to_string(e.code) + ")";
  if (server && e.code == kNamespaceNotFound) return Status(StatusCode::kNotFound, msg);
  if (server && permanent(e.code)) return Status(StatusCode::kInvalidArgument, msg);
  return Status(StatusCode::kUnavailable, msg);
}

// MongoDB's rules for a database name, checked before any connection.
Status validate_database(std::string_view db) {
  const std::string expected = "expected mongodb://[USER[:PASS]@]HOST[:PORT]/DB";
  if (db.empty()) return Status::invalid_argument(expected + " (a database)");
  if (db.find('?') != std::string_view::npos)
    return Status::invalid_argument("URL options (?...) are not supported; " + expected);
  if (db.size() > 63)
    return Status::invalid_argument("database name is longer than 63 bytes: " + std::string(db));
  for (char c : db) {
    if (c == '\0' || std::string_view("/\\. \"$*<>:|").find(c) != std::string_view::npos) {
      return Status::invalid_argument("database name '" + std::string(db) +
                                      "' holds a character MongoDB refuses (one of /\\. \"$*<>:|)");
    }
  }
  return Status::ok();
}

Status validate_dimension(std::string_view name) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(name, "dimension column"));
  for (std::string_view taken : {"_id", "start", "end", "count"}) {
    if (name == taken) {
      return Status::invalid_argument("dimension column " + std::string(name) +
                                      " is a field every row document has already");
    }
  }
  return Status::ok();
}

}  // namespace

struct MongoSink::Client {
  mongoc_client_t* client = nullptr;
  mongoc_database_t* db = nullptr;
  std::set<std::string, std::less<>> tables;  // collections made ready for writing
  enum class Views { kUnknown, kYes, kNo } views = Views::kUnknown;

  ~Client() {
    if (db) mongoc_database_destroy(db);
    if (client) mongoc_client_destroy(client);
  }
  CollectionPtr collection(const std::string& name) {
    return CollectionPtr(mongoc_database_get_collection(db, name.c_str()));
  }
};

MongoSink::MongoSink(Url url, FaultHook* faults) : url_(std::move(url)), faults_(faults) {}

MongoSink::~MongoSink() = default;

Result<std::unique_ptr<MongoSink>> MongoSink::open(std::string_view url, FaultHook* faults) {
  static const bool initialized = [] {
    mongoc_init();
    // The driver's own log (warnings such as FerretDB lacking endSessions) would go to stderr
    // around the product's output; every failure reaches the caller as a Status instead.
    mongoc_log_set_handler(nullptr, nullptr);
    return true;
  }();
  (void)initialized;
  auto parsed = parse_url(url);
  if (!parsed) return parsed.status();
  KAPPA_RETURN_IF_ERROR(fill_password(*parsed));
  const std::string expected = "expected mongodb://[USER[:PASS]@]HOST[:PORT]/DB";
  if (parsed->scheme != "mongodb") {
    return Status::invalid_argument(expected + ", found '" + parsed->describe() + "'");
  }
  if (parsed->host.empty() || parsed->hosts.find(',') != std::string::npos) {
    return Status::invalid_argument(expected + " (one host), found '" + parsed->describe() + "'");
  }
  if (Status s = validate_database(parsed->path); !s) {
    return Status::invalid_argument(s.message() + ", found '" + parsed->describe() + "'");
  }
  std::unique_ptr<MongoSink> sink(new MongoSink(std::move(*parsed), faults));
  const Url& u = sink->url_;
  const int port = u.port ? u.port : kDefaultPort;
  mongoc_uri_t* uri = mongoc_uri_new_for_host_port(u.host.c_str(), static_cast<uint16_t>(port));
  if (!uri) return Status::invalid_argument("bad host in '" + u.describe() + "'");
  bool ok = mongoc_uri_set_database(uri, u.path.c_str());
  if (!u.user.empty()) {
    ok = ok && mongoc_uri_set_username(uri, u.user.c_str()) &&
         mongoc_uri_set_password(uri, u.password.value_or("").c_str());
  }
  ok = ok && mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, kTimeoutMs) &&
       mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, kTimeoutMs) &&
       mongoc_uri_set_appname(uri, "kappa");
  if (!ok) {
    mongoc_uri_destroy(uri);
    return Status::invalid_argument("user, password or database not usable in '" + u.describe() +
                                    "'");
  }
  bson_error_t error;
  auto client = std::make_unique<Client>();
  client->client = mongoc_client_new_from_uri_with_error(uri, &error);
  mongoc_uri_destroy(uri);
  if (!client->client) return mongo_error(u, "cannot make a client", error);
  mongoc_client_set_error_api(client->client, MONGOC_ERROR_API_VERSION_2);
  client->db = mongoc_client_get_database(client->client, u.path.c_str());
  Bson ping, reply;
  BSON_APPEND_INT32(ping.get(), "ping", 1);
  if (!mongoc_database_command_simple(client->db, ping.get(), nullptr, reply.get(), &error)) {
    return mongo_error(u, "cannot connect (is the server running?)", error);
  }
  sink->client_ = std::move(client);
  return sink;
}

Result<std::string> MongoSink::kind_locked(const std::string& name) {
  Bson opts;
  bson_t filter;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "filter", &filter);
  append(&filter, "name", name);
  bson_append_document_end(opts.get(), &filter);
  CursorPtr cursor(mongoc_database_find_collections_with_opts(client_->db, opts.get()));
  const bson_t* doc = nullptr;
  std::string kind;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    kind = utf8_field(doc, "type").value_or("collection") == "view" ? "view" : "collection";
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error))
    return mongo_error(url_, "listing collections", error);
  if (!kind.empty()) return kind;
  auto pointer = pointer_locked(name);
  if (!pointer) return pointer.status();
  return std::string(pointer->has_value() ? "view" : "");
}

Result<std::optional<std::string>> MongoSink::pointer_locked(const std::string& view) {
  Bson filter;
  append(filter.get(), "_id", view);
  CollectionPtr views = client_->collection(kViews);
  CursorPtr cursor(mongoc_collection_find_with_opts(views.get(), filter.get(), nullptr, nullptr));
  const bson_t* doc = nullptr;
  std::optional<std::string> target;
  while (mongoc_cursor_next(cursor.get(), &doc)) target = utf8_field(doc, "table");
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error))
    return mongo_error(url_, "reading kappa_views", error);
  return target;
}

Status MongoSink::prepare_table_locked(const TableSpec& t) {
  if (client_->tables.count(t.name)) return Status::ok();
  auto kind = kind_locked(t.name);
  if (!kind) return kind.status();
  if (*kind == "view") {
    return Status::failed_precondition(t.name + " is a view in " + describe() +
                                       ", not a table; a query writes to a table");
  }
  bson_error_t error;
  if (kind->empty()) {
    Bson create, reply;
    append(create.get(), "create", t.name);
    if (!mongoc_database_command_simple(client_->db, create.get(), nullptr, reply.get(), &error) &&
        !(error.domain == MONGOC_ERROR_SERVER && error.code == kNamespaceExists)) {
      return mongo_error(url_, "creating collection " + t.name, error);
    }
  }
  // The index that update mode's deletes go through.
  Bson cmd, reply;
  append(cmd.get(), "createIndexes", t.name);
  bson_t indexes, index, key;
  BSON_APPEND_ARRAY_BEGIN(cmd.get(), "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
  BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
  BSON_APPEND_INT32(&key, "start", 1);
  BSON_APPEND_INT32(&key, "end", 1);
  bson_append_int32(&key, t.dimension.c_str(), -1, 1);
  bson_append_document_end(&index, &key);
  append(&index, "name", "kappa_window_" + t.dimension);
  bson_append_document_end(&indexes, &index);
  bson_append_array_end(cmd.get(), &indexes);
  if (!mongoc_database_command_simple(client_->db, cmd.get(), nullptr, reply.get(), &error)) {
    return mongo_error(url_, "indexing collection " + t.name, error);
  }
  client_->tables.insert(t.name);
  return Status::ok();
}

Status MongoSink::finish_locked(const BatchCommit& commit) {
  if (commit.mode == OutputMode::kAppend) return Status::ok();
  const std::string tag = batch_tag(commit.query_id, commit.batch_id);
  CollectionPtr coll = client_->collection(commit.table.name);
  bson_error_t error;
  Bson reply;
  if (commit.mode == OutputMode::kComplete) {
    // Every document outside [tag + "|", tag + "}"): '}' follows '|' in byte order.
    Bson filter;
    bson_t any, below, lt, above, gte;
    BSON_APPEND_ARRAY_BEGIN(filter.get(), "$or", &any);
    BSON_APPEND_DOCUMENT_BEGIN(&any, "0", &below);
    BSON_APPEND_DOCUMENT_BEGIN(&below, "_id", &lt);
    append(&lt, "$lt", tag + "|");
    bson_append_document_end(&below, &lt);
    bson_append_document_end(&any, &below);
    BSON_APPEND_DOCUMENT_BEGIN(&any, "1", &above);
    BSON_APPEND_DOCUMENT_BEGIN(&above, "_id", &gte);
    append(&gte, "$gte", tag + "}");
    bson_append_document_end(&above, &gte);
    bson_append_document_end(&any, &above);
    bson_append_array_end(filter.get(), &any);
    if (!mongoc_collection_delete_many(coll.get(), filter.get(), nullptr, reply.get(), &error))
      return mongo_error(url_, "replacing the rows of " + commit.table.name, error);
    return Status::ok();
  }
  if (commit.rows.empty()) return Status::ok();
  BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(coll.get(), nullptr));
  for (size_t i = 0; i < commit.rows.size(); ++i) {
    const TableRow& r = commit.rows[i];
    // REQUIRES: the rows were written, so their bounds parse.
    Bson filter;
    bson_append_date_time(filter.get(), "start", -1, *parse_timestamp_fast(r.start, utc()));
    bson_append_date_time(filter.get(), "end", -1, *parse_timestamp_fast(r.end, utc()));
    append_dim(filter.get(), commit.table.dimension.c_str(), r.dim);
    bson_t ne;
    BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &ne);
    append(&ne, "$ne", tag + "|" + std::to_string(i));
    bson_append_document_end(filter.get(), &ne);
    if (!mongoc_bulk_operation_remove_many_with_opts(bulk.get(), filter.get(), nullptr, &error))
      return mongo_error(url_, "updating " + commit.table.name, error);
  }
  if (!mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error))
    return mongo_error(url_, "updating " + commit.table.name, error);
  return Status::ok();
}

Result<CommitOutcome> MongoSink::commit_batch(const BatchCommit& commit) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(commit.table.name, "table name"));
  KAPPA_RETURN_IF_ERROR(validate_dimension(commit.table.dimension));
  // Every bound, before anything is written.
  std::vector<std::pair<int64_t, int64_t>> bounds;
  bounds.reserve(commit.rows.size());
  for (const TableRow& r : commit.rows) {
    const auto start = parse_timestamp_fast(r.start, utc());
    const auto end = parse_timestamp_fast(r.end, utc());
    if (!start || !end) {
      return Status::invalid_argument(describe() + ": " + commit.table.name + ": window bound '" +
                                      (start ? r.end : r.start) +
                                      "' is not a timestamp (expected YYYY-MM-DD HH:MM:SS)");
    }
    bounds.emplace_back(*start, *end);
  }
  std::lock_guard lock(mu_);
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.before_commit", commit.query_id));
  const std::string tag = batch_tag(commit.query_id, commit.batch_id);
  CollectionPtr ledger = client_->collection(kLedger);
  bson_error_t error;

  // The ledger answers for batches already in: kAlreadyCommitted (finishing the output mode
  // again if this is the query's last batch, in case a crash interrupted it) or a mismatch.
  auto recorded = [&]() -> Result<std::optional<std::string>> {
    Bson filter;
    append(filter.get(), "_id", tag);
    CursorPtr cursor(
        mongoc_collection_find_with_opts(ledger.get(), filter.get(), nullptr, nullptr));
    const bson_t* doc = nullptr;
    std::optional<std::string> end;
    while (mongoc_cursor_next(cursor.get(), &doc)) end = utf8_field(doc, "source_end").value_or("");
    if (mongoc_cursor_error(cursor.get(), &error))
      return mongo_error(url_, "reading the ledger", error);
    return end;
  };
  auto already = [&](const std::string& end) -> Result<CommitOutcome> {
    if (end != commit.source_end) return ledger_mismatch(commit, end, describe());
    auto last = last_batch_locked(commit.query_id);
    if (!last) return last.status();
    if (*last && (*last)->batch_id == commit.batch_id) KAPPA_RETURN_IF_ERROR(finish_locked(commit));
    return CommitOutcome::kAlreadyCommitted;
  };
  auto seen = recorded();
  if (!seen) return seen.status();
  if (*seen) return already(**seen);

  KAPPA_RETURN_IF_ERROR(prepare_table_locked(commit.table));
  CollectionPtr coll = client_->collection(commit.table.name);
  {  // What an earlier attempt of this batch left: [tag + "|", tag + "}").
    Bson filter, reply;
    bson_t range;
    BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &range);
    append(&range, "$gte", tag + "|");
    append(&range, "$lt", tag + "}");
    bson_append_document_end(filter.get(), &range);
    if (!mongoc_collection_delete_many(coll.get(), filter.get(), nullptr, reply.get(), &error)) {
      client_->tables.erase(commit.table.name);
      return mongo_error(url_, "clearing an earlier attempt in " + commit.table.name, error);
    }
  }
  if (!commit.rows.empty()) {
    BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(coll.get(), nullptr));
    Bson upsert;
    BSON_APPEND_BOOL(upsert.get(), "upsert", true);
    for (size_t i = 0; i < commit.rows.size(); ++i) {
      const TableRow& r = commit.rows[i];
      const std::string id = tag + "|" + std::to_string(i);
      Bson filter, doc;
      append(filter.get(), "_id", id);
      append(doc.get(), "_id", id);
      bson_append_date_time(doc.get(), "start", -1, bounds[i].first);
      bson_append_date_time(doc.get(), "end", -1, bounds[i].second);
      append_dim(doc.get(), commit.table.dimension.c_str(), r.dim);
      bson_append_int64(doc.get(), "count", -1, r.count);
      if (!mongoc_bulk_operation_replace_one_with_opts(bulk.get(), filter.get(), doc.get(),
                                                       upsert.get(), &error)) {
        return mongo_error(url_, "writing " + commit.table.name, error);
      }
    }
    Bson reply;
    if (!mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error)) {
      client_->tables.erase(commit.table.name);
      return mongo_error(url_, "writing " + commit.table.name, error);
    }
  }
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.between_rows_and_ledger", commit.query_id));
  {  // The commit point.
    Bson doc, reply;
    append(doc.get(), "_id", tag);
    append(doc.get(), "query_id", commit.query_id);
    bson_append_int64(doc.get(), "batch_id", -1, commit.batch_id);
    append(doc.get(), "table", commit.table.name);
    append(doc.get(), "source_end", commit.source_end);
    bson_append_int64(doc.get(), "rows", -1, static_cast<int64_t>(commit.rows.size()));
    if (!mongoc_collection_insert_one(ledger.get(), doc.get(), nullptr, reply.get(), &error)) {
      if (error.code != kDuplicateKey) return mongo_error(url_, "writing the ledger", error);
      // Another writer committed the batch first.
      auto other = recorded();
      if (!other) return other.status();
      return already(other->value_or(""));
    }
  }
  // Where a crash leaves a committed batch whose output mode is not finished yet.
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.between_ledger_and_finish", commit.query_id));
  KAPPA_RETURN_IF_ERROR(finish_locked(commit));
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "sink.after_commit", commit.query_id));
  return CommitOutcome::kWritten;
}

Result<bool> MongoSink::table_exists(const std::string& table) {
  std::lock_guard lock(mu_);
  auto kind = kind_locked(table);
  if (!kind) return kind.status();
  return !kind->empty();
}

Result<std::vector<TableRow>> MongoSink::read_table(const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  std::lock_guard lock(mu_);
  auto kind = kind_locked(table);
  if (!kind) return kind.status();
  if (kind->empty())
    return Status::not_found("table " + table + " does not exist in " + describe());
  std::string source = table;
  if (*kind == "view") {
    auto target = pointer_locked(table);
    if (!target) return target.status();
    if (!*target) {
      return Status::failed_precondition("view " + table + " in " + describe() +
                                         " has no entry in kappa_views; kappa made no such view");
    }
    source = **target;
  }
  // The batches the ledger holds for the table: only their documents are rows.
  std::set<std::string, std::less<>> committed;
  {
    Bson filter;
    append(filter.get(), "table", source);
    CollectionPtr ledger = client_->collection(kLedger);
    CursorPtr cursor(
        mongoc_collection_find_with_opts(ledger.get(), filter.get(), nullptr, nullptr));
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor.get(), &doc)) {
      if (auto id = utf8_field(doc, "_id")) committed.insert(*id);
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error))
      return mongo_error(url_, "reading the ledger", error);
  }
  CollectionPtr coll = client_->collection(source);
  Bson filter;
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), nullptr, nullptr));
  const bson_t* doc = nullptr;
  std::vector<TableRow> rows;
  auto bad = [&](const std::string& id, const std::string& what) {
    return Status::failed_precondition("collection " + source + " in " + describe() +
                                       ": document " + id + " " + what +
                                       "; expected {start, end, <dimension>, count}");
  };
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    const std::optional<std::string> id = utf8_field(doc, "_id");
    if (id) {
      const size_t bar = id->rfind('|');
      if (bar != std::string::npos && !committed.count(std::string_view(*id).substr(0, bar)))
        continue;  // a batch that has not committed (yet)
    }
    const std::string shown = id.value_or("(not a string)");
    TableRow r;
    bool have_start = false, have_end = false, have_count = false;
    bson_iter_t it;
    bson_iter_init(&it, doc);
    int dims = 0;
    while (bson_iter_next(&it)) {
      const std::string_view key = bson_iter_key(&it);
      if (key == "_id") continue;
      if (key == "start" || key == "end") {
        if (!BSON_ITER_HOLDS_DATE_TIME(&it))
          return bad(shown, "has a " + std::string(key) + " that is not a date");
        (key == "start" ? r.start : r.end) = format_timestamp(bson_iter_date_time(&it), utc());
        (key == "start" ? have_start : have_end) = true;
      } else if (key == "count") {
        if (BSON_ITER_HOLDS_INT64(&it))
          r.count = bson_iter_int64(&it);
        else if (BSON_ITER_HOLDS_INT32(&it))
          r.count = bson_iter_int32(&it);
        else
          return bad(shown, "has a count that is not an integer");
        have_count = true;
      } else {
        if (++dims > 1) return bad(shown, "has more than one dimension field");
        if (BSON_ITER_HOLDS_NULL(&it)) {
          r.dim = std::monostate{};
        } else if (BSON_ITER_HOLDS_INT64(&it)) {
          r.dim = bson_iter_int64(&it);
        } else if (BSON_ITER_HOLDS_INT32(&it)) {
          r.dim = static_cast<int64_t>(bson_iter_int32(&it));
        } else if (BSON_ITER_HOLDS_UTF8(&it)) {
          uint32_t len = 0;
          const char* s = bson_iter_utf8(&it, &len);
          r.dim = std::string(s, len);
        } else {
          return bad(shown, "has a " + std::string(key) +
                                " that is neither a string, an integer nor null");
        }
      }
    }
    if (!have_start || !have_end || !have_count) return bad(shown, "lacks start, end or count");
    rows.push_back(std::move(r));
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error))
    return mongo_error(url_, "reading " + source, error);
  std::sort(rows.begin(), rows.end());
  return rows;
}

Result<std::optional<LedgerEntry>> MongoSink::last_batch(const std::string& query_id) {
  std::lock_guard lock(mu_);
  return last_batch_locked(query_id);
}

Result<std::optional<LedgerEntry>> MongoSink::last_batch_locked(const std::string& query_id) {
  Bson filter, opts;
  append(filter.get(), "query_id", query_id);
  bson_t sort;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, "batch_id", -1);
  bson_append_document_end(opts.get(), &sort);
  BSON_APPEND_INT64(opts.get(), "limit", 1);
  CollectionPtr ledger = client_->collection(kLedger);
  CursorPtr cursor(
      mongoc_collection_find_with_opts(ledger.get(), filter.get(), opts.get(), nullptr));
  const bson_t* doc = nullptr;
  std::optional<LedgerEntry> out;
  if (mongoc_cursor_next(cursor.get(), &doc)) {
    out = LedgerEntry{
        query_id, int_field(doc, "batch_id").value_or(0), utf8_field(doc, "table").value_or(""),
        utf8_field(doc, "source_end").value_or(""), int_field(doc, "rows").value_or(0)};
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error))
    return mongo_error(url_, "reading the ledger", error);
  return out;
}

Result<std::vector<std::string>> MongoSink::writers(const std::string& table) {
  std::lock_guard lock(mu_);
  Bson filter;
  append(filter.get(), "table", table);
  CollectionPtr ledger = client_->collection(kLedger);
  CursorPtr cursor(mongoc_collection_find_with_opts(ledger.get(), filter.get(), nullptr, nullptr));
  const bson_t* doc = nullptr;
  std::set<std::string> queries;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    if (auto q = utf8_field(doc, "query_id")) queries.insert(*q);
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error))
    return mongo_error(url_, "reading the ledger", error);
  return std::vector<std::string>(queries.begin(), queries.end());
}

Status MongoSink::point_view(const std::string& view, const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(view, "view name"));
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  std::lock_guard lock(mu_);
  auto target_kind = kind_locked(table);
  if (!target_kind) return target_kind.status();
  if (*target_kind != "collection") {
    return Status::not_found("cannot point view " + view + " at " + table + ": no such table in " +
                             describe());
  }
  auto view_kind = kind_locked(view);
  if (!view_kind) return view_kind.status();
  if (*view_kind == "collection") {
    return Status::failed_precondition(view + " is a table in " + describe() +
                                       ", not a view; cut-over needs a view name");
  }
  bson_error_t error;
  if (client_->views != Client::Views::kNo) {
    // A server view too, for other readers. collMod repoints an existing one atomically.
    Bson listed;
    bool exists = false;
    {
      Bson opts;
      bson_t filter;
      BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "filter", &filter);
      append(&filter, "name", view);
      bson_append_document_end(opts.get(), &filter);
      CursorPtr cursor(mongoc_database_find_collections_with_opts(client_->db, opts.get()));
      const bson_t* doc = nullptr;
      while (mongoc_cursor_next(cursor.get(), &doc)) exists = true;
    }
    Bson cmd, reply;
    append(cmd.get(), exists ? "collMod" : "create", view);
    append(cmd.get(), "viewOn", table);
    bson_t pipeline;
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "pipeline", &pipeline);
    bson_append_array_end(cmd.get(), &pipeline);
    if (mongoc_database_command_simple(client_->db, cmd.get(), nullptr, reply.get(), &error)) {
      client_->views = Client::Views::kYes;
    } else if (error.domain == MONGOC_ERROR_SERVER &&
               (error.code == kNotImplemented || error.code == kCommandNotFound ||
                error.code == kCommandNotSupported)) {
      client_->views = Client::Views::kNo;  // FerretDB: the pointer alone
    } else {
      return mongo_error(url_, "pointing view " + view + " at " + table, error);
    }
  }
  Bson filter, doc, opts, reply;
  append(filter.get(), "_id", view);
  append(doc.get(), "_id", view);
  append(doc.get(), "table", table);
  BSON_APPEND_BOOL(opts.get(), "upsert", true);
  CollectionPtr views = client_->collection(kViews);
  if (!mongoc_collection_replace_one(views.get(), filter.get(), doc.get(), opts.get(), reply.get(),
                                     &error)) {
    return mongo_error(url_, "recording view " + view, error);
  }
  return Status::ok();
}

Result<std::optional<std::string>> MongoSink::view_target(const std::string& view) {
  std::lock_guard lock(mu_);
  return pointer_locked(view);
}

Result<std::vector<std::string>> MongoSink::documents_json(const std::string& collection) {
  std::lock_guard lock(mu_);
  Bson filter, opts;
  bson_t sort;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, "_id", 1);
  bson_append_document_end(opts.get(), &sort);
  CollectionPtr coll = client_->collection(collection);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  const bson_t* doc = nullptr;
  std::vector<std::string> out;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    size_t len = 0;
    char* json = bson_as_canonical_extended_json(doc, &len);
    out.emplace_back(json, len);
    bson_free(json);
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error))
    return mongo_error(url_, "reading " + collection, error);
  return out;
}

Status MongoSink::drop_database() {
  std::lock_guard lock(mu_);
  bson_error_t error;
  if (!mongoc_database_drop_with_opts(client_->db, nullptr, &error) &&
      !(error.domain == MONGOC_ERROR_SERVER && error.code == kNamespaceNotFound)) {
    return mongo_error(url_, "dropping the database", error);
  }
  client_->tables.clear();
  return Status::ok();
}

}  // namespace kappa
