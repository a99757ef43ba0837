#include "broker/server/kafka_api.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <initializer_list>
#include <set>

#include "broker/groups/group_coordinator.h"
#include "broker/protocol/error_codes.h"
#include "broker/protocol/record_batch.h"

namespace kappa {

namespace err = kafka_error;
using namespace kafka;

namespace {

int16_t error_of(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return err::kNone;
    case StatusCode::kNotFound:
      return err::kUnknownTopicOrPartition;
    case StatusCode::kOutOfRange:
      return err::kOffsetOutOfRange;
    case StatusCode::kCorruption:
      return err::kCorruptMessage;
    case StatusCode::kInvalidArgument:
      return err::kInvalidRequest;
    // The disk failed (EIO, ENOSPC), or a partition stopped taking writes after a failed
    // fdatasync: Kafka's answer for a log directory it cannot write.
    case StatusCode::kUnavailable:
    case StatusCode::kFailedPrecondition:
      return err::kKafkaStorageError;
    default:
      return err::kUnknownServerError;
  }
}

// ListOffsets' special timestamp for the record with the largest timestamp (v7+).
constexpr int64_t kMaxTimestamp = -3;
// The first offset of the local log (v8+, tiered storage); the log start here.
constexpr int64_t kEarliestLocalTimestamp = -4;

template <class Request>
Result<Request> parse(const RequestHeader& h, std::string_view body) {
  Request r;
  KAPPA_RETURN_IF_ERROR(decode(body, h.api_version, r));
  return r;
}

// Answers a request of topics of partitions one partition at a time, as ListOffsets and
// DeleteRecords are answered: UNKNOWN_TOPIC_OR_PARTITION for a partition the log does not
// have, else each(topic, request partition, its offsets, response partition).
template <class Response, class Request, class Each>
Response answer_by_partition(BatchLog& log, const Request& req, Each each) {
  Response r;
  for (const auto& t : req.topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      auto range = log.offsets(t.name, p.index);
      if (!range) {
        rp.error_code = err::kUnknownTopicOrPartition;
        continue;
      }
      each(t, p, *range, rp);
    }
  }
  return r;
}

}  // namespace

