#include "bench/broker_bench.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "broker/result.h"
#include "pipeline/time/duration.h"

extern char** environ;

namespace kappa {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Settings = std::vector<std::pair<std::string, std::string>>;

constexpr int kAdminTimeoutMs = 30000;
constexpr int kStallSeconds = 30;  // a consumer that gets nothing for this long fails

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Options {
  int64_t messages = 1000000;
  int64_t size = 100;
  int64_t partitions = 1;
  int64_t runs = 3;
  std::string compression = "none";
  std::string fsync = "always";        // or "never", or "memory": no --data at all
  std::string listen = "127.0.0.1:0";  // the kappa broker's
  std::string kafka;                   // kafka://HOST:PORT[,...] or "none"
  int64_t kafka_pid = 0;               // 0: from kafka.pid
  std::string kfake = "none";  // the kfake-broker binary (scripts/build-kfake.sh), or "none"
};

// ---- librdkafka plumbing -------------------------------------------------------------------

// librdkafka logs from its own threads; warnings and errors go to `err` of the command.
std::mutex g_log_mu;
std::ostream* g_log = nullptr;

void log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level > 4) return;
  std::lock_guard lock(g_log_mu);
  if (g_log) *g_log << "kappa: librdkafka " << fac << ": " << buf << "\n";
}

struct Delivery {
  int64_t ok = 0;
  int64_t failed = 0;
  std::string first_error;
};

void dr_msg_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivery*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++d->ok;
  } else {
    if (d->failed++ == 0) d->first_error = rd_kafka_err2str(m->err);
  }
}

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

Result<Handle> make_client(rd_kafka_type_t type, const Settings& settings, bool quiet,
                           Delivery* delivery = nullptr) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::invalid_argument("librdkafka setting " + k + "=" + v + ": " + errstr);
    }
  }
  if (quiet) {
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
  } else {
    rd_kafka_conf_set_log_cb(conf, log_cb);
  }
  if (delivery) {
    rd_kafka_conf_set_opaque(conf, delivery);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::internal(std::string("rd_kafka_new: ") + errstr);
  }
  return Handle(rk);
}

// Waits until the cluster's metadata shows `topic` with `partitions` partitions, all led; or,
// with an empty topic, until the cluster answers a metadata request at all.
Status wait_for_metadata(rd_kafka_t* rk, const std::string& topic, int partitions, int timeout_ms) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last = "no answer";
  while (true) {
    rd_kafka_topic_t* rkt =
        topic.empty() ? nullptr : rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    const int remaining = static_cast<int>(std::max<int64_t>(
        100, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
                 .count()));
    const rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, std::min(remaining, 5000));
    if (rkt) rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last = rd_kafka_err2str(e);
    } else {
      bool ready = topic.empty();
      if (!ready && md->topic_cnt == 1) {
        const rd_kafka_metadata_topic_t& t = md->topics[0];
        if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          last = rd_kafka_err2str(t.err);
        } else if (t.partition_cnt != partitions) {
          last = std::to_string(t.partition_cnt) + " partitions";
        } else {
          ready = true;
          for (int i = 0; i < t.partition_cnt; ++i) {
            ready = ready && t.partitions[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    t.partitions[i].leader >= 0;
          }
          if (!ready) last = "partitions without a leader";
        }
      }
      rd_kafka_metadata_destroy(md);
      if (ready) return Status::ok();
    }
    if (SteadyClock::now() >= deadline) {
      return Status::unavailable(topic.empty() ? "no metadata: " + last
                                               : "topic " + topic + " not ready: " + last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Runs one admin request on `rk` and returns its result event (or an error).
template <typename Request>
Result<rd_kafka_event_t*> admin(rd_kafka_t* rk, rd_kafka_admin_op_t op, Request request) {
  char errstr[512];
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, op);
  rd_kafka_AdminOptions_set_request_timeout(opts, kAdminTimeoutMs, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_operation_timeout(opts, kAdminTimeoutMs, errstr, sizeof errstr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  request(opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, kAdminTimeoutMs + 5000);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  if (!ev) return Status::unavailable("no answer to the admin request");
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string m = rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
    return Status::internal(m);
  }
  return ev;
}

Status topic_results(const rd_kafka_topic_result_t** results, size_t n, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* m = rd_kafka_topic_result_error_string(results[i]);
      return Status::internal(std::string(what) + " " + rd_kafka_topic_result_name(results[i]) +
                              ": " +
                              (m ? m : rd_kafka_err2str(rd_kafka_topic_result_error(results[i]))));
    }
  }
  return Status::ok();
}

