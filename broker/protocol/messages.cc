#include "broker/protocol/messages.h"

#include <algorithm>
#include <array>
#include <type_traits>

namespace kappa::kafka {
namespace {

constexpr std::array<ApiSupport, 30> kApis{{
    {kProduce, "Produce", 3, 8, 9},
    {kFetch, "Fetch", 4, 11, 12},
    {kListOffsets, "ListOffsets", 0, 8, 6},
    {kMetadata, "Metadata", 0, 8, 9},
    {kOffsetCommit, "OffsetCommit", 0, 7, 8},
    {kOffsetFetch, "OffsetFetch", 0, 7, 6},
    {kFindCoordinator, "FindCoordinator", 0, 2, 3},
    {kJoinGroup, "JoinGroup", 0, 5, 6},
    {kHeartbeat, "Heartbeat", 0, 3, 4},
    {kLeaveGroup, "LeaveGroup", 0, 3, 4},
    {kSyncGroup, "SyncGroup", 0, 3, 4},
    {kDescribeGroups, "DescribeGroups", 0, 5, 5},
    {kListGroups, "ListGroups", 0, 5, 3},
    {kApiVersions, "ApiVersions", 0, 3, 3},
    {kCreateTopics, "CreateTopics", 0, 7, 5},
    {kDeleteTopics, "DeleteTopics", 0, 6, 4},
    {kDeleteRecords, "DeleteRecords", 0, 2, 2},
    {kInitProducerId, "InitProducerId", 0, 5, 2},
    {kAddPartitionsToTxn, "AddPartitionsToTxn", 0, 3, 3},
    {kAddOffsetsToTxn, "AddOffsetsToTxn", 0, 4, 3},
    {kEndTxn, "EndTxn", 0, 4, 3},
    {kTxnOffsetCommit, "TxnOffsetCommit", 0, 4, 3},
    {kDescribeConfigs, "DescribeConfigs", 0, 4, 4},
    {kAlterConfigs, "AlterConfigs", 0, 2, 2},
    {kDescribeLogDirs, "DescribeLogDirs", 0, 4, 2},
    {kCreatePartitions, "CreatePartitions", 0, 3, 2},
    {kDeleteGroups, "DeleteGroups", 0, 2, 2},
    {kIncrementalAlterConfigs, "IncrementalAlterConfigs", 0, 1, 1},
    {kOffsetDelete, "OffsetDelete", 0, 0, INT16_MAX},  // never flexible
    {kDescribeCluster, "DescribeCluster", 0, 1, 0},
}};

// Names of the keys we do not serve, for log lines about clients asking for them.
constexpr std::array<const char*, 75> kAllNames{"Produce",
                                                "Fetch",
                                                "ListOffsets",
                                                "Metadata",
                                                "LeaderAndIsr",
                                                "StopReplica",
                                                "UpdateMetadata",
                                                "ControlledShutdown",
                                                "OffsetCommit",
                                                "OffsetFetch",
                                                "FindCoordinator",
                                                "JoinGroup",
                                                "Heartbeat",
                                                "LeaveGroup",
                                                "SyncGroup",
                                                "DescribeGroups",
                                                "ListGroups",
                                                "SaslHandshake",
                                                "ApiVersions",
                                                "CreateTopics",
                                                "DeleteTopics",
                                                "DeleteRecords",
                                                "InitProducerId",
                                                "OffsetForLeaderEpoch",
                                                "AddPartitionsToTxn",
                                                "AddOffsetsToTxn",
                                                "EndTxn",
                                                "WriteTxnMarkers",
                                                "TxnOffsetCommit",
                                                "DescribeAcls",
                                                "CreateAcls",
                                                "DeleteAcls",
                                                "DescribeConfigs",
                                                "AlterConfigs",
                                                "AlterReplicaLogDirs",
                                                "DescribeLogDirs",
                                                "SaslAuthenticate",
                                                "CreatePartitions",
                                                "CreateDelegationToken",
                                                "RenewDelegationToken",
                                                "ExpireDelegationToken",
                                                "DescribeDelegationToken",
                                                "DeleteGroups",
                                                "ElectLeaders",
                                                "IncrementalAlterConfigs",
                                                "AlterPartitionReassignments",
                                                "ListPartitionReassignments",
                                                "OffsetDelete",
                                                "DescribeClientQuotas",
                                                "AlterClientQuotas",
                                                "DescribeUserScramCredentials",
                                                "AlterUserScramCredentials",
                                                "Vote",
                                                "BeginQuorumEpoch",
                                                "EndQuorumEpoch",
                                                "DescribeQuorum",
                                                "AlterPartition",
                                                "UpdateFeatures",
                                                "Envelope",
                                                "FetchSnapshot",
                                                "DescribeCluster",
                                                "DescribeProducers",
                                                "BrokerRegistration",
                                                "BrokerHeartbeat",
                                                "UnregisterBroker",
                                                "DescribeTransactions",
                                                "ListTransactions",
                                                "AllocateProducerIds",
                                                "ConsumerGroupHeartbeat",
                                                "ConsumerGroupDescribe",
                                                "ControllerRegistration",
                                                "GetTelemetrySubscriptions",
                                                "PushTelemetry",
                                                "AssignReplicasToDirs",
                                                "ListClientMetricsResources"};

// The versions a field exists in.
struct V {
  int16_t lo = 0;
  int16_t hi = INT16_MAX;
};

// Reads fields in the order a message description visits them.
class Reader {
 public:
  Reader(std::string_view in, int16_t version, bool flexible)
      : r_(in), version_(version), flexible_(flexible) {}
  WireReader& wire() { return r_; }
  bool has(V v) const { return version_ >= v.lo && version_ <= v.hi; }
  int16_t version() const { return version_; }

