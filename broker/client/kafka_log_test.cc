// The Log contract, checked on the embedded broker and on a real Apache Kafka through
// KafkaLog: the same calls must give the same answers. The Kafka half needs a broker at
// $KAPPA_TEST_KAFKA (default kafka://127.0.0.1:9092, started by scripts/start-kafka.sh); without
// one it is skipped, except in CI (CI=true), where that is a failure.
#include "broker/client/kafka_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>

#include "broker/client/test_servers.h"
#include "broker/embedded/embedded_broker.h"
#include "broker/partitioner.h"

namespace kappa {
namespace {

using test_servers::in_ci;
using test_servers::kafka_url;

// A topic name no other test process uses.
std::string fresh_topic(const std::string& name) {
  static int counter = 0;
  return "kappa_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" + name;
}

struct Backend {
  std::string name;
  std::function<Result<std::unique_ptr<Log>>()> open;
};

class LogContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto log = GetParam().open();
    if (!log) {
      if (in_ci()) FAIL() << "CI=true and the log is unavailable: " << log.status().message();
      GTEST_SKIP() << log.status().message();
    }
    log_ = std::move(*log);
  }
  std::unique_ptr<Log> log_;
};

OutgoingRecord rec(std::optional<std::string_view> key, std::optional<std::string_view> value,
                   int64_t ts, int32_t partition = 0) {
  OutgoingRecord r;
  r.key = key;
  r.value = value;
  r.timestamp_ms = ts;
  r.partition = partition;
  return r;
}

TEST_P(LogContract, OffsetsStartAtZeroAndGrowByOne) {
  const std::string t = fresh_topic("offsets");
  ASSERT_TRUE(log_->create_topic(t, 2));
  EXPECT_TRUE(log_->create_topic(t, 2))
      << "creating an existing topic with the same partitions succeeds";
  EXPECT_EQ(log_->create_topic(t, 3).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*log_->partition_count(t), 2);
  std::vector<OutgoingRecord> rs = {rec(std::nullopt, "a", 1000), rec(std::nullopt, "b", 1001),
                                    rec(std::nullopt, "c", 1002, 1)};
  auto put = log_->produce(t, rs);
  ASSERT_TRUE(put) << put.status().message();
  ASSERT_EQ(put->size(), 3u);
  EXPECT_EQ((*put)[0].offset, 0);
  EXPECT_EQ((*put)[1].offset, 1);
  EXPECT_EQ((*put)[2].partition, 1);
  EXPECT_EQ((*put)[2].offset, 0);
  auto range = log_->offsets(t, 0);
  ASSERT_TRUE(range) << range.status().message();
  EXPECT_EQ(range->earliest, 0);
  EXPECT_EQ(range->end, 2);
  auto ends = log_->end_offsets(t);
  ASSERT_TRUE(ends) << ends.status().message();
  EXPECT_EQ(*ends, (std::vector<PartitionOffset>{{0, 2}, {1, 1}}));
  EXPECT_EQ(log_->end_offsets(fresh_topic("missing")).status().code(), StatusCode::kNotFound);
  auto topics = log_->list_topics();
  ASSERT_TRUE(topics);
  EXPECT_NE(std::find(topics->begin(), topics->end(), t), topics->end());
  EXPECT_EQ(log_->partition_count(fresh_topic("missing")).status().code(), StatusCode::kNotFound);
}

TEST_P(LogContract, FetchHonoursLimitsAndTheEndOffset) {
  const std::string t = fresh_topic("fetch");
  ASSERT_TRUE(log_->create_topic(t, 1));
  std::vector<std::string> values;
  for (int i = 0; i < 50; ++i) values.push_back("value-" + std::to_string(i));
  std::vector<OutgoingRecord> rs;
  for (int i = 0; i < 50; ++i) rs.push_back(rec(std::nullopt, values[i], 5000 + i));
  ASSERT_TRUE(log_->produce(t, rs));

  auto all = log_->fetch(t, 0, 0, FetchLimits{});
  ASSERT_TRUE(all) << all.status().message();
  ASSERT_EQ(all->records.size(), 50u);
  EXPECT_EQ(all->next_offset, 50);
  EXPECT_EQ(all->end_offset, 50);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(all->records[i].offset, i);
    EXPECT_EQ(all->records[i].value, std::optional<std::string_view>(values[i]));
    EXPECT_EQ(all->records[i].timestamp_ms, 5000 + i);
  }
  auto some = log_->fetch(t, 0, 10, FetchLimits{.max_records = 5});
  ASSERT_TRUE(some);
  ASSERT_EQ(some->records.size(), 5u);
  EXPECT_EQ(some->records.front().offset, 10);
  EXPECT_EQ(some->next_offset, 15);
  auto next = log_->fetch(t, 0, 15, FetchLimits{.end_offset = 20});  // continues where it stopped
  ASSERT_TRUE(next);
  ASSERT_EQ(next->records.size(), 5u);
  EXPECT_EQ(next->records.back().offset, 19);
  auto back = log_->fetch(t, 0, 3, FetchLimits{.max_records = 2});  // and goes back
  ASSERT_TRUE(back);
  ASSERT_EQ(back->records.size(), 2u);
  EXPECT_EQ(back->records[0].offset, 3);
  auto at_end = log_->fetch(t, 0, 50, FetchLimits{});
  ASSERT_TRUE(at_end);
  EXPECT_TRUE(at_end->records.empty());
  EXPECT_EQ(at_end->next_offset, 50);
  EXPECT_EQ(log_->fetch(t, 0, 51, FetchLimits{}).status().code(), StatusCode::kOutOfRange);
}

