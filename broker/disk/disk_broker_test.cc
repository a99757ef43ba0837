#include "broker/disk/disk_broker.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "broker/disk/descriptors.h"
#include "broker/disk/temp_dir.h"
#include "broker/disk/test_batches.h"
#include "broker/partitioner.h"
#include "broker/protocol/read_buffers.h"
#include "broker/protocol/record_batch.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using disk::decode_all;
using disk::make_batch;
using disk::read_file;
using disk::rec;
using disk::TempDir;
using disk::write_file;
using Policy = DiskBroker::FsyncPolicy;

// A fresh directory per test, removed afterwards.

DiskBroker::Options options_for(const fs::path& dir) {
  DiskBroker::Options o;
  o.dir = dir / "data";
  return o;
}

std::unique_ptr<DiskBroker> open_ok(const DiskBroker::Options& o) {
  auto b = DiskBroker::open(o);
  if (!b) ADD_FAILURE() << b.status().to_string();
  return b ? std::move(*b) : nullptr;
}

std::vector<fs::path> segment_files(const fs::path& partition_dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(partition_dir)) {
    if (e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path partition_dir(const DiskBroker::Options& o, const std::string& topic, int p) {
  return o.dir / "topics" / (topic + "-" + std::to_string(p));
}

std::vector<std::string> fetch_values(DiskBroker& b, const std::string& topic, int p,
                                      int64_t from = 0) {
  std::vector<std::string> out;
  for (;;) {
    auto f = b.fetch(topic, p, from, FetchLimits{.max_records = 7});
    EXPECT_TRUE(f) << f.status().to_string();
    if (!f || f->records.empty()) break;
    for (const auto& r : f->records) {
      EXPECT_EQ(r.offset, from + static_cast<int64_t>(&r - f->records.data()));
      out.emplace_back(r.value.value_or("<null>"));
    }
    from = f->next_offset;
  }
  return out;
}

TEST(DiskBroker, ProduceFetchRoundTrip) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.default_partitions = 3;
  auto b = open_ok(o);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->describe(), "disk:" + o.dir.string());
  const HeaderView headers[] = {{"origin", "gen"}, {"nullh", std::nullopt}};
  std::vector<OutgoingRecord> records;
  records.push_back(rec("k1", "v1", 5, 0, headers));
  records.push_back(rec(std::nullopt, std::nullopt, 6, 0));
  records.push_back(rec("", "", 7, 0));
  records.push_back(rec("routed", "r", 8));
  auto placed = b->produce("events", records);
  ASSERT_TRUE(placed) << placed.status().to_string();
  EXPECT_EQ((*placed)[0].offset, 0);
  EXPECT_EQ((*placed)[1].offset, 1);
  EXPECT_EQ((*placed)[2].offset, 2);
  EXPECT_EQ((*placed)[3].partition, partition_for_key("routed", 3));
  ASSERT_EQ(*b->partition_count("events"), 3);

  auto f = b->fetch("events", 0, 0, {});
  ASSERT_TRUE(f) << f.status().to_string();
  const int extra = (*placed)[3].partition == 0 ? 1 : 0;
  ASSERT_EQ(f->records.size(), 3u + extra);
  EXPECT_EQ(f->next_offset, 3 + extra);
  EXPECT_EQ(f->end_offset, 3 + extra);
  EXPECT_EQ(f->records[0].key, "k1");
  EXPECT_EQ(f->records[0].value, "v1");
  EXPECT_EQ(f->records[0].timestamp_ms, 5);
  EXPECT_EQ(f->records[0].header("origin"), "gen");
  ASSERT_EQ(f->records[0].headers.size(), 2u);
  EXPECT_FALSE(f->records[0].headers[1].value.has_value());
  EXPECT_FALSE(f->records[1].key.has_value());
  EXPECT_FALSE(f->records[1].value.has_value());
  EXPECT_EQ(f->records[2].key, "");
  EXPECT_EQ(f->records[2].value, "");

  // Limits: from the middle of a batch, max_records, end_offset, max_bytes (>= 1 record).
  auto mid = b->fetch("events", 0, 1, FetchLimits{.max_records = 1});
  ASSERT_TRUE(mid);
  ASSERT_EQ(mid->records.size(), 1u);
  EXPECT_EQ(mid->records[0].offset, 1);
  EXPECT_EQ(mid->next_offset, 2);
  auto bounded = b->fetch("events", 0, 0, FetchLimits{.end_offset = 2});
  ASSERT_EQ(bounded->records.size(), 2u);
  EXPECT_EQ(bounded->next_offset, 2);
  auto tiny = b->fetch("events", 0, 0, FetchLimits{.max_bytes = 1});
  ASSERT_EQ(tiny->records.size(), 1u);
  auto at_end = b->fetch("events", 0, 3 + extra, {});
  ASSERT_TRUE(at_end);
  EXPECT_TRUE(at_end->records.empty());
  EXPECT_EQ(at_end->next_offset, 3 + extra);

  auto topics = b->list_topics();
  EXPECT_EQ(*topics, std::vector<std::string>{"events"});
  EXPECT_EQ(b->create_topic("events", 3).code(), StatusCode::kOk);
  EXPECT_EQ(b->create_topic("events", 2).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(b->create_topic("bad name", 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->create_topic("zero", 0).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(b->create_topic("a-topic", 2));
  EXPECT_EQ(*b->list_topics(), (std::vector<std::string>{"a-topic", "events"}));
}

TEST(DiskBroker, NoAutoCreate) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.auto_create_topics = false;
  auto b = open_ok(o);
  const OutgoingRecord r = rec(std::nullopt, "v");
  auto placed = b->produce("missing", std::span(&r, 1));
  EXPECT_EQ(placed.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b->fetch("missing", 0, 0, {}).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(b->create_topic("t", 1));
  EXPECT_EQ(b->fetch("t", 1, 0, {}).status().code(), StatusCode::kNotFound);
}

TEST(DiskBroker, AppendBatchReadBatchesRoundTrip) {
  TempDir tmp;
  auto b = open_ok(options_for(tmp.path()));
  ASSERT_TRUE(b->create_topic("t", 1));
  std::vector<std::string> sent = {make_batch(3, "a"), make_batch(1, "b"), make_batch(5, "c")};
  std::vector<int64_t> bases;
  for (const auto& s : sent) {
    auto base = b->append_batch("t", 0, s);
    ASSERT_TRUE(base) << base.status().to_string();
    bases.push_back(*base);
  }
  EXPECT_EQ(bases, (std::vector<int64_t>{0, 3, 4}));
  ASSERT_TRUE(b->sync("t", 0));

  auto all = b->read_batches("t", 0, 0, 1 << 20);
  ASSERT_TRUE(all) << all.status().to_string();
  EXPECT_EQ(all->high_watermark, 9);
  EXPECT_EQ(all->log_start_offset, 0);
  std::string expected;
  for (size_t i = 0; i < sent.size(); ++i) {
    std::string s = sent[i];
    for (int k = 0; k < 8; ++k)
      s[static_cast<size_t>(k)] = static_cast<char>((bases[i] >> (56 - 8 * k)) & 0xFF);
    expected += s;
  }
  EXPECT_EQ(all->bytes, expected);

  // The batch holding offset 6 starts at 4; max_bytes smaller than it still returns it whole.
  auto mid = b->read_batches("t", 0, 6, 1);
  ASSERT_TRUE(mid);
  auto batches = decode_all(mid->bytes);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].base_offset, 4);
  EXPECT_EQ(batches[0].records.size(), 5u);

  // max_bytes fitting the first two batches exactly.
  auto two = b->read_batches("t", 0, 0, static_cast<int64_t>(sent[0].size() + sent[1].size()));
  EXPECT_EQ(decode_all(two->bytes).size(), 2u);

  auto end = b->read_batches("t", 0, 9, 100);
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->bytes.empty());
  EXPECT_EQ(end->high_watermark, 9);
}

