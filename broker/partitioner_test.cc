#include "broker/partitioner.h"

#include <gtest/gtest.h>

#include <string>

namespace kappa {
namespace {

// Apache Kafka's own vectors (clients' UtilsTest.testMurmur2): matching them is what makes a key
// land on the same partition here as on a real cluster.
TEST(Murmur2, MatchesKafkaUtilsTestVectors) {
  EXPECT_EQ(kafka_murmur2("21"), -973932308);
  EXPECT_EQ(kafka_murmur2("foobar"), -790332482);
  EXPECT_EQ(kafka_murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(kafka_murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(kafka_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(kafka_murmur2("abc"), 479470107);
}

TEST(PartitionForKey, IsPositiveModuloOfTheHash) {
  // -973932308 & 0x7fffffff = 1173551340; 1173551340 % 4 = 0, % 3 = 0, % 7 = 3.
  EXPECT_EQ(partition_for_key("21", 4), 0);
  EXPECT_EQ(partition_for_key("21", 3), 0);
  EXPECT_EQ(partition_for_key("21", 7), 3);
  for (int p = 1; p < 50; ++p) {
    const int32_t got = partition_for_key("user-" + std::to_string(p), p);
    EXPECT_GE(got, 0);
    EXPECT_LT(got, p);
  }
}

TEST(Partitioner, NullKeysRoundRobinByDefault) {
  Partitioner p;
  std::string seen;
  for (int i = 0; i < 7; ++i) seen += std::to_string(p.partition(std::nullopt, 3));
  EXPECT_EQ(seen, "0120120");
}

TEST(Partitioner, NullKeysStickForABatch) {
  Partitioner p(3);
  std::string seen;
  for (int i = 0; i < 8; ++i) seen += std::to_string(p.partition(std::nullopt, 2));
  EXPECT_EQ(seen, "00011100");
}

TEST(Partitioner, KeyedRecordsIgnoreStickiness) {
  Partitioner p(100);
  EXPECT_EQ(p.partition(std::string_view("21"), 7), 3);
  EXPECT_EQ(p.partition(std::string_view("21"), 7), 3);
}

}  // namespace
}  // namespace kappa
