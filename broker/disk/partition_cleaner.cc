// PartitionStore's log cleaner (partition_store.h, clean()): Kafka's compaction of a topic with
// cleanup.policy=compact, over the closed segments of one partition.
//
// A pass: (1) the cleanable segments are the closed ones wholly below the last stable offset
// (and older than min.compaction.lag.ms); (2) a map of each key to its latest offset is built
// over them, as far as it fits in max_key_map_bytes; (3) the mapped segments are rewritten in
// groups, keeping what partition_store.h says; (4) the new cleaner checkpoint is recorded and
// each group's file replaces the old segments (swap).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "broker/disk/compactor.h"
#include "broker/disk/partition_store.h"
#include "broker/disk/segment_format.h"

namespace kappa::disk {
namespace {

constexpr size_t kWriteChunk = size_t{1} << 20;

std::string swap_name(int64_t base, int64_t next) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%020lld-%020lld.swap", static_cast<long long>(base),
                static_cast<long long>(next));
  return buf;
}

// "<20 digits>-<20 digits>.swap": the first segment's base and the base after the group.
bool parse_swap_name(const std::string& name, int64_t& base, int64_t& next) {
  if (name.size() != 46 || name[20] != '-' || name.compare(41, 5, ".swap") != 0) return false;
  base = parse_segment_name(name.substr(0, 20) + ".log", ".log");
  next = parse_segment_name(name.substr(21, 20) + ".log", ".log");
  return base >= 0 && next > base;
}

// Calls fn(batch bytes) for every batch of the segment's bytes [0, size), in order.
template <class Fn>
Status for_each_batch(const File& log, int64_t size, Fn&& fn) {
  ChunkReader reader(log);
  for (int64_t pos = 0; pos + static_cast<int64_t>(kHeaderSize) <= size;) {
    auto h = reader.view(pos, kHeaderSize);
    if (!h) return h.status();
    const int32_t length = be32(*h + kLengthAt);
    if (length < kMinBatchLength || pos + 12 + static_cast<int64_t>(length) > size) {
      return Status::corruption("disk broker " + log.path().string() + " at byte " +
                                std::to_string(pos) + ": batchLength " + std::to_string(length) +
                                " does not fit the segment");
    }
    const size_t n = 12 + static_cast<size_t>(length);
    auto b = reader.view(pos, n);
    if (!b) return b.status();
    KAPPA_RETURN_IF_ERROR(fn(std::string_view(*b, n)));
    pos += static_cast<int64_t>(n);
  }
  return Status::ok();
}

}  // namespace

Status PartitionStore::finish_cleaner_files() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  if (ec) {
    return Status::unavailable("disk broker " + dir_.string() + ": cannot list: " + ec.message());
  }
  bool changed = false;
  const auto unlink_file = [&](const std::filesystem::path& path, const char* why) -> Status {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return io_error(path, std::nullopt, why, errno);
    changed = true;
    return Status::ok();
  };
  for (const std::string& name : names) {
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ".cleaned") == 0) {
      // A group the cleaner had not committed: the old segments are whole.
      KAPPA_RETURN_IF_ERROR(unlink_file(dir_ / name, "unlink an unfinished cleaner file"));
    }
  }
  for (const std::string& name : names) {
    int64_t base = 0, next = 0;
    if (!parse_swap_name(name, base, next)) continue;
    // A committed group: the segments it replaces go, then it takes the first one's name.
    for (const std::string& other : names) {
      const int64_t b = parse_segment_name(other, ".log");
      const int64_t i = parse_segment_name(other, ".index");
      if ((b > base && b < next) || (i >= base && i < next)) {
        KAPPA_RETURN_IF_ERROR(unlink_file(dir_ / other, "unlink a segment the cleaner replaced"));
      }
    }
    const auto from = dir_ / name, to = dir_ / segment_name(base, ".log");
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return io_error(from, std::nullopt, "rename a cleaned segment into place", errno);
    }
    changed = true;
  }
  return changed ? sync_dir(dir_) : Status::ok();
}

