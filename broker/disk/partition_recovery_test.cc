// Start-up recovery of the disk broker against damage a crash cannot cause: a flipped byte with
// valid batches after it, deleted segments, truncated durable data, a partition directory gone,
// an unreadable checkpoint file. Each must refuse to open (kCorruption naming the file, the byte
// or offsets, the partition) unless Options::repair, which cuts and reports the lost offsets.
// Torn tails (what a crash does cause) are still cut silently-but-reported.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <thread>

#include "broker/disk/disk_broker.h"
#include "broker/disk/temp_dir.h"
#include "broker/protocol/record_batch.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using disk::read_file;
using disk::TempDir;
using disk::write_file;

std::vector<fs::path> logs_of(const fs::path& partition_dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(partition_dir)) {
    if (e.path().extension() == ".log") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A batch of 2 records of 40-byte values.
std::string batch_of_two(int i) {
  std::vector<std::string> values = {"v" + std::to_string(i) + "-0",
                                     "v" + std::to_string(i) + "-1"};
  for (auto& v : values) v.resize(40, 'x');
  std::vector<OutgoingRecord> records(2);
  for (size_t k = 0; k < 2; ++k) {
    records[k].value = values[k];
    records[k].timestamp_ms = 1000 + i;
  }
  return encode_record_batch(0, records);
}

const int64_t kBatch = static_cast<int64_t>(batch_of_two(0).size());

// A broker directory holding topic "t" (one partition) with `batches` batches of 2 records.
struct Fixture {
  TempDir tmp;
  DiskBroker::Options o;
  fs::path dir;

  explicit Fixture(int batches, int64_t segment_bytes = int64_t{128} << 20) {
    o.dir = tmp.path() / "data";
    o.segment_bytes = segment_bytes;
    dir = o.dir / "topics" / "t-0";
    auto b = DiskBroker::open(o);
    EXPECT_TRUE(b) << b.status().to_string();
    EXPECT_TRUE((*b)->create_topic("t", 1));
    for (int i = 0; i < batches; ++i) EXPECT_TRUE((*b)->append_batch("t", 0, batch_of_two(i)));
  }

  Status refused() const {
    auto b = DiskBroker::open(o);
    EXPECT_FALSE(b) << "open should have refused";
    return b ? Status::ok() : b.status();
  }
  std::unique_ptr<DiskBroker> repaired() const {
    DiskBroker::Options r = o;
    r.repair = true;
    auto b = DiskBroker::open(r);
    EXPECT_TRUE(b) << b.status().to_string();
    return b ? std::move(*b) : nullptr;
  }
  std::unique_ptr<DiskBroker> opened() const {
    auto b = DiskBroker::open(o);
    EXPECT_TRUE(b) << b.status().to_string();
    return b ? std::move(*b) : nullptr;
  }
};

int64_t records_read(DiskBroker& b) {
  const OffsetRange range = *b.offsets("t", 0);
  int64_t n = 0;
  for (int64_t at = range.earliest; at < range.end;) {
    auto f = b.fetch("t", 0, at, {});
    EXPECT_TRUE(f) << f.status().to_string();
    if (!f || f->records.empty()) break;
    for (const auto& r : f->records) EXPECT_EQ(r.offset, at + (&r - f->records.data()));
    n += static_cast<int64_t>(f->records.size());
    at = f->next_offset;
  }
  return n;
}

bool has_line(const DiskBroker& b, const std::string& text) {
  for (const auto& l : b.recovery().lines()) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

#define EXPECT_HAS(haystack, needle)                    \
  EXPECT_NE((haystack).find(needle), std::string::npos) \
      << "no '" << (needle) << "' in: " << (haystack)

// The user's report: a byte flipped in the middle of the active segment made every later batch
// a "torn tail". Flipping a record byte, the CRC byte or the length field itself must all be
// found as corruption, since valid batches follow.
TEST(PartitionRecovery, FlippedByteMidActiveSegmentRefusesAndRepairCutsIt) {
  for (int64_t in_batch : {int64_t{70}, int64_t{18}, int64_t{10}, int64_t{11}}) {
    SCOPED_TRACE("flipped byte " + std::to_string(in_batch) + " of batch 4");
    Fixture f(10);
    const fs::path seg = logs_of(f.dir).at(0);
    std::string bytes = read_file(seg);
    ASSERT_EQ(static_cast<int64_t>(bytes.size()), 10 * kBatch);
    const int64_t bad = 4 * kBatch;
    bytes[static_cast<size_t>(bad + in_batch)] ^= 0x10;
    write_file(seg, bytes);

    const Status s = f.refused();
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_HAS(s.message(), seg.string() + " at byte " + std::to_string(bad));
    EXPECT_HAS(s.message(), "t/0");
    EXPECT_HAS(s.message(), "offset 8");
    EXPECT_HAS(s.message(), "valid batch follows at byte " + std::to_string(5 * kBatch));
    EXPECT_HAS(s.message(), "--repair");
    EXPECT_HAS(s.message(), "[8, 20)");
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(seg)), 10 * kBatch) << "refusing changes nothing";

    {
      auto b = f.repaired();
      ASSERT_TRUE(b);
      const PartitionRecovery& r = b->recovery().partitions.at(0);
      ASSERT_EQ(r.lost.size(), 1u);
      EXPECT_EQ(r.lost[0].from, 8);
      EXPECT_EQ(r.lost[0].to, 20);
      EXPECT_EQ(b->recovery().lost_offsets(), 12);
      EXPECT_TRUE(has_line(*b, "t/0: lost offsets [8, 20)"));
      EXPECT_EQ(b->offsets("t", 0)->end, 8);
      EXPECT_EQ(records_read(*b), 8);
      EXPECT_EQ(static_cast<int64_t>(fs::file_size(seg)), bad);
      EXPECT_EQ(*b->append_batch("t", 0, batch_of_two(99)), 8);
    }
    auto again = f.opened();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->offsets("t", 0)->end, 10);
    EXPECT_TRUE(again->recovery().partitions.at(0).lost.empty());
  }
}

