// compare_tables: v1 against v2 over the windows both have closed, rolling the finer table up.
#include "replay/scenario/table_compare.h"

#include <gtest/gtest.h>

namespace kappa {
namespace {

// Wall-clock times on 2022-09-30 in Seoul (UTC+9, no DST): 16:42:00 is 1664523720000 ms.
constexpr int64_t k164200 = 1664523720000;

TimeZone seoul() {
  auto zone = TimeZone::load("Asia/Seoul");
  EXPECT_TRUE(zone) << zone.status().message();
  return zone ? *zone : TimeZone::utc();
}

// A row of 2022-09-30 from "HH:MM:SS" to "HH:MM:SS".
TableRow row(const std::string& start, const std::string& end, DimValue dim, int64_t count) {
  return TableRow{"2022-09-30 " + start, "2022-09-30 " + end, std::move(dim), count};
}
TableRow row(const std::string& start, const std::string& end, const char* dim, int64_t count) {
  return row(start, end, DimValue(std::string(dim)), count);
}

const WindowSpec k10s{10000, 10000, 0};
const WindowSpec k15s{15000, 15000, 0};
const WindowSpec k1m{60000, 60000, 0};

Result<TableComparison> compare(const std::vector<TableRow>& v1, const WindowSpec& w1,
                                const std::vector<TableRow>& v2, const WindowSpec& w2) {
  return compare_tables("v1", v1, w1, "v2", v2, w2, seoul());
}

TEST(TableCompare, IdenticalTablesWithTheSameWindowsAreAllTheSame) {
  const std::vector<TableRow> rows = {row("16:42:00", "16:42:10", "a", 2),
                                      row("16:42:00", "16:42:10", "b", 1),
                                      row("16:42:10", "16:42:20", "a", 3)};
  const auto c = compare(rows, k10s, rows, k10s);
  ASSERT_TRUE(c) << c.status().message();
  // Three groups, all ending by 16:42:20 (both horizons), all with equal counts.
  EXPECT_EQ(c->same, 3);
  EXPECT_EQ(c->changed, 0);
  EXPECT_EQ(c->added, 0);
  EXPECT_EQ(c->removed, 0);
  EXPECT_EQ(c->horizon_ms, std::optional<int64_t>(k164200 + 20000));
  EXPECT_EQ(c->lines,
            (std::vector<std::string>{
                "compare v1 with v2 over windows ending by 2022-09-30 16:42:20: 3 same, 0 changed, "
                "0 added, 0 removed"}));
}

TEST(TableCompare, CountsAndNamesChangedAddedAndRemovedGroups) {
  const std::vector<TableRow> v1 = {
      row("16:42:00", "16:42:10", "a", 1), row("16:42:00", "16:42:10", "b", 1),
      row("16:42:00", "16:42:10", "c", 4), row("16:42:10", "16:42:20", "a", 2)};
  const std::vector<TableRow> v2 = {
      row("16:42:00", "16:42:10", "a", 2), row("16:42:00", "16:42:10", "c", 4),
      row("16:42:00", "16:42:10", "d", 3), row("16:42:10", "16:42:20", "a", 2)};
  const auto c = compare(v1, k10s, v2, k10s);
  ASSERT_TRUE(c) << c.status().message();
  // Horizon 16:42:20 on both sides. (00, a) 1 -> 2 changed; (00, b) only in v1: removed; (00, c)
  // and (10, a) same; (00, d) only in v2: added. Details in key order: a, b, d.
  EXPECT_EQ(c->same, 2);
  EXPECT_EQ(c->changed, 1);
  EXPECT_EQ(c->added, 1);
  EXPECT_EQ(c->removed, 1);
  EXPECT_EQ(c->lines, (std::vector<std::string>{
                          "compare v1 with v2 over windows ending by 2022-09-30 16:42:20: 2 same, "
                          "1 changed, 1 added, 1 removed",
                          R"(changed: ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "a"] 1 -> 2)",
                          R"(removed: ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "b"] 1)",
                          R"(added:   ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "d"] 3)"}));
}

TEST(TableCompare, WindowsEndingAfterTheEarlierHorizonAreNotCompared) {
  const std::vector<TableRow> shorter = {row("16:42:00", "16:42:10", "a", 1),
                                         row("16:42:10", "16:42:20", "a", 1)};
  const std::vector<TableRow> longer = {
      row("16:42:00", "16:42:10", "a", 1), row("16:42:10", "16:42:20", "a", 2),
      row("16:42:20", "16:42:30", "a", 5), row("16:42:20", "16:42:30", "b", 1),
      row("16:42:30", "16:42:40", "c", 2)};
  // Horizons 16:42:20 (shorter) and 16:42:40 (longer): the earlier, 16:42:20, wins. The window
  // ending exactly at the horizon is compared ((10, a) 1 -> 2 changed, (00, a) same); the three
  // groups in windows ending 16:42:30 and 16:42:40 are only in the longer table but not added.
  const auto c = compare(shorter, k10s, longer, k10s);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->horizon_ms, std::optional<int64_t>(k164200 + 20000));
  EXPECT_EQ(c->same, 1);
  EXPECT_EQ(c->changed, 1);
  EXPECT_EQ(c->added, 0);
  EXPECT_EQ(c->removed, 0);
  EXPECT_EQ(c->lines,
            (std::vector<std::string>{
                "compare v1 with v2 over windows ending by 2022-09-30 16:42:20: 1 same, 1 changed, "
                "0 added, 0 removed",
                R"(changed: ["2022-09-30 16:42:10", "2022-09-30 16:42:20", "a"] 1 -> 2)"}));

