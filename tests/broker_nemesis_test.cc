// A kill -9 nemesis against `kappa broker`: an idempotent librdkafka producer (acks=all) sends
// numbered records as fast as it can to two partitions while the broker is killed with SIGKILL
// again and again (and stopped with SIGTERM now and then) and restarted on the same data
// directory and port. Afterwards every acked record must be stored exactly once, in the order it
// was produced in its partition: no loss, no duplicate, no reordering.
//
// The producer never gives up on a record (retries and message.timeout.ms outlast the test), so
// every record it was given is acked in the end, and a broker that forgets its producers' state
// on restart stores the retries of in-flight batches a second time.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <thread>

#include "tests/rdkafka_client.h"
#include "tests/test_processes.h"

namespace kappa {
namespace {

constexpr int kPartitions = 2;
constexpr int kSigkills = 12;
constexpr int kSigterms = 3;
constexpr int64_t kMaxRecords = 3'000'000;  // bounds the run if the broker is fast

using Client = RdKafkaClient;

// `kappa broker` on one data directory and one port, for as many lives as the nemesis gives it.
class Broker {
 public:
  explicit Broker(const Dir& dir) : dir_(dir) { start("127.0.0.1:0"); }
  const std::string& bootstrap() const { return bootstrap_; }
  void stop(int sig) { child_->stop(sig); }
  void restart() { start(bootstrap_); }
  std::string log() const { return child_->output(); }

 private:
  void start(const std::string& listen) {
    ++lives_;
    child_ = std::make_unique<Child>(
        std::vector<std::string>{"broker", "--listen", listen, "--data", dir_ / "data",
                                 "--partitions", std::to_string(kPartitions)},
        dir_ / ("broker" + std::to_string(lives_) + ".log"));
    bootstrap_ = wait_listening([&] { return child_->output(); }, [] { return false; });
    if (bootstrap_.empty())
      throw std::runtime_error("kappa broker did not start: " + child_->output());
  }

  const Dir& dir_;
  std::unique_ptr<Child> child_;
  std::string bootstrap_;
  int lives_ = 0;
};

struct Acks {
  std::mutex mu;
  std::vector<int64_t> offset;  // per record number: the offset it was acked at, -1: not acked
  int64_t acked = 0;
  int64_t failed = 0;
  std::string first_failure;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* acks = static_cast<Acks*>(opaque);
  const auto n = reinterpret_cast<intptr_t>(m->_private);
  std::lock_guard lock(acks->mu);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    acks->offset[static_cast<size_t>(n)] = m->offset;
    ++acks->acked;
  } else {
    if (acks->failed++ == 0) acks->first_failure = rd_kafka_err2str(m->err);
  }
}

TEST(BrokerNemesisTest, EveryAckedRecordIsStoredExactlyOnceInOrderAcrossKills) {
  Dir dir("nemesis");
  Broker broker(dir);
  Acks acks;
  acks.offset.assign(static_cast<size_t>(kMaxRecords), -1);
  Client producer = make_rdkafka_client(RD_KAFKA_PRODUCER, broker.bootstrap(),
                                        {{"enable.idempotence", "true"},
                                         {"acks", "all"},
                                         {"linger.ms", "2"},
                                         {"message.timeout.ms", "300000"},
                                         {"reconnect.backoff.ms", "10"},
                                         {"reconnect.backoff.max.ms", "200"},
                                         {"queue.buffering.max.messages", "200000"},
                                         {"log_level", "2"}},
                                        [&](rd_kafka_conf_t* conf) {
                                          rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
                                          rd_kafka_conf_set_opaque(conf, &acks);
                                        });

  std::atomic<bool> nemesis_done{false};
  int kills = 0;
  std::thread nemesis([&] {
    std::mt19937 rng(20261201);
    std::uniform_int_distribution<int> pause(150, 450);
    for (int i = 0; i < kSigkills + kSigterms; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
      // Every fifth stop is a clean one: SIGTERM; the rest are kill -9.
      const bool clean = i % 5 == 4;
      broker.stop(clean ? SIGTERM : SIGKILL);
      kills += clean ? 0 : 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      broker.restart();
    }
    nemesis_done = true;
  });

  int64_t produced = 0;
  const std::string topic = "nemesis";
  char value[128];
  while (!nemesis_done.load() && produced < kMaxRecords) {
    std::snprintf(value, sizeof value, "%012lld-%086d", static_cast<long long>(produced), 0);
    const auto partition = static_cast<int32_t>(produced % kPartitions);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(value, 99), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(produced))),
        RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer.get(), 5);
      continue;
    }
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    ++produced;
    if (produced % 1000 == 0) rd_kafka_poll(producer.get(), 0);
  }
  nemesis.join();
  ASSERT_EQ(rd_kafka_flush(producer.get(), 120000), RD_KAFKA_RESP_ERR_NO_ERROR)
      << "records still unacked after 120 s";
  char fatal[512] = "";
  EXPECT_EQ(rd_kafka_fatal_error(producer.get(), fatal, sizeof fatal), RD_KAFKA_RESP_ERR_NO_ERROR)
      << fatal;
  producer.reset();
  EXPECT_EQ(acks.failed, 0) << acks.first_failure;
  EXPECT_EQ(acks.acked, produced);
  EXPECT_GE(kills, 10);

  // Read both partitions back to their ends.
  Client consumer = make_rdkafka_client(RD_KAFKA_CONSUMER, broker.bootstrap(),
                                        {{"group.id", "nemesis-reader"},
                                         {"enable.partition.eof", "true"},
                                         {"fetch.max.bytes", "52428800"},
                                         {"log_level", "2"}});
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<int64_t> seen(static_cast<size_t>(produced), 0);
  std::vector<int64_t> last(kPartitions, -1);  // the last record number read per partition
  int64_t stored = 0, duplicated = 0, foreign = 0, out_of_order = 0, misplaced = 0,
          wrong_offset = 0;
  int eofs = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (eofs < kPartitions && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++eofs;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++stored;
      const std::string v(static_cast<const char*>(m->payload), m->len);
      const int64_t n = v.size() == 99 ? std::stoll(v.substr(0, 12)) : -1;
      if (n < 0 || n >= produced) {
        ++foreign;
      } else {
        if (seen[static_cast<size_t>(n)]++ > 0) ++duplicated;
        if (n % kPartitions != m->partition) ++misplaced;
        // The ack named the offset the record is stored at (a retry's ack names the first).
        if (acks.offset[static_cast<size_t>(n)] != m->offset) ++wrong_offset;
        int64_t& prev = last[static_cast<size_t>(m->partition)];
        if (n <= prev) ++out_of_order;
        prev = std::max(prev, n);
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  int64_t lost = 0;
  for (int64_t n = 0; n < produced; ++n) {
    if (acks.offset[static_cast<size_t>(n)] >= 0 && seen[static_cast<size_t>(n)] == 0) ++lost;
  }
  std::printf(
      "nemesis: %d kill -9s and %d SIGTERMs; %lld acked, %lld stored, %lld duplicated, %lld lost\n",
      kills, kSigterms, static_cast<long long>(acks.acked), static_cast<long long>(stored),
      static_cast<long long>(duplicated), static_cast<long long>(lost));
  EXPECT_EQ(eofs, kPartitions) << "did not read to the end within 90 s";
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(misplaced, 0);
  EXPECT_EQ(foreign, 0);
  EXPECT_EQ(wrong_offset, 0);
  EXPECT_EQ(stored, acks.acked);
  broker.stop(SIGTERM);
}

}  // namespace
}  // namespace kappa
