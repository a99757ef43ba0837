#include "broker/disk/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace kappa::disk {

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      faults_(std::exchange(other.faults_, nullptr)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    faults_ = std::exchange(other.faults_, nullptr);
  }
  return *this;
}

void File::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<File> File::open(const std::filesystem::path& path, int flags, mode_t mode) {
  for (;;) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd >= 0) return File(fd, path);
    if (errno != EINTR) return io_error(path, std::nullopt, "open", errno);
  }
}

Result<size_t> File::read_at(int64_t pos, char* out, size_t n) const {
  size_t done = 0;
  while (done < n) {
    const ssize_t got =
        ::pread(fd_, out + done, n - done, static_cast<off_t>(pos) + static_cast<off_t>(done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return io_error(path_, pos + static_cast<int64_t>(done), "pread", errno);
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

Status File::read_exact(int64_t pos, char* out, size_t n) const {
  auto got = read_at(pos, out, n);
  if (!got) return got.status();
  if (*got != n) {
    return Status::corruption("disk broker " + path_.string() + " at byte " +
                              std::to_string(pos + static_cast<int64_t>(*got)) +
                              ": the file ends " + std::to_string(n - *got) +
                              " bytes short of what its index promised");
  }
  return Status::ok();
}

Status File::write_at(int64_t pos, std::string_view bytes) const {
  if (faults_ != nullptr) {
    if (const int err = faults_->before_write(path_); err != 0)
      return io_error(path_, pos, "pwrite", err);
  }
  int64_t at = pos;
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path_, at, "pwrite", errno);
    }
    if (n == 0) return io_error(path_, at, "pwrite", EIO);
    bytes.remove_prefix(static_cast<size_t>(n));
    at += n;
  }
  return Status::ok();
}

Status File::truncate(int64_t size) const {
  while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return io_error(path_, size, "ftruncate", errno);
  }
  return Status::ok();
}

Status File::datasync() const {
  if (faults_ != nullptr) {
    if (const int err = faults_->before_datasync(path_); err != 0) {
      return io_error(path_, std::nullopt, "fdatasync", err);
    }
  }
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return io_error(path_, std::nullopt, "fdatasync", errno);
  }
  return Status::ok();
}

Result<int64_t> File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return io_error(path_, std::nullopt, "fstat", errno);
  return static_cast<int64_t>(st.st_size);
}

Status io_error(const std::filesystem::path& path, std::optional<int64_t> pos, std::string_view op,
                int err) {
  std::string where = "disk broker " + path.string();
  if (pos) where += " at byte " + std::to_string(*pos);
  return Status::unavailable(where + ": " + std::string(op) + ": " + std::strerror(err));
}

Status sync_dir(const std::filesystem::path& dir) {
  auto f = File::open(dir, O_RDONLY | O_DIRECTORY);
  if (!f) return f.status();
  while (::fsync(f->fd()) != 0) {
    if (errno != EINTR) return io_error(dir, std::nullopt, "fsync of the directory", errno);
  }
  return Status::ok();
}

Status replace_file(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    auto f = File::open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!f) return f.status();
    KAPPA_RETURN_IF_ERROR(f->write_at(0, text));
    KAPPA_RETURN_IF_ERROR(f->datasync());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return io_error(path, std::nullopt, "rename from " + tmp.filename().string(), errno);
  }
  auto dir = path.parent_path();
  return sync_dir(dir.empty() ? "." : dir);
}

}  // namespace kappa::disk
