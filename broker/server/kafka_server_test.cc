// KafkaServer on a socket, over a DiskBroker whose disk fails on purpose: an fdatasync that
// fails (injected through disk::IoFaults) and a disk that is full (a small tmpfs). The promise
// under test: a produce is acked only once its data is durable per the fsync policy; a storage
// failure answers KAFKA_STORAGE_ERROR for that partition, is logged with the file and the
// reason, and reads go on being served.
#include "broker/server/kafka_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "broker/disk/disk_broker.h"
#include "broker/disk/file.h"
#include "broker/protocol/error_codes.h"
#include "broker/protocol/messages.h"
#include "broker/protocol/record_batch.h"
#include "broker/protocol/wire.h"

namespace kappa {
namespace {

using namespace kafka;
namespace err = kafka_error;

class FailingSync final : public disk::IoFaults {
 public:
  std::atomic<bool> fail_sync{false};
  int before_write(const std::filesystem::path&) override { return 0; }
  int before_datasync(const std::filesystem::path& file) override {
    return fail_sync.load() && file.extension() == ".log" ? EIO : 0;
  }
};

// A blocking Kafka client of one connection, speaking just enough for these tests.
class Client {
 public:
  // `receive_buffer` > 0: SO_RCVBUF, set before connecting, for a client that reads slowly.
  explicit Client(uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  // Sends a request (header v1) and returns the response body.
  std::string call(int16_t key, int16_t version, const std::string& body) {
    if (!send_request(key, version, body)) return {};
    std::string size = recv_exact(4);
    if (size.size() != 4) return {};
    uint32_t n = 0;
    for (char c : size) n = (n << 8) | static_cast<unsigned char>(c);
    std::string response = recv_exact(n);
    return response.size() < 4 ? std::string() : response.substr(4);  // drop the correlation id
  }

  // Sends a fetch of partition 0 of `topic` from offset 0, up to `max_bytes`, without reading
  // the response.
  bool send_fetch(const std::string& topic, int32_t max_bytes) {
    FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = max_bytes;
    req.topics.push_back({topic, {{0, -1, 0, -1, max_bytes}}});
    return send_request(kFetch, 11, encode(req, 11));
  }

  // Reads until the server closes the connection or `seconds` pass; returns what came and
  // whether the connection was closed.
  std::pair<std::string, bool> read_until_closed(int seconds) {
    timeval timeout{seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string out;
    char chunk[65536];
    for (;;) {
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got == 0) return {out, true};
      if (got < 0) return {out, errno == ECONNRESET};
      out.append(chunk, static_cast<size_t>(got));
    }
  }

  // Closes at once with a reset (SO_LINGER 0), as a client that crashed.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  bool send_request(int16_t key, int16_t version, const std::string& body) {
    WireWriter w;
    w.i16(key);
    w.i16(version);
    w.i32(++correlation_);
    w.nullable_string(std::string("kafka_server_test"));
    std::string frame = w.take() + body;
    std::string sized(4, '\0');
    for (int i = 0; i < 4; ++i)
      sized[static_cast<size_t>(i)] = static_cast<char>(frame.size() >> (24 - 8 * i));
    return send_all(sized + frame);
  }

 public:
  ProduceResponse::Partition produce(const std::string& topic, const std::string& records) {
    ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topics.push_back({topic, {{0, std::string_view(records)}}});
    ProduceResponse resp;
    const std::string body = call(kProduce, 8, encode(req, 8));
    EXPECT_TRUE(decode(body, 8, resp).is_ok());
    if (resp.topics.empty() || resp.topics[0].partitions.empty()) return {};
    return resp.topics[0].partitions[0];
  }

  // Fetches partition 0 of `topic` from `offset`; returns the error and the high watermark.
  std::pair<int16_t, int64_t> fetch(const std::string& topic, int64_t offset, size_t* bytes) {
    FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.topics.push_back({topic, {{0, -1, offset, -1, 1 << 20}}});
    FetchResponse resp;
    const std::string body = call(kFetch, 11, encode(req, 11));
    EXPECT_TRUE(decode(body, 11, resp).is_ok());
    if (resp.topics.empty() || resp.topics[0].partitions.empty()) return {-100, -1};
    const auto& p = resp.topics[0].partitions[0];
    if (bytes != nullptr) *bytes = p.records ? p.records->size() : 0;
    return {p.error_code, p.high_watermark};
  }

