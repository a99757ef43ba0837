#include "broker/memory/memory_broker.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <thread>

#include "broker/disk/test_batches.h"
#include "broker/protocol/read_buffers.h"

namespace kappa {
namespace {

using disk::at_base;
using disk::decode_all;
using disk::expected_after;
using disk::keyed_batch;
using disk::make_batch;
using disk::read_all;
using disk::rec;
using disk::Stored;

// What a batch log promises of produced batches: each is served back byte for byte, but for
// its baseOffset (an lz4 batch stays compressed, the CRC is the producer's).
void expect_batches_kept(BatchLog& log) {
  ASSERT_TRUE(log.create_topic("t", 1).is_ok());
  const std::string plain = make_batch(3, "plain", 20);
  const std::string lz4 = make_batch(50, "squeezed", 200, 2000, Compression::kLz4);
  ASSERT_EQ(log.append_batch("t", 0, plain).value_or(-1), 0);
  ASSERT_EQ(log.append_batch("t", 0, lz4).value_or(-1), 3);
  // Reads go into reused buffers (read_buffers.h), whose old bytes are not cleared.
  give_back_read_buffer(std::string(1 << 20, '\xEE'));
  auto read = log.read_batches("t", 0, 0, 1 << 20);
  ASSERT_TRUE(read) << read.status().to_string();
  EXPECT_EQ(read->bytes, at_base(plain, 0) + at_base(lz4, 3));
  EXPECT_EQ(read->high_watermark, 53);
  give_back_read_buffer(std::move(read->bytes));
  // From inside the compressed batch: the whole batch, still compressed.
  auto inside = log.read_batches("t", 0, 20, 1 << 20);
  ASSERT_TRUE(inside);
  EXPECT_EQ(inside->bytes, at_base(lz4, 3));
  EXPECT_EQ(read_record_batch_header(inside->bytes)->codec(), 3);
}

TEST(MemoryBroker, FetchReturnsTheProducedBatchesUnchanged) {
  MemoryBroker b;
  expect_batches_kept(b);
}

TEST(MemoryBroker, ReadBatchesStartsAtTheHoldingBatchAndKeepsWholeBatches) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_topic("t", 1).is_ok());
  std::vector<std::string> batches;
  for (int i = 0; i < 10; ++i) {
    batches.push_back(make_batch(4, "b" + std::to_string(i), 100));
    ASSERT_EQ(b.append_batch("t", 0, batches.back()).value_or(-1), 4 * i);
  }
  const int64_t one = static_cast<int64_t>(batches[0].size());
  // A limit below one batch still gives the first whole; otherwise only whole batches fit.
  auto first = b.read_batches("t", 0, 5, 10);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->bytes, at_base(batches[1], 4));
  auto two = b.read_batches("t", 0, 7, 2 * one + one / 2);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->bytes, at_base(batches[1], 4) + at_base(batches[2], 8));
  auto end = b.read_batches("t", 0, 40, 1 << 20);
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->bytes.empty());
  EXPECT_EQ(end->high_watermark, 40);
  EXPECT_EQ(b.read_batches("t", 0, 41, 100).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(b.read_batches("t", 1, 0, 100).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b.append_batch("nope", 0, batches[0]).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b.append_batch("t", 0, batches[0].substr(0, 70)).status().code(),
            StatusCode::kCorruption);
}

