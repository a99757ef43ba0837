// The records one micro-batch produces to topics, written so that re-running the batch after a
// crash duplicates nothing (Spark's Kafka sink is at-least-once; ours is exactly-once).
//
// Every record carries the header `kappa.origin` = "<query id>:<batch id>". Before the batch
// writes, prepare() scans each output partition from the end offset recorded in the batch's plan
// and counts the records that already carry this batch's origin: an earlier attempt wrote them
// before it died. That many of this attempt's records for that partition are skipped. Other
// writers may interleave (the dead-letter topic has several); only our origin is counted.
//
// REQUIRES: a batch's outputs are deterministic: the same records to the same partitions in the
// same order on every attempt (keyed records use Kafka's partitioner; unkeyed ones must name
// their partition).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/log.h"

namespace kappa {

inline constexpr std::string_view kOriginHeader = "kappa.origin";

class BatchOutput {
 public:
  BatchOutput(Log& log, std::string origin) : log_(log), origin_(std::move(origin)) {}

  const std::string& origin() const { return origin_; }

  // Starts over for another batch (nothing buffered, prepare() to be called again); the buffers
  // keep their memory.
  void reset(std::string_view origin);

  // planned: output topic -> its end offsets when the batch was planned.
  Status prepare(const std::map<std::string, std::vector<PartitionOffset>>& planned);

  // The handle of a topic given to prepare(), for add().
  size_t topic(std::string_view name) const;

  // Buffers a record. partition == kAnyPartition routes by key (REQUIRES a key).
  void add(size_t topic, std::optional<std::string_view> key, std::string_view value,
           int64_t timestamp_ms, int32_t partition = kAnyPartition);

  // Produces what is buffered.
  Status flush();

  // Partition count of a prepared topic.
  int32_t partitions(size_t topic) const { return topics_[topic].partitions; }

  int64_t written() const { return written_; }
  int64_t skipped() const { return skipped_; }

 private:
  struct TopicState {
    std::string name;
    int32_t partitions = 1;
    std::vector<int64_t> already;  // records of this batch found in the log, per partition
    std::vector<int64_t> seen;     // records of this attempt so far, per partition
  };
  struct Pending {
    size_t topic;
    int32_t partition;
    bool has_key;
    size_t key_at, key_len, value_at, value_len;
    int64_t timestamp_ms;
  };

  Log& log_;
  std::string origin_;
  std::vector<TopicState> topics_;
  std::string bytes_;
  std::vector<Pending> pending_;
  std::vector<OutgoingRecord> out_;  // reused by flush()
  int64_t written_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace kappa
