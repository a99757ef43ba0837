// The micro-batch loop in isolation, with a processor that only records what it is given.
#include "pipeline/engine/micro_batch.h"

#include <gtest/gtest.h>

#include "broker/embedded/embedded_broker.h"

namespace kappa {
namespace {

constexpr int64_t kT0 = 1664523720000;  // a multiple of 5 s

class Recorder final : public BatchProcessor {
 public:
  std::optional<int64_t> delay;
  bool evicts = true;
  int fail_unavailable = 0;
  std::vector<BatchPlan> plans;
  std::vector<int64_t> rows_per_batch;

  std::vector<std::string> output_topics() const override { return {}; }
  std::optional<int64_t> watermark_delay_ms() const override { return delay; }
  bool evicts_on_watermark() const override { return evicts; }
  void begin_batch(const BatchPlan& plan, BatchOutput&) override {
    plans.push_back(plan);
    rows_ = 0;
    max_.reset();
  }
  void process(std::span<const RecordView> records) override {
    for (const auto& r : records) {
      ++rows_;
      if (!max_ || r.timestamp_ms > *max_) max_ = r.timestamp_ms;
    }
  }
  Status finish_batch(BatchResult& result) override {
    if (fail_unavailable > 0) {
      --fail_unavailable;
      return Status::unavailable("sink down");
    }
    result.max_event_time_ms = max_;
    rows_per_batch.push_back(rows_);
    return Status::ok();
  }
  StateDelta commit_state() override { return {}; }
  void abort_batch() override {}
  Status restore_state(const StateSnapshot&) override { return Status::ok(); }

 private:
  int64_t rows_ = 0;
  std::optional<int64_t> max_;
};

class MicroBatchTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker.create_topic("in", 2)); }

  MicroBatchQuery& make(QuerySpec spec = {}) {
    spec.id = "q";
    spec.source_topic = "in";
    auto rec = std::make_unique<Recorder>();
    recorder = rec.get();
    query = std::make_unique<MicroBatchQuery>(spec, broker, checkpoint, std::move(rec));
    return *query;
  }

  void produce(int32_t partition, int n, int64_t ts = kT0) {
    std::vector<OutgoingRecord> rs(static_cast<size_t>(n));
    for (auto& r : rs) {
      r.value = "x";
      r.partition = partition;
      r.timestamp_ms = ts;
    }
    ASSERT_TRUE(broker.produce("in", rs));
  }

  // Runs every trigger up to and including t.
  void run_until(int64_t t) {
    while (query->next_wakeup_ms() <= t) ASSERT_TRUE(query->run(query->next_wakeup_ms()));
  }

  EmbeddedBroker broker;
  MemoryCheckpointStore checkpoint;
  Recorder* recorder = nullptr;
  std::unique_ptr<MicroBatchQuery> query;
};

TEST_F(MicroBatchTest, FirstTriggerAtStartThenOnTheEpochGrid) {
  auto& q = make();
  ASSERT_TRUE(q.start(kT0 + 1234));
  EXPECT_EQ(q.next_wakeup_ms(), kT0 + 1234);
  ASSERT_TRUE(q.run(kT0 + 1234));
  EXPECT_EQ(q.next_wakeup_ms(), kT0 + 5000);  // Spark: now / interval * interval + interval
  ASSERT_TRUE(q.run(kT0 + 5000));
  EXPECT_EQ(q.next_wakeup_ms(), kT0 + 10000);
}

TEST_F(MicroBatchTest, BatchZeroAlwaysRunsThenOnlyWithNewData) {
  auto& q = make();
  ASSERT_TRUE(q.start(kT0));
  run_until(kT0 + 20000);
  ASSERT_EQ(recorder->plans.size(), 1u);  // batch 0, empty
  EXPECT_EQ(recorder->rows_per_batch, std::vector<int64_t>{0});
  produce(1, 3);
  run_until(kT0 + 25000);
  ASSERT_EQ(recorder->plans.size(), 2u);
  EXPECT_EQ(recorder->plans[1].batch_id, 1);
  EXPECT_EQ(recorder->plans[1].trigger_ms, kT0 + 25000);
  EXPECT_EQ(recorder->plans[1].start, (std::vector<PartitionOffset>{{0, 0}, {1, 0}}));
  EXPECT_EQ(recorder->plans[1].end, (std::vector<PartitionOffset>{{0, 0}, {1, 3}}));
  EXPECT_TRUE(q.idle());
}

