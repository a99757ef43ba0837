// The Kafka requests and responses this broker speaks, as C++ structs, and their codec.
//
// Field layouts follow Apache Kafka's published message definitions
// (clients/src/main/resources/common/message/*.json): each field exists from a version on (and
// sometimes only up to one), and flexible versions use compact lengths and end every structure
// with tagged fields. messages.cc describes each message ONCE, as an ordered list of fields with
// their versions; the same description drives decoding and encoding, so the two cannot
// disagree about field order.
//
// Supported versions are in kSupportedApis (docs/protocol.md explains the choice): everything
// librdkafka 2.0 and kcat use, from the first version that carries RecordBatch v2 (Produce v3,
// Fetch v4) to the last non-flexible one, plus ApiVersions v3 (flexible), which clients send
// first, and the group administration of Kafka's tools and admin clients (ListGroups,
// DescribeGroups, DeleteGroups, OffsetDelete; ListOffsets to v8), topic administration
// (CreateTopics, DeleteTopics, CreatePartitions) and DescribeLogDirs, in the flexible versions
// they prefer.
//
// Records fields are views: a decoded Produce request points into the frame it came from, and
// an encoded Fetch response copies from the views its caller keeps alive.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/protocol/wire.h"
#include "broker/result.h"

namespace kappa::kafka {

enum ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kDeleteRecords = 21,
  kInitProducerId = 22,
  kAddPartitionsToTxn = 24,
  kAddOffsetsToTxn = 25,
  kEndTxn = 26,
  kTxnOffsetCommit = 28,
  kDescribeConfigs = 32,
  kAlterConfigs = 33,
  kDescribeLogDirs = 35,
  kCreatePartitions = 37,
  kDeleteGroups = 42,
  kIncrementalAlterConfigs = 44,
  kOffsetDelete = 47,
  kDescribeCluster = 60,
};

struct ApiSupport {
  int16_t key;
  const char* name;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible;  // Kafka's first flexible version of the API (may be > max_version)
};

// Sorted by key.
std::span<const ApiSupport> supported_apis();
const ApiSupport* find_api(int16_t key);
// The name of any Kafka API key ("Produce", "DescribeConfigs"...), or "api <n>".
std::string api_name(int16_t key);
bool is_flexible(int16_t key, int16_t version);

// Request header v1 (v0 has no client id and is not sent by any supported client) or v2 (v1 +
// tagged fields, for flexible request versions).
struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
};

// Reads the header at the start of a request frame; `body` is set to what follows it. The
// header version depends on the API and version, which the header's first fields give.
Result<RequestHeader> decode_request_header(std::string_view frame, std::string_view& body);

// A response frame: size, correlation id, tagged fields when the response header is v1 (a
// flexible version of anything but ApiVersions), then the body.
std::string frame_response(const RequestHeader& header, std::string_view body);
// The part of that frame before a body of `body_size` bytes.
std::string frame_header(const RequestHeader& header, size_t body_size);

// An encoded body whose record sets are not copied in: `bytes` lacks them, and `records` says
// where each goes (its position in `bytes`, in order), for a scatter-gather write. Fetch
// responses are mostly record sets; this keeps them from being copied once more.
struct GatheredBody {
  std::string bytes;
  std::vector<std::pair<size_t, std::string_view>> records;
  // The record sets the message gave only the size of (FetchResponse::Partition::
  // records_elsewhere): where each goes in `bytes` and its size, in order.
  std::vector<std::pair<size_t, size_t>> elsewhere;
  size_t size() const;  // of the whole body, the sets elsewhere included
  // The whole body. REQUIRES: elsewhere is empty.
  std::string flatten() const;
};

// ---- ApiVersions (18) --------------------------------------------------------------------
struct ApiVersionsRequest {
  std::string client_software_name;     // v3+
  std::string client_software_version;  // v3+
};
struct ApiVersionsResponse {
  struct Api {
    int16_t api_key = 0, min_version = 0, max_version = 0;
  };
  int16_t error_code = 0;
  std::vector<Api> api_keys;
  int32_t throttle_time_ms = 0;  // v1+
};

