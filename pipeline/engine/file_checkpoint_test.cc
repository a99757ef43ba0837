// FileCheckpointStore against its reference (MemoryCheckpointStore) and against damage: torn
// tails, flipped bytes, crashes mid-compaction, a second process, kill -9.
#include "pipeline/engine/file_checkpoint.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "broker/embedded/embedded_broker.h"
#include "pipeline/engine/faults.h"
#include "pipeline/engine/micro_batch.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;

// A directory of its own under the test temp dir: pid + test name + a counter, since ctest runs
// test processes in parallel and a property runs its body many times.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view tag = "d") {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name =
        info ? std::string(info->test_suite_name()) + "." + info->name() : std::string("none");
    std::replace(name.begin(), name.end(), '/', '_');
    path_ = ::testing::TempDir() + "kappa-ckpt-" + std::to_string(::getpid()) + "-" + name + "-" +
            std::string(tag) + "-" + std::to_string(counter++);
    fs::remove_all(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_bytes(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

int64_t file_size(const std::string& path) { return static_cast<int64_t>(fs::file_size(path)); }

std::unique_ptr<FileCheckpointStore> open_store(const std::string& dir,
                                                FileCheckpointOptions options = {}) {
  auto store = FileCheckpointStore::open(dir, options);
  EXPECT_TRUE(store) << store.status().to_string();
  return store ? std::move(*store) : nullptr;
}

BatchPlan plan(int64_t id) {
  BatchPlan p;
  p.batch_id = id;
  p.trigger_ms = 1664523720000 + id * 5000;
  p.watermark_ms = id * 1000 - 7;
  p.previous_watermark_ms = id * 1000 - 1007;
  p.start = {{0, id * 10}, {1, id * 3}};
  p.end = {{0, id * 10 + 10}, {1, id * 3 + 3}};
  p.outputs["staged"] = {{0, id}, {1, -1}, {2, INT64_MAX}};
  p.outputs["dead"] = {};
  return p;
}

StateDelta delta_for(int64_t i) {
  StateDelta d;
  d.puts = {{"count", std::to_string(i)},
            {"k" + std::to_string(i % 5), std::string("v\0\n", 3) + std::to_string(i)}};
  if (i % 3 == 0) d.removes.push_back("k" + std::to_string((i + 2) % 5));
  return d;
}

std::string show(const std::optional<BatchPlan>& p) {
  if (!p) return "none";
  std::string s = "batch " + std::to_string(p->batch_id) + " W " + std::to_string(p->watermark_ms);
  s += " [" + format_offsets("in", p->start) + " .. " + format_offsets("in", p->end) + "]";
  for (const auto& [topic, ends] : p->outputs) s += " " + topic + ":" + format_offsets(topic, ends);
  return s;
}

std::string show(const RecoveredCheckpoint& cp) {
  std::string s =
      "last plan {" + show(cp.last_plan) + "} previous {" + show(cp.previous_plan) + "} commit {";
  s += cp.last_commit ? std::to_string(cp.last_commit->batch_id) + " W " +
                            std::to_string(cp.last_commit->next_watermark_ms)
                      : "none";
  s += "} state {";
  for (const auto& [k, v] : cp.state) {
    s += " " + ::testing::PrintToString(k) + "=" + ::testing::PrintToString(v);
  }
  return s + " }";
}

bool same(const RecoveredCheckpoint& a, const RecoveredCheckpoint& b) {
  const bool commits =
      a.last_commit.has_value() == b.last_commit.has_value() &&
      (!a.last_commit || (a.last_commit->batch_id == b.last_commit->batch_id &&
                          a.last_commit->next_watermark_ms == b.last_commit->next_watermark_ms));
  return commits && a.last_plan == b.last_plan && a.previous_plan == b.previous_plan &&
         a.state == b.state;
}

#define EXPECT_SAME_CHECKPOINT(a, b) \
  EXPECT_TRUE(same((a), (b))) << "  actual: " << show(a) << "\nexpected: " << show(b)

RecoveredCheckpoint recovered(CheckpointStore& store) {
  auto r = store.recover();
  EXPECT_TRUE(r) << r.status().to_string();
  return r ? std::move(*r) : RecoveredCheckpoint{};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------

TEST(FileCheckpoint, ANewDirectoryRecoversNothing) {
  ScratchDir dir;
  auto store = open_store(dir.path() + "/nested/query");
  ASSERT_TRUE(store);
  EXPECT_SAME_CHECKPOINT(recovered(*store), RecoveredCheckpoint{});
  EXPECT_TRUE(fs::exists(dir.path() + "/nested/query/log"));
  EXPECT_TRUE(fs::exists(dir.path() + "/nested/query/lock"));
  EXPECT_FALSE(fs::exists(dir.path() + "/nested/query/snapshot"));
}

TEST(FileCheckpoint, RefusesWhatTheMemoryStoreRefuses) {
  ScratchDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  MemoryCheckpointStore memory;
  for (CheckpointStore* s :
       {static_cast<CheckpointStore*>(store.get()), static_cast<CheckpointStore*>(&memory)}) {
    EXPECT_EQ(s->write_commit({0, 0}, {}).code(), StatusCode::kInternal);  // no plan
    ASSERT_TRUE(s->write_plan(plan(4)));
    EXPECT_EQ(s->write_plan(plan(6)).code(), StatusCode::kInternal);  // skips batch 5
    EXPECT_EQ(s->write_plan(plan(3)).code(), StatusCode::kInternal);
    EXPECT_EQ(s->write_commit({3, 0}, {}).code(), StatusCode::kInternal);
    ASSERT_TRUE(s->write_plan(plan(4)));  // the same batch again replaces its plan
    ASSERT_TRUE(s->write_commit({4, 9}, delta_for(4)));
    ASSERT_TRUE(s->write_plan(plan(5)));
  }
  store.reset();
  store = open_store(dir.path());
  ASSERT_TRUE(store);
  EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
}

// (a) Any sequence of calls, with the store reopened (a restarted process) at any point and
// compaction at any threshold, recovers what the memory store recovers.
RC_GTEST_PROP(FileCheckpointProperty, RecoversWhatTheMemoryStoreRecovers, ()) {
  ScratchDir dir("prop");
  FileCheckpointOptions options;
  options.compact_after_records = *rc::gen::inRange<int64_t>(1, 12);
  options.compact_after_bytes = *rc::gen::inRange<int64_t>(64, 4096);
  auto opened = FileCheckpointStore::open(dir.path(), options);
  RC_ASSERT(opened.is_ok());
  std::unique_ptr<FileCheckpointStore> file = std::move(*opened);
  MemoryCheckpointStore memory;

  const auto byte_string = rc::gen::container<std::string>(
      rc::gen::map(rc::gen::inRange(0, 256), [](int c) { return static_cast<char>(c); }));
  const auto key = rc::gen::oneOf(
      rc::gen::element<std::string>("a", "b", "", std::string("\0", 1), "a\nb", "\xff\xfe"),
      byte_string);

  const int steps = *rc::gen::inRange(1, 30);
  int64_t cursor = *rc::gen::inRange<int64_t>(-2, 3);
  for (int step = 0; step < steps; ++step) {
    const int kind = *rc::gen::inRange(0, 10);
    if (kind < 4) {
      BatchPlan p = plan(cursor + *rc::gen::inRange<int64_t>(-1, 3));
      p.watermark_ms = *rc::gen::arbitrary<int64_t>();
      if (*rc::gen::arbitrary<bool>()) p.outputs[*key] = {{*rc::gen::arbitrary<int32_t>(), 5}};
      const Status a = file->write_plan(p);
      const Status b = memory.write_plan(p);
      RC_ASSERT(a.code() == b.code());
      if (b) cursor = p.batch_id;
    } else if (kind < 8) {
      const BatchCommitRecord commit{cursor + *rc::gen::element<int64_t>(0, 0, 0, 1, -1),
                                     *rc::gen::arbitrary<int64_t>()};
      StateDelta delta;
      const int puts = *rc::gen::inRange(0, 5);
      for (int i = 0; i < puts; ++i) delta.puts.emplace_back(*key, *byte_string);
      const int removes = *rc::gen::inRange(0, 3);
      for (int i = 0; i < removes; ++i) delta.removes.push_back(*key);
      const Status a = file->write_commit(commit, delta);
      const Status b = memory.write_commit(commit, delta);
      RC_ASSERT(a.code() == b.code());
    } else if (kind == 8) {
      file.reset();
      opened = FileCheckpointStore::open(dir.path(), options);
      RC_ASSERT(opened.is_ok());
      file = std::move(*opened);
    }
    auto a = file->recover();
    auto b = memory.recover();
    RC_ASSERT(a.is_ok());
    if (!same(*a, *b)) RC_FAIL("step " + std::to_string(step) + "\n" + show(*a) + "\n" + show(*b));
  }
}

// Whatever happens to the log's bytes, recovery never invents a checkpoint: it recovers the
// checkpoint as of some earlier call (a torn tail), or reports kCorruption.
RC_GTEST_PROP(FileCheckpointProperty, DamageRecoversAnEarlierCheckpointOrIsCorruption, ()) {
  ScratchDir dir("damage");
  std::vector<RecoveredCheckpoint> history{RecoveredCheckpoint{}};
  {
    auto store = FileCheckpointStore::open(dir.path());
    RC_ASSERT(store.is_ok());
    MemoryCheckpointStore memory;
    const int64_t batches = *rc::gen::inRange<int64_t>(1, 6);
    for (int64_t i = 0; i < batches; ++i) {
      RC_ASSERT((*store)->write_plan(plan(i)).is_ok());
      RC_ASSERT(memory.write_plan(plan(i)).is_ok());
      history.push_back(*memory.recover());
      RC_ASSERT((*store)->write_commit({i, i}, delta_for(i)).is_ok());
      RC_ASSERT(memory.write_commit({i, i}, delta_for(i)).is_ok());
      history.push_back(*memory.recover());
    }
  }
  std::string log = read_bytes(dir.file("log"));
  const auto position = rc::gen::inRange<size_t>(0, log.size());
  switch (*rc::gen::inRange(0, 4)) {
    case 0:
      log.resize(*position);
      break;
    case 1: {
      const size_t at = *position;
      log[at] = static_cast<char>(log[at] ^ *rc::gen::inRange(1, 256));
      break;
    }
    case 2: {
      const size_t at = *position;
      const auto junk = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 256));
      for (size_t i = 0; i < junk.size() && at + i < log.size(); ++i) {
        log[at + i] = static_cast<char>(junk[i]);
      }
      break;
    }
    default:
      for (int c : *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 256))) {
        log.push_back(static_cast<char>(c));
      }
  }
  write_bytes(dir.file("log"), log);
  auto store = FileCheckpointStore::open(dir.path());
  if (!store) {
    RC_ASSERT(store.status().code() == StatusCode::kCorruption);
    RC_ASSERT(contains(store.status().message(), "checkpoint " + dir.path() + "/log at byte "));
    return;
  }
  auto got = (*store)->recover();
  RC_ASSERT(got.is_ok());
  const bool earlier = std::any_of(history.begin(), history.end(),
                                   [&](const RecoveredCheckpoint& cp) { return same(*got, cp); });
  if (!earlier) RC_FAIL("recovered a checkpoint that never was: " + show(*got));
}

