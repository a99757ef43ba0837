#include "broker/log.h"

namespace kappa {

Status Log::delete_topic(std::string_view topic) {
  return Status::failed_precondition(describe() + " cannot delete topics (topic '" +
                                     std::string(topic) + "')");
}

Status Log::add_partitions(std::string_view topic, int32_t) {
  return Status::failed_precondition(describe() + " cannot add partitions (topic '" +
                                     std::string(topic) + "')");
}

Result<std::vector<PartitionOffset>> Log::end_offsets(std::string_view topic) {
  auto n = partition_count(topic);
  if (!n) return n.status();
  std::vector<PartitionOffset> out;
  out.reserve(static_cast<size_t>(*n));
  for (int32_t p = 0; p < *n; ++p) {
    auto range = offsets(topic, p);
    if (!range) return range.status();
    out.push_back({p, range->end});
  }
  return out;
}

std::string partition_name(std::string_view topic, int32_t partition) {
  std::string s(topic);
  s += '/';
  s += std::to_string(partition);
  return s;
}

std::string record_name(std::string_view topic, int32_t partition, int64_t offset) {
  std::string s = partition_name(topic, partition);
  s += '@';
  s += std::to_string(offset);
  return s;
}

Status validate_topic_name(std::string_view topic) {
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") {
    return Status::invalid_argument("topic name '" + std::string(topic) +
                                    "' must be 1 to 249 characters and not '.' or '..'");
  }
  for (char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::invalid_argument("topic name '" + std::string(topic) +
                                      "' may contain only letters, digits, '.', '_' and '-'");
    }
  }
  return Status::ok();
}

}  // namespace kappa
