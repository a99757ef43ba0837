// Transactions through KafkaApi, as a transactional producer drives them: FindCoordinator,
// InitProducerId, AddPartitionsToTxn, Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn; and
// what read_committed fetches see. In memory (RecordLogBatches) and on disk (DiskBroker, with
// restarts).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "broker/disk/disk_broker.h"
#include "broker/embedded/embedded_broker.h"
#include "broker/protocol/crc32c.h"
#include "broker/protocol/error_codes.h"
#include "broker/protocol/record_batch.h"
#include "broker/server/kafka_api.h"
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

TEST(KafkaApiTxnTest, FindCoordinatorForATransactionIsThisBroker) {
  EmbeddedBroker broker;
  RecordLogBatches batches{broker};
  KafkaApi api{batches, KafkaApi::Options{}};
  FindCoordinatorRequest req;
  req.key = "txn-1";
  req.key_type = 1;
  auto out = api.find_coordinator(header(kFindCoordinator, 2), encode(req, 2));
  ASSERT_TRUE(out);
  FindCoordinatorResponse r;
  ASSERT_TRUE(decode(*out, 2, r).is_ok());
  EXPECT_EQ(r.error_code, err::kNone);
  EXPECT_EQ(r.node_id, 0);
  EXPECT_EQ(r.port, 9092);
}

// A batch of n records written by a transactional producer.
std::string txn_batch(int n, int64_t producer_id, int16_t epoch, int32_t sequence,
                      bool transactional = true) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back("v" + std::to_string(i));
  std::vector<OutgoingRecord> records(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    records[static_cast<size_t>(i)].value = values[static_cast<size_t>(i)];
    records[static_cast<size_t>(i)].timestamp_ms = 1000 + i;
  }
  BatchProducer who;
  who.producer_id = producer_id;
  who.producer_epoch = epoch;
  who.base_sequence = sequence;
  who.transactional = transactional;
  return encode_record_batch(0, records, Compression::kNone, who);
}

// A transactional producer's requests, against one KafkaApi.
struct Client {
  KafkaApi& api;
  std::string id;
  int64_t producer_id = -1;
  int16_t epoch = -1;
  int32_t sequence = 0;
  int64_t now = 1000;

  InitProducerIdResponse init(int32_t timeout_ms = 60000, int16_t version = 4) {
    InitProducerIdRequest req;
    req.transactional_id = id;
    req.transaction_timeout_ms = timeout_ms;
    auto out = api.init_producer_id(header(kInitProducerId, version), encode(req, version), now);
    InitProducerIdResponse r;
    EXPECT_TRUE(out && decode(*out, version, r).is_ok());
    if (r.error_code == err::kNone) {
      producer_id = r.producer_id;
      epoch = r.producer_epoch;
      sequence = 0;
    }
    return r;
  }
  int16_t add(const std::string& topic, int32_t partition, int16_t version = 3) {
    AddPartitionsToTxnRequest req{id, producer_id, epoch, {{topic, {partition}}}};
    auto out =
        api.add_partitions_to_txn(header(kAddPartitionsToTxn, version), encode(req, version), now);
    AddPartitionsToTxnResponse r;
    EXPECT_TRUE(out && decode(*out, version, r).is_ok());
    return r.results.at(0).partitions.at(0).error_code;
  }
  ProduceResponse::Partition produce(const std::string& topic, int32_t partition, int n) {
    const std::string batch = txn_batch(n, producer_id, epoch, sequence);
    ProduceRequest req;
    req.transactional_id = id;
    req.acks = -1;
    req.timeout_ms = 1000;
    req.topics.push_back({topic, {{partition, std::string_view(batch)}}});
    auto out = api.produce(header(kProduce, 8), encode(req, 8));
    EXPECT_TRUE(out);
    ProduceResponse r;
    EXPECT_TRUE(decode(api.finish_produce(*out, {}), 8, r).is_ok());
    if (r.topics[0].partitions[0].error_code == err::kNone) sequence += n;
    return r.topics[0].partitions[0];
  }
  int16_t add_offsets(const std::string& group) {
    AddOffsetsToTxnRequest req{id, producer_id, epoch, group};
    auto out = api.add_offsets_to_txn(header(kAddOffsetsToTxn, 3), encode(req, 3), now);
    AddOffsetsToTxnResponse r;
    EXPECT_TRUE(out && decode(*out, 3, r).is_ok());
    return r.error_code;
  }
  int16_t commit_offset(const std::string& group, const std::string& topic, int64_t offset) {
    TxnOffsetCommitRequest req;
    req.transactional_id = id;
    req.group_id = group;
    req.producer_id = producer_id;
    req.producer_epoch = epoch;
    req.topics.push_back({topic, {{0, offset, -1, std::string("m")}}});
    auto out = api.txn_offset_commit(header(kTxnOffsetCommit, 3), encode(req, 3), now);
    TxnOffsetCommitResponse r;
    EXPECT_TRUE(out && decode(*out, 3, r).is_ok());
    return r.topics.at(0).partitions.at(0).error_code;
  }
  int16_t end(bool commit, int16_t version = 3) {
    EndTxnRequest req{id, producer_id, epoch, commit};
    auto out = api.end_txn(header(kEndTxn, version), encode(req, version), now);
    EndTxnResponse r;
    EXPECT_TRUE(out && decode(*out, version, r).is_ok());
    return r.error_code;
  }
};

