// KafkaServer: the broker on a TCP port, speaking Kafka's wire protocol (Boost.Asio, C++20
// coroutines), so kcat, librdkafka and any Kafka client can use a BatchLog: the durable
// DiskBroker of `kappa broker`, or the embedded broker of a running scenario.
//
// Connections: every frame is a 4-byte big-endian size and a request. A connection's requests
// are handled one at a time, in order, and answered in that order (Kafka does the same), so
// clients may pipeline. A frame that is too big, does not decode, or asks for an API or
// version we do not serve closes that connection with a log line; nothing a client sends can
// stop the broker. All protocol work runs on one I/O thread; fsyncs for acks=all run on a
// second thread so that a slow disk never stalls other connections.
//
// Fetch waits (max_wait_ms / min_bytes) end early when a produce appends; appends made outside
// the server (a scenario writing to its own broker) are seen within 50 ms.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/batch_log.h"
#include "broker/server/kafka_api.h"

namespace kappa {

class KafkaServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // the address to bind
    uint16_t port = 9092;            // 0: any free port (see port())
    std::string advertised_host;     // in Metadata and FindCoordinator; default: host
    int32_t max_frame_bytes = 100 * 1024 * 1024;  // Kafka's socket.request.max.bytes
    KafkaApi::Options api;           // advertised host and port are filled in by start()
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
