// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include "broker/server/kafka_server.h"

#include <pthread.h>
#include <sys/sendfile.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio.hpp>

#include "broker/protocol/messages.h"
#include "broker/protocol/read_buffers.h"

namespace kappa {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

// Takes back the SIGPIPE a write to a closed socket left pending for this thread, which keeps
// the signal blocked (see start()), so that it is never delivered.
void consume_sigpipe() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  const timespec now{0, 0};
  while (sigtimedwait(&pipe, nullptr, &now) == SIGPIPE) {
  }
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A one-shot event a coroutine can wait for: set() from a callback, wait() resumes after it
// (at once if it was set before). Lives in a shared_ptr so a late set() is harmless.
struct Event {
  explicit Event(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
  void set(std::string v) {
    value = std::move(v);
    timer.cancel();
  }
  awaitable<void> wait() {
    while (!value) {
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }
  asio::steady_timer timer;
  std::optional<std::string> value;
};

}  // namespace

struct KafkaServer::Impl {
  explicit Impl(Options o)
      : options(std::move(o)),
        acceptor(io),
        ticker(io),
        accept_pause(io),
        idle_sweep(io),
        sync_pool(1),
        create_pool(1) {}

  Options options;
  // Declared before io: the coroutine frames io destroys last may still refer to them.
  std::list<asio::steady_timer*> fetch_waiters;
  std::set<tcp::socket*> sockets;
  struct Connection;
  std::set<Connection*> live;  // for the idle sweep
  // Readers waiting for request bytes, each with what it already holds of its frame.
  struct BudgetWaiter {
    asio::steady_timer* timer;
    int64_t held;
  };
  std::list<BudgetWaiter> request_bytes_waiters;
  int64_t request_bytes_held_by_waiters = 0;
  // Request bytes in memory over all connections (Options::queued_max_request_bytes).
  int64_t request_bytes_held = 0;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer ticker;
  asio::steady_timer accept_pause;  // the accept loop's back-off after a failure
  asio::steady_timer idle_sweep;
  asio::thread_pool sync_pool;
  asio::thread_pool create_pool;  // CreateTopics' file creation, one request at a time
  std::unique_ptr<KafkaApi> api;  // made once the port is known
  std::thread thread;
  std::atomic<int64_t> connections{0}, requests{0}, closed_for_errors{0};
  bool stopped = false;

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  void wake_fetches() {
    for (auto* t : fetch_waiters) t->cancel();
  }

  // A failed accept (EMFILE, ENFILE: out of descriptors) would fail again at once: wait 100 ms,
  // doubling to 1 s while it goes on failing, and log at most one line a second.
  awaitable<void> accept_loop() {
    int64_t pause_ms = 0;
    int64_t last_report = -1000000;
    int64_t unreported = 0;
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open() || stopped) co_return;
        pause_ms = pause_ms == 0 ? 100 : std::min<int64_t>(pause_ms * 2, 1000);
        const int64_t now = steady_ms();
        if (now - last_report >= 1000) {
          std::string line = "accept failed: " + ec.message() + "; retrying in " +
                             std::to_string(pause_ms) + " ms";
          if (unreported > 0) {
            line += " (" + std::to_string(unreported) + " more failures since the last report)";
          }
          log(line);
          last_report = now;
          unreported = 0;
        } else {
          ++unreported;
        }
        accept_pause.expires_after(std::chrono::milliseconds(pause_ms));
        co_await accept_pause.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      pause_ms = 0;
      socket.set_option(tcp::no_delay(true), ec);
      ++connections;
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> tick_loop() {
    for (;;) {
      ticker.expires_after(std::chrono::milliseconds(100));
      boost::system::error_code ec;
      co_await ticker.async_wait(asio::redirect_error(use_awaitable, ec));
      if (stopped) co_return;
      api->tick(steady_ms());
    }
  }