// (b) A crash mid-append leaves a prefix of the last record: every such prefix recovers the
// checkpoint as it was before that record, and the log is cut back to where it was.
TEST(FileCheckpoint, TornTailRecoversTheCheckpointBeforeTheLastRecord) {
  for (const bool last_is_commit : {true, false}) {
    SCOPED_TRACE(last_is_commit ? "last record: commit" : "last record: plan");
    ScratchDir dir;
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    MemoryCheckpointStore memory;
    for (CheckpointStore* s :
         {static_cast<CheckpointStore*>(store.get()), static_cast<CheckpointStore*>(&memory)}) {
      ASSERT_TRUE(s->write_plan(plan(0)));
      ASSERT_TRUE(s->write_commit({0, 100}, delta_for(0)));
      ASSERT_TRUE(s->write_plan(plan(1)));
    }
    const RecoveredCheckpoint before = recovered(memory);
    const int64_t size_before = file_size(dir.file("log"));
    if (last_is_commit) {
      StateDelta big = delta_for(1);
      big.puts.emplace_back(std::string("big\0", 4), std::string(300, '\0'));
      ASSERT_TRUE(store->write_commit({1, 200}, big));
      ASSERT_TRUE(memory.write_commit({1, 200}, big));
    } else {
      ASSERT_TRUE(store->write_plan(plan(2)));
      ASSERT_TRUE(memory.write_plan(plan(2)));
    }
    store.reset();
    const std::string full = read_bytes(dir.file("log"));
    ASSERT_GT(static_cast<int64_t>(full.size()), size_before);

    for (size_t cut = static_cast<size_t>(size_before); cut < full.size(); ++cut) {
      SCOPED_TRACE("log cut at byte " + std::to_string(cut));
      write_bytes(dir.file("log"), std::string_view(full).substr(0, cut));
      store = open_store(dir.path());
      ASSERT_TRUE(store);
      EXPECT_SAME_CHECKPOINT(recovered(*store), before);
      EXPECT_EQ(file_size(dir.file("log")), size_before);
      store.reset();
    }
    write_bytes(dir.file("log"), full);
    store = open_store(dir.path());
    ASSERT_TRUE(store);
    EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
  }
}

