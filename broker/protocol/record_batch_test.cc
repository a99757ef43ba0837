#include "broker/protocol/record_batch.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "broker/protocol/crc32c.h"

namespace kappa {
namespace {

OutgoingRecord rec(std::optional<std::string_view> key, std::optional<std::string_view> value,
                   int64_t ts) {
  OutgoingRecord r;
  r.key = key;
  r.value = value;
  r.timestamp_ms = ts;
  return r;
}

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

// One record, key null, value "a", timestamp 1000, base offset 0. By the layout in
// record_batch.h: the record is attributes 00, timestampDelta 0 (zigzag 00), offsetDelta 00,
// keyLength -1 (zigzag 01), valueLength 1 (zigzag 02), 'a' 61, no headers 00: 7 bytes, so its
// length prefix is zigzag(7) = 0e. After the CRC: attributes 0000, lastOffsetDelta 00000000,
// base and max timestamp 00000000000003e8, producer id ff*8, epoch ffff, sequence ffffffff,
// count 00000001, then the 8 record bytes: 48 bytes. batchLength = 4 + 1 + 4 + 48 = 57 (0x39).
TEST(RecordBatch, TheBytesOfOneRecordFollowTheLayout) {
  const OutgoingRecord one[] = {rec(std::nullopt, "a", 1000)};
  const std::string b = encode_record_batch(0, one);
  const std::string after_crc =
      "0000"
      "00000000"
      "00000000000003e8"
      "00000000000003e8"
      "ffffffffffffffff"
      "ffff"
      "ffffffff"
      "00000001"
      "0e00000001026100";
  ASSERT_EQ(b.size(), 69u);
  EXPECT_EQ(hex(b.substr(0, 17)),
            "0000000000000000"
            "00000039"
            "ffffffff"
            "02");
  EXPECT_EQ(hex(b.substr(21)), after_crc);
  const uint32_t crc = crc32c(b.substr(21));
  EXPECT_EQ(hex(b.substr(17, 4)),
            hex(std::string{static_cast<char>(crc >> 24), static_cast<char>(crc >> 16),
                            static_cast<char>(crc >> 8), static_cast<char>(crc)}));
  size_t used = 0;
  auto d = decode_record_batch(b, used);
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ(used, 69u);
  ASSERT_EQ(d->records.size(), 1u);
  EXPECT_EQ(d->records[0], (WireRecord{0, 1000, std::nullopt, std::string("a"), {}}));
}

TEST(RecordBatch, RoundTripsKeysValuesHeadersAndOffsets) {
  const HeaderView hs[] = {
      {"kappa.origin", std::string_view("stage:3")}, {"nullv", std::nullopt}, {"", ""}};
  const std::string binary("\x00\xff\x80\n", 4);
  const std::string long_value(300, 'v');
  std::vector<OutgoingRecord> rs = {rec(std::nullopt, std::nullopt, 5000), rec("", "", 4000),
                                    rec(binary, binary, 9000), rec("k", long_value, 5001)};
  rs[1].headers = hs;
  const std::string b = encode_record_batch(42, rs);
  size_t used = 0;
  auto d = decode_record_batch(b + "trailing bytes of the next batch", used);
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ(used, b.size());
  EXPECT_EQ(d->base_offset, 42);
  EXPECT_EQ(d->last_offset_delta, 3);
  EXPECT_EQ(d->base_timestamp, 4000);
  EXPECT_EQ(d->max_timestamp, 9000);
  ASSERT_EQ(d->records.size(), 4u);
  EXPECT_EQ(d->records[0], (WireRecord{42, 5000, std::nullopt, std::nullopt, {}}));
  EXPECT_EQ(d->records[1].key, std::optional<std::string>(""));
  EXPECT_EQ(d->records[1].headers,
            (std::vector<std::pair<std::string, std::optional<std::string>>>{
                {"kappa.origin", "stage:3"}, {"nullv", std::nullopt}, {"", ""}}));
  EXPECT_EQ(d->records[2], (WireRecord{44, 9000, binary, binary, {}}));
  EXPECT_EQ(d->records[3].offset, 45);
  EXPECT_EQ(d->records[3].value->size(), 300u);
}

TEST(RecordBatch, RejectsBadMagicCrcAndEveryTruncation) {
  const OutgoingRecord rs[] = {rec("key", "value", 1), rec(std::nullopt, "v2", 2)};
  const std::string good = encode_record_batch(0, rs);
  size_t used = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    auto d = decode_record_batch(good.substr(0, n), used);
    ASSERT_FALSE(d) << "a batch cut to " << n << " bytes was accepted";
    EXPECT_EQ(d.status().code(), StatusCode::kCorruption);
  }
  std::string magic = good;
  magic[16] = 1;
  EXPECT_NE(decode_record_batch(magic, used).status().message().find("expected magic 2, found 1"),
            std::string::npos);
  for (size_t i = 21; i < good.size(); ++i) {  // every byte the CRC covers
    std::string flipped = good;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    auto d = decode_record_batch(flipped, used);
    ASSERT_FALSE(d) << "a flipped byte at " << i << " was accepted";
    EXPECT_NE(d.status().message().find("CRC-32C"), std::string::npos) << d.status().message();
  }
}

// Fixes the CRC after a deliberate change, so the checks behind it are reached.
std::string recrc(std::string b) {
  const uint32_t crc = crc32c(std::string_view(b).substr(21));
  for (int i = 0; i < 4; ++i) b[17 + i] = static_cast<char>(crc >> (24 - 8 * i));
  return b;
}

TEST(RecordBatch, RejectsWhatTheCrcDoesNotCatch) {
  const OutgoingRecord rs[] = {rec("key", "value", 1)};
  const std::string good = encode_record_batch(0, rs);
  size_t used = 0;
  std::string count = good;
  count[60] = 2;  // two records announced, one there
  EXPECT_EQ(decode_record_batch(recrc(count), used).status().code(), StatusCode::kCorruption);
  std::string gzip = good;
  gzip[22] = 1;  // attributes: gzip, but the records are not a gzip stream
  auto not_gzip = decode_record_batch(recrc(gzip), used);
  EXPECT_EQ(not_gzip.status().code(), StatusCode::kCorruption);
  EXPECT_NE(not_gzip.status().message().find("gzip records do not decompress"), std::string::npos)
      << not_gzip.status().message();
  for (char codec : {2, 3, 4}) {  // snappy, lz4, zstd: records that are not a stream of theirs
    std::string other = good;
    other[22] = codec;
    auto bad = decode_record_batch(recrc(other), used);
    EXPECT_EQ(bad.status().code(), StatusCode::kCorruption) << int(codec);
    EXPECT_NE(bad.status().message().find("do not decompress"), std::string::npos)
        << bad.status().message();
  }
  std::string unknown = good;
  unknown[22] = 5;
  EXPECT_NE(decode_record_batch(recrc(unknown), used)
                .status()
                .message()
                .find("unknown compression codec 5"),
            std::string::npos);
  // The record starts at byte 61: length, attributes, timestampDelta, offsetDelta, keyLength.
  std::string offset_delta = good;
  offset_delta[64] = 0x02;  // zigzag 1: past lastOffsetDelta 0
  auto past = decode_record_batch(recrc(offset_delta), used);
  EXPECT_NE(past.status().message().find("offsetDelta 1 outside [0, lastOffsetDelta 0]"),
            std::string::npos)
      << past.status().message();
  std::string key_length = good;
  key_length[65] = 0x7f;  // zigzag -64: a negative key length
  EXPECT_EQ(decode_record_batch(recrc(key_length), used).status().code(), StatusCode::kCorruption);
}

class CompressedBatch : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressedBatch, RoundTripsIsSmallerAndRefusesEveryCut) {
  std::vector<std::string> values;
  for (int i = 0; i < 200; ++i)
    values.push_back(R"({"hello":"ssm-seoul","id":)" + std::to_string(i) + "}");
  std::vector<OutgoingRecord> rs;
  for (const auto& v : values) rs.push_back(rec(std::nullopt, v, 1000));
  const std::string plain = encode_record_batch(7, rs);
  const std::string packed = encode_record_batch(7, rs, GetParam());
  EXPECT_LT(packed.size() * 3, plain.size());
  EXPECT_EQ(packed[22] & 0x07, static_cast<int>(GetParam()));
  size_t used = 0;
  auto d = decode_record_batch(packed, used);
  ASSERT_TRUE(d) << d.status().message();
  ASSERT_EQ(d->records.size(), 200u);
  EXPECT_EQ(d->records[199].offset, 206);
  EXPECT_EQ(d->records[199].value, std::optional<std::string>(values[199]));
  for (size_t n = 61; n < packed.size(); n += 7) {  // a cut stream is refused, with a fixed CRC too
    std::string cut = recrc(packed.substr(0, n));
    const uint32_t length = static_cast<uint32_t>(cut.size() - 12);
    for (int i = 0; i < 4; ++i) cut[8 + i] = static_cast<char>(length >> (24 - 8 * i));
    EXPECT_FALSE(decode_record_batch(recrc(cut), used)) << n;
  }
}

