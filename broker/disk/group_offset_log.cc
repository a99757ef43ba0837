#include "broker/disk/group_offset_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <optional>

#include "broker/protocol/crc32c.h"

namespace kappa::disk {
namespace {

// The framing is described in disk_broker.h.
constexpr size_t kFrameHeader = 8;  // length u32, crc u32
constexpr uint8_t kCommitRecord = 1;
constexpr uint8_t kForgetRecord = 2;       // some partitions of one topic
constexpr uint8_t kForgetGroupRecord = 3;  // every offset of a group
constexpr int64_t kCompactFactor = 4;

void put_string(std::string& out, std::string_view s) {
  append_be(out, s.size(), 4);
  out.append(s);
}

// Frames a payload: length, CRC-32C of (length, payload), payload.
std::string frame(const std::string& payload) {
  std::string out;
  append_be(out, payload.size(), 4);
  uint32_t crc = crc32c(0, out.data(), 4);
  crc = crc32c(crc, payload.data(), payload.size());
  append_be(out, crc, 4);
  out += payload;
  return out;
}

std::string commit_record(std::string_view group, std::string_view topic,
                          std::span<const GroupOffset> offsets) {
  std::string p;
  p.push_back(static_cast<char>(kCommitRecord));
  put_string(p, group);
  put_string(p, topic);
  append_be(p, offsets.size(), 4);
  for (const GroupOffset& o : offsets) {
    append_be(p, static_cast<uint32_t>(o.partition), 4);
    append_be(p, static_cast<uint64_t>(o.offset), 8);
    put_string(p, o.metadata);
  }
  return frame(p);
}

std::string forget_record(std::string_view group, std::string_view topic,
                          std::span<const int32_t> partitions) {
  std::string p;
  p.push_back(static_cast<char>(kForgetRecord));
  put_string(p, group);
  put_string(p, topic);
  append_be(p, partitions.size(), 4);
  for (int32_t partition : partitions) append_be(p, static_cast<uint32_t>(partition), 4);
  return frame(p);
}

std::string forget_group_record(std::string_view group) {
  std::string p;
  p.push_back(static_cast<char>(kForgetGroupRecord));
  put_string(p, group);
  return frame(p);
}

// A parsed record: a commit (offsets), a forget (offsets' partitions; metadata unused) or a
// group's forget (group only).
struct Commit {
  uint8_t type = kCommitRecord;
  std::string group;
  std::string topic;
  std::vector<GroupOffset> offsets;
};

class PayloadReader {
 public:
  explicit PayloadReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == in_.size(); }
  uint64_t be(int bytes) {
    if (!need(static_cast<size_t>(bytes))) return 0;
    const uint64_t v = load_be(in_.data() + at_, bytes);
    at_ += static_cast<size_t>(bytes);
    return v;
  }
  std::string string() {
    const auto n = static_cast<size_t>(be(4));
    if (!need(n)) return {};
    std::string s(in_.substr(at_, n));
    at_ += n;
    return s;
  }

 private:
  bool need(size_t n) {
    if (ok_ && in_.size() - at_ >= n) return true;
    ok_ = false;
    return false;
  }
  std::string_view in_;
  size_t at_ = 0;
  bool ok_ = true;
};

std::optional<Commit> parse_commit(std::string_view payload) {
  PayloadReader r(payload);
  Commit c;
  c.type = static_cast<uint8_t>(r.be(1));
  if (c.type != kCommitRecord && c.type != kForgetRecord && c.type != kForgetGroupRecord) {
    return std::nullopt;
  }
  c.group = r.string();
  if (c.type != kForgetGroupRecord) {
    c.topic = r.string();
    const auto n = r.be(4);
    if (!r.ok() || n > payload.size()) return std::nullopt;
    c.offsets.resize(static_cast<size_t>(n));
    for (GroupOffset& o : c.offsets) {
      o.partition = static_cast<int32_t>(r.be(4));
      if (c.type != kCommitRecord) continue;
      o.offset = static_cast<int64_t>(r.be(8));
      o.metadata = r.string();
    }
  }
  if (!r.done()) return std::nullopt;
  return c;
}

// A window onto the file that moves forward as replay reads it, so replaying needs memory for
// one chunk (or the largest record), never for the whole file.
class FileWindow {
 public:
  FileWindow(const File& file, int64_t size, size_t chunk)
      : file_(file), size_(size), chunk_(chunk) {}
  int64_t size() const { return size_; }

