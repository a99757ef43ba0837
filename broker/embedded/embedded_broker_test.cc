#include "broker/embedded/embedded_broker.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <thread>

namespace kappa {
namespace {

OutgoingRecord rec(std::optional<std::string_view> key, std::string_view value, int64_t ts,
                   int32_t partition = kAnyPartition) {
  OutgoingRecord r;
  r.key = key;
  r.value = value;
  r.timestamp_ms = ts;
  r.partition = partition;
  return r;
}

TEST(EmbeddedBroker, OffsetsStartAtZeroAndGrowByOne) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("events", 1));
  std::vector<OutgoingRecord> rs = {rec(std::nullopt, "a", 1), rec(std::nullopt, "b", 2)};
  auto placed = b.produce("events", rs);
  ASSERT_TRUE(placed);
  EXPECT_EQ((*placed)[0].offset, 0);
  EXPECT_EQ((*placed)[1].offset, 1);
  auto more = b.produce("events", std::span(rs).first(1));
  EXPECT_EQ((*more)[0].offset, 2);
  auto range = b.offsets("events", 0);
  EXPECT_EQ(range->earliest, 0);
  EXPECT_EQ(range->end, 3);
}

TEST(EmbeddedBroker, FetchHonoursLimitsAndKeepsBytes) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("t", 1));
  std::vector<OutgoingRecord> rs;
  for (int i = 0; i < 10; ++i) rs.push_back(rec(std::nullopt, "0123456789", i));
  ASSERT_TRUE(b.produce("t", rs));

  auto f = b.fetch("t", 0, 2, FetchLimits{.max_records = 3});
  ASSERT_TRUE(f);
  ASSERT_EQ(f->records.size(), 3u);
  EXPECT_EQ(f->records[0].offset, 2);
  EXPECT_EQ(f->next_offset, 5);
  EXPECT_EQ(f->end_offset, 10);

  auto g = b.fetch("t", 0, 0, FetchLimits{.max_bytes = 25});
  EXPECT_EQ(g->records.size(), 2u);

  auto h = b.fetch("t", 0, 8, FetchLimits{.end_offset = 9});
  ASSERT_EQ(h->records.size(), 1u);
  EXPECT_EQ(h->records[0].value, "0123456789");

  auto one = b.fetch("t", 0, 0, FetchLimits{.max_bytes = 1});
  EXPECT_EQ(one->records.size(), 1u) << "at least one record, whatever its size";

  auto at_end = b.fetch("t", 0, 10, FetchLimits{});
  ASSERT_TRUE(at_end);
  EXPECT_TRUE(at_end->records.empty());
}

TEST(EmbeddedBroker, ErrorsNameTheTopicPartitionAndOffset) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("t", 2));
  auto bad_offset = b.fetch("t", 1, 5, FetchLimits{});
  ASSERT_FALSE(bad_offset);
  EXPECT_EQ(bad_offset.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(bad_offset.status().message().find("t/1"), std::string::npos);
  EXPECT_NE(bad_offset.status().message().find("offset 5"), std::string::npos);

  auto bad_partition = b.fetch("t", 2, 0, FetchLimits{});
  EXPECT_EQ(bad_partition.status().code(), StatusCode::kNotFound);
  auto missing = b.offsets("nope", 0);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b.create_topic("t", 3).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(b.create_topic("bad topic", 1).code(), StatusCode::kInvalidArgument);
}

TEST(EmbeddedBroker, ProduceAutoCreatesUnlessDisabled) {
  EmbeddedBroker b;
  std::vector<OutgoingRecord> rs = {rec(std::nullopt, "x", 0)};
  ASSERT_TRUE(b.produce("fresh", rs));
  EXPECT_EQ(*b.partition_count("fresh"), 1);

  EmbeddedBroker strict(EmbeddedBroker::Options{.auto_create_topics = false});
  EXPECT_EQ(strict.produce("fresh", rs).status().code(), StatusCode::kNotFound);
}

TEST(EmbeddedBroker, KeyedRecordsGoWhereKafkaPutsThem) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("t", 7));
  std::vector<OutgoingRecord> rs = {rec(std::string_view("21"), "v", 0)};
  auto placed = b.produce("t", rs);
  EXPECT_EQ((*placed)[0].partition, 3);  // see partitioner_test: murmur2("21") % 7
}

