#include "broker/embedded/partition_log.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace kappa {
namespace {
constexpr size_t kChunkBytes = size_t{4} << 20;

// Blocks of logs that are gone, kept for the next logs of the process (a test suite, a run of
// scenarios, a benchmark's runs): their pages are faulted in already, and first touch of fresh
// pages costs more than the copy into them. At most kMaxBytes are kept; the rest is unmapped.
class BlockPool {
 public:
  static constexpr size_t kMaxBytes = size_t{64} << 20;

  void* take(size_t bytes) {
    std::lock_guard lock(mu_);
    for (size_t i = free_.size(); i-- > 0;) {
      if (free_[i].second != bytes) continue;
      void* p = free_[i].first;
      free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
      held_ -= bytes;
      return p;
    }
    return nullptr;
  }

  bool keep(void* p, size_t bytes) {
    if (bytes > kChunkBytes) return false;  // a block for one large record: rare, not reused
    std::lock_guard lock(mu_);
    if (held_ + bytes > kMaxBytes) return false;
    free_.emplace_back(p, bytes);
    held_ += bytes;
    return true;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<void*, size_t>> free_;
  size_t held_ = 0;
};

BlockPool& block_pool() {
  static auto* pool = new BlockPool;  // never destroyed: logs in static objects may outlive it
  return *pool;
}

}  // namespace

void PartitionLog::Unmap::operator()(void* p) const {
  if (!block_pool().keep(p, size)) munmap(p, size);
}

PartitionLog::Block PartitionLog::map_block(size_t bytes) {
  if (void* kept = block_pool().take(bytes)) return Block(static_cast<char*>(kept), Unmap{bytes});
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                 -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return Block(static_cast<char*>(p), Unmap{bytes});
}

const char* PartitionLog::copy_in(std::string_view bytes) {
  if (bytes.empty()) return "";
  if (chunks_.empty() || chunk_size_ - chunk_used_ < bytes.size()) {
    chunk_size_ = std::max(kChunkBytes, bytes.size());
    chunks_.push_back(map_block(chunk_size_));
    chunk_used_ = 0;
  }
  char* dst = chunks_.back().get() + chunk_used_;
  std::memcpy(dst, bytes.data(), bytes.size());
  chunk_used_ += bytes.size();
  return dst;
}

std::span<const HeaderView> PartitionLog::store_headers(std::span<const HeaderView> headers) {
  const bool same = std::equal(headers.begin(), headers.end(), last_headers_.begin(),
                               last_headers_.end(), [](const HeaderView& a, const HeaderView& b) {
                                 return a.key == b.key && a.value == b.value;
                               });
  if (!same) {
    auto& hs = headers_.emplace_back();
    hs.reserve(headers.size());
    for (const auto& h : headers) {
      HeaderView copy{std::string_view(copy_in(h.key), h.key.size()), std::nullopt};
      if (h.value) copy.value = std::string_view(copy_in(*h.value), h.value->size());
      hs.push_back(copy);
    }
    last_headers_ = hs;
  }
  for (const auto& h : headers)
    bytes_ += static_cast<int64_t>(h.key.size() + (h.value ? h.value->size() : 0));
  return last_headers_;
}

void PartitionLog::append_one(const OutgoingRecord& r) {
  if (count_ == entries_.size() * kEntriesPerBlock) {
    entry_blocks_.push_back(map_block(kEntriesPerBlock * sizeof(Entry)));
    entries_.push_back(reinterpret_cast<Entry*>(entry_blocks_.back().get()));
  }
  Entry& e = entries_[count_ / kEntriesPerBlock][count_ % kEntriesPerBlock];
  e.key = r.key ? copy_in(*r.key) : nullptr;
  e.key_len = r.key ? static_cast<uint32_t>(r.key->size()) : Entry::kNull;
  e.value = r.value ? copy_in(*r.value) : nullptr;
  e.value_len = r.value ? static_cast<uint32_t>(r.value->size()) : Entry::kNull;
  e.timestamp_ms = r.timestamp_ms;
  e.max_timestamp_ms =
      count_ == 0 ? r.timestamp_ms : std::max(entry(count_ - 1).max_timestamp_ms, r.timestamp_ms);
  if (r.headers.empty()) {
    e.headers = nullptr;
    e.header_count = 0;
  } else {
    const auto hs = store_headers(r.headers);
    e.headers = hs.data();
    e.header_count = hs.size();
  }
  bytes_ += static_cast<int64_t>((r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0));
  ++count_;
}

int64_t PartitionLog::append(std::span<const OutgoingRecord* const> records) {
  std::lock_guard lock(mu_);
  const int64_t first = earliest_ + static_cast<int64_t>(count_);
  for (const OutgoingRecord* r : records) append_one(*r);
  return first;
}

int64_t PartitionLog::append(std::span<const OutgoingRecord> records) {
  std::lock_guard lock(mu_);
  const int64_t first = earliest_ + static_cast<int64_t>(count_);
  for (const OutgoingRecord& r : records) append_one(r);
  return first;
}

void PartitionLog::view(size_t i, RecordView& v) const {
  const Entry& e = entry(i);
  v.partition = partition_;
  v.offset = earliest_ + static_cast<int64_t>(i);
  v.timestamp_ms = e.timestamp_ms;
  if (e.key_len != Entry::kNull) v.key = std::string_view(e.key, e.key_len);
  if (e.value_len != Entry::kNull) v.value = std::string_view(e.value, e.value_len);
  v.headers = std::span<const HeaderView>(e.headers, e.header_count);
}

int64_t PartitionLog::read(int64_t offset, const FetchLimits& limits,
                           std::vector<RecordView>& out) const {
  std::lock_guard lock(mu_);
  const int64_t end = std::min(earliest_ + static_cast<int64_t>(count_), limits.end_offset);
  int64_t bytes = 0;
  int64_t n = 0;
  int64_t o = offset;
  for (; o < end && n < limits.max_records; ++o) {
    const Entry& e = entry(static_cast<size_t>(o - earliest_));
    const int64_t size = (e.key_len == Entry::kNull ? 0 : e.key_len) +
                         (e.value_len == Entry::kNull ? 0 : e.value_len);
    if (n > 0 && bytes + size > limits.max_bytes) break;
    bytes += size;
    ++n;
    // Filled in place: a view built on the stack and then copied stalls on store forwarding.
    view(static_cast<size_t>(o - earliest_), out.emplace_back());
  }
  return o;
}

OffsetRange PartitionLog::offsets() const {
  std::lock_guard lock(mu_);
  return {earliest_, earliest_ + static_cast<int64_t>(count_)};
}

int64_t PartitionLog::offset_for_time(int64_t timestamp_ms) const {
  std::lock_guard lock(mu_);
  // The running maximum first reaches the target at the first record whose own timestamp does.
  size_t lo = 0, hi = count_;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (entry(mid).max_timestamp_ms < timestamp_ms)
      lo = mid + 1;
    else
      hi = mid;
  }
  return earliest_ + static_cast<int64_t>(lo);
}

int64_t PartitionLog::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace kappa