  void i8(int8_t& x, const char* f, V v = {}) {
    if (has(v)) x = r_.i8(f);
  }
  void i16(int16_t& x, const char* f, V v = {}) {
    if (has(v)) x = r_.i16(f);
  }
  void i32(int32_t& x, const char* f, V v = {}) {
    if (has(v)) x = r_.i32(f);
  }
  void i64(int64_t& x, const char* f, V v = {}) {
    if (has(v)) x = r_.i64(f);
  }
  void boolean(bool& x, const char* f, V v = {}) {
    if (has(v)) x = r_.i8(f) != 0;
  }
  void str(std::string& x, const char* f, V v = {}) {
    if (!has(v)) return;
    if (!flexible_) {
      x = r_.string(f);
      return;
    }
    auto s = r_.compact_string(f);
    if (!s && r_.ok()) r_.invalid(f, "a null where a string is required");
    x = s.value_or("");
  }
  void nstr(std::optional<std::string>& x, const char* f, V v = {}) {
    if (has(v)) x = flexible_ ? r_.compact_string(f) : r_.nullable_string(f);
  }
  void bytes(std::string& x, const char* f, V v = {}) {
    if (!has(v)) return;
    if (!flexible_) {
      x = r_.bytes(f);
      return;
    }
    auto b = r_.compact_bytes(f);
    if (!b && r_.ok()) r_.invalid(f, "null bytes where bytes are required");
    x = b.value_or("");
  }
  void records(std::optional<std::string_view>& x, const char* f, V v = {}) {
    if (has(v)) x = r_.nullable_bytes_view(f, flexible_);
  }
  template <class P>
  void fetched_records(P& p, const char* f) {
    records(p.records, f);
  }
  template <class T, class Each>
  void array(std::vector<T>& xs, const char* f, V v, Each each) {
    if (!has(v)) return;
    auto n = r_.array_length(f, flexible_);
    if (!n && r_.ok()) r_.invalid(f, "a null array where an array is required");
    read_elements(xs, n.value_or(0), each);
  }
  template <class T, class Each>
  void nullable_array(std::optional<std::vector<T>>& xs, const char* f, V v, Each each) {
    if (!has(v)) return;
    auto n = r_.array_length(f, flexible_);
    if (!n) {
      xs.reset();
      return;
    }
    xs.emplace();
    read_elements(*xs, *n, each);
  }
  void i32s(std::vector<int32_t>& xs, const char* f, V v = {}) {
    if (!has(v)) return;
    auto n = r_.array_length(f, flexible_);
    for (int32_t i = 0; i < n.value_or(0) && r_.ok(); ++i) xs.push_back(r_.i32(f));
  }
  void i64s(std::vector<int64_t>& xs, const char* f, V v = {}) {
    if (!has(v)) return;
    auto n = r_.array_length(f, flexible_);
    for (int32_t i = 0; i < n.value_or(0) && r_.ok(); ++i) xs.push_back(r_.i64(f));
  }
  // An array of strings: no tagged fields after each element, unlike an array of structures.
  void strs(std::vector<std::string>& xs, const char* f, V v = {}) {
    if (!has(v)) return;
    auto n = r_.array_length(f, flexible_);
    if (!n && r_.ok()) r_.invalid(f, "a null array where an array is required");
    for (int32_t i = 0; i < n.value_or(0) && r_.ok(); ++i) str(xs.emplace_back(), f);
  }
  void nstrs(std::optional<std::vector<std::string>>& xs, const char* f, V v = {}) {
    if (!has(v)) return;
    auto n = r_.array_length(f, flexible_);
    if (!n) {
      xs.reset();
      return;
    }
    xs.emplace();
    for (int32_t i = 0; i < *n && r_.ok(); ++i) str(xs->emplace_back(), f);
  }
  void end_struct(const char* where) {
    if (flexible_) r_.skip_tagged_fields(where);
  }

 private:
  template <class T, class Each>
  void read_elements(std::vector<T>& xs, int32_t n, Each each) {
    xs.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r_.ok(); ++i) {
      each(xs.emplace_back());
      end_struct("tagged fields");
    }
  }
  WireReader r_;
  int16_t version_;
  bool flexible_;
};

// Writes fields in the order a message description visits them.
class Writer {
 public:
  Writer(int16_t version, bool flexible,
         std::vector<std::pair<size_t, std::string_view>>* gather = nullptr,
         std::vector<std::pair<size_t, size_t>>* elsewhere = nullptr)
      : version_(version), flexible_(flexible), gather_(gather), elsewhere_(elsewhere) {}
  std::string take() { return w_.take(); }
  bool has(V v) const { return version_ >= v.lo && version_ <= v.hi; }
  int16_t version() const { return version_; }

  void i8(const int8_t& x, const char*, V v = {}) {
    if (has(v)) w_.i8(x);
  }
  void i16(const int16_t& x, const char*, V v = {}) {
    if (has(v)) w_.i16(x);
  }
  void i32(const int32_t& x, const char*, V v = {}) {
    if (has(v)) w_.i32(x);
  }
  void i64(const int64_t& x, const char*, V v = {}) {
    if (has(v)) w_.i64(x);
  }
  void boolean(const bool& x, const char*, V v = {}) {
    if (has(v)) w_.i8(x ? 1 : 0);
  }
  void str(const std::string& x, const char*, V v = {}) {
    if (!has(v)) return;
    if (flexible_) {
      w_.compact_string(x);
    } else {
      w_.string(x);
    }
  }
  void nstr(const std::optional<std::string>& x, const char*, V v = {}) {
    if (!has(v)) return;
    if (flexible_) {
      w_.compact_string(x);
    } else {
      w_.nullable_string(x);
    }
  }
  void bytes(const std::string& x, const char*, V v = {}) {
    if (!has(v)) return;
    if (flexible_) {
      w_.compact_bytes(x);
    } else {
      w_.bytes(x);
    }
  }
  void records(const std::optional<std::string_view>& x, const char*, V v = {}) {
    if (!has(v)) return;
    if (!x) {
      w_.array_length(-1, flexible_);  // the same encoding as a null BYTES length
      return;
    }
    if (flexible_) {
      w_.uvarint(x->size() + 1);
    } else {
      w_.i32(static_cast<int32_t>(x->size()));
    }
    if (gather_ != nullptr) {
      gather_->emplace_back(w_.bytes_written().size(), *x);
    } else {
      w_.raw(*x);
    }
  }
  // A fetch response's record set, or one left out for the caller (records_elsewhere).
  template <class P>
  void fetched_records(const P& p, const char* f) {
    if (p.records_elsewhere < 0 || elsewhere_ == nullptr) return records(p.records, f);
    const auto n = static_cast<size_t>(p.records_elsewhere);
    if (flexible_) {
      w_.uvarint(n + 1);
    } else {
      w_.i32(static_cast<int32_t>(n));
    }
    elsewhere_->emplace_back(w_.bytes_written().size(), n);
  }
  template <class T, class Each>
  void array(const std::vector<T>& xs, const char*, V v, Each each) {
    if (!has(v)) return;
    w_.array_length(static_cast<int32_t>(xs.size()), flexible_);
    for (const T& x : xs) {
      each(x);
      end_struct("");
    }
  }
  template <class T, class Each>
  void nullable_array(const std::optional<std::vector<T>>& xs, const char* f, V v, Each each) {
    if (!has(v)) return;
    if (!xs) {
      w_.array_length(-1, flexible_);
      return;
    }
    array(*xs, f, v, each);
  }
  void i32s(const std::vector<int32_t>& xs, const char*, V v = {}) {
    if (!has(v)) return;
    w_.array_length(static_cast<int32_t>(xs.size()), flexible_);
    for (int32_t x : xs) w_.i32(x);
  }
  void i64s(const std::vector<int64_t>& xs, const char*, V v = {}) {
    if (!has(v)) return;
    w_.array_length(static_cast<int32_t>(xs.size()), flexible_);
    for (int64_t x : xs) w_.i64(x);
  }
  void strs(const std::vector<std::string>& xs, const char* f, V v = {}) {
    if (!has(v)) return;
    w_.array_length(static_cast<int32_t>(xs.size()), flexible_);
    for (const std::string& x : xs) str(x, f);
  }
  void nstrs(const std::optional<std::vector<std::string>>& xs, const char* f, V v = {}) {
    if (!has(v)) return;
    if (!xs) {
      w_.array_length(-1, flexible_);
      return;
    }
    strs(*xs, f, v);
  }
  void end_struct(const char*) {
    if (flexible_) w_.empty_tagged_fields();
  }

