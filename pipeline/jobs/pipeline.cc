#include "pipeline/jobs/pipeline.h"

#include <filesystem>
#include <set>

#include "pipeline/engine/file_checkpoint.h"

namespace kappa {

AggregationConfig PipelineConfig::lab_v1() {
  AggregationConfig a;
  a.spec.table = "events_users_v1";
  a.spec.dimension = "user_name";
  a.spec.window = WindowSpec{10000, 10000, 0};
  a.spec.watermark_delay_ms = 15000;
  return a;
}

Status validate(const PipelineConfig& config) {
  if (config.trigger_ms <= 0) return Status::invalid_argument("trigger interval must be positive");
  for (const TopicConfig* t : {&config.events, &config.stages, &config.dlq}) {
    if (t->partitions < 1) {
      return Status::invalid_argument("topic " + t->name + " needs at least 1 partition");
    }
  }
  std::set<std::string> ids{config.stage_query_id};
  std::set<std::string> tables;
  for (const auto& a : config.aggregations) {
    KAPPA_RETURN_IF_ERROR(validate_identifier(a.spec.table, "table name"));
    KAPPA_RETURN_IF_ERROR(dimension_field(a.spec.dimension).status());
    KAPPA_RETURN_IF_ERROR(validate(a.spec.window).with_context("table " + a.spec.table));
    if (a.spec.watermark_delay_ms < 0) {
      return Status::invalid_argument("table " + a.spec.table +
                                      ": watermark delay must not be negative");
    }
    const std::string id = a.spec.query.empty() ? a.spec.table : a.spec.query;
    if (!ids.insert(id).second)
      return Status::invalid_argument("two queries are named '" + id + "'");
    if (!tables.insert(a.spec.table).second) {
      return Status::invalid_argument("two aggregations write table " + a.spec.table +
                                      "; appending twice would duplicate rows");
    }
    if (a.options.trigger_ms && *a.options.trigger_ms <= 0) {
      return Status::invalid_argument("table " + a.spec.table +
                                      ": trigger interval must be positive");
    }
  }
  return Status::ok();
}

Result<std::unique_ptr<Pipeline>> Pipeline::create(PipelineConfig config, Log& log, Sink& sink,
                                                   FaultHook* faults) {
  KAPPA_RETURN_IF_ERROR(validate(config));
  auto zone = TimeZone::load(config.zone);
  if (!zone) return zone.status();
  Fixtures fixtures = Fixtures::lab();
  if (config.names_fixture || config.depts_fixture) {
    if (config.names_fixture) {
      auto names = LookupTable::load(*config.names_fixture, "uid", config.max_fixture_bytes);
      if (!names) return names.status();
      fixtures.names = std::move(*names);
    }
    if (config.depts_fixture) {
      auto depts = LookupTable::load(*config.depts_fixture, "did", config.max_fixture_bytes);
      if (!depts) return depts.status();
      fixtures.depts = std::move(*depts);
    }
  }
  std::unique_ptr<Pipeline> p(
      new Pipeline(std::move(config), log, sink, faults, std::move(*zone), std::move(fixtures)));
  for (auto& slot : p->slots_) {
    auto store = p->checkpoint_for(slot.id);
    if (!store) return store.status();
    slot.checkpoint = std::move(*store);
  }
  return p;
}

Result<std::unique_ptr<CheckpointStore>> Pipeline::checkpoint_for(
    const std::string& query_id) const {
  if (config_.checkpoint_dir.empty())
    return std::unique_ptr<CheckpointStore>(std::make_unique<MemoryCheckpointStore>());
  auto store = FileCheckpointStore::open(
      (std::filesystem::path(config_.checkpoint_dir) / query_id).string());
  if (!store) return store.status();
  return std::unique_ptr<CheckpointStore>(std::move(*store));
}

Pipeline::Pipeline(PipelineConfig config, Log& log, Sink& sink, FaultHook* faults, TimeZone zone,
                   Fixtures fixtures)
    : config_(std::move(config)),
      log_(log),
      sink_(sink),
      faults_(faults),
      zone_(std::move(zone)),
      fixtures_(std::move(fixtures)) {
  if (config_.stage_enabled) slots_.push_back(make_stage_slot());
  for (const auto& a : config_.aggregations) slots_.push_back(make_aggregation_slot(a));
}

QuerySpec Pipeline::query_spec(std::string id, std::string source,
                               const QueryOptions& options) const {
  QuerySpec q;
  q.id = std::move(id);
  q.source_topic = std::move(source);
  q.starting = options.starting;
  q.trigger_ms = options.trigger_ms.value_or(config_.trigger_ms);
  q.max_records_per_batch = options.max_records_per_batch;
  q.group = options.group;
  return q;
}

Pipeline::Slot Pipeline::make_stage_slot() {
  Slot slot;
  slot.id = config_.stage_query_id;
  slot.checkpoint = std::make_unique<MemoryCheckpointStore>();
  slot.make = [this](CheckpointStore& checkpoint) {
    StageSpec spec;
    spec.source_topic = config_.events.name;
    spec.output_topic = config_.stages.name;
    spec.dlq_topic = config_.dlq.name;
    spec.max_record_bytes = config_.max_record_bytes;
    spec.mode = config_.stage_mode;
    auto processor = std::make_unique<StageProcessor>(spec, fixtures_, zone_);
    return std::make_unique<MicroBatchQuery>(
        query_spec(config_.stage_query_id, config_.events.name, config_.stage), log_, checkpoint,
        std::move(processor), faults_);
  };
  return slot;
}

Pipeline::Slot Pipeline::make_aggregation_slot(AggregationConfig aggregation) {
  if (aggregation.spec.query.empty()) aggregation.spec.query = aggregation.spec.table;
  aggregation.spec.source_topic = config_.stages.name;
  aggregation.spec.dlq_topic = config_.dlq.name;
  aggregation.spec.max_record_bytes = config_.max_record_bytes;
  Slot slot;
  slot.id = aggregation.spec.query;
  slot.table = aggregation.spec.table;
  slot.checkpoint = std::make_unique<MemoryCheckpointStore>();
  slot.make = [this, aggregation](CheckpointStore& checkpoint) {
    auto processor = std::make_unique<AggregateProcessor>(aggregation.spec, zone_, sink_);
    return std::make_unique<MicroBatchQuery>(
        query_spec(aggregation.spec.query, config_.stages.name, aggregation.options), log_,
        checkpoint, std::move(processor), faults_);
  };
  return slot;
}

Status Pipeline::start(int64_t now_ms) {
  for (const TopicConfig* t : {&config_.events, &config_.stages, &config_.dlq}) {
    KAPPA_RETURN_IF_ERROR(log_.create_topic(t->name, t->partitions));
  }
  for (auto& slot : slots_) {
    slot.query = slot.make(*slot.checkpoint);
    if (listener_) slot.query->on_batch(listener_);
    KAPPA_RETURN_IF_ERROR(slot.query->start(now_ms));
  }
  return Status::ok();
}

std::vector<Job*> Pipeline::jobs() {
  std::vector<Job*> jobs;
  jobs.reserve(generators_.size() + slots_.size());
  for (auto& g : generators_) jobs.push_back(g.get());
  for (auto& slot : slots_) {
    if (slot.query) jobs.push_back(slot.query.get());
  }
  return jobs;
}

Status Pipeline::after_run(Job& job, int64_t now_ms) {
  for (auto& slot : slots_) {
    if (slot.auto_restart && slot.query.get() == &job &&
        slot.query->run_state() == MicroBatchQuery::RunState::kCrashed) {
      return restart(slot.id, now_ms);
    }
  }
  return Status::ok();
}

GeneratorJob& Pipeline::add_generator(GeneratorSpec spec, int64_t start_ms) {
  if (spec.topic.empty()) spec.topic = config_.events.name;
  const std::string name = "generator-" + std::to_string(generators_.size() + 1);
  generators_.push_back(
      std::make_unique<GeneratorJob>(name, std::move(spec), log_, zone_, start_ms));
  return *generators_.back();
}

std::vector<GeneratorJob*> Pipeline::generators() {
  std::vector<GeneratorJob*> out;
  for (auto& g : generators_) out.push_back(g.get());
  return out;
}

MicroBatchQuery* Pipeline::query(std::string_view id) {
  for (auto& slot : slots_) {
    if (slot.id == id) return slot.query.get();
  }
  return nullptr;
}

std::vector<MicroBatchQuery*> Pipeline::queries() {
  std::vector<MicroBatchQuery*> out;
  for (auto& slot : slots_) {
    if (slot.query) out.push_back(slot.query.get());
  }
  return out;
}

Status Pipeline::restart(std::string_view id, int64_t now_ms) {
  for (auto& slot : slots_) {
    if (slot.id != id) continue;
    if (slot.query) slot.earlier_runs += slot.query->totals();
    slot.query.reset();  // the old process is gone; only its checkpoint remains
    slot.query = slot.make(*slot.checkpoint);
    if (listener_) slot.query->on_batch(listener_);
    return slot.query->start(now_ms);
  }
  return Status::not_found("no query named '" + std::string(id) + "'");
}

void Pipeline::set_auto_restart(std::string_view id, bool on) {
  for (auto& slot : slots_) {
    if (id.empty() || slot.id == id) slot.auto_restart = on;
  }
}

Result<MicroBatchQuery::Totals> Pipeline::totals(std::string_view id) const {
  for (const auto& slot : slots_) {
    if (slot.id != id) continue;
    MicroBatchQuery::Totals t = slot.earlier_runs;
    if (slot.query) t += slot.query->totals();
    return t;
  }
  return Status::not_found("no query named '" + std::string(id) + "'");
}

Result<MicroBatchQuery*> Pipeline::add_aggregation(AggregationConfig aggregation, int64_t now_ms) {
  PipelineConfig probe = config_;
  probe.aggregations.push_back(aggregation);
  KAPPA_RETURN_IF_ERROR(validate(probe));
  Slot made = make_aggregation_slot(std::move(aggregation));
  auto store = checkpoint_for(made.id);
  if (!store) return store.status();
  made.checkpoint = std::move(*store);
  config_.aggregations.push_back(probe.aggregations.back());
  slots_.push_back(std::move(made));
  Slot& slot = slots_.back();
  slot.query = slot.make(*slot.checkpoint);
  if (listener_) slot.query->on_batch(listener_);
  KAPPA_RETURN_IF_ERROR(slot.query->start(now_ms));
  return slot.query.get();
}

void Pipeline::on_batch(std::function<void(const BatchReport&)> listener) {
  listener_ = std::move(listener);
  for (auto& slot : slots_) {
    if (slot.query) slot.query->on_batch(listener_);
  }
}

Result<MicroBatchQuery*> Pipeline::recover(AggregationConfig aggregation, int64_t now_ms) {
  const std::string& table = aggregation.spec.table;
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  const std::string why = "; a recovery writes a new table (appending to " + table +
                          " would duplicate its rows, overwriting it would delete them)";
  for (auto& slot : slots_) {
    if (slot.table == table && slot.query &&
        slot.query->run_state() != MicroBatchQuery::RunState::kStopped) {
      return Status::failed_precondition("refusing to recover into " + table +
                                         ": it is written by the live query " + slot.id + why);
    }
  }
  auto rows = sink_.read_table(table);
  if (rows && !rows->empty()) {
    return Status::failed_precondition("refusing to recover into " + table + ": it already has " +
                                       std::to_string(rows->size()) + " rows" + why);
  }
  if (!rows && rows.status().code() != StatusCode::kNotFound) return rows.status();
  const std::string id = aggregation.spec.query.empty() ? table : aggregation.spec.query;
  auto writers = sink_.writers(table);
  if (!writers) return writers.status();
  for (const auto& w : *writers) {
    if (w != id) {
      return Status::failed_precondition("refusing to recover into " + table + ": the query " + w +
                                         " has written to it" + why);
    }
  }
  return add_aggregation(std::move(aggregation), now_ms);
}

Result<bool> Pipeline::caught_up(std::string_view query, std::string_view reference) {
  MicroBatchQuery* q = this->query(query);
  MicroBatchQuery* r = this->query(reference);
  if (!q) return Status::not_found("no query named '" + std::string(query) + "'");
  if (!r) return Status::not_found("no query named '" + std::string(reference) + "'");
  const auto& mine = q->committed_offsets();
  const auto& theirs = r->committed_offsets();
  for (const auto& t : theirs) {
    bool reached = false;
    for (const auto& m : mine)
      reached = reached || (m.partition == t.partition && m.offset >= t.offset);
    if (!reached) return false;
  }
  return true;
}

Status Pipeline::stop(std::string_view id) {
  MicroBatchQuery* q = query(id);
  if (!q) return Status::not_found("no query named '" + std::string(id) + "'");
  q->stop();
  return Status::ok();
}

}  // namespace kappa
