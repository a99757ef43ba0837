#include "broker/disk/disk_broker.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <iterator>
#include <limits>
#include <system_error>
#include <utility>

#include "broker/disk/compactor.h"
#include "broker/disk/descriptors.h"
#include "broker/disk/file.h"
#include "broker/disk/group_offset_log.h"
#include "broker/disk/partition_store.h"
#include "broker/partitioner.h"
#include "broker/protocol/batch_records.h"
#include "broker/protocol/record_batch.h"

namespace kappa {
namespace {

constexpr const char* kLockName = ".lock";
constexpr const char* kTopicsName = "topics";
constexpr const char* kGroupOffsetsName = "group_offsets.log";
constexpr const char* kTransactionsName = "transactions.log";
constexpr const char* kRecoveryPointName = "recovery-point-offset-checkpoint";
constexpr const char* kLogStartName = "log-start-offset-checkpoint";
constexpr const char* kCleanerName = "cleaner-offset-checkpoint";
constexpr const char* kDeletingName = "deleting";
constexpr const char* kConfigsName = "configs";
constexpr std::string_view kConfigSuffix = ".properties";
// How long delete_topic waits for calls that still use the topic (each is bounded: one read,
// one append, one sync) before it gives up and keeps the topic.
constexpr auto kDeleteWait = std::chrono::seconds(10);

std::string partition_dir_name(std::string_view topic, int32_t partition) {
  return std::string(topic) + "-" + std::to_string(partition);
}

// "<topic>-<partition>" with the partition after the last '-', or nullopt.
std::optional<std::pair<std::string, int32_t>> parse_partition_dir(const std::string& name) {
  const auto dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  int64_t p = 0;
  for (size_t i = dash + 1; i < name.size(); ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + (c - '0');
    if (p > std::numeric_limits<int32_t>::max()) return std::nullopt;
  }
  std::string topic = name.substr(0, dash);
  if (!validate_topic_name(topic)) return std::nullopt;
  return std::make_pair(std::move(topic), static_cast<int32_t>(p));
}

}  // namespace

struct DiskBroker::Topic {
  // Shared with the Topic that a growth replaces and with calls under way, which keep the
  // partitions they use alive after a deletion took the topic out of the table.
  std::vector<std::shared_ptr<disk::PartitionStore>> partitions;
  std::mutex partitioner_mu;
  Partitioner partitioner;
  // The topic's config overrides and what they mean.
  mutable std::mutex config_mu;
  TopicConfigs configs;
  TopicSettings settings;
  explicit Topic(int32_t sticky_batch) : partitioner(sticky_batch) {}
};

disk::PartitionOptions DiskBroker::partition_options(const Options& o) {
  return {o.segment_bytes, o.index_interval_bytes, o.max_batch_bytes, o.faults.get(), [this] {
            // A roll made more durable: record it soon, off the append path.
            checkpoint_due_ = true;
            stop_cv_.notify_all();
          }};
}

Result<std::unique_ptr<DiskBroker>> DiskBroker::open(Options options) {
  const std::string dir = options.dir.string();
  if (dir.empty()) return Status::invalid_argument("disk broker: empty data directory name");
  const auto bad = [&](const std::string& what) {
    return Status::invalid_argument("disk broker " + dir + ": " + what);
  };
  if (options.segment_bytes < 1 || options.segment_bytes > std::numeric_limits<int32_t>::max()) {
    return bad("segment_bytes must be 1 to 2147483647, got " +
               std::to_string(options.segment_bytes));
  }
  if (options.index_interval_bytes < 0) {
    return bad("index_interval_bytes must be >= 0, got " +
               std::to_string(options.index_interval_bytes));
  }
  if (options.max_batch_bytes < static_cast<int64_t>(kRecordBatchHeaderSize)) {
    return bad("max_batch_bytes must be >= 61, got " + std::to_string(options.max_batch_bytes));
  }
  if (options.default_partitions < 1) {
    return bad("default_partitions must be >= 1, got " +
               std::to_string(options.default_partitions));
  }
  if (options.fsync == FsyncPolicy::kInterval && options.fsync_interval_ms < 1) {
    return bad("fsync_interval_ms must be >= 1, got " + std::to_string(options.fsync_interval_ms));
  }
  if (options.checkpoint_interval_ms < 1) {
    return bad("checkpoint_interval_ms must be >= 1, got " +
               std::to_string(options.checkpoint_interval_ms));
  }

  std::error_code ec;
  if (std::filesystem::create_directories(options.dir, ec)) {
    auto parent = options.dir.parent_path();
    if (parent.empty()) parent = ".";
    KAPPA_RETURN_IF_ERROR(disk::sync_dir(parent));
  }
  if (ec) {
    return Status::unavailable("disk broker " + dir +
                               ": cannot create the directory: " + ec.message());
  }
  const auto lock_path = options.dir / kLockName;
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return disk::io_error(lock_path, std::nullopt, "open", errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return Status::failed_precondition(
          "disk broker " + dir + " is in use: another broker holds the lock " + lock_path.string());
    }
    return disk::io_error(lock_path, std::nullopt, "flock", err);
  }
  std::unique_ptr<DiskBroker> broker(new DiskBroker(std::move(options), lock_fd));
  const auto unreadable = [](const Status& s) {
    if (s.code() != StatusCode::kCorruption) return s;
    return Status::corruption(s.message() +
                              "; refusing to open. Fix or remove the file (a missing file records "
                              "nothing); --repair does not rewrite an unreadable one");
  };
  auto log_starts = disk::read_offset_checkpoint(broker->options_.dir / kLogStartName);
  if (!log_starts) return unreadable(log_starts.status());
  auto recovery_points = disk::read_offset_checkpoint(broker->options_.dir / kRecoveryPointName);
  if (!recovery_points) return unreadable(recovery_points.status());
  auto cleaned = disk::read_offset_checkpoint(broker->options_.dir / kCleanerName);
  if (!cleaned) return unreadable(cleaned.status());
  auto deleted = broker->finish_deletions();
  if (!deleted) return deleted.status();
  disk::OffsetMap live_log_starts = *log_starts;
  disk::OffsetMap live_recovery_points = *recovery_points;
  broker->written_cleaned_ends_ = std::move(*cleaned);
  for (disk::OffsetMap* m :
       {&live_log_starts, &live_recovery_points, &broker->written_cleaned_ends_}) {
    std::erase_if(*m, [&](const auto& e) { return deleted->count(e.first.first) != 0; });
  }
  KAPPA_RETURN_IF_ERROR(broker->load_topics(live_log_starts, live_recovery_points));
  KAPPA_RETURN_IF_ERROR(broker->load_topic_configs());
  auto groups =
      disk::GroupOffsetLog::open(broker->options_.dir / kGroupOffsetsName, broker->recovery_);
  if (!groups) return groups.status();
  broker->groups_ = std::move(*groups);
  {
    // The same record format as the group offsets; its counts are not the recovery report's.
    RecoveryReport scratch;
    auto transactions =
        disk::GroupOffsetLog::open(broker->options_.dir / kTransactionsName, scratch);
    if (!transactions) return transactions.status();
    broker->transactions_ = std::move(*transactions);
    broker->recovery_.transactional_ids = scratch.group_offsets;
    broker->recovery_.transactions_truncated_bytes = scratch.group_truncated_bytes;
  }
  // From here on the checkpoints describe what recovery kept (and --repair cut); after a
  // clean shutdown they already do.
  broker->written_recovery_points_ = std::move(*recovery_points);
  broker->written_log_starts_ = std::move(*log_starts);
  KAPPA_RETURN_IF_ERROR(broker->write_checkpoints());
  // The checkpoints no longer name the deleted topics: their markers can go.
  for (const std::string& topic : *deleted) {
    KAPPA_RETURN_IF_ERROR(broker->remove_deletion_marker(topic));
  }
  broker->opened_ = true;
  if (broker->options_.fsync == FsyncPolicy::kInterval) {
    broker->sync_thread_ = std::thread([b = broker.get()] { b->sync_loop(); });
  }
  broker->checkpoint_thread_ = std::thread([b = broker.get()] { b->checkpoint_loop(); });
  return broker;
}

