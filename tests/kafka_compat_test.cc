// The client compatibility suite: kcat and librdkafka (producer, consumer, consumer group)
// against `kappa broker` (with --data: the "kappa" cases; in memory, without it: "memory") and
// against Apache Kafka (scripts/start-kafka.sh), with the same expectations. What only our
// broker can show here (a kill -9 and a restart on the same data directory, which the "memory"
// cases leave out, malformed frames, the bundled scenarios over the wire) runs against it alone.
// Without a Kafka the "kafka" cases skip; in CI (CI=true) they fail.
//
// Transactions: a librdkafka transactional producer's commits and aborts (with offsets sent to
// the transaction) read by read_committed and read_uncommitted consumers, Kafka's
// ProducerPerformance with --transactional-id, and (kappa alone) a kill -9 with a transaction
// open, which the next instance of the transactional id aborts.
//
// Kafka's own command-line tools run too, from the jars scripts/start-kafka.sh fetched
// (build/kafka/libs, or $KAPPA_KAFKA_DIR/libs): ConsumerGroupCommand (kafka-consumer-groups.sh)
// in each of its modes, GetOffsetShell (kafka-get-offsets.sh) and LogDirsCommand
// (kafka-log-dirs.sh). Each is a JVM start of about
// a second and a half, so the ones that do not depend on each other run side by side. Without
// the jars those cases skip; in CI they fail. The console producer and consumer too
// (kafka-console-producer.sh, kafka-console-consumer.sh with --isolation-level read_committed on
// a topic of transactions) and GetOffsetShell's --time -1/-2/-3 on that topic.
//
// Other client libraries, each a program under tests/clients run by tests/clients/run.sh (which
// installs it once per build folder from its registry: kafka-python from PyPI, kafkajs from npm,
// franz-go from the Go module proxy): one process per library and broker, each printing a line
// per operation, which the case here checks against its list (tests/clients/README.md has the
// table). Without the registry the case skips; in CI it fails.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "broker/client/test_servers.h"
#include "broker/protocol/error_codes.h"
#include "broker/protocol/messages.h"
#include "tests/rdkafka_client.h"
#include "tests/test_processes.h"

namespace kappa {
namespace {

// ---- the brokers under test ----------------------------------------------------------------

// `kappa broker` on a data directory of its own, restartable (kill -9 and start again on the
// same directory and port); or, `in_memory`, without --data.
class KappaBroker {
 public:
  explicit KappaBroker(const std::string& name, bool in_memory = false)
      : dir_(name), in_memory_(in_memory) {
    start("127.0.0.1:0");
  }
  bool durable() const { return !in_memory_; }

  const std::string& bootstrap() const { return bootstrap_; }
  std::string log() const { return child_->output(); }
  std::string data() const { return dir_ / "data"; }

  void kill9_and_restart() {
    child_->stop(SIGKILL);
    start(bootstrap_);
  }

 private:
  void start(const std::string& listen) {
    std::vector<std::string> args{"broker", "--listen",
                                  listen,   "--log-cleaner-backoff-ms",
                                  "1000",   "--log-retention-check-interval-ms",
                                  "1000"};
    if (!in_memory_) args.insert(args.end(), {"--data", data()});
    child_ = std::make_unique<Child>(args, dir_ / ("broker" + std::to_string(++starts_) + ".log"));
    bootstrap_ = wait_listening([&] { return child_->output(); }, [] { return false; });
    if (bootstrap_.empty())
      throw std::runtime_error("kappa broker did not start: " + child_->output());
  }

  Dir dir_;
  bool in_memory_ = false;
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

// ---- Kafka's command-line tools ------------------------------------------------------------

std::filesystem::path kafka_libs() {
  const std::string state = test_servers::env_or(
      "KAPPA_KAFKA_DIR", (test_servers::env_or("KAPPA_SOURCE_DIR", ".") + "/build/kafka").c_str());
  return std::filesystem::path(state) / "libs";
}

// Whether java and the kafka-tools jar are there, asked once per process.
const Status& kafka_tools() {
  static const Status status = [] {
    if (std::system("command -v java >/dev/null 2>&1") != 0) {
      return Status::unavailable("java is not installed (Debian package openjdk-17-jre-headless)");
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(kafka_libs(), ec)) {
      if (e.path().filename().string().rfind("kafka-tools-", 0) == 0 &&
          e.path().filename().string().find("-api-") == std::string::npos) {
        return Status::ok();
      }
    }
    return Status::unavailable("no kafka-tools jar in " + kafka_libs().string() +
                               " (scripts/start-kafka.sh fetches it)");
  }();
  return status;
}

struct ToolRun {
  int exit = -1;
  std::string output;  // stdout and stderr
};

// Runs one of Kafka's tools as its shell wrapper would (java -cp "libs/*" CLASS ARGS), with the
// JVM flags that start it fastest. The first run of a process writes the classes it loaded to a
// class-data archive beside the jars (libs/.tools.jsa; start-kafka.sh replaces libs/ whole, and
// with it the archive), which later runs map instead of loading the classes again: a run takes
// about 0.7 s of CPU instead of 1.3 s.
ToolRun kafka_tool(const std::string& tool_class, const std::string& args) {
  static std::mutex first_run;
  std::unique_lock lock(first_run);
  const std::filesystem::path archive = kafka_libs() / ".tools.jsa";
  std::string cds = "-XX:SharedArchiveFile='" + archive.string() + "'";
  const std::filesystem::path writing = archive.string() + "." + std::to_string(::getpid());
  const bool write_archive = !std::filesystem::exists(archive);
  if (write_archive) {
    cds = "-XX:ArchiveClassesAtExit='" + writing.string() + "'";
  } else {
    lock.unlock();  // the archive is there: runs may go side by side
  }
  const std::string cmd =
      "timeout 60 java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss512k " + cds +
      " -Xlog:cds=off -Xlog:cds+dynamic=off -Dlog4j.configuration=file:/dev/null -cp '" +
      (kafka_libs() / "*").string() + "' " + tool_class + " " + args + " 2>&1; echo \"exit=$?\"";
  ToolRun r;
  r.output = run_capture(cmd);
  if (write_archive) {
    std::error_code ec;
    std::filesystem::rename(writing, archive, ec);
  }
  const auto at = r.output.rfind("exit=");
  if (at != std::string::npos) {
    r.exit = std::atoi(r.output.c_str() + at + 5);
    r.output.resize(at);
  }
  return r;
}

ToolRun consumer_groups(const std::string& bootstrap, const std::string& args) {
  return kafka_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                    "--bootstrap-server " + bootstrap + " " + args);
}

ToolRun configs_tool(const std::string& bootstrap, const std::string& args) {
  return kafka_tool("kafka.admin.ConfigCommand", "--bootstrap-server " + bootstrap + " " + args);
}

ToolRun topics_tool(const std::string& bootstrap, const std::string& args) {
  return kafka_tool("org.apache.kafka.tools.TopicCommand",
                    "--bootstrap-server " + bootstrap + " " + args);
}

// The whitespace-separated fields of each line of a tool's table output.
std::vector<std::vector<std::string>> table(const std::string& out) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::vector<std::string> row;
    for (std::string f; fields >> f;) row.push_back(f);
    if (!row.empty()) rows.push_back(std::move(row));
  }
  return rows;
}

// The row of a --describe or --reset-offsets table for one partition.
std::vector<std::string> partition_row(const std::string& out, const std::string& topic,
                                       int partition) {
  for (auto& row : table(out)) {
    if (row.size() >= 3 && row[1] == topic && row[2] == std::to_string(partition)) return row;
  }
  return {};
}

// The token after the sequence `before` in a tool's output (Kafka 3.9's --reset-offsets prints
// its rows without line breaks between them), or "".
std::string token_after(const std::string& out, const std::vector<std::string>& before) {
  std::vector<std::string> tokens;
  for (auto& row : table(out)) tokens.insert(tokens.end(), row.begin(), row.end());
  for (size_t i = 0; i + before.size() < tokens.size(); ++i) {
    if (std::equal(before.begin(), before.end(), tokens.begin() + static_cast<std::ptrdiff_t>(i))) {
      return tokens[i + before.size()];
    }
  }
  return "";
}

// ---- raw requests ------------------------------------------------------------------------