FetchResponse::Partition fetch(KafkaApi& api, const std::string& topic, int64_t offset,
                               int8_t isolation) {
  FetchRequest req;
  req.max_wait_ms = 0;
  req.isolation_level = isolation;
  req.topics.push_back({topic, {{0, -1, offset, -1, 1 << 20}}});
  auto st = api.parse_fetch(header(kFetch, 11), encode(req, 11));
  EXPECT_TRUE(st);
  FetchResponse resp;
  auto body = api.read_fetch(*st).flatten();
  EXPECT_TRUE(body);
  EXPECT_TRUE(decode(body ? *body : std::string(), 11, resp).is_ok());
  return resp.topics.at(0).partitions.at(0);
}

// The batches of a fetched record set: (base offset, is control, record count).
std::vector<std::tuple<int64_t, bool, size_t>> batches_of(std::string_view records) {
  std::vector<std::tuple<int64_t, bool, size_t>> out;
  while (!records.empty()) {
    size_t used = 0;
    auto b = decode_record_batch(records, used);
    EXPECT_TRUE(b) << b.status().to_string();
    if (!b) break;
    out.emplace_back(b->base_offset, b->is_control(), b->records.size());
    records.remove_prefix(used);
  }
  return out;
}

int64_t latest(KafkaApi& api, const std::string& topic, int8_t isolation) {
  ListOffsetsRequest req;
  req.isolation_level = isolation;
  req.topics.push_back({topic, {{0, -1, -1, 1}}});
  auto out = api.list_offsets(header(kListOffsets, 5), encode(req, 5));
  ListOffsetsResponse r;
  EXPECT_TRUE(out && decode(*out, 5, r).is_ok());
  return r.topics.at(0).partitions.at(0).offset;
}

int64_t committed(KafkaApi& api, const std::string& group, const std::string& topic) {
  OffsetFetchRequest req;
  req.group_id = group;
  req.topics.emplace();
  req.topics->push_back({topic, {0}});
  auto out = api.offset_fetch(header(kOffsetFetch, 5), encode(req, 5));
  OffsetFetchResponse r;
  EXPECT_TRUE(out && decode(*out, 5, r).is_ok());
  return r.topics.at(0).partitions.at(0).committed_offset;
}

struct Memory {
  EmbeddedBroker broker;
  RecordLogBatches batches{broker};
  KafkaApi api{batches, KafkaApi::Options{}};
  Memory() { EXPECT_TRUE(batches.create_topic("t", 1).is_ok()); }
};