TEST(EmbeddedBroker, NullAndEmptyKeysAndHeadersSurvive) {
  EmbeddedBroker b;
  const HeaderView hs[] = {{"reason", std::string_view("bad json")}, {"nullv", std::nullopt}};
  OutgoingRecord r = rec(std::string_view(""), "", 5, 0);
  r.headers = hs;
  OutgoingRecord n;
  n.partition = 0;
  std::vector<OutgoingRecord> rs = {r, n};
  ASSERT_TRUE(b.produce("t", rs));
  auto f = b.fetch("t", 0, 0, FetchLimits{});
  ASSERT_EQ(f->records.size(), 2u);
  EXPECT_TRUE(f->records[0].key.has_value());
  EXPECT_EQ(*f->records[0].key, "");
  EXPECT_EQ(f->records[0].header("reason"), std::optional<std::string_view>("bad json"));
  ASSERT_EQ(f->records[0].headers.size(), 2u);
  EXPECT_FALSE(f->records[0].headers[1].value.has_value());
  EXPECT_FALSE(f->records[1].key.has_value());
  EXPECT_FALSE(f->records[1].value.has_value());
}

TEST(EmbeddedBroker, OffsetForTimeFindsFirstRecordAtOrAfter) {
  EmbeddedBroker b;
  std::vector<OutgoingRecord> rs = {rec(std::nullopt, "a", 10), rec(std::nullopt, "b", 30),
                                    rec(std::nullopt, "c", 20), rec(std::nullopt, "d", 40)};
  ASSERT_TRUE(b.produce("t", rs));
  EXPECT_EQ(*b.offset_for_time("t", 0, 0), 0);
  EXPECT_EQ(*b.offset_for_time("t", 0, 15), 1);
  EXPECT_EQ(*b.offset_for_time("t", 0, 25), 1);  // offset 1 (ts 30) comes before offset 2 (ts 20)
  EXPECT_EQ(*b.offset_for_time("t", 0, 35), 3);
  EXPECT_EQ(*b.offset_for_time("t", 0, 41), 4);
}

TEST(EmbeddedBroker, CommittedOffsetsPerGroup) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("t", 3));
  const PartitionOffset g1[] = {{0, 5}, {2, 7}};
  ASSERT_TRUE(b.commit_offsets("g1", "t", g1));
  const PartitionOffset g2[] = {{1, 9}};
  ASSERT_TRUE(b.commit_offsets("g2", "t", g2));
  auto got = b.committed_offsets("g1", "t");
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[1], (PartitionOffset{2, 7}));
  EXPECT_TRUE(b.committed_offsets("g3", "t")->empty());
}

TEST(EmbeddedBroker, ConcurrentProducersLoseNothing) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("t", 4));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&b, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string v = std::to_string(t) + ":" + std::to_string(i);
        std::vector<OutgoingRecord> rs = {rec(std::string_view(v), v, i)};
        ASSERT_TRUE(b.produce("t", rs));
      }
    });
  }
  for (auto& th : threads) th.join();
  int64_t total = 0;
  for (int p = 0; p < 4; ++p) total += b.offsets("t", p)->end;
  EXPECT_EQ(total, 8000);
}

RC_GTEST_PROP(EmbeddedBrokerProperty, EveryProducedRecordFetchesBackIdentical,
              (const std::vector<std::pair<std::string, std::string>>& kvs,
               uint8_t partitions_raw)) {
  const int32_t partitions = 1 + partitions_raw % 5;
  EmbeddedBroker b;
  RC_ASSERT(b.create_topic("t", partitions).is_ok());
  std::vector<OutgoingRecord> rs;
  for (size_t i = 0; i < kvs.size(); ++i) {
    rs.push_back(rec(std::string_view(kvs[i].first), kvs[i].second, static_cast<int64_t>(i)));
  }
  auto placed = b.produce("t", rs);
  RC_ASSERT(placed.is_ok());
  for (size_t i = 0; i < kvs.size(); ++i) {
    const auto& a = (*placed)[i];
    RC_ASSERT(a.partition == partition_for_key(kvs[i].first, partitions));
    auto f = b.fetch("t", a.partition, a.offset, FetchLimits{.max_records = 1});
    RC_ASSERT(f.is_ok());
    RC_ASSERT(f->records.size() == 1u);
    RC_ASSERT(*f->records[0].key == kvs[i].first);
    RC_ASSERT(*f->records[0].value == kvs[i].second);
    RC_ASSERT(f->records[0].timestamp_ms == static_cast<int64_t>(i));
  }
}

