// Test rig: the pipeline on the embedded broker, an in-memory SQLite sink and a simulated clock
// starting at 2022-09-30 16:42:00 in Seoul (a multiple of 10 s, like the lab's first window).
// Tests only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/embedded/embedded_broker.h"
#include "pipeline/codec/event_codec.h"
#include "pipeline/engine/scheduler.h"
#include "pipeline/jobs/pipeline.h"
#include "pipeline/sinks/sqlite_sink.h"
#include "pipeline/time/timestamp.h"

namespace kappa::testing {

// 2022-09-30 16:42:00 +09:00 = 07:42:00 UTC (date -u -d '2022-09-30 07:42:00' +%s = 1664523720).
inline constexpr int64_t kT0 = 1664523720000;

inline PipelineConfig config_with(std::vector<AggregationConfig> aggregations, bool stage = true) {
  PipelineConfig c;
  c.stage_enabled = stage;
  c.aggregations = std::move(aggregations);
  return c;
}

class Rig {
 public:
  explicit Rig(PipelineConfig config, FaultHook* faults = nullptr) : clock(kT0) {
    auto s = SqliteSink::open(":memory:", faults);
    EXPECT_TRUE(s) << s.status().message();
    sink = std::move(*s);
    auto p = Pipeline::create(std::move(config), broker, *sink, faults);
    EXPECT_TRUE(p) << p.status().message();
    pipeline = std::move(*p);
    scheduler = std::make_unique<SimulatedScheduler>(clock, *pipeline);
    EXPECT_TRUE(pipeline->start(clock.now_ms()));
  }

  // Seconds after kT0 as the session zone's wall clock ("2022-09-30 16:42:10").
  std::string at(int64_t seconds) const {
    return format_timestamp(kT0 + seconds * 1000, pipeline->zone());
  }

  void advance_to(int64_t seconds) {
    auto s = scheduler->advance_to(kT0 + seconds * 1000);
    ASSERT_TRUE(s) << s.message();
  }

  // A staged record with the given user_name and event time (seconds after kT0), arriving now.
  void produce_staged(std::string_view user, int64_t event_seconds, int64_t id = 0) {
    StagedEvent e;
    const std::string time = at(event_seconds);
    e.time = time;
    e.user_id = id % 10;
    e.user_name = user;
    e.dept_name = "H/R";
    e.gender = "남성";
    e.age = 1;
    e.hello = "ssm-seoul";
    e.id = id;
    std::string value;
    append_staged_json(value, e);
    produce_raw(pipeline->config().stages.name, value);
  }

  void produce_raw(const std::string& topic, std::string_view value) {
    OutgoingRecord r;
    r.value = value;
    r.timestamp_ms = clock.now_ms();
    r.partition = 0;
    ASSERT_TRUE(broker.produce(topic, std::span(&r, 1)));
  }

  std::vector<TableRow> table(const std::string& name) {
    auto rows = sink->read_table(name);
    EXPECT_TRUE(rows) << rows.status().message();
    return rows ? *rows : std::vector<TableRow>{};
  }

  TableRow row(int64_t start_s, int64_t end_s, DimValue dim, int64_t count) const {
    return TableRow{at(start_s), at(end_s), std::move(dim), count};
  }

  std::vector<std::string> values(const std::string& topic) {
    std::vector<std::string> out;
    auto n = broker.partition_count(topic);
    for (int32_t p = 0; n && p < *n; ++p) {
      auto f = broker.fetch(topic, p, 0, FetchLimits{});
      for (const auto& r : f->records) out.emplace_back(r.value.value_or("<null>"));
    }
    return out;
  }

  EmbeddedBroker broker;
  std::unique_ptr<SqliteSink> sink;
  SimulatedClock clock;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<SimulatedScheduler> scheduler;
};

}  // namespace kappa::testing