TEST(KafkaApiTxnTest, ACommitAndAnAbortAsReadCommittedAndUncommittedReadersSeeThem) {
  Memory m;
  Client c{m.api, "app"};
  ASSERT_EQ(c.init().error_code, err::kNone);
  EXPECT_EQ(c.epoch, 0);
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.produce("t", 0, 3).error_code, err::kNone);  // offsets 0-2
  EXPECT_EQ(latest(m.api, "t", 1), 0) << "an open transaction holds the last stable offset";
  EXPECT_EQ(latest(m.api, "t", 0), 3);
  auto open = fetch(m.api, "t", 0, 1);
  EXPECT_EQ(open.last_stable_offset, 0);
  EXPECT_EQ(open.high_watermark, 3);
  EXPECT_TRUE(open.records->empty()) << "nothing at or past the last stable offset";
  ASSERT_EQ(c.end(true), err::kNone);  // commit marker at 3
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.produce("t", 0, 2).error_code, err::kNone);  // offsets 4-5
  ASSERT_EQ(c.end(false), err::kNone);                     // abort marker at 6

  auto committed_read = fetch(m.api, "t", 0, 1);
  EXPECT_EQ(committed_read.high_watermark, 7);
  EXPECT_EQ(committed_read.last_stable_offset, 7);
  ASSERT_TRUE(committed_read.aborted_transactions);
  ASSERT_EQ(committed_read.aborted_transactions->size(), 1u);
  EXPECT_EQ((*committed_read.aborted_transactions)[0].producer_id, c.producer_id);
  EXPECT_EQ((*committed_read.aborted_transactions)[0].first_offset, 4);
  using B = std::tuple<int64_t, bool, size_t>;
  EXPECT_EQ(batches_of(*committed_read.records),
            (std::vector<B>{{0, false, 3}, {3, true, 1}, {4, false, 2}, {6, true, 1}}));
  auto uncommitted = fetch(m.api, "t", 0, 0);
  EXPECT_FALSE(uncommitted.aborted_transactions) << "read_uncommitted gets no list";
  EXPECT_EQ(latest(m.api, "t", 1), 7);
  EXPECT_EQ(fetch(m.api, "t", 5, 1).aborted_transactions->size(), 1u);
  EXPECT_TRUE(fetch(m.api, "t", 7, 1).aborted_transactions->empty());
  EXPECT_EQ(c.end(false), err::kNone) << "a retried abort is answered as done";
  EXPECT_EQ(c.end(true), err::kInvalidTxnState);
}

TEST(KafkaApiTxnTest, ANewInstanceAbortsTheOpenTransactionAndFencesTheOldOne) {
  Memory m;
  Client old{m.api, "app"};
  ASSERT_EQ(old.init().error_code, err::kNone);
  ASSERT_EQ(old.add("t", 0), err::kNone);
  ASSERT_EQ(old.produce("t", 0, 2).error_code, err::kNone);
  Client fresh{m.api, "app"};
  ASSERT_EQ(fresh.init().error_code, err::kNone);
  EXPECT_EQ(fresh.producer_id, old.producer_id);
  EXPECT_EQ(fresh.epoch, old.epoch + 1);
  auto read = fetch(m.api, "t", 0, 1);
  EXPECT_EQ(read.last_stable_offset, 3) << "the old transaction was aborted (marker at 2)";
  ASSERT_EQ(read.aborted_transactions->size(), 1u);
  EXPECT_EQ((*read.aborted_transactions)[0].first_offset, 0);
  // The zombie: fenced in every request, in the code of each version.
  EXPECT_EQ(old.add("t", 0, 3), err::kProducerFenced);
  EXPECT_EQ(old.add("t", 0, 1), err::kInvalidProducerEpoch);
  EXPECT_EQ(old.end(true, 3), err::kProducerFenced);
  EXPECT_EQ(old.end(true, 0), err::kInvalidProducerEpoch);
  EXPECT_EQ(old.produce("t", 0, 1).error_code, err::kInvalidProducerEpoch);
  EXPECT_EQ(old.add_offsets("g"), err::kProducerFenced);
  // The new instance goes on from sequence 0 of its epoch.
  ASSERT_EQ(fresh.add("t", 0), err::kNone);
  EXPECT_EQ(fresh.produce("t", 0, 1).error_code, err::kNone);
  EXPECT_EQ(fresh.end(true), err::kNone);
  EXPECT_EQ(fetch(m.api, "t", 0, 1).last_stable_offset, 5);
}

