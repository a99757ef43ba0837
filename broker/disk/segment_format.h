// The segment files of a partition (disk_broker.h describes the format): their names, the
// fields of a stored batch's header, and a reader that walks a file in large chunks. Shared by
// PartitionStore's recovery, reads and log cleaner; internal to broker/disk.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "broker/disk/file.h"
#include "broker/protocol/record_batch.h"

namespace kappa::disk {

// Field positions of a RecordBatch v2 header (record_batch.h).
constexpr size_t kHeaderSize = kRecordBatchHeaderSize;  // 61
constexpr size_t kLengthAt = 8;
constexpr size_t kMagicAt = 16;
constexpr size_t kCrcAt = 17;
constexpr size_t kAttributesAt = 21;  // the CRC covers from here to the end of the batch
constexpr size_t kLastOffsetDeltaAt = 23;
constexpr size_t kMaxTimestampAt = 35;
constexpr size_t kRecordCountAt = 57;
constexpr int32_t kMinBatchLength = static_cast<int32_t>(kHeaderSize - 12);  // 49
constexpr size_t kRecoveryChunk = size_t{1} << 20;
constexpr int64_t kMaxPosition = std::numeric_limits<int32_t>::max();

inline std::string segment_name(int64_t base_offset, const char* extension) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(base_offset));
  return std::string(buf) + extension;
}

// The base offset of "<20 digits>.log" / ".index", or -1 for any other name.
inline int64_t parse_segment_name(const std::string& name, const std::string& extension) {
  if (name.size() != 20 + extension.size() || name.compare(20, extension.size(), extension) != 0) {
    return -1;
  }
  int64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return -1;
    if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

inline int32_t be32(const char* p) { return static_cast<int32_t>(load_be(p, 4)); }
inline int64_t be64(const char* p) { return static_cast<int64_t>(load_be(p, 8)); }

inline RecordBatchHeader parse_header(const char* h) {
  RecordBatchHeader b;
  b.base_offset = be64(h);
  b.batch_length = be32(h + kLengthAt);
  b.partition_leader_epoch = be32(h + 12);
  b.attributes = static_cast<int16_t>(load_be(h + kAttributesAt, 2));
  b.last_offset_delta = be32(h + kLastOffsetDeltaAt);
  b.base_timestamp = be64(h + 27);
  b.max_timestamp = be64(h + kMaxTimestampAt);
  b.producer_id = be64(h + 43);
  b.producer_epoch = static_cast<int16_t>(load_be(h + 51, 2));
  b.base_sequence = be32(h + 53);
  b.record_count = be32(h + kRecordCountAt);
  return b;
}

// Reads a file front to back in large chunks, handing out views of byte ranges.
class ChunkReader {
 public:
  explicit ChunkReader(const File& file) : file_(file) {}

  // A view of [pos, pos + n); the caller knows the file holds those bytes.
  Result<const char*> view(int64_t pos, size_t n) {
    if (pos < at_ || pos + static_cast<int64_t>(n) > at_ + static_cast<int64_t>(buf_.size())) {
      buf_.resize(std::max(n, kRecoveryChunk));
      auto got = file_.read_at(pos, buf_.data(), buf_.size());
      if (!got) return got.status();
      buf_.resize(*got);
      at_ = pos;
      if (*got < n) {
        return Status::corruption("disk broker " + file_.path().string() + " at byte " +
                                  std::to_string(pos) + ": the file shrank while being read");
      }
    }
    return buf_.data() + (pos - at_);
  }

 private:
  const File& file_;
  std::string buf_;
  int64_t at_ = 0;
};

}  // namespace kappa::disk
