#include "pipeline/codec/event_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace kappa {
namespace {

TimeZone seoul() { return TimeZone::load("Asia/Seoul").value(); }

TEST(EventCodec, DecodesTheFluentdRecord) {
  EventCodec codec(seoul());
  SourceEvent e;
  DecodeFailure why;
  ASSERT_TRUE(codec.decode_source(
      std::string_view(R"({"hello":"ssm-seoul","id":7,"time":"2022-09-30 16:42:01"})"), e, why))
      << why.detail;
  EXPECT_EQ(e.id, 7);
  EXPECT_EQ(e.hello, std::optional<std::string_view>("ssm-seoul"));
  EXPECT_EQ(e.time, "2022-09-30 16:42:01");
  // 2022-09-30 16:42:01 in Seoul (UTC+9) is 07:42:01 UTC: date -u -d '2022-09-30 07:42:01' +%s
  EXPECT_EQ(e.event_time_ms, 1664523721000);
}

TEST(EventCodec, HelloIsOptionalAndExtraFieldsAreIgnored) {
  EventCodec codec(seoul());
  SourceEvent e;
  DecodeFailure why;
  ASSERT_TRUE(codec.decode_source(
      std::string_view(R"({"id":1,"time":"2022-09-30 16:42:01","extra":[1,{"a":2}]})"), e, why));
  EXPECT_FALSE(e.hello.has_value());
  ASSERT_TRUE(codec.decode_source(
      std::string_view(R"({"id":1,"id":2,"time":"2022-09-30 16:42:01","hello":null})"), e, why));
  EXPECT_EQ(e.id, 2) << "the last duplicate key wins, as in Spark's JSON reader";
}

struct Bad {
  std::optional<std::string_view> value;
  DeadLetterReason reason;
  std::string_view pointer;
  std::string_view detail_part;
};

TEST(EventCodec, EveryMalformedShapeHasAReasonAndAPointer) {
  const std::string oversize =
      R"({"id":1,"time":"2022-09-30 16:42:01","pad":")" + std::string(200, 'x') + "\"}";
  const Bad cases[] = {
      {std::nullopt, DeadLetterReason::kMissingField, "", "null"},
      {"hello", DeadLetterReason::kNotJson, "", "not valid JSON"},
      {R"({"id":1,)", DeadLetterReason::kNotJson, "", "not valid JSON"},
      {"[1,2]", DeadLetterReason::kNotObject, "", "found an array"},
      {"\"str\"", DeadLetterReason::kNotObject, "", "found a string"},
      {R"({"time":"2022-09-30 16:42:01"})", DeadLetterReason::kMissingField, "/id", "missing"},
      {R"({"id":null,"time":"2022-09-30 16:42:01"})", DeadLetterReason::kMissingField, "/id",
       "missing or null"},
      {R"({"id":"7","time":"2022-09-30 16:42:01"})", DeadLetterReason::kWrongType, "/id",
       "found a string"},
      {R"({"id":7.5,"time":"2022-09-30 16:42:01"})", DeadLetterReason::kWrongType, "/id",
       "fraction"},
      {R"({"id":18446744073709551615,"time":"2022-09-30 16:42:01"})", DeadLetterReason::kOutOfRange,
       "/id", "within int64"},
      {R"({"id":1})", DeadLetterReason::kMissingField, "/time", "missing"},
      {R"({"id":1,"time":1664523721})", DeadLetterReason::kWrongType, "/time", "expected a string"},
      {R"({"id":1,"time":"yesterday"})", DeadLetterReason::kBadTime, "/time", "yesterday"},
      {R"({"id":1,"time":"2022-02-30 00:00:00"})", DeadLetterReason::kBadTime, "/time",
       "2022-02-30"},
      {R"({"id":1,"hello":5,"time":"2022-09-30 16:42:01"})", DeadLetterReason::kWrongType, "/hello",
       "found an integer"},
      {"{\"id\":1,\"time\":\"2022-09-30 16:42:01\",\"hello\":\"\xff\"}", DeadLetterReason::kNotJson,
       "", "UTF-8"},
      {oversize, DeadLetterReason::kOversize, "", "exceeds the maximum of 128"},
  };
  EventCodec codec(seoul(), 128);
  for (const Bad& c : cases) {
    SourceEvent e;
    DecodeFailure why;
    SCOPED_TRACE(c.value ? std::string(*c.value) : "<null>");
    ASSERT_FALSE(codec.decode_source(c.value, e, why));
    EXPECT_EQ(to_string(why.reason), to_string(c.reason));
    EXPECT_EQ(why.pointer, c.pointer);
    EXPECT_NE(why.detail.find(c.detail_part), std::string::npos) << why.detail;
  }
}

