#include "pipeline/engine/micro_batch.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace kappa {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

MicroBatchQuery::MicroBatchQuery(QuerySpec spec, Log& log, CheckpointStore& checkpoint,
                                 std::unique_ptr<BatchProcessor> processor, FaultHook* faults)
    : spec_(std::move(spec)),
      log_(log),
      checkpoint_(checkpoint),
      processor_(std::move(processor)),
      faults_(faults) {}

Result<std::vector<PartitionOffset>> MicroBatchQuery::resolve_start() {
  auto n = log_.partition_count(spec_.source_topic);
  if (!n) return n.status().with_context("query " + spec_.id + " reading " + spec_.source_topic);
  std::vector<PartitionOffset> start;
  for (int32_t p = 0; p < *n; ++p) {
    auto range = log_.offsets(spec_.source_topic, p);
    if (!range) return range.status();
    int64_t offset = range->end;
    switch (spec_.starting.kind) {
      case StartingPosition::Kind::kLatest:
        offset = range->end;
        break;
      case StartingPosition::Kind::kEarliest:
        offset = range->earliest;
        break;
      case StartingPosition::Kind::kTimestamp: {
        auto at = log_.offset_for_time(spec_.source_topic, p, spec_.starting.timestamp_ms);
        if (!at) return at.status();
        offset = *at;
        break;
      }
      case StartingPosition::Kind::kOffsets: {
        offset = range->earliest;
        for (const auto& po : spec_.starting.offsets) {
          if (po.partition != p) continue;
          if (po.offset < range->earliest || po.offset > range->end) {
            return Status::out_of_range(
                "query " + spec_.id + ": starting offset " + std::to_string(po.offset) +
                " is outside " + partition_name(spec_.source_topic, p) + " [" +
                std::to_string(range->earliest) + ", " + std::to_string(range->end) + "]");
          }
          offset = po.offset;
        }
        break;
      }
    }
    start.push_back({p, offset});
  }
  return start;
}

Status MicroBatchQuery::start(int64_t now_ms) {
  auto recovered = checkpoint_.recover();
  if (!recovered) return recovered.status();
  KAPPA_RETURN_IF_ERROR(processor_->restore_state(recovered->state));
  pending_.reset();
  pending_is_retry_ = false;
  ran_batch_this_run_ = false;
  last_error_ = Status::ok();
  if (!recovered->last_plan) {
    auto start = resolve_start();
    if (!start) return start.status();
    committed_ = std::move(*start);
    batch_id_ = 0;
    watermark_ms_ = 0;
    last_batch_watermark_ms_ = 0;
    has_committed_ = false;
  } else {
    const BatchPlan& last = *recovered->last_plan;
    const auto& commit = recovered->last_commit;
    has_committed_ = commit.has_value();
    if (commit && commit->batch_id == last.batch_id) {
      committed_ = last.end;
      batch_id_ = last.batch_id + 1;
      watermark_ms_ = commit->next_watermark_ms;
      last_batch_watermark_ms_ = last.watermark_ms;
    } else {
      pending_ = last;
      pending_is_retry_ = true;
      committed_ = last.start;
      batch_id_ = last.batch_id;
      watermark_ms_ = last.watermark_ms;
      last_batch_watermark_ms_ =
          recovered->previous_plan ? recovered->previous_plan->watermark_ms : last.watermark_ms;
    }
  }
  // Refuse at once when the outputs show work the checkpoint does not know; a log that cannot
  // answer yet (a real broker still electing leaders) is asked again before the first batch.
  unchecked_outputs_.reset();
  if (Status s = check_outputs(recovered->last_plan); !s) {
    if (s.code() != StatusCode::kUnavailable) return s;
    unchecked_outputs_ = recovered->last_plan;
    last_error_ = s;
  }
  state_ = RunState::kRunning;
  next_trigger_ms_ = now_ms;
  return Status::ok();
}

