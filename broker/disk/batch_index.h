// The sparse index of a segment of RecordBatches stored back to back, in memory, as the disk
// broker's partitions (partition_store.h, whose .index files hold the same entries but the
// timestamps) and the in-memory broker's (memory_partition.h) keep it: an entry for the
// segment's first batch, then for the first batch at least an index interval of bytes after the
// previous entry's. Lookups give where a scan of batch headers starts. Also the retention rule
// both apply to their lists of segments.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

namespace kappa {

struct BatchIndexEntry {
  int64_t last_offset;    // of the batch
  int64_t position;       // where the batch starts in its segment
  int64_t max_ts_before;  // of every batch of the partition before it (INT64_MIN if none)
};

// Where in a segment the scan for the batch holding `offset` starts: the last entry whose batch
// ends at or before it, or the segment's start.
inline int64_t scan_start_for_offset(const std::vector<BatchIndexEntry>& entries, int64_t offset) {
  auto e = std::upper_bound(entries.begin(), entries.end(), offset,
                            [](int64_t o, const BatchIndexEntry& x) { return o < x.last_offset; });
  return e == entries.begin() ? 0 : std::prev(e)->position;
}

// Where the scan for the first batch with a timestamp >= timestamp_ms starts, over a partition's
// segments (oldest first, each with `->entries`): the last entry before which every batch is
// older than the target, as the first batch reaching it lies between that entry and the next;
// the first segment's start if there is none.
struct ScanStart {
  size_t segment = 0;
  int64_t position = 0;
};
template <class Segments>
ScanStart scan_start_for_time(const Segments& segments, int64_t timestamp_ms) {
  for (size_t s = segments.size(); s-- > 0;) {
    const auto& entries = segments[s]->entries;
    if (entries.empty() || entries.front().max_ts_before >= timestamp_ms) continue;
    auto e = std::partition_point(entries.begin(), entries.end(), [&](const BatchIndexEntry& x) {
      return x.max_ts_before < timestamp_ms;
    });
    return {s, std::prev(e)->position};
  }
  return {};
}

// How many of a partition's segments (oldest first, each with `->size` and `->max_timestamp`)
// retention deletes, as Kafka's does: oldest first, while the oldest is older than
// retention_ms by its newest timestamp (or has none) or the partition without it still holds
// retention_bytes. The last (active) segment counts only when `with_active` and it is not
// empty; the caller then rolls a new one before deleting it. A negative limit is no limit.
template <class Segments>
size_t segments_past_retention(const Segments& segments, int64_t now_ms, int64_t retention_ms,
                               int64_t retention_bytes, bool with_active) {
  int64_t total = 0;
  for (const auto& s : segments) total += s->size;
  size_t k = 0;
  for (; k < segments.size(); ++k) {
    const auto& s = *segments[k];
    if (k + 1 == segments.size() && (!with_active || s.size == 0)) break;
    const bool by_time = retention_ms >= 0 &&
                         (s.max_timestamp == INT64_MIN || now_ms - s.max_timestamp > retention_ms);
    const bool by_size = retention_bytes >= 0 && total - s.size >= retention_bytes;
    if (!by_time && !by_size) break;
    total -= s.size;
  }
  return k;
}

}  // namespace kappa
