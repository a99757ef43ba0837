#include "replay/scenario/json_document.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace kappa {

// Internal linkage: gtest finds it by ADL without clashing with another test's printer.
[[maybe_unused]] static void PrintTo(const SourceLocation& l, std::ostream* os) {
  *os << l.line << ":" << l.column;
}

namespace {

using Json = nlohmann::ordered_json;

Json parse_ok(std::string_view text) {
  Result<JsonDocument> doc = JsonDocument::parse(text, "t.json");
  EXPECT_TRUE(doc.is_ok()) << doc.status().message();
  return doc.is_ok() ? doc->root() : Json();
}

// The message of a parse that must fail with invalid_argument.
std::string error_of(std::string_view text) {
  Result<JsonDocument> doc = JsonDocument::parse(text, "t.json");
  if (doc.is_ok()) return "<parsed: " + doc->root().dump() + ">";
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  return doc.status().message();
}

// --- What is accepted -------------------------------------------------------------------------

TEST(JsonDocument, ParsesPlainJson) {
  const Json j = parse_ok(R"({"s": "x", "i": -7, "d": 2.5, "t": true, "f": false, "n": null,
                              "a": [1, [], {}], "o": {"k": "v"}})");
  EXPECT_EQ(j["s"], "x");
  EXPECT_EQ(j["i"], -7);
  EXPECT_EQ(j["d"], 2.5);
  EXPECT_EQ(j["t"], true);
  EXPECT_EQ(j["f"], false);
  EXPECT_TRUE(j["n"].is_null());
  EXPECT_EQ(j["a"].dump(), "[1,[],{}]");
  EXPECT_EQ(j["o"]["k"], "v");
  EXPECT_EQ(parse_ok(" 42 "), 42);
  EXPECT_EQ(parse_ok("\"top\""), "top");
  EXPECT_TRUE(parse_ok("null").is_null());
}

TEST(JsonDocument, KeepsObjectKeyOrder) {
  const Json j = parse_ok(R"({"z": 1, "a": 2, "m": {"y": 1, "b": 2}})");
  EXPECT_EQ(j.dump(), R"({"z":1,"a":2,"m":{"y":1,"b":2}})");
}

