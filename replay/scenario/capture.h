// Captured topics: what `kappa record` writes and a scenario's `replay` action reads.
//
// Format: UTF-8 text, one JSON object a line, in partition then offset order per topic:
//   {"topic":"events","partition":0,"offset":17,"timestamp":1664523721000,
//    "key":null,"value":"{\"hello\":\"ssm-seoul\",\"id\":17,\"time\":\"2022-09-30 16:42:17\"}",
//    "headers":[["kappa.origin","stage:3"]]}
// key and value are strings (the bytes, when valid UTF-8) or null; bytes that are not UTF-8 are
// written as "key_base64"/"value_base64" instead. timestamp is milliseconds since the epoch.
// headers is a list of [name, value] pairs, omitted when empty; a value is a string, null, or
// {"base64": "..."} when its bytes are not UTF-8.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "broker/log.h"
#include "broker/result.h"

namespace kappa {

struct CapturedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// One line of the format (without the newline).
std::string capture_line(std::string_view topic, const RecordView& record);

// Standard base64 (RFC 4648, with padding); kInvalidArgument for anything else.
Result<std::string> base64_decode(std::string_view text);

// Writes every record of the topics; returns how many.
Result<int64_t> write_capture(Log& log, const std::vector<std::string>& topics, std::ostream& out);

// Reads a capture file, a regular file of at most max_bytes (pipeline/codec/input_file.h); errors
// name the file and line.
Result<std::vector<CapturedRecord>> read_capture(const std::string& path,
                                                 size_t max_bytes = size_t{16} << 20);

}  // namespace kappa
