// Processing time, injected. Jobs ask a Clock for "now" and never read the system clock
// themselves, so the same job runs in real time (lab, services) or under a simulated clock that
// moves only when a scenario says (replays, tests), with identical results for identical arrivals.
#pragma once

#include <cstdint>

namespace kappa {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t now_ms() const = 0;
};

// Time moves only through set()/advance(), and never backwards.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(int64_t start_ms = 0) : now_(start_ms) {}
  int64_t now_ms() const override { return now_; }
  // REQUIRES: t >= now_ms().
  void set(int64_t t) { now_ = t > now_ ? t : now_; }
  void advance(int64_t ms) { now_ += ms > 0 ? ms : 0; }

 private:
  int64_t now_;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
};

}  // namespace kappa
