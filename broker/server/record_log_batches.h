// RecordLogBatches: any record-level Log seen as a BatchLog, so the Kafka server can expose the
// in-memory EmbeddedBroker of a running scenario. Produced batches are decoded and appended as
// records; reads encode the records from the asked offset on as one uncompressed batch.
// Group offsets keep their metadata here, in memory, beside the Log's own committed offsets, and
// so does the producer state of idempotent producers. A Log cannot forget a committed offset, so
// deleted ones (OffsetDelete, DeleteGroups) are hidden here until committed again; and a Log
// cannot list its groups, so ListGroups sees the groups committed through this adapter.
// Transactional batches and markers become records too (a marker is one record, as in Kafka,
// so offsets are Kafka's); the adapter remembers which offsets each such batch covered, with
// its attributes and producer fields, and encodes them back as batches of their own, so
// Kafka clients see transactions as a Kafka broker serves them. The Log's own readers (a
// scenario's jobs) see the records of every transaction, markers included. The transaction
// coordinator's state is kept in memory, like the records.
//
// Thread safety: as the wrapped Log; the metadata map has its own lock.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "broker/protocol/batch_log.h"
#include "broker/protocol/record_batch.h"

namespace kappa {

class RecordLogBatches final : public BatchLog {
 public:
  explicit RecordLogBatches(Log& log) : log_(log) {}

  std::string describe() const override { return log_.describe(); }
  Status create_topic(std::string_view topic, int32_t partitions) override {
    return log_.create_topic(topic, partitions);
  }
  Status delete_topic(std::string_view topic) override;
  Status add_partitions(std::string_view topic, int32_t partitions) override {
    return log_.add_partitions(topic, partitions);
  }
  Result<int32_t> partition_count(std::string_view topic) override {
    return log_.partition_count(topic);
  }
  Result<std::vector<std::string>> list_topics() override { return log_.list_topics(); }
  Result<std::vector<Appended>> produce(std::string_view topic,
                                        std::span<const OutgoingRecord> records) override {
    return log_.produce(topic, records);
  }
  Result<FetchResult> fetch(std::string_view topic, int32_t partition, int64_t offset,
                            const FetchLimits& limits) override;
  Result<OffsetRange> offsets(std::string_view topic, int32_t partition) override;
  Result<std::vector<PartitionOffset>> end_offsets(std::string_view topic) override {
    return log_.end_offsets(topic);
  }
  Result<int64_t> offset_for_time(std::string_view topic, int32_t partition,
                                  int64_t timestamp_ms) override;
  Status commit_offsets(std::string_view group, std::string_view topic,
                        std::span<const PartitionOffset> offsets) override {
    return log_.commit_offsets(group, topic, offsets);
  }
  Result<std::vector<PartitionOffset>> committed_offsets(std::string_view group,
                                                         std::string_view topic) override {
    return log_.committed_offsets(group, topic);
  }

  Result<int64_t> append_batch(std::string_view topic, int32_t partition,
                               std::string batch) override;
  Result<ProducerStates::Check> check_producer(std::string_view topic, int32_t partition,
                                               const RecordBatchHeader& header) override;
  Result<BatchRead> read_batches(std::string_view topic, int32_t partition, int64_t offset,
                                 int64_t max_bytes) override;
  Status sync(std::string_view, int32_t) override { return Status::ok(); }
  Status commit_group_offsets(std::string_view group, std::string_view topic,
                              std::span<const GroupOffset> offsets) override;
  Result<std::vector<GroupOffset>> group_offsets(std::string_view group,
                                                 std::string_view topic) override;
  Result<std::vector<std::string>> offset_groups() override;
  Status delete_group_offsets(std::string_view group, std::string_view topic,
                              std::span<const int32_t> partitions) override;
  Status delete_group(std::string_view group) override;
  Result<int64_t> max_timestamp(std::string_view topic, int32_t partition) override;
  Result<TransactionIndex> transaction_index(std::string_view topic, int32_t partition,
                                             int64_t from, int64_t to) override;
  Status put_transaction_state(std::string_view transactional_id, std::string_view state) override;
  Result<std::vector<std::pair<std::string, std::string>>> transaction_states() override;
  Status create_configured_topic(std::string_view topic, int32_t partitions,
                                 const TopicConfigs& configs) override;
  Result<TopicConfigs> topic_configs(std::string_view topic) override;
  Status set_topic_configs(std::string_view topic, const TopicConfigs& configs) override;
  Result<TopicSettings> topic_settings(std::string_view topic) override;
  // In memory the records below the new log start stop being served; their memory is kept.
  Result<int64_t> delete_records(std::string_view topic, int32_t partition,
                                 int64_t offset) override;
  // The bytes of the keys, values and headers of the records it serves (from the log start),
  // counted by reading them: for DescribeLogDirs, an administrator's request.
  Result<int64_t> partition_bytes(std::string_view topic, int32_t partition) override;

 private:
  Log& log_;
  std::mutex mu_;
  using Key = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
  std::map<Key, std::string> metadata_;
  std::set<Key> deleted_;  // committed in log_, deleted since: not shown
  std::set<std::string, std::less<>> groups_;
  // Idempotent producers per partition; in memory, like the records.
  std::map<std::pair<std::string, int32_t>, ProducerStates, std::less<>> producers_;
  // The offsets of each transactional batch or marker ([base, last]) and who wrote it.
  struct WrittenBy {
    int64_t last_offset;
    BatchProducer producer;
  };
  std::map<std::pair<std::string, int32_t>, std::map<int64_t, WrittenBy>, std::less<>>
      transactional_;
  std::map<std::string, std::string, std::less<>> transaction_states_;
  // Log start offsets moved by delete_records, above the log's own.
  int64_t start_of(std::string_view topic, int32_t partition);
  Status below_start(std::string_view topic, int32_t partition, int64_t offset);
  std::map<std::pair<std::string, int32_t>, int64_t, std::less<>> starts_;
  // Topic config overrides, in memory like the records.
  TopicConfigMap configs_;
};

}  // namespace kappa