TEST(KafkaApiTxnTest, ProducesOutsideTheTransactionAreRefused) {
  Memory m;
  Client c{m.api, "app"};
  ASSERT_EQ(c.init().error_code, err::kNone);
  auto p = c.produce("t", 0, 1);
  EXPECT_EQ(p.error_code, err::kInvalidTxnState) << "the partition was not added";
  ASSERT_TRUE(p.error_message);
  EXPECT_NE(p.error_message->find("not in its ongoing transaction"), std::string::npos);
  EXPECT_EQ(c.end(true), err::kInvalidTxnState) << "nothing to end";
  Client stranger{m.api, "other"};
  stranger.producer_id = 5;
  stranger.epoch = 0;
  EXPECT_EQ(stranger.add("t", 0), err::kInvalidProducerIdMapping);
  ASSERT_EQ(c.add("t", 0), err::kNone);
  // A transactional batch without a transactional id, and a control batch: INVALID_RECORD.
  const std::string batch = txn_batch(1, c.producer_id, c.epoch, 0);
  ProduceRequest req;
  req.acks = 1;
  req.topics.push_back({"t", {{0, std::string_view(batch)}}});
  auto out = m.api.produce(header(kProduce, 8), encode(req, 8));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->response.topics[0].partitions[0].error_code, err::kInvalidRecord);
  const std::string marker = encode_transaction_marker(c.producer_id, c.epoch, true, 0, 1);
  req.transactional_id = "app";
  req.topics[0].partitions[0].records = marker;
  out = m.api.produce(header(kProduce, 8), encode(req, 8));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->response.topics[0].partitions[0].error_code, err::kInvalidRecord);
  EXPECT_EQ(c.add("nope", 0), err::kUnknownTopicOrPartition);
}

TEST(KafkaApiTxnTest, TransactionalOffsetsArePendingUntilCommitAndDroppedOnAbort) {
  Memory m;
  Client c{m.api, "app"};
  ASSERT_EQ(c.init().error_code, err::kNone);
  EXPECT_EQ(c.commit_offset("g", "t", 5), err::kInvalidTxnState) << "AddOffsetsToTxn first";
  ASSERT_EQ(c.add_offsets("g"), err::kNone);
  ASSERT_EQ(c.commit_offset("g", "t", 5), err::kNone);
  EXPECT_EQ(committed(m.api, "g", "t"), -1) << "pending";
  ASSERT_EQ(c.end(true), err::kNone);
  EXPECT_EQ(committed(m.api, "g", "t"), 5);
  ASSERT_EQ(c.add_offsets("g"), err::kNone);
  ASSERT_EQ(c.commit_offset("g", "t", 9), err::kNone);
  ASSERT_EQ(c.end(false), err::kNone);
  EXPECT_EQ(committed(m.api, "g", "t"), 5) << "an aborted transaction's offsets are dropped";
}

// OffsetFetch v7's requireStable (Kafka Streams with exactly_once_v2 sets it, and refuses a
// broker without it): UNSTABLE_OFFSET_COMMIT while a transaction has the offset pending.
TEST(KafkaApiTxnTest, RequireStableWaitsForPendingTransactionalOffsets) {
  Memory m;
  Client c{m.api, "app"};
  ASSERT_EQ(c.init().error_code, err::kNone);
  ASSERT_EQ(c.add_offsets("g"), err::kNone);
  ASSERT_EQ(c.commit_offset("g", "t", 5), err::kNone);
  auto fetch = [&](bool stable, int16_t version) {
    OffsetFetchRequest req;
    req.group_id = "g";
    req.topics.emplace();
    req.topics->push_back({"t", {0}});
    req.require_stable = stable;
    auto out = m.api.offset_fetch(header(kOffsetFetch, version), encode(req, version));
    OffsetFetchResponse r;
    EXPECT_TRUE(out && decode(*out, version, r).is_ok());
    return r.topics.at(0).partitions.at(0);
  };
  EXPECT_EQ(fetch(true, 7).error_code, err::kUnstableOffsetCommit);
  EXPECT_EQ(fetch(false, 7).error_code, err::kNone);
  EXPECT_EQ(fetch(false, 6).committed_offset, -1) << "v6, flexible";
  ASSERT_EQ(c.end(true), err::kNone);
  const auto after = fetch(true, 7);
  EXPECT_EQ(after.error_code, err::kNone);
  EXPECT_EQ(after.committed_offset, 5);
}

TEST(KafkaApiTxnTest, ATransactionPastItsTimeoutIsAbortedAndItsProducerFenced) {
  Memory m;
  Client c{m.api, "app"};
  ASSERT_EQ(c.init(100).error_code, err::kNone);
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.produce("t", 0, 2).error_code, err::kNone);
  ASSERT_TRUE(m.api.next_deadline());
  m.api.tick(c.now + 50);
  EXPECT_EQ(fetch(m.api, "t", 0, 1).last_stable_offset, 0) << "not yet";
  m.api.tick(c.now + 101);
  auto read = fetch(m.api, "t", 0, 1);
  EXPECT_EQ(read.last_stable_offset, 3);
  EXPECT_EQ(read.aborted_transactions->size(), 1u);
  EXPECT_EQ(c.end(true), err::kProducerFenced);
  EXPECT_EQ(c.init().error_code, err::kNone);
  EXPECT_EQ(c.epoch, 2) << "bumped by the timeout's abort, then by the new init";
}

