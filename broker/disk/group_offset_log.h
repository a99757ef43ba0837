// GroupOffsetLog: the disk broker's committed consumer-group offsets, in memory as a map and on
// disk as DIR/group_offsets.log, an append-only file of CRC-framed records (the framing is
// described in disk_broker.h). One commit call is one record, so its offsets land together or
// not at all; so is one deletion (of some partitions' offsets, or of a whole group's).
//
// open() replays the file, streaming it in chunks; a last record that is short or fails its CRC is
// a torn write and is truncated (a bad record followed by a valid one is kCorruption naming the
// byte). When the file holds over 4x as many entries as are live (and more than 16), open()
// rewrites it compactly, one record per (group, topic): temp file, fdatasync, rename, directory
// fsync.
//
// in_memory() gives the same table without a file, for the in-memory broker: nothing is
// written, sync() has nothing to do.
//
// The disk broker's transactions.log is a GroupOffsetLog too: put_state() and states() keep one
// opaque string per transactional id (the format is in disk_broker.h).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "broker/disk/file.h"
#include "broker/disk/recovery_report.h"
#include "broker/protocol/batch_log.h"

namespace kappa::disk {

class GroupOffsetLog {
 public:
  // Replays the file `read_chunk_bytes` at a time (a record larger than that is read whole), so
  // the memory it needs is that of the live entries, however long the file has grown.
  static Result<std::unique_ptr<GroupOffsetLog>> open(std::filesystem::path path,
                                                      RecoveryReport& report,
                                                      size_t read_chunk_bytes = size_t{1} << 20);
  static std::unique_ptr<GroupOffsetLog> in_memory();

  // Appends one record; fdatasyncs it when `sync` is set.
  Status commit(std::string_view group, std::string_view topic,
                std::span<const GroupOffset> offsets, bool sync);
  std::vector<GroupOffset> offsets(std::string_view group, std::string_view topic) const;
  // Appends one record that forgets the offsets of `partitions` of the topic, or of every
  // topic of the group; fdatasyncs it when `sync` is set.
  Status forget(std::string_view group, std::string_view topic, std::span<const int32_t> partitions,
                bool sync);
  Status forget_group(std::string_view group, bool sync);
  // Forgets every group's offsets of the topic (a deleted topic's).
  Status forget_topic(std::string_view topic, bool sync);
  // Every group with an offset, sorted.
  std::vector<std::string> groups() const;
  // fdatasync if anything was written since the last one.
  Status sync();

  // Offsets without their metadata (Log::commit_offsets and committed_offsets).
  Status commit(std::string_view group, std::string_view topic,
                std::span<const PartitionOffset> offsets, bool sync);
  std::vector<PartitionOffset> plain_offsets(std::string_view group, std::string_view topic) const;

  // The state of a transactional id (the metadata of its one entry); an empty state forgets
  // the id. states() gives every id's.
  Status put_state(std::string_view id, std::string_view state, bool sync);
  std::vector<std::pair<std::string, std::string>> states() const;

 private:
  using Key = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
  struct Value {
    int64_t offset;
    std::string metadata;
  };

  explicit GroupOffsetLog(std::filesystem::path path) : path_(std::move(path)) {}
  Status replay(RecoveryReport& report, size_t read_chunk_bytes);
  // Writes a framed record at the end (syncing it if asked), then applies `apply` to the map.
  Status append(const std::string& record, bool sync, int64_t entries,
                const std::function<void()>& apply);
  Status compact();

  const std::filesystem::path path_;
  mutable std::mutex mu_;
  File file_;
  int64_t size_ = 0;
  int64_t entries_written_ = 0;  // entries in the file's records, live or overwritten
  bool dirty_ = false;
  Status broken_;
  std::map<Key, Value, std::less<>> offsets_;
};

}  // namespace kappa::disk
