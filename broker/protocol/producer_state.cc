#include "broker/protocol/producer_state.h"

#include <algorithm>

#include "broker/protocol/record_batch.h"

namespace kappa {
namespace {

// The sequence after `last`, wrapping past INT32_MAX to 0 as producers do.
int32_t next_sequence(int32_t last) { return last == INT32_MAX ? 0 : last + 1; }

int32_t last_sequence(const RecordBatchHeader& b) {
  return static_cast<int32_t>((int64_t{b.base_sequence} + b.last_offset_delta) %
                              (int64_t{INT32_MAX} + 1));
}

}  // namespace

ProducerStates::Check ProducerStates::check(const RecordBatchHeader& batch) const {
  Check c;
  if (batch.producer_id < 0) return c;
  auto it = producers_.find(batch.producer_id);
  if (it == producers_.end()) return c;
  const Producer& p = it->second;
  if (batch.producer_epoch < p.epoch) {
    c.verdict = Verdict::kStaleEpoch;
    c.current_epoch = p.epoch;
    return c;
  }
  if (batch.producer_epoch > p.epoch) {
    if (batch.base_sequence != 0) {
      c.verdict = Verdict::kOutOfOrder;
      c.expected_sequence = 0;
    }
    return c;
  }
  const int32_t last = last_sequence(batch);
  for (const Batch& b : p.recent) {
    if (b.first_sequence == batch.base_sequence && b.last_sequence == last) {
      c.verdict = Verdict::kDuplicate;
      c.duplicate_of = b.base_offset;
      return c;
    }
  }
  const int32_t expected = p.recent.empty() ? 0 : next_sequence(p.recent.back().last_sequence);
  if (batch.base_sequence != expected) {
    c.verdict = Verdict::kOutOfOrder;
    c.expected_sequence = expected;
  }
  return c;
}

void ProducerStates::record(const RecordBatchHeader& batch, int64_t base_offset,
                            std::string_view bytes) {
  if (batch.producer_id < 0) return;
  if (batch.is_control()) {
    Producer& p = producers_[batch.producer_id];
    if (batch.producer_epoch > p.epoch) {
      p.epoch = batch.producer_epoch;
      p.recent.clear();
    }
    auto open = open_.find(batch.producer_id);
    if (open == open_.end()) return;
    if (control_marker_commits(bytes) == false) {
      aborted_.push_back({batch.producer_id, open->second, base_offset});
    }
    open_.erase(open);
    return;
  }
  if (batch.is_transactional()) open_.emplace(batch.producer_id, base_offset);
  Producer& p = producers_[batch.producer_id];
  if (batch.producer_epoch != p.epoch) {
    p.epoch = batch.producer_epoch;
    p.recent.clear();
  }
  p.recent.push_back({batch.base_sequence, last_sequence(batch), base_offset});
  if (p.recent.size() > kRecentBatches) p.recent.pop_front();
}

int64_t ProducerStates::last_stable_offset(int64_t end) const {
  int64_t lso = end;
  for (const auto& [id, first] : open_) lso = std::min(lso, first);
  return lso;
}

std::vector<ProducerStates::AbortedTransaction> ProducerStates::aborted_between(int64_t from,
                                                                                int64_t to) const {
  std::vector<AbortedTransaction> out;
  // Markers are in offset order: skip those before `from` by binary search.
  auto it = std::lower_bound(
      aborted_.begin(), aborted_.end(), from,
      [](const AbortedTransaction& a, int64_t offset) { return a.last_offset < offset; });
  for (; it != aborted_.end(); ++it) {
    if (it->first_offset < to) out.push_back(*it);
  }
  return out;
}

void ProducerStates::forget_aborted_before(int64_t offset) {
  while (!aborted_.empty() && aborted_.front().last_offset < offset) aborted_.pop_front();
}

std::optional<bool> control_marker_commits(std::string_view batch) {
  size_t consumed = 0;
  auto decoded = decode_record_batch(batch, consumed);
  if (!decoded || !decoded->is_control() || decoded->records.empty()) return std::nullopt;
  const auto& key = decoded->records.front().key;
  if (!key || key->size() < 4) return std::nullopt;
  const auto type = static_cast<int16_t>((static_cast<uint8_t>((*key)[2]) << 8) |
                                         static_cast<uint8_t>((*key)[3]));
  if (type != 0 && type != 1) return std::nullopt;
  return type == 1;
}

}  // namespace kappa
