// KafkaServer: the broker on a TCP port, speaking Kafka's wire protocol (Boost.Asio, C++20
// coroutines), so kcat, librdkafka and any Kafka client can use a BatchLog: the durable
// DiskBroker of `kappa broker`, or the embedded broker of a running scenario.
//
// Connections: every frame is a 4-byte big-endian size and a request. A connection's requests
// are handled one at a time, in order, and answered in that order (Kafka does the same), so
// clients may pipeline. A frame that is too big, does not decode, or asks for an API or
// version we do not serve closes that connection with a log line; nothing a client sends can
// stop the broker. All protocol work runs on one I/O thread; fsyncs for acks=all run on a
// second thread so that a slow disk never stalls other connections, and CreateTopics makes its
// files on a third, so that a request for thousands of partitions never stalls them either.
//
// Memory follows what clients send, not what they announce: a frame is read into a buffer that
// grows as its bytes arrive, its bytes are counted against queued_max_request_bytes, idle
// connections are closed, and a connection's unread responses are bounded (Options). accept()
// failures (out of descriptors) back off from 100 ms to 1 s and log at most a line a second.
//
// Fetch waits (max_wait_ms / min_bytes) end early when a produce appends; appends made outside
// the server (a scenario writing to its own broker) are seen within 50 ms.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/protocol/batch_log.h"
#include "broker/server/kafka_api.h"

namespace kappa {

class KafkaServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // the address to bind
    uint16_t port = 9092;            // 0: any free port (see port())
    std::string advertised_host;     // in Metadata and FindCoordinator; default: host
    // Limits, with Kafka's names (see docs/protocol.md, "Limits"):
    // socket.request.max.bytes: a larger frame closes its connection with a log line.
    int32_t max_frame_bytes = 100 * 1024 * 1024;
    // queued.max.request.bytes: request bytes held in memory over all connections, frames
    // being read and requests being handled. Kafka's default is unbounded; ours is 256 MiB, room
    // for two maximal frames and any number of ordinary ones. When it is reached, readers wait
    // for room instead of allocating (except that when only waiting readers hold bytes, the one
    // holding most finishes its frame). At least max_frame_bytes.
    int64_t queued_max_request_bytes = int64_t{256} << 20;
    // connections.max.idle.ms: a connection that completes no request for this long while the
    // broker waits for it (no bytes, or a frame that never completes), or whose client does not
    // read a response for this long, is closed with a log line.
    int64_t connections_max_idle_ms = 600000;
    // Response bytes one connection may have queued before the broker reads its next request
    // (the first response always goes): a client that pipelines fetches and reads none holds
    // at most this much plus one response. Default: one fetch.max.bytes.
    int64_t queued_max_response_bytes = 57671680;
    KafkaApi::Options api;  // advertised host and port are filled in by start()
    std::function<void(const std::string&)> log;  // one line per call, no newline
  };

  struct Stats {
    int64_t connections = 0;
    int64_t requests = 0;
    int64_t closed_for_errors = 0;
  };

  // Binds and starts serving on a thread of its own.
  static Result<std::unique_ptr<KafkaServer>> start(BatchLog& log, Options options);
  ~KafkaServer();  // stops
  KafkaServer(const KafkaServer&) = delete;
  KafkaServer& operator=(const KafkaServer&) = delete;

  uint16_t port() const;
  std::string address() const;  // "127.0.0.1:9092"
  Stats stats() const;
  // Closes the listener and every connection; returns when the threads have stopped.
  void stop();

 private:
  struct Impl;
  explicit KafkaServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kappa