Status MicroBatchQuery::check_outputs(const std::optional<BatchPlan>& last) {
  // A planned batch may have written some or all of its outputs; any later one must not have.
  const int64_t first_unknown = last ? last->batch_id + 1 : 0;
  const std::string known =
      last ? "its checkpoint records batches up to " + std::to_string(last->batch_id)
           : "it has no checkpoint";
  const std::string prefix = spec_.id + ":";
  for (const std::string& topic : processor_->output_topics()) {
    auto partitions = log_.partition_count(topic);
    if (!partitions) continue;  // nothing written there yet
    for (int32_t p = 0; p < *partitions; ++p) {
      auto range = log_.offsets(topic, p);
      if (!range) return range.status();
      int64_t at = range->earliest;
      if (last) {
        if (auto it = last->outputs.find(topic); it != last->outputs.end()) {
          for (const auto& po : it->second) {
            if (po.partition == p) at = std::max(at, po.offset);
          }
        }
      }
      while (at < range->end) {
        auto got =
            log_.fetch(topic, p, at, FetchLimits{.max_records = 8192, .end_offset = range->end});
        if (!got) return got.status().with_context("query " + spec_.id + " checking its outputs");
        if (got->records.empty()) break;
        for (const RecordView& r : got->records) {
          const auto origin = r.header(kOriginHeader);
          if (!origin || origin->substr(0, prefix.size()) != prefix) continue;
          int64_t batch = -1;
          const std::string_view digits = origin->substr(prefix.size());
          std::from_chars(digits.data(), digits.data() + digits.size(), batch);
          if (batch < first_unknown) continue;
          return Status::failed_precondition(
              "query " + spec_.id + ": " + record_name(topic, p, r.offset) +
              " holds a record of its batch " + std::to_string(batch) + ", but " + known +
              ": the checkpoint is missing, rolled back or another run's, and going on would write "
              "that work twice. Start the query with the checkpoint it ran with, or write to other "
              "topics.");
        }
        at = got->next_offset;
      }
    }
  }
  return processor_->check_resume(first_unknown, known);
}

bool MicroBatchQuery::owns(int32_t partition) const {
  return !spec_.group || std::binary_search(owned_.begin(), owned_.end(), partition);
}

Status MicroBatchQuery::follow_group() {
  auto owned = spec_.group->owned();
  if (!owned) return owned.status();
  if (*owned == owned_) return Status::ok();
  std::vector<int32_t> gained;
  for (int32_t p : *owned) {
    if (!std::binary_search(owned_.begin(), owned_.end(), p)) gained.push_back(p);
  }
  if (!gained.empty()) {
    auto committed = spec_.group->committed();
    if (!committed) return committed.status();
    auto start = resolve_start();
    if (!start) return start.status();
    for (auto& po : committed_) {
      if (!std::binary_search(gained.begin(), gained.end(), po.partition)) continue;
      // Where the group left it; a partition nobody has committed starts where a new query would.
      for (const auto& s : *start) {
        if (s.partition == po.partition) po.offset = s.offset;
      }
      for (const auto& c : *committed) {
        if (c.partition == po.partition) po.offset = c.offset;
      }
    }
  }
  owned_ = *owned;
  return Status::ok();
}

Result<std::vector<PartitionOffset>> MicroBatchQuery::latest_offsets() const {
  auto ends = log_.end_offsets(spec_.source_topic);
  if (!ends) return ends.status();
  std::vector<PartitionOffset> latest;
  latest.reserve(committed_.size());
  for (const auto& po : committed_) {
    if (!owns(po.partition)) {  // another member of the group reads it
      latest.push_back(po);
      continue;
    }
    const auto it = std::find_if(ends->begin(), ends->end(),
                                 [&](const auto& e) { return e.partition == po.partition; });
    if (it == ends->end()) {
      return Status::not_found("query " + spec_.id + ": " +
                               partition_name(spec_.source_topic, po.partition) + " is gone");
    }
    latest.push_back(*it);
  }
  return latest;
}

std::vector<PartitionOffset> MicroBatchQuery::rate_limit(
    const std::vector<PartitionOffset>& latest) const {
  if (spec_.max_records_per_batch <= 0) return latest;
  // Spark's KafkaMicroBatchStream.rateLimit: the cap is shared in proportion to each
  // partition's backlog; a share below one record is rounded up so no partition starves.
  double total = 0;
  for (size_t i = 0; i < latest.size(); ++i) {
    const int64_t size = latest[i].offset - committed_[i].offset;
    if (size > 0) total += static_cast<double>(size);
  }
  if (total < 1) return latest;
  std::vector<PartitionOffset> capped = latest;
  for (size_t i = 0; i < latest.size(); ++i) {
    const int64_t begin = committed_[i].offset;
    const int64_t size = latest[i].offset - begin;
    if (size <= 0) continue;
    const double prorate =
        static_cast<double>(spec_.max_records_per_batch) * (static_cast<double>(size) / total);
    const auto share = static_cast<int64_t>(prorate < 1 ? std::ceil(prorate) : std::floor(prorate));
    capped[i].offset = std::min(latest[i].offset, begin + share);
  }
  return capped;
}

