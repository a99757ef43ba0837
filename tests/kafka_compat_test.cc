// The client compatibility suite: kcat and librdkafka (producer, consumer, consumer group)
// against `kappa broker` and against Apache Kafka (scripts/start-kafka.sh), with the same
// expectations. What only our broker can show here (a kill -9 and a restart on the same data
// directory, malformed frames, the bundled scenarios over the wire) runs against it alone.
// Without a Kafka the "kafka" cases skip; in CI (CI=true) they fail.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>

#include "broker/client/test_servers.h"
#include "tests/rdkafka_client.h"
#include "tests/test_processes.h"

namespace kappa {
namespace {

// ---- the brokers under test ----------------------------------------------------------------

// `kappa broker` on a data directory of its own, restartable (kill -9 and start again on the
// same directory and port).
class KappaBroker {
 public:
  explicit KappaBroker(const std::string& name) : dir_(name) { start("127.0.0.1:0"); }

  const std::string& bootstrap() const { return bootstrap_; }
  std::string log() const { return child_->output(); }
  std::string data() const { return dir_ / "data"; }

  void kill9_and_restart() {
    child_->stop(SIGKILL);
    start(bootstrap_);
  }

 private:
  void start(const std::string& listen) {
    child_ = std::make_unique<Child>(std::vector<std::string>{"broker", "--listen", listen, "--data", data()},
                                     dir_ / ("broker" + std::to_string(++starts_) + ".log"));
    bootstrap_ = wait_listening([&] { return child_->output(); }, [] { return false; });
    if (bootstrap_.empty())
      throw std::runtime_error("kappa broker did not start: " + child_->output());
  }

  Dir dir_;
  std::unique_ptr<Child> child_;
  std::string bootstrap_;
  int starts_ = 0;
};

std::string kafka_bootstrap() {
  return test_servers::kafka_url().substr(std::string("kafka://").size());
}

// A unique topic name: the real Kafka is shared by every run.
std::string unique(const std::string& what) {
  static std::atomic<int> n{0};
  return "compat_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + "_" + what;
}

bool have_kcat() { return std::system("command -v kcat >/dev/null 2>&1") == 0; }

// ---- librdkafka --------------------------------------------------------------------------

using Conf = RdKafkaConf;
using Client = RdKafkaClient;

Client make_client(rd_kafka_type_t type, const std::string& bootstrap, const Conf& extra) {
  return make_rdkafka_client(type, bootstrap, extra);
}

void create_topic(const std::string& bootstrap, const std::string& topic, int partitions) {
  Client admin = make_client(RD_KAFKA_PRODUCER, bootstrap, {});
  char err[256];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(admin.get());
  rd_kafka_CreateTopics(admin.get(), &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  ASSERT_NE(ev, nullptr);
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(rd_kafka_topic_result_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_err2str(rd_kafka_topic_result_error(results[0]));
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
}

struct Message {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key, value;
  int64_t timestamp = 0;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Produces `n` keyed messages with a header; returns them as sent.
std::vector<Message> produce(const std::string& bootstrap, const std::string& topic, int n, const Conf& conf) {
  Client p = make_client(RD_KAFKA_PRODUCER, bootstrap, conf);
  std::vector<Message> sent;
  for (int i = 0; i < n; ++i) {
    Message m;
    m.key = "user-" + std::to_string(i % 17);
    m.value = R"({"hello":"ssm-seoul","id":)" + std::to_string(i) + "}";
    m.timestamp = 1650000000000 + i;
    m.headers = {{"origin", "compat"}};
    rd_kafka_resp_err_t e;
    do {
      e = rd_kafka_producev(p.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
                            RD_KAFKA_V_VALUE(m.value.data(), m.value.size()), RD_KAFKA_V_TIMESTAMP(m.timestamp),
                            RD_KAFKA_V_HEADER("origin", "compat", 6), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(p.get(), 10);
    } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    sent.push_back(std::move(m));
  }
  EXPECT_EQ(rd_kafka_flush(p.get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  return sent;
}

Message to_message(const rd_kafka_message_t* m) {
  Message out;
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key) out.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) out.value.assign(static_cast<const char*>(m->payload), m->len);
  out.timestamp = rd_kafka_message_timestamp(m, nullptr);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      out.headers.emplace_back(name, std::string(static_cast<const char*>(val), size));
    }
  }
  return out;
}

// Reads every partition of the topic from the beginning to its end, by assignment.
std::vector<Message> consume_all(const std::string& bootstrap, const std::string& topic, int partitions,
                                 size_t expected) {
  Client c = make_client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", unique("reader")}});
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(c.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<Message> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 200);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) got.push_back(to_message(m));
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c.get());
  return got;
}

// The group's committed offsets of partitions 0..n-1 (-1001 when none).
std::vector<int64_t> committed(const std::string& bootstrap, const std::string& group, const std::string& topic,
                               int partitions) {
  Client c = make_client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", group}});
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  std::vector<int64_t> out;
  if (rd_kafka_committed(c.get(), list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].offset);
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(c.get());
  return out;
}

// A group member on a thread of its own, polling, keeping what it owns and what it read, and
// committing synchronously after every message.
class Member {
 public:
  Member(const std::string& bootstrap, const std::string& group, const std::string& topic)
      : client_(make_client(RD_KAFKA_CONSUMER, bootstrap,
                            {{"group.id", group},
                             {"enable.auto.commit", "false"},
                             {"auto.offset.reset", "earliest"},
                             {"session.timeout.ms", "6000"},
                             {"heartbeat.interval.ms", "500"},
                             {"partition.assignment.strategy", "range"}})) {
    rd_kafka_poll_set_consumer(client_.get());
    rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(client_.get(), sub);
    rd_kafka_topic_partition_list_destroy(sub);
    thread_ = std::thread([this] { run(); });
  }
  ~Member() { leave(); }

