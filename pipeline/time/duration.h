// Durations: trigger intervals, window lengths and slides, watermark delays, and the scenario
// files' "advance" steps, all as int64 milliseconds. One parser and one formatter for all of them.
//
// Accepted text (surrounding whitespace ignored, units case-insensitive):
//   - compact forms, one or more <number><unit> with no space needed: "500ms", "5s", "1m",
//     "1m30s", "2h", "1d", "1.5s", with units ms, s, m (minutes), h, d;
//   - Spark interval strings as Trigger.ProcessingTime, window() and withWatermark() take them:
//     "5 second", "10 seconds", "15 Seconds", "1 hour 30 minutes", "2 days", "100 milliseconds",
//     optionally after the word "interval", with units microsecond, millisecond, second, minute,
//     hour, day and week, singular or plural;
//   - "0".
// A number may have a fraction ("1.5s", "0.25 minutes") as long as the whole duration is a whole
// number of milliseconds. Rejected, with a message that quotes the input and lists the units:
// empty text, negative values, a number without a unit, unknown units, a sub-millisecond
// remainder ("1.0005s") and totals beyond int64 milliseconds.
//
// format_duration writes the compact form that parse_duration reads back to the same value: days,
// hours, minutes and seconds, each only when not zero, the milliseconds as a decimal fraction of
// the seconds with trailing zeros dropped, and plain "ms" below one second: 5000 -> "5s",
// 60000 -> "1m", 90000 -> "1m30s", 1500 -> "1.5s", 500 -> "500ms", 0 -> "0s".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/result.h"

namespace kappa {

Result<int64_t> parse_duration(std::string_view text);

// Negative values (which parse_duration rejects) are written with a leading '-'.
std::string format_duration(int64_t ms);

// The counts given beside durations on command lines (--rate, --partitions, ports...): the whole
// text as a decimal int64, or nullopt. Callers check the range and say what they expected.
std::optional<int64_t> parse_integer(std::string_view text);

}  // namespace kappa
