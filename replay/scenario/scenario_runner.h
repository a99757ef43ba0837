// Runs a scenario under the simulated clock against a Log and a Sink (embedded or real) and
// checks its expectations. The pipeline, its jobs and its clock live for one run.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "broker/log.h"
#include "pipeline/sinks/sink.h"
#include "replay/scenario/scenario.h"

namespace kappa {

struct ExpectationFailure {
  Where where;
  std::string title;               // "expect table events_users_v1"
  std::vector<std::string> lines;  // the row-level diff, or what differed
};

struct RunReport {
  std::string path;
  std::string name;
  int expectations = 0;  // checked
  int64_t rows_checked = 0;
  std::vector<ExpectationFailure> failures;
  std::vector<std::string> notes;  // reports worth showing: comparisons, balances
  Status error;                    // a step could not run; the scenario fails
  Where error_where;
  double wall_ms = 0;
  bool passed() const { return error.is_ok() && failures.empty(); }
};

struct RunOptions {
  std::ostream* trace = nullptr;   // one line per micro-batch
  std::ostream* tables = nullptr;  // every aggregate table at the end
};

RunReport run_scenario(const Scenario& scenario, Log& log, Sink& sink, const RunOptions& options);

// One micro-batch as --trace prints it: when it ran, offsets read, watermark before and after,
// rows dropped as late, dead letters, rows written (or why it failed).
std::string describe_batch(const BatchReport& batch, const TimeZone& zone);

// Prints a table the way Spark's DataFrame.show() does.
void print_table(std::ostream& out, const std::string& name, const std::string& dimension,
                 const std::vector<TableRow>& rows);

}  // namespace kappa
