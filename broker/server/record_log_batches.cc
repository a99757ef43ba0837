#include "broker/server/record_log_batches.h"

#include "broker/protocol/record_batch.h"

namespace kappa {

Result<int64_t> RecordLogBatches::append_batch(std::string_view topic, int32_t partition,
                                               std::string batch) {
  size_t consumed = 0;
  auto decoded = decode_record_batch(batch, consumed);
  if (!decoded)
    return decoded.status().with_context("appending to " + partition_name(topic, partition));
  std::vector<std::vector<HeaderView>> headers(decoded->records.size());
  std::vector<OutgoingRecord> records(decoded->records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const WireRecord& w = decoded->records[i];
    for (const auto& [k, v] : w.headers) {
      headers[i].push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
    }
    records[i].key = w.key ? std::optional<std::string_view>(*w.key) : std::nullopt;
    records[i].value = w.value ? std::optional<std::string_view>(*w.value) : std::nullopt;
    records[i].timestamp_ms = w.timestamp_ms;
    records[i].partition = partition;
    records[i].headers = headers[i];
  }
  auto placed = log_.produce(topic, records);
  if (!placed) return placed.status();
  const int64_t base = placed->empty() ? log_.offsets(topic, partition).value_or(OffsetRange{}).end
                                       : placed->front().offset;
  std::lock_guard lock(mu_);
  auto key = std::make_pair(std::string(topic), partition);
  producers_[key].record(*decoded, base, batch);
  if (decoded->is_transactional() || decoded->is_control()) {
    BatchProducer who;
    who.producer_id = decoded->producer_id;
    who.producer_epoch = decoded->producer_epoch;
    who.base_sequence = decoded->base_sequence;
    who.transactional = decoded->is_transactional();
    who.control = decoded->is_control();
    transactional_[key][base] = {base + static_cast<int64_t>(records.size()) - 1, who};
  }
  return base;
}

Result<ProducerStates::Check> RecordLogBatches::check_producer(std::string_view topic,
                                                               int32_t partition,
                                                               const RecordBatchHeader& header) {
  auto count = log_.partition_count(topic);
  if (!count) return count.status();
  if (partition < 0 || partition >= *count)
    return Status::not_found(partition_name(topic, partition) + " does not exist");
  std::lock_guard lock(mu_);
  auto it = producers_.find(std::make_pair(std::string(topic), partition));
  if (it == producers_.end()) return ProducerStates::Check{};
  return it->second.check(header);
}

Result<BatchRead> RecordLogBatches::read_batches(std::string_view topic, int32_t partition,
                                                 int64_t offset, int64_t max_bytes) {
  KAPPA_RETURN_IF_ERROR(below_start(topic, partition, offset));
  FetchLimits limits;
  limits.max_bytes = max_bytes;
  auto got = log_.fetch(topic, partition, offset, limits);
  if (!got) return got.status();
  auto range = log_.offsets(topic, partition);
  if (!range) return range.status();
  BatchRead out;
  out.high_watermark = std::max(got->end_offset, range->end);
  out.log_start_offset = std::max(range->earliest, start_of(topic, partition));
  if (got->records.empty()) return out;
  std::vector<OutgoingRecord> records(got->records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const RecordView& r = got->records[i];
    records[i] = {r.key, r.value, r.timestamp_ms, partition, r.headers};
  }
  std::map<int64_t, WrittenBy> written;  // the transactional batches in the read's range
  {
    std::lock_guard lock(mu_);
    auto t = transactional_.find(std::make_pair(std::string(topic), partition));
    if (t != transactional_.end()) {
      const int64_t first = got->records.front().offset;
      const int64_t last = got->records.back().offset;
      auto it = t->second.upper_bound(first);
      if (it != t->second.begin()) --it;
      for (; it != t->second.end() && it->first <= last; ++it) written.insert(*it);
    }
  }
  if (written.empty()) {
    out.bytes = encode_record_batch(got->records.front().offset, records);
    return out;
  }
  // One batch per run of records written alike: each transactional batch or marker on its
  // own, with its producer fields; the records between them as plain batches.
  size_t i = 0;
  while (i < records.size()) {
    const int64_t at = got->records[i].offset;
    BatchProducer who;
    int64_t run_last = INT64_MAX;
    auto it = written.upper_bound(at);
    if (it != written.begin() && std::prev(it)->second.last_offset >= at) {
      who = std::prev(it)->second.producer;
      run_last = std::prev(it)->second.last_offset;
    } else if (it != written.end()) {
      run_last = it->first - 1;
    }
    size_t j = i;
    while (j < records.size() && got->records[j].offset <= run_last) ++j;
    out.bytes += encode_record_batch(at, std::span<const OutgoingRecord>(records).subspan(i, j - i),
                                     Compression::kNone, who);
    i = j;
  }
  return out;
}

Status RecordLogBatches::commit_group_offsets(std::string_view group, std::string_view topic,
                                              std::span<const GroupOffset> offsets) {
  std::vector<PartitionOffset> plain;
  for (const auto& o : offsets) plain.push_back({o.partition, o.offset});
  KAPPA_RETURN_IF_ERROR(log_.commit_offsets(group, topic, plain));
  std::lock_guard lock(mu_);
  for (const auto& o : offsets) {
    const Key key(group, topic, o.partition);
    metadata_[key] = o.metadata;
    deleted_.erase(key);
  }
  if (!offsets.empty()) groups_.emplace(group);
  return Status::ok();
}

Result<std::vector<GroupOffset>> RecordLogBatches::group_offsets(std::string_view group,
                                                                 std::string_view topic) {
  auto plain = log_.committed_offsets(group, topic);
  if (!plain) return plain.status();
  std::vector<GroupOffset> out;
  std::lock_guard lock(mu_);
  for (const auto& o : *plain) {
    const Key key(group, topic, o.partition);
    if (deleted_.count(key) != 0) continue;
    auto it = metadata_.find(key);
    out.push_back({o.partition, o.offset, it == metadata_.end() ? std::string() : it->second});
  }
  return out;
}

Result<std::vector<std::string>> RecordLogBatches::offset_groups() {
  std::vector<std::string> candidates;
  {
    std::lock_guard lock(mu_);
    candidates.assign(groups_.begin(), groups_.end());
  }
  auto topics = log_.list_topics();
  if (!topics) return topics.status();
  std::vector<std::string> out;
  for (const std::string& g : candidates) {
    for (const std::string& t : *topics) {
      auto offsets = group_offsets(g, t);
      if (!offsets) return offsets.status();
      if (!offsets->empty()) {
        out.push_back(g);
        break;
      }
    }
  }
  return out;
}

Status RecordLogBatches::delete_group_offsets(std::string_view group, std::string_view topic,
                                              std::span<const int32_t> partitions) {
  std::lock_guard lock(mu_);
  for (int32_t p : partitions) {
    const Key key(group, topic, p);
    metadata_.erase(key);
    deleted_.insert(key);
  }
  return Status::ok();
}

Status RecordLogBatches::delete_group(std::string_view group) {
  auto topics = log_.list_topics();
  if (!topics) return topics.status();
  for (const std::string& t : *topics) {
    auto offsets = log_.committed_offsets(group, t);
    if (!offsets) return offsets.status();
    std::vector<int32_t> partitions;
    for (const auto& o : *offsets) partitions.push_back(o.partition);
    KAPPA_RETURN_IF_ERROR(delete_group_offsets(group, t, partitions));
  }
  return Status::ok();
}

Result<int64_t> RecordLogBatches::max_timestamp(std::string_view topic, int32_t partition) {
  auto range = log_.offsets(topic, partition);
  if (!range) return range.status();
  // A Log keeps no timestamp index: read the partition through, a chunk at a time.
  int64_t max = INT64_MIN;
  FetchLimits chunk;
  chunk.max_records = 4096;
  for (int64_t at = range->earliest; at < range->end;) {
    auto got = log_.fetch(topic, partition, at, chunk);
    if (!got) return got.status();
    if (got->records.empty()) break;
    for (const auto& r : got->records) max = std::max(max, r.timestamp_ms);
    at = got->next_offset;
  }
  return max;
}

Result<TransactionIndex> RecordLogBatches::transaction_index(std::string_view topic,
                                                             int32_t partition, int64_t from,
                                                             int64_t to) {
  auto range = log_.offsets(topic, partition);
  if (!range) return range.status();
  TransactionIndex out;
  out.last_stable_offset = range->end;
  std::lock_guard lock(mu_);
  auto it = producers_.find(std::make_pair(std::string(topic), partition));
  if (it == producers_.end()) return out;
  out.last_stable_offset = it->second.last_stable_offset(range->end);
  out.aborted = it->second.aborted_between(from, to);
  return out;
}

Status RecordLogBatches::put_transaction_state(std::string_view transactional_id,
                                               std::string_view state) {
  std::lock_guard lock(mu_);
  if (state.empty()) {
    if (auto it = transaction_states_.find(transactional_id); it != transaction_states_.end())
      transaction_states_.erase(it);
  } else {
    transaction_states_[std::string(transactional_id)] = std::string(state);
  }
  return Status::ok();
}

Result<std::vector<std::pair<std::string, std::string>>> RecordLogBatches::transaction_states() {
  std::lock_guard lock(mu_);
  return std::vector<std::pair<std::string, std::string>>(transaction_states_.begin(),
                                                          transaction_states_.end());
}

Status RecordLogBatches::delete_topic(std::string_view topic) {
  KAPPA_RETURN_IF_ERROR(log_.delete_topic(topic));
  std::lock_guard lock(mu_);
  for (auto it = producers_.begin(); it != producers_.end();) {
    it = it->first.first == topic ? producers_.erase(it) : std::next(it);
  }
  for (auto it = transactional_.begin(); it != transactional_.end();) {
    it = it->first.first == topic ? transactional_.erase(it) : std::next(it);
  }
  configs_.set(topic, {});
  return Status::ok();
}

Status RecordLogBatches::create_configured_topic(std::string_view topic, int32_t partitions,
                                                 const TopicConfigs& configs) {
  KAPPA_RETURN_IF_ERROR(log_.create_topic(topic, partitions));
  return configs.empty() ? Status::ok() : set_topic_configs(topic, configs);
}

Result<TopicConfigs> RecordLogBatches::topic_configs(std::string_view topic) {
  if (auto n = log_.partition_count(topic); !n) return n.status();
  return configs_.configs(topic);
}

Status RecordLogBatches::set_topic_configs(std::string_view topic, const TopicConfigs& configs) {
  if (auto n = log_.partition_count(topic); !n) return n.status();
  configs_.set(topic, configs);
  return Status::ok();
}

Result<TopicSettings> RecordLogBatches::topic_settings(std::string_view topic) {
  return configs_.settings(topic);
}

int64_t RecordLogBatches::start_of(std::string_view topic, int32_t partition) {
  std::lock_guard lock(mu_);
  auto it = starts_.find(std::make_pair(std::string(topic), partition));
  return it == starts_.end() ? 0 : it->second;
}

Status RecordLogBatches::below_start(std::string_view topic, int32_t partition, int64_t offset) {
  const int64_t start = start_of(topic, partition);
  if (offset >= start) return Status::ok();
  auto range = log_.offsets(topic, partition);
  if (!range) return range.status();
  if (offset < range->earliest) return Status::ok();  // the log's own error says it
  return Status::out_of_range(record_name(topic, partition, offset) +
                              " is below the log start offset " + std::to_string(start) +
                              " (records deleted); valid offsets are " + std::to_string(start) +
                              " to " + std::to_string(range->end));
}

Result<FetchResult> RecordLogBatches::fetch(std::string_view topic, int32_t partition,
                                            int64_t offset, const FetchLimits& limits) {
  KAPPA_RETURN_IF_ERROR(below_start(topic, partition, offset));
  return log_.fetch(topic, partition, offset, limits);
}

Result<OffsetRange> RecordLogBatches::offsets(std::string_view topic, int32_t partition) {
  auto range = log_.offsets(topic, partition);
  if (!range) return range.status();
  range->earliest = std::max(range->earliest, start_of(topic, partition));
  return range;
}

Result<int64_t> RecordLogBatches::offset_for_time(std::string_view topic, int32_t partition,
                                                  int64_t timestamp_ms) {
  auto at = log_.offset_for_time(topic, partition, timestamp_ms);
  if (!at) return at.status();
  return std::max(*at, start_of(topic, partition));
}

Result<int64_t> RecordLogBatches::delete_records(std::string_view topic, int32_t partition,
                                                 int64_t offset) {
  auto range = offsets(topic, partition);
  if (!range) return range.status();
  if (offset > range->end) {
    return Status::out_of_range("deleting records of " + partition_name(topic, partition) +
                                " below offset " + std::to_string(offset) +
                                ": beyond its end offset " + std::to_string(range->end));
  }
  if (offset <= range->earliest) return range->earliest;
  std::lock_guard lock(mu_);
  starts_[std::make_pair(std::string(topic), partition)] = offset;
  return offset;
}

// A Log says nothing of its bytes: they are counted here, record by record, at each call.
Result<int64_t> RecordLogBatches::partition_bytes(std::string_view topic, int32_t partition) {
  auto range = offsets(topic, partition);
  if (!range) return range.status();
  int64_t bytes = 0;
  Status s =
      scan_records(log_, topic, partition, range->earliest, range->end, [&](const RecordView& r) {
        bytes += static_cast<int64_t>(r.key.value_or("").size() + r.value.value_or("").size());
        for (const HeaderView& h : r.headers) {
          bytes += static_cast<int64_t>(h.key.size() + h.value.value_or("").size());
        }
      });
  if (!s.is_ok()) return s;
  return bytes;
}

}  // namespace kappa