// A closed segment never holds a torn write: any bad batch is refused (kept from before), and
// --repair cuts there and drops the later segments.
TEST(PartitionRecovery, FlippedByteInClosedSegmentRefusesAndRepairDropsTheRest) {
  Fixture f(10, 3 * kBatch);  // 3 batches a segment: 4 segments
  const auto logs = logs_of(f.dir);
  ASSERT_EQ(logs.size(), 4u);
  std::string bytes = read_file(logs[1]);
  bytes[static_cast<size_t>(kBatch + 70)] ^= 0x01;
  write_file(logs[1], bytes);
  const Status s = f.refused();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_HAS(s.message(), logs[1].string() + " at byte " + std::to_string(kBatch));
  EXPECT_HAS(s.message(), "closed segment");
  EXPECT_HAS(s.message(), "CRC");
  EXPECT_HAS(s.message(), "--repair");
  EXPECT_HAS(s.message(), "[8, 20)");

  auto b = f.repaired();
  ASSERT_TRUE(b);
  EXPECT_TRUE(has_line(*b, "t/0: lost offsets [8, 20)"));
  EXPECT_EQ(b->offsets("t", 0)->end, 8);
  EXPECT_EQ(logs_of(f.dir).size(), 2u);
  EXPECT_EQ(records_read(*b), 8);
  EXPECT_EQ(*b->append_batch("t", 0, batch_of_two(99)), 8);
  b.reset();
  auto again = f.opened();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->offsets("t", 0)->end, 10);
}

// What a crash leaves: zeros (a file extended but never written), a partial batch, garbage.
// No valid batch follows, and the cut data was never recorded durable: cut and report.
TEST(PartitionRecovery, GenuineTornTailsAreStillCut) {
  const std::vector<std::pair<std::string, std::function<void(std::string&)>>> tails = {
      {"zeros", [](std::string& b) { b += std::string(5000, '\0'); }},
      {"partial batch", [](std::string& b) { b += batch_of_two(7).substr(0, 90); }},
      {"garbage", [](std::string& b) { b += std::string(300, '\x02'); }},
  };
  for (const auto& [name, damage] : tails) {
    SCOPED_TRACE(name);
    Fixture f(5);
    const fs::path seg = logs_of(f.dir).at(0);
    std::string bytes = read_file(seg);
    damage(bytes);
    write_file(seg, bytes);
    auto b = f.opened();
    ASSERT_TRUE(b);
    const PartitionRecovery& r = b->recovery().partitions.at(0);
    EXPECT_EQ(r.truncated_at, 5 * kBatch);
    EXPECT_TRUE(r.lost.empty());
    EXPECT_TRUE(has_line(*b, "torn bytes"));
    EXPECT_EQ(b->offsets("t", 0)->end, 10);
  }
}

// A torn tail can only lie past what was made durable: a bad last batch below the recovery
// point is damaged durable data, refused (and the file left as it is).
TEST(PartitionRecovery, BadLastBatchBelowTheRecoveryPointRefuses) {
  Fixture f(5);  // the clean shutdown recorded offset 10 as durable
  const fs::path seg = logs_of(f.dir).at(0);
  std::string bytes = read_file(seg);
  bytes[bytes.size() - 3] ^= 0x40;
  write_file(seg, bytes);
  const Status s = f.refused();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_HAS(s.message(), seg.string() + " at byte " + std::to_string(4 * kBatch));
  EXPECT_HAS(s.message(), "recovery point");
  EXPECT_HAS(s.message(), "[8, 10)");
  EXPECT_EQ(fs::file_size(seg), bytes.size());
  auto b = f.repaired();
  ASSERT_TRUE(b);
  EXPECT_TRUE(has_line(*b, "t/0: lost offsets [8, 10)"));
  EXPECT_EQ(records_read(*b), 8);
}

