#include "broker/memory/memory_partition.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "broker/disk/compactor.h"
#include "broker/disk/file.h"
#include "broker/disk/segment_format.h"
#include "broker/protocol/read_buffers.h"

namespace kappa {
namespace {

constexpr size_t kSegmentBytes = size_t{4} << 20;
// A batch this large is kept as it came rather than copied (its buffer's overhead is small).
constexpr int64_t kOwnSegmentBytes = int64_t{64} << 10;
constexpr int64_t kIndexIntervalBytes = 4096;

// The header of a stored batch (its bytes were checked when it was appended).
RecordBatchHeader header_at(const char* data, int64_t position, int64_t size) {
  const std::string_view bytes(data + position, static_cast<size_t>(size - position));
  return read_record_batch_header(bytes).value_or(RecordBatchHeader{});
}

int64_t batch_size(const RecordBatchHeader& h) { return 12 + static_cast<int64_t>(h.batch_length); }

}  // namespace

MemoryPartition::Segment::~Segment() {
  if (mapped) ::munmap(data, capacity);
}

Result<std::shared_ptr<MemoryPartition::Segment>> MemoryPartition::new_segment(
    int64_t base, size_t capacity) const {
  // Pages are backed only once written: an idle partition costs nothing.
  void* p = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return Status::unavailable("in-memory broker: cannot map " + std::to_string(capacity) +
                               " bytes for " + partition_name(topic_, partition_) + ": " +
                               std::system_category().message(errno));
  }
  return std::make_shared<Segment>(base, static_cast<char*>(p), capacity);
}

Result<int64_t> MemoryPartition::append(std::string batch) {
  auto header = read_record_batch_header(batch);
  if (!header) {
    return header.status().with_context("appending to " + partition_name(topic_, partition_));
  }
  const int64_t n = batch_size(*header);
  if (n != static_cast<int64_t>(batch.size()) || header->last_offset_delta < 0) {
    return Status::invalid_argument("a batch of " + std::to_string(batch.size()) + " bytes for " +
                                    partition_name(topic_, partition_) + " says batchLength " +
                                    std::to_string(header->batch_length) + " and lastOffsetDelta " +
                                    std::to_string(header->last_offset_delta));
  }
  std::lock_guard lock(append_mu_);
  const int64_t base = next_offset_;
  // A segment rolls at segment.bytes, and holds at most one mapping of kSegmentBytes.
  const int64_t limit =
      std::min(segment_bytes_.load(std::memory_order_relaxed), static_cast<int64_t>(kSegmentBytes));
  const bool own = n >= kOwnSegmentBytes || n > limit;
  const bool roll = active_ == nullptr || write_pos_ + n > limit ||
                    write_pos_ + n > static_cast<int64_t>(active_->capacity);
  if (own || roll) {
    const size_t page = 4096;
    const size_t capacity = (static_cast<size_t>(limit) + page - 1) / page * page;
    Result<std::shared_ptr<Segment>> seg =
        own ? std::make_shared<Segment>(base, std::move(batch)) : new_segment(base, capacity);
    if (!seg) return seg.status();
    {
      std::unique_lock state(state_mu_);
      segments_.push_back(*seg);
    }
    active_ = std::move(*seg);
    write_pos_ = 0;
    bytes_since_index_ = 0;
  }
  char* at = active_->data + write_pos_;
  if (!own) std::memcpy(at, batch.data(), static_cast<size_t>(n));
  disk::store_be(at, static_cast<uint64_t>(base), 8);
  const bool add_entry = active_->entries.empty() || bytes_since_index_ >= kIndexIntervalBytes;
  const BatchIndexEntry entry{base + header->last_offset_delta, write_pos_, running_max_ts_};
  bytes_since_index_ = add_entry ? n : bytes_since_index_ + n;
  write_pos_ += n;
  next_offset_ = base + header->last_offset_delta + 1;
  running_max_ts_ = std::max(running_max_ts_, header->max_timestamp);
  producers_.record(*header, base, std::string_view(at, static_cast<size_t>(n)));
  std::unique_lock state(state_mu_);
  active_->size = write_pos_;
  active_->max_timestamp = std::max(active_->max_timestamp, header->max_timestamp);
  if (add_entry) active_->entries.push_back(entry);
  end_offset_ = next_offset_;
  return base;
}

ProducerStates::Check MemoryPartition::check_producer(const RecordBatchHeader& header) {
  std::lock_guard lock(append_mu_);
  return producers_.check(header);
}

TransactionIndex MemoryPartition::transaction_index(int64_t from, int64_t to) {
  std::lock_guard lock(append_mu_);
  return {producers_.last_stable_offset(next_offset_), producers_.aborted_between(from, to)};
}