DiskBroker::DiskBroker(Options options, int lock_fd)
    : options_(std::move(options)), lock_fd_(lock_fd) {}

DiskBroker::~DiskBroker() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  if (opened_) {
    // A clean shutdown leaves nothing for the kernel to write later, and records all of it as
    // durable. (A failed open must not overwrite the checkpoints it refused to match.)
    for (const auto& [name, topic] : topics_) {
      for (const auto& p : topic->partitions) (void)p->sync();
    }
    if (groups_) (void)groups_->sync();
    if (transactions_) (void)transactions_->sync();
    (void)write_checkpoints();
  }
  topics_.clear();
  groups_.reset();
  transactions_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string DiskBroker::describe() const { return "disk:" + options_.dir.string(); }

Status DiskBroker::load_topics(const disk::OffsetMap& log_starts,
                               const disk::OffsetMap& recovery_points) {
  const auto topics_dir = options_.dir / kTopicsName;
  std::error_code ec;
  if (std::filesystem::create_directory(topics_dir, ec)) {
    KAPPA_RETURN_IF_ERROR(disk::sync_dir(options_.dir));
  }
  if (ec) {
    return Status::unavailable("disk broker " + topics_dir.string() +
                               ": cannot create: " + ec.message());
  }
  std::map<std::string, std::vector<int32_t>> found;
  for (const auto& entry : std::filesystem::directory_iterator(topics_dir, ec)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    auto parsed = parse_partition_dir(name);
    if (!parsed) {
      return Status::corruption("disk broker " + entry.path().string() +
                                ": not a <topic>-<partition> directory");
    }
    found[parsed->first].push_back(parsed->second);
  }
  if (ec) {
    return Status::unavailable("disk broker " + topics_dir.string() +
                               ": cannot list: " + ec.message());
  }
  const auto recorded = [](const disk::OffsetMap& m, const disk::TopicPartition& tp) {
    auto it = m.find(tp);
    return it == m.end() ? int64_t{-1} : it->second;
  };
  // A partition the checkpoints know must still have its directory.
  bool recreated = false;
  for (const disk::OffsetMap* m : {&log_starts, &recovery_points}) {
    for (const auto& [tp, offset] : *m) {
      auto& have = found[tp.first];
      if (std::find(have.begin(), have.end(), tp.second) != have.end()) continue;
      const int64_t start = std::max<int64_t>(recorded(log_starts, tp), 0);
      const int64_t end = std::max(start, recorded(recovery_points, tp));
      if (!options_.repair) {
        return Status::corruption(
            "disk broker " + (topics_dir / partition_dir_name(tp.first, tp.second)).string() +
            " is missing: " + partition_name(tp.first, tp.second) + " is recorded in " +
            kRecoveryPointName + " / " + kLogStartName + " but its directory is gone: offsets [" +
            std::to_string(start) + ", " + std::to_string(end) +
            ") are lost; refusing to open. `kappa broker --repair` would recreate it empty at "
            "offset " +
            std::to_string(start) + ", losing offsets [" + std::to_string(start) + ", " +
            std::to_string(end) + ") of " + partition_name(tp.first, tp.second));
      }
      have.push_back(tp.second);
      recreated = true;
    }
  }
  for (auto& [name, partitions] : found) {
    std::sort(partitions.begin(), partitions.end());
    for (size_t i = 0; i < partitions.size(); ++i) {
      if (partitions[i] != static_cast<int32_t>(i)) {
        return Status::corruption("disk broker " + topics_dir.string() + ": topic '" + name +
                                  "' has " + std::to_string(partitions.size()) +
                                  " partition directories but no " +
                                  partition_dir_name(name, static_cast<int32_t>(i)));
      }
    }
    auto topic = std::make_unique<Topic>(options_.sticky_batch);
    for (int32_t p : partitions) {
      PartitionRecovery report;
      const disk::TopicPartition tp(name, p);
      const disk::RecordedOffsets expect{recorded(log_starts, tp), recorded(recovery_points, tp),
                                         options_.repair, recorded(written_cleaned_ends_, tp)};
      auto store = disk::PartitionStore::open(topics_dir / partition_dir_name(name, p), name, p,
                                              partition_options(options_), report, expect);
      if (!store) return store.status();
      topic->partitions.push_back(std::move(*store));
      recovery_.partitions.push_back(std::move(report));
    }
    topics_.emplace(name, std::move(topic));
  }
  if (recreated) KAPPA_RETURN_IF_ERROR(disk::sync_dir(topics_dir));
  return Status::ok();
}