TEST_F(MicroBatchTest, StartingOffsets) {
  produce(0, 5, kT0);
  produce(0, 5, kT0 + 60000);
  produce(1, 2, kT0 + 60000);

  make();  // latest: what was there before the start is skipped
  ASSERT_TRUE(query->start(kT0));
  run_until(kT0);
  EXPECT_EQ(recorder->rows_per_batch, std::vector<int64_t>{0});

  checkpoint = MemoryCheckpointStore{};
  QuerySpec earliest;
  earliest.starting.kind = StartingPosition::Kind::kEarliest;
  make(earliest);
  ASSERT_TRUE(query->start(kT0));
  run_until(kT0);
  EXPECT_EQ(recorder->rows_per_batch, std::vector<int64_t>{12});

  checkpoint = MemoryCheckpointStore{};
  QuerySpec by_time;
  by_time.starting.kind = StartingPosition::Kind::kTimestamp;
  by_time.starting.timestamp_ms = kT0 + 30000;
  make(by_time);
  ASSERT_TRUE(query->start(kT0));
  run_until(kT0);
  EXPECT_EQ(recorder->rows_per_batch, std::vector<int64_t>{7});

  checkpoint = MemoryCheckpointStore{};
  QuerySpec at;
  at.starting.kind = StartingPosition::Kind::kOffsets;
  at.starting.offsets = {{0, 8}};
  make(at);
  ASSERT_TRUE(query->start(kT0));
  run_until(kT0);
  EXPECT_EQ(recorder->rows_per_batch, std::vector<int64_t>{4});  // 2 of partition 0, 2 of 1

  checkpoint = MemoryCheckpointStore{};
  at.starting.offsets = {{0, 99}};
  make(at);
  auto bad = query->start(kT0);
  EXPECT_EQ(bad.code(), StatusCode::kOutOfRange);
  EXPECT_NE(bad.message().find("in/0"), std::string::npos) << bad.message();
}

TEST_F(MicroBatchTest, RecordsPerBatchIsSharedByBacklog) {
  produce(0, 100);
  produce(1, 1);
  QuerySpec spec;
  spec.starting.kind = StartingPosition::Kind::kEarliest;
  spec.max_records_per_batch = 10;
  make(spec);
  ASSERT_TRUE(query->start(kT0));
  run_until(kT0);
  // Shares: 10 * 100/101 = 9.9 -> 9 (floor); 10 * 1/101 = 0.099 -> 1 (a share below one rounds up).
  EXPECT_EQ(recorder->plans[0].end, (std::vector<PartitionOffset>{{0, 9}, {1, 1}}));
  run_until(kT0 + 5000);
  EXPECT_EQ(recorder->plans[1].end, (std::vector<PartitionOffset>{{0, 19}, {1, 1}}));
}

TEST_F(MicroBatchTest, AMovedWatermarkCallsForOneNoDataBatch) {
  QuerySpec spec;
  make(spec);
  recorder->delay = 15000;
  ASSERT_TRUE(query->start(kT0));
  run_until(kT0);
  produce(0, 1, kT0 + 100000);
  run_until(kT0 + 30000);
  // Batch 1 (@5 s) moves W to 85 s; batch 2 (@10 s) runs without data; nothing after.
  ASSERT_EQ(recorder->plans.size(), 3u);
  EXPECT_EQ(recorder->plans[2].watermark_ms, kT0 + 85000);
  EXPECT_EQ(recorder->plans[2].start, recorder->plans[2].end);
  EXPECT_EQ(recorder->plans[2].previous_watermark_ms, 0);

  recorder->evicts = false;  // complete mode: no eviction, no no-data batch
  produce(0, 1, kT0 + 200000);
  run_until(kT0 + 60000);
  EXPECT_EQ(recorder->plans.size(), 4u);
}

TEST_F(MicroBatchTest, AnUnavailableBatchIsRetriedWithTheSamePlan) {
  auto& q = make();
  ASSERT_TRUE(q.start(kT0));
  run_until(kT0);
  produce(0, 2);
  recorder->fail_unavailable = 1;
  run_until(kT0 + 5000);
  EXPECT_EQ(q.totals().failed_attempts, 1);
  EXPECT_EQ(q.last_error().code(), StatusCode::kUnavailable);
  produce(0, 3);  // arrives after the failed attempt: not part of its plan
  run_until(kT0 + 10000);
  ASSERT_EQ(recorder->plans.size(), 3u);
  EXPECT_EQ(recorder->plans[2], recorder->plans[1]);
  EXPECT_EQ(recorder->rows_per_batch, (std::vector<int64_t>{0, 2}));
  run_until(kT0 + 15000);
  EXPECT_EQ(recorder->rows_per_batch, (std::vector<int64_t>{0, 2, 3}));
}

TEST_F(MicroBatchTest, ARestartReRunsAPlannedBatchWithItsOffsets) {
  auto& q = make();
  ASSERT_TRUE(q.start(kT0));
  run_until(kT0);
  produce(0, 2);
  recorder->fail_unavailable = 1;
  run_until(kT0 + 5000);  // batch 1 planned, not committed
  produce(0, 4);
  make();  // a new process on the same checkpoint
  ASSERT_TRUE(query->start(kT0 + 7000));
  run_until(kT0 + 7000);
  ASSERT_EQ(recorder->plans.size(), 1u);
  EXPECT_EQ(recorder->plans[0].batch_id, 1);
  EXPECT_EQ(recorder->plans[0].end, (std::vector<PartitionOffset>{{0, 2}, {1, 0}}));
  run_until(kT0 + 10000);
  EXPECT_EQ(recorder->rows_per_batch, (std::vector<int64_t>{2, 4}));
}

}  // namespace
}  // namespace kappa
