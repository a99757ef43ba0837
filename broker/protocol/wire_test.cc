#include "broker/protocol/wire.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace kappa {
namespace {

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

// The encodings, derived by hand from the protocol guide's primitive types.
TEST(Wire, PrimitivesHaveTheDocumentedBytes) {
  WireWriter w;
  w.i16(-2);                        // fffe
  w.i32(300);                       // 0000012c
  w.uvarint(300);                   // 300 = 0b10_0101100: ac 02
  w.string("ab");                   // 0002 6162
  w.nullable_string(std::nullopt);  // ffff
  w.compact_string("ab");           // length + 1 = 3: 03 6162
  w.compact_string(std::nullopt);   // 00
  w.bytes("x");                     // 00000001 78
  w.array_length(-1, false);        // ffffffff
  w.array_length(2, true);          // 03, then two INT8 elements 07 08
  w.i8(7);
  w.i8(8);
  w.empty_tagged_fields();  // 00
  EXPECT_EQ(hex(w.bytes_written()),
            "fffe"
            "0000012c"
            "ac02"
            "00026162"
            "ffff"
            "036162"
            "00"
            "0000000178"
            "ffffffff"
            "030708"
            "00");

  WireReader r(w.bytes_written());
  EXPECT_EQ(r.i16("a"), -2);
  EXPECT_EQ(r.i32("b"), 300);
  EXPECT_EQ(r.uvarint("c"), 300u);
  EXPECT_EQ(r.string("d"), "ab");
  EXPECT_EQ(r.nullable_string("e"), std::nullopt);
  EXPECT_EQ(r.compact_string("f"), std::optional<std::string>("ab"));
  EXPECT_EQ(r.compact_string("g"), std::nullopt);
  EXPECT_EQ(r.bytes("h"), "x");
  EXPECT_EQ(r.array_length("i", false), std::nullopt);
  EXPECT_EQ(r.array_length("j", true), std::optional<int32_t>(2));
  EXPECT_EQ(r.i8("j[0]"), 7);
  EXPECT_EQ(r.i8("j[1]"), 8);
  r.skip_tagged_fields("k");
  EXPECT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r.left(), 0u);
}

TEST(Wire, AShortReadNamesTheFieldAndOffsetAndStopsEverything) {
  const std::string in(
      "\x00\x05"
      "ab",
      4);  // a 5-byte string with 2 bytes there
  WireReader r(in);
  EXPECT_EQ(r.string("client_id"), "");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "at byte 2 reading client_id: expected 5 bytes, found 2");
  EXPECT_EQ(r.i32("next"), 0);  // later reads give zeros and keep the first error
  EXPECT_EQ(r.error().message(), "at byte 2 reading client_id: expected 5 bytes, found 2");
}

TEST(Wire, HostileLengthsAreRefusedBeforeAllocating) {
  const std::string huge("\x7f\xff\xff\xff", 4), ff(11, '\xff'), tag("\x01\x00\x7f", 3),
      null("\xff\xff", 2);
  WireReader huge_array(huge);
  EXPECT_EQ(huge_array.array_length("topics", false), std::nullopt);
  EXPECT_FALSE(huge_array.ok());
  WireReader long_varint(ff);
  (void)long_varint.uvarint("length");
  EXPECT_FALSE(long_varint.ok());
  WireReader tagged(tag);  // one tagged field of 127 bytes, none there
  tagged.skip_tagged_fields("header");
  EXPECT_FALSE(tagged.ok());
  WireReader null_string(null);
  (void)null_string.string("group_id");
  EXPECT_NE(null_string.error().message().find("a null where a string is required"),
            std::string::npos);
}

RC_GTEST_PROP(WireProperty, WhatIsWrittenIsRead,
              (int64_t a, int32_t b, uint64_t c, const std::string& s, bool present,
               const std::string& text)) {
  const std::optional<std::string> o = present ? std::optional<std::string>(text) : std::nullopt;
  WireWriter w;
  w.i64(a);
  w.i32(b);
  w.uvarint(c);
  w.compact_string(o);
  w.bytes(s);
  w.nullable_string(o && o->size() < 30000 ? o : std::nullopt);
  WireReader r(w.bytes_written());
  RC_ASSERT(r.i64("a") == a);
  RC_ASSERT(r.i32("b") == b);
  RC_ASSERT(r.uvarint("c") == c);
  RC_ASSERT(r.compact_string("o") == o);
  RC_ASSERT(r.bytes("s") == s);
  RC_ASSERT(r.nullable_string("n") == (o && o->size() < 30000 ? o : std::nullopt));
  RC_ASSERT(r.ok());
  RC_ASSERT(r.left() == 0u);
}

RC_GTEST_PROP(WireProperty, NoiseNeverReadsPastTheEnd, (const std::string& noise)) {
  WireReader r(noise);
  (void)r.compact_string("a");
  (void)r.array_length("b", true);
  (void)r.string("c");
  r.skip_tagged_fields("d");
  (void)r.bytes("e");
  RC_ASSERT(r.position() <= noise.size());
}

}  // namespace
}  // namespace kappa