// One request on a fresh connection, as a client that never sends ApiVersions first (kafka-go
// sends ListGroups straight away): the decoded response, or nullopt when the broker closed the
// connection or the response does not decode.
template <class Response, class Request>
std::optional<Response> ask(const std::string& bootstrap, int16_t key, int16_t version,
                            const Request& request) {
  const bool flexible = kafka::is_flexible(key, version);
  WireWriter w;
  w.i16(key);
  w.i16(version);
  w.i32(42);
  w.nullable_string(std::string("compat"));
  if (flexible) w.empty_tagged_fields();
  w.raw(kafka::encode(request, version));
  const std::string body = w.take();
  WireWriter framed;
  framed.i32(static_cast<int32_t>(body.size()));
  framed.raw(body);
  const std::string frame = framed.take();
  const int fd = connect_to(bootstrap);
  if (fd < 0) return std::nullopt;
  (void)::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string in;
  char buf[4096];
  ssize_t n;
  while ((in.size() < 4 || in.size() < 4 + static_cast<size_t>(ntohl(
                                               *reinterpret_cast<const uint32_t*>(in.data())))) &&
         (n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    in.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t header = 4 + 4 + (flexible ? 1 : 0);
  if (in.size() < header) return std::nullopt;
  Response r;
  if (!kafka::decode(std::string_view(in).substr(header), version, r).is_ok()) return std::nullopt;
  return r;
}

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
std::vector<Message> produce(const std::string& bootstrap, const std::string& topic, int n,
                             const Conf& conf) {
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
      e = rd_kafka_producev(
          p.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
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
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      out.headers.emplace_back(name, std::string(static_cast<const char*>(val), size));
    }
  }
  return out;
}

// Reads every partition of the topic from the beginning to its end, by assignment.
std::vector<Message> consume_all(const std::string& bootstrap, const std::string& topic,
                                 int partitions, size_t expected) {
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
std::vector<int64_t> committed(const std::string& bootstrap, const std::string& group,
                               const std::string& topic, int partitions) {
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
      kappa_ = std::make_unique<KappaBroker>(
          ::testing::UnitTest::GetInstance()->current_test_info()->name(), GetParam() == "memory");
      bootstrap_ = kappa_->bootstrap();
    }
  }
  bool is_kappa() const { return kappa_ != nullptr; }
  // Whether the broker keeps what it was told across a kill -9 (kappa broker --data).
  bool durable() const { return kappa_ != nullptr && kappa_->durable(); }

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
    input += R"({"hello":"ssm-seoul","id":)" + std::to_string(i) +
             R"(,"time":"2022-04-15 10:00:00"})" + "\n";
  }
  {
    std::ofstream f(dir / "in.txt", std::ios::binary);
    f << input;
  }
  const std::string produce_cmd = "kcat -b " + bootstrap_ + " -P -t " + topic +
                                  " -z gzip -X acks=all < " + (dir / "in.txt") + " 2>&1";
  ASSERT_EQ(std::system(produce_cmd.c_str()), 0) << run_capture(produce_cmd);
  const std::string consume_cmd =
      "kcat -b " + bootstrap_ + " -C -t " + topic + " -o beginning -e -q";
  EXPECT_EQ(run_capture(consume_cmd), input);
  if (!durable()) return;
  kappa_->kill9_and_restart();
  EXPECT_EQ(run_capture(consume_cmd), input) << "after kill -9 and a restart on " << kappa_->data();
}

TEST_P(Compat, EveryCodecWithAnIdempotentProducer) {
  const std::string topic = unique("codecs");
  create_topic(bootstrap_, topic, 2);
  std::vector<Message> sent;
  for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    auto part =
        produce(bootstrap_, topic, 1000,
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
  ASSERT_TRUE(eventually(60,
                         [&] {
                           auto oa = a.owned(), ob = b.owned();
                           std::set<int32_t> all(oa.begin(), oa.end());
                           all.insert(ob.begin(), ob.end());
                           return oa.size() == 2 && ob.size() == 2 && all.size() == 4;
                         }))
      << "a owns " << a.owned().size() << ", b owns " << b.owned().size();
  b.leave();
  ASSERT_TRUE(eventually(60, [&] { return a.owned().size() == 4; }))
      << "b's partitions should move to a";
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
  if (!durable()) return;
  kappa_->kill9_and_restart();
  EXPECT_EQ(committed(bootstrap_, group, topic, 4), ends)
      << "committed offsets after kill -9 and a restart";
}

// Group administration requests on fresh connections that never sent ApiVersions, in the oldest
// and the newest (flexible) versions: a group nobody knows is "Dead" to DescribeGroups and
// GROUP_ID_NOT_FOUND to DeleteGroups and OffsetDelete; a group with only committed offsets (a
// commit outside any membership, as an admin makes) is listed and described Empty, with no
// protocol type.
TEST_P(Compat, GroupAdminRequestsWithoutApiVersionsFirst) {
  namespace err = kafka_error;
  using namespace kafka;
  const std::string topic = unique("admin");
  create_topic(bootstrap_, topic, 2);
  produce(bootstrap_, topic, 10, {});
  const std::string group = unique("offsets_only");
  {
    Client c = make_client(RD_KAFKA_CONSUMER, bootstrap_, {{"group.id", group}});
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), 0)->offset = 3;
    rd_kafka_topic_partition_list_add(list, topic.c_str(), 1)->offset = 4;
    ASSERT_EQ(rd_kafka_commit(c.get(), list, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
  }
  for (int16_t v : {0, 5}) {
    auto listed = ask<ListGroupsResponse>(bootstrap_, kListGroups, v, ListGroupsRequest{});
    ASSERT_TRUE(listed) << "ListGroups v" << v << " got no answer";
    EXPECT_EQ(listed->error_code, err::kNone);
    auto it = std::find_if(listed->groups.begin(), listed->groups.end(),
                           [&](const auto& g) { return g.group_id == group; });
    ASSERT_NE(it, listed->groups.end()) << "ListGroups v" << v;
    EXPECT_EQ(it->protocol_type, "");
    if (v >= 4) {
      EXPECT_EQ(it->group_state, "Empty");
    }
    if (v >= 5) {
      EXPECT_EQ(it->group_type, "classic");
    }
  }
  ListGroupsRequest stable_only;
  stable_only.states_filter = {"Stable"};
  auto stable = ask<ListGroupsResponse>(bootstrap_, kListGroups, 4, stable_only);
  ASSERT_TRUE(stable);
  for (const auto& g : stable->groups)
    EXPECT_NE(g.group_id, group) << "an Empty group is not Stable";
  const std::string nobody = unique("nobody");
  for (int16_t v : {0, 5}) {
    DescribeGroupsRequest req;
    req.groups = {group, nobody};
    auto described = ask<DescribeGroupsResponse>(bootstrap_, kDescribeGroups, v, req);
    ASSERT_TRUE(described) << "DescribeGroups v" << v << " got no answer";
    ASSERT_EQ(described->groups.size(), 2u);
    EXPECT_EQ(described->groups[0].error_code, err::kNone);
    EXPECT_EQ(described->groups[0].group_id, group);
    EXPECT_EQ(described->groups[0].group_state, "Empty");
    EXPECT_EQ(described->groups[0].protocol_type, "");
    EXPECT_TRUE(described->groups[0].members.empty());
    EXPECT_EQ(described->groups[1].error_code, err::kNone);
    EXPECT_EQ(described->groups[1].group_state, "Dead");
    EXPECT_TRUE(described->groups[1].members.empty());
  }
  auto deleted =
      ask<DeleteGroupsResponse>(bootstrap_, kDeleteGroups, 2, DeleteGroupsRequest{{nobody}});
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->results.size(), 1u);
  EXPECT_EQ(deleted->results[0].error_code, err::kGroupIdNotFound);
  OffsetDeleteRequest od;
  od.group_id = nobody;
  od.topics = {{topic, {0}}};
  auto none = ask<OffsetDeleteResponse>(bootstrap_, kOffsetDelete, 0, od);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->error_code, err::kGroupIdNotFound);
  EXPECT_TRUE(none->topics.empty());
  od.group_id = group;
  od.topics = {{topic, {1}}, {unique("missing"), {0}}};
  auto some = ask<OffsetDeleteResponse>(bootstrap_, kOffsetDelete, 0, od);
  ASSERT_TRUE(some);
  EXPECT_EQ(some->error_code, err::kNone);
  ASSERT_EQ(some->topics.size(), 2u);
  std::map<std::string, int16_t> errors;  // Kafka answers the topics in an order of its own
  for (const auto& t : some->topics) errors[t.name] = t.partitions.at(0).error_code;
  EXPECT_EQ(errors[topic], err::kNone);
  EXPECT_EQ(errors[od.topics[1].name], err::kUnknownTopicOrPartition);
  EXPECT_EQ(committed(bootstrap_, group, topic, 2),
            (std::vector<int64_t>{3, RD_KAFKA_OFFSET_INVALID}));
  deleted = ask<DeleteGroupsResponse>(bootstrap_, kDeleteGroups, 0, DeleteGroupsRequest{{group}});
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->results.at(0).error_code, err::kNone);
  EXPECT_EQ(committed(bootstrap_, group, topic, 2),
            (std::vector<int64_t>{RD_KAFKA_OFFSET_INVALID, RD_KAFKA_OFFSET_INVALID}));
}

