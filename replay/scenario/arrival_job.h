// ArrivalJob: the Job that makes a scenario's records arrive at chosen processing times
// (produce "at", replay), through the log the run's faults act on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "broker/log.h"
#include "pipeline/engine/job.h"

namespace kappa::runner {

// Records that arrive at chosen processing times (produce "at", replay). Runs before the
// pipeline's jobs at any instant: an arrival at T is read by a trigger at T. While the broker is
// down, arrivals wait and are retried every second, as a producer's retries.
class ArrivalJob final : public Job {
 public:
  struct Arrival {
    int64_t at_ms;
    std::string topic;
    std::optional<std::string> key;
    std::optional<std::string> value;
    int64_t timestamp_ms;
    int32_t partition;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  };

  explicit ArrivalJob(Log& log) : log_(log) {}

  void add(Arrival a) {
    // Stable: arrivals at one instant keep the order they were scheduled in.
    auto it = std::upper_bound(pending_.begin(), pending_.end(), a.at_ms,
                               [](int64_t t, const Arrival& x) { return t < x.at_ms; });
    pending_.insert(it, std::move(a));
  }

  const std::string& name() const override { return name_; }
  int64_t next_wakeup_ms() const override {
    if (pending_.empty()) return kNever;
    return std::max(pending_.front().at_ms, retry_at_ms_);
  }
  bool idle() const override { return pending_.empty(); }

  Status run(int64_t now_ms) override {
    while (!pending_.empty() && pending_.front().at_ms <= now_ms) {
      const Arrival& a = pending_.front();
      std::vector<HeaderView> headers;
      for (const auto& [k, v] : a.headers)
        headers.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
      OutgoingRecord r;
      if (a.key) r.key = *a.key;
      if (a.value) r.value = *a.value;
      r.timestamp_ms = a.timestamp_ms;
      r.partition = a.partition;
      r.headers = headers;
      auto placed = log_.produce(a.topic, std::span(&r, 1));
      if (!placed) {
        if (placed.status().code() != StatusCode::kUnavailable) return placed.status();
        retry_at_ms_ = now_ms + 1000;
        return Status::ok();
      }
      pending_.erase(pending_.begin());
    }
    retry_at_ms_ = 0;
    return Status::ok();
  }

 private:
  std::string name_ = "arrivals";
  Log& log_;
  std::vector<Arrival> pending_;
  int64_t retry_at_ms_ = 0;
};

}  // namespace kappa::runner
