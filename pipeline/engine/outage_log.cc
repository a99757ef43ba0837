#include "pipeline/engine/outage_log.h"

namespace kappa {

Status OutageLog::unavailable() const {
  return Status::unavailable("the broker (" + inner_.describe() + ") is unavailable for another " +
                             std::to_string((until_ms_ - clock_.now_ms() + 999) / 1000) + " s");
}

#define KAPPA_UNLESS_DOWN(call)     \
  if (down()) return unavailable(); \
  return inner_.call

Status OutageLog::create_topic(std::string_view topic, int32_t partitions) {
  KAPPA_UNLESS_DOWN(create_topic(topic, partitions));
}
Result<int32_t> OutageLog::partition_count(std::string_view topic) {
  KAPPA_UNLESS_DOWN(partition_count(topic));
}
Result<std::vector<std::string>> OutageLog::list_topics() { KAPPA_UNLESS_DOWN(list_topics()); }
Result<std::vector<Appended>> OutageLog::produce(std::string_view topic,
                                                 std::span<const OutgoingRecord> records) {
  KAPPA_UNLESS_DOWN(produce(topic, records));
}
Result<FetchResult> OutageLog::fetch(std::string_view topic, int32_t partition, int64_t offset,
                                     const FetchLimits& limits) {
  KAPPA_UNLESS_DOWN(fetch(topic, partition, offset, limits));
}
Result<OffsetRange> OutageLog::offsets(std::string_view topic, int32_t partition) {
  KAPPA_UNLESS_DOWN(offsets(topic, partition));
}
Result<std::vector<PartitionOffset>> OutageLog::end_offsets(std::string_view topic) {
  KAPPA_UNLESS_DOWN(end_offsets(topic));
}
Result<int64_t> OutageLog::offset_for_time(std::string_view topic, int32_t partition,
                                           int64_t timestamp_ms) {
  KAPPA_UNLESS_DOWN(offset_for_time(topic, partition, timestamp_ms));
}
Status OutageLog::commit_offsets(std::string_view group, std::string_view topic,
                                 std::span<const PartitionOffset> offsets) {
  KAPPA_UNLESS_DOWN(commit_offsets(group, topic, offsets));
}
Result<std::vector<PartitionOffset>> OutageLog::committed_offsets(std::string_view group,
                                                                  std::string_view topic) {
  KAPPA_UNLESS_DOWN(committed_offsets(group, topic));
}

#undef KAPPA_UNLESS_DOWN

}  // namespace kappa