// A crash can also leave the file longer than what was written (zeros, or stale blocks).
TEST(FileCheckpoint, GarbageAfterTheLastRecordIsCutOff) {
  ScratchDir dir;
  MemoryCheckpointStore memory;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    for (CheckpointStore* s :
         {static_cast<CheckpointStore*>(store.get()), static_cast<CheckpointStore*>(&memory)}) {
      ASSERT_TRUE(s->write_plan(plan(0)));
      ASSERT_TRUE(s->write_commit({0, 1}, delta_for(0)));
    }
  }
  const std::string good = read_bytes(dir.file("log"));
  for (const std::string& junk : {std::string(4096, '\0'), std::string(5, '\x01'),
                                  std::string("\x20\x00\x00\x00\x03garbage garbage", 20)}) {
    write_bytes(dir.file("log"), good + junk);
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
    EXPECT_EQ(read_bytes(dir.file("log")), good);
  }
}

// (c) Damage followed by valid records is not a torn write: it is reported, with the file and
// the byte offset of the damaged record, and nothing is truncated.
TEST(FileCheckpoint, AFlippedByteInTheMiddleIsCorruption) {
  ScratchDir dir;
  std::vector<int64_t> starts{0};  // record offsets: the log header, then one per call
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    for (int64_t i = 0; i < 3; ++i) {
      starts.push_back(file_size(dir.file("log")));
      ASSERT_TRUE(store->write_plan(plan(i)));
      starts.push_back(file_size(dir.file("log")));
      ASSERT_TRUE(store->write_commit({i, i}, delta_for(i)));
    }
  }
  const std::string good = read_bytes(dir.file("log"));
  const int64_t last = starts.back();
  for (int64_t at = 0; at < last; ++at) {
    const int64_t record = *std::prev(std::upper_bound(starts.begin(), starts.end(), at));
    std::string bad = good;
    bad[static_cast<size_t>(at)] = static_cast<char>(bad[static_cast<size_t>(at)] ^ 0x5A);
    write_bytes(dir.file("log"), bad);
    auto store = FileCheckpointStore::open(dir.path());
    ASSERT_FALSE(store) << "byte " << at;
    EXPECT_EQ(store.status().code(), StatusCode::kCorruption) << store.status().to_string();
    const std::string where =
        "checkpoint " + dir.path() + "/log at byte " + std::to_string(record) + ":";
    EXPECT_TRUE(contains(store.status().message(), where))
        << "flipped byte " << at << ": " << store.status().message();
    EXPECT_EQ(read_bytes(dir.file("log")), bad) << "a corrupt log is left as it is";
  }
}

