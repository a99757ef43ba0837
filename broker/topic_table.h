// TopicTable: the topics of an in-memory log by name, each a list of partitions (of the log's
// partition type P) and Kafka's default partitioner, with the checks and errors of the Log seam
// (log.h): Kafka's topic names, at least one partition, the same count when created again,
// kNotFound naming the missing topic or partition. The embedded broker (broker/embedded/) and
// the in-memory batch log (broker/memory/) keep their topics in one.
//
// A topic's partitions are shared pointers: a call under way keeps the partition it found alive
// after the topic is deleted, and growing a topic publishes a new Topic that shares the old
// partitions.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/log.h"
#include "broker/partitioner.h"

namespace kappa {

template <class P>
class TopicTable {
 public:
  struct Topic {
    std::vector<std::shared_ptr<P>> partitions;
    explicit Topic(int32_t sticky_batch) : partitioner_(sticky_batch) {}
    // Where each record goes (route_records), one partitioner call at a time.
    Result<std::vector<std::vector<size_t>>> route(std::string_view topic,
                                                   std::span<const OutgoingRecord> records) {
      std::lock_guard lock(partitioner_mu_);
      return route_records(topic, records, partitioner_, static_cast<int32_t>(partitions.size()));
    }

    // route() for a topic of one partition, without building the lists: true when every
    // record may go to partition 0. The partitioner still sees each record that asks it, so
    // its sticky state is what route() would leave.
    bool route_to_first(std::span<const OutgoingRecord> records) {
      std::lock_guard lock(partitioner_mu_);
      for (const OutgoingRecord& r : records) {
        if (r.partition != kAnyPartition && r.partition != 0) return false;
      }
      for (const OutgoingRecord& r : records) {
        if (r.partition == kAnyPartition) partitioner_.partition(r.key, 1);
      }
      return true;
    }

   private:
    std::mutex partitioner_mu_;
    Partitioner partitioner_;
  };
  // Makes partition `partition` of a topic.
  using MakePartition = std::function<std::shared_ptr<P>(std::string_view topic, int32_t)>;

  TopicTable(int32_t sticky_batch, MakePartition make)
      : sticky_batch_(sticky_batch), make_(std::move(make)) {}

  std::shared_ptr<Topic> find(std::string_view topic) const {
    std::shared_lock lock(mu_);
    auto it = topics_.find(topic);
    return it == topics_.end() ? nullptr : it->second;
  }

  // The topic, made with `partitions` partitions first when missing and `create` says so.
  Result<std::shared_ptr<Topic>> find_or_create(std::string_view topic, bool create,
                                                int32_t partitions) {
    if (auto t = find(topic)) return t;
    if (!create) return missing(topic);
    KAPPA_RETURN_IF_ERROR(this->create(topic, partitions));
    return find(topic);
  }

  Result<std::shared_ptr<P>> partition(std::string_view topic, int32_t partition) const {
    auto t = find(topic);
    if (!t) return missing(topic);
    if (partition < 0 || partition >= static_cast<int32_t>(t->partitions.size())) {
      return Status::not_found("partition " + partition_name(topic, partition) +
                               " does not exist (" + std::to_string(t->partitions.size()) +
                               " partitions)");
    }
    return t->partitions[static_cast<size_t>(partition)];
  }

  Result<int32_t> partition_count(std::string_view topic) const {
    auto t = find(topic);
    if (!t) return missing(topic);
    return static_cast<int32_t>(t->partitions.size());
  }

  std::vector<std::string> names() const {
    std::shared_lock lock(mu_);
    std::vector<std::string> out;
    out.reserve(topics_.size());
    for (const auto& [name, _] : topics_) out.push_back(name);
    return out;
  }

  // Log::create_topic: succeeds if the topic exists with the same partition count.
  Status create(std::string_view topic, int32_t partitions) {
    KAPPA_RETURN_IF_ERROR(validate_topic_name(topic));
    if (partitions < 1) {
      return Status::invalid_argument("topic '" + std::string(topic) +
                                      "' needs at least 1 partition, got " +
                                      std::to_string(partitions));
    }
    std::unique_lock lock(mu_);
    if (auto it = topics_.find(topic); it != topics_.end()) {
      const auto have = static_cast<int32_t>(it->second->partitions.size());
      if (have == partitions) return Status::ok();
      return Status::already_exists("topic '" + std::string(topic) + "' exists with " +
                                    std::to_string(have) + " partitions, not " +
                                    std::to_string(partitions));
    }
    auto t = std::make_shared<Topic>(sticky_batch_);
    for (int32_t p = 0; p < partitions; ++p) t->partitions.push_back(make_(topic, p));
    topics_.emplace(std::string(topic), std::move(t));
    return Status::ok();
  }

  // Log::add_partitions.
  Status grow(std::string_view topic, int32_t partitions) {
    std::unique_lock lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return missing(topic);
    const auto have = static_cast<int32_t>(it->second->partitions.size());
    if (partitions <= have) {
      return Status::invalid_argument("topic '" + std::string(topic) + "' has " +
                                      std::to_string(have) + " partitions; " +
                                      std::to_string(partitions) + " would not be an increase");
    }
    auto grown = std::make_shared<Topic>(sticky_batch_);
    grown->partitions = it->second->partitions;
    for (int32_t p = have; p < partitions; ++p) grown->partitions.push_back(make_(topic, p));
    it->second = std::move(grown);
    return Status::ok();
  }

  // Takes the topic out of the table (calls under way keep what they hold).
  Status erase(std::string_view topic) {
    std::unique_lock lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return missing(topic);
    topics_.erase(it);
    return Status::ok();
  }

 private:
  static Status missing(std::string_view topic) {
    return Status::not_found("topic '" + std::string(topic) + "' does not exist");
  }

  const int32_t sticky_batch_;
  const MakePartition make_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_;
};

}  // namespace kappa
