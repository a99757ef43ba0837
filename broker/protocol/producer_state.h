// ProducerStates: what one partition knows of its idempotent producers, as Apache Kafka's
// ProducerStateManager keeps it, so that a producer's retry is stored once however the broker
// was stopped in between.
//
// Every RecordBatch v2 carries producerId, producerEpoch and baseSequence; an idempotent
// producer numbers its records per partition from 0, and a batch covers the sequences
// [baseSequence, baseSequence + lastOffsetDelta] (wrapping from INT32_MAX to 0, as Kafka's
// clients do). Per producer id the partition keeps the epoch and its last five batches (Kafka's
// window: a producer has at most five requests in flight per partition); check() says what
// appending a batch would mean:
//  - kAppend: the next sequences of a known producer, sequence 0 of a newer epoch, or any
//    sequence of a producer the partition has no state for (its batches may have left the log
//    by retention; Kafka accepts those too);
//  - kDuplicate: the exact sequences of one of the last five batches: a retry, answered with
//    that batch's base offset and not stored again;
//  - kOutOfOrder: any other sequence (a gap, or a batch older than the window);
//  - kStaleEpoch: an epoch below the producer's current one (a fenced, older instance).
// Batches without a producer id (-1) are not idempotent and always kAppend.
//
// The state is derived from the log alone: a store rebuilds it at open by record()ing every
// batch it recovers, in offset order, so it is exactly what the log holds after kill -9, a clean
// stop or a torn tail cut away.
//
// REQUIRES: external synchronization (the partition's append lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>

namespace kappa {

struct RecordBatchHeader;

class ProducerStates {
 public:
  static constexpr size_t kRecentBatches = 5;

  enum class Verdict { kAppend, kDuplicate, kOutOfOrder, kStaleEpoch };
  struct Check {
    Verdict verdict = Verdict::kAppend;
    int64_t duplicate_of = -1;      // kDuplicate: the base offset the batch was first stored at
    int32_t expected_sequence = 0;  // kOutOfOrder: the sequence the producer should send next
    int16_t current_epoch = -1;     // kStaleEpoch: the producer's epoch
  };

  Check check(const RecordBatchHeader& batch) const;
  // Notes a batch stored at base_offset (after check() said kAppend, or during recovery).
  void record(const RecordBatchHeader& batch, int64_t base_offset);

  size_t producers() const { return producers_.size(); }

 private:
  struct Batch {
    int32_t first_sequence;
    int32_t last_sequence;
    int64_t base_offset;
  };
  struct Producer {
    int16_t epoch = -1;
    std::deque<Batch> recent;  // oldest first, at most kRecentBatches
  };
  std::unordered_map<int64_t, Producer> producers_;
};

}  // namespace kappa