// kafka-consumer-groups.sh in each mode, on a group with a live librdkafka member and then on
// the group it left: --list, --describe (member, offsets, lag), --delete and --delete-offsets
// refused while the member consumes the topic, --reset-offsets --to-earliest --execute,
// --delete-offsets of one partition, --delete. And kafka-get-offsets.sh --time -3 (ListOffsets'
// max timestamp). On our broker, each deletion is still there after kill -9 and a restart.
TEST_P(Compat, ConsumerGroupsToolInEveryMode) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("tool");
  const std::string group = unique("tool_group");
  create_topic(bootstrap_, topic, 2);
  // Timestamps 1650000000000 + i: the largest is the last record's of its partition.
  const auto sent = produce(bootstrap_, topic, 40, {});
  std::map<int32_t, int64_t> ends;
  {
    Client c = make_client(RD_KAFKA_CONSUMER, bootstrap_, {{"group.id", unique("w")}});
    for (int p = 0; p < 2; ++p) {
      int64_t lo = 0, hi = 0;
      ASSERT_EQ(rd_kafka_query_watermark_offsets(c.get(), topic.c_str(), p, &lo, &hi, 10000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      ends[p] = hi;
    }
  }
  ASSERT_GT(ends[0], 0);
  ASSERT_GT(ends[1], 0);
  auto member = std::make_unique<Member>(bootstrap_, group, topic);
  ASSERT_TRUE(eventually(
      60, [&] { return member->owned().size() == 2 && member->read().size() == sent.size(); }));
  ASSERT_TRUE(eventually(30, [&] {
    return committed(bootstrap_, group, topic, 2) == std::vector<int64_t>{ends[0], ends[1]};
  }));

  // With the member in the group: four tools side by side.
  const std::string g = " --group " + group;
  auto list = std::async(std::launch::async, [&] { return consumer_groups(bootstrap_, "--list"); });
  auto describe =
      std::async(std::launch::async, [&] { return consumer_groups(bootstrap_, "--describe" + g); });
  auto refused_delete =
      std::async(std::launch::async, [&] { return consumer_groups(bootstrap_, "--delete" + g); });
  auto refused_offsets = std::async(std::launch::async, [&] {
    return consumer_groups(bootstrap_, "--delete-offsets" + g + " --topic " + topic);
  });
  auto max_ts = std::async(std::launch::async, [&] {
    return kafka_tool("org.apache.kafka.tools.GetOffsetShell",
                      "--bootstrap-server " + bootstrap_ + " --topic " + topic + " --time -3");
  });
  const ToolRun listed = list.get();
  EXPECT_EQ(listed.exit, 0) << listed.output;
  EXPECT_NE(("\n" + listed.output).find("\n" + group + "\n"), std::string::npos) << listed.output;
  const ToolRun described = describe.get();
  EXPECT_EQ(described.exit, 0) << described.output;
  for (int p = 0; p < 2; ++p) {
    const auto row = partition_row(described.output, topic, p);
    ASSERT_EQ(row.size(), 9u) << described.output;
    EXPECT_EQ(row[0], group);
    EXPECT_EQ(row[3], std::to_string(ends[p])) << "CURRENT-OFFSET\n" << described.output;
    EXPECT_EQ(row[4], std::to_string(ends[p])) << "LOG-END-OFFSET\n" << described.output;
    EXPECT_EQ(row[5], "0") << "LAG\n" << described.output;
    EXPECT_EQ(row[6].rfind("rdkafka-", 0), 0u) << "CONSUMER-ID\n" << described.output;
    EXPECT_EQ(row[7], "/127.0.0.1") << "HOST\n" << described.output;
    EXPECT_EQ(row[8], "rdkafka") << "CLIENT-ID\n" << described.output;
  }
  const ToolRun not_empty = refused_delete.get();
  EXPECT_NE(not_empty.output.find("The group is not empty"), std::string::npos) << not_empty.output;
  const ToolRun subscribed = refused_offsets.get();
  EXPECT_NE(subscribed.output.find("GroupSubscribedToTopicException"), std::string::npos)
      << subscribed.output;
  const ToolRun max = max_ts.get();
  EXPECT_EQ(max.exit, 0) << max.output;
  for (int p = 0; p < 2; ++p) {
    const std::string want = topic + ":" + std::to_string(p) + ":" + std::to_string(ends[p] - 1);
    EXPECT_NE(max.output.find(want), std::string::npos) << "want " << want << "\n" << max.output;
  }

  // The member leaves; more records make a lag.
  member.reset();
  produce(bootstrap_, topic, 20, {});
  std::map<int32_t, int64_t> later;
  {
    Client c = make_client(RD_KAFKA_CONSUMER, bootstrap_, {{"group.id", unique("w")}});
    for (int p = 0; p < 2; ++p) {
      int64_t lo = 0, hi = 0;
      ASSERT_EQ(rd_kafka_query_watermark_offsets(c.get(), topic.c_str(), p, &lo, &hi, 10000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      later[p] = hi;
    }
  }
  const ToolRun empty = consumer_groups(bootstrap_, "--describe" + g);
  EXPECT_NE(empty.output.find("Consumer group '" + group + "' has no active members."),
            std::string::npos)
      << empty.output;
  for (int p = 0; p < 2; ++p) {
    const auto row = partition_row(empty.output, topic, p);
    ASSERT_EQ(row.size(), 9u) << empty.output;
    EXPECT_EQ(row[3], std::to_string(ends[p])) << empty.output;
    EXPECT_EQ(row[4], std::to_string(later[p])) << empty.output;
    EXPECT_EQ(row[5], std::to_string(later[p] - ends[p])) << "LAG\n" << empty.output;
    EXPECT_EQ(row[6], "-") << empty.output;
  }
  const ToolRun reset = consumer_groups(
      bootstrap_, "--reset-offsets" + g + " --topic " + topic + " --to-earliest --execute");
  EXPECT_EQ(reset.exit, 0) << reset.output;
  for (int p = 0; p < 2; ++p) {
    EXPECT_EQ(token_after(reset.output, {group, topic, std::to_string(p)}), "0") << "NEW-OFFSET\n"
                                                                                 << reset.output;
  }
  EXPECT_EQ(committed(bootstrap_, group, topic, 2), (std::vector<int64_t>{0, 0}));

  const ToolRun one =
      consumer_groups(bootstrap_, "--delete-offsets" + g + " --topic " + topic + ":1");
  EXPECT_EQ(one.exit, 0) << one.output;
  EXPECT_EQ(token_after(one.output, {topic, "1"}), "Successful") << one.output;
  EXPECT_EQ(committed(bootstrap_, group, topic, 2),
            (std::vector<int64_t>{0, RD_KAFKA_OFFSET_INVALID}));
  if (durable()) {
    kappa_->kill9_and_restart();
    EXPECT_EQ(committed(bootstrap_, group, topic, 2),
              (std::vector<int64_t>{0, RD_KAFKA_OFFSET_INVALID}))
        << "a deleted offset after kill -9 and a restart";
  }

  const ToolRun deleted = consumer_groups(bootstrap_, "--delete" + g);
  EXPECT_EQ(deleted.exit, 0) << deleted.output;
  EXPECT_NE(deleted.output.find("Deletion of requested consumer groups ('" + group +
                                "') was successful."),
            std::string::npos)
      << deleted.output;
  EXPECT_EQ(committed(bootstrap_, group, topic, 2),
            (std::vector<int64_t>{RD_KAFKA_OFFSET_INVALID, RD_KAFKA_OFFSET_INVALID}));
  if (durable()) {
    kappa_->kill9_and_restart();
    EXPECT_EQ(committed(bootstrap_, group, topic, 2),
              (std::vector<int64_t>{RD_KAFKA_OFFSET_INVALID, RD_KAFKA_OFFSET_INVALID}))
        << "a deleted group after kill -9 and a restart";
  }
  auto after =
      ask<kafka::ListGroupsResponse>(bootstrap_, kafka::kListGroups, 3, kafka::ListGroupsRequest{});
  ASSERT_TRUE(after);
  for (const auto& listed_group : after->groups) EXPECT_NE(listed_group.group_id, group);
}

// kafka-topics.sh: --create, --alter --partitions (CreatePartitions), --describe, --delete
// (DeleteTopics) and --list; on our broker, each change survives kill -9 and a restart, and a
// topic created again under a deleted one's name starts empty.
TEST_P(Compat, TopicsToolCreatesGrowsAndDeletes) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("topics_tool");
  const std::string t = " --topic " + topic;
  auto ends = [&](int partitions) {
    Client c = make_client(RD_KAFKA_CONSUMER, bootstrap_, {{"group.id", unique("w")}});
    std::vector<int64_t> out;
    for (int p = 0; p < partitions; ++p) {
      int64_t lo = -1, hi = -1;
      const auto e = rd_kafka_query_watermark_offsets(c.get(), topic.c_str(), p, &lo, &hi, 10000);
      out.push_back(e == RD_KAFKA_RESP_ERR_NO_ERROR ? hi : -1);
    }
    return out;
  };
  auto listed = [&] {
    const ToolRun list = topics_tool(bootstrap_, "--list");
    EXPECT_EQ(list.exit, 0) << list.output;
    return ("\n" + list.output).find("\n" + topic + "\n") != std::string::npos;
  };

  const ToolRun created =
      topics_tool(bootstrap_, "--create" + t + " --partitions 2 --replication-factor 1");
  ASSERT_EQ(created.exit, 0) << created.output;
  EXPECT_NE(created.output.find("Created topic " + topic + "."), std::string::npos)
      << created.output;
  produce(bootstrap_, topic, 20, {});
  const auto before = ends(2);
  ASSERT_GT(before[0] + before[1], 0);

  const ToolRun grown = topics_tool(bootstrap_, "--alter" + t + " --partitions 5");
  EXPECT_EQ(grown.exit, 0) << grown.output;
  const ToolRun same = topics_tool(bootstrap_, "--alter" + t + " --partitions 5");
  EXPECT_NE(same.exit, 0) << same.output;
  EXPECT_NE(same.output.find("Topic already has 5 partition(s)."), std::string::npos)
      << same.output;
  const ToolRun fewer = topics_tool(bootstrap_, "--alter" + t + " --partitions 3");
  EXPECT_NE(fewer.exit, 0) << fewer.output;
  EXPECT_NE(fewer.output.find("The topic " + topic +
                              " currently has 5 partition(s); 3 would not be an increase."),
            std::string::npos)
      << fewer.output;
  // What the tool cannot send: an assignment to a broker that is not there, a topic id.
  kafka::CreatePartitionsRequest elsewhere;
  elsewhere.topics.push_back(
      {topic, 6, std::vector<kafka::CreatePartitionsRequest::Assignment>{{{7}}}});
  auto refused =
      ask<kafka::CreatePartitionsResponse>(bootstrap_, kafka::kCreatePartitions, 3, elsewhere);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->results.at(0).error_code, kafka_error::kInvalidReplicaAssignment);
  kafka::DeleteTopicsRequest by_id;
  by_id.topics.push_back({std::nullopt, {0x1234, 0x5678}});
  auto unknown_id = ask<kafka::DeleteTopicsResponse>(bootstrap_, kafka::kDeleteTopics, 6, by_id);
  ASSERT_TRUE(unknown_id);
  EXPECT_EQ(unknown_id->responses.at(0).error_code, kafka_error::kUnknownTopicId);
  const ToolRun missing =
      topics_tool(bootstrap_, "--alter --topic " + unique("absent") + " --partitions 3");
  EXPECT_NE(missing.exit, 0) << missing.output;
  if (durable()) kappa_->kill9_and_restart();
  // --describe asks for the topic's configs too (DescribeConfigs).
  const ToolRun described = topics_tool(bootstrap_, "--describe" + t);
  EXPECT_EQ(described.exit, 0) << described.output;
  EXPECT_NE(described.output.find("PartitionCount: 5"), std::string::npos) << described.output;
  if (have_kcat()) {
    const std::string meta = run_capture("kcat -b " + bootstrap_ + " -L -t " + topic + " 2>&1");
    EXPECT_NE(meta.find("topic \"" + topic + "\" with 5 partitions"), std::string::npos) << meta;
  }
  const auto grown_ends = ends(5);
  EXPECT_EQ(grown_ends, (std::vector<int64_t>{before[0], before[1], 0, 0, 0}));

  const ToolRun deleted = topics_tool(bootstrap_, "--delete" + t);
  EXPECT_EQ(deleted.exit, 0) << deleted.output;
  EXPECT_TRUE(eventually(30, [&] { return !listed(); })) << "--list still shows " << topic;
  if (durable()) {
    kappa_->kill9_and_restart();
    EXPECT_FALSE(listed()) << "a deleted topic after kill -9 and a restart";
  }
  const ToolRun gone = topics_tool(bootstrap_, "--delete" + t);
  EXPECT_NE(gone.exit, 0) << gone.output;

  // The same name again: a new topic, empty, whose offsets start at 0. (Kafka deletes the old
  // one's files in the background; creating the name again may have to wait for that.)
  ToolRun again;
  EXPECT_TRUE(eventually(60, [&] {
    again = topics_tool(bootstrap_, "--create" + t + " --partitions 1 --replication-factor 1");
    return again.exit == 0;
  })) << again.output;
  EXPECT_EQ(ends(1), std::vector<int64_t>{0});
  if (durable()) {
    kappa_->kill9_and_restart();
    EXPECT_EQ(ends(1), std::vector<int64_t>{0});
  }
  produce(bootstrap_, topic, 3, {});
  EXPECT_EQ(ends(1), std::vector<int64_t>{3});
}

TEST_P(Compat, TopicConfigsThroughTopicsAndConfigsTools) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("configs_tool");
  const std::string t = " --topic " + topic;
  const std::string entity = " --entity-type topics --entity-name " + topic;
  const ToolRun created = topics_tool(
      bootstrap_, "--create" + t +
                      " --partitions 1 --replication-factor 1 --config retention.ms=1000 --config "
                      "cleanup.policy=compact");
  ASSERT_EQ(created.exit, 0) << created.output;
  auto described = [&] {
    const ToolRun d = topics_tool(bootstrap_, "--describe" + t);
    EXPECT_EQ(d.exit, 0) << d.output;
    return d.output;
  };
  std::string d = described();
  EXPECT_NE(d.find("retention.ms=1000"), std::string::npos) << d;
  EXPECT_NE(d.find("cleanup.policy=compact"), std::string::npos) << d;

  const ToolRun bad = topics_tool(
      bootstrap_, "--create --topic " + unique("bad_config") +
                      " --partitions 1 --replication-factor 1 --config retention.mss=1");
  EXPECT_NE(bad.exit, 0) << bad.output;
  EXPECT_NE(bad.output.find("Unknown topic config name: retention.mss"), std::string::npos)
      << bad.output;
  const ToolRun bad_value =
      configs_tool(bootstrap_, "--alter" + entity + " --add-config retention.ms=soon");
  EXPECT_NE(bad_value.exit, 0) << bad_value.output;
  EXPECT_NE(bad_value.output.find("Invalid value soon for configuration retention.ms"),
            std::string::npos)
      << bad_value.output;

  const ToolRun added =
      configs_tool(bootstrap_, "--alter" + entity +
                                   " --add-config max.message.bytes=200000,segment.bytes=1048576");
  EXPECT_EQ(added.exit, 0) << added.output;
  EXPECT_NE(added.output.find("Completed updating config for topic " + topic + "."),
            std::string::npos)
      << added.output;
  const ToolRun removed =
      configs_tool(bootstrap_, "--alter" + entity + " --delete-config retention.ms");
  EXPECT_EQ(removed.exit, 0) << removed.output;
  if (durable()) kappa_->kill9_and_restart();
  const ToolRun shown = configs_tool(bootstrap_, "--describe" + entity);
  EXPECT_EQ(shown.exit, 0) << shown.output;
  EXPECT_NE(shown.output.find("Dynamic configs for topic " + topic + " are:"), std::string::npos)
      << shown.output;
  for (const std::string line : {"cleanup.policy=compact sensitive=false "
                                 "synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact",
                                 "max.message.bytes=200000 sensitive=false "
                                 "synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=200000",
                                 "segment.bytes=1048576 sensitive=false"}) {
    EXPECT_NE(shown.output.find(line), std::string::npos) << line << "\n" << shown.output;
  }
  EXPECT_EQ(shown.output.find("retention.ms="), std::string::npos) << shown.output;
  d = described();
  EXPECT_EQ(d.find("retention.ms=1000"), std::string::npos) << d;
  EXPECT_NE(d.find("max.message.bytes=200000"), std::string::npos) << d;

  const ToolRun all = configs_tool(bootstrap_, "--describe --all" + entity);
  EXPECT_EQ(all.exit, 0) << all.output;
  EXPECT_NE(all.output.find("message.timestamp.type=CreateTime"), std::string::npos) << all.output;
  const ToolRun broker =
      configs_tool(bootstrap_, "--describe --all --entity-type brokers --entity-name " +
                                   std::string(is_kappa() ? "0" : "1"));
  EXPECT_EQ(broker.exit, 0) << broker.output;
  EXPECT_NE(broker.output.find("num.partitions="), std::string::npos) << broker.output;
}

