#include "bench/pipeline_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <simdjson.h>

#include "broker/embedded/embedded_broker.h"
#include "pipeline/codec/event_codec.h"
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
  OutputMode mode = OutputMode::kAppend;

  AggregationConfig v1() const {
    AggregationConfig a = PipelineConfig::lab_v1();
    a.spec.mode = mode;
    return a;
  }
};

Result<std::unique_ptr<SqliteSink>> open_sink(const Options& o) {
  if (o.sqlite != ":memory:") {
    std::remove(o.sqlite.c_str());
    std::remove((o.sqlite + "-wal").c_str());
    std::remove((o.sqlite + "-shm").c_str());
  }
  return SqliteSink::open(o.sqlite);
}

// Writes o.events events to a new topic `events`, 1,000 a second (one millisecond each) from
// kStart, as the lab's generator does.
Status generate(const Options& o, EmbeddedBroker& broker, const TimeZone& zone) {
  KAPPA_RETURN_IF_ERROR(broker.create_topic("events", 1));
  GeneratorSpec spec;
  spec.rate = 1000;
  spec.count = o.events;
  GeneratorJob generator("bench", spec, broker, zone, kStart);
  return generator.run(kStart + o.events);
}

// Pre-generates the events (not timed), then times the jobs reading them from the start.
Result<double> end_to_end(const Options& o, bool aggregate, int64_t& rows_written) {
  EmbeddedBroker broker;
  auto sink = open_sink(o);
  if (!sink) return sink.status();
  PipelineConfig config;
  config.stage.starting.kind = StartingPosition::Kind::kEarliest;
  if (aggregate) {
    AggregationConfig v1 = o.v1();
    v1.options.starting.kind = StartingPosition::Kind::kEarliest;
    config.aggregations = {v1};
  }
  auto pipeline = Pipeline::create(config, broker, **sink);
  if (!pipeline) return pipeline.status();
  KAPPA_RETURN_IF_ERROR(generate(o, broker, (*pipeline)->zone()));
  const int64_t end = kStart + o.events;

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

// The same work with the stage and the aggregation on threads of their own, as the services run
// them: one pipeline of the stage job alone, one of the aggregation alone reading events_stages
// as the stage writes it, over one embedded broker. The stage reads in batches of
// kTwoThreadBatch events so that the aggregation has something to do while it runs.
constexpr int64_t kTwoThreadBatch = 65536;

Result<double> end_to_end_two_threads(const Options& o, int64_t& rows_written) {
  EmbeddedBroker broker;
  auto sink = open_sink(o);
  if (!sink) return sink.status();
  PipelineConfig stage_config;
  stage_config.stage.starting.kind = StartingPosition::Kind::kEarliest;
  stage_config.stage.max_records_per_batch = kTwoThreadBatch;
  PipelineConfig aggregate_config;
  aggregate_config.stage_enabled = false;
  AggregationConfig v1 = o.v1();
  v1.options.starting.kind = StartingPosition::Kind::kEarliest;
  aggregate_config.aggregations = {v1};
  auto stage = Pipeline::create(stage_config, broker, **sink);
  if (!stage) return stage.status();
  auto aggregate = Pipeline::create(aggregate_config, broker, **sink);
  if (!aggregate) return aggregate.status();
  KAPPA_RETURN_IF_ERROR(generate(o, broker, (*stage)->zone()));
  const int64_t end = kStart + o.events;

  SimulatedClock stage_clock(end), aggregate_clock(end);
  SimulatedScheduler stage_scheduler(stage_clock, **stage);
  SimulatedScheduler aggregate_scheduler(aggregate_clock, **aggregate);
  const auto began = std::chrono::steady_clock::now();
  KAPPA_RETURN_IF_ERROR((*stage)->start(stage_clock.now_ms()));
  KAPPA_RETURN_IF_ERROR((*aggregate)->start(aggregate_clock.now_ms()));
  std::atomic<bool> staged{false};
  Status stage_status;
  std::thread stage_thread([&] {
    stage_status = stage_scheduler.run_until_idle(3600 * 1000);
    staged = true;
  });
  Status aggregate_status;
  for (;;) {
    const bool last = staged.load();  // every staged record is in the log: one more pass
    aggregate_status = aggregate_scheduler.run_until_idle(3600 * 1000);
    if (!aggregate_status.is_ok() || last) break;
    std::this_thread::yield();
  }
  stage_thread.join();
  const double elapsed = seconds_since(began);
  KAPPA_RETURN_IF_ERROR(stage_status);
  KAPPA_RETURN_IF_ERROR(aggregate_status);
  if ((*stage)->query("stage")->totals().rows_out != o.events) {
    return Status::internal("the stage job staged " +
                            std::to_string((*stage)->query("stage")->totals().rows_out) + " of " +
                            std::to_string(o.events) + " events");
  }
  rows_written = (*aggregate)->query("events_users_v1")->totals().rows_out;
  return static_cast<double>(o.events) / elapsed;
}

Result<double> sim_day(const Options& o, int64_t& batches, int64_t& rows_written) {
  EmbeddedBroker broker;
  auto sink = open_sink(o);
  if (!sink) return sink.status();
  PipelineConfig config;
  config.aggregations = {o.v1()};
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

// The JSON work alone, the floor under the pipeline's cost per event: simdjson's On-Demand parser
// reading a source event as the generator wrote it, the staged record encoded
// (append_staged_json, with the enrichment the stage gave that event), and the parser reading
// that record again; nothing else (no log, no batches, no time zone rules). The events and their
// enrichment come from a stage run first (not timed).
Result<double> json_limit(const Options& o) {
  EmbeddedBroker broker;
  auto sink = open_sink(o);
  if (!sink) return sink.status();
  PipelineConfig config;
  config.stage.starting.kind = StartingPosition::Kind::kEarliest;
  auto pipeline = Pipeline::create(config, broker, **sink);
  if (!pipeline) return pipeline.status();
  KAPPA_RETURN_IF_ERROR(generate(o, broker, (*pipeline)->zone()));
  const int64_t end = kStart + o.events;
  SimulatedClock clock(end);
  SimulatedScheduler scheduler(clock, **pipeline);
  KAPPA_RETURN_IF_ERROR((*pipeline)->start(clock.now_ms()));
  KAPPA_RETURN_IF_ERROR(scheduler.run_until_idle(3600 * 1000));

  // Every source event and the enrichment of its staged record; the views point into the
  // embedded broker's memory, which keeps stored bytes where they are.
  std::vector<simdjson::padded_string> sources;
  std::vector<StagedEvent> enrichment;
  EventCodec codec((*pipeline)->zone());
  for (const char* topic : {"events", "events_stages"}) {
    for (int64_t at = 0; at < o.events;) {
      auto got = broker.fetch(topic, 0, at, FetchLimits{});
      if (!got) return got.status();
      if (got->records.empty()) break;
      for (const RecordView& r : got->records) {
        if (!r.value) return Status::internal(std::string("a null value in ") + topic);
        if (topic == std::string_view("events")) {
          sources.emplace_back(r.value->data(), r.value->size());
          continue;
        }
        StagedEvent e;
        DecodeFailure why;
        if (!codec.decode_staged(r.value, e, why)) return Status::internal(why.detail);
        enrichment.push_back(e);
      }
      at = got->next_offset;
    }
  }
  if (sources.size() != enrichment.size() || static_cast<int64_t>(sources.size()) != o.events) {
    return Status::internal("json limit: " + std::to_string(sources.size()) + " events, " +
                            std::to_string(enrichment.size()) + " staged records");
  }

  simdjson::ondemand::parser parser;
  std::string staged;
  staged.reserve(4096);  // room for simdjson's padding: parsed in place
  int64_t checksum = 0;
  const auto began = std::chrono::steady_clock::now();
  for (size_t i = 0; i < sources.size(); ++i) {
    simdjson::ondemand::document source;
    int64_t id = 0;
    std::string_view hello, time;
    if (parser.iterate(sources[i]).get(source) || source["hello"].get_string().get(hello) ||
        source["id"].get_int64().get(id) || source["time"].get_string().get(time)) {
      return Status::internal("json limit: source event " + std::to_string(i) + " did not parse");
    }
    StagedEvent e = enrichment[i];
    e.time = time;
    e.hello = hello;
    e.id = id;
    staged.clear();
    append_staged_json(staged, e);
    simdjson::ondemand::document back;
    std::string_view staged_time;
    int64_t user_id = 0, staged_id = 0;
    if (parser.iterate(staged.data(), staged.size(), staged.capacity()).get(back) ||
        back["time"].get_string().get(staged_time) || back["user_id"].get_int64().get(user_id) ||
        back["id"].get_int64().get(staged_id)) {
      return Status::internal("json limit: staged record " + std::to_string(i) + " did not parse");
    }
    checksum += staged_id + user_id + static_cast<int64_t>(staged_time.size());
  }
  const double elapsed = seconds_since(began);
  if (checksum == 0) return Status::internal("json limit: nothing was read");
  return static_cast<double>(sources.size()) / elapsed;
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
      else if (args[i] == "--mode") {
        const std::string mode = value();
        if (mode == "append") {
          o.mode = OutputMode::kAppend;
        } else if (mode == "update") {
          o.mode = OutputMode::kUpdate;
        } else {
          err << "kappa: --mode is append or update, not '" << mode << "'\n";
          return 2;
        }
      } else {
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
  std::vector<double> e2e, e2e_two, stage, day, limit;
  int64_t rows = 0, two_rows = 0, day_batches = 0, day_rows = 0;
  for (int r = 0; r < o.runs; ++r) {
    auto a = end_to_end(o, true, rows);
    auto t = end_to_end_two_threads(o, two_rows);
    int64_t ignored = 0;
    auto s = end_to_end(o, false, ignored);
    auto d = sim_day(o, day_batches, day_rows);
    auto j = json_limit(o);
    for (const Status& st : {a.status(), t.status(), s.status(), d.status(), j.status()}) {
      if (!st.is_ok()) {
        err << "kappa: bench failed: " << st.message() << "\n";
        return 1;
      }
    }
    // Append mode writes each window once, whatever the batches; update mode writes a window
    // again in every batch that changes it, so its row count follows the batch boundaries.
    if (o.mode == OutputMode::kAppend && two_rows != rows) {
      err << "kappa: bench failed: two threads wrote " << two_rows << " rows, one thread " << rows
          << "\n";
      return 1;
    }
    e2e.push_back(*a);
    e2e_two.push_back(*t);
    stage.push_back(*s);
    day.push_back(*d);
    limit.push_back(*j);
  }
  out << "runs " << o.runs << "\n";
  out << "events " << o.events << "\n";
  out << "sink sqlite:" << o.sqlite << "\n";
  out << "mode " << (o.mode == OutputMode::kUpdate ? "update" : "append") << "\n";
  out << "end_to_end_events_per_s " << static_cast<int64_t>(median(e2e)) << "\n";
  out << "end_to_end_rows_written " << rows << "\n";
  out << "end_to_end_two_threads_events_per_s " << static_cast<int64_t>(median(e2e_two)) << "\n";
  out << "end_to_end_two_threads_rows_written " << two_rows << "\n";
  out << "stage_events_per_s " << static_cast<int64_t>(median(stage)) << "\n";
  out << "sim_day_wall_s " << median(day) << "\n";
  out << "json_limit_records_per_s " << static_cast<int64_t>(median(limit)) << "\n";
  out << "end_to_end_share_of_json_limit " << median(e2e) / median(limit) << "\n";
  out << "sim_day_batches " << day_batches << "\n";
  out << "sim_day_rows_written " << day_rows << "\n";
  return 0;
}

}  // namespace kappa
