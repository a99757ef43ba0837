// The log cleaner's settings and what a pass did (PartitionStore::clean, MemoryPartition::clean,
// and the brokers' clean_logs).
#pragma once

#include <cstdint>
#include <string>

namespace kappa::disk {

// What the log cleaner of a compacted topic is told (cleanup.policy=compact, topic_config.h).
struct CleanerOptions {
  int64_t now_ms = 0;
  int64_t delete_retention_ms = 86400000;  // delete.retention.ms
  double min_dirty_ratio = 0.5;            // min.cleanable.dirty.ratio
  int64_t min_compaction_lag_ms = 0;       // min.compaction.lag.ms
  // The memory for the map of keys to their latest offset (Kafka's
  // log.cleaner.dedupe.buffer.size): a pass cleans as many segments as their keys fit in.
  int64_t max_key_map_bytes = int64_t{128} << 20;
};

struct CleanerStats {
  bool ran = false;  // false: nothing was due
  int64_t segments_in = 0;
  int64_t segments_out = 0;
  int64_t records_in = 0;
  int64_t records_kept = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int64_t cleaned_end = 0;  // every batch below it has been compacted
};

// What a pass did to one partition (DiskBroker::clean_logs, MemoryBroker::clean_logs).
struct CleanedPartition {
  std::string topic;
  int32_t partition = 0;
  CleanerStats stats;
};

}  // namespace kappa::disk
