#include "broker/disk/descriptors.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

namespace kappa::disk {
namespace {

int64_t as_count(rlim_t v) {
  if (v == RLIM_INFINITY || v > static_cast<rlim_t>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(v);
}

}  // namespace

int64_t DescriptorBudget::free() const {
  if (soft_limit == std::numeric_limits<int64_t>::max()) return soft_limit;
  return std::max<int64_t>(0, soft_limit - in_use - kDescriptorReserve);
}

Result<DescriptorBudget> descriptor_budget() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return Status::unavailable(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  DescriptorBudget b;
  b.soft_limit = as_count(lim.rlim_cur);
  b.hard_limit = as_count(lim.rlim_max);
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++b.in_use;
  }
  if (ec) return Status::unavailable("cannot list /proc/self/fd: " + ec.message());
  if (b.in_use > 0) --b.in_use;  // the directory iterator's own descriptor
  return b;
}

Result<int64_t> raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return Status::unavailable(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  if (lim.rlim_cur != lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      return Status::unavailable(std::string("setrlimit(RLIMIT_NOFILE) to the hard limit ") +
                                 std::to_string(as_count(lim.rlim_max)) + ": " +
                                 std::strerror(errno));
    }
  }
  return as_count(lim.rlim_cur);
}

Status check_descriptors_for(const std::string& what, int64_t partitions, int64_t pending) {
  auto budget = descriptor_budget();
  if (!budget) return budget.status();
  const int64_t needed = partitions * kDescriptorsPerPartition;
  const int64_t free = budget->free() - pending;
  if (needed <= free) return Status::ok();
  return Status::failed_precondition(
      what + ": " + std::to_string(partitions) + " partitions need " + std::to_string(needed) +
      " file descriptors (" + std::to_string(kDescriptorsPerPartition) + " each), but only " +
      std::to_string(std::max<int64_t>(free, 0)) + " are free: ulimit -n allows " +
      std::to_string(budget->soft_limit) + " (hard limit " + std::to_string(budget->hard_limit) +
      "), " + std::to_string(budget->in_use) + " are open and " +
      std::to_string(kDescriptorReserve) + " are kept for connections");
}

}  // namespace kappa::disk