 private:
  WireWriter w_;
  int16_t version_;
  bool flexible_;
  std::vector<std::pair<size_t, std::string_view>>* gather_;
  std::vector<std::pair<size_t, size_t>>* elsewhere_;
};

// One description per message: the fields in wire order, with the versions they exist in.
// `m` is the message, const when encoding.
template <class Message>
struct Fields;

template <>
struct Fields<ApiVersionsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.client_software_name, "ClientSoftwareName", {3});
    io.str(m.client_software_version, "ClientSoftwareVersion", {3});
  }
};
template <>
struct Fields<ApiVersionsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i16(m.error_code, "ErrorCode");
    io.array(m.api_keys, "ApiKeys", {}, [&](auto& a) {
      io.i16(a.api_key, "ApiKey");
      io.i16(a.min_version, "MinVersion");
      io.i16(a.max_version, "MaxVersion");
    });
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
  }
};

template <>
struct Fields<MetadataRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    auto each = [&](auto& t) { io.str(t, "Topics[].Name"); };
    if (io.version() == 0) {
      // v0 has no null array: an empty one asks for every topic.
      std::vector<std::string> v0;
      if constexpr (std::is_const_v<M>) {
        if (m.topics) v0 = *m.topics;
        io.array(v0, "Topics", {}, each);
      } else {
        io.array(v0, "Topics", {}, each);
        if (v0.empty()) {
          m.topics.reset();
        } else {
          m.topics = std::move(v0);
        }
      }
    } else {
      io.nullable_array(m.topics, "Topics", {}, each);
    }
    io.boolean(m.allow_auto_topic_creation, "AllowAutoTopicCreation", {4});
    io.boolean(m.include_cluster_authorized_operations, "IncludeClusterAuthorizedOperations",
               {8, 10});
    io.boolean(m.include_topic_authorized_operations, "IncludeTopicAuthorizedOperations", {8});
  }
};
template <>
struct Fields<MetadataResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {3});
    io.array(m.brokers, "Brokers", {}, [&](auto& b) {
      io.i32(b.node_id, "NodeId");
      io.str(b.host, "Host");
      io.i32(b.port, "Port");
      io.nstr(b.rack, "Rack", {1});
    });
    io.nstr(m.cluster_id, "ClusterId", {2});
    io.i32(m.controller_id, "ControllerId", {1});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.i16(t.error_code, "ErrorCode");
      io.str(t.name, "Name");
      io.boolean(t.is_internal, "IsInternal", {1});
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i16(p.error_code, "ErrorCode");
        io.i32(p.partition_index, "PartitionIndex");
        io.i32(p.leader_id, "LeaderId");
        io.i32(p.leader_epoch, "LeaderEpoch", {7});
        io.i32s(p.replica_nodes, "ReplicaNodes");
        io.i32s(p.isr_nodes, "IsrNodes");
        io.i32s(p.offline_replicas, "OfflineReplicas", {5});
      });
      io.i32(t.topic_authorized_operations, "TopicAuthorizedOperations", {8});
    });
    io.i32(m.cluster_authorized_operations, "ClusterAuthorizedOperations", {8, 10});
  }
};

template <>
struct Fields<ProduceRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.nstr(m.transactional_id, "TransactionalId", {3});
    io.i16(m.acks, "Acks");
    io.i32(m.timeout_ms, "TimeoutMs");
    io.array(m.topics, "TopicData", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "PartitionData", {}, [&](auto& p) {
        io.i32(p.index, "Index");
        io.records(p.records, "Records");
      });
    });
  }
};
template <>
struct Fields<ProduceResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.array(m.topics, "Responses", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "PartitionResponses", {}, [&](auto& p) {
        io.i32(p.index, "Index");
        io.i16(p.error_code, "ErrorCode");
        io.i64(p.base_offset, "BaseOffset");
        io.i64(p.log_append_time_ms, "LogAppendTimeMs", {2});
        io.i64(p.log_start_offset, "LogStartOffset", {5});
        io.array(p.record_errors, "RecordErrors", {8}, [&](auto& e) {
          io.i32(e.batch_index, "BatchIndex");
          io.nstr(e.message, "BatchIndexErrorMessage");
        });
        io.nstr(p.error_message, "ErrorMessage", {8});
      });
    });
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
  }
};

template <>
struct Fields<FetchRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.replica_id, "ReplicaId");
    io.i32(m.max_wait_ms, "MaxWaitMs");
    io.i32(m.min_bytes, "MinBytes");
    io.i32(m.max_bytes, "MaxBytes", {3});
    io.i8(m.isolation_level, "IsolationLevel", {4});
    io.i32(m.session_id, "SessionId", {7});
    io.i32(m.session_epoch, "SessionEpoch", {7});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Topic");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "Partition");
        io.i32(p.current_leader_epoch, "CurrentLeaderEpoch", {9});
        io.i64(p.fetch_offset, "FetchOffset");
        io.i64(p.log_start_offset, "LogStartOffset", {5});
        io.i32(p.partition_max_bytes, "PartitionMaxBytes");
      });
    });
    io.array(m.forgotten, "ForgottenTopicsData", {7}, [&](auto& f) {
      io.str(f.name, "Topic");
      io.i32s(f.partitions, "Partitions");
    });
    io.str(m.rack_id, "RackId", {11});
  }
};
template <>
struct Fields<FetchResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.i16(m.error_code, "ErrorCode", {7});
    io.i32(m.session_id, "SessionId", {7});
    io.array(m.topics, "Responses", {}, [&](auto& t) {
      io.str(t.name, "Topic");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i16(p.error_code, "ErrorCode");
        io.i64(p.high_watermark, "HighWatermark");
        io.i64(p.last_stable_offset, "LastStableOffset", {4});
        io.i64(p.log_start_offset, "LogStartOffset", {5});
        io.nullable_array(p.aborted_transactions, "AbortedTransactions", {4}, [&](auto& a) {
          io.i64(a.producer_id, "ProducerId");
          io.i64(a.first_offset, "FirstOffset");
        });
        io.i32(p.preferred_read_replica, "PreferredReadReplica", {11});
        io.fetched_records(p, "Records");
      });
    });
  }
};