// Deleting a topic drops its records and offsets (a fetch result still held keeps its bytes);
// the name then starts again at 0. Growing adds empty partitions and keeps the old ones.
TEST(EmbeddedBroker, DeleteAndGrowTopics) {
  EmbeddedBroker b;
  ASSERT_TRUE(b.create_topic("t", 2));
  std::vector<OutgoingRecord> rs = {rec(std::nullopt, "kept-bytes", 1, 1)};
  ASSERT_TRUE(b.produce("t", rs));
  const PartitionOffset po[] = {{1, 1}};
  ASSERT_TRUE(b.commit_offsets("g", "t", po));
  auto held = b.fetch("t", 1, 0, {});
  ASSERT_TRUE(held);
  EXPECT_EQ(b.add_partitions("t", 2).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(b.add_partitions("t", 4));
  EXPECT_EQ(*b.partition_count("t"), 4);
  EXPECT_EQ(b.offsets("t", 1)->end, 1);
  EXPECT_EQ(b.offsets("t", 3)->end, 0);

  ASSERT_TRUE(b.delete_topic("t"));
  EXPECT_EQ(b.delete_topic("t").code(), StatusCode::kNotFound);
  EXPECT_EQ(b.add_partitions("t", 5).code(), StatusCode::kNotFound);
  EXPECT_EQ(b.partition_count("t").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(b.list_topics()->empty());
  EXPECT_TRUE(b.committed_offsets("g", "t")->empty());
  ASSERT_EQ(held->records.size(), 1u);
  EXPECT_EQ(held->records[0].value, std::optional<std::string_view>("kept-bytes"));

  ASSERT_TRUE(b.create_topic("t", 1));
  EXPECT_EQ(b.offsets("t", 0)->end, 0);
}

// The blocks of a deleted topic's logs are kept and handed to the next logs: a log built on them
// must read back its own records only, across an index block boundary (32,768 entries).
TEST(EmbeddedBroker, ALogOnTheBlocksOfADeletedOneHoldsOnlyItsOwnRecords) {
  constexpr int kRecords = 40000;
  EmbeddedBroker b;
  std::vector<std::string> values;
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(b.create_topic("t", 1));
    values.clear();
    for (int i = 0; i < kRecords; ++i)
      values.push_back((round == 0 ? "old-value-with-more-bytes-" : "new-") + std::to_string(i));
    const HeaderView origin[] = {{"origin", round == 0 ? "first" : "second"}};
    std::vector<OutgoingRecord> rs;
    for (int i = 0; i < kRecords; ++i) {
      OutgoingRecord r = rec(std::nullopt, values[i], 1000 + (round == 0 ? 2 * i : i), 0);
      if (round == 1 && i % 3 == 0) r.value = std::nullopt;
      if (round == 0 || i % 2 == 0) r.headers = origin;
      rs.push_back(r);
    }
    ASSERT_TRUE(b.produce("t", rs));
    if (round == 0) {
      ASSERT_TRUE(b.delete_topic("t"));
    }
  }
  int64_t next = 0;
  while (next < kRecords) {
    auto f = b.fetch("t", 0, next, FetchLimits{});
    ASSERT_TRUE(f);
    ASSERT_FALSE(f->records.empty());
    for (const auto& r : f->records) {
      const int i = static_cast<int>(r.offset);
      ASSERT_EQ(r.timestamp_ms, 1000 + i);
      if (i % 3 == 0)
        ASSERT_FALSE(r.value.has_value()) << "offset " << i;
      else
        ASSERT_EQ(r.value, std::optional<std::string_view>(values[i])) << "offset " << i;
      if (i % 2 == 0) {
        ASSERT_EQ(r.headers.size(), 1u) << "offset " << i;
        ASSERT_EQ(r.headers[0].value, std::optional<std::string_view>("second"));
      } else {
        ASSERT_TRUE(r.headers.empty()) << "offset " << i;
      }
    }
    next = f->next_offset;
  }
  EXPECT_EQ(*b.offset_for_time("t", 0, 1000 + kRecords - 1), kRecords - 1);
  EXPECT_EQ(b.offsets("t", 0)->end, kRecords);
}

}  // namespace
}  // namespace kappa
