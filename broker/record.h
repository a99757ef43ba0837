// Records as the log stores them: Kafka's record model (key, value, headers, timestamp), where
// a null key and an empty key are different things, as they are on the wire.
//
// Two shapes: OutgoingRecord is what a producer hands to Log::produce (views into the caller's
// buffers, copied by the log before produce returns); RecordView is what a fetch returns (views
// into memory that the FetchResult keeps alive).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kappa {

struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

// Let the log choose the partition: Kafka's default partitioner (see partitioner.h).
inline constexpr int32_t kAnyPartition = -1;

struct OutgoingRecord {
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  int64_t timestamp_ms = 0;  // CreateTime, milliseconds since the Unix epoch
  int32_t partition = kAnyPartition;
  std::span<const HeaderView> headers;
};

struct RecordView {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::span<const HeaderView> headers;

  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.key == name) return h.value;
    }
    return std::nullopt;
  }
};

// Where a produced record landed.
struct Appended {
  int32_t partition = 0;
  int64_t offset = 0;
};

// A fetch's answer. `records` point into memory owned by `owner` (or by the log itself, for
// the embedded broker, which never moves stored bytes), so they stay valid while this lives.
struct FetchResult {
  std::vector<RecordView> records;
  int64_t next_offset = 0;  // the offset to fetch from next
  int64_t end_offset = 0;   // the partition's end (high watermark) when fetched
  std::shared_ptr<const void> owner;
};

// Offsets of one partition: [earliest, end). end is the offset the next record will get.
struct OffsetRange {
  int64_t earliest = 0;
  int64_t end = 0;
};

}  // namespace kappa