Status create_topic(rd_kafka_t* rk, const std::string& topic, int partitions,
                    const Settings& configs) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr);
  if (!nt) return Status::internal(std::string("CreateTopics: ") + errstr);
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  auto ev = admin(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS,
                  [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
                  });
  rd_kafka_NewTopic_destroy(nt);
  if (!ev)
    return Status(ev.status().code(), "CreateTopics " + topic + ": " + ev.status().message());
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(*ev), &n);
  Status s = topic_results(results, n, "CreateTopics");
  rd_kafka_event_destroy(*ev);
  return s;
}

Status delete_topic(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  auto ev = admin(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS,
                  [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                    rd_kafka_DeleteTopics(rk, &dt, 1, o, q);
                  });
  rd_kafka_DeleteTopic_destroy(dt);
  if (!ev) return ev.status();
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(*ev), &n);
  Status s = topic_results(results, n, "DeleteTopics");
  rd_kafka_event_destroy(*ev);
  return s;
}

// ---- the workload ----------------------------------------------------------------------------

// Message i: its index (8 bytes, little-endian) then `size - 8` bytes of pseudo-random lowercase
// text taken from a 1 MiB pool at an offset that depends on i, so values are distinct and about
// as compressible as text.
class Values {
 public:
  explicit Values(int64_t size) : size_(static_cast<size_t>(size)), value_(size_, '\0') {
    std::mt19937_64 rng(42);
    pool_.resize((1 << 20) + size_);
    for (char& c : pool_) {
      const uint64_t r = rng() % 32;
      c = r < 26 ? static_cast<char>('a' + r) : ' ';
    }
  }
  const char* at(int64_t i) {
    const uint64_t u = static_cast<uint64_t>(i);
    for (int b = 0; b < 8; ++b) value_[b] = static_cast<char>((u >> (8 * b)) & 0xff);
    const size_t off = (u * 7919) % (1 << 20);
    std::memcpy(value_.data() + 8, pool_.data() + off, size_ - 8);
    return value_.data();
  }

 private:
  size_t size_;
  std::string value_;
  std::string pool_;
};

int64_t index_of(const void* payload) {
  const auto* p = static_cast<const unsigned char*>(payload);
  uint64_t u = 0;
  for (int b = 0; b < 8; ++b) u |= static_cast<uint64_t>(p[b]) << (8 * b);
  return static_cast<int64_t>(u);
}

struct RunResult {
  double produce_s = 0;
  double consume_s = 0;
  // CPU seconds of the broker process and of this one (the client) in each phase; negative
  // when the broker's could not be read (a Kafka whose pid is unknown).
  double produce_cpu_s = -1, consume_cpu_s = -1;
  double produce_client_cpu_s = 0, consume_client_cpu_s = 0;
};

Result<double> produce(const std::string& bootstrap, const std::string& topic, const Options& o) {
  Delivery delivery;
  const int64_t queue_messages = std::clamp<int64_t>(o.messages + 1000, 100000, 10000000);
  auto rk = make_client(RD_KAFKA_PRODUCER,
                        {{"bootstrap.servers", bootstrap},
                         {"acks", "-1"},
                         {"linger.ms", "5"},
                         {"batch.size", "1000000"},
                         {"batch.num.messages", "10000"},
                         {"compression.codec", o.compression},
                         {"queue.buffering.max.messages", std::to_string(queue_messages)},
                         {"queue.buffering.max.kbytes", "2097151"},
                         {"message.timeout.ms", "300000"}},
                        false, &delivery);
  if (!rk) return rk.status();
  // Connected and the topic known before the clock starts.
  KAPPA_RETURN_IF_ERROR(
      wait_for_metadata(rk->get(), topic, static_cast<int>(o.partitions), kAdminTimeoutMs));
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk->get(), topic.c_str(), nullptr);
  Values values(o.size);
  const auto began = SteadyClock::now();
  for (int64_t i = 0; i < o.messages; ++i) {
    const int32_t partition = static_cast<int32_t>(i % o.partitions);
    while (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(values.at(i)),
                            static_cast<size_t>(o.size), nullptr, 0, nullptr) == -1) {
      const rd_kafka_resp_err_t e = rd_kafka_last_error();
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_topic_destroy(rkt);
        return Status::internal("produce of message " + std::to_string(i) + ": " +
                                rd_kafka_err2str(e));
      }
      rd_kafka_poll(rk->get(), 5);
    }
    if (i % 4096 == 0) rd_kafka_poll(rk->get(), 0);
  }
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk->get(), 600000);
  const double elapsed = seconds_since(began);
  rd_kafka_topic_destroy(rkt);
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::internal("flush: " + std::string(rd_kafka_err2str(flushed)) + " with " +
                            std::to_string(rd_kafka_outq_len(rk->get())) + " messages outstanding");
  }
  if (delivery.failed > 0 || delivery.ok != o.messages) {
    return Status::internal(
        std::to_string(delivery.ok) + " of " + std::to_string(o.messages) +
        " messages delivered, " + std::to_string(delivery.failed) + " failed" +
        (delivery.first_error.empty() ? "" : " (first: " + delivery.first_error + ")"));
  }
  return elapsed;
}

