// The one JSON path for events (DESIGN.md §2): decoding `events` and `events_stages` values and
// encoding them, with the reasons a record is dead-lettered.
//
// `events` value, as fluentd's dummy + record_transformer wrote it (field order hello, id, time):
//   {"hello":"ssm-seoul","id":0,"time":"2022-09-30 16:42:01"}
//   id: JSON integer within int64, required.  time: string that parses as a timestamp in the
//   session zone (timestamp.h), required.  hello: string or null, optional (absent = null).
//   Other fields are ignored, as Spark's from_json with the lab's schema ignores them.
// `events_stages` value (docs/events_stages.md, docs/events_stages.schema.json), fields in
// exactly this order:
//   {"time":"2022-09-30 16:42:01","user_id":1,"user_name":"one","dept_name":"Marketing",
//    "gender":"여성","age":2,"hello":"ssm-seoul","id":1}
//   time is required and must parse; the other fields may be null or absent when read back.
//
// A value that fails these rules is not an event: the caller dead-letters it with the
// DecodeFailure (reason code, JSON pointer, human-readable detail). Duplicate keys: the last one
// wins, as in Spark's JSON reader. Strings are UTF-8; non-ASCII is written unescaped.
//
// Decoding is on the hot path (about a million records a second): one EventCodec per job, not
// shared between threads; string_views in a decoded event point into the codec and stay valid
// until its next decode call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/time/time_zone.h"

namespace kappa {

class FlatJsonParser;
class FlatLayout;

enum class DeadLetterReason {
  kNotJson,       // not parseable as JSON (or not UTF-8)
  kNotObject,     // JSON, but not an object
  kMissingField,  // a required field is absent or null
  kWrongType,     // a field has the wrong JSON type
  kOutOfRange,    // an integer outside int64
  kBadTime,       // `time` does not parse as a timestamp
  kOversize,      // larger than the configured maximum record size
};
std::string_view to_string(DeadLetterReason reason);

struct DecodeFailure {
  DeadLetterReason reason = DeadLetterReason::kNotJson;
  std::string pointer;  // JSON pointer of the offending field ("" for the whole value)
  std::string detail;   // what was expected and what was found
};

struct SourceEvent {
  int64_t id = 0;
  std::optional<std::string_view> hello;
  std::string_view time;
  int64_t event_time_ms = 0;
};

struct StagedEvent {
  std::string_view time;
  std::optional<int64_t> user_id;
  std::optional<std::string_view> user_name;
  std::optional<std::string_view> dept_name;
  std::optional<std::string_view> gender;
  std::optional<int64_t> age;
  std::optional<std::string_view> hello;
  std::optional<int64_t> id;
  int64_t event_time_ms = 0;
};

class EventCodec {
 public:
  explicit EventCodec(TimeZone zone, size_t max_record_bytes = size_t{1} << 20);
  ~EventCodec();
  EventCodec(const EventCodec&) = delete;
  EventCodec& operator=(const EventCodec&) = delete;

  const TimeZone& zone() const { return zone_; }

  // A null value (a Kafka tombstone) fails as kMissingField at "".
  bool decode_source(std::optional<std::string_view> bytes, SourceEvent& out, DecodeFailure& why);
  bool decode_staged(std::optional<std::string_view> bytes, StagedEvent& out, DecodeFailure& why);

 private:
  // true: an object; `laid_out` says whether its members are exactly `layout`'s, in order.
  bool parse_object(std::optional<std::string_view> bytes, const FlatLayout& layout, bool& laid_out,
                    DecodeFailure& why);
  bool read_time(const std::optional<std::string_view>& time, int64_t& out, DecodeFailure& why);

  static constexpr size_t kTimeTextSize = 19;  // "yyyy-MM-dd HH:mm:ss"

  TimeZone zone_;
  size_t max_record_bytes_;
  std::unique_ptr<FlatJsonParser> parser_;
  std::unique_ptr<const FlatLayout> source_layout_;  // as append_source_event_json writes it
  std::unique_ptr<const FlatLayout> staged_layout_;  // as append_staged_json writes it
  bool have_last_time_ = false;                      // last_time_ holds a text the fast path parsed
  char last_time_[kTimeTextSize] = {};
  int64_t last_time_ms_ = 0;
};

// Encoders append to `out` (no allocation once `out` has capacity).
void append_json_string(std::string& out, std::string_view s);
void append_source_event_json(std::string& out, int64_t id, std::optional<std::string_view> hello,
                              std::string_view time);
void append_staged_json(std::string& out, const StagedEvent& e);
// append_staged_json in three pieces, in this order: {"time", then user_id .. age (what the
// fixtures decide), then hello, id and the closing brace.
void append_staged_head(std::string& out, std::string_view time);
void append_staged_enrichment(std::string& out, const StagedEvent& e);
void append_staged_tail(std::string& out, const StagedEvent& e);

}  // namespace kappa