// ---- transactions -------------------------------------------------------------------------

// Every record of the topic's partitions from the beginning, read up to the end each partition
// shows its isolation level (the last stable offset for read_committed).
std::vector<Message> read_to_end(const std::string& bootstrap, const std::string& topic,
                                 int partitions, const std::string& isolation) {
  Client c = make_client(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", unique("reader")},
                          {"isolation.level", isolation},
                          {"enable.partition.eof", "true"}});
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(c.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<Message> got;
  std::set<int32_t> at_end;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (at_end.size() < static_cast<size_t>(partitions) &&
         std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 200);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      got.push_back(to_message(m));
    } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(at_end.size(), static_cast<size_t>(partitions)) << "not every partition's end read";
  rd_kafka_consumer_close(c.get());
  return got;
}

std::multiset<std::string> values_of(const std::vector<Message>& messages) {
  std::multiset<std::string> out;
  for (const Message& m : messages) out.insert(m.value);
  return out;
}

// A librdkafka transactional producer; each call checks its error.
class TxnProducer {
 public:
  TxnProducer(const std::string& bootstrap, const std::string& id)
      : p_(make_client(RD_KAFKA_PRODUCER, bootstrap,
                       {{"transactional.id", id}, {"transaction.timeout.ms", "60000"}})) {}
  rd_kafka_t* get() { return p_.get(); }
  void check(rd_kafka_error_t* e, const char* what) {
    if (e == nullptr) return;
    ADD_FAILURE() << what << ": " << rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
  }
  void init() { check(rd_kafka_init_transactions(get(), 30000), "init_transactions"); }
  void begin() { check(rd_kafka_begin_transaction(get()), "begin_transaction"); }
  void commit() { check(rd_kafka_commit_transaction(get(), 30000), "commit_transaction"); }
  void abort() { check(rd_kafka_abort_transaction(get(), 30000), "abort_transaction"); }
  // Sends `values` round-robin over the partitions and waits until each is acked.
  void send(const std::string& topic, int partitions, const std::vector<std::string>& values) {
    for (size_t i = 0; i < values.size(); ++i) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          get(), RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_PARTITION(static_cast<int32_t>(i % static_cast<size_t>(partitions))),
          RD_KAFKA_V_VALUE(const_cast<char*>(values[i].data()), values[i].size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    }
    EXPECT_EQ(rd_kafka_flush(get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void send_offsets(const std::string& group, const std::string& topic, int64_t offset) {
    rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, topic.c_str(), 0)->offset = offset;
    rd_kafka_consumer_group_metadata_t* meta = rd_kafka_consumer_group_metadata_new(group.c_str());
    check(rd_kafka_send_offsets_to_transaction(get(), offsets, meta, 30000),
          "send_offsets_to_transaction");
    rd_kafka_consumer_group_metadata_destroy(meta);
    rd_kafka_topic_partition_list_destroy(offsets);
  }

 private:
  Client p_;
};

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// A compacted topic (the changelog topics of Kafka Streams are): once the cleaner has run, the
// closed segments hold only the latest record of each key, at its original offset. Both brokers
// clean within seconds here (scripts/start-kafka.sh and KappaBroker set the cleaner's backoff
// to 1 s; the topic's min.cleanable.dirty.ratio lets any dirt trigger it).
TEST_P(Compat, CompactedTopicKeepsTheLatestValueOfEachKey) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("compacted");
  const ToolRun created = topics_tool(
      bootstrap_, "--create --topic " + topic +
                      " --partitions 1 --replication-factor 1 --config cleanup.policy=compact"
                      " --config segment.bytes=1024 --config min.cleanable.dirty.ratio=0.01");
  ASSERT_EQ(created.exit, 0) << created.output;
  // One record per batch, so that segments roll every few records.
  const auto sent = produce(bootstrap_, topic, 17 * 20, {{"batch.num.messages", "1"}});
  std::map<std::string, std::string> latest;
  for (const Message& m : sent) latest[m.key] = m.value;

  const auto id_of = [](const std::string& value) {
    return std::stoll(value.substr(value.find(R"("id":)") + 5));
  };
  std::vector<Message> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  do {
    got = read_to_end(bootstrap_, topic, 1, "read_uncommitted");
    if (got.size() <= 2 * latest.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_LE(got.size(), 2 * latest.size()) << "of " << sent.size() << " records, " << got.size()
                                           << " were left after 90 s: no compaction";
  std::map<std::string, std::string> last_seen;
  int64_t previous = -1;
  for (const Message& m : got) {
    EXPECT_EQ(m.offset, id_of(m.value)) << "a record keeps its offset: " << m.value;
    EXPECT_GT(m.offset, previous);
    previous = m.offset;
    last_seen[m.key] = m.value;
  }
  EXPECT_EQ(last_seen, latest) << "every key's latest value is there";
}

// retention.ms takes effect: the records produce() sends carry timestamps of 2022, far older
// than retention.ms, so a retention check deletes every segment, the active one too (Kafka
// rolls a new one at the end offset), and the log start reaches the end offset. With retention
// unlimited again, a later record is read from there. Both brokers check every second here
// (scripts/start-kafka.sh, KappaBroker).
TEST_P(Compat, RetentionMsDeletesEveryOldSegment) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("retained");
  const ToolRun created = topics_tool(
      bootstrap_, "--create --topic " + topic +
                      " --partitions 1 --replication-factor 1 --config retention.ms=2000"
                      " --config segment.bytes=1024");
  ASSERT_EQ(created.exit, 0) << created.output;
  const auto sent = produce(bootstrap_, topic, 60, {{"batch.num.messages", "1"}});
  ASSERT_EQ(sent.size(), 60u);
  const auto earliest = [&] {
    const ToolRun r =
        kafka_tool("org.apache.kafka.tools.GetOffsetShell",
                   "--bootstrap-server " + bootstrap_ + " --topic " + topic + " --time -2");
    const auto at = r.output.find(topic + ":0:");
    return at == std::string::npos ? int64_t{-1}
                                   : std::stoll(r.output.substr(at + topic.size() + 3));
  };
  int64_t start = earliest();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (start != 60 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    start = earliest();
  }
  ASSERT_EQ(start, 60) << "every record is older than retention.ms after 60 s";
  const ToolRun unlimited = configs_tool(bootstrap_, "--alter --entity-type topics --entity-name " +
                                                         topic + " --add-config retention.ms=-1");
  ASSERT_EQ(unlimited.exit, 0) << unlimited.output;
  produce(bootstrap_, topic, 1, {});
  const auto left = consume_all(bootstrap_, topic, 1, 1);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.front().offset, 60);
}

TEST_P(Compat, LibrdkafkaTransactionsAsReadCommittedAndUncommittedReadersSeeThem) {
  const std::string topic = unique("txn");
  const std::string group = unique("txn_group");
  create_topic(bootstrap_, topic, 2);
  TxnProducer p(bootstrap_, unique("txn_id"));
  const auto start = std::chrono::steady_clock::now();
  p.init();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "init_transactions must not wait for a coordinator";
  p.begin();
  p.send(topic, 2, numbered("committed-", 10));
  p.send_offsets(group, topic, 7);
  p.commit();
  p.begin();
  p.send(topic, 2, numbered("aborted-", 6));
  p.send_offsets(group, topic, 99);
  p.abort();
  p.begin();
  p.send(topic, 2, numbered("later-", 4));
  p.commit();

  std::multiset<std::string> want;
  for (const auto& v : numbered("committed-", 10)) want.insert(v);
  for (const auto& v : numbered("later-", 4)) want.insert(v);
  EXPECT_EQ(values_of(read_to_end(bootstrap_, topic, 2, "read_committed")), want);
  for (const auto& v : numbered("aborted-", 6)) want.insert(v);
  EXPECT_EQ(values_of(read_to_end(bootstrap_, topic, 2, "read_uncommitted")), want);
  EXPECT_EQ(committed(bootstrap_, group, topic, 1), std::vector<int64_t>{7})
      << "the committed transaction's offset, not the aborted one's";
}

TEST_P(Compat, ProducerPerfTestWithATransactionalId) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("perf_txn");
  create_topic(bootstrap_, topic, 1);
  const auto start = std::chrono::steady_clock::now();
  const ToolRun run = kafka_tool(
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic " + topic +
          " --num-records 2000 --record-size 100 --throughput -1 --transactional-id " +
          unique("perf_id") +
          " --transaction-duration-ms 200 --producer-props bootstrap.servers=" + bootstrap_);
  EXPECT_EQ(run.exit, 0) << run.output;
  EXPECT_NE(run.output.find("2000 records sent"), std::string::npos) << run.output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30)) << run.output;
  EXPECT_EQ(read_to_end(bootstrap_, topic, 1, "read_committed").size(), 2000u);
}