TEST(MemoryBroker, ReadsAcrossSegmentsAndByTime) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_topic("t", 1).is_ok());
  // 12 MiB in batches of about 300 KiB, and one batch larger than a segment.
  int64_t next = 0;
  std::vector<int64_t> bases;
  for (int i = 0; i < 40; ++i) {
    const int n = i == 20 ? 5000 : 100;
    const size_t size = i == 20 ? 1000 : 3000;
    auto base = b.append_batch("t", 0, make_batch(n, std::to_string(i), size, 10000 * i));
    ASSERT_EQ(base.value_or(-1), next);
    bases.push_back(next);
    next += n;
  }
  EXPECT_EQ(b.offsets("t", 0)->end, next);
  for (int64_t offset : {int64_t{0}, int64_t{99}, int64_t{100}, int64_t{2050}, int64_t{2100},
                         int64_t{7099}, next - 1}) {
    auto read = b.read_batches("t", 0, offset, 1);
    ASSERT_TRUE(read) << offset;
    auto got = decode_all(read->bytes);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_LE(got[0].base_offset, offset);
    EXPECT_GE(got[0].last_offset(), offset);
  }
  // Every byte once, reading on from each answer.
  int64_t records = 0;
  for (int64_t at = 0; at < next;) {
    auto read = b.read_batches("t", 0, at, 1 << 20);
    ASSERT_TRUE(read);
    for (const RecordBatch& batch : decode_all(read->bytes)) {
      EXPECT_EQ(batch.base_offset, at);
      records += static_cast<int64_t>(batch.records.size());
      at = batch.last_offset() + 1;
    }
  }
  EXPECT_EQ(records, next);
  EXPECT_EQ(b.offset_for_time("t", 0, 0).value_or(-1), 0);
  EXPECT_EQ(b.offset_for_time("t", 0, 10000 * 7 + 50).value_or(-1), bases[7] + 50);
  EXPECT_EQ(b.offset_for_time("t", 0, 10000 * 20 + 4000).value_or(-1), bases[20] + 4000);
  EXPECT_EQ(b.offset_for_time("t", 0, 10000 * 39 + 100).value_or(-1), next);
  EXPECT_EQ(b.max_timestamp("t", 0).value_or(0), 10000 * 39 + 99);
  auto fetched = b.fetch("t", 0, bases[20] + 4999, {.max_records = 2});
  ASSERT_TRUE(fetched);
  ASSERT_EQ(fetched->records.size(), 2u);
  EXPECT_EQ(fetched->records[1].offset, bases[21]);
  EXPECT_EQ(fetched->records[1].value.value_or("").substr(0, 4), "21-0");
}

