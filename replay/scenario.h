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
#include "pipeline/pipeline.h"
#include "replay/json_document.h"

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
  std::optional<int64_t> timestamp_ms;  // record timestamp; default: now
  int64_t repeat = 1;
};

struct AdvanceStep {
  std::optional<int64_t> by_ms;
  std::optional<int64_t> to_ms;
};

struct RunUntilIdleStep {
  int64_t limit_ms = 24 * 3600 * 1000;
};

// One expected table row, normalized (times formatted in the session zone).
struct ExpectedRow {
  TableRow row;
  Where where;
};

struct ExpectTableStep {
  std::string table;
  std::optional<std::vector<ExpectedRow>> rows;  // exactly these
  std::vector<ExpectedRow> contains;
  std::vector<ExpectedRow> absent;
  std::optional<int64_t> row_count;
};

using ExpectStep = std::variant<ExpectTableStep>;

struct Step {
  std::variant<GenerateStep, ProduceStep, AdvanceStep, RunUntilIdleStep, ExpectStep> action;
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
};

Result<Scenario> parse_scenario(const JsonDocument& doc);
Result<Scenario> load_scenario(const std::string& path);

}  // namespace kappa