  // The other way round: the longer table's extra windows are not 'removed' either.
  const auto d = compare(longer, k10s, shorter, k10s);
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ(d->horizon_ms, std::optional<int64_t>(k164200 + 20000));
  EXPECT_EQ(d->same, 1);
  EXPECT_EQ(d->changed, 1);
  EXPECT_EQ(d->added, 0);
  EXPECT_EQ(d->removed, 0);
}

TEST(TableCompare, RollsTheFinerLeftTableUpIntoTheRightTablesWindows) {
  const std::vector<TableRow> v1 = {
      row("16:42:00", "16:42:10", "a", 1), row("16:42:10", "16:42:20", "a", 2),
      row("16:42:50", "16:43:00", "b", 1), row("16:43:00", "16:43:10", "a", 1)};
  const std::vector<TableRow> v2 = {row("16:42:00", "16:43:00", "a", 3),
                                    row("16:42:00", "16:43:00", "b", 2),
                                    row("16:43:00", "16:44:00", "a", 1)};
  const auto c = compare(v1, k10s, v2, k1m);
  ASSERT_TRUE(c) << c.status().message();
  // v1 rolled up: (16:42, a) = 1 + 2 = 3, (16:42, b) = 1, (16:43, a) = 1. Horizons 16:43:10 (v1)
  // and 16:44:00 (v2), so 16:43:10; the minute 16:43-16:44 ends after it and is left out.
  // (16:42, a) 3 = 3 same, (16:42, b) 1 -> 2 changed.
  EXPECT_EQ(c->horizon_ms, std::optional<int64_t>(k164200 + 70000));
  EXPECT_EQ(c->same, 1);
  EXPECT_EQ(c->changed, 1);
  EXPECT_EQ(c->added, 0);
  EXPECT_EQ(c->removed, 0);
  EXPECT_EQ(
      c->lines,
      (std::vector<std::string>{
          "compare v1 with v2 over windows ending by 2022-09-30 16:43:10 (v1 rolled up into 1m "
          "windows): 1 same, 1 changed, 0 added, 0 removed",
          R"(changed: ["2022-09-30 16:42:00", "2022-09-30 16:43:00", "b"] 1 -> 2)"}));
}

TEST(TableCompare, RollsTheFinerRightTableUpIntoTheLeftTablesWindows) {
  const std::vector<TableRow> v1 = {row("16:42:00", "16:43:00", "a", 3)};
  const std::vector<TableRow> v2 = {
      row("16:42:00", "16:42:10", "a", 1), row("16:42:30", "16:42:40", "a", 1),
      row("16:42:50", "16:43:00", "a", 1), row("16:42:50", "16:43:00", "z", 1)};
  const auto c = compare(v1, k1m, v2, k10s);
  ASSERT_TRUE(c) << c.status().message();
  // v2 rolled up: (16:42, a) = 1 + 1 + 1 = 3, (16:42, z) = 1. Both horizons 16:43:00.
  // (16:42, a) same; (16:42, z) only in v2: added.
  EXPECT_EQ(c->horizon_ms, std::optional<int64_t>(k164200 + 60000));
  EXPECT_EQ(c->same, 1);
  EXPECT_EQ(c->changed, 0);
  EXPECT_EQ(c->added, 1);
  EXPECT_EQ(c->removed, 0);
  EXPECT_EQ(
      c->lines,
      (std::vector<std::string>{
          "compare v1 with v2 over windows ending by 2022-09-30 16:43:00 (v2 rolled up into 1m "
          "windows): 1 same, 0 changed, 1 added, 0 removed",
          R"(added:   ["2022-09-30 16:42:00", "2022-09-30 16:43:00", "z"] 1)"}));
}

TEST(TableCompare, IdenticalSlidingWindowsAreComparedWindowByWindow) {
  const WindowSpec sliding{20000, 10000, 0};
  const std::vector<TableRow> v1 = {row("16:42:00", "16:42:20", "a", 1),
                                    row("16:42:10", "16:42:30", "a", 1)};
  const std::vector<TableRow> v2 = {row("16:42:00", "16:42:20", "a", 1),
                                    row("16:42:10", "16:42:30", "a", 2)};
  const auto c = compare(v1, sliding, v2, sliding);
  ASSERT_TRUE(c) << c.status().message();
  // The overlapping windows stay apart: [00, 20) same, [10, 30) 1 -> 2 changed; horizon 16:42:30.
  EXPECT_EQ(c->horizon_ms, std::optional<int64_t>(k164200 + 30000));
  EXPECT_EQ(c->same, 1);
  EXPECT_EQ(c->changed, 1);
  ASSERT_EQ(c->lines.size(), 2u);
  EXPECT_EQ(c->lines[1], R"(changed: ["2022-09-30 16:42:10", "2022-09-30 16:42:30", "a"] 1 -> 2)");
}

void expect_cannot_compare(const WindowSpec& w1, const WindowSpec& w2, const std::string& v1_part,
                           const std::string& v2_part) {
  const std::vector<TableRow> rows = {row("16:42:00", "16:43:00", "a", 1)};
  const auto c = compare(rows, w1, rows, w2);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  const std::string m = c.status().message();
  EXPECT_NE(m.find("cannot compare v1 (" + v1_part), std::string::npos) << m;
  EXPECT_NE(m.find(" with v2 (" + v2_part), std::string::npos) << m;
  EXPECT_NE(m.find("neither table's windows tile the other's"), std::string::npos) << m;
}

TEST(TableCompare, WindowsThatDoNotTileAreAnErrorNamingBothTables) {
  // 15 s is no multiple of 10 s, nor 10 s of 15 s.
  expect_cannot_compare(k10s, k15s, "10s", "15s");
  expect_cannot_compare(k15s, k10s, "15s", "10s");
  // Sliding windows (1 minute every 30 s) overlap: they tile nothing, and nothing tiles them.
  const WindowSpec sliding{60000, 30000, 0};
  expect_cannot_compare(sliding, k1m, "1m windows every 30s", "1m");
  expect_cannot_compare(k10s, sliding, "10s", "1m");
  // Same size, starts 5 s apart: not aligned.
  expect_cannot_compare(k10s, WindowSpec{10000, 10000, 5000}, "10s", "10s");
}

TEST(TableCompare, AnEmptyTableLeavesNothingToCompare) {
  const std::vector<TableRow> rows = {row("16:42:00", "16:42:10", "a", 1)};
  const auto c = compare({}, k10s, rows, k10s);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->same, 0);
  EXPECT_EQ(c->changed, 0);
  EXPECT_EQ(c->added, 0);
  EXPECT_EQ(c->removed, 0);
  EXPECT_EQ(c->horizon_ms, std::nullopt);
  EXPECT_EQ(c->lines, std::vector<std::string>{
                          "compare v1 with v2: nothing to compare (v1 has no closed window yet)"});

