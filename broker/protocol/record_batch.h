// Kafka's RecordBatch, magic v2: how producers send records and fetches return them on the
// wire, and how a durable log can keep them. Layout (Apache Kafka's protocol documentation),
// fixed-width fields big-endian:
//
//   baseOffset int64 | batchLength int32 (bytes after this field) | partitionLeaderEpoch int32 |
//   magic int8 = 2 | crc uint32 (CRC-32C of everything after it) | attributes int16 |
//   lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
//   producerEpoch int16 | baseSequence int32 | recordCount int32 | records...
//
// attributes: bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), bit 3 timestamp
// type, bit 4 transactional, bit 5 control batch. A record: length varint | attributes int8 |
// timestampDelta varlong | offsetDelta varint | keyLength varint (-1: null) | key |
// valueLength varint (-1: null) | value | headerCount varint | per header: keyLength varint |
// key | valueLength varint (-1: null) | value. Varints are zigzag (protobuf's sint32/sint64).
//
// Decoding treats its input as hostile (it comes from the network): every length is checked
// before it is used, and an error names the byte offset and what was expected.
// Compressed batches are written and read with Debian's zlib (gzip), libsnappy (a raw block;
// xerial-framed blocks, as Java clients send, are read too), liblz4 (frames) and libzstd. A
// batch may decompress to at most 64 MiB.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/record.h"
#include "broker/result.h"

namespace kappa {

struct WireRecord {
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  friend bool operator==(const WireRecord&, const WireRecord&) = default;
};

// The 61 bytes before a batch's records.
struct RecordBatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;  // bytes after this field; the batch is 12 + batch_length bytes
  int32_t partition_leader_epoch = -1;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;

  int codec() const { return attributes & 0x07; }
  bool is_transactional() const { return (attributes & 0x10) != 0; }
  bool is_control() const { return (attributes & 0x20) != 0; }
  // LogAppendTime: every record's timestamp is the batch's maxTimestamp, the broker's clock.
  bool log_append_time() const { return (attributes & 0x08) != 0; }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
};

struct RecordBatch : RecordBatchHeader {
  std::vector<WireRecord> records;
};

inline constexpr size_t kRecordBatchHeaderSize = 61;

// The codec numbers of the attributes field.
enum class Compression { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// Who wrote a batch: its producer fields and its transactional and control attribute bits.
struct BatchProducer {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;
};

// A batch of `records` (their partition fields are ignored), offsets from base_offset,
// CreateTime timestamps; no producer id (-1) unless `producer` says otherwise.
std::string encode_record_batch(int64_t base_offset, std::span<const OutgoingRecord> records,
                                Compression compression = Compression::kNone,
                                const BatchProducer& producer = {});

// What Kafka's log cleaner writes for a batch of which only `kept` (a subset of its records,
// in order) remain: the same baseOffset, lastOffsetDelta (so the offsets the batch covers do
// not change), partitionLeaderEpoch, attributes (codec, timestamp type, transactional),
// baseTimestamp and producer fields; each record keeps its offset and timestamp, maxTimestamp
// is theirs (a LogAppendTime batch keeps its own). With no record left it is an empty,
// uncompressed batch, which the cleaner keeps only as a producer's last (Kafka's RETAIN_EMPTY).
std::string encode_cleaned_batch(const RecordBatchHeader& header,
                                 std::span<const WireRecord* const> kept);

// A transaction's end marker, as a coordinator writes it to each partition of the transaction:
// a control batch (attributes transactional | control) of the producer's id and epoch, base
// sequence -1, holding one record whose key is version int16 = 0 | type int16 (0 abort,
// 1 commit) and whose value is version int16 = 0 | coordinator epoch int32.
std::string encode_transaction_marker(int64_t producer_id, int16_t producer_epoch, bool commit,
                                      int32_t coordinator_epoch, int64_t timestamp_ms);

// Decodes the batch at the start of `bytes`; `consumed` is set to its size (12 + batchLength).
Result<RecordBatch> decode_record_batch(std::string_view bytes, size_t& consumed);

// The header of the batch at the start of `bytes`, its lengths and magic checked but not its
// CRC: for a batch that was checked when it came (check_record_batch).
Result<RecordBatchHeader> read_record_batch_header(std::string_view bytes);

// Checks the batch at the start of `bytes` without decoding its records: the lengths, magic 2,
// the CRC-32C, a known codec and a record count that matches lastOffsetDelta (as a producer's
// batch has). What a broker does to a produced batch before storing it as it came.
Result<RecordBatchHeader> check_record_batch(std::string_view bytes);

// Stamps a whole, checked batch with the broker's clock, as a topic with
// message.timestamp.type=LogAppendTime does on append: sets the timestamp-type attribute and
// maxTimestamp to `now_ms`, then the CRC-32C. Records keep their deltas, which readers ignore.
void stamp_log_append_time(std::string& batch, int64_t now_ms);

}  // namespace kappa
