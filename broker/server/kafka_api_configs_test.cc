// Topic configs through the Kafka API: CreateTopics' configs, DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs and DescribeCluster answered as Kafka answers them, and the configs
// taking effect, in memory and on disk (across a restart).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "broker/disk/disk_broker.h"
#include "broker/disk/temp_dir.h"
#include "broker/embedded/embedded_broker.h"
#include "broker/protocol/error_codes.h"
#include "broker/protocol/record_batch.h"
#include "broker/server/kafka_api.h"
#include "broker/server/record_log_batches.h"

namespace kappa {
namespace {

using namespace kafka;
namespace err = kafka_error;
namespace fs = std::filesystem;

RequestHeader header(int16_t key, int16_t version) {
  RequestHeader h;
  h.api_key = key;
  h.api_version = version;
  h.correlation_id = 1;
  h.client_id = "test";
  return h;
}

std::string batch_of(int n, int64_t first_ts = 1000, size_t value_bytes = 2) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back(std::string(value_bytes, 'a' + i % 26));
  std::vector<OutgoingRecord> records(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    records[static_cast<size_t>(i)].value = values[static_cast<size_t>(i)];
    records[static_cast<size_t>(i)].timestamp_ms = first_ts + i;
  }
  return encode_record_batch(0, records);
}

DiskBroker::Options disk_options(const fs::path& dir) {
  DiskBroker::Options o;
  o.dir = dir;
  o.fsync = DiskBroker::FsyncPolicy::kNever;
  return o;
}

// The API over either log, with the requests of these tests.
struct Api {
  KafkaApi& api;

