// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include "replay/lab/lab_http.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kappa {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// A connected socket whose reads and writes give up at a deadline (beast::error::timeout).
// Beast's synchronous read and write loop on read_some/write_some; each of those waits in poll()
// for what is left of the time, on a non-blocking socket, so no single call can outlast it.
class DeadlineSocket {
 public:
  explicit DeadlineSocket(tcp::socket& socket) : socket_(socket) {
    beast::error_code ignored;
    socket_.non_blocking(true, ignored);
  }
  void expires_after(std::chrono::milliseconds d) { deadline_ = SteadyClock::now() + d; }

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    return transfer(POLLIN, ec, [&] { return socket_.read_some(buffers, ec); });
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, beast::error_code& ec) {
    return transfer(POLLOUT, ec, [&] { return socket_.write_some(buffers, ec); });
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    beast::error_code ec;
    const size_t n = write_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  template <class Op>
  size_t transfer(short events, beast::error_code& ec, Op op) {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SteadyClock::now())
              .count();
      if (left <= 0) {
        ec = beast::error::timeout;
        return 0;
      }
      pollfd p{socket_.native_handle(), events, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
      if (ready < 0 && errno != EINTR) {
        ec = beast::error_code(errno, beast::system_category());
        return 0;
      }
      if (ready <= 0) continue;
      ec = {};
      const size_t n = op();
      if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
    }
  }

  tcp::socket& socket_;
  SteadyClock::time_point deadline_ = SteadyClock::now();
};

HttpResponse refuse(int status, const std::string& what) {
  HttpResponse r;
  r.status = status;
  std::string text;
  for (char c : what) {
    if (c == '"' || c == '\\') {
      text += '\\';
      text += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      text += ' ';
    } else {
      text += c;
    }
  }
  r.body = "{\"error\": \"" + text + "\"}";
  return r;
}

void write_response(DeadlineSocket& stream, const HttpResponse& r, unsigned version,
                    bool keep_alive, beast::error_code& ec) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "kappa lab");
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");  // errors quote what a client sent
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  stream.expires_after(LabHttpServer::kWriteTimeout);
  http::write(stream, res, ec);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string host_port(const asio::ip::address& address, uint16_t port) {
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(port);
}

// The Host values a connection may name: see the header.
std::vector<std::string> allowed_hosts(const tcp::endpoint& listening,
                                       const tcp::endpoint& arrived) {
  std::vector<std::string> hosts{host_port(listening.address(), listening.port()),
                                 host_port(arrived.address(), arrived.port())};
  if (listening.address().is_loopback() || arrived.address().is_loopback()) {
    const std::string port = std::to_string(arrived.port());
    for (const char* name : {"localhost:", "127.0.0.1:", "[::1]:"}) hosts.push_back(name + port);
  }
  return hosts;
}

std::string field(const http::request<http::string_body>& req, http::field f) {
  const auto value = req[f];
  return std::string(value.data(), value.size());
}

// Refuses a request the handler must not see: another host name, another page's action, a body
// that is not JSON. nullopt lets it through.
std::optional<HttpResponse> check_request(const http::request<http::string_body>& req,
                                          const std::vector<std::string>& hosts) {
  const std::string what = std::string(req.method_string()) + " " + std::string(req.target());
  if (req.find(http::field::host) == req.end()) {
    return refuse(403, what + ": no Host header; the lab answers requests for " + hosts[0]);
  }
  std::string host = lower(field(req, http::field::host));
  const auto colon = host.rfind(':'), bracket = host.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket))
    host += ":80";
  if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) {
    return refuse(403, what + ": refusing Host '" + field(req, http::field::host) +
                           "': the lab answers requests for " + hosts[0] +
                           " only (another name may be a DNS rebinding)");
  }
  if (req.method() == http::verb::get || req.method() == http::verb::head) return std::nullopt;
  if (req.find(http::field::origin) != req.end()) {
    const std::string origin = lower(field(req, http::field::origin));
    const bool own = std::any_of(hosts.begin(), hosts.end(), [&](const std::string& h) {
      return origin == "http://" + h || (h.size() > 3 && h.compare(h.size() - 3, 3, ":80") == 0 &&
                                         origin == "http://" + h.substr(0, h.size() - 3));
    });
    if (!own) {
      return refuse(403, what + ": refusing an action from the page at '" +
                             field(req, http::field::origin) +
                             "': the lab takes actions only from its own page, http://" + hosts[0]);
    }
  }
  const std::string type = field(req, http::field::content_type);
  std::string media = lower(type.substr(0, type.find(';')));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  while (!media.empty() && media.front() == ' ') media.erase(0, 1);
  if (media != "application/json") {
    return refuse(415, what + ": expected Content-Type: application/json, found '" + type + "'");
  }
  return std::nullopt;
}

}  // namespace

struct LabHttpServer::Impl {
  struct Connection {
    tcp::socket socket;
    std::thread thread;
    std::atomic<bool> done{false};
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  };

  asio::io_context io;
  tcp::acceptor acceptor{io};
  tcp::endpoint listening;
  Handler handler;
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  std::mutex mu;  // guards connections
  std::condition_variable connection_ended;
  std::list<Connection> connections;