KafkaApi::KafkaApi(BatchLog& log, Options options)
    : log_(log),
      options_(std::move(options)),
      groups_(std::make_unique<GroupCoordinator>([this] {
        GroupCoordinator::Options g;
        g.min_session_timeout_ms = options_.min_session_timeout_ms;
        g.max_session_timeout_ms = options_.max_session_timeout_ms;
        g.initial_rebalance_delay_ms = options_.initial_rebalance_delay_ms;
        return g;
      }())),
      // Producer ids from the wall clock: unique across restarts without storing a counter.
      next_producer_id_(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() *
                        1000) {
  TransactionCoordinator::Options t = options_.transactions;
  if (!t.wall_clock_ms) {
    t.wall_clock_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  transactions_ = std::make_unique<TransactionCoordinator>(log_, std::move(t),
                                                           [this] { return next_producer_id_++; });
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  // A log that cannot give the state leaves the coordinator empty; its producers re-init.
  (void)transactions_->load(now);
  next_producer_id_ = std::max(next_producer_id_, transactions_->max_producer_id() + 1);
}

KafkaApi::~KafkaApi() = default;

std::string KafkaApi::unsupported_api_versions() const {
  ApiVersionsResponse r;
  r.error_code = err::kUnsupportedVersion;
  for (const auto& api : supported_apis()) {
    r.api_keys.push_back({api.key, api.min_version, api.max_version});
  }
  return encode(r, 0);
}

Result<std::string> KafkaApi::api_versions(const RequestHeader& h, std::string_view body) {
  auto req = parse<ApiVersionsRequest>(h, body);
  if (!req) return req.status();
  ApiVersionsResponse r;
  for (const auto& api : supported_apis()) {
    r.api_keys.push_back({api.key, api.min_version, api.max_version});
  }
  return encode(r, h.api_version);
}

int16_t KafkaApi::ensure_topic(std::string_view topic, bool create) {
  if (!validate_topic_name(topic).is_ok()) return err::kInvalidTopicException;
  if (log_.partition_count(topic)) return err::kNone;
  if (!create || !options_.auto_create_topics) return err::kUnknownTopicOrPartition;
  const Status s = log_.create_topic(topic, options_.default_partitions);
  if (s.is_ok() || s.code() == StatusCode::kAlreadyExists) return err::kNone;
  return error_of(s);
}

Result<std::string> KafkaApi::metadata(const RequestHeader& h, std::string_view body) {
  auto req = parse<MetadataRequest>(h, body);
  if (!req) return req.status();
  MetadataResponse r;
  r.brokers.push_back({0, options_.advertised_host, options_.advertised_port, std::nullopt});
  r.cluster_id = options_.cluster_id;
  r.controller_id = 0;
  if (req->include_cluster_authorized_operations)
    r.cluster_authorized_operations = kClusterOperations;
  std::vector<std::string> names;
  if (req->topics) {
    names = *req->topics;
  } else if (auto all = log_.list_topics()) {
    names = std::move(*all);
  }
  for (const std::string& name : names) {
    MetadataResponse::Topic t;
    t.name = name;
    t.error_code = ensure_topic(name, req->allow_auto_topic_creation);
    if (req->include_topic_authorized_operations) t.topic_authorized_operations = kTopicOperations;
    if (t.error_code == err::kNone) {
      const int32_t n = log_.partition_count(name).value_or(0);
      for (int32_t p = 0; p < n; ++p) {
        MetadataResponse::Partition part;
        part.partition_index = p;
        part.leader_id = 0;
        part.leader_epoch = 0;
        part.replica_nodes = {0};
        part.isr_nodes = {0};
        t.partitions.push_back(std::move(part));
      }
    }
    r.topics.push_back(std::move(t));
  }
  return encode(r, h.api_version);
}

Result<KafkaApi::Produced> KafkaApi::produce(const RequestHeader& h, std::string_view body) {
  auto req = parse<ProduceRequest>(h, body);
  if (!req) return req.status();
  Produced out;
  out.respond = req->acks != 0;
  out.version = h.api_version;
  ProduceResponse& r = out.response;
  for (const auto& topic : req->topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = topic.name;
    for (const auto& part : topic.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = part.index;
      auto fail = [&](int16_t code, std::string message) {
        rp.error_code = code;
        rp.error_message = std::move(message);
      };
      if (req->acks != 0 && req->acks != 1 && req->acks != -1) {
        fail(err::kInvalidRequiredAcks, "acks must be -1, 0 or 1");
        continue;
      }
      if (int16_t e = ensure_topic(topic.name, true); e != err::kNone) {
        fail(e, "topic '" + topic.name + "' does not exist");
        continue;
      }
      const int32_t partitions = log_.partition_count(topic.name).value_or(0);
      if (part.index < 0 || part.index >= partitions) {
        fail(err::kUnknownTopicOrPartition,
             partition_name(topic.name, part.index) + " does not exist");
        continue;
      }
      const TopicSettings settings = log_.topic_settings(topic.name).value_or(TopicSettings{});
      if (req->acks == -1 && settings.min_insync_replicas > 1) {
        fail(err::kNotEnoughReplicas,
             "The size of the current ISR Set(0) is insufficient to satisfy the min.isr "
             "requirement of " +
                 std::to_string(settings.min_insync_replicas) + " for partition " + topic.name +
                 "-" + std::to_string(part.index));
        continue;
      }
      const int32_t max_batch = settings.max_message_bytes.value_or(options_.max_message_bytes);
      // Check every batch before storing any: a partition's records are stored whole or not.
      std::string_view records = part.records.value_or(std::string_view{});
      std::vector<std::pair<RecordBatchHeader, std::string_view>> batches;
      size_t at = 0;
      int16_t code = err::kNone;
      std::string why;
      while (at < records.size()) {
        auto header = check_record_batch(records.substr(at));
        if (!header) {
          code = err::kCorruptMessage;
          why = "batch at byte " + std::to_string(at) + " of " +
                partition_name(topic.name, part.index) + ": " + header.status().message();
          break;
        }
        const size_t size = 12 + static_cast<size_t>(header->batch_length);
        if (size > static_cast<size_t>(max_batch)) {
          code = err::kMessageTooLarge;
          why = "a batch of " + std::to_string(size) + " bytes exceeds the limit of " +
                std::to_string(max_batch) + " (max.message.bytes of " + topic.name + ")";
          break;
        }
        if (header->is_control()) {
          code = err::kInvalidRecord;
          why = "a client's produce may not hold control batches";
          break;
        }
        if (header->is_transactional() != req->transactional_id.has_value()) {
          code = err::kInvalidRecord;
          why = req->transactional_id ? "a produce with a transactional id holds a batch that is "
                                        "not transactional"
                                      : "a transactional batch in a produce without a "
                                        "transactional id";
          break;
        }
        if (req->transactional_id) {
          code = transactions_->check_produce(*req->transactional_id, header->producer_id,
                                              header->producer_epoch, topic.name, part.index);
          if (code != err::kNone) {
            why = "producer " + std::to_string(header->producer_id) + " (epoch " +
                  std::to_string(header->producer_epoch) + ") of transactional id '" +
                  *req->transactional_id + "' may not write " +
                  partition_name(topic.name, part.index) +
                  (code == err::kInvalidTxnState
                       ? ": the partition is not in its ongoing transaction"
                       : ": it is not the transactional id's current producer and epoch");
            break;
          }
        }
        if (settings.compact) {
          // The log cleaner keeps records by key: Kafka refuses keyless ones up front.
          size_t consumed = 0;
          auto decoded = decode_record_batch(records.substr(at, size), consumed);
          const bool keyless =
              decoded && std::any_of(decoded->records.begin(), decoded->records.end(),
                                     [](const WireRecord& w) { return !w.key.has_value(); });
          if (!decoded || keyless) {
            code = decoded ? err::kInvalidRecord : err::kCorruptMessage;
            why = decoded ? "Compacted topic cannot accept message without key in topic "
                            "partition " +
                                topic.name + "-" + std::to_string(part.index) + "."
                          : "batch at byte " + std::to_string(at) + " of " +
                                partition_name(topic.name, part.index) + ": " +
                                decoded.status().message();
            break;
          }
        }
        batches.emplace_back(*header, records.substr(at, size));
        at += size;
      }
      if (code == err::kNone && batches.empty()) {
        code = err::kCorruptMessage;
        why = "no record batch for " + partition_name(topic.name, part.index);
      }
      if (code != err::kNone) {
        fail(code, why);
        continue;
      }
      for (size_t i = 0; i < batches.size(); ++i) {
        const auto& [header, bytes] = batches[i];
        if (header.producer_id >= 0) {
          auto check = log_.check_producer(topic.name, part.index, header);
          if (!check) {
            fail(error_of(check.status()), check.status().message());
            break;
          }
          using Verdict = ProducerStates::Verdict;
          if (check->verdict == Verdict::kDuplicate) {
            if (i == 0) rp.base_offset = check->duplicate_of;
            continue;
          }
          const std::string producer = "producer " + std::to_string(header.producer_id) +
                                       " (epoch " + std::to_string(header.producer_epoch) +
                                       ") on " + partition_name(topic.name, part.index);
          if (check->verdict == Verdict::kStaleEpoch) {
            fail(err::kInvalidProducerEpoch, producer + " is fenced: its current epoch is " +
                                                 std::to_string(check->current_epoch));
            break;
          }
          if (check->verdict == Verdict::kOutOfOrder) {
            fail(err::kOutOfOrderSequenceNumber,
                 "sequence " + std::to_string(header.base_sequence) + " of " + producer +
                     " is out of order: expected " + std::to_string(check->expected_sequence));
            break;
          }
        }
        std::string stored(bytes);
        if (settings.log_append_time) {
          const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
          stamp_log_append_time(stored, now);
          rp.log_append_time_ms = now;
        }
        auto base = log_.append_batch(topic.name, part.index, std::move(stored));
        if (!base) {
          const int16_t append_error = error_of(base.status());
          if (append_error == err::kKafkaStorageError) {
            out.storage_errors.push_back("produce to " + partition_name(topic.name, part.index) +
                                         " failed: " + base.status().message());
          }
          fail(append_error, base.status().message());
          break;
        }
        if (i == 0) rp.base_offset = *base;
        out.records_appended += header.record_count;
      }
      if (rp.error_code == err::kNone && req->acks == -1)
        out.to_sync.emplace_back(topic.name, part.index);
      if (auto range = log_.offsets(topic.name, part.index)) rp.log_start_offset = range->earliest;
    }
  }
  return out;
}

std::string KafkaApi::finish_produce(Produced& produced,
                                     const std::vector<SyncFailure>& failed) const {
  for (const SyncFailure& f : failed) {
    for (auto& t : produced.response.topics) {
      if (t.name != f.topic) continue;
      for (auto& p : t.partitions) {
        if (p.index != f.partition || p.error_code != err::kNone) continue;
        p.error_code = err::kKafkaStorageError;
        p.base_offset = -1;
        p.error_message = f.message;
      }
    }
  }
  return encode(produced.response, produced.version);
}

Result<KafkaApi::FetchState> KafkaApi::parse_fetch(const RequestHeader& h, std::string_view body) {
  FetchState st;
  st.version = h.api_version;
  KAPPA_RETURN_IF_ERROR(decode(body, h.api_version, st.request));
  return st;
}

std::vector<KafkaApi::Fetched::Piece> KafkaApi::Fetched::pieces() const {
  const kafka::GatheredBody& body = response;
  std::vector<Piece> out;
  const std::string_view head = body.bytes;
  size_t from = 0;
  size_t memory = 0;
  size_t file = 0;
  while (memory < body.records.size() || file < body.elsewhere.size()) {
    const bool next_is_file =
        memory == body.records.size() ||
        (file < body.elsewhere.size() && body.elsewhere[file].first < body.records[memory].first);
    const size_t at = next_is_file ? body.elsewhere[file].first : body.records[memory].first;
    out.push_back({head.substr(from, at - from)});
    from = at;
    if (next_is_file) {
      out.push_back({{}, &files.at(file++)});
    } else {
      out.push_back({body.records[memory++].second});
    }
  }
  out.push_back({head.substr(from)});
  return out;
}

Result<std::string> KafkaApi::Fetched::flatten() const {
  std::string out;
  out.reserve(response.size());
  for (const Piece& piece : pieces()) {
    if (piece.files == nullptr) {
      out.append(piece.bytes);
      continue;
    }
    for (const FileRange& f : *piece.files) {
      const size_t start = out.size();
      out.resize(start + static_cast<size_t>(f.length));
      const ssize_t n = ::pread(f.fd, out.data() + start, static_cast<size_t>(f.length), f.offset);
      if (n != f.length) {
        return Status::unavailable("reading " + std::to_string(f.length) + " bytes of " + f.path +
                                   " at byte " + std::to_string(f.offset) + " failed");
      }
    }
  }
  return out;
}

KafkaApi::Fetched KafkaApi::read_fetch(const FetchState& st) {
  const FetchRequest& req = st.request;
  FetchResponse r;
  Fetched out;
  std::vector<std::string>& buffers =
      out.buffers;  // the record bytes the response's views point into
  size_t partitions = 0;
  for (const auto& t : req.topics) partitions += t.partitions.size();
  buffers.reserve(partitions);
  int64_t total = 0;
  bool error = false;
  const int64_t max_bytes =
      std::min(req.max_bytes <= 0 ? INT32_MAX : req.max_bytes, options_.fetch_max_bytes);
  const bool read_committed = req.isolation_level == 1;
  for (const auto& t : req.topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      rp.aborted_transactions.reset();
      auto range = log_.offsets(t.name, p.index);
      if (!range) {
        rp.error_code = err::kUnknownTopicOrPartition;
        rp.high_watermark = -1;
        error = true;
        continue;
      }
      rp.high_watermark = range->end;
      rp.last_stable_offset = range->end;
      rp.log_start_offset = range->earliest;
      if (read_committed) {
        if (auto index = log_.transaction_index(t.name, p.index, range->end, range->end)) {
          rp.last_stable_offset = index->last_stable_offset;
        }
      }
      if (p.fetch_offset < range->earliest || p.fetch_offset > range->end) {
        rp.error_code = err::kOffsetOutOfRange;
        error = true;
        continue;
      }
      if (read_committed) rp.aborted_transactions.emplace();  // none unless some are read
      if (p.fetch_offset == range->end) {
        rp.records = std::string_view{};
        continue;
      }
      // KIP-74: the first batch goes out whole even past the limits, so a consumer never
      // stalls on a batch bigger than its max; later partitions get what room is left.
      const int64_t room = std::min<int64_t>(p.partition_max_bytes, max_bytes - total);
      if (room <= 0 && total > 0) {
        rp.records = std::string_view{};
        continue;
      }
      // A read_committed reader gets only the batches below the last stable offset.
      std::optional<TransactionIndex> index;
      if (read_committed) {
        if (auto got = log_.transaction_index(t.name, p.index, p.fetch_offset, range->end)) {
          index = std::move(*got);
        }
      }
      const int64_t below = index ? index->last_stable_offset : INT64_MAX;
      auto read = log_.read_batch_ranges(t.name, p.index, p.fetch_offset,
                                         std::max<int64_t>(room, 1), below);
      if (!read) {
        rp.error_code = error_of(read.status());
        error = true;
        continue;
      }
      rp.high_watermark = read->high_watermark;
      rp.last_stable_offset = index ? index->last_stable_offset : read->high_watermark;
      rp.log_start_offset = read->log_start_offset;
      if (index) {
        for (const auto& a : index->aborted) {
          if (a.first_offset < index->last_stable_offset) {
            rp.aborted_transactions->push_back({a.producer_id, a.first_offset});
          }
        }
      }
      total += read->size();
      if (!read->files.empty()) {
        rp.records_elsewhere = read->size();
        out.files.push_back(std::move(read->files));
        continue;
      }
      buffers.push_back(std::move(read->bytes));
      rp.records = std::string_view(buffers.back());
    }
  }
  out.bytes = total;
  out.ready = error || total >= std::max(req.min_bytes, 1) || req.max_wait_ms <= 0;
  out.response = encode_gathered(r, st.version);
  return out;
}

