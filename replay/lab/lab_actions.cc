// The lab's actions: the POST handlers of its JSON API (docs/lab-api.md), each run on the
// pipeline's thread by route() (lab_web_view.cc) with the request's body, a JSON object, and
// answering with a JSON object or an error (lab_core.h). A new lab action goes here: a member
// of Lab declared in lab_core.h with the others, its path in route(), and its entry under
// "Acting" in docs/lab-api.md.
#include "replay/lab/lab_core.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <span>
#include <utility>

#include "pipeline/jobs/pipeline.h"
#include "pipeline/time/clock.h"
#include "pipeline/time/duration.h"
#include "pipeline/time/timestamp.h"
#include "replay/lab/lab_http.h"

namespace kappa {

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
  const int64_t id = state_.next_injected_id;
  std::string value;
  append_source_event_json(value, id, std::string_view(kInjectedHello), time);
  OutgoingRecord record;
  record.value = value;
  record.timestamp_ms = now;
  auto appended =
      log_.produce(pipeline_->config().events.name, std::span<const OutgoingRecord>(&record, 1));
  if (!appended) return status_error(appended.status());
  ++state_.next_injected_id;
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
  if (std::any_of(state_.aggregations.begin(), state_.aggregations.end(),
                  [&](const ExtraAggregation& x) { return x.table == e.table; }) ||
      e.table == kV1) {
    return error_response(409,
                          "refusing to recover into " + e.table + ": the lab already writes it");
  }
  auto q = start_extra(e, true);
  if (!q) return status_error(q.status());
  state_.aggregations.push_back(e);
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
                       std::any_of(state_.aggregations.begin(), state_.aggregations.end(),
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
  auto it = std::find_if(state_.aggregations.begin(), state_.aggregations.end(),
                         [&](const ExtraAggregation& e) { return e.kind == which; });
  if (it == state_.aggregations.end()) {
    state_.aggregations.push_back(ExtraAggregation{
        which, which == "ages" ? "events_ages" : "events_depts",
        which == "ages" ? "age" : "dept_name", flags_.window_ms, flags_.watermark_ms, 0, false});
    it = state_.aggregations.end() - 1;
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

}  // namespace kappa