TEST_P(Compat, DeleteRecordsToolMovesTheLogStart) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("delete_records");
  create_topic(bootstrap_, topic, 1);
  produce(bootstrap_, topic, 20, {});
  const std::string json = ::testing::TempDir() + "/" + topic + ".json";
  std::ofstream(json) << R"({"version":1,"partitions":[{"topic":")" << topic
                      << R"(","partition":0,"offset":7}]})";
  const ToolRun deleted =
      kafka_tool("org.apache.kafka.tools.DeleteRecordsCommand",
                 "--bootstrap-server " + bootstrap_ + " --offset-json-file " + json);
  EXPECT_EQ(deleted.exit, 0) << deleted.output;
  EXPECT_NE(deleted.output.find("partition: " + topic + "-0\tlow_watermark: 7"), std::string::npos)
      << deleted.output;
  if (durable()) kappa_->kill9_and_restart();
  const ToolRun earliest =
      kafka_tool("org.apache.kafka.tools.GetOffsetShell",
                 "--bootstrap-server " + bootstrap_ + " --topic " + topic + " --time -2");
  EXPECT_EQ(earliest.exit, 0) << earliest.output;
  EXPECT_NE(earliest.output.find(topic + ":0:7"), std::string::npos) << earliest.output;
  const auto left = consume_all(bootstrap_, topic, 1, 13);
  ASSERT_EQ(left.size(), 13u);
  EXPECT_EQ(left.front().offset, 7);
  EXPECT_EQ(left.back().offset, 19);
}