// Reads go into reused buffers (read_buffers.h) whose old bytes are not cleared: an answer is
// exactly its batches however big and dirty the buffer it was read into.
TEST(DiskBroker, ReadsIntoReusedBuffersHoldOnlyTheirBatches) {
  TempDir tmp;
  auto b = open_ok(options_for(tmp.path()));
  ASSERT_TRUE(b->create_topic("t", 1));
  std::vector<std::string> stored;
  for (int i = 0; i < 6; ++i) {
    std::string batch = make_batch(1 + i % 3, "v" + std::to_string(i), static_cast<size_t>(i) * 50);
    auto base = b->append_batch("t", 0, batch);
    ASSERT_TRUE(base);
    for (int k = 0; k < 8; ++k)
      batch[static_cast<size_t>(k)] = static_cast<char>((*base >> (56 - 8 * k)) & 0xFF);
    stored.push_back(batch);
  }
  const std::string all = [&] {
    std::string s;
    for (const auto& x : stored) s += x;
    return s;
  }();
  for (size_t dirty : {size_t{0}, all.size() / 2, all.size() + 100000}) {
    while (pooled_read_buffer_bytes() > 0) take_read_buffer();
    give_back_read_buffer(std::string(std::max(dirty, kMinPooledCapacity), '\xEE'));
    auto whole = b->read_batches("t", 0, 0, 1 << 20);
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->bytes, all) << dirty;
    give_back_read_buffer(std::move(whole->bytes));
    // The first two batches only, read into the buffer the whole answer came in.
    auto two =
        b->read_batches("t", 0, 0, static_cast<int64_t>(stored[0].size() + stored[1].size()));
    ASSERT_TRUE(two);
    EXPECT_EQ(two->bytes, stored[0] + stored[1]) << dirty;
    give_back_read_buffer(std::move(two->bytes));
    // A first batch bigger than max_bytes still comes whole.
    auto one = b->read_batches("t", 0, 10, 1);
    ASSERT_TRUE(one);
    EXPECT_EQ(one->bytes, stored.back()) << dirty;
  }
  while (pooled_read_buffer_bytes() > 0) take_read_buffer();
}

TEST(DiskBroker, AppendBatchChecks) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.max_batch_bytes = 200;
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("t", 1));
  auto big = b->append_batch("t", 0, make_batch(3, "v", 100));
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("exceeds"), std::string::npos) << big.status().message();
  EXPECT_NE(big.status().message().find("batch of "), std::string::npos);
  std::string bad_magic = make_batch(1, "v");
  bad_magic[16] = 1;
  EXPECT_EQ(b->append_batch("t", 0, bad_magic).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->append_batch("t", 0, "short").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->append_batch("t", 3, make_batch(1, "v")).status().code(), StatusCode::kNotFound);

  // produce splits a share that does not fit one batch.
  std::vector<std::string> values(20, std::string(30, 'z'));
  std::vector<OutgoingRecord> records;
  for (const auto& v : values) records.push_back(rec(std::nullopt, v));
  auto placed = b->produce("t", records);
  ASSERT_TRUE(placed) << placed.status().to_string();
  for (size_t i = 0; i < placed->size(); ++i)
    EXPECT_EQ((*placed)[i].offset, static_cast<int64_t>(i));
  EXPECT_EQ(fetch_values(*b, "t", 0).size(), 20u);
}

TEST(DiskBroker, ReopenKeepsTopicsRecordsAndGroupOffsets) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("my-topic-2", 3));
    ASSERT_TRUE(b->create_topic("plain", 1));
    for (int p = 0; p < 3; ++p) {
      for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(b->append_batch("my-topic-2", p, make_batch(i + 1, "p" + std::to_string(p))));
      }
    }
    const std::string v = "hello";
    std::vector<OutgoingRecord> r = {rec(std::nullopt, v)};
    ASSERT_TRUE(b->produce("plain", r));
    const GroupOffset go[] = {{0, 5, "meta-0"}, {2, 7, ""}};
    ASSERT_TRUE(b->commit_group_offsets("g1", "my-topic-2", go));
    const GroupOffset go2[] = {{0, 6, "meta-0b"}};
    ASSERT_TRUE(b->commit_group_offsets("g1", "my-topic-2", go2));
    const PartitionOffset po[] = {{0, 1}};
    ASSERT_TRUE(b->commit_offsets("g2", "plain", po));
  }
  auto b = open_ok(o);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b->list_topics(), (std::vector<std::string>{"my-topic-2", "plain"}));
  EXPECT_EQ(*b->partition_count("my-topic-2"), 3);
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(b->offsets("my-topic-2", p)->end, 10);
    auto values = fetch_values(*b, "my-topic-2", p);
    ASSERT_EQ(values.size(), 10u);
    EXPECT_EQ(values[0], "p" + std::to_string(p) + "-0");
    EXPECT_EQ(values[9], "p" + std::to_string(p) + "-3");
  }
  EXPECT_EQ(fetch_values(*b, "plain", 0), std::vector<std::string>{"hello"});
  auto g = b->group_offsets("g1", "my-topic-2");
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, (std::vector<GroupOffset>{{0, 6, "meta-0b"}, {2, 7, ""}}));
  auto c = b->committed_offsets("g2", "plain");
  EXPECT_EQ(*c, (std::vector<PartitionOffset>{{0, 1}}));
  EXPECT_TRUE(b->committed_offsets("nobody", "plain")->empty());

  const RecoveryReport& r = b->recovery();
  ASSERT_EQ(r.partitions.size(), 4u);
  EXPECT_EQ(r.partitions[0].topic, "my-topic-2");
  EXPECT_EQ(r.partitions[0].batches, 4);
  EXPECT_EQ(r.partitions[0].records, 10);
  EXPECT_EQ(r.partitions[0].end_offset, 10);
  EXPECT_EQ(r.truncated_bytes(), 0);
  EXPECT_EQ(r.group_offsets, 3);
  EXPECT_EQ(r.lines().size(), 5u);
  EXPECT_NE(r.lines()[0].find("my-topic-2/0: 1 segments, 4 batches, 10 records"), std::string::npos)
      << r.lines()[0];

  // Appends continue after the reopen.
  auto base = b->append_batch("my-topic-2", 1, make_batch(2, "more"));
  EXPECT_EQ(*base, 10);
}