std::string codec_name(const ::testing::TestParamInfo<Compression>& codec) {
  static const char* kCodecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
  return kCodecs[static_cast<int>(codec.param)];
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedBatch,
                         ::testing::Values(Compression::kGzip, Compression::kSnappy,
                                           Compression::kLz4, Compression::kZstd),
                         codec_name);

// The xerial framing Java clients use for snappy: magic, version 1, compatible 1, then blocks.
TEST(RecordBatch, XerialFramedSnappyIsRead) {
  const OutgoingRecord rs[] = {rec("k", "a value that compresses", 5)};
  std::string b = encode_record_batch(0, rs, Compression::kSnappy);
  const std::string raw_block = b.substr(61);
  std::string framed("\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
  const uint32_t n = static_cast<uint32_t>(raw_block.size());
  for (int i = 0; i < 4; ++i) framed.push_back(static_cast<char>(n >> (24 - 8 * i)));
  framed += raw_block;
  b = b.substr(0, 61) + framed;
  const uint32_t length = static_cast<uint32_t>(b.size() - 12);
  for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<char>(length >> (24 - 8 * i));
  size_t used = 0;
  auto d = decode_record_batch(recrc(b), used);
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ(d->records.at(0).value, std::optional<std::string>("a value that compresses"));
}

RC_GTEST_PROP(RecordBatchProperty, DecodeInvertsEncode,
              (const std::vector<std::pair<std::string, std::string>>& kvs, int64_t base,
               uint8_t codec)) {
  std::vector<OutgoingRecord> rs;
  for (size_t i = 0; i < kvs.size(); ++i) {
    OutgoingRecord r;
    if (i % 3 != 1) r.key = kvs[i].first;
    if (i % 4 != 2) r.value = kvs[i].second;
    r.timestamp_ms = static_cast<int64_t>(i * 7919 % 1000);
    rs.push_back(r);
  }
  const int64_t base_offset = base & 0xffffffffffff;
  const std::string b = encode_record_batch(base_offset, rs, static_cast<Compression>(codec % 5));
  size_t used = 0;
  auto d = decode_record_batch(b, used);
  RC_ASSERT(d.is_ok());
  RC_ASSERT(d->records.size() == rs.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    RC_ASSERT(d->records[i].offset == base_offset + static_cast<int64_t>(i));
    RC_ASSERT(d->records[i].timestamp_ms == rs[i].timestamp_ms);
    RC_ASSERT(d->records[i].key ==
              (rs[i].key ? std::optional<std::string>(std::string(*rs[i].key)) : std::nullopt));
    RC_ASSERT(d->records[i].value ==
              (rs[i].value ? std::optional<std::string>(std::string(*rs[i].value)) : std::nullopt));
  }
}

RC_GTEST_PROP(RecordBatchProperty, AnyBytesAreDecodedOrRefusedNeverMisread,
              (const std::string& noise, bool valid_crc, uint8_t codec)) {
  std::string b = noise;
  if (b.size() >= kRecordBatchHeaderSize) {
    b[16] = 2;  // reach past the magic check
    const uint32_t length = static_cast<uint32_t>(b.size() - 12);
    for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<char>(length >> (24 - 8 * i));
    b[21] = 0;
    b[22] = static_cast<char>(codec % 5);  // feed the noise to every decompressor too
    if (valid_crc) b = recrc(b);
  }
  size_t used = 0;
  auto d = decode_record_batch(b, used);
  if (d) RC_ASSERT(used <= b.size());
}

}  // namespace
}  // namespace kappa
