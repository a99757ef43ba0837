#include "replay/lab/lab_core.h"

#include <algorithm>
#include <filesystem>

#include "pipeline/jobs/pipeline.h"
#include "pipeline/jobs/window.h"
#include "pipeline/time/clock.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kTimelineKeepMs = 10 * 60 * 1000;
constexpr size_t kTimelineRows = 20000;
constexpr size_t kTimelineWatermarks = 5000;
constexpr int64_t kIdScanRecords = 10000;  // per partition, at the end of `events`

}  // namespace

Lab::Lab(LabFlags flags, Log& log, Sink& sink, TimeZone zone, const Clock& clock, std::ostream& out,
         bool tty)
    : flags_(std::move(flags)),
      log_(log),
      sink_(sink),
      zone_(std::move(zone)),
      clock_(clock),
      out_(out),
      tty_(tty),
      codec_(zone_),
      timeline_(kTimelineKeepMs, kTimelineRows, kTimelineWatermarks) {}

Lab::~Lab() = default;

AggregationConfig Lab::aggregation_config(const ExtraAggregation& a) const {
  AggregationConfig c;
  c.spec.table = a.table;
  c.spec.dimension = a.dimension;
  c.spec.window = WindowSpec{a.window_ms, a.window_ms, 0};
  c.spec.watermark_delay_ms = a.watermark_ms;
  c.options.starting.kind = StartingPosition::Kind::kEarliest;
  c.options.max_records_per_batch = a.max_records_per_batch;
  return c;
}

Result<MicroBatchQuery*> Lab::start_extra(const ExtraAggregation& a, bool recovery_guard) {
  AggregationConfig c = aggregation_config(a);
  auto q = recovery_guard ? pipeline_->recover(c, clock_.now_ms())
                          : pipeline_->add_aggregation(c, clock_.now_ms());
  if (!q) return q.status();
  c.spec.query = c.spec.table;
  specs_[c.spec.table] = c.spec;
  return q;
}

void Lab::save_state() {
  LabState saved{state_.aggregations, {}, state_.next_injected_id};
  std::set<std::string> ids;
  for (const auto& [id, _] : state_.totals) ids.insert(id);
  for (MicroBatchQuery* q : pipeline_->queries()) ids.insert(q->name());
  for (const auto& id : ids) saved.totals[id] = totals(id);
  save_lab_state(flags_.data, saved);
}

// The generator continues after the last generated id in `events`; injected events (hello
// "late") continue after the last injected one.
Status Lab::resume_ids() {
  const std::string& topic = pipeline_->config().events.name;
  auto partitions = log_.partition_count(topic);
  if (!partitions) return partitions.status();
  int64_t next_generated = 0;
  for (int32_t p = 0; p < *partitions; ++p) {
    auto range = log_.offsets(topic, p);
    if (!range) return range.status();
    const int64_t from = std::max(range->earliest, range->end - kIdScanRecords);
    KAPPA_RETURN_IF_ERROR(scan_records(log_, topic, p, from, range->end, [&](const RecordView& r) {
      SourceEvent e;
      DecodeFailure why;
      if (!codec_.decode_source(r.value, e, why)) return;
      if (e.hello && *e.hello == kInjectedHello) {
        state_.next_injected_id = std::max(state_.next_injected_id, e.id + 1);
      } else {
        next_generated = std::max(next_generated, e.id + 1);
      }
    }));
  }
  GeneratorSpec spec;
  spec.topic.clear();
  spec.rate = flags_.rate;
  spec.first_id = next_generated;
  generator_ = &pipeline_->add_generator(spec, clock_.now_ms());
  return Status::ok();
}

Status Lab::start() {
  KAPPA_RETURN_IF_ERROR(load_lab_state(flags_.data, state_, out_));
  PipelineConfig config;
  config.zone = flags_.zone;
  config.trigger_ms = flags_.trigger_ms;
  config.stage_enabled = true;
  config.stage_mode = parse_stage_mode(flags_.stage_mode).value_or(StageMode::kDeadLetter);
  config.stage.starting.kind = StartingPosition::Kind::kEarliest;
  config.checkpoint_dir = (fs::path(flags_.data) / "checkpoints").string();
  AggregationConfig v1 = PipelineConfig::lab_v1();
  v1.spec.window = WindowSpec{flags_.window_ms, flags_.window_ms, 0};
  v1.spec.watermark_delay_ms = flags_.watermark_ms;
  v1.options.starting.kind = StartingPosition::Kind::kEarliest;
  config.aggregations = {v1};
  v1.spec.query = v1.spec.table;
  specs_[v1.spec.table] = v1.spec;
  auto p = Pipeline::create(config, log_, sink_);
  if (!p) return p.status();
  pipeline_ = std::move(*p);
  pipeline_->on_batch([this](const BatchReport& b) { on_report(b); });
  KAPPA_RETURN_IF_ERROR(pipeline_->start(clock_.now_ms()));
  for (const std::string& d : flags_.dimensions) {
    const bool known = std::any_of(state_.aggregations.begin(), state_.aggregations.end(),
                                   [&](const ExtraAggregation& e) { return e.kind == d; });
    if (!known) {
      state_.aggregations.push_back(ExtraAggregation{
          d, d == "ages" ? "events_ages" : "events_depts", d == "ages" ? "age" : "dept_name",
          flags_.window_ms, flags_.watermark_ms, 0, true});
    }
    for (auto& e : state_.aggregations) {
      if (e.kind == d) e.on = true;
    }
  }
  for (const auto& e : state_.aggregations) {
    if (!e.on) continue;
    auto q = start_extra(e, false);
    if (!q)
      return q.status().with_context("resuming " + e.table + " from " + flags_.data +
                                     "/lab-state.json");
  }
  KAPPA_RETURN_IF_ERROR(resume_ids());
  if (auto target = sink_.view_target(kView); target && *target) view_pointed_ = true;
  return Status::ok();
}