  void accept_loop();
  void serve(Connection& c);
  void reap_finished();  // REQUIRES: mu held
};

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
    {
      // At the limit, the next connections wait in the listen queue until one ends.
      std::unique_lock lock(mu);
      connection_ended.wait(lock, [&] {
        reap_finished();
        return stopping.load() || connections.size() < kMaxConnections;
      });
      if (stopping.load()) return;
    }
    beast::error_code ec;
    tcp::socket socket(io);
    acceptor.accept(socket, ec);
    if (ec) {
      if (stopping.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    std::lock_guard lock(mu);
    if (stopping.load()) return;
    Connection& c = connections.emplace_back(std::move(socket));
    c.thread = std::thread([this, &c] {
      serve(c);
      {
        // Under the lock, so the accept loop cannot miss it between its check and its wait.
        std::lock_guard ended(mu);
        c.done.store(true);
      }
      connection_ended.notify_one();
    });
  }
}

void LabHttpServer::Impl::serve(Connection& c) {
  beast::error_code ec;
  const tcp::endpoint arrived = c.socket.local_endpoint(ec);
  const std::vector<std::string> hosts = allowed_hosts(listening, ec ? listening : arrived);
  DeadlineSocket stream(c.socket);
  beast::flat_buffer buffer;
  while (!stopping.load()) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(kMaxBodyBytes);
    // The wait for a request's headers, the idle time of a keep-alive connection included.
    stream.expires_after(kHeaderTimeout);
    http::read_header(stream, buffer, parser, ec);
    std::optional<HttpResponse> closing;
    if (ec == http::error::body_limit) {  // by Content-Length
      closing =
          refuse(413, "the request body (" + std::to_string(parser.content_length().value_or(0)) +
                          " bytes) is over the lab's limit of 1 MiB");
    } else if (ec == http::error::header_limit) {
      closing = refuse(431, "the request's headers are over 16 KiB");
    } else if (ec == beast::error::timeout && (parser.got_some() || buffer.size() > 0)) {
      closing = refuse(408, "the request's headers did not arrive within " +
                                std::to_string(kHeaderTimeout.count() / 1000) + " s");
    } else if (ec) {
      break;
    } else {
      stream.expires_after(kBodyTimeout);
      http::read(stream, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        closing = refuse(413, "the request body is over the lab's limit of 1 MiB");
      } else if (ec == beast::error::timeout) {
        closing = refuse(408, "the request's body did not arrive within " +
                                  std::to_string(kBodyTimeout.count() / 1000) + " s");
      } else if (ec) {
        break;
      }
    }
    if (closing) {
      beast::error_code ignored;
      write_response(stream, *closing, 11, false, ignored);
      // Closing with unread bytes would reset the connection, and the client could lose the
      // answer: stop sending, then read and drop what it still sends, for a bounded time.
      c.socket.shutdown(tcp::socket::shutdown_send, ignored);
      stream.expires_after(std::chrono::seconds(2));
      char sink[16 * 1024];
      for (size_t dropped = 0; dropped < 4 * kMaxBodyBytes && !ignored;) {
        dropped += stream.read_some(asio::buffer(sink), ignored);
      }
      break;
    }
    const auto& req = parser.get();
    HttpResponse response;
    if (auto refused = check_request(req, hosts)) {
      response = std::move(*refused);
    } else {
      HttpRequest request{std::string(req.method_string()), std::string(req.target()), req.body()};
      try {
        response = handler(request);
      } catch (const std::exception& e) {
        response = refuse(500, std::string("the lab failed to answer: ") + e.what());
      }
    }
    const bool keep_alive = req.keep_alive() && !stopping.load();
    write_response(stream, response, req.version(), keep_alive, ec);
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
  if (ec)
    return Status::invalid_argument("--http: '" + host + "' is not an IP address: " + ec.message());
  const tcp::endpoint endpoint(address, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) impl->listening = impl->acceptor.local_endpoint(ec);
  if (ec) {
    return Status::unavailable("--http: cannot listen on " + host + ":" + std::to_string(port) +
                               ": " + ec.message());
  }
  Impl* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->accept_loop(); });
  return std::unique_ptr<LabHttpServer>(new LabHttpServer(std::move(impl)));
}

LabHttpServer::LabHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LabHttpServer::~LabHttpServer() { stop(); }

std::string LabHttpServer::address() const {
  return host_port(impl_->listening.address(), impl_->listening.port());
}

void LabHttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->connection_ended.notify_all();
  }
  // shutdown() wakes the blocking accept() and the connections' poll(); close() alone would not.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  // Joined outside the lock, which an ending connection takes to say it is done.
  std::list<Impl::Connection> ending;
  {
    std::lock_guard lock(impl_->mu);
    ending.splice(ending.end(), impl_->connections);
  }
  for (auto& c : ending) ::shutdown(c.socket.native_handle(), SHUT_RDWR);
  for (auto& c : ending) c.thread.join();
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
        } else if (raw[i] == '%' && i + 2 < raw.size() &&
                   std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
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