// ---- Metadata (3) ------------------------------------------------------------------------
struct MetadataRequest {
  std::optional<std::vector<std::string>> topics;      // v0: empty means all; v1+: null means all
  bool allow_auto_topic_creation = true;               // v4+
  bool include_cluster_authorized_operations = false;  // v8+
  bool include_topic_authorized_operations = false;    // v8+
};
struct MetadataResponse {
  struct Broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;  // v1+
  };
  struct Partition {
    int16_t error_code = 0;
    int32_t partition_index = 0;
    int32_t leader_id = 0;
    int32_t leader_epoch = -1;  // v7+
    std::vector<int32_t> replica_nodes;
    std::vector<int32_t> isr_nodes;
    std::vector<int32_t> offline_replicas;  // v5+
  };
  struct Topic {
    int16_t error_code = 0;
    std::string name;
    bool is_internal = false;  // v1+
    std::vector<Partition> partitions;
    int32_t topic_authorized_operations = INT32_MIN;  // v8+
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Broker> brokers;
  std::optional<std::string> cluster_id;  // v2+
  int32_t controller_id = -1;             // v1+
  std::vector<Topic> topics;
  int32_t cluster_authorized_operations = INT32_MIN;  // v8+
};

// ---- Produce (0) -------------------------------------------------------------------------
struct ProduceRequest {
  struct Partition {
    int32_t index = 0;
    std::optional<std::string_view> records;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::optional<std::string> transactional_id;  // v3+
  int16_t acks = -1;
  int32_t timeout_ms = 0;
  std::vector<Topic> topics;
};
struct ProduceResponse {
  struct RecordError {
    int32_t batch_index = 0;
    std::optional<std::string> message;
  };
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1;           // v2+
    int64_t log_start_offset = -1;             // v5+
    std::vector<RecordError> record_errors;    // v8+
    std::optional<std::string> error_message;  // v8+
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int32_t throttle_time_ms = 0;  // v1+
};

// ---- Fetch (1) ---------------------------------------------------------------------------
struct FetchRequest {
  struct Partition {
    int32_t index = 0;
    int32_t current_leader_epoch = -1;  // v9+
    int64_t fetch_offset = 0;
    int64_t log_start_offset = -1;  // v5+
    int32_t partition_max_bytes = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  struct Forgotten {
    std::string name;
    std::vector<int32_t> partitions;
  };
  int32_t replica_id = -1;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = INT32_MAX;  // v3+
  int8_t isolation_level = 0;     // v4+
  int32_t session_id = 0;         // v7+
  int32_t session_epoch = -1;     // v7+
  std::vector<Topic> topics;
  std::vector<Forgotten> forgotten;  // v7+
  std::string rack_id;               // v11+
};
struct FetchResponse {
  struct AbortedTransaction {
    int64_t producer_id = 0;
    int64_t first_offset = 0;
  };
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
    int64_t high_watermark = 0;
    int64_t last_stable_offset = -1;                                      // v4+
    int64_t log_start_offset = -1;                                        // v5+
    std::optional<std::vector<AbortedTransaction>> aborted_transactions;  // v4+
    int32_t preferred_read_replica = -1;                                  // v11+
    std::optional<std::string_view> records;
    // Not a field of the message: when >= 0, encode_gathered leaves out a record set of this
    // many bytes in place of `records` (GatheredBody::elsewhere), which the caller writes from
    // where it is (a file). encode() writes `records` instead.
    int64_t records_elsewhere = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;        // v7+
  int32_t session_id = 0;        // v7+
  std::vector<Topic> topics;
};

// ---- ListOffsets (2) ---------------------------------------------------------------------
struct ListOffsetsRequest {
  struct Partition {
    int32_t index = 0;
    int32_t current_leader_epoch = -1;  // v4+
    int64_t timestamp = 0;              // -1 latest, -2 earliest, -3 max timestamp (v7+)
    int32_t max_num_offsets = 1;        // v0
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t replica_id = -1;
  int8_t isolation_level = 0;  // v2+
  std::vector<Topic> topics;
};
struct ListOffsetsResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
    std::vector<int64_t> old_style_offsets;  // v0
    int64_t timestamp = -1;                  // v1+
    int64_t offset = -1;                     // v1+
    int32_t leader_epoch = -1;               // v4+
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v2+
  std::vector<Topic> topics;
};

// A topic id (UUID) as two big-endian halves; this broker has no topic ids, so it answers the
// zero id, as Kafka does for "no id".
struct TopicId {
  int64_t high = 0;
  int64_t low = 0;
  bool is_zero() const { return high == 0 && low == 0; }
  friend bool operator==(const TopicId&, const TopicId&) = default;
};

// ---- CreateTopics (19) -------------------------------------------------------------------
struct CreateTopicsRequest {
  struct Assignment {
    int32_t partition_index = 0;
    std::vector<int32_t> broker_ids;
  };
  struct Config {
    std::string name;
    std::optional<std::string> value;
  };
  struct Topic {
    std::string name;
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    std::vector<Assignment> assignments;
    std::vector<Config> configs;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 60000;
  bool validate_only = false;  // v1+
};
struct CreateTopicsResponse {
  // The created topic's configs as DescribeConfigs describes them (v5+).
  struct Config {
    std::string name;
    std::optional<std::string> value;
    bool read_only = false;
    int8_t config_source = -1;
    bool is_sensitive = false;
  };
  struct Topic {
    std::string name;
    TopicId topic_id;  // v7+
    int16_t error_code = 0;
    std::optional<std::string> error_message;  // v1+
    // v5+: what the topic was created with (or would be, under validate_only); -1 and no
    // configs for a topic that is not.
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    std::vector<Config> configs;
  };
  int32_t throttle_time_ms = 0;  // v2+
  std::vector<Topic> topics;
};

// ---- DeleteTopics (20) -------------------------------------------------------------------
struct DeleteTopicsRequest {
  struct Topic {  // v6+: a topic by name or by id
    std::optional<std::string> name;
    TopicId topic_id;
  };
  std::vector<Topic> topics;             // v6+
  std::vector<std::string> topic_names;  // v0-v5
  int32_t timeout_ms = 30000;
};
struct DeleteTopicsResponse {
  struct Result {
    std::optional<std::string> name;  // null only in v6+, for a topic asked for by id
    TopicId topic_id;                 // v6+
    int16_t error_code = 0;
    std::optional<std::string> error_message;  // v5+
  };
  int32_t throttle_time_ms = 0;  // v1+
  std::vector<Result> responses;
};

// ---- CreatePartitions (37) ---------------------------------------------------------------
struct CreatePartitionsRequest {
  struct Assignment {
    std::vector<int32_t> broker_ids;
  };
  struct Topic {
    std::string name;
    int32_t count = 0;                                   // the new partition count
    std::optional<std::vector<Assignment>> assignments;  // of the new partitions; null: any
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 30000;
  bool validate_only = false;
};
struct CreatePartitionsResponse {
  struct Result {
    std::string name;
    int16_t error_code = 0;
    std::optional<std::string> error_message;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Result> results;
};

// ---- FindCoordinator (10) ----------------------------------------------------------------
struct FindCoordinatorRequest {
  std::string key;
  int8_t key_type = 0;  // v1+: 0 group, 1 transaction
};
struct FindCoordinatorResponse {
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::optional<std::string> error_message;  // v1+
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

// ---- JoinGroup (11) ----------------------------------------------------------------------
struct JoinGroupRequest {
  struct Protocol {
    std::string name;
    std::string metadata;
  };
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;  // v1+
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v5+
  std::string protocol_type;
  std::vector<Protocol> protocols;
};
struct JoinGroupResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v5+
    std::string metadata;
  };
  int32_t throttle_time_ms = 0;  // v2+
  int16_t error_code = 0;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<Member> members;
};

// ---- SyncGroup (14) ----------------------------------------------------------------------
struct SyncGroupRequest {
  struct Assignment {
    std::string member_id;
    std::string assignment;
  };
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
  std::vector<Assignment> assignments;
};
struct SyncGroupResponse {
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::string assignment;
};

// ---- Heartbeat (12) ----------------------------------------------------------------------
struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
};
struct HeartbeatResponse {
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
};

// ---- LeaveGroup (13) ---------------------------------------------------------------------
struct LeaveGroupRequest {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
  };
  std::string group_id;
  std::string member_id;        // v0-2
  std::vector<Member> members;  // v3+
};
struct LeaveGroupResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    int16_t error_code = 0;
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::vector<Member> members;  // v3+
};

// ---- OffsetCommit (8) --------------------------------------------------------------------
struct OffsetCommitRequest {
  struct Partition {
    int32_t index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;  // v6+
    int64_t commit_timestamp = -1;        // v1 only
    std::optional<std::string> committed_metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::string group_id;
  int32_t generation_id = -1;                    // v1+
  std::string member_id;                         // v1+
  std::optional<std::string> group_instance_id;  // v7+
  int64_t retention_time_ms = -1;                // v2-4
  std::vector<Topic> topics;
};
struct OffsetCommitResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Topic> topics;
};

// ---- OffsetFetch (9) ---------------------------------------------------------------------
struct OffsetFetchRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partition_indexes;
  };
  std::string group_id;
  std::optional<std::vector<Topic>> topics;  // v2+: null means every topic of the group
  bool require_stable = false;               // v7+: no offset a transaction has pending
};
struct OffsetFetchResponse {
  struct Partition {
    int32_t index = 0;
    int64_t committed_offset = -1;
    int32_t committed_leader_epoch = -1;  // v5+
    std::optional<std::string> metadata;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Topic> topics;
  int16_t error_code = 0;  // v2+
};

// ---- ListGroups (16) --------------------------------------------------------------------
struct ListGroupsRequest {
  std::vector<std::string> states_filter;  // v4+: empty means every state
  std::vector<std::string> types_filter;   // v5+: empty means every type
};
struct ListGroupsResponse {
  struct Group {
    std::string group_id;
    std::string protocol_type;
    std::string group_state;  // v4+
    std::string group_type;   // v5+
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::vector<Group> groups;
};

// ---- DescribeGroups (15) -----------------------------------------------------------------
struct DescribeGroupsRequest {
  std::vector<std::string> groups;
  bool include_authorized_operations = false;  // v3+
};
struct DescribeGroupsResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v4+
    std::string client_id;
    std::string client_host;
    std::string member_metadata;
    std::string member_assignment;
  };
  struct Group {
    int16_t error_code = 0;
    std::string group_id;
    std::string group_state;
    std::string protocol_type;
    std::string protocol_data;
    std::vector<Member> members;
    int32_t authorized_operations = INT32_MIN;  // v3+
  };
  int32_t throttle_time_ms = 0;  // v1+
  std::vector<Group> groups;
};