MicroBatchQuery::Totals Lab::totals(const std::string& id) {
  MicroBatchQuery::Totals t;
  if (auto it = state_.totals.find(id); it != state_.totals.end()) t = it->second;
  if (auto now = pipeline_->totals(id)) t += *now;
  return t;
}

int64_t Lab::behind(MicroBatchQuery& q) {
  auto ends = log_.end_offsets(q.spec().source_topic);
  if (!ends) return 0;
  int64_t behind = 0;
  for (const auto& e : *ends) {
    int64_t committed = 0;
    for (const auto& c : q.committed_offsets()) {
      if (c.partition == e.partition) committed = c.offset;
    }
    behind += std::max<int64_t>(0, e.offset - committed);
  }
  return behind;
}

std::string Lab::job_state(MicroBatchQuery& q) {
  switch (q.run_state()) {
    case MicroBatchQuery::RunState::kStopped:
      return "stopped";
    case MicroBatchQuery::RunState::kCrashed:
      return "crashed";
    case MicroBatchQuery::RunState::kRunning:
      break;
  }
  // Its last attempt failed (the sink or the broker refused); it runs again at the next trigger.
  if (!q.last_error().is_ok()) return "failing";
  const bool recovery = std::any_of(
      state_.aggregations.begin(), state_.aggregations.end(),
      [&](const ExtraAggregation& e) { return e.kind == "recovery" && e.table == q.name(); });
  if (recovery && pipeline_->query(kV1)) {
    auto caught = pipeline_->caught_up(q.name(), kV1);
    if (caught && *caught) return "caught_up";
  }
  return "running";
}

// ---- batch reports: timeline, terminal view, state --------------------------------------------

void Lab::record_timeline(const BatchReport& b, const AggregationSpec& spec) {
  const int query = timeline_.query_index(b.query);
  timeline_.add_watermark({b.ran_at_ms, b.plan.watermark_ms, b.next_watermark_ms, query});
  // A row is late when its window ends at or before the watermark its batch ran with (DESIGN.md
  // §3.1 rule 4, Spark 3.2's rule, the aggregation's default). Only the last kTimelineRows
  // records of a batch are read again: older ones would leave the ring at once.
  const int64_t budget = static_cast<int64_t>(kTimelineRows);
  for (size_t i = 0; i < b.plan.start.size() && i < b.plan.end.size(); ++i) {
    const int32_t p = b.plan.start[i].partition;
    const int64_t end = b.plan.end[i].offset;
    int64_t at = std::max(b.plan.start[i].offset, end - budget);
    while (at < end) {
      auto fetched =
          log_.fetch(spec.source_topic, p, at, FetchLimits{.max_records = 4096, .end_offset = end});
      if (!fetched || fetched->records.empty()) break;
      for (const RecordView& r : fetched->records) {
        StagedEvent e;
        DecodeFailure why;
        if (!codec_.decode_staged(r.value, e, why)) continue;
        bool late = false;
        for_each_window(spec.window, e.event_time_ms, [&](int64_t start) {
          late = late || start + spec.window.size_ms <= b.plan.watermark_ms;
        });
        timeline_.add_row(
            {e.id.value_or(-1), e.event_time_ms, b.ran_at_ms, r.timestamp_ms, late, query});
      }
      at = fetched->next_offset;
    }
  }
  timeline_.trim(clock_.now_ms());
}

void Lab::on_report(const BatchReport& b) {
  last_batch_ms_[b.query] = b.ran_at_ms;
  if (b.failure) {
    out_ << "kappa lab: " << b.query << " batch " << b.plan.batch_id << " failed ("
         << b.failure->message() << "); it runs again" << std::endl;
    return;
  }
  auto spec = specs_.find(b.query);
  if (spec != specs_.end()) {
    const int64_t took = std::max<int64_t>(clock_.now_ms() - b.ran_at_ms, 1);
    if (b.result.rows_in > 0) {
      const double rate =
          static_cast<double>(b.result.rows_in) * 1000.0 / static_cast<double>(took);
      Progress& p = progress_[b.query];
      p.records_per_s = p.records_per_s == 0 ? rate : 0.5 * p.records_per_s + 0.5 * rate;
    }
    record_timeline(b, spec->second);
  }
  if (b.query == kV1) {
    if (!view_pointed_ && sink_.point_view(kView, kV1)) view_pointed_ = true;
    print_view(b);
  } else if (std::any_of(state_.aggregations.begin(), state_.aggregations.end(),
                         [&](const ExtraAggregation& e) {
                           return e.kind == "recovery" && e.table == b.query;
                         })) {
    // Between v1's views, a recovery that is behind reports its progress at each of its batches.
    // Its view line comes before it reads the trigger's new records, so it shows a few behind;
    // say once, from its own batch, when it has reached the end of the log.
    MicroBatchQuery* q = pipeline_->query(b.query);
    const bool caught_up = q && job_state(*q) == "caught_up";
    if (q && (!caught_up || announced_caught_up_.insert(b.query).second)) {
      out_ << progress_line(b.query) << std::endl;
    }
  }
  save_state();
}

}  // namespace kappa