Result<std::optional<BatchPlan>> MicroBatchQuery::plan_batch(int64_t now_ms) {
  if (spec_.group) KAPPA_RETURN_IF_ERROR(follow_group());
  auto latest = latest_offsets();
  if (!latest) return latest.status();
  std::vector<PartitionOffset> end = rate_limit(*latest);
  const bool new_data = !has_committed_ || end != committed_;
  if (!new_data && !wants_no_data_batch()) return std::optional<BatchPlan>{};

  BatchPlan plan;
  plan.batch_id = batch_id_;
  plan.trigger_ms = now_ms;
  plan.watermark_ms = watermark_ms_;
  plan.previous_watermark_ms = batch_id_ == 0 ? watermark_ms_ : last_batch_watermark_ms_;
  plan.start = committed_;
  plan.end = std::move(end);
  for (const auto& topic : processor_->output_topics()) {
    auto ends = log_.end_offsets(topic);
    if (!ends) return ends.status();
    plan.outputs[topic] = std::move(*ends);
  }
  KAPPA_RETURN_IF_ERROR(checkpoint_.write_plan(plan));
  return std::optional<BatchPlan>(std::move(plan));
}

Status MicroBatchQuery::execute(const BatchPlan& plan, BatchResult& result) {
  origin_scratch_.assign(spec_.id);
  origin_scratch_ += ':';
  origin_scratch_ += std::to_string(plan.batch_id);
  BatchOutput& output = output_;
  output.reset(origin_scratch_);
  KAPPA_RETURN_IF_ERROR(output.prepare(plan.outputs));
  processor_->begin_batch(plan, output);
  for (size_t i = 0; i < plan.start.size(); ++i) {
    const int32_t partition = plan.start[i].partition;
    int64_t at = plan.start[i].offset;
    const int64_t end = plan.end[i].offset;
    while (at < end) {
      auto got =
          log_.fetch(spec_.source_topic, partition, at,
                     FetchLimits{.max_records = spec_.fetch_chunk_records, .end_offset = end});
      if (!got) {
        return got.status().with_context("query " + spec_.id + " reading " +
                                         record_name(spec_.source_topic, partition, at));
      }
      if (got->records.empty()) {
        return Status::internal(
            "query " + spec_.id + ": " + record_name(spec_.source_topic, partition, at) +
            " returned no records before the planned end " + std::to_string(end));
      }
      result.rows_in += static_cast<int64_t>(got->records.size());
      processor_->process(got->records);
      KAPPA_RETURN_IF_ERROR(output.flush());
      at = got->next_offset;
    }
  }
  KAPPA_RETURN_IF_ERROR(processor_->finish_batch(result));
  KAPPA_RETURN_IF_ERROR(fault_at(faults_, "query.before_checkpoint", spec_.id));
  return Status::ok();
}

