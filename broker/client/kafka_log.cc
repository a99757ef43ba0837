#include "broker/client/kafka_log.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "broker/url.h"

namespace kappa {
namespace {

using Clock = std::chrono::steady_clock;

std::string err_text(rd_kafka_resp_err_t err) { return rd_kafka_err2str(err); }

bool transient(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
      return true;
    default:
      return false;
  }
}

// Maps a librdkafka error to our Status codes: the cluster out of reach is kUnavailable (a
// micro-batch retries at its next trigger), a missing topic or partition kNotFound.
Status status_of(rd_kafka_resp_err_t err, const std::string& context) {
  const std::string m = context + ": " + err_text(err);
  if (transient(err)) return Status::unavailable(m);
  switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::not_found(m);
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return Status::out_of_range(m);
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
      return Status::invalid_argument(m);
    default:
      return Status::internal(m);
  }
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

// Delivery reports land here through the message opaque.
struct Delivery {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
  bool done = false;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* d = static_cast<Delivery*>(m->_private);
  if (!d) return;
  d->err = m->err;
  d->partition = m->partition;
  d->offset = m->offset;
  d->done = true;
}

// Keeps fetched messages (and the header views into them) alive for a FetchResult.
struct FetchedMessages {
  std::vector<rd_kafka_message_t*> messages;
  std::vector<std::vector<HeaderView>> headers;
  ~FetchedMessages() {
    for (auto* m : messages) rd_kafka_message_destroy(m);
  }
};

}  // namespace

struct KafkaLog::Impl {
  Url url;
  int timeout_ms = 10000;
  int replication_factor = 1;
  Handle producer;
  Handle reader;  // assign-only consumer for fetch
  // Metadata and offset queries go through a client that never fetches: on the reader's
  // connection they would wait behind its long-polling Fetch requests (the broker answers a
  // connection's requests in order).
  Handle querier;
  std::map<std::string, Handle> groups;  // consumer per group, for offset commit/fetch
  // Partition counts by topic, refreshed after 30 s (they only change by an admin's hand); a
  // micro-batch asks for them at every plan.
  std::map<std::string, std::pair<int32_t, Clock::time_point>> partition_counts;
  // Where the reader's single assignment stands, so consecutive fetches continue in place.
  std::string assigned_topic;
  int32_t assigned_partition = -1;
  int64_t position = -1;

