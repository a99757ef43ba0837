// Descriptors: the process's file-descriptor budget (RLIMIT_NOFILE). It bounds how many
// partitions the disk broker can hold open, two descriptors each (the active segment's .log and
// .index), beside the sockets of its clients. The broker checks this budget before it creates
// partitions, so that a request that cannot fit is refused whole instead of failing half-way with
// "Too many open files", and at start-up, so that a data directory that cannot fit is reported
// with the numbers needed.
#pragma once

#include <cstdint>
#include <string>

#include "broker/result.h"

namespace kappa::disk {

inline constexpr int64_t kDescriptorsPerPartition = 2;
// Kept free for client sockets, the lock file, the group offset log, segment rolls and reads.
inline constexpr int64_t kDescriptorReserve = 64;

struct DescriptorBudget {
  int64_t soft_limit = 0;  // what `ulimit -n` shows; RLIM_INFINITY as INT64_MAX
  int64_t hard_limit = 0;
  int64_t in_use = 0;  // descriptors open now (entries of /proc/self/fd)
  // What new partitions may take: the soft limit less those in use and the reserve.
  int64_t free() const;
};

Result<DescriptorBudget> descriptor_budget();

// Raises the soft limit to the hard one (as Go programs and most servers do at start-up);
// returns the new soft limit.
Result<int64_t> raise_descriptor_limit();

// kFailedPrecondition when `partitions` more partitions do not fit in the budget, naming
// `what`, the descriptors needed and what `ulimit -n` allows; ok otherwise. `pending` are
// descriptors promised to creations under way.
Status check_descriptors_for(const std::string& what, int64_t partitions, int64_t pending = 0);

}  // namespace kappa::disk
