#include "pipeline/time/timestamp.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "pipeline/time/quote_input.h"

namespace kappa {
namespace {

// Expected instants were computed with Python (datetime + zoneinfo, fold=0, which resolves gaps and
// overlaps as java.time does), or by hand where noted; never by this code.

TimeZone zone(std::string_view name) {
  Result<TimeZone> z = TimeZone::load(name);
  EXPECT_TRUE(z.is_ok()) << z.status().to_string();
  return z.is_ok() ? *z : TimeZone::utc();
}

int64_t parse_ok(std::string_view text, const TimeZone& z) {
  const Result<int64_t> r = parse_timestamp(text, z);
  EXPECT_TRUE(r.is_ok()) << "\"" << text << "\": " << r.status().to_string();
  // The fast path must agree with the general parser on every input.
  EXPECT_EQ(parse_timestamp_fast(text, z), r.is_ok() ? std::optional<int64_t>(*r) : std::nullopt)
      << text;
  return r.is_ok() ? *r : INT64_MIN;
}

TEST(ParseTimestamp, TheLabsEventTimeInSeoul) {
  EXPECT_EQ(parse_ok("2022-09-30 16:42:01", zone("Asia/Seoul")), 1'664'523'721'000);
}

TEST(ParseTimestamp, AcceptsSparksForms) {
  const TimeZone seoul = zone("Asia/Seoul");
  struct Case {
    const char* text;
    int64_t ms;
  };
  const Case cases[] = {
      {"2022-09-30 16:42:01", 1'664'523'721'000},
      {"2022-09-30T16:42:01", 1'664'523'721'000},
      {"  2022-09-30 16:42:01\t\n", 1'664'523'721'000},
      {"2022-9-3 6:2:1", 1'662'152'521'000},
      {"2022-09-03 06:02:01", 1'662'152'521'000},
      {"2022-09-30", 1'664'463'600'000},
      {"2022-9-30", 1'664'463'600'000},
      {" 2022-09-30 ", 1'664'463'600'000},
      {"2022-09-30 16:42", 1'664'523'720'000},
      {"2022-09-30T16:42", 1'664'523'720'000},
      {"2022-09-30 16:42:01.5", 1'664'523'721'500},
      {"2022-09-30 16:42:01.123456789", 1'664'523'721'123},
      {"2022-09-30 16:42:01.999999", 1'664'523'721'999},
      {"2022-09-30 16:42:01.", 1'664'523'721'000},  // Spark accepts an empty fraction
      // Zone suffixes override the session zone.
      {"2022-09-30 16:42:01Z", 1'664'556'121'000},
      {"2022-09-30 16:42:01 Z", 1'664'556'121'000},
      {"2022-09-30 16:42:01 UTC", 1'664'556'121'000},
      {"2022-09-30T16:42:01UTC", 1'664'556'121'000},
      {"2022-09-30 16:42:01+09:00", 1'664'523'721'000},
      {"2022-09-30 16:42:01+0900", 1'664'523'721'000},
      {"2022-09-30 16:42:01+09", 1'664'523'721'000},
      {"2022-09-30 16:42:01+9", 1'664'523'721'000},
      {"2022-09-30 16:42:01 +09:00", 1'664'523'721'000},
      {"2022-09-30 16:42:01GMT+9", 1'664'523'721'000},
      {"2022-09-30 16:42:01-5:30", 1'664'575'921'000},
      {"2022-09-30 16:42:01-05:30", 1'664'575'921'000},
      {"2022-09-30 16:42:01 Asia/Seoul", 1'664'523'721'000},
      {"2022-09-30 16:42:01 America/New_York", 1'664'570'521'000},
      {"2022-09-30 16:42:01America/New_York", 1'664'570'521'000},
      {"2022-09-30 16:42:01 PST", 1'664'581'321'000},  // SHORT_IDS: America/Los_Angeles
      {"2022-09-30T16:42:01.250+01:00", 1'664'552'521'250},
      {"2022-09-30 16:42:01.25 +01:00", 1'664'552'521'250},
      // Calendar edges.
      {"2024-02-29 12:00:00", 1'709'175'600'000},
      {"2000-02-29", 951'750'000'000},
      {"1900-01-01 00:00:00", -2'209'019'272'000},  // Seoul's local mean time, +8:27:52
      {"1969-12-31 23:59:59.999", -32'400'001},
  };
  for (const Case& c : cases) EXPECT_EQ(parse_ok(c.text, seoul), c.ms) << c.text;
}

TEST(ParseTimestamp, GapsMoveForwardAndOverlapsTakeTheEarlierOffset) {
  // America/New_York: 2024-03-10 02:30 does not exist -> 03:30 EDT; 2024-11-03 01:30 happens
  // twice -> the EDT one.
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(parse_ok("2024-03-10 02:30:00", ny), 1'710'055'800'000);
  EXPECT_EQ(parse_ok("2024-03-10 03:30:00", ny), 1'710'055'800'000);
  EXPECT_EQ(parse_ok("2024-11-03 01:30:00", ny), 1'730'611'800'000);
  EXPECT_EQ(parse_ok("2024-11-03 01:30:00-05:00", ny), 1'730'615'400'000);  // the EST one
  // Asia/Seoul's 1987 daylight saving time.
  const TimeZone seoul = zone("Asia/Seoul");
  EXPECT_EQ(parse_ok("1987-05-10 02:30:00", seoul), 547'579'800'000);
  EXPECT_EQ(parse_ok("1987-10-11 02:30:00", seoul), 560'881'800'000);
}

TEST(ParseTimestamp, FarFutureUsesTheFooterRule) {
  EXPECT_EQ(parse_ok("2100-07-01 12:00:00", zone("Europe/Berlin")), 4'118'119'200'000);
}

TEST(ParseTimestamp, NegativeInstantsFloorTheFraction) {
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(parse_ok("1969-07-20 20:17:40", utc), -14'182'940'000);
  EXPECT_EQ(parse_ok("1969-12-31 23:59:59", utc), -1000);
  EXPECT_EQ(parse_ok("1969-12-31 23:59:59.999", utc), -1);
  // -0.5 ms is floored to -1 ms, not truncated to 0.
  EXPECT_EQ(parse_ok("1969-12-31 23:59:59.9995", utc), -1);
  EXPECT_EQ(parse_ok("1969-12-31 23:59:59.001", utc), -999);
  EXPECT_EQ(parse_ok("1970-01-01 00:00:00.0009", utc), 0);
}

TEST(ParseTimestamp, FourDigitYearsFromZeroTo9999) {
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(parse_ok("0001-01-01 00:00:00", utc), -62'135'596'800'000);
  EXPECT_EQ(parse_ok("9999-12-31 23:59:59", utc), 253'402'300'799'000);
  // Year 0 (1 BC) is a leap year in the proleptic Gregorian calendar; 0000-03-01 is day -719468
  // (Hinnant), so 0000-01-01 is 60 days earlier.
  EXPECT_EQ(parse_ok("0000-01-01 00:00:00", utc), (-719'468 - 60) * int64_t{86'400'000});
  EXPECT_EQ(parse_ok("0000-02-29", utc), (-719'468 - 1) * int64_t{86'400'000});
}

TEST(ParseTimestamp, RejectsEverythingElseWithAMessage) {
  const TimeZone seoul = zone("Asia/Seoul");
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"2022-13-01 00:00:00", "month 13 is out of range"},
      {"2022-00-01", "month 0 is out of range"},
      {"2022-02-30 00:00:00", "day 30 does not exist"},
      {"2023-02-29", "day 29 does not exist"},
      {"1900-02-29", "day 29 does not exist"},
      {"2022-09-31", "day 31 does not exist"},
      {"2022-09-30 24:00:00", "hour 24 is out of range"},
      {"2022-09-30 16:60:00", "minute 60 is out of range"},
      {"2022-09-30 16:42:60", "second 60 is out of range"},
      {"22-09-30", "exactly 4 digits"},
      {"20220-09-30", "exactly 4 digits"},
      {"+2022-09-30", "signed year"},
      {"-0001-01-01", "signed year"},
      {"2022/09/30", "expected '-'"},
      {"2022", "expected '-'"},
      {"2022-09", "expected '-'"},
      {"2022-09-30 16", "expected ':' and minutes"},
      {"2022-09-30T", "the hour must have 1 or 2 digits"},
      {"2022-09-30  16:42:01", "the hour must have 1 or 2 digits"},
      {"2022-09-30 016:42:01", "the hour must have 1 or 2 digits"},
      {"2022-09-30 16:042:01", "the minutes must have 1 or 2 digits"},
      {"2022-09-30 16:42:012", "the seconds must have 1 or 2 digits"},
      {"2022-09-30X16:42:01", "expected ' ' or 'T'"},
      {"16:42:01", "exactly 4 digits"},
      {"T16:42:01", "exactly 4 digits"},
      {"2022-09-30 16:42Z", "a zone may only follow the seconds"},
      {"2022-09-30 16:42 Asia/Seoul", "a zone may only follow the seconds"},
      {"2022-09-30 16:42:01.1234567890", "the fraction has 10 digits"},
      {"2022-09-30 16:42:01+25:00", "zone offset \"+25:00\" is malformed"},
      {"2022-09-30 16:42:01+09:0x", "zone offset \"+09:0x\" is malformed"},
      {"2022-09-30 16:42:01 garbage", "unknown zone \"garbage\""},
      {"2022-09-30 16:42:01 Mars/Base", "unknown zone \"Mars/Base\""},
      {"2022-09-30 16:42:01 ../../etc/passwd", "\"..\" is not allowed"},
      {"2022-09-30 16:42:01,5", "unknown zone \",5\""},
      {"2022-09-30 16:42:01 z", "zone offset \"z\" is malformed"},  // as ZoneId.of("z")
      {"2022-09-30 16:42:01 +", "zone offset \"+\" is malformed"},
      {"2022-09-30 16:42:01 \"", "\\x22"},
  };
  for (const Case& c : cases) {
    const Result<int64_t> r = parse_timestamp(c.text, seoul);
    ASSERT_FALSE(r.is_ok()) << c.text << " parsed as " << *r;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.text;
    const std::string m = r.status().message();
    EXPECT_NE(m.find("invalid timestamp " + quote_input(c.text)), std::string::npos) << m;
    EXPECT_NE(m.find(c.why), std::string::npos) << c.text << ": " << m;
    EXPECT_NE(m.find("expected yyyy-MM-dd HH:mm:ss"), std::string::npos) << m;
    EXPECT_EQ(parse_timestamp_fast(c.text, seoul), std::nullopt) << c.text;
  }
}

TEST(ParseTimestamp, MessagesQuoteUnprintableInputSafely) {
  const Result<int64_t> r = parse_timestamp("2022-09-30\x01 16:42:01", TimeZone::utc());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("\"2022-09-30\\x01 16:42:01\""), std::string::npos)
      << r.status().message();
  const Result<int64_t> long_input = parse_timestamp(std::string(1000, '9'), TimeZone::utc());
  ASSERT_FALSE(long_input.is_ok());
  EXPECT_LT(long_input.status().message().size(), 600u);
}

TEST(ParseTimestampFast, FallsBackForOtherForms) {
  const TimeZone seoul = zone("Asia/Seoul");
  EXPECT_EQ(parse_timestamp_fast("2022-09-30 16:42:01", seoul), 1'664'523'721'000);
  EXPECT_EQ(parse_timestamp_fast("2022-09-30T16:42:01", seoul), 1'664'523'721'000);
  EXPECT_EQ(parse_timestamp_fast("2022-09-30 16:42:01Z", seoul), 1'664'556'121'000);
  EXPECT_EQ(parse_timestamp_fast("2022-09-30", seoul), 1'664'463'600'000);
  EXPECT_EQ(parse_timestamp_fast("2022-09-30 16:42:0x", seoul), std::nullopt);
  EXPECT_EQ(parse_timestamp_fast("2022-09-30 16:42:01 Nowhere/Zone", seoul), std::nullopt);
}

TEST(FormatTimestamp, WritesTheZonesWallClock) {
  const TimeZone seoul = zone("Asia/Seoul");
  EXPECT_EQ(format_timestamp(1'664'523'721'000, seoul), "2022-09-30 16:42:01");
  EXPECT_EQ(format_timestamp(1'664'523'721'999, seoul), "2022-09-30 16:42:01");
  EXPECT_EQ(format_timestamp_ms(1'664'523'721'000, seoul), "2022-09-30 16:42:01");
  EXPECT_EQ(format_timestamp_ms(1'664'523'721'123, seoul), "2022-09-30 16:42:01.123");
  EXPECT_EQ(format_timestamp_ms(1'664'523'721'050, seoul), "2022-09-30 16:42:01.050");
  EXPECT_EQ(format_timestamp_iso(1'664'523'721'000, seoul), "2022-09-30T16:42:01+09:00");
  EXPECT_EQ(format_timestamp_iso(1'664'523'721'500, seoul), "2022-09-30T16:42:01.500+09:00");
  EXPECT_EQ(format_timestamp_iso(-2'209'019'272'000, seoul), "1900-01-01T00:00:00+08:27:52");
  EXPECT_EQ(format_timestamp_iso(547'579'800'000, seoul), "1987-05-10T03:30:00+10:00");
  EXPECT_EQ(format_timestamp_iso(1'730'615'400'000, zone("America/New_York")),
            "2024-11-03T01:30:00-05:00");
  EXPECT_EQ(format_timestamp_iso(0, TimeZone::utc()), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp(4'118'119'200'000, zone("Europe/Berlin")), "2100-07-01 12:00:00");
}

TEST(FormatTimestamp, NegativeInstantsFloor) {
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(format_timestamp(-1, utc), "1969-12-31 23:59:59");
  EXPECT_EQ(format_timestamp_ms(-1, utc), "1969-12-31 23:59:59.999");
  EXPECT_EQ(format_timestamp_ms(-999, utc), "1969-12-31 23:59:59.001");
  EXPECT_EQ(format_timestamp_ms(-1000, utc), "1969-12-31 23:59:59");
  EXPECT_EQ(format_timestamp_iso(-14'182'940'001, utc), "1969-07-20T20:17:39.999Z");
  EXPECT_EQ(format_timestamp(-62'135'596'800'000, utc), "0001-01-01 00:00:00");
}

TEST(FormatTimestamp, YearsOutsideFourDigits) {
  const TimeZone utc = TimeZone::utc();
  const int64_t year_10000 = 253'402'300'800'000;  // 9999-12-31 23:59:59 UTC + 1 s
  const int64_t year_minus_1 = (-719'528 - 365) * int64_t{86'400'000};  // -0001-01-01, by hand
  EXPECT_EQ(format_timestamp(year_10000, utc), "+10000-01-01 00:00:00");
  EXPECT_EQ(format_timestamp(year_minus_1, utc), "-0001-01-01 00:00:00");
  EXPECT_EQ(format_timestamp_iso(year_minus_1 + 1, utc), "-0001-01-01T00:00:00.001Z");
  char buf[20];
  format_timestamp_to(buf, year_10000, utc);
  EXPECT_EQ(std::string(buf, 19), "9999-12-31 23:59:59");
  format_timestamp_to(buf, year_minus_1, utc);
  EXPECT_EQ(std::string(buf, 19), "0000-01-01 00:00:00");
}

TEST(FormatTimestamp, ExtremeInstantsDoNotOverflow) {
  // java.time: Instant.ofEpochMilli(Long.MAX_VALUE / MIN_VALUE).
  EXPECT_EQ(format_timestamp_iso(INT64_MAX, TimeZone::utc()), "+292278994-08-17T07:12:55.807Z");
  EXPECT_EQ(format_timestamp_iso(INT64_MIN, TimeZone::utc()), "-292275055-05-16T16:47:04.192Z");
  for (const char* name : {"Asia/Seoul", "Europe/Berlin", "America/New_York"}) {
    EXPECT_EQ(format_timestamp(INT64_MAX, zone(name)).front(), '+') << name;
    EXPECT_EQ(format_timestamp(INT64_MIN, zone(name)).front(), '-') << name;
  }
}

TEST(FormatTimestamp, ToWritesExactlyNineteenChars) {
  char buf[21];
  std::memset(buf, '#', sizeof buf);
  format_timestamp_to(buf + 1, 1'664'523'721'999, zone("Asia/Seoul"));
  EXPECT_EQ(std::string(buf, 21), "#2022-09-30 16:42:01#");
}

TEST(CivilDates, KnownDays) {
  // Python: date.toordinal() - date(1970, 1, 1).toordinal().
  static_assert(days_from_civil(1970, 1, 1) == 0);
  static_assert(days_from_civil(2000, 3, 1) == 11017);
  static_assert(days_from_civil(0, 3, 1) == -719468);  // Hinnant's epoch shift
  EXPECT_EQ(days_from_civil(2022, 9, 30), 19265);
  EXPECT_EQ(days_from_civil(1, 1, 1), -719162);
  EXPECT_EQ(days_from_civil(9999, 12, 31), 2932896);
  EXPECT_EQ(days_from_civil(1900, 3, 1), -25508);
  EXPECT_EQ(days_from_civil(1600, 2, 29), -135081);
  EXPECT_EQ(civil_from_days(19265), (CivilDate{2022, 9, 30}));
  EXPECT_EQ(civil_from_days(-135081), (CivilDate{1600, 2, 29}));
  EXPECT_EQ(civil_from_days(-1), (CivilDate{1969, 12, 31}));
}

RC_GTEST_PROP(CivilDates, RoundTripAndConsecutiveDays, ()) {
  const int64_t days = *rc::gen::inRange<int64_t>(-1'000'000'000, 1'000'000'000);
  const CivilDate d = civil_from_days(days);
  RC_ASSERT(d.month >= 1u && d.month <= 12u);
  RC_ASSERT(d.day >= 1u && d.day <= days_in_month(d.year, d.month));
  RC_ASSERT(days_from_civil(d.year, d.month, d.day) == days);
  const CivilDate next = civil_from_days(days + 1);
  if (d.day < days_in_month(d.year, d.month)) {
    RC_ASSERT(next == (CivilDate{d.year, d.month, d.day + 1}));
  } else if (d.month < 12) {
    RC_ASSERT(next == (CivilDate{d.year, d.month + 1, 1}));
  } else {
    RC_ASSERT(next == (CivilDate{d.year + 1, 1, 1}));
  }
}

const char* const kRoundTripZones[] = {"UTC",           "Asia/Seoul",       "America/New_York",
                                       "Europe/Berlin", "Australia/Sydney", "Europe/Dublin",
                                       "+05:30",        "Pacific/Chatham",  "America/Sao_Paulo"};

rc::Gen<TimeZone> any_zone() {
  return rc::gen::map(rc::gen::elementOf(std::vector<std::string>(std::begin(kRoundTripZones),
                                                                  std::end(kRoundTripZones))),
                      [](const std::string& name) { return *TimeZone::load(name); });
}

// 1900-01-01 .. 2200-01-01 UTC, in milliseconds.
rc::Gen<int64_t> any_ms() {
  return rc::gen::inRange<int64_t>(-2'208'988'800'000, 7'258'118'400'000);
}

int64_t floor_to_second(int64_t ms) { return ms - (((ms % 1000) + 1000) % 1000); }

RC_GTEST_PROP(TimestampRoundTrip, FormatThenParseGivesTheInstantFlooredToSeconds, ()) {
  const TimeZone z = *any_zone();
  const int64_t ms = *any_ms();
  const std::string text = format_timestamp(ms, z);
  const Result<int64_t> parsed = parse_timestamp(text, z);
  RC_ASSERT(parsed.is_ok());
  RC_ASSERT(parse_timestamp_fast(text, z) == std::optional<int64_t>(*parsed));
  const int64_t floor = floor_to_second(ms);
  if (*parsed != floor) {
    // Only the second of two identical wall-clock readings (an overlap) may come back earlier.
    RC_ASSERT(*parsed < floor);
    RC_ASSERT(format_timestamp(*parsed, z) == text);
    RC_ASSERT(z.offset_at(*parsed / 1000) > z.offset_at(floor / 1000));
  }
  char buf[19];
  format_timestamp_to(buf, ms, z);
  RC_ASSERT(std::string(buf, 19) == text);
}

RC_GTEST_PROP(TimestampRoundTrip, MillisecondsSurviveTheMsFormat, ()) {
  const TimeZone z = *any_zone();
  const int64_t ms = *any_ms();
  const Result<int64_t> parsed = parse_timestamp(format_timestamp_ms(ms, z), z);
  RC_ASSERT(parsed.is_ok());
  RC_ASSERT(*parsed % 1000 == ms % 1000);
  RC_ASSERT(*parsed == ms ||
            z.offset_at(floor_to_second(*parsed) / 1000) > z.offset_at(floor_to_second(ms) / 1000));
}

RC_GTEST_PROP(TimestampRoundTrip, IsoFormatIsExact, ()) {
  const TimeZone z = *any_zone();
  const int64_t ms = *any_ms();
  const std::string iso = format_timestamp_iso(ms, z);
  const Result<int64_t> parsed = parse_timestamp(iso, z);
  RC_ASSERT(parsed.is_ok());
  RC_ASSERT(*parsed == ms);
  RC_ASSERT(parse_timestamp(iso, TimeZone::utc()).value() == ms);  // the offset decides
}

}  // namespace
}  // namespace kappa