template <>
struct Fields<ListOffsetsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.replica_id, "ReplicaId");
    io.i8(m.isolation_level, "IsolationLevel", {2});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i32(p.current_leader_epoch, "CurrentLeaderEpoch", {4});
        io.i64(p.timestamp, "Timestamp");
        io.i32(p.max_num_offsets, "MaxNumOffsets", {0, 0});
      });
    });
  }
};
template <>
struct Fields<ListOffsetsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {2});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i16(p.error_code, "ErrorCode");
        io.i64s(p.old_style_offsets, "OldStyleOffsets", {0, 0});
        io.i64(p.timestamp, "Timestamp", {1});
        io.i64(p.offset, "Offset", {1});
        io.i32(p.leader_epoch, "LeaderEpoch", {4});
      });
    });
  }
};

template <>
struct Fields<CreateTopicsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.i32(t.num_partitions, "NumPartitions");
      io.i16(t.replication_factor, "ReplicationFactor");
      io.array(t.assignments, "Assignments", {}, [&](auto& a) {
        io.i32(a.partition_index, "PartitionIndex");
        io.i32s(a.broker_ids, "BrokerIds");
      });
      io.array(t.configs, "Configs", {}, [&](auto& c) {
        io.str(c.name, "Name");
        io.nstr(c.value, "Value");
      });
    });
    io.i32(m.timeout_ms, "TimeoutMs");
    io.boolean(m.validate_only, "ValidateOnly", {1});
  }
};
template <>
struct Fields<CreateTopicsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {2});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.i64(t.topic_id.high, "TopicId", {7});
      io.i64(t.topic_id.low, "TopicId", {7});
      io.i16(t.error_code, "ErrorCode");
      io.nstr(t.error_message, "ErrorMessage", {1});
      // TopicConfigErrorCode (v5+, tagged) is never sent: the configs are always described.
      io.i32(t.num_partitions, "NumPartitions", {5});
      io.i16(t.replication_factor, "ReplicationFactor", {5});
      io.array(t.configs, "Configs", {5}, [&](auto& c) {
        io.str(c.name, "Name");
        io.nstr(c.value, "Value");
        io.boolean(c.read_only, "ReadOnly");
        io.i8(c.config_source, "ConfigSource");
        io.boolean(c.is_sensitive, "IsSensitive");
      });
    });
  }
};

template <>
struct Fields<DeleteTopicsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.array(m.topics, "Topics", {6}, [&](auto& t) {
      io.nstr(t.name, "Name");
      io.i64(t.topic_id.high, "TopicId");
      io.i64(t.topic_id.low, "TopicId");
    });
    io.strs(m.topic_names, "TopicNames", {0, 5});
    io.i32(m.timeout_ms, "TimeoutMs");
  }
};
template <>
struct Fields<DeleteTopicsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.array(m.responses, "Responses", {}, [&](auto& r) {
      if (io.has({6})) {
        io.nstr(r.name, "Name");
      } else {
        if constexpr (std::is_const_v<M>) {
          io.str(r.name.value_or(""), "Name");
        } else {
          io.str(r.name.emplace(), "Name");
        }
      }
      io.i64(r.topic_id.high, "TopicId", {6});
      io.i64(r.topic_id.low, "TopicId", {6});
      io.i16(r.error_code, "ErrorCode");
      io.nstr(r.error_message, "ErrorMessage", {5});
    });
  }
};

template <>
struct Fields<CreatePartitionsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.i32(t.count, "Count");
      io.nullable_array(t.assignments, "Assignments", {},
                        [&](auto& a) { io.i32s(a.broker_ids, "BrokerIds"); });
    });
    io.i32(m.timeout_ms, "TimeoutMs");
    io.boolean(m.validate_only, "ValidateOnly");
  }
};
template <>
struct Fields<CreatePartitionsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.results, "Results", {}, [&](auto& r) {
      io.str(r.name, "Name");
      io.i16(r.error_code, "ErrorCode");
      io.nstr(r.error_message, "ErrorMessage");
    });
  }
};

template <>
struct Fields<DeleteRecordsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i64(p.offset, "Offset");
      });
    });
    io.i32(m.timeout_ms, "TimeoutMs");
  }
};
template <>
struct Fields<DeleteRecordsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i64(p.low_watermark, "LowWatermark");
        io.i16(p.error_code, "ErrorCode");
      });
    });
  }
};

template <>
struct Fields<DescribeLogDirsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.nullable_array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.topic, "Topic");
      io.i32s(t.partitions, "Partitions");
    });
  }
};
template <>
struct Fields<DescribeLogDirsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.i16(m.error_code, "ErrorCode", {3});
    io.array(m.results, "Results", {}, [&](auto& r) {
      io.i16(r.error_code, "ErrorCode");
      io.str(r.log_dir, "LogDir");
      io.array(r.topics, "Topics", {}, [&](auto& t) {
        io.str(t.name, "Name");
        io.array(t.partitions, "Partitions", {}, [&](auto& p) {
          io.i32(p.partition_index, "PartitionIndex");
          io.i64(p.partition_size, "PartitionSize");
          io.i64(p.offset_lag, "OffsetLag");
          io.boolean(p.is_future_key, "IsFutureKey");
        });
      });
      io.i64(r.total_bytes, "TotalBytes", {4});
      io.i64(r.usable_bytes, "UsableBytes", {4});
    });
  }
};

template <>
struct Fields<DescribeConfigsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.array(m.resources, "Resources", {}, [&](auto& r) {
      io.i8(r.resource_type, "ResourceType");
      io.str(r.resource_name, "ResourceName");
      io.nstrs(r.configuration_keys, "ConfigurationKeys");
    });
    io.boolean(m.include_synonyms, "IncludeSynonyms", {1});
    io.boolean(m.include_documentation, "IncludeDocumentation", {3});
  }
};
template <>
struct Fields<DescribeConfigsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.results, "Results", {}, [&](auto& r) {
      io.i16(r.error_code, "ErrorCode");
      io.nstr(r.error_message, "ErrorMessage");
      io.i8(r.resource_type, "ResourceType");
      io.str(r.resource_name, "ResourceName");
      io.array(r.configs, "Configs", {}, [&](auto& c) {
        io.str(c.name, "Name");
        io.nstr(c.value, "Value");
        io.boolean(c.read_only, "ReadOnly");
        io.boolean(c.is_default, "IsDefault", {0, 0});
        io.i8(c.config_source, "ConfigSource", {1});
        io.boolean(c.is_sensitive, "IsSensitive");
        io.array(c.synonyms, "Synonyms", {1}, [&](auto& y) {
          io.str(y.name, "Name");
          io.nstr(y.value, "Value");
          io.i8(y.source, "Source");
        });
        io.i8(c.config_type, "ConfigType", {3});
        io.nstr(c.documentation, "Documentation", {3});
      });
    });
  }
};