// kafka-log-dirs.sh (LogDirsCommand) --describe --topic-list: one log dir per broker, listing
// every partition of the topics asked for with its size, bytes after producing and 0 for an
// empty partition, offset lag 0, no future logs. Our broker names its --data directory, and the
// sizes survive a kill -9 and a restart.
TEST_P(Compat, LogDirsToolListsEachPartitionWithItsSize) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("log_dirs");
  const std::string empty = unique("log_dirs_empty");
  create_topic(bootstrap_, topic, 3);
  create_topic(bootstrap_, empty, 1);
  produce(bootstrap_, topic, 30, {});
  // partition -> size, and the log dirs, of the tool's JSON line.
  struct Described {
    std::map<std::string, int64_t> sizes;
    std::vector<std::string> log_dirs;
    std::string output;
  };
  auto describe = [&] {
    const ToolRun run = kafka_tool(
        "org.apache.kafka.tools.LogDirsCommand",
        "--bootstrap-server " + bootstrap_ + " --describe --topic-list " + topic + "," + empty);
    EXPECT_EQ(run.exit, 0) << run.output;
    Described d;
    d.output = run.output;
    static const std::regex partition(
        R"re(\{"partition":"([^"]+)","size":(\d+),"offsetLag":0,"isFuture":false\})re");
    for (std::sregex_iterator m(run.output.begin(), run.output.end(), partition), end; m != end;
         ++m) {
      d.sizes[(*m)[1]] = std::stoll((*m)[2]);
    }
    static const std::regex log_dir(R"re("error":null,"logDir":"([^"]+)")re");
    for (std::sregex_iterator m(run.output.begin(), run.output.end(), log_dir), end; m != end; ++m)
      d.log_dirs.push_back((*m)[1]);
    return d;
  };
  const Described before = describe();
  ASSERT_EQ(before.log_dirs.size(), 1u) << before.output;
  if (is_kappa()) {
    EXPECT_EQ(before.log_dirs[0],
              durable() ? std::filesystem::absolute(kappa_->data()).lexically_normal().string()
                        : std::string("(in memory)"));
  }
  ASSERT_EQ(before.sizes.size(), 4u) << before.output;
  int64_t total = 0;
  for (int p = 0; p < 3; ++p) total += before.sizes.at(topic + "-" + std::to_string(p));
  EXPECT_GT(total, 30 * 30) << "30 records of some 30 bytes each, and their batches\n"
                            << before.output;
  EXPECT_EQ(before.sizes.at(empty + "-0"), 0) << before.output;
  if (!durable()) return;
  kappa_->kill9_and_restart();
  EXPECT_EQ(describe().sizes, before.sizes) << "durable sizes";
}

// kafka-console-producer.sh (kafka.tools.ConsoleProducer) with keys, read back by
// kafka-console-consumer.sh (ConsoleConsumer) in a group that commits what it read; on a topic of
// librdkafka transactions (committed, aborted, committed), the console consumer with
// --isolation-level read_committed and read_uncommitted, and kafka-get-offsets.sh with --time -1,
// -2 and -3 (the end offset counts the commit and abort markers).
TEST_P(Compat, ConsoleProducerConsumerReadCommittedAndGetOffsetsOnTransactions) {
  KAPPA_REQUIRE_SERVER(kafka_tools(), "Kafka tools");
  const std::string topic = unique("console");
  const std::string group = unique("console_group");
  create_topic(bootstrap_, topic, 2);
  Dir dir(unique("console_input"));
  {
    std::ofstream in(dir / "input.txt");
    for (int i = 0; i < 12; ++i) in << "key-" << i % 4 << ":value-" << i << "\n";
  }
  std::multiset<std::string> want;
  for (int i = 0; i < 12; ++i)
    want.insert("key-" + std::to_string(i % 4) + ":value-" + std::to_string(i));
  const ToolRun produced = kafka_tool(
      "kafka.tools.ConsoleProducer",
      "--bootstrap-server " + bootstrap_ + " --topic " + topic +
          " --property parse.key=true --property key.separator=: --producer-property acks=all < '" +
          dir / "input.txt" + "'");
  EXPECT_EQ(produced.exit, 0) << produced.output;
  const auto lines = [](const std::string& out) {
    std::multiset<std::string> got;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("key-", 0) == 0 || line.rfind("committed-", 0) == 0 ||
          line.rfind("aborted-", 0) == 0 || line.rfind("later-", 0) == 0) {
        got.insert(line);
      }
    }
    return got;
  };
  const auto console_consumer = [&](const std::string& t, const std::string& args) {
    return kafka_tool("org.apache.kafka.tools.consumer.ConsoleConsumer",
                      "--bootstrap-server " + bootstrap_ + " --topic " + t +
                          " --from-beginning --timeout-ms 20000 " + args);
  };

  // The transactions, while the console consumer reads the first topic.
  const std::string txn_topic = unique("console_txn");
  create_topic(bootstrap_, txn_topic, 2);
  auto read_keys = std::async(std::launch::async, [&] {
    return console_consumer(topic, "--max-messages 12 --group " + group +
                                       " --property print.key=true --property key.separator=:");
  });
  TxnProducer p(bootstrap_, unique("console_txn_id"));
  p.init();
  p.begin();
  p.send(txn_topic, 2, numbered("committed-", 10));
  p.commit();
  p.begin();
  p.send(txn_topic, 2, numbered("aborted-", 6));
  p.abort();
  p.begin();
  p.send(txn_topic, 2, numbered("later-", 4));
  p.commit();

  const auto offsets = [&](const std::string& time) {
    return kafka_tool(
        "org.apache.kafka.tools.GetOffsetShell",
        "--bootstrap-server " + bootstrap_ + " --topic " + txn_topic + " --time " + time);
  };
  auto committed_run = std::async(std::launch::async, [&] {
    return console_consumer(txn_topic, "--max-messages 14 --isolation-level read_committed");
  });
  auto uncommitted_run = std::async(std::launch::async, [&] {
    return console_consumer(txn_topic, "--max-messages 20 --isolation-level read_uncommitted");
  });
  auto latest = std::async(std::launch::async, [&] { return offsets("-1"); });
  auto earliest = std::async(std::launch::async, [&] { return offsets("-2"); });
  auto max_ts = std::async(std::launch::async, [&] { return offsets("-3"); });

  const ToolRun keyed = read_keys.get();
  EXPECT_EQ(keyed.exit, 0) << keyed.output;
  EXPECT_EQ(lines(keyed.output), want) << keyed.output;
  EXPECT_NE(keyed.output.find("Processed a total of 12 messages"), std::string::npos)
      << keyed.output;
  int64_t total = 0;
  for (int64_t o : committed(bootstrap_, group, topic, 2)) total += o;
  EXPECT_EQ(total, 12) << "the console consumer's group commits what it read";

  std::multiset<std::string> want_committed;
  for (const auto& v : numbered("committed-", 10)) want_committed.insert(v);
  for (const auto& v : numbered("later-", 4)) want_committed.insert(v);
  const ToolRun rc = committed_run.get();
  EXPECT_EQ(rc.exit, 0) << rc.output;
  EXPECT_EQ(lines(rc.output), want_committed) << rc.output;
  std::multiset<std::string> want_all = want_committed;
  for (const auto& v : numbered("aborted-", 6)) want_all.insert(v);
  const ToolRun ru = uncommitted_run.get();
  EXPECT_EQ(ru.exit, 0) << ru.output;
  EXPECT_EQ(lines(ru.output), want_all) << ru.output;

  // Per partition: 5 committed, a marker, 3 aborted, a marker, 2 later, a marker.
  const ToolRun end = latest.get();
  EXPECT_EQ(end.exit, 0) << end.output;
  const ToolRun begin = earliest.get();
  EXPECT_EQ(begin.exit, 0) << begin.output;
  const ToolRun max = max_ts.get();
  EXPECT_EQ(max.exit, 0) << max.output;
  for (int part = 0; part < 2; ++part) {
    const std::string tp = txn_topic + ":" + std::to_string(part) + ":";
    EXPECT_NE(end.output.find(tp + "13"), std::string::npos) << end.output;
    EXPECT_NE(begin.output.find(tp + "0"), std::string::npos) << begin.output;
    // The newest timestamp is the last commit marker's (offset 12), or, written in the same
    // millisecond, the last transaction's records' (offsets 10 and 11).
    EXPECT_TRUE(std::regex_search(max.output, std::regex("(^|\n)" + tp + "1[0-2]\n")))
        << max.output;
  }
}