OffsetRange MemoryPartition::offsets() const {
  std::shared_lock lock(state_mu_);
  return {log_start_, end_offset_};
}

Status MemoryPartition::out_of_range(int64_t offset, const OffsetRange& range) const {
  return Status::out_of_range(record_name(topic_, partition_, offset) +
                              " is out of range: " + partition_name(topic_, partition_) +
                              " holds offsets [" + std::to_string(range.earliest) + ", " +
                              std::to_string(range.end) + ") and may be read from " +
                              std::to_string(range.earliest) + " to " + std::to_string(range.end));
}

std::vector<MemoryPartition::View> MemoryPartition::views_from(size_t first) const {
  std::vector<View> views;
  views.reserve(segments_.size() - first);
  for (size_t s = first; s < segments_.size(); ++s) {
    views.push_back({segments_[s], segments_[s]->size});
  }
  return views;
}

template <class Stop>
bool MemoryPartition::scan(const std::vector<View>& views, Cursor& at, Stop&& stop) {
  for (; at.view < views.size(); ++at.view, at.position = 0) {
    const View& v = views[at.view];
    while (at.position < v.size) {
      const RecordBatchHeader h = header_at(v.segment->data, at.position, v.size);
      if (stop(h)) return true;
      at.position += batch_size(h);
    }
  }
  return false;
}

Result<BatchRead> MemoryPartition::read(int64_t offset, int64_t max_bytes) const {
  std::vector<View> views;
  Cursor at;
  OffsetRange range;
  {
    std::shared_lock lock(state_mu_);
    range = {log_start_, end_offset_};
    if (offset < range.earliest || offset > range.end) return out_of_range(offset, range);
    if (offset == range.end) return BatchRead{std::string(), range.end, range.earliest};
    // offset >= the log start >= the first segment's base.
    auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                               [](int64_t o, const auto& s) { return o < s->base_offset; });
    --it;
    at.position = scan_start_for_offset((*it)->entries, offset);
    views = views_from(static_cast<size_t>(it - segments_.begin()));
  }
  if (!scan(views, at, [&](const RecordBatchHeader& h) { return h.last_offset() >= offset; })) {
    return Status::internal(record_name(topic_, partition_, offset) + ": below the end offset " +
                            std::to_string(range.end) + " but in no batch");
  }
  // Whole batches up to max_bytes, the first one however big: one run of bytes a segment.
  struct Run {
    const char* from;
    int64_t bytes;
  };
  std::vector<Run> runs;
  int64_t total = 0;
  for (bool full = false; !full && at.view < views.size(); ++at.view, at.position = 0) {
    const View& v = views[at.view];
    Run run{v.segment->data + at.position, 0};
    for (int64_t p = at.position; p < v.size;) {
      const int64_t n = batch_size(header_at(v.segment->data, p, v.size));
      if (total > 0 && total + n > max_bytes) {
        full = true;
        break;
      }
      run.bytes += n;
      total += n;
      p += n;
    }
    if (run.bytes > 0) runs.push_back(run);
  }
  BatchRead out{take_read_buffer(), range.end, range.earliest};  // memory used before
  out.bytes.clear();
  out.bytes.reserve(static_cast<size_t>(total));
  for (const Run& r : runs) out.bytes.append(r.from, static_cast<size_t>(r.bytes));
  return out;
}

int64_t MemoryPartition::max_timestamp() const {
  std::shared_lock lock(state_mu_);
  int64_t max = INT64_MIN;
  for (const auto& s : segments_) max = std::max(max, s->max_timestamp);
  return max;
}

int64_t MemoryPartition::size_bytes() const {
  std::shared_lock lock(state_mu_);
  int64_t bytes = 0;
  for (const auto& s : segments_) bytes += s->size;
  return bytes;
}

Result<int64_t> MemoryPartition::offset_for_time(int64_t timestamp_ms) const {
  std::vector<View> views;
  Cursor at;
  int64_t end = 0;
  {
    std::shared_lock lock(state_mu_);
    end = end_offset_;
    const ScanStart start = scan_start_for_time(segments_, timestamp_ms);
    at.position = start.position;
    views = views_from(start.segment);
  }
  while (scan(views, at,
              [&](const RecordBatchHeader& h) { return h.max_timestamp >= timestamp_ms; })) {
    // The records of a batch need not be in timestamp order: decode it to find the first.
    const View& v = views[at.view];
    size_t consumed = 0;
    auto decoded = decode_record_batch(
        std::string_view(v.segment->data + at.position, static_cast<size_t>(v.size - at.position)),
        consumed);
    if (!decoded) {
      return decoded.status().with_context("reading " + record_name(topic_, partition_, end) +
                                           " by time");
    }
    for (const WireRecord& r : decoded->records) {
      if (r.timestamp_ms >= timestamp_ms) return r.offset;
    }
    at.position += static_cast<int64_t>(consumed);
  }
  return end;
}

