// KafkaApi without sockets: requests encoded as a client would, answered against the embedded
// broker, and hostile bodies fed to every handler.
#include "broker/server/kafka_api.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "broker/disk/descriptors.h"
#include "broker/disk/disk_broker.h"
#include "broker/disk/temp_dir.h"
#include "broker/embedded/embedded_broker.h"
#include "broker/protocol/crc32c.h"
#include "broker/protocol/error_codes.h"
#include "broker/protocol/record_batch.h"
#include "broker/server/record_log_batches.h"

namespace kappa {
namespace {

using namespace kafka;
namespace err = kafka_error;

RequestHeader header(int16_t key, int16_t version) {
  RequestHeader h;
  h.api_key = key;
  h.api_version = version;
  h.correlation_id = 1;
  h.client_id = "test";
  return h;
}

// A Produce v8 of `records` to one partition, answered at once (no fsync wait).
ProduceResponse produce_to(KafkaApi& api, const std::string& topic, int32_t partition,
                           const std::string& records, int16_t acks, bool* respond = nullptr) {
  ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = 1000;
  req.topics.push_back({topic, {{partition, std::string_view(records)}}});
  auto out = api.produce(header(kProduce, 8), encode(req, 8));
  ProduceResponse resp;
  EXPECT_TRUE(out) << out.status().to_string();
  if (!out) return resp;
  // Responses decode with the same description: the codec is symmetric.
  EXPECT_TRUE(decode(api.finish_produce(*out, {}), 8, resp).is_ok());
  if (respond != nullptr) *respond = out->respond;
  return resp;
}

struct Rig {
  EmbeddedBroker broker;
  RecordLogBatches batches{broker};
  KafkaApi api{batches, KafkaApi::Options{}};

  static RequestHeader header(int16_t key, int16_t version) { return kappa::header(key, version); }

