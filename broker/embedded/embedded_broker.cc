#include "broker/embedded/embedded_broker.h"

#include <algorithm>

namespace kappa {

Status EmbeddedBroker::delete_topic(std::string_view topic) {
  KAPPA_RETURN_IF_ERROR(topics_.erase(topic));
  std::lock_guard lock(groups_mu_);
  std::erase_if(committed_, [&](const auto& e) { return std::get<1>(e.first) == topic; });
  return Status::ok();
}

Result<std::vector<Appended>> EmbeddedBroker::produce(std::string_view topic,
                                                      std::span<const OutgoingRecord> records) {
  auto found =
      topics_.find_or_create(topic, options_.auto_create_topics, options_.default_partitions);
  if (!found) return found.status();
  auto& t = **found;
  const auto n = static_cast<int32_t>(t.partitions.size());

  std::vector<Appended> placed(records.size());
  if (n == 1 && t.route_to_first(records)) {
    const int64_t first = t.partitions[0]->append(records);
    for (size_t i = 0; i < placed.size(); ++i) placed[i] = {0, first + static_cast<int64_t>(i)};
    return placed;
  }
  // Route every record first, then append each partition's share in one locked call.
  auto routed = t.route(topic, records);
  if (!routed) return routed.status();
  std::vector<const OutgoingRecord*> batch;
  for (int32_t p = 0; p < n; ++p) {
    const auto& idx = (*routed)[static_cast<size_t>(p)];
    if (idx.empty()) continue;
    batch.clear();
    for (size_t i : idx) batch.push_back(&records[i]);
    const int64_t first = t.partitions[static_cast<size_t>(p)]->append(batch);
    for (size_t k = 0; k < idx.size(); ++k) placed[idx[k]] = {p, first + static_cast<int64_t>(k)};
  }
  return placed;
}

Result<FetchResult> EmbeddedBroker::fetch(std::string_view topic, int32_t partition, int64_t offset,
                                          const FetchLimits& limits) {
  auto found = topics_.partition(topic, partition);
  if (!found) return found.status();
  PartitionLog& log = **found;
  const OffsetRange range = log.offsets();
  if (offset < range.earliest || offset > range.end) {
    return Status::out_of_range(
        "offset " + std::to_string(offset) + " is outside " + partition_name(topic, partition) +
        " [" + std::to_string(range.earliest) + ", " + std::to_string(range.end) + ")");
  }
  FetchResult result;
  const int64_t wanted =
      std::min(limits.max_records, std::min(range.end, limits.end_offset) - offset);
  if (wanted > 0) result.records.reserve(static_cast<size_t>(wanted));
  result.next_offset = log.read(offset, limits, result.records);
  result.end_offset = range.end;
  result.owner = *found;  // the records' bytes outlive a deletion of the topic
  return result;
}

Result<OffsetRange> EmbeddedBroker::offsets(std::string_view topic, int32_t partition) {
  auto found = topics_.partition(topic, partition);
  if (!found) return found.status();
  return (*found)->offsets();
}

Result<std::vector<PartitionOffset>> EmbeddedBroker::end_offsets(std::string_view topic) {
  auto t = topics_.find(topic);
  if (!t) return partition_count(topic).status();  // the same error as every other call
  std::vector<PartitionOffset> out;
  out.reserve(t->partitions.size());
  for (size_t p = 0; p < t->partitions.size(); ++p)
    out.push_back({static_cast<int32_t>(p), t->partitions[p]->offsets().end});
  return out;
}

Result<int64_t> EmbeddedBroker::offset_for_time(std::string_view topic, int32_t partition,
                                                int64_t timestamp_ms) {
  auto found = topics_.partition(topic, partition);
  if (!found) return found.status();
  return (*found)->offset_for_time(timestamp_ms);
}

Status EmbeddedBroker::commit_offsets(std::string_view group, std::string_view topic,
                                      std::span<const PartitionOffset> offsets) {
  if (group.empty()) return Status::invalid_argument("consumer group id must not be empty");
  std::lock_guard lock(groups_mu_);
  for (const auto& po : offsets) {
    committed_[{std::string(group), std::string(topic), po.partition}] = po.offset;
  }
  return Status::ok();
}

Result<std::vector<PartitionOffset>> EmbeddedBroker::committed_offsets(std::string_view group,
                                                                       std::string_view topic) {
  std::lock_guard lock(groups_mu_);
  std::vector<PartitionOffset> out;
  const std::string g(group), t(topic);
  for (auto it = committed_.lower_bound({g, t, 0}); it != committed_.end(); ++it) {
    const auto& [kg, kt, kp] = it->first;
    if (kg != g || kt != t) break;
    out.push_back({kp, it->second});
  }
  return out;
}

}  // namespace kappa