  CreateTopicsResponse::Topic create(const std::string& topic,
                                     std::vector<CreateTopicsRequest::Config> configs) {
    CreateTopicsRequest req;
    req.topics.push_back({topic, 1, 1, {}, std::move(configs)});
    auto body = api.create_topics(header(kCreateTopics, 4), encode(req, 4));
    CreateTopicsResponse resp;
    EXPECT_TRUE(body && decode(*body, 4, resp).is_ok());
    return resp.topics.at(0);
  }
  DescribeConfigsResponse::Result describe(int8_t type, const std::string& name,
                                           int16_t version = 4, bool synonyms = false,
                                           std::optional<std::vector<std::string>> keys = {}) {
    DescribeConfigsRequest req{{{type, name, std::move(keys)}}, synonyms, false};
    auto body = api.describe_configs(header(kDescribeConfigs, version), encode(req, version));
    DescribeConfigsResponse resp;
    EXPECT_TRUE(body && decode(*body, version, resp).is_ok());
    return resp.results.at(0);
  }
  // name -> (value, source) of a topic's described configs.
  std::map<std::string, std::pair<std::string, int8_t>> configs(const std::string& topic) {
    std::map<std::string, std::pair<std::string, int8_t>> out;
    for (const auto& c : describe(kTopicResource, topic).configs)
      out[c.name] = {c.value.value_or("(null)"), c.config_source};
    return out;
  }
  AlterConfigsResponse::Result incremental(const std::string& topic,
                                           std::vector<AlterConfigsRequest::Config> configs,
                                           bool validate_only = false,
                                           int8_t type = kTopicResource) {
    IncrementalAlterConfigsRequest req;
    req.resources.push_back({type, topic, std::move(configs)});
    req.validate_only = validate_only;
    auto body = api.incremental_alter_configs(header(kIncrementalAlterConfigs, 1), encode(req, 1));
    IncrementalAlterConfigsResponse resp;
    EXPECT_TRUE(body && decode(*body, 1, resp).is_ok());
    return resp.responses.at(0);
  }
  AlterConfigsResponse::Result replace(const std::string& topic,
                                       std::vector<AlterConfigsRequest::Config> configs) {
    AlterConfigsRequest req;
    req.resources.push_back({kTopicResource, topic, std::move(configs)});
    auto body = api.alter_configs(header(kAlterConfigs, 2), encode(req, 2));
    AlterConfigsResponse resp;
    EXPECT_TRUE(body && decode(*body, 2, resp).is_ok());
    return resp.responses.at(0);
  }
  ProduceResponse::Partition produce(const std::string& topic, const std::string& records,
                                     int16_t acks = -1) {
    ProduceRequest req;
    req.acks = acks;
    req.timeout_ms = 1000;
    req.topics.push_back({topic, {{0, std::string_view(records)}}});
    auto out = api.produce(header(kProduce, 8), encode(req, 8));
    ProduceResponse resp;
    EXPECT_TRUE(out);
    if (!out) return {};
    EXPECT_TRUE(decode(api.finish_produce(*out, {}), 8, resp).is_ok());
    return resp.topics.at(0).partitions.at(0);
  }
};

struct MemoryRig {
  EmbeddedBroker broker;
  RecordLogBatches batches{broker};
  KafkaApi kafka{batches, KafkaApi::Options{}};
  Api api{kafka};
};

TEST(KafkaApiConfigs, CreateTopicsAppliesItsConfigsAndRefusesBadOnes) {
  MemoryRig rig;
  EXPECT_EQ(rig.api.create("t", {{"retention.ms", "1000"}, {"cleanup.policy", "delete,compact"}})
                .error_code,
            err::kNone);
  auto bad = rig.api.create("u", {{"retention.mss", "1"}});
  EXPECT_EQ(bad.error_code, err::kInvalidConfig);
  EXPECT_EQ(bad.error_message, "Unknown topic config name: retention.mss");
  EXPECT_FALSE(rig.broker.partition_count("u")) << "a refused topic is not created";
  bad = rig.api.create("v", {{"segment.bytes", "big"}});
  EXPECT_EQ(bad.error_code, err::kInvalidConfig);
  EXPECT_EQ(bad.error_message,
            "Invalid value big for configuration segment.bytes: Not a number of type INT");

  auto c = rig.api.configs("t");
  EXPECT_EQ(c["retention.ms"], std::make_pair(std::string("1000"), int8_t{kDynamicTopicConfig}));
  EXPECT_EQ(c["cleanup.policy"],
            std::make_pair(std::string("compact,delete"), int8_t{kDynamicTopicConfig}));
  EXPECT_EQ(c["segment.bytes"], std::make_pair(std::string("1073741824"), int8_t{kDefaultConfig}));
  EXPECT_EQ(c.size(), topic_config_defs().size());
}

CreateTopicsResponse create_topics(KafkaApi& api, const CreateTopicsRequest& req, int16_t version) {
  auto body = api.create_topics(header(kCreateTopics, version), encode(req, version));
  CreateTopicsResponse resp;
  EXPECT_TRUE(body) << body.status().to_string();
  if (body) {
    EXPECT_TRUE(decode(*body, version, resp).is_ok());
  }
  return resp;
}

// CreateTopics v5+ answers what each topic was created with: its partition count and
// replication factor (the broker's defaults resolved), and its configs as DescribeConfigs
// describes them; v7 its id, the zero id here. A topic not created has -1, -1 and no configs.
TEST(KafkaApiConfigs, CreateTopicsV5AndLaterDescribeTheCreatedTopic) {
  MemoryRig rig;
  CreateTopicsRequest req;
  req.topics.push_back({"t", -1, -1, {}, {{"retention.ms", "1000"}}});
  req.topics.push_back({"replicated", 1, 3, {}, {}});
  req.topics.push_back({"bad", 1, 1, {}, {{"retention.mss", "1"}}});
  for (int16_t v : {5, 6, 7}) {
    SCOPED_TRACE("v" + std::to_string(v));
    req.topics[0].name = "t" + std::to_string(v);
    auto resp = create_topics(rig.kafka, req, v);
    ASSERT_EQ(resp.topics.size(), 3u);
    const auto& t = resp.topics[0];
    EXPECT_EQ(t.error_code, err::kNone);
    EXPECT_TRUE(t.topic_id.is_zero());
    EXPECT_EQ(t.num_partitions, 1) << "num.partitions, for -1";
    EXPECT_EQ(t.replication_factor, 1) << "the one broker, for -1";
    std::map<std::string, std::pair<std::string, int8_t>> configs;
    for (const auto& c : t.configs) {
      EXPECT_FALSE(c.read_only) << c.name;
      EXPECT_FALSE(c.is_sensitive) << c.name;
      configs[c.name] = {c.value.value_or("(null)"), c.config_source};
    }
    EXPECT_EQ(configs, rig.api.configs(t.name)) << "as DescribeConfigs describes the topic";
    EXPECT_EQ(configs["retention.ms"],
              std::make_pair(std::string("1000"), int8_t{kDynamicTopicConfig}));
    for (size_t i : {1, 2}) {
      const auto& refused = resp.topics[i];
      EXPECT_NE(refused.error_code, err::kNone) << refused.name;
      EXPECT_EQ(refused.num_partitions, -1) << refused.name;
      EXPECT_EQ(refused.replication_factor, -1) << refused.name;
      EXPECT_TRUE(refused.configs.empty()) << refused.name;
    }
    auto again = create_topics(rig.kafka, req, v);
    EXPECT_EQ(again.topics[0].error_code, err::kTopicAlreadyExists);
    EXPECT_EQ(again.topics[0].num_partitions, -1);
    EXPECT_TRUE(again.topics[0].configs.empty());
  }
  // validate_only: the same answer, and nothing created.
  CreateTopicsRequest check;
  check.topics.push_back({"w", 3, 1, {}, {{"cleanup.policy", "compact"}}});
  check.validate_only = true;
  auto checked = create_topics(rig.kafka, check, 7);
  EXPECT_EQ(checked.topics.at(0).error_code, err::kNone);
  EXPECT_EQ(checked.topics[0].num_partitions, 3);
  EXPECT_EQ(checked.topics[0].configs.size(), topic_config_defs().size());
  EXPECT_FALSE(rig.broker.partition_count("w"));
}

TEST(KafkaApiConfigs, DescribeConfigsAsKafkaAnswersIt) {
  MemoryRig rig;
  ASSERT_EQ(rig.api.create("t", {{"retention.ms", "1000"}}).error_code, err::kNone);
  // v0 says "default" with a flag, v1+ with the source; v1+ lists synonyms when asked.
  auto v0 = rig.api.describe(kTopicResource, "t", 0);
  ASSERT_EQ(v0.error_code, err::kNone);
  for (const auto& cfg : v0.configs) EXPECT_EQ(cfg.is_default, cfg.name != "retention.ms");
  auto v1 =
      rig.api.describe(kTopicResource, "t", 1, true, std::vector<std::string>{"retention.ms"});
  ASSERT_EQ(v1.configs.size(), 1u);
  ASSERT_EQ(v1.configs[0].synonyms.size(), 2u);
  EXPECT_EQ(v1.configs[0].synonyms[0].source, kDynamicTopicConfig);
  EXPECT_EQ(v1.configs[0].synonyms[1].name, "log.retention.ms");
  // Unknown keys are left out, as Kafka does.
  EXPECT_TRUE(rig.api.describe(kTopicResource, "t", 4, false, std::vector<std::string>{"nope"})
                  .configs.empty());

  auto missing = rig.api.describe(kTopicResource, "nope");
  EXPECT_EQ(missing.error_code, err::kUnknownTopicOrPartition);
  EXPECT_EQ(missing.error_message, "The topic 'nope' does not exist.");
  EXPECT_EQ(rig.api.describe(kTopicResource, "bad name!").error_code, err::kInvalidTopicException);

  auto broker = rig.api.describe(kBrokerResource, "0");
  ASSERT_EQ(broker.error_code, err::kNone);
  bool saw_id = false;
  for (const auto& cfg : broker.configs) {
    EXPECT_TRUE(cfg.read_only) << cfg.name;
    if (cfg.name == "broker.id") saw_id = cfg.value == "0";
  }
  EXPECT_TRUE(saw_id);
  EXPECT_EQ(rig.api.describe(kBrokerResource, "").error_code, err::kNone);
  auto other = rig.api.describe(kBrokerResource, "7");
  EXPECT_EQ(other.error_code, err::kInvalidRequest);
  EXPECT_EQ(other.error_message,
            "Unexpected broker id, expected 0 or empty string, but received 7");
  EXPECT_EQ(rig.api.describe(32, "g").error_code, err::kInvalidRequest);
}

TEST(KafkaApiConfigs, TheBrokersOwnDefaultsAreStaticBrokerConfigs) {
  EmbeddedBroker broker;
  RecordLogBatches batches{broker};
  KafkaApi::Options o;
  o.topic_defaults["retention.ms"] = "-1";
  KafkaApi kafka{batches, o};
  Api api{kafka};
  ASSERT_EQ(api.create("t", {}).error_code, err::kNone);
  EXPECT_EQ(api.configs("t")["retention.ms"],
            std::make_pair(std::string("-1"), int8_t{kStaticBrokerConfig}));
}

TEST(KafkaApiConfigs, IncrementalAndWholeAlterations) {
  MemoryRig rig;
  ASSERT_EQ(rig.api.create("t", {{"retention.ms", "1000"}}).error_code, err::kNone);
  EXPECT_EQ(rig.api.incremental("t", {{"segment.bytes", kSet, "4096"}}).error_code, err::kNone);
  EXPECT_EQ(rig.api.configs("t")["segment.bytes"].first, "4096");
  EXPECT_EQ(rig.api.configs("t")["retention.ms"].first, "1000") << "SET keeps the others";
  // APPEND and SUBTRACT work on lists, starting from the default.
  EXPECT_EQ(rig.api.incremental("t", {{"cleanup.policy", kAppend, "compact"}}).error_code,
            err::kNone);
  EXPECT_EQ(rig.api.configs("t")["cleanup.policy"].first, "compact,delete");
  EXPECT_EQ(rig.api.incremental("t", {{"cleanup.policy", kSubtract, "delete"}}).error_code,
            err::kNone);
  EXPECT_EQ(rig.api.configs("t")["cleanup.policy"].first, "compact");
  auto not_list = rig.api.incremental("t", {{"retention.ms", kAppend, "1"}});
  EXPECT_EQ(not_list.error_code, err::kInvalidConfig);
  EXPECT_EQ(not_list.error_message,
            "Config value append is not allowed for config key: retention.ms");
  // A bad config leaves the whole resource as it was.
  auto bad = rig.api.incremental("t", {{"retention.ms", kSet, "5"}, {"x.y", kSet, "1"}});
  EXPECT_EQ(bad.error_code, err::kInvalidConfig);
  EXPECT_EQ(rig.api.configs("t")["retention.ms"].first, "1000");
  EXPECT_EQ(
      rig.api.incremental("t", {{"retention.ms", kSet, "5"}}, /*validate_only=*/true).error_code,
      err::kNone);
  EXPECT_EQ(rig.api.configs("t")["retention.ms"].first, "1000") << "validate_only";
  EXPECT_EQ(rig.api.incremental("t", {{"retention.ms", kSet, "1"}, {"retention.ms", kSet, "2"}})
                .error_code,
            err::kInvalidRequest);
  EXPECT_EQ(rig.api.incremental("t", {{"retention.ms", kDelete, std::nullopt}}).error_code,
            err::kNone);
  EXPECT_EQ(rig.api.configs("t")["retention.ms"].second, kDefaultConfig);
  EXPECT_EQ(rig.api.incremental("nope", {{"retention.ms", kSet, "1"}}).error_code,
            err::kUnknownTopicOrPartition);
  EXPECT_EQ(rig.api.incremental("0", {{"log.retention.ms", kSet, "1"}}, false, kBrokerResource)
                .error_code,
            err::kInvalidRequest);
  // AlterConfigs replaces the overrides whole.
  EXPECT_EQ(rig.api.replace("t", {{"max.message.bytes", kSet, "2000"}}).error_code, err::kNone);
  auto c = rig.api.configs("t");
  EXPECT_EQ(c["max.message.bytes"].second, kDynamicTopicConfig);
  EXPECT_EQ(c["segment.bytes"].second, kDefaultConfig);
  EXPECT_EQ(c["cleanup.policy"].second, kDefaultConfig);
}

TEST(KafkaApiConfigs, MaxMessageBytesAndMinInsyncReplicasTakeEffect) {
  MemoryRig rig;
  ASSERT_EQ(rig.api.create("t", {{"max.message.bytes", "200"}}).error_code, err::kNone);
  EXPECT_EQ(rig.api.produce("t", batch_of(2)).error_code, err::kNone);
  auto big = rig.api.produce("t", batch_of(2, 1000, 300));
  EXPECT_EQ(big.error_code, err::kMessageTooLarge);
  EXPECT_NE(big.error_message->find("max.message.bytes of t"), std::string::npos);
  EXPECT_EQ(rig.api
                .incremental("t", {{"max.message.bytes", kDelete, std::nullopt},
                                   {"min.insync.replicas", kSet, "2"}})
                .error_code,
            err::kNone);
  EXPECT_EQ(rig.api.produce("t", batch_of(2, 1000, 300), 1).error_code, err::kNone);
  auto all = rig.api.produce("t", batch_of(1), -1);
  EXPECT_EQ(all.error_code, err::kNotEnoughReplicas);
  EXPECT_EQ(*all.error_message,
            "The size of the current ISR Set(0) is insufficient to satisfy the min.isr "
            "requirement of 2 for partition t-0");
  EXPECT_EQ(rig.api.produce("t", batch_of(1), 1).error_code, err::kNone) << "acks=1 needs none";
  EXPECT_EQ(rig.broker.offsets("t", 0)->end, 5);
}

TEST(KafkaApiConfigs, ACompactedTopicRefusesRecordsWithoutAKey) {
  MemoryRig rig;
  ASSERT_EQ(rig.api.create("c", {{"cleanup.policy", "compact"}}).error_code, err::kNone);
  const auto keyless = rig.api.produce("c", batch_of(2));
  EXPECT_EQ(keyless.error_code, err::kInvalidRecord);
  EXPECT_EQ(keyless.error_message.value_or(""),
            "Compacted topic cannot accept message without key in topic partition c-0.");
  OutgoingRecord r;
  r.key = "k";
  r.value = "v";
  EXPECT_EQ(rig.api.produce("c", encode_record_batch(0, std::span<const OutgoingRecord>(&r, 1)))
                .error_code,
            err::kNone);
  EXPECT_EQ(rig.broker.offsets("c", 0)->end, 1);
  ASSERT_EQ(rig.api.create("d", {}).error_code, err::kNone);
  EXPECT_EQ(rig.api.produce("d", batch_of(2)).error_code, err::kNone) << "keys are optional there";
}

TEST(KafkaApiConfigs, LogAppendTimeStampsBatchesWithTheBrokersClock) {
  disk::TempDir tmp;
  auto broker = DiskBroker::open(disk_options(tmp.path()));
  ASSERT_TRUE(broker) << broker.status().message();
  KafkaApi kafka(**broker, {});
  Api api{kafka};
  ASSERT_EQ(api.create("t", {{"message.timestamp.type", "LogAppendTime"}}).error_code, err::kNone);
  const auto p = api.produce("t", batch_of(3, /*first_ts=*/1000));
  ASSERT_EQ(p.error_code, err::kNone);
  EXPECT_GT(p.log_append_time_ms, 1'600'000'000'000) << "the broker's clock, not the producer's";
  auto read = (*broker)->read_batches("t", 0, 0, 1 << 20);
  ASSERT_TRUE(read);
  auto header = check_record_batch(read->bytes);
  ASSERT_TRUE(header) << "the CRC matches the stamped batch: " << header.status().message();
  EXPECT_TRUE(header->log_append_time());
  EXPECT_EQ(header->max_timestamp, p.log_append_time_ms);
  auto records = (*broker)->fetch("t", 0, 0, {});
  ASSERT_TRUE(records);
  for (const auto& r : records->records) EXPECT_EQ(r.timestamp_ms, p.log_append_time_ms);
  // CreateTime (the default) keeps the producer's timestamps.
  ASSERT_EQ(api.create("c", {}).error_code, err::kNone);
  EXPECT_EQ(api.produce("c", batch_of(1, 1234)).log_append_time_ms, -1);
  EXPECT_EQ((*broker)->fetch("c", 0, 0, {})->records[0].timestamp_ms, 1234);
}

std::vector<fs::path> logs_of(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".log") out.push_back(e.path());
  return out;
}