  ProduceResponse produce(const std::string& topic, int32_t partition, const std::string& records,
                          int16_t acks = -1) {
    return produce_to(api, topic, partition, records, acks, &produced_respond);
  }
  bool produced_respond = true;
};

std::string batch_of(int n, int64_t first_ts = 1000) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back("v" + std::to_string(i));
  std::vector<OutgoingRecord> records(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    records[static_cast<size_t>(i)].value = values[static_cast<size_t>(i)];
    records[static_cast<size_t>(i)].timestamp_ms = first_ts + i;
  }
  return encode_record_batch(0, records);
}

// Marks a batch as an idempotent producer's (id, epoch, base sequence) and fixes its CRC.
std::string idempotent(std::string batch, int64_t producer_id, int32_t sequence,
                       int16_t epoch = 0) {
  auto put = [&](size_t at, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      batch[at + static_cast<size_t>(i)] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
  };
  put(43, static_cast<uint64_t>(producer_id), 8);
  put(51, static_cast<uint16_t>(epoch), 2);
  put(53, static_cast<uint32_t>(sequence), 4);
  put(17, crc32c(std::string_view(batch).substr(21)), 4);
  return batch;
}

TEST(KafkaApiTest, ProduceAppendsAndAnswersTheBaseOffset) {
  Rig rig;
  auto r = rig.produce("events", 0, batch_of(3));
  ASSERT_EQ(r.topics.size(), 1u);
  EXPECT_EQ(r.topics[0].partitions[0].error_code, err::kNone);
  EXPECT_EQ(r.topics[0].partitions[0].base_offset, 0);
  r = rig.produce("events", 0, batch_of(2));
  EXPECT_EQ(r.topics[0].partitions[0].base_offset, 3);
  EXPECT_EQ(rig.broker.offsets("events", 0)->end, 5);
}

TEST(KafkaApiTest, ACorruptBatchFailsItsPartitionAndStoresNothingOfIt) {
  Rig rig;
  std::string two = batch_of(2) + batch_of(2);
  two[two.size() - 1] ^= 0x01;  // the second batch's last byte: its CRC no longer matches
  auto r = rig.produce("events", 0, two);
  const auto& p = r.topics[0].partitions[0];
  EXPECT_EQ(p.error_code, err::kCorruptMessage);
  ASSERT_TRUE(p.error_message.has_value());
  EXPECT_NE(p.error_message->find("batch at byte " + std::to_string(batch_of(2).size())),
            std::string::npos)
      << *p.error_message;
  EXPECT_NE(p.error_message->find("CRC-32C"), std::string::npos) << *p.error_message;
  EXPECT_EQ(rig.broker.offsets("events", 0)->end, 0)
      << "the first, valid batch is not stored either";
}

TEST(KafkaApiTest, UnknownPartitionAndAcksZero) {
  Rig rig;
  auto r = rig.produce("events", 7, batch_of(1));
  EXPECT_EQ(r.topics[0].partitions[0].error_code, err::kUnknownTopicOrPartition);
  rig.produce("events", 0, batch_of(1), 0);
  EXPECT_FALSE(rig.produced_respond) << "acks=0 has no response";
  EXPECT_EQ(rig.broker.offsets("events", 0)->end, 1);
}

TEST(KafkaApiTest, AnIdempotentRetryGetsTheFirstOffsetAndAGapIsRefused) {
  Rig rig;
  auto first = rig.produce("events", 0, idempotent(batch_of(2), 77, 0));
  EXPECT_EQ(first.topics[0].partitions[0].base_offset, 0);
  auto retry = rig.produce("events", 0, idempotent(batch_of(2), 77, 0));
  EXPECT_EQ(retry.topics[0].partitions[0].error_code, err::kNone);
  EXPECT_EQ(retry.topics[0].partitions[0].base_offset, 0);
  EXPECT_EQ(rig.broker.offsets("events", 0)->end, 2) << "the retry is not stored twice";
  auto next = rig.produce("events", 0, idempotent(batch_of(1), 77, 2));
  EXPECT_EQ(next.topics[0].partitions[0].base_offset, 2);
  auto gap = rig.produce("events", 0, idempotent(batch_of(1), 77, 9));
  EXPECT_EQ(gap.topics[0].partitions[0].error_code, err::kOutOfOrderSequenceNumber);
  EXPECT_EQ(rig.broker.offsets("events", 0)->end, 3);
}

// The producer state lives in the log: after a restart on the same data directory (kill -9 or
// a clean stop alike), a retry of the last batches is still a duplicate, the next sequence is
// still expected, and an older epoch is still fenced.
TEST(KafkaApiTest, AnIdempotentRetryAfterARestartIsAnsweredWithItsFirstOffset) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("kafka_api_test_restart_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  DiskBroker::Options o;
  o.dir = dir;
  o.fsync = DiskBroker::FsyncPolicy::kNever;
  const std::string first = idempotent(batch_of(2), 77, 0, 1);
  const std::string second = idempotent(batch_of(3), 77, 2, 1);
  {
    auto broker = DiskBroker::open(o);
    ASSERT_TRUE(broker) << broker.status().to_string();
    KafkaApi api(**broker, {});
    EXPECT_EQ(produce_to(api, "events", 0, first, -1).topics[0].partitions[0].base_offset, 0);
    EXPECT_EQ(produce_to(api, "events", 0, second, -1).topics[0].partitions[0].base_offset, 2);
  }
  auto broker = DiskBroker::open(o);
  ASSERT_TRUE(broker) << broker.status().to_string();
  KafkaApi api(**broker, {});
  auto retry = produce_to(api, "events", 0, first, -1).topics[0].partitions[0];
  EXPECT_EQ(retry.error_code, err::kNone);
  EXPECT_EQ(retry.base_offset, 0);
  retry = produce_to(api, "events", 0, second, -1).topics[0].partitions[0];
  EXPECT_EQ(retry.base_offset, 2);
  EXPECT_EQ((*broker)->offsets("events", 0)->end, 5) << "neither retry is stored twice";
  auto gap =
      produce_to(api, "events", 0, idempotent(batch_of(1), 77, 9, 1), -1).topics[0].partitions[0];
  EXPECT_EQ(gap.error_code, err::kOutOfOrderSequenceNumber);
  auto fenced =
      produce_to(api, "events", 0, idempotent(batch_of(1), 77, 5, 0), -1).topics[0].partitions[0];
  EXPECT_EQ(fenced.error_code, err::kInvalidProducerEpoch);
  auto next =
      produce_to(api, "events", 0, idempotent(batch_of(1), 77, 5, 1), -1).topics[0].partitions[0];
  EXPECT_EQ(next.error_code, err::kNone);
  EXPECT_EQ(next.base_offset, 5);
  broker->reset();
  std::filesystem::remove_all(dir);
}

TEST(KafkaApiTest, FetchReturnsStoredRecordsAndRefusesOffsetsOutOfRange) {
  Rig rig;
  rig.produce("events", 0, batch_of(5));
  FetchRequest req;
  req.max_wait_ms = 0;
  req.topics.push_back({"events", {{0, -1, 2, -1, 1 << 20}, {0, -1, 9, -1, 1 << 20}}});
  auto st = rig.api.parse_fetch(Rig::header(kFetch, 11), encode(req, 11));
  ASSERT_TRUE(st);
  auto got = rig.api.read_fetch(*st);
  EXPECT_TRUE(got.ready);
  FetchResponse resp;
  auto body = got.flatten();
  ASSERT_TRUE(body);
  ASSERT_TRUE(decode(*body, 11, resp).is_ok());
  const auto& ok = resp.topics[0].partitions[0];
  EXPECT_EQ(ok.error_code, err::kNone);
  EXPECT_EQ(ok.high_watermark, 5);
  size_t used = 0;
  auto batch = decode_record_batch(*ok.records, used);
  ASSERT_TRUE(batch) << batch.status().to_string();
  EXPECT_EQ(batch->base_offset, 2);
  ASSERT_EQ(batch->records.size(), 3u);
  EXPECT_EQ(batch->records[0].value, "v2");
  EXPECT_EQ(resp.topics[0].partitions[1].error_code, err::kOffsetOutOfRange);
}

TEST(KafkaApiTest, ListOffsetsByTimeGivesTheFirstAtOrAfterOrMinusOne) {
  Rig rig;
  rig.produce("events", 0, batch_of(5, 1000));
  ListOffsetsRequest req;
  req.topics.push_back({"events", {{0, -1, 1003, 1}}});
  ListOffsetsResponse resp;
  auto body = rig.api.list_offsets(Rig::header(kListOffsets, 5), encode(req, 5));
  ASSERT_TRUE(body);
  ASSERT_TRUE(decode(*body, 5, resp).is_ok());
  EXPECT_EQ(resp.topics[0].partitions[0].offset, 3);
  EXPECT_EQ(resp.topics[0].partitions[0].timestamp, 1003);
  req.topics[0].partitions[0].timestamp = 5000;
  body = rig.api.list_offsets(Rig::header(kListOffsets, 5), encode(req, 5));
  ASSERT_TRUE(decode(*body, 5, resp = {}).is_ok());
  EXPECT_EQ(resp.topics[0].partitions[0].offset, -1);
}

std::string batch_at_times(const std::vector<int64_t>& timestamps) {
  std::vector<OutgoingRecord> records(timestamps.size());
  for (size_t i = 0; i < timestamps.size(); ++i) {
    records[i].value = "v";
    records[i].timestamp_ms = timestamps[i];
  }
  return encode_record_batch(0, records);
}

ListOffsetsResponse::Partition list_offset(KafkaApi& api, int64_t timestamp, int16_t version) {
  ListOffsetsRequest req;
  req.topics.push_back({"events", {{0, -1, timestamp, 1}}});
  ListOffsetsResponse resp;
  auto body = api.list_offsets(header(kListOffsets, version), encode(req, version));
  EXPECT_TRUE(body) << body.status().to_string();
  if (!body) return {};
  EXPECT_TRUE(decode(*body, version, resp).is_ok());
  return resp.topics.at(0).partitions.at(0);
}

// ListOffsets -3 (v7+, KIP-734): the offset and timestamp of the record with the largest
// timestamp, the first of them when several share it; -1/-1 for an empty partition. The same on
// the embedded log and on the disk broker, across batches whose records are out of order.
TEST(KafkaApiTest, ListOffsetsMaxTimestampGivesTheRecordWithTheLargestTimestamp) {
  disk::TempDir dir("kafka_api_max_ts");
  DiskBroker::Options o;
  o.dir = dir.path();
  o.fsync = DiskBroker::FsyncPolicy::kNever;
  auto disk = DiskBroker::open(o);
  ASSERT_TRUE(disk) << disk.status().to_string();
  Rig rig;
  KafkaApi on_disk(**disk, {});
  for (KafkaApi* api : {&rig.api, &on_disk}) {
    ASSERT_TRUE(api->log().create_topic("events", 1).is_ok());
    for (int16_t v : {7, 8}) {
      auto empty = list_offset(*api, -3, v);
      EXPECT_EQ(empty.error_code, err::kNone);
      EXPECT_EQ(empty.offset, -1);
      EXPECT_EQ(empty.timestamp, -1);
    }
    produce_to(*api, "events", 0, batch_at_times({1000, 5000, 3000, 5000}), -1);
    produce_to(*api, "events", 0, batch_at_times({2000, 4000}), -1);
    for (int16_t v : {7, 8}) {
      auto max = list_offset(*api, -3, v);
      EXPECT_EQ(max.error_code, err::kNone) << "v" << v;
      EXPECT_EQ(max.offset, 1) << "v" << v;
      EXPECT_EQ(max.timestamp, 5000) << "v" << v;
      EXPECT_EQ(list_offset(*api, -1, v).offset, 6);
      EXPECT_EQ(list_offset(*api, -2, v).offset, 0);
    }
    EXPECT_EQ(list_offset(*api, -4, 8).offset, 0) << "the local log start is the log start";
    produce_to(*api, "events", 0, batch_at_times({9000}), -1);
    auto later = list_offset(*api, -3, 8);
    EXPECT_EQ(later.offset, 6);
    EXPECT_EQ(later.timestamp, 9000);
  }
}

template <class Response, class Request>
Response ask(KafkaApi& api, int16_t key, int16_t version, const Request& req,
             Result<std::string> (KafkaApi::*handler)(const RequestHeader&, std::string_view,
                                                      int64_t)) {
  Response resp;
  auto body = (api.*handler)(header(key, version), encode(req, version), 0);
  EXPECT_TRUE(body) << body.status().to_string();
  if (body) {
    EXPECT_TRUE(decode(*body, version, resp).is_ok());
  }
  return resp;
}

// ConsumerProtocolSubscription v0 of one topic, as a consumer's JoinGroup carries it.
std::string subscription_of(const std::string& topic) {
  std::string out("\x00\x00\x00\x00\x00\x01", 6);
  out.push_back(static_cast<char>(topic.size() >> 8));
  out.push_back(static_cast<char>(topic.size()));
  return out + topic + std::string("\xff\xff\xff\xff", 4);
}

// ListGroups, DescribeGroups, DeleteGroups and OffsetDelete on the disk broker, with the error
// codes Kafka's coordinator answers, and deletions that a restart does not undo.
TEST(KafkaApiTest, GroupAdministrationAsKafkasCoordinatorAnswersIt) {
  disk::TempDir dir("kafka_api_groups");
  DiskBroker::Options o;
  o.dir = dir.path();
  o.fsync = DiskBroker::FsyncPolicy::kAlways;
  auto disk = DiskBroker::open(o);
  ASSERT_TRUE(disk) << disk.status().to_string();
  auto api = std::make_unique<KafkaApi>(**disk, KafkaApi::Options{});
  ASSERT_TRUE((*disk)->create_topic("events", 2).is_ok());
  ASSERT_TRUE((*disk)->create_topic("other", 1).is_ok());
  // "offsets": committed outside any membership; "live": one member, Stable, on "events".
  OffsetCommitRequest commit;
  commit.group_id = "offsets";
  commit.topics.push_back({"events", {{0, 5, -1, -1, std::nullopt}, {1, 6, -1, -1, std::nullopt}}});
  commit.topics.push_back({"other", {{0, 7, -1, -1, std::nullopt}}});
  ASSERT_TRUE(api->offset_commit(header(kOffsetCommit, 7), encode(commit, 7), 0));
  std::string joined;
  JoinGroupRequest join{
      "live", 10000, 10000, "", std::nullopt, "consumer", {{"range", subscription_of("events")}}};
  ASSERT_TRUE(api->join_group(
                     header(kJoinGroup, 3), encode(join, 3), 0, [&](std::string b) { joined = b; },
                     "/10.1.2.3")
                  .is_ok());
  JoinGroupResponse jr;
  ASSERT_TRUE(decode(joined, 3, jr).is_ok());
  ASSERT_EQ(jr.error_code, err::kNone);
  std::string synced;
  SyncGroupRequest sync{
      "live", jr.generation_id, jr.member_id, std::nullopt, {{jr.member_id, "assignment"}}};
  ASSERT_TRUE(
      api->sync_group(header(kSyncGroup, 3), encode(sync, 3), 0, [&](std::string b) { synced = b; })
          .is_ok());
  ASSERT_FALSE(synced.empty());

  auto listed =
      ask<ListGroupsResponse>(*api, kListGroups, 4, ListGroupsRequest{}, &KafkaApi::list_groups);
  ASSERT_EQ(listed.groups.size(), 2u);
  EXPECT_EQ(listed.groups[0].group_id, "live");
  EXPECT_EQ(listed.groups[0].protocol_type, "consumer");
  EXPECT_EQ(listed.groups[0].group_state, "Stable");
  EXPECT_EQ(listed.groups[1].group_id, "offsets");
  EXPECT_EQ(listed.groups[1].group_state, "Empty");
  ListGroupsRequest empty_only{{"empty"}, {}};  // states match whatever their case
  listed = ask<ListGroupsResponse>(*api, kListGroups, 4, empty_only, &KafkaApi::list_groups);
  ASSERT_EQ(listed.groups.size(), 1u);
  EXPECT_EQ(listed.groups[0].group_id, "offsets");
  ListGroupsRequest consumer_type{{}, {"consumer"}};
  EXPECT_TRUE(ask<ListGroupsResponse>(*api, kListGroups, 5, consumer_type, &KafkaApi::list_groups)
                  .groups.empty())
      << "every group here is of the classic type";

  DescribeGroupsRequest describe{{"live", "offsets", "nobody"}, false};
  auto described =
      ask<DescribeGroupsResponse>(*api, kDescribeGroups, 5, describe, &KafkaApi::describe_groups);
  ASSERT_EQ(described.groups.size(), 3u);
  EXPECT_EQ(described.groups[0].group_state, "Stable");
  EXPECT_EQ(described.groups[0].protocol_data, "range");
  ASSERT_EQ(described.groups[0].members.size(), 1u);
  EXPECT_EQ(described.groups[0].members[0].member_id, jr.member_id);
  EXPECT_EQ(described.groups[0].members[0].client_id, "test");
  EXPECT_EQ(described.groups[0].members[0].client_host, "/10.1.2.3");
  EXPECT_EQ(described.groups[0].members[0].member_metadata, subscription_of("events"));
  EXPECT_EQ(described.groups[0].members[0].member_assignment, "assignment");
  EXPECT_EQ(described.groups[1].group_state, "Empty");
  EXPECT_EQ(described.groups[1].protocol_type, "");
  EXPECT_EQ(described.groups[2].error_code, err::kNone);
  EXPECT_EQ(described.groups[2].group_state, "Dead");

  // OffsetDelete: a live consumer's subscribed topic stays; unknown partitions are named.
  OffsetCommitRequest live_commit;
  live_commit.group_id = "live";
  live_commit.generation_id = jr.generation_id;
  live_commit.member_id = jr.member_id;
  live_commit.topics.push_back({"events", {{0, 1, -1, -1, std::nullopt}}});
  live_commit.topics.push_back({"other", {{0, 2, -1, -1, std::nullopt}}});
  ASSERT_TRUE(api->offset_commit(header(kOffsetCommit, 7), encode(live_commit, 7), 0));
  OffsetDeleteRequest od{"live", {{"events", {0}}, {"other", {0, 9}}, {"missing", {0}}}};
  auto odr = ask<OffsetDeleteResponse>(*api, kOffsetDelete, 0, od, &KafkaApi::offset_delete);
  EXPECT_EQ(odr.error_code, err::kNone);
  ASSERT_EQ(odr.topics.size(), 3u);
  EXPECT_EQ(odr.topics[0].partitions[0].error_code, err::kGroupSubscribedToTopic);
  EXPECT_EQ(odr.topics[1].partitions[0].error_code, err::kNone);
  EXPECT_EQ(odr.topics[1].partitions[1].error_code, err::kUnknownTopicOrPartition);
  EXPECT_EQ(odr.topics[2].partitions[0].error_code, err::kUnknownTopicOrPartition);
  EXPECT_EQ((*disk)->group_offsets("live", "events")->size(), 1u);
  EXPECT_TRUE((*disk)->group_offsets("live", "other")->empty());
  EXPECT_EQ(ask<OffsetDeleteResponse>(*api, kOffsetDelete, 0, OffsetDeleteRequest{"", {}},
                                      &KafkaApi::offset_delete)
                .error_code,
            err::kInvalidGroupId);
  EXPECT_EQ(
      ask<OffsetDeleteResponse>(*api, kOffsetDelete, 0, OffsetDeleteRequest{"nobody", od.topics},
                                &KafkaApi::offset_delete)
          .error_code,
      err::kGroupIdNotFound);
  od = {"offsets", {{"other", {0}}}};
  EXPECT_EQ(ask<OffsetDeleteResponse>(*api, kOffsetDelete, 0, od, &KafkaApi::offset_delete)
                .topics[0]
                .partitions[0]
                .error_code,
            err::kNone);

  DeleteGroupsRequest del{{"live", "offsets", "nobody"}};
  auto deleted = ask<DeleteGroupsResponse>(*api, kDeleteGroups, 2, del, &KafkaApi::delete_groups);
  ASSERT_EQ(deleted.results.size(), 3u);
  EXPECT_EQ(deleted.results[0].error_code, err::kNonEmptyGroup);
  EXPECT_EQ(deleted.results[1].error_code, err::kNone);
  EXPECT_EQ(deleted.results[2].error_code, err::kGroupIdNotFound);
  deleted = ask<DeleteGroupsResponse>(*api, kDeleteGroups, 0, DeleteGroupsRequest{{"offsets"}},
                                      &KafkaApi::delete_groups);
  EXPECT_EQ(deleted.results[0].error_code, err::kGroupIdNotFound) << "deleted already";

  // A restart (the coordinator forgets "live"'s membership; its remaining offset stays).
  api.reset();
  disk->reset();
  disk = DiskBroker::open(o);
  ASSERT_TRUE(disk) << disk.status().to_string();
  api = std::make_unique<KafkaApi>(**disk, KafkaApi::Options{});
  listed =
      ask<ListGroupsResponse>(*api, kListGroups, 3, ListGroupsRequest{}, &KafkaApi::list_groups);
  ASSERT_EQ(listed.groups.size(), 1u);
  EXPECT_EQ(listed.groups[0].group_id, "live");
  EXPECT_TRUE((*disk)->group_offsets("offsets", "events")->empty());
  EXPECT_TRUE((*disk)->group_offsets("live", "other")->empty());
  EXPECT_EQ((*disk)->group_offsets("live", "events")->size(), 1u);
  deleted = ask<DeleteGroupsResponse>(*api, kDeleteGroups, 1, DeleteGroupsRequest{{"live"}},
                                      &KafkaApi::delete_groups);
  EXPECT_EQ(deleted.results[0].error_code, err::kNone) << "a group of offsets only is Empty";
}

TEST(KafkaApiTest, CreateTopicsChecksNamesPartitionsAndReplication) {
  Rig rig;
  CreateTopicsRequest req;
  req.topics.push_back({"ok", 3, 1, {}, {}});
  req.topics.push_back({"bad name!", 1, 1, {}, {}});
  req.topics.push_back({"replicated", 1, 3, {}, {}});
  req.topics.push_back({"none", 0, 1, {}, {}});
  auto body = rig.api.create_topics(Rig::header(kCreateTopics, 4), encode(req, 4));
  ASSERT_TRUE(body);
  CreateTopicsResponse resp;
  ASSERT_TRUE(decode(*body, 4, resp).is_ok());
  EXPECT_EQ(resp.topics[0].error_code, err::kNone);
  EXPECT_EQ(resp.topics[1].error_code, err::kInvalidTopicException);
  EXPECT_EQ(resp.topics[2].error_code, err::kInvalidReplicationFactor);
  EXPECT_EQ(resp.topics[3].error_code, err::kInvalidPartitions);
  EXPECT_EQ(*rig.broker.partition_count("ok"), 3);
  body = rig.api.create_topics(Rig::header(kCreateTopics, 4), encode(req, 4));
  ASSERT_TRUE(decode(*body, 4, resp = {}).is_ok());
  EXPECT_EQ(resp.topics[0].error_code, err::kTopicAlreadyExists);
}

// The server makes topics off its I/O thread: plans first, creations later, one at a time. A
// topic planned twice (two requests in flight) is created once; the second answers
// TOPIC_ALREADY_EXISTS.
TEST(KafkaApiTest, CreateTopicsInStepsCreatesEachTopicOnce) {
  Rig rig;
  CreateTopicsRequest req;
  req.topics.push_back({"twice", 2, 1, {}, {}});
  auto first = rig.api.plan_create_topics(Rig::header(kCreateTopics, 4), encode(req, 4));
  auto second = rig.api.plan_create_topics(Rig::header(kCreateTopics, 4), encode(req, 4));
  ASSERT_TRUE(first && second);
  ASSERT_EQ(first->to_create.size(), 1u);
  std::thread([&] {
    rig.api.create_planned_topics(*first);
    rig.api.create_planned_topics(*second);
  }).join();
  CreateTopicsResponse a, b;
  ASSERT_TRUE(decode(rig.api.answer_create_topics(*first), 4, a).is_ok());
  ASSERT_TRUE(decode(rig.api.answer_create_topics(*second), 4, b).is_ok());
  EXPECT_EQ(a.topics[0].error_code, err::kNone);
  EXPECT_EQ(b.topics[0].error_code, err::kTopicAlreadyExists);
  EXPECT_EQ(*rig.broker.partition_count("twice"), 2);
}

// On the disk broker, a topic whose partitions do not fit in the file-descriptor limit answers
// POLICY_VIOLATION with the numbers, and leaves no directory.
TEST(KafkaApiTest, CreateTopicsBeyondTheDescriptorLimitIsAPolicyViolation) {
  const auto dir =
      std::filesystem::path(::testing::TempDir()) / ("kafka_api_fds_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  DiskBroker::Options o;
  o.dir = dir;
  auto disk = DiskBroker::open(o);
  ASSERT_TRUE(disk) << disk.status().to_string();
  KafkaApi api(**disk, KafkaApi::Options{});
  auto budget = disk::descriptor_budget();
  ASSERT_TRUE(budget);
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  rlimit lower = saved;
  lower.rlim_cur = static_cast<rlim_t>(budget->in_use + disk::kDescriptorReserve + 100);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lower), 0);
  CreateTopicsRequest req;
  req.topics.push_back({"wide", 300, 1, {}, {}});
  req.topics.push_back({"narrow", 2, 1, {}, {}});
  auto body = api.create_topics(Rig::header(kCreateTopics, 7), encode(req, 7));
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(body);
  CreateTopicsResponse resp;
  ASSERT_TRUE(decode(*body, 7, resp).is_ok());
  EXPECT_EQ(resp.topics[0].error_code, err::kPolicyViolation);
  EXPECT_EQ(resp.topics[0].num_partitions, -1) << "not created: nothing to describe";
  EXPECT_TRUE(resp.topics[0].configs.empty());
  EXPECT_EQ(resp.topics[1].num_partitions, 2);
  const std::string message = resp.topics[0].error_message.value_or("");
  EXPECT_NE(message.find("300 partitions need 600 file descriptors"), std::string::npos) << message;
  EXPECT_NE(message.find("ulimit -n allows"), std::string::npos) << message;
  EXPECT_EQ(resp.topics[1].error_code, err::kNone);
  EXPECT_FALSE(std::filesystem::exists(dir / "topics" / "wide-0"));
  disk->reset();
  std::filesystem::remove_all(dir);
}