// ---- other client libraries (tests/clients/run.sh) ----------------------------------------

// An operation `kappa broker` does not serve yet, with what its client reports; on our broker it
// must fail that way (so that the row is revisited when it is served), on Kafka pass.
struct KnownGap {
  std::string operation;
  std::string reported;  // a part of the client's FAIL line
};

// Runs one client library's program against the broker (installing it first, once per build
// folder) and expects each of `operations` to be reported "ok", but for the known gaps on our
// broker. Exit 77 is the script's skip: a registry that cannot be reached (under CI=true the
// script fails instead).
void client_library(const std::string& bootstrap, bool kappa, const std::string& client,
                    const std::vector<std::string>& operations,
                    const std::vector<KnownGap>& gaps = {}) {
  const std::filesystem::path source = test_servers::env_or("KAPPA_SOURCE_DIR", ".");
  const std::filesystem::path cache = std::filesystem::path(KAPPA_BINARY).parent_path() / "clients";
  std::string prefix = unique(client);
  std::replace(prefix.begin(), prefix.end(), '-', '_');
  const auto began = std::chrono::steady_clock::now();
  std::string out =
      run_capture("bash '" + (source / "tests/clients/run.sh").string() + "' " + client + " '" +
                  cache.string() + "' " + bootstrap + " " + prefix + " 2>&1; echo \"exit=$?\"");
  const auto at = out.rfind("exit=");
  ASSERT_NE(at, std::string::npos) << out;
  const int exit = std::atoi(out.c_str() + at + 5);
  out.resize(at);
  if (exit == 77) GTEST_SKIP() << out;
  std::map<std::string, std::string> ok, failed;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("ok   ", 0) == 0) ok[line.substr(5)] = line;
    if (line.rfind("FAIL ", 0) == 0) {
      const auto colon = line.find(": ");
      failed[line.substr(5, colon == std::string::npos ? colon : colon - 5)] = line;
    }
  }
  size_t expected_failures = 0;
  for (const auto& op : operations) {
    const auto gap = std::find_if(gaps.begin(), gaps.end(),
                                  [&](const KnownGap& g) { return g.operation == op; });
    if (kappa && gap != gaps.end()) {
      ++expected_failures;
      EXPECT_NE(failed[op].find(gap->reported), std::string::npos)
          << client << ": " << op << " is a known gap of kappa broker, reported as \""
          << gap->reported << "\"; now: " << (ok.count(op) ? ok[op] : failed[op]) << "\n"
          << out;
    } else {
      EXPECT_TRUE(ok.count(op)) << client << ": " << op << "\n" << out;
    }
  }
  EXPECT_EQ(failed.size(), expected_failures) << out;
  EXPECT_EQ(ok.size() + failed.size(), operations.size()) << "operations not listed here\n" << out;
  if (expected_failures == 0) {
    EXPECT_EQ(exit, 0) << out;
  }
  // The operations as the client reported them, its known gaps on our broker marked as such.
  std::istringstream report(out);
  for (std::string line; std::getline(report, line);) {
    if (line.rfind("FAIL ", 0) == 0 && kappa &&
        std::any_of(gaps.begin(), gaps.end(), [&](const KnownGap& g) {
          return line.rfind("FAIL " + g.operation + ":", 0) == 0;
        })) {
      line = "GAP  " + line.substr(5);
    }
    std::cout << line << "\n";
  }
  std::cout << client << ": "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - began)
                   .count()
            << " ms\n";
}

// kafka-python 3.0 (PyPI): KafkaAdminClient, a round trip through a consumer group, a
// transactional producer read by read_committed and read_uncommitted consumers, and the topic's
// partitions in the broker's log dirs.
TEST_P(Compat, KafkaPythonAdminClientAndRoundTrip) {
  client_library(bootstrap_, is_kappa(), "kafka-python",
                 {"admin.create_topics(2 partitions, retention.ms, cleanup.policy)",
                  "admin.describe_configs",
                  "admin.alter_configs then described back",
                  "admin.alter_configs(incremental=False)",
                  "admin.reset_configs(cleanup.policy)",
                  "admin.create_partitions(2 -> 3)",
                  "admin.describe_cluster",
                  "KafkaProducer.send x20 (keys, headers, acks=all)",
                  "KafkaConsumer in a group reads them and commits",
                  "admin.list_groups",
                  "admin.describe_groups",
                  "authorized operations of a group, a topic and the cluster",
                  "admin.list_group_offsets",
                  "KafkaProducer transactions: commit, abort, commit",
                  "KafkaConsumer read_committed sees the committed transactions only",
                  "KafkaConsumer read_uncommitted sees all three",
                  "admin.list_partition_offsets(LATEST, EARLIEST, MAX_TIMESTAMP)",
                  "admin.delete_group_offsets(one partition)",
                  "admin.delete_records then EARLIEST",
                  "admin.describe_log_dirs",
                  "admin.delete_groups",
                  "admin.delete_topics"});
}

