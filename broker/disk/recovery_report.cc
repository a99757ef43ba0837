#include "broker/disk/recovery_report.h"

#include "broker/log.h"

namespace kappa {

std::vector<std::string> RecoveryReport::lines() const {
  std::vector<std::string> out;
  for (const PartitionRecovery& p : partitions) {
    out.push_back(
        partition_name(p.topic, p.partition) + ": " + std::to_string(p.segments) + " segments, " +
        std::to_string(p.batches) + " batches, " + std::to_string(p.records) + " records, " +
        std::to_string(p.bytes) + " bytes, offsets [" + std::to_string(p.log_start_offset) + ", " +
        std::to_string(p.end_offset) + ")" +
        (p.indexes_rebuilt > 0 ? ", " + std::to_string(p.indexes_rebuilt) + " indexes rebuilt"
                               : std::string()));
    if (p.truncated_bytes > 0) {
      out.push_back(partition_name(p.topic, p.partition) + ": truncated " +
                    std::to_string(p.truncated_bytes) + " torn bytes at byte " +
                    std::to_string(p.truncated_at) + " of " + p.truncated_file + " (" +
                    p.truncated_reason + ")");
    }
    for (const PartitionRecovery::Lost& l : p.lost) {
      out.push_back(partition_name(p.topic, p.partition) + ": lost offsets [" +
                    std::to_string(l.from) + ", " + std::to_string(l.to) + ") (" + l.why + ")");
    }
  }
  std::string groups = "group offsets: " + std::to_string(group_offsets) + " entries from " +
                       std::to_string(group_offset_records) + " records";
  if (group_truncated_bytes > 0) {
    groups += ", truncated " + std::to_string(group_truncated_bytes) + " torn bytes";
  }
  if (group_log_compacted) groups += ", compacted";
  out.push_back(std::move(groups));
  if (transactional_ids > 0 || transactions_truncated_bytes > 0) {
    std::string txns = "transactions: " + std::to_string(transactional_ids) + " transactional ids";
    if (transactions_truncated_bytes > 0) {
      txns += ", truncated " + std::to_string(transactions_truncated_bytes) + " torn bytes";
    }
    out.push_back(std::move(txns));
  }
  return out;
}

int64_t RecoveryReport::truncated_bytes() const {
  int64_t n = 0;
  for (const PartitionRecovery& p : partitions) n += p.truncated_bytes;
  return n;
}

int64_t RecoveryReport::lost_offsets() const {
  int64_t n = 0;
  for (const PartitionRecovery& p : partitions) {
    for (const PartitionRecovery::Lost& l : p.lost) n += l.to - l.from;
  }
  return n;
}

}  // namespace kappa