// offset.metadata.max.bytes (4096): a longer metadata fails its partition with
// OFFSET_METADATA_TOO_LARGE and is not stored; the other partitions of the request commit.
// DeleteTopics as Kafka 3.9 answers it, by name (v6 and the older list of names) and by id:
// the topic and its committed offsets go; a topic of the same name is then new and empty.
TEST(KafkaApiTest, DeleteTopicsAsKafkaAnswers) {
  Rig rig;
  ASSERT_TRUE(rig.broker.create_topic("t", 2));
  ASSERT_TRUE(rig.broker.create_topic("twice", 1));
  ASSERT_TRUE(rig.broker.create_topic("old", 1));
  rig.produce("t", 1, batch_of(3));
  const PartitionOffset committed[] = {{1, 3}};
  ASSERT_TRUE(rig.broker.commit_offsets("g", "t", committed));
  DeleteTopicsRequest req;
  req.topics = {{std::string("t"), {}},     {std::string("absent"), {}}, {std::nullopt, {1, 2}},
                {std::string("twice"), {}}, {std::string("twice"), {}},  {std::nullopt, {}}};
  auto body = rig.api.delete_topics(Rig::header(kDeleteTopics, 6), encode(req, 6));
  ASSERT_TRUE(body) << body.status().to_string();
  DeleteTopicsResponse resp;
  ASSERT_TRUE(decode(*body, 6, resp).is_ok());
  ASSERT_EQ(resp.responses.size(), 6u);
  EXPECT_EQ(resp.responses[0].error_code, err::kNone);
  EXPECT_EQ(resp.responses[0].name, std::optional<std::string>("t"));
  EXPECT_EQ(resp.responses[1].error_code, err::kUnknownTopicOrPartition);
  EXPECT_EQ(resp.responses[1].error_message,
            std::optional<std::string>("This server does not host this topic-partition."));
  EXPECT_EQ(resp.responses[2].error_code, err::kUnknownTopicId);
  EXPECT_FALSE(resp.responses[2].name.has_value());
  EXPECT_EQ(resp.responses[2].topic_id, (TopicId{1, 2}));
  EXPECT_EQ(resp.responses[3].error_code, err::kInvalidRequest);
  EXPECT_EQ(resp.responses[4].error_code, err::kInvalidRequest);
  EXPECT_EQ(resp.responses[5].error_code, err::kInvalidRequest);
  EXPECT_FALSE(rig.broker.partition_count("t"));
  EXPECT_TRUE(rig.broker.partition_count("twice")) << "a duplicated name deletes nothing";
  EXPECT_TRUE(rig.broker.committed_offsets("g", "t")->empty());

  // v3: the list of names, no error messages.
  DeleteTopicsRequest old;
  old.topic_names = {"old", "t"};
  body = rig.api.delete_topics(Rig::header(kDeleteTopics, 3), encode(old, 3));
  ASSERT_TRUE(body);
  ASSERT_TRUE(decode(*body, 3, resp = {}).is_ok());
  ASSERT_EQ(resp.responses.size(), 2u);
  EXPECT_EQ(resp.responses[0].error_code, err::kNone);
  EXPECT_EQ(resp.responses[1].error_code, err::kUnknownTopicOrPartition);
  EXPECT_FALSE(resp.responses[1].error_message.has_value());
  EXPECT_FALSE(rig.broker.partition_count("old"));

  ASSERT_TRUE(rig.broker.create_topic("t", 1));
  EXPECT_EQ(rig.broker.offsets("t", 0)->end, 0);
  EXPECT_EQ(rig.produce("t", 0, batch_of(2)).topics.at(0).partitions.at(0).base_offset, 0);
}