TEST(DiskBrokerConfigs, ConfigsAreDurableAndSegmentBytesAndRetentionArePerTopic) {
  disk::TempDir tmp;
  const DiskBroker::Options o = disk_options(tmp.path());
  const std::string batch = batch_of(5, 1000, 50);
  {
    auto b = DiskBroker::open(o);
    ASSERT_TRUE(b) << b.status().message();
    ASSERT_TRUE((*b)->create_configured_topic("small", 1, {{"segment.bytes", "600"}}));
    ASSERT_TRUE((*b)->create_configured_topic(
        "kept", 1,
        {{"segment.bytes", "600"}, {"cleanup.policy", "compact"}, {"retention.ms", "10"}}));
    ASSERT_TRUE((*b)->create_topic("plain", 1));
    for (const char* t : {"small", "kept", "plain"}) {
      for (int i = 0; i < 10; ++i) ASSERT_TRUE((*b)->append_batch(t, 0, batch));
    }
    EXPECT_GE(logs_of(tmp.path() / "topics" / "small-0").size(), 4u);
    EXPECT_EQ(logs_of(tmp.path() / "topics" / "plain-0").size(), 1u);
    ASSERT_TRUE(
        (*b)->set_topic_configs("small", {{"segment.bytes", "600"}, {"retention.ms", "10"}}));
  }
  EXPECT_EQ(disk::read_file(tmp.path() / "configs" / "small.properties"),
            "retention.ms=10\nsegment.bytes=600\n");
  auto b = DiskBroker::open(o);
  ASSERT_TRUE(b) << b.status().message();
  EXPECT_EQ(*(*b)->topic_configs("small"),
            (TopicConfigs{{"retention.ms", "10"}, {"segment.bytes", "600"}}));
  EXPECT_TRUE((*b)->topic_configs("plain")->empty());
  // Retention by the topic's retention.ms; not for a compact-only topic, nor one without.
  ASSERT_TRUE((*b)->enforce_retention(/*now_ms=*/1'000'000));
  EXPECT_GT((*b)->offsets("small", 0)->earliest, 0);
  EXPECT_EQ((*b)->offsets("kept", 0)->earliest, 0);
  EXPECT_EQ((*b)->offsets("plain", 0)->earliest, 0);
  // Deleting the topic removes its configs: a new topic of the name starts with none.
  ASSERT_TRUE((*b)->delete_topic("small"));
  EXPECT_FALSE(fs::exists(tmp.path() / "configs" / "small.properties"));
  ASSERT_TRUE((*b)->create_topic("small", 1));
  EXPECT_TRUE((*b)->topic_configs("small")->empty());
  EXPECT_EQ((*b)->topic_configs("nope").status().code(), StatusCode::kNotFound);
}

