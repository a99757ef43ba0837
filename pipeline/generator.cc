#include "pipeline/generator.h"

#include <vector>

#include "pipeline/event_codec.h"
#include "pipeline/timestamp.h"

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

int64_t GeneratorJob::next_wakeup_ms() const {
  if (stopped_ || (spec_.count && emitted_ >= *spec_.count)) return kNever;
  return due_ms(emitted_);
}

Status GeneratorJob::run(int64_t now_ms) {
  if (partitions_ == 0) {
    auto n = log_.partition_count(spec_.topic);
    if (!n) return n.status().with_context("generator " + name_);
    partitions_ = *n;
  }
  bytes_.clear();
  std::vector<std::pair<size_t, size_t>> spans;
  std::vector<int64_t> stamps;
  char time[19];
  while (next_wakeup_ms() <= now_ms) {
    const int64_t at = due_ms(emitted_);
    format_timestamp_to(time, at, zone_);
    const size_t begin = bytes_.size();
    append_source_event_json(bytes_, spec_.first_id + emitted_, spec_.hello,
                             std::string_view(time, 19));
    spans.emplace_back(begin, bytes_.size() - begin);
    stamps.push_back(at);
    ++emitted_;
  }
  if (spans.empty()) return Status::ok();
  std::vector<OutgoingRecord> records(spans.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    records[i].value = std::string_view(bytes_).substr(spans[i].first, spans[i].second);
    records[i].timestamp_ms = stamps[i];
    records[i].partition = partitioner_.partition(std::nullopt, partitions_);
  }
  auto placed = log_.produce(spec_.topic, records);
  if (!placed) return placed.status().with_context("generator " + name_);
  return Status::ok();
}

}  // namespace kappa
