#include "replay/backends/backends.h"

#include "broker/client/kafka_log.h"
#include "broker/embedded/embedded_broker.h"
#include "broker/url.h"
#include "pipeline/sinks/mongo_sink.h"
#include "pipeline/sinks/mysql_sink.h"
#include "pipeline/sinks/sqlite_sink.h"
#include "replay/backends/namespaced.h"

namespace kappa {
namespace {

bool is_memory_sqlite(const std::string& sink) {
  return sink == "sqlite::memory:" || sink == ":memory:";
}

constexpr const char* kSinkForms =
    "sqlite::memory:, sqlite:PATH, mysql://USER:PASS@HOST:PORT/DB or "
    "mongodb://[USER:PASS@]HOST:PORT/DB";

}  // namespace

Status validate(const BackendUrls& urls) {
  if (urls.broker != "embedded") {
    if (urls.broker.rfind("kafka://", 0) != 0) {
      return Status::invalid_argument("--broker: expected embedded or kafka://HOST:PORT, found '" +
                                      redact(urls.broker) + "'");
    }
    if (auto k = KafkaLog::open(urls.broker); !k)
      return Status::invalid_argument("--broker: " + k.status().message());
  }
  if (is_memory_sqlite(urls.sink)) return Status::ok();
  if (urls.sink.rfind("sqlite:", 0) == 0) {
    if (urls.sink.size() == 7) return Status::invalid_argument("--sink: expected sqlite:PATH");
    return Status::ok();
  }
  if (urls.sink.rfind("mysql://", 0) == 0) {
    auto u = parse_url(urls.sink);
    if (!u) return Status::invalid_argument("--sink: " + u.status().message());
    if (u->path.empty())
      return Status::invalid_argument(
          "--sink: expected a database: mysql://USER:PASS@HOST:PORT/DB");
    return Status::ok();
  }
  if (urls.sink.rfind("mongodb://", 0) == 0) {
    auto u = parse_url(urls.sink);
    if (!u) return Status::invalid_argument("--sink: " + u.status().message());
    if (u->path.empty())
      return Status::invalid_argument(
          "--sink: expected a database: mongodb://[USER:PASS@]HOST:PORT/DB");
    return Status::ok();
  }
  return Status::invalid_argument(std::string("--sink: expected ") + kSinkForms + ", found '" +
                                  redact(urls.sink) + "'");
}

Backends::~Backends() = default;

Result<std::unique_ptr<Sink>> open_sink_url(const std::string& url) {
  if (url.rfind("mysql://", 0) == 0) {
    auto s = MysqlSink::open(url);
    if (!s) return Status(s.status().code(), redact(s.status().message()));
    return std::unique_ptr<Sink>(std::move(*s));
  }
  if (url.rfind("mongodb://", 0) == 0) {
    auto s = MongoSink::open(url);
    if (!s) return Status(s.status().code(), redact(s.status().message()));
    return std::unique_ptr<Sink>(std::move(*s));
  }
  if (url.rfind("sqlite:", 0) == 0 && url.size() > 7) {
    auto s = SqliteSink::open(url.substr(7));
    if (!s) return s.status();
    return std::unique_ptr<Sink>(std::move(*s));
  }
  return Status::invalid_argument(
      "--sink: expected sqlite:PATH, mysql://USER:PASS@HOST:PORT/DB or "
      "mongodb://[USER:PASS@]HOST:PORT/DB, found '" +
      redact(url) + "'");
}

Result<std::unique_ptr<Backends>> Backends::open(const BackendUrls& urls) {
  KAPPA_RETURN_IF_ERROR(validate(urls));
  std::unique_ptr<Backends> b(new Backends());
  const std::string prefix = unique_run_prefix();
  std::vector<std::string> shared;
  if (urls.broker == "embedded") {
    b->log_owner_ = std::make_unique<EmbeddedBroker>();
    b->log_ = b->log_owner_.get();
  } else {
    auto k = KafkaLog::open(urls.broker);
    if (!k) return k.status();
    b->log_owner_ = std::move(*k);
    b->namespaced_log_ = std::make_unique<NamespacedLog>(*b->log_owner_, prefix);
    b->log_ = b->namespaced_log_.get();
    shared.push_back("topics on " + b->log_owner_->describe());
  }
  if (is_memory_sqlite(urls.sink)) {
    auto s = SqliteSink::open(":memory:");
    if (!s) return s.status();
    b->sink_owner_ = std::move(*s);
    b->sink_ = b->sink_owner_.get();
  } else {
    auto s = open_sink_url(urls.sink);
    if (!s) return s.status();
    b->sink_owner_ = std::move(*s);
    b->namespaced_sink_ = std::make_unique<NamespacedSink>(*b->sink_owner_, prefix);
    b->sink_ = b->namespaced_sink_.get();
    shared.push_back("tables in " + b->sink_owner_->describe());
  }
  if (!shared.empty()) {
    b->note_ =
        shared[0] + (shared.size() > 1 ? " and " + shared[1] : "") + " are prefixed " + prefix;
  }
  return b;
}

}  // namespace kappa
