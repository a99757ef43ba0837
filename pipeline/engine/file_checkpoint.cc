#include "pipeline/engine/file_checkpoint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "broker/protocol/crc32c.h"

namespace kappa {
namespace {

// The format is described at the top of file_checkpoint.h.
enum class RecordType : uint8_t {
  kLogHeader = 1,
  kPlan = 2,
  kCommit = 3,
  kSnapshotHeader = 4,
  kStateChunk = 5,
  kSnapshotEnd = 6,
};

constexpr size_t kHeaderSize = 13;  // length 4, type 1, header_crc 4, payload_crc 4
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kStateChunkBytes = size_t{64} << 10;

constexpr const char* kLogName = "log";
constexpr const char* kLogTempName = "log.tmp";
constexpr const char* kSnapshotName = "snapshot";
constexpr const char* kSnapshotTempName = "snapshot.tmp";
constexpr const char* kLockName = "lock";

uint32_t load_u32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// Builds one framed record: the header is filled in by finish().
class RecordWriter {
 public:
  explicit RecordWriter(RecordType type) : type_(type) { out_.assign(kHeaderSize, '\0'); }

  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  // A length or element count; one that does not fit a u32 fails finish().
  void count(size_t n) {
    if (n > std::numeric_limits<uint32_t>::max()) too_big_ = true;
    u32(static_cast<uint32_t>(n));
  }
  void bytes(std::string_view s) {
    count(s.size());
    out_.append(s);
  }
  void offsets(const std::vector<PartitionOffset>& v) {
    count(v.size());
    for (const auto& po : v) {
      i32(po.partition);
      i64(po.offset);
    }
  }
  void plan(const BatchPlan& p) {
    i64(p.batch_id);
    i64(p.trigger_ms);
    i64(p.watermark_ms);
    i64(p.previous_watermark_ms);
    offsets(p.start);
    offsets(p.end);
    count(p.outputs.size());
    for (const auto& [topic, ends] : p.outputs) {
      bytes(topic);
      offsets(ends);
    }
  }
  size_t reserve_u32() {
    out_.append(4, '\0');
    return out_.size() - 4;
  }
  void patch_u32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
  }
  size_t size() const { return out_.size(); }

  // The framed record, or an error if a field or the payload does not fit its u32 length.
  Result<std::string> finish() && {
    const size_t length = out_.size() - kHeaderSize;
    if (too_big_ || length > std::numeric_limits<uint32_t>::max()) {
      return Status::invalid_argument("a checkpoint record of " + std::to_string(length) +
                                      " bytes exceeds the format's 4 GiB limits");
    }
    patch_u32(0, static_cast<uint32_t>(length));
    out_[4] = static_cast<char>(type_);
    patch_u32(5, crc32c(std::string_view(out_).substr(0, 5)));
    patch_u32(9, crc32c(std::string_view(out_).substr(kHeaderSize)));
    return std::move(out_);
  }

 private:
  RecordType type_;
  std::string out_;
  bool too_big_ = false;
};

// Reads a payload; a short or malformed payload sets bad() instead of throwing.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view in) : in_(in) {}

  bool bad() const { return bad_; }
  bool done() const { return !bad_ && at_ == in_.size(); }

  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(in_[at_++]);
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    const uint32_t v = load_u32(in_, at_);
    at_ += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in_[at_ + i]);
    at_ += 8;
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  int32_t i32() { return static_cast<int32_t>(u32()); }
  // An element count; each element takes at least min_bytes, so a count the payload cannot
  // hold is malformed (and never becomes a huge allocation).
  uint32_t count(size_t min_bytes) {
    const uint32_t n = u32();
    if (!bad_ && n > (in_.size() - at_) / min_bytes) bad_ = true;
    return bad_ ? 0 : n;
  }
  std::string bytes() {
    const uint32_t n = u32();
    if (!need(n)) return {};
    std::string s(in_.substr(at_, n));
    at_ += n;
    return s;
  }
  std::vector<PartitionOffset> offsets() {
    std::vector<PartitionOffset> v(count(12));
    for (auto& po : v) {
      po.partition = i32();
      po.offset = i64();
    }
    return v;
  }
  BatchPlan plan() {
    BatchPlan p;
    p.batch_id = i64();
    p.trigger_ms = i64();
    p.watermark_ms = i64();
    p.previous_watermark_ms = i64();
    p.start = offsets();
    p.end = offsets();
    const uint32_t n = count(8);
    for (uint32_t i = 0; i < n && !bad_; ++i) {
      std::string topic = bytes();
      p.outputs[std::move(topic)] = offsets();
    }
    return p;
  }

 private:
  bool need(size_t n) {
    if (bad_ || in_.size() - at_ < n) bad_ = true;
    return !bad_;
  }

  std::string_view in_;
  size_t at_ = 0;
  bool bad_ = false;
};

