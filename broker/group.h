// Membership in a consumer group, for jobs that share a topic's partitions between processes
// (several `kappa stage` services): the group decides which partitions this member reads, and
// the member commits its progress to the group, so a partition that moves to another member
// continues where this one stopped.
#pragma once

#include <span>
#include <vector>

#include "broker/log.h"

namespace kappa {

class GroupMembership {
 public:
  virtual ~GroupMembership() = default;
  // Serves the group protocol (joins, rebalances) and returns the partitions this member
  // holds now, sorted.
  virtual Result<std::vector<int32_t>> owned() = 0;
  // The group's committed offsets (the next offset to read) of the topic's partitions.
  virtual Result<std::vector<PartitionOffset>> committed() = 0;
  // Commits offsets as this member; kFailedPrecondition when the group has moved on (a
  // rebalance took the partitions away).
  virtual Status commit(std::span<const PartitionOffset> offsets) = 0;
  virtual std::string describe() const = 0;
};

}  // namespace kappa
