// Topic configs: Kafka's per-topic settings (CreateTopics' configs, AlterConfigs,
// IncrementalAlterConfigs, DescribeConfigs), the ones this broker acts on.
//
// A topic keeps only its overrides (TopicConfigs: name -> value text, as Kafka's metadata keeps
// them); what a topic does is the override where there is one and the broker's default
// otherwise. Each config below has Kafka's name, type, validation and default, and an effect:
//
//   cleanup.policy          delete | compact | compact,delete: retention deletes old segments only
//                           with "delete"; with "compact" the log cleaner keeps the latest record
//                           of each key (PartitionStore::clean)
//   retention.ms            closed segments whose newest record is older are deleted (-1: never)
//   retention.bytes         oldest closed segments are deleted while the partition is larger
//   segment.bytes           the active segment rolls before it would grow past this
//   max.message.bytes       the largest batch a produce may store (MESSAGE_TOO_LARGE beyond)
//   message.timestamp.type  CreateTime | LogAppendTime: the broker stamps each batch on append
//   min.insync.replicas     acks=all produces need this many in-sync replicas; this broker has
//                           one, so more makes them fail with NOT_ENOUGH_REPLICAS
//   delete.retention.ms     how long compaction keeps a tombstone after its timestamp
//   min.cleanable.dirty.ratio  compaction runs when this share of the cleanable log is new
//   min.compaction.lag.ms   segments with records younger than this are not compacted yet
//
// Any other name, and a value of the wrong type or outside its range, is refused with Kafka's
// message ("Unknown topic config name: x"), as Kafka's INVALID_CONFIG.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "broker/result.h"

namespace kappa {

using TopicConfigs = std::map<std::string, std::string, std::less<>>;

// DescribeConfigs' config types (v3+), Kafka's numbering.
enum class ConfigType : int8_t {
  kBoolean = 1,
  kString = 2,
  kInt = 3,
  kLong = 5,
  kDouble = 6,
  kList = 7
};

struct TopicConfigDef {
  const char* name;
  ConfigType type;
  const char* broker_name;    // the broker setting that gives the default (Kafka's synonym)
  const char* kafka_default;  // Apache Kafka's default, for brokers that set none
  const char* doc;
};

// Every topic config this broker knows, sorted by name.
std::span<const TopicConfigDef> topic_config_defs();
const TopicConfigDef* find_topic_config(std::string_view name);

// Checks one override: kInvalidArgument with Kafka's wording when the name is unknown or the
// value is not of the config's type and range. A list value is normalized ("delete, compact"
// -> "compact,delete") into `normalized` when given.
Status validate_topic_config(std::string_view name, std::string_view value,
                             std::string* normalized = nullptr);

// The overrides parsed: what the log and the Kafka server act on. Unset fields fall back to
// the broker's defaults.
struct TopicSettings {
  std::optional<int64_t> retention_ms;
  std::optional<int64_t> retention_bytes;
  std::optional<int64_t> segment_bytes;
  std::optional<int32_t> max_message_bytes;
  bool log_append_time = false;
  std::optional<int64_t> delete_retention_ms;
  std::optional<int64_t> min_compaction_lag_ms;
  std::optional<double> min_cleanable_dirty_ratio;
  bool compact = false;  // cleanup.policy has "compact"
  bool retain = true;    // cleanup.policy has "delete"
  int32_t min_insync_replicas = 1;
  friend bool operator==(const TopicSettings&, const TopicSettings&) = default;
};
// REQUIRES: every override passed validate_topic_config.
TopicSettings parse_topic_settings(const TopicConfigs& configs);

// The stored form of a topic's overrides: "name=value" lines, sorted. parse_topic_configs
// checks every line and names the bad one ("<where>:3: ...").
std::string format_topic_configs(const TopicConfigs& configs);
Result<TopicConfigs> parse_topic_configs(std::string_view text, std::string_view where);

// The overrides of an in-memory log's topics and what they mean; a topic without any is
// absent. Thread safety: every method may be called from any thread.
class TopicConfigMap {
 public:
  // Replaces the topic's overrides whole; none forgets the topic.
  void set(std::string_view topic, const TopicConfigs& configs);
  TopicConfigs configs(std::string_view topic) const;
  TopicSettings settings(std::string_view topic) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::pair<TopicConfigs, TopicSettings>, std::less<>> map_;
};

}  // namespace kappa
