// Drives jobs on a real clock (services, the lab): each job runs when the clock reaches its
// wakeup, in the same order rules as the simulated scheduler (earliest first; at one instant,
// the JobSet's order). Sleeps in short slices so a stop request is seen within ~100 ms.
//
// An owner that needs to act on the jobs from the driver's thread (the lab runs actions that
// its web server requests) sets a wait hook: the driver then calls it instead of sleeping,
// between job runs, with the time until the next job is due (1..100 ms). The hook may run work
// of its own on the driver's thread (add or stop jobs: the JobSet is read again after it) and
// should return within about that time; returning early only makes the driver look again.
#pragma once

#include <atomic>
#include <functional>

#include "pipeline/engine/scheduler.h"
#include "pipeline/time/clock.h"

namespace kappa {

class RealTimeDriver {
 public:
  using WaitHook = std::function<void(int64_t wait_ms)>;

  RealTimeDriver(const Clock& clock, JobSet& jobs) : clock_(clock), jobs_(jobs) {}

  // Replaces the driver's sleep between job runs (see above); empty: sleep.
  void set_wait_hook(WaitHook hook) { wait_hook_ = std::move(hook); }

  // Runs until `stop` is set (the current job finishes first) or, with until_idle, until every
  // job is idle. Returns the first error a job reports.
  Status run(const std::atomic<bool>& stop, bool until_idle = false);

 private:
  const Clock& clock_;
  JobSet& jobs_;
  WaitHook wait_hook_;
};

}  // namespace kappa
