// The lab's terminal view: at every v1 batch, its latest windows and figures (reprinted like
// Spark's displayStream, clearing the screen only when stdout is a terminal); a progress line
// for a running recovery; the jobs' figures when the lab stops.
#include "replay/lab/lab_core.h"

#include <algorithm>
#include <sstream>

#include "pipeline/jobs/pipeline.h"
#include "pipeline/time/clock.h"
#include "pipeline/time/timestamp.h"

namespace kappa {

std::string Lab::progress_line(const std::string& id) {
  MicroBatchQuery* q = pipeline_->query(id);
  if (!q) return "";
  const int64_t left = behind(*q);
  const int64_t done = [&] {
    int64_t n = 0;
    for (const auto& c : q->committed_offsets()) n += c.offset;
    return n;
  }();
  const int64_t all = done + left;
  const double rate = progress_[id].records_per_s;
  const int width = 30;
  const int filled = all == 0 ? width : static_cast<int>(width * done / all);
  std::ostringstream line;
  line << "recovery " << id << " [" << std::string(filled, '#') << std::string(width - filled, '.')
       << "] " << done << "/" << all << " records, " << static_cast<int64_t>(rate)
       << " records/s, ";
  if (job_state(*q) == "caught_up") {
    line << "caught up with " << kV1;
  } else if (rate > 0) {
    line << "ETA " << static_cast<int64_t>(static_cast<double>(left) / rate + 0.999) << " s";
  } else {
    line << "ETA unknown";
  }
  return line.str();
}

void Lab::print_view(const BatchReport& b) {
  std::ostringstream v;
  if (tty_) v << "\033[H\033[2J";
  const int64_t now = clock_.now_ms();
  v << "kappa lab  " << format_timestamp(now, zone_) << " " << zone_.name() << "   kafka "
    << kafka_address_ << "   web http://" << web_address_ << "/\n";
  v << "-------------------------------------------\n";
  v << "Batch: " << b.plan.batch_id << " (" << b.query << ")\n";
  v << "-------------------------------------------\n";
  const MicroBatchQuery::Totals t = totals(kV1);
  const MicroBatchQuery::Totals s = totals(pipeline_->config().stage_query_id);
  v << "watermark " << format_timestamp(b.plan.watermark_ms, zone_) << " -> "
    << format_timestamp(b.next_watermark_ms, zone_) << "   rows in " << b.result.rows_in
    << " (total " << t.rows_in << ")   dropped as late " << b.result.late_rows << " (total "
    << t.late_rows << ")   dead letters " << s.dead_letters + t.dead_letters << "   written "
    << b.result.rows_out << "\n";
  v << "topics:";
  for (const TopicConfig* topic :
       {&pipeline_->config().events, &pipeline_->config().stages, &pipeline_->config().dlq}) {
    v << "  " << topic->name;
    if (auto ends = log_.end_offsets(topic->name)) {
      for (const auto& e : *ends) v << " " << e.partition << ":" << e.offset;
    }
  }
  v << "\n";
  auto rows = sink_.read_table(kV1);
  const auto& dim = specs_[kV1].dimension;
  if (rows) {
    std::vector<TableRow> latest(*rows);
    std::stable_sort(latest.begin(), latest.end(),
                     [](const TableRow& a, const TableRow& c) { return a.start > c.start; });
    if (latest.size() > 10) latest.resize(10);
    size_t dim_width = std::max<size_t>(dim.size(), 9);
    for (const auto& r : latest) dim_width = std::max(dim_width, to_display(r.dim).size());
    const std::string rule =
        "+-------------------+-------------------+" + std::string(dim_width, '-') + "+-----+\n";
    auto pad = [](std::string text, size_t w) {
      if (text.size() < w) text += std::string(w - text.size(), ' ');
      return text;
    };
    v << rule << "|" << pad("window_start", 19) << "|" << pad("window_end", 19) << "|"
      << pad(dim, dim_width) << "|count|\n"
      << rule;
    for (const auto& r : latest) {
      v << "|" << pad(r.start, 19) << "|" << pad(r.end, 19) << "|"
        << pad(to_display(r.dim), dim_width) << "|" << pad(std::to_string(r.count), 5) << "|\n";
    }
    v << rule << "(the latest " << latest.size() << " of " << rows->size() << " rows of " << kV1
      << ")\n";
  } else {
    v << "(" << kV1 << " has no rows yet)\n";
  }
  for (const auto& e : state_.aggregations) {
    // Once a recovery has caught up it follows the log a trigger behind v1: no progress to show.
    if (e.kind == "recovery" && e.on && !announced_caught_up_.count(e.table))
      v << progress_line(e.table) << "\n";
  }
  out_ << v.str() << std::flush;
}

void Lab::print_totals() {
  for (MicroBatchQuery* q : pipeline_->queries()) {
    const auto t = totals(q->name());
    out_ << "kappa lab: " << q->name() << " stopped after " << t.batches << " batches: read "
         << t.rows_in << ", written " << t.rows_out << ", dead letters " << t.dead_letters
         << ", late " << t.late_rows << std::endl;
  }
  if (generator_)
    out_ << "kappa lab: generator stopped before id " << generator_->next_id() << std::endl;
}

}  // namespace kappa
