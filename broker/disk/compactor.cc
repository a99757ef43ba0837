#include "broker/disk/compactor.h"

#include <algorithm>

namespace kappa::disk {
namespace {

// An entry of the key map costs its key and about this much (hash node, offset, bucket).
constexpr int64_t kKeyMapEntryOverhead = 64;

}  // namespace

bool cleaning_due(int64_t total_bytes, int64_t dirty_bytes, int64_t tombstone_due_ms,
                  const CleanerOptions& o) {
  if (total_bytes <= 0) return false;
  const bool dirty_enough =
      dirty_bytes > 0 &&
      static_cast<double>(dirty_bytes) >= o.min_dirty_ratio * static_cast<double>(total_bytes);
  return dirty_enough || tombstone_due_ms <= o.now_ms;
}

CleanerOptions cleaner_options_for(const TopicSettings& t, int64_t now_ms,
                                   const CleanerOptions& defaults) {
  CleanerOptions o = defaults;
  o.now_ms = now_ms;
  o.delete_retention_ms = t.delete_retention_ms.value_or(defaults.delete_retention_ms);
  o.min_dirty_ratio = t.min_cleanable_dirty_ratio.value_or(defaults.min_dirty_ratio);
  o.min_compaction_lag_ms = t.min_compaction_lag_ms.value_or(defaults.min_compaction_lag_ms);
  return o;
}

Compactor::Compactor(const CleanerOptions& options,
                     const std::vector<ProducerStates::AbortedTransaction>& aborted)
    : options_(options) {
  for (const auto& a : aborted) aborted_[a.producer_id].emplace_back(a.first_offset, a.last_offset);
}

bool Compactor::aborted(const RecordBatchHeader& h) const {
  if (!h.is_transactional() || h.is_control()) return false;
  auto it = aborted_.find(h.producer_id);
  if (it == aborted_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](const auto& r) {
    return r.first <= h.base_offset && h.base_offset <= r.second;
  });
}

Result<bool> Compactor::map(std::string_view batch, const RecordBatchHeader& h) {
  if (h.producer_id >= 0) last_batch_of_[h.producer_id] = h.base_offset;
  if (h.is_control() || aborted(h)) return true;
  size_t consumed = 0;
  auto d = decode_record_batch(batch, consumed);
  if (!d) return d.status();
  bool fits = true;
  for (const WireRecord& r : d->records) {
    if (!r.key) continue;
    auto [it, inserted] = latest_.try_emplace(*r.key, r.offset);
    if (!inserted) {
      it->second = r.offset;
    } else if ((map_bytes_ += static_cast<int64_t>(r.key->size()) + kKeyMapEntryOverhead) >
               options_.max_key_map_bytes) {
      fits = false;
    }
  }
  return fits;
}

Result<Compactor::Kept> Compactor::clean(std::string_view batch, const RecordBatchHeader& h) {
  if (h.is_control()) return Kept{};
  const bool in_aborted = aborted(h);
  size_t consumed = 0;
  auto d = decode_record_batch(batch, consumed);
  if (!d) return d.status();
  stats.records_in += static_cast<int64_t>(d->records.size());
  std::vector<const WireRecord*> kept;
  for (const WireRecord& r : d->records) {
    if (in_aborted || !r.key) continue;
    auto it = latest_.find(*r.key);
    if (it == latest_.end() || r.offset < it->second) continue;
    if (!r.value) {
      const int64_t gone_at = r.timestamp_ms > INT64_MAX - options_.delete_retention_ms
                                  ? INT64_MAX
                                  : r.timestamp_ms + options_.delete_retention_ms;
      if (gone_at <= options_.now_ms) continue;
      tombstone_due_ms = std::min(tombstone_due_ms, gone_at);
    }
    kept.push_back(&r);
  }
  stats.records_kept += static_cast<int64_t>(kept.size());
  if (kept.size() == d->records.size()) return Kept{};
  const bool producers_last = h.producer_id >= 0 && last_batch_of_[h.producer_id] == h.base_offset;
  if (kept.empty() && !producers_last) return Kept{Kept::What::kNothing, {}};
  return Kept{Kept::What::kRewritten, encode_cleaned_batch(h, kept)};
}

}  // namespace kappa::disk