// CreatePartitions as Kafka 3.9 answers it; assignments may only name node 0.
TEST(KafkaApiTest, CreatePartitionsAsKafkaAnswers) {
  Rig rig;
  ASSERT_TRUE(rig.broker.create_topic("t", 2));
  rig.produce("t", 1, batch_of(3));
  auto ask = [&](CreatePartitionsRequest req, int16_t version = 3) {
    auto body =
        rig.api.create_partitions(Rig::header(kCreatePartitions, version), encode(req, version));
    EXPECT_TRUE(body) << body.status().to_string();
    CreatePartitionsResponse resp;
    if (body) {
      EXPECT_TRUE(decode(*body, version, resp).is_ok());
    }
    return resp;
  };
  using Assignments = std::vector<CreatePartitionsRequest::Assignment>;
  auto r = ask({{{"t", 2, std::nullopt},
                 {"t2", 3, std::nullopt},
                 {"dup", 3, std::nullopt},
                 {"dup", 4, std::nullopt}},
                1000,
                false});
  ASSERT_EQ(r.results.size(), 4u);
  EXPECT_EQ(r.results[0].error_code, err::kInvalidPartitions);
  EXPECT_EQ(r.results[0].error_message,
            std::optional<std::string>("Topic already has 2 partition(s)."));
  EXPECT_EQ(r.results[1].error_code, err::kUnknownTopicOrPartition);
  EXPECT_EQ(r.results[2].error_code, err::kInvalidRequest);
  EXPECT_EQ(r.results[3].error_code, err::kInvalidRequest);

  r = ask({{{"t", 1, std::nullopt}}, 1000, false}, 0);
  EXPECT_EQ(r.results.at(0).error_code, err::kInvalidPartitions);
  EXPECT_EQ(r.results.at(0).error_message,
            std::optional<std::string>(
                "The topic t currently has 2 partition(s); 1 would not be an increase."));
  r = ask({{{"t", 10001, std::nullopt}}, 1000, false});
  EXPECT_EQ(r.results.at(0).error_code, err::kInvalidPartitions);
  r = ask({{{"t", 4, Assignments{{{0}}}}}, 1000, false});
  EXPECT_EQ(r.results.at(0).error_code, err::kInvalidReplicaAssignment) << "one assignment for two";
  r = ask({{{"t", 4, Assignments{{{0}}, {{1}}}}}, 1000, false});
  EXPECT_EQ(r.results.at(0).error_code, err::kInvalidReplicaAssignment) << "node 1 is not here";
  r = ask({{{"t", 4, Assignments{{{0}}, {{0, 0}}}}}, 1000, false});
  EXPECT_EQ(r.results.at(0).error_code, err::kInvalidReplicaAssignment) << "two replicas";
  r = ask({{{"t", 4, std::nullopt}}, 1000, true});
  EXPECT_EQ(r.results.at(0).error_code, err::kNone);
  EXPECT_EQ(*rig.broker.partition_count("t"), 2) << "validate_only changes nothing";

  r = ask({{{"t", 4, Assignments{{{0}}, {{0}}}}}, 1000, false});
  EXPECT_EQ(r.results.at(0).error_code, err::kNone);
  EXPECT_EQ(*rig.broker.partition_count("t"), 4);
  r = ask({{{"t", 6, std::nullopt}}, 1000, false}, 1);
  EXPECT_EQ(r.results.at(0).error_code, err::kNone);
  EXPECT_EQ(*rig.broker.partition_count("t"), 6);
  EXPECT_EQ(rig.broker.offsets("t", 1)->end, 3);
  EXPECT_EQ(rig.broker.offsets("t", 5)->end, 0);
  EXPECT_EQ(rig.produce("t", 5, batch_of(2)).topics.at(0).partitions.at(0).base_offset, 0);
}

