// `kappa broker --data DIR` against damage a crash cannot cause, as an operator meets it: 5,000
// records produced with librdkafka, the broker stopped (SIGTERM, or SIGKILL after a checkpoint
// interval), a file damaged, the broker restarted. It must exit with code 2 and a message naming
// the file and byte; with --repair it must start, log the lost offsets, and serve exactly the
// records that remain.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <memory>
#include <regex>

#include "tests/rdkafka_client.h"
#include "tests/test_processes.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;

constexpr int kRecords = 5000;
constexpr const char* kTopic = "events";
// About 560 KB of records in batches of 50: three segments, the active one with dozens of
// batches.
constexpr const char* kSegmentBytes = "200000";

using Client = RdKafkaClient;

Client client(rd_kafka_type_t type, const std::string& bootstrap, const RdKafkaConf& extra) {
  return make_rdkafka_client(type, bootstrap, extra);
}

std::string value_of(int i) {
  std::string v = "id-" + std::to_string(i) + "-";
  v.resize(100, 'x');
  return v;
}

// Produces records 0..kRecords-1 in order, acks=all, 50 to a batch.
void produce_all(const std::string& bootstrap) {
  Client p = client(RD_KAFKA_PRODUCER, bootstrap,
                    {{"acks", "all"},
                     {"batch.num.messages", "50"},
                     {"linger.ms", "5"},
                     {"max.in.flight.requests.per.connection", "1"}});
  for (int i = 0; i < kRecords; ++i) {
    const std::string v = value_of(i);
    rd_kafka_resp_err_t e;
    do {
      e = rd_kafka_producev(p.get(), RD_KAFKA_V_TOPIC(kTopic),
                            RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(p.get(), 10);
    } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  ASSERT_EQ(rd_kafka_flush(p.get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

// Reads partition 0 from its log start to its end; checks every record is the one produced at
// its offset. Returns {log start, end, records read}.
struct Read {
  int64_t start = -1, end = -1, records = 0;
};
Read consume_all(const std::string& bootstrap) {
  Client c = client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", "reader"}});
  Read r;
  EXPECT_EQ(rd_kafka_query_watermark_offsets(c.get(), kTopic, 0, &r.start, &r.end, 10000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, kTopic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(c.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  int64_t next = r.start;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (next < r.end && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      EXPECT_EQ(m->offset, next);
      const std::string v(static_cast<const char*>(m->payload), m->len);
      EXPECT_EQ(v, value_of(static_cast<int>(m->offset)));
      next = m->offset + 1;
      ++r.records;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c.get());
  return r;
}

// A `kappa broker` process on a data directory.
struct Broker {
  std::unique_ptr<Child> child;
  std::string bootstrap;
  int status = -1;  // waitpid's status once it exited by itself

  // Starts it; returns once it listens (true) or has exited (false).
  Broker(const std::string& data, const std::string& log, bool repair) {
    std::vector<std::string> args = {
        "broker", "--listen",        "127.0.0.1:0", "--data",
        data,     "--segment-bytes", kSegmentBytes, "--checkpoint-interval-ms",
        "200"};
    if (repair) args.push_back("--repair");
    child = std::make_unique<Child>(args, log);
    bootstrap = wait_listening([&] { return child->output(); },
                               [&] {
                                 if (::waitpid(child->pid, &status, WNOHANG) != child->pid)
                                   return false;
                                 child->pid = -1;
                                 return true;
                               });
  }
  bool up() const { return !bootstrap.empty(); }
  std::string output() const { return child->output(); }
};

// A batch of a segment file: where it starts and its first offset.
struct BatchAt {
  int64_t position, base;
};
std::vector<BatchAt> batches_of(const fs::path& log) {
  std::ifstream in(log, std::ios::binary);
  const std::string b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto be = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
    return v;
  };
  std::vector<BatchAt> out;
  for (size_t at = 0; at + 61 <= b.size(); at += 12 + be(at + 8, 4)) {
    out.push_back({static_cast<int64_t>(at), static_cast<int64_t>(be(at, 8))});
  }
  return out;
}

std::vector<fs::path> segments(const fs::path& data) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(data / "topics" / "events-0")) {
    if (e.path().extension() == ".log") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class BrokerCorruption : public ::testing::Test {
 protected:
  // Produces the records once for every case (stopped with `stop_signal`); each case damages
  // a copy.
  static void produce_into(const fs::path& data, int stop_signal, const Dir& dir) {
    Broker b(data.string(), dir / ("produce" + std::to_string(stop_signal) + ".log"), false);
    ASSERT_TRUE(b.up()) << b.output();
    produce_all(b.bootstrap);
    // Past the checkpoint interval: the recovery point on disk covers every acked record.
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    b.child->stop(stop_signal);
    ASSERT_GE(segments(data).size(), 3u);
  }

  // Copies `source` to a fresh data directory, damages it, and checks the refusal (exit code
  // 2 and every text of `refusal` in its message), then a --repair start that logs
  // "events/0: lost offsets [lost_from, lost_to)" and serves exactly the rest.
  void check(const fs::path& source, const std::string& name,
             const std::function<void(const fs::path&)>& damage,
             const std::vector<std::string>& refusal, int64_t lost_from, int64_t lost_to) {
    SCOPED_TRACE(name);
    const fs::path data = dir_.path / name;
    fs::copy(source, data, fs::copy_options::recursive);
    damage(data);

    Broker refused(data.string(), dir_ / (name + "-refused.log"), false);
    EXPECT_FALSE(refused.up()) << "started on a damaged directory: " << refused.output();
    EXPECT_TRUE(WIFEXITED(refused.status) && WEXITSTATUS(refused.status) == 2)
        << "status " << refused.status << ": " << refused.output();
    const std::string why = refused.output();
    for (const std::string& text : refusal) {
      EXPECT_NE(why.find(text), std::string::npos) << "no '" << text << "' in: " << why;
    }
    EXPECT_NE(why.find("--repair"), std::string::npos) << why;

    Broker repaired(data.string(), dir_ / (name + "-repaired.log"), true);
    ASSERT_TRUE(repaired.up()) << repaired.output();
    const std::string lost = "events/0: lost offsets [" + std::to_string(lost_from) + ", " +
                             std::to_string(lost_to) + ")";
    EXPECT_NE(repaired.output().find(lost), std::string::npos) << repaired.output();
    const Read r = consume_all(repaired.bootstrap);
    const int64_t start = lost_from == 0 ? lost_to : 0;
    const int64_t end = lost_from == 0 ? kRecords : lost_from;
    EXPECT_EQ(r.start, start);
    EXPECT_EQ(r.end, end);
    EXPECT_EQ(r.records, end - start);
    EXPECT_EQ(r.records, kRecords - (lost_to - lost_from));
    const int status = repaired.child->stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << repaired.output();

    // The checkpoints were rewritten to match: a plain restart is accepted.
    Broker again(data.string(), dir_ / (name + "-again.log"), false);
    EXPECT_TRUE(again.up()) << again.output();
  }

  Dir dir_{"broker_corruption"};
};

TEST_F(BrokerCorruption, DamageIsRefusedAndRepairCutsExactlyIt) {
  const fs::path clean = dir_.path / "clean";
  produce_into(clean, SIGTERM, dir_);
  if (HasFatalFailure()) return;
  const auto logs = segments(clean);
  const fs::path active_name = logs.back().filename();
  const auto active = batches_of(logs.back());
  ASSERT_GE(active.size(), 3u);
  const BatchAt middle = active[active.size() / 2];
  const int64_t last_base = std::stoll(logs.back().stem().string());
  const int64_t second_base = std::stoll(logs[1].stem().string());
  const auto seg = [](const fs::path& data, const fs::path& file) {
    return data / "topics" / "events-0" / file;
  };

  // The user's report: one flipped byte in the middle of the active segment.
  check(
      clean, "flipped",
      [&](const fs::path& data) {
        std::fstream f(seg(data, active_name), std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(middle.position + 100);
        const char c = static_cast<char>(f.get() ^ 0x04);
        f.seekp(middle.position + 100);
        f.put(c);
      },
      {active_name.string(), "at byte " + std::to_string(middle.position),
       "offset " + std::to_string(middle.base)},
      middle.base, kRecords);

  check(
      clean, "first_deleted",
      [&](const fs::path& data) {
        fs::remove(seg(data, logs[0].filename()));
        fs::remove(seg(data, fs::path(logs[0].filename()).replace_extension(".index")));
      },
      {logs[0].filename().string(), "[0, " + std::to_string(second_base) + ")"}, 0, second_base);

  check(
      clean, "last_deleted",
      [&](const fs::path& data) {
        fs::remove(seg(data, active_name));
        fs::remove(seg(data, fs::path(active_name).replace_extension(".index")));
      },
      {logs[logs.size() - 2].filename().string() + " at byte "}, last_base, kRecords);

  check(
      clean, "active_truncated_to_zero",
      [&](const fs::path& data) { fs::resize_file(seg(data, active_name), 0); },
      {active_name.string() + " at byte 0"}, last_base, kRecords);
}

TEST_F(BrokerCorruption, KilledThenTruncatedBelowTheRecoveryPoint) {
  const fs::path killed = dir_.path / "killed";
  produce_into(killed, SIGKILL, dir_);
  if (HasFatalFailure()) return;
  const auto logs = segments(killed);
  const fs::path active_name = logs.back().filename();
  const auto active = batches_of(logs.back());
  ASSERT_GE(active.size(), 3u);
  const BatchAt middle = active[active.size() / 2];
  check(
      killed, "truncated_at_batch",
      [&](const fs::path& data) {
        fs::resize_file(data / "topics" / "events-0" / active_name,
                        static_cast<uintmax_t>(middle.position));
      },
      {active_name.string() + " at byte " + std::to_string(middle.position),
       "recovery-point-offset-checkpoint"},
      middle.base, kRecords);
}

}  // namespace
}  // namespace kappa
