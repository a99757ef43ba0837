// The micro-batch engine: Spark Structured Streaming's MicroBatchExecution loop for one query,
// reading one topic through the Log seam (DESIGN.md §3.1, rules 1-2).
//
// Per trigger (processing-time trigger, default 5 s; the first fires when the query starts, the
// next at the following multiple of the interval counted from the epoch):
//   1. plan: read the source's end offsets (capped by max_records_per_batch, split across
//      partitions in proportion to their backlog, as Spark's maxOffsetsPerTrigger); run a batch
//      if there is new data, or if the last batch moved the watermark past what state was
//      evicted with (a no-data batch); batch 0 always runs. The plan goes to the checkpoint
//      before anything is read.
//   2. run: the BatchProcessor reads the records [start, end) of every partition and writes
//      its outputs (topics through BatchOutput, tables through the Sink ledger): exactly once.
//   3. commit: the new watermark max(W, max event time of the batch - delay) and the state
//      delta go to the checkpoint; batch N+1 runs with that watermark.
// After a restart the query first re-runs a planned-but-uncommitted batch with its recorded
// offsets; as in Spark, it runs no no-data batch until it has run a batch with data.
//
// A checkpoint that is missing, rolled back or another run's would make the query redo or skip
// work its outputs already hold. So start() refuses (kFailedPrecondition, saying what it found)
// when an output topic holds records whose `kappa.origin` names this query and a batch the
// checkpoint never planned, or when the processor's sink ledger records such a batch; and the
// sink refuses a batch whose ledger row has other offsets than its plan (sink.h).
//
// Failures: kUnavailable from a component fails the batch; its effects on state are discarded
// and the same plan is retried at the next trigger. kAborted is a crash: the query stops (state
// kCrashed) and must be restarted from its checkpoint, as a process would.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/group.h"
#include "broker/log.h"
#include "pipeline/engine/batch_output.h"
#include "pipeline/engine/checkpoint.h"
#include "pipeline/engine/faults.h"
#include "pipeline/engine/job.h"

namespace kappa {

struct StartingPosition {
  enum class Kind { kLatest, kEarliest, kOffsets, kTimestamp };
  Kind kind = Kind::kLatest;
  std::vector<PartitionOffset> offsets;  // kOffsets; partitions not listed start at earliest
  int64_t timestamp_ms = 0;              // kTimestamp: first record with timestamp >= this
};

struct QuerySpec {
  std::string id;  // names the query in the checkpoint, the ledger and the origin header
  std::string source_topic;
  StartingPosition starting;
  int64_t trigger_ms = 5000;
  int64_t max_records_per_batch = 0;  // 0: everything available (maxOffsetsPerTrigger unset)
  bool no_data_batches = true;        // spark.sql.streaming.noDataMicroBatches.enabled
  int64_t fetch_chunk_records = 8192;
  // Consumer-group mode: the group decides which partitions this query reads; a partition it
  // gains continues from the group's committed offset (else the starting position), and each
  // batch commits its end offsets to the group. nullptr: every partition, offsets from the
  // checkpoint alone.
  GroupMembership* group = nullptr;
};

// What one batch did, for metrics and traces.
struct BatchResult {
  int64_t rows_in = 0;        // records read
  int64_t decoded = 0;        // records that decoded (aggregations)
  int64_t rows_out = 0;       // staged records, or rows written to the table
  int64_t dead_letters = 0;   // records sent to the dead-letter topic
  int64_t late_rows = 0;      // window rows dropped as late (input rows; one per window per event)
  int64_t late_groups = 0;    // (window, key) groups dropped (Spark's numRowsDroppedByWatermark)
  int64_t windowed_rows = 0;  // window rows counted into state
  int64_t state_rows = 0;     // groups held in state after the batch
  std::optional<int64_t> max_event_time_ms;
  bool sink_skipped = false;  // the ledger already had this batch
};

struct BatchReport {
  std::string query;
  BatchPlan plan;
  BatchResult result;
  int64_t next_watermark_ms = 0;
  bool has_watermark = false;  // the query tracks an event-time watermark
  bool retried = false;   // a re-run of a plan recovered from the checkpoint or a failed attempt
  int64_t ran_at_ms = 0;  // when this attempt ran (a re-run runs after its plan's trigger)
  // Set when the attempt failed (nothing of it is committed; `result` is not meaningful).
  std::optional<Status> failure;
};

// The query-specific part: what a batch does with its records.
class BatchProcessor {
 public:
  virtual ~BatchProcessor() = default;
  // Topics the processor writes (their end offsets are recorded in each plan).
  virtual std::vector<std::string> output_topics() const = 0;
  // The watermark delay; nullopt when the query has no event-time watermark.
  virtual std::optional<int64_t> watermark_delay_ms() const = 0;
  // Whether state is evicted when the watermark moves (append and update output modes), so that
  // a moved watermark calls for a no-data batch.
  virtual bool evicts_on_watermark() const = 0;

