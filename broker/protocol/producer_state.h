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
// Transactions (Kafka's ProducerStateManager and its aborted-transaction index): a
// transactional batch (attribute bit 4) opens its producer's transaction in the partition if
// none is open, at that batch's base offset; a control batch (bits 4 and 5) is the
// coordinator's marker, one record whose key is version int16 = 0 | type int16 (0 abort,
// 1 commit), and it closes the producer's open transaction there. An aborted one is kept as
// (producer id, first offset, last offset = the marker's offset), so a read_committed reader
// can drop its records. The last stable offset is the first offset of the earliest open
// transaction (the end of the log when none is open): read_committed readers see nothing at
// or after it. A marker takes the producer's epoch if it is newer (the coordinator bumps the
// epoch when it aborts for a new instance or a timeout) and is not a sequenced batch.
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
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

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

  struct AbortedTransaction {
    int64_t producer_id = 0;
    int64_t first_offset = 0;
    int64_t last_offset = 0;  // the abort marker's
    friend bool operator==(const AbortedTransaction&, const AbortedTransaction&) = default;
  };

  Check check(const RecordBatchHeader& batch) const;
  // Notes a batch stored at base_offset (after check() said kAppend, or during recovery).
  // `bytes` is the whole batch; only a control batch's record (its marker) is read from it.
  void record(const RecordBatchHeader& batch, int64_t base_offset, std::string_view bytes = {});

  size_t producers() const { return producers_.size(); }

  // The first offset of the earliest open transaction, or `end` when none is open.
  int64_t last_stable_offset(int64_t end) const;
  // The aborted transactions that may have records in [from, to): those whose marker is at or
  // after `from` and whose first offset is before `to`, oldest first.
  std::vector<AbortedTransaction> aborted_between(int64_t from, int64_t to) const;
  // Forgets aborted transactions wholly below `offset` (retention deleted their records).
  void forget_aborted_before(int64_t offset);
  size_t open_transactions() const { return open_.size(); }

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
  std::unordered_map<int64_t, int64_t> open_;  // producer id -> its open transaction's first
  std::deque<AbortedTransaction> aborted_;     // in marker order
};

// The marker of a control batch (the whole batch): true for commit, false for abort; nullopt
// when the batch is not a control batch or its record does not say.
std::optional<bool> control_marker_commits(std::string_view batch);

}  // namespace kappa