  // One connection: a reader handles requests in order and queues their responses; a writer
  // sends them in that order. A produce's response waits in the queue until its fsync is done,
  // while the reader goes on appending what the client pipelined, so one fsync covers many
  // requests.
  struct Outgoing {
    std::string frame;  // the whole frame, or its start when `fetched` follows
    std::optional<KafkaApi::Fetched> fetched;  // a fetch response's body, written in place
    // A produce's whole frame, set once its fsync is done; null: ready now.
    std::shared_ptr<Event> durable;
  };
  struct Connection {
    explicit Connection(tcp::socket s)
        : socket(std::move(s)), wake(socket.get_executor()), space(socket.get_executor()) {}
    tcp::socket socket;
    std::string peer = "a client";
    std::string host;  // "/ADDRESS", as Kafka shows a member's host
    std::deque<Outgoing> queue;
    int64_t queued_bytes = 0;    // of the responses in `queue`
    int64_t reading_since = -1;  // when the reader began waiting for the frame it is reading
    int64_t writing_since = -1;  // when the writer began the write it is in
    asio::steady_timer wake;     // the writer waits on it for work
    asio::steady_timer space;    // the reader waits on it while the queue is full
    bool reading_done = false;
    bool broken = false;  // a write failed
  };
  static constexpr size_t kMaxQueuedResponses = 64;
  // A frame's bytes are taken from the request budget this many at a time, and read into its
  // buffer at most kReadPiece ahead of what has arrived.
  static constexpr int64_t kBudgetChunk = int64_t{1} << 20;
  static constexpr size_t kReadPiece = size_t{64} << 10;

  static int64_t size_of(const Outgoing& out) {
    return static_cast<int64_t>(out.frame.size() +
                                (out.fetched ? out.fetched->response.size() : 0));
  }

  // Waits until `n` more request bytes fit in queued_max_request_bytes and takes them; false
  // when the connection closed or the server stopped meanwhile. `held` is what this reader
  // already holds of the frame it is reading.
  awaitable<bool> take_request_bytes(Connection& conn, int64_t n, int64_t held) {
    if (request_bytes_held + n > options.queued_max_request_bytes) {
      asio::steady_timer wait(io, asio::steady_timer::time_point::max());
      struct Registered {  // also when the frame is destroyed at shutdown
        Impl* impl;
        std::list<BudgetWaiter>::iterator at;
        ~Registered() {
          impl->request_bytes_held_by_waiters -= at->held;
          impl->request_bytes_waiters.erase(at);
        }
      } registered{this, request_bytes_waiters.insert(request_bytes_waiters.end(), {&wait, held})};
      request_bytes_held_by_waiters += held;
      wake_request_bytes_waiters();  // this wait may be the one that leaves nobody to give back
      while (!may_take_request_bytes(n, *registered.at)) {
        if (stopped || !conn.socket.is_open()) co_return false;
        boost::system::error_code ec;
        wait.expires_at(asio::steady_timer::time_point::max());
        co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
      }
    }
    if (stopped || !conn.socket.is_open()) co_return false;
    request_bytes_held += n;
    co_return true;
  }

  // Whether a waiting reader may take `n` bytes: they fit, or every byte held belongs to
  // waiting readers (part-read frames that would otherwise wait for each other forever) and
  // this one holds the most: it goes over the limit by at most the rest of its frame.
  bool may_take_request_bytes(int64_t n, const BudgetWaiter& me) const {
    if (request_bytes_held + n <= options.queued_max_request_bytes) return true;
    if (me.held == 0 || request_bytes_held != request_bytes_held_by_waiters) return false;
    const BudgetWaiter* most = &me;
    for (const BudgetWaiter& w : request_bytes_waiters) {
      if (w.held > most->held) most = &w;
    }
    return most == &me;
  }

  void wake_request_bytes_waiters() {
    for (const BudgetWaiter& w : request_bytes_waiters) w.timer->cancel();
  }

  void give_back_request_bytes(int64_t& held) {
    if (held == 0) return;
    request_bytes_held -= held;
    held = 0;
    if (stopped) return;  // frames destroyed at shutdown: nobody waits any more
    wake_request_bytes_waiters();
  }

  // Reads a frame of `size` bytes into `frame` as they arrive: the buffer grows with bytes
  // received (at most kReadPiece ahead), never to the size announced, and every byte is first
  // taken from the request budget (`held` says how many). False when the connection ended.
  awaitable<bool> read_frame(Connection& conn, size_t size, std::string& frame, int64_t& held) {
    frame.clear();
    while (frame.size() < size) {
      if (static_cast<int64_t>(frame.size()) == held) {
        const int64_t want = std::min<int64_t>(kBudgetChunk, static_cast<int64_t>(size) - held);
        if (!co_await take_request_bytes(conn, want, held)) co_return false;
        held += want;
      }
      const size_t at = frame.size();
      const size_t piece = std::min(kReadPiece, static_cast<size_t>(held) - at);
      frame.resize(at + piece);
      boost::system::error_code ec;
      co_await asio::async_read(conn.socket, asio::buffer(frame.data() + at, piece),
                                asio::redirect_error(use_awaitable, ec));
      if (ec || conn.broken) co_return false;
    }
    co_return true;
  }

