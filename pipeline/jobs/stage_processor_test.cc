#include "pipeline/jobs/stage_processor.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "pipeline/jobs/test_rig.h"

namespace kappa {
namespace {

struct Expect {
  int64_t id;
  std::optional<int64_t> user_id;
  std::string_view name, dept, gender;
  int64_t age;
};

TEST(Enrich, TheSeedRules) {
  // user_id = id % 10, dept = id % 5, gender by parity, age = id % 100 + 1 (Java remainders).
  const Expect cases[] = {
      {0, 0, "zero", "H/R", "남성", 1},
      {1, 1, "one", "Marketing", "여성", 2},
      {7, 7, "seven", "Development", "여성", 8},
      {99, 9, "nine", "Business", "여성", 100},
      {100, 0, "zero", "H/R", "남성", 1},
      {13, 3, "three", "Design", "여성", 14},
      {-3, -3, kUnknownName, kUnknownDept, "여성", -2},
  };
  for (const Expect& c : cases) {
    SourceEvent e;
    e.id = c.id;
    e.time = "2022-09-30 16:42:01";
    e.hello = "ssm-seoul";
    const StagedEvent s = enrich(e, Fixtures::lab());
    SCOPED_TRACE(c.id);
    EXPECT_EQ(s.user_id, c.user_id);
    EXPECT_EQ(s.user_name, std::optional<std::string_view>(c.name));
    EXPECT_EQ(s.dept_name, std::optional<std::string_view>(c.dept));
    EXPECT_EQ(s.gender, std::optional<std::string_view>(c.gender));
    EXPECT_EQ(s.age, c.age);
    EXPECT_EQ(s.id, c.id);
    EXPECT_EQ(s.time, "2022-09-30 16:42:01");
  }
}

TEST(Enrich, MissingFixtureRowsGetTheDefaults) {
  Fixtures f;
  f.names = LookupTable::parse("{\"uid\":1,\"name\":\"one\"}", "uid", "t").value();
  SourceEvent e;
  e.id = 2;
  const StagedEvent s = enrich(e, f);
  EXPECT_EQ(s.user_name, std::optional<std::string_view>("Unknown Name"));
  EXPECT_EQ(s.dept_name, std::optional<std::string_view>("Unknown Dept"));
}

TEST(Stage, WritesKeyedStagedRecordsAndDeadLetters) {
  testing::Rig rig(testing::config_with({}));
  rig.produce_raw("events", R"({"hello":"ssm-seoul","id":11,"time":"2022-09-30 16:42:01"})");
  rig.produce_raw("events", R"({"hello":"ssm-seoul","id":"x","time":"2022-09-30 16:42:01"})");
  rig.produce_raw("events", R"({"hello":"ssm-seoul","id":12,"time":"2022-09-30 16:42:02"})");
  rig.advance_to(0);  // the trigger at the start reads what arrived at the same instant

  auto staged = rig.broker.fetch("events_stages", 0, 0, FetchLimits{});
  ASSERT_EQ(staged->records.size(), 2u);
  EXPECT_EQ(staged->records[0].key, std::optional<std::string_view>("1"));
  EXPECT_EQ(
      staged->records[0].value,
      std::optional<std::string_view>(
          R"({"time":"2022-09-30 16:42:01","user_id":1,"user_name":"one","dept_name":"Marketing","gender":"여성","age":12,"hello":"ssm-seoul","id":11})"));
  EXPECT_EQ(staged->records[0].timestamp_ms, testing::kT0);
  EXPECT_EQ(staged->records[0].header("kappa.origin"), std::optional<std::string_view>("stage:0"));
  EXPECT_EQ(staged->records[1].key, std::optional<std::string_view>("2"));

  auto dead = rig.values("events_dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(
      dead[0],
      R"({"reason":"wrong_type","detail":"expected an integer at /id, found a string","pointer":"/id","job":"stage","source":{"topic":"events","partition":0,"offset":1,"timestamp":1664523720000},"value":"{\"hello\":\"ssm-seoul\",\"id\":\"x\",\"time\":\"2022-09-30 16:42:01\"}"})");
  const auto& t = rig.pipeline->query("stage")->totals();
  EXPECT_EQ(t.rows_in, 3);
  EXPECT_EQ(t.rows_out + t.dead_letters, t.rows_in);
}

// The job writes the enriched fields of an id, its key and the text before the id from caches
// (by id % 100, and the last hello); what it writes is still append_staged_json(enrich(event))
// keyed by user_id, for every id, negative and extreme ones too, in any order, whatever hello.
TEST(Stage, StagedRecordsAreTheEncodingOfTheEnrichedEvent) {
  std::vector<int64_t> ids;
  for (int64_t id = -250; id <= 250; ++id) ids.push_back(id);
  for (int64_t id = 250; id >= -250; id -= 7) ids.push_back(id);
  ids.insert(ids.end(), {INT64_MIN, INT64_MAX, INT64_MIN + 1, 1000000007, -1000000007});
  const std::optional<std::string> hellos[] = {"ssm-seoul", "ssm-seoul", std::nullopt, "a\"b",
                                               "",          "ssm-seoul", std::nullopt};
  auto hello_of = [&](size_t i) -> const std::optional<std::string>& {
    return hellos[i % std::size(hellos)];
  };
  testing::Rig rig(testing::config_with({}));
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string value;
    append_source_event_json(value, ids[i], hello_of(i), "2022-09-30 16:42:01");
    rig.produce_raw("events", value);
  }
  rig.advance_to(0);
  ASSERT_EQ(rig.broker.partition_count("events_stages").value(), 1);
  auto staged = rig.broker.fetch("events_stages", 0, 0, FetchLimits{});
  ASSERT_TRUE(staged);
  ASSERT_EQ(staged->records.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    SourceEvent e;
    e.id = ids[i];
    e.hello = hello_of(i);
    e.time = "2022-09-30 16:42:01";
    const StagedEvent enriched = enrich(e, Fixtures::lab());
    std::string expected;
    append_staged_json(expected, enriched);
    EXPECT_EQ(staged->records[i].value, expected) << "id " << ids[i];
    EXPECT_EQ(staged->records[i].key, std::to_string(*enriched.user_id)) << "id " << ids[i];
  }
}

TEST(Stage, PartitionsLikeKafkaByUserId) {
  PipelineConfig c = testing::config_with({});
  c.stages.partitions = 3;
  testing::Rig rig(c);
  for (int id = 0; id < 10; ++id) {
    rig.produce_raw("events", R"({"hello":"ssm-seoul","id":)" + std::to_string(id) +
                                  R"(,"time":"2022-09-30 16:42:01"})");
  }
  rig.advance_to(0);
  for (int32_t p = 0; p < 3; ++p) {
    auto f = rig.broker.fetch("events_stages", p, 0, FetchLimits{});
    for (const auto& r : f->records) EXPECT_EQ(partition_for_key(*r.key, 3), p);
  }
}

TEST(Stage, NonUtf8RecordsKeepTheirBytesInBase64) {
  testing::Rig rig(testing::config_with({}));
  rig.produce_raw("events", std::string_view("\xff\xfe", 2));
  rig.advance_to(0);
  auto dead = rig.values("events_dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].find(R"("value":null,"value_base64":"//4="})"), std::string::npos) << dead[0];
}

RC_GTEST_PROP(EnrichProperty, FieldsFollowFromTheId, (int64_t id)) {
  SourceEvent e;
  e.id = id;
  const StagedEvent s = enrich(e, Fixtures::lab());
  RC_ASSERT(*s.user_id == id % 10);
  RC_ASSERT(*s.age == id % 100 + 1);
  RC_ASSERT(*s.gender == (id % 2 == 0 ? std::string_view("남성") : std::string_view("여성")));
  RC_ASSERT(*s.user_name == Fixtures::lab().names.find(id % 10).value_or(kUnknownName));
  if (id >= 0) RC_ASSERT(*s.age >= 1 && *s.age <= 100);
}

}  // namespace
}  // namespace kappa
