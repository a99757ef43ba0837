// Run: one scenario's execution, the state behind run_scenario() (scenario_runner.h). A JobSet
// on a simulated clock: the pipeline's jobs plus the arrivals, stepped by a SimulatedScheduler.
// Its members are defined by concern:
//   run.cc               setup, the step dispatch, batch outcomes, the trace, the limits backstop
//   run_actions.cc       the actions: stop, produce, replay, advance, fault, recover
//   run_expectations.cc  compare and every expectation (tables, topics, dead letters, metrics,
//                        balance, caught up, view)
// A new scenario action: its step type and parser in scenario.{h,cc}, a case in Run::step, and
// its member here, defined in run_actions.cc (or run_expectations.cc for a new expectation).
// Internal to kappa_scenario.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "broker/partitioner.h"
#include "pipeline/engine/faults.h"
#include "pipeline/engine/outage_log.h"
#include "pipeline/engine/scheduler.h"
#include "pipeline/jobs/pipeline.h"
#include "pipeline/time/timestamp.h"
#include "replay/scenario/arrival_job.h"
#include "replay/scenario/scenario.h"
#include "replay/scenario/scenario_runner.h"

namespace kappa::runner {

// std::visit over a step's variant with one lambda per alternative.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

class Run final : public JobSet {
 public:
  Run(const Scenario& s, Log& log, Sink& sink, const RunOptions& options, RunReport& report)
      : s_(s),
        log_(log),
        sink_(sink),
        options_(options),
        report_(report),
        clock_(s.start_ms),
        outage_(log, clock_),
        arrivals_(outage_) {}

  ~Run() override { sink_.set_faults(nullptr); }

  std::vector<Job*> jobs() override;
  Status after_run(Job& job, int64_t now_ms) override;
  Status setup();
  Status step(const Step& st);

  // After the last step: a query whose last attempts all failed (retried or crashed) has not
  // done its work, and the run fails unless the scenario expected that (a metrics expectation of
  // the query's failed attempts or state, after it began failing).
  void check_failing_queries();
  void print_tables();

 private:
  const TimeZone& zone() const { return pipeline_->zone(); }

  // Records written so far (produced, replayed, generated) plus `more`, against max_events.
  Status count_records(int64_t more);
  std::string now_text() const { return format_timestamp(clock_.now_ms(), zone()); }

  Status stop(const StopStep& stop);
  Status produce(const ProduceStep& p);
  Status replay(const ReplayStep& r);
  Status advance(const AdvanceStep& a);
  Status fault(const FaultStep& f);
  Status recover(const RecoverStep& r);
  const AggregationConfig* aggregation_of(const std::string& table) const;
  Status compare(const CompareStep& c);
  Status expect(const ExpectStep& e);
  Status expect_table(const ExpectTableStep& t);

  // The records of a topic (or one partition), through the log without faults.
  Result<std::vector<std::string>> topic_values(const std::string& topic,
                                                std::optional<int32_t> only,
                                                std::vector<bool>* null_values = nullptr);
  static bool value_matches(const nlohmann::ordered_json& expected, const std::string& actual);
  Status expect_topic(const ExpectTopicStep& t);
  Status expect_dead_letters(const ExpectDeadLettersStep& d);
  MicroBatchQuery* query_or_fail(const std::string& id, Status& status);
  void note_outcome(const BatchReport& b);
  Status expect_metrics(const ExpectMetricsStep& m);
  Status expect_balanced();
  Status expect_caught_up(const ExpectCaughtUpStep& c);
  Status expect_view(const ExpectViewStep& v);
  void fail(std::vector<std::string> lines);

  void trace(const BatchReport& b) { *options_.trace << describe_batch(b, zone()) << "\n"; }

  const Scenario& s_;
  Log& log_;
  Sink& sink_;
  const RunOptions& options_;
  RunReport& report_;
  SimulatedClock clock_;
  OutageLog outage_;
  FaultPlan faults_;
  ArrivalJob arrivals_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<SimulatedScheduler> scheduler_;
  Partitioner partitioner_;
  const Step* step_ = nullptr;
  int64_t written_ = 0;   // records produced and replayed
  int64_t job_runs_ = 0;  // every run of every job
  // Queries whose attempts have failed since their last successful batch.
  struct Failing {
    int attempts = 0;
    int64_t batch_id = 0;
    int64_t first_ms = 0;
    Status last;
    Where where;            // the step during which the first of these attempts ran
    bool expected = false;  // a later metrics expectation checked it
  };
  std::map<std::string, Failing> failing_;
};

}  // namespace kappa::runner