// The last record alone cannot be told from a torn write: damage there loses that record only.
TEST(FileCheckpoint, AFlippedByteInTheLastRecordLosesOnlyThatRecord) {
  ScratchDir dir;
  MemoryCheckpointStore memory;
  int64_t last = 0;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write_plan(plan(0)));
    ASSERT_TRUE(memory.write_plan(plan(0)));
    last = file_size(dir.file("log"));
    ASSERT_TRUE(store->write_commit({0, 1}, delta_for(0)));
  }
  const std::string good = read_bytes(dir.file("log"));
  for (size_t at = static_cast<size_t>(last); at < good.size(); ++at) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    write_bytes(dir.file("log"), bad);
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
  }
}

// (d) Compaction: the log stays short, the snapshot holds the rest, nothing changes.
TEST(FileCheckpoint, CompactionKeepsTheCheckpointAndShortensTheLog) {
  ScratchDir dir;
  FileCheckpointOptions options;
  options.compact_after_records = 10;
  MemoryCheckpointStore memory;
  auto store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  int64_t longest = 0;
  for (int64_t i = 0; i < 300; ++i) {
    for (CheckpointStore* s :
         {static_cast<CheckpointStore*>(store.get()), static_cast<CheckpointStore*>(&memory)}) {
      ASSERT_TRUE(s->write_plan(plan(i)));
      ASSERT_TRUE(s->write_commit({i, i * 10}, delta_for(i)));
    }
    longest = std::max(longest, file_size(dir.file("log")));
  }
  EXPECT_TRUE(fs::exists(dir.file("snapshot")));
  EXPECT_LT(longest, 11 * 200) << "at most 10 records of under 200 bytes and the header";
  EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
  store.reset();
  store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
  ASSERT_TRUE(store->write_plan(plan(300)));
  ASSERT_TRUE(memory.write_plan(plan(300)));
  EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
}

