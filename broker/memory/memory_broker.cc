#include "broker/memory/memory_broker.h"

#include <algorithm>
#include <utility>

#include "broker/disk/compactor.h"
#include "broker/disk/group_offset_log.h"
#include "broker/protocol/batch_records.h"

namespace kappa {
namespace {

// What `call` answers of the partition, or why there is no such partition.
template <class Call>
auto on_partition(const TopicTable<MemoryPartition>& topics, std::string_view topic,
                  int32_t partition, Call&& call)
    -> Result<decltype(call(std::declval<MemoryPartition&>()))> {
  auto found = topics.partition(topic, partition);
  if (!found) return found.status();
  return call(**found);
}

// on_partition for a call that answers a Result itself.
template <class Call>
auto on_partition_result(const TopicTable<MemoryPartition>& topics, std::string_view topic,
                         int32_t partition, Call&& call)
    -> decltype(call(std::declval<MemoryPartition&>())) {
  auto found = topics.partition(topic, partition);
  if (!found) return found.status();
  return call(**found);
}

}  // namespace

MemoryBroker::MemoryBroker(Options options)
    : options_(options),
      topics_(options.sticky_batch,
              [this](std::string_view topic, int32_t p) {
                auto made = std::make_shared<MemoryPartition>(std::string(topic), p);
                made->set_segment_bytes(
                    configs_.settings(topic).segment_bytes.value_or(options_.segment_bytes));
                return made;
              }),
      groups_(disk::GroupOffsetLog::in_memory()),
      transactions_(disk::GroupOffsetLog::in_memory()) {}

MemoryBroker::~MemoryBroker() = default;

Status MemoryBroker::add_partitions(std::string_view topic, int32_t partitions) {
  std::lock_guard lock(admin_mu_);  // the new partitions get the topic's configs
  return topics_.grow(topic, partitions);
}

Status MemoryBroker::delete_topic(std::string_view topic) {
  {
    std::lock_guard lock(admin_mu_);
    KAPPA_RETURN_IF_ERROR(topics_.erase(topic));
    configs_.set(topic, {});
  }
  return groups_->forget_topic(topic, false);
}

Result<std::vector<Appended>> MemoryBroker::produce(std::string_view topic,
                                                    std::span<const OutgoingRecord> records) {
  auto found =
      topics_.find_or_create(topic, options_.auto_create_topics, options_.default_partitions);
  if (!found) return found.status();
  auto& t = **found;
  auto routed = t.route(topic, records);
  if (!routed) return routed.status();
  return append_as_batches(topic, records, *routed, options_.max_batch_bytes,
                           [&](int32_t p, std::string batch) {
                             return t.partitions[static_cast<size_t>(p)]->append(std::move(batch));
                           });
}

Result<FetchResult> MemoryBroker::fetch(std::string_view topic, int32_t partition, int64_t offset,
                                        const FetchLimits& limits) {
  return on_partition_result(topics_, topic, partition, [&](MemoryPartition& p) {
    const OffsetRange range = p.offsets();
    if (offset < range.earliest || offset > range.end) {
      return Result<FetchResult>(p.out_of_range(offset, range));
    }
    return fetch_from_batches(topic, partition, offset, limits, range,
                              [&](int64_t at, int64_t max) { return p.read(at, max); });
  });
}

Result<OffsetRange> MemoryBroker::offsets(std::string_view topic, int32_t partition) {
  return on_partition(topics_, topic, partition, [](MemoryPartition& p) { return p.offsets(); });
}

Result<int64_t> MemoryBroker::offset_for_time(std::string_view topic, int32_t partition,
                                              int64_t timestamp_ms) {
  return on_partition_result(topics_, topic, partition, [&](MemoryPartition& p) {
    auto at = p.offset_for_time(timestamp_ms);
    if (!at) return at;
    return Result<int64_t>(std::max(*at, p.offsets().earliest));  // not below a deletion
  });
}

Status MemoryBroker::commit_offsets(std::string_view group, std::string_view topic,
                                    std::span<const PartitionOffset> offsets) {
  return groups_->commit(group, topic, offsets, false);
}

Result<std::vector<PartitionOffset>> MemoryBroker::committed_offsets(std::string_view group,
                                                                     std::string_view topic) {
  return groups_->plain_offsets(group, topic);
}

Result<int64_t> MemoryBroker::append_batch(std::string_view topic, int32_t partition,
                                           std::string batch) {
  return on_partition_result(topics_, topic, partition,
                             [&](MemoryPartition& p) { return p.append(std::move(batch)); });
}

Result<ProducerStates::Check> MemoryBroker::check_producer(std::string_view topic,
                                                           int32_t partition,
                                                           const RecordBatchHeader& header) {
  return on_partition(topics_, topic, partition,
                      [&](MemoryPartition& p) { return p.check_producer(header); });
}

Result<BatchRead> MemoryBroker::read_batches(std::string_view topic, int32_t partition,
                                             int64_t offset, int64_t max_bytes) {
  return on_partition_result(topics_, topic, partition,
                             [&](MemoryPartition& p) { return p.read(offset, max_bytes); });
}

Status MemoryBroker::sync(std::string_view topic, int32_t partition) {
  return topics_.partition(topic, partition).status();
}

Status MemoryBroker::commit_group_offsets(std::string_view group, std::string_view topic,
                                          std::span<const GroupOffset> offsets) {
  if (group.empty()) return Status::invalid_argument("consumer group id must not be empty");
  return groups_->commit(group, topic, offsets, false);
}

Result<std::vector<GroupOffset>> MemoryBroker::group_offsets(std::string_view group,
                                                             std::string_view topic) {
  return groups_->offsets(group, topic);
}

Result<std::vector<std::string>> MemoryBroker::offset_groups() { return groups_->groups(); }

Status MemoryBroker::delete_group_offsets(std::string_view group, std::string_view topic,
                                          std::span<const int32_t> partitions) {
  return groups_->forget(group, topic, partitions, false);
}

Status MemoryBroker::delete_group(std::string_view group) {
  return groups_->forget_group(group, false);
}

Result<int64_t> MemoryBroker::max_timestamp(std::string_view topic, int32_t partition) {
  return on_partition(topics_, topic, partition,
                      [](MemoryPartition& p) { return p.max_timestamp(); });
}

Result<int64_t> MemoryBroker::partition_bytes(std::string_view topic, int32_t partition) {
  return on_partition(topics_, topic, partition, [](MemoryPartition& p) { return p.size_bytes(); });
}

Result<TransactionIndex> MemoryBroker::transaction_index(std::string_view topic, int32_t partition,
                                                         int64_t from, int64_t to) {
  return on_partition(topics_, topic, partition,
                      [&](MemoryPartition& p) { return p.transaction_index(from, to); });
}

Status MemoryBroker::put_transaction_state(std::string_view transactional_id,
                                           std::string_view state) {
  return transactions_->put_state(transactional_id, state, false);
}

Result<std::vector<std::pair<std::string, std::string>>> MemoryBroker::transaction_states() {
  return transactions_->states();
}

Status MemoryBroker::create_configured_topic(std::string_view topic, int32_t partitions,
                                             const TopicConfigs& configs) {
  // The overrides go in under the table's creation, so no produce sees the topic without them.
  std::lock_guard lock(admin_mu_);
  if (topics_.find(topic) != nullptr) return topics_.create(topic, partitions);
  configs_.set(topic, configs);  // before the partitions, which take their limits from it
  Status created = topics_.create(topic, partitions);
  if (!created) configs_.set(topic, {});
  return created;
}

Result<TopicConfigs> MemoryBroker::topic_configs(std::string_view topic) {
  KAPPA_RETURN_IF_ERROR(topics_.partition_count(topic));
  return configs_.configs(topic);
}

Status MemoryBroker::set_topic_configs(std::string_view topic, const TopicConfigs& configs) {
  std::lock_guard lock(admin_mu_);
  KAPPA_RETURN_IF_ERROR(topics_.partition_count(topic));
  configs_.set(topic, configs);
  apply_limits(topic);
  return Status::ok();
}

void MemoryBroker::apply_limits(std::string_view topic) {
  const int64_t segment = configs_.settings(topic).segment_bytes.value_or(options_.segment_bytes);
  if (auto t = topics_.find(topic)) {
    for (const auto& p : t->partitions) p->set_segment_bytes(segment);
  }
}

void MemoryBroker::enforce_retention(int64_t now_ms) {
  for (const std::string& name : topics_.names()) {
    const TopicSettings t = configs_.settings(name);
    if (!t.retain) continue;  // cleanup.policy without "delete"
    const int64_t ms = t.retention_ms.value_or(options_.retention_ms);
    const int64_t bytes = t.retention_bytes.value_or(options_.retention_bytes);
    if (ms < 0 && bytes < 0) continue;
    if (auto topic = topics_.find(name)) {
      for (const auto& p : topic->partitions) p->enforce_retention(now_ms, ms, bytes);
    }
  }
}

Result<std::vector<disk::CleanedPartition>> MemoryBroker::clean_logs(int64_t now_ms) {
  std::vector<disk::CleanedPartition> out;
  Status first;
  for (const std::string& name : topics_.names()) {
    const TopicSettings t = configs_.settings(name);
    if (!t.compact) continue;
    const disk::CleanerOptions o = disk::cleaner_options_for(t, now_ms, options_.cleaner);
    auto topic = topics_.find(name);
    if (!topic) continue;  // deleted meanwhile
    for (size_t p = 0; p < topic->partitions.size(); ++p) {
      auto r = topic->partitions[p]->clean(o);
      if (!r) {
        if (first.is_ok()) first = r.status();
        continue;
      }
      if (r->ran) out.push_back({name, static_cast<int32_t>(p), *r});
    }
  }
  if (!first.is_ok()) return first;
  return out;
}

Result<TopicSettings> MemoryBroker::topic_settings(std::string_view topic) {
  KAPPA_RETURN_IF_ERROR(topics_.partition_count(topic));
  return configs_.settings(topic);
}

Result<int64_t> MemoryBroker::delete_records(std::string_view topic, int32_t partition,
                                             int64_t offset) {
  return on_partition_result(topics_, topic, partition,
                             [&](MemoryPartition& p) { return p.delete_records(offset); });
}

}  // namespace kappa