TEST(MemoryBroker, ProduceFetchRoundTrip) {
  MemoryBroker b(MemoryBroker::Options{.default_partitions = 2});
  const HeaderView headers[] = {{"origin", "lab"}, {"none", std::nullopt}};
  std::vector<OutgoingRecord> records = {
      rec("k", "v0", 5, 1, headers), rec(std::nullopt, "v1", 6, 1), rec("k2", std::nullopt, 7, 0)};
  auto placed = b.produce("auto", records);
  ASSERT_TRUE(placed) << placed.status().to_string();
  EXPECT_EQ(b.partition_count("auto").value_or(0), 2);
  EXPECT_EQ((*placed)[1].partition, 1);
  EXPECT_EQ((*placed)[1].offset, 1);
  auto got = b.fetch("auto", 1, 0, {});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->records.size(), 2u);
  EXPECT_EQ(got->records[0].key, "k");
  EXPECT_EQ(got->records[0].timestamp_ms, 5);
  ASSERT_EQ(got->records[0].headers.size(), 2u);
  EXPECT_EQ(got->records[0].headers[0].value, "lab");
  EXPECT_FALSE(got->records[0].headers[1].value);
  EXPECT_FALSE(got->records[1].key);
  EXPECT_EQ(got->next_offset, 2);
  EXPECT_FALSE(b.fetch("auto", 0, 0, {})->records[0].value);
  // A Kafka client's compressed batch reads back as records too.
  ASSERT_EQ(b.append_batch("auto", 0, make_batch(3, "z", 0, 99, Compression::kLz4)).value_or(-1),
            1);
  auto z = b.fetch("auto", 0, 2, {});
  ASSERT_TRUE(z);
  ASSERT_EQ(z->records.size(), 2u);
  EXPECT_EQ(z->records[0].value, "z-1");

  MemoryBroker strict(MemoryBroker::Options{.auto_create_topics = false});
  EXPECT_EQ(strict.produce("t", records).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(strict.create_topic("bad name", 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(strict.create_topic("t", 0).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(strict.create_topic("t", 2).is_ok());
  EXPECT_TRUE(strict.create_topic("t", 2).is_ok());
  EXPECT_EQ(strict.create_topic("t", 3).code(), StatusCode::kAlreadyExists);
}

TEST(MemoryBroker, ProduceCutsBatchesAtTheLimit) {
  MemoryBroker b(MemoryBroker::Options{.max_batch_bytes = 1000});
  const std::string value(300, 'v');
  std::vector<OutgoingRecord> records(10, rec(std::nullopt, value, 0, 0));
  ASSERT_TRUE(b.produce("t", records));
  auto read = b.read_batches("t", 0, 0, 1 << 20);
  ASSERT_TRUE(read);
  auto batches = decode_all(read->bytes);
  EXPECT_GT(batches.size(), 3u);
  for (const RecordBatch& batch : batches) EXPECT_LE(12 + batch.batch_length, 1000);
}

TEST(MemoryBroker, IdempotentProducersAndTransactions) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_topic("t", 1).is_ok());
  BatchProducer idem{.producer_id = 7, .producer_epoch = 0, .base_sequence = 0};
  const std::string first = make_batch(2, "i", 0, 1000, Compression::kNone, idem);
  auto h = read_record_batch_header(first);
  ASSERT_TRUE(h);
  EXPECT_EQ(b.check_producer("t", 0, *h)->verdict, ProducerStates::Verdict::kAppend);
  ASSERT_EQ(b.append_batch("t", 0, first).value_or(-1), 0);
  auto again = b.check_producer("t", 0, *h);
  EXPECT_EQ(again->verdict, ProducerStates::Verdict::kDuplicate);
  EXPECT_EQ(again->duplicate_of, 0);

  BatchProducer txn{
      .producer_id = 9, .producer_epoch = 1, .base_sequence = 0, .transactional = true};
  ASSERT_EQ(
      b.append_batch("t", 0, make_batch(3, "x", 0, 1000, Compression::kNone, txn)).value_or(-1), 2);
  EXPECT_EQ(b.transaction_index("t", 0, 0, 100)->last_stable_offset, 2);
  ASSERT_EQ(b.append_batch("t", 0, encode_transaction_marker(9, 1, false, 0, 2000)).value_or(-1),
            5);
  auto index = b.transaction_index("t", 0, 0, 100);
  ASSERT_TRUE(index);
  EXPECT_EQ(index->last_stable_offset, 6);
  ASSERT_EQ(index->aborted.size(), 1u);
  EXPECT_EQ(index->aborted[0], (ProducerStates::AbortedTransaction{9, 2, 5}));
  auto marker = b.read_batches("t", 0, 5, 1 << 20);
  ASSERT_TRUE(marker);
  EXPECT_TRUE(read_record_batch_header(marker->bytes)->is_control());
  // Deleting the records of the aborted transaction forgets it.
  ASSERT_EQ(b.delete_records("t", 0, 6).value_or(-1), 6);
  EXPECT_TRUE(b.transaction_index("t", 0, 0, 100)->aborted.empty());

  ASSERT_TRUE(b.put_transaction_state("tx-a", "state-a").is_ok());
  ASSERT_TRUE(b.put_transaction_state("tx-b", "state-b").is_ok());
  ASSERT_TRUE(b.put_transaction_state("tx-a", "").is_ok());
  auto states = b.transaction_states();
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0], std::make_pair(std::string("tx-b"), std::string("state-b")));
}

TEST(MemoryBroker, DeleteRecordsMovesTheLogStartAndFreesWholeSegments) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_topic("t", 1).is_ok());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(b.append_batch("t", 0, make_batch(100, std::to_string(i), 3000, 100 * i)));
  }
  EXPECT_EQ(b.delete_records("t", 0, 3001).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(b.delete_records("t", 0, 0).value_or(-1), 0);
  ASSERT_EQ(b.delete_records("t", 0, 1550).value_or(-1), 1550);
  EXPECT_EQ(b.delete_records("t", 0, 1000).value_or(-1), 1550);
  EXPECT_EQ(b.offsets("t", 0)->earliest, 1550);
  EXPECT_EQ(b.read_batches("t", 0, 1549, 100).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(b.fetch("t", 0, 10, {}).status().code(), StatusCode::kOutOfRange);
  auto read = b.read_batches("t", 0, 1550, 1);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->log_start_offset, 1550);
  EXPECT_EQ(decode_all(read->bytes).at(0).base_offset, 1500);  // the batch holding it
  EXPECT_EQ(
      b.fetch("t", 0, 1550, {.max_records = 1})->records.at(0).value.value_or("").substr(0, 5),
      "15-50");
  EXPECT_EQ(b.offset_for_time("t", 0, 0).value_or(-1), 1550);
  // Everything: the partition goes on at its end offset.
  ASSERT_EQ(b.delete_records("t", 0, 3000).value_or(-1), 3000);
  EXPECT_TRUE(b.read_batches("t", 0, 3000, 100)->bytes.empty());
  EXPECT_EQ(b.offset_for_time("t", 0, 0).value_or(-1), 3000);
  ASSERT_EQ(b.append_batch("t", 0, make_batch(2, "after")).value_or(-1), 3000);
  EXPECT_EQ(b.fetch("t", 0, 3000, {})->records.size(), 2u);
}

