#include "broker/protocol/producer_state.h"

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

void ProducerStates::record(const RecordBatchHeader& batch, int64_t base_offset) {
  if (batch.producer_id < 0) return;
  Producer& p = producers_[batch.producer_id];
  if (batch.producer_epoch != p.epoch) {
    p.epoch = batch.producer_epoch;
    p.recent.clear();
  }
  p.recent.push_back({batch.base_sequence, last_sequence(batch), base_offset});
  if (p.recent.size() > kRecentBatches) p.recent.pop_front();
}

}  // namespace kappa
