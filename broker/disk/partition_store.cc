#include "broker/disk/partition_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <set>
#include <system_error>
#include <utility>

#include "broker/disk/segment_format.h"
#include "broker/protocol/crc32c.h"
#include "broker/protocol/read_buffers.h"

namespace kappa::disk {
namespace {

// Raises `a` to `v` if it is below.
void raise_to(std::atomic<int64_t>& a, int64_t v) {
  int64_t now = a.load();
  while (now < v && !a.compare_exchange_weak(now, v)) {
  }
}

// The end offset (last offset + 1) of the batch at `at` if it passes every check a batch can
// pass on its own (a sane header within `size`, magic 2, baseOffset >= min_base, a matching
// CRC-32C), else -1. `batch` receives its bytes.
Result<int64_t> valid_batch_at(const File& file, int64_t at, int64_t size, int64_t min_base,
                               std::string& batch) {
  if (at + static_cast<int64_t>(kHeaderSize) > size) return int64_t{-1};
  batch.resize(kHeaderSize);
  KAPPA_RETURN_IF_ERROR(file.read_exact(at, batch.data(), kHeaderSize));
  const int32_t length = be32(batch.data() + kLengthAt);
  const int64_t base = be64(batch.data());
  const int32_t delta = be32(batch.data() + kLastOffsetDeltaAt);
  if (length < kMinBatchLength || at + 12 + static_cast<int64_t>(length) > size ||
      static_cast<int8_t>(batch[kMagicAt]) != 2 || base < min_base || delta < 0) {
    return int64_t{-1};
  }
  batch.resize(12 + static_cast<size_t>(length));
  KAPPA_RETURN_IF_ERROR(file.read_exact(at + static_cast<int64_t>(kHeaderSize),
                                        batch.data() + kHeaderSize, batch.size() - kHeaderSize));
  const auto stored = static_cast<uint32_t>(load_be(batch.data() + kCrcAt, 4));
  const uint32_t actual = crc32c(0, batch.data() + kAttributesAt, batch.size() - kAttributesAt);
  return stored == actual ? base + delta + 1 : int64_t{-1};
}

// Valid batches after a bad one: the first at any byte position after `from` (not only where
// the bad batch claims to end, since its length field may be what was damaged), and the end
// offset of the last one.
struct ValidAfter {
  int64_t position = -1;  // -1: none
  int64_t base = 0;
  int64_t end = 0;
};

Result<ValidAfter> find_valid_after(const File& file, int64_t from, int64_t size,
                                    int64_t min_base) {
  ValidAfter out;
  std::string chunk;
  std::string batch;
  int64_t chunk_at = 0;  // chunk holds the file's bytes from here
  for (int64_t at = from + 1; at + static_cast<int64_t>(kHeaderSize) <= size;) {
    // Only a 2 at the magic byte's place can start a batch: test that from large reads.
    const int64_t magic_at = at + static_cast<int64_t>(kMagicAt);
    if (magic_at < chunk_at || magic_at >= chunk_at + static_cast<int64_t>(chunk.size())) {
      chunk.resize(kRecoveryChunk);
      auto got = file.read_at(magic_at, chunk.data(), chunk.size());
      if (!got) return got.status();
      chunk.resize(*got);
      chunk_at = magic_at;
      if (chunk.empty()) break;
    }
    if (chunk[static_cast<size_t>(magic_at - chunk_at)] != 2) {
      ++at;
      continue;
    }
    auto end = valid_batch_at(file, at, size, min_base, batch);
    if (!end) return end.status();
    if (*end < 0) {
      ++at;
      continue;
    }
    if (out.position < 0) {
      out.position = at;
      out.base = be64(batch.data());
    }
    out.end = std::max(out.end, *end);
    at += static_cast<int64_t>(batch.size());
  }
  return out;
}

// The end offset of the batches of the segment file `path` starting at `base`, by their
// headers alone (for reporting what deleting it loses).
Result<int64_t> segment_end(const std::filesystem::path& path, int64_t base) {
  auto file = File::open(path, O_RDONLY);
  if (!file) return file.status();
  auto size = file->size();
  if (!size) return size.status();
  int64_t end = base;
  char h[kHeaderSize];
  for (int64_t at = 0; at + static_cast<int64_t>(kHeaderSize) <= *size;) {
    KAPPA_RETURN_IF_ERROR(file->read_exact(at, h, kHeaderSize));
    const int32_t length = be32(h + kLengthAt);
    const int32_t delta = be32(h + kLastOffsetDeltaAt);
    if (length < kMinBatchLength || static_cast<int8_t>(h[kMagicAt]) != 2 || delta < 0) break;
    end = std::max(end, be64(h) + delta + 1);
    at += 12 + static_cast<int64_t>(length);
  }
  return end;
}

}  // namespace

PartitionStore::PartitionStore(std::filesystem::path dir, std::string topic, int32_t partition,
                               PartitionOptions options)
    : dir_(std::move(dir)),
      topic_(std::move(topic)),
      partition_(partition),
      options_(options),
      segment_bytes_(options.segment_bytes),
      max_batch_bytes_(options.max_batch_bytes) {}

PartitionStore::~PartitionStore() = default;

Status PartitionStore::broken() const {
  std::lock_guard lock(broken_mu_);
  return broken_;
}

void PartitionStore::set_broken(const Status& why) {
  std::lock_guard lock(broken_mu_);
  if (broken_.is_ok()) {
    broken_ =
        Status::failed_precondition(why.message() + " (" + partition_name(topic_, partition_) +
                                    " no longer knows what is on disk: reopen the broker)");
  }
}

std::string PartitionStore::location(int64_t offset) const {
  return record_name(topic_, partition_, offset);
}

Status PartitionStore::out_of_range(int64_t offset, const OffsetRange& range) const {
  return Status::out_of_range(location(offset) +
                              " is out of range: " + partition_name(topic_, partition_) +
                              " holds offsets [" + std::to_string(range.earliest) + ", " +
                              std::to_string(range.end) + ") and may be read from " +
                              std::to_string(range.earliest) + " to " + std::to_string(range.end));
}

Result<std::unique_ptr<PartitionStore>> PartitionStore::open(std::filesystem::path dir,
                                                             std::string topic, int32_t partition,
                                                             PartitionOptions options,
                                                             PartitionRecovery& report,
                                                             const RecordedOffsets& recorded) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::unavailable("disk broker " + dir.string() +
                               ": cannot create the partition directory: " + ec.message());
  }
  std::unique_ptr<PartitionStore> store(
      new PartitionStore(std::move(dir), std::move(topic), partition, options));
  store->recorded_ = recorded;
  report.topic = store->topic_;
  report.partition = partition;
  KAPPA_RETURN_IF_ERROR(store->recover(report));
  return store;
}