TEST(KafkaApiTxnTest, LimitsAreKafkasAndEveryResourceIsBounded) {
  EmbeddedBroker broker;
  RecordLogBatches batches{broker};
  KafkaApi::Options o;
  o.transactions.max_transactional_ids = 2;
  o.transactions.max_partitions_per_transaction = 2;
  o.transactions.max_groups_per_transaction = 1;
  o.transactions.max_pending_offsets_per_transaction = 1;
  KafkaApi api(batches, o);
  ASSERT_TRUE(batches.create_topic("t", 3).is_ok());
  Client c{api, "a"};
  EXPECT_EQ(c.init(900001).error_code, err::kInvalidTransactionTimeout);
  EXPECT_EQ(c.init(0).error_code, err::kInvalidTransactionTimeout);
  ASSERT_EQ(c.init(900000).error_code, err::kNone);
  Client b{api, "b"};
  ASSERT_EQ(b.init().error_code, err::kNone);
  Client third{api, "c"};
  EXPECT_EQ(third.init().error_code, err::kPolicyViolation) << "over max_transactional_ids";
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.add("t", 1), err::kNone);
  EXPECT_EQ(c.add("t", 2), err::kPolicyViolation);
  ASSERT_EQ(c.add_offsets("g"), err::kNone);
  EXPECT_EQ(c.add_offsets("h"), err::kPolicyViolation);
  ASSERT_EQ(c.commit_offset("g", "t", 1), err::kNone);
  EXPECT_EQ(c.commit_offset("g", "t", 2), err::kNone) << "the same partition again";
  TxnOffsetCommitRequest req;
  req.transactional_id = "a";
  req.group_id = "g";
  req.producer_id = c.producer_id;
  req.producer_epoch = c.epoch;
  req.topics.push_back({"t", {{1, 7, -1, std::string()}}});
  auto out = api.txn_offset_commit(header(kTxnOffsetCommit, 3), encode(req, 3), c.now);
  TxnOffsetCommitResponse r;
  ASSERT_TRUE(out && decode(*out, 3, r).is_ok());
  EXPECT_EQ(r.topics[0].partitions[0].error_code, err::kPolicyViolation);
}

TEST(KafkaApiTxnTest, FindCoordinatorOfAnUnknownKeyTypeIsAnInvalidRequest) {
  Memory m;
  FindCoordinatorRequest req;
  req.key = "x";
  req.key_type = 7;
  auto out = m.api.find_coordinator(header(kFindCoordinator, 2), encode(req, 2));
  FindCoordinatorResponse r;
  ASSERT_TRUE(out && decode(*out, 2, r).is_ok());
  EXPECT_EQ(r.error_code, err::kInvalidRequest);
}

