// Compactor: what Kafka's log cleaner keeps of each batch of a compacted partition, the rule
// shared by the durable log's cleaner (PartitionStore::clean) and the in-memory one
// (MemoryPartition::clean). A pass maps the cleanable batches first (each key to the offset of
// its latest record), then cleans them in order:
// - of the records with a key only the latest per key stays, at its offset;
// - a tombstone (null value) stays until delete.retention.ms after its timestamp, then goes;
// - records without a key and those of aborted transactions go;
// - control batches stay, and so does each producer's last batch (empty if need be), for its
//   sequence numbers (Kafka's RETAIN_EMPTY).
// Offsets never change: a batch keeps its base and last offset, so a batch may follow a gap.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/disk/cleaner.h"
#include "broker/protocol/producer_state.h"
#include "broker/protocol/record_batch.h"
#include "broker/topic_config.h"

namespace kappa::disk {

// The options of a pass over a topic with these settings: its overrides, else `defaults`
// (the broker's), at now_ms.
CleanerOptions cleaner_options_for(const TopicSettings& topic, int64_t now_ms,
                                   const CleanerOptions& defaults);

// How many of a partition's segments (oldest first, each with `->base_offset` and
// `->max_timestamp`) a pass may clean: closed ones wholly below the last stable offset (an open
// transaction stops the cleaner), while each is older than min.compaction.lag.ms.
template <class Segments>
size_t cleanable_segments(const Segments& segments, int64_t last_stable_offset,
                          const CleanerOptions& o) {
  size_t n = 0;
  for (; n + 1 < segments.size(); ++n) {
    const auto& s = *segments[n];
    if (segments[n + 1]->base_offset > last_stable_offset) break;
    if (o.min_compaction_lag_ms > 0 && s.max_timestamp != INT64_MIN &&
        o.now_ms - s.max_timestamp < o.min_compaction_lag_ms) {
      break;
    }
  }
  return n;
}

// Whether a pass over the cleanable segments is due: the bytes not yet cleaned (those of
// segments at or above cleaned_end) are at least min.cleanable.dirty.ratio of all of theirs,
// or a kept tombstone is due. `views`: each with `.segment->base_offset` and `.size`.
bool cleaning_due(int64_t total_bytes, int64_t dirty_bytes, int64_t tombstone_due_ms,
                  const CleanerOptions& options);
template <class Views>
bool cleaning_due(const Views& views, int64_t cleaned_end, int64_t tombstone_due_ms,
                  const CleanerOptions& o) {
  int64_t total = 0, dirty = 0;
  for (const auto& v : views) {
    total += v.size;
    if (v.segment->base_offset >= cleaned_end) dirty += v.size;
  }
  return cleaning_due(total, dirty, tombstone_due_ms, o);
}

class Compactor {
 public:
  // `aborted`: the aborted transactions with records in the cleanable range.
  Compactor(const CleanerOptions& options,
            const std::vector<ProducerStates::AbortedTransaction>& aborted);

  // Pass 1: notes the keys of one stored batch. Returns false once the key map holds more than
  // options.max_key_map_bytes: the batch's segment is then not to be cleaned in this pass.
  Result<bool> map(std::string_view batch, const RecordBatchHeader& header);

  // Pass 2: what the cleaned log holds of one stored batch.
  struct Kept {
    enum class What { kWhole, kNothing, kRewritten } what = What::kWhole;
    std::string bytes;  // kRewritten: the batch with only the kept records (encode_cleaned_batch)
  };
  Result<Kept> clean(std::string_view batch, const RecordBatchHeader& header);

  // What the pass has done (records in and kept), and when the earliest tombstone kept is due
  // for removal (INT64_MAX: none kept). A caller that takes a batch's cleaning back restores them.
  CleanerStats stats;
  int64_t tombstone_due_ms = INT64_MAX;

 private:
  bool aborted(const RecordBatchHeader& h) const;

  const CleanerOptions options_;
  std::unordered_map<int64_t, std::vector<std::pair<int64_t, int64_t>>> aborted_;  // by producer
  std::unordered_map<std::string, int64_t> latest_;     // key -> offset of its latest record
  std::unordered_map<int64_t, int64_t> last_batch_of_;  // producer id -> its last batch's base
  int64_t map_bytes_ = 0;
};

}  // namespace kappa::disk
