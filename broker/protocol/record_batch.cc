#include "broker/protocol/record_batch.h"

#include <algorithm>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "broker/protocol/crc32c.h"

namespace kappa {
namespace {

// Limits against hostile input: a batch may announce at most this many records, and
// decompress to at most this many bytes (Kafka's default message.max.bytes is ~1 MiB; this
// leaves room for highly compressible batches without letting one exhaust memory).
constexpr size_t kMaxRecordsPerBatch = 1 << 20;
constexpr size_t kMaxDecompressedBytes = size_t{64} << 20;

Result<std::string> gunzip(std::string_view in, size_t limit) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Status::internal("zlib: inflateInit2 failed");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  char buf[16384];
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return Status::corruption(
          "record batch at byte 61: the gzip records do not decompress (" +
          std::string(z.msg ? z.msg : (rc == Z_BUF_ERROR ? "truncated" : "error")) + ")");
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > limit) {
      inflateEnd(&z);
      return Status::corruption(
          "record batch at byte 61: the gzip records decompress to more than " +
          std::to_string(limit) + " bytes");
    }
  }
  inflateEnd(&z);
  return out;
}

Status too_big(const char* codec, size_t limit) {
  return Status::corruption(std::string("record batch at byte 61: the ") + codec +
                            " records decompress to more than " + std::to_string(limit) + " bytes");
}

Status undecodable(const char* codec, const std::string& why) {
  return Status::corruption(std::string("record batch at byte 61: the ") + codec +
                            " records do not decompress (" + why + ")");
}

// Kafka's snappy: Java clients frame it the xerial way ("\x82SNAPPY\0", version, compatible
// version, then blocks of [int32 length][raw snappy]); other clients send one raw block.
Result<std::string> unsnappy(std::string_view in, size_t limit) {
  static constexpr char kMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
  auto raw = [&](std::string_view block, std::string& out) -> Status {
    size_t n = 0;
    if (snappy_uncompressed_length(block.data(), block.size(), &n) != SNAPPY_OK)
      return undecodable("snappy", "bad header");
    if (out.size() + n > limit) return too_big("snappy", limit);
    const size_t at = out.size();
    out.resize(at + n);
    if (snappy_uncompress(block.data(), block.size(), out.data() + at, &n) != SNAPPY_OK) {
      return undecodable("snappy", "bad block");
    }
    out.resize(at + n);
    return Status::ok();
  };
  std::string out;
  if (in.size() < 16 || std::memcmp(in.data(), kMagic, 8) != 0) {
    KAPPA_RETURN_IF_ERROR(raw(in, out));
    return out;
  }
  size_t at = 16;
  while (at < in.size()) {
    if (in.size() - at < 4) return undecodable("snappy", "a truncated block length");
    const uint32_t n = (uint32_t{static_cast<unsigned char>(in[at])} << 24) |
                       (uint32_t{static_cast<unsigned char>(in[at + 1])} << 16) |
                       (uint32_t{static_cast<unsigned char>(in[at + 2])} << 8) |
                       static_cast<unsigned char>(in[at + 3]);
    at += 4;
    if (n > in.size() - at) return undecodable("snappy", "a block runs past the end");
    KAPPA_RETURN_IF_ERROR(raw(in.substr(at, n), out));
    at += n;
  }
  return out;
}

Result<std::string> unlz4(std::string_view in, size_t limit) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
    return Status::internal("lz4: no context");
  std::string out;
  char buf[65536];
  size_t at = 0;
  size_t hint = 1;
  while (hint != 0) {
    if (at >= in.size()) {
      LZ4F_freeDecompressionContext(ctx);
      return undecodable("lz4", "truncated");
    }
    size_t dst = sizeof buf;
    size_t src = in.size() - at;
    hint = LZ4F_decompress(ctx, buf, &dst, in.data() + at, &src, nullptr);
    if (LZ4F_isError(hint)) {
      const std::string why = LZ4F_getErrorName(hint);
      LZ4F_freeDecompressionContext(ctx);
      return undecodable("lz4", why);
    }
    at += src;
    out.append(buf, dst);
    if (out.size() > limit) {
      LZ4F_freeDecompressionContext(ctx);
      return too_big("lz4", limit);
    }
    if (src == 0 && dst == 0 && hint != 0 && at >= in.size()) {
      LZ4F_freeDecompressionContext(ctx);
      return undecodable("lz4", "truncated");
    }
  }
  LZ4F_freeDecompressionContext(ctx);
  return out;
}