// franz-go 1.22 (the Go module proxy; tests/clients/franz_go): kgo and kadm.
// Static membership (KIP-345), the same on both brokers: a member with group.instance.id
// "static-1" closes without leaving; a new client with the same instance id sends JoinGroup
// (member id "", group_instance_id "static-1") to the Stable group and is answered at once:
// error NONE, a new member id "static-1-<uuid>" taking the instance's place with its assignment,
// generation unchanged, no rebalance.
TEST_P(Compat, FranzGoKgoAndKadm) {
  client_library(
      bootstrap_, is_kappa(), "franz-go",
      {"kadm.CreateTopics(3 partitions, retention.ms)",
       "kadm.CreateTopics(transactional topic)",
       "kadm.ListTopics",
       "kadm.DescribeTopicConfigs",
       "kadm.AlterTopicConfigs then described back",
       "kgo.ProduceSync(30 records)",
       "kgo consumer group reads everything",
       "kgo.CommitUncommittedOffsets",
       "kadm.ListGroups",
       "kadm.DescribeGroups",
       "kgo.ProduceSync(5 more)",
       "kadm.Lag",
       "kadm.DeleteOffsets(one partition)",
       "kadm.DeleteGroups",
       "kgo static member (InstanceID) stays when closed, replaced by the next with its id",
       "kadm.CreatePartitions(+1)",
       "kadm.ListEndOffsets",
       "kadm.ListMaxTimestampOffsets",
       "kadm.DeleteRecords then ListStartOffsets",
       "kadm.CreateTopics of an existing topic: TOPIC_ALREADY_EXISTS",
       "kadm.CreateTopics refusing a bad config; ValidateCreateTopics creating nothing",
       "kadm.BrokerMetadata and DescribeBrokerConfigs",
       "kgo transactional producer fenced by a second one with its id",
       "kgo GroupTransactSession: abort, then commit each input once (TxnOffsetCommit)",
       "kgo transaction committed",
       "kgo transaction aborted",
       "kgo transaction committed again",
       "kgo read_committed sees the committed transactions only",
       "kgo read_uncommitted sees all three",
       "kadm.DeleteTopics"});
}

// kafkajs 2.2 (npm; tests/clients/kafkajs/package-lock.json): producer, consumer group, admin and
// a transaction.
TEST_P(Compat, KafkajsProducerConsumerAdminAndTransaction) {
  client_library(
      bootstrap_, is_kappa(), "kafkajs",
      {"admin.createTopics(2 partitions, retention.ms; and a transactional topic)",
       "admin.fetchTopicMetadata", "admin.describeConfigs", "producer.send x20 (keys, headers)",
       "consumer group reads them all and commits", "admin.resetOffsets(earliest)",
       "admin.setOffsets", "admin.listGroups and describeGroups", "admin.deleteGroups",
       "admin.createPartitions(2 -> 3)", "admin.fetchTopicOffsetsByTimestamp",
       "admin.deleteTopicRecords then fetchTopicOffsets", "admin.describeCluster",
       "transaction: commit, abort, commit",
       "consumer with readUncommitted false sees the committed transactions only",
       "consumer with readUncommitted true sees all three", "admin.deleteTopics"});
}

INSTANTIATE_TEST_SUITE_P(Brokers, Compat, ::testing::Values("kappa", "memory", "kafka"),
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
  // A frame of the right size whose header names an API we do not serve (DescribeAcls v3).
  const std::string unknown_api("\x00\x00\x00\x0a\x00\x1d\x00\x03\x00\x00\x00\x01\xff\xff", 14);
  EXPECT_TRUE(closes_after(broker.bootstrap(), unknown_api));
  // Metadata v1 whose topic array claims a million topics in 4 bytes.
  const std::string garbage(
      "\x00\x00\x00\x0e\x00\x03\x00\x01\x00\x00\x00\x02\xff\xff\x00\x0f\x42\x40", 18);
  EXPECT_TRUE(closes_after(broker.bootstrap(), garbage));
  const std::string log = broker.log();
  EXPECT_NE(log.find("a frame of 2147483647 bytes, expected 8 to 104857600"), std::string::npos)
      << log;
  EXPECT_NE(log.find("DescribeAcls v3, an API this broker does not serve"), std::string::npos)
      << log;
  EXPECT_NE(log.find("Metadata v1"), std::string::npos) << log;
  // And the broker goes on serving.
  const std::string topic = unique("after_bad_frames");
  create_topic(broker.bootstrap(), topic, 1);
  EXPECT_EQ(produce(broker.bootstrap(), topic, 10, {}).size(), 10u);
  EXPECT_EQ(consume_all(broker.bootstrap(), topic, 1, 10).size(), 10u);
}

TEST(KappaBrokerWire, ATransactionOpenAtAKill9IsAbortedByTheNextInstance) {
  KappaBroker broker("txn_kill9");
  const std::string topic = unique("txn_kill");
  create_topic(broker.bootstrap(), topic, 2);
  const std::string id = unique("txn_kill_id");
  auto zombie = std::make_unique<TxnProducer>(broker.bootstrap(), id);
  zombie->init();
  zombie->begin();
  zombie->send(topic, 2, numbered("first-", 6));
  zombie->commit();
  zombie->begin();
  zombie->send(topic, 2, numbered("open-", 6));  // acked, never committed

  broker.kill9_and_restart();
  // The open transaction holds read_committed readers at its first offset.
  std::multiset<std::string> first;
  for (const auto& v : numbered("first-", 6)) first.insert(v);
  EXPECT_EQ(values_of(read_to_end(broker.bootstrap(), topic, 2, "read_committed")), first);

  // A new instance of the transactional id aborts it and fences the old one.
  TxnProducer next(broker.bootstrap(), id);
  next.init();
  next.begin();
  next.send(topic, 2, numbered("second-", 4));
  next.commit();
  rd_kafka_error_t* fenced = rd_kafka_commit_transaction(zombie->get(), 10000);
  ASSERT_NE(fenced, nullptr) << "the old instance is fenced";
  EXPECT_TRUE(rd_kafka_error_is_fatal(fenced) || rd_kafka_error_txn_requires_abort(fenced))
      << rd_kafka_error_string(fenced);
  rd_kafka_error_destroy(fenced);
  zombie.reset();

  std::multiset<std::string> want = first;
  for (const auto& v : numbered("second-", 4)) want.insert(v);
  EXPECT_EQ(values_of(read_to_end(broker.bootstrap(), topic, 2, "read_committed")), want);
  // Every acked record is in the log: the aborted ones for read_uncommitted readers.
  for (const auto& v : numbered("open-", 6)) want.insert(v);
  EXPECT_EQ(values_of(read_to_end(broker.bootstrap(), topic, 2, "read_uncommitted")), want);

  broker.kill9_and_restart();
  EXPECT_EQ(values_of(read_to_end(broker.bootstrap(), topic, 2, "read_uncommitted")), want);
  want.clear();
  for (const auto& v : numbered("first-", 6)) want.insert(v);
  for (const auto& v : numbered("second-", 4)) want.insert(v);
  EXPECT_EQ(values_of(read_to_end(broker.bootstrap(), topic, 2, "read_committed")), want)
      << "the abort survives a kill -9 too";
}

TEST(KappaBrokerWire, BundledScenariosPassOverTheWire) {
  KappaBroker broker("scenarios");
  const std::string source = test_servers::env_or("KAPPA_SOURCE_DIR", ".");
  const std::string cmd = std::string(KAPPA_BINARY) + " test " + source +
                          "/scenarios --broker kafka://" + broker.bootstrap() + " 2>&1";
  const std::string out = run_capture(cmd + "; echo exit=$?");
  EXPECT_NE(out.find(" 0 failed"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=0"), std::string::npos) << out;
}

TEST(KappaBrokerWire, RunListenServesTheScenariosTopicsUntilCtrlC) {
  if (!have_kcat()) GTEST_SKIP() << "kcat is not installed";
  const Dir dir("run_listen");
  const std::string source = test_servers::env_or("KAPPA_SOURCE_DIR", ".");
  Child run({"run", "--listen", "127.0.0.1:0", source + "/scenarios/quickstart.json"},
            dir / "run.log");
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
  const std::string staged =
      run_capture("kcat -b " + address + " -C -t events_stages -o beginning -e -q -c 1");
  EXPECT_NE(staged.find("\"hello\":\"ssm-seoul\""), std::string::npos) << staged;
  const int status = run.stop(SIGINT);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << run.output();
}

}  // namespace
}  // namespace kappa