Result<PartitionStore::SegmentPtr> PartitionStore::create_segment(int64_t base_offset) {
  auto seg = std::make_shared<Segment>();
  seg->base_offset = base_offset;
  seg->next_offset = base_offset;
  auto log = File::open(dir_ / segment_name(base_offset, ".log"), O_RDWR | O_CREAT | O_TRUNC);
  if (!log) return log.status();
  auto index = File::open(dir_ / segment_name(base_offset, ".index"), O_RDWR | O_CREAT | O_TRUNC);
  if (!index) return index.status();
  seg->log = std::move(*log);
  seg->index = std::move(*index);
  seg->log.set_faults(options_.faults);
  seg->index.set_faults(options_.faults);
  KAPPA_RETURN_IF_ERROR(sync_dir(dir_));
  return seg;
}

Status PartitionStore::recover(PartitionRecovery& report) {
  KAPPA_RETURN_IF_ERROR(finish_cleaner_files());
  std::vector<int64_t> bases;
  std::set<int64_t> indexes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (const int64_t b = parse_segment_name(name, ".log"); b >= 0) bases.push_back(b);
    if (const int64_t b = parse_segment_name(name, ".index"); b >= 0) indexes.insert(b);
  }
  if (ec) {
    return Status::unavailable("disk broker " + dir_.string() + ": cannot list: " + ec.message());
  }
  std::sort(bases.begin(), bases.end());

  // An index without its log is what a retention run interrupted between the two unlinks
  // leaves behind.
  bool removed = false;
  for (int64_t b : indexes) {
    if (std::binary_search(bases.begin(), bases.end(), b)) continue;
    const auto path = dir_ / segment_name(b, ".index");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return io_error(path, std::nullopt, "unlink an orphaned index", errno);
    }
    removed = true;
  }
  if (removed) KAPPA_RETURN_IF_ERROR(sync_dir(dir_));

  const std::string name = partition_name(topic_, partition_);
  const int64_t log_start = std::max<int64_t>(recorded_.log_start, 0);
  const int64_t recovery_point = recorded_.recovery_point;
  const auto would = [&](const std::string& what, int64_t from, int64_t to) {
    return "; refusing to open. `kappa broker --repair` would " + what + ", losing offsets [" +
           std::to_string(from) + ", " + std::to_string(to) + ") of " + name;
  };
  // The end offset of segments bases[from..], or the recovery point if higher: what is lost
  // when they go.
  const auto end_of = [&](size_t from, int64_t at_least) -> Result<int64_t> {
    int64_t end = std::max(at_least, recovery_point);
    for (size_t i = from; i < bases.size(); ++i) {
      auto e = segment_end(dir_ / segment_name(bases[i], ".log"), bases[i]);
      if (!e) return e.status();
      end = std::max(end, *e);
    }
    return end;
  };

  if (bases.empty()) {
    auto seg = create_segment(log_start);
    if (!seg) return seg.status();
    segments_.push_back(std::move(*seg));
  } else {
    if (bases.front() > log_start) {
      const auto missing = dir_ / segment_name(log_start, ".log");
      const std::string why =
          "segments missing: " + name + "'s first segment starts at offset " +
          std::to_string(bases.front()) + " but its log starts at " + std::to_string(log_start) +
          (recorded_.log_start >= 0 ? " (log-start-offset-checkpoint)"
                                    : " (nothing recorded in log-start-offset-checkpoint)");
      if (!recorded_.repair) {
        return Status::corruption("disk broker " + missing.string() + " is missing: " + why +
                                  would("start the log at offset " + std::to_string(bases.front()),
                                        log_start, bases.front()));
      }
      report.lost.push_back({log_start, bases.front(), why});
    }
    int64_t expected = bases.front();
    size_t kept = bases.size();
    for (size_t i = 0; i < bases.size(); ++i) {
      const bool last = i + 1 == bases.size();
      const auto path = dir_ / segment_name(bases[i], ".log");
      // Below the cleaner's checkpoint a segment may start after a gap the cleaner left.
      const bool cleaned_gap = bases[i] > expected && bases[i] <= recorded_.cleaned_end;
      if (bases[i] != expected && !cleaned_gap) {
        const std::string why = "the segment starts at offset " + std::to_string(bases[i]) +
                                " but the one before it ends at " + std::to_string(expected) +
                                " (" + name + ")";
        auto lost_to = end_of(i, expected);
        if (!lost_to) return lost_to.status();
        if (!recorded_.repair) {
          return Status::corruption(
              "disk broker " + path.string() + ": " + why +
              would("delete it and the segments after it", expected, *lost_to));
        }
        report.lost.push_back(
            {expected, *lost_to,
             "deleted " + path.string() + " and the " + "segments after it: " + why});
        kept = i;
        break;
      }
      auto log = File::open(path, last || recorded_.repair ? O_RDWR : O_RDONLY);
      if (!log) return log.status();
      auto seg = std::make_shared<Segment>();
      seg->base_offset = bases[i];
      expected = bases[i];
      seg->log = std::move(*log);
      seg->log.set_faults(options_.faults);
      std::optional<Damage> damage;
      KAPPA_RETURN_IF_ERROR(recover_segment(*seg, last, expected, report, damage));
      if (damage) {
        auto lost_to = end_of(i + 1, damage->end);
        if (!lost_to) return lost_to.status();
        const std::string at = path.string() + " at byte " + std::to_string(damage->position);
        if (!recorded_.repair) {
          return Status::corruption(
              "disk broker " + at + ": " + damage->problem +
              would("truncate " + at + (last ? "" : " and delete the segments after it"),
                    damage->offset, *lost_to));
        }
        KAPPA_RETURN_IF_ERROR(seg->log.truncate(damage->position));
        KAPPA_RETURN_IF_ERROR(seg->log.datasync());
        report.lost.push_back(
            {damage->offset, *lost_to, "truncated " + at + ": " + damage->problem});
        kept = i + 1;
      }
      KAPPA_RETURN_IF_ERROR(write_index(*seg, last || damage.has_value(), report));
      segments_.push_back(std::move(seg));
      if (damage) break;
    }
    if (kept < bases.size()) {
      for (size_t i = kept; i < bases.size(); ++i) {
        for (const char* ext : {".log", ".index"}) {
          const auto path = dir_ / segment_name(bases[i], ext);
          if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
            return io_error(path, std::nullopt, "unlink for --repair", errno);
          }
        }
      }
      KAPPA_RETURN_IF_ERROR(sync_dir(dir_));
      // The segment before the first deleted one is active now.
      if (!segments_.back()->index.is_open()) {
        KAPPA_RETURN_IF_ERROR(write_index(*segments_.back(), true, report));
      }
    }
  }

  active_ = segments_.back();
  write_pos_ = active_->size;
  next_offset_ = active_->next_offset;
  log_start_ = segments_.front()->base_offset;
  // A log start inside the first segment (DeleteRecords) as the checkpoint recorded it.
  if (recorded_.log_start > log_start_ && recorded_.log_start <= next_offset_) {
    log_start_ = recorded_.log_start;
  }
  end_offset_.store(next_offset_);
  cleaned_end_.store(std::clamp<int64_t>(recorded_.cleaned_end, 0, next_offset_));
  if (recovery_point > next_offset_ &&
      (report.lost.empty() || report.lost.back().to < recovery_point)) {
    const std::string why = name + " ends at offset " + std::to_string(next_offset_) +
                            " but recovery-point-offset-checkpoint records offsets up to " +
                            std::to_string(recovery_point) +
                            " as durable (a truncated or deleted segment)";
    if (!recorded_.repair) {
      return Status::corruption("disk broker " + active_->log.path().string() + " at byte " +
                                std::to_string(write_pos_) + ": " + why +
                                would("accept the end offset " + std::to_string(next_offset_),
                                      next_offset_, recovery_point));
    }
    report.lost.push_back({next_offset_, recovery_point, why});
  }
  // What a crashed process left in the page cache may not be on disk yet.
  KAPPA_RETURN_IF_ERROR(active_->log.datasync());
  synced_end_.store(next_offset_);

  report.segments = static_cast<int64_t>(segments_.size());
  report.log_start_offset = log_start_;
  report.end_offset = next_offset_;
  return Status::ok();
}

