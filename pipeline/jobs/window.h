// Event-time windows as Spark's window(ts, size, slide, startTime) assigns them (DESIGN.md §3.1
// rule 3): half-open [start, start + size), starts at startTime + k * slide counted from the Unix
// epoch in UTC. An event at t belongs to every window whose start lies in (t - size, t]: exactly
// size / slide windows when slide divides size, otherwise floor or ceil of it. Tumbling: slide ==
// size. Valid specs: size > 0, 0 < slide <= size, |offset| < slide (Spark's own checks).
#pragma once

#include <cstdint>

#include "broker/result.h"

namespace kappa {

struct WindowSpec {
  int64_t size_ms = 10000;
  int64_t slide_ms = 10000;
  int64_t offset_ms = 0;  // Spark's startTime
};

Status validate(const WindowSpec& w);

inline int64_t floor_mod(int64_t a, int64_t b) {
  const int64_t m = a % b;
  return m < 0 ? m + b : m;
}

// Calls f(start) for every window containing t, in ascending order of start.
template <class F>
void for_each_window(const WindowSpec& w, int64_t t, F&& f) {
  const int64_t last = t - floor_mod(t - w.offset_ms, w.slide_ms);  // latest start <= t
  if (w.slide_ms == w.size_ms) {
    f(last);
    return;
  }
  // Starts s = last - k * slide with s > t - size, i.e. k <= (last - t + size - 1) / slide.
  const int64_t k_max = (last - t + w.size_ms - 1) / w.slide_ms;
  for (int64_t k = k_max; k >= 0; --k) f(last - k * w.slide_ms);
}

}  // namespace kappa
