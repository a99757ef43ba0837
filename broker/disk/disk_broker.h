// DiskBroker: the durable BatchLog behind `kappa broker --data DIR`. Topics survive restarts,
// kill -9 and (under fsync "always") power loss; producers' RecordBatches are stored as they
// came and served to consumers as they are stored, in Apache Kafka's own segment format.
//
// On-disk format (DIR is Options::dir):
//
//   DIR/.lock                      flock(LOCK_EX) while a broker has DIR open: one per directory
//   DIR/topics/<topic>-<p>/        one directory per partition p = 0..N-1 of a topic; a topic's
//                                  partition count is the number of its directories (the number
//                                  is after the LAST '-', since topic names may contain '-')
//   DIR/topics/<topic>-<p>/<base>.log    a segment: RecordBatch v2 batches back to back
//   DIR/topics/<topic>-<p>/<base>.index  its sparse offset index
//   DIR/group_offsets.log          committed consumer-group offsets
//   DIR/transactions.log           the transaction coordinator's state, per transactional id
//   DIR/recovery-point-offset-checkpoint   per partition, the offset below which its batches
//                                  were made durable (Kafka's file of that name)
//   DIR/log-start-offset-checkpoint        per partition, its log start offset (Kafka's too)
//   DIR/cleaner-offset-checkpoint  per compacted partition, the offset below which the log
//                                  cleaner has compacted it (Kafka's too)
//   DIR/topics/<topic>-<p>/<base>.cleaned, <base>-<next>.swap  a cleaner pass's group of
//                                  segments being written, and written (PartitionStore::clean)
//   DIR/deleting/<topic>           an empty file while the topic is being deleted
//   DIR/configs/<topic>.properties the topic's config overrides (topic_config.h), "name=value"
//                                  lines; no file when it has none
//
// <base> is the segment's first offset, 20 decimal digits zero-padded (Kafka's naming). The
// segments of a partition are contiguous: each starts at the offset after the last batch of the
// one before; the first one's base is the partition's log start offset. Below the offset of
// cleaner-offset-checkpoint (compacted topics) a batch or a segment may start after a gap, the
// offsets of the records the cleaner removed; above it, and in every topic never compacted, a
// gap is damage.
//
// A .log file is exactly Kafka's: batches as record_batch.h lays them out (big-endian
// baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 = 2 | crc
// uint32 | attributes int16 | lastOffsetDelta int32 | baseTimestamp | maxTimestamp |
// producerId | producerEpoch | baseSequence | recordCount | records). baseOffset is absolute:
// append_batch rewrites it to the partition's end offset (the CRC does not cover it); the rest
// of the batch is stored as the producer sent it. Batch i+1's baseOffset is batch i's
// baseOffset + lastOffsetDelta + 1.
//
// A .index file is Kafka's offset index: 8-byte entries, relative offset int32 big-endian (the
// batch's last offset minus the segment's base) | file position int32 big-endian (where the
// batch starts in the .log). The first batch of a segment gets an entry, then the first batch
// starting at least index_interval_bytes after the previous entry's batch. The index is derived
// data: open() rebuilds it from the .log and rewrites the file if it differs. In memory each
// entry also carries the maximum timestamp of every batch before it, so offset_for_time is a
// binary search followed by a short scan of batch headers.
//
// group_offsets.log is a sequence of records, each: length uint32 BE (payload bytes) | crc
// uint32 BE (CRC-32C of the 4 length bytes followed by the payload) | payload. The payload of a
// commit record: type uint8 = 1 | group string | topic string | count uint32 | count x
// (partition int32 | offset int64 | metadata string), big-endian; a string is length uint32 +
// bytes. A later record for the same (group, topic, partition) overrides an earlier one. Two
// more record types forget offsets (OffsetDelete, DeleteGroups): type uint8 = 2 | group string |
// topic string | count uint32 | count x partition int32 removes those partitions' offsets;
// type uint8 = 3 | group string removes every offset of the group.
//
// transactions.log has group_offsets.log's format and replay: the state of a transactional id
// (opaque here; the coordinator's encoding, broker/server/transaction_coordinator.h) is the
// metadata string of a commit record whose group is the transactional id, topic "", one entry
// of partition 0, offset 0; a forget-group record (type 3) forgets the id. The last record of an
// id wins; compaction keeps one record per id.
//
// The two checkpoint files are Kafka's text format (offset_checkpoint.h): a line "0", a line
// with the entry count, then one "topic partition offset" line per partition; each is replaced
// whole (temp file, fdatasync, rename, directory fsync). The recovery point of a partition is
// the end of what was synced: by sync() (every produce under kAlways, the background thread
// under kInterval), by a segment roll, by a clean shutdown; under kNever only the last two. A
// background thread writes it every checkpoint_interval_ms and soon after a segment roll; open
// writes it when recovery changed it, and a clean shutdown after syncing everything. The log
// start offset is written when retention moves it (before any segment is deleted) and by open.
// Each file is only rewritten when its content would change.
//
// A topic's config file is replaced whole like the checkpoints. Creating a topic with overrides
// writes it before the partition directories, deleting one removes it after them (before the
// deletion marker goes), so open() drops a config file whose topic has no partitions: a crash
// never leaves a topic without its configs, nor configs that a new topic of the name inherits.
//
// Writing: a segment rolls (the next batch goes to a new segment named after its base offset)
// when the batch would take the active segment past segment_bytes, or its offsets past what a
// relative int32 offset can name. The closed segment is fdatasync'ed and the directory fsync'ed
// before the new segment takes writes, so only the last segment of a partition can hold a torn
// write. A topic's partition directories are all created before the topics directory is
// fsync'ed. create_topic first checks that the partitions fit in the process's file-descriptor
// limit (descriptors.h); if making any of them fails it removes every directory it made and
// fsyncs the topics directory, so a failed creation leaves nothing behind. It makes the files
// without holding the topic table's lock: other topics are served meanwhile.
//
// Deleting a topic (delete_topic): it leaves the table at once (new calls find no topic; calls
// under way finish first, delete_topic waits for them); its group offsets are forgotten
// durably; then DIR/deleting/<topic> is made and synced, the checkpoints are rewritten without
// it, its directories removed and synced, and the marker removed. open() first finishes every
// deletion a marker names (removes the topic's directories, drops it from the checkpoints it
// read) and removes the markers once the checkpoints are rewritten. Adding partitions
// (add_partitions) makes the new directories as create_topic does, under the same descriptor
// check, and publishes a new Topic that shares the old partitions.
//
// Recovery (open()): each partition's segments are scanned batch by batch: a sane header
// (batchLength >= 49 and within the file, magic 2), a CRC-32C over attributes..end that
// matches, and a baseOffset equal to the offset expected next. The first batch failing a check
// is either a torn tail or damage:
//  - A torn tail is what a crash leaves: it is in the last segment, no valid batch (sane
//    header, magic 2, baseOffset not below the bad batch's, matching CRC) starts at ANY byte
//    position after it (not only where its own length says it ends: the length may be the
//    damaged byte), and it starts at or above the recorded recovery point. The file is
//    truncated there (ftruncate, fdatasync) and recovery() reports it.
//  - Anything else (valid batches after it, a closed segment, below the recovery point) is
//    corruption, not a crash: open() refuses with kCorruption naming the file, the byte, the
//    partition, the offset and what --repair would lose, and changes nothing.
// Then the checkpoints: a first segment starting above the recorded log start offset (above 0
// when none is recorded) means deleted segments; an end offset below the recorded recovery
// point means durable data was truncated or deleted; a recorded partition without its
// directory was deleted. Each is kCorruption naming the file(s), the partition and the lost
// range, as is a gap between segments and a checkpoint file that does not parse (naming the
// line). A first segment below the recorded log start is a retention run cut short: accepted.
// Options::repair (`kappa broker --repair`) cuts instead of refusing: it truncates the segment
// at the bad batch (deleting any later segments), accepts missing segments (the log starts at
// the first remaining one, the end offset is what remains), recreates a missing partition
// empty at its log start, and reports every lost range in PartitionRecovery::lost ("t/0: lost
// offsets [1700, 5000) (...)"); open() then rewrites the checkpoints to match.
// group_offsets.log is replayed the same way (a torn last record is truncated) and rewritten
// compactly when it holds over 4x as many entries as are live (and more than 16).
//
// Idempotent producers: each partition keeps its producers' state
// (broker/protocol/producer_state.h: epoch and last five batches per producer id). It is not stored
// apart from the log: recovery reads every batch header anyway, and record()s each one, so after
// kill -9 or a clean stop the state is exactly what the surviving batches say. So are each
// partition's open and aborted transactions: transactional batches and the markers that end
// them are batches like any other (Kafka keeps the aborted ones in .txnindex files as well; we
// rebuild them in the same scan).
//
// Durability (FsyncPolicy): kAlways fdatasyncs in sync() (and produce()/commit before they
// return); kInterval leaves it to a background thread that syncs dirty partitions every
// fsync_interval_ms; kNever leaves it to the kernel. Segment rolls and directory changes are
// always synced.
//
// Thread safety: every method may be called from any thread. Appends to a partition are
// serialized; reads run beside them and see whole published batches only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/disk/cleaner.h"
#include "broker/disk/offset_checkpoint.h"
#include "broker/disk/recovery_report.h"
#include "broker/protocol/batch_log.h"

