#include "replay/scenario_runner.h"

#include <chrono>
#include <iomanip>

#include "broker/partitioner.h"
#include "pipeline/event_codec.h"
#include "pipeline/scheduler.h"
#include "pipeline/timestamp.h"
#include "replay/table_diff.h"

namespace kappa {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

class Run {
 public:
  Run(const Scenario& s, Log& log, Sink& sink, const RunOptions& options, RunReport& report)
      : s_(s), log_(log), sink_(sink), options_(options), report_(report), clock_(s.start_ms) {}

  Status setup() {
    auto p = Pipeline::create(s_.pipeline, log_, sink_);
    if (!p) return p.status();
    pipeline_ = std::move(*p);
    if (options_.trace) pipeline_->on_batch([this](const BatchReport& b) { trace(b); });
    scheduler_ = std::make_unique<SimulatedScheduler>(clock_, *pipeline_);
    return pipeline_->start(clock_.now_ms());
  }

  Status step(const Step& st) {
    return std::visit(
        Overloaded{
            [&](const GenerateStep& g) { return generate(g); },
            [&](const ProduceStep& p) { return produce(p); },
            [&](const AdvanceStep& a) { return advance(a); },
            [&](const RunUntilIdleStep& r) { return scheduler_->run_until_idle(r.limit_ms); },
            [&](const ExpectStep& e) { return expect(st, e); },
        },
        st.action);
  }

  void print_tables() {
    for (const auto& a : pipeline_->config().aggregations) {
      auto rows = sink_.read_table(a.spec.table);
      if (!rows) {
        *options_.tables << a.spec.table << ": " << rows.status().message() << "\n";
        continue;
      }
      print_table(*options_.tables, a.spec.table, a.spec.dimension, *rows);
    }
  }

 private:
  Status generate(const GenerateStep& g) {
    pipeline_->add_generator(g.spec, clock_.now_ms());
    return Status::ok();
  }

  Status produce(const ProduceStep& p) {
    std::string value;
    if (p.event) {
      std::string time;
      if (p.event->time)
        time = *p.event->time;
      else
        time = format_timestamp(clock_.now_ms() - *p.event->time_ago_ms, pipeline_->zone());
      append_source_event_json(value, p.event->id, p.event->hello, time);
    } else if (p.value) {
      value = *p.value;
    }
    auto partitions = log_.partition_count(p.topic);
    if (!partitions) {
      KAPPA_RETURN_IF_ERROR(log_.create_topic(p.topic, 1));
      partitions = log_.partition_count(p.topic);
      if (!partitions) return partitions.status();
    }
    std::vector<OutgoingRecord> records(static_cast<size_t>(p.repeat));
    for (auto& r : records) {
      if (p.key) r.key = *p.key;
      if (p.event || p.value) r.value = value;
      r.timestamp_ms = p.timestamp_ms.value_or(clock_.now_ms());
      r.partition =
          p.partition != kAnyPartition ? p.partition : partitioner_.partition(r.key, *partitions);
      if (r.partition >= *partitions) {
        return Status::invalid_argument("topic " + p.topic + " has " + std::to_string(*partitions) +
                                        " partitions; there is no partition " +
                                        std::to_string(r.partition));
      }
    }
    auto placed = log_.produce(p.topic, records);
    return placed.status();
  }

  Status advance(const AdvanceStep& a) {
    const int64_t to = a.to_ms ? *a.to_ms : clock_.now_ms() + *a.by_ms;
    if (to < clock_.now_ms()) {
      return Status::invalid_argument("cannot advance the clock back to " +
                                      format_timestamp_ms(to, pipeline_->zone()) + " from " +
                                      format_timestamp_ms(clock_.now_ms(), pipeline_->zone()));
    }
    return scheduler_->advance_to(to);
  }

