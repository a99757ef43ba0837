// The stage job (lab step 2.2): reads `events`, enriches each event by the lab's rules and
// writes it to `events_stages` keyed by user_id; records that are not events go to `events_dlq`.
//
// Rules (DESIGN.md §2), with Java's remainder semantics for negative ids:
//   user_id   = id % 10                  user_name = names[user_id] else "Unknown Name"
//   dept_id   = id % 5  (not emitted)    dept_name = depts[dept_id] else "Unknown Dept"
//   gender    = id % 2 == 0 ? "남성" : "여성"
//   age       = id % 100 + 1
//   time, hello, id passed through unchanged.
// Output record: key = user_id in decimal, value = event_codec.h's staged JSON, timestamp = the
// batch's trigger time (Spark's Kafka sink stamps records when it sends them).
// Counts balance per batch: records read = staged + dead-lettered.
//
// Two modes. kDeadLetter (the default): a value that is not an event (event_codec.h) goes to
// `events_dlq` with the reason. kSpark: every value is staged as the lab's Spark job would stage
// it (spark_json.h): fields Spark's from_json makes null stay null (user_id, age and id left
// out, user_name "Unknown Name", dept_name "Unknown Dept", gender "여성", a null key), and
// only a value over the record size limit is dead-lettered.
#pragma once

#include <array>

#include <string>

#include "pipeline/codec/event_codec.h"
#include "pipeline/codec/spark_json.h"
#include "pipeline/engine/micro_batch.h"
#include "pipeline/jobs/fixtures.h"

namespace kappa {

inline constexpr std::string_view kUnknownName = "Unknown Name";
inline constexpr std::string_view kUnknownDept = "Unknown Dept";

// The lab's enrichment of one event. The views point into `e` and `fixtures`.
StagedEvent enrich(const SourceEvent& e, const Fixtures& fixtures);

enum class StageMode { kDeadLetter, kSpark };
std::string_view to_string(StageMode mode);  // "dead-letter", "spark"
// kInvalidArgument naming the accepted names.
Result<StageMode> parse_stage_mode(std::string_view name);

// The enrichment of what Spark's from_json made of a value. The views point into `e`.
SparkStagedEvent enrich_like_spark(const SparkSourceEvent& e, const Fixtures& fixtures);

struct StageSpec {
  std::string job = "stage";
  std::string source_topic = "events";
  std::string output_topic = "events_stages";
  std::string dlq_topic = "events_dlq";
  size_t max_record_bytes = size_t{1} << 20;
  StageMode mode = StageMode::kDeadLetter;
};

class StageProcessor final : public BatchProcessor {
 public:
  StageProcessor(StageSpec spec, const Fixtures& fixtures, TimeZone zone);

  std::vector<std::string> output_topics() const override {
    return {spec_.output_topic, spec_.dlq_topic};
  }
  std::optional<int64_t> watermark_delay_ms() const override { return std::nullopt; }
  bool evicts_on_watermark() const override { return false; }

  void begin_batch(const BatchPlan& plan, BatchOutput& output) override;
  void process(std::span<const RecordView> records) override;
  Status finish_batch(BatchResult& result) override;
  StateDelta commit_state() override { return {}; }
  void abort_batch() override { output_ = nullptr; }
  Status restore_state(const StateSnapshot&) override { return Status::ok(); }

 private:
  StageSpec spec_;
  const Fixtures& fixtures_;
  EventCodec codec_;
  BatchOutput* output_ = nullptr;
  size_t stages_topic_ = 0;
  size_t dlq_topic_ = 0;
  int64_t trigger_ms_ = 0;
  int64_t staged_ = 0;
  int64_t dead_ = 0;
  // What enrich() decides of an event, which is a function of id % 100 (user id % 10, dept id
  // % 5, gender % 2, age % 100): the JSON of the enriched fields (as append_staged_enrichment)
  // and the record key (user_id in decimal), made once per remainder.
  struct Enrichment {
    std::string json;  // empty: not made yet
    std::string key;
  };
  const Enrichment& enrichment(const SourceEvent& event);
  // `,"hello":<hello>,"id":` (as append_staged_tail writes it) for the last hello seen.
  std::string_view tail_prefix(const std::optional<std::string_view>& hello);

  std::string value_;
  SparkSourceEvent spark_event_;
  std::array<Enrichment, 199> enrichment_;  // by id % 100 + 99 (-99 .. 99)
  std::optional<std::string> last_hello_;
  std::string last_tail_prefix_;
};

}  // namespace kappa
