// The lab's web server: plain HTTP/1.1 on Boost.Beast, for `kappa lab`'s page and its JSON API
// (docs/lab-api.md). It knows nothing of the lab: every request that passes the checks below
// goes to one handler, which answers it with a status, a content type and a body.
//
// What it refuses itself, with a JSON error, before the handler sees a request:
//   - 403 for a Host other than the address it serves: the literal host:port it listens on (or
//     the address:port a connection arrived at, for a wildcard listener), and localhost:port,
//     127.0.0.1:port and [::1]:port when that is a loopback address. Every method, so a page
//     whose name has been rebound to 127.0.0.1 (DNS rebinding) cannot read the API.
//   - 403 for a POST (any method but GET and HEAD) from another page: an Origin header that is
//     not http://<one of those hosts>. Clients that send no Origin (curl, scripts) may post.
//   - 415 for a POST whose Content-Type is not application/json: a cross-origin form or
//     text/plain fetch, which a browser sends without asking the server first.
//   - 413 for a body over kMaxBodyBytes (by Content-Length before reading it, or as it comes);
//     431 for headers over 16 KiB; 408 for a request not read in time. These close the connection.
//
// Connections: one thread each, at most kMaxConnections at a time; more wait in the listen
// queue (they are accepted as connections end) rather than being refused. A request's headers
// must arrive within kHeaderTimeout of the wait for it (so an idle keep-alive connection ends
// then, too) and its body within kBodyTimeout after them; an answer must be taken within
// kWriteTimeout. A slow client thus holds a connection for seconds, not forever. The handler may
// block (the lab's waits for the pipeline's thread) and is called from several connection
// threads at once: it must be thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
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
  static constexpr size_t kMaxConnections = 64;
  static constexpr size_t kMaxBodyBytes = 1 << 20;
  static constexpr std::chrono::milliseconds kHeaderTimeout{10000};
  static constexpr std::chrono::milliseconds kBodyTimeout{10000};
  static constexpr std::chrono::milliseconds kWriteTimeout{30000};
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