TEST(FileCheckpoint, CompactionBySizeCarriesLargeState) {
  ScratchDir dir;
  FileCheckpointOptions options;
  options.compact_after_bytes = 64 << 10;
  MemoryCheckpointStore memory;
  auto store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  for (int64_t i = 0; i < 40; ++i) {
    StateDelta delta;
    for (int k = 0; k < 50; ++k) {
      delta.puts.emplace_back("key/" + std::to_string(i) + "/" + std::to_string(k),
                              std::string(static_cast<size_t>(100 + k), static_cast<char>(i)));
    }
    for (CheckpointStore* s :
         {static_cast<CheckpointStore*>(store.get()), static_cast<CheckpointStore*>(&memory)}) {
      ASSERT_TRUE(s->write_plan(plan(i)));
      ASSERT_TRUE(s->write_commit({i, i}, delta));
    }
  }
  EXPECT_GT(file_size(dir.file("snapshot")), 200 << 10) << "2000 entries span several chunks";
  EXPECT_LT(file_size(dir.file("log")), 128 << 10);
  store.reset();
  store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
}

// (d) A crash while the snapshot is being written leaves snapshot.tmp (and maybe log.tmp):
// they are ignored and removed.
TEST(FileCheckpoint, LeftoverTempFilesFromACrashedCompactionAreIgnored) {
  ScratchDir dir;
  FileCheckpointOptions options;
  options.compact_after_records = 4;
  MemoryCheckpointStore memory;
  {
    auto store = open_store(dir.path(), options);
    ASSERT_TRUE(store);
    for (int64_t i = 0; i < 7; ++i) {
      for (CheckpointStore* s :
           {static_cast<CheckpointStore*>(store.get()), static_cast<CheckpointStore*>(&memory)}) {
        ASSERT_TRUE(s->write_plan(plan(i)));
        ASSERT_TRUE(s->write_commit({i, i}, delta_for(i)));
      }
    }
  }
  const std::string snapshot = read_bytes(dir.file("snapshot"));
  write_bytes(dir.file("snapshot.tmp"), snapshot.substr(0, snapshot.size() / 2));
  write_bytes(dir.file("log.tmp"), "half a log");
  auto store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  EXPECT_SAME_CHECKPOINT(recovered(*store), recovered(memory));
  EXPECT_FALSE(fs::exists(dir.file("snapshot.tmp")));
  EXPECT_FALSE(fs::exists(dir.file("log.tmp")));
}

