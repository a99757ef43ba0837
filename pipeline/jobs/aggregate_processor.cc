#include "pipeline/jobs/aggregate_processor.h"

#include <algorithm>
#include <cstring>

#include "pipeline/jobs/dead_letter.h"
#include "pipeline/time/timestamp.h"

namespace kappa {

Result<DimensionField> dimension_field(std::string_view name) {
  static const std::pair<std::string_view, DimensionField> kFields[] = {
      {"time", DimensionField::kTime},          {"user_id", DimensionField::kUserId},
      {"user_name", DimensionField::kUserName}, {"dept_name", DimensionField::kDeptName},
      {"gender", DimensionField::kGender},      {"age", DimensionField::kAge},
      {"hello", DimensionField::kHello},        {"id", DimensionField::kId}};
  for (const auto& [n, f] : kFields) {
    if (n == name) return f;
  }
  return Status::invalid_argument("unknown dimension '" + std::string(name) +
                                  "'; expected one of the events_stages fields: time, user_id, "
                                  "user_name, dept_name, gender, age, hello, id");
}

ColumnType column_type(DimensionField field) {
  switch (field) {
    case DimensionField::kUserId:
    case DimensionField::kAge:
    case DimensionField::kId:
      return ColumnType::kBigint;
    default:
      return ColumnType::kText;
  }
}

AggregateProcessor::AggregateProcessor(AggregationSpec spec, TimeZone zone, Sink& sink)
    : spec_(std::move(spec)),
      field_(dimension_field(spec_.dimension).value()),
      zone_(zone),
      sink_(sink),
      codec_(std::move(zone), spec_.max_record_bytes) {
  if (spec_.query.empty()) spec_.query = spec_.table;
  values_.emplace_back(std::monostate{});
  table_spec_ = table_spec();
}

TableSpec AggregateProcessor::table_spec() const {
  return TableSpec{spec_.table, spec_.dimension, column_type(field_)};
}

uint32_t AggregateProcessor::intern_value(const DimValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return 0;
  if (const auto* i = std::get_if<int64_t>(&v)) {
    auto [it, inserted] = int_ids_.try_emplace(*i, static_cast<uint32_t>(values_.size()));
    if (inserted) values_.emplace_back(*i);
    return it->second;
  }
  const auto& s = std::get<std::string>(v);
  if (auto it = string_ids_.find(std::string_view(s)); it != string_ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(values_.size());
  string_ids_.emplace(s, id);
  values_.emplace_back(s);
  return id;
}

uint32_t AggregateProcessor::intern_string(std::string_view s) {
  // The slot: the first eight bytes and the length, mixed by a multiply, top bits.
  uint64_t head = 0;
  std::memcpy(&head, s.data(), std::min<size_t>(s.size(), sizeof head));
  const uint64_t mixed = (head ^ (s.size() * 0x9E3779B97F4A7C15ULL)) * 0xD6E8FEB86659FD93ULL;
  uint32_t& recent = recent_ids_[(mixed >> 56) % kRecent];
  if (recent != 0) {
    if (const auto* text = std::get_if<std::string>(&values_[recent]); text && *text == s)
      return recent;
  }
  if (auto it = string_ids_.find(s); it != string_ids_.end()) return recent = it->second;
  return recent = intern_value(DimValue(std::string(s)));
}

uint32_t AggregateProcessor::intern_int(int64_t i) {
  uint32_t& recent =
      recent_ids_[(static_cast<uint64_t>(i) * 0xD6E8FEB86659FD93ULL >> 56) % kRecent];
  if (recent != 0) {
    if (const auto* n = std::get_if<int64_t>(&values_[recent]); n && *n == i) return recent;
  }
  if (auto it = int_ids_.find(i); it != int_ids_.end()) return recent = it->second;
  return recent = intern_value(DimValue(i));
}

uint32_t AggregateProcessor::intern(const StagedEvent& e) {
  auto by_string = [this](const std::optional<std::string_view>& s) -> uint32_t {
    return s ? intern_string(*s) : 0;
  };
  auto by_int = [this](const std::optional<int64_t>& i) -> uint32_t {
    return i ? intern_int(*i) : 0;
  };
  switch (field_) {
    case DimensionField::kTime:
      return by_string(e.time);
    case DimensionField::kUserId:
      return by_int(e.user_id);
    case DimensionField::kUserName:
      return by_string(e.user_name);
    case DimensionField::kDeptName:
      return by_string(e.dept_name);
    case DimensionField::kGender:
      return by_string(e.gender);
    case DimensionField::kAge:
      return by_int(e.age);
    case DimensionField::kHello:
      return by_string(e.hello);
    case DimensionField::kId:
      return by_int(e.id);
  }
  return 0;
}

int64_t& AggregateProcessor::batch_count(const Key& key) {
  RecentCount& recent = recent_counts_[(static_cast<uint64_t>(key.start) / 1000 * 31 + key.dim) %
                                       recent_counts_.size()];
  if (recent.count && recent.key == key) return *recent.count;
  recent.key = key;
  recent.count = &batch_[key];
  return *recent.count;
}

void AggregateProcessor::forget_batch() {
  batch_.clear();
  recent_counts_.fill(RecentCount{});
}

void AggregateProcessor::begin_batch(const BatchPlan& plan, BatchOutput& output) {
  plan_ = &plan;
  output_ = &output;
  dlq_topic_ = output.topic(spec_.dlq_topic);
  forget_batch();
  max_event_time_.reset();
  dead_ = 0;
  decoded_ = 0;
  undo_.clear();
}

void AggregateProcessor::process(std::span<const RecordView> records) {
  StagedEvent e;
  DecodeFailure why;
  for (const RecordView& r : records) {
    if (!codec_.decode_staged(r.value, e, why)) {
      add_dead_letter(*output_, scratch_, dlq_topic_, spec_.query, spec_.source_topic, r, why,
                      plan_->trigger_ms);
      ++dead_;
      continue;
    }
    ++decoded_;
    const int64_t t = e.event_time_ms;
    if (!max_event_time_ || t > *max_event_time_) max_event_time_ = t;
    const uint32_t dim = intern(e);
    for_each_window(spec_.window, t, [&](int64_t start) { ++batch_count(Key{start, dim}); });
  }
}

void AggregateProcessor::set_state(const Key& key, std::optional<int64_t> value) {
  auto it = state_.find(key);
  undo_.emplace_back(key, it == state_.end() ? std::nullopt : std::optional<int64_t>(it->second));
  if (!value) {
    if (it != state_.end()) state_.erase(it);
  } else if (it == state_.end()) {
    state_.emplace(key, *value);
  } else {
    it->second = *value;
  }
}

void AggregateProcessor::add_row(const Key& key, int64_t count) {
  if (rows_used_ == rows_.size()) rows_.emplace_back();
  TableRow& r = rows_[rows_used_++];
  // A batch's rows come a window at a time: its text is formatted once per window, and the
  // strings of the rows reused from batch to batch keep their buffers.
  if (!formatted_start_ms_ || *formatted_start_ms_ != key.start) {
    formatted_start_ = format_timestamp_ms(key.start, zone_);
    formatted_end_ = format_timestamp_ms(key.start + spec_.window.size_ms, zone_);
    formatted_start_ms_ = key.start;
  }
  r.start.assign(formatted_start_);
  r.end.assign(formatted_end_);
  r.dim = values_[key.dim];
  r.count = count;
}

Status AggregateProcessor::finish_batch(BatchResult& result) {
  const BatchPlan& plan = *plan_;
  const bool complete = spec_.mode == OutputMode::kComplete;
  const int64_t late_watermark =
      spec_.late_rule == LateRule::kSpark32 ? plan.watermark_ms : plan.previous_watermark_ms;
  const int64_t evict_watermark = plan.watermark_ms;
  const int64_t size = spec_.window.size_ms;

  groups_.assign(batch_.begin(), batch_.end());
  std::sort(groups_.begin(), groups_.end());
  changed_.clear();
  for (const auto& [key, n] : groups_) {
    if (!complete && key.start + size <= late_watermark) {
      result.late_rows += n;
      ++result.late_groups;
      continue;
    }
    result.windowed_rows += n;
    auto it = state_.find(key);
    set_state(key, (it == state_.end() ? 0 : it->second) + n);
    changed_.push_back(key);
  }

  rows_used_ = 0;
  if (complete) {
    for (const auto& [key, n] : state_) add_row(key, n);
  } else {
    if (spec_.mode == OutputMode::kUpdate) {
      for (const Key& key : changed_) add_row(key, state_.at(key));
    }
    while (!state_.empty() && state_.begin()->first.start + size <= evict_watermark) {
      const auto [key, n] = *state_.begin();
      if (spec_.mode == OutputMode::kAppend) add_row(key, n);
      set_state(key, std::nullopt);
    }
  }
  const std::span<TableRow> rows(rows_.data(), rows_used_);
  std::sort(rows.begin(), rows.end());

  BatchCommit commit;
  commit.query_id = spec_.query;
  commit.batch_id = plan.batch_id;
  commit.table = table_spec_;
  commit.mode = spec_.mode;
  commit.rows = rows;
  commit.source_start = format_offsets(spec_.source_topic, plan.start);
  commit.source_end = format_offsets(spec_.source_topic, plan.end);
  auto outcome = sink_.commit_batch(commit);
  if (!outcome)
    return outcome.status().with_context("query " + spec_.query + " batch " +
                                         std::to_string(plan.batch_id));

  result.rows_out = static_cast<int64_t>(rows.size());
  result.sink_skipped = *outcome == CommitOutcome::kAlreadyCommitted;
  result.dead_letters = dead_;
  result.decoded = decoded_;
  result.max_event_time_ms = max_event_time_;
  result.state_rows = static_cast<int64_t>(state_.size());
  return Status::ok();
}

int64_t AggregateProcessor::state_count() const {
  int64_t n = 0;
  for (const auto& [_, c] : state_) n += c;
  return n;
}

std::string AggregateProcessor::encode_key(const Key& key) const {
  // 8 bytes of the window start, big-endian with the sign bit flipped (so keys sort by start),
  // then the dimension value: 'n' for NULL, 'i' + 8 bytes, or 's' + the string's bytes.
  std::string out(8, '\0');
  const auto u = static_cast<uint64_t>(key.start) ^ (uint64_t{1} << 63);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>(u >> (56 - 8 * i));
  const DimValue& v = values_[key.dim];
  if (std::holds_alternative<std::monostate>(v)) {
    out.push_back('n');
  } else if (const auto* n = std::get_if<int64_t>(&v)) {
    out.push_back('i');
    const auto w = static_cast<uint64_t>(*n);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(w >> (56 - 8 * i)));
  } else {
    out.push_back('s');
    out.append(std::get<std::string>(v));
  }
  return out;
}

Status AggregateProcessor::check_resume(int64_t first_unknown_batch, const std::string& known) {
  auto last = sink_.last_batch(spec_.query);
  if (!last) return last.status().with_context("query " + spec_.query + " reading its ledger");
  if (!*last || (*last)->batch_id < first_unknown_batch) return Status::ok();
  return Status::failed_precondition(
      "query " + spec_.query + ": the ledger in " + sink_.describe() + " records its batch " +
      std::to_string((*last)->batch_id) + " (source offsets up to " + (*last)->source_end +
      ") in " + (*last)->table + ", but " + known +
      ": the checkpoint is missing, rolled back or another run's, and going on would lose or "
      "double rows. Start the query with the checkpoint it ran with (--checkpoint), or recover "
      "into a new table.");
}

StateDelta AggregateProcessor::commit_state() {
  StateDelta delta;
  // The last write of each key in this batch decides what the checkpoint holds.
  touched_.clear();
  for (const auto& [key, _] : undo_) touched_.push_back(key);
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (const Key& key : touched_) {
    auto it = state_.find(key);
    if (it == state_.end()) {
      delta.removes.push_back(encode_key(key));
    } else {
      delta.puts.emplace_back(encode_key(key), std::to_string(it->second));
    }
  }
  undo_.clear();
  forget_batch();
  plan_ = nullptr;
  output_ = nullptr;
  return delta;
}

void AggregateProcessor::abort_batch() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second) {
      state_[it->first] = *it->second;
    } else {
      state_.erase(it->first);
    }
  }
  undo_.clear();
  forget_batch();
  plan_ = nullptr;
  output_ = nullptr;
}

Status AggregateProcessor::restore_state(const StateSnapshot& snapshot) {
  state_.clear();
  for (const auto& [k, v] : snapshot) {
    if (k.size() < 9)
      return Status::corruption("checkpoint state key of " + std::to_string(k.size()) + " bytes");
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i)
      u = (u << 8) | static_cast<unsigned char>(k[static_cast<size_t>(i)]);
    const auto start = static_cast<int64_t>(u ^ (uint64_t{1} << 63));
    DimValue dim;
    const char tag = k[8];
    if (tag == 'i' && k.size() == 17) {
      uint64_t w = 0;
      for (size_t i = 9; i < 17; ++i) w = (w << 8) | static_cast<unsigned char>(k[i]);
      dim = static_cast<int64_t>(w);
    } else if (tag == 's') {
      dim = k.substr(9);
    } else if (tag != 'n' || k.size() != 9) {
      return Status::corruption("checkpoint state key with unknown dimension tag");
    }
    int64_t count = 0;
    try {
      count = std::stoll(v);
    } catch (const std::exception&) {
      return Status::corruption("checkpoint state value '" + v + "' is not a count");
    }
    state_[Key{start, intern_value(dim)}] = count;
  }
  return Status::ok();
}

}  // namespace kappa