// Writes 3 batches of 2 records, closes, damages the partition's only segment with `damage`,
// reopens and checks the torn tail was cut at the third batch.
void check_torn_tail(const std::function<void(std::string&)>& damage, int64_t kept_batches,
                     int64_t truncated_at) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  std::vector<std::string> batches = {make_batch(2, "a"), make_batch(2, "b"), make_batch(2, "c")};
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("t", 1));
    for (const auto& batch : batches) ASSERT_TRUE(b->append_batch("t", 0, batch));
  }
  const auto seg = segment_files(partition_dir(o, "t", 0), ".log").at(0);
  std::string bytes = read_file(seg);
  const auto original = static_cast<int64_t>(bytes.size());
  damage(bytes);
  write_file(seg, bytes);
  // A crash tears only what was not yet recorded durable: say the first two batches were.
  write_file(o.dir / "recovery-point-offset-checkpoint", "0\n1\nt 0 4\n");

  auto b = open_ok(o);
  ASSERT_TRUE(b);
  const PartitionRecovery& r = b->recovery().partitions.at(0);
  EXPECT_EQ(r.truncated_at, truncated_at);
  EXPECT_EQ(r.truncated_bytes, static_cast<int64_t>(bytes.size()) - truncated_at);
  EXPECT_EQ(r.truncated_file, seg.string());
  EXPECT_EQ(r.batches, kept_batches);
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(seg)), truncated_at);
  EXPECT_LE(truncated_at, original);
  EXPECT_EQ(b->offsets("t", 0)->end, kept_batches * 2);
  bool line = false;
  for (const auto& l : b->recovery().lines())
    line = line || l.find("torn bytes") != std::string::npos;
  EXPECT_TRUE(line);

  auto base = b->append_batch("t", 0, make_batch(2, "d"));
  ASSERT_TRUE(base);
  EXPECT_EQ(*base, kept_batches * 2);
  auto values = fetch_values(*b, "t", 0);
  ASSERT_EQ(values.size(), static_cast<size_t>(kept_batches * 2 + 2));
  EXPECT_EQ(values.back(), "d-1");
  b.reset();
  auto again = open_ok(o);
  EXPECT_EQ(again->recovery().truncated_bytes(), 0);
  EXPECT_EQ(again->offsets("t", 0)->end, kept_batches * 2 + 2);
}

TEST(DiskBroker, TornTailCutMidBatch) {
  const auto third = static_cast<int64_t>(make_batch(2, "a").size() * 2);
  check_torn_tail([](std::string& b) { b.resize(b.size() - 5); }, 2, third);
}

TEST(DiskBroker, TornTailCutInHeader) {
  const auto third = static_cast<int64_t>(make_batch(2, "a").size() * 2);
  check_torn_tail([third](std::string& b) { b.resize(static_cast<size_t>(third) + 20); }, 2, third);
}

TEST(DiskBroker, TornTailGarbageAppended) {
  const auto end = static_cast<int64_t>(make_batch(2, "a").size() * 3);
  check_torn_tail([](std::string& b) { b += std::string(100, '\x07'); }, 3, end);
}

TEST(DiskBroker, TornTailFlippedByteInLastBatch) {
  const auto third = static_cast<int64_t>(make_batch(2, "a").size() * 2);
  check_torn_tail([](std::string& b) { b[b.size() - 3] ^= 0x40; }, 2, third);
}

TEST(DiskBroker, CorruptClosedSegmentRefusesToOpen) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = 400;  // two batches a segment
  const std::string batch = make_batch(2, "v", 40);
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("t", 1));
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(b->append_batch("t", 0, batch));
  }
  const auto segs = segment_files(partition_dir(o, "t", 0), ".log");
  ASSERT_GE(segs.size(), 3u);
  std::string bytes = read_file(segs[0]);
  ASSERT_GE(bytes.size(), 2 * batch.size());
  const size_t flip = batch.size() + 70;  // in the second batch's records
  bytes[flip] ^= 0x01;
  write_file(segs[0], bytes);
  auto b = DiskBroker::open(o);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().code(), StatusCode::kCorruption);
  EXPECT_NE(b.status().message().find(segs[0].string()), std::string::npos) << b.status().message();
  EXPECT_NE(b.status().message().find("at byte " + std::to_string(batch.size())), std::string::npos)
      << b.status().message();
  EXPECT_NE(b.status().message().find("CRC"), std::string::npos) << b.status().message();
}

