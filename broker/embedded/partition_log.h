// One partition of the embedded broker, in memory.
//
// Layout: record bytes (key, value, header keys and values) are copied into an arena of 4 MiB
// chunks that never move or shrink, so a RecordView handed out stays valid for the life of the
// PartitionLog. The index is a list of fixed-size blocks of entries (never reallocated, so an
// append copies nothing twice); entry i of the partition has offset earliest + i and holds
// pointers into the arena, the timestamp and the running maximum timestamp (which makes
// offset-for-time a binary search, as Kafka's time index).
//
// Thread safety: all methods may be called concurrently; appends are serialized internally.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "broker/log.h"
#include "broker/record.h"

namespace kappa {

class PartitionLog {
 public:
  explicit PartitionLog(int32_t partition) : partition_(partition) {}
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  int32_t partition() const { return partition_; }

  // Appends the records in order; returns the offset of the first.
  int64_t append(std::span<const OutgoingRecord* const> records);
  int64_t append(std::span<const OutgoingRecord> records);

  // Appends views of records at [offset, ...) within limits to `out`; returns the next offset.
  // REQUIRES: offset within [earliest, end] (checked by the caller).
  int64_t read(int64_t offset, const FetchLimits& limits, std::vector<RecordView>& out) const;

  OffsetRange offsets() const;
  int64_t offset_for_time(int64_t timestamp_ms) const;
  int64_t bytes() const;

 private:
  // Trivially copyable, 56 bytes. A null key or value has length kNull.
  struct Entry {
    static constexpr uint32_t kNull = UINT32_MAX;
    const char* key;
    const char* value;
    uint32_t key_len;
    uint32_t value_len;
    int64_t timestamp_ms;
    int64_t max_timestamp_ms;  // max over this and every earlier record
    const HeaderView* headers;
    uint64_t header_count;
  };
  static constexpr size_t kEntriesPerBlock = size_t{1} << 15;

  // Memory mapped and populated in one call: one system call for a block instead of a page
  // fault per 4 KiB page on first touch. The blocks of a log that is destroyed are kept (up to
  // 64 MiB in the process) for the next log to take, already faulted in.
  struct Unmap {
    size_t size;
    void operator()(void* p) const;
  };
  using Block = std::unique_ptr<char[], Unmap>;
  static Block map_block(size_t bytes);

  const Entry& entry(size_t i) const {
    return entries_[i / kEntriesPerBlock][i % kEntriesPerBlock];
  }
  void view(size_t i, RecordView& out) const;   // REQUIRES: out default-constructed
  void append_one(const OutgoingRecord& r);     // REQUIRES: mu_ held
  const char* copy_in(std::string_view bytes);  // REQUIRES: mu_ held
  // Stores a header list, sharing the previous one when equal (a batch's records carry the
  // same origin header). REQUIRES: mu_ held.
  std::span<const HeaderView> store_headers(std::span<const HeaderView> headers);

  const int32_t partition_;
  mutable std::mutex mu_;
  std::vector<Entry*> entries_;  // blocks of kEntriesPerBlock entries
  std::vector<Block> entry_blocks_;
  size_t count_ = 0;
  int64_t earliest_ = 0;
  int64_t bytes_ = 0;
  std::vector<Block> chunks_;
  size_t chunk_used_ = 0;
  size_t chunk_size_ = 0;
  std::deque<std::vector<HeaderView>> headers_;  // deque: elements never move
  std::span<const HeaderView> last_headers_;
};

}  // namespace kappa