  Result<Handle> make(rd_kafka_type_t type,
                      const std::vector<std::pair<std::string, std::string>>& settings) {
    std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
    char err[512];
    std::vector<std::pair<std::string, std::string>> all = {
        {"bootstrap.servers", url.hosts},
        {"client.id", "kappa"},
        {"log_level", "3"},
        {"socket.timeout.ms", std::to_string(std::max(1000, timeout_ms))},
        // Small requests answered at once: Nagle's algorithm would hold them for delayed ACKs.
        {"socket.nagle.disable", "true"},
    };
    all.insert(all.end(), settings.begin(), settings.end());
    for (const auto& [k, v] : all) {
      if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) !=
          RD_KAFKA_CONF_OK) {
        return Status::invalid_argument("kafka setting " + k + "=" + v + ": " + err);
      }
    }
    if (type == RD_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
    rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
    if (!rk)
      return Status::internal("cannot create a Kafka client for " + url.describe() + ": " + err);
    conf.release();  // owned by rk now
    if (type == RD_KAFKA_CONSUMER) rd_kafka_poll_set_consumer(rk);
    return Handle(rk);
  }

  Result<rd_kafka_t*> producer_handle() {
    if (!producer) {
      auto h = make(RD_KAFKA_PRODUCER,
                    {{"acks", "all"},
                     {"compression.codec", "gzip"},
                     {"partitioner", "murmur2_random"},
                     {"max.in.flight.requests.per.connection", "1"},
                     {"linger.ms", "1"},
                     {"message.timeout.ms", std::to_string(std::max(2000, timeout_ms))}});
      if (!h) return h.status();
      producer = std::move(*h);
    }
    return producer.get();
  }

  Result<rd_kafka_t*> reader_handle() {
    if (!reader) {
      auto h = make(RD_KAFKA_CONSUMER, {{"group.id", "kappa-reader"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"enable.partition.eof", "true"},
                                        {"auto.offset.reset", "error"},
                                        {"allow.auto.create.topics", "false"},
                                        {"fetch.wait.max.ms", "10"},
                                        {"fetch.error.backoff.ms", "10"}});
      if (!h) return h.status();
      reader = std::move(*h);
    }
    return reader.get();
  }

  Result<rd_kafka_t*> query_handle() {
    if (!querier) {
      auto h = make(RD_KAFKA_CONSUMER, {{"group.id", "kappa-query"},
                                        {"enable.auto.commit", "false"},
                                        {"allow.auto.create.topics", "false"}});
      if (!h) return h.status();
      querier = std::move(*h);
    }
    return querier.get();
  }

  Result<rd_kafka_t*> group_handle(std::string_view group) {
    auto it = groups.find(std::string(group));
    if (it != groups.end()) return it->second.get();
    auto h = make(RD_KAFKA_CONSUMER, {{"group.id", std::string(group)},
                                      {"enable.auto.commit", "false"},
                                      {"allow.auto.create.topics", "false"}});
    if (!h) return h.status();
    rd_kafka_t* rk = h->get();
    groups.emplace(std::string(group), std::move(*h));
    return rk;
  }

  // The topic's metadata: its partition count, or kNotFound.
  Result<int32_t> partitions_of(std::string_view topic) {
    auto rk = query_handle();
    if (!rk) return rk.status();
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(*rk, std::string(topic).c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(*rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err)
      return status_of(
          err, "reading the metadata of topic " + std::string(topic) + " on " + url.describe());
    Result<int32_t> out =
        Status::not_found("no topic " + std::string(topic) + " on " + url.describe());
    if (md->topic_cnt == 1) {
      const auto& t = md->topics[0];
      if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        out = t.partition_cnt;
      } else if (t.err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        out = status_of(t.err, "topic " + std::string(topic) + " on " + url.describe());
      }
    }
    rd_kafka_metadata_destroy(md);
    return out;
  }
};

KafkaLog::KafkaLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaLog::~KafkaLog() = default;

Result<std::unique_ptr<KafkaLog>> KafkaLog::open(std::string_view url, int timeout_ms) {
  std::string text(url);
  std::string query;
  if (const size_t q = text.find('?'); q != std::string::npos) {
    query = text.substr(q + 1);
    text.resize(q);
  }
  auto parsed = parse_url(text);
  if (!parsed) return parsed.status();
  if (parsed->scheme != "kafka") {
    return Status::invalid_argument("expected a kafka://HOST:PORT URL, found '" + redact(url) +
                                    "'");
  }
  if (!parsed->user.empty() || !parsed->path.empty()) {
    return Status::invalid_argument(
        "expected kafka://HOST:PORT[,HOST:PORT...] without a user or a path, found '" +
        redact(url) + "'");
  }
  auto impl = std::make_unique<Impl>();
  impl->url = *parsed;
  impl->timeout_ms = timeout_ms;
  if (!query.empty()) {
    const std::string key = "replication_factor=";
    if (query.rfind(key, 0) != 0) {
      return Status::invalid_argument("unknown option '" + query + "' in " + parsed->describe() +
                                      "; expected ?replication_factor=N");
    }
    try {
      impl->replication_factor = std::stoi(query.substr(key.size()));
    } catch (const std::exception&) {
      impl->replication_factor = 0;
    }
    if (impl->replication_factor < 1)
      return Status::invalid_argument("expected replication_factor >= 1");
  }
  return std::unique_ptr<KafkaLog>(new KafkaLog(std::move(impl)));
}

std::string KafkaLog::describe() const { return impl_->url.describe(); }

