// GroupOffsetLog on its own: replay streams the file in chunks (records straddling chunk
// boundaries, records larger than a chunk, torn tails and damaged middles found the same way as
// a whole-file read would), and the memory a replay needs follows the live entries, not the size
// of the file.
#include "broker/disk/group_offset_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>

#include "broker/disk/temp_dir.h"

namespace kappa::disk {
namespace {

namespace fs = std::filesystem;

// The group offset log in a fresh directory.
struct LogFile {
  TempDir dir{"group_log_test"};
  fs::path file() const { return dir.path() / "group_offsets.log"; }
};

std::unique_ptr<GroupOffsetLog> open_ok(const fs::path& file, size_t chunk,
                                        RecoveryReport& report) {
  auto log = GroupOffsetLog::open(file, report, chunk);
  if (!log) ADD_FAILURE() << log.status().to_string();
  return log ? std::move(*log) : nullptr;
}

// Commits of assorted sizes, a few larger than any chunk tried below.
void write_commits(const fs::path& file) {
  RecoveryReport report;
  auto log = open_ok(file, 1 << 20, report);
  for (int i = 0; i < 12; ++i) {
    const GroupOffset go[] = {{0, i, std::string(static_cast<size_t>(i * 37), 'm')},
                              {1, 100 + i, std::string(i == 7 ? 5000 : 3, 'x')}};
    ASSERT_TRUE(log->commit("g", "t", go, false));
  }
  const GroupOffset other[] = {{3, 33, "other"}};
  ASSERT_TRUE(log->commit("h", "u", other, true));
}

TEST(GroupOffsetLog, ReplayInSmallChunksMatchesTheCommits) {
  for (size_t chunk : {8, 13, 64, 1000, 1 << 20}) {
    LogFile tmp;
    write_commits(tmp.file());
    // A copy before each open: open() may compact the file.
    const std::string bytes = read_file(tmp.file());
    RecoveryReport report;
    auto log = open_ok(tmp.file(), chunk, report);
    ASSERT_TRUE(log);
    EXPECT_EQ(report.group_offset_records, 13) << "chunk " << chunk;
    EXPECT_EQ(report.group_truncated_bytes, 0) << "chunk " << chunk;
    EXPECT_EQ(log->offsets("g", "t"),
              (std::vector<GroupOffset>{{0, 11, std::string(11 * 37, 'm')}, {1, 111, "xxx"}}));
    EXPECT_EQ(log->offsets("h", "u"), (std::vector<GroupOffset>{{3, 33, "other"}}));
    // A torn last record is cut, whatever the chunk size.
    write_file(tmp.file(), bytes.substr(0, bytes.size() - 3));
    RecoveryReport torn;
    log = open_ok(tmp.file(), chunk, torn);
    ASSERT_TRUE(log);
    EXPECT_GT(torn.group_truncated_bytes, 0) << "chunk " << chunk;
    EXPECT_TRUE(log->offsets("h", "u").empty());
    EXPECT_EQ(log->offsets("g", "t")[0].offset, 11);
  }
}

TEST(GroupOffsetLog, DamagedMiddleRecordIsCorruptionInSmallChunks) {
  for (size_t chunk : {8, 64, 1 << 20}) {
    LogFile tmp;
    write_commits(tmp.file());
    std::string bytes = read_file(tmp.file());
    bytes[10] ^= 0x20;
    write_file(tmp.file(), bytes);
    RecoveryReport report;
    auto log = GroupOffsetLog::open(tmp.file(), report, chunk);
    ASSERT_FALSE(log) << "chunk " << chunk;
    EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
    EXPECT_NE(log.status().message().find("at byte 0"), std::string::npos)
        << log.status().message();
  }
}

int64_t status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  }
  return -1;
}