namespace kappa {

namespace disk {
class IoFaults;
class PartitionStore;
class GroupOffsetLog;
struct PartitionOptions;
}  // namespace disk

class DiskBroker final : public BatchLog {
 public:
  enum class FsyncPolicy { kAlways, kInterval, kNever };

  struct Options {
    std::filesystem::path dir;
    FsyncPolicy fsync = FsyncPolicy::kAlways;
    int64_t fsync_interval_ms = 1000;            // kInterval's period
    int64_t segment_bytes = int64_t{128} << 20;  // at most 2 GiB - 1
    int64_t index_interval_bytes = 4096;
    int64_t retention_ms = -1;          // -1: unlimited
    int64_t retention_bytes = -1;       // per partition; -1: unlimited
    int64_t max_batch_bytes = 1048588;  // Kafka's message.max.bytes default
    bool auto_create_topics = true;     // produce to a missing topic creates it, as Kafka does
    int32_t default_partitions = 1;
    int32_t sticky_batch = 1;  // null-key records per partition before moving on
    // Injected write and fdatasync failures of segment files (tests of storage errors).
    std::shared_ptr<disk::IoFaults> faults;
    // How often the background thread writes recovery-point-offset-checkpoint.
    int64_t checkpoint_interval_ms = 5000;
    // Cut corrupt batches and accept lost segments instead of refusing to open (`--repair`);
    // recovery() reports exactly which offsets were lost.
    bool repair = false;
    // The log cleaner's defaults (Kafka's log.cleaner.*), for topics with cleanup.policy=compact.
    disk::CleanerOptions cleaner{};
  };

