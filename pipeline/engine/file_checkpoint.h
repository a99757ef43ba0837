// FileCheckpointStore: a query's checkpoint in a directory, durable across kill -9 and power
// loss, with the semantics of MemoryCheckpointStore (same calls, same results, same errors).
//
// Files in the directory:
//   lock           flock(LOCK_EX) for as long as the store is open: one process per directory
//   log            append-only records since the last snapshot, each fdatasync'ed when written
//   snapshot       the whole checkpoint as of the start of the current log (absent until the
//                  first compaction)
//   *.tmp          a snapshot or log being written; a crash leaves one behind, open() removes it
//
// Record framing (log and snapshot), integers little-endian:
//   length         u32  payload bytes
//   type           u8   1 log header, 2 plan, 3 commit, 4 snapshot header, 5 state chunk,
//                       6 snapshot end
//   header_crc     u32  CRC-32C of length and type
//   payload_crc    u32  CRC-32C of the payload
//   payload        length bytes
// Payload fields are fixed-width integers (i64 as its two's-complement u64) and byte strings
// (u32 length + bytes, so keys and values may hold any byte), laid out per type:
//   log header     u32 format version (1), u64 generation
//   plan           i64 batch_id, trigger_ms, watermark_ms, previous_watermark_ms;
//                  offsets start; offsets end; u32 n, n x (string topic, offsets)
//                  where offsets = u32 n, n x (i32 partition, i64 offset)
//   commit         i64 batch_id, next_watermark_ms; u32 n, n x string removed key;
//                  u32 n, n x (string key, string value)       -- the commit and its delta
//   snapshot hdr   u32 format version (1), u64 generation of the log that follows it,
//                  u8 has previous_plan [plan], u8 has last_plan [plan],
//                  u8 has last_commit [i64 batch_id, i64 next_watermark_ms], u64 state entries
//   state chunk    u32 n, n x (string key, string value)
//   snapshot end   u64 state entries (again: the snapshot is complete)
//
// A log starts with its header record; the log is current when its generation equals the one
// the snapshot names (0 without a snapshot). Each write_plan/write_commit is one record, so a
// commit and its state delta land together or not at all.
//
// Recovery (open() and recover()) loads the snapshot, then replays the log. A record that
// fails its checks is a torn write if nothing valid follows it: the log is truncated there
// and the checkpoint is what the records before it say. If a valid record follows, the log is
// damaged in the middle: kCorruption "checkpoint DIR/log at byte N: ...". The snapshot is
// written whole (temp file, fdatasync, rename, directory fsync), so any fault in it is
// kCorruption.
//
// Compaction: before a write, if the log holds compact_after_records records or
// compact_after_bytes bytes, the store writes a snapshot naming generation G+1 and then
// replaces the log with an empty one of generation G+1 (temp file + rename). A crash between
// the two leaves a log of generation G beside a snapshot that already holds it: recovery sees
// the older generation, drops that log and starts the new one. Nothing committed is lost at
// any instant.
//
// Errors: I/O failures are kUnavailable and leave the checkpoint as it was; if the store
// cannot tell what is on disk (a failed fdatasync, a failed rollback, a compaction failing
// after its snapshot is in place, a recover() that failed) every later call fails with
// kFailedPrecondition until the store is reopened. A lock held by another open store is
// kFailedPrecondition naming the directory.
//
// REQUIRES: external synchronization (one thread at a time), as for any CheckpointStore.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pipeline/engine/checkpoint.h"

namespace kappa {

struct FileCheckpointOptions {
  int64_t compact_after_bytes = int64_t{4} << 20;
  int64_t compact_after_records = 1000;
};

class FileCheckpointStore final : public CheckpointStore {
 public:
  // Creates dir (and its parents) if missing, takes its lock and recovers what is there.
  static Result<std::unique_ptr<FileCheckpointStore>> open(const std::string& dir,
                                                           FileCheckpointOptions options = {});
  ~FileCheckpointStore() override;
  FileCheckpointStore(const FileCheckpointStore&) = delete;
  FileCheckpointStore& operator=(const FileCheckpointStore&) = delete;

  Status write_plan(const BatchPlan& plan) override;
  Status write_commit(const BatchCommitRecord& commit, const StateDelta& delta) override;
  // Reads the checkpoint back from disk (snapshot + log), as a restarted process would.
  Result<RecoveredCheckpoint> recover() override;

  const std::string& dir() const { return dir_; }

 private:
  FileCheckpointStore(std::string dir, FileCheckpointOptions options, int lock_fd);

  Status load();
  Status append(const std::string& record);
  Status compact_if_due();
  Status install_fresh_log(uint64_t generation);
  Status sync_dir(const std::string& what);
  std::string path(const char* name) const;

  std::string dir_;
  FileCheckpointOptions options_;
  int lock_fd_ = -1;
  int log_fd_ = -1;
  uint64_t generation_ = 0;
  int64_t log_bytes_ = 0;    // where the next record goes
  int64_t log_records_ = 0;  // records after the header
  RecoveredCheckpoint current_;
  Status broken_;  // set when the store no longer knows what is on disk
};

}  // namespace kappa