// (d) Every crash point of a compaction, rebuilt from the files before and after it:
//   old snapshot + old log + partial snapshot.tmp  (crash while writing the snapshot)
//   new snapshot + old log                         (crash after the rename, before the new log)
//   new snapshot + old log + partial log.tmp       (crash while writing the new log)
// each recovers the checkpoint as it was before the write that compacted, and carries on.
TEST(FileCheckpoint, ACrashAtAnyPointOfCompactionLosesNothing) {
  ScratchDir dir;
  FileCheckpointOptions options;
  options.compact_after_records = 5;
  MemoryCheckpointStore memory;
  auto store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  int compactions = 0;
  for (int64_t i = 0; compactions < 3; ++i) {
    ASSERT_LT(i, 100);
    for (int half = 0; half < 2; ++half) {
      const std::string old_log = read_bytes(dir.file("log"));
      const std::string old_snapshot = read_bytes(dir.file("snapshot"));  // "" when absent
      const RecoveredCheckpoint before = recovered(memory);
      const auto write = [&](CheckpointStore& s) {
        return half == 0 ? s.write_plan(plan(i)) : s.write_commit({i, i}, delta_for(i));
      };
      ASSERT_TRUE(write(*store));
      ASSERT_TRUE(write(memory));
      const std::string new_snapshot = read_bytes(dir.file("snapshot"));
      if (new_snapshot == old_snapshot) continue;
      ++compactions;

      struct CrashPoint {
        const char* name;
        const std::string* snapshot;
        std::string snapshot_tmp;
        std::string log_tmp;
      };
      const CrashPoint points[] = {
          {"writing the snapshot", &old_snapshot, new_snapshot.substr(0, new_snapshot.size() / 2),
           ""},
          {"after the snapshot's rename", &new_snapshot, "", ""},
          {"writing the new log", &new_snapshot, "", "\x19\x00"},
      };
      for (const CrashPoint& point : points) {
        SCOPED_TRACE(std::string("compaction ") + std::to_string(compactions) + ", crash " +
                     point.name);
        ScratchDir crashed("crashed");
        fs::create_directories(crashed.path());
        write_bytes(crashed.file("log"), old_log);
        if (!point.snapshot->empty()) write_bytes(crashed.file("snapshot"), *point.snapshot);
        if (!point.snapshot_tmp.empty()) {
          write_bytes(crashed.file("snapshot.tmp"), point.snapshot_tmp);
        }
        if (!point.log_tmp.empty()) write_bytes(crashed.file("log.tmp"), point.log_tmp);
        auto restarted = open_store(crashed.path(), options);
        ASSERT_TRUE(restarted);
        EXPECT_SAME_CHECKPOINT(recovered(*restarted), before);
        ASSERT_TRUE(write(*restarted));  // the write the crash interrupted, done again
        EXPECT_SAME_CHECKPOINT(recovered(*restarted), recovered(memory));
        restarted.reset();
        restarted = open_store(crashed.path(), options);
        ASSERT_TRUE(restarted);
        EXPECT_SAME_CHECKPOINT(recovered(*restarted), recovered(memory));
      }
    }
  }
}

TEST(FileCheckpoint, ADamagedSnapshotIsCorruption) {
  ScratchDir dir;
  FileCheckpointOptions options;
  options.compact_after_records = 2;
  {
    auto store = open_store(dir.path(), options);
    ASSERT_TRUE(store);
    for (int64_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(store->write_plan(plan(i)));
      ASSERT_TRUE(store->write_commit({i, i}, delta_for(i)));
    }
  }
  const std::string good = read_bytes(dir.file("snapshot"));
  for (const size_t at : {size_t{0}, size_t{20}, good.size() / 2, good.size() - 1}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    write_bytes(dir.file("snapshot"), bad);
    auto store = FileCheckpointStore::open(dir.path(), options);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
    EXPECT_TRUE(
        contains(store.status().message(), "checkpoint " + dir.path() + "/snapshot at byte "))
        << store.status().message();
  }
  write_bytes(dir.file("snapshot"), good.substr(0, good.size() - 3));
  auto store = FileCheckpointStore::open(dir.path(), options);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);

  fs::remove(dir.file("snapshot"));
  store = FileCheckpointStore::open(dir.path(), options);
  ASSERT_FALSE(store) << "a log of a later generation without its snapshot";
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(contains(store.status().message(), "snapshot is missing"))
      << store.status().message();
}