Status KafkaLog::create_topic(std::string_view topic, int32_t partitions) {
  KAPPA_RETURN_IF_ERROR(validate_topic_name(topic));
  if (partitions < 1) return Status::invalid_argument("a topic needs at least one partition");
  auto existing = impl_->partitions_of(topic);
  if (existing) {
    if (*existing != partitions) {
      return Status::already_exists("topic " + std::string(topic) + " exists on " + describe() +
                                    " with " + std::to_string(*existing) + " partitions, not " +
                                    std::to_string(partitions));
    }
    return Status::ok();
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  auto rk = impl_->producer_handle();
  if (!rk) return rk.status();
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(std::string(topic).c_str(), partitions,
                                                  impl_->replication_factor, err, sizeof err);
  if (!nt) return Status::invalid_argument("topic " + std::string(topic) + ": " + err);
  // The log is the source of truth: keep every record. (Kafka's default, 7 days by record
  // timestamp, would delete a replayed scenario's records at once: their timestamps are the
  // simulated clock's, often years ago.)
  rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
  rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
  rd_kafka_queue_t* q = rd_kafka_queue_new(*rk);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(*rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, impl_->timeout_ms, err, sizeof err);
  rd_kafka_CreateTopics(*rk, &nt, 1, options, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, impl_->timeout_ms + 1000);
  Status s = Status::ok();
  if (!ev) {
    s = Status::unavailable("creating topic " + std::string(topic) + " on " + describe() +
                            ": no answer");
  } else if (rd_kafka_event_error(ev)) {
    s = status_of(rd_kafka_event_error(ev),
                  "creating topic " + std::string(topic) + " on " + describe());
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* why = rd_kafka_topic_result_error_string(results[i]);
        s = status_of(e, "creating topic " + std::string(topic) + " on " + describe() +
                             (why ? std::string(" (") + why + ")" : ""));
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  KAPPA_RETURN_IF_ERROR(s);

  // The controller answers before every broker knows the topic: wait until metadata shows it.
  const auto deadline = Clock::now() + std::chrono::milliseconds(impl_->timeout_ms);
  while (true) {
    auto n = impl_->partitions_of(topic);
    if (n && *n == partitions) return Status::ok();
    if (n && *n != partitions) {
      return Status::already_exists("topic " + std::string(topic) + " on " + describe() + " has " +
                                    std::to_string(*n) + " partitions, not " +
                                    std::to_string(partitions));
    }
    if (Clock::now() > deadline) {
      return Status::unavailable("topic " + std::string(topic) + " was created on " + describe() +
                                 " but its metadata did not appear in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status KafkaLog::delete_topics(const std::vector<std::string>& topics) {
  if (topics.empty()) return Status::ok();
  auto rk = impl_->producer_handle();
  if (!rk) return rk.status();
  std::vector<rd_kafka_DeleteTopic_t*> dts;
  for (const auto& t : topics) dts.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  rd_kafka_queue_t* q = rd_kafka_queue_new(*rk);
  rd_kafka_DeleteTopics(*rk, dts.data(), dts.size(), nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, impl_->timeout_ms + 1000);
  Status s = Status::ok();
  if (!ev) {
    s = Status::unavailable("deleting topics on " + describe() + ": no answer");
  } else if (rd_kafka_event_error(ev)) {
    s = status_of(rd_kafka_event_error(ev), "deleting topics on " + describe());
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        s = status_of(e, std::string("deleting topic ") + rd_kafka_topic_result_name(results[i]));
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  for (auto* d : dts) rd_kafka_DeleteTopic_destroy(d);
  return s;
}

Result<int32_t> KafkaLog::partition_count(std::string_view topic) {
  const auto now = Clock::now();
  auto it = impl_->partition_counts.find(std::string(topic));
  if (it != impl_->partition_counts.end() && now - it->second.second < std::chrono::seconds(30)) {
    return it->second.first;
  }
  auto n = impl_->partitions_of(topic);
  if (n) impl_->partition_counts[std::string(topic)] = {*n, now};
  return n;
}

Result<std::vector<std::string>> KafkaLog::list_topics() {
  auto rk = impl_->query_handle();
  if (!rk) return rk.status();
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(*rk, 1, nullptr, &md, impl_->timeout_ms);
  if (err) return status_of(err, "listing the topics of " + describe());
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const std::string name = md->topics[i].topic;
    if (!name.empty() && name[0] == '_') continue;  // internal topics (__consumer_offsets)
    out.push_back(name);
  }
  rd_kafka_metadata_destroy(md);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Appended>> KafkaLog::produce(std::string_view topic,
                                                std::span<const OutgoingRecord> records) {
  auto rk = impl_->producer_handle();
  if (!rk) return rk.status();
  const std::string name(topic);
  std::vector<Delivery> deliveries(records.size());
  static const char kEmpty[1] = {0};
  for (size_t i = 0; i < records.size(); ++i) {
    const OutgoingRecord& r = records[i];
    rd_kafka_headers_t* headers = nullptr;
    if (!r.headers.empty()) {
      headers = rd_kafka_headers_new(r.headers.size());
      for (const auto& h : r.headers) {
        rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value ? (h.value->empty() ? kEmpty : h.value->data()) : nullptr,
                            h.value ? static_cast<ssize_t>(h.value->size()) : 0);
      }
    }
    // A null key and an empty key differ on the wire: an empty one is a non-null pointer of
    // length zero.
    const void* key = r.key ? (r.key->empty() ? kEmpty : r.key->data()) : nullptr;
    const void* value = r.value ? (r.value->empty() ? kEmpty : r.value->data()) : nullptr;
    const size_t key_len = r.key ? r.key->size() : 0;
    const size_t value_len = r.value ? r.value->size() : 0;
    const int32_t target = r.partition == kAnyPartition ? RD_KAFKA_PARTITION_UA : r.partition;
    while (true) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          *rk, RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(target),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(const_cast<void*>(key), key_len),
          RD_KAFKA_V_VALUE(const_cast<void*>(value), value_len),
          RD_KAFKA_V_TIMESTAMP(r.timestamp_ms), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_OPAQUE(&deliveries[i]), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(*rk, 10);
        continue;
      }
      if (err) {
        if (headers) rd_kafka_headers_destroy(headers);
        // Earlier records of this call may be in flight: let them finish before reporting.
        rd_kafka_flush(*rk, impl_->timeout_ms);
        return status_of(err, "producing to " + name + " on " + describe());
      }
      break;
    }
  }
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(*rk, impl_->timeout_ms * 2);
  std::vector<Appended> out;
  out.reserve(records.size());
  for (size_t i = 0; i < deliveries.size(); ++i) {
    const Delivery& d = deliveries[i];
    if (!d.done) {
      return status_of(
          flushed ? flushed : RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
          "producing record " + std::to_string(i) + " to " + name + " on " + describe());
    }
    if (d.err)
      return status_of(
          d.err, "producing record " + std::to_string(i) + " to " + name + " on " + describe());
    out.push_back({d.partition, d.offset});
  }
  return out;
}

Result<OffsetRange> KafkaLog::offsets(std::string_view topic, int32_t partition) {
  auto rk = impl_->query_handle();
  if (!rk) return rk.status();
  int64_t low = 0, high = 0;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      *rk, std::string(topic).c_str(), partition, &low, &high, impl_->timeout_ms);
  if (err)
    return status_of(
        err, "reading the offsets of " + partition_name(topic, partition) + " on " + describe());
  return OffsetRange{low, high};
}

Result<std::vector<PartitionOffset>> KafkaLog::end_offsets(std::string_view topic) {
  auto n = partition_count(topic);
  if (!n) return n.status();
  auto rk = impl_->query_handle();
  if (!rk) return rk.status();
  // ListOffsets with the timestamp -1 ("latest") for every partition, in one request.
  PartitionList list(rd_kafka_topic_partition_list_new(*n));
  for (int32_t p = 0; p < *n; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), std::string(topic).c_str(), p)->offset =
        RD_KAFKA_OFFSET_END;
  }
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(*rk, list.get(), impl_->timeout_ms);
  for (int i = 0; !err && i < list->cnt; ++i) err = list->elems[i].err;
  if (err)
    return status_of(err, "reading the end offsets of " + std::string(topic) + " on " + describe());
  std::vector<PartitionOffset> out;
  for (int i = 0; i < list->cnt; ++i)
    out.push_back({list->elems[i].partition, list->elems[i].offset});
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  return out;
}

