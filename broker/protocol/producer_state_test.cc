#include "broker/protocol/producer_state.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "broker/protocol/record_batch.h"

namespace kappa {
namespace {

using Verdict = ProducerStates::Verdict;

RecordBatchHeader batch(int64_t producer, int16_t epoch, int32_t first_seq, int32_t records) {
  RecordBatchHeader h;
  h.producer_id = producer;
  h.producer_epoch = epoch;
  h.base_sequence = first_seq;
  h.last_offset_delta = records - 1;
  h.record_count = records;
  return h;
}

TEST(ProducerStatesTest, AnUnknownProducerMayStartAnywhereAndThenMustBeInSequence) {
  ProducerStates s;
  EXPECT_EQ(s.check(batch(7, 0, 40, 2)).verdict, Verdict::kAppend);
  s.record(batch(7, 0, 40, 2), 100);
  EXPECT_EQ(s.check(batch(7, 0, 42, 3)).verdict, Verdict::kAppend);
  const auto gap = s.check(batch(7, 0, 43, 1));
  EXPECT_EQ(gap.verdict, Verdict::kOutOfOrder);
  EXPECT_EQ(gap.expected_sequence, 42);
}

TEST(ProducerStatesTest, ARetryOfOneOfTheLastFiveBatchesIsADuplicateWithItsFirstOffset) {
  ProducerStates s;
  for (int i = 0; i < 7; ++i) s.record(batch(7, 0, i * 10, 10), 1000 + i * 10);
  for (int i = 2; i < 7; ++i) {
    const auto c = s.check(batch(7, 0, i * 10, 10));
    EXPECT_EQ(c.verdict, Verdict::kDuplicate) << i;
    EXPECT_EQ(c.duplicate_of, 1000 + i * 10) << i;
  }
  EXPECT_EQ(s.check(batch(7, 0, 10, 10)).verdict, Verdict::kOutOfOrder) << "older than the window";
  EXPECT_EQ(s.check(batch(7, 0, 60, 5)).verdict, Verdict::kOutOfOrder)
      << "same first sequence, other length: not the same batch";
  EXPECT_EQ(s.check(batch(7, 0, 70, 1)).verdict, Verdict::kAppend);
}

TEST(ProducerStatesTest, ANewEpochStartsAtZeroAndFencesTheOldOne) {
  ProducerStates s;
  s.record(batch(7, 3, 0, 5), 0);
  EXPECT_EQ(s.check(batch(7, 4, 5, 1)).verdict, Verdict::kOutOfOrder);
  EXPECT_EQ(s.check(batch(7, 4, 0, 1)).verdict, Verdict::kAppend);
  s.record(batch(7, 4, 0, 1), 5);
  const auto stale = s.check(batch(7, 3, 5, 1));
  EXPECT_EQ(stale.verdict, Verdict::kStaleEpoch);
  EXPECT_EQ(stale.current_epoch, 4);
  EXPECT_EQ(s.check(batch(7, 3, 0, 5)).verdict, Verdict::kStaleEpoch)
      << "a retry from a fenced epoch is not answered as a duplicate";
}

TEST(ProducerStatesTest, SequencesWrapPastInt32MaxToZero) {
  ProducerStates s;
  s.record(batch(7, 0, INT32_MAX - 1, 4), 0);  // sequences MAX-1, MAX, 0, 1
  EXPECT_EQ(s.check(batch(7, 0, 2, 1)).verdict, Verdict::kAppend);
  EXPECT_EQ(s.check(batch(7, 0, INT32_MAX - 1, 4)).verdict, Verdict::kDuplicate);
}

TEST(ProducerStatesTest, BatchesWithoutAProducerAreAlwaysAppended) {
  ProducerStates s;
  s.record(batch(-1, -1, -1, 3), 0);
  EXPECT_EQ(s.producers(), 0u);
  EXPECT_EQ(s.check(batch(-1, -1, -1, 3)).verdict, Verdict::kAppend);
}

// Replaying what was accepted (as recovery does) gives the same verdicts as the state that
// accepted it, whatever the producers sent.
RC_GTEST_PROP(ProducerStatesProperty, StateRebuiltFromTheAcceptedBatchesAnswersTheSame, ()) {
  ProducerStates live;
  std::vector<std::pair<RecordBatchHeader, int64_t>> log;
  int64_t offset = 0;
  const auto sends = *rc::gen::container<std::vector<std::tuple<int, int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::inRange(0, 2), rc::gen::inRange(0, 30),
                     rc::gen::inRange(1, 4)));
  for (const auto& [producer, epoch, seq, n] : sends) {
    const RecordBatchHeader b = batch(producer, static_cast<int16_t>(epoch), seq, n);
    if (live.check(b).verdict != Verdict::kAppend) continue;
    live.record(b, offset);
    log.emplace_back(b, offset);
    offset += n;
  }
  ProducerStates rebuilt;
  for (const auto& [b, at] : log) rebuilt.record(b, at);
  for (int producer = 0; producer < 3; ++producer) {
    for (int epoch = 0; epoch < 2; ++epoch) {
      for (int seq = 0; seq < 30; ++seq) {
        const RecordBatchHeader b = batch(producer, static_cast<int16_t>(epoch), seq, 2);
        const auto a = live.check(b);
        const auto r = rebuilt.check(b);
        RC_ASSERT(a.verdict == r.verdict);
        RC_ASSERT(a.duplicate_of == r.duplicate_of);
      }
    }
  }
}

