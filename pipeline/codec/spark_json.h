// Spark-exact staging: what the lab's Spark stage job (seed section 2.2) makes of an `events`
// value, byte for byte, for the stage option `spark` (docs/semantics.md, "Staging like Spark").
//
// The lab reads a value with from_json(value, {id LONG, hello STRING, time STRING}) in Spark
// 3.x's PERMISSIVE mode, whose parser is Jackson with Spark's options (single quotes allowed;
// NaN, Infinity, +INF and -INF allowed as numbers; no comments, unquoted names, leading zeros,
// leading '+', trailing commas or unescaped control characters), on the value's bytes decoded as
// Java decodes UTF-8 (each malformed sequence becomes U+FFFD). What it yields, checked against
// PySpark 3.2.1 and 3.5 (tests/spark):
//  - only the first JSON value is read: text after the object is ignored;
//  - a value that is not an object, or that breaks the JSON grammar anywhere up to the end of
//    the object, gives null for every field;
//  - a field whose value cannot be converted gives null for that field only, and the others are
//    kept: `id` that is not a JSON integer within int64 (a string, a float, true, an object,
//    NaN), a `hello`/`time` string with a bad escape or a control character (the parser then
//    goes on after the offending character, so the rest of the value must still parse);
//  - a string field takes a non-string value's JSON text as Jackson writes it: true, 123,
//    {"a":[1,2]} compact, floats as Java's Double.toString (1.5, 1.0E20, 9.9E-4), NaN and
//    infinities as the quoted strings "NaN", "Infinity", "-Infinity";
//  - a later duplicate key replaces the earlier value when it converts; names are
//    case-sensitive; unknown fields are skipped (but must be valid JSON);
//  - strings are Java strings: an unpaired surrogate escape becomes '?' on the way to UTF-8.
// Nesting deeper than 1000 levels is refused as Jackson 2.15 (Spark 3.5) refuses it: a `hello`
// or `time` one level too deep is null, anything deeper makes the whole value null.
//
// to_json then writes the staged row with null fields left out, escaping as Jackson does: the
// quote, the backslash, \b \t \n \f \r, \u00XX (upper-case hex) for other control characters,
// everything else as is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kappa {

struct SparkSourceEvent {
  std::optional<int64_t> id;
  std::optional<std::string> hello;
  std::optional<std::string> time;
};

// from_json of one `events` value (nullopt: a Kafka tombstone, null like a malformed value).
void spark_from_json(std::optional<std::string_view> value, SparkSourceEvent& out);

// The staged row as the lab's to_json(struct(*)) writes it; nullopt fields are left out.
struct SparkStagedEvent {
  std::optional<std::string_view> time;
  std::optional<int64_t> user_id;
  std::string_view user_name;
  std::string_view dept_name;
  std::string_view gender;
  std::optional<int64_t> age;
  std::optional<std::string_view> hello;
  std::optional<int64_t> id;
};
void append_spark_staged_json(std::string& out, const SparkStagedEvent& e);

// Java's Double.toString of a finite double, as JDK 19+ writes it: the shortest decimal of at
// least two significant digits that reads back as `d` (the nearest of those), plain for
// 1e-3 <= |d| < 1e7 ("0.001", "1234567.0"), else "1.0E20". (JDK 17 writes a longer form for a
// few values, e.g. 9.999999999999999E22 for 1.0E23: docs/semantics.md.)
std::string java_double_string(double d);

// `in` decoded as Java's UTF-8 decoder does with replacement: each malformed sequence (by
// Java's rules for its length) becomes U+FFFD. Returns `in` itself when it is valid.
std::string_view java_utf8(std::string_view in, std::string& scratch);

}  // namespace kappa