// Topic configs act in memory as in the durable log. The segments a partition holds follow
// from the roll rule (a batch that would take a segment past segment.bytes starts the next),
// so the tests below derive where each segment starts from the batches' sizes.
constexpr int64_t kNow = 1'700'000'000'000;

struct Appended {
  std::vector<Stored> records;
  std::vector<int64_t> segment_bases;  // by the roll rule
  std::vector<int64_t> segment_sizes;
};

// One-record batches: key k<i % keys>, value v<i>, timestamp ts(i).
template <class Ts>
Appended append_rounds(MemoryBroker& b, const std::string& topic, int n, int keys,
                       int64_t segment_bytes, Ts&& ts) {
  Appended out;
  int64_t pos = 0;
  for (int i = 0; i < n; ++i) {
    const std::string key = "k" + std::to_string(i % keys), value = "v" + std::to_string(i);
    const std::string batch = keyed_batch(key, value, ts(i));
    auto at = b.append_batch(topic, 0, batch);
    EXPECT_TRUE(at) << at.status().to_string();
    out.records.push_back({at ? *at : -1, key, value});
    const auto size = static_cast<int64_t>(batch.size());
    if (out.segment_bases.empty() || pos + size > segment_bytes) {
      out.segment_bases.push_back(i);
      out.segment_sizes.push_back(0);
      pos = 0;
    }
    pos += size;
    out.segment_sizes.back() += size;
  }
  return out;
}

TEST(MemoryBroker, CompactionKeepsTheLatestRecordOfEachKeyAtItsOffset) {
  MemoryBroker b;
  ASSERT_TRUE(
      b.create_configured_topic("c", 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "400"}}));
  const auto in = append_rounds(b, "c", 60, 5, 400, [](int i) { return kNow + i; });
  ASSERT_GT(in.segment_bases.size(), 8u);
  const int64_t active = in.segment_bases.back();
  ASSERT_EQ(read_all(b, "c"), in.records);
  const int64_t bytes_before = b.partition_bytes("c", 0).value_or(-1);

  auto cleaned = b.clean_logs(kNow + 100);
  ASSERT_TRUE(cleaned) << cleaned.status().to_string();
  ASSERT_EQ(cleaned->size(), 1u);
  const disk::CleanerStats& s = cleaned->front().stats;
  EXPECT_EQ(s.cleaned_end, active);
  EXPECT_EQ(s.segments_in, static_cast<int64_t>(in.segment_bases.size()) - 1);
  EXPECT_EQ(s.records_in, active);
  EXPECT_EQ(s.records_kept, 5);
  EXPECT_EQ(s.segments_out, 1);  // five small batches fit one segment
  EXPECT_EQ(b.partition_bytes("c", 0).value_or(-1), bytes_before - s.bytes_in + s.bytes_out);

  const auto want = expected_after(in.records, active);
  ASSERT_LT(want.size(), in.records.size());
  EXPECT_EQ(read_all(b, "c"), want);
  auto range = b.offsets("c", 0);
  ASSERT_TRUE(range);
  EXPECT_EQ(range->earliest, 0);
  EXPECT_EQ(range->end, 60);
  // A read inside a gap gets the next batch; the record-level reader steps over the gaps.
  auto in_gap = b.read_batches("c", 0, 1, 1 << 20);
  ASSERT_TRUE(in_gap);
  EXPECT_EQ(decode_all(in_gap->bytes).at(0).base_offset, want.front().offset);
  auto fetched = b.fetch("c", 0, 0, FetchLimits{.max_records = 1000});
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->records.size(), want.size());
  EXPECT_EQ(fetched->next_offset, 60);
  // By time: the first record at or after a timestamp that compaction removed is a later one.
  EXPECT_EQ(b.offset_for_time("c", 0, kNow + 1).value_or(-1), want.front().offset);

  // Nothing new is dirty: no pass. New records supersede cleaned ones on the next.
  auto again = b.clean_logs(kNow + 200);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  std::vector<Stored> now = want;
  const auto more = append_rounds(b, "c", 30, 3, 400, [](int i) { return kNow + 60 + i; });
  for (Stored r : more.records) now.push_back(r);
  ASSERT_TRUE(b.clean_logs(kNow + 300));
  EXPECT_EQ(read_all(b, "c"), expected_after(now, 60 + more.segment_bases.back()));
}

