#include "pipeline/jobs/fixtures.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace kappa {
namespace {

TEST(Fixtures, LabTablesAreTheSeeds) {
  const Fixtures& f = Fixtures::lab();
  EXPECT_EQ(f.names.size(), 10u);
  EXPECT_EQ(f.names.find(0), std::optional<std::string_view>("zero"));
  EXPECT_EQ(f.names.find(9), std::optional<std::string_view>("nine"));
  EXPECT_FALSE(f.names.find(10).has_value());
  EXPECT_FALSE(f.names.find(-1).has_value());
  EXPECT_EQ(f.depts.size(), 5u);
  EXPECT_EQ(f.depts.find(0), std::optional<std::string_view>("H/R"));
  EXPECT_EQ(f.depts.find(4), std::optional<std::string_view>("Business"));
}

TEST(Fixtures, TheBuiltInCopyMatchesTheFile) {
  const char* dir = std::getenv("KAPPA_SOURCE_DIR");
  ASSERT_NE(dir, nullptr);
  auto names = LookupTable::load(std::string(dir) + "/fixtures/names.jsonl", "uid");
  ASSERT_TRUE(names) << names.status().message();
  for (int64_t id = -2; id < 12; ++id) EXPECT_EQ(names->find(id), Fixtures::lab().names.find(id));
}

TEST(Fixtures, SparseIdsAndNullNames) {
  auto t = LookupTable::parse("{\"uid\":100000,\"name\":\"far\"}\n\n{\"uid\":-5,\"name\":null}\n",
                              "uid", "x");
  ASSERT_TRUE(t) << t.status().message();
  EXPECT_EQ(t->find(100000), std::optional<std::string_view>("far"));
  EXPECT_FALSE(t->find(-5).has_value());
  EXPECT_EQ(t->size(), 2u);
}

TEST(Fixtures, ErrorsNameFileAndLine) {
  auto dup = LookupTable::parse(
      "{\"uid\":1,\"name\":\"a\"}\n{\"uid\":2,\"name\":\"b\"}\n{\"uid\":1,\"name\":\"c\"}\n", "uid",
      "names.jsonl");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.status().message().find("names.jsonl:3: duplicate uid 1 (first at line 1)"),
            std::string::npos)
      << dup.status().message();
  auto bad = LookupTable::parse("{\"uid\":1,\"name\":\"a\"}\nnot json\n", "uid", "names.jsonl");
  EXPECT_NE(bad.status().message().find("names.jsonl:2: expected a JSON object"),
            std::string::npos);
  auto no_id = LookupTable::parse("{\"did\":1,\"name\":\"a\"}\n", "uid", "names.jsonl");
  EXPECT_NE(no_id.status().message().find("names.jsonl:1: expected an integer at /uid"),
            std::string::npos);
  auto missing = LookupTable::load("/nonexistent/names.jsonl", "uid");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/names.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace kappa