Status PartitionStore::recover_segment(Segment& seg, bool last, int64_t& expected,
                                       PartitionRecovery& report, std::optional<Damage>& damage) {
  auto file_size = seg.log.size();
  if (!file_size) return file_size.status();
  const int64_t size = *file_size;
  ChunkReader reader(seg.log);
  seg.entries.clear();
  bytes_since_index_ = 0;
  int64_t pos = 0;
  while (pos < size) {
    const int64_t remaining = size - pos;
    std::string problem;
    const char* batch = nullptr;
    int32_t length = 0;
    if (remaining < static_cast<int64_t>(kHeaderSize)) {
      problem = "a batch header needs " + std::to_string(kHeaderSize) + " bytes, only " +
                std::to_string(remaining) + " remain";
    } else {
      auto h = reader.view(pos, kHeaderSize);
      if (!h) return h.status();
      length = be32(*h + kLengthAt);
      const int64_t base = be64(*h);
      const auto magic = static_cast<int8_t>((*h)[kMagicAt]);
      if (length < kMinBatchLength) {
        problem = "batchLength " + std::to_string(length) + " is below the minimum of " +
                  std::to_string(kMinBatchLength);
      } else if (12 + static_cast<int64_t>(length) > remaining) {
        problem = "a batch of " + std::to_string(12 + static_cast<int64_t>(length)) +
                  " bytes runs past the end of the file (" + std::to_string(remaining) +
                  " bytes remain)";
      } else if (magic != 2) {
        problem = "magic " + std::to_string(magic) + ", expected 2";
      } else {
        auto b = reader.view(pos, 12 + static_cast<size_t>(length));
        if (!b) return b.status();
        batch = *b;
        const auto stored = static_cast<uint32_t>(load_be(batch + kCrcAt, 4));
        const uint32_t actual =
            crc32c(0, batch + kAttributesAt, static_cast<size_t>(length) - (kAttributesAt - 12));
        const int32_t delta = be32(batch + kLastOffsetDeltaAt);
        if (stored != actual) {
          problem = "CRC-32C mismatch (stored " + std::to_string(stored) + ", computed " +
                    std::to_string(actual) + ")";
        } else if (base != expected && !(base > expected && base < recorded_.cleaned_end)) {
          problem = "baseOffset " + std::to_string(base) + ", expected " + std::to_string(expected);
        } else if (delta < 0) {
          problem = "negative lastOffsetDelta " + std::to_string(delta);
        } else if (pos > kMaxPosition) {
          problem = "the segment exceeds 2 GiB, which its index cannot address";
        }
      }
    }
    if (!problem.empty()) {
      // A torn write leaves one bad tail: nothing valid after it, all of it past what was
      // synced, in the last segment. Anything else is damage that recover() refuses.
      auto after = find_valid_after(seg.log, pos, size, expected);
      if (!after) return after.status();
      const bool durable = expected < recorded_.recovery_point;
      if (!last || after->position >= 0 || durable) {
        std::string why = problem + " in " + (last ? "the last" : "a closed") + " segment of " +
                          partition_name(topic_, partition_) + " (offset " +
                          std::to_string(expected) + ")";
        if (after->position >= 0) {
          why += ", but a valid batch follows at byte " + std::to_string(after->position) +
                 " (offset " + std::to_string(after->base) + "): corruption, not a torn write";
        } else if (last) {
          why += ", below the recovery point " + std::to_string(recorded_.recovery_point) +
                 " in recovery-point-offset-checkpoint: durable data is damaged, not a torn write";
        }
        damage = Damage{pos, expected, std::move(why), after->end};
        break;
      }
      // The first bad batch of the last segment, and everything after it, is a torn write.
      KAPPA_RETURN_IF_ERROR(seg.log.truncate(pos));
      KAPPA_RETURN_IF_ERROR(seg.log.datasync());
      report.truncated_bytes = remaining;
      report.truncated_file = seg.log.path().string();
      report.truncated_at = pos;
      report.truncated_reason = problem;
      break;
    }
    const int64_t n = 12 + static_cast<int64_t>(length);
    const int64_t base = be64(batch);  // `expected`, or past a gap the cleaner left
    const int32_t delta = be32(batch + kLastOffsetDeltaAt);
    const int64_t max_ts = be64(batch + kMaxTimestampAt);
    if (seg.entries.empty() || bytes_since_index_ >= options_.index_interval_bytes) {
      seg.entries.push_back({base + delta, pos, running_max_ts_});
      bytes_since_index_ = 0;
    }
    bytes_since_index_ += n;
    running_max_ts_ = std::max(running_max_ts_, max_ts);
    seg.max_timestamp = std::max(seg.max_timestamp, max_ts);
    producers_.record(parse_header(batch), base,
                      std::string_view(batch, 12 + static_cast<size_t>(length)));
    expected = base + delta + 1;
    ++report.batches;
    report.records += be32(batch + kRecordCountAt);
    pos += n;
  }
  seg.size = pos;
  seg.next_offset = expected;
  report.bytes += pos;
  return Status::ok();
}