TEST(DiskBroker, SegmentRollAndReadsAcrossSegments) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = 400;
  o.index_interval_bytes = 100;
  std::vector<std::string> sent;
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("t", 1));
    for (int i = 0; i < 40; ++i) {
      sent.push_back(
          make_batch(1 + i % 3, "b" + std::to_string(i), static_cast<size_t>(i % 5) * 20));
      ASSERT_TRUE(b->append_batch("t", 0, sent.back()));
    }
    auto all = b->read_batches("t", 0, 0, 1 << 20);
    ASSERT_TRUE(all);
    EXPECT_EQ(decode_all(all->bytes).size(), 40u);  // crosses every segment
  }
  const auto dir = partition_dir(o, "t", 0);
  const auto logs = segment_files(dir, ".log");
  const auto indexes = segment_files(dir, ".index");
  ASSERT_GT(logs.size(), 3u);
  ASSERT_EQ(indexes.size(), logs.size());
  // Names are the segments' base offsets; each .index is Kafka's 8-byte entries.
  int64_t expected_base = 0;
  for (const auto& log : logs) {
    EXPECT_EQ(log.stem().string().size(), 20u);
    const int64_t base = std::stoll(log.stem().string());
    EXPECT_EQ(base, expected_base);
    const std::string bytes = read_file(log);
    EXPECT_LE(bytes.size(), 400u);
    const auto batches = decode_all(bytes);
    ASSERT_FALSE(batches.empty());
    const std::string index = read_file(fs::path(log).replace_extension(".index"));
    ASSERT_EQ(index.size() % 8, 0u);
    ASSERT_GE(index.size(), 8u);
    // First entry: the first batch, position 0, relative offset = its lastOffsetDelta.
    const auto rel =
        (static_cast<unsigned char>(index[2]) << 8) | static_cast<unsigned char>(index[3]);
    EXPECT_EQ(rel, batches[0].last_offset_delta);
    EXPECT_EQ(index.substr(4, 4), std::string(4, '\0'));
    expected_base = batches.back().last_offset() + 1;
  }

  auto b = open_ok(o);
  EXPECT_EQ(b->recovery().partitions[0].segments, static_cast<int64_t>(logs.size()));
  EXPECT_EQ(b->recovery().partitions[0].indexes_rebuilt, 0);
  const int64_t end = b->offsets("t", 0)->end;
  EXPECT_EQ(end, expected_base);
  for (int64_t off = 0; off < end; ++off) {
    auto r = b->read_batches("t", 0, off, 300);
    ASSERT_TRUE(r) << r.status().to_string();
    auto batches = decode_all(r->bytes);
    ASSERT_FALSE(batches.empty());
    EXPECT_LE(batches[0].base_offset, off);
    EXPECT_GE(batches[0].last_offset(), off);
    EXPECT_TRUE(r->bytes.size() <= 300 || batches.size() == 1);
  }
  EXPECT_EQ(static_cast<int64_t>(fetch_values(*b, "t", 0).size()), end);

  // A lost or damaged index is rebuilt from the log.
  b.reset();
  fs::remove(indexes[1]);
  write_file(indexes[2], "garbage!");
  b = open_ok(o);
  EXPECT_EQ(b->recovery().partitions[0].indexes_rebuilt, 2);
  EXPECT_EQ(static_cast<int64_t>(fetch_values(*b, "t", 0).size()), end);
}

TEST(DiskBroker, EmptyDirectoriesAndZeroLengthSegments) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("t", 2));
    ASSERT_TRUE(b->append_batch("t", 0, make_batch(3, "a")));
  }
  // A crash right after a roll leaves an empty next segment.
  write_file(partition_dir(o, "t", 0) / "00000000000000000003.log", "");
  // A partition directory without any files.
  for (const auto& f : fs::directory_iterator(partition_dir(o, "t", 1))) fs::remove(f.path());
  auto b = open_ok(o);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->recovery().partitions[0].segments, 2);
  EXPECT_EQ(*b->append_batch("t", 0, make_batch(1, "b")), 3);
  EXPECT_EQ(*b->append_batch("t", 1, make_batch(1, "c")), 0);
  EXPECT_EQ(fetch_values(*b, "t", 0), (std::vector<std::string>{"a-0", "a-1", "a-2", "b-0"}));
}

TEST(DiskBroker, OffsetForTime) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = 500;
  o.index_interval_bytes = 150;
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("t", 1));
  std::vector<int64_t> ts;  // by offset
  uint32_t seed = 7;
  auto rnd = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) % 1000; };
  for (int batch = 0; batch < 60; ++batch) {
    const int n = 1 + static_cast<int>(rnd() % 4);
    std::vector<OutgoingRecord> records(static_cast<size_t>(n));
    for (auto& r : records) {
      r.timestamp_ms = batch * 100 + static_cast<int64_t>(rnd() % 300);  // overlapping, unordered
      r.value = "v";
      ts.push_back(r.timestamp_ms);
    }
    ASSERT_TRUE(b->append_batch("t", 0, encode_record_batch(0, records)));
  }
  const auto end = static_cast<int64_t>(ts.size());
  for (int64_t t = -5; t < 6400; t += 37) {
    int64_t want = end;
    for (int64_t i = 0; i < end; ++i) {
      if (ts[static_cast<size_t>(i)] >= t) {
        want = i;
        break;
      }
    }
    auto got = b->offset_for_time("t", 0, t);
    ASSERT_TRUE(got) << got.status().to_string();
    EXPECT_EQ(*got, want) << "t=" << t;
  }
  EXPECT_EQ(*b->offset_for_time("t", 0, 1'000'000), end);
}

TEST(DiskBroker, RetentionDeletesOldClosedSegments) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = 300;
  const std::string batch = make_batch(2, "v", 40);  // ~ 160 bytes: one per segment... or two
  int64_t per_segment = 0;
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("t", 1));
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(b->append_batch("t", 0, make_batch(2, "v", 40, /*ts=*/i * 1000)));
    }
    per_segment =
        static_cast<int64_t>(read_file(segment_files(partition_dir(o, "t", 0), ".log")[0]).size());
  }
  const auto dir = partition_dir(o, "t", 0);
  const size_t segments = segment_files(dir, ".log").size();
  ASSERT_GE(segments, 5u);

  // By time: segments whose newest record is older than now - retention.
  o.retention_ms = 3500;
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->enforce_retention(/*now_ms=*/5000));
    const int64_t start = b->offsets("t", 0)->earliest;
    EXPECT_GT(start, 0);
    // Every record below the new start had a timestamp < 1500.
    auto f = b->fetch("t", 0, start, {});
    ASSERT_TRUE(f);
    EXPECT_GE(f->records.front().timestamp_ms, 1000);
    auto below = b->read_batches("t", 0, start - 1, 100);
    EXPECT_EQ(below.status().code(), StatusCode::kOutOfRange);
    EXPECT_NE(below.status().message().find("t/0@" + std::to_string(start - 1)), std::string::npos);
    // Everything old, the active segment too (as Kafka's retention): a new, empty one starts
    // at the end offset and holds the next append.
    ASSERT_TRUE(b->enforce_retention(1'000'000));
    EXPECT_EQ(segment_files(dir, ".log"), std::vector<fs::path>{dir / "00000000000000000020.log"});
    EXPECT_EQ(segment_files(dir, ".index").size(), 1u);
    EXPECT_EQ(b->offsets("t", 0)->earliest, 20);
    EXPECT_EQ(b->offsets("t", 0)->end, 20);
    EXPECT_TRUE(b->read_batches("t", 0, 20, 100)->bytes.empty());
    EXPECT_EQ(*b->append_batch("t", 0, batch), 20);
  }
  auto b = open_ok(o);
  EXPECT_GT(b->offsets("t", 0)->earliest, 0);
  EXPECT_EQ(b->offsets("t", 0)->end, 22);

  // By size: keep the newest segments holding at least retention_bytes.
  TempDir tmp2;
  auto o2 = options_for(tmp2.path());
  o2.segment_bytes = 300;
  o2.retention_bytes = per_segment * 2;
  auto c = open_ok(o2);
  ASSERT_TRUE(c->create_topic("t", 1));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c->append_batch("t", 0, batch));
  ASSERT_TRUE(c->enforce_retention(0));
  const auto left = segment_files(partition_dir(o2, "t", 0), ".log");
  int64_t bytes = 0;
  for (const auto& f : left) bytes += static_cast<int64_t>(fs::file_size(f));
  EXPECT_GE(bytes, o2.retention_bytes);
  EXPECT_LE(left.size(), 3u);
  EXPECT_EQ(c->offsets("t", 0)->earliest, std::stoll(left[0].stem().string()));
}