template <>
struct Fields<AlterConfigsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m, bool incremental = false) {
    io.array(m.resources, "Resources", {}, [&](auto& r) {
      io.i8(r.resource_type, "ResourceType");
      io.str(r.resource_name, "ResourceName");
      io.array(r.configs, "Configs", {}, [&](auto& c) {
        io.str(c.name, "Name");
        if (incremental) io.i8(c.operation, "ConfigOperation");
        io.nstr(c.value, "Value");
      });
    });
    io.boolean(m.validate_only, "ValidateOnly");
  }
};
template <>
struct Fields<IncrementalAlterConfigsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    Fields<AlterConfigsRequest>::visit(io, m, true);
  }
};
template <>
struct Fields<AlterConfigsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.responses, "Responses", {}, [&](auto& r) {
      io.i16(r.error_code, "ErrorCode");
      io.nstr(r.error_message, "ErrorMessage");
      io.i8(r.resource_type, "ResourceType");
      io.str(r.resource_name, "ResourceName");
    });
  }
};
template <>
struct Fields<IncrementalAlterConfigsResponse> : Fields<AlterConfigsResponse> {};

template <>
struct Fields<DescribeClusterRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.boolean(m.include_cluster_authorized_operations, "IncludeClusterAuthorizedOperations");
    io.i8(m.endpoint_type, "EndpointType", {1});
  }
};
template <>
struct Fields<DescribeClusterResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.i16(m.error_code, "ErrorCode");
    io.nstr(m.error_message, "ErrorMessage");
    io.i8(m.endpoint_type, "EndpointType", {1});
    io.str(m.cluster_id, "ClusterId");
    io.i32(m.controller_id, "ControllerId");
    io.array(m.brokers, "Brokers", {}, [&](auto& b) {
      io.i32(b.broker_id, "BrokerId");
      io.str(b.host, "Host");
      io.i32(b.port, "Port");
      io.nstr(b.rack, "Rack");
    });
    io.i32(m.cluster_authorized_operations, "ClusterAuthorizedOperations");
  }
};

template <>
struct Fields<FindCoordinatorRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.key, "Key");
    io.i8(m.key_type, "KeyType", {1});
  }
};
template <>
struct Fields<FindCoordinatorResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.i16(m.error_code, "ErrorCode");
    io.nstr(m.error_message, "ErrorMessage", {1});
    io.i32(m.node_id, "NodeId");
    io.str(m.host, "Host");
    io.i32(m.port, "Port");
  }
};

template <>
struct Fields<JoinGroupRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.group_id, "GroupId");
    io.i32(m.session_timeout_ms, "SessionTimeoutMs");
    io.i32(m.rebalance_timeout_ms, "RebalanceTimeoutMs", {1});
    io.str(m.member_id, "MemberId");
    io.nstr(m.group_instance_id, "GroupInstanceId", {5});
    io.str(m.protocol_type, "ProtocolType");
    io.array(m.protocols, "Protocols", {}, [&](auto& p) {
      io.str(p.name, "Name");
      io.bytes(p.metadata, "Metadata");
    });
  }
};
template <>
struct Fields<JoinGroupResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {2});
    io.i16(m.error_code, "ErrorCode");
    io.i32(m.generation_id, "GenerationId");
    io.str(m.protocol_name, "ProtocolName");
    io.str(m.leader, "Leader");
    io.str(m.member_id, "MemberId");
    io.array(m.members, "Members", {}, [&](auto& x) {
      io.str(x.member_id, "MemberId");
      io.nstr(x.group_instance_id, "GroupInstanceId", {5});
      io.bytes(x.metadata, "Metadata");
    });
  }
};

template <>
struct Fields<SyncGroupRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.group_id, "GroupId");
    io.i32(m.generation_id, "GenerationId");
    io.str(m.member_id, "MemberId");
    io.nstr(m.group_instance_id, "GroupInstanceId", {3});
    io.array(m.assignments, "Assignments", {}, [&](auto& a) {
      io.str(a.member_id, "MemberId");
      io.bytes(a.assignment, "Assignment");
    });
  }
};
template <>
struct Fields<SyncGroupResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.i16(m.error_code, "ErrorCode");
    io.bytes(m.assignment, "Assignment");
  }
};

template <>
struct Fields<HeartbeatRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.group_id, "GroupId");
    io.i32(m.generation_id, "GenerationId");
    io.str(m.member_id, "MemberId");
    io.nstr(m.group_instance_id, "GroupInstanceId", {3});
  }
};
template <>
struct Fields<HeartbeatResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.i16(m.error_code, "ErrorCode");
  }
};

template <>
struct Fields<LeaveGroupRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.group_id, "GroupId");
    io.str(m.member_id, "MemberId", {0, 2});
    io.array(m.members, "Members", {3}, [&](auto& x) {
      io.str(x.member_id, "MemberId");
      io.nstr(x.group_instance_id, "GroupInstanceId");
    });
  }
};
template <>
struct Fields<LeaveGroupResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.i16(m.error_code, "ErrorCode");
    io.array(m.members, "Members", {3}, [&](auto& x) {
      io.str(x.member_id, "MemberId");
      io.nstr(x.group_instance_id, "GroupInstanceId");
      io.i16(x.error_code, "ErrorCode");
    });
  }
};

template <>
struct Fields<OffsetCommitRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.group_id, "GroupId");
    io.i32(m.generation_id, "GenerationId", {1});
    io.str(m.member_id, "MemberId", {1});
    io.nstr(m.group_instance_id, "GroupInstanceId", {7});
    io.i64(m.retention_time_ms, "RetentionTimeMs", {2, 4});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i64(p.committed_offset, "CommittedOffset");
        io.i32(p.committed_leader_epoch, "CommittedLeaderEpoch", {6});
        io.i64(p.commit_timestamp, "CommitTimestamp", {1, 1});
        io.nstr(p.committed_metadata, "CommittedMetadata");
      });
    });
  }
};
template <>
struct Fields<OffsetCommitResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {3});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i16(p.error_code, "ErrorCode");
      });
    });
  }
};

template <>
struct Fields<OffsetFetchRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.group_id, "GroupId");
    auto each = [&](auto& t) {
      io.str(t.name, "Name");
      io.i32s(t.partition_indexes, "PartitionIndexes");
    };
    if (io.version() < 2) {  // never null before v2
      if constexpr (std::is_const_v<M>) {
        io.array(m.topics ? *m.topics : std::vector<OffsetFetchRequest::Topic>{}, "Topics", {},
                 each);
      } else {
        io.array(m.topics.emplace(), "Topics", {}, each);
      }
    } else {
      io.nullable_array(m.topics, "Topics", {}, each);
    }
    io.boolean(m.require_stable, "RequireStable", {7});
  }
};
template <>
struct Fields<OffsetFetchResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {3});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i64(p.committed_offset, "CommittedOffset");
        io.i32(p.committed_leader_epoch, "CommittedLeaderEpoch", {5});
        io.nstr(p.metadata, "Metadata");
        io.i16(p.error_code, "ErrorCode");
      });
    });
    io.i16(m.error_code, "ErrorCode", {2});
  }
};