  // The bytes [pos, pos + n), fewer where the file ends. Valid until the next call.
  Result<std::string_view> view(int64_t pos, size_t n) {
    n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), size_ - pos));
    if (pos >= start_ &&
        pos - start_ + static_cast<int64_t>(n) <= static_cast<int64_t>(buf_.size())) {
      return std::string_view(buf_).substr(static_cast<size_t>(pos - start_), n);
    }
    const auto want = static_cast<size_t>(
        std::min<int64_t>(static_cast<int64_t>(std::max(n, chunk_)), size_ - pos));
    if (buf_.capacity() > 2 * want) std::string().swap(buf_);  // after one huge record
    buf_.resize(want);
    auto got = file_.read_at(pos, buf_.data(), buf_.size());
    if (!got) return got.status();
    buf_.resize(*got);
    start_ = pos;
    return std::string_view(buf_).substr(0, std::min(n, buf_.size()));
  }

 private:
  const File& file_;
  const int64_t size_;
  const size_t chunk_;
  int64_t start_ = 0;
  std::string buf_;
};

// The framed record at `at`: its payload (valid until the window moves) and end, or nullopt if
// short or failing its CRC.
struct Frame {
  std::string_view payload;
  int64_t end = 0;
};
Result<std::optional<Frame>> read_frame(FileWindow& window, int64_t at) {
  const std::optional<Frame> none;
  if (window.size() - at < static_cast<int64_t>(kFrameHeader)) return none;
  auto header = window.view(at, kFrameHeader);
  if (!header) return header.status();
  const auto length = static_cast<int64_t>(load_be(header->data(), 4));
  if (length > window.size() - at - static_cast<int64_t>(kFrameHeader)) return none;
  auto bytes = window.view(at, kFrameHeader + static_cast<size_t>(length));
  if (!bytes) return bytes.status();
  if (bytes->size() != kFrameHeader + static_cast<size_t>(length)) return none;  // the file shrank
  const auto stored = static_cast<uint32_t>(load_be(bytes->data() + 4, 4));
  uint32_t crc = crc32c(0, bytes->data(), 4);
  crc = crc32c(crc, bytes->data() + kFrameHeader, static_cast<size_t>(length));
  if (crc != stored) return none;
  return std::optional<Frame>(
      Frame{bytes->substr(kFrameHeader), at + static_cast<int64_t>(kFrameHeader) + length});
}

template <class Map>
void erase_group(Map& offsets, const std::string& group) {
  auto it = offsets.lower_bound(
      std::make_tuple(group, std::string(), std::numeric_limits<int32_t>::min()));
  while (it != offsets.end() && std::get<0>(it->first) == group) it = offsets.erase(it);
}

}  // namespace

Result<std::unique_ptr<GroupOffsetLog>> GroupOffsetLog::open(std::filesystem::path path,
                                                             RecoveryReport& report,
                                                             size_t read_chunk_bytes) {
  std::unique_ptr<GroupOffsetLog> log(new GroupOffsetLog(std::move(path)));
  KAPPA_RETURN_IF_ERROR(log->replay(report, std::max<size_t>(read_chunk_bytes, kFrameHeader)));
  return log;
}

std::unique_ptr<GroupOffsetLog> GroupOffsetLog::in_memory() {
  return std::unique_ptr<GroupOffsetLog>(new GroupOffsetLog({}));
}

