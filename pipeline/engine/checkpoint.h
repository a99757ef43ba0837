// A query's checkpoint: the durable record of its progress, laid out as Spark's is.
//
//   offset log   one BatchPlan per planned batch, written before the batch reads anything
//                (batch id, trigger time, the watermark it runs with, source start/end offsets,
//                end offsets of its output topics)
//   commit log   one BatchCommitRecord per finished batch, written after its outputs are
//                committed (the watermark the next batch will run with)
//   state        the query's key/value state as of the last commit, kept as deltas
//
// Recovery (MicroBatchQuery::start): a plan without a commit is re-run with the same offsets
// from the state of the previous commit; otherwise the query continues after the last commit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/log.h"
#include "broker/result.h"

namespace kappa {

struct BatchPlan {
  int64_t batch_id = 0;
  int64_t trigger_ms = 0;
  int64_t watermark_ms = 0;           // W(N), the watermark this batch runs with
  int64_t previous_watermark_ms = 0;  // W(N-1); W(N) for batch 0 (Spark 3.4's late-event rule)
  std::vector<PartitionOffset> start;
  std::vector<PartitionOffset> end;
  std::map<std::string, std::vector<PartitionOffset>> outputs;  // output topic -> end offsets
  friend bool operator==(const BatchPlan&, const BatchPlan&) = default;
};

struct BatchCommitRecord {
  int64_t batch_id = 0;
  int64_t next_watermark_ms = 0;
};

using StateSnapshot = std::map<std::string, std::string>;

struct StateDelta {
  std::vector<std::pair<std::string, std::string>> puts;
  std::vector<std::string> removes;
  bool empty() const { return puts.empty() && removes.empty(); }
};

struct RecoveredCheckpoint {
  std::optional<BatchPlan> last_plan;
  std::optional<BatchPlan> previous_plan;  // the plan before last_plan, if any
  std::optional<BatchCommitRecord> last_commit;
  StateSnapshot state;  // as of last_commit
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  virtual Status write_plan(const BatchPlan& plan) = 0;
  // Records the commit and applies the state delta, atomically.
  virtual Status write_commit(const BatchCommitRecord& commit, const StateDelta& delta) = 0;
  virtual Result<RecoveredCheckpoint> recover() = 0;
};

// Keeps the checkpoint in memory, outliving the query objects that use it: a "crashed" query is
// destroyed and a new one recovers from this store, as a restarted process would from disk.
class MemoryCheckpointStore final : public CheckpointStore {
 public:
  Status write_plan(const BatchPlan& plan) override;
  Status write_commit(const BatchCommitRecord& commit, const StateDelta& delta) override;
  Result<RecoveredCheckpoint> recover() override;

 private:
  std::optional<BatchPlan> last_plan_;
  std::optional<BatchPlan> previous_plan_;
  std::optional<BatchCommitRecord> last_commit_;
  StateSnapshot state_;
};

// "topic/0:120,topic/1:98": offsets as the ledger and traces show them.
std::string format_offsets(std::string_view topic, const std::vector<PartitionOffset>& offsets);

}  // namespace kappa
