// The Log and the Sink a scenario run uses, from the command line's --broker and --sink:
//   --broker embedded (default) | kafka://HOST:PORT[,HOST:PORT...]
//   --sink   sqlite::memory: (default) | sqlite:PATH | mysql://USER:PASS@HOST:PORT/DB
//            | mongodb://[USER:PASS@]HOST:PORT/DB
// On a shared backend (a real Kafka, a MySQL or MongoDB server, an SQLite file) each run gets its
// own namespace (namespaced.h), so runs never see each other's topics or tables.
#pragma once

#include <memory>
#include <string>

#include "broker/log.h"
#include "pipeline/sinks/sink.h"

namespace kappa {

struct BackendUrls {
  std::string broker = "embedded";
  std::string sink = "sqlite::memory:";
};

// The sink of a --sink URL, not namespaced: sqlite:PATH, mysql://USER:PASS@HOST:PORT/DB or
// mongodb://[USER:PASS@]HOST:PORT/DB (errors redacted). What the services and the lab write to.
Result<std::unique_ptr<Sink>> open_sink_url(const std::string& url);

// Checks the URLs' form without connecting; errors are kInvalidArgument and never show a password.
Status validate(const BackendUrls& urls);

class Backends {
 public:
  static Result<std::unique_ptr<Backends>> open(const BackendUrls& urls);
  ~Backends();

  Log& log() { return *log_; }
  Sink& sink() { return *sink_; }
  Log& raw_log() { return *log_owner_; }  // without the namespace
  // "topics on kafka://127.0.0.1:9092 and tables on mysql://scott@.../default are prefixed
  // k0123456789_"; empty when nothing is namespaced.
  const std::string& note() const { return note_; }

 private:
  Backends() = default;
  std::unique_ptr<Log> log_owner_;
  std::unique_ptr<Sink> sink_owner_;
  std::unique_ptr<Log> namespaced_log_;
  std::unique_ptr<Sink> namespaced_sink_;
  Log* log_ = nullptr;
  Sink* sink_ = nullptr;
  std::string note_;
};

}  // namespace kappa