// (e) One store per directory: a second open fails while the first is alive, in this process
// or another, and succeeds once the first is gone.
TEST(FileCheckpoint, TheLockAdmitsOneStoreAtATime) {
  ScratchDir dir;
  auto first = open_store(dir.path());
  ASSERT_TRUE(first);
  auto second = FileCheckpointStore::open(dir.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(contains(second.status().message(), dir.path())) << second.status().message();

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto other = FileCheckpointStore::open(dir.path());
    ::_exit(!other && other.status().code() == StatusCode::kFailedPrecondition ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "another process got the lock";

  ASSERT_TRUE(first->write_plan(plan(0)));
  first.reset();
  second = FileCheckpointStore::open(dir.path());
  ASSERT_TRUE(second) << second.status().to_string();
  EXPECT_EQ(recovered(**second).last_plan, plan(0));
}

// (f) Keys and values are bytes: NUL, newlines, 0xFF, empty, large, through log and snapshot.
TEST(FileCheckpoint, BinaryKeysAndValuesRoundTrip) {
  ScratchDir dir;
  StateDelta delta;
  delta.puts = {{std::string("\0", 1), std::string("\0\0\0", 3)},
                {"", ""},
                {"line\nbreak\r\n", "tab\tand\nnewline"},
                {std::string("\xff\xfe\x00\x01", 4), std::string("\x80\x81", 2)},
                {"big", std::string(1 << 20, '\xAB')}};
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  delta.puts.emplace_back(all_bytes, all_bytes + all_bytes);
  delta.removes = {std::string("gone\0", 5)};

  StateSnapshot expected;
  for (const auto& [k, v] : delta.puts) expected[k] = v;
  FileCheckpointOptions options;
  options.compact_after_records = 3;
  {
    auto store = open_store(dir.path(), options);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write_plan(plan(0)));
    ASSERT_TRUE(store->write_commit({0, 0}, delta));
  }
  {
    auto store = open_store(dir.path(), options);
    ASSERT_TRUE(store);
    EXPECT_EQ(recovered(*store).state, expected) << "from the log";
    ASSERT_TRUE(store->write_plan(plan(1)));
    ASSERT_TRUE(store->write_commit({1, 0}, {}));  // compacts: 3 records in the log
    EXPECT_TRUE(fs::exists(dir.file("snapshot")));
  }
  auto store = open_store(dir.path(), options);
  ASSERT_TRUE(store);
  EXPECT_EQ(recovered(*store).state, expected) << "from the snapshot";
}

// kill -9 at a random moment of a process that plans and commits (and compacts) as fast as it
// can: the restarted store holds exactly the deltas of the batches it says are committed.
TEST(FileCheckpoint, SurvivesKillNineAtAnyMoment) {
  FileCheckpointOptions options;
  options.compact_after_records = 7;
  for (int trial = 0; trial < 6; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    ScratchDir dir;
    fs::create_directories(dir.path());
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto store = FileCheckpointStore::open(dir.path(), options);
      if (!store) ::_exit(3);
      for (int64_t i = 0;; ++i) {
        if (!(*store)->write_plan(plan(i))) ::_exit(4);
        if (!(*store)->write_commit({i, i}, delta_for(i))) ::_exit(5);
      }
    }
    ::usleep(static_cast<useconds_t>(5000 + trial * 15000));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the writer stopped by itself: " << wstatus;

    auto store = open_store(dir.path(), options);
    ASSERT_TRUE(store);
    const RecoveredCheckpoint got = recovered(*store);
    MemoryCheckpointStore expected;
    const int64_t committed = got.last_commit ? got.last_commit->batch_id : -1;
    for (int64_t i = 0; i <= committed; ++i) {
      ASSERT_TRUE(expected.write_plan(plan(i)));
      ASSERT_TRUE(expected.write_commit({i, i}, delta_for(i)));
    }
    if (got.last_plan && got.last_plan->batch_id == committed + 1) {
      ASSERT_TRUE(expected.write_plan(plan(committed + 1)));  // planned, not committed
    }
    EXPECT_SAME_CHECKPOINT(got, recovered(expected));
    std::cout << "[ kill -9 ] trial " << trial << ": recovered after batch " << committed
              << (fs::exists(dir.file("snapshot")) ? ", from snapshot + log" : ", from the log")
              << "\n";
    // The restarted process carries on from there.
    ASSERT_TRUE(store->write_plan(plan(committed + 1)));
    ASSERT_TRUE(store->write_commit({committed + 1, 0}, delta_for(committed + 1)));
  }
}

