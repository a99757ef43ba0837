// PartitionStore: one partition of the disk broker, a directory of segments (.log files of
// RecordBatch v2 batches and their sparse .index files; the format is described in
// disk_broker.h). It recovers the directory on open, appends batches, serves reads by offset and
// by time, syncs, and deletes old segments for retention.
//
// Thread safety: every method may be called from any thread. Appends are serialized by an
// append mutex; reads run concurrently with them and see only batches whose bytes are written
// and published (the published size of each segment only grows, and is read under a shared
// lock). sync() takes neither the append mutex nor blocks appends while it waits for the disk.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "broker/disk/batch_index.h"
#include "broker/disk/cleaner.h"
#include "broker/disk/file.h"
#include "broker/disk/recovery_report.h"
#include "broker/protocol/batch_log.h"
#include "broker/protocol/producer_state.h"
#include "broker/protocol/record_batch.h"

namespace kappa::disk {

struct PartitionOptions {
  int64_t segment_bytes = int64_t{128} << 20;
  int64_t index_interval_bytes = 4096;
  int64_t max_batch_bytes = 1048588;
  IoFaults* faults = nullptr;  // injected disk failures (tests); owned by the caller
  // Called (under the append lock: it must be quick) after a roll synced the closed segment,
  // i.e. when recovery_point() moved.
  std::function<void()> rolled;
};

// What the data directory's checkpoint files recorded for a partition (disk_broker.h), which
// recovery checks the segments against.
struct RecordedOffsets {
  int64_t log_start = -1;       // -1: nothing recorded (the log starts at 0)
  int64_t recovery_point = -1;  // -1: nothing recorded
  bool repair = false;          // cut damage and accept lost offsets instead of refusing
  int64_t cleaned_end = -1;     // cleaner-offset-checkpoint: -1, never compacted
};

class PartitionStore {
 public:
  // Opens (creating it if missing) the partition directory `dir`, recovering every segment
  // (see disk_broker.h) and checking it against `recorded`; fills `report`.
  static Result<std::unique_ptr<PartitionStore>> open(std::filesystem::path dir, std::string topic,
                                                      int32_t partition, PartitionOptions options,
                                                      PartitionRecovery& report,
                                                      const RecordedOffsets& recorded = {});
  PartitionStore(const PartitionStore&) = delete;
  PartitionStore& operator=(const PartitionStore&) = delete;
  ~PartitionStore();

  // Appends one RecordBatch v2, rewriting its baseOffset to the partition's end; returns it.
  // An idempotent producer's batch is noted in the producer state.
  Result<int64_t> append(std::string batch);
  // What the producer state says of a batch with this header (producer_state.h).
  ProducerStates::Check check_producer(const RecordBatchHeader& header);
  // The last stable offset and the aborted transactions with records in [from, to).
  TransactionIndex transaction_index(int64_t from, int64_t to);
  // Whole batches from the one holding `offset` (see BatchLog::read_batches).
  Result<BatchRead> read(int64_t offset, int64_t max_bytes) const;
  // The same batches as ranges of the segment files, those from `below` on left out (see
  // BatchLog::read_batch_ranges).
  Result<BatchRanges> read_ranges(int64_t offset, int64_t max_bytes, int64_t below) const;
  // The first offset whose record timestamp is >= timestamp_ms, or the end offset.
  Result<int64_t> offset_for_time(int64_t timestamp_ms) const;
  // The largest batch maxTimestamp of the partition, INT64_MIN when it has no batch.
  int64_t max_timestamp() const;
  OffsetRange offsets() const;
  // The published bytes of every segment: the sizes of its .log files.
  int64_t size_bytes() const;
  // kOutOfRange naming topic/partition@offset and the valid range.
  Status out_of_range(int64_t offset, const OffsetRange& range) const;

  // fdatasync of the active segment if anything was appended since the last sync; concurrent
  // callers share one sync.
  Status sync();
  bool dirty() const { return end_offset_.load() > synced_end_.load(); }
  // The offset below which every batch is known to be on disk (synced, or in a closed segment).
  int64_t recovery_point() const { return synced_end_.load(); }

  // Deletes segments, oldest first, whose newest timestamp is older than now_ms -
  // retention_ms, or while the partition without them still holds retention_bytes
  // (segments_past_retention, batch_index.h). -1 disables either limit. When the active
  // segment is due too, a new one is rolled at the end offset first. `moved` runs after the log
  // start offset moved and before any file is deleted (to record the new log start durably);
  // if it fails nothing is deleted.
  Status enforce_retention(int64_t now_ms, int64_t retention_ms, int64_t retention_bytes,
                           const std::function<Status()>& moved = {});

  // Moves the log start offset up to `offset` (DeleteRecords) and deletes the closed segments
  // wholly below it; `moved` runs after the log start moved and before any file is deleted (to
  // record it durably). Returns the log start; kOutOfRange above the end offset.
  Result<int64_t> delete_records(int64_t offset, const std::function<Status()>& moved = {});

