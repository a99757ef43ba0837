#include "pipeline/engine/scheduler.h"

#include <string>

namespace kappa {

Result<bool> SimulatedScheduler::step(int64_t t) {
  Job* next = nullptr;
  int64_t when = kNever;
  for (Job* job : jobs_.jobs()) {
    const int64_t w = job->next_wakeup_ms();
    if (w < when) {
      when = w;
      next = job;
    }
  }
  if (!next || when > t) return false;
  clock_.set(when);
  std::string name = next->name();
  KAPPA_RETURN_IF_ERROR(next->run(clock_.now_ms()));
  const int64_t wakeup = next->next_wakeup_ms();
  // after_run may replace the job (a crashed query restarted at the instant it crashed), so
  // `next` is not used after it.
  KAPPA_RETURN_IF_ERROR(jobs_.after_run(*next, clock_.now_ms()));
  // A job may run again at the same instant (a query restarted where it crashed), but not
  // forever: that is a crash loop.
  repeats_ = (name == last_job_ && when == last_when_) ? repeats_ + 1 : 0;
  last_when_ = when;
  if (wakeup < when || repeats_ > 100) {
    return Status::internal("job " + name + " keeps running at " + std::to_string(when) +
                            " ms without moving on (a crash loop?)");
  }
  last_job_ = std::move(name);
  return true;
}

Status SimulatedScheduler::advance_to(int64_t t) {
  while (true) {
    auto stepped = step(t);
    if (!stepped) return stepped.status();
    if (!*stepped) break;
  }
  clock_.set(t);
  return Status::ok();
}

Status SimulatedScheduler::run_until_idle(int64_t limit_ms) {
  const int64_t deadline = clock_.now_ms() + limit_ms;
  while (true) {
    bool all_idle = true;
    for (Job* job : jobs_.jobs()) all_idle = all_idle && job->idle();
    if (all_idle) return Status::ok();
    auto stepped = step(deadline);
    if (!stepped) return stepped.status();
    if (!*stepped) {
      return Status::failed_precondition(
          "the pipeline is still busy after " + std::to_string(limit_ms / 1000) +
          " s of simulated time (is a generator without a count running?)");
    }
  }
}

}  // namespace kappa