TEST(DiskBroker, LockRefusesSecondOpen) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  auto first = open_ok(o);
  auto second = DiskBroker::open(o);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(o.dir.string()), std::string::npos);
  first.reset();
  EXPECT_TRUE(DiskBroker::open(o));
}

TEST(DiskBroker, OutOfRangeMessages) {
  TempDir tmp;
  auto b = open_ok(options_for(tmp.path()));
  ASSERT_TRUE(b->create_topic("t", 1));
  ASSERT_TRUE(b->append_batch("t", 0, make_batch(3, "a")));
  auto f = b->fetch("t", 0, 5, {});
  EXPECT_EQ(f.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(f.status().message().find("t/0@5"), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("[0, 3)"), std::string::npos) << f.status().message();
  auto r = b->read_batches("t", 0, -1, 100);
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("t/0@-1"), std::string::npos) << r.status().message();
  EXPECT_EQ(b->read_batches("t", 0, 4, 100).status().code(), StatusCode::kOutOfRange);
}

TEST(DiskBroker, InvalidOptions) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = int64_t{1} << 32;
  EXPECT_EQ(DiskBroker::open(o).status().code(), StatusCode::kInvalidArgument);
  o = options_for(tmp.path());
  o.dir = "";
  EXPECT_EQ(DiskBroker::open(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(DiskBroker, GroupOffsetsTornTailAndCompaction) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  {
    auto b = open_ok(o);
    for (int i = 0; i < 50; ++i) {
      const GroupOffset go[] = {{0, i, "m" + std::to_string(i)}, {1, 100 + i, ""}};
      ASSERT_TRUE(b->commit_group_offsets("g", "t", go));
    }
    EXPECT_EQ(b->commit_group_offsets("", "t", {}).code(), StatusCode::kInvalidArgument);
  }
  const auto file = o.dir / "group_offsets.log";
  const auto before = fs::file_size(file);
  {
    auto b = open_ok(o);
    EXPECT_TRUE(b->recovery().group_log_compacted);
    EXPECT_EQ(b->recovery().group_offset_records, 50);
    EXPECT_EQ(*b->group_offsets("g", "t"),
              (std::vector<GroupOffset>{{0, 49, "m49"}, {1, 149, ""}}));
    EXPECT_LT(fs::file_size(file), before);
    const GroupOffset go[] = {{0, 50, "m50"}};
    ASSERT_TRUE(b->commit_group_offsets("g", "t", go));
  }
  // Cut the last record in half: the commit before it survives.
  std::string bytes = read_file(file);
  bytes.resize(bytes.size() - 4);
  write_file(file, bytes);
  auto b = open_ok(o);
  EXPECT_GT(b->recovery().group_truncated_bytes, 0);
  EXPECT_FALSE(b->recovery().group_log_compacted);
  EXPECT_EQ(*b->group_offsets("g", "t"), (std::vector<GroupOffset>{{0, 49, "m49"}, {1, 149, ""}}));
}

TEST(DiskBroker, GroupOffsetsDamagedMiddleRecordIsCorruption) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  {
    auto b = open_ok(o);
    for (int i = 0; i < 3; ++i) {
      const GroupOffset go[] = {{0, i, "meta"}};
      ASSERT_TRUE(b->commit_group_offsets("g", "t", go));
    }
  }
  const auto file = o.dir / "group_offsets.log";
  std::string bytes = read_file(file);
  bytes[10] ^= 0x20;
  write_file(file, bytes);
  auto b = DiskBroker::open(o);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().code(), StatusCode::kCorruption);
  EXPECT_NE(b.status().message().find("group_offsets.log at byte 0"), std::string::npos)
      << b.status().message();
}

TEST(DiskBroker, ConcurrentAppendReadAndSync) {
  for (Policy policy : {Policy::kAlways, Policy::kInterval}) {
    TempDir tmp;
    auto o = options_for(tmp.path());
    o.fsync = policy;
    o.fsync_interval_ms = 2;
    o.segment_bytes = 4096;
    o.index_interval_bytes = 256;
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("t", 1));
    constexpr int kBatches = 400;
    std::atomic<bool> done{false};
    std::thread writer([&] {
      for (int i = 0; i < kBatches; ++i) {
        auto base = b->append_batch("t", 0, make_batch(1 + i % 4, "w" + std::to_string(i), 30));
        if (!base) ADD_FAILURE() << base.status().to_string();
        if (i % 50 == 0) {
          const std::string v = "p" + std::to_string(i);
          std::vector<OutgoingRecord> r = {rec(std::nullopt, v, 0, 0)};
          if (!b->produce("t", r)) ADD_FAILURE() << "produce";
        }
      }
      done = true;
    });
    std::thread reader([&] {
      int64_t next = 0;
      while (!done.load() || next < b->offsets("t", 0)->end) {
        auto r = b->read_batches("t", 0, next, 2000);
        if (!r) {
          ADD_FAILURE() << r.status().to_string();
          return;
        }
        for (const auto& batch : decode_all(r->bytes)) {
          if (batch.last_offset() < next || batch.base_offset > next) {
            ADD_FAILURE() << "batch [" << batch.base_offset << ", " << batch.last_offset()
                          << "] does not continue at " << next;
            return;
          }
          next = batch.last_offset() + 1;
        }
        if (Status s = b->sync("t", 0); !s) ADD_FAILURE() << s.to_string();
      }
    });
    std::thread syncer([&] {
      while (!done.load()) {
        if (Status s = b->sync("t", 0); !s) ADD_FAILURE() << s.to_string();
        auto f = b->fetch("t", 0, 0, FetchLimits{.max_records = 50});
        if (!f) ADD_FAILURE() << f.status().to_string();
      }
    });
    writer.join();
    reader.join();
    syncer.join();
    int64_t expected = 0;
    for (int i = 0; i < kBatches; ++i) expected += 1 + i % 4 + (i % 50 == 0 ? 1 : 0);
    EXPECT_EQ(b->offsets("t", 0)->end, expected);
    b.reset();
    auto again = open_ok(o);
    EXPECT_EQ(again->offsets("t", 0)->end, expected);
  }
}

