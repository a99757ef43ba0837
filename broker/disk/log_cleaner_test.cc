// The log cleaner of compacted topics (PartitionStore::clean through DiskBroker::clean_logs):
// what it keeps, what survives a reopen and a crash at each step, injected write failures.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "broker/disk/disk_broker.h"
#include "broker/disk/file.h"
#include "broker/disk/temp_dir.h"
#include "broker/disk/test_batches.h"
#include "broker/protocol/record_batch.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using disk::expected_after;
using disk::keyed_batch;
using disk::read_all;
using disk::Stored;
using disk::TempDir;

DiskBroker::Options options_in(const TempDir& tmp) {
  DiskBroker::Options o;
  o.dir = tmp.path() / "data";
  o.segment_bytes = 400;  // about five one-record batches per segment
  return o;
}

std::unique_ptr<DiskBroker> open_ok(const DiskBroker::Options& o) {
  auto b = DiskBroker::open(o);
  if (!b) ADD_FAILURE() << b.status().to_string();
  return b ? std::move(*b) : nullptr;
}

int64_t active_base(const DiskBroker::Options& o, const std::string& topic) {
  int64_t base = -1;
  for (const auto& e : fs::directory_iterator(o.dir / "topics" / (topic + "-0"))) {
    if (e.path().extension() == ".log")
      base = std::max<int64_t>(base, std::stoll(e.path().stem().string()));
  }
  return base;
}

size_t files_with(const DiskBroker::Options& o, const std::string& topic, const std::string& ext) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(o.dir / "topics" / (topic + "-0"))) {
    n += e.path().extension() == ext;
  }
  return n;
}

constexpr int64_t kNow = 1'700'000'000'000;

// 60 one-record batches over five keys, about twelve segments.
std::vector<Stored> produce_rounds(DiskBroker& b, const std::string& topic, int n = 60) {
  std::vector<Stored> all;
  for (int i = 0; i < n; ++i) {
    const std::string key = "k" + std::to_string(i % 5), value = "v" + std::to_string(i);
    auto at = b.append_batch(topic, 0, keyed_batch(key, value, kNow + i));
    EXPECT_TRUE(at) << at.status().to_string();
    all.push_back({at ? *at : -1, key, value});
  }
  return all;
}

TEST(LogCleaner, KeepsTheLatestRecordOfEachKeyAtItsOffset) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  const auto all = produce_rounds(*b, "c");
  const int64_t active = active_base(o, "c");
  const size_t segments_before = files_with(o, "c", ".log");
  ASSERT_GT(segments_before, 8u);
  ASSERT_EQ(read_all(*b, "c"), all);

  auto cleaned = b->clean_logs(kNow + 100);
  ASSERT_TRUE(cleaned) << cleaned.status().to_string();
  ASSERT_EQ(cleaned->size(), 1u);
  const disk::CleanerStats& s = cleaned->front().stats;
  EXPECT_EQ(s.cleaned_end, active);
  EXPECT_EQ(s.records_in, active);
  EXPECT_EQ(s.records_kept, 5);
  EXPECT_LT(s.bytes_out, s.bytes_in);

  const auto want = expected_after(all, active);
  ASSERT_LT(want.size(), all.size());
  EXPECT_EQ(read_all(*b, "c"), want);
  EXPECT_LT(files_with(o, "c", ".log"), segments_before);
  // The end offset and the log start do not move; a read inside a gap gets the next batch.
  auto range = b->offsets("c", 0);
  ASSERT_TRUE(range);
  EXPECT_EQ(range->earliest, 0);
  EXPECT_EQ(range->end, 60);
  auto in_gap = b->read_batches("c", 0, 1, 1 << 20);
  ASSERT_TRUE(in_gap);
  size_t consumed = 0;
  auto first = decode_record_batch(in_gap->bytes, consumed);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->base_offset, want.front().offset);
  // The record-level reader steps over the gaps too.
  auto fetched = b->fetch("c", 0, 0, FetchLimits{.max_records = 1000});
  ASSERT_TRUE(fetched);
  ASSERT_EQ(fetched->records.size(), want.size());
  EXPECT_EQ(fetched->next_offset, 60);

  // Nothing new is dirty: the next pass does not run; a reopen keeps the cleaned log.
  auto again = b->clean_logs(kNow + 200);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  b.reset();
  b = open_ok(o);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(read_all(*b, "c"), want);
  EXPECT_EQ(b->recovery().partitions.front().end_offset, 60);

  // New records supersede cleaned ones on the next pass.
  std::vector<Stored> now = want;
  for (int i = 60; i < 90; ++i) {
    const std::string key = "k" + std::to_string(i % 3), value = "v" + std::to_string(i);
    auto at = b->append_batch("c", 0, keyed_batch(key, value, kNow + i));
    ASSERT_TRUE(at);
    now.push_back({*at, key, value});
  }
  ASSERT_TRUE(b->clean_logs(kNow + 300));
  EXPECT_EQ(read_all(*b, "c"), expected_after(now, active_base(o, "c")));
}

