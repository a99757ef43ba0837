// Records and RecordBatches for the tests of the batch logs (the disk broker's and the
// in-memory one's). Header-only.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/disk/file.h"
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

}  // namespace kappa::disk