// Sets the soft RLIMIT_NOFILE for one test and puts it back afterwards.
class DescriptorLimit {
 public:
  explicit DescriptorLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lower = saved_;
    lower.rlim_cur = std::min(soft, saved_.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &lower);
  }
  ~DescriptorLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

std::vector<std::string> dirs_of(const fs::path& data, const std::string& topic) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(data / "topics")) {
    const std::string name = e.path().filename().string();
    if (name.rfind(topic + "-", 0) == 0) out.push_back(name);
  }
  return out;
}

// Partitions take two descriptors each: a topic that does not fit in what ulimit -n leaves is
// refused before any file is made, saying how many it needs; a smaller one still fits.
TEST(DiskBroker, CreateTopicChecksTheDescriptorBudget) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  auto b = open_ok(o);
  auto budget = disk::descriptor_budget();
  ASSERT_TRUE(budget);
  DescriptorLimit limit(static_cast<rlim_t>(budget->in_use + disk::kDescriptorReserve + 100));
  Status s = b->create_topic("wide", 200);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("200 partitions need 400 file descriptors"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("ulimit -n allows"), std::string::npos) << s.message();
  EXPECT_TRUE(dirs_of(o.dir, "wide").empty());
  EXPECT_FALSE(b->partition_count("wide"));
  EXPECT_TRUE(b->create_topic("narrow", 10)) << "40 descriptors fit";
  EXPECT_EQ(*b->partition_count("narrow"), 10);
}

// A creation that fails half-way (here: a file where partition 3's directory should go) removes
// the directories it made, so the next start does not find a half-made topic.
TEST(DiskBroker, FailedCreateTopicLeavesNothingBehind) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  auto b = open_ok(o);
  write_file(o.dir / "topics" / "t-3", "in the way");
  Status s = b->create_topic("t", 6);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("creating topic 't'"), std::string::npos) << s.message();
  EXPECT_EQ(dirs_of(o.dir, "t"), std::vector<std::string>{"t-3"}) << "only the stranger's file";
  EXPECT_FALSE(b->partition_count("t"));
  fs::remove(o.dir / "topics" / "t-3");
  b.reset();
  b = open_ok(o);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->create_topic("t", 6));
}

// Creating a topic's files does not hold the topic table: lookups of other topics from another
// thread answer at once while 400 partitions are made.
TEST(DiskBroker, CreateTopicDoesNotBlockOtherTopics) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("other", 1));
  std::atomic<bool> done{false};
  const auto start = std::chrono::steady_clock::now();
  std::thread creator([&] {
    EXPECT_TRUE(b->create_topic("big", 400));
    done = true;
  });
  std::chrono::steady_clock::duration slowest{};
  int lookups = 0;
  while (!done && lookups < 1000000) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(*b->partition_count("other"), 1);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    ++lookups;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  creator.join();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(*b->partition_count("big"), 400);
  if (took < std::chrono::milliseconds(300)) GTEST_SKIP() << "creation too fast to tell";
  EXPECT_LT(slowest, std::chrono::milliseconds(100));
}

TEST(DiskBroker, CheckDescriptorsCountsThePartitionsOnDisk) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("t", 150));
  }
  EXPECT_TRUE(DiskBroker::check_descriptors(o.dir));
  auto budget = disk::descriptor_budget();
  ASSERT_TRUE(budget);
  DescriptorLimit limit(static_cast<rlim_t>(budget->in_use + disk::kDescriptorReserve + 100));
  Status s = DiskBroker::check_descriptors(o.dir);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("150 partitions need 300 file descriptors"), std::string::npos)
      << s.message();
}

// Any sequence of appends of random batches, with reopens at random points: every offset is
// found in the first batch read_batches returns, and reading everything yields every record in
// order.
RC_GTEST_PROP(DiskBrokerProperty, AppendsReopensAndReads, ()) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = *rc::gen::inRange<int64_t>(100, 3000);
  o.index_interval_bytes = *rc::gen::inRange<int64_t>(0, 1000);
  o.fsync = *rc::gen::element(Policy::kAlways, Policy::kNever);
  auto b = open_ok(o);
  RC_ASSERT(b != nullptr);
  RC_ASSERT(b->create_topic("t", 1).is_ok());
  std::vector<std::string> model;
  const int steps = *rc::gen::inRange(1, 40);
  for (int s = 0; s < steps; ++s) {
    if (*rc::gen::inRange(0, 8) == 0) {
      b.reset();
      b = open_ok(o);
      RC_ASSERT(b != nullptr);
      RC_ASSERT(b->offsets("t", 0)->end == static_cast<int64_t>(model.size()));
      continue;
    }
    const int n = *rc::gen::inRange(1, 12);
    const auto size = static_cast<size_t>(*rc::gen::inRange(0, 150));
    const std::string prefix = std::to_string(s);
    auto base = b->append_batch("t", 0, make_batch(n, prefix, size));
    RC_ASSERT(base.is_ok());
    RC_ASSERT(*base == static_cast<int64_t>(model.size()));
    for (int i = 0; i < n; ++i) {
      std::string v = prefix + "-" + std::to_string(i);
      if (v.size() < size) v.resize(size, 'x');
      model.push_back(v);
    }
  }
  const auto end = static_cast<int64_t>(model.size());
  for (int64_t off = 0; off < end; ++off) {
    const int64_t max_bytes = *rc::gen::inRange<int64_t>(1, 4000);
    auto r = b->read_batches("t", 0, off, max_bytes);
    RC_ASSERT(r.is_ok());
    auto batches = decode_all(r->bytes);
    RC_ASSERT(!batches.empty());
    RC_ASSERT(batches[0].base_offset <= off);
    RC_ASSERT(batches[0].last_offset() >= off);
    RC_ASSERT(static_cast<int64_t>(r->bytes.size()) <= max_bytes || batches.size() == 1);
    for (size_t i = 1; i < batches.size(); ++i) {
      RC_ASSERT(batches[i].base_offset == batches[i - 1].last_offset() + 1);
    }
  }
  RC_ASSERT(b->read_batches("t", 0, end, 100)->bytes.empty());
  RC_ASSERT(fetch_values(*b, "t", 0) == model);
}

// The bytes of `r`: its ranges of files read with pread, or its bytes in memory.
std::string ranges_bytes(const BatchRanges& r) {
  std::string out = r.bytes;
  for (const FileRange& f : r.files) {
    std::string part(static_cast<size_t>(f.length), '\0');
    EXPECT_EQ(::pread(f.fd, part.data(), part.size(), f.offset), f.length) << f.path;
    out += part;
  }
  return out;
}