std::shared_ptr<DiskBroker::Topic> DiskBroker::find(std::string_view topic) const {
  std::shared_lock lock(topics_mu_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : it->second;
}

Status DiskBroker::create_topic(std::string_view topic, int32_t partitions) {
  return create_configured_topic(topic, partitions, {});
}

Status DiskBroker::create_configured_topic(std::string_view topic, int32_t partitions,
                                           const TopicConfigs& configs) {
  KAPPA_RETURN_IF_ERROR(validate_topic_name(topic));
  if (partitions < 1) {
    return Status::invalid_argument("topic '" + std::string(topic) +
                                    "' needs at least 1 partition, got " +
                                    std::to_string(partitions));
  }
  const int64_t descriptors = int64_t{partitions} * disk::kDescriptorsPerPartition;
  {
    std::unique_lock lock(topics_mu_);
    if (auto it = topics_.find(topic); it != topics_.end()) {
      const auto have = static_cast<int32_t>(it->second->partitions.size());
      if (have == partitions) return Status::ok();
      return Status::already_exists("topic '" + std::string(topic) + "' exists with " +
                                    std::to_string(have) + " partitions, not " +
                                    std::to_string(partitions));
    }
    if (creating_.count(topic) != 0) {
      return Status::unavailable("topic '" + std::string(topic) + "' is being created");
    }
    // Checked before any file is made, so a topic that cannot fit is refused whole.
    KAPPA_RETURN_IF_ERROR(disk::check_descriptors_for("topic '" + std::string(topic) + "'",
                                                      partitions, creating_descriptors_));
    creating_.emplace(topic);
    creating_descriptors_ += descriptors;
  }
  // The files are made without the table lock: other topics are served meanwhile. The
  // configs go first: a crash before the partitions exist leaves a config file that open()
  // drops, never a topic without its configs.
  Status wrote = configs.empty() ? Status::ok() : write_topic_configs(topic, configs);
  Result<std::unique_ptr<Topic>> made = wrote;
  if (wrote.is_ok()) made = create_partitions(topic, partitions);
  if (!made && wrote.is_ok() && !configs.empty()) (void)write_topic_configs(topic, {});
  std::unique_lock lock(topics_mu_);
  creating_.erase(creating_.find(topic));
  creating_descriptors_ -= descriptors;
  if (!made) return made.status();
  (*made)->configs = configs;
  (*made)->settings = parse_topic_settings(configs);
  apply_limits(**made);
  topics_.emplace(std::string(topic), std::move(*made));
  return Status::ok();
}

Result<std::unique_ptr<DiskBroker::Topic>> DiskBroker::create_partitions(std::string_view topic,
                                                                         int32_t partitions,
                                                                         int32_t from) {
  const auto topics_dir = options_.dir / kTopicsName;
  auto t = std::make_unique<Topic>(options_.sticky_batch);
  int32_t made = from;
  Status failed;
  for (; made < partitions; ++made) {
    const auto path = topics_dir / partition_dir_name(topic, made);
    std::error_code ec;
    std::filesystem::create_directory(path, ec);
    if (ec) {
      failed =
          Status::unavailable("disk broker " + path.string() + ": cannot create: " + ec.message());
      break;
    }
  }
  if (failed.is_ok()) failed = disk::sync_dir(topics_dir);
  for (int32_t p = from; failed.is_ok() && p < partitions; ++p) {
    PartitionRecovery ignored;
    auto store =
        disk::PartitionStore::open(topics_dir / partition_dir_name(topic, p), std::string(topic), p,
                                   partition_options(options_), ignored);
    if (!store) {
      failed = store.status();
      break;
    }
    t->partitions.push_back(std::move(*store));
  }
  if (failed.is_ok()) return t;
  // Leave nothing behind: a half-made topic would be loaded (or refused) at the next start.
  t->partitions.clear();
  std::string cleanup;
  for (int32_t p = from; p < made; ++p) {
    std::error_code ec;
    std::filesystem::remove_all(topics_dir / partition_dir_name(topic, p), ec);
    if (ec && cleanup.empty()) cleanup = "; and removing its directories failed: " + ec.message();
  }
  if (Status s = disk::sync_dir(topics_dir); !s.is_ok() && cleanup.empty()) {
    cleanup = "; " + s.message();
  }
  return Status(failed.code(), (from == 0 ? "creating topic '" : "adding partitions to topic '") +
                                   std::string(topic) + "': " + failed.message() + cleanup);
}

Status DiskBroker::add_partitions(std::string_view topic, int32_t partitions) {
  int32_t have = 0;
  int64_t descriptors = 0;
  {
    std::unique_lock lock(topics_mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end() || creating_.count(topic) != 0) {
      if (creating_.count(topic) != 0) {
        return Status::unavailable("topic '" + std::string(topic) + "' is being changed");
      }
      return Status::not_found("topic '" + std::string(topic) + "' does not exist");
    }
    have = static_cast<int32_t>(it->second->partitions.size());
    if (partitions <= have) {
      return Status::invalid_argument("topic '" + std::string(topic) + "' has " +
                                      std::to_string(have) + " partitions; " +
                                      std::to_string(partitions) + " would not be an increase");
    }
    descriptors = int64_t{partitions - have} * disk::kDescriptorsPerPartition;
    KAPPA_RETURN_IF_ERROR(disk::check_descriptors_for("topic '" + std::string(topic) + "'",
                                                      partitions - have, creating_descriptors_));
    creating_.emplace(topic);
    creating_descriptors_ += descriptors;
  }
  auto made = create_partitions(topic, partitions, have);
  std::unique_lock lock(topics_mu_);
  creating_.erase(creating_.find(topic));
  creating_descriptors_ -= descriptors;
  if (!made) return made.status();
  // A new Topic: calls under way keep using the old one, whose partitions are shared.
  auto& slot = topics_.find(topic)->second;
  auto grown = std::make_shared<Topic>(options_.sticky_batch);
  grown->partitions = slot->partitions;
  for (auto& p : (*made)->partitions) grown->partitions.push_back(std::move(p));
  {
    std::lock_guard config(slot->config_mu);
    grown->configs = slot->configs;
    grown->settings = slot->settings;
  }
  apply_limits(*grown);
  slot = std::move(grown);
  return Status::ok();
}

Status DiskBroker::delete_topic(std::string_view topic) {
  std::shared_ptr<Topic> doomed;
  {
    std::unique_lock lock(topics_mu_);
    if (creating_.count(topic) != 0) {
      return Status::unavailable("topic '" + std::string(topic) + "' is being changed");
    }
    auto it = topics_.find(topic);
    if (it == topics_.end()) {
      return Status::not_found("topic '" + std::string(topic) + "' does not exist");
    }
    doomed = std::move(it->second);
    topics_.erase(it);
    creating_.emplace(topic);  // no re-creation of the name until its files are gone
  }
  // Before the marker is made, a failure puts the topic back as it was.
  const auto keep = [&](Status s) {
    std::unique_lock lock(topics_mu_);
    creating_.erase(creating_.find(topic));
    topics_.emplace(std::string(topic), std::move(doomed));
    return s;
  };
  // Calls that found the topic before it left the table finish first (each is bounded).
  const auto deadline = std::chrono::steady_clock::now() + kDeleteWait;
  const auto in_use = [&] {
    return doomed.use_count() > 1 ||
           std::any_of(doomed->partitions.begin(), doomed->partitions.end(),
                       [](const auto& p) { return p.use_count() > 1; });
  };
  while (in_use()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return keep(
          Status::unavailable("topic '" + std::string(topic) + "' is still in use; not deleted"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Its committed offsets go first, durably: a new topic of the name must not inherit them.
  if (Status s = groups_->forget_topic(topic, options_.fsync == FsyncPolicy::kAlways); !s.is_ok())
    return keep(s);
  // Then the marker, which makes the deletion happen even if we die before it is complete:
  // open() finishes what a marker names.
  const auto deleting = options_.dir / kDeletingName;
  std::error_code ec;
  if (std::filesystem::create_directory(deleting, ec)) {
    if (Status s = disk::sync_dir(options_.dir); !s.is_ok()) return keep(s);
  }
  if (ec) {
    return keep(Status::unavailable("disk broker " + deleting.string() +
                                    ": cannot create: " + ec.message()));
  }
  const auto marker = deleting / std::string(topic);
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return keep(disk::io_error(marker, std::nullopt, "open", errno));
  ::close(fd);
  if (Status s = disk::sync_dir(deleting); !s.is_ok()) return keep(s);
  // From here the topic is deleted, whatever fails: a later open() completes it.
  const auto partitions = static_cast<int32_t>(doomed->partitions.size());
  doomed.reset();  // closes its files
  Status s = write_checkpoints();
  if (s.is_ok()) s = remove_topic_dirs(topic, partitions);
  if (s.is_ok()) s = write_topic_configs(topic, {});
  if (s.is_ok()) s = remove_deletion_marker(topic);
  if (!s.is_ok()) {
    // The name stays taken until a restart has removed what is left of the files.
    return Status(s.code(), "topic '" + std::string(topic) +
                                "' is deleted, but removing its files failed (the next start "
                                "finishes it): " +
                                s.message());
  }
  std::unique_lock lock(topics_mu_);
  creating_.erase(creating_.find(topic));
  return Status::ok();
}

Status DiskBroker::remove_topic_dirs(std::string_view topic, int32_t partitions) {
  const auto topics_dir = options_.dir / kTopicsName;
  for (int32_t p = 0; p < partitions; ++p) {
    const auto path = topics_dir / partition_dir_name(topic, p);
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) {
      return Status::unavailable("disk broker " + path.string() +
                                 ": cannot remove: " + ec.message());
    }
  }
  return disk::sync_dir(topics_dir);
}

Status DiskBroker::remove_deletion_marker(std::string_view topic) {
  const auto deleting = options_.dir / kDeletingName;
  std::error_code ec;
  std::filesystem::remove(deleting / std::string(topic), ec);
  if (ec) {
    return Status::unavailable("disk broker " + (deleting / std::string(topic)).string() +
                               ": cannot remove: " + ec.message());
  }
  return disk::sync_dir(deleting);
}

Result<std::set<std::string>> DiskBroker::finish_deletions() {
  const auto deleting = options_.dir / kDeletingName;
  std::set<std::string> topics;
  std::error_code ec;
  if (!std::filesystem::exists(deleting, ec)) return topics;
  for (const auto& entry : std::filesystem::directory_iterator(deleting, ec)) {
    const std::string name = entry.path().filename().string();
    if (!validate_topic_name(name)) {
      return Status::corruption("disk broker " + entry.path().string() +
                                ": not a deletion marker (a topic name)");
    }
    topics.insert(name);
  }
  if (ec) {
    return Status::unavailable("disk broker " + deleting.string() +
                               ": cannot list: " + ec.message());
  }
  if (topics.empty()) return topics;
  const auto topics_dir = options_.dir / kTopicsName;
  for (const auto& entry : std::filesystem::directory_iterator(topics_dir, ec)) {
    auto parsed = parse_partition_dir(entry.path().filename().string());
    if (!parsed || topics.count(parsed->first) == 0) continue;
    std::error_code rm;
    std::filesystem::remove_all(entry.path(), rm);
    if (rm) {
      return Status::unavailable("disk broker " + entry.path().string() +
                                 ": cannot remove: " + rm.message());
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::unavailable("disk broker " + topics_dir.string() +
                               ": cannot list: " + ec.message());
  }
  if (std::filesystem::exists(topics_dir)) KAPPA_RETURN_IF_ERROR(disk::sync_dir(topics_dir));
  for (const std::string& topic : topics) KAPPA_RETURN_IF_ERROR(write_topic_configs(topic, {}));
  return topics;
}

Status DiskBroker::check_descriptors(const std::filesystem::path& dir) {
  const auto topics_dir = dir / kTopicsName;
  int64_t partitions = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(topics_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory() && parse_partition_dir(it->path().filename().string())) ++partitions;
  }
  if (partitions == 0) return Status::ok();
  return disk::check_descriptors_for("disk broker " + dir.string(), partitions);
}

Result<std::shared_ptr<DiskBroker::Topic>> DiskBroker::find_or_create(std::string_view topic) {
  if (auto t = find(topic)) return t;
  if (!options_.auto_create_topics) {
    return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  }
  KAPPA_RETURN_IF_ERROR(create_topic(topic, options_.default_partitions));
  return find(topic);
}

Result<std::shared_ptr<disk::PartitionStore>> DiskBroker::find_partition(std::string_view topic,
                                                                         int32_t partition) const {
  auto t = find(topic);
  if (!t) return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  if (partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) {
    return Status::not_found("partition " + partition_name(topic, partition) + " does not exist (" +
                             std::to_string(t->partitions.size()) + " partitions)");
  }
  return t->partitions[static_cast<size_t>(partition)];
}

Result<int32_t> DiskBroker::partition_count(std::string_view topic) {
  auto t = find(topic);
  if (!t) return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  return static_cast<int32_t>(t->partitions.size());
}

Result<std::vector<std::string>> DiskBroker::list_topics() {
  std::shared_lock lock(topics_mu_);
  std::vector<std::string> names;
  names.reserve(topics_.size());
  for (const auto& [name, _] : topics_) names.push_back(name);
  return names;
}

Result<std::vector<Appended>> DiskBroker::produce(std::string_view topic,
                                                  std::span<const OutgoingRecord> records) {
  auto found = find_or_create(topic);
  if (!found) return found.status();
  Topic& t = **found;
  const auto n = static_cast<int32_t>(t.partitions.size());

  Result<std::vector<std::vector<size_t>>> routed = [&] {
    std::lock_guard lock(t.partitioner_mu);
    return route_records(topic, records, t.partitioner, n);
  }();
  if (!routed) return routed.status();
  const std::vector<std::vector<size_t>>& by_partition = *routed;
  auto placed = append_as_batches(
      topic, records, by_partition, options_.max_batch_bytes, [&](int32_t p, std::string batch) {
        return t.partitions[static_cast<size_t>(p)]->append(std::move(batch));
      });
  if (!placed) return placed.status();
  if (options_.fsync == FsyncPolicy::kAlways) {
    for (int32_t p = 0; p < n; ++p) {
      if (by_partition[static_cast<size_t>(p)].empty()) continue;
      KAPPA_RETURN_IF_ERROR(t.partitions[static_cast<size_t>(p)]->sync());
    }
  }
  return placed;
}

Result<FetchResult> DiskBroker::fetch(std::string_view topic, int32_t partition, int64_t offset,
                                      const FetchLimits& limits) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  disk::PartitionStore& store = **found;
  const OffsetRange range = store.offsets();
  if (offset < range.earliest || offset > range.end) return store.out_of_range(offset, range);
  return fetch_from_batches(topic, partition, offset, limits, range,
                            [&](int64_t at, int64_t max) { return store.read(at, max); });
}

Result<OffsetRange> DiskBroker::offsets(std::string_view topic, int32_t partition) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->offsets();
}

Result<int64_t> DiskBroker::offset_for_time(std::string_view topic, int32_t partition,
                                            int64_t timestamp_ms) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  auto at = (*found)->offset_for_time(timestamp_ms);
  if (!at) return at.status();
  return std::max(*at, (*found)->offsets().earliest);  // not below a DeleteRecords start
}