  std::set<int32_t> owned() {
    std::lock_guard lock(mu_);
    return owned_;
  }
  std::vector<Message> read() {
    std::lock_guard lock(mu_);
    return read_;
  }
  // Leaves the group (LeaveGroup) and stops.
  void leave() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(client_.get());
  }

 private:
  void run() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(client_.get(), 100);
      if (m) {
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          Message msg = to_message(m);
          rd_kafka_commit_message(client_.get(), m, 0);
          std::lock_guard lock(mu_);
          read_.push_back(std::move(msg));
        }
        rd_kafka_message_destroy(m);
      }
      rd_kafka_topic_partition_list_t* a = nullptr;
      if (rd_kafka_assignment(client_.get(), &a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::set<int32_t> now;
        for (int i = 0; i < a->cnt; ++i) now.insert(a->elems[i].partition);
        rd_kafka_topic_partition_list_destroy(a);
        std::lock_guard lock(mu_);
        owned_ = std::move(now);
      }
    }
  }

  Client client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::set<int32_t> owned_;
  std::vector<Message> read_;
};

// ---- the suite -----------------------------------------------------------------------------

class Compat : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "kafka") {
      KAPPA_REQUIRE_SERVER(test_servers::kafka_up(), "Kafka");
      bootstrap_ = kafka_bootstrap();
    } else {
      kappa_ = std::make_unique<KappaBroker>(::testing::UnitTest::GetInstance()->current_test_info()->name());
      bootstrap_ = kappa_->bootstrap();
    }
  }
  bool is_kappa() const { return kappa_ != nullptr; }

  std::unique_ptr<KappaBroker> kappa_;
  std::string bootstrap_;
};

TEST_P(Compat, KcatListsTopics) {
  if (!have_kcat()) GTEST_SKIP() << "kcat is not installed";
  const std::string topic = unique("listed");
  create_topic(bootstrap_, topic, 4);
  const std::string out = run_capture("kcat -b " + bootstrap_ + " -L 2>&1");
  EXPECT_NE(out.find("topic \"" + topic + "\" with 4 partitions:"), std::string::npos) << out;
  EXPECT_NE(out.find("partition 3, leader "), std::string::npos) << out;
}

TEST_P(Compat, KcatGzipAcksAllRoundTripOf20000) {
  if (!have_kcat()) GTEST_SKIP() << "kcat is not installed";
  const Dir dir("kcat_" + GetParam());
  const std::string topic = unique("kcat");
  create_topic(bootstrap_, topic, 1);
  std::string input;
  for (int i = 0; i < 20000; ++i) {
    input += R"({"hello":"ssm-seoul","id":)" + std::to_string(i) + R"(,"time":"2022-04-15 10:00:00"})" + "\n";
  }
  {
    std::ofstream f(dir / "in.txt", std::ios::binary);
    f << input;
  }
  const std::string produce_cmd = "kcat -b " + bootstrap_ + " -P -t " + topic + " -z gzip -X acks=all < " +
                                  (dir / "in.txt") + " 2>&1";
  ASSERT_EQ(std::system(produce_cmd.c_str()), 0) << run_capture(produce_cmd);
  const std::string consume_cmd = "kcat -b " + bootstrap_ + " -C -t " + topic + " -o beginning -e -q";
  EXPECT_EQ(run_capture(consume_cmd), input);
  if (!is_kappa()) return;
  kappa_->kill9_and_restart();
  EXPECT_EQ(run_capture(consume_cmd), input) << "after kill -9 and a restart on " << kappa_->data();
}

