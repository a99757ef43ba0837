// Records and RecordBatches for the tests of the batch logs (the disk broker's and the
// in-memory one's). Header-only.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/disk/file.h"
#include "broker/protocol/batch_log.h"
#include "broker/protocol/record_batch.h"

namespace kappa::disk {

// An OutgoingRecord (designated initializers with omitted fields warn under GCC 12).
inline OutgoingRecord rec(std::optional<std::string_view> key,
                          std::optional<std::string_view> value, int64_t ts = 0,
                          int32_t partition = kAnyPartition,
                          std::span<const HeaderView> headers = {}) {
  OutgoingRecord r;
  r.key = key;
  r.value = value;
  r.timestamp_ms = ts;
  r.partition = partition;
  r.headers = headers;
  return r;
}

// A batch of `n` records with values `prefix-i` of at least `size` bytes, timestamps from `ts`.
inline std::string make_batch(int n, const std::string& prefix, size_t size = 0, int64_t ts = 1000,
                              Compression compression = Compression::kNone,
                              const BatchProducer& producer = {}) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) {
    std::string v = prefix + "-" + std::to_string(i);
    if (v.size() < size) v.resize(size, 'x');
    values.push_back(v);
  }
  std::vector<OutgoingRecord> records(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    records[static_cast<size_t>(i)].value = values[static_cast<size_t>(i)];
    records[static_cast<size_t>(i)].timestamp_ms = ts + i;
  }
  return encode_record_batch(987654, records, compression, producer);  // base is rewritten
}

// `batch` as a log stores it at `base`.
inline std::string at_base(std::string batch, int64_t base) {
  disk::store_be(batch.data(), static_cast<uint64_t>(base), 8);
  return batch;
}

// Every batch of `bytes`, decoded; one that does not decode fails the test.
inline std::vector<RecordBatch> decode_all(std::string_view bytes) {
  std::vector<RecordBatch> out;
  while (!bytes.empty()) {
    size_t consumed = 0;
    auto b = decode_record_batch(bytes, consumed);
    if (!b) {
      ADD_FAILURE() << b.status().to_string();
      break;
    }
    out.push_back(std::move(*b));
    bytes.remove_prefix(consumed);
  }
  return out;
}

// A record as a partition holds it (the log cleaner's tests).
struct Stored {
  int64_t offset;
  std::optional<std::string> key;
  std::optional<std::string> value;
  friend bool operator==(const Stored&, const Stored&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const Stored& s) {
  return os << s.offset << ":" << s.key.value_or("<null>") << "=" << s.value.value_or("<null>");
}

inline std::string keyed_batch(std::optional<std::string_view> key,
                               std::optional<std::string_view> value, int64_t ts,
                               const BatchProducer& producer = {}) {
  OutgoingRecord r;
  r.key = key;
  r.value = value;
  r.timestamp_ms = ts;
  return encode_record_batch(0, std::span<const OutgoingRecord>(&r, 1), Compression::kNone,
                             producer);
}

// Every record of the partition as read_batches serves it (control batches left out), with the
// batches' offsets checked to rise.
inline std::vector<Stored> read_all(BatchLog& b, const std::string& topic) {
  std::vector<Stored> out;
  auto range = b.offsets(topic, 0);
  EXPECT_TRUE(range) << range.status().to_string();
  int64_t next = range ? range->earliest : 0;
  while (range && next < range->end) {
    auto read = b.read_batches(topic, 0, next, 1 << 20);
    EXPECT_TRUE(read) << read.status().to_string();
    if (!read || read->bytes.empty()) break;
    std::string_view bytes = read->bytes;
    while (!bytes.empty()) {
      size_t consumed = 0;
      auto batch = decode_record_batch(bytes, consumed);
      EXPECT_TRUE(batch) << batch.status().to_string();
      if (!batch) return out;
      bytes.remove_prefix(consumed);
      EXPECT_GE(batch->last_offset(), next);
      next = batch->last_offset() + 1;
      if (batch->is_control()) continue;
      for (const WireRecord& r : batch->records) out.push_back({r.offset, r.key, r.value});
    }
  }
  return out;
}

// What compaction must leave, by the rule: below the active segment only the last record of
// each key (tombstones included); the active segment whole.
inline std::vector<Stored> expected_after(const std::vector<Stored>& all, int64_t active) {
  std::map<std::string, int64_t> last;
  for (const Stored& s : all) {
    if (s.offset < active && s.key) last[*s.key] = s.offset;
  }
  std::vector<Stored> out;
  for (const Stored& s : all) {
    if (s.offset >= active || (s.key && last[*s.key] == s.offset)) out.push_back(s);
  }
  return out;
}

}  // namespace kappa::disk
