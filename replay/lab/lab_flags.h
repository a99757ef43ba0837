// The flags of `kappa lab` (its usage is in replay/lab/lab.h) with their defaults. lab_command
// parses them first, so a bad flag is refused (exit code 2) before the lab opens its broker, its
// sink or its ports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/result.h"

namespace kappa {

struct LabFlags {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 9092;
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 8080;
  std::string data = "kappa-lab";
  std::string sink;  // default sqlite:<data>/lab.db
  std::string zone = "Asia/Seoul";
  int64_t rate = 1;
  int64_t trigger_ms = 5000;
  int64_t window_ms = 10000;
  int64_t watermark_ms = 15000;
  std::vector<std::string> dimensions;     // "ages", "depts" switched on at start
  std::string stage_mode = "dead-letter";  // or "spark": stage every value as Spark would
};

// `args` are the words after `kappa lab`. kInvalidArgument names the flag and what it expects.
Result<LabFlags> parse_lab_flags(const std::vector<std::string>& args);

}  // namespace kappa