  // Creates dir if missing, takes its lock (kFailedPrecondition if another broker holds it) and
  // recovers every partition and the group offsets. I/O errors are kUnavailable; stored bytes
  // that fail their checks outside a torn tail are kCorruption.
  static Result<std::unique_ptr<DiskBroker>> open(Options options);
  ~DiskBroker() override;
  DiskBroker(const DiskBroker&) = delete;
  DiskBroker& operator=(const DiskBroker&) = delete;

  // Whether the partitions in `dir` fit in this process's file-descriptor limit (two
  // descriptors each, see descriptors.h): kFailedPrecondition naming the numbers if not, so
  // that a caller can say so before open() runs out with "Too many open files".
  static Status check_descriptors(const std::filesystem::path& dir);

  // What open() found and repaired.
  const RecoveryReport& recovery() const { return recovery_; }
  // Whether an append is on disk when sync() returns (FsyncPolicy::kAlways).
  bool durable() const { return options_.fsync == FsyncPolicy::kAlways; }
  const Options& options() const { return options_; }

  // Deletes, in every partition, segments older than retention_ms (by their newest timestamp)
  // or beyond retention_bytes, oldest first, as Kafka's retention: the active segment too,
  // after a new one is rolled at the end offset. The log start offset moves to the first
  // remaining segment.
  Status enforce_retention(int64_t now_ms);

  // Runs the log cleaner (disk::PartitionStore::clean) on every partition of every topic with
  // cleanup.policy=compact whose turn it is; returns what each pass that ran did. The cleaner
  // checkpoint (DIR/cleaner-offset-checkpoint) is written before a cleaned segment is swapped in.
  using Cleaned = disk::CleanedPartition;
  Result<std::vector<Cleaned>> clean_logs(int64_t now_ms);

  // Log
  std::string describe() const override;  // "disk:DIR"
  Status create_topic(std::string_view topic, int32_t partitions) override;
  Status delete_topic(std::string_view topic) override;
  Status add_partitions(std::string_view topic, int32_t partitions) override;
  Result<int32_t> partition_count(std::string_view topic) override;
  Result<std::vector<std::string>> list_topics() override;
  Result<std::vector<Appended>> produce(std::string_view topic,
                                        std::span<const OutgoingRecord> records) override;
  Result<FetchResult> fetch(std::string_view topic, int32_t partition, int64_t offset,
                            const FetchLimits& limits) override;
  Result<OffsetRange> offsets(std::string_view topic, int32_t partition) override;
  Result<int64_t> offset_for_time(std::string_view topic, int32_t partition,
                                  int64_t timestamp_ms) override;
  Status commit_offsets(std::string_view group, std::string_view topic,
                        std::span<const PartitionOffset> offsets) override;
  Result<std::vector<PartitionOffset>> committed_offsets(std::string_view group,
                                                         std::string_view topic) override;