// The engine on top: a query killed after its plan, or after its outputs but before its
// commit, restarts from the directory and counts every record exactly once.
class RowCounter final : public BatchProcessor {
 public:
  std::vector<std::string> output_topics() const override { return {}; }
  std::optional<int64_t> watermark_delay_ms() const override { return std::nullopt; }
  bool evicts_on_watermark() const override { return false; }
  void begin_batch(const BatchPlan&, BatchOutput&) override { pending_ = committed_; }
  void process(std::span<const RecordView> records) override {
    for (const auto& r : records) {
      std::string& n = pending_["rows/" + std::to_string(r.partition)];
      n = std::to_string((n.empty() ? 0 : std::stoll(n)) + 1);
    }
  }
  Status finish_batch(BatchResult&) override { return Status::ok(); }
  StateDelta commit_state() override {
    StateDelta delta;
    for (const auto& [k, v] : pending_) delta.puts.emplace_back(k, v);
    committed_ = pending_;
    return delta;
  }
  void abort_batch() override { pending_ = committed_; }
  Status restore_state(const StateSnapshot& snapshot) override {
    committed_ = snapshot;
    return Status::ok();
  }

 private:
  StateSnapshot committed_;
  StateSnapshot pending_;
};

TEST(FileCheckpoint, AKilledQueryResumesFromItsDirectory) {
  constexpr int64_t kT0 = 1664523720000;
  ScratchDir dir;
  EmbeddedBroker broker;
  ASSERT_TRUE(broker.create_topic("in", 2));
  const auto produce = [&](int32_t partition, int n) {
    std::vector<OutgoingRecord> rs(static_cast<size_t>(n));
    for (auto& r : rs) {
      r.value = "x";
      r.partition = partition;
      r.timestamp_ms = kT0;
    }
    ASSERT_TRUE(broker.produce("in", rs));
  };
  FaultPlan faults;
  QuerySpec spec;
  spec.id = "q";
  spec.source_topic = "in";
  spec.starting.kind = StartingPosition::Kind::kEarliest;
  std::unique_ptr<FileCheckpointStore> store;
  std::unique_ptr<MicroBatchQuery> query;
  int64_t now = kT0;
  const auto boot = [&] {  // a new process
    query.reset();
    store.reset();
    store = open_store(dir.path());
    ASSERT_TRUE(store);
    query = std::make_unique<MicroBatchQuery>(spec, broker, *store, std::make_unique<RowCounter>(),
                                              &faults);
    ASSERT_TRUE(query->start(now));
  };
  const auto run = [&] {
    ASSERT_TRUE(query->run(now));
    now += 5000;
  };
  const auto state = [&] { return recovered(*store).state; };

  produce(0, 5);
  produce(1, 3);
  boot();
  run();
  EXPECT_EQ(state(), (StateSnapshot{{"rows/0", "5"}, {"rows/1", "3"}}));

  for (const char* point : {"query.after_plan", "query.before_checkpoint"}) {
    SCOPED_TRACE(point);
    produce(0, 2);
    produce(1, 1);
    const int64_t batch = query->next_batch_id();
    faults.arm(point, StatusCode::kAborted);
    run();
    ASSERT_EQ(query->run_state(), MicroBatchQuery::RunState::kCrashed);
    boot();
    EXPECT_EQ(query->next_batch_id(), batch) << "the planned batch runs again";
    run();
    EXPECT_EQ(query->next_batch_id(), batch + 1);
  }
  EXPECT_EQ(state(), (StateSnapshot{{"rows/0", "9"}, {"rows/1", "5"}}));
  boot();
  run();  // nothing new: no batch
  EXPECT_EQ(state(), (StateSnapshot{{"rows/0", "9"}, {"rows/1", "5"}}));
}

// The cost of a durable commit (one record + fdatasync) on this machine. Run by hand:
//   engine_test --gtest_also_run_disabled_tests --gtest_filter='*WriteCommitCost*'
TEST(FileCheckpoint, DISABLED_WriteCommitCost) {
  ScratchDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  std::vector<double> micros;
  for (int64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(store->write_plan(plan(i)));
    StateDelta delta;
    delta.puts = {{"window/2022-09-30T08:00/dept-" + std::to_string(i % 7), std::to_string(i)}};
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(store->write_commit({i, i}, delta));
    const auto t1 = std::chrono::steady_clock::now();
    micros.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(micros.begin(), micros.end());
  std::cout << "write_commit over " << micros.size() << " commits: median " << micros[500]
            << " us, p90 " << micros[900] << " us, p99 " << micros[990] << " us, max "
            << micros.back() << " us\n";
}

}  // namespace
}  // namespace kappa