// Transactions: batches open them, markers close them, aborted ones are listed.
TEST(ProducerStatesTest, MarkersCloseTransactionsAndAbortedOnesAreIndexed) {
  ProducerStates s;
  auto txn = [](int64_t producer, int32_t seq, int32_t records) {
    RecordBatchHeader h = batch(producer, 0, seq, records);
    h.attributes = 0x10;
    return h;
  };
  auto marker = [](int64_t producer, int16_t epoch, bool commit) {
    std::string bytes = encode_transaction_marker(producer, epoch, commit, 0, 1);
    auto h = check_record_batch(bytes);
    EXPECT_TRUE(h);
    return std::make_pair(*h, bytes);
  };
  s.record(txn(1, 0, 3), 0);  // 0-2
  s.record(txn(2, 0, 2), 3);  // 3-4
  EXPECT_EQ(s.last_stable_offset(5), 0);
  auto [c1, c1_bytes] = marker(1, 0, true);
  s.record(c1, 5, c1_bytes);
  EXPECT_EQ(s.last_stable_offset(6), 3);
  auto [a2, a2_bytes] = marker(2, 1, false);  // a bumped epoch: the coordinator fenced it
  s.record(a2, 6, a2_bytes);
  EXPECT_EQ(s.last_stable_offset(7), 7);
  EXPECT_EQ(s.open_transactions(), 0u);
  using A = ProducerStates::AbortedTransaction;
  EXPECT_EQ(s.aborted_between(0, 7), (std::vector<A>{{2, 3, 6}}));
  EXPECT_TRUE(s.aborted_between(7, 9).empty()) << "its marker is before the range";
  EXPECT_TRUE(s.aborted_between(0, 3).empty()) << "its first offset is at the range's end";
  EXPECT_EQ(s.check(batch(2, 0, 2, 1)).verdict, Verdict::kStaleEpoch);
  EXPECT_EQ(s.check(batch(2, 1, 0, 1)).verdict, Verdict::kAppend);
  auto [again, again_bytes] = marker(1, 0, false);
  s.record(again, 7, again_bytes);  // no open transaction: a marker written twice
  EXPECT_EQ(s.aborted_between(0, 9).size(), 1u);
  s.forget_aborted_before(7);
  EXPECT_TRUE(s.aborted_between(0, 9).empty());
  EXPECT_EQ(control_marker_commits(c1_bytes), true);
  EXPECT_EQ(control_marker_commits(a2_bytes), false);
}

}  // namespace
}  // namespace kappa
