// A Job is anything that acts at points of processing time: a generator emitting events, a
// micro-batch query firing its trigger. A driver (scheduler.h under a simulated clock, or a
// real-time loop) calls run(t) when the clock reaches next_wakeup_ms().
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "broker/result.h"

namespace kappa {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

class Job {
 public:
  virtual ~Job() = default;
  virtual const std::string& name() const = 0;
  // When the job next wants to run; kNever when it has nothing scheduled.
  virtual int64_t next_wakeup_ms() const = 0;
  // Acts at processing time `now_ms` (>= the wakeup it was due at). An error is a defect or
  // an unrecoverable condition; expected faults are handled by the job itself.
  virtual Status run(int64_t now_ms) = 0;
  // True when running now would do nothing and nothing is pending (used by "run until idle").
  virtual bool idle() const = 0;
};

}  // namespace kappa
