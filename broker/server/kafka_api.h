// KafkaApi: what the broker does with each Kafka request, apart from the network. It decodes a
// request body (broker/protocol/messages.h), acts on a BatchLog and the group coordinator, and
// encodes the response body. The server (kafka_server.h) owns sockets, ordering, waiting and
// timers; everything here is synchronous or answers through a callback.
//
// Kafka behaviors kept (Apache Kafka's KafkaApis, one broker):
//  - the broker is node 0 and the leader of every partition, with one replica in sync;
//  - Produce checks every batch (lengths, magic 2, CRC-32C, codec, record count) and stores it
//    as it came; a bad batch fails its partition with CORRUPT_MESSAGE and stores nothing of it;
//    acks=0 has no response; idempotent producers' sequence numbers are checked against the
//    partition's producer state, which the log keeps (BatchLog::check_producer): duplicates are
//    answered with the first append's offset, gaps with OUT_OF_ORDER_SEQUENCE, an older epoch
//    with INVALID_PRODUCER_EPOCH;
//  - Fetch returns whole stored batches, the first one whole even beyond the size limits
//    (KIP-74), and no fetch sessions (session id 0: every fetch is a full fetch);
//  - ListOffsets -1/-2 are the end and the start (-4, the local start, is the start too); a
//    timestamp gives the first offset at or after it, or -1 when there is none; -3 gives the
//    offset and timestamp of the record with the largest timestamp (the first such record), or
//    -1 and -1 for an empty partition;
//  - Metadata and Produce create missing topics when auto-creation is on.
//  - transactions (transaction_coordinator.h): this broker is every transactional id's
//    coordinator; a transactional produce must be of the producer's current epoch, to a
//    partition added to its ongoing transaction; Fetch and ListOffsets with isolation level 1
//    (read_committed) stop at the last stable offset, and Fetch lists the aborted
//    transactions of the range it returns.
//
// REQUIRES: external synchronization (the server calls it from one thread).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "broker/protocol/batch_log.h"
#include "broker/protocol/messages.h"
#include "broker/server/transaction_coordinator.h"

namespace kappa {

// Authorized operations as Kafka without an authorizer answers them when a client asks
// (Metadata v8+, DescribeGroups v3+, DescribeCluster): every operation of the resource type, as
// bits of Kafka's AclOperation codes (READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
// CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12).
constexpr int32_t acl_operations(std::initializer_list<int> codes) {
  int32_t bits = 0;
  for (int c : codes) bits |= int32_t{1} << c;
  return bits;
}
inline constexpr int32_t kGroupOperations = acl_operations({3, 6, 8});
inline constexpr int32_t kTopicOperations = acl_operations({3, 4, 5, 6, 7, 8, 10, 11});
inline constexpr int32_t kClusterOperations = acl_operations({5, 7, 8, 9, 10, 11, 12});

// The log dir DescribeLogDirs names for a log without a directory (KafkaApi::Options::log_dir
// empty): not a path, so that no tool takes it for one.
inline constexpr const char* kInMemoryLogDir = "(in memory)";

class GroupCoordinator;
struct RecordBatchHeader;

class KafkaApi {
 public:
  struct Options {
    std::string advertised_host = "127.0.0.1";
    int32_t advertised_port = 9092;
    bool auto_create_topics = true;
    int32_t default_partitions = 1;
    int32_t max_message_bytes = 1048588;  // Kafka's message.max.bytes: one batch
    int32_t fetch_max_bytes = 57671680;   // Kafka's fetch.max.bytes: one fetch response
    int32_t max_partitions = 10000;       // per topic, so one request cannot exhaust memory
    // Kafka's offset.metadata.max.bytes: a committed offset's metadata string; a longer one
    // answers OFFSET_METADATA_TOO_LARGE for its partition and is not stored.
    int32_t offset_metadata_max_bytes = 4096;
    int32_t min_session_timeout_ms = 6000;
    int32_t max_session_timeout_ms = 1800000;
    int32_t initial_rebalance_delay_ms = 0;
    std::string cluster_id = "kappa-harness";
    // The data directory (`kappa broker --data`, absolute), DescribeLogDirs' one log dir; empty
    // for a log in memory, described as the log dir kInMemoryLogDir.
    std::string log_dir;
    // The broker's value of each topic config whose default here is not Apache Kafka's
    // (topic_config.h), e.g. retention.ms=-1 for a broker without retention: what a topic
    // without an override does, described as a static broker config.
    TopicConfigs topic_defaults;
    // The transaction coordinator's limits (transaction.max.timeout.ms, ...).
    TransactionCoordinator::Options transactions;
  };