TEST(JsonDocument, AcceptsLineComments) {
  const Json j = parse_ok(
      "// leading\n"
      "{ // after brace\n"
      "  \"a\" // between key and colon\n"
      "  : // between colon and value\n"
      "  1 // after value\n"
      "  , \"b\": \"// not a comment\"\n"
      "} // trailing, and no newline at the end");
  EXPECT_EQ(j.dump(), R"({"a":1,"b":"// not a comment"})");
}

TEST(JsonDocument, AcceptsBlockComments) {
  const Json j = parse_ok(
      "/* leading\n"
      "   over lines */ [/**/1,/***/2 /* // inside */, /* a * b / c */ 3]\n"
      "/* trailing */ // and a line comment /* ignored\n");
  EXPECT_EQ(j.dump(), "[1,2,3]");
  EXPECT_EQ(parse_ok("[\"/* not a comment */\"]")[0], "/* not a comment */");
}

TEST(JsonDocument, AcceptsTrailingCommas) {
  EXPECT_EQ(parse_ok("[1, 2,]").dump(), "[1,2]");
  EXPECT_EQ(parse_ok(R"({"a": 1,})").dump(), R"({"a":1})");
  EXPECT_EQ(parse_ok("{\"a\": [[1,],{\"b\":[],},],\n}").dump(), R"({"a":[[1],{"b":[]}]})");
  EXPECT_EQ(parse_ok("[1, // comment after the comma\n]").dump(), "[1]");
}

TEST(JsonDocument, AcceptsCrLfAndAByteOrderMark) {
  EXPECT_EQ(parse_ok("{\r\n  \"a\": 1\r\n}\r\n").dump(), R"({"a":1})");
  EXPECT_EQ(error_of("{\r\n  \"a\": x\r\n}"), "t.json:2:8: unexpected 'x', expected a value");
  EXPECT_EQ(parse_ok("\xEF\xBB\xBF[1]").dump(), "[1]");
  // Columns after the mark count from the first byte after it.
  EXPECT_EQ(error_of("\xEF\xBB\xBF{\"a\": x}"), "t.json:1:7: unexpected 'x', expected a value");
}

TEST(JsonDocument, DecodesEscapes) {
  const Json j = parse_ok(R"(["\"\\\/\b\f\n\r\t", "\u00e9\u20AC", "\uD83D\uDE00", "a\u0000b"])");
  EXPECT_EQ(j[0], "\"\\/\b\f\n\r\t");
  EXPECT_EQ(j[1], "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(j[2], "\xF0\x9F\x98\x80");
  EXPECT_EQ(j[3].get<std::string>(), std::string("a\0b", 3));
}

TEST(JsonDocument, KeepsUtf8Text) {
  EXPECT_EQ(parse_ok("[\"\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"]")[0],
            "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF");
  EXPECT_EQ(parse_ok("{\"cl\xC3\xA9\": 1}").begin().key(), "cl\xC3\xA9");
}

TEST(JsonDocument, KeepsIntegersExactAndOtherNumbersAsDoubles) {
  const Json j = parse_ok(
      "[9223372036854775807, -9223372036854775808, 9007199254740993, 0, -0, 3, 3.0, 3e0, "
      "-1.5E-3, 1e308, 4.9406564584124654e-324]");
  EXPECT_TRUE(j[0].is_number_integer());
  EXPECT_EQ(j[0].get<int64_t>(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(j[1].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(j[2].get<int64_t>(), 9007199254740993);  // 2^53 + 1: not a double
  EXPECT_EQ(j[3].get<int64_t>(), 0);
  EXPECT_TRUE(j[4].is_number_integer());
  EXPECT_TRUE(j[5].is_number_integer());
  EXPECT_TRUE(j[6].is_number_float());
  EXPECT_TRUE(j[7].is_number_float());
  EXPECT_EQ(j[8].get<double>(), -1.5e-3);
  EXPECT_EQ(j[9].get<double>(), 1e308);
  EXPECT_EQ(j[10].get<double>(), std::numeric_limits<double>::denorm_min());
}

TEST(JsonDocument, AcceptsNestingUpToTheLimit) {
  const int n = JsonDocument::kMaxDepth;
  EXPECT_TRUE(JsonDocument::parse(std::string(n, '[') + std::string(n, ']'), "t.json").is_ok());
}

TEST(JsonDocument, AcceptsTheSameKeyInDifferentObjects) {
  EXPECT_EQ(parse_ok(R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]})").size(), 3u);
}

// --- What is rejected, and where ---------------------------------------------------------------

TEST(JsonDocumentErrors, DuplicateKeyNamesBothPlaces) {
  EXPECT_EQ(error_of(R"({"a": 1, "a": 2})"),
            "t.json:1:10: duplicate key \"a\", expected each key at most once in an object "
            "(the first is at 1:2)");
  EXPECT_EQ(error_of("{\n  \"name\": 1,\n  \"other\": 2,\n  \"name\": 3\n}"),
            "t.json:4:3: duplicate key \"name\", expected each key at most once in an object "
            "(the first is at 2:3)");
  // The same key written two ways is still the same key.
  EXPECT_EQ(error_of(R"({"x": {"k": 1, "\u006b": 2}})"),
            "t.json:1:16: duplicate key \"k\", expected each key at most once in an object "
            "(the first is at 1:8)");
}

TEST(JsonDocumentErrors, UnterminatedString) {
  EXPECT_EQ(
      error_of(R"({"a": "abc)"),
      "t.json:1:11: unexpected end of input, expected '\"' to close the string opened at 1:7");
  EXPECT_EQ(error_of("[\"ab\ncd\"]"),
            "t.json:1:5: unexpected line break in the string opened at 1:2, expected '\"' to close "
            "it first (write \\n for a line break)");
  EXPECT_EQ(error_of("[\"ab\\"),
            "t.json:1:6: unexpected end of input, expected '\"' to close the string opened at 1:2");
}

TEST(JsonDocumentErrors, UnterminatedOrStrayComment) {
  EXPECT_EQ(
      error_of("[1, /* never\nclosed"),
      "t.json:2:7: unexpected end of input, expected '*/' to close the comment opened at 1:5");
  EXPECT_EQ(
      error_of("[1 /*/]"),
      "t.json:1:8: unexpected end of input, expected '*/' to close the comment opened at 1:4");
  EXPECT_EQ(error_of("[1 / 2]"),
            "t.json:1:4: unexpected '/', expected '//' or '/*' to start a comment");
  EXPECT_EQ(error_of("[1]/"),
            "t.json:1:4: unexpected '/', expected '//' or '/*' to start a comment");
}

TEST(JsonDocumentErrors, InvalidEscapes) {
  EXPECT_EQ(error_of(R"(["a\x"])"),
            "t.json:1:4: invalid escape '\\x', expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
            "\\uXXXX");
  EXPECT_EQ(error_of(R"(["\'"])"),
            "t.json:1:3: invalid escape '\\'', expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
            "\\uXXXX");
  EXPECT_EQ(error_of("[\"\\\x01\"]"),
            "t.json:1:3: invalid escape (a backslash before control character U+0001), expected "
            "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
  EXPECT_EQ(error_of(R"(["\u12G4"])"),
            "t.json:1:3: invalid \\u escape with 'G', expected four hex digits after \\u");
  EXPECT_EQ(error_of(R"(["\u12"])"),
            "t.json:1:3: invalid \\u escape with '\"', expected four hex digits after \\u");
}

TEST(JsonDocumentErrors, LoneSurrogates) {
  EXPECT_EQ(error_of(R"(["\uD800"])"),
            "t.json:1:3: unexpected lone surrogate \\uD800, expected a low surrogate "
            "\\uDC00-\\uDFFF right after it");
  EXPECT_EQ(error_of(R"(["ok", "x\ud83dy"])"),
            "t.json:1:10: unexpected lone surrogate \\ud83d, expected a low surrogate "
            "\\uDC00-\\uDFFF right after it");
  EXPECT_EQ(error_of(R"(["\uD800\u0041"])"),
            "t.json:1:3: unexpected lone surrogate \\uD800, expected a low surrogate "
            "\\uDC00-\\uDFFF right after it");
  EXPECT_EQ(error_of(R"(["\uD800\uD800"])"),
            "t.json:1:3: unexpected lone surrogate \\uD800, expected a low surrogate "
            "\\uDC00-\\uDFFF right after it");
  EXPECT_EQ(error_of(R"(["\uDC00"])"),
            "t.json:1:3: unexpected lone surrogate \\uDC00, expected a high surrogate "
            "\\uD800-\\uDBFF before it");
}

TEST(JsonDocumentErrors, ControlCharactersInStrings) {
  EXPECT_EQ(error_of("[\"a\tb\"]"),
            "t.json:1:4: unexpected control character U+0009 in a string, expected it escaped as "
            "\\t");
  EXPECT_EQ(error_of(std::string("[\"\0\"]", 4)),
            "t.json:1:3: unexpected control character U+0000 in a string, expected it escaped as "
            "\\u0000");
  EXPECT_EQ(error_of("[\"\x1f\"]"),
            "t.json:1:3: unexpected control character U+001F in a string, expected it escaped as "
            "\\u001F");
  EXPECT_EQ(error_of("[\"a\rb\"]"),
            "t.json:1:4: unexpected line break in the string opened at 1:2, expected '\"' to close "
            "it first (write \\n for a line break)");
}

TEST(JsonDocumentErrors, InvalidUtf8InStrings) {
  EXPECT_EQ(error_of("[\"a\xFF\"]"),
            "t.json:1:4: invalid UTF-8 byte 0xFF in a string, expected UTF-8 text");
  EXPECT_EQ(error_of("[\"\x80\"]"),
            "t.json:1:3: invalid UTF-8 byte 0x80 in a string, expected UTF-8 text");
  EXPECT_EQ(error_of("[\"\xC0\x80\"]"),  // overlong NUL
            "t.json:1:3: invalid UTF-8 byte 0xC0 in a string, expected UTF-8 text");
  EXPECT_EQ(error_of("[\"\xE0\x80\x80\"]"),  // overlong
            "t.json:1:3: invalid UTF-8 sequence 0xE0 0x80 in a string, expected UTF-8 text");
  EXPECT_EQ(error_of("[\"\xED\xA0\x80\"]"),  // an encoded surrogate
            "t.json:1:3: invalid UTF-8 sequence 0xED 0xA0 in a string, expected UTF-8 text");
  EXPECT_EQ(error_of("[\"\xF4\x90\x80\x80\"]"),  // beyond U+10FFFF
            "t.json:1:3: invalid UTF-8 sequence 0xF4 0x90 in a string, expected UTF-8 text");
  EXPECT_EQ(error_of("{\"k\xC3\": 1}"),  // truncated sequence
            "t.json:1:4: invalid UTF-8 sequence 0xC3 0x22 in a string, expected UTF-8 text");
  EXPECT_EQ(error_of("[\"\xE2\x82"),
            "t.json:1:5: unexpected end of input, expected '\"' to close the string opened at 1:2");
}

TEST(JsonDocumentErrors, ColumnsCountBytes) {
  // "é" is two bytes, so 'x' is the 12th byte of the line.
  EXPECT_EQ(error_of("{\"\xC3\xA9\": [1, x]}"), "t.json:1:12: unexpected 'x', expected a value");
  EXPECT_EQ(error_of("{\n\t\"a\": x}"), "t.json:2:7: unexpected 'x', expected a value");
}

TEST(JsonDocumentErrors, IntegerOverflow) {
  EXPECT_EQ(error_of("9223372036854775808"),
            "t.json:1:1: integer 9223372036854775808 does not fit in 64 bits, expected one from "
            "-9223372036854775808 to 9223372036854775807");
  EXPECT_EQ(error_of("{\"n\": -9223372036854775809}"),
            "t.json:1:7: integer -9223372036854775809 does not fit in 64 bits, expected one from "
            "-9223372036854775808 to 9223372036854775807");
  EXPECT_EQ(error_of("[123456789012345678901234567890]"),
            "t.json:1:2: integer 123456789012345678901234... does not fit in 64 bits, expected one "
            "from -9223372036854775808 to 9223372036854775807");
}

TEST(JsonDocumentErrors, DoubleOutOfRange) {
  EXPECT_EQ(error_of("[1e400]"),
            "t.json:1:2: number 1e400 is out of range of a double, expected a magnitude below "
            "1.8e308 and, unless it is 0, above 4.9e-324");
  EXPECT_EQ(error_of("[-1.5e-400]"),
            "t.json:1:2: number -1.5e-400 is out of range of a double, expected a magnitude below "
            "1.8e308 and, unless it is 0, above 4.9e-324");
}

TEST(JsonDocumentErrors, MalformedNumbers) {
  EXPECT_EQ(error_of("[01]"),
            "t.json:1:3: unexpected digit after a leading 0, expected '.', 'e' or the end of the "
            "number (JSON has no leading zeros)");
  EXPECT_EQ(error_of("-"), "t.json:1:2: unexpected end of input, expected a digit after '-'");
  EXPECT_EQ(error_of("[-x]"), "t.json:1:3: unexpected 'x', expected a digit after '-'");
  EXPECT_EQ(error_of("[-Infinity]"),
            "t.json:1:3: unexpected 'Infinity', expected a digit after '-'");
  EXPECT_EQ(error_of("1."),
            "t.json:1:3: unexpected end of input, expected a digit after the decimal point");
  EXPECT_EQ(error_of("[1.e5]"),
            "t.json:1:4: unexpected 'e5', expected a digit after the decimal point");
  EXPECT_EQ(error_of("[1e+]"), "t.json:1:5: unexpected ']', expected a digit in the exponent");
  EXPECT_EQ(error_of("[.5]"), "t.json:1:2: unexpected '.', expected a value");
  EXPECT_EQ(error_of("[+1]"), "t.json:1:2: unexpected '+', expected a value");
  EXPECT_EQ(error_of("[0x10]"),
            "t.json:1:3: unexpected 'x10', expected ',' or ']' after an array element");
}

TEST(JsonDocumentErrors, BadLiterals) {
  EXPECT_EQ(error_of("[NaN]"), "t.json:1:2: unexpected 'NaN', expected a value");
  EXPECT_EQ(error_of("[tru]"), "t.json:1:2: unexpected 'tru', expected a value");
  EXPECT_EQ(error_of("[truex]"), "t.json:1:2: unexpected 'truex', expected a value");
  EXPECT_EQ(error_of("[True]"), "t.json:1:2: unexpected 'True', expected a value");
  EXPECT_EQ(error_of("['a']"), "t.json:1:2: unexpected \"'\", expected a value");
}

TEST(JsonDocumentErrors, MalformedObjectsAndArrays) {
  EXPECT_EQ(error_of("{'a': 1}"),
            "t.json:1:2: unexpected \"'\", expected a key in double quotes or '}'");
  EXPECT_EQ(error_of("{a: 1}"),
            "t.json:1:2: unexpected 'a', expected a key in double quotes or '}'");
  EXPECT_EQ(
      error_of("{\xE2\x80\x9C"
               "a\xE2\x80\x9D: 1}"),
      "t.json:1:2: unexpected '\xE2\x80\x9C' (U+201C), expected a key in double quotes or '}'");
  EXPECT_EQ(error_of(R"({"a" 1})"), "t.json:1:6: unexpected '1', expected ':' after the key \"a\"");
  EXPECT_EQ(error_of(R"({"a": 1 "b": 2})"),
            "t.json:1:9: unexpected '\"', expected ',' or '}' after the member \"a\"");
  EXPECT_EQ(error_of(R"({"a":})"), "t.json:1:6: unexpected '}', expected a value");
  EXPECT_EQ(error_of(R"({"a": 1]})"),
            "t.json:1:8: unexpected ']', expected ',' or '}' after the member \"a\"");
  EXPECT_EQ(error_of("{,}"), "t.json:1:2: unexpected ',', expected a key in double quotes or '}'");
  EXPECT_EQ(error_of(R"({"a": 1,,})"),
            "t.json:1:9: unexpected ',', expected a key in double quotes or '}'");
  EXPECT_EQ(error_of("[1 2]"),
            "t.json:1:4: unexpected '2', expected ',' or ']' after an array element");
  EXPECT_EQ(error_of("[,]"), "t.json:1:2: unexpected ',', expected a value or ']'");
  EXPECT_EQ(error_of("[1,,2]"), "t.json:1:4: unexpected ',', expected a value or ']'");
  EXPECT_EQ(error_of("[1}"),
            "t.json:1:3: unexpected '}', expected ',' or ']' after an array element");
  EXPECT_EQ(error_of("[\x01]"),
            "t.json:1:2: unexpected control character U+0001, expected a value");
  EXPECT_EQ(error_of("[\xFF]"), "t.json:1:2: unexpected byte 0xFF (not UTF-8), expected a value");
}

TEST(JsonDocumentErrors, EmptyInput) {
  EXPECT_EQ(error_of(""), "t.json:1:1: unexpected end of input, expected a value");
  EXPECT_EQ(error_of("  // only a comment\n"),
            "t.json:2:1: unexpected end of input, expected a value");
  EXPECT_EQ(error_of("/* only */"), "t.json:1:11: unexpected end of input, expected a value");
}

TEST(JsonDocumentErrors, AnythingAfterTheTopLevelValue) {
  EXPECT_EQ(error_of("{} x"),
            "t.json:1:4: unexpected 'x' after the top-level value, expected the end of input");
  EXPECT_EQ(error_of("1 2"),
            "t.json:1:3: unexpected '2' after the top-level value, expected the end of input");
  EXPECT_EQ(error_of("{}}"),
            "t.json:1:3: unexpected '}' after the top-level value, expected the end of input");
  EXPECT_EQ(error_of("[]\n// fine\n[]"),
            "t.json:3:1: unexpected '[' after the top-level value, expected the end of input");
  EXPECT_EQ(error_of("[],"),
            "t.json:1:3: unexpected ',' after the top-level value, expected the end of input");
}

TEST(JsonDocumentErrors, NestingDeeperThanTheLimit) {
  const int n = JsonDocument::kMaxDepth + 1;
  EXPECT_EQ(error_of(std::string(n, '[') + std::string(n, ']')),
            "t.json:1:257: unexpected '[' nested 257 levels deep, expected at most 256 nested "
            "arrays and objects");
  std::string objects;
  for (int i = 0; i < n; ++i) objects += "{\"a\":\n";
  EXPECT_EQ(error_of(objects),
            "t.json:257:1: unexpected '{' nested 257 levels deep, expected at most 256 nested "
            "arrays and objects");
  // Far deeper input fails the same way instead of exhausting the stack.
  EXPECT_EQ(error_of(std::string(100000, '[')).substr(0, 14), "t.json:1:257: ");
}

// --- Locations ---------------------------------------------------------------------------------

constexpr std::string_view kScenario =
    "{\n"                                                 // 1
    "  // the pipeline\n"                                 // 2
    "  \"name\": \"late events\",\n"                      // 3
    "  \"actions\": [\n"                                  // 4
    "    {\"advance\": \"5s\"},\n"                        // 5
    "    /* two */\n"                                     // 6
    "    {\"expect\": {\"rows\": [[1, 2.5, \"x\"]]}},\n"  // 7
    "  ],\n"                                              // 8
    "}\n";                                                // 9

TEST(JsonDocumentLocations, ValuesAndKeys) {
  Result<JsonDocument> doc = JsonDocument::parse(kScenario, "scenarios/late.json");
  ASSERT_TRUE(doc.is_ok()) << doc.status().message();
  EXPECT_EQ(doc->path(), "scenarios/late.json");
  EXPECT_EQ(doc->location(""), (SourceLocation{1, 1}));
  EXPECT_EQ(doc->key_location(""), (SourceLocation{1, 1}));
  EXPECT_EQ(doc->location("/name"), (SourceLocation{3, 11}));
  EXPECT_EQ(doc->key_location("/name"), (SourceLocation{3, 3}));
  EXPECT_EQ(doc->location("/actions"), (SourceLocation{4, 14}));
  EXPECT_EQ(doc->key_location("/actions"), (SourceLocation{4, 3}));
  EXPECT_EQ(doc->location("/actions/0"), (SourceLocation{5, 5}));
  EXPECT_EQ(doc->key_location("/actions/0"), (SourceLocation{5, 5}));  // no key: the value
  EXPECT_EQ(doc->location("/actions/0/advance"), (SourceLocation{5, 17}));
  EXPECT_EQ(doc->key_location("/actions/0/advance"), (SourceLocation{5, 6}));
  EXPECT_EQ(doc->location("/actions/1"), (SourceLocation{7, 5}));
  EXPECT_EQ(doc->location("/actions/1/expect"), (SourceLocation{7, 16}));
  EXPECT_EQ(doc->location("/actions/1/expect/rows"), (SourceLocation{7, 25}));
  EXPECT_EQ(doc->key_location("/actions/1/expect/rows"), (SourceLocation{7, 17}));
  EXPECT_EQ(doc->location("/actions/1/expect/rows/0"), (SourceLocation{7, 26}));
  EXPECT_EQ(doc->location("/actions/1/expect/rows/0/0"), (SourceLocation{7, 27}));
  EXPECT_EQ(doc->location("/actions/1/expect/rows/0/1"), (SourceLocation{7, 30}));
  EXPECT_EQ(doc->location("/actions/1/expect/rows/0/2"), (SourceLocation{7, 35}));
}

TEST(JsonDocumentLocations, FallBackToTheNearestAncestor) {
  Result<JsonDocument> doc = JsonDocument::parse(kScenario, "t.json");
  ASSERT_TRUE(doc.is_ok());
  EXPECT_EQ(doc->location("/actions/1/expect/absent"), (SourceLocation{7, 16}));
  EXPECT_EQ(doc->key_location("/actions/1/expect/absent"), (SourceLocation{7, 16}));
  EXPECT_EQ(doc->location("/actions/9/expect"), (SourceLocation{4, 14}));
  EXPECT_EQ(doc->location("/name/0"), (SourceLocation{3, 11}));
  EXPECT_EQ(doc->location("/nope"), (SourceLocation{1, 1}));
  EXPECT_EQ(doc->location("not a pointer"), (SourceLocation{1, 1}));
}

TEST(JsonDocumentLocations, EscapedKeys) {
  Result<JsonDocument> doc =
      JsonDocument::parse("{\"a/b\": {\"m~n\": 1, \"\": 2, \"\xC3\xA9\": 3}}", "t.json");
  ASSERT_TRUE(doc.is_ok());
  EXPECT_EQ(json_pointer_token("a/b"), "a~1b");
  EXPECT_EQ(json_pointer_token("m~n"), "m~0n");
  EXPECT_EQ(json_pointer_token("~/~1"), "~0~1~01");
  EXPECT_EQ(json_pointer_token(""), "");
  EXPECT_EQ(doc->location("/a~1b"), (SourceLocation{1, 9}));
  EXPECT_EQ(doc->location("/a~1b/m~0n"), (SourceLocation{1, 17}));
  EXPECT_EQ(doc->key_location("/a~1b/m~0n"), (SourceLocation{1, 10}));
  EXPECT_EQ(doc->location("/a~1b/"), (SourceLocation{1, 24}));
  EXPECT_EQ(doc->location("/a~1b/\xC3\xA9"), (SourceLocation{1, 33}));
  // json_pointer_token agrees with nlohmann's own pointers.
  EXPECT_EQ(doc->root().at(Json::json_pointer("/a~1b/m~0n")), 1);
}

TEST(JsonDocumentLocations, ErrorAtWordsScenarioErrors) {
  Result<JsonDocument> doc = JsonDocument::parse(kScenario, "scenarios/late.json");
  ASSERT_TRUE(doc.is_ok());
  const Status value = doc->error_at("/actions/0/advance", "bad duration \"5s\", expected e.g. 5s");
  EXPECT_EQ(value.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(value.message(),
            "scenarios/late.json:5:17: bad duration \"5s\", expected e.g. 5s "
            "(at JSON pointer /actions/0/advance)");
  EXPECT_EQ(
      doc->error_at_key("/actions/0/advance", "unknown key \"advance\"").message(),
      "scenarios/late.json:5:6: unknown key \"advance\" (at JSON pointer /actions/0/advance)");
  EXPECT_EQ(doc->error_at("", "expected an object").message(),
            "scenarios/late.json:1:1: expected an object (at the document root)");
  EXPECT_EQ(doc->error_at("/actions/1/expect/table", "missing key \"table\"").message(),
            "scenarios/late.json:7:16: missing key \"table\" (at JSON pointer "
            "/actions/1/expect/table)");
}

TEST(JsonDocumentLocations, TruncatedDocument) {
  const std::string text(kScenario);
  const auto cut_after = [&](std::string_view marker) {
    const size_t at = text.find(marker);
    EXPECT_NE(at, std::string::npos) << marker;
    return error_of(text.substr(0, at + marker.size()));
  };
  EXPECT_EQ(error_of(""), "t.json:1:1: unexpected end of input, expected a value");
  EXPECT_EQ(cut_after("{\n  // the pip"),
            "t.json:2:13: unexpected end of input, expected '}' to close the object opened at 1:1");
  EXPECT_EQ(cut_after("\"name\""),
            "t.json:3:9: unexpected end of input, expected ':' after the key \"name\"");
  EXPECT_EQ(cut_after("\"late"),
            "t.json:3:16: unexpected end of input, expected '\"' to close the string opened at "
            "3:11");
  EXPECT_EQ(cut_after("[\n"),
            "t.json:5:1: unexpected end of input, expected ']' to close the array opened at 4:14");
  EXPECT_EQ(cut_after("/* tw"),
            "t.json:6:10: unexpected end of input, expected '*/' to close the comment opened at "
            "6:5");
  EXPECT_EQ(cut_after("{\"expect\": "), "t.json:7:16: unexpected end of input, expected a value");
  EXPECT_EQ(cut_after("[[1, 2."),
            "t.json:7:32: unexpected end of input, expected a digit after the decimal point");
  EXPECT_EQ(cut_after("\"x\"]]}}"),
            "t.json:7:42: unexpected end of input, expected ']' to close the array opened at 4:14");
  EXPECT_EQ(cut_after("],\n"),
            "t.json:9:1: unexpected end of input, expected '}' to close the object opened at 1:1");
}

// --- Loading files -----------------------------------------------------------------------------

TEST(JsonDocumentLoad, ReadsAFile) {
  const std::string path = testing::TempDir() + "json_document_test_scenario.json";
  {
    std::ofstream out(path, std::ios::binary);
    out << kScenario;
  }
  Result<JsonDocument> doc = JsonDocument::load(path);
  ASSERT_TRUE(doc.is_ok()) << doc.status().message();
  EXPECT_EQ(doc->path(), path);
  EXPECT_EQ(doc->root()["name"], "late events");
  EXPECT_EQ(doc->error_at("/name", "x").message(), path + ":3:11: x (at JSON pointer /name)");
  std::remove(path.c_str());
}

TEST(JsonDocumentLoad, ParseErrorsNameTheFile) {
  const std::string path = testing::TempDir() + "json_document_test_bad.json";
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\n  \"a\": 1,\n  \"a\": 2\n}\n";
  }
  Result<JsonDocument> doc = JsonDocument::load(path);
  ASSERT_FALSE(doc.is_ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(doc.status().message(),
            path +
                ":3:3: duplicate key \"a\", expected each key at most once in an object "
                "(the first is at 2:3)");
  std::remove(path.c_str());
}

TEST(JsonDocumentLoad, MissingOrUnreadableFileIsNotFound) {
  const std::string missing = testing::TempDir() + "json_document_test_no_such_file.json";
  Result<JsonDocument> doc = JsonDocument::load(missing);
  ASSERT_FALSE(doc.is_ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(doc.status().message(), missing + ": cannot open the file (No such file or directory)");

  Result<JsonDocument> dir = JsonDocument::load(testing::TempDir());
  ASSERT_FALSE(dir.is_ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(dir.status().message().rfind(testing::TempDir() + ": cannot ", 0), 0u)
      << dir.status().message();
}

// --- Properties --------------------------------------------------------------------------------

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Valid UTF-8 text, weighted toward the characters that need escaping or several bytes.
rc::Gen<std::string> gen_text() {
  const auto code_point = rc::gen::weightedOneOf<uint32_t>({
      {4, rc::gen::inRange<uint32_t>(0x20, 0x7F)},
      {1, rc::gen::element<uint32_t>('"', '\\', '/', '\n', '\t', 0, 0x1F, 0x7F)},
      {1, rc::gen::inRange<uint32_t>(0x80, 0xD800)},
      {1, rc::gen::inRange<uint32_t>(0xE000, 0x110000)},
  });
  return rc::gen::map(rc::gen::container<std::vector<uint32_t>>(code_point),
                      [](const std::vector<uint32_t>& cps) {
                        std::string s;
                        for (const uint32_t cp : cps) append_utf8(s, cp);
                        return s;
                      });
}

rc::Gen<double> gen_finite_double() {
  return rc::gen::suchThat(
      rc::gen::oneOf(rc::gen::arbitrary<double>(),
                     rc::gen::map(rc::gen::arbitrary<uint64_t>(),
                                  [](uint64_t bits) { return std::bit_cast<double>(bits); })),
      [](double d) { return std::isfinite(d); });
}

rc::Gen<Json> gen_scalar() {
  return rc::gen::oneOf(
      rc::gen::just(Json(nullptr)),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return Json(b); }),
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t i) { return Json(i); }),
      rc::gen::map(rc::gen::arbitrary<uint64_t>(),
                   [](uint64_t bits) { return Json(std::bit_cast<int64_t>(bits)); }),
      rc::gen::map(gen_finite_double(), [](double d) { return Json(d); }),
      rc::gen::map(gen_text(), [](std::string s) { return Json(std::move(s)); }));
}

rc::Gen<Json> gen_object(int depth, int min_size = 0);

// Arrays and objects of up to 5 members, nested up to `depth` levels.
rc::Gen<Json> gen_value(int depth) {
  if (depth == 0) return gen_scalar();
  const auto array = rc::gen::mapcat(rc::gen::inRange(0, 6), [depth](int n) {
    return rc::gen::map(rc::gen::container<std::vector<Json>>(n, gen_value(depth - 1)),
                        [](std::vector<Json> items) {
                          Json a = Json::array();
                          for (Json& item : items) a.push_back(std::move(item));
                          return a;
                        });
  });
  return rc::gen::oneOf(gen_scalar(), array, gen_object(depth));
}

rc::Gen<Json> gen_object(int depth, int min_size) {
  return rc::gen::mapcat(rc::gen::inRange(min_size, 6), [depth](int n) {
    return rc::gen::map(rc::gen::container<std::vector<std::pair<std::string, Json>>>(
                            n, rc::gen::pair(gen_text(), rc::gen::lazy([depth] {
                                               return depth > 0 ? gen_value(depth - 1)
                                                                : gen_scalar();
                                             }))),
                        [](std::vector<std::pair<std::string, Json>> members) {
                          Json o = Json::object();
                          for (auto& member : members) {  // a later duplicate key wins
                            o[std::move(member.first)] = std::move(member.second);
                          }
                          return o;
                        });
  });
}

// Equal including the number type (3 vs 3.0) and the bits of doubles (0.0 vs -0.0).
bool same(const Json& a, const Json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_number_float()) {
    return std::bit_cast<uint64_t>(a.get<double>()) == std::bit_cast<uint64_t>(b.get<double>());
  }
  if (a.is_array() || a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (a.is_object() && ia.key() != ib.key()) return false;
      if (!same(*ia, *ib)) return false;
    }
    return true;
  }
  return a == b;
}

// The byte at a location, or -1 if the location is outside the text.
int byte_at(std::string_view text, SourceLocation location) {
  size_t line_start = 0;
  for (int line = 1; line < location.line; ++line) {
    line_start = text.find('\n', line_start);
    if (line_start == std::string_view::npos) return -1;
    ++line_start;
  }
  const size_t index = line_start + static_cast<size_t>(location.column) - 1;
  return index < text.size() ? static_cast<unsigned char>(text[index]) : -1;
}

// True if the error message starts "t.json:LINE:COL: " and LINE:COL is within `text`, or just
// past the end of its line (an end-of-input error at the end of the last line).
bool located_inside(std::string_view text, const std::string& message) {
  int line = 0;
  int column = 0;
  int consumed = 0;
  if (std::sscanf(message.c_str(), "t.json:%d:%d: %n", &line, &column, &consumed) != 2 ||
      consumed == 0) {
    return false;
  }
  if (line < 1 || column < 1) return false;
  size_t line_start = 0;
  for (int l = 1; l < line; ++l) {
    line_start = text.find('\n', line_start);
    if (line_start == std::string_view::npos) return false;
    ++line_start;
  }
  size_t line_end = text.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = text.size();
  return static_cast<size_t>(column) <= line_end - line_start + 1;
}

// Every value's location is its first byte and every key's location is its opening quote.
void check_locations(const JsonDocument& doc, std::string_view text, const Json& value,
                     const std::string& pointer) {
  const int first = byte_at(text, doc.location(pointer));
  if (value.is_object()) {
    RC_ASSERT(first == '{');
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string child = pointer + "/" + json_pointer_token(it.key());
      RC_ASSERT(byte_at(text, doc.key_location(child)) == '"');
      check_locations(doc, text, *it, child);
    }
  } else if (value.is_array()) {
    RC_ASSERT(first == '[');
    for (size_t i = 0; i < value.size(); ++i) {
      check_locations(doc, text, value[i], pointer + "/" + std::to_string(i));
    }
  } else if (value.is_string()) {
    RC_ASSERT(first == '"');
  } else if (value.is_number()) {
    RC_ASSERT(first == '-' || (first >= '0' && first <= '9'));
  } else {
    RC_ASSERT((first == 't' || first == 'f' || first == 'n'));
  }
}

RC_GTEST_PROP(JsonDocumentProperties, DumpThenParseGivesAnEqualValue, ()) {
  const Json value = *gen_value(4);
  const int indent = *rc::gen::element(-1, 0, 2);
  const bool ascii = *rc::gen::arbitrary<bool>();
  const std::string text = value.dump(indent, ' ', ascii);
  Result<JsonDocument> doc = JsonDocument::parse(text, "t.json");
  RC_ASSERT(doc.is_ok());
  RC_ASSERT(same(doc->root(), value));
  check_locations(*doc, text, value, "");
}

// A multi-line document with comments whose top-level value is an object: no proper prefix of it
// is a document, and each prefix's error points inside the prefix.
RC_GTEST_PROP(JsonDocumentProperties, EveryPrefixFailsWithALocationInsideIt, ()) {
  const Json value = *gen_object(3, 1);
  const bool ascii = *rc::gen::arbitrary<bool>();
  const std::string text =
      "// scenario\n/* a block\n   comment */\n" + value.dump(2, ' ', ascii) + "\n// end\n";
  RC_ASSERT(JsonDocument::parse(text, "t.json").is_ok());
  const size_t closing_brace = text.rfind('}');
  const auto lengths =
      *rc::gen::container<std::vector<size_t>>(64, rc::gen::inRange<size_t>(0, closing_brace + 1));
  for (const size_t length : lengths) {
    const std::string_view prefix = std::string_view(text).substr(0, length);
    Result<JsonDocument> doc = JsonDocument::parse(prefix, "t.json");
    RC_ASSERT(!doc.is_ok());
    RC_ASSERT(doc.status().code() == StatusCode::kInvalidArgument);
    if (!located_inside(prefix, doc.status().message())) {
      RC_FAIL("prefix of " + std::to_string(length) + " bytes: " + doc.status().message());
    }
  }
}

// Corrupting one byte of a valid document never crashes the parser; a rejection points inside the
// text, and an acceptance still has a location for the root.
RC_GTEST_PROP(JsonDocumentProperties, CorruptedDocumentsFailCleanly, ()) {
  const Json value = *gen_value(3);
  std::string text = "// x\n" + value.dump(*rc::gen::element(-1, 2));
  const size_t index = *rc::gen::inRange<size_t>(0, text.size());
  text[index] = static_cast<char>(*rc::gen::arbitrary<unsigned char>());
  Result<JsonDocument> doc = JsonDocument::parse(text, "t.json");
  if (doc.is_ok()) {
    RC_ASSERT(doc->location("").line >= 1);
  } else {
    RC_ASSERT(doc.status().code() == StatusCode::kInvalidArgument);
    RC_ASSERT(located_inside(text, doc.status().message()));
  }
}

RC_GTEST_PROP(JsonDocumentProperties, RandomBytesFailCleanly, (const std::string& text)) {
  Result<JsonDocument> doc = JsonDocument::parse(text, "t.json");
  if (!doc.is_ok()) RC_ASSERT(located_inside(text, doc.status().message()));
}

}  // namespace
}  // namespace kappa