TEST(PartitionRecovery, FirstSegmentDeletedRefuses) {
  Fixture f(10, 3 * kBatch);
  const auto logs = logs_of(f.dir);
  ASSERT_EQ(logs.size(), 4u);
  fs::remove(logs[0]);
  fs::remove(fs::path(logs[0]).replace_extension(".index"));
  const Status s = f.refused();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_HAS(s.message(), logs[0].string());
  EXPECT_HAS(s.message(), "t/0");
  EXPECT_HAS(s.message(), "[0, 6)");
  EXPECT_HAS(s.message(), "--repair");

  {
    auto b = f.repaired();
    ASSERT_TRUE(b);
    EXPECT_TRUE(has_line(*b, "t/0: lost offsets [0, 6)"));
    EXPECT_EQ(b->offsets("t", 0)->earliest, 6);
    EXPECT_EQ(b->offsets("t", 0)->end, 20);
    EXPECT_EQ(records_read(*b), 14);
  }
  // The checkpoints now say the log starts at 6.
  auto again = f.opened();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->offsets("t", 0)->earliest, 6);
}

TEST(PartitionRecovery, LastSegmentDeletedRefuses) {
  Fixture f(10, 3 * kBatch);
  const auto logs = logs_of(f.dir);
  ASSERT_EQ(logs.size(), 4u);
  fs::remove(logs[3]);
  fs::remove(fs::path(logs[3]).replace_extension(".index"));
  const Status s = f.refused();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_HAS(s.message(), logs[2].string() + " at byte " + std::to_string(3 * kBatch));
  EXPECT_HAS(s.message(), "t/0");
  EXPECT_HAS(s.message(), "[18, 20)");
  EXPECT_HAS(s.message(), "recovery-point-offset-checkpoint");
  EXPECT_HAS(s.message(), "--repair");
  auto b = f.repaired();
  ASSERT_TRUE(b);
  EXPECT_TRUE(has_line(*b, "t/0: lost offsets [18, 20)"));
  EXPECT_EQ(b->offsets("t", 0)->end, 18);
  EXPECT_EQ(*b->append_batch("t", 0, batch_of_two(99)), 18);
}

TEST(PartitionRecovery, ActiveSegmentTruncatedToZeroRefuses) {
  for (int64_t segment_bytes : {int64_t{128} << 20, 3 * kBatch}) {
    Fixture f(10, segment_bytes);
    const fs::path active = logs_of(f.dir).back();
    const int64_t base = std::stoll(active.stem().string());
    fs::resize_file(active, 0);
    const Status s = f.refused();
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_HAS(s.message(), active.string() + " at byte 0");
    EXPECT_HAS(s.message(), "[" + std::to_string(base) + ", 20)");
    auto b = f.repaired();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->offsets("t", 0)->end, base);
    EXPECT_EQ(b->recovery().lost_offsets(), 20 - base);
  }
}

TEST(PartitionRecovery, TruncatedToABatchBoundaryBelowTheRecoveryPointRefuses) {
  Fixture f(10);
  const fs::path seg = logs_of(f.dir).at(0);
  fs::resize_file(seg, static_cast<uintmax_t>(6 * kBatch));
  const Status s = f.refused();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_HAS(s.message(), seg.string() + " at byte " + std::to_string(6 * kBatch));
  EXPECT_HAS(s.message(), "[12, 20)");
  auto b = f.repaired();
  ASSERT_TRUE(b);
  EXPECT_TRUE(has_line(*b, "t/0: lost offsets [12, 20)"));
  EXPECT_EQ(records_read(*b), 12);
}

TEST(PartitionRecovery, RecordedPartitionDirectoryMissingRefuses) {
  TempDir tmp;
  DiskBroker::Options o;
  o.dir = tmp.path() / "data";
  {
    auto b = DiskBroker::open(o);
    ASSERT_TRUE(b);
    ASSERT_TRUE((*b)->create_topic("t", 2));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*b)->append_batch("t", 1, batch_of_two(i)));
  }
  fs::remove_all(o.dir / "topics" / "t-1");
  auto refused = DiskBroker::open(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
  EXPECT_HAS(refused.status().message(), (o.dir / "topics" / "t-1").string());
  EXPECT_HAS(refused.status().message(), "t/1");
  EXPECT_HAS(refused.status().message(), "[0, 6)");
  EXPECT_HAS(refused.status().message(), "--repair");
  o.repair = true;
  auto b = DiskBroker::open(o);
  ASSERT_TRUE(b) << b.status().to_string();
  EXPECT_EQ(*(*b)->partition_count("t"), 2);
  EXPECT_TRUE(has_line(**b, "t/1: lost offsets [0, 6)"));
}

