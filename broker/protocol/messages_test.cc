#include "broker/protocol/messages.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <functional>

namespace kappa::kafka {
namespace {

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

TEST(MessagesTest, ApiVersionsV3RequestFromHandWrittenBytes) {
  // Header v2: key 18, version 3, correlation 7, client id "c" (a classic string), no tags;
  // body: compact strings "kcat" and "1.7", no tags.
  const std::string frame = bytes({0, 18, 0, 3, 0, 0, 0, 7, 0, 1, 'c', 0}) +
                            bytes({5, 'k', 'c', 'a', 't', 4, '1', '.', '7', 0});
  std::string_view body;
  auto h = decode_request_header(frame, body);
  ASSERT_TRUE(h) << h.status().to_string();
  EXPECT_EQ(h->api_key, kApiVersions);
  EXPECT_EQ(h->api_version, 3);
  EXPECT_EQ(h->correlation_id, 7);
  EXPECT_EQ(h->client_id, "c");
  ApiVersionsRequest r;
  ASSERT_TRUE(decode(body, 3, r).is_ok());
  EXPECT_EQ(r.client_software_name, "kcat");
  EXPECT_EQ(r.client_software_version, "1.7");
}

TEST(MessagesTest, NonFlexibleHeaderHasNoTaggedFields) {
  // Metadata v1 asking for one topic "t": header v1, then a classic array of one string.
  const std::string frame =
      bytes({0, 3, 0, 1, 0, 0, 0, 9, -1, -1}) + bytes({0, 0, 0, 1, 0, 1, 't'});
  std::string_view body;
  auto h = decode_request_header(frame, body);
  ASSERT_TRUE(h);
  EXPECT_FALSE(h->client_id.has_value());
  MetadataRequest r;
  ASSERT_TRUE(decode(body, 1, r).is_ok());
  ASSERT_TRUE(r.topics.has_value());
  EXPECT_EQ(*r.topics, std::vector<std::string>{"t"});
  EXPECT_TRUE(r.allow_auto_topic_creation);  // absent before v4: Kafka's default
}

TEST(MessagesTest, MetadataAllTopicsIsEmptyInV0AndNullLater) {
  MetadataRequest r;
  ASSERT_TRUE(decode(bytes({0, 0, 0, 0}), 0, r).is_ok());
  EXPECT_FALSE(r.topics.has_value());
  ASSERT_TRUE(decode(bytes({-1, -1, -1, -1}), 1, r).is_ok());
  EXPECT_FALSE(r.topics.has_value());
  ASSERT_TRUE(decode(bytes({0, 0, 0, 0}), 1, r).is_ok());
  ASSERT_TRUE(r.topics.has_value());
  EXPECT_TRUE(r.topics->empty());
}

TEST(MessagesTest, ApiVersionsV3ResponseLayout) {
  ApiVersionsResponse r;
  r.api_keys.push_back({0, 3, 8});
  const std::string body = encode(r, 3);
  // error_code, compact array of 1 (2), key/min/max, element tags, throttle, top-level tags.
  EXPECT_EQ(body, bytes({0, 0, 2, 0, 0, 0, 3, 0, 8, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode(r, 0), bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 8}));
}

TEST(MessagesTest, ResponseHeaderV1OnlyForFlexibleVersionsOtherThanApiVersions) {
  RequestHeader h;
  h.correlation_id = 5;
  h.api_key = kApiVersions;
  h.api_version = 3;
  EXPECT_EQ(frame_response(h, "x"), bytes({0, 0, 0, 5, 0, 0, 0, 5, 'x'}));
  h.api_key = kMetadata;
  h.api_version = 8;
  EXPECT_EQ(frame_response(h, "x"), bytes({0, 0, 0, 5, 0, 0, 0, 5, 'x'}));
  h.api_version = 9;  // flexible in Kafka (not served here, but the header rule holds)
  EXPECT_EQ(frame_response(h, "x"), bytes({0, 0, 0, 6, 0, 0, 0, 5, 0, 'x'}));
}

TEST(MessagesTest, OffsetCommitFieldsFollowTheirVersions) {
  OffsetCommitRequest r;
  r.group_id = "g";
  r.generation_id = 3;
  r.member_id = "m";
  r.retention_time_ms = 99;
  r.topics.push_back({"t", {{1, 42, 7, 1234, std::string("meta")}}});
  for (int16_t v = 0; v <= 7; ++v) {
    OffsetCommitRequest back;
    ASSERT_TRUE(decode(encode(r, v), v, back).is_ok()) << "v" << v;
    EXPECT_EQ(back.generation_id, v >= 1 ? 3 : -1) << "v" << v;
    EXPECT_EQ(back.retention_time_ms, v >= 2 && v <= 4 ? 99 : -1) << "v" << v;
    EXPECT_EQ(back.topics[0].partitions[0].commit_timestamp, v == 1 ? 1234 : -1) << "v" << v;
    EXPECT_EQ(back.topics[0].partitions[0].committed_leader_epoch, v >= 6 ? 7 : -1) << "v" << v;
    EXPECT_EQ(back.topics[0].partitions[0].committed_offset, 42);
    EXPECT_EQ(back.topics[0].partitions[0].committed_metadata, "meta");
  }
}

// A populated instance of every request, encoded at every supported version: decoding and
// encoding again gives the same bytes, and every proper prefix fails to decode with a position.
struct Sample {
  int16_t key;
  std::function<std::string(int16_t)> encode_at;
  std::function<Status(std::string_view, int16_t, std::string&)> reencode;
};

template <class M>
Sample sample(int16_t key, M m) {
  return {key, [m](int16_t v) { return encode(m, v); },
          [](std::string_view b, int16_t v, std::string& out) {
            M back;
            Status s = decode(b, v, back);
            if (s.is_ok()) out = encode(back, v);
            return s;
          }};
}

std::vector<Sample> samples() {
  ProduceRequest produce;
  produce.transactional_id = std::nullopt;
  produce.acks = -1;
  produce.timeout_ms = 30000;
  produce.topics.push_back({"events", {{0, std::string_view("batch-bytes")}, {1, std::nullopt}}});
  FetchRequest fetch;
  fetch.max_wait_ms = 500;
  fetch.min_bytes = 1;
  fetch.max_bytes = 1 << 20;
  fetch.isolation_level = 1;
  fetch.session_id = 0;
  fetch.session_epoch = -1;
  fetch.topics.push_back({"events", {{0, 3, 17, 0, 65536}}});
  fetch.forgotten.push_back({"old", {1, 2}});
  fetch.rack_id = "r1";
  ListOffsetsRequest list;
  list.isolation_level = 1;
  list.topics.push_back({"events", {{0, 2, -1, 1}, {1, -1, 1650000000000, 1}}});
  CreateTopicsRequest create;
  create.topics.push_back({"t", 4, 1, {}, {{"retention.ms", std::string("-1")}}});
  create.validate_only = true;
  JoinGroupRequest join;
  join.group_id = "g";
  join.session_timeout_ms = 10000;
  join.rebalance_timeout_ms = 30000;
  join.member_id = "m-1";
  join.group_instance_id = "i";
  join.protocol_type = "consumer";
  join.protocols = {{"range", "meta"}, {"roundrobin", "meta2"}};
  SyncGroupRequest sync;
  sync.group_id = "g";
  sync.generation_id = 2;
  sync.member_id = "m-1";
  sync.assignments = {{"m-1", "a1"}, {"m-2", "a2"}};
  HeartbeatRequest hb{"g", 2, "m-1", std::nullopt};
  LeaveGroupRequest leave;
  leave.group_id = "g";
  leave.member_id = "m-1";
  leave.members = {{"m-1", std::nullopt}};
  OffsetFetchRequest ofetch;
  ofetch.group_id = "g";
  ofetch.topics = std::vector<OffsetFetchRequest::Topic>{{"events", {0, 1}}};
  MetadataRequest meta;
  meta.topics = std::vector<std::string>{"events", "events_stages"};
  meta.allow_auto_topic_creation = false;
  DeleteTopicsRequest deletes;
  deletes.topics = {{std::string("t"), {}}, {std::nullopt, {1, 2}}};  // v6+
  deletes.topic_names = {"t", "u"};                                   // v0-v5
  deletes.timeout_ms = 15000;
  CreatePartitionsRequest grow;
  grow.topics.push_back({"t", 6, std::nullopt});
  grow.topics.push_back({"u", 3, std::vector<CreatePartitionsRequest::Assignment>{{{0}}, {{0}}}});
  grow.validate_only = true;
  OffsetCommitRequest commit;
  commit.group_id = "g";
  commit.topics.push_back({"t", {{1, 42, -1, -1, std::nullopt}}});
  return {
      sample(kApiVersions, ApiVersionsRequest{"kcat", "1.7.1"}),
      sample(kMetadata, meta),
      sample(kProduce, produce),
      sample(kFetch, fetch),
      sample(kListOffsets, list),
      sample(kCreateTopics, create),
      sample(kFindCoordinator, FindCoordinatorRequest{"g", 0}),
      sample(kJoinGroup, join),
      sample(kSyncGroup, sync),
      sample(kHeartbeat, hb),
      sample(kLeaveGroup, leave),
      sample(kOffsetCommit, commit),
      sample(kOffsetFetch, ofetch),
      sample(kInitProducerId, InitProducerIdRequest{std::nullopt, 60000}),
      sample(kListGroups, ListGroupsRequest{{"Stable", "Empty"}, {"classic"}}),
      sample(kDescribeGroups, DescribeGroupsRequest{{"g", "h"}, true}),
      sample(kDeleteGroups, DeleteGroupsRequest{{"g", "h"}}),
      sample(kOffsetDelete, OffsetDeleteRequest{"g", {{"t", {0, 1}}, {"u", {}}}}),
      sample(kDeleteTopics, deletes),
      sample(kCreatePartitions, grow),
      sample(kDescribeLogDirs,
             DescribeLogDirsRequest{std::vector<DescribeLogDirsRequest::Topic>{{"t", {0, 1}}}}),
      sample(kDescribeLogDirs, DescribeLogDirsRequest{std::nullopt}),
      sample(kInitProducerId, InitProducerIdRequest{std::string("tx"), 60000, 42, 3}),
      sample(kAddPartitionsToTxn,
             AddPartitionsToTxnRequest{"tx", 42, 3, {{"t", {0, 1}}, {"u", {2}}}}),
      sample(kAddOffsetsToTxn, AddOffsetsToTxnRequest{"tx", 42, 3, "g"}),
      sample(kEndTxn, EndTxnRequest{"tx", 42, 3, true}),
      sample(kTxnOffsetCommit, TxnOffsetCommitRequest{"tx",
                                                      "g",
                                                      42,
                                                      3,
                                                      5,
                                                      "m-1",
                                                      std::string("i-1"),
                                                      {{"t", {{0, 9, 2, std::string("meta")}}}}}),
  };
}

// Arrays of strings carry no tagged fields after each element (only structures do): bytes as
// Kafka's ListGroupsRequest v4 and v5 are laid out, by hand.
TEST(MessagesTest, ListGroupsFiltersAreCompactStringArrays) {
  ListGroupsRequest req;
  req.states_filter = {"Stable"};
  EXPECT_EQ(encode(req, 4), std::string("\x02\x07Stable\x00", 9));
  EXPECT_EQ(encode(req, 5), std::string("\x02\x07Stable\x01\x00", 10));
  EXPECT_EQ(encode(req, 2), "") << "no fields before v4";
  ListGroupsRequest back;
  ASSERT_TRUE(decode(std::string("\x01\x02\x08"
                                 "classic\x00",
                                 11),
                     5, back)
                  .is_ok());
  EXPECT_TRUE(back.states_filter.empty());
  EXPECT_EQ(back.types_filter, std::vector<std::string>{"classic"});
}

// The responses of the group administration APIs at every version: decoding what we encode
// gives it back, field by field where versions have it.
TEST(MessagesTest, GroupAdminResponsesRoundTrip) {
  DescribeGroupsResponse described;
  described.throttle_time_ms = 5;
  described.groups.push_back(
      {0,
       "g",
       "Stable",
       "consumer",
       "range",
       {{"m-1", std::string("i-1"), "rdkafka", "/127.0.0.1", "meta", "assign"}},
       7});
  for (int16_t v = 0; v <= 5; ++v) {
    DescribeGroupsResponse back;
    ASSERT_TRUE(decode(encode(described, v), v, back).is_ok()) << "v" << v;
    ASSERT_EQ(back.groups.size(), 1u);
    const auto& m = back.groups[0].members.at(0);
    EXPECT_EQ(m.group_instance_id, v >= 4 ? std::optional<std::string>("i-1") : std::nullopt)
        << "v" << v;
    EXPECT_EQ(m.client_host, "/127.0.0.1");
    EXPECT_EQ(m.member_assignment, "assign");
    EXPECT_EQ(back.groups[0].authorized_operations, v >= 3 ? 7 : INT32_MIN);
    EXPECT_EQ(back.throttle_time_ms, v >= 1 ? 5 : 0);
  }
  ListGroupsResponse listed;
  listed.groups.push_back({"g", "consumer", "Stable", "classic"});
  for (int16_t v = 0; v <= 5; ++v) {
    ListGroupsResponse back;
    ASSERT_TRUE(decode(encode(listed, v), v, back).is_ok()) << "v" << v;
    EXPECT_EQ(back.groups.at(0).protocol_type, "consumer");
    EXPECT_EQ(back.groups.at(0).group_state, v >= 4 ? "Stable" : "");
    EXPECT_EQ(back.groups.at(0).group_type, v >= 5 ? "classic" : "");
  }
  DeleteGroupsResponse deleted{3, {{"g", 69}}};
  for (int16_t v = 0; v <= 2; ++v) {
    DeleteGroupsResponse back;
    ASSERT_TRUE(decode(encode(deleted, v), v, back).is_ok()) << "v" << v;
    EXPECT_EQ(back.results.at(0).error_code, 69);
  }
  OffsetDeleteResponse od{0, 0, {{"t", {{0, 86}, {1, 0}}}}};
  OffsetDeleteResponse back;
  ASSERT_TRUE(decode(encode(od, 0), 0, back).is_ok());
  EXPECT_EQ(back.topics.at(0).partitions.at(0).error_code, 86);
  EXPECT_FALSE(is_flexible(kOffsetDelete, 0));
  EXPECT_TRUE(is_flexible(kDescribeGroups, 5));
  EXPECT_TRUE(is_flexible(kListGroups, 3));
  EXPECT_TRUE(is_flexible(kDeleteGroups, 2));
  EXPECT_TRUE(is_flexible(kListOffsets, 6));
}

// Bytes as Kafka's CreatePartitionsRequest v2 (the first flexible version, which Kafka 3.9's
// admin client sends as v3) lays them out, by hand: a null assignment list is a 0 count.
TEST(MessagesTest, CreatePartitionsRequestAsKafkaLaysItOut) {
  CreatePartitionsRequest req;
  req.topics.push_back({"t", 5, std::nullopt});
  req.timeout_ms = 30000;
  const std::string want("\x02\x02t\x00\x00\x00\x05\x00\x00\x00\x00\x75\x30\x00\x00", 15);
  EXPECT_EQ(encode(req, 2), want);
  CreatePartitionsRequest back;
  ASSERT_TRUE(decode(want, 3, back).is_ok());
  ASSERT_EQ(back.topics.size(), 1u);
  EXPECT_EQ(back.topics[0].count, 5);
  EXPECT_FALSE(back.topics[0].assignments.has_value());
  EXPECT_TRUE(is_flexible(kCreatePartitions, 2));
  EXPECT_FALSE(is_flexible(kCreatePartitions, 1));
}

// CreateTopics v7 as Kafka lays it out: the topic id after the name, then (v5+) what the topic
// was created with; v4 has none of it.
TEST(MessagesTest, CreateTopicsResponseAsKafkaLaysItOut) {
  CreateTopicsResponse r;
  r.topics.push_back({"t", {}, 0, std::nullopt, 2, 1, {{"a", std::string("b"), false, 5, false}}});
  const std::string v7(
      "\x00\x00\x00\x00"                                                  // throttle
      "\x02\x02t"                                                         // one topic, "t":
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"  //   the zero id
      "\x00\x00\x00"                                                      //   NONE, no message
      "\x00\x00\x00\x02\x00\x01"  //   2 partitions, replication factor 1
      "\x02\x02"
      "a\x02"
      "b\x00\x05\x00\x00"  //   one config: a=b, not read-only, source 5, not sensitive; tags
      "\x00"               //   the topic's tags
      "\x00",              // the body's tags
      43);
  EXPECT_EQ(encode(r, 7), v7);
  CreateTopicsResponse back;
  ASSERT_TRUE(decode(encode(r, 5), 5, back).is_ok());
  EXPECT_EQ(back.topics.at(0).num_partitions, 2);
  EXPECT_EQ(back.topics.at(0).configs.at(0).config_source, 5);
  EXPECT_EQ(encode(r, 4).size(), 4u + 4 + 3 + 2 + 2) << "v4: name, error code and message only";
}

// DescribeLogDirs as Kafka lays it out: v4 (flexible, with the volume's bytes) by hand, and v1
// (before the top-level error code and the volume).
TEST(MessagesTest, DescribeLogDirsResponseAsKafkaLaysItOut) {
  DescribeLogDirsResponse r;
  r.results.push_back({0, "/d", {{"t", {{0, 5, 0, false}}}}, 100, 50});
  const std::string v4(
      "\x00\x00\x00\x00"                  // throttle
      "\x00\x00"                          // error code (v3+)
      "\x02"                              // one result:
      "\x00\x00\x03/d"                    //   error code, log dir
      "\x02\x02t"                         //   one topic, "t":
      "\x02"                              //     one partition:
      "\x00\x00\x00\x00"                  //       index 0
      "\x00\x00\x00\x00\x00\x00\x00\x05"  //       size 5
      "\x00\x00\x00\x00\x00\x00\x00\x00"  //       offset lag 0
      "\x00\x00"                          //       not a future log; its tags
      "\x00"                              //     the topic's tags
      "\x00\x00\x00\x00\x00\x00\x00\x64"  //   total bytes 100 (v4+)
      "\x00\x00\x00\x00\x00\x00\x00\x32"  //   usable bytes 50 (v4+)
      "\x00"                              //   the result's tags
      "\x00",                             // the body's tags
      57);
  EXPECT_EQ(encode(r, 4), v4);
  // v1: int32 array lengths and int16 string lengths, no tags, no error code, no volume.
  const std::string v1 = encode(r, 1);
  EXPECT_EQ(v1.size(), 4u + 4 + (2 + 4) + 4 + 3 + 4 + (4 + 8 + 8 + 1));
  DescribeLogDirsResponse back;
  ASSERT_TRUE(decode(v1, 1, back).is_ok());
  EXPECT_EQ(back.results.at(0).total_bytes, -1) << "unknown before v4";
  EXPECT_EQ(back.results.at(0).topics.at(0).partitions.at(0).partition_size, 5);
  EXPECT_TRUE(is_flexible(kDescribeLogDirs, 2));
  EXPECT_FALSE(is_flexible(kDescribeLogDirs, 1));
}

TEST(MessagesTest, TopicAdminResponsesRoundTrip) {
  DeleteTopicsResponse deleted;
  deleted.throttle_time_ms = 4;
  deleted.responses.push_back({std::string("t"), {}, 0, std::nullopt});
  deleted.responses.push_back(
      {std::string("u"), {}, 3, std::string("This server does not host this topic-partition.")});
  for (int16_t v = 0; v <= 6; ++v) {
    DeleteTopicsResponse back;
    ASSERT_TRUE(decode(encode(deleted, v), v, back).is_ok()) << "v" << v;
    ASSERT_EQ(back.responses.size(), 2u);
    EXPECT_EQ(back.responses[1].name, std::optional<std::string>("u"));
    EXPECT_EQ(back.responses[1].error_code, 3);
    EXPECT_EQ(back.responses[1].error_message.has_value(), v >= 5) << "v" << v;
    EXPECT_EQ(back.throttle_time_ms, v >= 1 ? 4 : 0);
  }
  DeleteTopicsResponse by_id;
  by_id.responses.push_back({std::nullopt, {7, 8}, 100, std::nullopt});
  DeleteTopicsResponse back_by_id;
  ASSERT_TRUE(decode(encode(by_id, 6), 6, back_by_id).is_ok());
  EXPECT_FALSE(back_by_id.responses.at(0).name.has_value());
  EXPECT_EQ(back_by_id.responses.at(0).topic_id, (TopicId{7, 8}));
  EXPECT_TRUE(is_flexible(kDeleteTopics, 4));
  EXPECT_FALSE(is_flexible(kDeleteTopics, 3));

  CreatePartitionsResponse grown{2, {{"t", 37, std::string("Topic already has 5 partitions.")}}};
  for (int16_t v = 0; v <= 3; ++v) {
    CreatePartitionsResponse back;
    ASSERT_TRUE(decode(encode(grown, v), v, back).is_ok()) << "v" << v;
    EXPECT_EQ(back.results.at(0).error_code, 37);
    EXPECT_EQ(back.results.at(0).error_message, grown.results[0].error_message);
    EXPECT_EQ(back.throttle_time_ms, 2);
  }
}

TEST(MessagesTest, EveryRequestRoundTripsAtEverySupportedVersion) {
  for (const Sample& s : samples()) {
    const ApiSupport* api = find_api(s.key);
    ASSERT_NE(api, nullptr);
    for (int16_t v = api->min_version; v <= api->max_version; ++v) {
      const std::string wire = s.encode_at(v);
      std::string again;
      Status st = s.reencode(wire, v, again);
      ASSERT_TRUE(st.is_ok()) << api->name << " v" << v << ": " << st.to_string();
      EXPECT_EQ(again, wire) << api->name << " v" << v;
    }
  }
}

TEST(MessagesTest, EveryTruncationIsRefusedWithAPosition) {
  for (const Sample& s : samples()) {
    const ApiSupport* api = find_api(s.key);
    for (int16_t v = api->min_version; v <= api->max_version; ++v) {
      const std::string wire = s.encode_at(v);
      for (size_t n = 0; n < wire.size(); ++n) {
        std::string ignored;
        Status st = s.reencode(std::string_view(wire).substr(0, n), v, ignored);
        ASSERT_FALSE(st.is_ok()) << api->name << " v" << v << " cut at " << n;
        EXPECT_NE(st.message().find("at byte"), std::string::npos) << st.message();
        EXPECT_NE(st.message().find(api->name), std::string::npos) << st.message();
      }
      std::string longer = wire + "x";
      std::string ignored;
      EXPECT_FALSE(s.reencode(longer, v, ignored).is_ok())
          << api->name << " v" << v << " with a trailing byte";
    }
  }
}

TEST(MessagesTest, SupportedApisAreSortedAndNamed) {
  int16_t last = -1;
  for (const auto& api : supported_apis()) {
    EXPECT_GT(api.key, last);
    last = api.key;
    EXPECT_EQ(api_name(api.key), api.name);
    EXPECT_LE(api.min_version, api.max_version);
  }
  EXPECT_EQ(api_name(32), "DescribeConfigs");
  EXPECT_EQ(api_name(999), "api 999");
}

// The frame decoder fed hostile bytes: random frames, and valid requests with bytes flipped.
// Nothing may crash, read out of bounds (ASan) or allocate from a hostile count.
RC_GTEST_PROP(MessagesFuzz, RandomFramesNeverCrash, (const std::string& frame)) {
  std::string_view body;
  auto h = decode_request_header(frame, body);
  if (!h) return;
  const ApiSupport* api = find_api(h->api_key);
  const int16_t v = api ? std::clamp(h->api_version, api->min_version, api->max_version) : 0;
  for (const Sample& s : samples()) {
    std::string ignored;
    (void)s.reencode(body, v, ignored);
  }
}

RC_GTEST_PROP(MessagesFuzz, FlippedBytesNeverCrash, ()) {
  const auto all = samples();
  const auto& s = all[*rc::gen::inRange<size_t>(0, all.size())];
  const ApiSupport* api = find_api(s.key);
  const auto v = *rc::gen::inRange<int>(api->min_version, api->max_version + 1);
  std::string wire = s.encode_at(static_cast<int16_t>(v));
  const auto flips = *rc::gen::inRange(1, 4);
  for (int i = 0; i < flips; ++i) {
    const auto at = *rc::gen::inRange<size_t>(0, wire.size());
    wire[at] = static_cast<char>(*rc::gen::arbitrary<uint8_t>());
  }
  std::string ignored;
  (void)s.reencode(wire, static_cast<int16_t>(v), ignored);
}

}  // namespace
}  // namespace kappa::kafka
