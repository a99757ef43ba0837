// One partition of the embedded broker, in memory.
//
// Layout: record bytes (key, value, header keys and values) are copied into an arena of
// fixed-size chunks that never move or shrink, so a RecordView handed out stays valid for the
// life of the PartitionLog. An index entry per record holds the views, the timestamp and the
// running maximum timestamp (which makes offset-for-time a binary search, as Kafka's time index).
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

  // Appends views of records at [offset, ...) within limits to `out`; returns the next offset.
  // REQUIRES: offset within [earliest, end] (checked by the caller).
  int64_t read(int64_t offset, const FetchLimits& limits, std::vector<RecordView>& out) const;

  OffsetRange offsets() const;
  int64_t offset_for_time(int64_t timestamp_ms) const;
  int64_t bytes() const;

 private:
  struct Entry {
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    int64_t timestamp_ms;
    int64_t max_timestamp_ms;  // max over this and every earlier record
    std::span<const HeaderView> headers;
  };

  std::string_view copy_in(std::string_view bytes);  // REQUIRES: mu_ held

  const int32_t partition_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // entries_[i] has offset earliest_ + i
  int64_t earliest_ = 0;
  int64_t bytes_ = 0;
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_used_ = 0;
  size_t chunk_size_ = 0;
  std::deque<std::vector<HeaderView>> headers_;  // deque: elements never move
};

}  // namespace kappa
