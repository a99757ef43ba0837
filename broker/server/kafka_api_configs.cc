// KafkaApi's config requests: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, and
// DescribeCluster (see kafka_api.h).
#include <algorithm>
#include <set>
#include <tuple>

#include "broker/protocol/error_codes.h"
#include "broker/server/kafka_api.h"

namespace kappa {

namespace err = kafka_error;
using namespace kafka;

namespace {

template <class Request>
Result<Request> parse(const RequestHeader& h, std::string_view body) {
  Request r;
  KAPPA_RETURN_IF_ERROR(decode(body, h.api_version, r));
  return r;
}

// The broker's own configs besides the topic defaults' synonyms, all read-only here.
struct BrokerConfig {
  std::string name;
  std::string value;
  ConfigType type;
};

std::string unknown_topic(std::string_view topic) {
  return "The topic '" + std::string(topic) + "' does not exist.";
}

// Kafka's check of a broker resource's name: this broker's id or "" (the cluster default).
bool is_this_broker(std::string_view name) { return name.empty() || name == "0"; }

std::string unexpected_broker(std::string_view name) {
  return "Unexpected broker id, expected 0 or empty string, but received " + std::string(name);
}

// cleanup.policy's items, for APPEND and SUBTRACT.
std::vector<std::string> list_items(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string item(value.substr(0, comma));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

}  // namespace

std::pair<std::string, int8_t> KafkaApi::topic_default(const TopicConfigDef& def) const {
  if (auto it = options_.topic_defaults.find(def.name); it != options_.topic_defaults.end()) {
    return {it->second, kStaticBrokerConfig};
  }
  if (std::string_view(def.name) == "max.message.bytes") {
    const std::string v = std::to_string(options_.max_message_bytes);
    return {v, v == def.kafka_default ? kDefaultConfig : kStaticBrokerConfig};
  }
  return {def.kafka_default, kDefaultConfig};
}

std::vector<CreateTopicsResponse::Config> KafkaApi::described_configs(
    const TopicConfigs& overrides) const {
  std::vector<CreateTopicsResponse::Config> out;
  for (const TopicConfigDef& def : topic_config_defs()) {
    auto& c = out.emplace_back();
    c.name = def.name;
    if (auto it = overrides.find(def.name); it != overrides.end()) {
      c.value = it->second;
      c.config_source = kDynamicTopicConfig;
    } else {
      std::tie(c.value, c.config_source) = topic_default(def);
    }
  }
  return out;
}

Result<std::string> KafkaApi::describe_configs(const RequestHeader& h, std::string_view body) {
  auto req = parse<DescribeConfigsRequest>(h, body);
  if (!req) return req.status();
  DescribeConfigsResponse r;
  const auto wanted = [](const DescribeConfigsRequest::Resource& res, std::string_view name) {
    return !res.configuration_keys ||
           std::find(res.configuration_keys->begin(), res.configuration_keys->end(), name) !=
               res.configuration_keys->end();
  };
  for (const auto& res : req->resources) {
    auto& out = r.results.emplace_back();
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    auto add = [&](std::string name, std::string value, int8_t source, bool read_only,
                   ConfigType type, const char* doc) -> DescribeConfigsResponse::Config& {
      auto& c = out.configs.emplace_back();
      c.name = std::move(name);
      c.value = std::move(value);
      c.config_source = source;
      c.is_default = source == kDefaultConfig;
      c.read_only = read_only;
      c.config_type = static_cast<int8_t>(type);
      if (req->include_documentation) c.documentation = doc;
      return c;
    };
    if (res.resource_type == kTopicResource) {
      if (Status s = validate_topic_name(res.resource_name); !s.is_ok()) {
        out.error_code = err::kInvalidTopicException;
        out.error_message = s.message();
        continue;
      }
      auto overrides = log_.topic_configs(res.resource_name);
      if (!overrides) {
        out.error_code = overrides.status().code() == StatusCode::kNotFound
                             ? err::kUnknownTopicOrPartition
                             : err::kUnknownServerError;
        out.error_message = overrides.status().code() == StatusCode::kNotFound
                                ? unknown_topic(res.resource_name)
                                : overrides.status().message();
        continue;
      }
      for (const TopicConfigDef& def : topic_config_defs()) {
        if (!wanted(res, def.name)) continue;
        const auto [dflt, dflt_source] = topic_default(def);
        auto it = overrides->find(def.name);
        const bool set = it != overrides->end();
        auto& c = add(def.name, set ? it->second : dflt,
                      set ? int8_t{kDynamicTopicConfig} : dflt_source, false, def.type, def.doc);
        if (!req->include_synonyms) continue;
        if (set) c.synonyms.push_back({def.name, it->second, kDynamicTopicConfig});
        c.synonyms.push_back({def.broker_name, dflt, dflt_source});
      }
    } else if (res.resource_type == kBrokerResource) {
      if (!is_this_broker(res.resource_name)) {
        out.error_code = err::kInvalidRequest;
        out.error_message = unexpected_broker(res.resource_name);
        continue;
      }
      std::vector<BrokerConfig> configs{
          {"auto.create.topics.enable", options_.auto_create_topics ? "true" : "false",
           ConfigType::kBoolean},
          {"broker.id", "0", ConfigType::kInt},
          {"num.partitions", std::to_string(options_.default_partitions), ConfigType::kInt},
      };
      std::set<std::string> seen;
      for (const TopicConfigDef& def : topic_config_defs()) {
        configs.push_back({def.broker_name, topic_default(def).first, def.type});
      }
      std::sort(configs.begin(), configs.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
      for (const BrokerConfig& bc : configs) {
        if (!wanted(res, bc.name) || !seen.insert(bc.name).second) continue;
        auto& c = add(bc.name, bc.value, kStaticBrokerConfig, true, bc.type,
                      "set at start (kappa broker's flags)");
        if (req->include_synonyms) c.synonyms.push_back({bc.name, bc.value, kStaticBrokerConfig});
      }
    } else {
      out.error_code = err::kInvalidRequest;
      out.error_message = "Unsupported resource type " + std::to_string(res.resource_type) +
                          ": this broker describes topics (2) and brokers (4)";
    }
  }
  return encode(r, h.api_version);
}

AlterConfigsResponse KafkaApi::alter(const AlterConfigsRequest& req, bool incremental) {
  AlterConfigsResponse r;
  for (const auto& res : req.resources) {
    auto& out = r.responses.emplace_back();
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    auto fail = [&](int16_t code, std::string message) {
      out.error_code = code;
      out.error_message = std::move(message);
    };
    std::set<std::string_view> names;
    for (const auto& c : res.configs) names.insert(c.name);
    if (names.size() != res.configs.size()) {
      fail(err::kInvalidRequest, "Error due to duplicate config keys");
      continue;
    }
    if (res.resource_type == kBrokerResource) {
      fail(err::kInvalidRequest,
           is_this_broker(res.resource_name)
               ? "this broker's configs are its start-up settings (kappa broker's flags); they "
                 "cannot be altered while it runs"
               : unexpected_broker(res.resource_name));
      continue;
    }
    if (res.resource_type != kTopicResource) {
      fail(err::kInvalidRequest, "Unsupported resource type " + std::to_string(res.resource_type) +
                                     ": this broker alters topics (2)");
      continue;
    }
    if (Status s = validate_topic_name(res.resource_name); !s.is_ok()) {
      fail(err::kInvalidTopicException, s.message());
      continue;
    }
    auto current = log_.topic_configs(res.resource_name);
    if (!current) {
      if (current.status().code() == StatusCode::kNotFound) {
        fail(err::kUnknownTopicOrPartition, unknown_topic(res.resource_name));
      } else {
        fail(err::kUnknownServerError, current.status().message());
      }
      continue;
    }
    TopicConfigs next = incremental ? *current : TopicConfigs{};
    for (const auto& c : res.configs) {
      const TopicConfigDef* def = find_topic_config(c.name);
      if (def == nullptr) {
        fail(err::kInvalidConfig, "Unknown topic config name: " + c.name);
        break;
      }
      const int8_t op = incremental ? c.operation : int8_t{kSet};
      if (op == kDelete) {
        next.erase(c.name);
        continue;
      }
      if (op != kSet && op != kAppend && op != kSubtract) {
        fail(err::kInvalidRequest,
             "Unknown operation type " + std::to_string(op) + " for " + c.name);
        break;
      }
      if (!c.value) {
        if (op == kSet && !incremental) continue;  // AlterConfigs: a null value sets nothing
        fail(err::kInvalidRequest, "Null value not supported for : " + c.name);
        break;
      }
      std::string value = *c.value;
      if (op == kAppend || op == kSubtract) {
        if (def->type != ConfigType::kList) {
          fail(err::kInvalidConfig, std::string("Config value ") +
                                        (op == kAppend ? "append" : "subtract") +
                                        " is not allowed for config key: " + c.name);
          break;
        }
        auto it = next.find(c.name);
        auto items = list_items(it != next.end() ? it->second : topic_default(*def).first);
        for (const std::string& item : list_items(value)) {
          auto at = std::find(items.begin(), items.end(), item);
          if (op == kAppend && at == items.end()) items.push_back(item);
          if (op == kSubtract && at != items.end()) items.erase(at);
        }
        value = join(items);
      }
      std::string normalized;
      if (Status s = validate_topic_config(c.name, value, &normalized); !s.is_ok()) {
        fail(err::kInvalidConfig, s.message());
        break;
      }
      next[c.name] = std::move(normalized);
    }
    if (out.error_code != err::kNone || req.validate_only || next == *current) continue;
    if (Status s = log_.set_topic_configs(res.resource_name, next); !s.is_ok()) {
      if (s.code() == StatusCode::kNotFound) {
        fail(err::kUnknownTopicOrPartition, unknown_topic(res.resource_name));
      } else {
        fail(s.code() == StatusCode::kUnavailable ? err::kKafkaStorageError
                                                  : err::kUnknownServerError,
             s.message());
      }
    }
  }
  return r;
}

Result<std::string> KafkaApi::alter_configs(const RequestHeader& h, std::string_view body) {
  auto req = parse<AlterConfigsRequest>(h, body);
  if (!req) return req.status();
  return encode(alter(*req, false), h.api_version);
}

Result<std::string> KafkaApi::incremental_alter_configs(const RequestHeader& h,
                                                        std::string_view body) {
  auto req = parse<IncrementalAlterConfigsRequest>(h, body);
  if (!req) return req.status();
  IncrementalAlterConfigsResponse r;
  static_cast<AlterConfigsResponse&>(r) = alter(*req, true);
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::describe_cluster(const RequestHeader& h, std::string_view body) {
  auto req = parse<DescribeClusterRequest>(h, body);
  if (!req) return req.status();
  DescribeClusterResponse r;
  r.endpoint_type = req->endpoint_type;
  r.cluster_id = options_.cluster_id;
  r.controller_id = 0;
  r.brokers.push_back({0, options_.advertised_host, options_.advertised_port, std::nullopt});
  if (req->include_cluster_authorized_operations)
    r.cluster_authorized_operations = kClusterOperations;
  return encode(r, h.api_version);
}

}  // namespace kappa