Status PartitionStore::write_index(Segment& seg, bool keep_open, PartitionRecovery& report) {
  std::string want;
  want.reserve(seg.entries.size() * 8);
  for (const IndexEntry& e : seg.entries) {
    append_be(want, static_cast<uint32_t>(e.last_offset - seg.base_offset), 4);
    append_be(want, static_cast<uint32_t>(e.position), 4);
  }
  auto index = File::open(dir_ / segment_name(seg.base_offset, ".index"), O_RDWR | O_CREAT);
  if (!index) return index.status();
  auto size = index->size();
  if (!size) return size.status();
  bool same = *size == static_cast<int64_t>(want.size());
  if (same && !want.empty()) {
    std::string have(want.size(), '\0');
    auto got = index->read_at(0, have.data(), have.size());
    if (!got) return got.status();
    same = *got == have.size() && have == want;
  }
  if (!same) {
    KAPPA_RETURN_IF_ERROR(index->write_at(0, want));
    KAPPA_RETURN_IF_ERROR(index->truncate(static_cast<int64_t>(want.size())));
    KAPPA_RETURN_IF_ERROR(index->datasync());
    ++report.indexes_rebuilt;
  }
  if (keep_open) seg.index = std::move(*index);
  return Status::ok();
}

Status PartitionStore::roll(int64_t new_base) {
  // The closed segment is durable before the next one exists, so that only the last segment
  // can ever hold a torn write.
  if (Status s = active_->log.datasync(); !s) {
    set_broken(s);
    return broken();
  }
  raise_to(synced_end_, new_base);
  // The index is rebuilt at open if it differs from the log, so its sync is a courtesy.
  (void)active_->index.datasync();
  active_->index.close();
  auto seg = create_segment(new_base);
  if (!seg) return seg.status();
  {
    std::unique_lock lock(state_mu_);
    segments_.push_back(*seg);
  }
  active_ = std::move(*seg);
  write_pos_ = 0;
  bytes_since_index_ = 0;
  if (options_.rolled) options_.rolled();
  return Status::ok();
}

