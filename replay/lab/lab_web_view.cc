// The lab's web view: its page (lab_web/index.html, compiled in) and its JSON API
// (docs/lab-api.md). handle() takes every request from the web server's threads and posts those
// to /api/ to the pipeline's thread, where route() sends a GET to its answer below and a POST
// to its action (lab_actions.cc).
#include "replay/lab/lab_core.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "pipeline/jobs/pipeline.h"
#include "pipeline/time/clock.h"
#include "pipeline/time/duration.h"
#include "pipeline/time/timestamp.h"
#include "replay/lab/lab_http.h"
#include "replay/lab/lab_page.h"

namespace kappa {

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

namespace {

json dim_json(const DimValue& v) {
  if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return nullptr;
}

}  // namespace

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
  for (const auto& e : state_.aggregations) {
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
      job["recovery"] = std::any_of(
          state_.aggregations.begin(), state_.aggregations.end(),
          [&](const ExtraAggregation& e) { return e.kind == "recovery" && e.table == q->name(); });
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
    const int64_t from = std::max(range->earliest, range->end - n);
    const Status scanned = scan_records(
        log_, topic, p, from, range->end,
        [&](const RecordView& rec) {
          all.push_back({{"partition", rec.partition},
                         {"offset", rec.offset},
                         {"timestamp_ms", rec.timestamp_ms},
                         {"key", rec.key ? json(std::string(*rec.key)) : json(nullptr)},
                         {"value", rec.value ? json(std::string(*rec.value)) : json(nullptr)}});
        },
        n);
    if (!scanned) return status_error(scanned);
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

}  // namespace kappa
