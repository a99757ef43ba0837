#include "replay/lab/lab.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "broker/disk/disk_broker.h"
#include "broker/server/kafka_server.h"
#include "broker/url.h"
#include "pipeline/codec/event_codec.h"
#include "pipeline/engine/realtime.h"
#include "pipeline/jobs/pipeline.h"
#include "pipeline/jobs/window.h"
#include "pipeline/time/duration.h"
#include "pipeline/time/timestamp.h"
#include "replay/backends/backends.h"
#include "replay/lab/lab_actions.h"
#include "replay/lab/lab_http.h"
#include "replay/lab/lab_page.h"
#include "replay/lab/lab_timeline.h"
#include "replay/services/signals.h"

namespace kappa {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr const char* kView = "events_users";
constexpr const char* kV1 = "events_users_v1";
constexpr const char* kInjectedHello = "late";  // marks injected events in `events`
constexpr int64_t kFirstInjectedId = 1000001;
constexpr int64_t kTimelineKeepMs = 10 * 60 * 1000;
constexpr size_t kTimelineRows = 20000;
constexpr size_t kTimelineWatermarks = 5000;
constexpr int64_t kIdScanRecords = 10000;  // per partition, at the end of `events`

// ---- flags ----------------------------------------------------------------------------------

struct LabFlags {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 9092;
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 8080;
  std::string data = "kappa-lab";
  std::string sink;  // default sqlite:<data>/lab.db
  std::string zone = "Asia/Seoul";
  int64_t rate = 1;
  int64_t trigger_ms = 5000;
  int64_t window_ms = 10000;
  int64_t watermark_ms = 15000;
  std::vector<std::string> dimensions;  // "ages", "depts" switched on at start
};

Status host_port(const std::string& flag, const std::string& text, std::string& host,
                 uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::invalid_argument(flag + " expects HOST:PORT, got '" + text + "'");
  }
  const auto v = parse_integer(text.substr(colon + 1));
  if (v && *v >= 0 && *v <= 65535) {
    host = text.substr(0, colon);
    port = static_cast<uint16_t>(*v);
    return Status::ok();
  }
  return Status::invalid_argument(flag + " expects a port 0..65535, got '" + text + "'");
}

Result<LabFlags> parse_lab_flags(const std::vector<std::string>& args) {
  LabFlags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    static const char* kValued[] = {"--listen",    "--http",      "--data",    "--sink",
                                    "--zone",      "--rate",      "--trigger", "--window",
                                    "--watermark", "--dimensions"};
    if (std::none_of(std::begin(kValued), std::end(kValued),
                     [&](const char* k) { return a == k; })) {
      return Status::invalid_argument("unknown option " + a + " for lab");
    }
    if (i + 1 >= args.size()) return Status::invalid_argument(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--listen") {
      KAPPA_RETURN_IF_ERROR(host_port(a, v, f.listen_host, f.listen_port));
    } else if (a == "--http") {
      KAPPA_RETURN_IF_ERROR(host_port(a, v, f.http_host, f.http_port));
    } else if (a == "--data") {
      if (v.empty()) return Status::invalid_argument("--data needs a folder");
      f.data = v;
    } else if (a == "--sink") {
      f.sink = v;
    } else if (a == "--zone") {
      f.zone = v;
    } else if (a == "--rate") {
      const auto rate = parse_integer(v);
      if (!rate || *rate < 1) {
        return Status::invalid_argument(
            "--rate: expected an integer >= 1 (events a second), found '" + v + "'");
      }
      f.rate = *rate;
    } else if (a == "--dimensions") {
      std::stringstream list(v);
      std::string d;
      while (std::getline(list, d, ',')) {
        if (d != "ages" && d != "depts") {
          return Status::invalid_argument(
              "--dimensions: expected ages, depts or ages,depts, found '" + v + "'");
        }
        f.dimensions.push_back(d);
      }
    } else {
      auto d = parse_duration(v);
      if (!d) return Status::invalid_argument(a + ": " + d.status().message());
      if (*d <= 0 && a != "--watermark")
        return Status::invalid_argument(a + ": must be longer than 0, found '" + v + "'");
      (a == "--trigger" ? f.trigger_ms : a == "--window" ? f.window_ms : f.watermark_ms) = *d;
    }
  }
  if (f.sink.empty()) f.sink = "sqlite:" + (fs::path(f.data) / "lab.db").string();
  return f;
}

// ---- what survives a restart: DIR/lab-state.json --------------------------------------------
//
//   {"aggregations": [{"table": "events_users_v2", "dimension": "user_name", "window_ms": 10000,
//                      "watermark_ms": 60000, "kind": "recovery", "on": true}, ...],
//    "totals": {"stage": {"batches": 9, "rows_in": 42, ...}, ...},
//    "next_injected_id": 1000002}
//
// Written (to a temporary file, then renamed) after every batch and at the end. The queries'
// own progress lives in their checkpoints; this file only brings back what the lab added and
// the figures of earlier runs, which may miss the last batch after a kill -9.

struct ExtraAggregation {
  std::string kind;  // "recovery", "ages" or "depts"
  std::string table;
  std::string dimension;
  int64_t window_ms = 10000;
  int64_t watermark_ms = 15000;
  int64_t max_records_per_batch = 0;
  bool on = true;
};

json totals_json(const MicroBatchQuery::Totals& t) {
  return json{{"batches", t.batches},
              {"rows_in", t.rows_in},
              {"decoded", t.decoded},
              {"rows_out", t.rows_out},
              {"dead_letters", t.dead_letters},
              {"late_rows", t.late_rows},
              {"late_groups", t.late_groups},
              {"windowed_rows", t.windowed_rows},
              {"failed_attempts", t.failed_attempts},
              {"sink_skips", t.sink_skips}};
}