TEST(KafkaApiTxnTest, TheCoordinatorStateRoundTrips) {
  TransactionCoordinator::Transaction t;
  t.producer_id = 123456789;
  t.epoch = 7;
  t.timeout_ms = 60000;
  t.state = TransactionCoordinator::State::kPrepareCommit;
  t.partitions = {{"a", 0}, {"b", 3}};
  t.groups = {"g"};
  t.pending[{"g", "a", 0}] = GroupOffset{0, 42, "meta"};
  auto back = TransactionCoordinator::decode(TransactionCoordinator::encode(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->producer_id, t.producer_id);
  EXPECT_EQ(back->epoch, 7);
  EXPECT_EQ(back->state, t.state);
  EXPECT_EQ(back->partitions, t.partitions);
  EXPECT_EQ(back->groups, t.groups);
  EXPECT_EQ(back->pending, t.pending);
  std::string cut = TransactionCoordinator::encode(t);
  cut.pop_back();
  EXPECT_FALSE(TransactionCoordinator::decode(cut));
}

// ---- On disk: what survives a restart ---------------------------------------------------

struct Disk {
  std::filesystem::path dir;
  std::unique_ptr<DiskBroker> broker;
  std::unique_ptr<KafkaApi> api;
  explicit Disk(const std::string& name)
      : dir(std::filesystem::temp_directory_path() /
            ("kafka_api_txn_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    open();
    EXPECT_TRUE(broker->create_topic("t", 1).is_ok());
  }
  ~Disk() {
    api.reset();
    broker.reset();
    std::filesystem::remove_all(dir);
  }
  void open() {
    api.reset();
    broker.reset();
    DiskBroker::Options o;
    o.dir = dir;
    auto opened = DiskBroker::open(o);
    ASSERT_TRUE(opened) << opened.status().to_string();
    broker = std::move(*opened);
    api = std::make_unique<KafkaApi>(*broker, KafkaApi::Options{});
  }
};

TEST(KafkaApiTxnTest, OnDiskTransactionsAndTheCoordinatorSurviveARestart) {
  Disk d("restart");
  Client c{*d.api, "app"};
  ASSERT_EQ(c.init().error_code, err::kNone);
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.produce("t", 0, 3).error_code, err::kNone);
  ASSERT_EQ(c.add_offsets("g"), err::kNone);
  ASSERT_EQ(c.commit_offset("g", "t", 3), err::kNone);
  ASSERT_EQ(c.end(true), err::kNone);
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.produce("t", 0, 2).error_code, err::kNone);
  ASSERT_EQ(c.end(false), err::kNone);
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.produce("t", 0, 4).error_code, err::kNone);  // 7-10, open when the broker stops
  const int64_t id = c.producer_id;

  d.open();
  Client zombie{*d.api, "app", c.producer_id, c.epoch, c.sequence};
  auto read = fetch(*d.api, "t", 0, 1);
  EXPECT_EQ(read.high_watermark, 11);
  EXPECT_EQ(read.last_stable_offset, 7) << "the open transaction is rebuilt from its batches";
  ASSERT_EQ(read.aborted_transactions->size(), 1u);
  EXPECT_EQ((*read.aborted_transactions)[0].first_offset, 4);
  EXPECT_EQ(committed(*d.api, "g", "t"), 3);
  const auto* t = d.api->transactions().find("app");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->state, TransactionCoordinator::State::kOngoing);
  EXPECT_EQ(t->partitions.size(), 1u);
  // The same producer (a zombie now) is fenced once a new instance starts, which aborts it.
  Client fresh{*d.api, "app"};
  ASSERT_EQ(fresh.init().error_code, err::kNone);
  EXPECT_EQ(fresh.producer_id, id);
  EXPECT_EQ(fresh.epoch, 1);
  read = fetch(*d.api, "t", 0, 1);
  EXPECT_EQ(read.last_stable_offset, 12);
  EXPECT_EQ(read.aborted_transactions->size(), 2u);
  EXPECT_EQ(zombie.produce("t", 0, 1).error_code, err::kInvalidProducerEpoch);

  d.open();
  read = fetch(*d.api, "t", 0, 1);
  EXPECT_EQ(read.last_stable_offset, 12);
  EXPECT_EQ(read.aborted_transactions->size(), 2u);
  Client again{*d.api, "app"};
  ASSERT_EQ(again.init().error_code, err::kNone);
  EXPECT_EQ(again.epoch, 2) << "the epoch is durable";
}

TEST(KafkaApiTxnTest, APrepareCommitLeftByAStopIsFinishedAtTheNextStart) {
  Disk d("prepare");
  Client c{*d.api, "app"};
  ASSERT_EQ(c.init().error_code, err::kNone);
  ASSERT_EQ(c.add("t", 0), err::kNone);
  ASSERT_EQ(c.produce("t", 0, 2).error_code, err::kNone);
  ASSERT_EQ(c.add_offsets("g"), err::kNone);
  // What the coordinator writes first when ending: the Prepare state, offsets included. A
  // broker killed right after it has written no marker.
  TransactionCoordinator::Transaction t = *d.api->transactions().find("app");
  t.state = TransactionCoordinator::State::kPrepareCommit;
  t.pending[{"g", "t", 0}] = GroupOffset{0, 2, ""};
  ASSERT_TRUE(d.broker->put_transaction_state("app", TransactionCoordinator::encode(t)).is_ok());
  d.open();
  auto read = fetch(*d.api, "t", 0, 1);
  EXPECT_EQ(read.last_stable_offset, 3) << "the commit marker was written at the start";
  EXPECT_TRUE(read.aborted_transactions->empty());
  EXPECT_EQ(committed(*d.api, "g", "t"), 2);
  EXPECT_EQ(d.api->transactions().find("app")->state,
            TransactionCoordinator::State::kCompleteCommit);
}

}  // namespace
}  // namespace kappa
