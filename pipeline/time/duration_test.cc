#include "pipeline/time/duration.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace kappa {
namespace {

int64_t parse_ok(std::string_view text) {
  const Result<int64_t> r = parse_duration(text);
  EXPECT_TRUE(r.is_ok()) << "\"" << text << "\": " << r.status().to_string();
  return r.is_ok() ? *r : -1;
}

TEST(ParseDuration, CompactForms) {
  EXPECT_EQ(parse_ok("500ms"), 500);
  EXPECT_EQ(parse_ok("5s"), 5'000);
  EXPECT_EQ(parse_ok("1m"), 60'000);
  EXPECT_EQ(parse_ok("1m30s"), 90'000);
  EXPECT_EQ(parse_ok("2h"), 7'200'000);
  EXPECT_EQ(parse_ok("1d"), 86'400'000);
  EXPECT_EQ(parse_ok("1.5s"), 1'500);
  EXPECT_EQ(parse_ok("0.25m"), 15'000);
  EXPECT_EQ(parse_ok("1.50s"), 1'500);
  EXPECT_EQ(parse_ok("1h0.5s"), 3'600'500);
  EXPECT_EQ(parse_ok("1d2h3m4.005s"), 93'784'005);
  EXPECT_EQ(parse_ok("1m 30s"), 90'000);
  EXPECT_EQ(parse_ok("10S"), 10'000);
  EXPECT_EQ(parse_ok("0"), 0);
  EXPECT_EQ(parse_ok("0s"), 0);
  EXPECT_EQ(parse_ok("0ms"), 0);
  EXPECT_EQ(parse_ok("  5s\n"), 5'000);
}

TEST(ParseDuration, SparkIntervalStrings) {
  EXPECT_EQ(parse_ok("5 second"), 5'000);
  EXPECT_EQ(parse_ok("10 seconds"), 10'000);
  EXPECT_EQ(parse_ok("15 Seconds"), 15'000);
  EXPECT_EQ(parse_ok("1 minute"), 60'000);
  EXPECT_EQ(parse_ok("1 MINUTES"), 60'000);
  EXPECT_EQ(parse_ok("1 hour 30 minutes"), 5'400'000);
  EXPECT_EQ(parse_ok("2 days"), 172'800'000);
  EXPECT_EQ(parse_ok("1 week"), 604'800'000);
  EXPECT_EQ(parse_ok("100 milliseconds"), 100);
  EXPECT_EQ(parse_ok("2000 microseconds"), 2);
  EXPECT_EQ(parse_ok("1.5 seconds"), 1'500);
  EXPECT_EQ(parse_ok("interval 10 seconds"), 10'000);
  EXPECT_EQ(parse_ok("INTERVAL 1 hour"), 3'600'000);
}

TEST(ParseDuration, LargestValue) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(parse_ok(std::to_string(max) + "ms"), max);
  EXPECT_EQ(parse_ok(format_duration(max)), max);
}

TEST(ParseDuration, RejectsWithAMessageListingTheUnits) {
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"", "the text is empty"},
      {"   ", "the text is empty"},
      {"-5s", "negative durations are not allowed"},
      {"1m -5s", "negative durations are not allowed"},
      {"5", "a number needs a unit"},
      {"10", "a number needs a unit"},
      {"5 parsecs", "unknown unit \"parsecs\""},
      {"5x", "unknown unit \"x\""},
      {"5 mss", "unknown unit \"mss\""},
      {"1 month", "unknown unit \"month\""},
      {"1.0005s", "not a whole number of milliseconds"},
      {"0.5ms", "not a whole number of milliseconds"},
      {"1 microsecond", "not a whole number of milliseconds"},
      {"1.s", "expected digits after '.'"},
      {".5s", "expected a number at \".5s\""},
      {"s", "expected a number"},
      {"interval", "expected a number"},
      {"5s!", "expected a number at \"!\""},
      {"9223372036854775808ms", "too large"},
      {"106751991168d", "too large"},
      {"99999999999999999999999999999999999999s", "too large"},
  };
  for (const Case& c : cases) {
    const Result<int64_t> r = parse_duration(c.text);
    ASSERT_FALSE(r.is_ok()) << c.text << " parsed as " << *r;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    const std::string m = r.status().message();
    EXPECT_NE(m.find("invalid duration \"" + std::string(c.text) + "\""), std::string::npos) << m;
    EXPECT_NE(m.find(c.why), std::string::npos) << c.text << ": " << m;
    EXPECT_NE(m.find("units: ms, s, m, h, d, microsecond(s), millisecond(s), second(s)"),
              std::string::npos)
        << m;
  }
}

TEST(FormatDuration, ShortestCompactForm) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(1), "1ms");
  EXPECT_EQ(format_duration(500), "500ms");
  EXPECT_EQ(format_duration(999), "999ms");
  EXPECT_EQ(format_duration(1'000), "1s");
  EXPECT_EQ(format_duration(1'500), "1.5s");
  EXPECT_EQ(format_duration(1'050), "1.05s");
  EXPECT_EQ(format_duration(1'001), "1.001s");
  EXPECT_EQ(format_duration(5'000), "5s");
  EXPECT_EQ(format_duration(60'000), "1m");
  EXPECT_EQ(format_duration(90'000), "1m30s");
  EXPECT_EQ(format_duration(3'600'000), "1h");
  EXPECT_EQ(format_duration(3'600'500), "1h0.5s");
  EXPECT_EQ(format_duration(86'400'000), "1d");
  EXPECT_EQ(format_duration(93'784'005), "1d2h3m4.005s");
  EXPECT_EQ(format_duration(-1'500), "-1.5s");
  EXPECT_EQ(format_duration(std::numeric_limits<int64_t>::min()), "-106751991167d7h12m55.808s");
}

RC_GTEST_PROP(DurationRoundTrip, ParseOfFormatIsIdentity, ()) {
  const int64_t ms = *rc::gen::oneOf(
      rc::gen::inRange<int64_t>(0, 100'000), rc::gen::inRange<int64_t>(0, int64_t{1} << 50),
      rc::gen::inRange<int64_t>(0, std::numeric_limits<int64_t>::max()));
  const std::string text = format_duration(ms);
  const Result<int64_t> parsed = parse_duration(text);
  RC_ASSERT(parsed.is_ok());
  RC_ASSERT(*parsed == ms);
}

RC_GTEST_PROP(DurationRoundTrip, SparkSpellingsAgreeWithCompactOnes, ()) {
  const int64_t n = *rc::gen::inRange<int64_t>(0, 1'000'000);
  RC_ASSERT(parse_duration(std::to_string(n) + " seconds").value() == n * 1000);
  RC_ASSERT(parse_duration(std::to_string(n) + "s").value() == n * 1000);
  RC_ASSERT(parse_duration(std::to_string(n) + " minutes").value() == n * 60'000);
  RC_ASSERT(parse_duration(std::to_string(n) + " milliseconds").value() == n);
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

TEST(ParseInteger, WholeDecimalInt64AsStrtollReadsIt) {
  EXPECT_EQ(parse_integer("42"), 42);
  EXPECT_EQ(parse_integer("-2"), -2);
  EXPECT_EQ(parse_integer(" 7"), 7);
  EXPECT_EQ(parse_integer("+3"), 3);
  EXPECT_EQ(parse_integer("9223372036854775807"), INT64_MAX);
  for (const char* bad :
       {"", " ", "5abc", "1.5", "7 ", "+-1", "+", "9223372036854775808", "0x10"}) {
    EXPECT_FALSE(parse_integer(bad).has_value()) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace kappa
