// Capture files: capture_line's exact format, write_capture -> read_capture round trips, and read
// errors that name the file, the line and what was expected.
#include "replay/scenario/capture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "broker/embedded/embedded_broker.h"

namespace kappa {
namespace {

using Headers = std::vector<std::pair<std::string, std::optional<std::string>>>;

// Unique per test and process: ctest runs tests of this binary in parallel.
std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "capture_test_" + std::to_string(::getpid()) + "_" + info->name() +
         "_" + name;
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return path;
}

void expect_record(const CapturedRecord& r, const std::string& topic, int32_t partition,
                   int64_t offset, int64_t timestamp_ms, const std::optional<std::string>& key,
                   const std::optional<std::string>& value, const Headers& headers) {
  EXPECT_EQ(r.topic, topic);
  EXPECT_EQ(r.partition, partition);
  EXPECT_EQ(r.offset, offset);
  EXPECT_EQ(r.timestamp_ms, timestamp_ms);
  EXPECT_EQ(r.key, key);
  EXPECT_EQ(r.value, value);
  EXPECT_EQ(r.headers, headers);
}

OutgoingRecord out(std::optional<std::string_view> key, std::optional<std::string_view> value,
                   int64_t ts, int32_t partition, std::span<const HeaderView> headers = {}) {
  OutgoingRecord r;
  r.key = key;
  r.value = value;
  r.timestamp_ms = ts;
  r.partition = partition;
  r.headers = headers;
  return r;
}

constexpr int64_t kT0 = 1664523721000;  // 2022-09-30 16:42:01 in Seoul

TEST(Capture, LineFormatOfOneRecord) {
  const std::vector<HeaderView> headers = {{"kappa.origin", "stage:3"}};
  const std::string value = R"({"hello":"ssm-seoul","id":17,"time":"2022-09-30 16:42:17"})";
  RecordView r;
  r.partition = 0;
  r.offset = 17;
  r.timestamp_ms = kT0;
  r.key = std::nullopt;
  r.value = value;
  r.headers = headers;
  // The example of capture.h, on one line.
  EXPECT_EQ(capture_line("events", r),
            R"({"topic":"events","partition":0,"offset":17,"timestamp":1664523721000,"key":null,)"
            R"("value":"{\"hello\":\"ssm-seoul\",\"id\":17,\"time\":\"2022-09-30 16:42:17\"}",)"
            R"("headers":[["kappa.origin","stage:3"]]})");
}

TEST(Capture, LineFormatOmitsEmptyHeadersAndWritesNonUtf8BytesAsBase64) {
  RecordView r;
  r.partition = 2;
  r.offset = 5;
  r.timestamp_ms = -1;
  r.key = "k";
  r.value = std::nullopt;
  EXPECT_EQ(capture_line("t", r),
            R"({"topic":"t","partition":2,"offset":5,"timestamp":-1,"key":"k","value":null})");

  // 0xff is base64 "/w=="; 0x80 0x81 0x82 is "gIGC". A null header value is written null.
  const std::vector<HeaderView> headers = {{"trace", std::nullopt}};
  r.key = "\xff";
  r.value = "\x80\x81\x82";
  r.headers = headers;
  EXPECT_EQ(
      capture_line("t", r),
      R"({"topic":"t","partition":2,"offset":5,"timestamp":-1,"key_base64":"/w==","value_base64":"gIGC",)"
      R"("headers":[["trace",null]]})");
}

TEST(Capture, RoundTripsEveryFieldThroughAFile) {
  EmbeddedBroker broker;
  ASSERT_TRUE(broker.create_topic("events", 3));
  ASSERT_TRUE(broker.create_topic("other", 1));

  const std::vector<HeaderView> two_headers = {{"kappa.origin", "stage:3"},
                                               {"trace", std::nullopt}};
  const std::string bad_header = "\xc3\x28";  // not UTF-8: written as {"base64": "wyg="}
  const std::vector<HeaderView> one_header = {{"h", ""}, {"raw", bad_header}};
  const std::string bad_key = "k\xff\xfe";                         // not UTF-8
  const std::string bad_value = std::string("\x80\x81\0zero", 7);  // not UTF-8, with a NUL byte
  const std::string escaped_key = "a\"b\\c\nd\t\x01";              // needs JSON escapes
  const std::string korean = "\xed\x95\x9c\xea\xb8\x80";           // "한글", valid UTF-8
  const std::vector<OutgoingRecord> events = {
      out("k1", "v1", kT0, 0, two_headers),    out(std::nullopt, R"({"id":1})", kT0 + 1, 0),
      out(bad_key, std::nullopt, kT0 + 2, 1),  out("", bad_value, kT0 + 3, 2, one_header),
      out(escaped_key, korean, kT0 - 5000, 2),
  };
  ASSERT_TRUE(broker.produce("events", events));
  const std::vector<OutgoingRecord> others = {out("x", "y", 0, 0)};
  ASSERT_TRUE(broker.produce("other", others));

  const std::string path = temp_path("round_trip.jsonl");
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    auto n = write_capture(broker, {"events", "other"}, file);
    ASSERT_TRUE(n) << n.status().message();
    EXPECT_EQ(*n, 6);
  }
  {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    const std::string s = text.str();
    EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 6) << s;
    EXPECT_NE(s.find(R"("key_base64":"a//+")"), std::string::npos) << s;  // "k\xff\xfe"
    EXPECT_NE(s.find(R"(["raw",{"base64":"wyg="}])"), std::string::npos) << s;
  }

  auto read = read_capture(path);
  ASSERT_TRUE(read) << read.status().message();
  ASSERT_EQ(read->size(), 6u);
  const auto& r = *read;
  // Topic by topic in the order asked, partition then offset.
  expect_record(r[0], "events", 0, 0, kT0, "k1", "v1",
                {{"kappa.origin", "stage:3"}, {"trace", std::nullopt}});
  expect_record(r[1], "events", 0, 1, kT0 + 1, std::nullopt, R"({"id":1})", {});
  expect_record(r[2], "events", 1, 0, kT0 + 2, bad_key, std::nullopt, {});
  expect_record(r[3], "events", 2, 0, kT0 + 3, "", bad_value, {{"h", ""}, {"raw", bad_header}});
  expect_record(r[4], "events", 2, 1, kT0 - 5000, escaped_key, korean, {});
  expect_record(r[5], "other", 0, 0, 0, "x", "y", {});
  std::remove(path.c_str());
}

TEST(Capture, WritingAMissingTopicFails) {
  EmbeddedBroker broker;
  std::ostringstream text;
  auto n = write_capture(broker, {"nope"}, text);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.status().code(), StatusCode::kNotFound);
  EXPECT_NE(n.status().message().find("nope"), std::string::npos) << n.status().message();
}

