// Drives jobs under a simulated clock: time jumps from one wakeup to the next, so an hour of
// pipeline runs in milliseconds and every run of the same scenario is identical.
//
// Order: wakeups run earliest first; jobs due at the same instant run in the order the JobSet
// lists them (generators, then the stage job, then aggregations, then recoveries: data flows
// downstream within an instant, so a trigger at T sees records that arrived at or before T).
#pragma once

#include <string>
#include <vector>

#include "pipeline/engine/job.h"
#include "pipeline/time/clock.h"

namespace kappa {

class JobSet {
 public:
  virtual ~JobSet() = default;
  virtual std::vector<Job*> jobs() = 0;
  // Called after each run of a job, at the same instant (e.g. to restart a crashed query).
  virtual Status after_run(Job& job, int64_t now_ms) {
    (void)job;
    (void)now_ms;
    return Status::ok();
  }
};

class SimulatedScheduler {
 public:
  SimulatedScheduler(SimulatedClock& clock, JobSet& jobs) : clock_(clock), jobs_(jobs) {}

  // Runs every wakeup due at or before t, then leaves the clock at t.
  Status advance_to(int64_t t);
  // Runs wakeups until every job is idle; fails if that would pass now + limit_ms.
  Status run_until_idle(int64_t limit_ms);

 private:
  // Runs the first job due at the earliest wakeup <= t; false when there is none.
  Result<bool> step(int64_t t);

  SimulatedClock& clock_;
  JobSet& jobs_;
  std::string last_job_;  // by name: detects a job that keeps running at one instant
  int64_t last_when_ = 0;
  int repeats_ = 0;
};

}  // namespace kappa