template <>
struct Fields<InitProducerIdRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.nstr(m.transactional_id, "TransactionalId");
    io.i32(m.transaction_timeout_ms, "TransactionTimeoutMs");
    io.i64(m.producer_id, "ProducerId", {3});
    io.i16(m.producer_epoch, "ProducerEpoch", {3});
  }
};
template <>
struct Fields<InitProducerIdResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.i16(m.error_code, "ErrorCode");
    io.i64(m.producer_id, "ProducerId");
    io.i16(m.producer_epoch, "ProducerEpoch");
  }
};

// AddPartitionsToTxn v4+ batches transactions for brokers; clients send v0-v3 (its
// "V3AndBelow" fields).
template <>
struct Fields<AddPartitionsToTxnRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.transactional_id, "V3AndBelowTransactionalId");
    io.i64(m.producer_id, "V3AndBelowProducerId");
    io.i16(m.producer_epoch, "V3AndBelowProducerEpoch");
    io.array(m.topics, "V3AndBelowTopics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.i32s(t.partitions, "Partitions");
    });
  }
};
template <>
struct Fields<AddPartitionsToTxnResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.results, "ResultsByTopicV3AndBelow", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "ResultsByPartition", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i16(p.error_code, "PartitionErrorCode");
      });
    });
  }
};

template <>
struct Fields<AddOffsetsToTxnRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.transactional_id, "TransactionalId");
    io.i64(m.producer_id, "ProducerId");
    io.i16(m.producer_epoch, "ProducerEpoch");
    io.str(m.group_id, "GroupId");
  }
};
template <>
struct Fields<AddOffsetsToTxnResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.i16(m.error_code, "ErrorCode");
  }
};

template <>
struct Fields<EndTxnRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.transactional_id, "TransactionalId");
    io.i64(m.producer_id, "ProducerId");
    io.i16(m.producer_epoch, "ProducerEpoch");
    io.boolean(m.committed, "Committed");
  }
};
template <>
struct Fields<EndTxnResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.i16(m.error_code, "ErrorCode");
  }
};

template <>
struct Fields<TxnOffsetCommitRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.transactional_id, "TransactionalId");
    io.str(m.group_id, "GroupId");
    io.i64(m.producer_id, "ProducerId");
    io.i16(m.producer_epoch, "ProducerEpoch");
    io.i32(m.generation_id, "GenerationId", {3});
    io.str(m.member_id, "MemberId", {3});
    io.nstr(m.group_instance_id, "GroupInstanceId", {3});
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i64(p.committed_offset, "CommittedOffset");
        io.i32(p.committed_leader_epoch, "CommittedLeaderEpoch", {2});
        io.nstr(p.committed_metadata, "CommittedMetadata");
      });
    });
  }
};
template <>
struct Fields<TxnOffsetCommitResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i16(p.error_code, "ErrorCode");
      });
    });
  }
};

template <>
struct Fields<ListGroupsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.strs(m.states_filter, "StatesFilter", {4});
    io.strs(m.types_filter, "TypesFilter", {5});
  }
};
template <>
struct Fields<ListGroupsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.i16(m.error_code, "ErrorCode");
    io.array(m.groups, "Groups", {}, [&](auto& g) {
      io.str(g.group_id, "GroupId");
      io.str(g.protocol_type, "ProtocolType");
      io.str(g.group_state, "GroupState", {4});
      io.str(g.group_type, "GroupType", {5});
    });
  }
};

template <>
struct Fields<DescribeGroupsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.strs(m.groups, "Groups");
    io.boolean(m.include_authorized_operations, "IncludeAuthorizedOperations", {3});
  }
};
template <>
struct Fields<DescribeGroupsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs", {1});
    io.array(m.groups, "Groups", {}, [&](auto& g) {
      io.i16(g.error_code, "ErrorCode");
      io.str(g.group_id, "GroupId");
      io.str(g.group_state, "GroupState");
      io.str(g.protocol_type, "ProtocolType");
      io.str(g.protocol_data, "ProtocolData");
      io.array(g.members, "Members", {}, [&](auto& x) {
        io.str(x.member_id, "MemberId");
        io.nstr(x.group_instance_id, "GroupInstanceId", {4});
        io.str(x.client_id, "ClientId");
        io.str(x.client_host, "ClientHost");
        io.bytes(x.member_metadata, "MemberMetadata");
        io.bytes(x.member_assignment, "MemberAssignment");
      });
      io.i32(g.authorized_operations, "AuthorizedOperations", {3});
    });
  }
};

template <>
struct Fields<DeleteGroupsRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.strs(m.groups_names, "GroupsNames");
  }
};
template <>
struct Fields<DeleteGroupsResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.results, "Results", {}, [&](auto& r) {
      io.str(r.group_id, "GroupId");
      io.i16(r.error_code, "ErrorCode");
    });
  }
};

template <>
struct Fields<OffsetDeleteRequest> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.str(m.group_id, "GroupId");
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) { io.i32(p, "PartitionIndex"); });
    });
  }
};
template <>
struct Fields<OffsetDeleteResponse> {
  template <class IO, class M>
  static void visit(IO& io, M& m) {
    io.i16(m.error_code, "ErrorCode");
    io.i32(m.throttle_time_ms, "ThrottleTimeMs");
    io.array(m.topics, "Topics", {}, [&](auto& t) {
      io.str(t.name, "Name");
      io.array(t.partitions, "Partitions", {}, [&](auto& p) {
        io.i32(p.index, "PartitionIndex");
        io.i16(p.error_code, "ErrorCode");
      });
    });
  }
};

