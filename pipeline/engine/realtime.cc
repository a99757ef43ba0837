#include "pipeline/engine/realtime.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace kappa {

Status RealTimeDriver::run(const std::atomic<bool>& stop, bool until_idle) {
  while (!stop.load()) {
    Job* next = nullptr;
    int64_t when = kNever;
    bool all_idle = true;
    for (Job* job : jobs_.jobs()) {
      all_idle = all_idle && job->idle();
      const int64_t w = job->next_wakeup_ms();
      if (w < when) {
        when = w;
        next = job;
      }
    }
    if (until_idle && all_idle) return Status::ok();
    const int64_t now = clock_.now_ms();
    if (next && when <= now) {
      KAPPA_RETURN_IF_ERROR(next->run(now));
      KAPPA_RETURN_IF_ERROR(jobs_.after_run(*next, clock_.now_ms()));
      continue;
    }
    const int64_t wait = std::max<int64_t>(next ? std::min<int64_t>(when - now, 100) : 100, 1);
    if (wait_hook_) {
      wait_hook_(wait);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }
  return Status::ok();
}

}  // namespace kappa
