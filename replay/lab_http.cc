// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include "replay/lab_http.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cctype>
#include <list>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kappa {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct LabHttpServer::Impl {
  struct Connection {
    tcp::socket socket;
    std::thread thread;
    std::atomic<bool> done{false};
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  };

  asio::io_context io;
  tcp::acceptor acceptor{io};
  Handler handler;
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  std::mutex mu;  // guards connections
  std::list<Connection> connections;

  void accept_loop();
  void serve(Connection& c);
  void reap_finished();  // REQUIRES: mu held
};

namespace {

HttpResponse refuse(int status, const std::string& what) {
  HttpResponse r;
  r.status = status;
  std::string text;
  for (char c : what) {
    if (c == '"' || c == '\\') text += '\\';
    text += c;
  }
  r.body = "{\"error\": \"" + text + "\"}";
  return r;
}

void write_response(tcp::socket& socket, const HttpResponse& r, unsigned version, bool keep_alive,
                    beast::error_code& ec) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "kappa lab");
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  http::write(socket, res, ec);
}

}  // namespace

void LabHttpServer::Impl::reap_finished() {
  for (auto it = connections.begin(); it != connections.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = connections.erase(it);
    } else {
      ++it;
    }
  }
}

void LabHttpServer::Impl::accept_loop() {
  while (!stopping.load()) {
    beast::error_code ec;
    tcp::socket socket(io);
    acceptor.accept(socket, ec);
    if (ec) {
      if (stopping.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    // Idle keep-alive connections and stalled clients end after 30 s.
    timeval tv{30, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::lock_guard lock(mu);
    reap_finished();
    if (stopping.load() || connections.size() >= kMaxConnections) {
      beast::error_code ignored;
      write_response(socket, refuse(503, "too many connections to the lab's web server"), 11, false, ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      continue;
    }
    Connection& c = connections.emplace_back(std::move(socket));
    c.thread = std::thread([this, &c] {
      serve(c);
      c.done.store(true);
    });
  }
}

void LabHttpServer::Impl::serve(Connection& c) {
  beast::flat_buffer buffer;
  while (!stopping.load()) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    beast::error_code ec;
    http::read(c.socket, buffer, parser, ec);
    if (ec) break;
    const auto& req = parser.get();
    HttpRequest request{std::string(req.method_string()), std::string(req.target()), req.body()};
    HttpResponse response;
    try {
      response = handler(request);
    } catch (const std::exception& e) {
      response = refuse(500, std::string("the lab failed to answer: ") + e.what());
    }
    const bool keep_alive = req.keep_alive() && !stopping.load();
    write_response(c.socket, response, req.version(), keep_alive, ec);
    if (ec || !keep_alive) break;
  }
  beast::error_code ignored;
  c.socket.shutdown(tcp::socket::shutdown_both, ignored);
}

Result<std::unique_ptr<LabHttpServer>> LabHttpServer::start(const std::string& host, uint16_t port,
                                                            Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::invalid_argument("--http: '" + host + "' is not an IP address: " + ec.message());
  const tcp::endpoint endpoint(address, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::unavailable("--http: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               ec.message());
  }
  Impl* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->accept_loop(); });
  return std::unique_ptr<LabHttpServer>(new LabHttpServer(std::move(impl)));
}

LabHttpServer::LabHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LabHttpServer::~LabHttpServer() { stop(); }

std::string LabHttpServer::address() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void LabHttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  // shutdown() wakes the blocking accept() and reads on Linux; close() alone would not.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  std::lock_guard lock(impl_->mu);
  for (auto& c : impl_->connections) ::shutdown(c.socket.native_handle(), SHUT_RDWR);
  for (auto& c : impl_->connections) c.thread.join();
  impl_->connections.clear();
}

std::string http_path(const std::string& target) { return target.substr(0, target.find('?')); }

std::optional<std::string> http_query_param(const std::string& target, const std::string& name) {
  const auto q = target.find('?');
  if (q == std::string::npos) return std::nullopt;
  size_t at = q + 1;
  while (at <= target.size()) {
    size_t amp = target.find('&', at);
    if (amp == std::string::npos) amp = target.size();
    const std::string pair = target.substr(at, amp - at);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      const std::string raw = eq == std::string::npos ? "" : pair.substr(eq + 1);
      std::string value;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+') {
          value += ' ';
        } else if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
          value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          value += raw[i];
        }
      }
      return value;
    }
    at = amp + 1;
  }
  return std::nullopt;
}

}  // namespace kappa