Result<FetchResult> KafkaLog::fetch(std::string_view topic, int32_t partition, int64_t offset,
                                    const FetchLimits& limits) {
  FetchResult result;
  result.next_offset = offset;
  int64_t stop = limits.end_offset;
  if (limits.end_offset == std::numeric_limits<int64_t>::max() || offset > limits.end_offset) {
    // An unbounded fetch reads up to the end as it is now (and checks the offset against the
    // partition's range); a bounded one trusts the caller's plan, made from offsets().
    auto range = offsets(topic, partition);
    if (!range) return range.status();
    if (offset < range->earliest || offset > range->end) {
      return Status::out_of_range("offset " + std::to_string(offset) + " is outside " +
                                  partition_name(topic, partition) + " [" +
                                  std::to_string(range->earliest) + ", " +
                                  std::to_string(range->end) + "] on " + describe());
    }
    result.end_offset = range->end;
    stop = std::min(limits.end_offset, range->end);
  } else {
    // The caller planned [offset, end_offset) from offsets() it read: those records exist.
    result.end_offset = limits.end_offset;
  }
  if (offset >= stop || limits.max_records <= 0) return result;

  auto rk = impl_->reader_handle();
  if (!rk) return rk.status();
  Impl& im = *impl_;
  if (im.assigned_topic != topic || im.assigned_partition != partition || im.position != offset) {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), std::string(topic).c_str(), partition)->offset =
        offset;
    if (const rd_kafka_resp_err_t err = rd_kafka_assign(*rk, list.get())) {
      im.assigned_partition = -1;
      return status_of(err,
                       "assigning " + record_name(topic, partition, offset) + " on " + describe());
    }
    im.assigned_topic = std::string(topic);
    im.assigned_partition = partition;
  }
  im.position = -1;  // unknown until this fetch completes

  auto owner = std::make_shared<FetchedMessages>();
  int64_t bytes = 0;
  int64_t next = offset;
  const auto deadline = Clock::now() + std::chrono::milliseconds(im.timeout_ms);
  while (next < stop && static_cast<int64_t>(owner->messages.size()) < limits.max_records &&
         (owner->messages.empty() || bytes < limits.max_bytes)) {
    if (Clock::now() > deadline) {
      im.assigned_partition = -1;
      return Status::unavailable("reading " + record_name(topic, partition, next) + " on " +
                                 describe() + ": no records within " +
                                 std::to_string(im.timeout_ms) + " ms");
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(*rk, 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const bool ours = m->rkt && topic == rd_kafka_topic_name(m->rkt) && m->partition == partition;
      rd_kafka_message_destroy(m);
      if (ours && next >= stop) break;
      continue;
    }
    if (m->err) {
      const Status s =
          status_of(m->err, "reading " + record_name(topic, partition, next) + " on " + describe());
      rd_kafka_message_destroy(m);
      im.assigned_partition = -1;
      return s;
    }
    if (m->partition != partition || topic != rd_kafka_topic_name(m->rkt) || m->offset < next) {
      rd_kafka_message_destroy(m);  // left over from an earlier assignment
      continue;
    }
    if (m->offset >= stop) {  // past what this fetch may return (a gap in offsets)
      rd_kafka_message_destroy(m);
      im.assigned_partition = -1;
      break;
    }
    bytes += static_cast<int64_t>(m->len + m->key_len);
    next = m->offset + 1;
    owner->messages.push_back(m);
  }
  owner->headers.resize(owner->messages.size());
  result.records.reserve(owner->messages.size());
  for (size_t i = 0; i < owner->messages.size(); ++i) {
    rd_kafka_message_t* m = owner->messages[i];
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
      const char* name = nullptr;
      const void* val = nullptr;
      size_t size = 0;
      for (size_t h = 0;
           rd_kafka_header_get_all(hdrs, h, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++h) {
        owner->headers[i].push_back(
            {std::string_view(name), val ? std::optional<std::string_view>(std::string_view(
                                               static_cast<const char*>(val), size))
                                         : std::nullopt});
      }
    }
    rd_kafka_timestamp_type_t type;
    RecordView r;
    r.partition = m->partition;
    r.offset = m->offset;
    r.timestamp_ms = rd_kafka_message_timestamp(m, &type);
    if (m->key) r.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) r.value = std::string_view(static_cast<const char*>(m->payload), m->len);
    r.headers = owner->headers[i];
    result.records.push_back(r);
  }
  result.next_offset = next;
  if (im.assigned_partition == partition) im.position = next;
  result.owner = std::move(owner);
  return result;
}