enum class FrameCheck { kValid, kShort, kBadHeader, kOverrun, kBadPayload };

struct Frame {
  FrameCheck check = FrameCheck::kShort;
  RecordType type = RecordType::kLogHeader;
  std::string_view payload;
  size_t end = 0;  // where the next record starts, when the header is valid
};

Frame read_frame(std::string_view file, size_t at) {
  Frame f;
  if (file.size() - at < kHeaderSize) return f;
  if (crc32c(file.substr(at, 5)) != load_u32(file, at + 5)) {
    f.check = FrameCheck::kBadHeader;
    return f;
  }
  const size_t length = load_u32(file, at);
  f.type = static_cast<RecordType>(static_cast<unsigned char>(file[at + 4]));
  if (file.size() - at - kHeaderSize < length) {
    f.check = FrameCheck::kOverrun;
    return f;
  }
  f.payload = file.substr(at + kHeaderSize, length);
  f.end = at + kHeaderSize + length;
  f.check =
      crc32c(f.payload) == load_u32(file, at + 9) ? FrameCheck::kValid : FrameCheck::kBadPayload;
  return f;
}

std::optional<size_t> next_valid_record(std::string_view file, size_t from) {
  for (size_t at = from; at + kHeaderSize <= file.size(); ++at) {
    if (read_frame(file, at).check == FrameCheck::kValid) return at;
  }
  return std::nullopt;
}

const char* describe(FrameCheck check) {
  switch (check) {
    case FrameCheck::kValid:
      return "valid record";
    case FrameCheck::kShort:
      return "record header cut short";
    case FrameCheck::kBadHeader:
      return "record header checksum mismatch";
    case FrameCheck::kOverrun:
      return "record runs past the end of the file";
    case FrameCheck::kBadPayload:
      return "record payload checksum mismatch";
  }
  return "bad record";
}

std::string errno_text(int err) { return std::generic_category().message(err); }

Status io_error(const std::string& file, std::optional<int64_t> at, std::string_view op, int err) {
  std::string where = "checkpoint " + file;
  if (at) where += " at byte " + std::to_string(*at);
  return Status::unavailable(where + ": " + std::string(op) + ": " + errno_text(err));
}

Status corrupt(const std::string& file, size_t at, std::string_view what) {
  return Status::corruption("checkpoint " + file + " at byte " + std::to_string(at) + ": " +
                            std::string(what));
}

// The file's bytes, or nullopt if it does not exist.
Result<std::optional<std::string>> read_file(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return io_error(file, std::nullopt, "open", errno);
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return io_error(file, static_cast<int64_t>(data.size()), "read", err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(data));
}

// Writes all of data at offset; on failure returns errno.
int write_at(int fd, std::string_view data, int64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return 0;
}

int sync_data(int fd) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

Status remove_if_present(const std::string& file) {
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    return io_error(file, std::nullopt, "unlink", errno);
  }
  return Status::ok();
}

// The checkpoint's rules, shared by the write path and replay: those of MemoryCheckpointStore.
Status check_plan(const std::string& dir, const RecoveredCheckpoint& cp, const BatchPlan& plan) {
  if (cp.last_plan && plan.batch_id != cp.last_plan->batch_id &&
      plan.batch_id != cp.last_plan->batch_id + 1) {
    return Status::internal("checkpoint " + dir + ": plan for batch " +
                            std::to_string(plan.batch_id) + " follows batch " +
                            std::to_string(cp.last_plan->batch_id));
  }
  return Status::ok();
}

void apply_plan(RecoveredCheckpoint& cp, BatchPlan plan) {
  if (cp.last_plan && plan.batch_id != cp.last_plan->batch_id) {
    cp.previous_plan = std::move(cp.last_plan);
  }
  cp.last_plan = std::move(plan);
}