 private:
  bool send_all(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }
  std::string recv_exact(size_t n) {
    std::string out(n, '\0');
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::recv(fd_, out.data() + done, n - done, 0);
      if (got <= 0) return out.substr(0, done);
      done += static_cast<size_t>(got);
    }
    return out;
  }

  int fd_ = -1;
  int32_t correlation_ = 0;
};

std::string batch_of(int n, size_t value_size) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i)
    values.push_back(std::string(value_size, static_cast<char>('a' + i % 26)));
  std::vector<OutgoingRecord> records(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    records[static_cast<size_t>(i)].value = values[static_cast<size_t>(i)];
    records[static_cast<size_t>(i)].timestamp_ms = 1000 + i;
  }
  return encode_record_batch(0, records);
}

// The broker log, as a server writes it.
struct Lines {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mu);
      lines.push_back(line);
    };
  }
  bool contains(const std::string& a, const std::string& b) {
    std::lock_guard lock(mu);
    for (const auto& l : lines) {
      if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
    }
    return false;
  }
};

struct Served {
  std::unique_ptr<DiskBroker> broker;
  std::unique_ptr<KafkaServer> server;
};

Served serve(const std::filesystem::path& dir, std::shared_ptr<disk::IoFaults> faults,
             Lines& lines) {
  DiskBroker::Options o;
  o.dir = dir;
  o.fsync = DiskBroker::FsyncPolicy::kAlways;
  o.faults = std::move(faults);
  Served s;
  auto broker = DiskBroker::open(o);
  EXPECT_TRUE(broker) << broker.status().to_string();
  if (!broker) return s;
  s.broker = std::move(*broker);
  KafkaServer::Options so;
  so.port = 0;
  so.log = lines.sink();
  auto server = KafkaServer::start(*s.broker, so);
  EXPECT_TRUE(server) << server.status().to_string();
  if (server) s.server = std::move(*server);
  return s;
}