Status DiskBroker::commit_offsets(std::string_view group, std::string_view topic,
                                  std::span<const PartitionOffset> offsets) {
  return groups_->commit(group, topic, offsets, options_.fsync == FsyncPolicy::kAlways);
}

Result<std::vector<PartitionOffset>> DiskBroker::committed_offsets(std::string_view group,
                                                                   std::string_view topic) {
  return groups_->plain_offsets(group, topic);
}

Result<int64_t> DiskBroker::append_batch(std::string_view topic, int32_t partition,
                                         std::string batch) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->append(std::move(batch));
}

Result<ProducerStates::Check> DiskBroker::check_producer(std::string_view topic, int32_t partition,
                                                         const RecordBatchHeader& header) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->check_producer(header);
}

Result<BatchRead> DiskBroker::read_batches(std::string_view topic, int32_t partition,
                                           int64_t offset, int64_t max_bytes) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->read(offset, max_bytes);
}

Result<BatchRanges> DiskBroker::read_batch_ranges(std::string_view topic, int32_t partition,
                                                  int64_t offset, int64_t max_bytes,
                                                  int64_t below) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->read_ranges(offset, max_bytes, below);
}

Status DiskBroker::sync(std::string_view topic, int32_t partition) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  if (options_.fsync != FsyncPolicy::kAlways) return Status::ok();
  return (*found)->sync();
}

