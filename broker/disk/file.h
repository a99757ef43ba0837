// File: an owned POSIX file descriptor and the few calls the disk broker makes on it (pread,
// pwrite, ftruncate, fdatasync), each failure a Status naming the file, the byte position and
// the errno text. No mmap: the disk broker reads and writes through the page cache only, so
// its resident memory stays small however large the log grows.
//
// Thread safety: the positional calls may run concurrently on one File (pread/pwrite take the
// position as an argument); open/close/move need external synchronization.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "broker/result.h"

namespace kappa::disk {

// A seam for tests of what the broker does when its disk fails (no LD_PRELOAD needed): a File
// given one consults it before every pwrite and fdatasync, and a non-zero errno it returns makes
// that call fail as if the kernel had returned it (the call is not made). Production code gives
// none. Called from any thread: implementations must be thread-safe.
class IoFaults {
 public:
  virtual ~IoFaults() = default;
  virtual int before_write(const std::filesystem::path& file) = 0;
  virtual int before_datasync(const std::filesystem::path& file) = 0;
};

class File {
 public:
  File() = default;
  File(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  ~File() { close(); }
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // open(2) with O_CLOEXEC added.
  static Result<File> open(const std::filesystem::path& path, int flags, mode_t mode = 0644);

  // Injected failures for write_at and datasync; null (the default): none.
  void set_faults(IoFaults* faults) { faults_ = faults; }

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }

  // Reads up to n bytes at pos; fewer only at the end of the file. Returns the count read.
  Result<size_t> read_at(int64_t pos, char* out, size_t n) const;
  // Reads exactly n bytes at pos; a short file is kCorruption.
  Status read_exact(int64_t pos, char* out, size_t n) const;
  Status write_at(int64_t pos, std::string_view bytes) const;
  Status truncate(int64_t size) const;
  Status datasync() const;
  Result<int64_t> size() const;
  void close();

 private:
  int fd_ = -1;
  std::filesystem::path path_;
  IoFaults* faults_ = nullptr;
};

// kUnavailable "disk broker FILE at byte N: OP: strerror".
Status io_error(const std::filesystem::path& path, std::optional<int64_t> pos, std::string_view op,
                int err);

// fsync(2) on a directory, so that names created, renamed or removed in it are durable.
Status sync_dir(const std::filesystem::path& dir);

// Replaces `path` whole with `text`, so that after a crash it holds the old text or the new one:
// writes PATH.tmp, fdatasyncs it, renames it over `path` and fsyncs the directory.
Status replace_file(const std::filesystem::path& path, std::string_view text);

// Big-endian fixed-width integers, as Kafka writes them.
inline uint64_t load_be(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline void store_be(char* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xFFu);
    v >>= 8;
  }
}
inline void append_be(std::string& out, uint64_t v, int bytes) {
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(bytes));
  store_be(out.data() + at, v, bytes);
}

}  // namespace kappa::disk