Result<int64_t> MemoryPartition::delete_records(int64_t offset) {
  std::vector<std::shared_ptr<Segment>> doomed;  // freed once no reader holds them
  std::lock_guard guard(retention_mu_);
  std::lock_guard append(append_mu_);
  std::unique_lock lock(state_mu_);
  if (offset > end_offset_) {
    return Status::out_of_range("deleting records of " + partition_name(topic_, partition_) +
                                " below offset " + std::to_string(offset) +
                                ": beyond its end offset " + std::to_string(end_offset_));
  }
  if (offset <= log_start_) return log_start_;
  log_start_ = offset;
  producers_.forget_aborted_before(offset);
  // A segment ends where the next begins; the active one at the end offset.
  size_t k = 0;
  while (k < segments_.size() &&
         (k + 1 < segments_.size() ? segments_[k + 1]->base_offset : end_offset_) <= offset) {
    ++k;
  }
  doomed.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
  if (segments_.empty()) active_ = nullptr;  // the next append starts a segment
  return offset;
}

void MemoryPartition::enforce_retention(int64_t now_ms, int64_t retention_ms,
                                        int64_t retention_bytes) {
  if (retention_ms < 0 && retention_bytes < 0) return;
  std::vector<std::shared_ptr<Segment>> doomed;  // freed once no reader holds them
  std::lock_guard guard(retention_mu_);
  std::lock_guard append(append_mu_);
  std::unique_lock lock(state_mu_);
  const size_t k = segments_past_retention(segments_, now_ms, retention_ms, retention_bytes, true);
  if (k == 0) return;
  doomed.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
  // All of them: the partition goes on at its end offset, in a segment the next append starts.
  log_start_ =
      std::max(log_start_, segments_.empty() ? end_offset_ : segments_.front()->base_offset);
  if (segments_.empty()) active_ = nullptr;
  producers_.forget_aborted_before(log_start_);
}