Status check_commit(const std::string& dir, const RecoveredCheckpoint& cp,
                    const BatchCommitRecord& commit) {
  if (!cp.last_plan || cp.last_plan->batch_id != commit.batch_id) {
    return Status::internal("checkpoint " + dir + ": commit of batch " +
                            std::to_string(commit.batch_id) + " without its plan");
  }
  return Status::ok();
}

void apply_commit(RecoveredCheckpoint& cp, const BatchCommitRecord& commit,
                  const StateDelta& delta) {
  for (const auto& key : delta.removes) cp.state.erase(key);
  for (const auto& [key, value] : delta.puts) cp.state[key] = value;
  cp.last_commit = commit;
}

// Replays one log record onto cp; a message naming what is wrong, or nullopt.
std::optional<std::string> replay(const std::string& dir, const Frame& f, RecoveredCheckpoint& cp) {
  PayloadReader r(f.payload);
  switch (f.type) {
    case RecordType::kPlan: {
      BatchPlan plan = r.plan();
      if (!r.done()) return "malformed plan record";
      if (Status s = check_plan(dir, cp, plan); !s) return s.message();
      apply_plan(cp, std::move(plan));
      return std::nullopt;
    }
    case RecordType::kCommit: {
      BatchCommitRecord commit;
      commit.batch_id = r.i64();
      commit.next_watermark_ms = r.i64();
      StateDelta delta;
      delta.removes.resize(r.count(4));
      for (auto& key : delta.removes) key = r.bytes();
      delta.puts.resize(r.count(8));
      for (auto& [key, value] : delta.puts) {
        key = r.bytes();
        value = r.bytes();
      }
      if (!r.done()) return "malformed commit record";
      if (Status s = check_commit(dir, cp, commit); !s) return s.message();
      apply_commit(cp, commit, delta);
      return std::nullopt;
    }
    default:
      return "unexpected record type " + std::to_string(static_cast<int>(f.type)) + " in a log";
  }
}

// Parses a whole snapshot file into cp and the generation of the log that follows it.
Status parse_snapshot(const std::string& file, std::string_view bytes, RecoveredCheckpoint& cp,
                      uint64_t& next_generation) {
  size_t at = 0;
  Frame f = read_frame(bytes, at);
  if (f.check != FrameCheck::kValid) return corrupt(file, at, describe(f.check));
  if (f.type != RecordType::kSnapshotHeader) return corrupt(file, at, "not a snapshot header");
  PayloadReader h(f.payload);
  const uint32_t version = h.u32();
  next_generation = h.u64();
  if (h.u8() != 0) cp.previous_plan = h.plan();
  if (h.u8() != 0) cp.last_plan = h.plan();
  if (h.u8() != 0) cp.last_commit = BatchCommitRecord{h.i64(), h.i64()};
  const uint64_t entries = h.u64();
  if (!h.done()) return corrupt(file, at, "malformed snapshot header");
  if (version != kFormatVersion) {
    return corrupt(file, at, "unknown format version " + std::to_string(version));
  }
  uint64_t seen = 0;
  for (at = f.end; at < bytes.size(); at = f.end) {
    f = read_frame(bytes, at);
    if (f.check != FrameCheck::kValid) return corrupt(file, at, describe(f.check));
    PayloadReader r(f.payload);
    if (f.type == RecordType::kSnapshotEnd) {
      const uint64_t total = r.u64();
      if (!r.done()) return corrupt(file, at, "malformed snapshot end");
      if (total != entries || seen != entries) {
        return corrupt(file, at,
                       "snapshot holds " + std::to_string(seen) +
                           " state entries, its header says " + std::to_string(entries));
      }
      if (f.end != bytes.size()) return corrupt(file, f.end, "bytes after the snapshot's end");
      return Status::ok();
    }
    if (f.type != RecordType::kStateChunk) {
      return corrupt(
          file, at,
          "unexpected record type " + std::to_string(static_cast<int>(f.type)) + " in a snapshot");
    }
    const uint32_t n = r.count(8);
    for (uint32_t i = 0; i < n && !r.bad(); ++i) {
      std::string key = r.bytes();
      cp.state[std::move(key)] = r.bytes();
    }
    if (!r.done()) return corrupt(file, at, "malformed state chunk");
    seen += n;
  }
  return corrupt(file, bytes.size(), "snapshot ends without its end record");
}