TEST(DiskBrokerConfigs, OpenDropsConfigsOfNoTopicAndRefusesABadLine) {
  disk::TempDir tmp;
  const DiskBroker::Options o = disk_options(tmp.path());
  {
    auto b = DiskBroker::open(o);
    ASSERT_TRUE(b);
    ASSERT_TRUE((*b)->create_configured_topic("t", 1, {{"retention.ms", "5"}}));
  }
  // What a crash between a creation's config file and its partitions leaves; and a torn
  // replacement.
  std::ofstream(tmp.path() / "configs" / "ghost.properties") << "retention.ms=1\n";
  std::ofstream(tmp.path() / "configs" / "t.properties.tmp") << "retention.ms=";
  {
    auto b = DiskBroker::open(o);
    ASSERT_TRUE(b) << b.status().message();
    EXPECT_EQ((*b)->topic_configs("t")->at("retention.ms"), "5");
  }
  EXPECT_FALSE(fs::exists(tmp.path() / "configs" / "ghost.properties"));
  EXPECT_FALSE(fs::exists(tmp.path() / "configs" / "t.properties.tmp"));
  std::ofstream(tmp.path() / "configs" / "t.properties") << "retention.ms=5\nretention.ms=x\n";
  auto refused = DiskBroker::open(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
  EXPECT_NE(refused.status().message().find("t.properties:2: Invalid value x"), std::string::npos)
      << refused.status().message();
}

DeleteRecordsResponse::Partition delete_records(KafkaApi& api, const std::string& topic,
                                                int32_t partition, int64_t offset) {
  DeleteRecordsRequest req{{{topic, {{partition, offset}}}}, 1000};
  auto body = api.delete_records(header(kDeleteRecords, 2), encode(req, 2));
  DeleteRecordsResponse resp;
  EXPECT_TRUE(body && decode(*body, 2, resp).is_ok());
  return resp.topics.at(0).partitions.at(0);
}

TEST(KafkaApiDeleteRecords, MovesTheLogStartInMemory) {
  MemoryRig rig;
  ASSERT_EQ(rig.api.create("t", {}).error_code, err::kNone);
  ASSERT_EQ(rig.api.produce("t", batch_of(10)).error_code, err::kNone);
  auto p = delete_records(rig.kafka, "t", 0, 4);
  EXPECT_EQ(p.error_code, err::kNone);
  EXPECT_EQ(p.low_watermark, 4);
  EXPECT_EQ(rig.batches.offsets("t", 0)->earliest, 4);
  EXPECT_EQ(rig.batches.read_batches("t", 0, 2, 1 << 20).status().code(), StatusCode::kOutOfRange);
  auto read = rig.batches.read_batches("t", 0, 4, 1 << 20);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->log_start_offset, 4);
  EXPECT_EQ(delete_records(rig.kafka, "t", 0, 2).low_watermark, 4) << "never backwards";
  EXPECT_EQ(delete_records(rig.kafka, "t", 0, 11).error_code, err::kOffsetOutOfRange);
  EXPECT_EQ(delete_records(rig.kafka, "t", 0, -1).low_watermark, 10) << "-1: the high watermark";
  EXPECT_EQ(delete_records(rig.kafka, "t", 3, 1).error_code, err::kUnknownTopicOrPartition);
  EXPECT_EQ(delete_records(rig.kafka, "nope", 0, 1).error_code, err::kUnknownTopicOrPartition);
}