TEST_P(LogContract, NullAndEmptyKeysValuesAndHeadersSurvive) {
  const std::string t = fresh_topic("nulls");
  ASSERT_TRUE(log_->create_topic(t, 1));
  const HeaderView hs[] = {{"reason", std::string_view("bad json")}, {"nullv", std::nullopt}};
  OutgoingRecord r = rec(std::string_view(""), std::string_view(""), 5);
  r.headers = hs;
  const std::string binary("\x00\xff\x01", 3);
  std::vector<OutgoingRecord> rs = {r, rec(std::nullopt, std::nullopt, 6), rec(binary, binary, 7)};
  ASSERT_TRUE(log_->produce(t, rs));
  auto f = log_->fetch(t, 0, 0, FetchLimits{});
  ASSERT_TRUE(f) << f.status().message();
  ASSERT_EQ(f->records.size(), 3u);
  EXPECT_EQ(f->records[0].key, std::optional<std::string_view>(""));
  EXPECT_EQ(f->records[0].value, std::optional<std::string_view>(""));
  EXPECT_EQ(f->records[0].header("reason"), std::optional<std::string_view>("bad json"));
  ASSERT_EQ(f->records[0].headers.size(), 2u);
  EXPECT_FALSE(f->records[0].headers[1].value.has_value());
  EXPECT_FALSE(f->records[1].key.has_value());
  EXPECT_FALSE(f->records[1].value.has_value());
  EXPECT_EQ(f->records[2].key, std::optional<std::string_view>(binary));
  EXPECT_EQ(f->records[2].value, std::optional<std::string_view>(binary));
}

TEST_P(LogContract, KeyedRecordsGoWhereKafkaPutsThem) {
  const std::string t = fresh_topic("keys");
  ASSERT_TRUE(log_->create_topic(t, 4));
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(std::to_string(i));
  std::vector<OutgoingRecord> rs;
  for (const auto& k : keys) rs.push_back(rec(k, "v", 1, kAnyPartition));
  auto put = log_->produce(t, rs);
  ASSERT_TRUE(put) << put.status().message();
  Partitioner partitioner;
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*put)[i].partition, partitioner.partition(keys[i], 4)) << "key " << keys[i];
  }
}

TEST_P(LogContract, OffsetForTimeFindsTheFirstRecordAtOrAfter) {
  const std::string t = fresh_topic("times");
  ASSERT_TRUE(log_->create_topic(t, 1));
  std::vector<OutgoingRecord> rs = {rec(std::nullopt, "a", 10000), rec(std::nullopt, "b", 30000),
                                    rec(std::nullopt, "c", 20000), rec(std::nullopt, "d", 40000)};
  ASSERT_TRUE(log_->produce(t, rs));
  EXPECT_EQ(*log_->offset_for_time(t, 0, 0), 0);
  EXPECT_EQ(*log_->offset_for_time(t, 0, 15000), 1);
  EXPECT_EQ(*log_->offset_for_time(t, 0, 25000), 1);
  EXPECT_EQ(*log_->offset_for_time(t, 0, 35000), 3);
  EXPECT_EQ(*log_->offset_for_time(t, 0, 41000), 4);
}

TEST_P(LogContract, CommittedOffsetsPerGroup) {
  const std::string t = fresh_topic("groups");
  ASSERT_TRUE(log_->create_topic(t, 3));
  const std::string g1 = t + "_g1", g2 = t + "_g2", g3 = t + "_g3";
  const PartitionOffset first[] = {{0, 5}, {2, 7}};
  ASSERT_TRUE(log_->commit_offsets(g1, t, first));
  const PartitionOffset second[] = {{1, 9}};
  ASSERT_TRUE(log_->commit_offsets(g2, t, second));
  auto got = log_->committed_offsets(g1, t);
  ASSERT_TRUE(got) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0], (PartitionOffset{0, 5}));
  EXPECT_EQ((*got)[1], (PartitionOffset{2, 7}));
  EXPECT_TRUE(log_->committed_offsets(g3, t)->empty());
}

const Backend kEmbedded{"embedded", []() -> Result<std::unique_ptr<Log>> {
                          return std::unique_ptr<Log>(std::make_unique<EmbeddedBroker>());
                        }};
const Backend kKafka{"kafka", []() -> Result<std::unique_ptr<Log>> {
                       if (!test_servers::kafka_up()) return test_servers::kafka_up();
                       auto log = KafkaLog::open(kafka_url(), 10000);
                       if (!log) return log.status();
                       return std::unique_ptr<Log>(std::move(*log));
                     }};

INSTANTIATE_TEST_SUITE_P(Backends, LogContract, ::testing::Values(kEmbedded, kKafka),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(KafkaLogUrl, RefusesWhatIsNotAKafkaUrl) {
  EXPECT_EQ(KafkaLog::open("mysql://scott:tiger@h/db").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(KafkaLog::open("mysql://scott:tiger@h/db").status().message().find("tiger"),
            std::string::npos);
  EXPECT_EQ(KafkaLog::open("kafka://h:9092/path").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(KafkaLog::open("kafka://h:9092?acks=0").status().code(), StatusCode::kInvalidArgument);
  auto ok = KafkaLog::open("kafka://127.0.0.1:9092,127.0.0.1:9093?replication_factor=1");
  ASSERT_TRUE(ok) << ok.status().message();
  EXPECT_EQ((*ok)->describe(), "kafka://127.0.0.1:9092,127.0.0.1:9093");
}

TEST(KafkaLogUrl, AnUnreachableClusterIsUnavailableNotAHang) {
  auto log = KafkaLog::open("kafka://127.0.0.1:1", 1500);  // nothing listens on port 1
  ASSERT_TRUE(log);
  auto topics = (*log)->list_topics();
  ASSERT_FALSE(topics);
  EXPECT_EQ(topics.status().code(), StatusCode::kUnavailable) << topics.status().message();
}

}  // namespace
}  // namespace kappa
