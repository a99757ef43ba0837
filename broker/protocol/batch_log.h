// BatchLog: a Log that also stores and serves Kafka RecordBatches as they came over the wire,
// so the Kafka server (broker/server/) stores a producer's batch and hands it to a consumer
// without decoding or re-encoding its records, as Apache Kafka does.
//
// Three implementations: the durable DiskBroker (broker/disk/), whose segment files hold the
// batches themselves; MemoryBroker (broker/memory/), which holds them the same way in memory
// (`kappa broker` without --data); and RecordLogBatches (broker/server/), which adapts any
// record-level Log (the in-memory EmbeddedBroker of a running scenario) by encoding and
// decoding.
//
// Promises, beyond Log's:
//  - append_batch assigns the batch offsets [end, end + lastOffsetDelta] by rewriting its
//    baseOffset field (not covered by the CRC), and stores the bytes otherwise unchanged;
//  - append_batch notes every batch of an idempotent producer in the partition's producer state
//    (producer_state.h), which check_producer consults; a durable log rebuilds that state from
//    its batches at open, so a retry after a restart is still recognized;
//  - read_batches returns whole batches, the first being the one that holds `offset`, so it
//    may start before `offset` (Kafka clients skip records below the offset they asked for);
//  - read_batch_ranges returns the same batches, as ranges of files where the log keeps them in
//    files (the disk broker), for the Kafka server to send with sendfile(2);
//  - durable() says whether an append is on disk when sync() returns;
//  - transactional batches and the coordinator's markers (control batches) are stored and
//    read back as batches of their own, with their attributes and producer fields, and each
//    partition's open and aborted transactions (producer_state.h) are what its batches say,
//    rebuilt at open by a durable log;
//  - the transaction coordinator's state is kept as one opaque record per transactional id,
//    durable before put_transaction_state returns in a durable log (under every fsync policy
//    but "never").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/log.h"
#include "broker/protocol/producer_state.h"
#include "broker/topic_config.h"

namespace kappa {

struct BatchRead {
  std::string bytes;             // whole RecordBatch v2 batches, back to back; may be empty
  int64_t high_watermark = 0;    // the partition's end offset when read
  int64_t log_start_offset = 0;  // its earliest offset
};

// Bytes of a read that stay in a file, for the Kafka server to send with sendfile(2) rather than
// copy: `length` bytes at `offset` of the open descriptor `fd`, which `keep` holds open (the file
// may be unlinked meanwhile; its bytes stay readable). `path` names it in errors.
struct FileRange {
  std::shared_ptr<const void> keep;
  int fd = -1;
  int64_t offset = 0;
  int64_t length = 0;
  std::string path;
};

// What read_batch_ranges returns: the batches in memory (`bytes`), or, when `files` is not
// empty, as ranges of files, back to back in order (`bytes` is then empty).
struct BatchRanges {
  std::string bytes;
  std::vector<FileRange> files;
  int64_t high_watermark = 0;
  int64_t log_start_offset = 0;
  int64_t size() const;
};

// A committed group offset with the client's metadata string (OffsetCommit/OffsetFetch).
struct GroupOffset {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string metadata;
  friend bool operator==(const GroupOffset&, const GroupOffset&) = default;
};

// What a read_committed reader needs of a partition (Fetch, ListOffsets).
struct TransactionIndex {
  int64_t last_stable_offset = 0;
  std::vector<ProducerStates::AbortedTransaction> aborted;  // in the asked range, oldest first
};

class BatchLog : public Log {
 public:
  // Appends one RecordBatch v2 (CRC and structure already checked by the caller) to an
  // existing partition; returns the base offset it was given. Does not wait for the disk.
  virtual Result<int64_t> append_batch(std::string_view topic, int32_t partition,
                                       std::string batch) = 0;

  // What appending a batch with this header would mean for its idempotent producer (see
  // producer_state.h). REQUIRES: the caller serializes check_producer and append_batch per
  // partition (the Kafka server does both on its one I/O thread).
  virtual Result<ProducerStates::Check> check_producer(std::string_view topic, int32_t partition,
                                                       const RecordBatchHeader& header) = 0;