  Status expect(const Step& st, const ExpectStep& step) {
    const auto& t = std::get<ExpectTableStep>(step);
    ++report_.expectations;
    auto rows = sink_.read_table(t.table);
    if (!rows) {
      if (rows.status().code() != StatusCode::kNotFound) return rows.status();
      rows = std::vector<TableRow>{};
      if (t.rows || !t.contains.empty() || t.row_count) {
        fail(st, {"table " + t.table + " does not exist (no batch has been written to it)"});
        return Status::ok();
      }
    }
    report_.rows_checked += static_cast<int64_t>(rows->size());
    std::vector<std::string> lines;
    auto just_rows = [](const std::vector<ExpectedRow>& expected) {
      std::vector<TableRow> out;
      for (const auto& r : expected) out.push_back(r.row);
      return out;
    };
    // Differences about an expected row say where that row is written.
    auto line_of = [](const std::vector<ExpectedRow>& expected, const TableRow& row) {
      for (const auto& e : expected) {
        if (e.row == row) return " (line " + std::to_string(e.where.location.line) + ")";
      }
      return std::string();
    };
    auto report = [&](const std::vector<ExpectedRow>& expected, const TableDiff& d, bool exact) {
      for (const auto& w : d.wrong_count) {
        lines.push_back("wrong count: " + format_row_key(w.expected) + " expected " +
                        std::to_string(w.expected.count) + ", found " + std::to_string(w.actual) +
                        line_of(expected, w.expected));
      }
      for (const auto& m : d.missing)
        lines.push_back("missing:     " + format_row(m) + line_of(expected, m));
      if (exact) {
        for (const auto& u : d.unexpected) lines.push_back("unexpected:  " + format_row(u));
      }
    };
    if (t.rows) report(*t.rows, diff_rows(just_rows(*t.rows), *rows), true);
    if (!t.contains.empty()) report(t.contains, diff_rows(just_rows(t.contains), *rows), false);
    for (const auto& a : t.absent) {
      for (const auto& r : *rows) {
        if (r == a.row) lines.push_back("present:     " + format_row(r) + " (expected absent)");
      }
    }
    if (t.row_count && static_cast<int64_t>(rows->size()) != *t.row_count) {
      lines.push_back("row count: expected " + std::to_string(*t.row_count) + ", found " +
                      std::to_string(rows->size()));
    }
    if (!lines.empty()) fail(st, std::move(lines));
    return Status::ok();
  }

  void fail(const Step& st, std::vector<std::string> lines) {
    report_.failures.push_back(
        {st.where, st.label + " at " + format_timestamp(clock_.now_ms(), pipeline_->zone()),
         std::move(lines)});
  }

  void trace(const BatchReport& b) {
    const TimeZone& z = pipeline_->zone();
    auto& out = *options_.trace;
    out << "[" << format_timestamp(b.plan.trigger_ms, z) << "] " << b.query << " batch "
        << b.plan.batch_id << (b.retried ? " (re-run)" : "") << ": read " << b.result.rows_in;
    std::string ranges;
    for (size_t i = 0; i < b.plan.start.size(); ++i) {
      if (b.plan.start[i].offset == b.plan.end[i].offset) continue;
      ranges += " " + std::to_string(b.plan.start[i].partition) + ":[" +
                std::to_string(b.plan.start[i].offset) + "," +
                std::to_string(b.plan.end[i].offset) + ")";
    }
    if (!ranges.empty()) out << " (partition:[from,to)" << ranges << ")";
    if (b.has_watermark) {
      out << ", watermark " << format_timestamp_ms(b.plan.watermark_ms, z) << " -> "
          << format_timestamp_ms(b.next_watermark_ms, z) << ", late " << b.result.late_rows;
      if (b.result.late_rows > 0) out << " (" << b.result.late_groups << " groups)";
    }
    out << ", dead letters " << b.result.dead_letters << ", written " << b.result.rows_out
        << (b.result.sink_skipped ? " (already committed)" : "") << "\n";
  }

  const Scenario& s_;
  Log& log_;
  Sink& sink_;
  const RunOptions& options_;
  RunReport& report_;
  SimulatedClock clock_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<SimulatedScheduler> scheduler_;
  Partitioner partitioner_;
};

}  // namespace

RunReport run_scenario(const Scenario& scenario, Log& log, Sink& sink, const RunOptions& options) {
  const auto began = std::chrono::steady_clock::now();
  RunReport report;
  report.path = scenario.path;
  report.name = scenario.name;
  Run run(scenario, log, sink, options, report);
  report.error = run.setup();
  for (size_t i = 0; report.error.is_ok() && i < scenario.steps.size(); ++i) {
    const Step& st = scenario.steps[i];
    report.error = run.step(st);
    if (!report.error.is_ok()) report.error_where = st.where;
  }
  if (report.error.is_ok() && options.tables) run.print_tables();
  report.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  return report;
}

void print_table(std::ostream& out, const std::string& name, const std::string& dimension,
                 const std::vector<TableRow>& rows) {
  std::vector<std::array<std::string, 4>> cells;
  cells.push_back({"start", "end", dimension, "count"});
  for (const auto& r : rows)
    cells.push_back({r.start, r.end, to_display(r.dim), std::to_string(r.count)});
  std::array<size_t, 4> width{};
  for (const auto& c : cells) {
    for (size_t i = 0; i < 4; ++i) width[i] = std::max(width[i], c[i].size());
  }
  std::string rule = "+";
  for (size_t w : width) rule += std::string(w, '-') + "+";
  out << name << " (" << rows.size() << " rows)\n" << rule << "\n";
  for (size_t k = 0; k < cells.size(); ++k) {
    out << "|";
    for (size_t i = 0; i < 4; ++i)
      out << std::left << std::setw(static_cast<int>(width[i])) << cells[k][i] << "|";
    out << "\n";
    if (k == 0) out << rule << "\n";
  }
  out << rule << "\n";
}

}  // namespace kappa