Status DiskBroker::commit_group_offsets(std::string_view group, std::string_view topic,
                                        std::span<const GroupOffset> offsets) {
  if (group.empty()) return Status::invalid_argument("consumer group id must not be empty");
  return groups_->commit(group, topic, offsets, options_.fsync == FsyncPolicy::kAlways);
}

Result<std::vector<GroupOffset>> DiskBroker::group_offsets(std::string_view group,
                                                           std::string_view topic) {
  return groups_->offsets(group, topic);
}

Result<std::vector<std::string>> DiskBroker::offset_groups() { return groups_->groups(); }

Status DiskBroker::delete_group_offsets(std::string_view group, std::string_view topic,
                                        std::span<const int32_t> partitions) {
  return groups_->forget(group, topic, partitions, options_.fsync == FsyncPolicy::kAlways);
}

Status DiskBroker::delete_group(std::string_view group) {
  return groups_->forget_group(group, options_.fsync == FsyncPolicy::kAlways);
}

Result<int64_t> DiskBroker::max_timestamp(std::string_view topic, int32_t partition) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->max_timestamp();
}

Result<TransactionIndex> DiskBroker::transaction_index(std::string_view topic, int32_t partition,
                                                       int64_t from, int64_t to) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->transaction_index(from, to);
}

Status DiskBroker::put_transaction_state(std::string_view transactional_id,
                                         std::string_view state) {
  return transactions_->put_state(transactional_id, state, options_.fsync != FsyncPolicy::kNever);
}