TEST(EventCodec, EncodesStagedFieldsInTheContractOrder) {
  StagedEvent e;
  e.time = "2022-09-30 16:42:01";
  e.user_id = 1;
  e.user_name = "one";
  e.dept_name = "Marketing";
  e.gender = "여성";
  e.age = 2;
  e.hello = "ssm-seoul";
  e.id = 1;
  std::string out;
  append_staged_json(out, e);
  EXPECT_EQ(
      out,
      R"({"time":"2022-09-30 16:42:01","user_id":1,"user_name":"one","dept_name":"Marketing","gender":"여성","age":2,"hello":"ssm-seoul","id":1})");
  e.hello.reset();
  out.clear();
  append_staged_json(out, e);
  EXPECT_NE(out.find(R"("hello":null)"), std::string::npos);
}

TEST(EventCodec, EncodesTheSourceEventLikeFluentd) {
  std::string out;
  append_source_event_json(out, 0, std::string_view("ssm-seoul"), "2022-09-30 16:42:01");
  EXPECT_EQ(out, R"({"hello":"ssm-seoul","id":0,"time":"2022-09-30 16:42:01"})");
}

TEST(EventCodec, EscapesStringsAsJackson) {
  std::string out;
  append_json_string(out, std::string_view("a\"b\\c\nd\x01 한", 12));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001 한\"");
  // Upper-case hex, DEL and '/' as they are (Jackson's escapes, which Spark's to_json uses).
  out.clear();
  append_json_string(out, "\x1f\x7f/\b\f\r\t");
  EXPECT_EQ(out, "\"\\u001F\x7f/\\b\\f\\r\\t\"");
}

TEST(EventCodec, StagedDecodingNeedsOnlyAParseableTime) {
  EventCodec codec(seoul());
  StagedEvent e;
  DecodeFailure why;
  ASSERT_TRUE(codec.decode_staged(std::string_view(R"({"time":"2022-09-30 16:42:01"})"), e, why));
  EXPECT_FALSE(e.user_name.has_value());
  EXPECT_FALSE(codec.decode_staged(std::string_view(R"({"user_name":"one"})"), e, why));
  EXPECT_EQ(why.pointer, "/time");
  EXPECT_FALSE(
      codec.decode_staged(std::string_view(R"({"time":"2022-09-30 16:42:01","age":"3"})"), e, why));
  EXPECT_EQ(why.pointer, "/age");
  EXPECT_EQ(why.reason, DeadLetterReason::kWrongType);
}

// Strings made of pieces that need escaping, non-ASCII text and plain letters.
rc::Gen<std::string> text() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
          "a", "Z", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "/", "한", "글", "😀")),
      [](const std::vector<std::string>& parts) {
        std::string s;
        for (const auto& p : parts) s += p;
        return s;
      });
}

RC_GTEST_PROP(EventCodecProperty, StagedJsonRoundTrips, (int64_t id, bool has_hello)) {
  const std::string name = *text();
  const std::string dept = *text();
  EventCodec codec(TimeZone::utc());
  StagedEvent e;
  e.time = "2022-09-30 16:42:01";
  e.user_id = id % 10;
  e.user_name = name;
  e.dept_name = dept;
  e.gender = "남성";
  e.age = id % 100 + 1;
  if (has_hello) e.hello = name;
  e.id = id;
  std::string out;
  append_staged_json(out, e);
  StagedEvent back;
  DecodeFailure why;
  RC_ASSERT(codec.decode_staged(out, back, why));
  RC_ASSERT(back.user_name == e.user_name);
  RC_ASSERT(back.dept_name == e.dept_name);
  RC_ASSERT(back.hello == e.hello);
  RC_ASSERT(back.id == e.id);
  RC_ASSERT(back.age == e.age);
  RC_ASSERT(back.user_id == e.user_id);
}

// One codec decoding a stream (whose repeated times it remembers) answers as a fresh codec per
// record does, whatever the order of repeats, near-misses and bad times.
RC_GTEST_PROP(EventCodecProperty, RepeatedTimesDecodeAsFreshOnes, ()) {
  const std::vector<std::string> times = {"2022-09-30 16:42:01",   "2022-09-30 16:42:02",
                                          "2022-09-30 16:42:0x",   "2022-09-30T16:42:01",
                                          "2022-09-30 16:42:01.5", "2022-02-30 16:42:01",
                                          "2022-09-30 16:42:01Z",  std::string(19, '\0')};
  const auto picks =
      *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, times.size()));
  EventCodec stream(seoul());
  for (size_t k : picks) {
    std::string value = R"({"id":1,"time":)";
    append_json_string(value, times[k]);
    value += "}";
    EventCodec fresh(seoul());
    SourceEvent a, b;
    DecodeFailure why_a, why_b;
    const bool ok_a = stream.decode_source(std::string_view(value), a, why_a);
    const bool ok_b = fresh.decode_source(std::string_view(value), b, why_b);
    RC_ASSERT(ok_a == ok_b);
    if (ok_a)
      RC_ASSERT(a.event_time_ms == b.event_time_ms);
    else
      RC_ASSERT(why_a.detail == why_b.detail);
  }
}

}  // namespace
}  // namespace kappa
