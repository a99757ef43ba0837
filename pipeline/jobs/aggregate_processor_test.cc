// The Spark semantics of DESIGN.md §3.1, each expectation derived by hand in the comments.
// Timeline notation: "@5" = processing time kT0 + 5 s; event times are seconds after kT0 too;
// triggers fire @0, @5, @10, ... (kT0 is a multiple of 5 s); watermark 15 s; windows 10 s.
#include "pipeline/jobs/aggregate_processor.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "pipeline/jobs/test_rig.h"

namespace kappa {
namespace {

using testing::Rig;

AggregationConfig v1(OutputMode mode = OutputMode::kAppend, LateRule rule = LateRule::kSpark32) {
  AggregationConfig a = PipelineConfig::lab_v1();
  a.spec.mode = mode;
  a.spec.late_rule = rule;
  return a;
}

// @0 batch 0 (empty). @1 one@100 arrives; @5 batch 1 reads it, W becomes 100-15 = 85.
// @6 two@72 arrives (window [70,80)); @10 batch 2 runs with W(2) = 85, W(1) = 0.
// @16 three@130 arrives; @20 batch 3 (W = 85) moves W to 115; @25 no-data batch 4 with W = 115.
void late_story(Rig& rig) {
  rig.advance_to(1);
  rig.produce_staged("one", 100);
  rig.advance_to(6);
  rig.produce_staged("two", 72);
  rig.advance_to(16);
  rig.produce_staged("three", 130);
  rig.advance_to(40);
}

TEST(Aggregate, Spark32DropsARowLateAgainstItsOwnBatchWatermark) {
  Rig rig(testing::config_with({v1()}, /*stage=*/false));
  late_story(rig);
  // Batch 2: [70,80) ends at 80 <= W(2) = 85: dropped. Batch 4 evicts [100,110) (110 <= 115).
  // [130,140) waits for a watermark of 140.
  EXPECT_EQ(rig.table("events_users_v1"), (std::vector<TableRow>{rig.row(100, 110, "one", 1)}));
  const auto& totals = rig.pipeline->query("events_users_v1")->totals();
  EXPECT_EQ(totals.late_rows, 1);
  EXPECT_EQ(totals.batches, 5);  // 0, 1, 2, 3 with data, 4 without
  EXPECT_EQ(rig.pipeline->query("events_users_v1")->watermark_ms(), testing::kT0 + 115000);
}

TEST(Aggregate, Spark34JudgesLatenessByThePreviousBatchWatermark) {
  Rig rig(testing::config_with({v1(OutputMode::kAppend, LateRule::kSpark34)}, false));
  late_story(rig);
  // Batch 2 judges lateness by W(1) = 0: [70,80) is counted, then evicted at once (80 <= 85).
  EXPECT_EQ(rig.table("events_users_v1"),
            (std::vector<TableRow>{rig.row(70, 80, "two", 1), rig.row(100, 110, "one", 1)}));
  EXPECT_EQ(rig.pipeline->query("events_users_v1")->totals().late_rows, 0);
}

TEST(Aggregate, UpdateModeWritesChangedGroupsAndEvictsSilently) {
  Rig rig(testing::config_with({v1(OutputMode::kUpdate)}, false));
  late_story(rig);
  // Batch 1 upserts [100,110) one 1; batch 2 drops the late row; batch 3 upserts [130,140)
  // three 1; batch 4 evicts [100,110) from state without touching the table.
  EXPECT_EQ(rig.table("events_users_v1"),
            (std::vector<TableRow>{rig.row(100, 110, "one", 1), rig.row(130, 140, "three", 1)}));
}

TEST(Aggregate, UpdateModeUpsertsAGrowingCount) {
  Rig rig(testing::config_with({v1(OutputMode::kUpdate)}, false));
  rig.advance_to(1);
  rig.produce_staged("one", 100);
  rig.advance_to(6);
  rig.produce_staged("one", 101);
  rig.advance_to(11);
  // Batch 1 writes count 1, batch 2 rewrites the same window with 2: one row, not two.
  EXPECT_EQ(rig.table("events_users_v1"), (std::vector<TableRow>{rig.row(100, 110, "one", 2)}));
}

TEST(Aggregate, CompleteModeKeepsEverythingAndIgnoresLateness) {
  Rig rig(testing::config_with({v1(OutputMode::kComplete)}, false));
  late_story(rig);
  EXPECT_EQ(rig.table("events_users_v1"),
            (std::vector<TableRow>{rig.row(70, 80, "two", 1), rig.row(100, 110, "one", 1),
                                   rig.row(130, 140, "three", 1)}));
  // Complete mode never evicts, so a moved watermark asks for no extra batch: 0, 1, 2, 3.
  EXPECT_EQ(rig.pipeline->query("events_users_v1")->totals().batches, 4);
}

TEST(Aggregate, AppendWritesAWindowOnceWithItsFinalCount) {
  Rig rig(testing::config_with({v1()}, false));
  rig.advance_to(1);
  rig.produce_staged("one", 100);
  rig.produce_staged("one", 105);
  rig.advance_to(6);
  rig.produce_staged("one", 109);  // W after batch 1 is 105-15 = 90 < 110: still open
  rig.produce_staged("one", 126);
  rig.advance_to(30);
  // Batch 2 moves W to 126-15 = 111 >= 110; the no-data batch @15 writes [100,110) with 3.
  EXPECT_EQ(rig.table("events_users_v1"), (std::vector<TableRow>{rig.row(100, 110, "one", 3)}));
}

TEST(Aggregate, SlidingWindowsCountAnEventInEachOfItsWindows) {
  AggregationConfig a = v1();
  a.spec.window = WindowSpec{10000, 5000, 0};
  Rig rig(testing::config_with({a}, false));
  rig.advance_to(1);
  rig.produce_staged("one", 102);  // windows [95,105) and [100,110)
  rig.advance_to(6);
  rig.produce_staged("one", 130);  // W -> 115: both windows close
  rig.advance_to(20);
  EXPECT_EQ(rig.table("events_users_v1"),
            (std::vector<TableRow>{rig.row(95, 105, "one", 1), rig.row(100, 110, "one", 1)}));
  EXPECT_EQ(rig.pipeline->query("events_users_v1")->totals().windowed_rows, 4);
}

TEST(Aggregate, OtherDimensionsAreTypedLikeSpark) {
  AggregationConfig ages = v1();
  ages.spec.table = "events_ages";
  ages.spec.dimension = "age";
  AggregationConfig depts = v1();
  depts.spec.table = "events_depts";
  depts.spec.dimension = "dept_name";
  Rig rig(testing::config_with({ages, depts}, false));
  rig.advance_to(1);
  rig.produce_staged("one", 100);  // test_rig stages age 1, dept H/R
  rig.advance_to(6);
  rig.produce_staged("one", 130);
  rig.advance_to(20);
  EXPECT_EQ(rig.table("events_ages"), (std::vector<TableRow>{rig.row(100, 110, int64_t{1}, 1)}));
  EXPECT_EQ(rig.table("events_depts"), (std::vector<TableRow>{rig.row(100, 110, "H/R", 1)}));
}

// The aggregation keeps caches of recent values and counts in front of its maps; values that
// share a cache slot (here: names with the same first eight bytes and length, and 600 ids in a
// cache of 256) are still counted apart, in windows visited in turn.
TEST(Aggregate, ValuesSharingACacheSlotAreCountedApart) {
  AggregationConfig ids = v1();
  ids.spec.table = "events_ids";
  ids.spec.dimension = "id";
  Rig rig(testing::config_with({v1(), ids}, false));
  std::map<std::pair<int64_t, std::string>, int64_t> names;  // (window start, name) -> count
  std::map<std::pair<int64_t, int64_t>, int64_t> by_id;
  rig.advance_to(1);
  for (int i = 0; i < 3000; ++i) {
    const std::string name = std::string("user0000") + static_cast<char>('a' + i % 7);
    const int64_t id = i * 7919 % 600;
    const int64_t second = 100 + (i * 13) % 30;  // windows [100,110), [110,120), [120,130)
    rig.produce_staged(name, second, id);
    ++names[{second / 10 * 10, name}];
    ++by_id[{second / 10 * 10, id}];
  }
  rig.advance_to(6);
  rig.produce_staged("late", 200);  // W -> 185: every window above closes
  rig.advance_to(20);
  std::vector<TableRow> expected_names, expected_ids;
  for (const auto& [k, n] : names)
    expected_names.push_back(rig.row(k.first, k.first + 10, k.second, n));
  for (const auto& [k, n] : by_id)
    expected_ids.push_back(rig.row(k.first, k.first + 10, k.second, n));
  EXPECT_EQ(rig.table("events_users_v1"), expected_names);
  EXPECT_EQ(rig.table("events_ids"), expected_ids);
}

TEST(Aggregate, MalformedStagedRecordsAreDeadLetteredAndCountsBalance) {
  Rig rig(testing::config_with({v1()}, false));
  rig.advance_to(1);
  rig.produce_staged("one", 100);
  rig.produce_raw("events_stages", R"({"user_name":"one","time":"not a time"})");
  rig.produce_raw("events_stages", "{broken");
  rig.advance_to(6);
  const auto& t = rig.pipeline->query("events_users_v1")->totals();
  EXPECT_EQ(t.rows_in, 3);
  EXPECT_EQ(t.dead_letters, 2);
  EXPECT_EQ(t.rows_in, t.windowed_rows + t.late_rows + t.dead_letters);
  const auto dlq = rig.values("events_dlq");
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_NE(dlq[0].find(R"("reason":"bad_time")"), std::string::npos) << dlq[0];
  EXPECT_NE(
      dlq[0].find(
          R"("job":"events_users_v1","source":{"topic":"events_stages","partition":0,"offset":1,)"),
      std::string::npos)
      << dlq[0];
  EXPECT_NE(dlq[1].find(R"("reason":"not_json")"), std::string::npos) << dlq[1];
  EXPECT_NE(dlq[1].find(R"("value":"{broken"})"), std::string::npos) << dlq[1];
}

TEST(Aggregate, TheFullPipelineLagsByTheWatermark) {
  Rig rig(testing::config_with({v1()}));
  GeneratorSpec g;
  g.count = 30;
  rig.pipeline->add_generator(g, testing::kT0);
  ASSERT_TRUE(rig.scheduler->run_until_idle(3600 * 1000));
  // Events 0..29 at @0..@29 (ids 0..29, one a second). The last data batch (@30) moves W to
  // 29-15 = 14: only [0,10) has closed, holding ids 0..9, one event per user.
  std::vector<TableRow> want;
  const char* names[] = {"eight", "five", "four",  "nine", "one",
                         "seven", "six",  "three", "two",  "zero"};
  for (const char* n : names) want.push_back(rig.row(0, 10, n, 1));
  EXPECT_EQ(rig.table("events_users_v1"), want);
}

// A stream with bounded disorder, replayed with restarts and crashes, leaves exactly the table
// of an uninterrupted run (Spark 3.2 rule), provided batches keep their composition:
//  - a planned restart brings the query back on a trigger instant (a restart elsewhere makes the
//    first trigger fire at once, as Spark's does, and can move a late row into another batch);
//  - a crashed query is restarted by its supervisor at the instant it crashed;
//  - a batch with data follows the last restart (a restarted query runs no no-data batch first).
struct Arrival {
  int64_t at_s;     // processing time
  int64_t event_s;  // event time
  int user;
};

std::vector<TableRow> run_story(const std::vector<Arrival>& arrivals,
                                const std::vector<int64_t>& restarts,
                                const std::vector<std::pair<std::string, int>>& crashes) {
  FaultPlan faults;
  for (const auto& [point, skip] : crashes) faults.arm(point, StatusCode::kAborted, 1, skip);
  Rig rig(testing::config_with({v1()}, false), &faults);
  rig.pipeline->set_auto_restart("", true);
  const char* names[] = {"zero", "one", "two", "three"};
  size_t next_restart = 0;
  for (const Arrival& a : arrivals) {
    while (next_restart < restarts.size() && restarts[next_restart] <= a.at_s) {
      const int64_t at_ms = testing::kT0 + restarts[next_restart] * 1000;
      EXPECT_TRUE(rig.scheduler->advance_to(at_ms - 1));
      EXPECT_TRUE(rig.pipeline->restart("events_users_v1", at_ms));
      ++next_restart;
    }
    rig.advance_to(a.at_s);
    rig.produce_staged(names[a.user], a.event_s);
  }
  rig.advance_to(arrivals.back().at_s + 1000);
  return rig.table("events_users_v1");
}

RC_GTEST_PROP(AggregateProperty, RestartsAndCrashesChangeNothing, ()) {
  const int n = *rc::gen::inRange(2, 40);
  std::vector<Arrival> arrivals;
  int64_t at = 1;
  for (int i = 0; i < n; ++i) {
    at += *rc::gen::inRange(0, 4);
    const int64_t disorder = *rc::gen::inRange(0, 30);  // up to twice the watermark delay
    arrivals.push_back({at, 100 + at - disorder, *rc::gen::inRange(0, 4)});
  }
  std::vector<int64_t> restarts;  // trigger instants before the last arrival
  for (int k = *rc::gen::inRange(0, 4); k > 0; --k) {
    restarts.push_back(5 * *rc::gen::inRange<int64_t>(1, (arrivals.back().at_s + 4) / 5 + 1));
  }
  std::sort(restarts.begin(), restarts.end());
  while (!restarts.empty() && restarts.back() > arrivals.back().at_s) restarts.pop_back();
  static const char* kPoints[] = {"query.after_plan", "sink.before_commit",
                                  "sink.between_rows_and_ledger", "sink.after_commit",
                                  "query.before_checkpoint"};
  std::vector<std::pair<std::string, int>> crashes;
  for (int k = *rc::gen::inRange(0, 3); k > 0; --k) {
    crashes.emplace_back(kPoints[*rc::gen::inRange(0, 5)], *rc::gen::inRange(0, n));
  }
  const auto straight = run_story(arrivals, {}, {});
  const auto bumpy = run_story(arrivals, restarts, crashes);
  RC_ASSERT(bumpy == straight);
}

// Counts balance and append never writes a window twice, whatever the disorder.
RC_GTEST_PROP(AggregateProperty, AppendNeverWritesAWindowTwiceAndCountsBalance, ()) {
  Rig rig(testing::config_with({v1()}, false));
  const int n = *rc::gen::inRange(1, 60);
  int64_t at = 1;
  for (int i = 0; i < n; ++i) {
    at += *rc::gen::inRange(0, 3);
    rig.advance_to(at);
    rig.produce_staged(*rc::gen::element("a", "b"), 100 + at - *rc::gen::inRange(0, 60));
  }
  rig.advance_to(at + 1000);
  const auto rows = rig.table("events_users_v1");
  for (size_t i = 1; i < rows.size(); ++i) {
    RC_ASSERT(!(rows[i].start == rows[i - 1].start && rows[i].dim == rows[i - 1].dim));
  }
  int64_t written = 0;
  for (const auto& r : rows) written += r.count;
  const auto* q = rig.pipeline->query("events_users_v1");
  RC_ASSERT(q->totals().rows_in == n);
  RC_ASSERT(q->totals().windowed_rows + q->totals().late_rows == n);
  // What is written is what was counted, minus the windows the watermark has not passed yet.
  RC_ASSERT(written <= q->totals().windowed_rows);
}

// With a watermark delay at least the stream's disorder, nothing is late and, once the
// watermark passes the last window, the counts sum to the events sent.
RC_GTEST_PROP(AggregateProperty, EnoughDelayCountsEveryEvent, ()) {
  Rig rig(testing::config_with({v1()}, false));
  const int n = *rc::gen::inRange(1, 60);
  int64_t at = 1;
  for (int i = 0; i < n; ++i) {
    at += *rc::gen::inRange(0, 3);
    rig.advance_to(at);
    rig.produce_staged(*rc::gen::element("a", "b", "c"), 100 + at - *rc::gen::inRange(0, 15));
  }
  rig.advance_to(at + 1);
  rig.produce_staged("closer", 100 + at + 100);  // moves the watermark past every window
  rig.advance_to(at + 30);
  int64_t sum = 0;
  for (const auto& r : rig.table("events_users_v1")) sum += r.count;
  RC_ASSERT(rig.pipeline->query("events_users_v1")->totals().late_rows == 0);
  RC_ASSERT(sum == n);
}

}  // namespace
}  // namespace kappa
