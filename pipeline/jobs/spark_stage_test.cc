// Spark-exact staging against what PySpark 3.2.1 and 3.5 staged for the same values
// (testdata/spark_stage_cases.jsonl, written by running the lab's stage code on them; the
// live comparison is tests/spark's spark_conformance suite). A case with "spark_3_2" is one
// where the two versions differ (we follow 3.5); "jdk17_only" marks a float that Spark on Java 17
// prints with JDK 17's older Double.toString (docs/semantics.md).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/jobs/stage_processor.h"
#include "pipeline/jobs/test_rig.h"

namespace kappa {
namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::pair<std::optional<std::string>, std::string> stage_like_spark(
    std::optional<std::string_view> value) {
  SparkSourceEvent e;
  spark_from_json(value, e);
  const SparkStagedEvent s = enrich_like_spark(e, Fixtures::lab());
  std::string out;
  append_spark_staged_json(out, s);
  std::optional<std::string> key;
  if (s.user_id) key = std::to_string(*s.user_id);
  return {key, out};
}

TEST(SparkStage, EveryCaseAsSparkStagedIt) {
  std::ifstream in("pipeline/jobs/testdata/spark_stage_cases.jsonl");
  ASSERT_TRUE(in) << "run from the source directory";
  std::string line;
  int cases = 0, checked = 0;
  while (std::getline(in, line)) {
    ++cases;
    const auto c = nlohmann::json::parse(line);
    if (c.value("jdk17_only", false)) continue;
    const std::string input = from_hex(c["input_hex"].get<std::string>());
    const auto [key, value] = stage_like_spark(input);
    const std::optional<std::string> want_key =
        c["key"].is_null() ? std::nullopt : std::optional<std::string>(c["key"].get<std::string>());
    EXPECT_EQ(value, c["value"].get<std::string>()) << "input: " << input;
    EXPECT_EQ(key, want_key) << "input: " << input;
    ++checked;
  }
  EXPECT_EQ(cases, 124);
  EXPECT_EQ(checked, 122);
}

TEST(SparkStage, CopiedStructuresEscapeCharactersBeyondTheBasicPlane) {
  // As the conformance suite found PySpark 3.5 writing it: inside an object given as `hello`,
  // a raw or escaped U+1F600 becomes its two UTF-16 escapes; at the top level it stays as is.
  const auto [key, value] = stage_like_spark(
      "{\"hello\":{\"k\":\"\xf0\x9f\x98\x80\\ud83d\\ude00\"},\"id\":1,\"time\":"
      "\"\xf0\x9f\x98\x80\"}");
  EXPECT_NE(value.find(R"("hello":"{\"k\":\"\\uD83D\\uDE00\\uD83D\\uDE00\"}")"), std::string::npos)
      << value;
  EXPECT_NE(value.find("\"time\":\"\xf0\x9f\x98\x80\""), std::string::npos) << value;
}

TEST(SparkStage, ATombstoneIsStagedAsAllNulls) {
  const auto [key, value] = stage_like_spark(std::nullopt);
  EXPECT_FALSE(key);
  EXPECT_EQ(value, R"({"user_name":"Unknown Name","dept_name":"Unknown Dept","gender":"여성"})");
}

TEST(SparkStage, JavaDoubleStrings) {
  EXPECT_EQ(java_double_string(1.5), "1.5");
  EXPECT_EQ(java_double_string(-0.0), "-0.0");
  EXPECT_EQ(java_double_string(100), "100.0");
  EXPECT_EQ(java_double_string(1e20), "1.0E20");
  EXPECT_EQ(java_double_string(1e-5), "1.0E-5");
  EXPECT_EQ(java_double_string(0.001), "0.001");
  EXPECT_EQ(java_double_string(9999999.0), "9999999.0");
  EXPECT_EQ(java_double_string(1e7), "1.0E7");
  EXPECT_EQ(java_double_string(12345678.0), "1.2345678E7");
  EXPECT_EQ(java_double_string(5e-324), "4.9E-324");
  EXPECT_EQ(java_double_string(-2.5e-7), "-2.5E-7");
}

TEST(SparkStage, JavaUtf8ReplacesEachMalformedSequenceAsJavaDoes) {
  std::string scratch;
  EXPECT_EQ(java_utf8("plain é", scratch), "plain é");
  EXPECT_EQ(java_utf8("a\xff"
                      "b",
                      scratch),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(java_utf8("a\xed\xa0\x80"
                      "b",
                      scratch),
            "a\xEF\xBF\xBD"
            "b");  // a surrogate: one
  EXPECT_EQ(java_utf8("a\xc0\xaf"
                      "b",
                      scratch),
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(java_utf8("a\xe2\x82", scratch), "a\xEF\xBF\xBD");  // cut short at the end
}

TEST(SparkStage, TheStageJobInSparkModeStagesEverythingButOversizeValues) {
  auto config = testing::config_with({});
  config.stage_mode = StageMode::kSpark;
  config.max_record_bytes = 200;
  testing::Rig rig(config);
  rig.produce_raw("events", R"({"hello":"ssm-seoul","id":11,"time":"2022-09-30 16:42:01"})");
  rig.produce_raw("events", R"({"hello":"ssm-seoul","id":"x","time":"2022-09-30 16:42:01"})");
  rig.produce_raw("events", "not json");
  rig.produce_raw("events", std::string(300, ' '));
  rig.advance_to(5);
  auto f = rig.broker.fetch("events_stages", 0, 0, FetchLimits{});
  ASSERT_TRUE(f);
  ASSERT_EQ(f->records.size(), 3u);
  EXPECT_EQ(f->records[0].key, std::optional<std::string_view>("1"));
  EXPECT_FALSE(f->records[1].key) << "a null user_id is a null key";
  EXPECT_EQ(
      f->records[1].value,
      std::optional<std::string_view>(
          R"({"time":"2022-09-30 16:42:01","user_name":"Unknown Name","dept_name":"Unknown Dept","gender":"여성","hello":"ssm-seoul"})"));
  EXPECT_EQ(rig.values("events_dlq").size(), 1u) << "only the oversize value";
}

}  // namespace
}  // namespace kappa
