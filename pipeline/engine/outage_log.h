// A Log that forwards to another and refuses every call with kUnavailable while an outage lasts,
// as a client sees a broker that is down. The outage is measured on the injected Clock, so it
// ends when simulated time passes it. Used for the "broker unavailable" fault.
#pragma once

#include "broker/log.h"
#include "pipeline/time/clock.h"

namespace kappa {

class OutageLog final : public Log {
 public:
  OutageLog(Log& inner, const Clock& clock) : inner_(inner), clock_(clock) {}

  // Every call fails until the clock reaches until_ms.
  void fail_until(int64_t until_ms) { until_ms_ = until_ms; }
  bool down() const { return clock_.now_ms() < until_ms_; }

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
  Status unavailable() const;

  Log& inner_;
  const Clock& clock_;
  int64_t until_ms_ = 0;
};

}  // namespace kappa