  // Closes connections idle past connections_max_idle_ms: waiting for a frame that does not
  // come (or complete), or writing a response the client does not read.
  awaitable<void> idle_loop() {
    const int64_t idle = options.connections_max_idle_ms;
    const int64_t every = std::clamp<int64_t>(idle / 4, 10, 1000);
    for (;;) {
      idle_sweep.expires_after(std::chrono::milliseconds(every));
      boost::system::error_code ec;
      co_await idle_sweep.async_wait(asio::redirect_error(use_awaitable, ec));
      if (stopped) co_return;
      const int64_t now = steady_ms();
      std::vector<Connection*> expired;
      for (Connection* c : live) {
        const bool reading = c->reading_since >= 0 && now - c->reading_since >= idle;
        const bool writing = c->writing_since >= 0 && now - c->writing_since >= idle;
        if (!reading && !writing) continue;
        log("closing the connection from " + c->peer + ": " +
            (reading ? "no complete request" : "a response unread") + " for " +
            std::to_string(idle) + " ms (connections.max.idle.ms)");
        expired.push_back(c);
      }
      for (Connection* c : expired) {
        c->broken = true;
        c->reading_since = c->writing_since = -1;
        c->socket.close(ec);
        c->space.cancel();
      }
      if (!expired.empty()) wake_request_bytes_waiters();
    }
  }

  awaitable<void> session(tcp::socket socket) {
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      boost::system::error_code ec;
      auto ep = conn->socket.remote_endpoint(ec);
      if (!ec) {
        conn->peer = ep.address().to_string() + ":" + std::to_string(ep.port());
        conn->host = "/" + ep.address().to_string();
      }
    }
    sockets.insert(&conn->socket);
    live.insert(conn.get());
    asio::co_spawn(io, writer(conn), asio::detached);
    co_await reader(*conn);
    conn->reading_done = true;
    conn->wake.cancel();
  }