Result<std::vector<std::pair<std::string, std::string>>> DiskBroker::transaction_states() {
  return transactions_->states();
}

Status DiskBroker::enforce_retention(int64_t now_ms) {
  struct Due {
    std::shared_ptr<disk::PartitionStore> store;
    int64_t retention_ms;
    int64_t retention_bytes;
  };
  std::vector<Due> due;
  {
    std::shared_lock lock(topics_mu_);
    for (const auto& [name, topic] : topics_) {
      std::lock_guard config(topic->config_mu);
      const TopicSettings& t = topic->settings;
      if (!t.retain) continue;  // cleanup.policy without "delete"
      const int64_t ms = t.retention_ms.value_or(options_.retention_ms);
      const int64_t bytes = t.retention_bytes.value_or(options_.retention_bytes);
      if (ms < 0 && bytes < 0) continue;
      for (const auto& p : topic->partitions) due.push_back({p, ms, bytes});
    }
  }
  Status first;
  for (const Due& d : due) {
    // The new log start is on disk before a segment is deleted, so that a missing segment
    // always means lost data.
    Status r = d.store->enforce_retention(now_ms, d.retention_ms, d.retention_bytes,
                                          [this] { return write_checkpoints(); });
    if (!r && first.is_ok()) first = r;
  }
  return first;
}