Result<std::string> KafkaApi::list_offsets(const RequestHeader& h, std::string_view body) {
  auto req = parse<ListOffsetsRequest>(h, body);
  if (!req) return req.status();
  auto r = answer_by_partition<ListOffsetsResponse>(
      log_, *req, [&](const auto& t, const auto& p, const OffsetRange& range, auto& rp) {
        rp.leader_epoch = 0;
        int64_t offset = -1;
        int64_t timestamp = -1;
        int64_t target = p.timestamp;
        bool by_time = target >= 0;
        if (target == kMaxTimestamp) {
          // The record with the largest timestamp (the first of them), as Kafka answers -3.
          auto max = log_.max_timestamp(t.name, p.index);
          if (!max) {
            rp.error_code = error_of(max.status());
            return;
          }
          if (*max == INT64_MIN) {  // no records: offset -1, timestamp -1, no error
            rp.offset = -1;
            rp.timestamp = -1;
            return;
          }
          target = *max;  // a record's own, even a negative one: looked up as a time
          by_time = true;
        }
        if (by_time) {
          auto found = log_.offset_for_time(t.name, p.index, target);
          if (!found) {
            rp.error_code = error_of(found.status());
            return;
          }
          if (*found < range.end) {
            FetchLimits one;
            one.max_records = 1;
            auto rec = log_.fetch(t.name, p.index, *found, one);
            if (rec && !rec->records.empty()) {
              offset = rec->records.front().offset;
              timestamp = rec->records.front().timestamp_ms;
            }
          }
        } else if (target == -1) {
          offset = range.end;
          if (req->isolation_level == 1) {  // read_committed: the last stable offset
            auto index = log_.transaction_index(t.name, p.index, range.end, range.end);
            if (!index) {
              rp.error_code = error_of(index.status());
              return;
            }
            offset = index->last_stable_offset;
          }
        } else if (target == -2 || target == kEarliestLocalTimestamp) {
          offset = range.earliest;  // every segment is local
        } else {
          rp.error_code = err::kInvalidRequest;
          return;
        }
        rp.offset = offset;
        rp.timestamp = timestamp;
        if (offset >= 0) rp.old_style_offsets = {offset};
      });
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::create_topics(const RequestHeader& h, std::string_view body) {
  auto plan = plan_create_topics(h, body);
  if (!plan) return plan.status();
  create_planned_topics(*plan);
  return answer_create_topics(*plan);
}

Result<KafkaApi::TopicCreation> KafkaApi::plan_create_topics(const RequestHeader& h,
                                                             std::string_view body) {
  auto req = parse<CreateTopicsRequest>(h, body);
  if (!req) return req.status();
  TopicCreation plan;
  plan.version = h.api_version;
  CreateTopicsResponse& r = plan.response;
  for (const auto& t : req->topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    auto fail = [&](int16_t code, std::string message) {
      rt.error_code = code;
      rt.error_message = std::move(message);
    };
    if (Status s = validate_topic_name(t.name); !s.is_ok()) {
      fail(err::kInvalidTopicException, s.message());
      continue;
    }
    if (log_.partition_count(t.name)) {
      fail(err::kTopicAlreadyExists, "Topic '" + t.name + "' already exists.");
      continue;
    }
    int32_t partitions = t.num_partitions;
    if (!t.assignments.empty()) {
      partitions = static_cast<int32_t>(t.assignments.size());
      const bool elsewhere = std::any_of(
          t.assignments.begin(), t.assignments.end(),
          [](const auto& a) { return a.broker_ids.size() != 1 || a.broker_ids[0] != 0; });
      if (elsewhere) {
        fail(err::kInvalidReplicaAssignment, "this broker is node 0, the only one");
        continue;
      }
    } else if (partitions == -1) {
      partitions = options_.default_partitions;
    }
    if (partitions < 1 || partitions > options_.max_partitions) {
      fail(err::kInvalidPartitions, "Number of partitions must be 1 to " +
                                        std::to_string(options_.max_partitions) + ", not " +
                                        std::to_string(partitions) + ".");
      continue;
    }
    if (t.replication_factor != -1 && t.replication_factor != 1) {
      fail(err::kInvalidReplicationFactor,
           "Replication factor: " + std::to_string(t.replication_factor) +
               " larger than available brokers: 1.");
      continue;
    }
    TopicConfigs configs;
    for (const auto& c : t.configs) {
      if (!c.value) continue;  // Kafka: a null value is no override
      std::string normalized;
      if (Status s = validate_topic_config(c.name, *c.value, &normalized); !s.is_ok()) {
        fail(err::kInvalidConfig, s.message());
        break;
      }
      configs[c.name] = std::move(normalized);
    }
    if (rt.error_code != err::kNone) continue;
    if (h.api_version >= 5) {
      rt.num_partitions = partitions;
      rt.replication_factor = 1;
      rt.configs = described_configs(configs);
    }
    if (req->validate_only) continue;
    plan.to_create.push_back({r.topics.size() - 1, t.name, partitions, std::move(configs)});
  }
  return plan;
}

void KafkaApi::create_planned_topics(TopicCreation& plan) {
  for (const auto& c : plan.to_create) {
    auto& rt = plan.response.topics[c.index];
    auto fail = [&](int16_t code, std::string message) {
      rt.error_code = code;
      rt.error_message = std::move(message);
      rt.num_partitions = -1;
      rt.replication_factor = -1;
      rt.configs.clear();
    };
    // Checked again here: an earlier creation (this request's or another's) may have made it.
    if (log_.partition_count(c.name)) {
      fail(err::kTopicAlreadyExists, "Topic '" + c.name + "' already exists.");
      continue;
    }
    if (Status s = log_.create_configured_topic(c.name, c.partitions, c.configs); !s.is_ok()) {
      // kFailedPrecondition: the partitions do not fit in the file-descriptor limit.
      fail(s.code() == StatusCode::kFailedPrecondition ? err::kPolicyViolation : error_of(s),
           s.message());
    }
  }
}

std::string KafkaApi::answer_create_topics(const TopicCreation& plan) const {
  return encode(plan.response, plan.version);
}

namespace {

// Kafka's message for UNKNOWN_TOPIC_OR_PARTITION.
constexpr const char* kUnknownTopicMessage = "This server does not host this topic-partition.";

// The error a topic administration request answers for what the log said: a log that cannot do
// it, or a change that does not fit in the descriptor budget, is the broker's policy.
int16_t admin_error_of(const Status& s) {
  return s.code() == StatusCode::kFailedPrecondition ? err::kPolicyViolation : error_of(s);
}

}  // namespace

Result<std::string> KafkaApi::delete_topics(const RequestHeader& h, std::string_view body) {
  auto req = parse<DeleteTopicsRequest>(h, body);
  if (!req) return req.status();
  if (h.api_version < 6) {
    for (auto& name : req->topic_names) req->topics.push_back({std::move(name), {}});
  }
  std::map<std::string, int> asked;
  for (const auto& t : req->topics) {
    if (t.name) ++asked[*t.name];
  }
  DeleteTopicsResponse r;
  for (const auto& t : req->topics) {
    auto& rt = r.responses.emplace_back();
    rt.name = t.name;
    rt.topic_id = t.topic_id;
    auto fail = [&](int16_t code, std::string message) {
      rt.error_code = code;
      rt.error_message = std::move(message);
    };
    if (!t.name) {
      // This broker has no topic ids: every id is unknown (the zero id is no id at all).
      if (t.topic_id.is_zero()) {
        fail(err::kInvalidRequest, "Neither topic name nor id were specified.");
      } else {
        fail(err::kUnknownTopicId, "This server does not host this topic ID.");
      }
      continue;
    }
    if (!t.topic_id.is_zero()) {
      fail(err::kInvalidRequest, "You may not specify both topic name and topic id.");
      continue;
    }
    if (asked[*t.name] > 1) {
      fail(err::kInvalidRequest, "Duplicate topic name.");
      continue;
    }
    if (!log_.partition_count(*t.name)) {
      fail(err::kUnknownTopicOrPartition, kUnknownTopicMessage);
      continue;
    }
    if (Status s = log_.delete_topic(*t.name); !s.is_ok()) {
      if (s.code() == StatusCode::kNotFound) {
        fail(err::kUnknownTopicOrPartition, kUnknownTopicMessage);
      } else {
        fail(admin_error_of(s), s.message());
      }
    }
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::delete_records(const RequestHeader& h, std::string_view body) {
  auto req = parse<DeleteRecordsRequest>(h, body);
  if (!req) return req.status();
  auto r = answer_by_partition<DeleteRecordsResponse>(
      log_, *req, [&](const auto& t, const auto& p, const OffsetRange& range, auto& rp) {
        const int64_t offset = p.offset == -1 ? range.end : p.offset;
        if (offset < 0) {
          rp.error_code = err::kOffsetOutOfRange;
          return;
        }
        auto start = log_.delete_records(t.name, p.index, offset);
        if (!start) {
          rp.error_code = start.status().code() == StatusCode::kUnavailable
                              ? err::kKafkaStorageError
                              : error_of(start.status());
          return;
        }
        rp.low_watermark = *start;
      });
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::describe_log_dirs(const RequestHeader& h, std::string_view body) {
  auto req = parse<DescribeLogDirsRequest>(h, body);
  if (!req) return req.status();
  DescribeLogDirsResponse r;
  auto& dir = r.results.emplace_back();
  dir.log_dir = options_.log_dir.empty() ? kInMemoryLogDir : options_.log_dir;
  if (!options_.log_dir.empty()) {
    struct statvfs volume {};
    if (::statvfs(options_.log_dir.c_str(), &volume) != 0) {
      dir.error_code = err::kKafkaStorageError;
      return encode(r, h.api_version);
    }
    // As Kafka's FileStore: total and usable (unprivileged) space, INT64_MAX past its range.
    auto bytes = [&](uint64_t blocks) {
      const uint64_t b = static_cast<uint64_t>(volume.f_frsize);
      return b != 0 && blocks > static_cast<uint64_t>(INT64_MAX) / b
                 ? INT64_MAX
                 : static_cast<int64_t>(blocks * b);
    };
    dir.total_bytes = bytes(volume.f_blocks);
    dir.usable_bytes = bytes(volume.f_bavail);
  }
  // The partitions asked for that exist, by topic; a topic asked twice is one.
  std::map<std::string, std::set<int32_t>> wanted;
  if (!req->topics) {
    for (const std::string& name : log_.list_topics().value_or(std::vector<std::string>{})) {
      const int32_t n = log_.partition_count(name).value_or(0);
      for (int32_t p = 0; p < n; ++p) wanted[name].insert(p);
    }
  } else {
    for (const auto& t : *req->topics) {
      const int32_t n = log_.partition_count(t.topic).value_or(0);
      for (int32_t p : t.partitions) {
        if (p >= 0 && p < n) wanted[t.topic].insert(p);
      }
    }
  }
  for (const auto& [name, partitions] : wanted) {
    DescribeLogDirsResponse::Topic topic;
    topic.name = name;
    for (int32_t p : partitions) {
      // A partition deleted meanwhile is no longer in the log dir.
      auto size = log_.partition_bytes(name, p);
      if (size) topic.partitions.push_back({p, *size, 0, false});
    }
    if (!topic.partitions.empty()) dir.topics.push_back(std::move(topic));
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::create_partitions(const RequestHeader& h, std::string_view body) {
  auto req = parse<CreatePartitionsRequest>(h, body);
  if (!req) return req.status();
  std::map<std::string, int> asked;
  for (const auto& t : req->topics) ++asked[t.name];
  CreatePartitionsResponse r;
  for (const auto& t : req->topics) {
    auto& rt = r.results.emplace_back();
    rt.name = t.name;
    auto fail = [&](int16_t code, std::string message) {
      rt.error_code = code;
      rt.error_message = std::move(message);
    };
    if (asked[t.name] > 1) {
      fail(err::kInvalidRequest, "Duplicate topic name.");
      continue;
    }
    auto have = log_.partition_count(t.name);
    if (!have) {
      fail(err::kUnknownTopicOrPartition, kUnknownTopicMessage);
      continue;
    }
    if (t.count == *have) {
      fail(err::kInvalidPartitions,
           "Topic already has " + std::to_string(*have) + " partition(s).");
      continue;
    }
    if (t.count < *have) {
      fail(err::kInvalidPartitions, "The topic " + t.name + " currently has " +
                                        std::to_string(*have) + " partition(s); " +
                                        std::to_string(t.count) + " would not be an increase.");
      continue;
    }
    if (t.count > options_.max_partitions) {
      fail(err::kInvalidPartitions, "Number of partitions must be 1 to " +
                                        std::to_string(options_.max_partitions) + ", not " +
                                        std::to_string(t.count) + ".");
      continue;
    }
    if (t.assignments) {
      const auto added = static_cast<size_t>(t.count - *have);
      if (t.assignments->size() != added) {
        fail(err::kInvalidReplicaAssignment,
             "Attempted to add " + std::to_string(added) + " additional partition(s), but only " +
                 std::to_string(t.assignments->size()) + " assignment(s) were specified.");
        continue;
      }
      // One broker, one replica: node 0 is the only assignment this broker can honour.
      const auto elsewhere =
          std::find_if(t.assignments->begin(), t.assignments->end(),
                       [](const auto& a) { return a.broker_ids != std::vector<int32_t>{0}; });
      if (elsewhere != t.assignments->end()) {
        fail(err::kInvalidReplicaAssignment, elsewhere->broker_ids.empty()
                                                 ? "The manual partition assignment includes an "
                                                   "empty replica list."
                                                 : "The manual partition assignment must be the "
                                                   "one broker, node 0, with one replica.");
        continue;
      }
    }
    if (req->validate_only) continue;
    if (Status s = log_.add_partitions(t.name, t.count); !s.is_ok()) {
      fail(s.code() == StatusCode::kNotFound ? err::kUnknownTopicOrPartition : admin_error_of(s),
           s.message());
    }
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::find_coordinator(const RequestHeader& h, std::string_view body) {
  auto req = parse<FindCoordinatorRequest>(h, body);
  if (!req) return req.status();
  FindCoordinatorResponse r;
  if (req->key_type != 0 && req->key_type != 1) {  // 0 a group, 1 a transactional id
    r.error_code = err::kInvalidRequest;
    r.error_message = "Unknown coordinator type: " + std::to_string(req->key_type);
    return encode(r, h.api_version);
  }
  r.node_id = 0;
  r.host = options_.advertised_host;
  r.port = options_.advertised_port;
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::init_producer_id(const RequestHeader& h, std::string_view body,
                                               int64_t now_ms) {
  auto req = parse<InitProducerIdRequest>(h, body);
  if (!req) return req.status();
  InitProducerIdResponse r;
  if (req->transactional_id && !req->transactional_id->empty()) {
    auto init = transactions_->init_producer_id(*req->transactional_id, req->transaction_timeout_ms,
                                                req->producer_id, req->producer_epoch,
                                                h.api_version, now_ms);
    r.error_code = init.error;
    r.producer_id = init.producer_id;
    r.producer_epoch = init.epoch;
  } else {
    r.producer_id = next_producer_id_++;
    r.producer_epoch = 0;
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::offset_commit(const RequestHeader& h, std::string_view body,
                                            int64_t now_ms) {
  auto req = parse<OffsetCommitRequest>(h, body);
  if (!req) return req.status();
  const int16_t group_error =
      req->group_id.empty()
          ? err::kInvalidGroupId
          : groups_->validate_commit(req->group_id, req->generation_id, req->member_id,
                                     req->group_instance_id, now_ms);
  OffsetCommitResponse r;
  for (const auto& t : req->topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    std::vector<GroupOffset> offsets;
    const int32_t partitions = log_.partition_count(t.name).value_or(0);
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      if (group_error != err::kNone) {
        rp.error_code = group_error;
      } else if (p.index < 0 || p.index >= partitions) {
        rp.error_code = err::kUnknownTopicOrPartition;
      } else if (p.committed_metadata &&
                 p.committed_metadata->size() >
                     static_cast<size_t>(options_.offset_metadata_max_bytes)) {
        rp.error_code = err::kOffsetMetadataTooLarge;
      } else {
        offsets.push_back({p.index, p.committed_offset, p.committed_metadata.value_or("")});
      }
    }
    if (offsets.empty()) continue;
    if (Status s = log_.commit_group_offsets(req->group_id, t.name, offsets); !s.is_ok()) {
      for (auto& rp : rt.partitions) {
        if (rp.error_code == err::kNone) rp.error_code = err::kUnknownServerError;
      }
    }
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::offset_fetch(const RequestHeader& h, std::string_view body) {
  auto req = parse<OffsetFetchRequest>(h, body);
  if (!req) return req.status();
  OffsetFetchResponse r;
  std::vector<OffsetFetchRequest::Topic> wanted;
  if (req->topics) {
    wanted = *req->topics;
  } else if (auto all = log_.list_topics()) {
    // Every topic the group has offsets for.
    for (const std::string& name : *all) {
      auto offsets = log_.group_offsets(req->group_id, name);
      if (!offsets || offsets->empty()) continue;
      auto& t = wanted.emplace_back();
      t.name = name;
      for (const auto& o : *offsets) t.partition_indexes.push_back(o.partition);
    }
  }
  for (const auto& t : wanted) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    auto offsets = log_.group_offsets(req->group_id, t.name);
    for (int32_t index : t.partition_indexes) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = index;
      rp.metadata = "";
      if (req->require_stable && transactions_->has_pending_offset(req->group_id, t.name, index)) {
        rp.error_code = err::kUnstableOffsetCommit;  // the client retries after the transaction
        continue;
      }
      if (!offsets) continue;
      for (const auto& o : *offsets) {
        if (o.partition == index) {
          rp.committed_offset = o.offset;
          rp.metadata = o.metadata;
        }
      }
    }
  }
  return encode(r, h.api_version);
}

Status KafkaApi::join_group(const RequestHeader& h, std::string_view body, int64_t now_ms,
                            Reply done, std::string client_host) {
  auto req = parse<JoinGroupRequest>(h, body);
  if (!req) return req.status();
  JoinGroupArgs args;
  args.group_id = req->group_id;
  args.session_timeout_ms = req->session_timeout_ms;
  args.rebalance_timeout_ms =
      h.api_version >= 1 ? req->rebalance_timeout_ms : req->session_timeout_ms;
  args.member_id = req->member_id;
  args.group_instance_id = req->group_instance_id;
  args.protocol_type = req->protocol_type;
  for (auto& p : req->protocols) args.protocols.emplace_back(p.name, p.metadata);
  args.require_known_member_id = h.api_version >= 4;
  args.client_id = h.client_id.value_or("");
  args.client_host = std::move(client_host);
  const int16_t version = h.api_version;
  groups_->join(std::move(args), now_ms, [version, done = std::move(done)](JoinGroupResult res) {
    JoinGroupResponse r;
    r.error_code = res.error;
    r.generation_id = res.generation_id;
    r.protocol_name = res.protocol_name;
    r.leader = res.leader;
    r.member_id = res.member_id;
    for (auto& m : res.members) {
      r.members.push_back({m.member_id, m.group_instance_id, m.metadata});
    }
    done(encode(r, version));
  });
  return Status::ok();
}

Status KafkaApi::sync_group(const RequestHeader& h, std::string_view body, int64_t now_ms,
                            Reply done) {
  auto req = parse<SyncGroupRequest>(h, body);
  if (!req) return req.status();
  SyncGroupArgs args;
  args.group_id = req->group_id;
  args.generation_id = req->generation_id;
  args.member_id = req->member_id;
  args.group_instance_id = req->group_instance_id;
  for (auto& a : req->assignments) args.assignments.emplace_back(a.member_id, a.assignment);
  const int16_t version = h.api_version;
  groups_->sync(std::move(args), now_ms, [version, done = std::move(done)](SyncGroupResult res) {
    SyncGroupResponse r;
    r.error_code = res.error;
    r.assignment = res.assignment;
    done(encode(r, version));
  });
  return Status::ok();
}

Result<std::string> KafkaApi::heartbeat(const RequestHeader& h, std::string_view body,
                                        int64_t now_ms) {
  auto req = parse<HeartbeatRequest>(h, body);
  if (!req) return req.status();
  HeartbeatResponse r;
  r.error_code = groups_->heartbeat(req->group_id, req->generation_id, req->member_id,
                                    req->group_instance_id, now_ms);
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::leave_group(const RequestHeader& h, std::string_view body,
                                          int64_t now_ms) {
  auto req = parse<LeaveGroupRequest>(h, body);
  if (!req) return req.status();
  std::vector<GroupCoordinator::MemberIdentity> leaving;
  if (h.api_version < 3) {
    leaving.push_back({req->member_id, std::nullopt});
  } else {
    for (const auto& m : req->members) leaving.push_back({m.member_id, m.group_instance_id});
  }
  auto res = groups_->leave(req->group_id, leaving, now_ms);
  LeaveGroupResponse r;
  r.error_code = res.error;
  if (h.api_version < 3) {
    if (r.error_code == err::kNone && !res.member_errors.empty())
      r.error_code = res.member_errors[0];
  } else {
    for (size_t i = 0; i < req->members.size(); ++i) {
      r.members.push_back({req->members[i].member_id, req->members[i].group_instance_id,
                           i < res.member_errors.size() ? res.member_errors[i] : err::kNone});
    }
  }
  return encode(r, h.api_version);
}

Result<std::vector<std::string>> KafkaApi::offset_groups() {
  auto groups = log_.offset_groups();
  if (groups) std::sort(groups->begin(), groups->end());
  return groups;
}

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool in_filter(const std::vector<std::string>& filter, std::string_view name) {
  return filter.empty() || std::any_of(filter.begin(), filter.end(),
                                       [&](const std::string& f) { return same_name(f, name); });
}

bool contains(const std::vector<std::string>& sorted, std::string_view name) {
  return std::binary_search(sorted.begin(), sorted.end(), name, std::less<>());
}

}  // namespace

Result<std::string> KafkaApi::list_groups(const RequestHeader& h, std::string_view body,
                                          int64_t now_ms) {
  auto req = parse<ListGroupsRequest>(h, body);
  if (!req) return req.status();
  ListGroupsResponse r;
  auto with_offsets = offset_groups();
  if (!with_offsets) {
    r.error_code = err::kCoordinatorNotAvailable;
    return encode(r, h.api_version);
  }
  // Every group here is of the classic protocol (KIP-848's "consumer" groups are not served).
  const bool classic = in_filter(req->types_filter, "classic");
  auto add = [&](std::string id, std::string protocol_type, std::string state) {
    if (!classic || !in_filter(req->states_filter, state)) return;
    r.groups.push_back({std::move(id), std::move(protocol_type), std::move(state), "classic"});
  };
  const auto known = groups_->list(now_ms);
  auto k = known.begin();
  for (const std::string& id : *with_offsets) {
    for (; k != known.end() && k->group_id < id; ++k) add(k->group_id, k->protocol_type, k->state);
    if (k != known.end() && k->group_id == id) continue;
    add(id, "", "Empty");
  }
  for (; k != known.end(); ++k) add(k->group_id, k->protocol_type, k->state);
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::describe_groups(const RequestHeader& h, std::string_view body,
                                              int64_t now_ms) {
  auto req = parse<DescribeGroupsRequest>(h, body);
  if (!req) return req.status();
  DescribeGroupsResponse r;
  auto with_offsets = offset_groups();
  for (const std::string& id : req->groups) {
    auto& rg = r.groups.emplace_back();
    rg.group_id = id;
    if (req->include_authorized_operations) rg.authorized_operations = kGroupOperations;
    if (!with_offsets) {
      rg.error_code = err::kCoordinatorNotAvailable;
      continue;
    }
    auto summary = groups_->summarize(id, now_ms);
    if (!summary) {
      rg.group_state = contains(*with_offsets, id) ? "Empty" : "Dead";
      continue;
    }
    rg.group_state = summary->state;
    rg.protocol_type = summary->protocol_type;
    rg.protocol_data = summary->protocol_data;
    for (auto& m : summary->members) {
      rg.members.push_back({m.member_id, m.group_instance_id, m.client_id, m.client_host,
                            std::move(m.metadata), std::move(m.assignment)});
    }
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::delete_groups(const RequestHeader& h, std::string_view body,
                                            int64_t now_ms) {
  auto req = parse<DeleteGroupsRequest>(h, body);
  if (!req) return req.status();
  DeleteGroupsResponse r;
  auto with_offsets = offset_groups();
  for (const std::string& id : req->groups_names) {
    auto& rr = r.results.emplace_back();
    rr.group_id = id;
    if (!with_offsets) {
      rr.error_code = err::kCoordinatorNotAvailable;
      continue;
    }
    rr.error_code = groups_->check_delete(id, now_ms);
    const bool has_offsets = contains(*with_offsets, id);
    if (rr.error_code == err::kGroupIdNotFound && has_offsets) rr.error_code = err::kNone;
    if (rr.error_code != err::kNone) continue;
    if (has_offsets) {
      if (Status s = log_.delete_group(id); !s.is_ok()) {
        rr.error_code = err::kCoordinatorNotAvailable;
        continue;
      }
    }
    groups_->remove(id);
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::offset_delete(const RequestHeader& h, std::string_view body,
                                            int64_t now_ms) {
  auto req = parse<OffsetDeleteRequest>(h, body);
  if (!req) return req.status();
  OffsetDeleteResponse r;
  if (req->group_id.empty()) {
    r.error_code = err::kInvalidGroupId;
    return encode(r, h.api_version);
  }
  auto with_offsets = offset_groups();
  if (!with_offsets) {
    r.error_code = err::kCoordinatorNotAvailable;
    return encode(r, h.api_version);
  }
  std::vector<std::string> names;
  for (const auto& t : req->topics) names.push_back(t.name);
  std::vector<bool> subscribed;
  int16_t group_error = groups_->check_offset_delete(req->group_id, names, now_ms, subscribed);
  if (group_error == err::kGroupIdNotFound && contains(*with_offsets, req->group_id)) {
    group_error = err::kNone;  // a group of offsets only: Empty
  }
  if (group_error != err::kNone) {
    r.error_code = group_error;
    return encode(r, h.api_version);
  }
  for (size_t i = 0; i < req->topics.size(); ++i) {
    const auto& t = req->topics[i];
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    const int32_t partitions = log_.partition_count(t.name).value_or(0);
    std::vector<int32_t> forget;
    for (int32_t p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p;
      if (p < 0 || p >= partitions) {
        rp.error_code = err::kUnknownTopicOrPartition;
      } else if (subscribed[i]) {
        rp.error_code = err::kGroupSubscribedToTopic;
      } else {
        forget.push_back(p);
      }
    }
    if (forget.empty()) continue;
    if (Status s = log_.delete_group_offsets(req->group_id, t.name, forget); !s.is_ok()) {
      for (auto& rp : rt.partitions) {
        if (rp.error_code == err::kNone) rp.error_code = err::kCoordinatorNotAvailable;
      }
    }
  }
  // As Kafka's coordinator: an Empty group whose last offset is gone is gone too.
  if (groups_->is_empty(req->group_id)) {
    auto left = offset_groups();
    if (left && !contains(*left, req->group_id)) groups_->remove(req->group_id);
  }
  return encode(r, h.api_version);
}

void KafkaApi::tick(int64_t now_ms) {
  groups_->tick(now_ms);
  transactions_->tick(now_ms);
}

std::optional<int64_t> KafkaApi::next_deadline() const {
  auto groups = groups_->next_deadline();
  auto txns = transactions_->next_deadline();
  if (!groups) return txns;
  if (!txns) return groups;
  return std::min(*groups, *txns);
}

Result<std::string> KafkaApi::add_partitions_to_txn(const RequestHeader& h, std::string_view body,
                                                    int64_t now_ms) {
  auto req = parse<AddPartitionsToTxnRequest>(h, body);
  if (!req) return req.status();
  std::vector<TransactionCoordinator::Partition> partitions;
  for (const auto& t : req->topics) {
    for (int32_t p : t.partitions) partitions.emplace_back(t.name, p);
  }
  const auto errors =
      transactions_->add_partitions(req->transactional_id, req->producer_id, req->producer_epoch,
                                    partitions, h.api_version, now_ms);
  AddPartitionsToTxnResponse r;
  size_t i = 0;
  for (const auto& t : req->topics) {
    auto& rt = r.results.emplace_back();
    rt.name = t.name;
    for (int32_t p : t.partitions) rt.partitions.push_back({p, errors[i++]});
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::add_offsets_to_txn(const RequestHeader& h, std::string_view body,
                                                 int64_t now_ms) {
  auto req = parse<AddOffsetsToTxnRequest>(h, body);
  if (!req) return req.status();
  AddOffsetsToTxnResponse r;
  r.error_code =
      transactions_->add_offsets(req->transactional_id, req->producer_id, req->producer_epoch,
                                 req->group_id, h.api_version, now_ms);
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::txn_offset_commit(const RequestHeader& h, std::string_view body,
                                                int64_t now_ms) {
  auto req = parse<TxnOffsetCommitRequest>(h, body);
  if (!req) return req.status();
  int16_t group_error = req->group_id.empty()
                            ? err::kInvalidGroupId
                            : transactions_->check_offsets(req->transactional_id, req->producer_id,
                                                           req->producer_epoch, req->group_id);
  if (group_error == err::kNone && !req->member_id.empty()) {
    group_error = groups_->validate_commit(req->group_id, req->generation_id, req->member_id,
                                           req->group_instance_id, now_ms);
  }
  TxnOffsetCommitResponse r;
  for (const auto& t : req->topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    const int32_t partitions = log_.partition_count(t.name).value_or(0);
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      if (group_error != err::kNone) {
        rp.error_code = group_error;
      } else if (p.index < 0 || p.index >= partitions) {
        rp.error_code = err::kUnknownTopicOrPartition;
      } else if (p.committed_metadata &&
                 p.committed_metadata->size() >
                     static_cast<size_t>(options_.offset_metadata_max_bytes)) {
        rp.error_code = err::kOffsetMetadataTooLarge;
      } else if (!transactions_->keep_offset(
                     req->transactional_id, req->group_id, t.name,
                     {p.index, p.committed_offset, p.committed_metadata.value_or("")})) {
        rp.error_code = err::kPolicyViolation;  // over the pending offsets a transaction may hold
      }
    }
  }
  return encode(r, h.api_version);
}

Result<std::string> KafkaApi::end_txn(const RequestHeader& h, std::string_view body,
                                      int64_t now_ms) {
  auto req = parse<EndTxnRequest>(h, body);
  if (!req) return req.status();
  EndTxnResponse r;
  r.error_code =
      transactions_->end_transaction(req->transactional_id, req->producer_id, req->producer_epoch,
                                     req->committed, h.api_version, now_ms);
  return encode(r, h.api_version);
}

}  // namespace kappa