  awaitable<void> reader(Connection& conn) {
    std::string frame;
    int64_t held = 0;  // request bytes of this connection counted in request_bytes_held
    struct GiveBack {
      Impl* impl;
      int64_t& held;
      ~GiveBack() { impl->give_back_request_bytes(held); }
    } give_back{this, held};
    for (;;) {
      boost::system::error_code ec;
      std::array<unsigned char, 4> size_bytes{};
      conn.reading_since = steady_ms();
      co_await asio::async_read(conn.socket, asio::buffer(size_bytes),
                                asio::redirect_error(use_awaitable, ec));
      if (ec || conn.broken)
        co_return;  // the client closed (or we are stopping): nothing to report
      const int64_t size =
          static_cast<int32_t>((uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                               (uint32_t{size_bytes[2]} << 8) | uint32_t{size_bytes[3]});
      if (size < 8 || size > options.max_frame_bytes) {
        ++closed_for_errors;
        log("closing the connection from " + conn.peer + ": a frame of " + std::to_string(size) +
            " bytes, expected 8 to " + std::to_string(options.max_frame_bytes));
        co_return;
      }
      if (!co_await read_frame(conn, static_cast<size_t>(size), frame, held)) co_return;
      conn.reading_since = -1;
      ++requests;
      Outgoing out;
      bool respond = false;
      std::string error;
      co_await handle(frame, conn.host, out, respond, error);
      // A big frame's buffer goes back now, not when the connection closes.
      if (frame.capacity() > static_cast<size_t>(kBudgetChunk)) std::string().swap(frame);
      give_back_request_bytes(held);
      if (!error.empty()) {
        ++closed_for_errors;
        log("closing the connection from " + conn.peer + ": " + error);
        co_return;
      }
      if (!respond) continue;
      conn.queued_bytes += size_of(out);
      conn.queue.push_back(std::move(out));
      conn.wake.cancel();
      // The response just queued always goes; the next request waits while the queue is full.
      while ((conn.queue.size() >= kMaxQueuedResponses ||
              conn.queued_bytes >= options.queued_max_response_bytes) &&
             !conn.broken && !stopped) {
        conn.space.expires_at(asio::steady_timer::time_point::max());
        co_await conn.space.async_wait(asio::redirect_error(use_awaitable, ec));
      }
    }
  }

  // A response: its frame, then a fetch response's body in place, the bytes in memory with
  // gathered writes and the record sets in files with sendfile(2), in order. An error (the peer
  // gone, or a file that cannot be read, or that was cut shorter than its range) ends the
  // connection: the client has part of a response and cannot go on from there.
  awaitable<boost::system::error_code> write_response(Connection& conn, const Outgoing& out) {
    boost::system::error_code ec;
    std::vector<asio::const_buffer> pieces{asio::buffer(out.frame)};
    if (out.fetched) {
      for (const KafkaApi::Fetched::Piece& piece : out.fetched->pieces()) {
        if (piece.files == nullptr) {
          pieces.push_back(asio::buffer(piece.bytes.data(), piece.bytes.size()));
          continue;
        }
        co_await asio::async_write(conn.socket, pieces, asio::redirect_error(use_awaitable, ec));
        if (ec) co_return ec;
        pieces.clear();
        for (const FileRange& range : *piece.files) {
          ec = co_await send_file(conn, range);
          if (ec) co_return ec;
        }
      }
    }
    co_await asio::async_write(conn.socket, pieces, asio::redirect_error(use_awaitable, ec));
    co_return ec;
  }

  // `range` with sendfile(2), waiting whenever the socket is full.
  awaitable<boost::system::error_code> send_file(Connection& conn, const FileRange& range) {
    boost::system::error_code ec;
    if (!conn.socket.native_non_blocking()) conn.socket.native_non_blocking(true, ec);
    if (ec) co_return ec;
    off_t at = static_cast<off_t>(range.offset);
    const off_t end = static_cast<off_t>(range.offset + range.length);
    while (at < end) {
      const ssize_t n = ::sendfile(conn.socket.native_handle(), range.fd, &at,
                                   static_cast<size_t>(std::min<off_t>(end - at, off_t{1} << 30)));
      if (n > 0) continue;  // `at` moved
      const int err = n == 0 ? 0 : errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        co_await conn.socket.async_wait(tcp::socket::wait_write,
                                        asio::redirect_error(use_awaitable, ec));
        if (ec) co_return ec;
        continue;
      }
      if (err == EPIPE || err == ECONNRESET) {
        consume_sigpipe();
        co_return boost::system::error_code(err, boost::system::system_category());
      }
      // The file's side: it cannot be read, or it ends before the range does.
      log("closing the connection from " + conn.peer + ": sending " + range.path + " at byte " +
          std::to_string(at) + " failed: " +
          (n == 0 ? "the file ends before byte " + std::to_string(end) : std::strerror(err)));
      co_return boost::system::error_code(n == 0 ? EIO : err, boost::system::system_category());
    }
    co_return ec;
  }

