// The embedded broker: named topics of N in-memory partitions (partition_log.h), Kafka's default
// partitioner for records without an explicit partition, and committed offsets per consumer
// group. It is the default `Log` for scenarios and tests; it answers in microseconds and needs
// no server.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "broker/embedded/partition_log.h"
#include "broker/log.h"
#include "broker/topic_table.h"

namespace kappa {

class EmbeddedBroker final : public Log {
 public:
  struct Options {
    bool auto_create_topics = true;  // produce to a missing topic creates it, as Kafka does
    int32_t default_partitions = 1;  // Kafka's num.partitions default
    int32_t sticky_batch = 1;        // null-key records per partition before moving on
  };

  EmbeddedBroker() : EmbeddedBroker(Options{}) {}
  explicit EmbeddedBroker(Options options)
      : options_(options), topics_(options.sticky_batch, [](std::string_view, int32_t p) {
          return std::make_shared<PartitionLog>(p);
        }) {}

  std::string describe() const override { return "embedded"; }
  Status create_topic(std::string_view topic, int32_t partitions) override {
    return topics_.create(topic, partitions);
  }
  // Deleting drops the topic's records (once no fetch result points into them) and its
  // committed offsets; growing adds empty partitions.
  Status delete_topic(std::string_view topic) override;
  Status add_partitions(std::string_view topic, int32_t partitions) override {
    return topics_.grow(topic, partitions);
  }
  Result<int32_t> partition_count(std::string_view topic) override {
    return topics_.partition_count(topic);
  }
  Result<std::vector<std::string>> list_topics() override { return topics_.names(); }
  Result<std::vector<Appended>> produce(std::string_view topic,
                                        std::span<const OutgoingRecord> records) override;
  Result<FetchResult> fetch(std::string_view topic, int32_t partition, int64_t offset,
                            const FetchLimits& limits) override;
  Result<OffsetRange> offsets(std::string_view topic, int32_t partition) override;
  // One topic lookup for every partition: each micro-batch asks this of every source.
  Result<std::vector<PartitionOffset>> end_offsets(std::string_view topic) override;
  Result<int64_t> offset_for_time(std::string_view topic, int32_t partition,
                                  int64_t timestamp_ms) override;
  Status commit_offsets(std::string_view group, std::string_view topic,
                        std::span<const PartitionOffset> offsets) override;
  Result<std::vector<PartitionOffset>> committed_offsets(std::string_view group,
                                                         std::string_view topic) override;

 private:
  const Options options_;
  TopicTable<PartitionLog> topics_;
  std::mutex groups_mu_;
  std::map<std::tuple<std::string, std::string, int32_t>, int64_t> committed_;
};

}  // namespace kappa
