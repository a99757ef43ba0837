// The lab's whole pipeline, assembled from a PipelineConfig on a Log and a Sink:
//
//   generators --events--> stage --events_stages--> aggregations (events_users_v1, ...)
//                            \--events_dlq            \--events_dlq
//
// Pipeline owns the jobs and their checkpoints (kept in memory, outliving the jobs: restart()
// destroys a query and builds a new one that recovers from its checkpoint, as a new process
// would). It is the JobSet a scheduler drives.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/engine/checkpoint.h"
#include "pipeline/engine/faults.h"
#include "pipeline/engine/micro_batch.h"
#include "pipeline/engine/scheduler.h"
#include "pipeline/jobs/aggregate_processor.h"
#include "pipeline/jobs/fixtures.h"
#include "pipeline/jobs/generator.h"
#include "pipeline/jobs/stage_processor.h"
#include "pipeline/sinks/sink.h"

namespace kappa {

struct TopicConfig {
  std::string name;
  int32_t partitions = 1;
};

struct QueryOptions {
  std::optional<int64_t> trigger_ms;  // default: the pipeline's trigger
  StartingPosition starting;          // default: latest, as the lab's jobs
  int64_t max_records_per_batch = 0;
  GroupMembership* group = nullptr;  // share the source's partitions with a consumer group
};

struct AggregationConfig {
  AggregationSpec spec;
  QueryOptions options;
};

struct PipelineConfig {
  std::string zone = "Asia/Seoul";  // spark.sql.session.timeZone
  int64_t trigger_ms = 5000;        // trigger(processingTime="5 second")
  TopicConfig events{"events"};
  TopicConfig stages{"events_stages"};
  TopicConfig dlq{"events_dlq"};
  bool stage_enabled = true;
  std::string stage_query_id = "stage";  // several stage processes in one group need distinct ids
  QueryOptions stage;
  StageMode stage_mode = StageMode::kDeadLetter;  // kSpark: stage every value as Spark would
  std::vector<AggregationConfig> aggregations;
  size_t max_record_bytes = size_t{1} << 20;
  // Where queries keep their checkpoints: empty keeps them in memory (scenarios); a folder
  // keeps each query's in <folder>/<query id> on disk, so a service resumes after kill -9.
  std::string checkpoint_dir;
  std::optional<std::string> names_fixture;  // default: the lab's built-in tables
  std::optional<std::string> depts_fixture;
  size_t max_fixture_bytes = LookupTable::kDefaultMaxBytes;  // each fixture file

  // The lab's v1 job: user_name, 10 s tumbling windows, 15 s watermark, append.
  static AggregationConfig lab_v1();
};

Status validate(const PipelineConfig& config);

class Pipeline final : public JobSet {
 public:
  // Validates the config and loads fixtures; nothing runs until start().
  static Result<std::unique_ptr<Pipeline>> create(PipelineConfig config, Log& log, Sink& sink,
                                                  FaultHook* faults = nullptr);

  // Creates the topics and starts every query, each with its first trigger at now_ms.
  Status start(int64_t now_ms);

  std::vector<Job*> jobs() override;
  Status after_run(Job& job, int64_t now_ms) override;

  // A supervisor that restarts a crashed query from its checkpoint at the instant it crashed
  // (off by default: a crashed query stays down until restart()). `id` empty: every query.
  void set_auto_restart(std::string_view id, bool on);

  const PipelineConfig& config() const { return config_; }
  const TimeZone& zone() const { return zone_; }
  Log& log() { return log_; }
  Sink& sink() { return sink_; }

  GeneratorJob& add_generator(GeneratorSpec spec, int64_t start_ms);
  std::vector<GeneratorJob*> generators();

  // Queries by id: "stage", or an aggregation's query id (its table name by default).
  MicroBatchQuery* query(std::string_view id);
  std::vector<MicroBatchQuery*> queries();

  // Destroys the query object and builds a new one from its checkpoint; first trigger at now_ms.
  Status restart(std::string_view id, int64_t now_ms);

  // Adds and starts an aggregation query after the configured ones.
  Result<MicroBatchQuery*> add_aggregation(AggregationConfig aggregation, int64_t now_ms);

  // The Kappa recovery: a new query replays the log (from earliest unless `options.starting`
  // says otherwise) into a NEW table. Refused (kFailedPrecondition) when the table is written by
  // a live query (running, or crashed and due for a restart), already has rows, or was written
  // by another query: appending there would duplicate rows and overwriting would delete them.
  Result<MicroBatchQuery*> recover(AggregationConfig aggregation, int64_t now_ms);

  // The query's figures over all its runs: a restart builds a new query object, whose own
  // totals start at zero, and the ones of the runs before are kept here.
  Result<MicroBatchQuery::Totals> totals(std::string_view id) const;

  // Whether `query` has read at least as far as `reference` in every partition of their source
  // (a recovery has caught up with the query it replaces).
  Result<bool> caught_up(std::string_view query, std::string_view reference);

  // Stops a query: it runs no more batches and is no longer live. Its checkpoint remains.
  Status stop(std::string_view id);

  void on_batch(std::function<void(const BatchReport&)> listener);

 private:
  Pipeline(PipelineConfig config, Log& log, Sink& sink, FaultHook* faults, TimeZone zone,
           Fixtures fixtures);

  struct Slot {
    std::string id;
    std::string table;  // aggregations only
    std::function<std::unique_ptr<MicroBatchQuery>(CheckpointStore&)> make;
    std::unique_ptr<CheckpointStore> checkpoint;
    std::unique_ptr<MicroBatchQuery> query;
    MicroBatchQuery::Totals earlier_runs;
    bool auto_restart = false;
  };
  Slot make_stage_slot();
  Slot make_aggregation_slot(AggregationConfig aggregation);
  QuerySpec query_spec(std::string id, std::string source, const QueryOptions& options) const;
  // A memory store, or the query's folder under config_.checkpoint_dir.
  Result<std::unique_ptr<CheckpointStore>> checkpoint_for(const std::string& query_id) const;

  PipelineConfig config_;
  Log& log_;
  Sink& sink_;
  FaultHook* faults_;
  TimeZone zone_;
  Fixtures fixtures_;
  std::vector<std::unique_ptr<GeneratorJob>> generators_;
  std::vector<Slot> slots_;  // stage first, then aggregations in order
  std::function<void(const BatchReport&)> listener_;
};

}  // namespace kappa
