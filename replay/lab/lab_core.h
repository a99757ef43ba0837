// Lab: the lab that `kappa lab` runs (replay/lab/lab.h): one Pipeline on the lab's broker and
// sink, the aggregations it adds to it (recoveries, dimensions), its state that survives a
// restart (lab_state.h), its web view and its terminal view. Internal to replay/lab/:
// lab_command (lab.cc) makes one and drives its pipeline. The members are defined by concern:
//   lab_core.cc           construction, start and resume, the batch reports, the jobs' figures;
//   lab_actions.cc        the actions, POST /api/...: a new lab action goes there;
//   lab_web_view.cc       the web view: the page, the routing, the GET answers of the JSON API;
//   lab_terminal_view.cc  the terminal view.
//
// Thread safety: handle() may be called from the web server's threads; it posts its work to
// actions(). Every other member runs on the pipeline's thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <ostream>
#include <set>
#include <string>

#include "broker/result.h"
#include "pipeline/codec/event_codec.h"
#include "pipeline/jobs/aggregate_processor.h"
#include "pipeline/time/time_zone.h"
#include "replay/lab/action_queue.h"
#include "replay/lab/lab_flags.h"
#include "replay/lab/lab_state.h"
#include "replay/lab/lab_timeline.h"

namespace kappa {

class Clock;
class GeneratorJob;
class Log;
class Pipeline;
class Sink;
struct AggregationConfig;
struct HttpRequest;
struct HttpResponse;

using json = nlohmann::ordered_json;

inline constexpr const char* kView = "events_users";
inline constexpr const char* kV1 = "events_users_v1";
inline constexpr const char* kInjectedHello = "late";  // marks injected events in `events`

class Lab {
 public:
  Lab(LabFlags flags, Log& log, Sink& sink, TimeZone zone, const Clock& clock, std::ostream& out,
      bool tty);
  ~Lab();

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

  // The core (lab_core.cc).
  void on_report(const BatchReport& b);
  void record_timeline(const BatchReport& b, const AggregationSpec& spec);
  Status resume_ids();
  Result<MicroBatchQuery*> start_extra(const ExtraAggregation& a, bool recovery_guard);
  AggregationConfig aggregation_config(const ExtraAggregation& a) const;
  MicroBatchQuery::Totals totals(const std::string& id);
  int64_t behind(MicroBatchQuery& q);
  std::string job_state(MicroBatchQuery& q);

  // The web view (lab_web_view.cc): route() answers every /api/ request.
  HttpResponse route(const HttpRequest& request);
  json status();
  HttpResponse topic_latest(const std::string& topic, const HttpRequest& r);
  HttpResponse tables();
  HttpResponse table(const std::string& name, const HttpRequest& r);
  HttpResponse timeline(const HttpRequest& r);
  HttpResponse diff(const HttpRequest& r);
  json dimensions_json();
  json topics_json();

  // The actions (lab_actions.cc), one a POST path, `body` a JSON object. A new lab action goes
  // in lab_actions.cc, is declared here and gets its path in route() and in docs/lab-api.md
  // ("Acting").
  HttpResponse inject_late(const json& body);
  HttpResponse recover(const json& body);
  HttpResponse cutover(const json& body);
  HttpResponse dimensions(const json& body);

  // The terminal view (lab_terminal_view.cc), with print_totals().
  void print_view(const BatchReport& b);
  std::string progress_line(const std::string& id);

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
  // What lab-state.json keeps: the aggregations the lab added, the next injected id and the
  // figures of earlier runs (totals() adds this run's).
  LabState state_;
  std::map<std::string, int64_t> last_batch_ms_;
  std::map<std::string, Progress> progress_;
  std::set<std::string> announced_caught_up_;  // recoveries whose catching up was printed
  bool view_pointed_ = false;
  Timeline timeline_;
};

// The lab's JSON answers (lab_web_view.cc), for the web view and the actions.
HttpResponse json_response(int status, const json& body);
HttpResponse error_response(int status, const std::string& what);
HttpResponse status_error(const Status& s);  // 400, 404, 409 or 500 by the status's code

}  // namespace kappa