TEST(MemoryBroker, ATombstoneGoesDeleteRetentionAfterItsTimestamp) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_configured_topic(
      "c", 1,
      {{"cleanup.policy", "compact"}, {"segment.bytes", "200"}, {"delete.retention.ms", "1000"}}));
  ASSERT_TRUE(b.append_batch("c", 0, keyed_batch("a", "1", kNow)));
  ASSERT_TRUE(b.append_batch("c", 0, keyed_batch("a", std::nullopt, kNow)));  // offset 1
  const auto rest = append_rounds(b, "c", 10, 10, 200, [](int) { return kNow; });
  ASSERT_TRUE(b.clean_logs(kNow + 999));
  auto held = read_all(b, "c");
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held.front(), (Stored{1, "a", std::nullopt}));
  // Due now: the tombstone alone is reason enough for a pass.
  auto cleaned = b.clean_logs(kNow + 1000);
  ASSERT_TRUE(cleaned);
  ASSERT_EQ(cleaned->size(), 1u);
  EXPECT_NE(read_all(b, "c").front().offset, 1);
  EXPECT_EQ(read_all(b, "c").front().key, "k0");
}

TEST(MemoryBroker, RetentionDeletesClosedSegmentsByTimeAndBySize) {
  MemoryBroker b;
  ASSERT_TRUE(
      b.create_configured_topic("r", 1, {{"segment.bytes", "300"}, {"retention.ms", "60000"}}));
  // Records i < 20 are two minutes old, the rest new.
  const auto in =
      append_rounds(b, "r", 40, 40, 300, [](int i) { return i < 20 ? kNow - 120000 : kNow; });
  ASSERT_GT(in.segment_bases.size(), 4u);
  // The first segment not wholly older than a minute: the one holding record 20.
  size_t first_kept = 0;
  while (first_kept + 1 < in.segment_bases.size() && in.segment_bases[first_kept + 1] <= 20) {
    ++first_kept;
  }
  b.enforce_retention(kNow);
  EXPECT_EQ(b.offsets("r", 0)->earliest, in.segment_bases[first_kept]);
  EXPECT_EQ(b.read_batches("r", 0, 0, 100).status().code(), StatusCode::kOutOfRange);
  ASSERT_FALSE(read_all(b, "r").empty());
  EXPECT_EQ(read_all(b, "r").front().offset, in.segment_bases[first_kept]);

  // By size: the oldest segments go while the rest still holds retention.bytes.
  ASSERT_TRUE(b.set_topic_configs("r", {{"segment.bytes", "300"}, {"retention.bytes", "500"}}));
  int64_t total = 0;
  for (size_t k = first_kept; k < in.segment_sizes.size(); ++k) total += in.segment_sizes[k];
  size_t k = first_kept;
  while (k + 1 < in.segment_sizes.size() && total - in.segment_sizes[k] >= 500) {
    total -= in.segment_sizes[k++];
  }
  ASSERT_GT(k, first_kept);
  b.enforce_retention(kNow);
  EXPECT_EQ(b.offsets("r", 0)->earliest, in.segment_bases[k]);
  EXPECT_EQ(b.partition_bytes("r", 0).value_or(-1), total);
  // Everything old, the active segment too: the partition goes on at its end offset.
  ASSERT_TRUE(b.set_topic_configs("r", {{"segment.bytes", "300"}, {"retention.ms", "1000"}}));
  b.enforce_retention(kNow + 1001);
  EXPECT_EQ(b.offsets("r", 0)->earliest, 40);
  EXPECT_EQ(b.offsets("r", 0)->end, 40);
  EXPECT_EQ(b.partition_bytes("r", 0).value_or(-1), 0);
  EXPECT_TRUE(b.read_batches("r", 0, 40, 100)->bytes.empty());
  ASSERT_EQ(b.append_batch("r", 0, keyed_batch("k", "after", kNow + 2000)).value_or(-1), 40);
  EXPECT_EQ(read_all(b, "r"), (std::vector<Stored>{{40, "k", "after"}}));
  // cleanup.policy=compact alone keeps everything from retention.
  ASSERT_TRUE(b.create_configured_topic(
      "kept", 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "300"}, {"retention.ms", "0"}}));
  append_rounds(b, "kept", 20, 20, 300, [](int) { return kNow; });
  b.enforce_retention(kNow + 1000000);
  EXPECT_EQ(b.offsets("kept", 0)->earliest, 0);
}