Result<double> consume(const std::string& bootstrap, const std::string& topic, const Options& o) {
  auto rk = make_client(
      RD_KAFKA_CONSUMER,
      {{"bootstrap.servers", bootstrap},
       {"group.id", "kappa-bench-" + topic},
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"},
       {"enable.partition.eof", "false"},
       {"auto.offset.reset", "earliest"},
       {"fetch.max.bytes", std::to_string(16 << 20)},
       {"max.partition.fetch.bytes", std::to_string(4 << 20)},
       {"check.crcs", "false"},
       // The whole run may wait in the client's queue: librdkafka 2.0 stops
       // fetching a partition whose queue is past these thresholds and looks
       // again only later, so with its defaults a broker that answers faster
       // than the application consumes gets stalls of its own making (runs
       // of one invocation went from 1.3 to 0.4 M/s with the CPUs idle).
       {"queued.min.messages", std::to_string(std::clamp<int64_t>(o.messages, 100000, 10000000))},
       {"queued.max.messages.kbytes", "2097151"}},
      false);
  if (!rk) return rk.status();
  KAPPA_RETURN_IF_ERROR(
      wait_for_metadata(rk->get(), topic, static_cast<int>(o.partitions), kAdminTimeoutMs));
  rd_kafka_poll_set_consumer(rk->get());
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(o.partitions));
  for (int32_t p = 0; p < o.partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk->get());
  std::vector<rd_kafka_message_t*> batch(10000);
  std::vector<bool> seen(static_cast<size_t>(o.messages));
  int64_t count = 0;
  Status failure;

  const auto began = SteadyClock::now();
  const rd_kafka_resp_err_t assigned = rd_kafka_assign(rk->get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  auto last_progress = SteadyClock::now();
  while (assigned == RD_KAFKA_RESP_ERR_NO_ERROR && failure.is_ok() && count < o.messages) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 1000, batch.data(), batch.size());
    if (n < 0) {
      failure =
          Status::internal(std::string("consume: ") + rd_kafka_err2str(rd_kafka_last_error()));
      break;
    }
    for (ssize_t k = 0; k < n; ++k) {
      const rd_kafka_message_t* m = batch[k];
      if (failure.is_ok()) {
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          failure = Status::internal("consume after " + std::to_string(count) +
                                     " messages: " + rd_kafka_message_errstr(m));
        } else if (static_cast<int64_t>(m->len) != o.size) {
          failure = Status::internal("message at offset " + std::to_string(m->offset) + " has " +
                                     std::to_string(m->len) + " bytes, expected " +
                                     std::to_string(o.size));
        } else {
          const int64_t i = index_of(m->payload);
          if (i < 0 || i >= o.messages || seen[static_cast<size_t>(i)]) {
            failure = Status::internal(
                "message at partition " + std::to_string(m->partition) + " offset " +
                std::to_string(m->offset) + " has index " + std::to_string(i) +
                (i >= 0 && i < o.messages ? ", seen before" : ", out of range"));
          } else {
            seen[static_cast<size_t>(i)] = true;
            ++count;
          }
        }
      }
      rd_kafka_message_destroy(batch[k]);
    }
    if (n > 0) {
      last_progress = SteadyClock::now();
    } else if (seconds_since(last_progress) > kStallSeconds) {
      failure = Status::internal("consumed " + std::to_string(count) + " of " +
                                 std::to_string(o.messages) + " messages, then nothing for " +
                                 std::to_string(kStallSeconds) + " s");
    }
  }
  const double elapsed = seconds_since(began);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk->get());
  if (assigned != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::internal(std::string("assign: ") + rd_kafka_err2str(assigned));
  if (!failure.is_ok()) return failure;
  return elapsed;
}

// ---- targets ---------------------------------------------------------------------------------

std::string tail_of(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string s;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    s += "  " + all[i] + "\n";
  return s;
}