// A compressed batch of several records, partly superseded, is rewritten compressed with the
// same codec, base offset and last offset delta, its kept records at their own offsets.
TEST(LogCleaner, APartlyKeptBatchKeepsItsCodecAndOffsets) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  std::vector<OutgoingRecord> records(4);
  const char* keys[] = {"a", "b", "a", "c"};
  for (size_t i = 0; i < 4; ++i) {
    records[i].key = keys[i];
    records[i].value = keys[i];
    records[i].timestamp_ms = kNow + static_cast<int64_t>(i);
  }
  ASSERT_TRUE(b->append_batch("c", 0, encode_record_batch(0, records, Compression::kLz4)));
  ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("b", "b2", kNow + 10)));  // offset 4
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("f" + std::to_string(i), "x", kNow + 20)));
  }
  ASSERT_TRUE(b->clean_logs(kNow));
  auto read = b->read_batches("c", 0, 0, 1 << 20);
  ASSERT_TRUE(read);
  size_t consumed = 0;
  auto first = decode_record_batch(read->bytes, consumed);
  ASSERT_TRUE(first) << first.status().to_string();
  EXPECT_EQ(first->codec(), static_cast<int>(Compression::kLz4));
  EXPECT_EQ(first->base_offset, 0);
  EXPECT_EQ(first->last_offset_delta, 3);
  ASSERT_EQ(first->records.size(), 2u);
  EXPECT_EQ(first->records[0].offset, 2);
  EXPECT_EQ(*first->records[0].key, "a");
  EXPECT_EQ(first->records[0].timestamp_ms, kNow + 2);
  EXPECT_EQ(first->records[1].offset, 3);
  EXPECT_EQ(*first->records[1].key, "c");
  EXPECT_EQ(first->max_timestamp, kNow + 3);
}

TEST(LogCleaner, ATopicWithoutCompactIsNotCleaned) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("d", 1));
  const auto all = produce_rounds(*b, "d");
  auto cleaned = b->clean_logs(kNow);
  ASSERT_TRUE(cleaned);
  EXPECT_TRUE(cleaned->empty());
  EXPECT_EQ(read_all(*b, "d"), all);
}

TEST(LogCleaner, TombstonesGoDeleteRetentionAfterTheirTimestamp) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic(
      "c", 1, {{"cleanup.policy", "compact"}, {"delete.retention.ms", "1000"}}));
  ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("a", "1", kNow)));
  ASSERT_TRUE(b->append_batch("c", 0, keyed_batch(std::nullopt, "no key", kNow)));
  ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("a", std::nullopt, kNow + 10)));  // offset 2
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("f" + std::to_string(i), "x", kNow + 20)));
  }
  ASSERT_LT(2, active_base(o, "c"));

  ASSERT_TRUE(b->clean_logs(kNow + 500));
  auto kept = read_all(*b, "c");
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.front(), (Stored{2, "a", std::nullopt})) << "the tombstone stays, a=1 goes";

  // Nothing is dirty now, but the tombstone is due: the next pass removes it.
  auto later = b->clean_logs(kNow + 10 + 1000);
  ASSERT_TRUE(later);
  ASSERT_EQ(later->size(), 1u);
  kept = read_all(*b, "c");
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(*kept.front().key, "f0");
}

TEST(LogCleaner, AbortedRecordsGoAndDoNotHideCommittedOnes) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  BatchProducer p{.producer_id = 7, .producer_epoch = 0, .base_sequence = 0, .transactional = true};
  ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("k", "committed", kNow, p)));
  ASSERT_TRUE(b->append_batch("c", 0, encode_transaction_marker(7, 0, true, 0, kNow)));
  p.base_sequence = 1;
  ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("k", "aborted", kNow, p)));  // offset 2
  ASSERT_TRUE(b->append_batch("c", 0, encode_transaction_marker(7, 0, false, 0, kNow)));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("f" + std::to_string(i), "x", kNow)));
  }
  ASSERT_TRUE(b->clean_logs(kNow));
  auto kept = read_all(*b, "c");
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.front(), (Stored{0, "k", "committed"}));
  EXPECT_NE(kept[1].offset, 2) << "the aborted record is gone";
  // Both markers stay, so a read_committed reader still learns of the aborted transaction.
  auto index = b->transaction_index("c", 0, 0, 4);
  ASSERT_TRUE(index);
  EXPECT_EQ(index->aborted.size(), 1u);
}