TEST(Capture, AnEmptyFileHoldsNoRecords) {
  const std::string empty = write_file("empty.jsonl", "");
  auto a = read_capture(empty);
  ASSERT_TRUE(a) << a.status().message();
  EXPECT_TRUE(a->empty());
  // Blank lines (also with a carriage return) are skipped.
  const std::string blank = write_file("blank.jsonl", "\n  \n\t\r\n");
  auto b = read_capture(blank);
  ASSERT_TRUE(b) << b.status().message();
  EXPECT_TRUE(b->empty());
  std::remove(empty.c_str());
  std::remove(blank.c_str());
}

TEST(Capture, AMissingFileIsNotFound) {
  const std::string path = temp_path("no_such_file.jsonl");
  std::remove(path.c_str());
  auto r = read_capture(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), path + ": cannot open the file (No such file or directory)");
}

TEST(Capture, ADirectoryIsNotAnEmptyCapture) {
  // A directory opens as a stream on Linux, but reading it fails: not zero records.
  auto r = read_capture(::testing::TempDir());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(::testing::TempDir()), std::string::npos)
      << r.status().message();
}

constexpr const char* kGood =
    R"({"topic":"events","partition":0,"offset":0,"timestamp":1,"key":null,"value":"v"})";

// Reads a file of `lines` and expects `path:line: message`.
void expect_read_error(const std::string& text, int line, const std::string& message) {
  const std::string path = write_file("bad.jsonl", text);
  auto r = read_capture(path);
  ASSERT_FALSE(r) << text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), path + ":" + std::to_string(line) + ": " + message);
  std::remove(path.c_str());
}