// A field of /proc/PID/status in kB ("VmHWM", "VmRSS"), or nullopt.
std::optional<int64_t> proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      try {
        return std::stoll(line.substr(field.size() + 1));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

// A broker as a child of this process, on a fresh data dir: `kappa broker`, or kfake-broker. It
// prints "... listening on HOST:PORT" on stdout when ready; "{data}" in its arguments is the
// data dir.
class KappaBroker {
 public:
  static Result<std::unique_ptr<KappaBroker>> start(const std::string& fsync,
                                                    const std::string& listen) {
    char exe[4096];
    const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
      return Status::internal("readlink /proc/self/exe: " + std::string(std::strerror(errno)));
    exe[len] = '\0';
    std::vector<std::string> args = {exe, "broker", "--listen", listen};
    if (fsync != "memory") {
      for (const char* a : {"--data", "{data}", "--fsync"}) args.emplace_back(a);
      args.push_back(fsync);
    }
    return spawn("kappa broker", std::move(args));
  }
  // kfake-broker in the mode like `fsync`'s: -data -sync, -data, or in memory.
  static Result<std::unique_ptr<KappaBroker>> start_kfake(const std::string& binary,
                                                          const std::string& fsync) {
    std::vector<std::string> args = {binary, "-port", "0"};
    if (fsync != "memory") {
      args.emplace_back("-data");
      args.emplace_back("{data}");
    }
    if (fsync == "always") args.emplace_back("-sync");
    return spawn("kfake", std::move(args));
  }

  static Result<std::unique_ptr<KappaBroker>> spawn(std::string name,
                                                    std::vector<std::string> args) {
    std::unique_ptr<KappaBroker> b(new KappaBroker);
    b->name_ = std::move(name);
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "kappa-bench-broker-XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
      return Status::internal("mkdtemp: " + std::string(std::strerror(errno)));
    b->dir_ = tmpl;
    b->log_ = b->dir_ + "/broker.log";
    const std::string data = b->dir_ + "/data";
    for (auto& a : args) {
      if (a == "{data}") a = data;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      return Status::internal("pipe: " + std::string(std::strerror(errno)));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, b->log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    const int spawned =
        ::posix_spawn(&b->pid_, args[0].c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    b->out_ = fds[0];
    if (spawned != 0) {
      b->pid_ = -1;
      return Status::internal("spawning " + args[0] + ": " + std::strerror(spawned));
    }
    // Wait for "...listening on HOST:PORT".
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    std::string seen;
    while (true) {
      const size_t at = seen.find("listening on ");
      if (at != std::string::npos) {
        const size_t end = seen.find_first_of(" \n", at + 13);
        if (end != std::string::npos) {
          b->bootstrap_ = seen.substr(at + 13, end - at - 13);
          return b;
        }
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
              .count();
      if (left <= 0) return b->failed("did not print 'listening on' within 30 s");
      pollfd pfd{b->out_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(b->out_, buf, sizeof buf);
      if (n <= 0) return b->failed("exited before listening");
      seen.append(buf, static_cast<size_t>(n));
    }
  }

  ~KappaBroker() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  const std::string& bootstrap() const { return bootstrap_; }
  pid_t pid() const { return pid_; }

  // SIGTERM, then up to 30 s for it to exit (SIGKILL after); an unclean exit is an error.
  Status stop() {
    if (pid_ <= 0) return Status::ok();
    ::kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (SteadyClock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return Status::internal(name_ + " did not exit within 30 s of SIGTERM; killed\n" +
                                tail_of(log_, 20));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    if (WIFSIGNALED(status)) {
      return Status::internal(name_ + " died of signal " + std::to_string(WTERMSIG(status)) + " (" +
                              strsignal(WTERMSIG(status)) + ") after SIGTERM; its stderr:\n" +
                              tail_of(log_, 20));
    }
    if (WEXITSTATUS(status) != 0) {
      return Status::internal(name_ + " exited with status " + std::to_string(WEXITSTATUS(status)) +
                              " after SIGTERM; its stderr:\n" + tail_of(log_, 20));
    }
    return Status::ok();
  }

 private:
  KappaBroker() = default;
  Status failed(const std::string& what) {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    return Status::internal(name_ + " " + what + "; its stderr (" + log_ + "):\n" +
                            tail_of(log_, 20));
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string name_, dir_, log_, bootstrap_;
};

// The CPU time of every thread of process `pid` so far, in seconds: the sum of the first field
// (nanoseconds on a CPU) of /proc/PID/task/*/schedstat; nullopt when it cannot be read.
std::optional<double> cpu_seconds(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::filesystem::directory_iterator it(tasks, ec);
  if (ec) return std::nullopt;
  int64_t ns = 0;
  for (const auto& task : it) {
    std::ifstream in(task.path() / "schedstat");
    int64_t run_ns = 0;
    if (in >> run_ns) ns += run_ns;
  }
  return static_cast<double>(ns) / 1e9;
}

// This process's CPU time so far (every thread, also those that ended: the clients' own).
double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// A cluster under test: `kappa broker` or kfake as a child of this process, or a running Kafka.
struct Target {
  std::string name;  // kappa, kfake or kafka
  std::string bootstrap;
  // A cluster that keeps its state: its topics have retention.ms=-1 and file.delete.delay.ms=0,
  // and are deleted after all the runs (delete_topics), so that no run shares the machine with
  // the deletion of another's files.
  bool kafka = false;
  std::optional<pid_t> pid;  // the broker process, for its CPU and memory figures
  Handle admin;
  int64_t stamp = 0;  // in its topics' names
  std::vector<std::string> topics;
  std::vector<RunResult> runs;
};

void delete_topics(Target& t, std::ostream& err) {
  if (!t.kafka || !t.admin) return;
  for (const std::string& topic : t.topics) {
    if (Status s = delete_topic(t.admin.get(), topic); !s.is_ok()) {
      err << "kappa: note: could not delete " << topic << ": " << s.message() << "\n";
    }
  }
  t.topics.clear();
}

Status prepare(Target& t) {
  auto admin_client = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", t.bootstrap}}, false);
  if (!admin_client) return admin_client.status();
  KAPPA_RETURN_IF_ERROR(wait_for_metadata(admin_client->get(), "", 0, kAdminTimeoutMs));
  t.admin = std::move(*admin_client);
  t.stamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return Status::ok();
}

// Run `r` against one cluster, on a fresh topic.
Status run_once(Target& t, int64_t r, const Options& o) {
  const std::string topic = "kappa-bench-" + t.name + "-" + std::to_string(::getpid()) + "-" +
                            std::to_string(t.stamp) + "-" + std::to_string(r);
  Settings configs;
  if (t.kafka) {
    configs.push_back({"retention.ms", "-1"});
    configs.push_back({"file.delete.delay.ms", "0"});
  }
  KAPPA_RETURN_IF_ERROR(
      create_topic(t.admin.get(), topic, static_cast<int>(o.partitions), configs));
  t.topics.push_back(topic);
  // Untimed: what earlier runs left dirty in the page cache goes to disk now, not as background
  // writeback under this run.
  ::sync();
  auto broker_cpu = [&]() -> double {
    const auto s = t.pid ? cpu_seconds(*t.pid) : std::nullopt;
    return s ? *s : -1;
  };
  RunResult run;
  const double b0 = broker_cpu(), c0 = own_cpu_seconds();
  auto p = produce(t.bootstrap, topic, o);
  if (!p)
    return Status(p.status().code(),
                  t.name + " run " + std::to_string(r) + ": produce: " + p.status().message());
  run.produce_s = *p;
  const double b1 = broker_cpu(), c1 = own_cpu_seconds();
  auto c = consume(t.bootstrap, topic, o);
  if (!c)
    return Status(c.status().code(),
                  t.name + " run " + std::to_string(r) + ": consume: " + c.status().message());
  run.consume_s = *c;
  const double b2 = broker_cpu(), c2 = own_cpu_seconds();
  if (b0 >= 0 && b1 >= 0 && b2 >= 0) {
    run.produce_cpu_s = b1 - b0;
    run.consume_cpu_s = b2 - b1;
  }
  run.produce_client_cpu_s = c1 - c0;
  run.consume_client_cpu_s = c2 - c1;
  t.runs.push_back(run);
  return Status::ok();
}

// ---- output ----------------------------------------------------------------------------------

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

struct Medians {
  double produce_msgs = 0, consume_msgs = 0;
  double produce_cpu_ns = -1, consume_cpu_ns = -1;  // the broker's, per message
};

Medians print_target(std::ostream& out, const Target& t, const Options& o) {
  const double n = static_cast<double>(o.messages);
  const double mb = n * static_cast<double>(o.size) / 1e6;
  std::vector<double> pm, cm, pc, cc, pcc, ccc;
  for (size_t r = 0; r < t.runs.size(); ++r) {
    const std::string prefix = "broker." + t.name + ".run" + std::to_string(r + 1) + ".";
    const RunResult& run = t.runs[r];
    pm.push_back(n / run.produce_s);
    cm.push_back(n / run.consume_s);
    out << prefix << "produce_msgs_per_s " << static_cast<int64_t>(n / run.produce_s) << "\n";
    out << prefix << "produce_mb_per_s " << fixed(mb / run.produce_s, 1) << "\n";
    out << prefix << "consume_msgs_per_s " << static_cast<int64_t>(n / run.consume_s) << "\n";
    out << prefix << "consume_mb_per_s " << fixed(mb / run.consume_s, 1) << "\n";
    if (run.produce_cpu_s >= 0) {
      pc.push_back(run.produce_cpu_s * 1e9 / n);
      cc.push_back(run.consume_cpu_s * 1e9 / n);
      out << prefix << "produce_cpu_ns_per_msg " << fixed(pc.back(), 0) << "\n";
      out << prefix << "consume_cpu_ns_per_msg " << fixed(cc.back(), 0) << "\n";
    }
    pcc.push_back(run.produce_client_cpu_s * 1e9 / n);
    ccc.push_back(run.consume_client_cpu_s * 1e9 / n);
  }
  Medians m{median(pm), median(cm)};
  const double bytes_per_msg = static_cast<double>(o.size) / 1e6;
  out << "broker." << t.name << ".produce_msgs_per_s " << static_cast<int64_t>(m.produce_msgs)
      << "\n";
  out << "broker." << t.name << ".produce_mb_per_s " << fixed(m.produce_msgs * bytes_per_msg, 1)
      << "\n";
  out << "broker." << t.name << ".consume_msgs_per_s " << static_cast<int64_t>(m.consume_msgs)
      << "\n";
  out << "broker." << t.name << ".consume_mb_per_s " << fixed(m.consume_msgs * bytes_per_msg, 1)
      << "\n";
  if (!pc.empty()) {
    m.produce_cpu_ns = median(pc);
    m.consume_cpu_ns = median(cc);
    out << "broker." << t.name << ".produce_cpu_ns_per_msg " << fixed(m.produce_cpu_ns, 0) << "\n";
    out << "broker." << t.name << ".consume_cpu_ns_per_msg " << fixed(m.consume_cpu_ns, 0) << "\n";
  }
  out << "broker." << t.name << ".produce_client_cpu_ns_per_msg " << fixed(median(pcc), 0) << "\n";
  out << "broker." << t.name << ".consume_client_cpu_ns_per_msg " << fixed(median(ccc), 0) << "\n";
  return m;
}

// kappa ÷ peer: throughput (above 1: kappa is faster) and the broker's CPU per message (below
// 1: kappa uses less).
void print_ratios(std::ostream& out, const std::string& suffix, const Medians& kappa,
                  const Medians& peer) {
  out << "broker.throughput_ratio" << suffix << ".produce "
      << fixed(kappa.produce_msgs / peer.produce_msgs, 3) << "\n";
  out << "broker.throughput_ratio" << suffix << ".consume "
      << fixed(kappa.consume_msgs / peer.consume_msgs, 3) << "\n";
  if (kappa.produce_cpu_ns > 0 && peer.produce_cpu_ns > 0 && peer.consume_cpu_ns > 0) {
    out << "broker.cpu_ratio" << suffix << ".produce "
        << fixed(kappa.produce_cpu_ns / peer.produce_cpu_ns, 3) << "\n";
    out << "broker.cpu_ratio" << suffix << ".consume "
        << fixed(kappa.consume_cpu_ns / peer.consume_cpu_ns, 3) << "\n";
  }
}

std::optional<pid_t> kafka_pid(const Options& o, std::string& tried) {
  if (o.kafka_pid > 0) return static_cast<pid_t>(o.kafka_pid);
  std::vector<std::string> files;
  if (const char* d = std::getenv("KAPPA_KAFKA_DIR"); d && *d)
    files.push_back(std::string(d) + "/kafka.pid");
  files.push_back("build/kafka/kafka.pid");
  if (const char* d = std::getenv("KAPPA_SOURCE_DIR"); d && *d)
    files.push_back(std::string(d) + "/build/kafka/kafka.pid");
  for (const auto& f : files) {
    tried += (tried.empty() ? "" : ", ") + f;
    std::ifstream in(f);
    int64_t pid = 0;
    if (in >> pid && pid > 0 && proc_status_kb(static_cast<pid_t>(pid), "VmHWM"))
      return static_cast<pid_t>(pid);
  }
  return std::nullopt;
}

Result<int64_t> parse_int(const std::string& flag, const std::string& text, int64_t min,
                          int64_t max) {
  if (auto v = parse_integer(text); v && *v >= min && *v <= max) return *v;
  return Status::invalid_argument(flag + " expects an integer from " + std::to_string(min) +
                                  " to " + std::to_string(max) + ", got '" + text + "'");
}

Result<Options> parse(const std::vector<std::string>& args) {
  Options o;
  if (const char* k = std::getenv("KAPPA_TEST_KAFKA"); k && *k) o.kafka = k;
  if (o.kafka.empty()) o.kafka = "kafka://127.0.0.1:9092";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    static const char* kFlags[] = {"--messages",  "--size",        "--partitions", "--runs",
                                   "--kafka-pid", "--compression", "--fsync",      "--kafka",
                                   "--kfake",     "--listen"};
    if (std::find(std::begin(kFlags), std::end(kFlags), a) == std::end(kFlags)) {
      return Status::invalid_argument("unknown option " + a + " for bench broker");
    }
    if (i + 1 >= args.size()) return Status::invalid_argument(a + " needs a value");
    const std::string& v = args[++i];
    auto number = [&](int64_t& field, int64_t min, int64_t max) -> Status {
      auto n = parse_int(a, v, min, max);
      if (!n) return n.status();
      field = *n;
      return Status::ok();
    };
    if (a == "--messages") {
      KAPPA_RETURN_IF_ERROR(number(o.messages, 1, int64_t{1} << 40));
    } else if (a == "--size") {
      KAPPA_RETURN_IF_ERROR(number(o.size, 8, 1000000));
    } else if (a == "--partitions") {
      KAPPA_RETURN_IF_ERROR(number(o.partitions, 1, 10000));
    } else if (a == "--runs") {
      KAPPA_RETURN_IF_ERROR(number(o.runs, 1, 1000));
    } else if (a == "--kafka-pid") {
      KAPPA_RETURN_IF_ERROR(number(o.kafka_pid, 1, 1 << 30));
    } else if (a == "--compression") {
      if (v != "none" && v != "gzip" && v != "snappy" && v != "lz4" && v != "zstd") {
        return Status::invalid_argument(
            "--compression expects none, gzip, snappy, lz4 or zstd, got '" + v + "'");
      }
      o.compression = v;
    } else if (a == "--fsync") {
      if (v != "always" && v != "never" && v != "memory") {
        return Status::invalid_argument("--fsync expects always, never or memory, got '" + v + "'");
      }
      o.fsync = v;
    } else if (a == "--kfake") {
      if (v != "none" && ::access(v.c_str(), X_OK) != 0) {
        return Status::invalid_argument(
            "--kfake expects the kfake-broker binary "
            "(bash scripts/build-kfake.sh prints it) or none, got '" +
            v + "'");
      }
      o.kfake = v;
    } else if (a == "--listen") {
      const size_t colon = v.rfind(':');
      if (colon == std::string::npos || colon == 0 || !parse_integer(v.substr(colon + 1))) {
        return Status::invalid_argument("--listen expects HOST:PORT, got '" + v + "'");
      }
      o.listen = v;
    } else if (a == "--kafka") {
      if (v != "none" &&
          (v.rfind("kafka://", 0) != 0 || v.size() == 8 || v.find('/', 8) != std::string::npos)) {
        return Status::invalid_argument(
            "--kafka expects kafka://HOST:PORT[,HOST:PORT...] or none, got '" + v + "'");
      }
      o.kafka = v;
    } else {
      return Status::invalid_argument("unknown option " + a + " for bench broker");
    }
  }
  if (o.kafka != "none" && o.kafka.rfind("kafka://", 0) != 0) {
    return Status::invalid_argument("KAPPA_TEST_KAFKA expects kafka://HOST:PORT, got '" + o.kafka +
                                    "'");
  }
  return o;
}

}  // namespace

int broker_bench_command(const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err) {
  auto parsed = parse(args);
  if (!parsed) {
    err << "kappa: " << parsed.status().message() << "\n";
    return 2;
  }
  const Options& o = *parsed;
  {
    std::lock_guard lock(g_log_mu);
    g_log = &err;
  }
  out << "# messages " << o.messages << " size " << o.size << " partitions " << o.partitions
      << " runs " << o.runs << " compression " << o.compression << " fsync " << o.fsync
      << std::endl;
  if (double load[3]; ::getloadavg(load, 3) == 3) {
    out << "# load average " << fixed(load[0], 2) << " " << fixed(load[1], 2) << " "
        << fixed(load[2], 2) << std::endl;
  }

  // The brokers: ours and kfake as children, each on a fresh data dir kept until the end (a
  // directory removed between runs would have the disk discard it under the next one).
  std::vector<Target> targets;
  std::vector<std::unique_ptr<KappaBroker>> children;
  auto start_child = [&](const char* name, Result<std::unique_ptr<KappaBroker>> child,
                         const std::string& what) -> bool {
    if (!child) {
      err << "kappa: bench broker: " << child.status().message() << "\n";
      return false;
    }
    out << "# " << name << " pid " << (*child)->pid() << " on " << (*child)->bootstrap() << what
        << std::endl;
    Target t;
    t.name = name == std::string("kappa broker") ? "kappa" : name;
    t.bootstrap = (*child)->bootstrap();
    t.pid = (*child)->pid();
    targets.push_back(std::move(t));
    children.push_back(std::move(*child));
    return true;
  };
  if (!start_child("kappa broker", KappaBroker::start(o.fsync, o.listen), "")) return 1;
  if (o.kfake != "none") {
    const char* mode = o.fsync == "always"  ? " (DataDir, SyncWrites)"
                       : o.fsync == "never" ? " (DataDir)"
                                            : " (in memory)";
    if (!start_child("kfake", KappaBroker::start_kfake(o.kfake, o.fsync), mode)) return 1;
  }
  if (o.kafka == "none") {
    out << "# note: kafka skipped (--kafka none)\n";
  } else {
    const std::string bootstrap = o.kafka.substr(8);
    auto probe = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}}, true);
    if (!probe) {
      err << "kappa: bench broker: " << probe.status().message() << "\n";
      return 1;
    }
    if (Status s = wait_for_metadata(probe->get(), "", 0, 5000); !s.is_ok()) {
      out << "# note: kafka at " << o.kafka << " unreachable (" << s.message() << "); skipped\n";
    } else {
      Target t;
      t.name = "kafka";
      t.bootstrap = bootstrap;
      t.kafka = true;
      std::string tried;
      t.pid = kafka_pid(o, tried);
      if (!t.pid) {
        out << "# note: no running Kafka pid found (--kafka-pid, or " << tried
            << "); memory and CPU figures skipped\n";
      }
      targets.push_back(std::move(t));
    }
  }
  for (Target& t : targets) {
    if (Status s = prepare(t); !s.is_ok()) {
      err << "kappa: bench broker: " << t.name << ": " << s.message() << "\n";
      return 1;
    }
  }

  // Run by run, each cluster in turn, so that they see the same machine.
  for (int64_t r = 1; r <= o.runs; ++r) {
    for (Target& t : targets) {
      if (Status s = run_once(t, r, o); !s.is_ok()) {
        err << "kappa: bench broker: " << s.message() << "\n";
        for (Target& u : targets) delete_topics(u, err);
        return 1;
      }
    }
  }

  // Peak memory, read before stopping; the figures stand even if a broker then stops badly
  // (that is reported, not fatal).
  std::vector<double> peak_mb(targets.size(), 0);
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i].pid) continue;
    if (const auto hwm = proc_status_kb(*targets[i].pid, "VmHWM")) {
      peak_mb[i] = static_cast<double>(*hwm) / 1024;
    } else {
      out << "# note: could not read the VmHWM of " << targets[i].name << "\n";
    }
  }
  for (Target& t : targets) {
    delete_topics(t, err);
    t.admin.reset();  // not left to see its broker go away
  }
  for (auto& child : children) {
    if (Status s = child->stop(); !s.is_ok()) {
      err << "kappa: bench broker: " << s.message();
      const std::string& m = s.message();
      out << "# note: " << m.substr(0, m.find(';')) << "\n";
    }
  }

  const Medians kappa = print_target(out, targets[0], o);
  if (peak_mb[0] > 0) out << "broker.kappa.peak_rss_mb " << fixed(peak_mb[0], 1) << "\n";
  for (size_t i = 1; i < targets.size(); ++i) {
    const Target& t = targets[i];
    const Medians peer = print_target(out, t, o);
    const std::string suffix = t.kafka ? "" : "_" + t.name;
    if (peak_mb[i] > 0)
      out << "broker." << t.name << ".peak_rss_mb " << fixed(peak_mb[i], 1) << "\n";
    if (t.kafka && t.pid) {
      if (const auto rss = proc_status_kb(*t.pid, "VmRSS"))
        out << "broker.kafka.rss_mb " << fixed(static_cast<double>(*rss) / 1024, 1) << "\n";
    }
    print_ratios(out, suffix, kappa, peer);
    if (peak_mb[0] > 0 && peak_mb[i] > 0)
      out << "broker.memory_ratio" << suffix << " " << fixed(peak_mb[0] / peak_mb[i], 3) << "\n";
  }
  out << std::flush;
  return 0;
}

}  // namespace kappa
