// TransactionCoordinator: Apache Kafka's transaction coordinator for a one-broker cluster (this
// broker is the coordinator of every transactional id), over a BatchLog. It answers
// InitProducerId for a transactional id, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit
// and EndTxn, checks transactional produces, writes the commit and abort markers, and aborts
// transactions that outlive their timeout.
//
// Per transactional id it keeps Kafka's TransactionMetadata: the producer id and epoch, the
// timeout, the state (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
// CompleteAbort), the partitions and groups of the ongoing transaction, and the offsets its
// TxnOffsetCommits left pending. Every change of that state but a pending offset is written to
// the log (BatchLog::put_transaction_state) before the request is answered, in this encoding,
// big-endian, a string being length uint32 + bytes:
//
//   version uint8 = 0 | producer id int64 | epoch int16 | timeout ms int32 | state uint8 |
//   partitions uint32 x (topic string | partition int32) | groups uint32 x group string |
//   offsets uint32 x (group string | topic string | partition int32 | offset int64 |
//   metadata string)
//
// Ending a transaction: the Prepare state is written (with the pending offsets), then a marker
// (record_batch.h: encode_transaction_marker, coordinator epoch 0) goes to every partition of
// the transaction and is synced, the pending offsets are committed on commit, and the Complete
// state is written. A broker stopped anywhere in between finds the Prepare state at its next
// start and finishes the same way (a marker written twice is harmless: the second finds no
// open transaction). A transaction Ongoing at a restart stays open in its partitions until its
// producer's next InitProducerId or its timeout aborts it, as in Kafka. Pending offsets of an
// Ongoing transaction are not durable: it can only end in an abort after a restart.
//
// Fencing: InitProducerId bumps the epoch (a new producer id when the epoch is exhausted), and
// aborts an ongoing transaction first, its markers carrying the new epoch; requests of an older
// epoch get PRODUCER_FENCED (INVALID_PRODUCER_EPOCH in the versions before that code), their
// produces INVALID_PRODUCER_EPOCH. A timed-out transaction is aborted with a bumped epoch, so
// its producer is fenced too.
//
// REQUIRES: external synchronization (the Kafka server's one I/O thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "broker/protocol/batch_log.h"

namespace kappa {

class TransactionCoordinator {
 public:
  struct Options {
    int32_t max_timeout_ms = 900000;                     // Kafka's transaction.max.timeout.ms
    int64_t transactional_id_expiration_ms = 604800000;  // transactional.id.expiration.ms
    // Bounds on what requests can make the coordinator hold.
    int32_t max_transactional_ids = 100000;
    int32_t max_partitions_per_transaction = 10000;
    int32_t max_groups_per_transaction = 100;
    int32_t max_pending_offsets_per_transaction = 100000;
    // The wall clock, for the markers' timestamps.
    std::function<int64_t()> wall_clock_ms;
    // Lines for the broker's log (a marker that could not be written, a state not loaded).
    std::function<void(const std::string&)> log;
  };

  enum class State : uint8_t {
    kEmpty = 0,
    kOngoing = 1,
    kPrepareCommit = 2,
    kPrepareAbort = 3,
    kCompleteCommit = 4,
    kCompleteAbort = 5,
  };
  using Partition = std::pair<std::string, int32_t>;
  using OffsetKey = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
  struct Transaction {
    int64_t producer_id = -1;
    int16_t epoch = 0;
    int32_t timeout_ms = 60000;
    State state = State::kEmpty;
    std::set<Partition> partitions;
    std::set<std::string> groups;
    std::map<OffsetKey, GroupOffset> pending;  // GroupOffset::partition repeats the key's
    int64_t started_ms = 0;  // when it became Ongoing (its timeout counts from there)
    int64_t updated_ms = 0;  // the last request for it (its id expires from there)
  };

  // `next_producer_id` hands out producer ids (the broker's, shared with idempotent producers).
  TransactionCoordinator(BatchLog& log, Options options, std::function<int64_t()> next_producer_id);

  // Loads the state the log holds and finishes the transactions a stop left in a Prepare
  // state. Producer ids handed out afterwards are above every loaded one.
  Status load(int64_t now_ms);
  int64_t max_producer_id() const { return max_producer_id_; }

  struct Init {
    int16_t error = 0;
    int64_t producer_id = -1;
    int16_t epoch = -1;
  };
  Init init_producer_id(const std::string& transactional_id, int32_t timeout_ms,
                        int64_t producer_id, int16_t epoch, int16_t version, int64_t now_ms);
  // One error per partition, in the order given.
  std::vector<int16_t> add_partitions(const std::string& transactional_id, int64_t producer_id,
                                      int16_t epoch, const std::vector<Partition>& partitions,
                                      int16_t version, int64_t now_ms);
  int16_t add_offsets(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                      const std::string& group, int16_t version, int64_t now_ms);
  // Checks a TxnOffsetCommit of the group (its error, NONE if the offsets may be kept), then
  // keep_offset() keeps each partition's offset pending (false: over the limit).
  int16_t check_offsets(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                        const std::string& group);
  bool keep_offset(const std::string& transactional_id, const std::string& group,
                   const std::string& topic, const GroupOffset& offset);
  int16_t end_transaction(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                          bool commit, int16_t version, int64_t now_ms);
  // May the producer write a transactional batch to the partition? NONE when it is in the
  // producer's ongoing transaction.
  int16_t check_produce(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                        const std::string& topic, int32_t partition) const;

  // Aborts transactions past their timeout, retries unfinished markers, expires idle ids.
  void tick(int64_t now_ms);
  std::optional<int64_t> next_deadline() const;

  const Transaction* find(const std::string& transactional_id) const;
  size_t size() const { return transactions_.size(); }
  // Whether an open transaction has an offset of (group, topic, partition) pending
  // (OffsetFetch's requireStable answers UNSTABLE_OFFSET_COMMIT for it).
  bool has_pending_offset(std::string_view group, std::string_view topic, int32_t partition) const;

  static std::string encode(const Transaction& t);
  static std::optional<Transaction> decode(std::string_view bytes);

 private:
  // The common checks of a request naming a producer: NONE, or its error.
  int16_t check_producer(const Transaction* t, int64_t producer_id, int16_t epoch, int16_t version,
                         int16_t fenced_from_version) const;
  // Writes `t` as the id's state, then keeps it; COORDINATOR_NOT_AVAILABLE if the log cannot.
  int16_t store(const std::string& id, const Transaction& t);
  // Prepare, markers, offsets, Complete (see the top). NONE once the Prepare state is written;
  // the rest is retried by tick() if it fails.
  int16_t end(const std::string& id, Transaction t, bool commit, int64_t now_ms);
  bool finish(const std::string& id, int64_t now_ms);
  int16_t bump_epoch(Transaction& t);

  BatchLog& log_;
  Options options_;
  std::function<int64_t()> next_producer_id_;
  std::map<std::string, Transaction, std::less<>> transactions_;
  int64_t max_producer_id_ = -1;
};

}  // namespace kappa
