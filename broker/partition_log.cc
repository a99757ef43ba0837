#include "broker/partition_log.h"

#include <algorithm>
#include <cstring>

namespace kappa {
namespace {
constexpr size_t kChunkBytes = size_t{1} << 20;
}  // namespace

std::string_view PartitionLog::copy_in(std::string_view bytes) {
  if (bytes.empty()) return std::string_view{};
  if (chunks_.empty() || chunk_size_ - chunk_used_ < bytes.size()) {
    const size_t size = std::max(kChunkBytes, bytes.size());
    chunks_.push_back(std::make_unique<char[]>(size));
    chunk_size_ = size;
    chunk_used_ = 0;
  }
  char* dst = chunks_.back().get() + chunk_used_;
  std::memcpy(dst, bytes.data(), bytes.size());
  chunk_used_ += bytes.size();
  return {dst, bytes.size()};
}

int64_t PartitionLog::append(std::span<const OutgoingRecord* const> records) {
  std::lock_guard lock(mu_);
  const int64_t first = earliest_ + static_cast<int64_t>(entries_.size());
  entries_.reserve(entries_.size() + records.size());
  for (const OutgoingRecord* r : records) {
    Entry e;
    if (r->key) e.key = copy_in(*r->key);
    if (r->value) e.value = copy_in(*r->value);
    e.timestamp_ms = r->timestamp_ms;
    e.max_timestamp_ms = entries_.empty()
                             ? r->timestamp_ms
                             : std::max(entries_.back().max_timestamp_ms, r->timestamp_ms);
    if (!r->headers.empty()) {
      auto& hs = headers_.emplace_back();
      hs.reserve(r->headers.size());
      for (const auto& h : r->headers) {
        HeaderView copy{copy_in(h.key), std::nullopt};
        if (h.value) copy.value = copy_in(*h.value);
        hs.push_back(copy);
        bytes_ += static_cast<int64_t>(h.key.size() + (h.value ? h.value->size() : 0));
      }
      e.headers = hs;
    }
    bytes_ +=
        static_cast<int64_t>((r->key ? r->key->size() : 0) + (r->value ? r->value->size() : 0));
    entries_.push_back(e);
  }
  return first;
}

int64_t PartitionLog::read(int64_t offset, const FetchLimits& limits,
                           std::vector<RecordView>& out) const {
  std::lock_guard lock(mu_);
  const int64_t end =
      std::min(earliest_ + static_cast<int64_t>(entries_.size()), limits.end_offset);
  int64_t bytes = 0;
  int64_t n = 0;
  int64_t o = offset;
  for (; o < end && n < limits.max_records; ++o) {
    const Entry& e = entries_[static_cast<size_t>(o - earliest_)];
    const int64_t size =
        static_cast<int64_t>((e.key ? e.key->size() : 0) + (e.value ? e.value->size() : 0));
    if (n > 0 && bytes + size > limits.max_bytes) break;
    bytes += size;
    ++n;
    out.push_back(RecordView{partition_, o, e.timestamp_ms, e.key, e.value, e.headers});
  }
  return o;
}

OffsetRange PartitionLog::offsets() const {
  std::lock_guard lock(mu_);
  return {earliest_, earliest_ + static_cast<int64_t>(entries_.size())};
}

int64_t PartitionLog::offset_for_time(int64_t timestamp_ms) const {
  std::lock_guard lock(mu_);
  auto it = std::lower_bound(entries_.begin(), entries_.end(), timestamp_ms,
                             [](const Entry& e, int64_t ts) { return e.max_timestamp_ms < ts; });
  // The running maximum first reaches the target at the first record whose own timestamp does.
  return earliest_ + (it - entries_.begin());
}

int64_t PartitionLog::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace kappa
