#include "replay/services/broker_command.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "broker/disk/descriptors.h"
#include "broker/disk/disk_broker.h"
#include "broker/memory/memory_broker.h"
#include "broker/server/kafka_server.h"
#include "pipeline/time/duration.h"
#include "replay/services/signals.h"

namespace kappa {
namespace {

Result<int64_t> integer(const std::string& flag, const std::string& text, int64_t min) {
  if (auto v = parse_integer(text); v && *v >= min) return *v;
  return Status::invalid_argument(flag + " expects an integer >= " + std::to_string(min) +
                                  ", got '" + text + "'");
}

struct BrokerFlags {
  std::string host = "127.0.0.1";
  uint16_t port = 9092;
  std::string advertise;
  std::string data;
  DiskBroker::Options disk;
  bool auto_create = true;
  int32_t partitions = 1;
  KafkaServer::Options server;  // the limits; the rest is filled in by broker_command
  int64_t retention_check_interval_ms = 60000;  // Kafka's log.retention.check.interval.ms
  int64_t cleaner_backoff_ms = 15000;           // Kafka's log.cleaner.backoff.ms
};

// The limits, with Kafka's names (docs/protocol.md, "Limits").
struct LimitFlag {
  const char* flag;
  int64_t min;
  int64_t max;
};
// clang-format off
constexpr LimitFlag kLimitFlags[] = {
    {"--socket-request-max-bytes", 8, INT32_MAX},
    {"--queued-max-request-bytes", 8, INT64_MAX},
    {"--connections-max-idle-ms", 1, INT64_MAX},
    {"--queued-max-response-bytes", 1, INT64_MAX},
    {"--offset-metadata-max-bytes", 0, INT32_MAX},
    {"--log-retention-check-interval-ms", 1, INT64_MAX},
    {"--log-cleaner-backoff-ms", 1, INT64_MAX},
    {"--log-cleaner-dedupe-buffer-size", 1024, INT64_MAX},
    {"--log-cleaner-delete-retention-ms", 0, INT64_MAX},
};
// clang-format on

Result<BrokerFlags> parse(const std::vector<std::string>& args) {
  BrokerFlags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--no-auto-create") {
      f.auto_create = false;
      continue;
    }
    if (a == "--repair") {
      f.disk.repair = true;
      continue;
    }
    static const char* kValued[] = {
        "--listen",        "--data",         "--fsync",
        "--partitions",    "--retention-ms", "--retention-bytes",
        "--segment-bytes", "--advertise",    "--checkpoint-interval-ms"};
    bool known = false;
    for (const char* k : kValued) known = known || a == k;
    const LimitFlag* limit = nullptr;
    for (const LimitFlag& l : kLimitFlags) {
      if (a == l.flag) limit = &l;
    }
    known = known || limit != nullptr;
    if (!known) return Status::invalid_argument("unknown option " + a + " for broker");
    if (i + 1 >= args.size()) return Status::invalid_argument(a + " needs a value");
    const std::string& v = args[++i];
    if (limit != nullptr) {
      auto n = integer(a, v, limit->min);
      if (!n) return n.status();
      if (*n > limit->max) {
        return Status::invalid_argument(a + " expects at most " + std::to_string(limit->max) +
                                        ", got '" + v + "'");
      }
      if (a == "--socket-request-max-bytes") f.server.max_frame_bytes = static_cast<int32_t>(*n);
      if (a == "--queued-max-request-bytes") f.server.queued_max_request_bytes = *n;
      if (a == "--connections-max-idle-ms") f.server.connections_max_idle_ms = *n;
      if (a == "--queued-max-response-bytes") f.server.queued_max_response_bytes = *n;
      if (a == "--offset-metadata-max-bytes")
        f.server.api.offset_metadata_max_bytes = static_cast<int32_t>(*n);
      if (a == "--log-retention-check-interval-ms") f.retention_check_interval_ms = *n;
      if (a == "--log-cleaner-backoff-ms") f.cleaner_backoff_ms = *n;
      if (a == "--log-cleaner-dedupe-buffer-size") f.disk.cleaner.max_key_map_bytes = *n;
      if (a == "--log-cleaner-delete-retention-ms") f.disk.cleaner.delete_retention_ms = *n;
      continue;
    }
    if (a == "--listen") {
      const auto colon = v.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        return Status::invalid_argument("--listen expects HOST:PORT, got '" + v + "'");
      }
      auto port = integer("--listen's port", v.substr(colon + 1), 0);
      if (!port || *port > 65535)
        return Status::invalid_argument("--listen expects a port 0..65535, got '" + v + "'");
      f.host = v.substr(0, colon);
      f.port = static_cast<uint16_t>(*port);
    } else if (a == "--data") {
      f.data = v;
    } else if (a == "--advertise") {
      f.advertise = v;
    } else if (a == "--fsync") {
      if (v == "always") {
        f.disk.fsync = DiskBroker::FsyncPolicy::kAlways;
      } else if (v == "never") {
        f.disk.fsync = DiskBroker::FsyncPolicy::kNever;
      } else if (v.rfind("interval:", 0) == 0) {
        auto ms = integer("--fsync interval", v.substr(9), 1);
        if (!ms) return ms.status();
        f.disk.fsync = DiskBroker::FsyncPolicy::kInterval;
        f.disk.fsync_interval_ms = *ms;
      } else {
        return Status::invalid_argument("--fsync expects always, never or interval:MS, got '" + v +
                                        "'");
      }
    } else {
      auto n = integer(a, v,
                       a == "--partitions" || a == "--checkpoint-interval-ms" ? 1
                       : a == "--segment-bytes"                               ? 4096
                                                                              : -1);
      if (!n) return n.status();
      if (a == "--partitions") f.partitions = static_cast<int32_t>(*n);
      if (a == "--retention-ms") f.disk.retention_ms = *n;
      if (a == "--retention-bytes") f.disk.retention_bytes = *n;
      if (a == "--segment-bytes") f.disk.segment_bytes = *n;
      if (a == "--checkpoint-interval-ms") f.disk.checkpoint_interval_ms = *n;
    }
  }
  return f;
}

