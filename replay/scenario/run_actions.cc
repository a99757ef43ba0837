// The scenario actions a Run performs (run.h): stop, produce, replay, advance, fault, recover.
#include "pipeline/codec/event_codec.h"
#include "pipeline/time/duration.h"
#include "replay/scenario/capture.h"
#include "replay/scenario/run.h"

namespace kappa::runner {

Status Run::stop(const StopStep& stop) {
  if (stop.generators) {
    for (GeneratorJob* g : pipeline_->generators()) g->stop();
    return Status::ok();
  }
  return pipeline_->stop(*stop.query);
}

Status Run::produce(const ProduceStep& p) {
  std::string value;
  if (p.event) {
    std::string time;
    if (p.event->time)
      time = *p.event->time;
    else if (*p.event->time_ago_ms > clock_.now_ms() - kMinClockMs)
      return Status::invalid_argument("time_ago " + format_duration(*p.event->time_ago_ms) +
                                      " goes back before 1970-01-01 00:00:00 UTC");
    else
      time = format_timestamp(clock_.now_ms() - *p.event->time_ago_ms, zone());
    append_source_event_json(value, p.event->id, p.event->hello, time);
  } else if (p.value) {
    value = *p.value;
  }
  auto partitions = log_.partition_count(p.topic);
  if (!partitions) {
    if (partitions.status().code() != StatusCode::kNotFound) return partitions.status();
    KAPPA_RETURN_IF_ERROR(log_.create_topic(p.topic, 1));
    partitions = 1;
  }
  const int64_t at = p.at_ms.value_or(clock_.now_ms());
  if (at < clock_.now_ms()) {
    return Status::invalid_argument("cannot produce at " + format_timestamp_ms(at, zone()) +
                                    ": the clock is already at " + now_text());
  }
  KAPPA_RETURN_IF_ERROR(count_records(p.repeat));
  for (int64_t i = 0; i < p.repeat; ++i) {
    ArrivalJob::Arrival a;
    a.at_ms = at;
    a.topic = p.topic;
    a.key = p.key;
    if (p.event || p.value) a.value = value;
    a.timestamp_ms = p.timestamp_ms.value_or(at);
    a.partition =
        p.partition != kAnyPartition
            ? p.partition
            : partitioner_.partition(p.key ? std::optional<std::string_view>(*p.key) : std::nullopt,
                                     *partitions);
    if (a.partition >= *partitions) {
      return Status::invalid_argument("topic " + p.topic + " has " + std::to_string(*partitions) +
                                      " partitions; there is no partition " +
                                      std::to_string(a.partition));
    }
    arrivals_.add(std::move(a));
  }
  // An arrival now is written now (after this instant's triggers); a later one waits.
  if (at == clock_.now_ms()) return arrivals_.run(clock_.now_ms());
  return Status::ok();
}

Status Run::replay(const ReplayStep& r) {
  auto records = read_capture(r.file, static_cast<size_t>(s_.limits.max_input_file_bytes));
  if (!records) return records.status();
  if (records->empty()) return Status::ok();
  KAPPA_RETURN_IF_ERROR(count_records(static_cast<int64_t>(records->size())));
  int64_t first = records->front().timestamp_ms;
  for (const auto& c : *records) first = std::min(first, c.timestamp_ms);
  for (auto& c : *records) {
    ArrivalJob::Arrival a;
    switch (r.timing) {
      case ReplayStep::Timing::kRelative:
        a.at_ms = clock_.now_ms() + (c.timestamp_ms - first);
        break;
      case ReplayStep::Timing::kRecorded:
        a.at_ms = c.timestamp_ms;
        break;
      case ReplayStep::Timing::kNow:
        a.at_ms = clock_.now_ms();
        break;
    }
    if (a.at_ms < clock_.now_ms()) {
      return Status::invalid_argument(
          r.file + ": record " + record_name(c.topic, c.partition, c.offset) + " was recorded at " +
          format_timestamp_ms(c.timestamp_ms, zone()) + ", before the clock (" + now_text() +
          "); use \"timing\": \"relative\"");
    }
    a.topic = r.topic.value_or(c.topic);
    a.key = std::move(c.key);
    a.value = std::move(c.value);
    a.timestamp_ms = a.at_ms;
    a.partition = c.partition;
    auto partitions = log_.partition_count(a.topic);
    if (!partitions) return partitions.status().with_context("replaying " + r.file);
    if (a.partition >= *partitions) {
      return Status::invalid_argument(
          r.file + ": record " + record_name(c.topic, c.partition, c.offset) + " needs partition " +
          std::to_string(c.partition) + " of topic " + a.topic + ", which has " +
          std::to_string(*partitions));
    }
    // The origin headers belong to the run that wrote the records; a replay is a new arrival.
    for (auto& h : c.headers) {
      if (h.first.rfind("kappa.", 0) != 0) a.headers.push_back(std::move(h));
    }
    arrivals_.add(std::move(a));
  }
  return arrivals_.run(clock_.now_ms());
}

Status Run::advance(const AdvanceStep& a) {
  if (a.by_ms && *a.by_ms > kMaxClockMs - clock_.now_ms()) {
    return Status::invalid_argument("advancing by " + format_duration(*a.by_ms) +
                                    " would pass 9999-12-31 23:59:59.999 UTC, the latest time the "
                                    "engine represents");
  }
  const int64_t to = a.to_ms ? *a.to_ms : clock_.now_ms() + *a.by_ms;
  if (to < clock_.now_ms()) {
    return Status::invalid_argument("cannot advance the clock back to " +
                                    format_timestamp_ms(to, zone()) + " from " + now_text());
  }
  return scheduler_->advance_to(to);
}

Status Run::fault(const FaultStep& f) {
  switch (f.kind) {
    case FaultStep::Kind::kSinkUnavailable:
      if (!f.query.empty() && !pipeline_->query(f.query))
        return Status::invalid_argument("no query named '" + f.query + "'");
      faults_.arm(f.point, StatusCode::kUnavailable, f.commits, 0, f.query);
      return Status::ok();
    case FaultStep::Kind::kCrash:
      if (!pipeline_->query(f.query))
        return Status::invalid_argument("no query named '" + f.query + "' to crash");
      faults_.arm(f.point, StatusCode::kAborted, 1, f.after, f.query);
      pipeline_->set_auto_restart(f.query, f.restart_immediately);
      return Status::ok();
    case FaultStep::Kind::kBrokerUnavailable:
      outage_.fail_until(clock_.now_ms() + f.duration_ms);
      return Status::ok();
  }
  return Status::ok();
}

Status Run::recover(const RecoverStep& r) {
  auto q = pipeline_->recover(r.aggregation, clock_.now_ms());
  if (!r.expect_error) return q.status();
  ++report_.expectations;
  if (q) {
    fail({"the recovery into " + r.aggregation.spec.table +
          " was accepted; expected it to be refused with \"" + *r.expect_error + "\""});
  } else if (q.status().message().find(*r.expect_error) == std::string::npos) {
    fail({"refused with: " + q.status().message(),
          "expected the message to contain: " + *r.expect_error});
  } else {
    report_.notes.push_back("refused as expected: " + q.status().message());
  }
  return Status::ok();
}

}  // namespace kappa::runner
