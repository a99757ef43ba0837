#include "replay/backends/namespaced.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

namespace kappa {

std::string unique_run_prefix() {
  static std::mt19937_64 rng(
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      (static_cast<uint64_t>(::getpid()) << 32));
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%010llx_",
                static_cast<unsigned long long>(rng() & 0xffffffffffULL));
  return buf;
}

Status NamespacedLog::create_topic(std::string_view topic, int32_t partitions) {
  KAPPA_RETURN_IF_ERROR(validate_topic_name(topic));
  return inner_.create_topic(name(topic), partitions);
}

Result<int32_t> NamespacedLog::partition_count(std::string_view topic) {
  return inner_.partition_count(name(topic));
}

Result<std::vector<std::string>> NamespacedLog::list_topics() {
  auto all = inner_.list_topics();
  if (!all) return all.status();
  std::vector<std::string> out;
  for (const auto& t : *all) {
    if (t.rfind(prefix_, 0) == 0) out.push_back(t.substr(prefix_.size()));
  }
  return out;
}

Result<std::vector<Appended>> NamespacedLog::produce(std::string_view topic,
                                                     std::span<const OutgoingRecord> records) {
  return inner_.produce(name(topic), records);
}

Result<FetchResult> NamespacedLog::fetch(std::string_view topic, int32_t partition, int64_t offset,
                                         const FetchLimits& limits) {
  return inner_.fetch(name(topic), partition, offset, limits);
}

Result<OffsetRange> NamespacedLog::offsets(std::string_view topic, int32_t partition) {
  return inner_.offsets(name(topic), partition);
}

Result<std::vector<PartitionOffset>> NamespacedLog::end_offsets(std::string_view topic) {
  return inner_.end_offsets(name(topic));
}

Result<int64_t> NamespacedLog::offset_for_time(std::string_view topic, int32_t partition,
                                               int64_t timestamp_ms) {
  return inner_.offset_for_time(name(topic), partition, timestamp_ms);
}

Status NamespacedLog::commit_offsets(std::string_view group, std::string_view topic,
                                     std::span<const PartitionOffset> offsets) {
  return inner_.commit_offsets(name(group), name(topic), offsets);
}

Result<std::vector<PartitionOffset>> NamespacedLog::committed_offsets(std::string_view group,
                                                                      std::string_view topic) {
  return inner_.committed_offsets(name(group), name(topic));
}

std::string NamespacedSink::strip(const std::string& n) const {
  return n.rfind(prefix_, 0) == 0 ? n.substr(prefix_.size()) : n;
}

// The inner sink sees prefixed names, which are never reserved: the plain ones are checked here.
Result<CommitOutcome> NamespacedSink::commit_batch(const BatchCommit& commit) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(commit.table.name, "table name"));
  BatchCommit c = commit;
  c.query_id = name(commit.query_id);
  c.table.name = name(commit.table.name);
  return inner_.commit_batch(c);
}

Result<bool> NamespacedSink::table_exists(const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  return inner_.table_exists(name(table));
}

Result<std::vector<TableRow>> NamespacedSink::read_table(const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  return inner_.read_table(name(table));
}

Result<std::optional<LedgerEntry>> NamespacedSink::last_batch(const std::string& query_id) {
  auto e = inner_.last_batch(name(query_id));
  if (!e || !*e) return e;
  LedgerEntry entry = **e;
  entry.query_id = strip(entry.query_id);
  entry.table = strip(entry.table);
  return std::optional<LedgerEntry>(std::move(entry));
}

Result<std::vector<std::string>> NamespacedSink::writers(const std::string& table) {
  auto w = inner_.writers(name(table));
  if (!w) return w.status();
  for (auto& q : *w) q = strip(q);
  return w;
}

Status NamespacedSink::point_view(const std::string& view, const std::string& table) {
  KAPPA_RETURN_IF_ERROR(validate_identifier(view, "view name"));
  KAPPA_RETURN_IF_ERROR(validate_identifier(table, "table name"));
  return inner_.point_view(name(view), name(table));
}

Result<std::optional<std::string>> NamespacedSink::view_target(const std::string& view) {
  auto t = inner_.view_target(name(view));
  if (!t || !*t) return t;
  return std::optional<std::string>(strip(**t));
}

}  // namespace kappa
