// MemoryPartition: one partition of the in-memory batch log (memory_broker.h). Its RecordBatch
// v2 batches lie back to back as the producers sent them (baseOffset rewritten to the offset
// they were given), in segments of memory: the layout of a disk partition's .log files
// (disk_broker.h), without the files.
//
// Layout: a segment is one anonymous memory mapping of 4 MiB, whose pages the kernel provides
// as batches are copied into it, so a partition holds its data and at most a page of slack. A
// segment takes batches until the next one would not fit; the next segment starts at the
// following offset. A batch of 64 KiB or more is not copied: it becomes a segment of its own,
// in the buffer it came in. Each segment keeps a sparse index
// (its first batch, then the first batch at least 4 KiB after the previous entry's: the batch's
// last offset, its position, and the largest timestamp of the partition before it), its end
// offset and its newest timestamp. A read finds the segment by base offset, the batch by index
// entry and a scan of batch headers, and copies whole batches: nothing is decoded, encoded or
// checksummed again.
//
// The bytes below a segment's published size never change, and a reader holds the segments it
// reads through shared pointers: retention and DeleteRecords take whole segments out of the
// list, and the log cleaner replaces closed segments by rewritten ones (under the state lock),
// while a reader goes on with the segments it holds.
//
// Topic configs act as in the durable log (partition_store.h): a segment rolls at the topic's
// segment.bytes (at most 4 MiB here); enforce_retention deletes closed segments by
// retention.ms and retention.bytes; clean() compacts the closed segments below the last stable
// offset by the rule of compactor.h, each group of cleaned segments into one buffer of its
// own, in which every batch keeps its offsets.
//
// Thread safety: every method may be called from any thread. Appends are serialized by an
// append mutex; reads run beside them and see whole published batches only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/disk/batch_index.h"
#include "broker/disk/cleaner.h"
#include "broker/protocol/batch_log.h"
#include "broker/protocol/producer_state.h"
#include "broker/protocol/record_batch.h"

namespace kappa {

class MemoryPartition {
 public:
  MemoryPartition(std::string topic, int32_t partition)
      : topic_(std::move(topic)), partition_(partition) {}
  MemoryPartition(const MemoryPartition&) = delete;
  MemoryPartition& operator=(const MemoryPartition&) = delete;

  // Stores one RecordBatch v2 (checked by the caller: check_record_batch, or our own encoder)
  // with its baseOffset set to the partition's end; returns that offset. An idempotent or
  // transactional producer's batch is noted in the producer state.
  Result<int64_t> append(std::string batch);
  // What the producer state says of a batch with this header (producer_state.h).
  ProducerStates::Check check_producer(const RecordBatchHeader& header);
  // The last stable offset and the aborted transactions with records in [from, to).
  TransactionIndex transaction_index(int64_t from, int64_t to);
  // Whole batches from the one holding `offset` (see BatchLog::read_batches).
  Result<BatchRead> read(int64_t offset, int64_t max_bytes) const;
  // The first offset whose record timestamp is >= timestamp_ms, or the end offset.
  Result<int64_t> offset_for_time(int64_t timestamp_ms) const;
  // The largest batch maxTimestamp of the partition, INT64_MIN when it has no batch.
  int64_t max_timestamp() const;
  // The bytes of the batches it holds (DescribeLogDirs).
  int64_t size_bytes() const;
  OffsetRange offsets() const;
  // kOutOfRange naming topic/partition@offset and the valid range.
  Status out_of_range(int64_t offset, const OffsetRange& range) const;
  // Moves the log start offset up to `offset` (DeleteRecords), freeing the segments wholly
  // below it; returns the log start. kOutOfRange above the end offset.
  Result<int64_t> delete_records(int64_t offset);
  // Frees the segments past retention (segments_past_retention, batch_index.h), the active one
  // too, and moves the log start to the first one kept (or the end offset).
  void enforce_retention(int64_t now_ms, int64_t retention_ms, int64_t retention_bytes);
  // Compacts the closed segments below the last stable offset as PartitionStore::clean does
  // (without its files): groups of segments whose kept batches fit segment.bytes become one
  // segment each. Runs only when disk::cleaning_due says so.
  Result<disk::CleanerStats> clean(const disk::CleanerOptions& options);
  int64_t cleaned_end() const { return cleaned_end_.load(); }
  // The topic's segment.bytes, from the next segment on. REQUIRES: segment_bytes >= 1.
  void set_segment_bytes(int64_t segment_bytes) {
    segment_bytes_.store(segment_bytes, std::memory_order_relaxed);
  }

 private:
  struct Segment {
    // A mapped segment that batches are copied into.
    Segment(int64_t base, char* mapped_at, size_t bytes)
        : base_offset(base), data(mapped_at), capacity(bytes), mapped(true) {}
    // A segment in a buffer of its own: one large batch as it came, or a cleaned group.
    Segment(int64_t base, std::string batches)
        : base_offset(base),
          owned(std::move(batches)),
          data(owned.data()),
          capacity(owned.size()),
          mapped(false) {}
    ~Segment();
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    const int64_t base_offset;
    std::string owned;  // the batches of an unmapped segment
    char* const data;   // capacity bytes
    const size_t capacity;
    const bool mapped;
    // Guarded by state_mu_ (written under a unique lock, read under a shared one).
    int64_t size = 0;  // published bytes: the batches below are whole
    int64_t max_timestamp = INT64_MIN;
    std::vector<BatchIndexEntry> entries;
  };
  // A segment as a reader saw it: its bytes below `size` never change.
  struct View {
    std::shared_ptr<const Segment> segment;
    int64_t size;
  };
  // Where a batch starts: view `view` of a list, byte `position`.
  struct Cursor {
    size_t view = 0;
    int64_t position = 0;
  };

  // Maps a segment of `capacity` bytes for batches from offset `base`.
  Result<std::shared_ptr<Segment>> new_segment(int64_t base, size_t capacity) const;
  // The views from the segment that holds `offset` (REQUIRES: state_mu_ held), or from
  // segment `first`.
  std::vector<View> views_from(size_t first) const;
  // Moves `at` to the first batch whose header satisfies `stop`; false if none does.
  template <class Stop>
  static bool scan(const std::vector<View>& views, Cursor& at, Stop&& stop);

  const std::string topic_;
  const int32_t partition_;
  std::atomic<int64_t> segment_bytes_{int64_t{4} << 20};

  // Appender state, guarded by append_mu_.
  std::mutex append_mu_;
  std::shared_ptr<Segment> active_;
  int64_t write_pos_ = 0;  // bytes in the active segment
  int64_t next_offset_ = 0;
  int64_t bytes_since_index_ = 0;
  int64_t running_max_ts_ = INT64_MIN;
  ProducerStates producers_;

  // Published state.
  mutable std::shared_mutex state_mu_;
  std::vector<std::shared_ptr<Segment>> segments_;  // by base offset; the last one is active
  int64_t log_start_ = 0;
  int64_t end_offset_ = 0;

  // Serializes retention, DeleteRecords and the cleaner, which take segments out or swap them.
  std::mutex retention_mu_;
  // The log cleaner's state, written under retention_mu_: every batch below cleaned_end_ has
  // been compacted; a tombstone it kept is due for removal at tombstone_due_ms_.
  std::atomic<int64_t> cleaned_end_{0};
  int64_t tombstone_due_ms_ = INT64_MAX;
};

}  // namespace kappa