  // Empty on the right, with windows that need a roll-up: still nothing, and no 'removed' row.
  const auto d = compare(rows, k10s, {}, k1m);
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ(d->removed, 0);
  EXPECT_EQ(d->horizon_ms, std::nullopt);
  EXPECT_EQ(d->lines, std::vector<std::string>{
                          "compare v1 with v2: nothing to compare (v2 has no closed window yet)"});
}

TEST(TableCompare, IntegerAndNullDimensionValues) {
  const DimValue null_dim{std::monostate{}};
  const std::vector<TableRow> v1 = {row("16:42:00", "16:42:10", null_dim, 2),
                                    row("16:42:00", "16:42:10", DimValue(int64_t{42}), 1),
                                    row("16:42:00", "16:42:10", "42", 1)};
  const std::vector<TableRow> v2 = {row("16:42:00", "16:42:10", null_dim, 3),
                                    row("16:42:00", "16:42:10", DimValue(int64_t{7}), 1),
                                    row("16:42:00", "16:42:10", DimValue(int64_t{42}), 1)};
  const auto c = compare(v1, k10s, v2, k10s);
  ASSERT_TRUE(c) << c.status().message();
  // NULL 2 -> 3 changed; 7 only in v2: added; 42 same; the string "42" is not the integer 42:
  // only in v1, removed. Details in key order: NULL, then integers, then strings.
  EXPECT_EQ(c->same, 1);
  EXPECT_EQ(c->changed, 1);
  EXPECT_EQ(c->added, 1);
  EXPECT_EQ(c->removed, 1);
  EXPECT_EQ(c->lines, (std::vector<std::string>{
                          "compare v1 with v2 over windows ending by 2022-09-30 16:42:10: 1 same, "
                          "1 changed, 1 added, 1 removed",
                          R"(changed: ["2022-09-30 16:42:00", "2022-09-30 16:42:10", null] 2 -> 3)",
                          R"(added:   ["2022-09-30 16:42:00", "2022-09-30 16:42:10", 7] 1)",
                          R"(removed: ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "42"] 1)"}));
}

TEST(TableCompare, AnUnreadableWindowIsAnErrorNamingTheTable) {
  const std::vector<TableRow> good = {row("16:42:00", "16:42:10", "a", 1)};
  const std::vector<TableRow> bad = {
      TableRow{"yesterday", "2022-09-30 16:42:10", DimValue(std::string("a")), 1}};
  const auto c = compare(good, k10s, bad, k10s);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      c.status().message(),
      R"(table v2 has a row with an unreadable window: ["yesterday", "2022-09-30 16:42:10", "a", 1])");
}

}  // namespace
}  // namespace kappa