// The cleaner swaps segments while appends and reads go on: every read sees whole batches at
// rising offsets, each record with the value appended at its offset, and the log ends as the
// rule says.
TEST(MemoryBroker, CleaningBesideAppendsAndReads) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_configured_topic("c", 1,
                                        {{"cleanup.policy", "compact"},
                                         {"segment.bytes", "400"},
                                         {"min.cleanable.dirty.ratio", "0.01"}}));
  std::atomic<bool> done{false}, reading{false};
  Appended in;
  std::thread writer([&] {
    while (!reading) std::this_thread::yield();
    in = append_rounds(b, "c", 20000, 10, 400, [](int i) { return kNow + i; });
    done = true;
  });
  std::thread cleaner([&] {
    while (!done) EXPECT_TRUE(b.clean_logs(kNow + 1'000'000).is_ok());
  });
  int reads = 0;
  reading = true;
  while (!done) {
    int64_t previous = -1;
    for (const Stored& r : read_all(b, "c")) {
      EXPECT_GT(r.offset, previous);
      EXPECT_EQ(r.value, "v" + std::to_string(r.offset));
      previous = r.offset;
    }
    ++reads;
  }
  writer.join();
  cleaner.join();
  EXPECT_GT(reads, 1);
  ASSERT_TRUE(b.clean_logs(kNow + 2'000'000));
  EXPECT_EQ(read_all(b, "c"), expected_after(in.records, in.segment_bases.back()));
}