MicroBatchQuery::Totals totals_from(const json& j) {
  MicroBatchQuery::Totals t;
  auto get = [&](const char* k) {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : 0;
  };
  t.batches = get("batches");
  t.rows_in = get("rows_in");
  t.decoded = get("decoded");
  t.rows_out = get("rows_out");
  t.dead_letters = get("dead_letters");
  t.late_rows = get("late_rows");
  t.late_groups = get("late_groups");
  t.windowed_rows = get("windowed_rows");
  t.failed_attempts = get("failed_attempts");
  t.sink_skips = get("sink_skips");
  return t;
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse error_response(int status, const std::string& what) {
  return json_response(status, {{"error", what}});
}

HttpResponse status_error(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return error_response(400, s.message());
    case StatusCode::kNotFound:
      return error_response(404, s.message());
    case StatusCode::kFailedPrecondition:
      return error_response(409, s.message());
    default:
      return error_response(500, s.message());
  }
}

json dim_json(const DimValue& v) {
  if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return nullptr;
}

// ---- the lab --------------------------------------------------------------------------------

class Lab {
 public:
  Lab(LabFlags flags, Log& log, Sink& sink, TimeZone zone, const Clock& clock, std::ostream& out,
      bool tty)
      : flags_(std::move(flags)),
        log_(log),
        sink_(sink),
        zone_(std::move(zone)),
        clock_(clock),
        out_(out),
        tty_(tty),
        codec_(zone_),
        timeline_(kTimelineKeepMs, kTimelineRows, kTimelineWatermarks) {}

  Status start();
  Pipeline& pipeline() { return *pipeline_; }
  ActionQueue& actions() { return actions_; }
  void set_addresses(std::string kafka, std::string web) {
    kafka_address_ = std::move(kafka);
    web_address_ = std::move(web);
  }
  // From the web server's threads.
  HttpResponse handle(const HttpRequest& request);
  void save_state();
  void print_totals();

 private:
  struct Progress {
    double records_per_s = 0;
  };

  // On the pipeline's thread.
  HttpResponse route(const HttpRequest& request);
  void on_report(const BatchReport& b);
  void record_timeline(const BatchReport& b, const AggregationSpec& spec);
  void print_view(const BatchReport& b);
  std::string progress_line(const std::string& id);
  Status load_state();
  Status resume_ids();
  Result<MicroBatchQuery*> start_extra(const ExtraAggregation& a, bool recovery_guard);
  AggregationConfig aggregation_config(const ExtraAggregation& a) const;
  MicroBatchQuery::Totals totals(const std::string& id);
  int64_t behind(MicroBatchQuery& q);
  std::string job_state(MicroBatchQuery& q);

  json status();
  HttpResponse topic_latest(const std::string& topic, const HttpRequest& r);
  HttpResponse tables();
  HttpResponse table(const std::string& name, const HttpRequest& r);
  HttpResponse timeline(const HttpRequest& r);
  HttpResponse diff(const HttpRequest& r);
  HttpResponse inject_late(const json& body);
  HttpResponse recover(const json& body);
  HttpResponse cutover(const json& body);
  HttpResponse dimensions(const json& body);
  json dimensions_json();
  json topics_json();

  LabFlags flags_;
  Log& log_;
  Sink& sink_;
  TimeZone zone_;
  const Clock& clock_;
  std::ostream& out_;
  bool tty_;
  EventCodec codec_;
  ActionQueue actions_;
  std::unique_ptr<Pipeline> pipeline_;
  GeneratorJob* generator_ = nullptr;
  std::string kafka_address_, web_address_;

  std::map<std::string, AggregationSpec> specs_;  // every aggregation, by query id
  std::vector<ExtraAggregation> extras_;
  std::map<std::string, MicroBatchQuery::Totals> earlier_runs_;
  std::map<std::string, int64_t> last_batch_ms_;
  std::map<std::string, Progress> progress_;
  std::set<std::string> announced_caught_up_;  // recoveries whose catching up was printed
  int64_t next_injected_id_ = kFirstInjectedId;
  bool view_pointed_ = false;
  Timeline timeline_;
};

AggregationConfig Lab::aggregation_config(const ExtraAggregation& a) const {
  AggregationConfig c;
  c.spec.table = a.table;
  c.spec.dimension = a.dimension;
  c.spec.window = WindowSpec{a.window_ms, a.window_ms, 0};
  c.spec.watermark_delay_ms = a.watermark_ms;
  c.options.starting.kind = StartingPosition::Kind::kEarliest;
  c.options.max_records_per_batch = a.max_records_per_batch;
  return c;
}

Result<MicroBatchQuery*> Lab::start_extra(const ExtraAggregation& a, bool recovery_guard) {
  AggregationConfig c = aggregation_config(a);
  auto q = recovery_guard ? pipeline_->recover(c, clock_.now_ms())
                          : pipeline_->add_aggregation(c, clock_.now_ms());
  if (!q) return q.status();
  c.spec.query = c.spec.table;
  specs_[c.spec.table] = c.spec;
  return q;
}