// Any log of random batches over random segments: read_batch_ranges serves, as ranges of the
// segment files, exactly the bytes read_batches serves for every offset, byte limit and stable
// offset (BatchLog's own read_batch_ranges, which reads with read_batches and cuts).
RC_GTEST_PROP(DiskBrokerProperty, FileRangesHoldWhatReadBatchesReads, ()) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = *rc::gen::inRange<int64_t>(100, 6000);
  o.index_interval_bytes = *rc::gen::inRange<int64_t>(0, 2000);
  auto b = open_ok(o);
  RC_ASSERT(b != nullptr);
  RC_ASSERT(b->create_topic("t", 1).is_ok());
  const int batches = *rc::gen::inRange(1, 60);
  for (int s = 0; s < batches; ++s) {
    // Mostly small batches, some bigger than the 4 KiB header window.
    const auto size = static_cast<size_t>(*rc::gen::element(0, 20, 150, 900, 5000));
    RC_ASSERT(b->append_batch("t", 0, make_batch(*rc::gen::inRange(1, 6), "v", size)).is_ok());
  }
  const int64_t end = b->offsets("t", 0)->end;
  for (int i = 0; i < 30; ++i) {
    const int64_t off = *rc::gen::inRange<int64_t>(0, end + 1);
    int64_t max_bytes = *rc::gen::inRange<int64_t>(1, 40000);
    if (*rc::gen::arbitrary<bool>()) {  // at, just below or just above a batch boundary
      auto whole = b->read_batches("t", 0, off, INT32_MAX);
      RC_ASSERT(whole.is_ok());
      std::vector<int64_t> ends{0};
      for (const RecordBatch& x : decode_all(whole->bytes)) {
        ends.push_back(ends.back() + 12 + x.batch_length);
      }
      max_bytes =
          std::max<int64_t>(1, *rc::gen::elementOf(ends) + *rc::gen::element<int64_t>(-1, 0, 1));
    }
    const int64_t below = *rc::gen::element<int64_t>(INT64_MAX, *rc::gen::inRange<int64_t>(0, end));
    auto files = b->read_batch_ranges("t", 0, off, max_bytes, below);
    auto copied = b->BatchLog::read_batch_ranges("t", 0, off, max_bytes, below);
    RC_ASSERT(files.is_ok());
    RC_ASSERT(copied.is_ok());
    RC_ASSERT(files->bytes.empty());
    RC_ASSERT(ranges_bytes(*files) == copied->bytes);
    RC_ASSERT(files->size() == static_cast<int64_t>(copied->bytes.size()));
    RC_ASSERT(files->high_watermark == end);
    for (const FileRange& f : files->files) RC_ASSERT(f.length > 0);
  }
}

// A range keeps its segment file readable after the segment is deleted (DeleteRecords here;
// retention and the cleaner drop segments the same way), for a send that is still going on.
TEST(DiskBroker, FileRangesOutliveTheSegmentsTheyCameFrom) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.segment_bytes = 400;  // two batches a segment
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("t", 1));
  std::string all;
  for (int i = 0; i < 6; ++i) {
    auto base = b->append_batch("t", 0, make_batch(2, "v" + std::to_string(i), 60));
    ASSERT_TRUE(base);
    all += disk::at_base(make_batch(2, "v" + std::to_string(i), 60), *base);
  }
  auto r = b->read_batch_ranges("t", 0, 0, 1 << 20, INT64_MAX);
  ASSERT_TRUE(r);
  EXPECT_GE(r->files.size(), 3u) << "the ranges of several segments";
  const auto before = segment_files(partition_dir(o, "t", 0), ".log");
  ASSERT_TRUE(b->delete_records("t", 0, 10));
  EXPECT_LT(segment_files(partition_dir(o, "t", 0), ".log").size(), before.size());
  EXPECT_EQ(ranges_bytes(*r), all);
  b.reset();  // even the broker closed
  EXPECT_EQ(ranges_bytes(*r), all);
}

// What kill -9 leaves: the data directory as it is on disk now, copied while the broker runs.
fs::path crash_image(const DiskBroker::Options& o, const fs::path& where) {
  fs::copy(o.dir, where, fs::copy_options::recursive);
  return where;
}

// DeleteTopics: the topic, its files and every group's offsets of it are gone, at once and
// after a crash; the same name then makes a new, empty topic from offset 0, and the
// checkpoint files (which named the old partitions) do not stop the next start.
TEST(DiskBroker, DeletedTopicIsGoneAndItsNameStartsAgainAtZero) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("doomed", 3));
  ASSERT_TRUE(b->create_topic("kept", 1));
  for (int p = 0; p < 3; ++p) ASSERT_TRUE(b->append_batch("doomed", p, make_batch(4, "old")));
  ASSERT_TRUE(b->append_batch("kept", 0, make_batch(2, "k")));
  const GroupOffset go[] = {{0, 4, "m"}, {2, 3, ""}};
  ASSERT_TRUE(b->commit_group_offsets("g", "doomed", go));
  ASSERT_TRUE(b->commit_group_offsets("g", "kept", go));
  ASSERT_TRUE(b->commit_group_offsets("h", "doomed", go));
  ASSERT_TRUE(b->sync("doomed", 0));

  ASSERT_TRUE(b->delete_topic("doomed"));
  EXPECT_EQ(*b->list_topics(), std::vector<std::string>{"kept"});
  EXPECT_EQ(b->partition_count("doomed").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b->fetch("doomed", 0, 0, {}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(dirs_of(o.dir, "doomed").empty());
  EXPECT_FALSE(fs::exists(o.dir / "deleting" / "doomed"));
  EXPECT_TRUE(b->group_offsets("g", "doomed")->empty());
  EXPECT_EQ(b->group_offsets("g", "kept")->size(), 2u);
  EXPECT_EQ(*b->offset_groups(), std::vector<std::string>{"g"}) << "h had offsets of it only";
  EXPECT_EQ(b->delete_topic("doomed").code(), StatusCode::kNotFound);

  const fs::path image = crash_image(o, tmp.path() / "after-delete");
  {
    auto o2 = o;
    o2.dir = image;
    auto crashed = open_ok(o2);
    ASSERT_TRUE(crashed);
    EXPECT_EQ(*crashed->list_topics(), std::vector<std::string>{"kept"});
    EXPECT_TRUE(crashed->group_offsets("g", "doomed")->empty());
    EXPECT_EQ(fetch_values(*crashed, "kept", 0).size(), 2u);
  }

  ASSERT_TRUE(b->create_topic("doomed", 1));
  EXPECT_EQ(b->offsets("doomed", 0)->end, 0);
  EXPECT_EQ(*b->append_batch("doomed", 0, make_batch(2, "new")), 0);
  EXPECT_EQ(fetch_values(*b, "doomed", 0), (std::vector<std::string>{"new-0", "new-1"}));
  EXPECT_TRUE(b->group_offsets("g", "doomed")->empty());
  ASSERT_TRUE(b->sync("doomed", 0));
  const fs::path image2 = crash_image(o, tmp.path() / "after-recreate");
  b.reset();
  for (const fs::path& dir : {o.dir, image2}) {
    auto o2 = o;
    o2.dir = dir;
    auto again = open_ok(o2);
    ASSERT_TRUE(again) << dir;
    EXPECT_EQ(*again->partition_count("doomed"), 1) << dir;
    EXPECT_EQ(fetch_values(*again, "doomed", 0), (std::vector<std::string>{"new-0", "new-1"}));
  }
}

// A deletion cut short by a crash after its marker was made is finished by the next start,
// whichever of its files were still there.
TEST(DiskBroker, InterruptedDeletionIsFinishedAtOpen) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b->create_topic("half", 4));
    ASSERT_TRUE(b->create_topic("whole", 1));
    for (int p = 0; p < 4; ++p) ASSERT_TRUE(b->append_batch("half", p, make_batch(3, "x")));
  }
  fs::remove_all(partition_dir(o, "half", 1));  // the deletion had removed some of them
  fs::create_directories(o.dir / "deleting");
  write_file(o.dir / "deleting" / "half", "");
  {
    auto b = open_ok(o);
    ASSERT_TRUE(b);
    EXPECT_EQ(*b->list_topics(), std::vector<std::string>{"whole"});
    EXPECT_TRUE(dirs_of(o.dir, "half").empty());
    EXPECT_FALSE(fs::exists(o.dir / "deleting" / "half"));
  }
  auto b = open_ok(o);
  ASSERT_TRUE(b) << "the checkpoints no longer name the deleted partitions";
  EXPECT_EQ(*b->list_topics(), std::vector<std::string>{"whole"});
}