Result<int64_t> PartitionStore::append(std::string batch) {
  const auto n = static_cast<int64_t>(batch.size());
  const std::string where = "a batch for " + partition_name(topic_, partition_);
  if (n < static_cast<int64_t>(kHeaderSize)) {
    return Status::invalid_argument(where + " of " + std::to_string(n) +
                                    " bytes is shorter than a RecordBatch header (61 bytes)");
  }
  if (const int64_t limit = max_batch_bytes_.load(std::memory_order_relaxed); n > limit) {
    return Status::invalid_argument("batch of " + std::to_string(n) + " bytes for " +
                                    partition_name(topic_, partition_) + " exceeds the limit of " +
                                    std::to_string(limit) + " bytes (max_batch_bytes)");
  }
  const int32_t length = be32(batch.data() + kLengthAt);
  if (12 + static_cast<int64_t>(length) != n) {
    return Status::invalid_argument(where + " of " + std::to_string(n) +
                                    " bytes says batchLength " + std::to_string(length) +
                                    " (12 + batchLength must be its size)");
  }
  if (const auto magic = static_cast<int8_t>(batch[kMagicAt]); magic != 2) {
    return Status::invalid_argument(where + " has magic " + std::to_string(magic) +
                                    "; only RecordBatch v2 (magic 2) is stored");
  }
  const int32_t delta = be32(batch.data() + kLastOffsetDeltaAt);
  if (delta < 0) {
    return Status::invalid_argument(where + " has a negative lastOffsetDelta " +
                                    std::to_string(delta));
  }
  const int64_t max_ts = be64(batch.data() + kMaxTimestampAt);
  const RecordBatchHeader header = parse_header(batch.data());

  std::lock_guard lock(append_mu_);
  KAPPA_RETURN_IF_ERROR(broken());
  const int64_t base = next_offset_;
  if (write_pos_ > 0 && (write_pos_ + n > segment_bytes_.load(std::memory_order_relaxed) ||
                         base + delta - active_->base_offset > kMaxPosition)) {
    KAPPA_RETURN_IF_ERROR(roll(base));
  }
  store_be(batch.data(), static_cast<uint64_t>(base), 8);
  if (Status s = active_->log.write_at(write_pos_, batch); !s) {
    // Take back whatever part of the batch reached the file.
    if (Status t = active_->log.truncate(write_pos_); !t) set_broken(s);
    return s;
  }
  const bool add_entry =
      active_->entries.empty() || bytes_since_index_ >= options_.index_interval_bytes;
  const IndexEntry entry{base + delta, write_pos_, running_max_ts_};
  if (add_entry) {
    std::string bytes;
    append_be(bytes, static_cast<uint32_t>(entry.last_offset - active_->base_offset), 4);
    append_be(bytes, static_cast<uint32_t>(entry.position), 4);
    // A failed index write is repaired at the next open, which rebuilds the index from the log.
    (void)active_->index.write_at(static_cast<int64_t>(active_->entries.size()) * 8, bytes);
    bytes_since_index_ = 0;
  }
  bytes_since_index_ += n;
  write_pos_ += n;
  next_offset_ = base + delta + 1;
  running_max_ts_ = std::max(running_max_ts_, max_ts);
  producers_.record(header, base, batch);
  {
    std::unique_lock state(state_mu_);
    active_->size = write_pos_;
    active_->next_offset = next_offset_;
    active_->max_timestamp = std::max(active_->max_timestamp, max_ts);
    if (add_entry) active_->entries.push_back(entry);
    end_offset_.store(next_offset_);
  }
  return base;
}

