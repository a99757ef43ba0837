#include "broker/server/transaction_coordinator.h"

#include <algorithm>

#include "broker/protocol/error_codes.h"
#include "broker/protocol/record_batch.h"

namespace kappa {

namespace err = kafka_error;
using State = TransactionCoordinator::State;

namespace {

constexpr uint8_t kEncodingVersion = 0;
constexpr int32_t kCoordinatorEpoch = 0;  // one coordinator that never moves

void put(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_string(std::string& out, std::string_view s) {
  put(out, s.size(), 4);
  out.append(s);
}

class Bytes {
 public:
  explicit Bytes(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == in_.size(); }
  uint64_t get(int bytes) {
    if (!need(static_cast<size_t>(bytes))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in_[at_++]);
    return v;
  }
  std::string string() {
    const auto n = static_cast<size_t>(get(4));
    if (!need(n)) return {};
    std::string s(in_.substr(at_, n));
    at_ += n;
    return s;
  }
  // A count of items each at least `min_bytes` long: no more than the bytes left can hold.
  size_t count(size_t min_bytes) {
    const auto n = static_cast<size_t>(get(4));
    if (ok_ && n > (in_.size() - at_) / min_bytes) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  bool need(size_t n) {
    if (ok_ && in_.size() - at_ >= n) return true;
    ok_ = false;
    return false;
  }
  std::string_view in_;
  size_t at_ = 0;
  bool ok_ = true;
};

bool is_prepare(State s) { return s == State::kPrepareCommit || s == State::kPrepareAbort; }

}  // namespace

std::string TransactionCoordinator::encode(const Transaction& t) {
  std::string out;
  put(out, kEncodingVersion, 1);
  put(out, static_cast<uint64_t>(t.producer_id), 8);
  put(out, static_cast<uint16_t>(t.epoch), 2);
  put(out, static_cast<uint32_t>(t.timeout_ms), 4);
  put(out, static_cast<uint8_t>(t.state), 1);
  put(out, t.partitions.size(), 4);
  for (const auto& [topic, partition] : t.partitions) {
    put_string(out, topic);
    put(out, static_cast<uint32_t>(partition), 4);
  }
  put(out, t.groups.size(), 4);
  for (const std::string& g : t.groups) put_string(out, g);
  put(out, t.pending.size(), 4);
  for (const auto& [key, o] : t.pending) {
    put_string(out, std::get<0>(key));
    put_string(out, std::get<1>(key));
    put(out, static_cast<uint32_t>(std::get<2>(key)), 4);
    put(out, static_cast<uint64_t>(o.offset), 8);
    put_string(out, o.metadata);
  }
  return out;
}

std::optional<TransactionCoordinator::Transaction> TransactionCoordinator::decode(
    std::string_view bytes) {
  Bytes in(bytes);
  Transaction t;
  if (in.get(1) != kEncodingVersion) return std::nullopt;
  t.producer_id = static_cast<int64_t>(in.get(8));
  t.epoch = static_cast<int16_t>(in.get(2));
  t.timeout_ms = static_cast<int32_t>(in.get(4));
  const auto state = in.get(1);
  if (state > static_cast<uint8_t>(State::kCompleteAbort)) return std::nullopt;
  t.state = static_cast<State>(state);
  for (size_t n = in.count(8); n > 0 && in.ok(); --n) {
    std::string topic = in.string();
    const auto partition = static_cast<int32_t>(in.get(4));
    t.partitions.emplace(std::move(topic), partition);
  }
  for (size_t n = in.count(4); n > 0 && in.ok(); --n) t.groups.insert(in.string());
  for (size_t n = in.count(24); n > 0 && in.ok(); --n) {
    std::string group = in.string();
    std::string topic = in.string();
    GroupOffset o;
    o.partition = static_cast<int32_t>(in.get(4));
    o.offset = static_cast<int64_t>(in.get(8));
    o.metadata = in.string();
    t.pending[OffsetKey{std::move(group), std::move(topic), o.partition}] = std::move(o);
  }
  if (!in.done()) return std::nullopt;
  return t;
}

TransactionCoordinator::TransactionCoordinator(BatchLog& log, Options options,
                                               std::function<int64_t()> next_producer_id)
    : log_(log), options_(std::move(options)), next_producer_id_(std::move(next_producer_id)) {}

Status TransactionCoordinator::load(int64_t now_ms) {
  auto states = log_.transaction_states();
  if (!states) return states.status();
  std::vector<std::string> unfinished;
  for (auto& [id, bytes] : *states) {
    auto t = decode(bytes);
    if (!t) {
      if (options_.log) options_.log("transactional id '" + id + "': state not readable, skipped");
      continue;
    }
    t->started_ms = now_ms;
    t->updated_ms = now_ms;
    max_producer_id_ = std::max(max_producer_id_, t->producer_id);
    if (is_prepare(t->state)) unfinished.push_back(id);
    transactions_[id] = std::move(*t);
  }
  for (const std::string& id : unfinished) (void)finish(id, now_ms);
  return Status::ok();
}

const TransactionCoordinator::Transaction* TransactionCoordinator::find(
    const std::string& transactional_id) const {
  auto it = transactions_.find(transactional_id);
  return it == transactions_.end() ? nullptr : &it->second;
}

int16_t TransactionCoordinator::store(const std::string& id, const Transaction& t) {
  if (Status s = log_.put_transaction_state(id, encode(t)); !s.is_ok()) {
    if (options_.log) options_.log("transactional id '" + id + "': " + s.message());
    return err::kCoordinatorNotAvailable;
  }
  transactions_[id] = t;
  return err::kNone;
}

int16_t TransactionCoordinator::check_producer(const Transaction* t, int64_t producer_id,
                                               int16_t epoch, int16_t version,
                                               int16_t fenced_from_version) const {
  if (t == nullptr || t->producer_id != producer_id) return err::kInvalidProducerIdMapping;
  if (epoch != t->epoch) {
    return version >= fenced_from_version ? err::kProducerFenced : err::kInvalidProducerEpoch;
  }
  return err::kNone;
}

int16_t TransactionCoordinator::bump_epoch(Transaction& t) {
  // Kafka allocates a new producer id when the epoch would reach its last value.
  if (t.epoch >= INT16_MAX - 1 || t.producer_id < 0) {
    t.producer_id = next_producer_id_();
    max_producer_id_ = std::max(max_producer_id_, t.producer_id);
    t.epoch = 0;
  } else {
    ++t.epoch;
  }
  return err::kNone;
}

TransactionCoordinator::Init TransactionCoordinator::init_producer_id(
    const std::string& id, int32_t timeout_ms, int64_t producer_id, int16_t epoch, int16_t version,
    int64_t now_ms) {
  Init out;
  const int16_t fenced = version >= 4 ? err::kProducerFenced : err::kInvalidProducerEpoch;
  if (timeout_ms <= 0 || timeout_ms > options_.max_timeout_ms) {
    out.error = err::kInvalidTransactionTimeout;
    return out;
  }
  auto it = transactions_.find(id);
  if (it == transactions_.end()) {
    if (transactions_.size() >= static_cast<size_t>(options_.max_transactional_ids)) {
      tick(now_ms);  // idle ids may have expired
      if (transactions_.size() >= static_cast<size_t>(options_.max_transactional_ids)) {
        if (options_.log) {
          options_.log("InitProducerId for transactional id '" + id +
                       "' refused: " + std::to_string(options_.max_transactional_ids) +
                       " transactional ids are known (the limit)");
        }
        out.error = err::kPolicyViolation;
        return out;
      }
    }
    Transaction t;
    bump_epoch(t);  // a new producer id, epoch 0
    t.timeout_ms = timeout_ms;
    t.started_ms = t.updated_ms = now_ms;
    out.error = store(id, t);
    if (out.error == err::kNone) {
      out.producer_id = t.producer_id;
      out.epoch = t.epoch;
    }
    return out;
  }
  if (producer_id >= 0 && (producer_id != it->second.producer_id || epoch != it->second.epoch)) {
    out.error = fenced;
    return out;
  }
  if (is_prepare(it->second.state) && !finish(id, now_ms)) {
    out.error = err::kConcurrentTransactions;
    return out;
  }
  Transaction t = it->second;
  bump_epoch(t);
  t.timeout_ms = timeout_ms;
  t.updated_ms = now_ms;
  if (t.state == State::kOngoing) {
    // The previous instance's transaction is aborted under the new epoch, which fences it.
    out.error = end(id, t, false, now_ms);
    if (out.error != err::kNone) return out;
    if (!finish(id, now_ms)) {
      out.error = err::kConcurrentTransactions;
      return out;
    }
    t = transactions_[id];
  } else {
    t.state = State::kEmpty;
    out.error = store(id, t);
    if (out.error != err::kNone) return out;
  }
  out.producer_id = t.producer_id;
  out.epoch = t.epoch;
  return out;
}

std::vector<int16_t> TransactionCoordinator::add_partitions(
    const std::string& id, int64_t producer_id, int16_t epoch,
    const std::vector<Partition>& partitions, int16_t version, int64_t now_ms) {
  auto fail_all = [&](int16_t code) { return std::vector<int16_t>(partitions.size(), code); };
  auto it = transactions_.find(id);
  const Transaction* t = it == transactions_.end() ? nullptr : &it->second;
  if (int16_t e = check_producer(t, producer_id, epoch, version, 2); e != err::kNone) {
    return fail_all(e);
  }
  if (is_prepare(t->state)) return fail_all(err::kConcurrentTransactions);
  // A partition that does not exist fails alone; the others are not attempted.
  std::vector<int16_t> errors(partitions.size(), err::kNone);
  bool bad = false;
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& [topic, partition] = partitions[i];
    auto count = log_.partition_count(topic);
    if (!count || partition < 0 || partition >= *count) {
      errors[i] = err::kUnknownTopicOrPartition;
      bad = true;
    }
  }
  if (bad) {
    for (int16_t& e : errors) {
      if (e == err::kNone) e = err::kOperationNotAttempted;
    }
    return errors;
  }
  Transaction next = *t;
  if (next.state != State::kOngoing) {
    next.partitions.clear();
    next.groups.clear();
    next.pending.clear();
    next.started_ms = now_ms;
  }
  next.state = State::kOngoing;
  next.updated_ms = now_ms;
  const size_t before = next.partitions.size();
  for (const Partition& p : partitions) next.partitions.insert(p);
  if (next.partitions.size() > static_cast<size_t>(options_.max_partitions_per_transaction)) {
    if (options_.log) {
      options_.log("AddPartitionsToTxn of transactional id '" + id + "' refused: over " +
                   std::to_string(options_.max_partitions_per_transaction) +
                   " partitions in one transaction");
    }
    return fail_all(err::kPolicyViolation);
  }
  if (next.partitions.size() == before && t->state == State::kOngoing) return errors;
  return fail_all(store(id, next));
}

int16_t TransactionCoordinator::add_offsets(const std::string& id, int64_t producer_id,
                                            int16_t epoch, const std::string& group,
                                            int16_t version, int64_t now_ms) {
  auto it = transactions_.find(id);
  const Transaction* t = it == transactions_.end() ? nullptr : &it->second;
  if (int16_t e = check_producer(t, producer_id, epoch, version, 2); e != err::kNone) return e;
  if (is_prepare(t->state)) return err::kConcurrentTransactions;
  if (group.empty()) return err::kInvalidGroupId;
  Transaction next = *t;
  if (next.state != State::kOngoing) {
    next.partitions.clear();
    next.groups.clear();
    next.pending.clear();
    next.started_ms = now_ms;
  }
  next.state = State::kOngoing;
  next.updated_ms = now_ms;
  next.groups.insert(group);
  if (next.groups.size() > static_cast<size_t>(options_.max_groups_per_transaction)) {
    if (options_.log) {
      options_.log("AddOffsetsToTxn of transactional id '" + id + "' refused: over " +
                   std::to_string(options_.max_groups_per_transaction) +
                   " groups in one transaction");
    }
    return err::kPolicyViolation;
  }
  if (t->state == State::kOngoing && t->groups.count(group) != 0) return err::kNone;
  return store(id, next);
}

int16_t TransactionCoordinator::check_offsets(const std::string& id, int64_t producer_id,
                                              int16_t epoch, const std::string& group) {
  auto it = transactions_.find(id);
  const Transaction* t = it == transactions_.end() ? nullptr : &it->second;
  if (t == nullptr || t->producer_id != producer_id) return err::kInvalidProducerIdMapping;
  if (epoch != t->epoch) return err::kInvalidProducerEpoch;
  if (t->state != State::kOngoing || t->groups.count(group) == 0) return err::kInvalidTxnState;
  return err::kNone;
}

bool TransactionCoordinator::keep_offset(const std::string& id, const std::string& group,
                                         const std::string& topic, const GroupOffset& offset) {
  Transaction& t = transactions_[id];
  const OffsetKey key{group, topic, offset.partition};
  if (t.pending.count(key) == 0 &&
      t.pending.size() >= static_cast<size_t>(options_.max_pending_offsets_per_transaction)) {
    return false;
  }
  t.pending[key] = offset;
  return true;
}

int16_t TransactionCoordinator::end_transaction(const std::string& id, int64_t producer_id,
                                                int16_t epoch, bool commit, int16_t version,
                                                int64_t now_ms) {
  auto it = transactions_.find(id);
  const Transaction* t = it == transactions_.end() ? nullptr : &it->second;
  if (int16_t e = check_producer(t, producer_id, epoch, version, 2); e != err::kNone) return e;
  switch (t->state) {
    case State::kOngoing:
      break;
    case State::kCompleteCommit:  // a retry of what is done: done
      return commit ? err::kNone : err::kInvalidTxnState;
    case State::kCompleteAbort:
      return commit ? err::kInvalidTxnState : err::kNone;
    case State::kPrepareCommit:
      return commit ? err::kConcurrentTransactions : err::kInvalidTxnState;
    case State::kPrepareAbort:
      return commit ? err::kInvalidTxnState : err::kConcurrentTransactions;
    case State::kEmpty:
      return err::kInvalidTxnState;
  }
  Transaction next = *t;
  next.updated_ms = now_ms;
  const int16_t e = end(id, std::move(next), commit, now_ms);
  if (e == err::kNone) (void)finish(id, now_ms);
  return e;
}

int16_t TransactionCoordinator::end(const std::string& id, Transaction t, bool commit,
                                    int64_t now_ms) {
  t.state = commit ? State::kPrepareCommit : State::kPrepareAbort;
  if (!commit) t.pending.clear();
  t.updated_ms = now_ms;
  return store(id, t);
}

bool TransactionCoordinator::finish(const std::string& id, int64_t now_ms) {
  auto it = transactions_.find(id);
  if (it == transactions_.end() || !is_prepare(it->second.state)) return true;
  Transaction t = it->second;
  const bool commit = t.state == State::kPrepareCommit;
  const int64_t wall = options_.wall_clock_ms ? options_.wall_clock_ms() : 0;
  for (const auto& [topic, partition] : t.partitions) {
    const std::string marker =
        encode_transaction_marker(t.producer_id, t.epoch, commit, kCoordinatorEpoch, wall);
    auto appended = log_.append_batch(topic, partition, marker);
    if (!appended && appended.status().code() == StatusCode::kNotFound) continue;  // deleted
    Status s = appended ? log_.sync(topic, partition) : appended.status();
    if (!s.is_ok()) {
      if (options_.log) {
        options_.log("transactional id '" + id + "': the " + (commit ? "commit" : "abort") +
                     " marker for " + partition_name(topic, partition) +
                     " is not written yet (retried): " + s.message());
      }
      return false;
    }
  }
  if (commit) {
    // One commit per (group, topic), as an OffsetCommit would make it.
    std::map<std::pair<std::string, std::string>, std::vector<GroupOffset>> by_topic;
    for (const auto& [key, o] : t.pending) {
      by_topic[{std::get<0>(key), std::get<1>(key)}].push_back(o);
    }
    for (const auto& [gt, offsets] : by_topic) {
      if (Status s = log_.commit_group_offsets(gt.first, gt.second, offsets); !s.is_ok()) {
        if (options_.log) {
          options_.log("transactional id '" + id + "': offsets of group '" + gt.first +
                       "' not committed yet (retried): " + s.message());
        }
        return false;
      }
    }
  }
  t.state = commit ? State::kCompleteCommit : State::kCompleteAbort;
  t.partitions.clear();
  t.groups.clear();
  t.pending.clear();
  t.updated_ms = now_ms;
  return store(id, t) == err::kNone;
}

int16_t TransactionCoordinator::check_produce(const std::string& id, int64_t producer_id,
                                              int16_t epoch, const std::string& topic,
                                              int32_t partition) const {
  const Transaction* t = find(id);
  if (t == nullptr || t->producer_id != producer_id) return err::kInvalidProducerIdMapping;
  if (epoch < t->epoch) return err::kInvalidProducerEpoch;
  if (epoch > t->epoch) return err::kInvalidProducerEpoch;
  if (t->state != State::kOngoing || t->partitions.count(Partition{topic, partition}) == 0) {
    return err::kInvalidTxnState;
  }
  return err::kNone;
}

void TransactionCoordinator::tick(int64_t now_ms) {
  std::vector<std::string> expired, timed_out, unfinished;
  for (const auto& [id, t] : transactions_) {
    if (t.state == State::kOngoing && now_ms - t.started_ms > t.timeout_ms) {
      timed_out.push_back(id);
    } else if (is_prepare(t.state)) {
      unfinished.push_back(id);
    } else if (t.state != State::kOngoing &&
               now_ms - t.updated_ms > options_.transactional_id_expiration_ms) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : timed_out) {
    Transaction t = transactions_[id];
    if (options_.log) {
      options_.log("transactional id '" + id + "': transaction of producer " +
                   std::to_string(t.producer_id) + " epoch " + std::to_string(t.epoch) +
                   " timed out after " + std::to_string(t.timeout_ms) + " ms; aborting it");
    }
    bump_epoch(t);  // fences the producer that let it time out
    if (end(id, std::move(t), false, now_ms) == err::kNone) (void)finish(id, now_ms);
  }
  for (const std::string& id : unfinished) (void)finish(id, now_ms);
  for (const std::string& id : expired) {
    if (log_.put_transaction_state(id, "").is_ok()) transactions_.erase(id);
  }
}

std::optional<int64_t> TransactionCoordinator::next_deadline() const {
  std::optional<int64_t> next;
  for (const auto& [id, t] : transactions_) {
    if (t.state != State::kOngoing) continue;
    const int64_t due = t.started_ms + t.timeout_ms + 1;
    if (!next || due < *next) next = due;
  }
  return next;
}

bool TransactionCoordinator::has_pending_offset(std::string_view group, std::string_view topic,
                                                int32_t partition) const {
  const OffsetKey key{std::string(group), std::string(topic), partition};
  return std::any_of(transactions_.begin(), transactions_.end(),
                     [&](const auto& t) { return t.second.pending.count(key) != 0; });
}

}  // namespace kappa