  awaitable<void> writer(std::shared_ptr<Connection> conn) {
    for (;;) {
      boost::system::error_code ec;
      if (conn->queue.empty()) {
        if (conn->reading_done || stopped) break;
        conn->wake.expires_at(asio::steady_timer::time_point::max());
        co_await conn->wake.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      Outgoing& next = conn->queue.front();
      if (next.durable) {
        co_await next.durable->wait();
        next.frame = std::move(*next.durable->value);
      }
      conn->writing_since = steady_ms();
      ec = co_await write_response(*conn, next);
      conn->writing_since = -1;
      conn->queued_bytes -= size_of(conn->queue.front());
      if (conn->queue.front().fetched) {
        for (std::string& b : conn->queue.front().fetched->buffers)
          give_back_read_buffer(std::move(b));  // for the next fetch this thread reads
      }
      conn->queue.pop_front();
      conn->space.cancel();
      if (ec) {
        conn->broken = true;
        break;
      }
    }
    // Both sides are done (or the connection broke): close it, which also ends the reader.
    sockets.erase(&conn->socket);
    live.erase(conn.get());
    boost::system::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.close(ignored);
    conn->space.cancel();
  }

  // Answers one request into `out` (`respond` false for an acks=0 produce); `error` says why
  // the connection must close instead.
  awaitable<void> handle(std::string_view frame, const std::string& host, Outgoing& out,
                         bool& respond, std::string& error) {
    std::string_view body;
    auto header = kafka::decode_request_header(frame, body);
    if (!header) {
      error = header.status().message();
      co_return;
    }
    const kafka::RequestHeader& h = *header;
    const std::string what = kafka::api_name(h.api_key) + " v" + std::to_string(h.api_version);
    const kafka::ApiSupport* api_support = kafka::find_api(h.api_key);
    if (api_support == nullptr) {
      error = "it asked for " + what + ", an API this broker does not serve";
      co_return;
    }
    if (h.api_version < api_support->min_version || h.api_version > api_support->max_version) {
      if (h.api_key == kafka::kApiVersions) {
        // Answer in v0 so the client can read it and retry with a version we speak.
        kafka::RequestHeader v0 = h;
        v0.api_version = 0;
        out.frame = kafka::frame_response(v0, api->unsupported_api_versions());
        respond = true;
        co_return;
      }
      error = "it asked for " + what + "; this broker serves versions " +
              std::to_string(api_support->min_version) + " to " +
              std::to_string(api_support->max_version);
      co_return;
    }

    Result<std::string> body_out = std::string();
    const int64_t now = steady_ms();
    switch (h.api_key) {
      case kafka::kApiVersions:
        body_out = api->api_versions(h, body);
        break;
      case kafka::kMetadata:
        body_out = api->metadata(h, body);
        break;
      case kafka::kListOffsets:
        body_out = api->list_offsets(h, body);
        break;
      case kafka::kCreateTopics: {
        auto plan = api->plan_create_topics(h, body);
        if (!plan) {
          body_out = plan.status();
          break;
        }
        auto shared = std::make_shared<KafkaApi::TopicCreation>(std::move(*plan));
        if (!shared->to_create.empty()) co_await create_topics_off_thread(shared);
        body_out = api->answer_create_topics(*shared);
        break;
      }
      case kafka::kDeleteTopics:
        body_out = co_await off_thread([&] { return api->delete_topics(h, body); });
        break;
      case kafka::kCreatePartitions:
        body_out = co_await off_thread([&] { return api->create_partitions(h, body); });
        break;
      case kafka::kDeleteRecords:
        body_out = co_await off_thread([&] { return api->delete_records(h, body); });
        break;
      case kafka::kDescribeLogDirs:
        body_out = co_await off_thread([&] { return api->describe_log_dirs(h, body); });
        break;
      case kafka::kDescribeConfigs:
        body_out = api->describe_configs(h, body);
        break;
      case kafka::kAlterConfigs:
        body_out = co_await off_thread([&] { return api->alter_configs(h, body); });
        break;
      case kafka::kIncrementalAlterConfigs:
        body_out = co_await off_thread([&] { return api->incremental_alter_configs(h, body); });
        break;
      case kafka::kDescribeCluster:
        body_out = api->describe_cluster(h, body);
        break;
      case kafka::kFindCoordinator:
        body_out = api->find_coordinator(h, body);
        break;
      case kafka::kInitProducerId:
        body_out = api->init_producer_id(h, body, now);
        break;
      case kafka::kAddPartitionsToTxn:
        body_out = api->add_partitions_to_txn(h, body, now);
        break;
      case kafka::kAddOffsetsToTxn:
        body_out = api->add_offsets_to_txn(h, body, now);
        break;
      case kafka::kTxnOffsetCommit:
        body_out = api->txn_offset_commit(h, body, now);
        break;
      case kafka::kEndTxn:
        body_out = api->end_txn(h, body, now);
        wake_fetches();  // markers move the last stable offset
        break;
      case kafka::kOffsetCommit:
        body_out = api->offset_commit(h, body, now);
        break;
      case kafka::kOffsetFetch:
        body_out = api->offset_fetch(h, body);
        break;
      case kafka::kHeartbeat:
        body_out = api->heartbeat(h, body, now);
        break;
      case kafka::kLeaveGroup:
        body_out = api->leave_group(h, body, now);
        break;
      case kafka::kListGroups:
        body_out = api->list_groups(h, body, now);
        break;
      case kafka::kDescribeGroups:
        body_out = api->describe_groups(h, body, now);
        break;
      case kafka::kDeleteGroups:
        body_out = api->delete_groups(h, body, now);
        break;
      case kafka::kOffsetDelete:
        body_out = api->offset_delete(h, body, now);
        break;
      case kafka::kProduce: {
        auto produced = api->produce(h, body);
        if (!produced) {
          body_out = produced.status();
          break;
        }
        if (produced->records_appended > 0) wake_fetches();
        for (const std::string& line : produced->storage_errors) log(line);
        if (!produced->respond) co_return;
        if (!produced->to_sync.empty()) {
          out.durable = start_sync(h, std::move(*produced));
          respond = true;
          co_return;
        }
        body_out = api->finish_produce(*produced, {});
        break;
      }
      case kafka::kFetch: {
        auto state = api->parse_fetch(h, body);
        if (!state) {
          body_out = state.status();
          break;
        }
        out.fetched = co_await fetch(*state);
        out.frame = kafka::frame_header(h, out.fetched->response.size());
        respond = true;
        co_return;
      }
      case kafka::kJoinGroup:
      case kafka::kSyncGroup: {
        auto event = std::make_shared<Event>(io.get_executor());
        auto reply = [event](std::string b) { event->set(std::move(b)); };
        Status s = h.api_key == kafka::kJoinGroup ? api->join_group(h, body, now, reply, host)
                                                  : api->sync_group(h, body, now, reply);
        if (!s.is_ok()) {
          body_out = s;
          break;
        }
        co_await event->wait();
        body_out = std::move(*event->value);
        break;
      }
      default:
        error = "it asked for " + what + ", an API this broker does not serve";
        co_return;
    }
    if (!body_out) {
      error = body_out.status().message();
      co_return;
    }
    out.frame = kafka::frame_response(h, *body_out);
    respond = true;
  }

  // Makes a produce's partitions durable on the sync thread, so the I/O thread goes on serving;
  // the event gets the response frame (on the I/O thread) when they are, or when a sync failed,
  // in which case those partitions answer KAFKA_STORAGE_ERROR instead of an ack.
  std::shared_ptr<Event> start_sync(const kafka::RequestHeader& h, KafkaApi::Produced produced) {
    auto done = std::make_shared<Event>(io.get_executor());
    auto job = std::make_shared<KafkaApi::Produced>(std::move(produced));
    asio::post(sync_pool, [this, done, job, h] {
      std::vector<KafkaApi::SyncFailure> failed;
      for (const auto& [topic, partition] : job->to_sync) {
        if (Status st = api->log().sync(topic, partition); !st.is_ok()) {
          failed.push_back({topic, partition, st.message()});
        }
      }
      asio::post(io, [this, done, job, h, failed = std::move(failed)] {
        for (const auto& f : failed) {
          log("fsync of " + partition_name(f.topic, f.partition) +
              " failed; its produce is answered KAFKA_STORAGE_ERROR: " + f.message);
        }
        done->set(kafka::frame_response(h, api->finish_produce(*job, failed)));
      });
    });
    return done;
  }

  // Makes a CreateTopics' files on the creation thread: thousands of partitions take seconds,
  // which the I/O thread spends serving other connections.
  awaitable<void> create_topics_off_thread(std::shared_ptr<KafkaApi::TopicCreation> plan) {
    auto done = std::make_shared<Event>(io.get_executor());
    asio::post(create_pool, [this, done, plan] {
      api->create_planned_topics(*plan);
      asio::post(io, [done] { done->set(""); });
    });
    co_await done->wait();
  }

  // Runs a request that only touches the log (topic administration) on the creation thread,
  // one at a time, as CreateTopics' file creation runs.
  awaitable<Result<std::string>> off_thread(std::function<Result<std::string>()> work) {
    auto done = std::make_shared<Event>(io.get_executor());
    auto out = std::make_shared<Result<std::string>>(std::string());
    asio::post(create_pool, [this, done, out, work = std::move(work)] {
      *out = work();
      asio::post(io, [done] { done->set(""); });
    });
    co_await done->wait();
    co_return std::move(*out);
  }

  awaitable<KafkaApi::Fetched> fetch(const KafkaApi::FetchState& state) {
    const int64_t deadline = steady_ms() + std::max(state.request.max_wait_ms, 0);
    asio::steady_timer timer(io);
    for (;;) {
      KafkaApi::Fetched got = api->read_fetch(state);
      const int64_t now = steady_ms();
      if (got.ready || now >= deadline || stopped) co_return got;
      for (std::string& b : got.buffers) give_back_read_buffer(std::move(b));  // read again
      timer.expires_after(std::chrono::milliseconds(std::min<int64_t>(deadline - now, 50)));
      fetch_waiters.push_front(&timer);
      auto registered = fetch_waiters.begin();
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
      fetch_waiters.erase(registered);
    }
  }

  void shutdown() {
    stopped = true;
    boost::system::error_code ec;
    acceptor.close(ec);
    ticker.cancel();
    accept_pause.cancel();
    idle_sweep.cancel();
    wake_request_bytes_waiters();
    for (auto* s : sockets) s->close(ec);
    wake_fetches();
  }
};

KafkaServer::KafkaServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaServer::~KafkaServer() { stop(); }

Result<std::unique_ptr<KafkaServer>> KafkaServer::start(BatchLog& log, Options options) {
  if (options.advertised_host.empty()) options.advertised_host = options.host;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (ec) {
    return Status::invalid_argument("--listen: '" + options.host + "' is not an IP address (" +
                                    ec.message() + ")");
  }
  if (options.max_frame_bytes < 8) {
    return Status::invalid_argument("socket.request.max.bytes must be at least 8, got " +
                                    std::to_string(options.max_frame_bytes));
  }
  if (options.queued_max_request_bytes < options.max_frame_bytes) {
    // As Kafka requires: otherwise a frame of the maximal size could never be read whole.
    return Status::invalid_argument("queued.max.request.bytes (" +
                                    std::to_string(options.queued_max_request_bytes) +
                                    ") must be at least socket.request.max.bytes (" +
                                    std::to_string(options.max_frame_bytes) + ")");
  }
  if (options.connections_max_idle_ms < 1 || options.queued_max_response_bytes < 1) {
    return Status::invalid_argument(
        "connections.max.idle.ms and the queued response bytes must be positive");
  }
  auto bound = std::make_unique<Impl>(options);
  const tcp::endpoint endpoint(address, options.port);
  bound->acceptor.open(endpoint.protocol(), ec);
  if (!ec) bound->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) bound->acceptor.bind(endpoint, ec);
  if (!ec) bound->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::unavailable("cannot listen on " + options.host + ":" +
                               std::to_string(options.port) + ": " + ec.message());
  }
  // The API answers with the address clients reach us at, known now that the port is bound.
  bound->options.port = bound->acceptor.local_endpoint().port();
  bound->options.api.advertised_host = bound->options.advertised_host;
  bound->options.api.advertised_port = bound->options.port;
  bound->api = std::make_unique<KafkaApi>(log, bound->options.api);
  Impl* raw = bound.get();
  asio::co_spawn(raw->io, raw->accept_loop(), asio::detached);
  asio::co_spawn(raw->io, raw->tick_loop(), asio::detached);
  asio::co_spawn(raw->io, raw->idle_loop(), asio::detached);
  raw->thread = std::thread([raw] {
    // sendfile(2) to a socket the peer closed raises SIGPIPE, which would end the process:
    // this thread keeps it blocked, and send_file takes back the one such a failure leaves.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    for (;;) {
      try {
        raw->io.run();
        return;
      } catch (const std::exception& e) {
        // A bug in one request must not take the broker down: report and go on serving.
        raw->log(std::string("internal error: ") + e.what());
      }
    }
  });
  return std::unique_ptr<KafkaServer>(new KafkaServer(std::move(bound)));
}

uint16_t KafkaServer::port() const { return impl_->options.port; }

std::string KafkaServer::address() const {
  return impl_->options.host + ":" + std::to_string(port());
}

KafkaServer::Stats KafkaServer::stats() const {
  return {impl_->connections.load(), impl_->requests.load(), impl_->closed_for_errors.load()};
}

void KafkaServer::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
  // Give connections a moment to close, then stop whatever is still waiting.
  asio::post(impl_->io, [impl = impl_.get()] { impl->io.stop(); });
  impl_->thread.join();
  impl_->sync_pool.join();
  impl_->create_pool.join();
}

}  // namespace kappa
