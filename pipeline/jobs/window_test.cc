#include "pipeline/jobs/window.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

namespace kappa {
namespace {

std::vector<int64_t> starts(const WindowSpec& w, int64_t t) {
  std::vector<int64_t> out;
  for_each_window(w, t, [&](int64_t s) { out.push_back(s); });
  return out;
}

using V = std::vector<int64_t>;

TEST(Window, TumblingIsHalfOpenAndEpochAligned) {
  const WindowSpec w{10000, 10000, 0};
  EXPECT_EQ(starts(w, 0), V{0});
  EXPECT_EQ(starts(w, 9999), V{0});
  EXPECT_EQ(starts(w, 10000), V{10000});  // [0, 10 s) does not hold 10 s
  EXPECT_EQ(starts(w, -1), V{-10000});
  EXPECT_EQ(starts(w, -10000), V{-10000});
}

TEST(Window, SlidingGivesSizeOverSlideWindows) {
  const WindowSpec w{10000, 5000, 0};
  EXPECT_EQ(starts(w, 12000), (V{5000, 10000}));
  EXPECT_EQ(starts(w, 10000), (V{5000, 10000}));
  EXPECT_EQ(starts(w, 9999), (V{0, 5000}));
}

TEST(Window, UnevenSlideGivesFloorOrCeil) {
  const WindowSpec w{10000, 3000, 0};
  EXPECT_EQ(starts(w, 12000), (V{3000, 6000, 9000, 12000}));  // ceil(10/3) = 4
  EXPECT_EQ(starts(w, 11000), (V{3000, 6000, 9000}));         // [0, 10 s) ends before 11 s
}

TEST(Window, StartOffsetShiftsTheGrid) {
  EXPECT_EQ(starts(WindowSpec{10000, 10000, 3000}, 12000), V{3000});
  EXPECT_EQ(starts(WindowSpec{10000, 10000, -3000}, 12000), V{7000});
}

TEST(Window, ValidationFollowsSpark) {
  EXPECT_TRUE(validate(WindowSpec{10000, 10000, 0}));
  EXPECT_FALSE(validate(WindowSpec{0, 0, 0}));
  EXPECT_FALSE(validate(WindowSpec{10000, 20000, 0}));
  EXPECT_FALSE(validate(WindowSpec{10000, 5000, 5000}));
  EXPECT_TRUE(validate(WindowSpec{10000, 5000, -4999}));
}

RC_GTEST_PROP(WindowProperty, ExactlyTheWindowsThatContainT, ()) {
  const int64_t slide = *rc::gen::inRange<int64_t>(1, 20);
  const int64_t size = *rc::gen::inRange<int64_t>(slide, 60);
  const int64_t offset = *rc::gen::inRange<int64_t>(-slide + 1, slide);
  const int64_t t = *rc::gen::inRange<int64_t>(-500, 500);
  const WindowSpec w{size, slide, offset};
  V brute;
  for (int64_t s = -700; s <= 700; ++s) {
    if (floor_mod(s - offset, slide) == 0 && s <= t && t < s + size) brute.push_back(s);
  }
  RC_ASSERT(starts(w, t) == brute);
}

}  // namespace
}  // namespace kappa
