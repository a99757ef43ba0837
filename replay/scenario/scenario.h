// A scenario: a pipeline, a simulated clock, and a script of actions and expectations
// (docs/scenarios.md). load_scenario() validates strictly: an unknown key, a wrong type, a bad
// duration or time is an error naming file, line, column and JSON pointer (exit code 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "broker/result.h"
#include "pipeline/jobs/pipeline.h"
#include "replay/scenario/json_document.h"
#include "replay/scenario/scenario_limits.h"

namespace kappa {

// Where a step came from: "scenarios/x.json:12:5".
struct Where {
  std::string file;
  SourceLocation location;
  std::string pointer;
  std::string to_string() const;
};

struct GenerateStep {
  GeneratorSpec spec;
};

struct StopStep {
  bool generators = false;
  std::optional<std::string> query;
};

struct ProduceStep {
  std::string topic;
  std::optional<std::string> key;
  int32_t partition = kAnyPartition;
  std::optional<std::string> value;  // nullopt: a null value (tombstone)
  // The event form resolves its time when it runs: "time_ago" is relative to the clock.
  struct Event {
    int64_t id = 0;
    std::optional<std::string> time;  // verbatim
    std::optional<int64_t> time_ago_ms;
    std::optional<std::string> hello = "ssm-seoul";
  };
  std::optional<Event> event;
  std::optional<int64_t> timestamp_ms;  // record timestamp; default: the arrival time
  std::optional<int64_t> at_ms;         // arrival time; default: now
  int64_t repeat = 1;
};

struct ReplayStep {
  std::string file;  // resolved against the scenario's folder
  std::optional<std::string> topic;
  enum class Timing { kRelative, kRecorded, kNow };
  Timing timing = Timing::kRelative;
};

struct AdvanceStep {
  std::optional<int64_t> by_ms;
  std::optional<int64_t> to_ms;
};

struct RunUntilIdleStep {
  int64_t limit_ms = 24 * 3600 * 1000;
};

struct RestartStep {
  std::string query;
};

struct FaultStep {
  enum class Kind { kSinkUnavailable, kCrash, kBrokerUnavailable };
  Kind kind = Kind::kSinkUnavailable;
  int commits = 1;                   // sink_unavailable
  std::string query;                 // the query whose commits fail or that crashes ("" any)
  std::string point;                 // the internal fault point (faults.h)
  int after = 0;                     // crash: passes of the point before it fires
  bool restart_immediately = false;  // crash
  int64_t duration_ms = 0;           // broker_unavailable
};

struct RecoverStep {
  AggregationConfig aggregation;
  std::optional<std::string> expect_error;  // the recovery must be refused with this text
};

struct CompareStep {
  std::string left;
  std::string right;
  std::optional<int64_t> same, changed, added, removed;
};

struct CutoverStep {
  std::string view = "events_users";
  std::string table;
};

// One expected table row, normalized (times formatted in the session zone).
struct ExpectedRow {
  TableRow row;
  Where where;
};

struct ExpectTableStep {
  std::string table;                             // a table or a view
  std::optional<std::vector<ExpectedRow>> rows;  // exactly these
  std::vector<ExpectedRow> contains;
  std::vector<ExpectedRow> absent;
  std::optional<int64_t> row_count;
};

// An expected record value: JSON compares as JSON, a string compares with the raw bytes.
struct ExpectedValue {
  nlohmann::ordered_json value;
  Where where;
};

struct ExpectTopicStep {
  std::string topic;
  std::optional<int32_t> partition;
  std::optional<int64_t> count;
  std::optional<std::vector<ExpectedValue>> values;  // exactly these, in offset order
  std::vector<ExpectedValue> contains;
};

struct ExpectDeadLettersStep {
  std::optional<int64_t> count;
  std::vector<std::pair<std::string, int64_t>> reasons;  // reason -> count
};

struct ExpectMetricsStep {
  std::string query;
  std::optional<int64_t> watermark_ms;
  std::optional<int64_t> batches, rows_in, rows_out, dead_letters, dropped_as_late, late_groups,
      failed_attempts;
  std::optional<std::string> state;  // running, crashed, stopped
};

struct ExpectBalancedStep {};

struct ExpectCaughtUpStep {
  std::string query;
  std::string with;
  bool caught_up = true;
};

struct ExpectViewStep {
  std::string view;
  std::string reads;
};

using ExpectStep =
    std::variant<ExpectTableStep, ExpectTopicStep, ExpectDeadLettersStep, ExpectMetricsStep,
                 ExpectBalancedStep, ExpectCaughtUpStep, ExpectViewStep>;

struct Step {
  std::variant<GenerateStep, StopStep, ProduceStep, ReplayStep, AdvanceStep, RunUntilIdleStep,
               RestartStep, FaultStep, RecoverStep, CompareStep, CutoverStep, ExpectStep>
      action;
  Where where;
  std::string label;  // "expect table events_users_v1", for reports
};

struct Scenario {
  std::string path;
  std::string name;
  std::string description;
  PipelineConfig pipeline;
  int64_t start_ms = 0;
  std::vector<Step> steps;
  ScenarioLimits limits;  // the run checks what only it can know against these
};

// Both refuse, as Status::invalid_argument naming the limit, a file that asks for more than
// `limits` allow (scenario_limits.h).
Result<Scenario> parse_scenario(const JsonDocument& doc, const ScenarioLimits& limits = {});
Result<Scenario> load_scenario(const std::string& path, const ScenarioLimits& limits = {});

}  // namespace kappa