ProducerStates::Check PartitionStore::check_producer(const RecordBatchHeader& header) {
  std::lock_guard lock(append_mu_);
  return producers_.check(header);
}

TransactionIndex PartitionStore::transaction_index(int64_t from, int64_t to) {
  std::lock_guard lock(append_mu_);
  TransactionIndex out;
  out.last_stable_offset = producers_.last_stable_offset(next_offset_);
  out.aborted = producers_.aborted_between(from, to);
  return out;
}

OffsetRange PartitionStore::offsets() const {
  std::shared_lock lock(state_mu_);
  return {log_start_, end_offset_.load()};
}

Result<RecordBatchHeader> PartitionStore::header_at(const SegmentView& v, int64_t at) const {
  char h[kHeaderSize];
  const File& log = v.segment->log;
  if (at + static_cast<int64_t>(kHeaderSize) > v.size) {
    return Status::corruption("disk broker " + log.path().string() + " at byte " +
                              std::to_string(at) + ": a batch header runs past the published end " +
                              std::to_string(v.size));
  }
  KAPPA_RETURN_IF_ERROR(log.read_exact(at, h, kHeaderSize));
  RecordBatchHeader header = parse_header(h);
  if (header.batch_length < kMinBatchLength ||
      at + 12 + static_cast<int64_t>(header.batch_length) > v.size) {
    return Status::corruption(
        "disk broker " + log.path().string() + " at byte " + std::to_string(at) + ": batchLength " +
        std::to_string(header.batch_length) + " does not fit the segment's published " +
        std::to_string(v.size) + " bytes");
  }
  return header;
}

Result<bool> PartitionStore::scan(const std::vector<SegmentView>& views, Cursor& at,
                                  const std::function<bool(const RecordBatchHeader&)>& stop) const {
  while (at.segment < views.size()) {
    const SegmentView& v = views[at.segment];
    if (at.position >= v.size) {
      ++at.segment;
      at.position = 0;
      continue;
    }
    auto h = header_at(v, at.position);
    if (!h) return h.status();
    if (stop(*h)) return true;
    at.position += 12 + static_cast<int64_t>(h->batch_length);
  }
  return false;
}

Result<bool> PartitionStore::find_batch(int64_t offset, std::vector<SegmentView>& views, Cursor& at,
                                        OffsetRange& range) const {
  {
    std::shared_lock lock(state_mu_);
    range = {log_start_, end_offset_.load()};
    if (offset < range.earliest || offset > range.end) return out_of_range(offset, range);
    if (offset == range.end) return false;
    auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                               [](int64_t o, const SegmentPtr& s) { return o < s->base_offset; });
    --it;  // offset >= log_start_ == the first segment's base
    for (auto s = it; s != segments_.end(); ++s) views.push_back({*s, (*s)->size});
    at.position = scan_start_for_offset((*it)->entries, offset);
  }
  // false: in a gap the cleaner left at the end of the log, nothing to serve until the next
  // append.
  return scan(views, at, [&](const RecordBatchHeader& h) { return h.last_offset() >= offset; });
}