std::filesystem::path scratch(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("kafka_server_test_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(KafkaServerStorageTest, AFailedFsyncIsAnsweredWithAStorageErrorNotAnAck) {
  const auto dir = scratch("fsync");
  auto faults = std::make_shared<FailingSync>();
  Lines lines;
  {
    Served s = serve(dir / "data", faults, lines);
    ASSERT_TRUE(s.server);
    Client c(s.server->port());
    ASSERT_TRUE(c.connected());
    auto ok = c.produce("events", batch_of(3, 10));
    EXPECT_EQ(ok.error_code, err::kNone);
    EXPECT_EQ(ok.base_offset, 0);

    faults->fail_sync = true;
    auto failed = c.produce("events", batch_of(2, 10));
    EXPECT_EQ(failed.error_code, err::kKafkaStorageError) << "the records are not durable";
    EXPECT_EQ(failed.base_offset, -1);
    ASSERT_TRUE(failed.error_message.has_value());
    EXPECT_NE(failed.error_message->find("fdatasync"), std::string::npos) << *failed.error_message;
    EXPECT_TRUE(lines.contains("fsync of events/0 failed", "00000000000000000000.log"));
    EXPECT_TRUE(lines.contains("fsync of events/0 failed", "Input/output error"));

    // Later writes: the partition no longer knows what its file holds, so it takes none until
    // the broker restarts, even once the disk is well again.
    faults->fail_sync = false;
    auto after = c.produce("events", batch_of(1, 10));
    EXPECT_EQ(after.error_code, err::kKafkaStorageError);
    EXPECT_TRUE(lines.contains("produce to events/0 failed", "reopen the broker"));

    // Reads go on being served.
    size_t bytes = 0;
    auto [fetch_error, high_watermark] = c.fetch("events", 0, &bytes);
    EXPECT_EQ(fetch_error, err::kNone);
    EXPECT_GE(high_watermark, 3);
    EXPECT_GT(bytes, 0u);
  }
  // A restart recovers the partition from what the file holds and takes writes again.
  Served s = serve(dir / "data", faults, lines);
  ASSERT_TRUE(s.server);
  Client c(s.server->port());
  auto again = c.produce("events", batch_of(1, 10));
  EXPECT_EQ(again.error_code, err::kNone);
  EXPECT_GE(again.base_offset, 3);
  s = {};
  std::filesystem::remove_all(dir);
}

// A full disk: a tmpfs of 256 KiB. Needs root (mount); CI runs as root and must not skip.
TEST(KafkaServerStorageTest, AFullDiskIsAStorageErrorAndTheAckedRecordsStayReadable) {
  const auto dir = scratch("full");
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") != 0) {
    const std::string why = std::strerror(errno);
    std::filesystem::remove_all(dir);
    if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
      FAIL() << "cannot mount a tmpfs for the disk-full test: " << why;
    }
    GTEST_SKIP() << "cannot mount a tmpfs (not root?): " << why;
  }
  // Room that the test gives back once the disk is full.
  const auto filler = dir / "filler";
  std::ofstream(filler) << std::string(64 * 1024, 'x');
  Lines lines;
  {
    Served s = serve(dir / "data", nullptr, lines);
    ASSERT_TRUE(s.server);
    Client c(s.server->port());
    const std::string batch = batch_of(8, 1000);  // about 8 KiB
    int64_t acked = 0;
    ProduceResponse::Partition last;
    for (int i = 0; i < 100; ++i) {
      last = c.produce("events", batch);
      if (last.error_code != err::kNone) break;
      EXPECT_EQ(last.base_offset, acked);
      acked += 8;
    }
    EXPECT_GT(acked, 0);
    EXPECT_EQ(last.error_code, err::kKafkaStorageError);
    ASSERT_TRUE(last.error_message.has_value());
    EXPECT_NE(last.error_message->find("No space left on device"), std::string::npos)
        << *last.error_message;
    EXPECT_TRUE(lines.contains("produce to events/0 failed", "No space left on device"));
    EXPECT_TRUE(lines.contains("produce to events/0 failed", ".log"));
    EXPECT_EQ(s.broker->offsets("events", 0)->end, acked) << "nothing of the failed batch is kept";

    // Every acked record is still served.
    size_t bytes = 0;
    auto [fetch_error, high_watermark] = c.fetch("events", 0, &bytes);
    EXPECT_EQ(fetch_error, err::kNone);
    EXPECT_EQ(high_watermark, acked);
    EXPECT_GT(bytes, 0u);

    // A write that failed was taken back, so the partition stays writable: once there is room
    // again, produces succeed where the acked records end.
    std::filesystem::remove(filler);
    auto again = c.produce("events", batch);
    EXPECT_EQ(again.error_code, err::kNone) << again.error_message.value_or("");
    EXPECT_EQ(again.base_offset, acked);
  }
  ::umount(dir.c_str());
  std::filesystem::remove_all(dir);
}

// The disk broker's fetches go out with sendfile(2) from the segment files. About 24 MiB in one
// fetch, to a client whose small receive buffer keeps the server waiting for room part-way.
constexpr int kSentBatches = 24;
constexpr int32_t kFetchAll = 48 << 20;

void fill(Client& c, const std::string& topic) {
  const std::string batch = batch_of(1000, 1000);  // about 1 MiB
  for (int i = 0; i < kSentBatches; ++i) ASSERT_EQ(c.produce(topic, batch).error_code, err::kNone);
}

// A disk broker served from `dir`, holding kSentBatches batches of about 1 MiB in events/0.
Served serve_filled(const std::filesystem::path& dir, Lines& lines) {
  Served s = serve(dir / "data", nullptr, lines);
  if (s.server) {
    Client c(s.server->port());
    fill(c, "events");
  }
  return s;
}

std::filesystem::path only_segment(const std::filesystem::path& partition_dir) {
  std::vector<std::filesystem::path> logs;
  for (const auto& e : std::filesystem::directory_iterator(partition_dir)) {
    if (e.path().extension() == ".log") logs.push_back(e.path());
  }
  EXPECT_EQ(logs.size(), 1u);
  return logs.empty() ? std::filesystem::path() : logs[0];
}

