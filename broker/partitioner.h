// Kafka's default partitioning, so that a key lands on the same partition here as on a real
// Kafka cluster with the Java client's default partitioner (and librdkafka's murmur2_random):
//   keyed record:  toPositive(murmur2(key)) % partitions, toPositive(x) = x & 0x7fffffff
//   null key:      sticky (stay on one partition for `sticky_batch` records, then move to the
//                  next one, round-robin); sticky_batch = 1 is plain round-robin.
// The null-key choice is deterministic here (a real client picks the next sticky partition at
// random), so that scenario runs repeat exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "broker/record.h"
#include "broker/result.h"

namespace kappa {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit value.
int32_t kafka_murmur2(std::string_view data);

// The partition Kafka's default partitioner gives a keyed record.
int32_t partition_for_key(std::string_view key, int32_t partitions);

class Partitioner {
 public:
  explicit Partitioner(int32_t sticky_batch = 1)
      : sticky_batch_(sticky_batch < 1 ? 1 : sticky_batch) {}

  // REQUIRES: partitions >= 1.
  int32_t partition(const std::optional<std::string_view>& key, int32_t partitions);

 private:
  int32_t sticky_batch_;
  int32_t current_ = 0;
  int32_t used_in_current_ = 0;
};

// Where each record of a produce call goes, as a broker routes them: its explicit partition,
// which must exist (kNotFound naming topic/partition otherwise), or, for kAnyPartition, the
// partitioner's choice. Returns the records' indexes per partition, in input order.
// REQUIRES: calls with one partitioner are serialized; partitions >= 1.
Result<std::vector<std::vector<size_t>>> route_records(std::string_view topic,
                                                       std::span<const OutgoingRecord> records,
                                                       Partitioner& partitioner,
                                                       int32_t partitions);

}  // namespace kappa