Result<BatchRead> PartitionStore::read(int64_t offset, int64_t max_bytes) const {
  std::vector<SegmentView> views;
  Cursor at;
  OffsetRange range;
  auto found = find_batch(offset, views, at, range);
  if (!found) return found.status();
  if (!*found) return BatchRead{std::string(), range.end, range.earliest};

  // A reused buffer: `used` bytes of it are this answer's, the rest is left over from before and
  // is overwritten before it counts (growing past its size is the only fill).
  std::string out = take_read_buffer();
  size_t used = 0;
  auto room_for = [&out](size_t n) {
    if (out.size() < n) out.resize(n);
  };
  while (at.segment < views.size()) {
    const SegmentView& v = views[at.segment];
    if (at.position >= v.size) {
      ++at.segment;
      at.position = 0;
      continue;
    }
    const int64_t room = max_bytes - static_cast<int64_t>(used);
    if (used > 0 && room < static_cast<int64_t>(kHeaderSize)) break;
    const int64_t want =
        std::min(v.size - at.position, std::max<int64_t>(room, static_cast<int64_t>(kHeaderSize)));
    const size_t start = used;
    room_for(start + static_cast<size_t>(want));
    KAPPA_RETURN_IF_ERROR(
        v.segment->log.read_exact(at.position, out.data() + start, static_cast<size_t>(want)));
    // Keep the whole batches; the first batch of the answer is kept whole however big.
    int64_t keep = 0;
    while (keep + 12 <= want) {
      const int32_t length = be32(out.data() + start + static_cast<size_t>(keep) + kLengthAt);
      const int64_t batch = 12 + static_cast<int64_t>(length);
      if (length < kMinBatchLength || at.position + keep + batch > v.size) {
        return Status::corruption("disk broker " + v.segment->log.path().string() + " at byte " +
                                  std::to_string(at.position + keep) + ": batchLength " +
                                  std::to_string(length) + " does not fit the segment");
      }
      if (keep + batch > want) break;
      keep += batch;
    }
    if (keep == 0 && start == 0) {
      const int64_t batch = 12 + static_cast<int64_t>(be32(out.data() + kLengthAt));
      room_for(static_cast<size_t>(batch));
      KAPPA_RETURN_IF_ERROR(v.segment->log.read_exact(at.position + want, out.data() + want,
                                                      static_cast<size_t>(batch - want)));
      keep = batch;
    }
    used = start + static_cast<size_t>(keep);
    at.position += keep;
    if (keep < want) break;  // the next batch does not fit
  }
  out.resize(used);  // down: no fill
  return BatchRead{std::move(out), range.end, range.earliest};
}

Result<BatchRanges> PartitionStore::read_ranges(int64_t offset, int64_t max_bytes,
                                                int64_t below) const {
  std::vector<SegmentView> views;
  Cursor at;
  OffsetRange range;
  auto found = find_batch(offset, views, at, range);
  if (!found) return found.status();
  BatchRanges out{{}, {}, range.end, range.earliest};
  if (!*found) return out;

  // The batch boundaries come from their headers (baseOffset, batchLength), read through a
  // small window; the batches themselves stay in the files.
  char window[4096];
  size_t window_segment = views.size();
  int64_t window_at = 0;
  int64_t window_size = 0;
  int64_t total = 0;
  bool full = false;
  while (at.segment < views.size() && !full) {
    const SegmentView& v = views[at.segment];
    const int64_t from = at.position;
    while (at.position < v.size) {
      if (window_segment != at.segment || at.position < window_at ||
          at.position + 12 > window_at + window_size) {
        window_size = std::min<int64_t>(sizeof window, v.size - at.position);
        if (window_size < 12) {
          return Status::corruption("disk broker " + v.segment->log.path().string() + " at byte " +
                                    std::to_string(at.position) +
                                    ": a batch header runs past the published end " +
                                    std::to_string(v.size));
        }
        KAPPA_RETURN_IF_ERROR(
            v.segment->log.read_exact(at.position, window, static_cast<size_t>(window_size)));
        window_segment = at.segment;
        window_at = at.position;
      }
      const char* h = window + (at.position - window_at);
      const int32_t length = be32(h + kLengthAt);
      const int64_t batch = 12 + static_cast<int64_t>(length);
      if (length < kMinBatchLength || at.position + batch > v.size) {
        return Status::corruption("disk broker " + v.segment->log.path().string() + " at byte " +
                                  std::to_string(at.position) + ": batchLength " +
                                  std::to_string(length) + " does not fit the segment");
      }
      // The first batch goes whole however big; later ones only while they fit.
      if (be64(h) >= below || (total > 0 && total + batch > max_bytes)) {
        full = true;
        break;
      }
      total += batch;
      at.position += batch;
    }
    if (at.position > from) {
      out.files.push_back({std::shared_ptr<const void>(v.segment), v.segment->log.fd(), from,
                           at.position - from, v.segment->log.path().string()});
    }
    ++at.segment;
    at.position = 0;
  }
  return out;
}

int64_t PartitionStore::max_timestamp() const {
  std::shared_lock lock(state_mu_);
  int64_t max = INT64_MIN;
  for (const auto& s : segments_) max = std::max(max, s->max_timestamp);
  return max;
}

int64_t PartitionStore::size_bytes() const {
  std::shared_lock lock(state_mu_);
  int64_t total = 0;
  for (const auto& s : segments_) total += s->size;
  return total;
}