  virtual void begin_batch(const BatchPlan& plan, BatchOutput& output) = 0;
  virtual void process(std::span<const RecordView> records) = 0;
  // Writes the batch's outputs. On error the processor's committed state is unchanged.
  virtual Status finish_batch(BatchResult& result) = 0;
  // Makes the finished batch's state changes current, and returns them for the checkpoint.
  virtual StateDelta commit_state() = 0;
  // Discards a batch that failed part-way.
  virtual void abort_batch() = 0;
  virtual Status restore_state(const StateSnapshot& snapshot) = 0;
  // At start: kFailedPrecondition when an output other than a topic (a sink's ledger) holds
  // batches from `first_unknown_batch` on, which the checkpoint does not know of (`known` says
  // what it records, for the message). The engine checks the output topics itself.
  virtual Status check_resume(int64_t /*first_unknown_batch*/, const std::string& /*known*/) {
    return Status::ok();
  }
};

class MicroBatchQuery final : public Job {
 public:
  enum class RunState { kStopped, kRunning, kCrashed };

  MicroBatchQuery(QuerySpec spec, Log& log, CheckpointStore& checkpoint,
                  std::unique_ptr<BatchProcessor> processor, FaultHook* faults = nullptr);

  // Recovers from the checkpoint (or resolves the starting offsets of a new query); the first
  // trigger fires at `now_ms`.
  Status start(int64_t now_ms);
  void stop() { state_ = RunState::kStopped; }

  const std::string& name() const override { return spec_.id; }
  int64_t next_wakeup_ms() const override {
    return state_ == RunState::kRunning ? next_trigger_ms_ : kNever;
  }
  Status run(int64_t now_ms) override;
  bool idle() const override;

  const QuerySpec& spec() const { return spec_; }
  RunState run_state() const { return state_; }
  const Status& last_error() const { return last_error_; }
  int64_t next_batch_id() const { return batch_id_; }
  int64_t watermark_ms() const { return watermark_ms_; }
  const std::vector<PartitionOffset>& committed_offsets() const { return committed_; }
  BatchProcessor& processor() { return *processor_; }

  struct Totals {
    int64_t batches = 0, rows_in = 0, decoded = 0, rows_out = 0, dead_letters = 0, late_rows = 0,
            late_groups = 0, windowed_rows = 0, failed_attempts = 0, sink_skips = 0;
    Totals& operator+=(const Totals& o);
  };
  const Totals& totals() const { return totals_; }

  void on_batch(std::function<void(const BatchReport&)> listener) {
    listener_ = std::move(listener);
  }

 private:
  Result<std::vector<PartitionOffset>> resolve_start();
  // The guard against a lost or stale checkpoint (see above), against the last plan it holds.
  Status check_outputs(const std::optional<BatchPlan>& last);
  Result<std::vector<PartitionOffset>> latest_offsets() const;
  bool wants_no_data_batch() const;
  std::vector<PartitionOffset> rate_limit(const std::vector<PartitionOffset>& latest) const;
  Result<std::optional<BatchPlan>> plan_batch(int64_t now_ms);
  Status execute(const BatchPlan& plan, BatchResult& result);
  // Group mode: takes up the group's current assignment (see QuerySpec::group).
  Status follow_group();
  bool owns(int32_t partition) const;

  QuerySpec spec_;
  Log& log_;
  BatchOutput output_{log_, ""};  // the batch's, reset for each: its buffers are kept
  std::string origin_scratch_;
  CheckpointStore& checkpoint_;
  std::unique_ptr<BatchProcessor> processor_;
  FaultHook* faults_;

  RunState state_ = RunState::kStopped;
  Status last_error_;
  int64_t next_trigger_ms_ = kNever;
  int64_t batch_id_ = 0;
  int64_t watermark_ms_ = 0;             // the watermark the next batch runs with
  int64_t last_batch_watermark_ms_ = 0;  // the watermark the last planned batch ran with
  bool ran_batch_this_run_ = false;      // Spark's lastExecution != null
  // Set when start() could not check the outputs (the log unavailable): run() checks first.
  std::optional<std::optional<BatchPlan>> unchecked_outputs_;
  std::vector<int32_t> owned_;              // group mode: the partitions held, sorted
  bool has_committed_ = false;              // some batch was committed (else batch 0 must run)
  std::vector<PartitionOffset> committed_;  // source offsets the next batch starts from
  std::optional<BatchPlan> pending_;        // planned, not yet committed
  bool pending_is_retry_ = false;
  Totals totals_;
  std::function<void(const BatchReport&)> listener_;
};

}  // namespace kappa