TEST_P(Compat, EveryCodecWithAnIdempotentProducer) {
  const std::string topic = unique("codecs");
  create_topic(bootstrap_, topic, 2);
  std::vector<Message> sent;
  for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    auto part = produce(bootstrap_, topic, 1000,
                        {{"compression.codec", codec}, {"enable.idempotence", "true"}, {"linger.ms", "5"}});
    sent.insert(sent.end(), part.begin(), part.end());
  }
  auto got = consume_all(bootstrap_, topic, 2, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  // Per key the order is the order sent (a key always goes to one partition).
  std::map<std::string, std::vector<std::string>> sent_by_key, got_by_key;
  for (const auto& m : sent) sent_by_key[m.key].push_back(m.value);
  std::set<std::pair<int32_t, int64_t>> offsets;
  for (const auto& m : got) {
    got_by_key[m.key].push_back(m.value);
    offsets.emplace(m.partition, m.offset);
    ASSERT_EQ(m.headers.size(), 1u);
    EXPECT_EQ(m.headers[0], std::make_pair(std::string("origin"), std::string("compat")));
  }
  EXPECT_EQ(got_by_key, sent_by_key);
  EXPECT_EQ(offsets.size(), sent.size()) << "every message once, at its own offset";
  // Timestamps come back as sent.
  std::map<std::string, int64_t> ts;
  for (const auto& m : sent) ts[m.value] = m.timestamp;
  for (const auto& m : got) EXPECT_EQ(m.timestamp, ts[m.value]);
}

