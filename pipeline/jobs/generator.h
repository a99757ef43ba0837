// The event source of lab step 2.1: fluentd's `dummy` input with auto_increment_key `id` and
// the record_transformer that adds `time`, writing to the `events` topic.
//
// Event k (k = 0, 1, ...) has id first_id + k and is emitted at start + floor(k * 1000 / rate)
// milliseconds of processing time: `rate` events a second, spread evenly. Its value is
//   {"hello":"ssm-seoul","id":<id>,"time":"<emission time in the zone, yyyy-MM-dd HH:mm:ss>"}
// (event_codec.h), key null, timestamp the time it is sent. Null-key records are spread over the
// topic's partitions round-robin, computed here so that every Log places them alike.
// While the broker is unavailable, emitted events wait in a buffer (as fluentd's file buffer) and
// are retried every second; they keep their emission time, so they arrive late.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "broker/log.h"
#include "broker/partitioner.h"
#include "pipeline/engine/job.h"
#include "pipeline/time/time_zone.h"

namespace kappa {

struct GeneratorSpec {
  std::string topic = "events";
  int64_t rate = 1;              // events per second, >= 1 (fluentd dummy's `rate`)
  std::optional<int64_t> count;  // stop after this many events; unset: until stopped
  int64_t first_id = 0;
  std::optional<std::string> hello = "ssm-seoul";
};

class GeneratorJob final : public Job {
 public:
  GeneratorJob(std::string name, GeneratorSpec spec, Log& log, TimeZone zone, int64_t start_ms);

  const std::string& name() const override { return name_; }
  int64_t next_wakeup_ms() const override;
  Status run(int64_t now_ms) override;
  bool idle() const override { return next_wakeup_ms() == kNever; }

  void stop() { stopped_ = true; }
  int64_t emitted() const { return emitted_; }
  int64_t buffered() const { return static_cast<int64_t>(pending_.size()); }
  int64_t next_id() const { return spec_.first_id + emitted_; }
  const GeneratorSpec& spec() const { return spec_; }

 private:
  int64_t due_ms(int64_t k) const { return start_ms_ + (k * 1000) / spec_.rate; }
  int64_t next_emission_ms() const;

  std::string name_;
  GeneratorSpec spec_;
  Log& log_;
  TimeZone zone_;
  int64_t start_ms_;
  int64_t emitted_ = 0;
  bool stopped_ = false;
  Partitioner partitioner_;
  int32_t partitions_ = 0;
  struct Pending {
    size_t at, size;
  };
  std::string bytes_;  // values of the pending events
  std::vector<Pending> pending_;
  int64_t retry_at_ms_ = kNever;
};

}  // namespace kappa
