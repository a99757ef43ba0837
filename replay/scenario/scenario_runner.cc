#include "replay/scenario/scenario_runner.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "pipeline/time/timestamp.h"
#include "replay/scenario/run.h"

namespace kappa {

std::string describe_batch(const BatchReport& b, const TimeZone& z) {
  std::ostringstream out;
  out << "[" << format_timestamp(b.ran_at_ms, z) << "] " << b.query << " batch " << b.plan.batch_id
      << (b.retried ? " (re-run, planned at " + format_timestamp(b.plan.trigger_ms, z) + ")" : "");
  if (b.failure) {
    out << ": FAILED (" << b.failure->message() << "); not checkpointed, the batch runs again";
    return out.str();
  }
  out << ": read " << b.result.rows_in;
  std::string ranges;
  for (size_t i = 0; i < b.plan.start.size(); ++i) {
    if (b.plan.start[i].offset == b.plan.end[i].offset) continue;
    ranges += " " + std::to_string(b.plan.start[i].partition) + ":[" +
              std::to_string(b.plan.start[i].offset) + "," + std::to_string(b.plan.end[i].offset) +
              ")";
  }
  if (!ranges.empty()) out << " (partition:[from,to)" << ranges << ")";
  if (b.has_watermark) {
    out << ", watermark " << format_timestamp_ms(b.plan.watermark_ms, z) << " -> "
        << format_timestamp_ms(b.next_watermark_ms, z) << ", late " << b.result.late_rows;
    if (b.result.late_rows > 0) out << " (" << b.result.late_groups << " groups)";
  }
  out << ", dead letters " << b.result.dead_letters << ", written " << b.result.rows_out
      << (b.result.sink_skipped ? " (already committed)" : "");
  return out.str();
}

RunReport run_scenario(const Scenario& scenario, Log& log, Sink& sink, const RunOptions& options) {
  const auto began = std::chrono::steady_clock::now();
  RunReport report;
  report.path = scenario.path;
  report.name = scenario.name;
  {
    runner::Run run(scenario, log, sink, options, report);
    report.error = run.setup();
    for (size_t i = 0; report.error.is_ok() && i < scenario.steps.size(); ++i) {
      const Step& st = scenario.steps[i];
      report.error = run.step(st);
      if (!report.error.is_ok()) report.error_where = st.where;
    }
    if (report.error.is_ok()) run.check_failing_queries();
    if (report.error.is_ok() && options.tables) run.print_tables();
  }
  report.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  return report;
}

void print_table(std::ostream& out, const std::string& name, const std::string& dimension,
                 const std::vector<TableRow>& rows) {
  // Column widths count characters, not bytes, so Korean values line up.
  auto width_of = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
    return n;
  };
  std::vector<std::array<std::string, 4>> cells;
  cells.push_back({"start", "end", dimension, "count"});
  for (const auto& r : rows)
    cells.push_back({r.start, r.end, to_display(r.dim), std::to_string(r.count)});
  std::array<size_t, 4> width{};
  for (const auto& c : cells) {
    for (size_t i = 0; i < 4; ++i) width[i] = std::max(width[i], width_of(c[i]));
  }
  std::string rule = "+";
  for (size_t w : width) rule += std::string(w, '-') + "+";
  out << name << " (" << rows.size() << " rows)\n" << rule << "\n";
  for (size_t k = 0; k < cells.size(); ++k) {
    out << "|";
    for (size_t i = 0; i < 4; ++i)
      out << cells[k][i] << std::string(width[i] - width_of(cells[k][i]), ' ') << "|";
    out << "\n";
    if (k == 0) out << rule << "\n";
  }
  out << rule << "\n";
}

}  // namespace kappa