TEST(KafkaApiDeleteRecords, DeletesWholeSegmentsAndIsDurable) {
  disk::TempDir tmp;
  const DiskBroker::Options o = disk_options(tmp.path());
  const fs::path dir = tmp.path() / "topics" / "t-0";
  {
    auto b = DiskBroker::open(o);
    ASSERT_TRUE(b) << b.status().message();
    KafkaApi kafka(**b, {});
    Api api{kafka};
    ASSERT_EQ(api.create("t", {{"segment.bytes", "600"}}).error_code, err::kNone);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(api.produce("t", batch_of(5, 1000, 50)).error_code, 0);
    const size_t before = logs_of(dir).size();
    ASSERT_GE(before, 4u);
    auto p = delete_records(kafka, "t", 0, 23);  // inside the fifth batch
    EXPECT_EQ(p.error_code, err::kNone);
    EXPECT_EQ(p.low_watermark, 23);
    EXPECT_LT(logs_of(dir).size(), before) << "segments wholly below 23 are gone";
    auto read = (*b)->read_batches("t", 0, 23, 1 << 20);
    ASSERT_TRUE(read) << read.status().message();
    EXPECT_EQ(read->log_start_offset, 23);
    EXPECT_EQ((*b)->read_batches("t", 0, 22, 1 << 20).status().code(), StatusCode::kOutOfRange);
  }
  auto b = DiskBroker::open(o);
  ASSERT_TRUE(b) << b.status().message();
  EXPECT_EQ((*b)->offsets("t", 0)->earliest, 23)
      << "the log start inside a segment, after a restart";
  EXPECT_EQ((*b)->offsets("t", 0)->end, 50);
  EXPECT_EQ(*(*b)->offset_for_time("t", 0, 0), 23);
}