TEST(PartitionRecovery, CheckpointFilesInKafkaFormat) {
  Fixture f(10, 3 * kBatch);
  DiskBroker::Options o = f.o;
  o.retention_bytes = 1;
  {
    auto b = DiskBroker::open(o);
    ASSERT_TRUE(b);
    EXPECT_EQ(read_file(o.dir / "recovery-point-offset-checkpoint"), "0\n1\nt 0 20\n");
    EXPECT_EQ(read_file(o.dir / "log-start-offset-checkpoint"), "0\n1\nt 0 0\n");
    ASSERT_TRUE((*b)->create_topic("u", 2));
    ASSERT_TRUE((*b)->enforce_retention(0));
    EXPECT_EQ((*b)->offsets("t", 0)->earliest, 18);
    EXPECT_EQ(read_file(o.dir / "log-start-offset-checkpoint"), "0\n3\nt 0 18\nu 0 0\nu 1 0\n");
  }
  EXPECT_EQ(read_file(o.dir / "recovery-point-offset-checkpoint"), "0\n3\nt 0 20\nu 0 0\nu 1 0\n");
  auto b = f.opened();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->offsets("t", 0)->earliest, 18);
}

// Only what was synced counts as durable: under fsync never that is what segment rolls synced,
// written by the background thread; a tail past it is a torn tail, not lost durable data.
TEST(PartitionRecovery, RecoveryPointUnderFsyncNeverIsWhatRollsSynced) {
  TempDir tmp;
  DiskBroker::Options o;
  o.dir = tmp.path() / "data";
  o.fsync = DiskBroker::FsyncPolicy::kNever;
  o.segment_bytes = 3 * kBatch;
  o.checkpoint_interval_ms = 10;
  const fs::path copy = tmp.path() / "copy";
  {
    auto b = DiskBroker::open(o);
    ASSERT_TRUE(b);
    ASSERT_TRUE((*b)->create_topic("t", 1));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*b)->append_batch("t", 0, batch_of_two(i)));
    const fs::path rp = o.dir / "recovery-point-offset-checkpoint";
    for (int i = 0; i < 200 && read_file(rp) != "0\n1\nt 0 18\n"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(read_file(rp), "0\n1\nt 0 18\n");
    // What a power loss could leave: the files as they are now, before a clean shutdown.
    fs::copy(o.dir, copy, fs::copy_options::recursive);
  }
  EXPECT_EQ(read_file(o.dir / "recovery-point-offset-checkpoint"), "0\n1\nt 0 20\n");
  DiskBroker::Options c = o;
  c.dir = copy;
  fs::remove(copy / ".lock");
  const fs::path active = copy / "topics" / "t-0" / "00000000000000000018.log";
  std::string bytes = read_file(active);
  bytes.resize(bytes.size() - 7);
  write_file(active, bytes);
  auto b = DiskBroker::open(c);
  ASSERT_TRUE(b) << b.status().to_string();
  EXPECT_EQ((*b)->offsets("t", 0)->end, 18);
  EXPECT_TRUE((*b)->recovery().partitions.at(0).lost.empty());
  EXPECT_GT((*b)->recovery().truncated_bytes(), 0);
}

// A roll makes more durable at once: it wakes the checkpoint thread instead of waiting out the
// interval.
TEST(PartitionRecovery, SegmentRollWritesTheRecoveryPointSoon) {
  TempDir tmp;
  DiskBroker::Options o;
  o.dir = tmp.path() / "data";
  o.fsync = DiskBroker::FsyncPolicy::kNever;
  o.segment_bytes = 3 * kBatch;
  o.checkpoint_interval_ms = 600'000;
  auto b = DiskBroker::open(o);
  ASSERT_TRUE(b);
  ASSERT_TRUE((*b)->create_topic("t", 1));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*b)->append_batch("t", 0, batch_of_two(i)));
  const fs::path rp = o.dir / "recovery-point-offset-checkpoint";
  for (int i = 0; i < 500 && read_file(rp) != "0\n1\nt 0 18\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(read_file(rp), "0\n1\nt 0 18\n");
}

TEST(PartitionRecovery, UnreadableCheckpointFileRefuses) {
  for (const std::string& text : {std::string("0\n1\nt 0\n"), std::string("1\n0\n"),
                                  std::string("0\n2\nt 0 5\n"), std::string("0\n1\nt x 5\n")}) {
    Fixture f(2);
    write_file(f.o.dir / "log-start-offset-checkpoint", text);
    const Status s = f.refused();
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_HAS(s.message(), (f.o.dir / "log-start-offset-checkpoint").string() + " line ");
    EXPECT_HAS(s.message(), "Fix or remove the file");
  }
}

}  // namespace
}  // namespace kappa
