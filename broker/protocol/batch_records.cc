#include "broker/protocol/batch_records.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>

#include "broker/protocol/record_batch.h"

namespace kappa {
namespace {

// fetch_from_batches reads batches in steps of this many bytes (the first batch of a step is
// whole).
constexpr int64_t kFetchStep = int64_t{1} << 20;
// append_as_batches starts a new batch when its records' estimated size passes
// max_batch_bytes; a batch that still encodes too large is split in halves.
constexpr int64_t kRecordOverhead = 32;

int64_t estimated_size(const OutgoingRecord& r) {
  int64_t n = kRecordOverhead + (r.key ? static_cast<int64_t>(r.key->size()) : 0) +
              (r.value ? static_cast<int64_t>(r.value->size()) : 0);
  for (const HeaderView& h : r.headers) {
    n += 10 + static_cast<int64_t>(h.key.size()) +
         (h.value ? static_cast<int64_t>(h.value->size()) : 0);
  }
  return n;
}

// What a FetchResult's views point into: decoded batches and their header arrays. Neither
// container moves its elements once added.
struct FetchOwner {
  std::deque<RecordBatch> batches;
  std::deque<std::vector<HeaderView>> headers;
};

// Appends records as batches of at most max_batch_bytes (one batch if they fit); sets
// `offsets[i]` for records[i].
Status append_records(const AppendBatch& append, int32_t partition,
                      std::span<const OutgoingRecord> records, int64_t max_batch_bytes,
                      int64_t* offsets) {
  if (records.empty()) return Status::ok();
  std::string batch = encode_record_batch(0, records, Compression::kNone);
  if (static_cast<int64_t>(batch.size()) > max_batch_bytes && records.size() > 1) {
    const size_t half = records.size() / 2;
    KAPPA_RETURN_IF_ERROR(
        append_records(append, partition, records.first(half), max_batch_bytes, offsets));
    return append_records(append, partition, records.subspan(half), max_batch_bytes,
                          offsets + half);
  }
  auto base = append(partition, std::move(batch));
  if (!base) return base.status();
  for (size_t i = 0; i < records.size(); ++i) offsets[i] = *base + static_cast<int64_t>(i);
  return Status::ok();
}

Status append_share(const AppendBatch& append, int32_t partition,
                    std::span<const OutgoingRecord> records, int64_t max_batch_bytes,
                    int64_t* offsets) {
  // Cut where the estimated size passes the limit, so a huge produce call is not encoded whole.
  size_t start = 0;
  int64_t estimate = static_cast<int64_t>(kRecordBatchHeaderSize);
  for (size_t i = 0; i < records.size(); ++i) {
    const int64_t size = estimated_size(records[i]);
    if (i > start && estimate + size > max_batch_bytes) {
      KAPPA_RETURN_IF_ERROR(append_records(append, partition, records.subspan(start, i - start),
                                           max_batch_bytes, offsets + start));
      start = i;
      estimate = static_cast<int64_t>(kRecordBatchHeaderSize);
    }
    estimate += size;
  }
  return append_records(append, partition, records.subspan(start), max_batch_bytes,
                        offsets + start);
}

}  // namespace

Result<std::vector<Appended>> append_as_batches(
    std::string_view topic, std::span<const OutgoingRecord> records,
    const std::vector<std::vector<size_t>>& by_partition, int64_t max_batch_bytes,
    const AppendBatch& append) {
  std::vector<Appended> placed(records.size());
  std::vector<OutgoingRecord> share;
  std::vector<int64_t> offsets;
  for (size_t p = 0; p < by_partition.size(); ++p) {
    const auto& idx = by_partition[p];
    if (idx.empty()) continue;
    share.clear();
    for (size_t i : idx) share.push_back(records[i]);
    offsets.assign(idx.size(), 0);
    const auto partition = static_cast<int32_t>(p);
    if (Status s = append_share(append, partition, share, max_batch_bytes, offsets.data()); !s) {
      return s.with_context("producing to " + partition_name(topic, partition));
    }
    for (size_t k = 0; k < idx.size(); ++k) placed[idx[k]] = {partition, offsets[k]};
  }
  return placed;
}

Result<FetchResult> fetch_from_batches(std::string_view topic, int32_t partition, int64_t offset,
                                       const FetchLimits& limits, const OffsetRange& range,
                                       const ReadBatches& read_batches) {
  FetchResult result;
  result.end_offset = range.end;
  result.next_offset = offset;
  const int64_t stop = std::min(range.end, limits.end_offset);
  if (offset >= stop || limits.max_records <= 0) return result;

  auto owner = std::make_shared<FetchOwner>();
  int64_t next = offset;
  int64_t count = 0;
  int64_t bytes = 0;
  bool full = false;
  while (!full && next < stop) {
    auto read = read_batches(next, kFetchStep);
    if (!read) return read.status();
    if (read->bytes.empty()) break;
    const std::string_view all = read->bytes;
    size_t at = 0;
    while (!full && at < all.size()) {
      size_t consumed = 0;
      auto decoded = decode_record_batch(all.substr(at), consumed);
      if (!decoded) {
        return decoded.status().with_context("reading " + record_name(topic, partition, next));
      }
      at += consumed;
      owner->batches.push_back(std::move(*decoded));
      const RecordBatch& batch = owner->batches.back();
      size_t header_count = 0;
      for (const WireRecord& r : batch.records) header_count += r.headers.size();
      std::vector<HeaderView>& headers = owner->headers.emplace_back();
      headers.reserve(header_count);
      for (const WireRecord& r : batch.records) {
        if (r.offset < next) continue;
        if (r.offset >= stop || count >= limits.max_records) {
          full = true;
          break;
        }
        const int64_t size = (r.key ? static_cast<int64_t>(r.key->size()) : 0) +
                             (r.value ? static_cast<int64_t>(r.value->size()) : 0);
        if (count > 0 && bytes + size > limits.max_bytes) {
          full = true;
          break;
        }
        const size_t first_header = headers.size();
        for (const auto& [k, v] : r.headers) {
          headers.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
        }
        RecordView view;
        view.partition = partition;
        view.offset = r.offset;
        view.timestamp_ms = r.timestamp_ms;
        if (r.key) view.key = std::string_view(*r.key);
        if (r.value) view.value = std::string_view(*r.value);
        view.headers = std::span<const HeaderView>(headers.data() + first_header,
                                                   headers.size() - first_header);
        result.records.push_back(view);
        next = r.offset + 1;
        ++count;
        bytes += size;
      }
      if (!full) next = std::max(next, std::min(batch.last_offset() + 1, stop));
    }
  }
  result.next_offset = next;
  result.owner = std::move(owner);
  return result;
}

}  // namespace kappa