DescribeLogDirsResponse describe_log_dirs(
    KafkaApi& api, std::optional<std::vector<DescribeLogDirsRequest::Topic>> topics,
    int16_t version = 4) {
  DescribeLogDirsRequest req{std::move(topics)};
  auto body = api.describe_log_dirs(header(kDescribeLogDirs, version), encode(req, version));
  DescribeLogDirsResponse resp;
  EXPECT_TRUE(body) << body.status().to_string();
  if (body) {
    EXPECT_TRUE(decode(*body, version, resp).is_ok());
  }
  return resp;
}

// topic/partition -> size of a log dir's partitions, checking that each is a current log.
std::map<std::string, int64_t> sizes_of(const DescribeLogDirsResponse::Result& dir) {
  std::map<std::string, int64_t> out;
  for (const auto& t : dir.topics) {
    for (const auto& p : t.partitions) {
      EXPECT_EQ(p.offset_lag, 0) << t.name;
      EXPECT_FALSE(p.is_future_key) << t.name;
      out[partition_name(t.name, p.partition_index)] = p.partition_size;
    }
  }
  return out;
}

// In memory: one log dir that is no path, every partition with the bytes of its records' keys,
// values and headers, the volume unknown (-1).
TEST(KafkaApiDescribeLogDirs, InMemoryOneLogDirWithEveryPartition) {
  MemoryRig rig;
  CreateTopicsRequest create;
  create.topics.push_back({"t", 2, 1, {}, {}});
  create.topics.push_back({"u", 1, 1, {}, {}});
  ASSERT_TRUE(rig.kafka.create_topics(header(kCreateTopics, 4), encode(create, 4)));
  ASSERT_EQ(rig.api.produce("t", batch_of(3, 1000, 10)).error_code, err::kNone);

  auto all = describe_log_dirs(rig.kafka, std::nullopt);
  EXPECT_EQ(all.error_code, err::kNone);
  ASSERT_EQ(all.results.size(), 1u);
  const auto& dir = all.results[0];
  EXPECT_EQ(dir.error_code, err::kNone);
  EXPECT_EQ(dir.log_dir, kInMemoryLogDir);
  EXPECT_EQ(dir.total_bytes, -1);
  EXPECT_EQ(dir.usable_bytes, -1);
  EXPECT_EQ(sizes_of(dir), (std::map<std::string, int64_t>{{"t/0", 30}, {"t/1", 0}, {"u/0", 0}}));

  // Asked partitions only; an unknown topic or partition is left out, a topic with none too.
  auto some = describe_log_dirs(rig.kafka, std::vector<DescribeLogDirsRequest::Topic>{
                                               {"t", {0, 7}}, {"nope", {0}}, {"u", {}}});
  ASSERT_EQ(some.results.size(), 1u);
  EXPECT_EQ(sizes_of(some.results[0]), (std::map<std::string, int64_t>{{"t/0", 30}}));
  ASSERT_EQ(some.results[0].topics.size(), 1u);

  // Records below a DeleteRecords' log start are no longer counted.
  DeleteRecordsRequest del{{{"t", {{0, 1}}}}, 1000};
  ASSERT_TRUE(rig.kafka.delete_records(header(kDeleteRecords, 2), encode(del, 2)));
  EXPECT_EQ(sizes_of(describe_log_dirs(rig.kafka, std::nullopt, 0).results.at(0))["t/0"], 20)
      << "v0";
}