Result<int64_t> KafkaLog::offset_for_time(std::string_view topic, int32_t partition,
                                          int64_t timestamp_ms) {
  auto rk = impl_->query_handle();
  if (!rk) return rk.status();
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), std::string(topic).c_str(), partition)->offset =
      timestamp_ms;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(*rk, list.get(), impl_->timeout_ms);
  if (!err) err = list->elems[0].err;
  if (err)
    return status_of(
        err, "looking up time in " + partition_name(topic, partition) + " on " + describe());
  if (list->elems[0].offset >= 0) return list->elems[0].offset;
  auto range = offsets(topic, partition);
  if (!range) return range.status();
  return range->end;
}

Status KafkaLog::commit_offsets(std::string_view group, std::string_view topic,
                                std::span<const PartitionOffset> offsets) {
  auto rk = impl_->group_handle(group);
  if (!rk) return rk.status();
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& o : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), std::string(topic).c_str(), o.partition)->offset =
        o.offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(*rk, list.get(), 0);
  for (int i = 0; !err && i < list->cnt; ++i) err = list->elems[i].err;
  if (err)
    return status_of(err,
                     "committing offsets of group " + std::string(group) + " on " + describe());
  return Status::ok();
}

Result<std::vector<PartitionOffset>> KafkaLog::committed_offsets(std::string_view group,
                                                                 std::string_view topic) {
  auto n = partition_count(topic);
  if (!n) return n.status();
  auto rk = impl_->group_handle(group);
  if (!rk) return rk.status();
  PartitionList list(rd_kafka_topic_partition_list_new(*n));
  for (int32_t p = 0; p < *n; ++p)
    rd_kafka_topic_partition_list_add(list.get(), std::string(topic).c_str(), p);
  const rd_kafka_resp_err_t err = rd_kafka_committed(*rk, list.get(), impl_->timeout_ms);
  if (err)
    return status_of(err, "reading offsets of group " + std::string(group) + " on " + describe());
  std::vector<PartitionOffset> out;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err)
      return status_of(list->elems[i].err, "reading offsets of group " + std::string(group));
    if (list->elems[i].offset >= 0)
      out.push_back({list->elems[i].partition, list->elems[i].offset});
  }
  return out;
}