// 64 commits of 1 MiB metadata to one partition: a 64 MiB file with one live entry. Replaying
// it raises the process's peak resident memory by a few MiB (the chunk, the record being read,
// the live entry), not by the file's 64 MiB.
TEST(GroupOffsetLog, ReplayMemoryFollowsLiveEntriesNotTheFile) {
  LogFile tmp;
  {
    RecoveryReport report;
    auto log = open_ok(tmp.file(), 1 << 20, report);
    for (int i = 0; i < 64; ++i) {
      const GroupOffset go[] = {{0, i, std::string(1 << 20, static_cast<char>('a' + i % 26))}};
      ASSERT_TRUE(log->commit("g", "t", go, false));
    }
  }
  ASSERT_GT(fs::file_size(tmp.file()), 64u << 20);
  // Writing 5 to clear_refs resets VmHWM to the current resident size (Linux 4.0+).
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const int64_t base = status_kb("VmHWM:");
  RecoveryReport report;
  auto log = open_ok(tmp.file(), 1 << 20, report);
  ASSERT_TRUE(log);
  const int64_t grown_mb = (status_kb("VmHWM:") - base) / 1024;
  EXPECT_EQ(log->offsets("g", "t")[0].offset, 63);
  EXPECT_TRUE(report.group_log_compacted);
  EXPECT_LT(grown_mb, 16) << "replaying a 64 MiB file";
}

// OffsetDelete and DeleteGroups: a forget is a record of its own, replayed like a commit (so it
// survives a crash once written), torn like one when cut, and dropped by compaction together with
// what it forgot.
TEST(GroupOffsetLog, ForgottenOffsetsStayForgottenAfterReplayAndCompaction) {
  LogFile tmp;
  {
    RecoveryReport report;
    auto log = open_ok(tmp.file(), 1 << 20, report);
    const GroupOffset two[] = {{0, 5, "a"}, {1, 6, "b"}};
    ASSERT_TRUE(log->commit("g", "t", two, false));
    ASSERT_TRUE(log->commit("g", "u", two, false));
    ASSERT_TRUE(log->commit("h", "t", two, false));
    EXPECT_EQ(log->groups(), (std::vector<std::string>{"g", "h"}));
    const int32_t first[] = {0};
    ASSERT_TRUE(log->forget("g", "t", first, false));
    ASSERT_TRUE(log->forget_group("h", true));
    EXPECT_EQ(log->offsets("g", "t"), (std::vector<GroupOffset>{{1, 6, "b"}}));
    EXPECT_TRUE(log->offsets("h", "t").empty());
    EXPECT_EQ(log->groups(), (std::vector<std::string>{"g"}));
  }
  const std::string bytes = read_file(tmp.file());
  {
    RecoveryReport report;
    auto log = open_ok(tmp.file(), 16, report);
    ASSERT_TRUE(log);
    EXPECT_EQ(report.group_offset_records, 5);
    EXPECT_EQ(log->offsets("g", "t"), (std::vector<GroupOffset>{{1, 6, "b"}}));
    EXPECT_EQ(log->offsets("g", "u").size(), 2u);
    EXPECT_TRUE(log->offsets("h", "t").empty());
    EXPECT_EQ(log->groups(), (std::vector<std::string>{"g"}));
  }
  // The last record (the group's forget) torn: cut, so h's offsets are back, as before it.
  write_file(tmp.file(), bytes.substr(0, bytes.size() - 2));
  {
    RecoveryReport report;
    auto log = open_ok(tmp.file(), 1 << 20, report);
    ASSERT_TRUE(log);
    EXPECT_GT(report.group_truncated_bytes, 0);
    EXPECT_EQ(log->offsets("h", "t").size(), 2u);
    ASSERT_TRUE(log->forget_group("h", true));
    // Enough commits over one key to make the next open compact the file.
    for (int i = 0; i < 40; ++i) {
      const GroupOffset one[] = {{1, 100 + i, ""}};
      ASSERT_TRUE(log->commit("g", "t", one, false));
    }
    const int32_t both[] = {0, 1};
    ASSERT_TRUE(log->forget("g", "u", both, true));
  }
  RecoveryReport report;
  auto log = open_ok(tmp.file(), 1 << 20, report);
  ASSERT_TRUE(log);
  EXPECT_TRUE(report.group_log_compacted);
  EXPECT_EQ(log->offsets("g", "t"), (std::vector<GroupOffset>{{1, 139, ""}}));
  EXPECT_TRUE(log->offsets("g", "u").empty());
  EXPECT_TRUE(log->offsets("h", "t").empty());
  EXPECT_EQ(log->groups(), (std::vector<std::string>{"g"}));
  log.reset();
  RecoveryReport again;
  log = open_ok(tmp.file(), 1 << 20, again);
  EXPECT_EQ(again.group_offset_records, 1) << "compaction kept one record: g/t";
}

}  // namespace
}  // namespace kappa::disk