TEST(LogCleaner, AnOpenTransactionStopsTheCleanerAtTheLastStableOffset) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  const BatchProducer p{
      .producer_id = 9, .producer_epoch = 0, .base_sequence = 0, .transactional = true};
  ASSERT_TRUE(b->append_batch("c", 0, keyed_batch("k", "open", kNow, p)));
  const auto all = produce_rounds(*b, "c");
  auto cleaned = b->clean_logs(kNow);
  ASSERT_TRUE(cleaned);
  EXPECT_TRUE(cleaned->empty());
  EXPECT_EQ(read_all(*b, "c").size(), all.size() + 1);
}

// The disk as a crash leaves it after a committed swap: the cleaned group under its swap name,
// the old segments still there, the checkpoint written. The next open finishes the swap.
TEST(LogCleaner, ASwapCommittedBeforeACrashIsFinishedAtOpen) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  const auto all = produce_rounds(*b, "c");
  const int64_t active = active_base(o, "c");
  b.reset();
  const fs::path crashed = tmp.path() / "crashed";
  fs::copy(o.dir, crashed, fs::copy_options::recursive);
  b = open_ok(o);
  ASSERT_TRUE(b->clean_logs(kNow));
  const auto want = read_all(*b, "c");
  b.reset();
  ASSERT_EQ(files_with(o, "c", ".log"), 2u) << "one cleaned group and the active segment";
  const fs::path part = crashed / "topics" / "c-0";
  fs::copy_file(
      o.dir / "topics" / "c-0" / "00000000000000000000.log",
      part / ("00000000000000000000-" + std::string(20 - std::to_string(active).size(), '0') +
              std::to_string(active) + ".swap"));
  fs::copy_file(o.dir / "cleaner-offset-checkpoint", crashed / "cleaner-offset-checkpoint");
  // And a group of another run that never got its swap name.
  disk::write_file(part / "00000000000000000005.cleaned", "half written");

  auto o2 = o;
  o2.dir = crashed;
  auto c = open_ok(o2);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(read_all(*c, "c"), want);
  EXPECT_EQ(read_all(*c, "c"), expected_after(all, active));
  EXPECT_EQ(files_with(o2, "c", ".log"), 2u);
  EXPECT_EQ(files_with(o2, "c", ".swap"), 0u);
  EXPECT_EQ(files_with(o2, "c", ".cleaned"), 0u);
}

// Without the cleaner's checkpoint a gap between segments is damage, as before.
TEST(LogCleaner, AGapWithoutTheCheckpointIsRefused) {
  TempDir tmp;
  const auto o = options_in(tmp);
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  produce_rounds(*b, "c");
  ASSERT_TRUE(b->clean_logs(kNow));
  b.reset();
  ASSERT_TRUE(fs::remove(o.dir / "cleaner-offset-checkpoint"));
  auto again = DiskBroker::open(o);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().code(), StatusCode::kCorruption) << again.status().to_string();
}

class FailCleanerWrites : public disk::IoFaults {
 public:
  int before_write(const fs::path& file) override {
    return file.extension() == ".cleaned" ? ENOSPC : 0;
  }
  int before_datasync(const fs::path&) override { return 0; }
};

TEST(LogCleaner, AFailedWriteLeavesTheLogAsItWas) {
  TempDir tmp;
  auto o = options_in(tmp);
  o.faults = std::make_shared<FailCleanerWrites>();
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  const auto all = produce_rounds(*b, "c");
  auto cleaned = b->clean_logs(kNow);
  ASSERT_FALSE(cleaned);
  EXPECT_NE(cleaned.status().message().find("No space left"), std::string::npos)
      << cleaned.status().to_string();
  EXPECT_EQ(read_all(*b, "c"), all);
  EXPECT_EQ(files_with(o, "c", ".cleaned"), 0u);
  b.reset();
  b = open_ok(o);
  EXPECT_EQ(read_all(*b, "c"), all);
}

TEST(LogCleaner, TheKeyMapLimitCleansAPrefixOrSaysWhy) {
  TempDir tmp;
  auto o = options_in(tmp);
  o.cleaner.max_key_map_bytes = 1;
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
    produce_rounds(*b, "c");
    auto cleaned = b->clean_logs(kNow);
    ASSERT_FALSE(cleaned);
    EXPECT_NE(cleaned.status().message().find("--log-cleaner-dedupe-buffer-size"),
              std::string::npos)
        << cleaned.status().to_string();
  }
  // Room for exactly the five keys: every segment is mapped.
  TempDir tmp2;
  auto o2 = options_in(tmp2);
  o2.cleaner.max_key_map_bytes = 5 * (2 + 64);
  auto b = open_ok(o2);
  ASSERT_TRUE(b->create_configured_topic("c", 1, {{"cleanup.policy", "compact"}}));
  const auto all = produce_rounds(*b, "c");
  auto cleaned = b->clean_logs(kNow);
  ASSERT_TRUE(cleaned) << cleaned.status().to_string();
  ASSERT_EQ(cleaned->size(), 1u);
  EXPECT_EQ(read_all(*b, "c"), expected_after(all, active_base(o2, "c")));
}

}  // namespace
}  // namespace kappa
