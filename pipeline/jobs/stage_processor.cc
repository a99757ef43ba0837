#include "pipeline/jobs/stage_processor.h"

#include <charconv>

#include "pipeline/jobs/dead_letter.h"

namespace kappa {

StagedEvent enrich(const SourceEvent& e, const Fixtures& fixtures) {
  static constexpr std::string_view kMale = "남성";
  static constexpr std::string_view kFemale = "여성";
  StagedEvent s;
  s.time = e.time;
  s.user_id = e.id % 10;
  s.user_name = fixtures.names.find(*s.user_id).value_or(kUnknownName);
  s.dept_name = fixtures.depts.find(e.id % 5).value_or(kUnknownDept);
  s.gender = e.id % 2 == 0 ? kMale : kFemale;
  s.age = e.id % 100 + 1;
  s.hello = e.hello;
  s.id = e.id;
  s.event_time_ms = e.event_time_ms;
  return s;
}

std::string_view to_string(StageMode mode) {
  return mode == StageMode::kSpark ? "spark" : "dead-letter";
}

Result<StageMode> parse_stage_mode(std::string_view name) {
  if (name == "dead-letter") return StageMode::kDeadLetter;
  if (name == "spark") return StageMode::kSpark;
  return Status::invalid_argument("stage mode must be \"dead-letter\" or \"spark\", got \"" +
                                  std::string(name) + "\"");
}

SparkStagedEvent enrich_like_spark(const SparkSourceEvent& e, const Fixtures& fixtures) {
  static constexpr std::string_view kMale = "남성";
  static constexpr std::string_view kFemale = "여성";
  SparkStagedEvent s;
  if (e.time) s.time = *e.time;
  if (e.hello) s.hello = *e.hello;
  s.user_name = kUnknownName;
  s.dept_name = kUnknownDept;
  // `case when id % 2 = 0 then '남성' else '여성'`: a null id is not even.
  s.gender = e.id && *e.id % 2 == 0 ? kMale : kFemale;
  if (e.id) {
    s.id = e.id;
    s.user_id = *e.id % 10;
    s.age = *e.id % 100 + 1;
    s.user_name = fixtures.names.find(*s.user_id).value_or(kUnknownName);
    s.dept_name = fixtures.depts.find(*e.id % 5).value_or(kUnknownDept);
  }
  return s;
}

StageProcessor::StageProcessor(StageSpec spec, const Fixtures& fixtures, TimeZone zone)
    : spec_(std::move(spec)),
      fixtures_(fixtures),
      codec_(std::move(zone), spec_.max_record_bytes) {}

void StageProcessor::begin_batch(const BatchPlan& plan, BatchOutput& output) {
  output_ = &output;
  stages_topic_ = output.topic(spec_.output_topic);
  dlq_topic_ = output.topic(spec_.dlq_topic);
  trigger_ms_ = plan.trigger_ms;
  staged_ = 0;
  dead_ = 0;
}

void StageProcessor::process(std::span<const RecordView> records) {
  SourceEvent event;
  DecodeFailure why;
  for (const RecordView& r : records) {
    if (spec_.mode == StageMode::kSpark) {
      if (r.value && r.value->size() > spec_.max_record_bytes) {
        why = {DeadLetterReason::kOversize, "",
               "record of " + std::to_string(r.value->size()) + " bytes exceeds the maximum of " +
                   std::to_string(spec_.max_record_bytes)};
        add_dead_letter(*output_, value_, dlq_topic_, spec_.job, spec_.source_topic, r, why,
                        trigger_ms_);
        ++dead_;
        continue;
      }
      spark_from_json(r.value, spark_event_);
      const SparkStagedEvent staged = enrich_like_spark(spark_event_, fixtures_);
      value_.clear();
      append_spark_staged_json(value_, staged);
      std::optional<std::string_view> key;
      char digits[24];
      if (staged.user_id) {
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, *staged.user_id);
        key = std::string_view(digits, static_cast<size_t>(end - digits));
      }
      output_->add(stages_topic_, key, value_, trigger_ms_);
      ++staged_;
      continue;
    }
    if (!codec_.decode_source(r.value, event, why)) {
      add_dead_letter(*output_, value_, dlq_topic_, spec_.job, spec_.source_topic, r, why,
                      trigger_ms_);
      ++dead_;
      continue;
    }
    // append_staged_json(enrich(event)), with what enrich() decides taken from the caches.
    const Enrichment& enriched = enrichment(event);
    value_.clear();
    append_staged_head(value_, event.time);
    value_.append(enriched.json);
    value_.append(tail_prefix(event.hello));
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, event.id);
    value_.append(digits, static_cast<size_t>(end - digits));
    value_.push_back('}');
    output_->add(stages_topic_, enriched.key, value_, trigger_ms_);
    ++staged_;
  }
}

const StageProcessor::Enrichment& StageProcessor::enrichment(const SourceEvent& event) {
  Enrichment& e = enrichment_[static_cast<size_t>(event.id % 100 + 99)];
  if (e.json.empty()) {  // the fixtures do not change: once per remainder
    const StagedEvent staged = enrich(event, fixtures_);
    append_staged_enrichment(e.json, staged);
    e.key = std::to_string(*staged.user_id);
  }
  return e;
}

std::string_view StageProcessor::tail_prefix(const std::optional<std::string_view>& hello) {
  if (!last_tail_prefix_.empty() && hello.has_value() == last_hello_.has_value() &&
      (!hello || *hello == *last_hello_))
    return last_tail_prefix_;
  last_hello_ = hello ? std::optional<std::string>(std::string(*hello)) : std::nullopt;
  last_tail_prefix_.clear();
  StagedEvent e;
  e.hello = hello;
  e.id = 0;
  append_staged_tail(last_tail_prefix_, e);                // ,"hello":...,"id":0}
  last_tail_prefix_.resize(last_tail_prefix_.size() - 2);  // without the id and the brace
  return last_tail_prefix_;
}

Status StageProcessor::finish_batch(BatchResult& result) {
  result.rows_out = staged_;
  result.decoded = staged_;
  result.dead_letters = dead_;
  output_ = nullptr;
  return Status::ok();
}

}  // namespace kappa
