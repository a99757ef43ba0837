#include "pipeline/engine/batch_output.h"

#include <algorithm>
#include <cstdlib>

#include "broker/partitioner.h"

namespace kappa {

void BatchOutput::reset(std::string_view origin) {
  origin_.assign(origin);
  bytes_.clear();
  pending_.clear();
  written_ = 0;
  skipped_ = 0;
}

Status BatchOutput::prepare(const std::map<std::string, std::vector<PartitionOffset>>& planned) {
  // The topics of the last batch are kept (with their buffers) when they are the same.
  bool same = topics_.size() == planned.size();
  if (same) {
    size_t i = 0;
    for (const auto& [topic, _] : planned) same = same && topics_[i++].name == topic;
  }
  if (!same) topics_.clear();
  size_t index = 0;
  for (const auto& [topic, ends] : planned) {
    auto n = log_.partition_count(topic);
    if (!n) return n.status();
    if (!same) topics_.emplace_back();
    TopicState& t = topics_[index++];
    t.name = topic;
    t.partitions = *n;
    t.already.assign(static_cast<size_t>(*n), 0);
    t.seen.assign(static_cast<size_t>(*n), 0);
    auto now = log_.end_offsets(topic);  // what was written since the plan: usually nothing
    if (!now) return now.status();
    for (const auto& po : ends) {
      if (po.partition < 0 || po.partition >= *n) continue;
      const auto end = std::find_if(now->begin(), now->end(),
                                    [&](const auto& e) { return e.partition == po.partition; });
      if (end == now->end() || end->offset <= po.offset) continue;
      auto range = log_.offsets(topic, po.partition);
      if (!range) return range.status();
      int64_t at = std::max(po.offset, range->earliest);
      while (at < range->end) {
        auto got = log_.fetch(topic, po.partition, at,
                              FetchLimits{.max_records = 4096, .end_offset = range->end});
        if (!got) return got.status();
        if (got->records.empty()) break;
        for (const auto& r : got->records) {
          if (r.header(kOriginHeader) == std::optional<std::string_view>(origin_)) {
            ++t.already[static_cast<size_t>(po.partition)];
          }
        }
        at = got->next_offset;
      }
    }
  }
  return Status::ok();
}

size_t BatchOutput::topic(std::string_view name) const {
  for (size_t i = 0; i < topics_.size(); ++i) {
    if (topics_[i].name == name) return i;
  }
  // An unprepared topic is a programming error in the job; fail loudly in tests.
  std::abort();
}

void BatchOutput::add(size_t topic, std::optional<std::string_view> key, std::string_view value,
                      int64_t timestamp_ms, int32_t partition) {
  TopicState& t = topics_[topic];
  if (partition == kAnyPartition) partition = partition_for_key(key.value_or(""), t.partitions);
  const auto p = static_cast<size_t>(partition);
  if (t.seen[p]++ < t.already[p]) {
    ++skipped_;
    return;
  }
  // Filled in place: a record built on the stack and then copied stalls on store forwarding.
  Pending& rec = pending_.emplace_back();
  rec.topic = topic;
  rec.partition = partition;
  rec.has_key = key.has_value();
  rec.key_at = bytes_.size();
  rec.key_len = key ? key->size() : 0;
  if (key) bytes_.append(*key);
  rec.value_at = bytes_.size();
  rec.value_len = value.size();
  rec.timestamp_ms = timestamp_ms;
  bytes_.append(value);
}

Status BatchOutput::flush() {
  if (pending_.empty()) return Status::ok();
  const HeaderView origin[] = {{kOriginHeader, std::string_view(origin_)}};
  std::vector<OutgoingRecord>& out = out_;
  size_t i = 0;
  while (i < pending_.size()) {
    const size_t topic = pending_[i].topic;
    out.clear();
    for (; i < pending_.size() && pending_[i].topic == topic; ++i) {
      const Pending& p = pending_[i];
      OutgoingRecord& r = out.emplace_back();
      if (p.has_key) r.key = std::string_view(bytes_.data() + p.key_at, p.key_len);
      r.value = std::string_view(bytes_.data() + p.value_at, p.value_len);
      r.timestamp_ms = p.timestamp_ms;
      r.partition = p.partition;
      r.headers = origin;
    }
    auto placed = log_.produce(topics_[topic].name, out);
    if (!placed) return placed.status().with_context("writing to " + topics_[topic].name);
    written_ += static_cast<int64_t>(out.size());
  }
  pending_.clear();
  bytes_.clear();
  return Status::ok();
}

}  // namespace kappa