Status GroupOffsetLog::replay(RecoveryReport& report, size_t read_chunk_bytes) {
  const auto tmp = std::filesystem::path(path_.string() + ".tmp");
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return io_error(tmp, std::nullopt, "unlink a stale temp file", errno);
  }
  auto file = File::open(path_, O_RDWR | O_CREAT);
  if (!file) return file.status();
  file_ = std::move(*file);
  auto size = file_.size();
  if (!size) return size.status();
  // Streamed a chunk at a time: memory follows the live entries, not the file's size.
  FileWindow window(file_, *size, read_chunk_bytes);

  int64_t at = 0;
  while (at < window.size()) {
    auto f = read_frame(window, at);
    if (!f) return f.status();
    std::optional<Commit> c;
    if (*f) c = parse_commit((*f)->payload);
    if (!c) {
      // Torn if nothing valid follows: a crash mid-append leaves at most one partial record.
      for (int64_t next = at + 1; next < window.size(); ++next) {
        auto g = read_frame(window, next);
        if (!g) return g.status();
        if (*g && parse_commit((*g)->payload)) {
          return Status::corruption("disk broker " + path_.string() + " at byte " +
                                    std::to_string(at) +
                                    ": a damaged group offset record, and a valid one follows "
                                    "at byte " +
                                    std::to_string(next));
        }
      }
      report.group_truncated_bytes = window.size() - at;
      KAPPA_RETURN_IF_ERROR(file_.truncate(at));
      KAPPA_RETURN_IF_ERROR(file_.datasync());
      break;
    }
    switch (c->type) {
      case kCommitRecord:
        for (GroupOffset& o : c->offsets) {
          offsets_[Key{c->group, c->topic, o.partition}] = Value{o.offset, std::move(o.metadata)};
        }
        break;
      case kForgetRecord:
        for (const GroupOffset& o : c->offsets)
          offsets_.erase(Key{c->group, c->topic, o.partition});
        break;
      default:
        erase_group(offsets_, c->group);
        break;
    }
    // A forget counts as an entry too: compaction drops it with what it forgot.
    entries_written_ += std::max<int64_t>(1, static_cast<int64_t>(c->offsets.size()));
    ++report.group_offset_records;
    at = (*f)->end;
  }
  size_ = at;
  report.group_offsets = static_cast<int64_t>(offsets_.size());
  if (entries_written_ > kCompactFactor * static_cast<int64_t>(offsets_.size()) &&
      entries_written_ > 16) {
    KAPPA_RETURN_IF_ERROR(compact());
    report.group_log_compacted = true;
  }
  return Status::ok();
}

Status GroupOffsetLog::compact() {
  std::string out;
  for (auto it = offsets_.begin(); it != offsets_.end();) {
    const auto& [group, topic, partition] = it->first;
    std::vector<GroupOffset> batch;
    auto jt = it;
    for (;
         jt != offsets_.end() && std::get<0>(jt->first) == group && std::get<1>(jt->first) == topic;
         ++jt) {
      batch.push_back({std::get<2>(jt->first), jt->second.offset, jt->second.metadata});
    }
    out += commit_record(group, topic, batch);
    it = jt;
  }
  const auto tmp = std::filesystem::path(path_.string() + ".tmp");
  {
    auto f = File::open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!f) return f.status();
    KAPPA_RETURN_IF_ERROR(f->write_at(0, out));
    KAPPA_RETURN_IF_ERROR(f->datasync());
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return io_error(tmp, std::nullopt, "rename to " + path_.string(), errno);
  }
  KAPPA_RETURN_IF_ERROR(sync_dir(path_.parent_path()));
  auto file = File::open(path_, O_RDWR);
  if (!file) return file.status();
  file_ = std::move(*file);
  size_ = static_cast<int64_t>(out.size());
  entries_written_ = static_cast<int64_t>(offsets_.size());
  return Status::ok();
}

Status GroupOffsetLog::commit(std::string_view group, std::string_view topic,
                              std::span<const GroupOffset> offsets, bool sync) {
  return append(commit_record(group, topic, offsets), sync, static_cast<int64_t>(offsets.size()),
                [&] {
                  for (const GroupOffset& o : offsets) {
                    offsets_[Key{std::string(group), std::string(topic), o.partition}] =
                        Value{o.offset, o.metadata};
                  }
                });
}

Status GroupOffsetLog::forget(std::string_view group, std::string_view topic,
                              std::span<const int32_t> partitions, bool sync) {
  return append(forget_record(group, topic, partitions), sync,
                std::max<int64_t>(1, static_cast<int64_t>(partitions.size())), [&] {
                  for (int32_t p : partitions) {
                    offsets_.erase(Key{std::string(group), std::string(topic), p});
                  }
                });
}