// On disk: the data directory, each partition's size the bytes of its .log segment files, and
// the volume's size as statvfs gives it.
TEST(KafkaApiDescribeLogDirs, OnDiskTheDataDirectoryAndItsSegmentFiles) {
  disk::TempDir tmp;
  auto b = DiskBroker::open(disk_options(tmp.path()));
  ASSERT_TRUE(b) << b.status().message();
  KafkaApi::Options o;
  o.log_dir = tmp.path().string();
  KafkaApi kafka(**b, o);
  Api api{kafka};
  ASSERT_EQ(api.create("t", {{"segment.bytes", "600"}}).error_code, err::kNone);
  const std::string batch = batch_of(5, 1000, 50);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(api.produce("t", batch).error_code, err::kNone);
  const fs::path dir = tmp.path() / "topics" / "t-0";
  auto on_disk = [&] {
    int64_t bytes = 0;
    for (const auto& f : logs_of(dir)) bytes += static_cast<int64_t>(fs::file_size(f));
    return bytes;
  };
  ASSERT_EQ(on_disk(), 10 * static_cast<int64_t>(batch.size()));

  for (int16_t v : {0, 2, 3, 4}) {
    auto r = describe_log_dirs(kafka, std::nullopt, v);
    ASSERT_EQ(r.results.size(), 1u) << "v" << v;
    EXPECT_EQ(r.results[0].log_dir, tmp.path().string());
    EXPECT_EQ(sizes_of(r.results[0]), (std::map<std::string, int64_t>{{"t/0", on_disk()}}))
        << "v" << v;
    if (v == 4) {
      EXPECT_GT(r.results[0].total_bytes, 0);
      EXPECT_GE(r.results[0].usable_bytes, 0);
      EXPECT_LE(r.results[0].usable_bytes, r.results[0].total_bytes);
    }
  }
  // DeleteRecords deletes the segments wholly below the new start: the size is what remains.
  ASSERT_EQ(delete_records(kafka, "t", 0, 23).error_code, err::kNone);
  ASSERT_LT(on_disk(), 10 * static_cast<int64_t>(batch.size()));
  EXPECT_EQ(sizes_of(describe_log_dirs(kafka, std::nullopt).results.at(0))["t/0"], on_disk());

  // A data directory that is gone cannot be measured: KAFKA_STORAGE_ERROR, as an offline dir.
  KafkaApi::Options gone;
  gone.log_dir = (tmp.path() / "no-such-dir").string();
  KafkaApi lost(**b, gone);
  auto r = describe_log_dirs(lost, std::nullopt);
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0].error_code, err::kKafkaStorageError);
  EXPECT_TRUE(r.results[0].topics.empty());
}

TEST(KafkaApiConfigs, DescribeClusterNamesThisBroker) {
  MemoryRig rig;
  auto body = rig.kafka.describe_cluster(header(kDescribeCluster, 1),
                                         encode(DescribeClusterRequest{false, 1}, 1));
  ASSERT_TRUE(body);
  DescribeClusterResponse r;
  ASSERT_TRUE(decode(*body, 1, r).is_ok());
  EXPECT_EQ(r.cluster_id, "kappa-harness");
  EXPECT_EQ(r.controller_id, 0);
  ASSERT_EQ(r.brokers.size(), 1u);
  EXPECT_EQ(r.brokers[0].port, 9092);
}

}  // namespace
}  // namespace kappa