std::string strip_trailing_slashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

Result<std::unique_ptr<FileCheckpointStore>> FileCheckpointStore::open(
    const std::string& dir, FileCheckpointOptions options) {
  const std::string root = strip_trailing_slashes(dir);
  if (root.empty()) return Status::invalid_argument("checkpoint: empty directory name");
  std::error_code ec;
  const bool created = std::filesystem::create_directories(root, ec);
  if (ec) {
    return Status::unavailable("checkpoint " + root +
                               ": cannot create the directory: " + ec.message());
  }
  if (created) {
    // Make the new directory's name durable too.
    std::string parent = std::filesystem::path(root).parent_path().string();
    if (parent.empty()) parent = ".";
    const int pfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd >= 0) {
      const int rc = ::fsync(pfd);
      const int err = errno;
      ::close(pfd);
      if (rc != 0) return io_error(parent, std::nullopt, "fsync", err);
    }
  }
  const std::string lock_path = root + "/" + kLockName;
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return io_error(lock_path, std::nullopt, "open", errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return Status::failed_precondition(
          "checkpoint " + root + " is in use: another process (or store) holds " + lock_path);
    }
    return io_error(lock_path, std::nullopt, "flock", err);
  }
  std::unique_ptr<FileCheckpointStore> store(new FileCheckpointStore(root, options, lock_fd));
  KAPPA_RETURN_IF_ERROR(store->load());
  return store;
}

FileCheckpointStore::FileCheckpointStore(std::string dir, FileCheckpointOptions options,
                                         int lock_fd)
    : dir_(std::move(dir)), options_(options), lock_fd_(lock_fd) {}

