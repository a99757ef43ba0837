// Namespaces for scenario runs on shared servers. A scenario is a closed experiment: on a real
// Kafka or MySQL that other runs (or people) use, its topics and tables must start empty and
// must not collide. These decorators give every topic, consumer group, table, view and query id
// a run's prefix on the way in and take it off on the way out, so the pipeline and the
// scenario's expectations keep using the plain names ("events", "events_users_v1").
#pragma once

#include <string>

#include "broker/log.h"
#include "pipeline/sinks/sink.h"

namespace kappa {

// A prefix that is a valid SQL identifier start and Kafka topic name: "k" + 10 hex digits + "_".
std::string unique_run_prefix();

class NamespacedLog final : public Log {
 public:
  NamespacedLog(Log& inner, std::string prefix) : inner_(inner), prefix_(std::move(prefix)) {}
  const std::string& prefix() const { return prefix_; }

  std::string describe() const override { return inner_.describe(); }
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

 private:
  std::string name(std::string_view topic) const { return prefix_ + std::string(topic); }
  Log& inner_;
  std::string prefix_;
};

class NamespacedSink final : public Sink {
 public:
  NamespacedSink(Sink& inner, std::string prefix) : inner_(inner), prefix_(std::move(prefix)) {}
  const std::string& prefix() const { return prefix_; }

  // Faults see the plain query ids the scenario names.
  void set_faults(FaultHook* faults) override {
    faults_.outer = faults;
    inner_.set_faults(faults ? &faults_ : nullptr);
  }
  std::string describe() const override { return inner_.describe(); }
  Result<CommitOutcome> commit_batch(const BatchCommit& commit) override;
  Result<bool> table_exists(const std::string& table) override;
  Result<std::vector<TableRow>> read_table(const std::string& table) override;
  Result<std::optional<LedgerEntry>> last_batch(const std::string& query_id) override;
  Result<std::vector<std::string>> writers(const std::string& table) override;
  Status point_view(const std::string& view, const std::string& table) override;
  Result<std::optional<std::string>> view_target(const std::string& view) override;

 private:
  struct StrippingHook final : FaultHook {
    explicit StrippingHook(const NamespacedSink* s) : sink(s) {}
    FaultHook* outer = nullptr;
    const NamespacedSink* sink;
    Status at(std::string_view point, std::string_view query) override {
      return fault_at(outer, point, sink->strip(std::string(query)));
    }
  };
  std::string name(const std::string& n) const { return prefix_ + n; }
  std::string strip(const std::string& n) const;
  Sink& inner_;
  std::string prefix_;
  StrippingHook faults_{this};
};

}  // namespace kappa
