// What of the lab survives a restart: DIR/lab-state.json (DIR is --data).
//
//   {"aggregations": [{"table": "events_users_v2", "dimension": "user_name", "window_ms": 10000,
//                      "watermark_ms": 60000, "kind": "recovery", "on": true}, ...],
//    "totals": {"stage": {"batches": 9, "rows_in": 42, ...}, ...},
//    "next_injected_id": 1000002}
//
// Written (to a temporary file, then renamed) after every batch and at the end. The queries'
// own progress lives in their checkpoints; this file only brings back what the lab added and
// the figures of earlier runs, which may miss the last batch after a kill -9.
//
// LabState is that file as a plain struct; the lab (lab_core.h) keeps one, loads it at start
// and saves it with this run's figures added.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "broker/result.h"
#include "pipeline/engine/micro_batch.h"

namespace kappa {

inline constexpr int64_t kFirstInjectedId = 1000001;

struct ExtraAggregation {
  std::string kind;  // "recovery", "ages" or "depts"
  std::string table;
  std::string dimension;
  int64_t window_ms = 10000;
  int64_t watermark_ms = 15000;
  int64_t max_records_per_batch = 0;
  bool on = true;
};

struct LabState {
  std::vector<ExtraAggregation> aggregations;  // what the lab added to the pipeline, in order
  std::map<std::string, MicroBatchQuery::Totals> totals;  // by query id
  int64_t next_injected_id = kFirstInjectedId;
};

// Adds what DIR/lab-state.json holds to `state`; no file is a first run, not an error. An
// aggregation into a table name the lab refuses is left out, with a line on `out`. A file that
// is not the lab's state is kInvalidArgument.
Status load_lab_state(const std::string& data_dir, LabState& state, std::ostream& out);

// Writes `state` to DIR/lab-state.json; when the write fails, the file stays as it was.
void save_lab_state(const std::string& data_dir, const LabState& state);

}  // namespace kappa
