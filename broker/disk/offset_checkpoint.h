// Offset checkpoint files: Kafka's per-data-directory text files that map each partition to an
// offset, here `recovery-point-offset-checkpoint` (the offset below which a partition's data was
// made durable) and `log-start-offset-checkpoint` (its first offset after retention). The disk
// broker reads both at open to tell lost data from a crash (disk_broker.h, "Recovery").
//
// Format (Kafka's CheckpointFile, version 0), lines ending in '\n':
//
//   0                      the version
//   <count>                the number of entries that follow
//   <topic> <partition> <offset>     count times, separated by single spaces
//
// A write goes to "<file>.tmp", is fdatasync'ed, renamed over the file and the directory is
// fsync'ed: a reader sees the old file or the new one, never a mix.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "broker/result.h"

namespace kappa::disk {

using TopicPartition = std::pair<std::string, int32_t>;
using OffsetMap = std::map<TopicPartition, int64_t>;

// The entries of `path`; an empty map if the file does not exist. A file that does not parse
// is kCorruption naming the file and the line.
Result<OffsetMap> read_offset_checkpoint(const std::filesystem::path& path);

// Replaces `path` with `offsets`, durably (see above).
Status write_offset_checkpoint(const std::filesystem::path& path, const OffsetMap& offsets);

}  // namespace kappa::disk
