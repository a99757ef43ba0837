#include "bench/pipeline_bench.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "broker/embedded/embedded_broker.h"
#include "pipeline/engine/scheduler.h"
#include "pipeline/jobs/pipeline.h"
#include "pipeline/sinks/sqlite_sink.h"
#include "pipeline/time/timestamp.h"

namespace kappa {
namespace {

constexpr int64_t kStart = 1664523720000;  // 2022-09-30 16:42:00 in Seoul

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Options {
  int64_t events = 2000000;
  int runs = 5;
  std::string sqlite = ":memory:";
};

Result<std::unique_ptr<SqliteSink>> open_sink(const Options& o) {
  if (o.sqlite != ":memory:") {
    std::remove(o.sqlite.c_str());
    std::remove((o.sqlite + "-wal").c_str());
    std::remove((o.sqlite + "-shm").c_str());
  }
  return SqliteSink::open(o.sqlite);
}

// Pre-generates the events (not timed), then times the jobs reading them from the start.
Result<double> end_to_end(const Options& o, bool aggregate, int64_t& rows_written) {
  EmbeddedBroker broker;
  auto sink = open_sink(o);
  if (!sink) return sink.status();
  PipelineConfig config;
  config.stage.starting.kind = StartingPosition::Kind::kEarliest;
  if (aggregate) {
    AggregationConfig v1 = PipelineConfig::lab_v1();
    v1.options.starting.kind = StartingPosition::Kind::kEarliest;
    config.aggregations = {v1};
  }
  auto pipeline = Pipeline::create(config, broker, **sink);
  if (!pipeline) return pipeline.status();
  KAPPA_RETURN_IF_ERROR(broker.create_topic("events", 1));
  GeneratorSpec spec;
  spec.rate = 1000;
  spec.count = o.events;
  GeneratorJob generator("bench", spec, broker, (*pipeline)->zone(), kStart);
  const int64_t end = kStart + o.events;  // 1,000 a second: one millisecond each
  KAPPA_RETURN_IF_ERROR(generator.run(end));

  SimulatedClock clock(end);
  SimulatedScheduler scheduler(clock, **pipeline);
  const auto began = std::chrono::steady_clock::now();
  KAPPA_RETURN_IF_ERROR((*pipeline)->start(clock.now_ms()));
  KAPPA_RETURN_IF_ERROR(scheduler.run_until_idle(3600 * 1000));
  const double elapsed = seconds_since(began);
  const auto* stage = (*pipeline)->query("stage");
  if (stage->totals().rows_out != o.events) {
    return Status::internal("the stage job staged " + std::to_string(stage->totals().rows_out) +
                            " of " + std::to_string(o.events) + " events");
  }
  rows_written = aggregate ? (*pipeline)->query("events_users_v1")->totals().rows_out : 0;
  return static_cast<double>(o.events) / elapsed;
}

Result<double> sim_day(const Options& o, int64_t& batches, int64_t& rows_written) {
  EmbeddedBroker broker;
  auto sink = open_sink(o);
  if (!sink) return sink.status();
  PipelineConfig config;
  config.aggregations = {PipelineConfig::lab_v1()};
  auto pipeline = Pipeline::create(config, broker, **sink);
  if (!pipeline) return pipeline.status();
  SimulatedClock clock(kStart);
  SimulatedScheduler scheduler(clock, **pipeline);
  const auto began = std::chrono::steady_clock::now();
  KAPPA_RETURN_IF_ERROR((*pipeline)->start(clock.now_ms()));
  GeneratorSpec spec;
  spec.count = 86400;
  (*pipeline)->add_generator(spec, clock.now_ms());
  KAPPA_RETURN_IF_ERROR(scheduler.advance_to(kStart + 86400 * 1000 + 30 * 1000));
  const double elapsed = seconds_since(began);
  batches = 0;
  for (auto* q : (*pipeline)->queries()) batches += q->totals().batches;
  rows_written = (*pipeline)->query("events_users_v1")->totals().rows_out;
  return elapsed;
}

}  // namespace

int pipeline_bench_command(const std::vector<std::string>& args, std::ostream& out,
                           std::ostream& err) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) return "";
      return args[++i];
    };
    try {
      if (args[i] == "--events")
        o.events = std::stoll(value());
      else if (args[i] == "--runs")
        o.runs = std::stoi(value());
      else if (args[i] == "--sqlite-file")
        o.sqlite = value();
      else {
        err << "kappa: unknown option " << args[i] << " for bench pipeline\n";
        return 2;
      }
    } catch (const std::exception&) {
      err << "kappa: " << args[i] << " needs a number\n";
      return 2;
    }
  }
  if (o.events < 1 || o.runs < 1 || o.sqlite.empty()) {
    err << "kappa: --events and --runs must be positive, --sqlite-file needs a path\n";
    return 2;
  }
  std::vector<double> e2e, stage, day;
  int64_t rows = 0, day_batches = 0, day_rows = 0;
  for (int r = 0; r < o.runs; ++r) {
    auto a = end_to_end(o, true, rows);
    int64_t ignored = 0;
    auto s = end_to_end(o, false, ignored);
    auto d = sim_day(o, day_batches, day_rows);
    for (const Status& st : {a.status(), s.status(), d.status()}) {
      if (!st.is_ok()) {
        err << "kappa: bench failed: " << st.message() << "\n";
        return 1;
      }
    }
    e2e.push_back(*a);
    stage.push_back(*s);
    day.push_back(*d);
  }
  out << "runs " << o.runs << "\n";
  out << "events " << o.events << "\n";
  out << "sink sqlite:" << o.sqlite << "\n";
  out << "end_to_end_events_per_s " << static_cast<int64_t>(median(e2e)) << "\n";
  out << "end_to_end_rows_written " << rows << "\n";
  out << "stage_events_per_s " << static_cast<int64_t>(median(stage)) << "\n";
  out << "sim_day_wall_s " << median(day) << "\n";
  out << "sim_day_batches " << day_batches << "\n";
  out << "sim_day_rows_written " << day_rows << "\n";
  return 0;
}

}  // namespace kappa