Result<CleanerStats> PartitionStore::clean(const CleanerOptions& o,
                                           const std::function<Status()>& checkpoint) {
  std::lock_guard guard(retention_mu_);
  CleanerStats stats;
  stats.cleaned_end = cleaned_end_.load();

  // (1) The cleanable segments, each with the base of the segment after it (its range's end).
  std::vector<SegmentView> views;
  std::vector<int64_t> ends;
  int64_t lso = 0;
  {
    std::lock_guard append(append_mu_);
    lso = producers_.last_stable_offset(next_offset_);
  }
  {
    std::shared_lock lock(state_mu_);
    for (size_t i = 0, n = cleanable_segments(segments_, lso, o); i < n; ++i) {
      views.push_back({segments_[i], segments_[i]->size});
      ends.push_back(segments_[i + 1]->base_offset);
    }
  }
  if (!cleaning_due(views, cleaned_end_.load(), tombstone_due_ms_, o)) return stats;

  std::vector<ProducerStates::AbortedTransaction> aborted;
  {
    std::lock_guard append(append_mu_);
    aborted = producers_.aborted_between(views.front().segment->base_offset, ends.back());
  }
  Compactor compactor(o, aborted);
  compactor.stats = stats;
  const auto in_context = [&](const Status& s, std::string_view b, const SegmentView& v) {
    return s.with_context("cleaning " + location(be64(b.data())) + " in " +
                          v.segment->log.path().string());
  };

  // (2) The key map, over as many whole segments as it fits.
  size_t mapped = 0;
  for (bool full = false; mapped < views.size() && !full;) {
    const SegmentView& v = views[mapped];
    KAPPA_RETURN_IF_ERROR(for_each_batch(v.segment->log, v.size, [&](std::string_view b) -> Status {
      auto fits = compactor.map(b, parse_header(b.data()));
      if (!fits) return in_context(fits.status(), b, v);
      full = full || !*fits;
      return Status::ok();
    }));
    if (!full) ++mapped;
  }
  if (mapped == 0) {
    return Status::failed_precondition(
        "cleaning " + partition_name(topic_, partition_) + ": the keys of " +
        views.front().segment->log.path().string() + " do not fit the cleaner's key map of " +
        std::to_string(o.max_key_map_bytes) + " bytes (--log-cleaner-dedupe-buffer-size)");
  }
  views.resize(mapped);
  ends.resize(mapped);

  // (3) The groups, rewritten: a group takes segment after segment while what it keeps of them
  // fits in segment.bytes (and its offsets in the index's 32 bits); the segment that does not
  // fit is taken back out (the file cut to before it) and starts the next group.
  struct Written {
    size_t first = 0, count = 0;  // views[first, first + count)
    std::filesystem::path cleaned;
    std::shared_ptr<Segment> segment;
  };
  std::vector<Written> written;
  int64_t max_ts_before = INT64_MIN;
  const int64_t limit = segment_bytes_.load(std::memory_order_relaxed);
  const auto discard = [&] {
    for (const Written& w : written) (void)::unlink(w.cleaned.c_str());
  };
  // What a group holds after some of its segments, to go back to.
  struct Mark {
    int64_t size = 0, next_offset = 0, max_timestamp = INT64_MIN, max_ts_before = INT64_MIN;
    int64_t since_index = 0, due = INT64_MAX;
    size_t entries = 0;
    bool changed = false;
    CleanerStats stats;
  };
  for (size_t first = 0; first < views.size();) {
    const int64_t base = views[first].segment->base_offset;
    Written w{first, 0, dir_ / segment_name(base, ".cleaned"), std::make_shared<Segment>()};
    auto out = File::open(w.cleaned, O_RDWR | O_CREAT | O_TRUNC);
    if (!out) {
      discard();
      return out.status();
    }
    out->set_faults(options_.faults);
    Segment& seg = *w.segment;
    seg.base_offset = base;
    seg.next_offset = base;
    std::string pending;
    int64_t flushed = 0, since_index = 0;
    bool changed = false;
    const auto flush = [&]() -> Status {
      if (pending.empty()) return Status::ok();
      KAPPA_RETURN_IF_ERROR(out->write_at(flushed, pending));
      flushed += static_cast<int64_t>(pending.size());
      pending.clear();
      return Status::ok();
    };
    const auto put = [&](std::string_view bytes, const RecordBatchHeader& h) -> Status {
      const int64_t at = flushed + static_cast<int64_t>(pending.size());
      if (seg.entries.empty() || since_index >= options_.index_interval_bytes) {
        seg.entries.push_back({h.last_offset(), static_cast<int32_t>(at), max_ts_before});
        since_index = 0;
      }
      since_index += static_cast<int64_t>(bytes.size());
      pending.append(bytes);
      const int64_t ts = be64(bytes.data() + kMaxTimestampAt);
      max_ts_before = std::max(max_ts_before, ts);
      seg.max_timestamp = std::max(seg.max_timestamp, ts);
      seg.next_offset = h.last_offset() + 1;
      return pending.size() >= kWriteChunk ? flush() : Status::ok();
    };
    const auto clean_segment = [&](const SegmentView& v) -> Status {
      ++compactor.stats.segments_in;
      compactor.stats.bytes_in += v.size;
      return for_each_batch(v.segment->log, v.size, [&](std::string_view b) -> Status {
        const RecordBatchHeader h = parse_header(b.data());
        auto kept = compactor.clean(b, h);
        if (!kept) return in_context(kept.status(), b, v);
        using What = Compactor::Kept::What;
        if (kept->what == What::kWhole) return put(b, h);
        changed = true;
        return kept->what == What::kNothing ? Status::ok() : put(kept->bytes, h);
      });
    };
    Status s;
    for (size_t j = first; j < views.size(); ++j) {
      const Mark mark{flushed,
                      seg.next_offset,
                      seg.max_timestamp,
                      max_ts_before,
                      since_index,
                      compactor.tombstone_due_ms,
                      seg.entries.size(),
                      changed,
                      compactor.stats};
      s = clean_segment(views[j]);
      if (s.is_ok()) s = flush();
      if (!s) break;
      const bool fits = flushed <= limit && ends[j] - 1 - base <= kMaxPosition;
      if (j > first && !fits) {
        s = out->truncate(mark.size);
        if (!s) break;
        flushed = mark.size;
        seg.next_offset = mark.next_offset;
        seg.max_timestamp = mark.max_timestamp;
        seg.entries.resize(mark.entries);
        max_ts_before = mark.max_ts_before;
        since_index = mark.since_index;
        compactor.tombstone_due_ms = mark.due;
        changed = mark.changed;
        compactor.stats = mark.stats;
        break;
      }
      ++w.count;
      changed = changed || j > first;  // two segments became one
    }
    if (s.is_ok() && changed) s = out->datasync();
    if (!s) {
      (void)::unlink(w.cleaned.c_str());
      discard();
      return s;
    }
    seg.size = flushed;
    compactor.stats.bytes_out += flushed;
    ++compactor.stats.segments_out;
    first += w.count;
    if (changed) {
      written.push_back(std::move(w));
    } else {
      (void)::unlink(w.cleaned.c_str());  // the segment stays as it is
    }
  }

  // (4) Record the new checkpoint, then swap each group in.
  const int64_t cleaned_end = ends.back();
  cleaned_end_.store(std::max(cleaned_end_.load(), cleaned_end));
  if (checkpoint) {
    if (Status s = checkpoint(); !s) {
      discard();
      return s;
    }
  }
  for (Written& w : written) {
    const int64_t base = w.segment->base_offset;
    const int64_t next = ends[w.first + w.count - 1];
    const auto swap = dir_ / swap_name(base, next);
    if (::rename(w.cleaned.c_str(), swap.c_str()) != 0) {
      const Status s = io_error(w.cleaned, std::nullopt, "rename to a cleaner swap file", errno);
      discard();
      return s;
    }
    w.cleaned.clear();
    KAPPA_RETURN_IF_ERROR(sync_dir(dir_));
    // Committed: from here a crash leaves the swap for the next open to finish.
    for (size_t j = w.first; j < w.first + w.count; ++j) {
      const int64_t b = views[j].segment->base_offset;
      for (const char* ext : {".log", ".index"}) {
        if (b == base && std::string_view(ext) == ".log") continue;
        const auto path = dir_ / segment_name(b, ext);
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          return io_error(path, std::nullopt, "unlink a segment the cleaner replaced", errno);
        }
      }
    }
    const auto log_path = dir_ / segment_name(base, ".log");
    if (::rename(swap.c_str(), log_path.c_str()) != 0) {
      return io_error(swap, std::nullopt, "rename a cleaned segment into place", errno);
    }
    auto log = File::open(log_path, O_RDONLY);
    if (!log) return log.status();
    w.segment->log = std::move(*log);
    w.segment->log.set_faults(options_.faults);
    PartitionRecovery scratch;
    KAPPA_RETURN_IF_ERROR(write_index(*w.segment, false, scratch));
    KAPPA_RETURN_IF_ERROR(sync_dir(dir_));
    {
      std::unique_lock lock(state_mu_);
      auto it = std::find_if(segments_.begin(), segments_.end(),
                             [&](const SegmentPtr& p) { return p->base_offset == base; });
      const auto n = static_cast<std::ptrdiff_t>(w.count);
      if (it == segments_.end() || segments_.end() - it <= n) {
        return Status::internal("cleaning " + partition_name(topic_, partition_) +
                                ": the segments at offset " + std::to_string(base) + " changed");
      }
      *it = w.segment;
      segments_.erase(it + 1, it + n);
    }
  }
  tombstone_due_ms_ = compactor.tombstone_due_ms;
  compactor.stats.ran = true;
  compactor.stats.cleaned_end = cleaned_end_.load();
  return compactor.stats;
}

}  // namespace kappa::disk
