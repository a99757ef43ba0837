#include "pipeline/codec/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace kappa {
namespace {

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status too_large(std::string_view what, const std::string& path, InputFileLimit limit) {
  return Status::invalid_argument(
      path + ": the " + std::string(what) + " is larger than " + std::to_string(limit.max_bytes) +
      " bytes, the limit " + std::string(limit.name) + " (kappa run --limits-scale N raises it)");
}

// Opens the file and checks it with fstat; the descriptor, or why it is refused.
Status open_checked(const std::string& path, std::string_view what, InputFileLimit limit,
                    bool regular_only, Fd& file, struct stat& st) {
  // O_NONBLOCK: opening a FIFO with no writer must not hang; it is refused or read as it is.
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (file.fd < 0) {
    const int e = errno;
    return Status::not_found(path + ": cannot open the file (" + errno_text(e) + ")");
  }
  if (::fstat(file.fd, &st) != 0) {
    const int e = errno;
    return Status::not_found(path + ": cannot read the file (" + errno_text(e) + ")");
  }
  if (S_ISDIR(st.st_mode)) {
    return Status::not_found(path + ": cannot read the " + std::string(what) +
                             ": it is a directory; expected a regular file");
  }
  // procfs and sysfs files call themselves regular with a size of 0, and /proc/self/mem cannot
  // be read from offset 0: they are not data files.
  struct statfs fs {};
  constexpr decltype(fs.f_type) kProcMagic = 0x9fa0, kSysfsMagic = 0x62656572;
  const bool in_proc =
      ::fstatfs(file.fd, &fs) == 0 && (fs.f_type == kProcMagic || fs.f_type == kSysfsMagic);
  if (regular_only && (!S_ISREG(st.st_mode) || in_proc)) {
    return Status::invalid_argument(path + ": the " + std::string(what) +
                                    " is not a regular file (a device, a pipe or a /proc file); "
                                    "expected a regular file");
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > limit.max_bytes) {
    return too_large(what, path, limit);
  }
  return Status::ok();
}

}  // namespace

Status check_input_file(const std::string& path, std::string_view what, InputFileLimit limit,
                        bool regular_only) {
  Fd file{-1};
  struct stat st {};
  return open_checked(path, what, limit, regular_only, file, st);
}

Result<std::string> read_input_file(const std::string& path, std::string_view what,
                                    InputFileLimit limit, bool regular_only) {
  Fd file{-1};
  struct stat st {};
  KAPPA_RETURN_IF_ERROR(open_checked(path, what, limit, regular_only, file, st));
  ::fcntl(file.fd, F_SETFL, ::fcntl(file.fd, F_GETFL) & ~O_NONBLOCK);
  std::string text;
  if (S_ISREG(st.st_mode)) text.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  while (text.size() <= limit.max_bytes) {
    const size_t want = std::min(sizeof buffer, limit.max_bytes + 1 - text.size());
    const ssize_t n = ::read(file.fd, buffer, want);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      return Status::not_found(path + ": cannot read the file (" + errno_text(e) + ")");
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  if (text.size() > limit.max_bytes) return too_large(what, path, limit);
  return text;
}

}  // namespace kappa