// A client that reads a whole fetch gets every stored byte, as sent from the file.
TEST(KafkaServerSendfileTest, AFetchFromTheSegmentFilesIsWhatTheyHold) {
  const auto dir = scratch("sendfile_whole");
  Lines lines;
  {
    Served s = serve_filled(dir, lines);
    ASSERT_TRUE(s.server);
    Client slow(s.server->port(), 16 << 10);
    ASSERT_TRUE(slow.send_fetch("events", kFetchAll));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server wait for room
    auto [got, closed] = slow.read_until_closed(1);
    EXPECT_FALSE(closed);
    ASSERT_GE(got.size(), 8u);
    FetchResponse resp;
    ASSERT_TRUE(decode(std::string_view(got).substr(8), 11, resp).is_ok());
    const auto& p = resp.topics.at(0).partitions.at(0);
    ASSERT_TRUE(p.records.has_value());
    auto stored = s.broker->read_batches("events", 0, 0, kFetchAll);
    ASSERT_TRUE(stored);
    EXPECT_EQ(p.records->size(), stored->bytes.size());
    EXPECT_TRUE(*p.records == stored->bytes);
    EXPECT_GT(p.records->size(), size_t{kSentBatches} * 1'000'000);
  }
  std::filesystem::remove_all(dir);
}

// A segment file cut shorter than the range being sent (the disk lost it, or someone truncated
// it): the server cannot finish the response, so it closes the connection and says why, rather
// than spinning on a file that has nothing more to give; other clients go on being served.
TEST(KafkaServerSendfileTest, AFileCutShorterWhileItIsSentClosesTheConnection) {
  const auto dir = scratch("sendfile_cut");
  Lines lines;
  {
    Served s = serve_filled(dir, lines);
    ASSERT_TRUE(s.server);
    Client slow(s.server->port(), 16 << 10);
    ASSERT_TRUE(slow.send_fetch("events", kFetchAll));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto segment = only_segment(dir / "data" / "topics" / "events-0");
    ASSERT_EQ(::truncate(segment.c_str(), 1 << 20), 0) << std::strerror(errno);
    auto [got, closed] = slow.read_until_closed(10);
    EXPECT_TRUE(closed) << "the connection must end, not hang";
    ASSERT_GE(got.size(), 4u);
    uint32_t frame = 0;
    for (int i = 0; i < 4; ++i) frame = (frame << 8) | static_cast<unsigned char>(got[size_t(i)]);
    EXPECT_GT(frame, uint32_t{kSentBatches} * 1'000'000) << "the response says it is whole";
    EXPECT_LT(got.size(), 4 + size_t{frame}) << "and it could not be";
    EXPECT_TRUE(lines.contains("closing the connection", "the file ends before byte"));
    EXPECT_TRUE(lines.contains("closing the connection", segment.filename().string()));
    Client other(s.server->port());
    EXPECT_EQ(other.produce("other", batch_of(3, 10)).error_code, err::kNone);
    size_t bytes = 0;
    EXPECT_EQ(other.fetch("other", 0, &bytes).first, err::kNone);
    EXPECT_GT(bytes, 0u);
  }
  std::filesystem::remove_all(dir);
}

// A client that goes away (a reset) in the middle of a sendfile: the connection ends, and the
// process, which would die of SIGPIPE if the signal reached it, goes on serving.
TEST(KafkaServerSendfileTest, AClientGoneInTheMiddleOfASendDoesNotEndTheProcess) {
  const auto dir = scratch("sendfile_gone");
  Lines lines;
  {
    Served s = serve_filled(dir, lines);
    ASSERT_TRUE(s.server);
    for (int i = 0; i < 3; ++i) {
      Client slow(s.server->port(), 16 << 10);
      ASSERT_TRUE(slow.send_fetch("events", kFetchAll));
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + 100 * i));
      slow.reset();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Client c(s.server->port());
    size_t bytes = 0;
    EXPECT_EQ(c.fetch("events", 0, &bytes).first, err::kNone);
    EXPECT_GT(bytes, 0u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kappa
