#include "pipeline/jobs/generator.h"

#include <algorithm>
#include <vector>

#include "pipeline/codec/event_codec.h"
#include "pipeline/time/timestamp.h"

namespace kappa {

GeneratorJob::GeneratorJob(std::string name, GeneratorSpec spec, Log& log, TimeZone zone,
                           int64_t start_ms)
    : name_(std::move(name)),
      spec_(std::move(spec)),
      log_(log),
      zone_(std::move(zone)),
      start_ms_(start_ms) {
  if (spec_.rate < 1) spec_.rate = 1;
}

int64_t GeneratorJob::next_emission_ms() const {
  if (stopped_ || (spec_.count && emitted_ >= *spec_.count)) return kNever;
  return due_ms(emitted_);
}

int64_t GeneratorJob::next_wakeup_ms() const {
  const int64_t emission = next_emission_ms();
  return pending_.empty() ? emission : std::min(emission, retry_at_ms_);
}

Status GeneratorJob::run(int64_t now_ms) {
  char time[19];
  while (next_emission_ms() <= now_ms) {
    const int64_t at = due_ms(emitted_);
    format_timestamp_to(time, at, zone_);
    const size_t begin = bytes_.size();
    append_source_event_json(bytes_, spec_.first_id + emitted_, spec_.hello,
                             std::string_view(time, 19));
    pending_.push_back({begin, bytes_.size() - begin});
    ++emitted_;
  }
  if (pending_.empty()) return Status::ok();
  if (partitions_ == 0) {
    auto n = log_.partition_count(spec_.topic);
    if (!n) {
      if (n.status().code() != StatusCode::kUnavailable)
        return n.status().with_context("generator " + name_);
      retry_at_ms_ = now_ms + 1000;
      return Status::ok();
    }
    partitions_ = *n;
  }
  std::vector<OutgoingRecord> records(pending_.size());
  Partitioner partitioner = partitioner_;  // advanced only when the records are stored
  for (size_t i = 0; i < pending_.size(); ++i) {
    records[i].value = std::string_view(bytes_).substr(pending_[i].at, pending_[i].size);
    records[i].timestamp_ms =
        now_ms;  // CreateTime: when it is sent (fluent-plugin-kafka's default)
    records[i].partition = partitioner.partition(std::nullopt, partitions_);
  }
  auto placed = log_.produce(spec_.topic, records);
  if (!placed) {
    if (placed.status().code() != StatusCode::kUnavailable) {
      return placed.status().with_context("generator " + name_);
    }
    retry_at_ms_ = now_ms + 1000;  // keep them buffered, as fluentd does
    return Status::ok();
  }
  partitioner_ = partitioner;
  pending_.clear();
  bytes_.clear();
  retry_at_ms_ = kNever;
  return Status::ok();
}

}  // namespace kappa