TEST(MemoryBroker, GroupOffsetsTopicsAndConfigs) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_configured_topic("t", 2, {{"retention.ms", "1000"}}).is_ok());
  EXPECT_EQ(b.topic_configs("t")->at("retention.ms"), "1000");
  EXPECT_EQ(b.topic_settings("t")->retention_ms, 1000);
  ASSERT_TRUE(b.set_topic_configs("t", {{"message.timestamp.type", "LogAppendTime"}}).is_ok());
  EXPECT_TRUE(b.topic_settings("t")->log_append_time);
  EXPECT_EQ(b.topic_configs("t")->count("retention.ms"), 0u);
  EXPECT_EQ(b.topic_configs("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b.set_topic_configs("nope", {}).code(), StatusCode::kNotFound);

  const GroupOffset offsets[] = {{0, 5, "meta"}, {1, 7, ""}};
  ASSERT_TRUE(b.commit_group_offsets("g", "t", offsets).is_ok());
  ASSERT_TRUE(b.commit_offsets("h", "t", std::vector<PartitionOffset>{{0, 1}}).is_ok());
  EXPECT_EQ(b.commit_offsets("", "t", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*b.group_offsets("g", "t"), (std::vector<GroupOffset>{{0, 5, "meta"}, {1, 7, ""}}));
  EXPECT_EQ(*b.committed_offsets("g", "t"), (std::vector<PartitionOffset>{{0, 5}, {1, 7}}));
  EXPECT_EQ(*b.offset_groups(), (std::vector<std::string>{"g", "h"}));
  const int32_t one[] = {1};
  ASSERT_TRUE(b.delete_group_offsets("g", "t", one).is_ok());
  EXPECT_EQ(*b.committed_offsets("g", "t"), (std::vector<PartitionOffset>{{0, 5}}));
  ASSERT_TRUE(b.delete_group("h").is_ok());
  EXPECT_EQ(*b.offset_groups(), (std::vector<std::string>{"g"}));

  ASSERT_TRUE(b.add_partitions("t", 3).is_ok());
  EXPECT_EQ(b.add_partitions("t", 3).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(b.append_batch("t", 2, make_batch(2, "p2")));
  EXPECT_TRUE(b.topic_settings("t")->log_append_time) << "growing keeps the configs";

  // Deleted: its records, configs and offsets go, and the name starts again at 0.
  ASSERT_TRUE(b.append_batch("t", 0, make_batch(2, "old")));
  ASSERT_TRUE(b.delete_topic("t").is_ok());
  EXPECT_EQ(b.delete_topic("t").code(), StatusCode::kNotFound);
  EXPECT_EQ(b.offsets("t", 0).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(b.create_topic("t", 1).is_ok());
  EXPECT_EQ(b.offsets("t", 0)->end, 0);
  EXPECT_TRUE(b.topic_configs("t")->empty());
  EXPECT_TRUE(b.committed_offsets("g", "t")->empty());
  EXPECT_EQ(*b.list_topics(), std::vector<std::string>{"t"});
  EXPECT_TRUE(b.sync("t", 0).is_ok());
  EXPECT_EQ(b.sync("t", 1).code(), StatusCode::kNotFound);
}

TEST(MemoryBroker, ReadersSeeWholeBatchesWhileAppendsGoOn) {
  MemoryBroker b;
  ASSERT_TRUE(b.create_topic("t", 1).is_ok());
  constexpr int kBatches = 3000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    int64_t at = 0;
    while (!done.load() || at < b.offsets("t", 0)->end) {
      auto read = b.read_batches("t", 0, at, 64 << 10);
      ASSERT_TRUE(read);
      std::string_view rest = read->bytes;
      while (!rest.empty()) {
        auto h = check_record_batch(rest);  // whole, and the producer's CRC
        ASSERT_TRUE(h) << h.status().to_string();
        ASSERT_EQ(h->base_offset, at);
        at = h->last_offset() + 1;
        rest.remove_prefix(12 + static_cast<size_t>(h->batch_length));
      }
    }
    EXPECT_EQ(at, 3 * kBatches);
  });
  for (int i = 0; i < kBatches; ++i) {
    ASSERT_TRUE(b.append_batch("t", 0, make_batch(3, std::to_string(i), i % 7 * 1000)));
  }
  done = true;
  reader.join();
}

// Appends batches of random sizes; reading from any offset gives the batch holding it and the
// ones after it, byte for byte as appended.
RC_GTEST_PROP(MemoryBrokerProperty, ReadsGiveTheAppendedBatches, ()) {
  MemoryBroker b;
  RC_ASSERT(b.create_topic("t", 1).is_ok());
  const auto sizes = *rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 40));
  std::vector<std::string> stored;
  std::vector<int64_t> bases;
  int64_t next = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string batch = make_batch(sizes[i], std::to_string(i), sizes[i] * 1000 % 70000);
    RC_ASSERT(b.append_batch("t", 0, batch).value_or(-1) == next);
    stored.push_back(at_base(batch, next));
    bases.push_back(next);
    next += sizes[i];
  }
  if (next == 0) return;
  const int64_t offset = *rc::gen::inRange<int64_t>(0, next);
  auto read = b.read_batches("t", 0, offset, *rc::gen::inRange<int64_t>(1, 1 << 20));
  RC_ASSERT(read.is_ok());
  const size_t k =
      static_cast<size_t>(std::upper_bound(bases.begin(), bases.end(), offset) - bases.begin() - 1);
  std::string expected;
  for (size_t i = k; i < stored.size() && read->bytes.size() > expected.size(); ++i) {
    expected += stored[i];
  }
  RC_ASSERT(read->bytes == expected);
}

}  // namespace
}  // namespace kappa