TEST(Capture, ALineThatIsNotAJsonObjectNamesFileAndLine) {
  const std::string expected = R"(expected a JSON object like {"topic":...,"partition":0,...})";
  expect_read_error(std::string(kGood) + "\nnot json\n", 2, expected);
  expect_read_error("[1, 2]\n", 1, expected);
  expect_read_error(std::string(kGood) + " trailing\n", 1, expected);
  // Blank lines are skipped but still counted.
  expect_read_error("\n" + std::string(kGood) + "\n\n{\"topic\":\n", 4, expected);
}

TEST(Capture, AMissingFieldSaysWhatWasExpected) {
  expect_read_error(R"({"partition":0,"offset":0,"timestamp":1})", 1,
                    "expected a string at /topic");
  expect_read_error(R"({"topic":"t","offset":0,"timestamp":1})", 1,
                    "expected an integer at /partition");
  expect_read_error(std::string(kGood) + "\n" + R"({"topic":"t","partition":0,"timestamp":1})", 2,
                    "expected an integer at /offset");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0})", 1,
                    "expected an integer at /timestamp");
}

TEST(Capture, AWrongTypeSaysWhatWasExpected) {
  expect_read_error(R"({"topic":"t","partition":0,"offset":"17","timestamp":1})", 1,
                    "expected an integer at /offset");
  expect_read_error(R"({"topic":7,"partition":0,"offset":0,"timestamp":1})", 1,
                    "expected a string at /topic");
  expect_read_error(R"({"topic":"t","partition":0.5,"offset":0,"timestamp":1})", 1,
                    "expected an integer at /partition");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1.5})", 1,
                    "expected an integer at /timestamp");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"key":5})", 1,
                    "expected a string or null at /key");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"value":[]})", 1,
                    "expected a string or null at /value");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"value_base64":null})",
                    1, "expected a string at /value_base64");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"headers":{}})", 1,
                    "expected an array at /headers");
  expect_read_error(
      R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"headers":[["a"]]})", 1,
      "expected [name, value] pairs at /headers (value: a string, null or {\"base64\": ...})");
  expect_read_error(
      R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"headers":[[1,"x"]]})", 1,
      "expected [name, value] pairs at /headers (value: a string, null or {\"base64\": ...})");
}

TEST(Capture, APartitionOrOffsetOutOfRangeIsAnError) {
  // 2^32 would wrap to partition 0, and -1 is kAnyPartition: neither names a partition.
  expect_read_error(R"({"topic":"t","partition":4294967296,"offset":0,"timestamp":1})", 1,
                    "expected an integer from 0 to 2147483647 at /partition");
  expect_read_error(R"({"topic":"t","partition":-1,"offset":0,"timestamp":1})", 1,
                    "expected an integer from 0 to 2147483647 at /partition");
  expect_read_error(R"({"topic":"t","partition":0,"offset":-3,"timestamp":1})", 1,
                    "expected a non-negative integer at /offset");
  // 2^63 does not fit an int64.
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":9223372036854775808})", 1,
                    "expected an integer at /timestamp");
}

TEST(Capture, BadBase64SaysWhatIsWrong) {
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"key_base64":"@@@@"})",
                    1, "invalid base64 character at /key_base64");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"value_base64":"abc"})",
                    1, "base64 text length is not a multiple of 4 at /value_base64");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"value_base64":"A=BC"})",
                    1, "invalid base64 character at /value_base64");
  expect_read_error(R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"value_base64":"AB=C"})",
                    1, "invalid base64 character at /value_base64");
}

TEST(Capture, Base64WithPaddingDecodes) {
  // "/w==" is 0xff; "gIGC" is 0x80 0x81 0x82; "YWI=" is "ab".
  const std::string path = write_file(
      "padding.jsonl",
      R"({"topic":"t","partition":0,"offset":0,"timestamp":1,"key_base64":"/w==","value_base64":"gIGC"})"
      "\n"
      R"({"topic":"t","partition":0,"offset":1,"timestamp":2,"key_base64":"YWI=","value_base64":""})"
      "\n");
  auto r = read_capture(path);
  ASSERT_TRUE(r) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  expect_record((*r)[0], "t", 0, 0, 1, "\xff", "\x80\x81\x82", {});
  expect_record((*r)[1], "t", 0, 1, 2, "ab", "", {});
  std::remove(path.c_str());
}

}  // namespace
}  // namespace kappa