Result<std::vector<DiskBroker::Cleaned>> DiskBroker::clean_logs(int64_t now_ms) {
  struct Due {
    std::string topic;
    int32_t partition;
    std::shared_ptr<disk::PartitionStore> store;
    disk::CleanerOptions options;
  };
  std::vector<Due> due;
  {
    std::shared_lock lock(topics_mu_);
    for (const auto& [name, topic] : topics_) {
      std::lock_guard config(topic->config_mu);
      const TopicSettings& t = topic->settings;
      if (!t.compact) continue;
      const disk::CleanerOptions o = disk::cleaner_options_for(t, now_ms, options_.cleaner);
      for (size_t p = 0; p < topic->partitions.size(); ++p) {
        due.push_back({name, static_cast<int32_t>(p), topic->partitions[p], o});
      }
    }
  }
  std::vector<Cleaned> out;
  Status first;
  for (const Due& d : due) {
    auto r = d.store->clean(d.options, [this] { return write_checkpoints(); });
    if (!r) {
      if (first.is_ok()) first = r.status();
      continue;
    }
    if (r->ran) out.push_back({d.topic, d.partition, *r});
  }
  if (!first.is_ok()) return first;
  return out;
}

void DiskBroker::apply_limits(Topic& topic) const {
  std::lock_guard config(topic.config_mu);
  const TopicSettings& t = topic.settings;
  const int64_t segment = t.segment_bytes.value_or(options_.segment_bytes);
  const int64_t batch = t.max_message_bytes.value_or(options_.max_batch_bytes);
  for (const auto& p : topic.partitions) p->set_limits(segment, batch);
}

Status DiskBroker::write_topic_configs(std::string_view topic, const TopicConfigs& configs) {
  const auto dir = options_.dir / kConfigsName;
  const auto path = dir / (std::string(topic) + std::string(kConfigSuffix));
  std::error_code ec;
  if (configs.empty()) {
    if (!std::filesystem::remove(path, ec)) {
      if (ec)
        return Status::unavailable("disk broker " + path.string() +
                                   ": cannot remove: " + ec.message());
      return Status::ok();
    }
    return disk::sync_dir(dir);
  }
  if (std::filesystem::create_directory(dir, ec))
    KAPPA_RETURN_IF_ERROR(disk::sync_dir(options_.dir));
  if (ec)
    return Status::unavailable("disk broker " + dir.string() + ": cannot create: " + ec.message());
  return disk::replace_file(path, format_topic_configs(configs));
}

Status DiskBroker::load_topic_configs() {
  const auto dir = options_.dir / kConfigsName;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return Status::ok();
  bool removed = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    const bool config = file.size() > kConfigSuffix.size() && file.ends_with(kConfigSuffix);
    const std::string topic = config ? file.substr(0, file.size() - kConfigSuffix.size()) : "";
    std::shared_ptr<Topic> t = config ? find(topic) : nullptr;
    if (t == nullptr) {
      // A replacement cut short (*.tmp), or the configs of a topic whose creation or deletion
      // a crash interrupted: no topic has them.
      if (!file.ends_with(".tmp") && !(config && validate_topic_name(topic).is_ok())) {
        return Status::corruption("disk broker " + entry.path().string() +
                                  ": not a <topic>.properties config file");
      }
      std::error_code rm;
      std::filesystem::remove(entry.path(), rm);
      if (rm)
        return Status::unavailable("disk broker " + entry.path().string() +
                                   ": cannot remove: " + rm.message());
      removed = true;
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      return Status::unavailable("disk broker " + entry.path().string() + ": cannot read");
    }
    auto configs = parse_topic_configs(text, "disk broker " + entry.path().string());
    if (!configs) {
      return Status::corruption(configs.status().message() +
                                "; refusing to open. Fix the line or remove the file (the topic "
                                "then has no overrides)");
    }
    t->configs = std::move(*configs);
    t->settings = parse_topic_settings(t->configs);
    apply_limits(*t);
  }
  if (ec)
    return Status::unavailable("disk broker " + dir.string() + ": cannot list: " + ec.message());
  return removed ? disk::sync_dir(dir) : Status::ok();
}