// On the durable log, growth beyond the file-descriptor budget is refused whole, as a policy.
TEST(KafkaApiTest, CreatePartitionsBeyondTheDescriptorLimitIsAPolicyViolation) {
  disk::TempDir tmp;
  DiskBroker::Options o;
  o.dir = tmp.path() / "data";
  auto broker = DiskBroker::open(o);
  ASSERT_TRUE(broker) << broker.status().to_string();
  KafkaApi api(**broker, KafkaApi::Options{});
  ASSERT_TRUE((*broker)->create_topic("t", 1));
  auto budget = disk::descriptor_budget();
  ASSERT_TRUE(budget);
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  rlimit lower = saved;
  lower.rlim_cur = std::min<rlim_t>(
      static_cast<rlim_t>(budget->in_use + disk::kDescriptorReserve + 100), saved.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &lower);
  CreatePartitionsRequest req{{{"t", 301, std::nullopt}}, 1000, false};
  auto body = api.create_partitions(header(kCreatePartitions, 3), encode(req, 3));
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(body);
  CreatePartitionsResponse resp;
  ASSERT_TRUE(decode(*body, 3, resp).is_ok());
  EXPECT_EQ(resp.results.at(0).error_code, err::kPolicyViolation);
  EXPECT_NE(resp.results.at(0).error_message.value_or("").find("ulimit -n"), std::string::npos);
  EXPECT_EQ(*(*broker)->partition_count("t"), 1);
}

