// The aggregation job (lab step 3.1): counts `events_stages` records per event-time window and
// dimension value, and writes the table through the Sink, as Spark's
//   withWatermark("timestamp", delay).groupBy(window("timestamp", size, slide), dim).count()
//   .writeStream.foreachBatch(jdbc append)
// would (DESIGN.md §3.1, rules 3-6). In batch N with watermark W(N):
//   - each record's event time (to_timestamp(time) in the session zone) assigns it to its windows;
//   - a (window, value) group whose window end <= the late-event watermark is dropped and counted
//     (late_rule: kSpark32 uses W(N), kSpark34 uses W(N-1) per SPARK-40925); complete mode drops
//     nothing;
//   - append: after adding the batch, every window with end <= W(N) is written once with its
//     final count and evicted; update: the groups the batch changed are written (upsert), then
//     windows with end <= W(N) are evicted silently; complete: the whole state is written.
// Records that do not decode go to the dead-letter topic. Per batch:
//   records read = decoded + dead-lettered;  window rows of decoded records = counted + late.
// State (window start, dimension value) -> count lives in the checkpoint as key/value deltas.
#pragma once

#include <array>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/codec/event_codec.h"
#include "pipeline/engine/micro_batch.h"
#include "pipeline/jobs/window.h"
#include "pipeline/sinks/sink.h"

namespace kappa {

enum class LateRule { kSpark32, kSpark34 };

// The `events_stages` fields a table can be grouped by.
enum class DimensionField { kTime, kUserId, kUserName, kDeptName, kGender, kAge, kHello, kId };
Result<DimensionField> dimension_field(std::string_view name);
ColumnType column_type(DimensionField field);

struct AggregationSpec {
  std::string query;  // query id (checkpoint, ledger); the table name when empty
  std::string table = "events_users_v1";
  std::string dimension = "user_name";
  WindowSpec window;
  int64_t watermark_delay_ms = 15000;
  OutputMode mode = OutputMode::kAppend;
  LateRule late_rule = LateRule::kSpark32;
  std::string source_topic = "events_stages";
  std::string dlq_topic = "events_dlq";
  size_t max_record_bytes = size_t{1} << 20;
};

class AggregateProcessor final : public BatchProcessor {
 public:
  // REQUIRES: spec validated (dimension known, window valid, identifiers valid).
  AggregateProcessor(AggregationSpec spec, TimeZone zone, Sink& sink);

  std::vector<std::string> output_topics() const override { return {spec_.dlq_topic}; }
  // The watermark is tracked in every mode (Spark does); complete mode just never uses it.
  std::optional<int64_t> watermark_delay_ms() const override { return spec_.watermark_delay_ms; }
  bool evicts_on_watermark() const override { return spec_.mode != OutputMode::kComplete; }

  void begin_batch(const BatchPlan& plan, BatchOutput& output) override;
  void process(std::span<const RecordView> records) override;
  Status finish_batch(BatchResult& result) override;
  StateDelta commit_state() override;
  void abort_batch() override;
  Status restore_state(const StateSnapshot& snapshot) override;
  // The sink's ledger holds no batch of this query that the checkpoint does not know of.
  Status check_resume(int64_t first_unknown_batch, const std::string& known) override;

  const AggregationSpec& spec() const { return spec_; }
  TableSpec table_spec() const;
  size_t state_groups() const { return state_.size(); }
  // Sum of the counts held in state (windows not yet written, in append mode).
  int64_t state_count() const;

 private:
  struct Key {
    int64_t start;
    uint32_t dim;
    friend bool operator==(const Key&, const Key&) = default;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<int64_t>()(k.start * 1000003 ^ static_cast<int64_t>(k.dim));
    }
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  uint32_t intern(const StagedEvent& e);
  uint32_t intern_string(std::string_view s);
  uint32_t intern_int(int64_t i);
  // The batch's count for key, through a small cache of recent keys (most events fall in the
  // window of the previous ones, among a few dimension values).
  int64_t& batch_count(const Key& key);
  void forget_batch();
  uint32_t intern_value(const DimValue& v);
  void set_state(const Key& key, std::optional<int64_t> value);
  std::string encode_key(const Key& key) const;
  // Appends a row for `key` to rows_ (reusing its strings).
  void add_row(const Key& key, int64_t count);

  AggregationSpec spec_;
  DimensionField field_;
  TimeZone zone_;
  Sink& sink_;
  EventCodec codec_;

  std::map<Key, int64_t> state_;  // ordered by window start: eviction pops from the front
  std::vector<DimValue> values_;  // dimension id -> value; id 0 is NULL
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> string_ids_;
  std::unordered_map<int64_t, uint32_t> int_ids_;
  // Direct-mapped caches in front of the maps: a dimension id (0: empty), a batch count.
  static constexpr size_t kRecent = 256;
  std::array<uint32_t, kRecent> recent_ids_{};
  struct RecentCount {
    Key key{0, 0};
    int64_t* count = nullptr;  // into batch_: its nodes do not move
  };
  std::array<RecentCount, 16> recent_counts_{};

  // The batch in progress.
  const BatchPlan* plan_ = nullptr;
  BatchOutput* output_ = nullptr;
  size_t dlq_topic_ = 0;
  std::unordered_map<Key, int64_t, KeyHash> batch_;  // partial counts of this batch
  std::optional<int64_t> max_event_time_;
  int64_t dead_ = 0;
  int64_t decoded_ = 0;
  std::vector<std::pair<Key, std::optional<int64_t>>> undo_;  // state before this batch
  std::string scratch_;

  // Buffers of finish_batch and commit_state, kept from batch to batch.
  TableSpec table_spec_;
  std::vector<std::pair<Key, int64_t>> groups_;
  std::vector<Key> changed_;
  std::vector<Key> touched_;
  std::vector<TableRow> rows_;  // the first rows_used_ are this batch's
  size_t rows_used_ = 0;
  std::optional<int64_t> formatted_start_ms_;  // the window whose text is formatted_start_/end_
  std::string formatted_start_, formatted_end_;
};

}  // namespace kappa
