#include "broker/topic_config.h"

#include <gtest/gtest.h>

namespace kappa {
namespace {

TEST(TopicConfig, RefusesUnknownNamesAndBadValuesWithKafkasWording) {
  EXPECT_EQ(validate_topic_config("retention.mss", "1").message(),
            "Unknown topic config name: retention.mss");
  EXPECT_EQ(validate_topic_config("retention.ms", "soon").message(),
            "Invalid value soon for configuration retention.ms: Not a number of type LONG");
  EXPECT_EQ(validate_topic_config("retention.ms", "-2").message(),
            "Invalid value -2 for configuration retention.ms: Value must be at least -1");
  EXPECT_EQ(validate_topic_config("segment.bytes", "3000000000").message(),
            "Invalid value 3000000000 for configuration segment.bytes: Not a number of type INT");
  EXPECT_EQ(validate_topic_config("segment.bytes", "13").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_topic_config("cleanup.policy", "compact,forever").message(),
            "Invalid value compact,forever for configuration cleanup.policy: String must be one "
            "of: compact, delete");
  EXPECT_EQ(validate_topic_config("message.timestamp.type", "logappendtime").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_topic_config("min.insync.replicas", "0").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(validate_topic_config("retention.bytes", "-5").is_ok());
}

// Kafka's tools set file.delete.delay.ms (the bench does on every topic it creates); it is taken
// and validated as Kafka does, and changes nothing here: segment files go at once, and a fetch
// still sending one keeps its open file.
TEST(TopicConfig, TakesFileDeleteDelayAsKafkaDoes) {
  std::string out;
  ASSERT_TRUE(validate_topic_config("file.delete.delay.ms", " 0", &out).is_ok());
  EXPECT_EQ(out, "0");
  EXPECT_EQ(validate_topic_config("file.delete.delay.ms", "-1").message(),
            "Invalid value -1 for configuration file.delete.delay.ms: Value must be at least 0");
  const TopicConfigDef* def = find_topic_config("file.delete.delay.ms");
  ASSERT_NE(def, nullptr);
  EXPECT_STREQ(def->kafka_default, "60000");
}

TEST(TopicConfig, NormalizesListsAndNumbers) {
  std::string out;
  ASSERT_TRUE(validate_topic_config("cleanup.policy", "delete, compact", &out).is_ok());
  EXPECT_EQ(out, "compact,delete");
  ASSERT_TRUE(validate_topic_config("retention.ms", " 1000", &out).is_ok());
  EXPECT_EQ(out, "1000");
}

TEST(TopicConfig, SettingsFollowTheOverrides) {
  const TopicSettings none = parse_topic_settings({});
  EXPECT_FALSE(none.retention_ms);
  EXPECT_TRUE(none.retain);
  EXPECT_FALSE(none.compact);
  const TopicSettings s = parse_topic_settings({{"cleanup.policy", "compact"},
                                                {"max.message.bytes", "500"},
                                                {"message.timestamp.type", "LogAppendTime"},
                                                {"min.insync.replicas", "2"},
                                                {"retention.bytes", "100"},
                                                {"retention.ms", "1000"},
                                                {"segment.bytes", "4096"}});
  EXPECT_EQ(s.retention_ms, 1000);
  EXPECT_EQ(s.retention_bytes, 100);
  EXPECT_EQ(s.segment_bytes, 4096);
  EXPECT_EQ(s.max_message_bytes, 500);
  EXPECT_TRUE(s.log_append_time);
  EXPECT_TRUE(s.compact);
  EXPECT_FALSE(s.retain);
  EXPECT_EQ(s.min_insync_replicas, 2);
}

TEST(TopicConfig, StoredFormRoundTripsAndNamesTheBadLine) {
  const TopicConfigs c{{"cleanup.policy", "compact,delete"}, {"retention.ms", "1000"}};
  const std::string text = format_topic_configs(c);
  EXPECT_EQ(text, "cleanup.policy=compact,delete\nretention.ms=1000\n");
  auto back = parse_topic_configs(text, "configs/t");
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(
      parse_topic_configs("retention.ms=1\nretention.ms=x\n", "configs/t").status().message(),
      "configs/t:2: Invalid value x for configuration retention.ms: Not a number of type LONG");
  EXPECT_EQ(parse_topic_configs("retention.ms=1", "configs/t").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(parse_topic_configs("retention.ms\n", "f").status().message(),
            "f:1: expected name=value, got 'retention.ms'");
}

}  // namespace
}  // namespace kappa