Result<int64_t> DiskBroker::delete_records(std::string_view topic, int32_t partition,
                                           int64_t offset) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  // The new log start is on disk before a segment is deleted, as retention does it.
  return (*found)->delete_records(offset, [this] { return write_checkpoints(); });
}

Result<int64_t> DiskBroker::partition_bytes(std::string_view topic, int32_t partition) {
  auto found = find_partition(topic, partition);
  if (!found) return found.status();
  return (*found)->size_bytes();
}

Result<TopicConfigs> DiskBroker::topic_configs(std::string_view topic) {
  auto t = find(topic);
  if (t == nullptr) return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  std::lock_guard config(t->config_mu);
  return t->configs;
}

Result<TopicSettings> DiskBroker::topic_settings(std::string_view topic) {
  auto t = find(topic);
  if (t == nullptr) return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  std::lock_guard config(t->config_mu);
  return t->settings;
}

Status DiskBroker::set_topic_configs(std::string_view topic, const TopicConfigs& configs) {
  {
    std::unique_lock lock(topics_mu_);
    if (creating_.count(topic) != 0) {
      return Status::unavailable("topic '" + std::string(topic) + "' is being changed");
    }
    if (topics_.find(topic) == topics_.end()) {
      return Status::not_found("topic '" + std::string(topic) + "' does not exist");
    }
    creating_.emplace(topic);  // no deletion or growth while the file is written
  }
  Status wrote = write_topic_configs(topic, configs);
  std::unique_lock lock(topics_mu_);
  creating_.erase(creating_.find(topic));
  if (!wrote.is_ok()) return wrote;
  Topic& t = *topics_.find(topic)->second;
  {
    std::lock_guard config(t.config_mu);
    t.configs = configs;
    t.settings = parse_topic_settings(configs);
  }
  apply_limits(t);
  return Status::ok();
}

void DiskBroker::sync_loop() {
  const auto period = std::chrono::milliseconds(options_.fsync_interval_ms);
  std::unique_lock lock(stop_mu_);
  while (!stop_) {
    if (stop_cv_.wait_for(lock, period, [this] { return stop_; })) break;
    lock.unlock();
    std::vector<std::shared_ptr<disk::PartitionStore>> dirty;
    {
      std::shared_lock topics(topics_mu_);
      for (const auto& [name, topic] : topics_) {
        for (const auto& p : topic->partitions) {
          if (p->dirty()) dirty.push_back(p);
        }
      }
    }
    // A failed sync marks its partition broken, so the next append or sync reports it.
    for (const auto& p : dirty) (void)p->sync();
    (void)groups_->sync();
    (void)transactions_->sync();
    lock.lock();
  }
}

Status DiskBroker::write_checkpoints() {
  std::lock_guard lock(checkpoint_mu_);
  disk::OffsetMap recovery_points;
  disk::OffsetMap log_starts;
  disk::OffsetMap cleaned_ends;
  {
    std::shared_lock topics(topics_mu_);
    for (const auto& [name, topic] : topics_) {
      for (size_t p = 0; p < topic->partitions.size(); ++p) {
        const disk::TopicPartition tp(name, static_cast<int32_t>(p));
        recovery_points[tp] = topic->partitions[p]->recovery_point();
        log_starts[tp] = topic->partitions[p]->offsets().earliest;
        if (const int64_t c = topic->partitions[p]->cleaned_end(); c > 0) cleaned_ends[tp] = c;
      }
    }
  }
  // Before the others: a cleaned segment is swapped in only after its checkpoint is on disk.
  if (cleaned_ends != written_cleaned_ends_) {
    KAPPA_RETURN_IF_ERROR(disk::write_offset_checkpoint(options_.dir / kCleanerName, cleaned_ends));
    written_cleaned_ends_ = std::move(cleaned_ends);
  }
  if (recovery_points != written_recovery_points_) {
    KAPPA_RETURN_IF_ERROR(
        disk::write_offset_checkpoint(options_.dir / kRecoveryPointName, recovery_points));
    written_recovery_points_ = std::move(recovery_points);
  }
  if (log_starts != written_log_starts_) {
    KAPPA_RETURN_IF_ERROR(disk::write_offset_checkpoint(options_.dir / kLogStartName, log_starts));
    written_log_starts_ = std::move(log_starts);
  }
  return Status::ok();
}

void DiskBroker::checkpoint_loop() {
  const auto period = std::chrono::milliseconds(options_.checkpoint_interval_ms);
  std::unique_lock lock(stop_mu_);
  while (!stop_) {
    if (stop_cv_.wait_for(lock, period, [this] { return stop_ || checkpoint_due_.load(); }) &&
        stop_) {
      break;
    }
    checkpoint_due_ = false;
    lock.unlock();
    // A failed write leaves the previous (lower) recovery points, which only check less; the
    // next period tries again.
    (void)write_checkpoints();
    lock.lock();
  }
}

}  // namespace kappa