namespace {

// A consumer in a group that only tracks its assignment (partitions are paused: nothing is
// fetched through it) and commits offsets as a member.
// What the rebalance callback updates (the conf's opaque, set before the handle exists).
struct Assignment {
  std::vector<int32_t> owned;
};

class KafkaGroupMember final : public GroupMembership {
 public:
  KafkaGroupMember(std::unique_ptr<Assignment> assignment, Handle rk, std::string group,
                   std::string topic, std::string where, int timeout_ms)
      : assignment_(std::move(assignment)),
        rk_(std::move(rk)),
        group_(std::move(group)),
        topic_(std::move(topic)),
        where_(std::move(where)),
        timeout_ms_(timeout_ms) {
    rd_kafka_poll_set_consumer(rk_.get());
  }
  ~KafkaGroupMember() override {
    rd_kafka_consumer_close(rk_.get());  // leaves the group at once, so its partitions move now
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto* a = static_cast<Assignment*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      rd_kafka_assign(rk, parts);
      rd_kafka_pause_partitions(rk, parts);
      a->owned.clear();
      for (int i = 0; i < parts->cnt; ++i) a->owned.push_back(parts->elems[i].partition);
      std::sort(a->owned.begin(), a->owned.end());
    } else {
      rd_kafka_assign(rk, nullptr);
      a->owned.clear();
    }
  }

