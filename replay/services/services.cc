#include "replay/services/services.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "broker/client/kafka_log.h"
#include "broker/url.h"
#include "pipeline/engine/realtime.h"
#include "pipeline/jobs/pipeline.h"
#include "pipeline/sinks/sqlite_sink.h"
#include "pipeline/time/duration.h"
#include "pipeline/time/timestamp.h"
#include "replay/backends/backends.h"
#include "replay/scenario/scenario_runner.h"
#include "replay/services/signals.h"

namespace kappa {
namespace {

// --flag value pairs; every flag a service accepts is listed, anything else is an error.
struct Flags {
  std::map<std::string, std::string> values;
  std::string problem;
  std::optional<std::string> get(const std::string& k) const {
    auto it = values.find(k);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

struct Service {
  std::unique_ptr<Log> log;
  std::unique_ptr<Sink> sink;
  std::unique_ptr<GroupMembership> group;  // outlives the pipeline that uses it
  std::unique_ptr<Pipeline> pipeline;
};

Result<std::unique_ptr<Log>> open_broker(const Flags& f) {
  const std::string url = f.get("--broker").value_or("");
  if (url.empty() || url == "embedded") {
    return Status::invalid_argument(
        "a service needs a broker other processes can reach: --broker kafka://HOST:PORT");
  }
  auto log = KafkaLog::open(url);
  if (!log) return log.status();
  return std::unique_ptr<Log>(std::move(*log));
}

Result<std::unique_ptr<Sink>> open_sink(const Flags& f) {
  return open_sink_url(f.get("--sink").value_or("sqlite:kappa.db"));
}

Result<int64_t> duration_flag(const Flags& f, const std::string& name, int64_t fallback) {
  auto v = f.get(name);
  if (!v) return fallback;
  auto d = parse_duration(*v);
  if (!d) return Status::invalid_argument(name + ": " + d.status().message());
  return *d;
}

Result<int64_t> integer_flag(const Flags& f, const std::string& name, int64_t fallback,
                             int64_t min) {
  auto v = f.get(name);
  if (!v) return fallback;
  if (auto n = parse_integer(*v); n && *n >= min) return *n;
  return Status::invalid_argument(name + ": expected an integer >= " + std::to_string(min) +
                                  ", found '" + *v + "'");
}

// Where checkpoints live: --checkpoint DIR, else the user's state directory
// ($XDG_STATE_HOME/kappa/checkpoints, by default ~/.local/state/kappa/checkpoints), never the
// working directory, so a service started from another folder finds its checkpoint. Absolute, so
// that the start-up line says exactly which one is used.
Result<std::string> checkpoint_dir_flag(const Flags& f) {
  std::filesystem::path dir;
  if (auto given = f.get("--checkpoint")) {
    dir = *given;
  } else if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/') {
    dir = std::filesystem::path(state) / "kappa" / "checkpoints";
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    dir = std::filesystem::path(home) / ".local" / "state" / "kappa" / "checkpoints";
  } else {
    return Status::invalid_argument(
        "--checkpoint: neither XDG_STATE_HOME nor HOME is set, so there is no default place for "
        "checkpoints: pass --checkpoint DIR");
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(dir, ec);
  return ec ? dir.string() : absolute.lexically_normal().string();
}

// The settings every service shares: topics, zone, trigger, checkpoints.
Result<PipelineConfig> base_config(const Flags& f) {
  PipelineConfig c;
  c.aggregations.clear();
  c.stage_enabled = false;
  if (auto z = f.get("--zone")) c.zone = *z;
  auto trigger = duration_flag(f, "--trigger", c.trigger_ms);
  if (!trigger) return trigger.status();
  c.trigger_ms = *trigger;
  auto partitions = integer_flag(f, "--partitions", 1, 1);
  if (!partitions) return partitions.status();
  c.events.partitions = c.stages.partitions = c.dlq.partitions = static_cast<int32_t>(*partitions);
  auto checkpoints = checkpoint_dir_flag(f);
  if (!checkpoints) return checkpoints.status();
  c.checkpoint_dir = *checkpoints;
  if (auto prefix = f.get("--topic-prefix")) {
    for (TopicConfig* t : {&c.events, &c.stages, &c.dlq}) {
      t->name = *prefix + t->name;
      if (Status s = validate_topic_name(t->name); !s)
        return Status::invalid_argument("--topic-prefix: " + s.message());
    }
  }
  return c;
}

Result<StartingPosition> starting_flag(const Flags& f, StartingPosition::Kind fallback,
                                       const TimeZone& zone) {
  StartingPosition p;
  p.kind = fallback;
  auto v = f.get("--from");
  if (!v) return p;
  if (*v == "earliest") {
    p.kind = StartingPosition::Kind::kEarliest;
  } else if (*v == "latest") {
    p.kind = StartingPosition::Kind::kLatest;
  } else {
    auto t = parse_timestamp(*v, zone);
    if (!t)
      return Status::invalid_argument("--from: expected earliest, latest or a time, found '" + *v +
                                      "'");
    p.kind = StartingPosition::Kind::kTimestamp;
    p.timestamp_ms = *t;
  }
  return p;
}

Result<AggregationConfig> aggregation_flags(const Flags& f, const std::string& default_table,
                                            StartingPosition::Kind default_start,
                                            const TimeZone& zone) {
  AggregationConfig a;
  a.spec.table = f.get("--table").value_or(default_table);
  if (auto q = f.get("--query")) a.spec.query = *q;
  if (auto d = f.get("--dimension")) a.spec.dimension = *d;
  auto window = duration_flag(f, "--window", 10000);
  if (!window) return window.status();
  a.spec.window.size_ms = a.spec.window.slide_ms = *window;
  auto slide = duration_flag(f, "--slide", *window);
  if (!slide) return slide.status();
  a.spec.window.slide_ms = *slide;
  auto watermark = duration_flag(f, "--watermark", 15000);
  if (!watermark) return watermark.status();
  a.spec.watermark_delay_ms = *watermark;
  auto cap = integer_flag(f, "--max-records-per-batch", 0, 0);
  if (!cap) return cap.status();
  a.options.max_records_per_batch = *cap;
  auto start = starting_flag(f, default_start, zone);
  if (!start) return start.status();
  a.options.starting = *start;
  return a;
}

int fail(std::ostream& err, const Status& s) {
  err << "kappa: " << redact(s.message()) << "\n";
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ? 2 : 1;
}

// Runs the pipeline on the system clock until SIGINT/SIGTERM (or, with until_idle, until it has
// nothing left to do), printing each batch; then prints each query's totals.
int run_service(Service& svc, SystemClock& clock, bool until_idle, std::ostream& out,
                std::ostream& err) {
  const TimeZone zone = svc.pipeline->zone();
  svc.pipeline->on_batch(
      [&](const BatchReport& b) { out << describe_batch(b, zone) << std::endl; });
  install_stop_handlers();
  RealTimeDriver driver(clock, *svc.pipeline);
  const Status s = driver.run(stop_requested(), until_idle);
  for (MicroBatchQuery* q : svc.pipeline->queries()) {
    auto t = svc.pipeline->totals(q->name());
    if (t) {
      out << "kappa: " << q->name() << " stopped after " << t->batches << " batches: read "
          << t->rows_in << ", written " << t->rows_out << ", dead letters " << t->dead_letters
          << ", late " << t->late_rows << std::endl;
    }
  }
  for (GeneratorJob* g : svc.pipeline->generators()) {
    out << "kappa: " << g->name() << " stopped" << std::endl;
  }
  if (!s) return fail(err, s);
  return 0;
}

// The state every service but cutover starts from: its flags as a pipeline config, the zone,
// the broker, and the system clock.
struct Start {
  PipelineConfig config;
  TimeZone zone;
  Service svc;
  SystemClock clock;
};

Result<std::unique_ptr<Start>> start_service(const Flags& f) {
  auto config = base_config(f);
  if (!config) return config.status();
  auto zone = TimeZone::load(config->zone);
  if (!zone) return zone.status();
  auto log = open_broker(f);
  if (!log) return log.status();
  auto s = std::unique_ptr<Start>(new Start{std::move(*config), std::move(*zone), {}, {}});
  s->svc.log = std::move(*log);
  return s;
}

// kappa cutover: points the view at a table.
int cutover_service(const Flags& f, std::ostream& out, std::ostream& err) {
  auto to = f.get("--to");
  if (!to) return fail(err, Status::invalid_argument("cutover needs --to TABLE"));
  auto sink = open_sink(f);
  if (!sink) return fail(err, sink.status());
  const std::string view = f.get("--view").value_or("events_users");
  const auto before = (*sink)->view_target(view);
  if (Status s = (*sink)->point_view(view, *to); !s) return fail(err, s);
  out << "kappa: view " << view << " now reads " << *to;
  if (before && *before) out << " (was " << **before << ")";
  out << " in " << (*sink)->describe() << "\n";
  return 0;
}

// kappa generate: the dummy source.
int generate_service(const Flags& f, std::ostream& out, std::ostream& err) {
  auto started = start_service(f);
  if (!started) return fail(err, started.status());
  auto& [config, zone, svc, clock] = **started;
  bool until_idle = false;
  auto sink = SqliteSink::open(":memory:");  // the source writes no table
  if (!sink) return fail(err, sink.status());
  svc.sink = std::move(*sink);
  GeneratorSpec spec;
  spec.topic.clear();  // the pipeline's events topic (with --topic-prefix)
  auto rate = integer_flag(f, "--rate", 1, 1);
  if (!rate) return fail(err, rate.status());
  spec.rate = *rate;
  auto first = integer_flag(f, "--first-id", 0, 0);
  if (!first) return fail(err, first.status());
  spec.first_id = *first;
  if (f.get("--count")) {
    auto count = integer_flag(f, "--count", 0, 0);
    if (!count) return fail(err, count.status());
    spec.count = *count;
    until_idle = true;
  }
  config.checkpoint_dir.clear();
  auto p = Pipeline::create(config, *svc.log, *svc.sink);
  if (!p) return fail(err, p.status());
  svc.pipeline = std::move(*p);
  if (Status s = svc.pipeline->start(clock.now_ms()); !s) return fail(err, s);
  svc.pipeline->add_generator(spec, clock.now_ms());
  out << "kappa: generating " << spec.rate << " event(s)/s to " << config.events.name << " on "
      << svc.log->describe() << std::endl;
  return run_service(svc, clock, until_idle, out, err);
}

// kappa stage: the stage job, alone or as one member of a consumer group.
int stage_service(const Flags& f, std::ostream& out, std::ostream& err) {
  auto started = start_service(f);
  if (!started) return fail(err, started.status());
  auto& [config, zone, svc, clock] = **started;
  auto sink = SqliteSink::open(":memory:");  // the stage job writes topics only
  if (!sink) return fail(err, sink.status());
  svc.sink = std::move(*sink);
  config.stage_enabled = true;
  if (auto m = f.get("--stage-mode")) {
    auto mode = parse_stage_mode(*m);
    if (!mode)
      return fail(err, Status::invalid_argument("--stage-mode: " + mode.status().message()));
    config.stage_mode = *mode;
  }
  auto start = starting_flag(f, StartingPosition::Kind::kEarliest, zone);
  if (!start) return fail(err, start.status());
  config.stage.starting = *start;
  std::string instance = f.get("--instance").value_or("");
  if (auto group = f.get("--group")) {
    // Several stage processes share the partitions of events: each needs its own query id
    // (checkpoint, origin headers). Without --instance, take the first free slot on this host.
    if (Status s = svc.log->create_topic(config.events.name, config.events.partitions); !s)
      return fail(err, s);
    auto* kafka = dynamic_cast<KafkaLog*>(svc.log.get());
    auto member = kafka->join_group(*group, config.events.name);
    if (!member) return fail(err, member.status());
    svc.group = std::move(*member);
    config.stage.group = svc.group.get();
  }
  const bool auto_instance = config.stage.group && instance.empty();
  char host[256] = "host";
  ::gethostname(host, sizeof host - 1);
  for (int slot = 1;; ++slot) {
    if (config.stage.group) {
      config.stage_query_id =
          "stage-" + (auto_instance ? std::string(host) + "-" + std::to_string(slot) : instance);
    }
    auto p = Pipeline::create(config, *svc.log, *svc.sink);
    if (p) {
      svc.pipeline = std::move(*p);
      break;
    }
    if (!auto_instance || p.status().code() != StatusCode::kFailedPrecondition || slot >= 64) {
      return fail(err, p.status());
    }
  }
  if (Status s = svc.pipeline->start(clock.now_ms()); !s) return fail(err, s);
  out << "kappa: staging " << config.events.name << " -> " << config.stages.name << " on "
      << svc.log->describe() << " as " << config.stage_query_id
      << (svc.group ? " in " + svc.group->describe() : std::string()) << " (checkpoint "
      << config.checkpoint_dir << "/" << config.stage_query_id << ")" << std::endl;
  return run_service(svc, clock, false, out, err);
}

// kappa aggregate and kappa recover: an aggregation into the sink; a recovery writes a new
// table (guarded) and may stop once it has caught up.
int aggregate_service(const Flags& f, bool recover, std::ostream& out, std::ostream& err) {
  auto started = start_service(f);
  if (!started) return fail(err, started.status());
  auto& [config, zone, svc, clock] = **started;
  bool until_idle = false;
  auto sink = open_sink(f);
  if (!sink) return fail(err, sink.status());
  svc.sink = std::move(*sink);
  auto aggregation = aggregation_flags(f, recover ? "events_users_v2" : "events_users_v1",
                                       StartingPosition::Kind::kEarliest, zone);
  if (!aggregation) return fail(err, aggregation.status());
  if (!recover) config.aggregations.push_back(*aggregation);
  auto p = Pipeline::create(config, *svc.log, *svc.sink);
  if (!p) return fail(err, p.status());
  svc.pipeline = std::move(*p);
  if (Status s = svc.pipeline->start(clock.now_ms()); !s) return fail(err, s);
  if (recover) {
    // A recovery that already has a checkpoint continues it; a new one must pass the guard.
    const std::string id =
        aggregation->spec.query.empty() ? aggregation->spec.table : aggregation->spec.query;
    auto last = svc.sink->last_batch(id);
    auto q = last && *last ? svc.pipeline->add_aggregation(*aggregation, clock.now_ms())
                           : svc.pipeline->recover(*aggregation, clock.now_ms());
    if (!q) return fail(err, q.status());
    until_idle = f.get("--until-idle").has_value();
  }
  const AggregationConfig& a = *aggregation;
  out << "kappa: " << (recover ? "recovering" : "aggregating") << " " << config.stages.name
      << " -> " << a.spec.table << " in " << svc.sink->describe() << " (" << a.spec.dimension
      << ", " << format_duration(a.spec.window.size_ms) << " windows, "
      << format_duration(a.spec.watermark_delay_ms) << " watermark; checkpoint "
      << config.checkpoint_dir << ")" << std::endl;
  return run_service(svc, clock, until_idle, out, err);
}

int aggregate_only(const Flags& f, std::ostream& out, std::ostream& err) {
  return aggregate_service(f, false, out, err);
}
int recover_service(const Flags& f, std::ostream& out, std::ostream& err) {
  return aggregate_service(f, true, out, err);
}

// Every service: its name, the options it takes (each with a value), its switches, and its body.
struct ServiceCommand {
  std::string_view name;
  std::vector<std::string_view> options;
  std::vector<std::string_view> switches;
  int (*run)(const Flags&, std::ostream&, std::ostream&);
};

const std::vector<ServiceCommand>& service_commands() {
  static const std::vector<std::string_view> kCommon = {
      "--broker", "--zone", "--trigger", "--partitions", "--checkpoint", "--topic-prefix"};
  auto with = [](std::initializer_list<std::string_view> extra) {
    std::vector<std::string_view> v(kCommon);
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  static const std::initializer_list<std::string_view> kAggregation = {
      "--sink",   "--table", "--query",     "--dimension",
      "--window", "--slide", "--watermark", "--max-records-per-batch",
      "--from"};
  static const std::vector<ServiceCommand> kCommands = {
      {"generate", with({"--rate", "--count", "--first-id"}), {}, generate_service},
      {"stage", with({"--from", "--group", "--instance", "--stage-mode"}), {}, stage_service},
      {"aggregate", with(kAggregation), {}, aggregate_only},
      {"recover", with(kAggregation), {"--until-idle"}, recover_service},
      {"cutover", {"--sink", "--view", "--to"}, {}, cutover_service},
  };
  return kCommands;
}

// The flags of one service; an unknown option or a missing value is a problem (exit 2).
Flags parse_service_flags(const ServiceCommand& c, const std::vector<std::string>& args) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool is_switch = std::find(c.switches.begin(), c.switches.end(), a) != c.switches.end();
    const bool known = std::find(c.options.begin(), c.options.end(), a) != c.options.end();
    if (is_switch) {
      f.values[a] = "true";
    } else if (!known) {
      f.problem = "unknown option " + a + " for " + std::string(c.name);
      break;
    } else if (i + 1 >= args.size()) {
      f.problem = a + " needs a value";
      break;
    } else {
      f.values[a] = args[++i];
    }
  }
  return f;
}

}  // namespace

int service_command(const std::string& command, const std::vector<std::string>& args,
                    std::ostream& out, std::ostream& err) {
  for (const ServiceCommand& c : service_commands()) {
    if (c.name != command) continue;
    const Flags f = parse_service_flags(c, args);
    if (!f.problem.empty()) return fail(err, Status::invalid_argument(f.problem));
    return c.run(f, out, err);
  }
  return fail(err, Status::invalid_argument("unknown service " + command));
}

}  // namespace kappa