Result<int64_t> PartitionStore::offset_for_time(int64_t timestamp_ms) const {
  std::vector<SegmentView> views;
  Cursor at;
  int64_t end = 0;
  {
    std::shared_lock lock(state_mu_);
    end = end_offset_.load();
    const ScanStart start = scan_start_for_time(segments_, timestamp_ms);
    at.position = start.position;
    for (size_t s = start.segment; s < segments_.size(); ++s) {
      views.push_back({segments_[s], segments_[s]->size});
    }
  }
  std::string batch;
  for (;;) {
    auto found = scan(views, at,
                      [&](const RecordBatchHeader& h) { return h.max_timestamp >= timestamp_ms; });
    if (!found) return found.status();
    if (!*found) return end;
    // The records of a batch need not be in timestamp order: decode it to find the first.
    const SegmentView& v = views[at.segment];
    auto h = header_at(v, at.position);
    if (!h) return h.status();
    batch.resize(12 + static_cast<size_t>(h->batch_length));
    KAPPA_RETURN_IF_ERROR(v.segment->log.read_exact(at.position, batch.data(), batch.size()));
    size_t consumed = 0;
    auto decoded = decode_record_batch(batch, consumed);
    if (!decoded) {
      return decoded.status().with_context("disk broker " + v.segment->log.path().string() +
                                           " at byte " + std::to_string(at.position));
    }
    for (const WireRecord& r : decoded->records) {
      if (r.timestamp_ms >= timestamp_ms) return r.offset;
    }
    at.position += static_cast<int64_t>(batch.size());
  }
}

Status PartitionStore::sync() {
  const int64_t target = end_offset_.load();
  std::lock_guard lock(sync_mu_);
  if (synced_end_.load() >= target) return Status::ok();  // another caller's sync covered it
  KAPPA_RETURN_IF_ERROR(broken());
  SegmentPtr seg;
  int64_t end = 0;
  {
    // Everything below `end` is in this segment or in closed ones, synced when they closed.
    std::shared_lock state(state_mu_);
    seg = segments_.back();
    end = end_offset_.load();
  }
  if (Status s = seg->log.datasync(); !s) {
    // After a failed fdatasync the page cache may show data the disk dropped.
    set_broken(s);
    return broken();
  }
  raise_to(synced_end_, end);
  return Status::ok();
}

Status PartitionStore::enforce_retention(int64_t now_ms, int64_t retention_ms,
                                         int64_t retention_bytes,
                                         const std::function<Status()>& moved) {
  if (retention_ms < 0 && retention_bytes < 0) return Status::ok();
  std::lock_guard guard(retention_mu_);
  {
    // When the active segment is due too, a new one starts at the end offset first.
    std::lock_guard append(append_mu_);
    bool all_due = false;
    {
      std::shared_lock lock(state_mu_);
      all_due = segments_past_retention(segments_, now_ms, retention_ms, retention_bytes, true) ==
                segments_.size();
    }
    if (all_due) {
      KAPPA_RETURN_IF_ERROR(broken());
      KAPPA_RETURN_IF_ERROR(roll(next_offset_));
    }
  }
  std::vector<SegmentPtr> doomed;
  {
    std::unique_lock lock(state_mu_);
    const size_t k =
        segments_past_retention(segments_, now_ms, retention_ms, retention_bytes, false);
    if (k == 0) return Status::ok();
    doomed.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
    log_start_ = std::max(log_start_, segments_.front()->base_offset);
  }
  {
    std::lock_guard append(append_mu_);
    producers_.forget_aborted_before(segments_.front()->base_offset);
  }
  if (moved) KAPPA_RETURN_IF_ERROR(moved());
  return remove_segments(doomed, "unlink for retention");
}

Result<int64_t> PartitionStore::delete_records(int64_t offset,
                                               const std::function<Status()>& moved) {
  std::lock_guard guard(retention_mu_);
  std::vector<SegmentPtr> doomed;
  int64_t start = 0;
  {
    std::unique_lock lock(state_mu_);
    const int64_t end = end_offset_.load();
    if (offset > end) {
      return Status::out_of_range("deleting records of " + partition_name(topic_, partition_) +
                                  " below offset " + std::to_string(offset) +
                                  ": beyond its end offset " + std::to_string(end));
    }
    if (offset <= log_start_) return log_start_;
    size_t k = 0;
    while (k + 1 < segments_.size() && segments_[k + 1]->base_offset <= offset) ++k;
    doomed.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(k));
    log_start_ = start = offset;
  }
  if (!doomed.empty()) {
    std::lock_guard append(append_mu_);
    producers_.forget_aborted_before(segments_.front()->base_offset);
  }
  if (moved) KAPPA_RETURN_IF_ERROR(moved());
  KAPPA_RETURN_IF_ERROR(remove_segments(doomed, "unlink for DeleteRecords"));
  return start;
}

Status PartitionStore::remove_segments(const std::vector<SegmentPtr>& doomed, const char* why) {
  if (doomed.empty()) return Status::ok();
  // Readers still holding a deleted segment keep reading it through their open descriptor.
  Status result;
  for (const auto& seg : doomed) {
    for (const char* ext : {".log", ".index"}) {
      const auto path = dir_ / segment_name(seg->base_offset, ext);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT && result.is_ok()) {
        result = io_error(path, std::nullopt, why, errno);
      }
    }
  }
  if (Status s = sync_dir(dir_); !s && result.is_ok()) result = s;
  return result;
}

}  // namespace kappa::disk