// The API key of each message type, for flexibility and error messages.
template <class M>
constexpr int16_t kKeyOf = -1;
template <>
constexpr int16_t kKeyOf<ApiVersionsRequest> = kApiVersions;
template <>
constexpr int16_t kKeyOf<ApiVersionsResponse> = kApiVersions;
template <>
constexpr int16_t kKeyOf<MetadataRequest> = kMetadata;
template <>
constexpr int16_t kKeyOf<MetadataResponse> = kMetadata;
template <>
constexpr int16_t kKeyOf<ProduceRequest> = kProduce;
template <>
constexpr int16_t kKeyOf<ProduceResponse> = kProduce;
template <>
constexpr int16_t kKeyOf<FetchRequest> = kFetch;
template <>
constexpr int16_t kKeyOf<FetchResponse> = kFetch;
template <>
constexpr int16_t kKeyOf<ListOffsetsRequest> = kListOffsets;
template <>
constexpr int16_t kKeyOf<ListOffsetsResponse> = kListOffsets;
template <>
constexpr int16_t kKeyOf<CreateTopicsRequest> = kCreateTopics;
template <>
constexpr int16_t kKeyOf<CreateTopicsResponse> = kCreateTopics;
template <>
constexpr int16_t kKeyOf<DeleteTopicsRequest> = kDeleteTopics;
template <>
constexpr int16_t kKeyOf<DeleteTopicsResponse> = kDeleteTopics;
template <>
constexpr int16_t kKeyOf<CreatePartitionsRequest> = kCreatePartitions;
template <>
constexpr int16_t kKeyOf<CreatePartitionsResponse> = kCreatePartitions;
template <>
constexpr int16_t kKeyOf<FindCoordinatorRequest> = kFindCoordinator;
template <>
constexpr int16_t kKeyOf<FindCoordinatorResponse> = kFindCoordinator;
template <>
constexpr int16_t kKeyOf<JoinGroupRequest> = kJoinGroup;
template <>
constexpr int16_t kKeyOf<JoinGroupResponse> = kJoinGroup;
template <>
constexpr int16_t kKeyOf<SyncGroupRequest> = kSyncGroup;
template <>
constexpr int16_t kKeyOf<SyncGroupResponse> = kSyncGroup;
template <>
constexpr int16_t kKeyOf<HeartbeatRequest> = kHeartbeat;
template <>
constexpr int16_t kKeyOf<HeartbeatResponse> = kHeartbeat;
template <>
constexpr int16_t kKeyOf<LeaveGroupRequest> = kLeaveGroup;
template <>
constexpr int16_t kKeyOf<LeaveGroupResponse> = kLeaveGroup;
template <>
constexpr int16_t kKeyOf<OffsetCommitRequest> = kOffsetCommit;
template <>
constexpr int16_t kKeyOf<OffsetCommitResponse> = kOffsetCommit;
template <>
constexpr int16_t kKeyOf<OffsetFetchRequest> = kOffsetFetch;
template <>
constexpr int16_t kKeyOf<OffsetFetchResponse> = kOffsetFetch;
template <>
constexpr int16_t kKeyOf<InitProducerIdRequest> = kInitProducerId;
template <>
constexpr int16_t kKeyOf<InitProducerIdResponse> = kInitProducerId;
template <>
constexpr int16_t kKeyOf<AddPartitionsToTxnRequest> = kAddPartitionsToTxn;
template <>
constexpr int16_t kKeyOf<AddPartitionsToTxnResponse> = kAddPartitionsToTxn;
template <>
constexpr int16_t kKeyOf<AddOffsetsToTxnRequest> = kAddOffsetsToTxn;
template <>
constexpr int16_t kKeyOf<AddOffsetsToTxnResponse> = kAddOffsetsToTxn;
template <>
constexpr int16_t kKeyOf<EndTxnRequest> = kEndTxn;
template <>
constexpr int16_t kKeyOf<EndTxnResponse> = kEndTxn;
template <>
constexpr int16_t kKeyOf<TxnOffsetCommitRequest> = kTxnOffsetCommit;
template <>
constexpr int16_t kKeyOf<TxnOffsetCommitResponse> = kTxnOffsetCommit;
template <>
constexpr int16_t kKeyOf<ListGroupsRequest> = kListGroups;
template <>
constexpr int16_t kKeyOf<ListGroupsResponse> = kListGroups;
template <>
constexpr int16_t kKeyOf<DescribeGroupsRequest> = kDescribeGroups;
template <>
constexpr int16_t kKeyOf<DescribeGroupsResponse> = kDescribeGroups;
template <>
constexpr int16_t kKeyOf<DeleteGroupsRequest> = kDeleteGroups;
template <>
constexpr int16_t kKeyOf<DeleteGroupsResponse> = kDeleteGroups;
template <>
constexpr int16_t kKeyOf<OffsetDeleteRequest> = kOffsetDelete;
template <>
constexpr int16_t kKeyOf<OffsetDeleteResponse> = kOffsetDelete;

template <>
constexpr int16_t kKeyOf<DeleteRecordsRequest> = kDeleteRecords;
template <>
constexpr int16_t kKeyOf<DeleteRecordsResponse> = kDeleteRecords;
template <>
constexpr int16_t kKeyOf<DescribeLogDirsRequest> = kDescribeLogDirs;
template <>
constexpr int16_t kKeyOf<DescribeLogDirsResponse> = kDescribeLogDirs;
template <>
constexpr int16_t kKeyOf<DescribeConfigsRequest> = kDescribeConfigs;
template <>
constexpr int16_t kKeyOf<DescribeConfigsResponse> = kDescribeConfigs;
template <>
constexpr int16_t kKeyOf<AlterConfigsRequest> = kAlterConfigs;
template <>
constexpr int16_t kKeyOf<AlterConfigsResponse> = kAlterConfigs;
template <>
constexpr int16_t kKeyOf<IncrementalAlterConfigsRequest> = kIncrementalAlterConfigs;
template <>
constexpr int16_t kKeyOf<IncrementalAlterConfigsResponse> = kIncrementalAlterConfigs;
template <>
constexpr int16_t kKeyOf<DescribeClusterRequest> = kDescribeCluster;
template <>
constexpr int16_t kKeyOf<DescribeClusterResponse> = kDescribeCluster;

}  // namespace

std::span<const ApiSupport> supported_apis() { return kApis; }

const ApiSupport* find_api(int16_t key) {
  auto it =
      std::find_if(kApis.begin(), kApis.end(), [key](const ApiSupport& a) { return a.key == key; });
  return it == kApis.end() ? nullptr : &*it;
}

std::string api_name(int16_t key) {
  if (key >= 0 && static_cast<size_t>(key) < kAllNames.size())
    return kAllNames[static_cast<size_t>(key)];
  return "api " + std::to_string(key);
}

bool is_flexible(int16_t key, int16_t version) {
  const ApiSupport* api = find_api(key);
  return api != nullptr && version >= api->first_flexible;
}

Result<RequestHeader> decode_request_header(std::string_view frame, std::string_view& body) {
  WireReader r(frame);
  RequestHeader h;
  h.api_key = r.i16("request_api_key");
  h.api_version = r.i16("request_api_version");
  h.correlation_id = r.i32("correlation_id");
  h.client_id = r.nullable_string("client_id");  // header v1 and v2 keep the old string here
  if (r.ok() && is_flexible(h.api_key, h.api_version)) r.skip_tagged_fields("header tagged fields");
  if (!r.ok()) return r.error().with_context("request header");
  body = frame.substr(r.position());
  return h;
}

std::string frame_header(const RequestHeader& header, size_t body_size) {
  WireWriter w;
  const bool header_v1 =
      header.api_key != kApiVersions && is_flexible(header.api_key, header.api_version);
  const auto size = 4 + (header_v1 ? 1 : 0) + body_size;
  w.i32(static_cast<int32_t>(size));
  w.i32(header.correlation_id);
  if (header_v1) w.empty_tagged_fields();
  return w.take();
}

