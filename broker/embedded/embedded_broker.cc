#include "broker/embedded/embedded_broker.h"

#include <algorithm>

namespace kappa {

std::shared_ptr<EmbeddedBroker::Topic> EmbeddedBroker::find(std::string_view topic) const {
  std::shared_lock lock(topics_mu_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : it->second;
}

Status EmbeddedBroker::create_topic(std::string_view topic, int32_t partitions) {
  KAPPA_RETURN_IF_ERROR(validate_topic_name(topic));
  if (partitions < 1) {
    return Status::invalid_argument("topic '" + std::string(topic) +
                                    "' needs at least 1 partition, got " +
                                    std::to_string(partitions));
  }
  std::unique_lock lock(topics_mu_);
  if (auto it = topics_.find(topic); it != topics_.end()) {
    const auto have = static_cast<int32_t>(it->second->partitions.size());
    if (have == partitions) return Status::ok();
    return Status::already_exists("topic '" + std::string(topic) + "' exists with " +
                                  std::to_string(have) + " partitions, not " +
                                  std::to_string(partitions));
  }
  auto t = std::make_shared<Topic>(options_.sticky_batch);
  for (int32_t p = 0; p < partitions; ++p)
    t->partitions.push_back(std::make_shared<PartitionLog>(p));
  topics_.emplace(std::string(topic), std::move(t));
  return Status::ok();
}

Status EmbeddedBroker::delete_topic(std::string_view topic) {
  {
    std::unique_lock lock(topics_mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) {
      return Status::not_found("topic '" + std::string(topic) + "' does not exist");
    }
    topics_.erase(it);  // calls under way keep what they hold alive
  }
  std::lock_guard lock(groups_mu_);
  std::erase_if(committed_, [&](const auto& e) { return std::get<1>(e.first) == topic; });
  return Status::ok();
}

Status EmbeddedBroker::add_partitions(std::string_view topic, int32_t partitions) {
  std::unique_lock lock(topics_mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  }
  const auto have = static_cast<int32_t>(it->second->partitions.size());
  if (partitions <= have) {
    return Status::invalid_argument("topic '" + std::string(topic) + "' has " +
                                    std::to_string(have) + " partitions; " +
                                    std::to_string(partitions) + " would not be an increase");
  }
  // A new Topic: calls under way keep using the old one, whose partitions are shared.
  auto grown = std::make_shared<Topic>(options_.sticky_batch);
  grown->partitions = it->second->partitions;
  for (int32_t p = have; p < partitions; ++p) {
    grown->partitions.push_back(std::make_shared<PartitionLog>(p));
  }
  it->second = std::move(grown);
  return Status::ok();
}

Result<std::shared_ptr<EmbeddedBroker::Topic>> EmbeddedBroker::find_or_create(
    std::string_view topic) {
  if (auto t = find(topic)) return t;
  if (!options_.auto_create_topics) {
    return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  }
  KAPPA_RETURN_IF_ERROR(create_topic(topic, options_.default_partitions));
  return find(topic);
}

Result<std::shared_ptr<PartitionLog>> EmbeddedBroker::find_partition(std::string_view topic,
                                                                     int32_t partition) const {
  auto t = find(topic);
  if (!t) return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  if (partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) {
    return Status::not_found("partition " + partition_name(topic, partition) + " does not exist (" +
                             std::to_string(t->partitions.size()) + " partitions)");
  }
  return t->partitions[static_cast<size_t>(partition)];
}

Result<int32_t> EmbeddedBroker::partition_count(std::string_view topic) {
  auto t = find(topic);
  if (!t) return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  return static_cast<int32_t>(t->partitions.size());
}

Result<std::vector<std::string>> EmbeddedBroker::list_topics() {
  std::shared_lock lock(topics_mu_);
  std::vector<std::string> names;
  names.reserve(topics_.size());
  for (const auto& [name, _] : topics_) names.push_back(name);
  return names;
}

Result<std::vector<Appended>> EmbeddedBroker::produce(std::string_view topic,
                                                      std::span<const OutgoingRecord> records) {
  auto found = find_or_create(topic);
  if (!found) return found.status();
  Topic& t = **found;
  const auto n = static_cast<int32_t>(t.partitions.size());

  // Route every record first, then append each partition's share in one locked call.
  Result<std::vector<std::vector<size_t>>> routed = [&] {
    std::lock_guard lock(t.partitioner_mu);
    return route_records(topic, records, t.partitioner, n);
  }();
  if (!routed) return routed.status();
  std::vector<Appended> placed(records.size());
  if (n == 1) {
    const int64_t first = t.partitions[0]->append(records);
    for (size_t i = 0; i < placed.size(); ++i) placed[i] = {0, first + static_cast<int64_t>(i)};
    return placed;
  }
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
  auto found = find_partition(topic, partition);
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
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->offsets();
}

Result<int64_t> EmbeddedBroker::offset_for_time(std::string_view topic, int32_t partition,
                                                int64_t timestamp_ms) {
  auto found = find_partition(topic, partition);
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