  Result<std::vector<int32_t>> owned() override {
    // Serve callbacks; nothing is fetched (paused), but drop anything that arrives anyway.
    for (int i = 0; i < 4; ++i) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), i == 0 ? 10 : 0);
      if (!m) break;
      rd_kafka_message_destroy(m);
    }
    return assignment_->owned;
  }

  Result<std::vector<PartitionOffset>> committed() override {
    const std::vector<int32_t>& owned = assignment_->owned;
    std::vector<PartitionOffset> out;
    if (owned.empty()) return out;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(owned.size())));
    for (int32_t p : owned) rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p);
    const rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), list.get(), timeout_ms_);
    if (err) return status_of(err, "reading the offsets of group " + group_ + " on " + where_);
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].offset >= 0)
        out.push_back({list->elems[i].partition, list->elems[i].offset});
    }
    return out;
  }

  Status commit(std::span<const PartitionOffset> offsets) override {
    if (offsets.empty()) return Status::ok();
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& o : offsets)
      rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), o.partition)->offset = o.offset;
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), 0);
    for (int i = 0; !err && i < list->cnt; ++i) err = list->elems[i].err;
    if (err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
        err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS) {
      return Status::failed_precondition("group " + group_ +
                                         " rebalanced; the commit was refused: " + err_text(err));
    }
    if (err) return status_of(err, "committing offsets of group " + group_ + " on " + where_);
    return Status::ok();
  }

  std::string describe() const override { return "group " + group_ + " on " + where_; }

 private:
  std::unique_ptr<Assignment> assignment_;  // outlives rk_ (declared first, destroyed last)
  Handle rk_;
  std::string group_, topic_, where_;
  int timeout_ms_;
};

}  // namespace

Result<std::unique_ptr<GroupMembership>> KafkaLog::join_group(std::string_view group,
                                                              std::string_view topic) {
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  char err[512];
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", impl_->url.hosts},
      {"client.id", "kappa"},
      {"log_level", "3"},
      {"group.id", std::string(group)},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"allow.auto.create.topics", "false"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"},
  };
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::invalid_argument("kafka setting " + k + ": " + err);
    }
  }
  auto assignment = std::make_unique<Assignment>();
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaGroupMember::on_rebalance);
  rd_kafka_conf_set_opaque(conf.get(), assignment.get());
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!rk) return Status::internal("cannot create a Kafka consumer for " + describe() + ": " + err);
  conf.release();
  auto member =
      std::make_unique<KafkaGroupMember>(std::move(assignment), Handle(rk), std::string(group),
                                         std::string(topic), describe(), impl_->timeout_ms);
  PartitionList sub(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(sub.get(), std::string(topic).c_str(), RD_KAFKA_PARTITION_UA);
  if (const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub.get())) {
    return status_of(e, "joining group " + std::string(group) + " on " + describe());
  }
  return std::unique_ptr<GroupMembership>(std::move(member));
}

}  // namespace kappa