FileCheckpointStore::~FileCheckpointStore() {
  if (log_fd_ >= 0) ::close(log_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string FileCheckpointStore::path(const char* name) const { return dir_ + "/" + name; }

Status FileCheckpointStore::sync_dir(const std::string& what) {
  const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(dir_, std::nullopt, "open for " + what, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(dir_, std::nullopt, "fsync for " + what, err);
  return Status::ok();
}

Status FileCheckpointStore::load() {
  if (log_fd_ >= 0) {
    ::close(log_fd_);
    log_fd_ = -1;
  }
  KAPPA_RETURN_IF_ERROR(remove_if_present(path(kSnapshotTempName)));
  KAPPA_RETURN_IF_ERROR(remove_if_present(path(kLogTempName)));

  RecoveredCheckpoint cp;
  uint64_t expected_generation = 0;
  const std::string snapshot_path = path(kSnapshotName);
  auto snapshot = read_file(snapshot_path);
  if (!snapshot) return snapshot.status();
  if (*snapshot) {
    KAPPA_RETURN_IF_ERROR(parse_snapshot(snapshot_path, **snapshot, cp, expected_generation));
  }

  const std::string log_path = path(kLogName);
  auto log = read_file(log_path);
  if (!log) return log.status();
  if (!*log) {
    if (*snapshot) {
      return Status::corruption("checkpoint " + log_path + ": missing beside " + snapshot_path);
    }
    current_ = std::move(cp);
    return install_fresh_log(0);
  }
  const std::string_view bytes = **log;

  // The header was written whole (temp file + rename): any fault in it is corruption.
  Frame f = read_frame(bytes, 0);
  if (f.check != FrameCheck::kValid) return corrupt(log_path, 0, describe(f.check));
  if (f.type != RecordType::kLogHeader) return corrupt(log_path, 0, "not a log header");
  PayloadReader h(f.payload);
  const uint32_t version = h.u32();
  const uint64_t generation = h.u64();
  if (!h.done()) return corrupt(log_path, 0, "malformed log header");
  if (version != kFormatVersion) {
    return corrupt(log_path, 0, "unknown format version " + std::to_string(version));
  }
  if (generation < expected_generation) {
    // A compaction wrote the snapshot and crashed before replacing the log: the snapshot
    // already holds everything in this log.
    current_ = std::move(cp);
    return install_fresh_log(expected_generation);
  }
  if (generation > expected_generation) {
    return corrupt(log_path, 0,
                   "log generation " + std::to_string(generation) + " follows a snapshot of " +
                       (*snapshot ? "generation " + std::to_string(expected_generation)
                                  : std::string("nothing (the snapshot is missing)")));
  }

  size_t at = f.end;
  int64_t records = 0;
  while (at < bytes.size()) {
    f = read_frame(bytes, at);
    if (f.check != FrameCheck::kValid) {
      // Torn if nothing valid follows: a crash mid-append leaves at most one partial record.
      std::optional<size_t> next;
      if (f.check == FrameCheck::kBadPayload) {
        next = next_valid_record(bytes, f.end);
      } else if (f.check == FrameCheck::kBadHeader) {
        next = next_valid_record(bytes, at + 1);
      }
      if (next) {
        return corrupt(log_path, at,
                       std::string(describe(f.check)) + ", and a valid record follows at byte " +
                           std::to_string(*next));
      }
      break;
    }
    if (auto problem = replay(dir_, f, cp)) return corrupt(log_path, at, *problem);
    at = f.end;
    ++records;
  }

  log_fd_ = ::open(log_path.c_str(), O_RDWR | O_CLOEXEC);
  if (log_fd_ < 0) return io_error(log_path, std::nullopt, "open", errno);
  if (at < bytes.size()) {
    if (::ftruncate(log_fd_, static_cast<off_t>(at)) != 0) {
      return io_error(log_path, static_cast<int64_t>(at), "truncate the torn tail", errno);
    }
    if (const int err = sync_data(log_fd_); err != 0) {
      return io_error(log_path, static_cast<int64_t>(at), "fdatasync", err);
    }
  }
  generation_ = generation;
  log_bytes_ = static_cast<int64_t>(at);
  log_records_ = records;
  current_ = std::move(cp);
  return Status::ok();
}

Status FileCheckpointStore::install_fresh_log(uint64_t generation) {
  RecordWriter w(RecordType::kLogHeader);
  w.u32(kFormatVersion);
  w.u64(generation);
  auto header = std::move(w).finish();
  if (!header) return header.status();

  const std::string tmp = path(kLogTempName);
  const std::string log_path = path(kLogName);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(tmp, std::nullopt, "open", errno);
  int err = write_at(fd, *header, 0);
  if (err == 0) err = sync_data(fd);
  ::close(fd);
  if (err == 0 && ::rename(tmp.c_str(), log_path.c_str()) != 0) err = errno;
  if (err != 0) {
    (void)::unlink(tmp.c_str());
    return io_error(tmp, std::nullopt, "write a fresh log", err);
  }
  KAPPA_RETURN_IF_ERROR(sync_dir("the fresh log"));

  if (log_fd_ >= 0) ::close(log_fd_);
  log_fd_ = ::open(log_path.c_str(), O_RDWR | O_CLOEXEC);
  if (log_fd_ < 0) return io_error(log_path, std::nullopt, "open", errno);
  generation_ = generation;
  log_bytes_ = static_cast<int64_t>(header->size());
  log_records_ = 0;
  return Status::ok();
}

Status FileCheckpointStore::append(const std::string& record) {
  const std::string log_path = path(kLogName);
  if (const int err = write_at(log_fd_, record, log_bytes_); err != 0) {
    // Take back whatever part of the record reached the file.
    if (::ftruncate(log_fd_, static_cast<off_t>(log_bytes_)) != 0) {
      broken_ = Status::failed_precondition(
          io_error(log_path, log_bytes_, "write", err).message() +
          "; the partial record could not be removed: reopen the store");
      return broken_;
    }
    return io_error(log_path, log_bytes_, "write", err);
  }
  if (const int err = sync_data(log_fd_); err != 0) {
    // After a failed fdatasync the kernel may have dropped the data while the page cache
    // still shows it: nothing here can tell what is durable.
    broken_ = Status::failed_precondition(
        io_error(log_path, log_bytes_, "fdatasync", err).message() + ": reopen the store");
    return broken_;
  }
  log_bytes_ += static_cast<int64_t>(record.size());
  ++log_records_;
  return Status::ok();
}

Status FileCheckpointStore::compact_if_due() {
  if (log_records_ == 0) return Status::ok();
  if (log_records_ < options_.compact_after_records && log_bytes_ < options_.compact_after_bytes) {
    return Status::ok();
  }
  const std::string tmp = path(kSnapshotTempName);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(tmp, std::nullopt, "open", errno);
  int64_t written = 0;
  Status status;
  const auto emit = [&](RecordWriter&& w) {
    if (!status.is_ok()) return;
    auto record = std::move(w).finish();
    if (!record) {
      status = record.status();
      return;
    }
    if (const int err = write_at(fd, *record, written); err != 0) {
      status = io_error(tmp, written, "write", err);
      return;
    }
    written += static_cast<int64_t>(record->size());
  };

  RecordWriter header(RecordType::kSnapshotHeader);
  header.u32(kFormatVersion);
  header.u64(generation_ + 1);
  header.u8(current_.previous_plan ? 1 : 0);
  if (current_.previous_plan) header.plan(*current_.previous_plan);
  header.u8(current_.last_plan ? 1 : 0);
  if (current_.last_plan) header.plan(*current_.last_plan);
  header.u8(current_.last_commit ? 1 : 0);
  if (current_.last_commit) {
    header.i64(current_.last_commit->batch_id);
    header.i64(current_.last_commit->next_watermark_ms);
  }
  header.u64(current_.state.size());
  emit(std::move(header));

  auto it = current_.state.begin();
  while (it != current_.state.end() && status.is_ok()) {
    RecordWriter chunk(RecordType::kStateChunk);
    const size_t n_at = chunk.reserve_u32();
    uint32_t n = 0;
    for (; it != current_.state.end() && chunk.size() < kStateChunkBytes; ++it, ++n) {
      chunk.bytes(it->first);
      chunk.bytes(it->second);
    }
    chunk.patch_u32(n_at, n);
    emit(std::move(chunk));
  }
  RecordWriter end(RecordType::kSnapshotEnd);
  end.u64(current_.state.size());
  emit(std::move(end));

  if (status.is_ok()) {
    if (const int err = sync_data(fd); err != 0) status = io_error(tmp, written, "fdatasync", err);
  }
  ::close(fd);
  if (status.is_ok() && ::rename(tmp.c_str(), path(kSnapshotName).c_str()) != 0) {
    status = io_error(tmp, std::nullopt, "rename to " + std::string(kSnapshotName), errno);
  }
  if (!status.is_ok()) {
    (void)::unlink(tmp.c_str());
    return status;  // nothing changed: the old snapshot and log still hold the checkpoint
  }

  // The new snapshot is in place: the current log is now stale, so every failure from here
  // on leaves the store unable to append.
  Status s = sync_dir("the snapshot");
  if (s) s = install_fresh_log(generation_ + 1);
  if (!s) {
    broken_ = Status::failed_precondition(s.message() +
                                          " (compaction after the snapshot): reopen the store");
    return broken_;
  }
  return Status::ok();
}

Status FileCheckpointStore::write_plan(const BatchPlan& plan) {
  if (!broken_) return broken_;
  KAPPA_RETURN_IF_ERROR(check_plan(dir_, current_, plan));
  RecordWriter w(RecordType::kPlan);
  w.plan(plan);
  auto record = std::move(w).finish();
  if (!record) return record.status();
  KAPPA_RETURN_IF_ERROR(compact_if_due());
  KAPPA_RETURN_IF_ERROR(append(*record));
  apply_plan(current_, plan);
  return Status::ok();
}

Status FileCheckpointStore::write_commit(const BatchCommitRecord& commit, const StateDelta& delta) {
  if (!broken_) return broken_;
  KAPPA_RETURN_IF_ERROR(check_commit(dir_, current_, commit));
  RecordWriter w(RecordType::kCommit);
  w.i64(commit.batch_id);
  w.i64(commit.next_watermark_ms);
  w.count(delta.removes.size());
  for (const auto& key : delta.removes) w.bytes(key);
  w.count(delta.puts.size());
  for (const auto& [key, value] : delta.puts) {
    w.bytes(key);
    w.bytes(value);
  }
  auto record = std::move(w).finish();
  if (!record) return record.status();
  KAPPA_RETURN_IF_ERROR(compact_if_due());
  KAPPA_RETURN_IF_ERROR(append(*record));
  apply_commit(current_, commit, delta);
  return Status::ok();
}

Result<RecoveredCheckpoint> FileCheckpointStore::recover() {
  if (!broken_) return broken_;
  if (Status s = load(); !s) {
    broken_ = Status::failed_precondition(s.message() + ": reopen the store");
    return s;
  }
  return current_;
}

}  // namespace kappa