  KafkaApi(BatchLog& log, Options options);
  ~KafkaApi();
  KafkaApi(const KafkaApi&) = delete;
  KafkaApi& operator=(const KafkaApi&) = delete;

  BatchLog& log() { return log_; }
  const Options& options() const { return options_; }

  // Requests answered at once. Each returns the response body, or an error when the body does
  // not decode (the server then closes the connection, as Kafka does).
  Result<std::string> api_versions(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> metadata(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> list_offsets(const kafka::RequestHeader& h, std::string_view body);
  // CreateTopics whole: plan_create_topics, create_planned_topics, answer_create_topics.
  Result<std::string> create_topics(const kafka::RequestHeader& h, std::string_view body);
  // Topic administration (kafka-topics.sh --delete, --alter --partitions), as Kafka answers:
  // UNKNOWN_TOPIC_OR_PARTITION for a missing topic, INVALID_PARTITIONS for a count that does
  // not grow (or passes max_partitions), INVALID_REPLICA_ASSIGNMENT for assignments other than
  // node 0 alone, UNKNOWN_TOPIC_ID for an id (this broker has none), INVALID_REQUEST for a topic
  // named twice; validate_only changes nothing. A deleted topic's committed offsets go with it.
  // These touch only the BatchLog (thread-safe), so the server may run them on another thread,
  // one at a time: growing by thousands of partitions makes thousands of files.
  Result<std::string> delete_topics(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> create_partitions(const kafka::RequestHeader& h, std::string_view body);
  // DeleteRecords (kafka-delete-records.sh, admin clients' deleteRecords): moves each partition's
  // log start offset up (offset -1: to the high watermark) and answers the new low watermark;
  // OFFSET_OUT_OF_RANGE beyond the high watermark, UNKNOWN_TOPIC_OR_PARTITION.
  Result<std::string> delete_records(const kafka::RequestHeader& h, std::string_view body);
  // DescribeLogDirs (kafka-log-dirs.sh, admin clients' describeLogDirs): one log dir,
  // Options::log_dir, holding every partition, each with its size (BatchLog::partition_bytes),
  // offset lag 0 (the high watermark is the log end) and never a future log; the volume's total
  // and usable bytes (v4) from statvfs, -1 (Kafka's "unknown") in memory. A null topic list
  // asks for every partition; unknown topics and partitions are left out, as Kafka does, and so
  // is a topic with none of its partitions left. A data directory statvfs cannot read answers
  // KAFKA_STORAGE_ERROR for the log dir. Reads only the BatchLog (in memory it counts the
  // records), so the server runs it off the I/O thread.
  Result<std::string> describe_log_dirs(const kafka::RequestHeader& h, std::string_view body);
  // Configs (kafka-configs.sh, kafka-topics.sh --describe, admin clients), as Kafka answers:
  // a topic's overrides are DYNAMIC_TOPIC_CONFIG, the rest the broker's defaults; the broker's
  // own configs are its start-up settings, described read-only (altering them is
  // INVALID_REQUEST). A bad name or value is INVALID_CONFIG with Kafka's message, a missing
  // topic UNKNOWN_TOPIC_OR_PARTITION; nothing of a resource changes unless all of it is valid,
  // and validate_only changes nothing. Altering writes the log (an fsync with --data), so the
  // server runs it off the I/O thread, like the topic administration above.
  Result<std::string> describe_configs(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> alter_configs(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> incremental_alter_configs(const kafka::RequestHeader& h,
                                                std::string_view body);
  Result<std::string> describe_cluster(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> find_coordinator(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> init_producer_id(const kafka::RequestHeader& h, std::string_view body,
                                       int64_t now_ms = 0);
  // Transactions, as Kafka's coordinator answers them (transaction_coordinator.h). They write
  // the log (the coordinator's state; EndTxn its markers, synced) before answering.
  Result<std::string> add_partitions_to_txn(const kafka::RequestHeader& h, std::string_view body,
                                            int64_t now_ms);
  Result<std::string> add_offsets_to_txn(const kafka::RequestHeader& h, std::string_view body,
                                         int64_t now_ms);
  Result<std::string> txn_offset_commit(const kafka::RequestHeader& h, std::string_view body,
                                        int64_t now_ms);
  Result<std::string> end_txn(const kafka::RequestHeader& h, std::string_view body, int64_t now_ms);
  TransactionCoordinator& transactions() { return *transactions_; }
  Result<std::string> offset_commit(const kafka::RequestHeader& h, std::string_view body,
                                    int64_t now_ms);
  Result<std::string> offset_fetch(const kafka::RequestHeader& h, std::string_view body);
  Result<std::string> heartbeat(const kafka::RequestHeader& h, std::string_view body,
                                int64_t now_ms);
  Result<std::string> leave_group(const kafka::RequestHeader& h, std::string_view body,
                                  int64_t now_ms);
  // Group administration (kafka-consumer-groups.sh, admin clients), as Kafka's coordinator
  // answers it. A group exists when the coordinator has it or it has committed offsets (the
  // coordinator forgets groups at a restart, their offsets stay): such a group is Empty, with
  // no protocol type. An unknown group is "Dead" to DescribeGroups and GROUP_ID_NOT_FOUND to
  // DeleteGroups and OffsetDelete; a group with members is NON_EMPTY_GROUP to DeleteGroups,
  // and OffsetDelete keeps the offsets of topics its consumers subscribe to
  // (GROUP_SUBSCRIBED_TO_TOPIC). Deletions are durable as commits are. A log that cannot
  // answer makes the groups COORDINATOR_NOT_AVAILABLE, which clients retry.
  Result<std::string> list_groups(const kafka::RequestHeader& h, std::string_view body,
                                  int64_t now_ms);
  Result<std::string> describe_groups(const kafka::RequestHeader& h, std::string_view body,
                                      int64_t now_ms);
  Result<std::string> delete_groups(const kafka::RequestHeader& h, std::string_view body,
                                    int64_t now_ms);
  Result<std::string> offset_delete(const kafka::RequestHeader& h, std::string_view body,
                                    int64_t now_ms);

  // Produce in two steps: produce() checks and appends; the server then makes `to_sync` durable
  // (acks=all) and asks finish_produce() for the response body, unless `respond` is false
  // (acks=0). A partition whose sync failed answers KAFKA_STORAGE_ERROR: nothing is acked that
  // the fsync policy has not made durable.
  struct Produced {
    kafka::ProduceResponse response;
    int16_t version = 0;
    bool respond = true;
    std::vector<std::pair<std::string, int32_t>> to_sync;
    int64_t records_appended = 0;
    std::vector<std::string> storage_errors;  // what the disk said, for the broker's log
  };
  struct SyncFailure {
    std::string topic;
    int32_t partition = 0;
    std::string message;
  };
  Result<Produced> produce(const kafka::RequestHeader& h, std::string_view body);
  std::string finish_produce(Produced& produced, const std::vector<SyncFailure>& failed) const;

  // Fetch in two steps: parse once, then read as often as the server's wait needs. `ready`
  // says min_bytes is met (or an error must be reported at once); the server waits up to
  // max_wait_ms for appends otherwise.
  struct FetchState {
    kafka::FetchRequest request;
    int16_t version = 0;
  };
  // A fetch response's body as its record sets lie: in `buffers`, into which `response.records`
  // point, or in files (a durable log's segments, for the server to sendfile): `files[i]` are
  // the ranges of the set `response.elsewhere[i]`, back to back.
  struct Fetched {
    kafka::GatheredBody response;
    std::vector<std::string> buffers;
    std::vector<std::vector<FileRange>> files;
    int64_t bytes = 0;
    bool ready = false;
    // The body in order: bytes in memory, and between them the record sets in files.
    struct Piece {
      std::string_view bytes;
      const std::vector<FileRange>* files = nullptr;  // when set, this piece instead of bytes
    };
    std::vector<Piece> pieces() const;
    // The whole body, the file ranges read with pread (for tests).
    Result<std::string> flatten() const;
  };
  Result<FetchState> parse_fetch(const kafka::RequestHeader& h, std::string_view body);
  Fetched read_fetch(const FetchState& state);

  // CreateTopics in three steps, so that the server can make the files off its I/O thread:
  // the plan checks every topic (name, partition count, replication) and lists those to
  // create; create_planned_topics makes them and may run on any thread (it only calls the
  // BatchLog, which is thread-safe; run one at a time); the answer encodes the response. A
  // topic that does not fit in the broker's file-descriptor limit answers POLICY_VIOLATION with
  // a message saying how many descriptors it needs and what ulimit -n allows.
  struct TopicCreation {
    struct Create {
      size_t index;  // in response.topics
      std::string name;
      int32_t partitions;
      TopicConfigs configs;  // validated overrides
    };
    kafka::CreateTopicsResponse response;
    std::vector<Create> to_create;
    int16_t version = 0;
  };
  Result<TopicCreation> plan_create_topics(const kafka::RequestHeader& h, std::string_view body);
  void create_planned_topics(TopicCreation& plan);
  std::string answer_create_topics(const TopicCreation& plan) const;

  // Group membership answers when the rebalance completes; `done` receives the body.
  // `client_host` is the member's address as DescribeGroups shows it ("/127.0.0.1").
  using Reply = std::function<void(std::string)>;
  Status join_group(const kafka::RequestHeader& h, std::string_view body, int64_t now_ms,
                    Reply done, std::string client_host = "");
  Status sync_group(const kafka::RequestHeader& h, std::string_view body, int64_t now_ms,
                    Reply done);
  // Session expiry and rebalance deadlines.
  void tick(int64_t now_ms);
  std::optional<int64_t> next_deadline() const;

  // The body an ApiVersions request of an unsupported version gets: v0 with
  // UNSUPPORTED_VERSION and our versions, so the client can retry with one we speak.
  std::string unsupported_api_versions() const;

 private:
  int16_t ensure_topic(std::string_view topic, bool create);
  // AlterConfigs replaces a topic's overrides with the request's; IncrementalAlterConfigs
  // applies each operation to them.
  kafka::AlterConfigsResponse alter(const kafka::AlterConfigsRequest& req, bool incremental);
  // What a topic without an override of `def` has, and the config source that says so.
  std::pair<std::string, int8_t> topic_default(const TopicConfigDef& def) const;
  // Every config of a topic with these overrides, as CreateTopics v5+ answers them (and as
  // DescribeConfigs describes them).
  std::vector<kafka::CreateTopicsResponse::Config> described_configs(
      const TopicConfigs& overrides) const;
  // The groups that have committed offsets, sorted.
  Result<std::vector<std::string>> offset_groups();

  BatchLog& log_;
  const Options options_;
  std::unique_ptr<GroupCoordinator> groups_;
  int64_t next_producer_id_;
  std::unique_ptr<TransactionCoordinator> transactions_;
};

}  // namespace kappa