// CreatePartitions: new partitions are empty from offset 0, the old ones keep their records,
// and all of them survive a crash; a count that does not grow, a missing topic and a growth
// beyond the descriptor budget are refused without a file made.
TEST(DiskBroker, AddedPartitionsSurviveACrash) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("grow", 2));
  for (int p = 0; p < 2; ++p) ASSERT_TRUE(b->append_batch("grow", p, make_batch(3, "old")));
  EXPECT_EQ(b->add_partitions("grow", 2).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->add_partitions("grow", 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->add_partitions("absent", 3).code(), StatusCode::kNotFound);
  ASSERT_TRUE(b->add_partitions("grow", 5));
  EXPECT_EQ(*b->partition_count("grow"), 5);
  EXPECT_EQ(dirs_of(o.dir, "grow").size(), 5u);
  for (int p = 2; p < 5; ++p) EXPECT_EQ(b->offsets("grow", p)->end, 0);
  EXPECT_EQ(*b->append_batch("grow", 4, make_batch(2, "new")), 0);
  EXPECT_EQ(*b->append_batch("grow", 0, make_batch(1, "more")), 3);
  std::vector<OutgoingRecord> spread;
  for (int i = 0; i < 50; ++i) spread.push_back(rec(std::nullopt, "v"));
  auto landed = b->produce("grow", spread);
  ASSERT_TRUE(landed);
  std::set<int32_t> used;
  for (const auto& a : *landed) used.insert(a.partition);
  EXPECT_EQ(used.size(), 5u) << "the partitioner spreads over the new count";
  ASSERT_TRUE(b->sync("grow", 4));

  {
    auto budget = disk::descriptor_budget();
    ASSERT_TRUE(budget);
    DescriptorLimit limit(static_cast<rlim_t>(budget->in_use + disk::kDescriptorReserve + 100));
    Status s = b->add_partitions("grow", 205);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("200 partitions need 400 file descriptors"), std::string::npos)
        << s.message();
    EXPECT_EQ(dirs_of(o.dir, "grow").size(), 5u);
    EXPECT_EQ(*b->partition_count("grow"), 5);
  }

  const fs::path image = crash_image(o, tmp.path() / "crashed");
  b.reset();
  for (const fs::path& dir : {image, o.dir}) {
    auto o2 = o;
    o2.dir = dir;
    auto again = open_ok(o2);
    ASSERT_TRUE(again) << dir;
    EXPECT_EQ(*again->partition_count("grow"), 5) << dir;
    const auto values = fetch_values(*again, "grow", 4);
    ASSERT_GE(values.size(), 2u);
    EXPECT_EQ(values[0], "new-0");
    EXPECT_GE(again->offsets("grow", 0)->end, 4);
  }
}

// Deleting, growing and re-creating a topic while other threads append, read and sync it: no
// call sees freed memory (each finds the topic or kNotFound), and the deletion waits for calls
// under way rather than pulling files from under them.
TEST(DiskBroker, DeleteAndGrowUnderConcurrentCalls) {
  TempDir tmp;
  auto o = options_for(tmp.path());
  o.fsync = Policy::kInterval;
  o.fsync_interval_ms = 1;
  o.checkpoint_interval_ms = 1;
  auto b = open_ok(o);
  ASSERT_TRUE(b->create_topic("busy", 2));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0};
  auto worker = [&](int which) {
    while (!stop) {
      const int32_t p = static_cast<int32_t>(calls.load() % 2);
      switch (which) {
        case 0:
          (void)b->append_batch("busy", p, make_batch(3, "w"));
          break;
        case 1:
          (void)b->read_batches("busy", p, 0, 1 << 16);
          break;
        case 2: {
          std::vector<OutgoingRecord> r = {rec(std::nullopt, "v")};
          (void)b->produce("busy", r);
          break;
        }
        default:
          (void)b->sync("busy", p);
          break;
      }
      ++calls;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(worker, i);
  for (int round = 0; round < 20; ++round) {
    Status grown = b->add_partitions("busy", 3 + round);
    EXPECT_TRUE(grown.is_ok() || grown.code() == StatusCode::kNotFound ||
                grown.code() == StatusCode::kInvalidArgument ||
                grown.code() == StatusCode::kUnavailable)
        << grown.to_string();
    Status deleted = b->delete_topic("busy");
    EXPECT_TRUE(deleted.is_ok() || deleted.code() == StatusCode::kNotFound ||
                deleted.code() == StatusCode::kUnavailable)
        << deleted.to_string();
    Status created = b->create_topic("busy", 2);  // produce may have made it already
    EXPECT_TRUE(created.is_ok() || created.code() == StatusCode::kAlreadyExists ||
                created.code() == StatusCode::kUnavailable)
        << created.to_string();
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GT(calls.load(), 0);
  b.reset();
  auto again = open_ok(o);
  ASSERT_TRUE(again) << "the directory opens after the churn";
  EXPECT_FALSE(fs::exists(o.dir / "deleting" / "busy"));
}

}  // namespace
}  // namespace kappa