Status Lab::load_state() {
  const fs::path path = fs::path(flags_.data) / "lab-state.json";
  std::ifstream in(path);
  if (!in) return Status::ok();
  json j;
  try {
    j = json::parse(in);
    for (const auto& a : j.value("aggregations", json::array())) {
      ExtraAggregation e;
      e.kind = a.at("kind").get<std::string>();
      e.table = a.at("table").get<std::string>();
      e.dimension = a.at("dimension").get<std::string>();
      e.window_ms = a.at("window_ms").get<int64_t>();
      e.watermark_ms = a.at("watermark_ms").get<int64_t>();
      e.max_records_per_batch = a.value("max_records_per_batch", int64_t{0});
      e.on = a.value("on", true);
      // Written by a lab that did not check names yet: such a query would fail every trigger.
      if (Status bad = validate_identifier(e.table, "table name"); !bad) {
        out_ << "kappa lab: " << path.string() << ": leaving out the aggregation into " << e.table
             << " (" << bad.message() << ")" << std::endl;
        continue;
      }
      extras_.push_back(e);
    }
    const json totals_all = j.value("totals", json::object());
    for (const auto& [id, t] : totals_all.items()) earlier_runs_[id] = totals_from(t);
    next_injected_id_ = std::max(next_injected_id_, j.value("next_injected_id", kFirstInjectedId));
  } catch (const std::exception& e) {
    return Status::invalid_argument(path.string() + ": not the lab's state file (" + e.what() +
                                    "); move it away to start without it");
  }
  return Status::ok();
}

