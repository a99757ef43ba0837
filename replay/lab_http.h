// The lab's web server: plain HTTP/1.1 on Boost.Beast, for `kappa lab`'s page and its JSON API
// (docs/lab-api.md). It knows nothing of the lab: every request goes to one handler, which
// answers it with a status, a content type and a body.
//
// Connections: one thread each (at most kMaxConnections at a time; more are answered 503 and
// closed), keep-alive, closed after 30 s without a request. Requests are read whole (bodies up
// to 1 MiB). The handler may block (the lab's waits for the pipeline's thread) and is called
// from several connection threads at once: it must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "broker/result.h"

namespace kappa {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent: "/api/tables/events_users_v1?limit=20"
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class LabHttpServer {
 public:
  static constexpr int kMaxConnections = 32;
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds host:port (port 0: any free port) and serves on threads of its own.
  static Result<std::unique_ptr<LabHttpServer>> start(const std::string& host, uint16_t port,
                                                      Handler handler);
  ~LabHttpServer();  // stops
  LabHttpServer(const LabHttpServer&) = delete;
  LabHttpServer& operator=(const LabHttpServer&) = delete;

  std::string address() const;  // "127.0.0.1:8080"
  // Closes the listener and every connection; returns when their threads have ended.
  void stop();

 private:
  struct Impl;
  explicit LabHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "/a/b?x=1&y=2" into the path and the decoded value of one query parameter.
std::string http_path(const std::string& target);
std::optional<std::string> http_query_param(const std::string& target, const std::string& name);

}  // namespace kappa