  // Compacts the closed segments below the last stable offset (Kafka's log cleaner): of the
  // records with a key only the latest per key stays, at its offset; a tombstone (null value)
  // stays until delete.retention.ms after its timestamp, then goes too; records without a key
  // and those of aborted transactions go; control batches stay, and so does each producer's
  // last batch (empty if need be), for its sequence numbers. Segments are rewritten in groups
  // no larger than segment.bytes, each group into one segment named by its first offset;
  // offsets never change, so a batch may now follow a gap. Runs only when the bytes not yet
  // cleaned are at least min_dirty_ratio of the cleanable ones, or a kept tombstone is due.
  // `checkpoint` runs after cleaned_end() moved and before any old segment is replaced (to
  // record it durably: recovery accepts gaps below it); if it fails nothing is replaced.
  // Crash-safe: a group is written to "<base>.cleaned", fdatasync'ed and renamed to
  // "<base>-<next base>.swap" (the commit point) before the old files go; open() finishes a
  // swap and removes a ".cleaned" left behind.
  Result<CleanerStats> clean(const CleanerOptions& options,
                             const std::function<Status()>& checkpoint = {});
  int64_t cleaned_end() const { return cleaned_end_.load(); }

  // The topic's segment.bytes (the size at which the active segment rolls) and
  // max.message.bytes (the largest batch append takes), from the next append on.
  // REQUIRES: 1 <= segment_bytes <= 2^31 - 1.
  void set_limits(int64_t segment_bytes, int64_t max_batch_bytes) {
    segment_bytes_ = segment_bytes;
    max_batch_bytes_ = max_batch_bytes;
  }

 private:
  using IndexEntry = BatchIndexEntry;
  struct Segment {
    int64_t base_offset = 0;
    File log;
    File index;  // open only for the active segment
    // Guarded by state_mu_ (written under a unique lock, read under a shared one).
    int64_t size = 0;  // published bytes: batches below it are whole and readable
    int64_t next_offset = 0;
    int64_t max_timestamp = INT64_MIN;
    std::vector<IndexEntry> entries;
  };
  using SegmentPtr = std::shared_ptr<Segment>;
  // A segment as a reader saw it: its bytes below `size` never change.
  struct SegmentView {
    SegmentPtr segment;
    int64_t size;
  };
  // Where a batch starts: segment `segment` of a view list, byte `position`.
  struct Cursor {
    size_t segment = 0;
    int64_t position = 0;
  };

  PartitionStore(std::filesystem::path dir, std::string topic, int32_t partition,
                 PartitionOptions options);

  // A bad batch recovery may not cut as a torn tail: valid batches follow it, it lies in a
  // closed segment, or below the recorded recovery point.
  struct Damage {
    int64_t position = 0;  // of the bad batch in its segment
    int64_t offset = 0;    // the offset it should have started at
    std::string problem;   // what failed, and why it is not a torn tail
    int64_t end = 0;       // the end offset of the last valid batch after it (0: none)
  };

  Status recover(PartitionRecovery& report);
  // Completes the swaps and removes the half-written files a cleaner run left (see clean()).
  Status finish_cleaner_files();
  Status recover_segment(Segment& seg, bool last, int64_t& expected, PartitionRecovery& report,
                         std::optional<Damage>& damage);
  Status write_index(Segment& seg, bool keep_open, PartitionRecovery& report);
  Result<SegmentPtr> create_segment(int64_t base_offset);
  Status roll(int64_t new_base);
  // Unlinks the files of segments taken out of segments_, then fsyncs the directory.
  Status remove_segments(const std::vector<SegmentPtr>& doomed, const char* why);
  std::string location(int64_t offset) const;

  // Reads the 61-byte header of the batch at `at` (the caller knows one is there).
  Result<RecordBatchHeader> header_at(const SegmentView& v, int64_t at) const;
  // Positions a read from `offset`: `views` from the segment holding it on, `at` on the batch
  // holding it, `range` the partition's offsets; false when there is no such batch (`offset`
  // is the end, or in a gap the cleaner left at the end). kOutOfRange outside the range.
  Result<bool> find_batch(int64_t offset, std::vector<SegmentView>& views, Cursor& at,
                          OffsetRange& range) const;
  // Moves `at` forward, batch by batch, to the first batch for which `stop` holds; returns
  // false if none does below the published ends.
  Result<bool> scan(const std::vector<SegmentView>& views, Cursor& at,
                    const std::function<bool(const RecordBatchHeader&)>& stop) const;

  const std::filesystem::path dir_;
  const std::string topic_;
  const int32_t partition_;
  const PartitionOptions options_;
  std::atomic<int64_t> segment_bytes_;
  std::atomic<int64_t> max_batch_bytes_;
  RecordedOffsets recorded_;

  // Appender state, guarded by append_mu_.
  std::mutex append_mu_;
  SegmentPtr active_;
  int64_t write_pos_ = 0;    // bytes in the active segment
  int64_t next_offset_ = 0;  // the offset the next batch gets
  int64_t bytes_since_index_ = 0;
  int64_t running_max_ts_ = INT64_MIN;
  ProducerStates producers_;  // rebuilt by recover_segment, kept by append

  // Published state.
  mutable std::shared_mutex state_mu_;
  std::vector<SegmentPtr> segments_;  // by base offset; the last one is active
  int64_t log_start_ = 0;
  std::atomic<int64_t> end_offset_{0};

  std::mutex sync_mu_;
  std::atomic<int64_t> synced_end_{0};
  std::mutex retention_mu_;  // serializes retention, DeleteRecords and the cleaner

  // The log cleaner's state: batches below cleaned_end_ may follow gaps; a tombstone it kept
  // is due for removal at tombstone_due_ms_ (INT64_MIN: unknown, after open).
  std::atomic<int64_t> cleaned_end_{0};
  int64_t tombstone_due_ms_ = INT64_MIN;

  // Set when the store no longer knows what its active segment holds (a failed fdatasync, a
  // partial write it could not take back): every later append and sync fails until reopened.
  Status broken() const;
  void set_broken(const Status& why);
  mutable std::mutex broken_mu_;
  Status broken_;
};

}  // namespace kappa::disk