Status MicroBatchQuery::run(int64_t now_ms) {
  if (state_ != RunState::kRunning) return Status::ok();
  const int64_t interval = std::max<int64_t>(1, spec_.trigger_ms);
  next_trigger_ms_ = floor_div(now_ms, interval) * interval + interval;

  if (unchecked_outputs_) {
    if (Status s = check_outputs(*unchecked_outputs_); !s) {
      last_error_ = s;
      if (s.code() == StatusCode::kUnavailable) return Status::ok();  // asked again next trigger
      state_ = RunState::kCrashed;
      return s;
    }
    unchecked_outputs_.reset();
    last_error_ = Status::ok();
  }

  if (!pending_) {
    auto planned = plan_batch(now_ms);
    if (!planned) {
      if (planned.status().code() == StatusCode::kUnavailable) {
        last_error_ = planned.status();
        return Status::ok();
      }
      state_ = RunState::kCrashed;
      last_error_ = planned.status();
      return planned.status();
    }
    if (!*planned) return Status::ok();
    pending_ = std::move(**planned);
    pending_is_retry_ = false;
    if (Status s = fault_at(faults_, "query.after_plan", spec_.id); !s) {
      state_ = RunState::kCrashed;
      last_error_ = s;
      return Status::ok();
    }
  }

  const BatchPlan& plan = *pending_;
  BatchResult result;
  Status s = execute(plan, result);
  int64_t next_watermark = watermark_ms_;
  if (s) {
    if (auto delay = processor_->watermark_delay_ms(); delay && result.max_event_time_ms) {
      next_watermark = std::max(watermark_ms_, *result.max_event_time_ms - *delay);
    }
    s = checkpoint_.write_commit({plan.batch_id, next_watermark}, processor_->commit_state());
  }
  if (!s) {
    processor_->abort_batch();
    ++totals_.failed_attempts;
    last_error_ = s;
    if (listener_) {
      BatchReport failed{spec_.id,
                         plan,
                         {},
                         watermark_ms_,
                         processor_->watermark_delay_ms().has_value(),
                         pending_is_retry_,
                         now_ms,
                         s};
      listener_(failed);
    }
    pending_is_retry_ = true;
    if (s.code() == StatusCode::kUnavailable) return Status::ok();  // retried next trigger
    state_ = RunState::kCrashed;
    return s.code() == StatusCode::kAborted ? Status::ok() : s;
  }

  const bool retried = pending_is_retry_;
  committed_ = plan.end;
  has_committed_ = true;
  last_batch_watermark_ms_ = plan.watermark_ms;
  watermark_ms_ = next_watermark;
  batch_id_ = plan.batch_id + 1;
  ran_batch_this_run_ = true;
  std::optional<BatchPlan> done = std::move(pending_);  // for the report, without a copy
  pending_.reset();
  pending_is_retry_ = false;
  last_error_ = Status::ok();

  if (spec_.group) {
    // The group learns this member's progress; a refused commit (the group rebalanced) is
    // not fatal: the partition's new owner starts from the previous commit (at least once).
    std::vector<PartitionOffset> mine;
    for (const auto& po : committed_) {  // the batch's end offsets
      if (owns(po.partition)) mine.push_back(po);
    }
    if (Status c = spec_.group->commit(mine); !c) last_error_ = c;
  }

  ++totals_.batches;
  totals_.rows_in += result.rows_in;
  totals_.decoded += result.decoded;
  totals_.rows_out += result.rows_out;
  totals_.dead_letters += result.dead_letters;
  totals_.late_rows += result.late_rows;
  totals_.late_groups += result.late_groups;
  totals_.windowed_rows += result.windowed_rows;
  if (result.sink_skipped) ++totals_.sink_skips;
  if (listener_) {
    BatchReport report{spec_.id,
                       std::move(*done),
                       result,
                       next_watermark,
                       processor_->watermark_delay_ms().has_value(),
                       retried,
                       now_ms,
                       std::nullopt};
    listener_(report);
  }
  return Status::ok();
}

MicroBatchQuery::Totals& MicroBatchQuery::Totals::operator+=(const Totals& o) {
  batches += o.batches;
  rows_in += o.rows_in;
  decoded += o.decoded;
  rows_out += o.rows_out;
  dead_letters += o.dead_letters;
  late_rows += o.late_rows;
  late_groups += o.late_groups;
  windowed_rows += o.windowed_rows;
  failed_attempts += o.failed_attempts;
  sink_skips += o.sink_skips;
  return *this;
}

bool MicroBatchQuery::wants_no_data_batch() const {
  // Spark: lastExecution.shouldRunAnotherBatch, i.e. the stateful operator evicts on the
  // watermark and the watermark moved past the one the last batch ran with. lastExecution is
  // unset after a restart, so no no-data batch runs before a batch with data.
  return spec_.no_data_batches && ran_batch_this_run_ &&
         processor_->watermark_delay_ms().has_value() && processor_->evicts_on_watermark() &&
         watermark_ms_ > last_batch_watermark_ms_;
}

bool MicroBatchQuery::idle() const {
  if (state_ != RunState::kRunning) return true;
  if (pending_) return false;
  auto latest = latest_offsets();
  if (!latest) return false;
  const bool new_data = !has_committed_ || rate_limit(*latest) != committed_;
  return !new_data && !wants_no_data_batch();
}

}  // namespace kappa