Result<std::string> unzstd(std::string_view in, size_t limit) {
  ZSTD_DStream* z = ZSTD_createDStream();
  if (!z) return Status::internal("zstd: no stream");
  ZSTD_initDStream(z);
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t rc = 1;
  while (rc != 0) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(z, &output, &input);
    if (ZSTD_isError(rc)) {
      const std::string why = ZSTD_getErrorName(rc);
      ZSTD_freeDStream(z);
      return undecodable("zstd", why);
    }
    out.append(buf.data(), output.pos);
    if (out.size() > limit) {
      ZSTD_freeDStream(z);
      return too_big("zstd", limit);
    }
    if (rc != 0 && input.pos == input.size && output.pos < output.size) {
      ZSTD_freeDStream(z);
      return undecodable("zstd", "truncated");
    }
  }
  ZSTD_freeDStream(z);
  return out;
}

std::string gzip(std::string_view in) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_varlong(std::string& out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);  // zigzag
  while (z >= 0x80) {
    out.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}

void put_bytes(std::string& out, const std::optional<std::string_view>& b) {
  if (!b) {
    put_varlong(out, -1);
    return;
  }
  put_varlong(out, static_cast<int64_t>(b->size()));
  out.append(*b);
}

// Reads big-endian integers and zigzag varints from `bytes`, never past its end; `at` is the
// offset within the whole batch, for error messages.
class Reader {
 public:
  Reader(std::string_view bytes, size_t base) : bytes_(bytes), base_(base) {}
  size_t at() const { return base_ + pos_; }
  size_t left() const { return bytes_.size() - pos_; }

  Status need(size_t n, const char* what) const {
    if (left() >= n) return Status::ok();
    return Status::corruption("record batch at byte " + std::to_string(at()) + ": expected " +
                              std::to_string(n) + " bytes of " + what + ", found " +
                              std::to_string(left()));
  }
  uint64_t be(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[pos_++]);
    return v;
  }
  Result<int64_t> varlong(const char* what, int max_bytes = 10) {
    uint64_t z = 0;
    for (int shift = 0, i = 0; i < max_bytes; ++i, shift += 7) {
      if (pos_ >= bytes_.size()) {
        return Status::corruption("record batch at byte " + std::to_string(at()) + ": " + what +
                                  " runs past the end");
      }
      const auto b = static_cast<unsigned char>(bytes_[pos_++]);
      z |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
    }
    return Status::corruption("record batch at byte " + std::to_string(at()) + ": " + what +
                              " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  Result<int32_t> varint(const char* what) {
    auto v = varlong(what, 5);
    if (!v) return v.status();
    if (*v < INT32_MIN || *v > INT32_MAX) {
      return Status::corruption("record batch at byte " + std::to_string(at()) + ": " + what + " " +
                                std::to_string(*v) + " does not fit in 32 bits");
    }
    return static_cast<int32_t>(*v);
  }
  Result<std::optional<std::string>> bytes(const char* what) {
    auto n = varint(what);
    if (!n) return n.status();
    if (*n == -1) return std::optional<std::string>();
    if (*n < -1) {
      return Status::corruption("record batch at byte " + std::to_string(at()) + ": " + what +
                                " length " + std::to_string(*n));
    }
    KAPPA_RETURN_IF_ERROR(need(static_cast<size_t>(*n), what));
    std::string out(bytes_.substr(pos_, static_cast<size_t>(*n)));
    pos_ += static_cast<size_t>(*n);
    return std::optional<std::string>(std::move(out));
  }

 private:
  std::string_view bytes_;
  size_t base_;
  size_t pos_ = 0;
};

std::string compress(Compression c, std::string_view in) {
  switch (c) {
    case Compression::kNone:
      return std::string(in);
    case Compression::kGzip:
      return gzip(in);
    case Compression::kSnappy: {  // one raw block, as librdkafka writes it
      size_t n = snappy_max_compressed_length(in.size());
      std::string out(n, '\0');
      snappy_compress(in.data(), in.size(), out.data(), &n);
      out.resize(n);
      return out;
    }
    case Compression::kLz4: {
      std::string out(LZ4F_compressFrameBound(in.size(), nullptr), '\0');
      out.resize(LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), nullptr));
      return out;
    }
    case Compression::kZstd: {
      std::string out(ZSTD_compressBound(in.size()), '\0');
      out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
      return out;
    }
  }
  return std::string(in);
}

}  // namespace