Status GroupOffsetLog::forget_group(std::string_view group, bool sync) {
  return append(forget_group_record(group), sync, 1,
                [&] { erase_group(offsets_, std::string(group)); });
}

Status GroupOffsetLog::append(const std::string& record, bool sync, int64_t entries,
                              const std::function<void()>& apply) {
  if (record.size() - kFrameHeader > std::numeric_limits<uint32_t>::max()) {
    return Status::invalid_argument("a group offset record of " + std::to_string(record.size()) +
                                    " bytes is too large");
  }
  std::lock_guard lock(mu_);
  if (!file_.is_open()) {  // in_memory()
    apply();
    return Status::ok();
  }
  KAPPA_RETURN_IF_ERROR(broken_);
  if (Status s = file_.write_at(size_, record); !s) {
    if (!file_.truncate(size_)) {
      broken_ = Status::failed_precondition(s.message() +
                                            "; the partial record could not be "
                                            "removed: reopen the broker");
    }
    return s;
  }
  size_ += static_cast<int64_t>(record.size());
  dirty_ = true;
  if (sync) {
    if (Status s = file_.datasync(); !s) {
      broken_ = Status::failed_precondition(s.message() + ": reopen the broker");
      return s;
    }
    dirty_ = false;
  }
  apply();
  entries_written_ += entries;
  return Status::ok();
}

Status GroupOffsetLog::forget_topic(std::string_view topic, bool sync) {
  for (const std::string& group : groups()) {
    std::vector<int32_t> committed;
    for (const GroupOffset& o : offsets(group, topic)) committed.push_back(o.partition);
    if (!committed.empty()) KAPPA_RETURN_IF_ERROR(forget(group, topic, committed, sync));
  }
  return Status::ok();
}

Status GroupOffsetLog::commit(std::string_view group, std::string_view topic,
                              std::span<const PartitionOffset> offsets, bool sync) {
  if (group.empty()) return Status::invalid_argument("consumer group id must not be empty");
  std::vector<GroupOffset> with_metadata;
  with_metadata.reserve(offsets.size());
  for (const auto& po : offsets) with_metadata.push_back({po.partition, po.offset, ""});
  return commit(group, topic, with_metadata, sync);
}

std::vector<PartitionOffset> GroupOffsetLog::plain_offsets(std::string_view group,
                                                           std::string_view topic) const {
  std::vector<PartitionOffset> out;
  for (const auto& go : offsets(group, topic)) out.push_back({go.partition, go.offset});
  return out;
}

Status GroupOffsetLog::put_state(std::string_view id, std::string_view state, bool sync) {
  if (state.empty()) return forget_group(id, sync);
  const GroupOffset entry{0, 0, std::string(state)};
  return commit(id, "", std::span<const GroupOffset>(&entry, 1), sync);
}

std::vector<std::pair<std::string, std::string>> GroupOffsetLog::states() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& id : groups()) {
    auto entries = offsets(id, "");
    if (!entries.empty()) out.emplace_back(id, std::move(entries.front().metadata));
  }
  return out;
}

std::vector<std::string> GroupOffsetLog::groups() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, value] : offsets_) {
    if (out.empty() || out.back() != std::get<0>(key)) out.push_back(std::get<0>(key));
  }
  return out;
}

std::vector<GroupOffset> GroupOffsetLog::offsets(std::string_view group,
                                                 std::string_view topic) const {
  std::lock_guard lock(mu_);
  std::vector<GroupOffset> out;
  const std::string g(group), t(topic);
  for (auto it = offsets_.lower_bound(Key{g, t, std::numeric_limits<int32_t>::min()});
       it != offsets_.end(); ++it) {
    const auto& [kg, kt, kp] = it->first;
    if (kg != g || kt != t) break;
    out.push_back({kp, it->second.offset, it->second.metadata});
  }
  return out;
}

Status GroupOffsetLog::sync() {
  std::lock_guard lock(mu_);
  if (!dirty_) return Status::ok();  // always so in_memory()
  if (Status s = file_.datasync(); !s) {
    broken_ = Status::failed_precondition(s.message() + ": reopen the broker");
    return s;
  }
  dirty_ = false;
  return Status::ok();
}

}  // namespace kappa::disk
