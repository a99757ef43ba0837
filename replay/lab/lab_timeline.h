// Timeline: what the lab's chart of event time against processing time is drawn from
// (GET /api/timeline): the rows the aggregations read and the watermark each batch ran with,
// for the last few minutes of processing time.
//
// Both are bounded rings: an entry older than `keep_ms` (processing time) or beyond the
// capacity goes, oldest first, so memory stays flat however long the lab runs. Not
// thread-safe: the lab keeps it on the pipeline's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace kappa {

struct TimelineRow {
  int64_t id = 0;
  int64_t event_ms = 0;       // the row's event time (`time` in the session zone)
  int64_t processing_ms = 0;  // when the batch that read it ran
  int64_t arrival_ms = 0;     // the record's timestamp in events_stages
  bool late = false;          // dropped: its window had closed under the batch's watermark
  int query = 0;              // index into Timeline::queries()
};

struct TimelineWatermark {
  int64_t processing_ms = 0;
  int64_t watermark_ms = 0;       // W(N), the watermark the batch ran with (and judged rows by)
  int64_t next_watermark_ms = 0;  // W(N+1), after the batch
  int query = 0;
};

class Timeline {
 public:
  Timeline(int64_t keep_ms, size_t max_rows, size_t max_watermarks)
      : keep_ms_(keep_ms), max_rows_(max_rows), max_watermarks_(max_watermarks) {}

  // The index of a query's name (queries are few: the lab's aggregations).
  int query_index(const std::string& query);
  const std::vector<std::string>& queries() const { return queries_; }

  void add_row(const TimelineRow& row);
  void add_watermark(const TimelineWatermark& w);
  // Drops what is older than keep_ms before now_ms.
  void trim(int64_t now_ms);

  const std::deque<TimelineRow>& rows() const { return rows_; }
  const std::deque<TimelineWatermark>& watermarks() const { return watermarks_; }

 private:
  int64_t keep_ms_;
  size_t max_rows_;
  size_t max_watermarks_;
  std::vector<std::string> queries_;
  std::deque<TimelineRow> rows_;
  std::deque<TimelineWatermark> watermarks_;
};

}  // namespace kappa
