#include "replay/lab/lab_timeline.h"

#include <algorithm>

namespace kappa {

int Timeline::query_index(const std::string& query) {
  const auto it = std::find(queries_.begin(), queries_.end(), query);
  if (it != queries_.end()) return static_cast<int>(it - queries_.begin());
  queries_.push_back(query);
  return static_cast<int>(queries_.size() - 1);
}

void Timeline::add_row(const TimelineRow& row) {
  rows_.push_back(row);
  while (rows_.size() > max_rows_) rows_.pop_front();
}

void Timeline::add_watermark(const TimelineWatermark& w) {
  watermarks_.push_back(w);
  while (watermarks_.size() > max_watermarks_) watermarks_.pop_front();
}

void Timeline::trim(int64_t now_ms) {
  const int64_t oldest = now_ms - keep_ms_;
  while (!rows_.empty() && rows_.front().processing_ms < oldest) rows_.pop_front();
  while (!watermarks_.empty() && watermarks_.front().processing_ms < oldest)
    watermarks_.pop_front();
}

}  // namespace kappa