std::string frame_response(const RequestHeader& header, std::string_view body) {
  std::string out = frame_header(header, body.size());
  out.append(body);
  return out;
}

size_t GatheredBody::size() const {
  size_t n = bytes.size();
  for (const auto& [at, r] : records) n += r.size();
  for (const auto& [at, size] : elsewhere) n += size;
  return n;
}

std::string GatheredBody::flatten() const {
  std::string out;
  out.reserve(size());
  size_t from = 0;
  for (const auto& [at, r] : records) {
    out.append(bytes, from, at - from);
    out.append(r);
    from = at;
  }
  out.append(bytes, from, std::string::npos);
  return out;
}

GatheredBody encode_gathered(const FetchResponse& message, int16_t version) {
  GatheredBody out;
  Writer io(version, is_flexible(kFetch, version), &out.records, &out.elsewhere);
  Fields<FetchResponse>::visit(io, message);
  io.end_struct("");
  out.bytes = io.take();
  return out;
}

template <class Message>
Status decode(std::string_view body, int16_t version, Message& out) {
  constexpr int16_t key = kKeyOf<Message>;
  Reader io(body, version, is_flexible(key, version));
  Fields<Message>::visit(io, out);
  io.end_struct("tagged fields");
  if (io.wire().ok() && io.wire().left() != 0) {
    io.wire().invalid("the end", std::to_string(io.wire().left()) + " bytes after the last field");
  }
  if (!io.wire().ok()) {
    return io.wire().error().with_context(api_name(key) + " v" + std::to_string(version));
  }
  return Status::ok();
}

template <class Message>
std::string encode(const Message& message, int16_t version) {
  constexpr int16_t key = kKeyOf<Message>;
  Writer io(version, is_flexible(key, version));
  Fields<Message>::visit(io, message);
  io.end_struct("");
  return io.take();
}

#define KAPPA_KAFKA_MESSAGE(M)                              \
  template Status decode<M>(std::string_view, int16_t, M&); \
  template std::string encode<M>(const M&, int16_t);
KAPPA_KAFKA_MESSAGE(ApiVersionsRequest)
KAPPA_KAFKA_MESSAGE(ApiVersionsResponse)
KAPPA_KAFKA_MESSAGE(MetadataRequest)
KAPPA_KAFKA_MESSAGE(MetadataResponse)
KAPPA_KAFKA_MESSAGE(ProduceRequest)
KAPPA_KAFKA_MESSAGE(ProduceResponse)
KAPPA_KAFKA_MESSAGE(FetchRequest)
KAPPA_KAFKA_MESSAGE(FetchResponse)
KAPPA_KAFKA_MESSAGE(ListOffsetsRequest)
KAPPA_KAFKA_MESSAGE(ListOffsetsResponse)
KAPPA_KAFKA_MESSAGE(CreateTopicsRequest)
KAPPA_KAFKA_MESSAGE(CreateTopicsResponse)
KAPPA_KAFKA_MESSAGE(DeleteTopicsRequest)
KAPPA_KAFKA_MESSAGE(DeleteTopicsResponse)
KAPPA_KAFKA_MESSAGE(CreatePartitionsRequest)
KAPPA_KAFKA_MESSAGE(CreatePartitionsResponse)
KAPPA_KAFKA_MESSAGE(FindCoordinatorRequest)
KAPPA_KAFKA_MESSAGE(FindCoordinatorResponse)
KAPPA_KAFKA_MESSAGE(JoinGroupRequest)
KAPPA_KAFKA_MESSAGE(JoinGroupResponse)
KAPPA_KAFKA_MESSAGE(SyncGroupRequest)
KAPPA_KAFKA_MESSAGE(SyncGroupResponse)
KAPPA_KAFKA_MESSAGE(HeartbeatRequest)
KAPPA_KAFKA_MESSAGE(HeartbeatResponse)
KAPPA_KAFKA_MESSAGE(LeaveGroupRequest)
KAPPA_KAFKA_MESSAGE(LeaveGroupResponse)
KAPPA_KAFKA_MESSAGE(OffsetCommitRequest)
KAPPA_KAFKA_MESSAGE(OffsetCommitResponse)
KAPPA_KAFKA_MESSAGE(OffsetFetchRequest)
KAPPA_KAFKA_MESSAGE(OffsetFetchResponse)
KAPPA_KAFKA_MESSAGE(InitProducerIdRequest)
KAPPA_KAFKA_MESSAGE(InitProducerIdResponse)
KAPPA_KAFKA_MESSAGE(AddPartitionsToTxnRequest)
KAPPA_KAFKA_MESSAGE(AddPartitionsToTxnResponse)
KAPPA_KAFKA_MESSAGE(AddOffsetsToTxnRequest)
KAPPA_KAFKA_MESSAGE(AddOffsetsToTxnResponse)
KAPPA_KAFKA_MESSAGE(EndTxnRequest)
KAPPA_KAFKA_MESSAGE(EndTxnResponse)
KAPPA_KAFKA_MESSAGE(TxnOffsetCommitRequest)
KAPPA_KAFKA_MESSAGE(TxnOffsetCommitResponse)
KAPPA_KAFKA_MESSAGE(ListGroupsRequest)
KAPPA_KAFKA_MESSAGE(ListGroupsResponse)
KAPPA_KAFKA_MESSAGE(DescribeGroupsRequest)
KAPPA_KAFKA_MESSAGE(DescribeGroupsResponse)
KAPPA_KAFKA_MESSAGE(DeleteGroupsRequest)
KAPPA_KAFKA_MESSAGE(DeleteGroupsResponse)
KAPPA_KAFKA_MESSAGE(OffsetDeleteRequest)
KAPPA_KAFKA_MESSAGE(OffsetDeleteResponse)
KAPPA_KAFKA_MESSAGE(DeleteRecordsRequest)
KAPPA_KAFKA_MESSAGE(DeleteRecordsResponse)
KAPPA_KAFKA_MESSAGE(DescribeLogDirsRequest)
KAPPA_KAFKA_MESSAGE(DescribeLogDirsResponse)
KAPPA_KAFKA_MESSAGE(DescribeConfigsRequest)
KAPPA_KAFKA_MESSAGE(DescribeConfigsResponse)
KAPPA_KAFKA_MESSAGE(AlterConfigsRequest)
KAPPA_KAFKA_MESSAGE(AlterConfigsResponse)
KAPPA_KAFKA_MESSAGE(IncrementalAlterConfigsRequest)
KAPPA_KAFKA_MESSAGE(IncrementalAlterConfigsResponse)
KAPPA_KAFKA_MESSAGE(DescribeClusterRequest)
KAPPA_KAFKA_MESSAGE(DescribeClusterResponse)
#undef KAPPA_KAFKA_MESSAGE

}  // namespace kappa::kafka
