// Drives jobs on a real clock (services, the lab): each job runs when the clock reaches its
// wakeup, in the same order rules as the simulated scheduler (earliest first; at one instant,
// the JobSet's order). Sleeps in short slices so a stop request is seen within ~100 ms.
#pragma once

#include <atomic>

#include "pipeline/clock.h"
#include "pipeline/scheduler.h"

namespace kappa {

class RealTimeDriver {
 public:
  RealTimeDriver(const Clock& clock, JobSet& jobs) : clock_(clock), jobs_(jobs) {}

  // Runs until `stop` is set (the current job finishes first) or, with until_idle, until every
  // job is idle. Returns the first error a job reports.
  Status run(const std::atomic<bool>& stop, bool until_idle = false);

 private:
  const Clock& clock_;
  JobSet& jobs_;
};

}  // namespace kappa
