// What the stage job writes obeys docs/events_stages.schema.json: field order, types,
// nullability, enums and ranges. The schema is the published contract; this keeps it true.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/codec/event_codec.h"
#include "pipeline/jobs/stage_processor.h"

namespace kappa {
namespace {

using Json = nlohmann::ordered_json;

Json schema() {
  const char* dir = std::getenv("KAPPA_SOURCE_DIR");
  std::ifstream in(std::filesystem::path(dir ? dir : ".") / "docs/events_stages.schema.json");
  return Json::parse(in);
}

bool has_type(const Json& value, const Json& type) {
  auto one = [&](const std::string& t) {
    if (t == "string") return value.is_string();
    if (t == "integer") return value.is_number_integer();
    if (t == "null") return value.is_null();
    return false;
  };
  if (type.is_string()) return one(type.get<std::string>());
  for (const auto& t : type) {
    if (one(t.get<std::string>())) return true;
  }
  return false;
}

void check(const Json& s, const std::string& encoded) {
  const Json v = Json::parse(encoded);
  std::vector<std::string> keys;
  for (const auto& [k, _] : v.items()) keys.push_back(k);
  EXPECT_EQ(keys, s["propertyOrder"].get<std::vector<std::string>>())
      << "propertyOrder of " << encoded;
  for (const auto& [k, rule] : s["properties"].items()) {
    ASSERT_TRUE(v.contains(k)) << k;
    EXPECT_TRUE(has_type(v[k], rule["type"])) << k << " in " << encoded;
    if (rule.contains("enum")) {
      EXPECT_NE(std::find(rule["enum"].begin(), rule["enum"].end(), v[k]), rule["enum"].end()) << k;
    }
    if (rule.contains("minimum") && v[k].is_number_integer()) {
      EXPECT_GE(v[k].get<int64_t>(), rule["minimum"].get<int64_t>()) << k << " in " << encoded;
      EXPECT_LE(v[k].get<int64_t>(), rule["maximum"].get<int64_t>()) << k << " in " << encoded;
    }
  }
  EXPECT_EQ(s["required"].size(), v.size());
}

TEST(EventsStagesSchema, EveryStagedRecordFollowsThePublishedSchema) {
  const Json s = schema();
  for (int64_t id = -150; id <= 250; ++id) {
    for (bool with_hello : {true, false}) {
      SourceEvent e;
      e.id = id;
      e.time = "2022-09-30 16:42:01";
      if (with_hello) e.hello = "ssm-seoul";
      std::string out;
      append_staged_json(out, enrich(e, Fixtures::lab()));
      check(s, out);
    }
  }
}

TEST(EventsStagesSchema, TheSchemaCanFailARecord) {
  static const Json s = schema();
  static const std::string out_of_order =
      R"({"user_id":1,"time":"2022-09-30 16:42:01","user_name":"one","dept_name":"Marketing","gender":"여성","age":2,"hello":null,"id":1})";
  static const std::string string_age =
      R"({"time":"2022-09-30 16:42:01","user_id":1,"user_name":"one","dept_name":"Marketing","gender":"여성","age":"2","hello":null,"id":1})";
  static const std::string unknown_gender =
      R"({"time":"2022-09-30 16:42:01","user_id":1,"user_name":"one","dept_name":"Marketing","gender":"x","age":2,"hello":null,"id":1})";
  EXPECT_NONFATAL_FAILURE(check(s, out_of_order), "propertyOrder");
  EXPECT_NONFATAL_FAILURE(check(s, string_age), "age in");
  EXPECT_NONFATAL_FAILURE(check(s, unknown_gender), "gender");
}

}  // namespace
}  // namespace kappa