  // BatchLog
  Result<int64_t> append_batch(std::string_view topic, int32_t partition,
                               std::string batch) override;
  Result<ProducerStates::Check> check_producer(std::string_view topic, int32_t partition,
                                               const RecordBatchHeader& header) override;
  Result<BatchRead> read_batches(std::string_view topic, int32_t partition, int64_t offset,
                                 int64_t max_bytes) override;
  Result<BatchRanges> read_batch_ranges(std::string_view topic, int32_t partition, int64_t offset,
                                        int64_t max_bytes, int64_t below) override;
  Status sync(std::string_view topic, int32_t partition) override;
  Status commit_group_offsets(std::string_view group, std::string_view topic,
                              std::span<const GroupOffset> offsets) override;
  Result<std::vector<GroupOffset>> group_offsets(std::string_view group,
                                                 std::string_view topic) override;
  Result<std::vector<std::string>> offset_groups() override;
  Status delete_group_offsets(std::string_view group, std::string_view topic,
                              std::span<const int32_t> partitions) override;
  Status delete_group(std::string_view group) override;
  Result<int64_t> max_timestamp(std::string_view topic, int32_t partition) override;
  Result<TransactionIndex> transaction_index(std::string_view topic, int32_t partition,
                                             int64_t from, int64_t to) override;
  Status put_transaction_state(std::string_view transactional_id, std::string_view state) override;
  Result<std::vector<std::pair<std::string, std::string>>> transaction_states() override;
  Status create_configured_topic(std::string_view topic, int32_t partitions,
                                 const TopicConfigs& configs) override;
  Result<TopicConfigs> topic_configs(std::string_view topic) override;
  Status set_topic_configs(std::string_view topic, const TopicConfigs& configs) override;
  Result<TopicSettings> topic_settings(std::string_view topic) override;
  Result<int64_t> delete_records(std::string_view topic, int32_t partition,
                                 int64_t offset) override;
  // The sizes of the partition's .log segment files (Kafka's log size; the indexes not counted).
  Result<int64_t> partition_bytes(std::string_view topic, int32_t partition) override;

 private:
  struct Topic;

  DiskBroker(Options options, int lock_fd);
  Status load_topics(const disk::OffsetMap& log_starts, const disk::OffsetMap& recovery_points);
  std::shared_ptr<Topic> find(std::string_view topic) const;
  Result<std::shared_ptr<Topic>> find_or_create(std::string_view topic);
  // Makes the directories of partitions [from, partitions) of a topic and opens them; on
  // failure removes what it made.
  Result<std::unique_ptr<Topic>> create_partitions(std::string_view topic, int32_t partitions,
                                                   int32_t from = 0);
  Result<std::shared_ptr<disk::PartitionStore>> find_partition(std::string_view topic,
                                                               int32_t partition) const;
  // Removes the directories of a deleted topic's partitions, then its DIR/deleting marker.
  Status remove_topic_dirs(std::string_view topic, int32_t partitions);
  Status remove_deletion_marker(std::string_view topic);
  // DIR/configs/<topic>.properties: written (or removed, for no overrides) durably.
  Status write_topic_configs(std::string_view topic, const TopicConfigs& configs);
  // At open: the overrides of every loaded topic; config files of no topic are removed.
  Status load_topic_configs();
  // Applies a topic's overrides to its partition stores (segment.bytes, max.message.bytes).
  void apply_limits(Topic& topic) const;
  // At open: removes every partition directory of the topics DIR/deleting names; returns them.
  Result<std::set<std::string>> finish_deletions();
  void sync_loop();
  // Writes recovery-point-offset-checkpoint and log-start-offset-checkpoint from every
  // partition's state, each only if it differs from what was last read or written.
  Status write_checkpoints();
  void checkpoint_loop();
  // The options of every partition store (and the roll hook that wakes checkpoint_loop).
  disk::PartitionOptions partition_options(const Options& o);

  const Options options_;
  int lock_fd_ = -1;
  RecoveryReport recovery_;

  mutable std::shared_mutex topics_mu_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_;
  std::set<std::string, std::less<>> creating_;  // topics whose files are being made or removed
  int64_t creating_descriptors_ = 0;             // what those will hold open
  std::unique_ptr<disk::GroupOffsetLog> groups_;
  std::unique_ptr<disk::GroupOffsetLog> transactions_;  // DIR/transactions.log

  // kInterval's background sync thread.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread sync_thread_;

  // The checkpoint files as last written; the thread that writes them every
  // checkpoint_interval_ms.
  std::mutex checkpoint_mu_;
  disk::OffsetMap written_recovery_points_;
  disk::OffsetMap written_log_starts_;
  disk::OffsetMap written_cleaned_ends_;  // cleaner-offset-checkpoint (read before load_topics)
  std::thread checkpoint_thread_;
  std::atomic<bool> checkpoint_due_{false};  // a segment rolled since the last write
  bool opened_ = false;  // open() succeeded: the destructor may rewrite the checkpoints
};

}  // namespace kappa