TEST(KafkaApiTest, OffsetCommitRefusesMetadataOverTheLimit) {
  Rig rig;
  ASSERT_TRUE(rig.broker.create_topic("events", 2));
  OffsetCommitRequest req;
  req.group_id = "g";
  req.topics.push_back(
      {"events", {{0, 5, -1, -1, std::string(4097, 'm')}, {1, 7, -1, -1, std::string(4096, 'm')}}});
  auto body = rig.api.offset_commit(Rig::header(kOffsetCommit, 7), encode(req, 7), 0);
  ASSERT_TRUE(body);
  OffsetCommitResponse resp;
  ASSERT_TRUE(decode(*body, 7, resp).is_ok());
  EXPECT_EQ(resp.topics[0].partitions[0].error_code, err::kOffsetMetadataTooLarge);
  EXPECT_EQ(resp.topics[0].partitions[0].error_code, 12);
  EXPECT_EQ(resp.topics[0].partitions[1].error_code, err::kNone);
  auto stored = rig.batches.group_offsets("g", "events");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].partition, 1);
  EXPECT_EQ((*stored)[0].offset, 7);
}

// Every handler fed valid requests with bytes changed at random: an error or an answer, never a
// crash (the suite runs under ASan/UBSan in the sanitizer build).
RC_GTEST_PROP(KafkaApiFuzz, HandlersSurviveChangedBytes, ()) {
  Rig rig;
  rig.produce("events", 0, batch_of(3));
  ProduceRequest produce;
  const std::string batch = batch_of(2);
  produce.topics.push_back({"events", {{0, std::string_view(batch)}}});
  FetchRequest fetch;
  fetch.topics.push_back({"events", {{0, -1, 0, -1, 1 << 20}}});
  ListOffsetsRequest list;
  list.topics.push_back({"events", {{0, -1, -2, 1}}});
  OffsetCommitRequest commit;
  commit.group_id = "g";
  commit.topics.push_back({"events", {{0, 2, -1, -1, std::string("m")}}});
  JoinGroupRequest join{"g", 10000, 10000, "", std::nullopt, "consumer", {{"range", "x"}}};
  SyncGroupRequest sync{"g", 1, "m", std::nullopt, {{"m", "a"}}};
  const std::vector<std::pair<int16_t, std::string>> requests = {
      {kProduce, encode(produce, 8)},
      {kFetch, encode(fetch, 11)},
      {kListOffsets, encode(list, 5)},
      {kMetadata, encode(MetadataRequest{}, 8)},
      {kOffsetCommit, encode(commit, 7)},
      {kOffsetFetch, encode(OffsetFetchRequest{"g", std::nullopt}, 5)},
      {kJoinGroup, encode(join, 5)},
      {kSyncGroup, encode(sync, 3)},
      {kHeartbeat, encode(HeartbeatRequest{"g", 1, "m", std::nullopt}, 3)},
      {kLeaveGroup, encode(LeaveGroupRequest{"g", "", {{"m", std::nullopt}}}, 3)},
      {kCreateTopics, encode(CreateTopicsRequest{{{"new", 2, 1, {}, {{"retention.ms", "1"}}}}}, 7)},
      {kInitProducerId, encode(InitProducerIdRequest{}, 1)},
      {kFindCoordinator, encode(FindCoordinatorRequest{"g", 0}, 2)},
      {kListGroups, encode(ListGroupsRequest{{"Stable"}, {"classic"}}, 5)},
      {kDescribeGroups, encode(DescribeGroupsRequest{{"g", "h"}, false}, 5)},
      {kDeleteGroups, encode(DeleteGroupsRequest{{"g"}}, 2)},
      {kOffsetDelete, encode(OffsetDeleteRequest{"g", {{"events", {0}}}}, 0)},
      {kDeleteTopics, encode(DeleteTopicsRequest{{{std::string("events"), {}}}, {}, 1000}, 6)},
      {kCreatePartitions,
       encode(CreatePartitionsRequest{{{"events", 3, std::nullopt}}, 1000, false}, 3)},
      {kDescribeConfigs,
       encode(DescribeConfigsRequest{{{kTopicResource, "events", std::nullopt}}, true, true}, 4)},
      {kAlterConfigs,
       encode(
           AlterConfigsRequest{{{kTopicResource, "events", {{"retention.ms", kSet, "1"}}}}, false},
           2)},
      {kIncrementalAlterConfigs,
       encode(
           IncrementalAlterConfigsRequest{
               {{{kTopicResource, "events", {{"cleanup.policy", kAppend, "compact"}}}}, false}},
           1)},
      {kDescribeCluster, encode(DescribeClusterRequest{false, 1}, 1)},
      {kDeleteRecords, encode(DeleteRecordsRequest{{{"events", {{0, 1}}}}, 1000}, 2)},
      {kDescribeLogDirs,
       encode(DescribeLogDirsRequest{std::vector<DescribeLogDirsRequest::Topic>{{"events", {0}}}},
              4)},
      {kInitProducerId, encode(InitProducerIdRequest{std::string("tx"), 60000, -1, -1}, 5)},
      {kAddPartitionsToTxn, encode(AddPartitionsToTxnRequest{"tx", 1, 0, {{"events", {0}}}}, 3)},
      {kAddOffsetsToTxn, encode(AddOffsetsToTxnRequest{"tx", 1, 0, "g"}, 4)},
      {kEndTxn, encode(EndTxnRequest{"tx", 1, 0, true}, 4)},
      {kTxnOffsetCommit,
       encode(
           TxnOffsetCommitRequest{
               "tx", "g", 1, 0, -1, "", std::nullopt, {{"events", {{0, 5, -1, std::string("m")}}}}},
           4)},
  };
  const auto& [key, original] = requests[*rc::gen::inRange<size_t>(0, requests.size())];
  const ApiSupport* api = find_api(key);
  std::string body = original;
  const auto flips = *rc::gen::inRange(1, 4);
  for (int i = 0; i < flips && !body.empty(); ++i) {
    body[*rc::gen::inRange<size_t>(0, body.size())] =
        static_cast<char>(*rc::gen::arbitrary<uint8_t>());
  }
  const RequestHeader h = Rig::header(key, api->max_version);
  int replies = 0;
  auto reply = [&](std::string) { ++replies; };
  switch (key) {
    case kProduce:
      (void)rig.api.produce(h, body);
      break;
    case kFetch: {
      auto st = rig.api.parse_fetch(h, body);
      if (st) (void)rig.api.read_fetch(*st);
      break;
    }
    case kListOffsets:
      (void)rig.api.list_offsets(h, body);
      break;
    case kMetadata:
      (void)rig.api.metadata(h, body);
      break;
    case kOffsetCommit:
      (void)rig.api.offset_commit(h, body, 0);
      break;
    case kOffsetFetch:
      (void)rig.api.offset_fetch(h, body);
      break;
    case kJoinGroup:
      (void)rig.api.join_group(h, body, 0, reply);
      break;
    case kSyncGroup:
      (void)rig.api.sync_group(h, body, 0, reply);
      break;
    case kHeartbeat:
      (void)rig.api.heartbeat(h, body, 0);
      break;
    case kLeaveGroup:
      (void)rig.api.leave_group(h, body, 0);
      break;
    case kCreateTopics:
      (void)rig.api.create_topics(h, body);
      break;
    case kInitProducerId:
      (void)rig.api.init_producer_id(h, body);
      break;
    case kFindCoordinator:
      (void)rig.api.find_coordinator(h, body);
      break;
    case kListGroups:
      (void)rig.api.list_groups(h, body, 0);
      break;
    case kDescribeGroups:
      (void)rig.api.describe_groups(h, body, 0);
      break;
    case kDeleteGroups:
      (void)rig.api.delete_groups(h, body, 0);
      break;
    case kOffsetDelete:
      (void)rig.api.offset_delete(h, body, 0);
      break;
    case kDeleteTopics:
      (void)rig.api.delete_topics(h, body);
      break;
    case kCreatePartitions:
      (void)rig.api.create_partitions(h, body);
      break;
    case kDescribeConfigs:
      (void)rig.api.describe_configs(h, body);
      break;
    case kAlterConfigs:
      (void)rig.api.alter_configs(h, body);
      break;
    case kIncrementalAlterConfigs:
      (void)rig.api.incremental_alter_configs(h, body);
      break;
    case kDescribeCluster:
      (void)rig.api.describe_cluster(h, body);
      break;
    case kDeleteRecords:
      (void)rig.api.delete_records(h, body);
      break;
    case kDescribeLogDirs:
      (void)rig.api.describe_log_dirs(h, body);
      break;
    case kAddPartitionsToTxn:
      (void)rig.api.add_partitions_to_txn(h, body, 0);
      break;
    case kAddOffsetsToTxn:
      (void)rig.api.add_offsets_to_txn(h, body, 0);
      break;
    case kEndTxn:
      (void)rig.api.end_txn(h, body, 0);
      break;
    case kTxnOffsetCommit:
      (void)rig.api.txn_offset_commit(h, body, 0);
      break;
  }
  rig.api.tick(3600 * 1000);  // every pending group callback answers by now
  RC_ASSERT(replies <= 1);
}

}  // namespace
}  // namespace kappa