// ---- DeleteGroups (42) -------------------------------------------------------------------
struct DeleteGroupsRequest {
  std::vector<std::string> groups_names;
};
struct DeleteGroupsResponse {
  struct Result {
    std::string group_id;
    int16_t error_code = 0;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Result> results;
};

// ---- OffsetDelete (47) -------------------------------------------------------------------
struct OffsetDeleteRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  std::string group_id;
  std::vector<Topic> topics;
};
struct OffsetDeleteResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int16_t error_code = 0;
  int32_t throttle_time_ms = 0;
  std::vector<Topic> topics;
};

// ---- DeleteRecords (21) ------------------------------------------------------------------
struct DeleteRecordsRequest {
  struct Partition {
    int32_t index = 0;
    int64_t offset = 0;  // the new log start; -1: the high watermark
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 30000;
};
struct DeleteRecordsResponse {
  struct Partition {
    int32_t index = 0;
    int64_t low_watermark = -1;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Topic> topics;
};

// ---- DescribeLogDirs (35) ----------------------------------------------------------------
struct DescribeLogDirsRequest {
  struct Topic {
    std::string topic;
    std::vector<int32_t> partitions;
  };
  std::optional<std::vector<Topic>> topics;  // null: every partition of every topic
};
struct DescribeLogDirsResponse {
  struct Partition {
    int32_t partition_index = 0;
    int64_t partition_size = 0;  // bytes
    int64_t offset_lag = 0;
    bool is_future_key = false;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  struct Result {
    int16_t error_code = 0;
    std::string log_dir;
    std::vector<Topic> topics;
    int64_t total_bytes = -1;   // v4+: of the volume; -1 unknown
    int64_t usable_bytes = -1;  // v4+
  };
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;  // v3+
  std::vector<Result> results;
};

// ---- DescribeConfigs (32) ----------------------------------------------------------------
// Resource types (Kafka's ConfigResource.Type) and config sources (DescribeConfigsResponse's).
enum ConfigResourceType : int8_t { kTopicResource = 2, kBrokerResource = 4 };
enum ConfigSource : int8_t {
  kDynamicTopicConfig = 1,
  kStaticBrokerConfig = 4,
  kDefaultConfig = 5,
};
struct DescribeConfigsRequest {
  struct Resource {
    int8_t resource_type = 0;
    std::string resource_name;
    std::optional<std::vector<std::string>> configuration_keys;  // null: every config
  };
  std::vector<Resource> resources;
  bool include_synonyms = false;       // v1+
  bool include_documentation = false;  // v3+
};
struct DescribeConfigsResponse {
  struct Synonym {
    std::string name;
    std::optional<std::string> value;
    int8_t source = 0;
  };
  struct Config {
    std::string name;
    std::optional<std::string> value;
    bool read_only = false;
    bool is_default = false;    // v0 only; v1+ says it with config_source
    int8_t config_source = -1;  // v1+
    bool is_sensitive = false;
    std::vector<Synonym> synonyms;             // v1+
    int8_t config_type = 0;                    // v3+
    std::optional<std::string> documentation;  // v3+
  };
  struct Result {
    int16_t error_code = 0;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
    std::vector<Config> configs;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Result> results;
};

// ---- AlterConfigs (33) and IncrementalAlterConfigs (44) --------------------------------------
// One request type for both: IncrementalAlterConfigs adds an operation per config.
enum ConfigOperation : int8_t { kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3 };
struct AlterConfigsRequest {
  struct Config {
    std::string name;
    int8_t operation = kSet;  // IncrementalAlterConfigs only
    std::optional<std::string> value;
  };
  struct Resource {
    int8_t resource_type = 0;
    std::string resource_name;
    std::vector<Config> configs;
  };
  std::vector<Resource> resources;
  bool validate_only = false;
};
struct IncrementalAlterConfigsRequest : AlterConfigsRequest {};
struct AlterConfigsResponse {
  struct Result {
    int16_t error_code = 0;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Result> responses;
};
struct IncrementalAlterConfigsResponse : AlterConfigsResponse {};

// ---- DescribeCluster (60) ----------------------------------------------------------------
struct DescribeClusterRequest {
  bool include_cluster_authorized_operations = false;
  int8_t endpoint_type = 1;  // v1+: 1 brokers, 2 controllers
};
struct DescribeClusterResponse {
  struct Broker {
    int32_t broker_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;
  };
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  std::optional<std::string> error_message;
  int8_t endpoint_type = 1;  // v1+
  std::string cluster_id;
  int32_t controller_id = -1;
  std::vector<Broker> brokers;
  int32_t cluster_authorized_operations = INT32_MIN;
};

// ---- InitProducerId (22) -----------------------------------------------------------------
struct InitProducerIdRequest {
  std::optional<std::string> transactional_id;
  int32_t transaction_timeout_ms = 0;
  int64_t producer_id = -1;     // v3+: the id and epoch a producer has, to bump after an error
  int16_t producer_epoch = -1;  // v3+
};
struct InitProducerIdResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};

// ---- AddPartitionsToTxn (24): the client versions, v0-v3 -------------------------------------
struct AddPartitionsToTxnRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::vector<Topic> topics;
};
struct AddPartitionsToTxnResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Topic> results;
};

// ---- AddOffsetsToTxn (25) ----------------------------------------------------------------
struct AddOffsetsToTxnRequest {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::string group_id;
};
struct AddOffsetsToTxnResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
};

// ---- EndTxn (26) -------------------------------------------------------------------------
struct EndTxnRequest {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  bool committed = false;
};
struct EndTxnResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
};

// ---- TxnOffsetCommit (28) ----------------------------------------------------------------
struct TxnOffsetCommitRequest {
  struct Partition {
    int32_t index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;  // v2+
    std::optional<std::string> committed_metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::string transactional_id;
  std::string group_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t generation_id = -1;                    // v3+
  std::string member_id;                         // v3+
  std::optional<std::string> group_instance_id;  // v3+
  std::vector<Topic> topics;
};
struct TxnOffsetCommitResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Topic> topics;
};

// Decodes a request body of the given version; the error names the message, version, field
// and byte offset. Trailing bytes are an error too.
template <class Message>
Status decode(std::string_view body, int16_t version, Message& out);

// Encodes a response (or, for tests and clients, a request) body of the given version.
template <class Message>
std::string encode(const Message& message, int16_t version);

GatheredBody encode_gathered(const FetchResponse& message, int16_t version);

}  // namespace kappa::kafka
