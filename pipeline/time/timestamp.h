// Timestamps: the one parser and the one formatter for timestamps in the whole product (events'
// `time`, window bounds written to sinks, scenario files, logs and JSON).
//
// A timestamp is an int64 count of milliseconds since 1970-01-01 00:00:00 UTC (the Unix epoch),
// proleptic Gregorian calendar, no leap seconds. Wall-clock text is always read and written in a
// TimeZone (the session zone, Asia/Seoul in the lab), as Spark does.
//
// Parsing follows Spark 3.x's CAST(string AS TIMESTAMP) / to_timestamp(col) with ANSI mode off
// (DateTimeUtils.stringToTimestamp), restricted to four-digit years:
//   - leading and trailing ASCII whitespace and control characters are ignored;
//   - "yyyy-[m]m-[d]d" is midnight of that day;
//   - "yyyy-[m]m-[d]d[ T][h]h:[m]m", optionally followed by ":[s]s", which is optionally followed
//     by "." and 0 to 9 fraction digits (digits below the millisecond are dropped: the result is
//     the floor of the exact instant, also before 1970);
//   - after the seconds (or the fraction) an optional zone, with or without a space before it:
//     "Z", "UTC", "+09:00", "+0900", "+09", "-5:30", "GMT+9", or a zone name such as "Asia/Seoul"
//     (every form TimeZone::load accepts). Without one the text is read in the given zone;
//   - a local time that falls in a daylight-saving gap is moved forward by the gap's length, and
//     one that occurs twice takes the earlier offset (java.time's ZonedDateTime.of).
// Everything else is rejected: years that are not exactly four digits (0000-9999, no sign),
// month 13, Feb 30, hour 24, minute or second 60, a zone after the minutes, trailing garbage.
// Spark also accepts "yyyy", "yyyy-[m]m", "yyyy-[m]m-[d]d [h]h", time-only text and signed or
// longer years; we do not (see the tests).
//
// Formatting writes "yyyy-MM-dd HH:mm:ss" in the zone (what Spark's JDBC writer leaves in MySQL
// and what the lab's fluentd wrote), optionally with ".SSS", or ISO 8601 with the offset. Years
// outside 0000-9999 are written with a sign and at least four digits ("-0001", "+10000"), except
// by format_timestamp_to, which has exactly 19 characters and clamps to 0000-01-01 00:00:00 ..
// 9999-12-31 23:59:59.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/result.h"
#include "pipeline/time/civil.h"
#include "pipeline/time/time_zone.h"

namespace kappa {

// Parses a timestamp as described above. On failure the Status (InvalidArgument, also for an
// unknown zone suffix) quotes the input, says what is wrong with it and what was expected
// ("expected yyyy-MM-dd HH:mm:ss ...").
Result<int64_t> parse_timestamp(std::string_view text, const TimeZone& zone);

// The hot path: "YYYY-MM-DD HH:MM:SS" (exactly 19 characters) without allocating; any other text
// goes through the general parser. Returns nullopt where parse_timestamp fails.
std::optional<int64_t> parse_timestamp_fast(std::string_view text, const TimeZone& zone);

// "YYYY-MM-DD HH:MM:SS" in the zone; the milliseconds are dropped (floor, also before 1970).
std::string format_timestamp(int64_t ms, const TimeZone& zone);
// The same, with ".mmm" appended when the millisecond part is not zero.
std::string format_timestamp_ms(int64_t ms, const TimeZone& zone);
// Writes exactly 19 characters, no allocation (hot path). REQUIRES: out has room for 19 chars.
void format_timestamp_to(char* out, int64_t ms, const TimeZone& zone);
// ISO 8601 with the offset, for logs and JSON: "2022-09-30T16:42:01+09:00", with ".mmm" after the
// seconds when the millisecond part is not zero, and "Z" for offset zero (as java.time's
// ISO_OFFSET_DATE_TIME). An offset with seconds is written "+08:27:52". parse_timestamp reads all
// of these back to the same instant.
std::string format_timestamp_iso(int64_t ms, const TimeZone& zone);

}  // namespace kappa