namespace {

// Appends one record (length-prefixed) to `body`; `headers` are pairs of a key and an optional
// value, as either record type holds them.
template <class Headers>
void append_record(std::string& body, std::string& scratch, int64_t timestamp_delta,
                   int64_t offset_delta, const std::optional<std::string_view>& key,
                   const std::optional<std::string_view>& value, const Headers& headers) {
  scratch.clear();
  scratch.push_back(0);  // record attributes: unused
  put_varlong(scratch, timestamp_delta);
  put_varlong(scratch, offset_delta);
  put_bytes(scratch, key);
  put_bytes(scratch, value);
  put_varlong(scratch, static_cast<int64_t>(std::size(headers)));
  for (const auto& [k, v] : headers) {
    put_bytes(scratch, std::string_view(k));
    put_bytes(scratch, v ? std::optional<std::string_view>(*v) : std::nullopt);
  }
  put_varlong(body, static_cast<int64_t>(scratch.size()));
  body += scratch;
}

std::optional<std::string_view> view_of(const std::optional<std::string>& s) {
  return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

// The whole batch: `h`'s fields (its batchLength ignored) around `records`, which are already
// compressed as h's codec says, and the CRC-32C.
std::string assemble_batch(const RecordBatchHeader& h, std::string_view records) {
  std::string after_crc;  // attributes .. records: what the CRC covers
  after_crc.reserve(kRecordBatchHeaderSize - 21 + records.size());
  put_be(after_crc, static_cast<uint16_t>(h.attributes), 2);
  put_be(after_crc, static_cast<uint32_t>(h.last_offset_delta), 4);
  put_be(after_crc, static_cast<uint64_t>(h.base_timestamp), 8);
  put_be(after_crc, static_cast<uint64_t>(h.max_timestamp), 8);
  put_be(after_crc, static_cast<uint64_t>(h.producer_id), 8);
  put_be(after_crc, static_cast<uint16_t>(h.producer_epoch), 2);
  put_be(after_crc, static_cast<uint32_t>(h.base_sequence), 4);
  put_be(after_crc, static_cast<uint32_t>(h.record_count), 4);
  after_crc += records;
  std::string out;
  out.reserve(21 + after_crc.size());
  put_be(out, static_cast<uint64_t>(h.base_offset), 8);
  put_be(out, static_cast<uint32_t>(4 + 1 + 4 + after_crc.size()), 4);  // batchLength
  put_be(out, static_cast<uint32_t>(h.partition_leader_epoch), 4);
  out.push_back(2);  // magic
  put_be(out, crc32c(after_crc), 4);
  out += after_crc;
  return out;
}

}  // namespace

std::string encode_record_batch(int64_t base_offset, std::span<const OutgoingRecord> records,
                                Compression compression, const BatchProducer& producer) {
  RecordBatchHeader h;
  h.base_offset = base_offset;
  h.base_timestamp = records.empty() ? 0 : records.front().timestamp_ms;
  h.max_timestamp = h.base_timestamp;
  for (const auto& r : records) {
    h.base_timestamp = std::min(h.base_timestamp, r.timestamp_ms);
    h.max_timestamp = std::max(h.max_timestamp, r.timestamp_ms);
  }
  std::string body;  // records
  std::string scratch;
  for (size_t i = 0; i < records.size(); ++i) {
    const OutgoingRecord& r = records[i];
    append_record(body, scratch, r.timestamp_ms - h.base_timestamp, static_cast<int64_t>(i), r.key,
                  r.value, r.headers);
  }
  // attributes: codec, CreateTime, the transactional and control bits
  h.attributes =
      static_cast<int16_t>(static_cast<int>(compression) | (producer.transactional ? 0x10 : 0) |
                           (producer.control ? 0x20 : 0));
  h.last_offset_delta = static_cast<int32_t>(records.empty() ? 0 : records.size() - 1);
  h.producer_id = producer.producer_id;
  h.producer_epoch = producer.producer_epoch;
  h.base_sequence = producer.base_sequence;
  h.record_count = static_cast<int32_t>(records.size());
  return assemble_batch(h, compress(compression, body));
}

std::string encode_cleaned_batch(const RecordBatchHeader& header,
                                 std::span<const WireRecord* const> kept) {
  RecordBatchHeader h = header;
  if (!h.log_append_time() && !kept.empty()) h.max_timestamp = INT64_MIN;
  std::string body;
  std::string scratch;
  for (const WireRecord* r : kept) {
    if (!h.log_append_time()) h.max_timestamp = std::max(h.max_timestamp, r->timestamp_ms);
    append_record(body, scratch, r->timestamp_ms - h.base_timestamp, r->offset - h.base_offset,
                  view_of(r->key), view_of(r->value), r->headers);
  }
  const auto codec = kept.empty() ? Compression::kNone : static_cast<Compression>(header.codec());
  h.attributes = static_cast<int16_t>((header.attributes & ~0x07) | static_cast<int>(codec));
  h.record_count = static_cast<int32_t>(kept.size());
  return assemble_batch(h, compress(codec, body));
}

std::string encode_transaction_marker(int64_t producer_id, int16_t producer_epoch, bool commit,
                                      int32_t coordinator_epoch, int64_t timestamp_ms) {
  std::string key;
  put_be(key, 0, 2);
  put_be(key, commit ? 1 : 0, 2);
  std::string value;
  put_be(value, 0, 2);
  put_be(value, static_cast<uint32_t>(coordinator_epoch), 4);
  OutgoingRecord marker;
  marker.key = key;
  marker.value = value;
  marker.timestamp_ms = timestamp_ms;
  BatchProducer who;
  who.producer_id = producer_id;
  who.producer_epoch = producer_epoch;
  who.transactional = true;
  who.control = true;
  return encode_record_batch(0, std::span<const OutgoingRecord>(&marker, 1), Compression::kNone,
                             who);
}

namespace {

// The header checks shared by decode_record_batch and check_record_batch, and without the CRC
// by read_record_batch_header.
Result<RecordBatchHeader> read_header(std::string_view bytes, bool verify_crc = true) {
  Reader head(bytes, 0);
  KAPPA_RETURN_IF_ERROR(head.need(kRecordBatchHeaderSize, "a record batch header"));
  RecordBatchHeader b;
  b.base_offset = static_cast<int64_t>(head.be(8));
  const auto length = static_cast<int32_t>(head.be(4));
  if (length < static_cast<int32_t>(kRecordBatchHeaderSize - 12)) {
    return Status::corruption("record batch at byte 8: batchLength " + std::to_string(length) +
                              " is shorter than a header (" +
                              std::to_string(kRecordBatchHeaderSize - 12) + ")");
  }
  if (static_cast<size_t>(length) > bytes.size() - 12) {
    return Status::corruption("record batch at byte 8: batchLength " + std::to_string(length) +
                              " runs past the " + std::to_string(bytes.size()) + " bytes given");
  }
  b.batch_length = length;
  b.partition_leader_epoch = static_cast<int32_t>(head.be(4));
  const auto magic = static_cast<int8_t>(head.be(1));
  if (magic != 2) {
    return Status::corruption("record batch at byte 16: expected magic 2, found " +
                              std::to_string(magic));
  }
  const auto crc = static_cast<uint32_t>(head.be(4));
  const std::string_view covered = bytes.substr(21, static_cast<size_t>(length) - 9);
  if (const uint32_t actual = verify_crc ? crc32c(covered) : crc; actual != crc) {
    return Status::corruption("record batch at byte 17: CRC-32C " + std::to_string(actual) +
                              " does not match " + std::to_string(crc));
  }
  b.attributes = static_cast<int16_t>(head.be(2));
  b.last_offset_delta = static_cast<int32_t>(head.be(4));
  b.base_timestamp = static_cast<int64_t>(head.be(8));
  b.max_timestamp = static_cast<int64_t>(head.be(8));
  b.producer_id = static_cast<int64_t>(head.be(8));
  b.producer_epoch = static_cast<int16_t>(head.be(2));
  b.base_sequence = static_cast<int32_t>(head.be(4));
  b.record_count = static_cast<int32_t>(head.be(4));
  if (b.record_count < 0 || static_cast<size_t>(b.record_count) > kMaxRecordsPerBatch) {
    return Status::corruption("record batch at byte 57: record count " +
                              std::to_string(b.record_count));
  }
  return b;
}

}  // namespace

Result<RecordBatchHeader> read_record_batch_header(std::string_view bytes) {
  return read_header(bytes, false);
}

Result<RecordBatchHeader> check_record_batch(std::string_view bytes) {
  auto h = read_header(bytes);
  if (!h) return h.status();
  if (h->codec() > 4) {
    return Status::corruption("record batch at byte 21: unknown compression codec " +
                              std::to_string(h->codec()));
  }
  if (h->record_count == 0 || h->last_offset_delta != h->record_count - 1) {
    return Status::corruption(
        "record batch at byte 23: lastOffsetDelta " + std::to_string(h->last_offset_delta) +
        " does not fit a producer batch of " + std::to_string(h->record_count) + " records");
  }
  return h;
}

Result<RecordBatch> decode_record_batch(std::string_view bytes, size_t& consumed) {
  auto header = read_header(bytes);
  if (!header) return header.status();
  RecordBatch b;
  static_cast<RecordBatchHeader&>(b) = *header;
  const int32_t length = b.batch_length;
  const int32_t count = b.record_count;
  const size_t end = 12 + static_cast<size_t>(length);
  // The records: the rest of the batch, or, when compressed, what it decompresses to (then
  // error positions count bytes of the decompressed records).
  std::string_view area = bytes.substr(kRecordBatchHeaderSize, end - kRecordBatchHeaderSize);
  size_t area_base = kRecordBatchHeaderSize;
  std::string inflated;
  switch (b.attributes & 0x07) {
    case 0:
      if (static_cast<size_t>(count) > area.size()) {
        return Status::corruption("record batch at byte 57: record count " + std::to_string(count) +
                                  " cannot fit in " + std::to_string(area.size()) + " bytes");
      }
      break;
    case 1:
    case 2:
    case 3:
    case 4: {
      const int codec = b.attributes & 0x07;
      auto out = codec == 1   ? gunzip(area, kMaxDecompressedBytes)
                 : codec == 2 ? unsnappy(area, kMaxDecompressedBytes)
                 : codec == 3 ? unlz4(area, kMaxDecompressedBytes)
                              : unzstd(area, kMaxDecompressedBytes);
      if (!out) return out.status();
      inflated = std::move(*out);
      area = inflated;
      area_base = 0;
      break;
    }
    default:
      return Status::corruption("record batch at byte 22: unknown compression codec " +
                                std::to_string(b.attributes & 0x07));
  }
  Reader r(area, area_base);
  b.records.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    auto len = r.varint("record length");
    if (!len) return len.status();
    if (*len < 1)
      return Status::corruption("record batch at byte " + std::to_string(r.at()) +
                                ": record length " + std::to_string(*len));
    KAPPA_RETURN_IF_ERROR(r.need(static_cast<size_t>(*len), "a record"));
    const size_t record_end = r.at() + static_cast<size_t>(*len);
    Reader rec(area.substr(r.at() - area_base, static_cast<size_t>(*len)), r.at());
    KAPPA_RETURN_IF_ERROR(rec.need(1, "record attributes"));
    (void)rec.be(1);
    auto ts = rec.varlong("timestampDelta");
    if (!ts) return ts.status();
    auto delta = rec.varint("offsetDelta");
    if (!delta) return delta.status();
    if (*delta < 0 || *delta > b.last_offset_delta) {
      return Status::corruption("record batch at byte " + std::to_string(rec.at()) +
                                ": offsetDelta " + std::to_string(*delta) +
                                " outside [0, lastOffsetDelta " +
                                std::to_string(b.last_offset_delta) + "]");
    }
    WireRecord w;
    w.timestamp_ms = b.log_append_time() ? b.max_timestamp : b.base_timestamp + *ts;
    w.offset = b.base_offset + *delta;
    auto key = rec.bytes("key");
    if (!key) return key.status();
    w.key = std::move(*key);
    auto value = rec.bytes("value");
    if (!value) return value.status();
    w.value = std::move(*value);
    auto headers = rec.varint("header count");
    if (!headers) return headers.status();
    if (*headers < 0 || static_cast<size_t>(*headers) > rec.left()) {
      return Status::corruption("record batch at byte " + std::to_string(rec.at()) +
                                ": header count " + std::to_string(*headers));
    }
    for (int32_t h = 0; h < *headers; ++h) {
      auto hk = rec.bytes("header key");
      if (!hk) return hk.status();
      if (!*hk)
        return Status::corruption("record batch at byte " + std::to_string(rec.at()) +
                                  ": a null header key");
      auto hv = rec.bytes("header value");
      if (!hv) return hv.status();
      w.headers.emplace_back(std::move(**hk), std::move(*hv));
    }
    if (rec.left() != 0) {
      return Status::corruption("record batch at byte " + std::to_string(rec.at()) + ": " +
                                std::to_string(rec.left()) + " bytes left over in a record of " +
                                std::to_string(*len));
    }
    b.records.push_back(std::move(w));
    r = Reader(area.substr(record_end - area_base), record_end);
  }
  if (r.left() != 0) {
    return Status::corruption("record batch at byte " + std::to_string(r.at()) + ": " +
                              std::to_string(r.left()) + " bytes after the last of " +
                              std::to_string(count) + " records");
  }
  consumed = end;
  return b;
}

void stamp_log_append_time(std::string& batch, int64_t now_ms) {
  // Offsets in the batch: the CRC at 17 covers 21..end; attributes at 21, maxTimestamp at 35.
  const auto set = [&](size_t at, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, v >>= 8)
      batch[at + static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  };
  batch[22] = static_cast<char>(batch[22] | 0x08);  // the low byte of attributes
  set(35, static_cast<uint64_t>(now_ms), 8);
  set(17, crc32c(std::string_view(batch).substr(21)), 4);
}

}  // namespace kappa
