#include "broker/partitioner.h"

#include <cstring>

#include "broker/log.h"

namespace kappa {

int32_t kafka_murmur2(std::string_view data) {
  // Constants and mixing steps of Kafka's Utils.murmur2 (MurmurHash2, 32-bit, fixed seed).
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const auto length = static_cast<uint32_t>(data.size());
  uint32_t h = kSeed ^ length;
  const uint32_t whole = length / 4;
  for (uint32_t i = 0; i < whole; ++i) {
    const unsigned char* p = bytes + 4 * i;
    uint32_t k =
        uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const unsigned char* tail = bytes + 4 * whole;
  switch (length % 4) {
    case 3:
      h ^= uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{tail[0]};
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t partition_for_key(std::string_view key, int32_t partitions) {
  if (partitions == 1) return 0;  // what the hash would give, without hashing
  const auto positive = static_cast<uint32_t>(kafka_murmur2(key)) & 0x7fffffffU;
  return static_cast<int32_t>(positive % static_cast<uint32_t>(partitions));
}

int32_t Partitioner::partition(const std::optional<std::string_view>& key, int32_t partitions) {
  if (key) return partition_for_key(*key, partitions);
  if (current_ >= partitions) current_ = 0;
  if (used_in_current_ >= sticky_batch_) {
    used_in_current_ = 0;
    current_ = (current_ + 1) % partitions;
  }
  ++used_in_current_;
  return current_;
}

Result<std::vector<std::vector<size_t>>> route_records(std::string_view topic,
                                                       std::span<const OutgoingRecord> records,
                                                       Partitioner& partitioner,
                                                       int32_t partitions) {
  std::vector<std::vector<size_t>> by_partition(static_cast<size_t>(partitions));
  for (size_t i = 0; i < records.size(); ++i) {
    int32_t p = records[i].partition;
    if (p == kAnyPartition) {
      p = partitioner.partition(records[i].key, partitions);
    } else if (p < 0 || p >= partitions) {
      return Status::not_found("partition " + partition_name(topic, p) + " does not exist (" +
                               std::to_string(partitions) + " partitions)");
    }
    by_partition[static_cast<size_t>(p)].push_back(i);
  }
  return by_partition;
}

}  // namespace kappa
