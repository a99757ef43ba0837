// The Log seam: everything a job may ask of a Kafka-like log, and nothing more. Jobs hold a
// `Log&` and never know whether it is the embedded broker (broker/embedded/), the durable one
// (broker/disk/) or a real Kafka cluster (broker/client/).
//
// Promises every implementation keeps:
//  - offsets in a partition start at the partition's earliest offset and grow by one per record;
//  - produce() returns only after the records are stored (acks=all), in the order given;
//  - fetch() returns records in offset order, never past `limits.end_offset`;
//  - errors are Status values naming the topic/partition/offset involved.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/record.h"
#include "broker/result.h"

namespace kappa {

struct FetchLimits {
  int64_t max_records = std::numeric_limits<int64_t>::max();
  int64_t max_bytes = std::numeric_limits<int64_t>::max();   // at least one record is returned
  int64_t end_offset = std::numeric_limits<int64_t>::max();  // exclusive upper bound
};

struct PartitionOffset {
  int32_t partition = 0;
  int64_t offset = 0;
  friend bool operator==(const PartitionOffset&, const PartitionOffset&) = default;
};

class Log {
 public:
  virtual ~Log() = default;

  // A short, password-free description: "embedded", "kafka://127.0.0.1:9092".
  virtual std::string describe() const = 0;

  // Creates the topic; succeeds if it exists with the same partition count.
  virtual Status create_topic(std::string_view topic, int32_t partitions) = 0;
  virtual Result<int32_t> partition_count(std::string_view topic) = 0;
  // Topic administration (Kafka's DeleteTopics and CreatePartitions). Deleting removes the
  // topic's records and every group's committed offsets of it: a topic created again under the
  // name starts empty at offset 0. Growing adds empty partitions up to `partitions`
  // (kInvalidArgument when that is no more than the topic has). kNotFound for a missing topic.
  // A log that cannot do either answers kFailedPrecondition, the default.
  virtual Status delete_topic(std::string_view topic);
  virtual Status add_partitions(std::string_view topic, int32_t partitions);
  virtual Result<std::vector<std::string>> list_topics() = 0;

  // Appends records; a record with partition == kAnyPartition goes where Kafka's default
  // partitioner would put it. Returns where each record landed, in input order.
  virtual Result<std::vector<Appended>> produce(std::string_view topic,
                                                std::span<const OutgoingRecord> records) = 0;

  // Records of one partition from `offset` on, within `limits`. Fetching at the end offset
  // returns no records; fetching outside [earliest, end] is kOutOfRange.
  virtual Result<FetchResult> fetch(std::string_view topic, int32_t partition, int64_t offset,
                                    const FetchLimits& limits) = 0;

  virtual Result<OffsetRange> offsets(std::string_view topic, int32_t partition) = 0;

  // The end offset of every partition of the topic, in partition order. A micro-batch asks at
  // every trigger; a remote log answers in one request (the default asks partition by partition).
  virtual Result<std::vector<PartitionOffset>> end_offsets(std::string_view topic);

  // The first offset whose record timestamp is >= timestamp_ms, or the end offset if none.
  virtual Result<int64_t> offset_for_time(std::string_view topic, int32_t partition,
                                          int64_t timestamp_ms) = 0;

  // Consumer-group offsets (the next offset to read), as Kafka's OffsetCommit/OffsetFetch.
  virtual Status commit_offsets(std::string_view group, std::string_view topic,
                                std::span<const PartitionOffset> offsets) = 0;
  virtual Result<std::vector<PartitionOffset>> committed_offsets(std::string_view group,
                                                                 std::string_view topic) = 0;
};

// Calls visit(record) for every record of one partition in [from, to), in offset order, asking
// the log for at most `batch` records at a time. Returns the log's first error; stops early when
// the log has nothing more (a partition truncated by retention).
template <class Visit>
Status scan_records(Log& log, std::string_view topic, int32_t partition, int64_t from, int64_t to,
                    Visit&& visit, int64_t batch = 4096) {
  while (from < to) {
    auto got =
        log.fetch(topic, partition, from, FetchLimits{.max_records = batch, .end_offset = to});
    if (!got) return got.status();
    if (got->records.empty()) break;
    for (const RecordView& r : got->records) visit(r);
    from = got->next_offset;
  }
  return Status::ok();
}

// "topic/partition" and "topic/partition@offset", the one way errors and traces name places.
std::string partition_name(std::string_view topic, int32_t partition);
std::string record_name(std::string_view topic, int32_t partition, int64_t offset);

// Validates a topic name as Kafka does: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
Status validate_topic_name(std::string_view topic);

}  // namespace kappa
