// What one scenario file may ask of the machine. A scenario is input: a hostile or mistaken file
// must end with exit 2 and a message naming file, line, JSON pointer and the limit, never with an
// abort or a run of years. Every resource a file can ask for has a limit here; the defaults keep
// any run that passes them well under 5 s and 500 MB (docs/scenarios.md#limits gives the figures
// they were measured at), and `kappa run --limits-scale N` multiplies them on purpose.
//
// Checked where: load_scenario() checks the file's size before reading it, and parse_scenario()
// checks everything that the file determines (the clock can only move by `advance` and
// `run_until_idle`, so the simulated span, the generators' events and the trigger firings are
// known before the run); the runner checks what only the run knows (records replayed from a
// capture) and, as a backstop, counts what it writes and every job it runs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kappa {

// The clock runs from the Unix epoch to 9999-12-31 23:59:59.999 UTC, the range of the engine's
// timestamp format; durations are at most that span, so time + duration never overflows. Not
// scaled by --limits-scale.
inline constexpr int64_t kMinClockMs = 0;
inline constexpr int64_t kMaxClockMs = 253402300799999;

struct ScenarioLimits {
  // Bytes of the scenario file (4 MiB parse to about 250 MB of document and locations).
  int64_t max_scenario_bytes = int64_t{4} << 20;
  // Entries of "actions".
  int64_t max_actions = 100'000;
  // Bytes of each fixture table and capture file the scenario names; they must be regular files.
  int64_t max_input_file_bytes = int64_t{16} << 20;
  // Records the scenario writes: generated, produced (with "repeat") and replayed, in all.
  int64_t max_events = 1'000'000;
  // Bytes of those records' keys and values, in all.
  int64_t max_event_bytes = int64_t{64} << 20;
  // Windows one event falls in (window / slide, rounded up).
  int64_t max_windows_per_event = 1'000;
  // Window rows in all: records times the windows each falls in, summed over the aggregations.
  int64_t max_window_rows = 10'000'000;
  // Aggregation queries: the pipeline's and the recoveries'.
  int64_t max_queries = 100;
  // Simulated time from the clock's start to its end: 10 years (of 365 days).
  int64_t max_simulated_ms = int64_t{10} * 365 * 86'400'000;
  // Trigger firings, each counted once per partition the query reads (a firing costs about
  // 0.5 us a partition even with nothing to read), plus the broker-outage retries.
  int64_t max_trigger_reads = 2'000'000;

  // Every limit multiplied by `factor` (>= 1), saturating.
  ScenarioLimits scaled(int64_t factor) const;
};

}  // namespace kappa
