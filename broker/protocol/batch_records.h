// Records as RecordBatches, for a log that stores batches (a BatchLog: DiskBroker, MemoryBroker)
// and must also serve the record-level Log seam to in-process readers: produce() stores each
// partition's records as uncompressed batches, fetch() decodes the stored batches back into
// records. Neither is the Kafka path, which stores and serves batches as they came.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/log.h"
#include "broker/protocol/batch_log.h"

namespace kappa {

// Stores one batch in a partition; returns the base offset it was given.
using AppendBatch = std::function<Result<int64_t>(int32_t partition, std::string batch)>;
// Whole batches of the partition from the one holding `offset` (BatchLog::read_batches).
using ReadBatches = std::function<Result<BatchRead>(int64_t offset, int64_t max_bytes)>;

// Appends each partition's share of `records` (`by_partition`, as route_records gives it) as
// batches of at most max_batch_bytes: one a share when they fit, else cut where the records'
// estimated size passes the limit, and halved while a batch still encodes too large (a record
// larger than the limit goes alone). Returns where each record landed, in input order.
Result<std::vector<Appended>> append_as_batches(
    std::string_view topic, std::span<const OutgoingRecord> records,
    const std::vector<std::vector<size_t>>& by_partition, int64_t max_batch_bytes,
    const AppendBatch& append);

// Log::fetch over stored batches: the records from `offset` on within `limits` and below
// range.end, decoded from what `read_batches` returns a step of 1 MiB at a time. The views point
// into the result's owner. REQUIRES: offset within [range.earliest, range.end] (the caller answers
// kOutOfRange).
Result<FetchResult> fetch_from_batches(std::string_view topic, int32_t partition, int64_t offset,
                                       const FetchLimits& limits, const OffsetRange& range,
                                       const ReadBatches& read_batches);

}  // namespace kappa