void Lab::save_state() {
  json aggregations = json::array();
  for (const auto& e : extras_) {
    aggregations.push_back({{"kind", e.kind},
                            {"table", e.table},
                            {"dimension", e.dimension},
                            {"window_ms", e.window_ms},
                            {"watermark_ms", e.watermark_ms},
                            {"max_records_per_batch", e.max_records_per_batch},
                            {"on", e.on}});
  }
  json totals_all = json::object();
  std::set<std::string> ids;
  for (const auto& [id, _] : earlier_runs_) ids.insert(id);
  for (MicroBatchQuery* q : pipeline_->queries()) ids.insert(q->name());
  for (const auto& id : ids) totals_all[id] = totals_json(totals(id));
  const json j = {{"aggregations", aggregations},
                  {"totals", totals_all},
                  {"next_injected_id", next_injected_id_}};
  const fs::path path = fs::path(flags_.data) / "lab-state.json";
  const fs::path tmp = fs::path(flags_.data) / "lab-state.json.tmp";
  {
    std::ofstream o(tmp, std::ios::trunc);
    o << j.dump(2) << "\n";
    if (!o) return;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
}

// The generator continues after the last generated id in `events`; injected events (hello
// "late") continue after the last injected one.
Status Lab::resume_ids() {
  const std::string& topic = pipeline_->config().events.name;
  auto partitions = log_.partition_count(topic);
  if (!partitions) return partitions.status();
  int64_t next_generated = 0;
  for (int32_t p = 0; p < *partitions; ++p) {
    auto range = log_.offsets(topic, p);
    if (!range) return range.status();
    int64_t at = std::max(range->earliest, range->end - kIdScanRecords);
    while (at < range->end) {
      auto fetched =
          log_.fetch(topic, p, at, FetchLimits{.max_records = 4096, .end_offset = range->end});
      if (!fetched) return fetched.status();
      if (fetched->records.empty()) break;
      for (const RecordView& r : fetched->records) {
        SourceEvent e;
        DecodeFailure why;
        if (!codec_.decode_source(r.value, e, why)) continue;
        if (e.hello && *e.hello == kInjectedHello) {
          next_injected_id_ = std::max(next_injected_id_, e.id + 1);
        } else {
          next_generated = std::max(next_generated, e.id + 1);
        }
      }
      at = fetched->next_offset;
    }
  }
  GeneratorSpec spec;
  spec.topic.clear();
  spec.rate = flags_.rate;
  spec.first_id = next_generated;
  generator_ = &pipeline_->add_generator(spec, clock_.now_ms());
  return Status::ok();
}

Status Lab::start() {
  KAPPA_RETURN_IF_ERROR(load_state());
  PipelineConfig config;
  config.zone = flags_.zone;
  config.trigger_ms = flags_.trigger_ms;
  config.stage_enabled = true;
  config.stage.starting.kind = StartingPosition::Kind::kEarliest;
  config.checkpoint_dir = (fs::path(flags_.data) / "checkpoints").string();
  AggregationConfig v1 = PipelineConfig::lab_v1();
  v1.spec.window = WindowSpec{flags_.window_ms, flags_.window_ms, 0};
  v1.spec.watermark_delay_ms = flags_.watermark_ms;
  v1.options.starting.kind = StartingPosition::Kind::kEarliest;
  config.aggregations = {v1};
  v1.spec.query = v1.spec.table;
  specs_[v1.spec.table] = v1.spec;
  auto p = Pipeline::create(config, log_, sink_);
  if (!p) return p.status();
  pipeline_ = std::move(*p);
  pipeline_->on_batch([this](const BatchReport& b) { on_report(b); });
  KAPPA_RETURN_IF_ERROR(pipeline_->start(clock_.now_ms()));
  for (const std::string& d : flags_.dimensions) {
    const bool known = std::any_of(extras_.begin(), extras_.end(),
                                   [&](const ExtraAggregation& e) { return e.kind == d; });
    if (!known) {
      extras_.push_back(ExtraAggregation{d, d == "ages" ? "events_ages" : "events_depts",
                                         d == "ages" ? "age" : "dept_name", flags_.window_ms,
                                         flags_.watermark_ms, 0, true});
    }
    for (auto& e : extras_) {
      if (e.kind == d) e.on = true;
    }
  }
  for (const auto& e : extras_) {
    if (!e.on) continue;
    auto q = start_extra(e, false);
    if (!q)
      return q.status().with_context("resuming " + e.table + " from " + flags_.data +
                                     "/lab-state.json");
  }
  KAPPA_RETURN_IF_ERROR(resume_ids());
  if (auto target = sink_.view_target(kView); target && *target) view_pointed_ = true;
  return Status::ok();
}

MicroBatchQuery::Totals Lab::totals(const std::string& id) {
  MicroBatchQuery::Totals t;
  if (auto it = earlier_runs_.find(id); it != earlier_runs_.end()) t = it->second;
  if (auto now = pipeline_->totals(id)) t += *now;
  return t;
}

int64_t Lab::behind(MicroBatchQuery& q) {
  auto ends = log_.end_offsets(q.spec().source_topic);
  if (!ends) return 0;
  int64_t behind = 0;
  for (const auto& e : *ends) {
    int64_t committed = 0;
    for (const auto& c : q.committed_offsets()) {
      if (c.partition == e.partition) committed = c.offset;
    }
    behind += std::max<int64_t>(0, e.offset - committed);
  }
  return behind;
}

std::string Lab::job_state(MicroBatchQuery& q) {
  switch (q.run_state()) {
    case MicroBatchQuery::RunState::kStopped:
      return "stopped";
    case MicroBatchQuery::RunState::kCrashed:
      return "crashed";
    case MicroBatchQuery::RunState::kRunning:
      break;
  }
  // Its last attempt failed (the sink or the broker refused); it runs again at the next trigger.
  if (!q.last_error().is_ok()) return "failing";
  const bool recovery = std::any_of(extras_.begin(), extras_.end(), [&](const ExtraAggregation& e) {
    return e.kind == "recovery" && e.table == q.name();
  });
  if (recovery && pipeline_->query(kV1)) {
    auto caught = pipeline_->caught_up(q.name(), kV1);
    if (caught && *caught) return "caught_up";
  }
  return "running";
}

// ---- batch reports: timeline, terminal view, state --------------------------------------------

void Lab::record_timeline(const BatchReport& b, const AggregationSpec& spec) {
  const int query = timeline_.query_index(b.query);
  timeline_.add_watermark({b.ran_at_ms, b.plan.watermark_ms, b.next_watermark_ms, query});
  // A row is late when its window ends at or before the watermark its batch ran with (DESIGN.md
  // §3.1 rule 4, Spark 3.2's rule, the aggregation's default). Only the last kTimelineRows
  // records of a batch are read again: older ones would leave the ring at once.
  const int64_t budget = static_cast<int64_t>(kTimelineRows);
  for (size_t i = 0; i < b.plan.start.size() && i < b.plan.end.size(); ++i) {
    const int32_t p = b.plan.start[i].partition;
    const int64_t end = b.plan.end[i].offset;
    int64_t at = std::max(b.plan.start[i].offset, end - budget);
    while (at < end) {
      auto fetched =
          log_.fetch(spec.source_topic, p, at, FetchLimits{.max_records = 4096, .end_offset = end});
      if (!fetched || fetched->records.empty()) break;
      for (const RecordView& r : fetched->records) {
        StagedEvent e;
        DecodeFailure why;
        if (!codec_.decode_staged(r.value, e, why)) continue;
        bool late = false;
        for_each_window(spec.window, e.event_time_ms, [&](int64_t start) {
          late = late || start + spec.window.size_ms <= b.plan.watermark_ms;
        });
        timeline_.add_row(
            {e.id.value_or(-1), e.event_time_ms, b.ran_at_ms, r.timestamp_ms, late, query});
      }
      at = fetched->next_offset;
    }
  }
  timeline_.trim(clock_.now_ms());
}

void Lab::on_report(const BatchReport& b) {
  last_batch_ms_[b.query] = b.ran_at_ms;
  if (b.failure) {
    out_ << "kappa lab: " << b.query << " batch " << b.plan.batch_id << " failed ("
         << b.failure->message() << "); it runs again" << std::endl;
    return;
  }
  auto spec = specs_.find(b.query);
  if (spec != specs_.end()) {
    const int64_t took = std::max<int64_t>(clock_.now_ms() - b.ran_at_ms, 1);
    if (b.result.rows_in > 0) {
      const double rate =
          static_cast<double>(b.result.rows_in) * 1000.0 / static_cast<double>(took);
      Progress& p = progress_[b.query];
      p.records_per_s = p.records_per_s == 0 ? rate : 0.5 * p.records_per_s + 0.5 * rate;
    }
    record_timeline(b, spec->second);
  }
  if (b.query == kV1) {
    if (!view_pointed_ && sink_.point_view(kView, kV1)) view_pointed_ = true;
    print_view(b);
  } else if (std::any_of(extras_.begin(), extras_.end(), [&](const ExtraAggregation& e) {
               return e.kind == "recovery" && e.table == b.query;
             })) {
    // Between v1's views, a recovery that is behind reports its progress at each of its batches.
    // Its view line comes before it reads the trigger's new records, so it shows a few behind;
    // say once, from its own batch, when it has reached the end of the log.
    MicroBatchQuery* q = pipeline_->query(b.query);
    const bool caught_up = q && job_state(*q) == "caught_up";
    if (q && (!caught_up || announced_caught_up_.insert(b.query).second)) {
      out_ << progress_line(b.query) << std::endl;
    }
  }
  save_state();
}

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
  for (const auto& e : extras_) {
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

// ---- HTTP ------------------------------------------------------------------------------------

HttpResponse Lab::handle(const HttpRequest& request) {
  const std::string path = http_path(request.target);
  if (path.rfind("/api/", 0) != 0) {
    if (request.method == "GET" && (path == "/" || path == "/index.html")) {
      HttpResponse r;
      r.content_type = "text/html; charset=utf-8";
      r.body = std::string(lab_page());
      return r;
    }
    return error_response(404,
                          "no page " + path + " here; the lab's page is /, its API under /api/");
  }
  auto answer = actions_.call<HttpResponse>([this, request] { return route(request); },
                                            std::chrono::seconds(20));
  if (!answer)
    return error_response(
        503, "the lab is stopping, or its pipeline is busy with a long batch; try again");
  return *answer;
}

HttpResponse Lab::route(const HttpRequest& r) {
  const std::string path = http_path(r.target);
  if (r.method == "GET") {
    if (path == "/api/status") return json_response(200, status());
    if (path == "/api/tables") return tables();
    if (path == "/api/timeline") return timeline(r);
    if (path == "/api/diff") return diff(r);
    if (path.rfind("/api/tables/", 0) == 0) return table(path.substr(12), r);
    if (path.rfind("/api/topics/", 0) == 0) {
      const std::string rest = path.substr(12);
      const auto slash = rest.find('/');
      if (slash != std::string::npos && rest.substr(slash) == "/latest")
        return topic_latest(rest.substr(0, slash), r);
    }
    return error_response(404, "no GET " + path + "; see docs/lab-api.md");
  }
  if (r.method == "POST") {
    static const std::set<std::string> kActions = {"/api/inject-late", "/api/recover",
                                                   "/api/cutover", "/api/dimensions"};
    if (!kActions.count(path))
      return error_response(404, "no POST " + path + "; see docs/lab-api.md");
    json body = json::object();
    if (!r.body.empty()) {
      try {
        body = json::parse(r.body);
      } catch (const std::exception& e) {
        return error_response(400, "POST " + path + ": the body is not JSON (" + e.what() + ")");
      }
    }
    if (!body.is_object()) return error_response(400, "POST " + path + ": expected a JSON object");
    try {
      if (path == "/api/inject-late") return inject_late(body);
      if (path == "/api/recover") return recover(body);
      if (path == "/api/cutover") return cutover(body);
      return dimensions(body);
    } catch (const json::exception& e) {
      return error_response(400,
                            "POST " + path + ": a field has the wrong type (" + e.what() + ")");
    }
  }
  return error_response(405, r.method + " " + path + ": the lab's API takes GET and POST only");
}

json Lab::topics_json() {
  json topics = json::array();
  auto names = log_.list_topics();
  if (!names) return topics;
  std::sort(names->begin(), names->end());
  for (const auto& name : *names) {
    json parts = json::array();
    auto n = log_.partition_count(name);
    for (int32_t p = 0; n && p < *n; ++p) {
      if (auto range = log_.offsets(name, p)) {
        parts.push_back({{"partition", p}, {"earliest", range->earliest}, {"end", range->end}});
      }
    }
    topics.push_back({{"name", name}, {"partitions", parts}});
  }
  return topics;
}

json Lab::dimensions_json() {
  json d = {{"ages", false}, {"depts", false}};
  for (const auto& e : extras_) {
    if (e.kind == "ages" || e.kind == "depts") {
      MicroBatchQuery* q = pipeline_->query(e.table);
      d[e.kind] = e.on && q && q->run_state() != MicroBatchQuery::RunState::kStopped;
    }
  }
  return d;
}

json Lab::status() {
  const int64_t now = clock_.now_ms();
  json jobs = json::array();
  jobs.push_back({{"name", "generator"},
                  {"kind", "generator"},
                  {"state", generator_ && !generator_->idle() ? "running" : "stopped"},
                  {"generated", generator_ ? generator_->next_id() : 0},
                  {"rate_per_s", flags_.rate}});
  auto last_batch = [&](const std::string& id) -> json {
    auto it = last_batch_ms_.find(id);
    return it == last_batch_ms_.end() ? json(nullptr) : json(it->second);
  };
  const std::string stage_id = pipeline_->config().stage_query_id;
  for (MicroBatchQuery* q : pipeline_->queries()) {
    const auto t = totals(q->name());
    json job = {{"name", q->name()}};
    if (q->name() == stage_id) {
      job["kind"] = "stage";
      job["state"] = job_state(*q);
      job["batches"] = t.batches;
      job["rows_in"] = t.rows_in;
      job["rows_out"] = t.rows_out;
      job["dead_letters"] = t.dead_letters;
      job["late_rows"] = 0;
      job["watermark_ms"] = nullptr;
      job["last_batch_ms"] = last_batch(q->name());
    } else {
      const AggregationSpec& spec = specs_[q->name()];
      job["kind"] = "aggregation";
      job["table"] = spec.table;
      job["state"] = job_state(*q);
      job["window"] = format_duration(spec.window.size_ms);
      job["watermark_delay"] = format_duration(spec.watermark_delay_ms);
      job["dimension"] = spec.dimension;
      job["batches"] = t.batches;
      job["rows_in"] = t.rows_in;
      job["rows_out"] = t.rows_out;
      job["late_rows"] = t.late_rows;
      job["dead_letters"] = t.dead_letters;
      job["watermark_ms"] = q->watermark_ms();
      job["last_batch_ms"] = last_batch(q->name());
      const int64_t left = behind(*q);
      const double rate = progress_[q->name()].records_per_s;
      job["progress"] = {{"behind_records", left},
                         {"records_per_s", rate},
                         {"eta_s", left == 0  ? json(0)
                                   : rate > 0 ? json(static_cast<double>(left) / rate)
                                              : json(nullptr)}};
      job["recovery"] = std::any_of(extras_.begin(), extras_.end(), [&](const ExtraAggregation& e) {
        return e.kind == "recovery" && e.table == q->name();
      });
    }
    job["next_batch_id"] = q->next_batch_id();
    if (!q->last_error().is_ok()) job["error"] = q->last_error().message();
    jobs.push_back(job);
  }
  int64_t generated = 0;
  if (auto ends = log_.end_offsets(pipeline_->config().events.name)) {
    for (const auto& e : *ends) generated += e.offset;
  }
  const auto st = totals(stage_id);
  const auto v1 = totals(kV1);
  // Equalities over what the jobs have read; the inequalities allow for what is in flight.
  const bool balanced = st.rows_in == st.rows_out + st.dead_letters && st.rows_in <= generated &&
                        v1.rows_in == v1.decoded + v1.dead_letters &&
                        v1.decoded == v1.windowed_rows + v1.late_rows && v1.rows_in <= st.rows_out;
  json view_target = nullptr;
  if (auto target = sink_.view_target(kView); target && *target) view_target = **target;
  return {{"now_ms", now},
          {"now", format_timestamp(now, zone_)},
          {"zone", zone_.name()},
          {"listen", kafka_address_},
          {"data", flags_.data},
          {"jobs", jobs},
          {"topics", topics_json()},
          {"counts",
           {{"generated", generated},
            {"staged", st.rows_out},
            {"dead_letters", st.dead_letters},
            {"counted", v1.windowed_rows},
            {"dropped_late", v1.late_rows},
            {"balanced", balanced},
            {"read_by_stage", st.rows_in},
            {"read_by_v1", v1.rows_in}}},
          {"view", {{"name", kView}, {"target", view_target}}},
          {"dimensions", dimensions_json()}};
}

HttpResponse Lab::topic_latest(const std::string& topic, const HttpRequest& r) {
  if (Status s = validate_topic_name(topic); !s) return error_response(400, s.message());
  int64_t n = 10;
  if (auto v = http_query_param(r.target, "n")) {
    const auto parsed = parse_integer(*v);
    if (!parsed || *parsed < 1 || *parsed > 1000) {
      return error_response(400, "n: expected an integer 1..1000, found '" + *v + "'");
    }
    n = *parsed;
  }
  auto partitions = log_.partition_count(topic);
  if (!partitions) {
    if (partitions.status().code() == StatusCode::kNotFound)
      return error_response(404, "no topic " + topic);
    return status_error(partitions.status());
  }
  json records = json::array();
  std::vector<json> all;
  for (int32_t p = 0; p < *partitions; ++p) {
    auto range = log_.offsets(topic, p);
    if (!range) return status_error(range.status());
    int64_t at = std::max(range->earliest, range->end - n);
    while (at < range->end) {
      auto fetched =
          log_.fetch(topic, p, at, FetchLimits{.max_records = n, .end_offset = range->end});
      if (!fetched) return status_error(fetched.status());
      if (fetched->records.empty()) break;
      for (const RecordView& rec : fetched->records) {
        all.push_back({{"partition", rec.partition},
                       {"offset", rec.offset},
                       {"timestamp_ms", rec.timestamp_ms},
                       {"key", rec.key ? json(std::string(*rec.key)) : json(nullptr)},
                       {"value", rec.value ? json(std::string(*rec.value)) : json(nullptr)}});
      }
      at = fetched->next_offset;
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const json& a, const json& b) {
    return std::make_pair(a["timestamp_ms"].get<int64_t>(), a["offset"].get<int64_t>()) >
           std::make_pair(b["timestamp_ms"].get<int64_t>(), b["offset"].get<int64_t>());
  });
  for (size_t i = 0; i < all.size() && static_cast<int64_t>(i) < n; ++i) records.push_back(all[i]);
  return json_response(200, {{"topic", topic}, {"records", records}});
}

HttpResponse Lab::tables() {
  json names = json::array();
  for (const auto& [id, spec] : specs_) {
    auto exists = sink_.table_exists(spec.table);
    if (exists && *exists) names.push_back(spec.table);
  }
  return json_response(200, {{"tables", names}});
}

HttpResponse Lab::table(const std::string& name, const HttpRequest& r) {
  if (Status s = validate_identifier(name, "table name"); !s)
    return error_response(400, s.message());
  int64_t limit = 20;
  if (auto v = http_query_param(r.target, "limit")) {
    const auto parsed = parse_integer(*v);
    if (!parsed || *parsed < 0 || *parsed > 100000) {
      return error_response(400, "limit: expected an integer 0..100000, found '" + *v + "'");
    }
    limit = *parsed;
  }
  auto rows = sink_.read_table(name);
  if (!rows) return status_error(rows.status());
  std::string dimension = "dimension";
  for (const auto& [id, spec] : specs_) {
    if (spec.table == name) dimension = spec.dimension;
  }
  std::stable_sort(rows->begin(), rows->end(),
                   [](const TableRow& a, const TableRow& b) { return a.start > b.start; });
  json out = json::array();
  for (size_t i = 0; i < rows->size() && static_cast<int64_t>(i) < limit; ++i) {
    const TableRow& row = (*rows)[i];
    out.push_back(json::array({row.start, row.end, dim_json(row.dim), row.count}));
  }
  return json_response(200, {{"table", name},
                             {"columns", {"window_start", "window_end", dimension, "count"}},
                             {"rows", out},
                             {"total_rows", rows->size()}});
}

HttpResponse Lab::timeline(const HttpRequest& r) {
  int64_t since = 0;
  if (auto v = http_query_param(r.target, "since_ms")) {
    const auto parsed = parse_integer(*v);
    if (!parsed) {
      return error_response(
          400, "since_ms: expected an integer, milliseconds since the epoch, found '" + *v + "'");
    }
    since = *parsed;
  }
  timeline_.trim(clock_.now_ms());
  const auto& names = timeline_.queries();
  json events = json::array();
  for (const TimelineRow& row : timeline_.rows()) {
    if (row.processing_ms < since) continue;
    events.push_back({{"id", row.id},
                      {"event_ms", row.event_ms},
                      {"processing_ms", row.processing_ms},
                      {"arrival_ms", row.arrival_ms},
                      {"late", row.late},
                      {"query", names[row.query]}});
  }
  json watermarks = json::array();
  for (const TimelineWatermark& w : timeline_.watermarks()) {
    if (w.processing_ms < since) continue;
    watermarks.push_back({{"processing_ms", w.processing_ms},
                          {"watermark_ms", w.watermark_ms},
                          {"next_watermark_ms", w.next_watermark_ms},
                          {"query", names[w.query]}});
  }
  return json_response(200, {{"events", events}, {"watermark", watermarks}});
}

HttpResponse Lab::diff(const HttpRequest& r) {
  const std::string a = http_query_param(r.target, "a").value_or(kV1);
  const std::string b = http_query_param(r.target, "b").value_or("events_users_v2");
  for (const auto* t : {&a, &b}) {
    if (Status bad = validate_identifier(*t, "table name"); !bad)
      return error_response(400, bad.message());
  }
  auto ra = sink_.read_table(a);
  if (!ra) return status_error(ra.status());
  auto rb = sink_.read_table(b);
  if (!rb) return status_error(rb.status());
  using Key = std::tuple<std::string, std::string, DimValue>;
  std::map<Key, int64_t> in_b;
  for (const auto& row : *rb) in_b[{row.start, row.end, row.dim}] = row.count;
  constexpr size_t kMaxListed = 500;
  int64_t same = 0;
  json changed = json::array(), only_a = json::array(), only_b = json::array();
  int64_t changed_n = 0, only_a_n = 0, only_b_n = 0;
  auto key_json = [](const TableRow& row) {
    return json::array({row.start, row.end, dim_json(row.dim)});
  };
  std::set<Key> seen;
  for (const auto& row : *ra) {
    const Key key{row.start, row.end, row.dim};
    seen.insert(key);
    auto it = in_b.find(key);
    if (it == in_b.end()) {
      if (only_a.size() < kMaxListed)
        only_a.push_back(json::array({row.start, row.end, dim_json(row.dim), row.count}));
      ++only_a_n;
    } else if (it->second == row.count) {
      ++same;
    } else {
      if (changed.size() < kMaxListed)
        changed.push_back({{"key", key_json(row)}, {"a", row.count}, {"b", it->second}});
      ++changed_n;
    }
  }
  for (const auto& row : *rb) {
    if (seen.count({row.start, row.end, row.dim})) continue;
    if (only_b.size() < kMaxListed)
      only_b.push_back(json::array({row.start, row.end, dim_json(row.dim), row.count}));
    ++only_b_n;
  }
  return json_response(200, {{"a", a},
                             {"b", b},
                             {"same", same},
                             {"changed", changed},
                             {"only_a", only_a},
                             {"only_b", only_b},
                             {"changed_total", changed_n},
                             {"only_a_total", only_a_n},
                             {"only_b_total", only_b_n}});
}

HttpResponse Lab::inject_late(const json& body) {
  int64_t seconds = 30;
  if (body.contains("seconds_late")) {
    if (!body["seconds_late"].is_number_integer() || body["seconds_late"].get<int64_t>() < 0 ||
        body["seconds_late"].get<int64_t>() > 365LL * 86400) {
      return error_response(400,
                            "seconds_late: expected an integer number of seconds, 0 to 31536000");
    }
    seconds = body["seconds_late"].get<int64_t>();
  }
  const int64_t now = clock_.now_ms();
  const std::string time = format_timestamp(now - seconds * 1000, zone_);
  const int64_t id = next_injected_id_;
  std::string value;
  append_source_event_json(value, id, std::string_view(kInjectedHello), time);
  OutgoingRecord record;
  record.value = value;
  record.timestamp_ms = now;
  auto appended =
      log_.produce(pipeline_->config().events.name, std::span<const OutgoingRecord>(&record, 1));
  if (!appended) return status_error(appended.status());
  ++next_injected_id_;
  save_state();
  return json_response(200, {{"id", id},
                             {"time", time},
                             {"partition", (*appended)[0].partition},
                             {"offset", (*appended)[0].offset}});
}

HttpResponse Lab::recover(const json& body) {
  if (!body.contains("table") || !body["table"].is_string()) {
    return error_response(
        400, "recover needs \"table\": the new table to replay the log into, e.g. events_users_v2");
  }
  ExtraAggregation e;
  e.kind = "recovery";
  e.table = body["table"].get<std::string>();
  e.dimension = body.value("dimension", std::string("user_name"));
  if (Status s = validate_identifier(e.table, "table name"); !s)
    return error_response(400, s.message());
  if (auto d = dimension_field(e.dimension); !d) return error_response(400, d.status().message());
  for (const auto& [field, target] :
       {std::pair<const char*, int64_t*>{"window", &e.window_ms},
        std::pair<const char*, int64_t*>{"watermark", &e.watermark_ms}}) {
    *target = std::string(field) == "window" ? 10000 : 60000;
    if (!body.contains(field)) continue;
    if (!body[field].is_string())
      return error_response(400, std::string(field) + ": expected a duration such as \"1m\"");
    auto d = parse_duration(body[field].get<std::string>());
    if (!d) return error_response(400, std::string(field) + ": " + d.status().message());
    *target = *d;
  }
  if (body.contains("max_records_per_batch")) {
    if (!body["max_records_per_batch"].is_number_integer() ||
        body["max_records_per_batch"].get<int64_t>() < 0) {
      return error_response(400, "max_records_per_batch: expected an integer >= 0 (0: no cap)");
    }
    e.max_records_per_batch = body["max_records_per_batch"].get<int64_t>();
  }
  if (std::any_of(extras_.begin(), extras_.end(),
                  [&](const ExtraAggregation& x) { return x.table == e.table; }) ||
      e.table == kV1) {
    return error_response(409,
                          "refusing to recover into " + e.table + ": the lab already writes it");
  }
  auto q = start_extra(e, true);
  if (!q) return status_error(q.status());
  extras_.push_back(e);
  save_state();
  out_ << "kappa lab: recovering " << pipeline_->config().stages.name << " from earliest into "
       << e.table << " (" << format_duration(e.window_ms) << " windows, "
       << format_duration(e.watermark_ms) << " watermark)" << std::endl;
  return json_response(200, {{"query", e.table}});
}

HttpResponse Lab::cutover(const json& body) {
  const std::string view = body.value("view", std::string(kView));
  if (!body.contains("to") || !body["to"].is_string()) {
    return error_response(
        400, "cutover needs \"to\": the table the view should read, e.g. events_users_v2");
  }
  const std::string to = body["to"].get<std::string>();
  if (Status bad = validate_identifier(view, "view name"); !bad)
    return error_response(400, bad.message());
  const bool written = view == kV1 || view == "events_ages" || view == "events_depts" ||
                       specs_.count(view) > 0 ||
                       std::any_of(extras_.begin(), extras_.end(),
                                   [&](const ExtraAggregation& e) { return e.table == view; });
  if (written) {
    return error_response(409,
                          "refusing to make " + view + " a view: it is a table the lab writes");
  }
  if (Status bad = validate_identifier(to, "table name"); !bad)
    return error_response(400, bad.message());
  if (Status refused = sink_.point_view(view, to); !refused) return status_error(refused);
  if (view == kView) view_pointed_ = true;
  out_ << "kappa lab: view " << view << " now reads " << to << std::endl;
  return json_response(200, {{"view", view}, {"target", to}});
}

HttpResponse Lab::dimensions(const json& body) {
  const std::string which = body.value("dimension", std::string());
  if (which != "ages" && which != "depts") {
    return error_response(400,
                          "dimension: expected \"ages\" (events_ages) or \"depts\" (events_depts)");
  }
  const bool on = body.value("on", true);
  auto it = std::find_if(extras_.begin(), extras_.end(),
                         [&](const ExtraAggregation& e) { return e.kind == which; });
  if (it == extras_.end()) {
    extras_.push_back(ExtraAggregation{which, which == "ages" ? "events_ages" : "events_depts",
                                       which == "ages" ? "age" : "dept_name", flags_.window_ms,
                                       flags_.watermark_ms, 0, false});
    it = extras_.end() - 1;
  }
  MicroBatchQuery* q = pipeline_->query(it->table);
  if (on && !(q && q->run_state() == MicroBatchQuery::RunState::kRunning)) {
    Status s =
        q ? pipeline_->restart(it->table, clock_.now_ms()) : start_extra(*it, false).status();
    if (!s) return status_error(s);
  } else if (!on && q) {
    if (Status s = pipeline_->stop(it->table); !s) return status_error(s);
  }
  it->on = on;
  save_state();
  return json_response(200, dimensions_json());
}

int fail(std::ostream& err, const Status& s) {
  err << "kappa: " << redact(s.message()) << "\n";
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ? 2 : 1;
}

}  // namespace

int lab_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto flags = parse_lab_flags(args);
  if (!flags) return fail(err, flags.status());
  auto zone = TimeZone::load(flags->zone);
  if (!zone) return fail(err, zone.status());
  std::error_code ec;
  fs::create_directories(flags->data, ec);
  if (ec)
    return fail(err,
                Status::unavailable("--data: cannot create " + flags->data + ": " + ec.message()));

  DiskBroker::Options o;
  o.dir = fs::path(flags->data) / "broker";
  o.fsync = DiskBroker::FsyncPolicy::kInterval;
  auto disk = DiskBroker::open(o);
  if (!disk) return fail(err, disk.status().with_context("the lab's broker in " + o.dir.string()));
  for (const std::string& line : (*disk)->recovery().lines())
    err << "kappa lab: broker: " << line << "\n";
  auto sink = open_sink_url(flags->sink);
  if (!sink) return fail(err, sink.status());

  SystemClock clock;
  Lab lab(*flags, **disk, **sink, *zone, clock, out, ::isatty(STDOUT_FILENO) == 1);
  if (Status s = lab.start(); !s) return fail(err, s);

  KafkaServer::Options so;
  so.host = flags->listen_host;
  so.port = flags->listen_port;
  so.api.auto_create_topics = true;
  so.log = [](const std::string&) {};  // the terminal is the lab's view; the broker stays quiet
  auto kafka = KafkaServer::start(**disk, so);
  if (!kafka) return fail(err, kafka.status().with_context("--listen"));
  auto web = LabHttpServer::start(flags->http_host, flags->http_port,
                                  [&lab](const HttpRequest& r) { return lab.handle(r); });
  if (!web) return fail(err, web.status());
  lab.set_addresses((*kafka)->address(), (*web)->address());

  install_stop_handlers();
  out << "kappa lab: kafka on " << (*kafka)->address() << ", web on http://" << (*web)->address()
      << "/" << std::endl;
  out << "kappa lab: data in " << flags->data << ", tables in " << (*sink)->describe()
      << "; Ctrl-C stops" << std::endl;

  RealTimeDriver driver(clock, lab.pipeline());
  driver.set_wait_hook([&lab](int64_t wait_ms) { lab.actions().wait_and_run(wait_ms); });
  const Status s = driver.run(stop_requested());

  lab.actions().close();
  lab.actions().run_pending();
  (*web)->stop();
  (*kafka)->stop();
  lab.save_state();
  lab.print_totals();
  if (!s) return fail(err, s);
  return 0;
}

}  // namespace kappa
