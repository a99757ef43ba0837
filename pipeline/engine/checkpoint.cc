#include "pipeline/engine/checkpoint.h"

namespace kappa {

Status MemoryCheckpointStore::write_plan(const BatchPlan& plan) {
  if (last_plan_ && plan.batch_id != last_plan_->batch_id) {
    if (plan.batch_id != last_plan_->batch_id + 1) {
      return Status::internal("checkpoint: plan for batch " + std::to_string(plan.batch_id) +
                              " follows batch " + std::to_string(last_plan_->batch_id));
    }
    previous_plan_ = std::move(last_plan_);
  }
  last_plan_ = plan;
  return Status::ok();
}

Status MemoryCheckpointStore::write_commit(const BatchCommitRecord& commit,
                                           const StateDelta& delta) {
  if (!last_plan_ || last_plan_->batch_id != commit.batch_id) {
    return Status::internal("checkpoint: commit of batch " + std::to_string(commit.batch_id) +
                            " without its plan");
  }
  for (const auto& key : delta.removes) state_.erase(key);
  for (const auto& [key, value] : delta.puts) state_[key] = value;
  last_commit_ = commit;
  return Status::ok();
}

Result<RecoveredCheckpoint> MemoryCheckpointStore::recover() {
  return RecoveredCheckpoint{last_plan_, previous_plan_, last_commit_, state_};
}

std::string format_offsets(std::string_view topic, const std::vector<PartitionOffset>& offsets) {
  std::string s;
  for (const auto& po : offsets) {
    if (!s.empty()) s += ',';
    s += topic;
    s += '/';
    s += std::to_string(po.partition);
    s += ':';
    s += std::to_string(po.offset);
  }
  return s;
}

}  // namespace kappa
