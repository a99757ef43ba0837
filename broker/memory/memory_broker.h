// MemoryBroker: the in-memory BatchLog behind `kappa broker` without --data. Producers'
// RecordBatches are kept as they came (memory_partition.h: segments of batches back to back
// and a sparse index, the disk broker's layout without the files) and fetches are answered by
// copying whole stored batches, so the Kafka path neither decodes, re-encodes nor checksums a
// batch again, and memory is the data plus a small index per partition. Nothing is durable:
// sync() has nothing to do and durable() is false.
//
// Everything else is kept as the durable DiskBroker keeps it, in memory: idempotent producers'
// state and each partition's open and aborted transactions (derived from the batches as they
// are appended), group offsets with their metadata and the transaction coordinator's state
// (disk::GroupOffsetLog::in_memory()), and topic config overrides, which act as in the disk
// broker: segment.bytes (up to the 4 MiB of a memory segment), retention.ms and
// retention.bytes by enforce_retention, cleanup.policy=compact by clean_logs (whose caller
// runs them from time to time, as `kappa broker` does). The record-level Log methods, for
// in-process readers, encode produced records as uncompressed batches and decode fetched ones
// (batch_records.h).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/disk/cleaner.h"
#include "broker/memory/memory_partition.h"
#include "broker/protocol/batch_log.h"
#include "broker/topic_table.h"

namespace kappa {

namespace disk {
class GroupOffsetLog;
}  // namespace disk

class MemoryBroker final : public BatchLog {
 public:
  struct Options {
    bool auto_create_topics = true;     // produce to a missing topic creates it, as Kafka does
    int32_t default_partitions = 1;     // Kafka's num.partitions default
    int32_t sticky_batch = 1;           // null-key records per partition before moving on
    int64_t max_batch_bytes = 1048588;  // the batches produce() encodes: Kafka's default
    // What a topic without overrides does (Kafka's log.* settings).
    int64_t segment_bytes = int64_t{4} << 20;  // at most that of a memory segment
    int64_t retention_ms = -1;                 // -1: unlimited
    int64_t retention_bytes = -1;              // per partition; -1: unlimited
    disk::CleanerOptions cleaner{};            // the log cleaner's (Kafka's log.cleaner.*)
  };

  MemoryBroker() : MemoryBroker(Options{}) {}
  explicit MemoryBroker(Options options);
  ~MemoryBroker() override;
  const Options& options() const { return options_; }
  MemoryBroker(const MemoryBroker&) = delete;
  MemoryBroker& operator=(const MemoryBroker&) = delete;

  // Log
  std::string describe() const override { return "memory"; }
  Status create_topic(std::string_view topic, int32_t partitions) override {
    return topics_.create(topic, partitions);
  }
  // Deleting drops the topic's batches (once no read holds them), configs and every group's
  // committed offsets of it.
  Status delete_topic(std::string_view topic) override;
  Status add_partitions(std::string_view topic, int32_t partitions) override;
  Result<int32_t> partition_count(std::string_view topic) override {
    return topics_.partition_count(topic);
  }
  Result<std::vector<std::string>> list_topics() override { return topics_.names(); }
  Result<std::vector<Appended>> produce(std::string_view topic,
                                        std::span<const OutgoingRecord> records) override;
  Result<FetchResult> fetch(std::string_view topic, int32_t partition, int64_t offset,
                            const FetchLimits& limits) override;
  Result<OffsetRange> offsets(std::string_view topic, int32_t partition) override;
  Result<int64_t> offset_for_time(std::string_view topic, int32_t partition,
                                  int64_t timestamp_ms) override;
  Status commit_offsets(std::string_view group, std::string_view topic,
                        std::span<const PartitionOffset> offsets) override;
  Result<std::vector<PartitionOffset>> committed_offsets(std::string_view group,
                                                         std::string_view topic) override;

  // BatchLog
  Result<int64_t> append_batch(std::string_view topic, int32_t partition,
                               std::string batch) override;
  Result<ProducerStates::Check> check_producer(std::string_view topic, int32_t partition,
                                               const RecordBatchHeader& header) override;
  Result<BatchRead> read_batches(std::string_view topic, int32_t partition, int64_t offset,
                                 int64_t max_bytes) override;
  Status sync(std::string_view topic, int32_t partition) override;
  Status commit_group_offsets(std::string_view group, std::string_view topic,
                              std::span<const GroupOffset> offsets) override;
  Result<std::vector<GroupOffset>> group_offsets(std::string_view group,
                                                 std::string_view topic) override;
  Result<std::vector<std::string>> offset_groups() override;
  Status delete_group_offsets(std::string_view group, std::string_view topic,
                              std::span<const int32_t> partitions) override;
  Status delete_group(std::string_view group) override;
  Result<int64_t> max_timestamp(std::string_view topic, int32_t partition) override;
  Result<int64_t> partition_bytes(std::string_view topic, int32_t partition) override;
  Result<TransactionIndex> transaction_index(std::string_view topic, int32_t partition,
                                             int64_t from, int64_t to) override;
  Status put_transaction_state(std::string_view transactional_id, std::string_view state) override;
  Result<std::vector<std::pair<std::string, std::string>>> transaction_states() override;
  Status create_configured_topic(std::string_view topic, int32_t partitions,
                                 const TopicConfigs& configs) override;
  Result<TopicConfigs> topic_configs(std::string_view topic) override;
  Status set_topic_configs(std::string_view topic, const TopicConfigs& configs) override;
  Result<TopicSettings> topic_settings(std::string_view topic) override;
  Result<int64_t> delete_records(std::string_view topic, int32_t partition,
                                 int64_t offset) override;

  // Frees, in every partition of every topic whose cleanup.policy has delete, the segments
  // older than retention.ms (by their newest timestamp) or beyond retention.bytes, as
  // DiskBroker::enforce_retention does.
  void enforce_retention(int64_t now_ms);
  // Runs the log cleaner (MemoryPartition::clean) on every partition of every topic with
  // cleanup.policy=compact; returns what each pass that ran did.
  Result<std::vector<disk::CleanedPartition>> clean_logs(int64_t now_ms);

 private:
  // Gives the topic's partitions its segment.bytes.
  void apply_limits(std::string_view topic);

  const Options options_;
  TopicTable<MemoryPartition> topics_;
  std::unique_ptr<disk::GroupOffsetLog> groups_;
  std::unique_ptr<disk::GroupOffsetLog> transactions_;
  // Serializes creating, deleting and configuring topics, so that a topic is never without the
  // overrides it was created with, nor a new one with those of a deleted one of the name.
  std::mutex admin_mu_;
  TopicConfigMap configs_;
};

}  // namespace kappa