Result<disk::CleanerStats> MemoryPartition::clean(const disk::CleanerOptions& o) {
  std::lock_guard guard(retention_mu_);
  disk::CleanerStats stats;
  stats.cleaned_end = cleaned_end_.load();

  // (1) The cleanable segments: the closed ones below the last stable offset (and older than
  // min.compaction.lag.ms), each with the base of the segment after it (its range's end).
  std::vector<View> views;
  std::vector<int64_t> ends;
  int64_t lso = 0;
  {
    std::lock_guard append(append_mu_);
    lso = producers_.last_stable_offset(next_offset_);
  }
  {
    std::shared_lock lock(state_mu_);
    for (size_t i = 0, n = disk::cleanable_segments(segments_, lso, o); i < n; ++i) {
      views.push_back({segments_[i], segments_[i]->size});
      ends.push_back(segments_[i + 1]->base_offset);
    }
  }
  if (!disk::cleaning_due(views, cleaned_end_.load(), tombstone_due_ms_, o)) return stats;

  std::vector<ProducerStates::AbortedTransaction> aborted;
  {
    std::lock_guard append(append_mu_);
    aborted = producers_.aborted_between(views.front().segment->base_offset, ends.back());
  }
  disk::Compactor compactor(o, aborted);
  compactor.stats = stats;
  // Calls fn(batch, header) for every batch of a view, in order.
  const auto for_each_batch = [](const View& v, auto&& fn) -> Status {
    for (int64_t p = 0; p < v.size;) {
      const RecordBatchHeader h = header_at(v.segment->data, p, v.size);
      const int64_t n = batch_size(h);
      KAPPA_RETURN_IF_ERROR(fn(std::string_view(v.segment->data + p, static_cast<size_t>(n)), h));
      p += n;
    }
    return Status::ok();
  };
  const auto in_context = [&](const Status& s, const RecordBatchHeader& h) {
    return s.with_context("cleaning " + record_name(topic_, partition_, h.base_offset));
  };

  // (2) The key map, over as many whole segments as it fits.
  size_t mapped = 0;
  for (bool full = false; mapped < views.size() && !full;) {
    KAPPA_RETURN_IF_ERROR(for_each_batch(
        views[mapped], [&](std::string_view b, const RecordBatchHeader& h) -> Status {
          auto fits = compactor.map(b, h);
          if (!fits) return in_context(fits.status(), h);
          full = full || !*fits;
          return Status::ok();
        }));
    if (!full) ++mapped;
  }
  if (mapped == 0) {
    return Status::failed_precondition(
        "cleaning " + partition_name(topic_, partition_) + ": the keys of its segment at offset " +
        std::to_string(views.front().segment->base_offset) +
        " do not fit the cleaner's key map of " + std::to_string(o.max_key_map_bytes) +
        " bytes (--log-cleaner-dedupe-buffer-size)");
  }
  views.resize(mapped);
  ends.resize(mapped);

  // (3) The groups: a group takes segment after segment while what it keeps of them fits in
  // segment.bytes (the first one whatever its size), and becomes one segment.
  struct Group {
    size_t first = 0, count = 0;  // views[first, first + count)
    bool changed = false;
    std::shared_ptr<Segment> segment;
  };
  std::vector<Group> groups;
  const int64_t limit =
      std::min(segment_bytes_.load(std::memory_order_relaxed), static_cast<int64_t>(kSegmentBytes));
  int64_t max_ts_before = INT64_MIN;  // of the batches of the partition before the one put
  std::string bytes;                  // the open group's batches
  struct Put {
    int64_t last_offset, position, max_timestamp;
  };
  std::vector<Put> puts;  // its batches
  Group open;
  const auto close_group = [&] {
    auto seg = std::make_shared<Segment>(views[open.first].segment->base_offset, std::move(bytes));
    seg->size = static_cast<int64_t>(seg->capacity);
    int64_t since_index = 0, prev_end = 0;
    for (const Put& p : puts) {
      since_index += p.position - prev_end;
      if (seg->entries.empty() || since_index >= kIndexIntervalBytes) {
        seg->entries.push_back({p.last_offset, p.position, max_ts_before});
        since_index = 0;
      }
      prev_end = p.position;
      max_ts_before = std::max(max_ts_before, p.max_timestamp);
      seg->max_timestamp = std::max(seg->max_timestamp, p.max_timestamp);
    }
    compactor.stats.bytes_out += seg->size;
    ++compactor.stats.segments_out;
    open.segment = std::move(seg);
    groups.push_back(std::move(open));
    bytes = std::string();
    puts.clear();
  };
  for (size_t j = 0; j < views.size(); ++j) {
    ++compactor.stats.segments_in;
    compactor.stats.bytes_in += views[j].size;
    std::string piece;
    std::vector<Put> piece_puts;
    bool changed = false;
    KAPPA_RETURN_IF_ERROR(
        for_each_batch(views[j], [&](std::string_view b, const RecordBatchHeader& h) -> Status {
          auto kept = compactor.clean(b, h);
          if (!kept) return in_context(kept.status(), h);
          using What = disk::Compactor::Kept::What;
          if (kept->what != What::kWhole) changed = true;
          if (kept->what == What::kNothing) return Status::ok();
          const std::string_view out = kept->what == What::kWhole ? b : kept->bytes;
          piece_puts.push_back({h.last_offset(), static_cast<int64_t>(piece.size()),
                                disk::be64(out.data() + disk::kMaxTimestampAt)});
          piece.append(out);
          return Status::ok();
        }));
    if (open.count > 0 && static_cast<int64_t>(bytes.size() + piece.size()) > limit) {
      close_group();
      open = Group{j, 0, false, nullptr};
    }
    for (Put& p : piece_puts) p.position += static_cast<int64_t>(bytes.size());
    puts.insert(puts.end(), piece_puts.begin(), piece_puts.end());
    bytes.append(piece);
    open.changed = open.changed || changed || open.count > 0;  // or two segments became one
    ++open.count;
  }
  close_group();

  // (4) Each changed group replaces its segments; a reader holding them reads on.
  std::vector<std::shared_ptr<Segment>> doomed;  // freed once no reader holds them
  cleaned_end_.store(std::max(cleaned_end_.load(), ends.back()));
  {
    std::unique_lock lock(state_mu_);
    for (Group& g : groups) {
      if (!g.changed) continue;
      const int64_t base = g.segment->base_offset;
      auto it = std::find_if(segments_.begin(), segments_.end(),
                             [&](const auto& p) { return p->base_offset == base; });
      const auto n = static_cast<std::ptrdiff_t>(g.count);
      if (it == segments_.end() || segments_.end() - it <= n) {
        return Status::internal("cleaning " + partition_name(topic_, partition_) +
                                ": the segments at offset " + std::to_string(base) + " changed");
      }
      doomed.insert(doomed.end(), it, it + n);
      *it = std::move(g.segment);
      segments_.erase(it + 1, it + n);
    }
  }
  tombstone_due_ms_ = compactor.tombstone_due_ms;
  compactor.stats.ran = true;
  compactor.stats.cleaned_end = cleaned_end_.load();
  return compactor.stats;
}

}  // namespace kappa
