#include "broker/topic_config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <vector>

namespace kappa {
namespace {

constexpr std::array<TopicConfigDef, 11> kDefs{{
    {"cleanup.policy", ConfigType::kList, "log.cleanup.policy", "delete",
     "delete: old segments are deleted by retention; compact: the latest value of each key is "
     "kept"},
    {"delete.retention.ms", ConfigType::kLong, "log.cleaner.delete.retention.ms", "86400000",
     "How long a tombstone is kept by compaction"},
    {"file.delete.delay.ms", ConfigType::kLong, "log.segment.delete.delay.ms", "60000",
     "How long Kafka waits before it deletes a segment's files; here they go at once, and a "
     "fetch still sending one keeps reading it"},
    {"max.message.bytes", ConfigType::kInt, "message.max.bytes", "1048588",
     "The largest record batch a produce may store"},
    {"message.timestamp.type", ConfigType::kString, "log.message.timestamp.type", "CreateTime",
     "CreateTime: the producer's timestamps; LogAppendTime: the broker's, at append"},
    {"min.cleanable.dirty.ratio", ConfigType::kDouble, "log.cleaner.min.cleanable.ratio", "0.5",
     "The share of a compacted log not yet cleaned at which the cleaner cleans it"},
    {"min.compaction.lag.ms", ConfigType::kLong, "log.cleaner.min.compaction.lag.ms", "0",
     "How long a record stays uncompacted after it was written"},
    {"min.insync.replicas", ConfigType::kInt, "min.insync.replicas", "1",
     "Replicas that must be in sync for an acks=all produce (this broker has one)"},
    {"retention.bytes", ConfigType::kLong, "log.retention.bytes", "-1",
     "The size a partition is cut back to by deleting its oldest closed segments (-1: none)"},
    {"retention.ms", ConfigType::kLong, "log.retention.ms", "604800000",
     "How long a closed segment is kept after its newest record (-1: forever)"},
    {"segment.bytes", ConfigType::kInt, "log.segment.bytes", "1073741824",
     "The size at which the active segment rolls"},
}};

std::string invalid(std::string_view name, std::string_view value, std::string_view why) {
  return "Invalid value " + std::string(value) + " for configuration " + std::string(name) + ": " +
         std::string(why);
}

template <class Int>
std::optional<Int> parse_int(std::string_view text) {
  Int v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// At least this much, per config (Kafka's validators); none for retention.bytes.
std::optional<int64_t> lower_bound(std::string_view name) {
  if (name == "retention.ms") return -1;
  if (name == "segment.bytes") return 14;  // Kafka's smallest record overhead
  if (name == "max.message.bytes" || name == "delete.retention.ms" ||
      name == "file.delete.delay.ms" || name == "min.compaction.lag.ms") {
    return 0;
  }
  if (name == "min.insync.replicas") return 1;
  return std::nullopt;
}

}  // namespace

std::span<const TopicConfigDef> topic_config_defs() { return kDefs; }

const TopicConfigDef* find_topic_config(std::string_view name) {
  auto it = std::find_if(kDefs.begin(), kDefs.end(),
                         [&](const TopicConfigDef& d) { return d.name == name; });
  return it == kDefs.end() ? nullptr : &*it;
}

Status validate_topic_config(std::string_view name, std::string_view value,
                             std::string* normalized) {
  const TopicConfigDef* def = find_topic_config(name);
  if (def == nullptr) {
    return Status::invalid_argument("Unknown topic config name: " + std::string(name));
  }
  std::string out(value);
  switch (def->type) {
    case ConfigType::kInt:
    case ConfigType::kLong: {
      std::optional<int64_t> v;
      if (def->type == ConfigType::kInt) {
        if (auto i = parse_int<int32_t>(trim(value))) v = *i;
      } else {
        v = parse_int<int64_t>(trim(value));
      }
      if (!v) {
        return Status::invalid_argument(invalid(name, value,
                                                def->type == ConfigType::kInt
                                                    ? "Not a number of type INT"
                                                    : "Not a number of type LONG"));
      }
      if (auto lo = lower_bound(name); lo && *v < *lo) {
        return Status::invalid_argument(
            invalid(name, value, "Value must be at least " + std::to_string(*lo)));
      }
      out = std::to_string(*v);
      break;
    }
    case ConfigType::kDouble: {  // min.cleanable.dirty.ratio, in [0, 1]
      const std::string text(trim(value));
      char* end = nullptr;
      const double v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || v != v) {
        return Status::invalid_argument(invalid(name, value, "Not a number of type DOUBLE"));
      }
      if (v < 0)
        return Status::invalid_argument(invalid(name, value, "Value must be at least 0.0"));
      if (v > 1) {
        return Status::invalid_argument(invalid(name, value, "Value must be no more than 1.0"));
      }
      out = text;
      break;
    }
    case ConfigType::kString:  // message.timestamp.type
      if (value != "CreateTime" && value != "LogAppendTime") {
        return Status::invalid_argument(
            invalid(name, value, "String must be one of: CreateTime, LogAppendTime"));
      }
      break;
    case ConfigType::kList: {  // cleanup.policy
      bool compact = false, del = false;
      std::string_view rest = value;
      while (true) {
        const size_t comma = rest.find(',');
        const std::string_view item = trim(rest.substr(0, comma));
        if (item == "compact") {
          compact = true;
        } else if (item == "delete") {
          del = true;
        } else {
          return Status::invalid_argument(
              invalid(name, value, "String must be one of: compact, delete"));
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      out = compact && del ? "compact,delete" : compact ? "compact" : "delete";
      break;
    }
    case ConfigType::kBoolean:
      break;
  }
  if (normalized != nullptr) *normalized = std::move(out);
  return Status::ok();
}

TopicSettings parse_topic_settings(const TopicConfigs& configs) {
  TopicSettings s;
  auto get = [&](std::string_view name) -> const std::string* {
    auto it = configs.find(name);
    return it == configs.end() ? nullptr : &it->second;
  };
  if (auto* v = get("retention.ms")) s.retention_ms = parse_int<int64_t>(*v);
  if (auto* v = get("retention.bytes")) s.retention_bytes = parse_int<int64_t>(*v);
  if (auto* v = get("segment.bytes")) s.segment_bytes = parse_int<int64_t>(*v);
  if (auto* v = get("max.message.bytes")) s.max_message_bytes = parse_int<int32_t>(*v);
  if (auto* v = get("message.timestamp.type")) s.log_append_time = *v == "LogAppendTime";
  if (auto* v = get("min.insync.replicas"))
    s.min_insync_replicas = parse_int<int32_t>(*v).value_or(1);
  if (auto* v = get("delete.retention.ms")) s.delete_retention_ms = parse_int<int64_t>(*v);
  if (auto* v = get("min.compaction.lag.ms")) s.min_compaction_lag_ms = parse_int<int64_t>(*v);
  if (auto* v = get("min.cleanable.dirty.ratio"))
    s.min_cleanable_dirty_ratio = std::strtod(v->c_str(), nullptr);
  if (auto* v = get("cleanup.policy")) {
    s.compact = v->find("compact") != std::string::npos;
    s.retain = v->find("delete") != std::string::npos;
  }
  return s;
}

std::string format_topic_configs(const TopicConfigs& configs) {
  std::string out;
  for (const auto& [name, value] : configs) out += name + "=" + value + "\n";
  return out;
}

Result<TopicConfigs> parse_topic_configs(std::string_view text, std::string_view where) {
  TopicConfigs out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      return Status::corruption(std::string(where) + ":" + std::to_string(line_no) +
                                ": the last line has no newline (a torn write?)");
    }
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    const size_t eq = line.find('=');
    auto bad = [&](std::string why) {
      return Status::corruption(std::string(where) + ":" + std::to_string(line_no) + ": " + why);
    };
    if (eq == std::string_view::npos)
      return bad("expected name=value, got '" + std::string(line) + "'");
    const std::string_view name = line.substr(0, eq), value = line.substr(eq + 1);
    if (Status s = validate_topic_config(name, value); !s.is_ok()) return bad(s.message());
    if (!out.emplace(name, value).second) return bad(std::string(name) + " is set twice");
  }
  return out;
}

void TopicConfigMap::set(std::string_view topic, const TopicConfigs& configs) {
  std::lock_guard lock(mu_);
  if (configs.empty()) {
    if (auto it = map_.find(topic); it != map_.end()) map_.erase(it);
  } else {
    map_[std::string(topic)] = {configs, parse_topic_settings(configs)};
  }
}

TopicConfigs TopicConfigMap::configs(std::string_view topic) const {
  std::lock_guard lock(mu_);
  auto it = map_.find(topic);
  return it == map_.end() ? TopicConfigs{} : it->second.first;
}

TopicSettings TopicConfigMap::settings(std::string_view topic) const {
  std::lock_guard lock(mu_);
  auto it = map_.find(topic);
  return it == map_.end() ? TopicSettings{} : it->second.second;
}

}  // namespace kappa