const char* policy_name(DiskBroker::FsyncPolicy p) {
  switch (p) {
    case DiskBroker::FsyncPolicy::kAlways:
      return "always";
    case DiskBroker::FsyncPolicy::kInterval:
      return "interval";
    case DiskBroker::FsyncPolicy::kNever:
      return "never";
  }
  return "?";
}

}  // namespace

int broker_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  // Record sets are read into buffers of up to a few MiB, one per fetched partition, freed as
  // soon as the answer is written. Those of a fetch at the usual 1 MiB per partition come from
  // the heap and are reused (an mmap'ed buffer is page-faulted and zeroed by the kernel afresh
  // every time); larger ones are mmap'ed, so that they go back to the system when freed. The
  // heap keeps at most kTrim free bytes at its top (resident memory is one of the broker's
  // promises), instead of glibc raising its thresholds as it goes.
  constexpr int kMmapAbove = (4 << 20) + 4096;
  constexpr int kTrim = 16 << 20;
  mallopt(M_MMAP_THRESHOLD, kMmapAbove);
  mallopt(M_TRIM_THRESHOLD, kTrim);
  auto flags = parse(args);
  if (!flags) {
    err << "kappa: " << flags.status().message() << "\n";
    return 2;
  }
  std::mutex log_mu;
  auto log = [&](const std::string& line) {
    std::lock_guard lock(log_mu);
    err << "kappa broker: " << line << std::endl;
  };

  std::unique_ptr<DiskBroker> disk;
  std::unique_ptr<MemoryBroker> memory;
  BatchLog* log_ptr = nullptr;
  std::string storage;
  // Two descriptors per partition: take what the hard limit allows, as most servers do, and say
  // plainly when the partitions on disk still do not fit.
  if (auto raised = disk::raise_descriptor_limit(); !raised) log(raised.status().message());
  if (!flags->data.empty()) {
    if (Status s = DiskBroker::check_descriptors(flags->data); !s.is_ok()) {
      err << "kappa: " << s.message() << "; raise the limit (ulimit -n, prlimit, LimitNOFILE=)\n";
      return 1;
    }
    DiskBroker::Options o = flags->disk;
    o.dir = flags->data;
    o.auto_create_topics = flags->auto_create;
    o.default_partitions = flags->partitions;
    auto opened = DiskBroker::open(o);
    if (!opened) {
      err << "kappa: " << opened.status().message() << "\n";
      return opened.status().code() == StatusCode::kUnavailable ? 1 : 2;
    }
    disk = std::move(*opened);
    for (const std::string& line : disk->recovery().lines()) log(line);
    if (const int64_t lost = disk->recovery().lost_offsets(); lost > 0) {
      log("--repair gave up " + std::to_string(lost) +
          " offsets (the \"lost offsets\" lines above); the checkpoints now match what remains");
    }
    log_ptr = disk.get();
    storage = "data " + flags->data + ", fsync " + policy_name(o.fsync);
  } else {
    const DiskBroker::Options& d = flags->disk;
    memory = std::make_unique<MemoryBroker>(MemoryBroker::Options{
        .auto_create_topics = flags->auto_create,
        .default_partitions = flags->partitions,
        .sticky_batch = 1,
        .max_batch_bytes = d.max_batch_bytes,
        .segment_bytes = std::min(d.segment_bytes, MemoryBroker::Options{}.segment_bytes),
        .retention_ms = d.retention_ms,
        .retention_bytes = d.retention_bytes,
        .cleaner = d.cleaner});
    log_ptr = memory.get();
    storage = "in memory, no --data";
  }

  KafkaServer::Options so = flags->server;
  so.host = flags->host;
  so.port = flags->port;
  so.advertised_host = flags->advertise;
  so.api.auto_create_topics = flags->auto_create;
  so.api.default_partitions = flags->partitions;
  if (disk) {
    // As Kafka names a log dir: absolute, without a trailing '/'.
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::absolute(flags->data, ec).lexically_normal();
    if (!dir.has_filename() && dir != dir.root_path()) dir = dir.parent_path();
    so.api.log_dir = dir.string();
  }
  // What a topic without overrides does here, where that is not Kafka's default: the
  // retention and segment size of the flags (in memory a segment holds at most 4 MiB).
  const std::pair<const char*, int64_t> defaults[] = {
      {"retention.ms", flags->disk.retention_ms},
      {"retention.bytes", flags->disk.retention_bytes},
      {"segment.bytes", disk ? flags->disk.segment_bytes : memory->options().segment_bytes},
  };
  for (const auto& [name, value] : defaults) {
    if (std::to_string(value) != find_topic_config(name)->kafka_default)
      so.api.topic_defaults[name] = std::to_string(value);
  }
  so.log = log;
  auto server = KafkaServer::start(*log_ptr, so);
  if (!server) {
    err << "kappa: " << server.status().message() << "\n";
    return server.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  install_stop_handlers();
  out << "kappa broker: listening on " << (*server)->address() << " (" << storage << ")"
      << std::endl;
  int64_t last_retention = 0;
  int64_t last_clean = 0;
  const auto clean_logs = [&](int64_t now) {
    return disk ? disk->clean_logs(now) : memory->clean_logs(now);
  };
  while (!stop_requested().load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (now - last_retention >= flags->retention_check_interval_ms) {
      last_retention = now;
      if (memory) memory->enforce_retention(now);
      if (disk) {
        if (Status s = disk->enforce_retention(now); !s.is_ok()) log("retention: " + s.message());
      }
    }
    if (now - last_clean >= flags->cleaner_backoff_ms) {
      last_clean = now;
      auto cleaned = clean_logs(now);
      if (!cleaned) log("cleaner: " + cleaned.status().message());
      for (const auto& c : cleaned ? *cleaned : std::vector<disk::CleanedPartition>{}) {
        const auto& s = c.stats;
        log("cleaner: " + partition_name(c.topic, c.partition) + " compacted below offset " +
            std::to_string(s.cleaned_end) + ": " + std::to_string(s.segments_in) + " -> " +
            std::to_string(s.segments_out) + " segments, " + std::to_string(s.records_in) + " -> " +
            std::to_string(s.records_kept) + " records, " + std::to_string(s.bytes_in) + " -> " +
            std::to_string(s.bytes_out) + " bytes");
      }
    }
  }
  (*server)->stop();
  const auto stats = (*server)->stats();
  out << "kappa broker: stopped after " << stats.connections << " connections and "
      << stats.requests << " requests" << std::endl;
  return 0;
}

}  // namespace kappa
