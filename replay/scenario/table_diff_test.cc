#include "replay/scenario/table_diff.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace kappa {
namespace {

TableRow r(std::string dim, int64_t count, std::string start = "2022-09-30 16:42:00") {
  return TableRow{start, "2022-09-30 16:42:10", DimValue(std::move(dim)), count};
}

TEST(TableDiff, NamesWrongCountsMissingAndUnexpectedRows) {
  const auto d = diff_rows({r("zero", 2), r("one", 1), r("two", 1)},
                           {r("zero", 1), r("two", 1), r("nine", 4)});
  ASSERT_EQ(d.wrong_count.size(), 1u);
  EXPECT_EQ(d.wrong_count[0].expected, r("zero", 2));
  EXPECT_EQ(d.wrong_count[0].actual, 1);
  EXPECT_EQ(d.missing, std::vector<TableRow>{r("one", 1)});
  EXPECT_EQ(d.unexpected, std::vector<TableRow>{r("nine", 4)});
  EXPECT_EQ(
      d.lines(),
      (std::vector<std::string>{
          R"(wrong count: ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "zero"] expected 2, found 1)",
          R"(missing:     ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "one", 1])",
          R"(unexpected:  ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "nine", 4])"}));
}

TEST(TableDiff, ADuplicatedRowIsUnexpected) {
  const auto d = diff_rows({r("zero", 1)}, {r("zero", 1), r("zero", 1)});
  EXPECT_TRUE(d.wrong_count.empty());
  EXPECT_EQ(d.unexpected, std::vector<TableRow>{r("zero", 1)});
}

TEST(TableDiff, NullAndIntegerDimensionsAreFormattedAsJson) {
  TableRow n{"a", "b", DimValue(std::monostate{}), 1};
  TableRow i{"a", "b", DimValue(int64_t{42}), 2};
  TableRow s{"a", "b", DimValue(std::string("say \"hi\"")), 3};
  EXPECT_EQ(format_row(n), R"(["a", "b", null, 1])");
  EXPECT_EQ(format_row(i), R"(["a", "b", 42, 2])");
  EXPECT_EQ(format_row(s), R"(["a", "b", "say \"hi\"", 3])");
}

RC_GTEST_PROP(TableDiffProperty, EmptyExactlyWhenTheMultisetsAreEqual, ()) {
  const auto gen_rows = rc::gen::container<std::vector<TableRow>>(
      rc::gen::map(rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::inRange(0, 3),
                                  rc::gen::inRange<int64_t>(0, 3)),
                   [](const std::tuple<int, int, int64_t>& t) {
                     return r("u" + std::to_string(std::get<0>(t)), std::get<2>(t),
                              "2022-09-30 16:42:0" + std::to_string(std::get<1>(t)));
                   }));
  auto a = *gen_rows;
  auto b = *gen_rows;
  auto sa = a, sb = b;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  RC_ASSERT(diff_rows(a, b).empty() == (sa == sb));
  auto shuffled = a;
  std::reverse(shuffled.begin(), shuffled.end());
  RC_ASSERT(diff_rows(a, shuffled).empty());
}

}  // namespace
}  // namespace kappa
