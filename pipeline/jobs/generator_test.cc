#include "pipeline/jobs/generator.h"

#include <gtest/gtest.h>

#include "broker/embedded/embedded_broker.h"
#include "pipeline/engine/outage_log.h"

namespace kappa {
namespace {

constexpr int64_t kT0 = 1664523720000;  // 2022-09-30 16:42:00 in Seoul

std::vector<RecordView> all(EmbeddedBroker& b, int32_t partition = 0) {
  return b.fetch("events", partition, 0, FetchLimits{})->records;
}

TEST(Generator, EmitsFluentdDummyEventsOneASecond) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("events", 1));
  GeneratorSpec spec;
  spec.count = 3;
  GeneratorJob g("g", spec, b, TimeZone::load("Asia/Seoul").value(), kT0);
  EXPECT_EQ(g.next_wakeup_ms(), kT0);
  ASSERT_TRUE(g.run(kT0 + 1500));  // due: events 0 (16:42:00) and 1 (16:42:01)
  EXPECT_EQ(g.next_wakeup_ms(), kT0 + 2000);
  ASSERT_TRUE(g.run(kT0 + 2000));
  EXPECT_EQ(g.next_wakeup_ms(), kNever);
  EXPECT_TRUE(g.idle());
  const auto rs = all(b);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].value, std::optional<std::string_view>(
                             R"({"hello":"ssm-seoul","id":0,"time":"2022-09-30 16:42:00"})"));
  EXPECT_EQ(rs[2].value, std::optional<std::string_view>(
                             R"({"hello":"ssm-seoul","id":2,"time":"2022-09-30 16:42:02"})"));
  EXPECT_EQ(rs[1].timestamp_ms, kT0 + 1500) << "the record timestamp is when it was sent";
  EXPECT_FALSE(rs[0].key.has_value());
}

TEST(Generator, RateSpreadsEventsEvenlyAndTimeIsTruncatedToSeconds) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("events", 1));
  GeneratorSpec spec;
  spec.rate = 4;
  spec.count = 5;
  spec.first_id = 100;
  spec.hello.reset();
  GeneratorJob g("g", spec, b, TimeZone::utc(), kT0);
  ASSERT_TRUE(g.run(kT0 + 1000));
  const auto rs = all(b);
  ASSERT_EQ(rs.size(), 5u);  // at +0, +250, +500, +750, +1000 ms
  EXPECT_EQ(rs[3].value, std::optional<std::string_view>(
                             R"({"hello":null,"id":103,"time":"2022-09-30 07:42:00"})"));
  EXPECT_EQ(rs[4].value, std::optional<std::string_view>(
                             R"({"hello":null,"id":104,"time":"2022-09-30 07:42:01"})"));
}

TEST(Generator, NullKeysGoRoundRobinOverPartitions) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("events", 3));
  GeneratorSpec spec;
  spec.count = 7;
  GeneratorJob g("g", spec, b, TimeZone::utc(), kT0);
  ASSERT_TRUE(g.run(kT0 + 10000));
  EXPECT_EQ(all(b, 0).size(), 3u);
  EXPECT_EQ(all(b, 1).size(), 2u);
  EXPECT_EQ(all(b, 2).size(), 2u);
}

TEST(Generator, BuffersWhileTheBrokerIsDownAndKeepsEventTimes) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("events", 1));
  SimulatedClock clock(kT0);
  OutageLog log(b, clock);
  GeneratorSpec spec;
  spec.count = 3;
  GeneratorJob g("g", spec, log, TimeZone::utc(), kT0);
  log.fail_until(kT0 + 1500);
  ASSERT_TRUE(g.run(kT0));  // event 0 cannot be sent
  EXPECT_EQ(g.buffered(), 1);
  EXPECT_EQ(g.next_wakeup_ms(), kT0 + 1000);
  clock.set(kT0 + 1000);
  ASSERT_TRUE(g.run(kT0 + 1000));  // still down: events 0 and 1 wait
  EXPECT_EQ(g.buffered(), 2);
  clock.set(kT0 + 2000);
  ASSERT_TRUE(g.run(kT0 + 2000));  // back: 0, 1 and 2 are sent, in order, with their own times
  EXPECT_EQ(g.buffered(), 0);
  const auto rs = all(b);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].value, std::optional<std::string_view>(
                             R"({"hello":"ssm-seoul","id":0,"time":"2022-09-30 07:42:00"})"));
  EXPECT_EQ(rs[0].timestamp_ms, kT0 + 2000);
  EXPECT_TRUE(g.idle());
}

TEST(Generator, StopEndsEmission) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("events", 1));
  GeneratorJob g("g", GeneratorSpec{}, b, TimeZone::utc(), kT0);
  ASSERT_TRUE(g.run(kT0 + 4000));
  g.stop();
  EXPECT_EQ(g.next_wakeup_ms(), kNever);
  EXPECT_EQ(g.emitted(), 5);
  EXPECT_EQ(g.next_id(), 5);
}

}  // namespace
}  // namespace kappa