  // Whole batches from the one holding `offset`, at most `max_bytes` in total except that the
  // first batch is returned whole however big it is. kOutOfRange outside [earliest, end].
  virtual Result<BatchRead> read_batches(std::string_view topic, int32_t partition, int64_t offset,
                                         int64_t max_bytes) = 0;

  // read_batches' batches with a base offset below `below` only (a read_committed reader's last
  // stable offset; INT64_MAX for every batch), and where the log can, as ranges of its files
  // (a durable log's segments). The first batch is still returned whole however big, unless it
  // starts at or above `below`. This default reads them with read_batches.
  virtual Result<BatchRanges> read_batch_ranges(std::string_view topic, int32_t partition,
                                                int64_t offset, int64_t max_bytes, int64_t below);

  // Makes every append to the partition so far durable according to the store's fsync policy
  // (an fdatasync under "always"; nothing under "interval" or "never"). Safe to call from a
  // thread other than the appender's; concurrent callers share one sync.
  virtual Status sync(std::string_view topic, int32_t partition) = 0;

  // Group offsets with their metadata; committed_offsets() of Log returns the same offsets.
  virtual Status commit_group_offsets(std::string_view group, std::string_view topic,
                                      std::span<const GroupOffset> offsets) = 0;
  virtual Result<std::vector<GroupOffset>> group_offsets(std::string_view group,
                                                         std::string_view topic) = 0;
  // Every group with a committed offset, sorted (ListGroups, DescribeGroups).
  virtual Result<std::vector<std::string>> offset_groups() = 0;
  // Forgets committed offsets, durably as commits are: of the given partitions of one topic
  // (OffsetDelete), or of every topic of the group (DeleteGroups). Offsets not committed are
  // no error.
  virtual Status delete_group_offsets(std::string_view group, std::string_view topic,
                                      std::span<const int32_t> partitions) = 0;
  virtual Status delete_group(std::string_view group) = 0;

  // The largest record timestamp of the partition (ListOffsets -3), INT64_MIN when it has no
  // records. The record that carries it is the first at offset_for_time() of it.
  virtual Result<int64_t> max_timestamp(std::string_view topic, int32_t partition) = 0;

  // The partition's last stable offset and its aborted transactions with records in
  // [from, to) (ProducerStates::aborted_between).
  virtual Result<TransactionIndex> transaction_index(std::string_view topic, int32_t partition,
                                                     int64_t from, int64_t to) = 0;

  // The transaction coordinator's state: `state` replaces what the transactional id had (an
  // empty one forgets the id). transaction_states() gives every id's, for the coordinator's
  // start.
  virtual Status put_transaction_state(std::string_view transactional_id,
                                       std::string_view state) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> transaction_states() = 0;

  // Topic configs (topic_config.h): the overrides a topic was created with or altered to, each
  // validated by the caller. Creating with overrides is one step: a durable log never holds
  // the topic without them, even after kill -9. Setting replaces the overrides whole, durably
  // in a durable log, and takes effect for the next append and the next retention run.
  // kNotFound for a missing topic.
  virtual Status create_configured_topic(std::string_view topic, int32_t partitions,
                                         const TopicConfigs& configs) = 0;
  virtual Result<TopicConfigs> topic_configs(std::string_view topic) = 0;
  virtual Status set_topic_configs(std::string_view topic, const TopicConfigs& configs) = 0;
  // The overrides parsed, for the append path (one lookup, no parsing).
  virtual Result<TopicSettings> topic_settings(std::string_view topic) = 0;

  // Kafka's DeleteRecords: moves the partition's log start offset up to `offset` (durably in a
  // durable log), so records below it are no longer served and ListOffsets' earliest is it;
  // whole segments below it are deleted. An offset at or below the log start changes nothing.
  // Returns the log start after the call. kOutOfRange above the end offset; kNotFound for a
  // missing partition.
  virtual Result<int64_t> delete_records(std::string_view topic, int32_t partition,
                                         int64_t offset) = 0;

  // The bytes the partition holds, as Kafka's DescribeLogDirs reports a partition's size: the
  // sum of its segment files in a durable log, the stored bytes of its records in memory.
  // kNotFound for a missing partition.
  virtual Result<int64_t> partition_bytes(std::string_view topic, int32_t partition) = 0;
};

}  // namespace kappa
