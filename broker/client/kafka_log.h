// The Log seam on a real Kafka cluster, through librdkafka (Debian bookworm: 2.0.2).
//
// How each promise of log.h is kept on Kafka:
//  - produce() writes with acks=all and gzip (as the lab's fluentd did), one request in flight
//    (so the order given is the order stored), then flushes and waits for every delivery
//    report: when it returns, the records are in the log and their offsets are known.
//    kAnyPartition leaves the choice to librdkafka's murmur2_random partitioner, which is
//    Kafka's Java default (murmur2 of the key; no key: any partition).
//  - fetch() assigns the one partition to a consumer at the offset asked (no group join, no
//    auto-commit) and reads up to the limits and the partition's end, as it was when fetch()
//    began: the answer never runs past the end the caller saw in offsets().
//  - offsets() asks the broker for the partition's low and high watermarks.
//  - create_topic() uses the Admin API (replication factor 1 unless the URL says
//    ?replication_factor=N; retention unlimited, since the log is the source of truth and
//    replayed records carry old timestamps) and waits until the metadata shows its partitions.
//  - Group offsets are committed and fetched with a consumer of that group, without joining it.
//
// Not thread-safe: one KafkaLog per thread (the pipeline is single-threaded).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "broker/group.h"
#include "broker/log.h"

namespace kappa {

class KafkaLog final : public Log {
 public:
  // `url`: kafka://HOST:PORT[,HOST:PORT...][?replication_factor=N]. Connects lazily; the first
  // call that needs the cluster reports kUnavailable when it cannot be reached within
  // `timeout_ms`.
  static Result<std::unique_ptr<KafkaLog>> open(std::string_view url, int timeout_ms = 10000);
  ~KafkaLog() override;

  std::string describe() const override;
  Status create_topic(std::string_view topic, int32_t partitions) override;
  Result<int32_t> partition_count(std::string_view topic) override;
  Result<std::vector<std::string>> list_topics() override;
  Result<std::vector<Appended>> produce(std::string_view topic,
                                        std::span<const OutgoingRecord> records) override;
  Result<FetchResult> fetch(std::string_view topic, int32_t partition, int64_t offset,
                            const FetchLimits& limits) override;
  Result<OffsetRange> offsets(std::string_view topic, int32_t partition) override;
  Result<std::vector<PartitionOffset>> end_offsets(std::string_view topic) override;
  Result<int64_t> offset_for_time(std::string_view topic, int32_t partition,
                                  int64_t timestamp_ms) override;
  Status commit_offsets(std::string_view group, std::string_view topic,
                        std::span<const PartitionOffset> offsets) override;
  Result<std::vector<PartitionOffset>> committed_offsets(std::string_view group,
                                                         std::string_view topic) override;

  // Deletes topics (tests and namespaced scenario runs clean up after themselves).
  Status delete_topics(const std::vector<std::string>& topics);

  // Joins consumer group `group` for `topic` (subscribe; partitions assigned by the group's
  // range/round-robin assignor). The member fetches nothing itself: assigned partitions are
  // paused, and reads go through fetch().
  Result<std::unique_ptr<GroupMembership>> join_group(std::string_view group,
                                                      std::string_view topic);

 private:
  struct Impl;
  explicit KafkaLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kappa