TEST_P(Compat, OffsetsForTimesAndWatermarks) {
  const std::string topic = unique("times");
  create_topic(bootstrap_, topic, 1);
  produce(bootstrap_, topic, 100, {});
  Client c = make_client(RD_KAFKA_CONSUMER, bootstrap_, {{"group.id", unique("times")}});
  int64_t low = -1, high = -1;
  ASSERT_EQ(rd_kafka_query_watermark_offsets(c.get(), topic.c_str(), 0, &low, &high, 10000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(low, 0);
  EXPECT_EQ(high, 100);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(3);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), 0)->offset = 1650000000000 + 42;
  ASSERT_EQ(rd_kafka_offsets_for_times(c.get(), list, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(list->elems[0].offset, 42);
  list->elems[0].offset = 1650000000000 + 1000;  // after every record
  ASSERT_EQ(rd_kafka_offsets_for_times(c.get(), list, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(list->elems[0].offset, RD_KAFKA_OFFSET_END);
  rd_kafka_topic_partition_list_destroy(list);
}

TEST_P(Compat, TwoConsumersSplitFourPartitionsAndHandOver) {
  const std::string topic = unique("group");
  const std::string group = unique("g");
  create_topic(bootstrap_, topic, 4);
  const auto sent = produce(bootstrap_, topic, 400, {});
  Member a(bootstrap_, group, topic);
  ASSERT_TRUE(eventually(60, [&] { return a.owned().size() == 4; })) << "a alone should own all 4";
  Member b(bootstrap_, group, topic);
  ASSERT_TRUE(eventually(60, [&] {
    auto oa = a.owned(), ob = b.owned();
    std::set<int32_t> all(oa.begin(), oa.end());
    all.insert(ob.begin(), ob.end());
    return oa.size() == 2 && ob.size() == 2 && all.size() == 4;
  })) << "a owns " << a.owned().size() << ", b owns " << b.owned().size();
  b.leave();
  ASSERT_TRUE(eventually(60, [&] { return a.owned().size() == 4; })) << "b's partitions should move to a";
  // Everything is read (at least once) and committed to the end.
  ASSERT_TRUE(eventually(60, [&] {
    std::set<std::string> seen;
    for (const auto& m : a.read()) seen.insert(m.value);
    for (const auto& m : b.read()) seen.insert(m.value);
    return seen.size() == sent.size();
  }));
  a.leave();
  std::vector<int64_t> ends;
  for (int p = 0; p < 4; ++p) {
    int64_t lo = 0, hi = 0;
    Client c = make_client(RD_KAFKA_CONSUMER, bootstrap_, {{"group.id", unique("w")}});
    ASSERT_EQ(rd_kafka_query_watermark_offsets(c.get(), topic.c_str(), p, &lo, &hi, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ends.push_back(hi);
  }
  EXPECT_EQ(committed(bootstrap_, group, topic, 4), ends);
  if (!is_kappa()) return;
  kappa_->kill9_and_restart();
  EXPECT_EQ(committed(bootstrap_, group, topic, 4), ends) << "committed offsets after kill -9 and a restart";
}

INSTANTIATE_TEST_SUITE_P(Brokers, Compat, ::testing::Values("kappa", "kafka"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

// ---- our broker only -----------------------------------------------------------------------

// Sends bytes and reports whether the broker closed the connection (read returns 0).
bool closes_after(const std::string& bootstrap, const std::string& bytes) {
  const int fd = connect_to(bootstrap);
  if (fd < 0) return false;
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[64];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
  }
  ::close(fd);
  return n == 0;
}

TEST(KappaBrokerWire, BadFramesCloseTheirConnectionOnly) {
  KappaBroker broker("bad_frames");
  const std::string oversize("\x7f\xff\xff\xff", 4);
  EXPECT_TRUE(closes_after(broker.bootstrap(), oversize));
  // A frame of the right size whose header names an API we do not serve (DescribeConfigs v4).
  const std::string unknown_api("\x00\x00\x00\x0a\x00\x20\x00\x04\x00\x00\x00\x01\xff\xff", 14);
  EXPECT_TRUE(closes_after(broker.bootstrap(), unknown_api));
  // Metadata v1 whose topic array claims a million topics in 4 bytes.
  const std::string garbage("\x00\x00\x00\x0e\x00\x03\x00\x01\x00\x00\x00\x02\xff\xff\x00\x0f\x42\x40", 18);
  EXPECT_TRUE(closes_after(broker.bootstrap(), garbage));
  const std::string log = broker.log();
  EXPECT_NE(log.find("a frame of 2147483647 bytes, expected 8 to 104857600"), std::string::npos) << log;
  EXPECT_NE(log.find("DescribeConfigs v4, an API this broker does not serve"), std::string::npos) << log;
  EXPECT_NE(log.find("Metadata v1"), std::string::npos) << log;
  // And the broker goes on serving.
  const std::string topic = unique("after_bad_frames");
  create_topic(broker.bootstrap(), topic, 1);
  EXPECT_EQ(produce(broker.bootstrap(), topic, 10, {}).size(), 10u);
  EXPECT_EQ(consume_all(broker.bootstrap(), topic, 1, 10).size(), 10u);
}

TEST(KappaBrokerWire, BundledScenariosPassOverTheWire) {
  KappaBroker broker("scenarios");
  const std::string source = test_servers::env_or("KAPPA_SOURCE_DIR", ".");
  const std::string cmd = std::string(KAPPA_BINARY) + " test " + source + "/scenarios --broker kafka://" +
                          broker.bootstrap() + " 2>&1";
  const std::string out = run_capture(cmd + "; echo exit=$?");
  EXPECT_NE(out.find(" 0 failed"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=0"), std::string::npos) << out;
}

TEST(KappaBrokerWire, RunListenServesTheScenariosTopicsUntilCtrlC) {
  if (!have_kcat()) GTEST_SKIP() << "kcat is not installed";
  const Dir dir("run_listen");
  const std::string source = test_servers::env_or("KAPPA_SOURCE_DIR", ".");
  Child run({"run", "--listen", "127.0.0.1:0", source + "/scenarios/quickstart.json"}, dir / "run.log");
  const std::regex holding("topics stay on ([0-9.]+:[0-9]+) until Ctrl-C");
  std::smatch m;
  std::string out;
  ASSERT_TRUE(eventually(30, [&] {
    out = run.output();
    return std::regex_search(out, m, holding);
  })) << out;
  EXPECT_NE(out.find("PASS "), std::string::npos) << out;
  const std::string address = m[1].str();
  const std::string listing = run_capture("kcat -b " + address + " -L 2>&1");
  EXPECT_NE(listing.find("topic \"events_stages\""), std::string::npos) << listing;
  const std::string staged = run_capture("kcat -b " + address + " -C -t events_stages -o beginning -e -q -c 1");
  EXPECT_NE(staged.find("\"hello\":\"ssm-seoul\""), std::string::npos) << staged;
  const int status = run.stop(SIGINT);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << run.output();
}

}  // namespace
}  // namespace kappa
