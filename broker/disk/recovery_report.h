// RecoveryReport: what DiskBroker::open() found on disk, partition by partition, so that a
// server can log it at start-up ("events/0: 3 segments, 1200 batches, ...; truncated 37 torn
// bytes at byte 4096 of .../00000000000000000000.log").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kappa {

struct PartitionRecovery {
  std::string topic;
  int32_t partition = 0;
  int64_t segments = 0;
  int64_t batches = 0;
  int64_t records = 0;  // the sum of the batches' recordCount
  int64_t bytes = 0;    // segment bytes kept
  int64_t log_start_offset = 0;
  int64_t end_offset = 0;
  int64_t indexes_rebuilt = 0;  // .index files rewritten because they differed from the log
  // A torn tail of the last segment, cut off at open (truncated_bytes == 0: none).
  int64_t truncated_bytes = 0;
  std::string truncated_file;
  int64_t truncated_at = 0;  // byte position in truncated_file where the cut was made
  std::string truncated_reason;
  // Offsets that were stored, or recorded as durable, and are gone: [from, to) and why. Only
  // Options::repair opens a partition with lost offsets; without it open() refuses.
  struct Lost {
    int64_t from = 0;
    int64_t to = 0;
    std::string why;
  };
  std::vector<Lost> lost;
};

struct RecoveryReport {
  std::vector<PartitionRecovery> partitions;  // in topic, then partition order
  int64_t group_offset_records = 0;           // records replayed from group_offsets.log
  int64_t group_offsets = 0;                  // live (group, topic, partition) entries after replay
  int64_t group_truncated_bytes = 0;          // a torn last record of group_offsets.log, cut off
  bool group_log_compacted = false;           // group_offsets.log was rewritten compactly
  int64_t transactional_ids = 0;              // live ids in transactions.log after replay
  int64_t transactions_truncated_bytes = 0;   // a torn last record of transactions.log, cut off

  // One human-readable line per partition, plus lines for truncations and the group log.
  std::vector<std::string> lines() const;
  // Sum of truncated_bytes over all partitions.
  int64_t truncated_bytes() const;
  // The number of offsets lost over all partitions (Options::repair).
  int64_t lost_offsets() const;
};

}  // namespace kappa
