#include "pipeline/codec/event_codec.h"

#include <charconv>
#include <cstring>
#include <span>
#include <vector>

#include "pipeline/codec/flat_json.h"
#include "pipeline/time/timestamp.h"

namespace kappa {

std::string_view to_string(DeadLetterReason reason) {
  switch (reason) {
    case DeadLetterReason::kNotJson:
      return "not_json";
    case DeadLetterReason::kNotObject:
      return "not_object";
    case DeadLetterReason::kMissingField:
      return "missing_field";
    case DeadLetterReason::kWrongType:
      return "wrong_type";
    case DeadLetterReason::kOutOfRange:
      return "out_of_range";
    case DeadLetterReason::kBadTime:
      return "bad_time";
    case DeadLetterReason::kOversize:
      return "oversize";
  }
  return "unknown";
}

namespace {

bool fail(DecodeFailure& why, DeadLetterReason reason, std::string pointer, std::string detail) {
  why.reason = reason;
  why.pointer = std::move(pointer);
  why.detail = std::move(detail);
  return false;
}

// Field readers: null leaves `out` empty; a wrong type fails.
bool read_string(const FlatMember& m, std::optional<std::string_view>& out, DecodeFailure& why) {
  if (m.type == FlatMember::Type::kNull) {
    out.reset();
    return true;
  }
  if (m.type != FlatMember::Type::kString) {
    return fail(why, DeadLetterReason::kWrongType, "/" + std::string(m.key),
                "expected a string at /" + std::string(m.key) + ", found " +
                    std::string(type_name(m.type)));
  }
  out = m.str;
  return true;
}

bool read_int(const FlatMember& m, std::optional<int64_t>& out, DecodeFailure& why) {
  switch (m.type) {
    case FlatMember::Type::kNull:
      out.reset();
      return true;
    case FlatMember::Type::kInt:
      out = m.i;
      return true;
    case FlatMember::Type::kUint:
      return fail(why, DeadLetterReason::kOutOfRange, "/" + std::string(m.key),
                  "expected an integer within int64 at /" + std::string(m.key) + ", found " +
                      std::to_string(m.u));
    default:
      return fail(why, DeadLetterReason::kWrongType, "/" + std::string(m.key),
                  "expected an integer at /" + std::string(m.key) + ", found " +
                      std::string(type_name(m.type)));
  }
}

}  // namespace

EventCodec::EventCodec(TimeZone zone, size_t max_record_bytes)
    : zone_(std::move(zone)),
      max_record_bytes_(max_record_bytes),
      parser_(std::make_unique<FlatJsonParser>()),
      source_layout_(std::make_unique<FlatLayout>(FlatLayout{"hello", "id", "time"})),
      staged_layout_(std::make_unique<FlatLayout>(FlatLayout{
          "time", "user_id", "user_name", "dept_name", "gender", "age", "hello", "id"})) {}

EventCodec::~EventCodec() = default;

bool EventCodec::read_time(const std::optional<std::string_view>& time, int64_t& out,
                           DecodeFailure& why) {
  if (!time) {
    return fail(why, DeadLetterReason::kMissingField, "/time",
                "expected a string at /time (yyyy-MM-dd HH:mm:ss), the field is missing or null");
  }
  // Consecutive events mostly share their second: the text of the last one parsed by the fast
  // path is kept with its instant.
  if (have_last_time_ && time->size() == kTimeTextSize &&
      std::memcmp(time->data(), last_time_, kTimeTextSize) == 0) {
    out = last_time_ms_;
    return true;
  }
  if (auto t = parse_timestamp_fast(*time, zone_)) {
    out = *t;
    if (time->size() == kTimeTextSize) {
      std::memcpy(last_time_, time->data(), kTimeTextSize);
      last_time_ms_ = *t;
      have_last_time_ = true;
    }
    return true;
  }
  auto parsed = parse_timestamp(*time, zone_);
  if (parsed) {
    out = *parsed;
    return true;
  }
  return fail(why, DeadLetterReason::kBadTime, "/time", parsed.status().message());
}

bool EventCodec::parse_object(std::optional<std::string_view> bytes, const FlatLayout& layout,
                              bool& laid_out, DecodeFailure& why) {
  laid_out = false;
  if (!bytes)
    return fail(why, DeadLetterReason::kMissingField, "",
                "expected a JSON object, the value is null");
  if (bytes->size() > max_record_bytes_) {
    return fail(why, DeadLetterReason::kOversize, "",
                "record of " + std::to_string(bytes->size()) + " bytes exceeds the maximum of " +
                    std::to_string(max_record_bytes_));
  }
  if (parser_->parse_layout(*bytes, layout)) {
    laid_out = true;
    return true;
  }
  switch (parser_->parse(*bytes)) {
    case FlatJsonParser::Outcome::kObject:
      return true;
    case FlatJsonParser::Outcome::kNotObject:
      return fail(why, DeadLetterReason::kNotObject, "",
                  "expected a JSON object, found " + std::string(type_name(parser_->top())));
    case FlatJsonParser::Outcome::kInvalid:
      return fail(why, DeadLetterReason::kNotJson, "",
                  "expected a JSON object, the value is not valid JSON (" + parser_->error() + ")");
  }
  return false;
}

bool EventCodec::decode_source(std::optional<std::string_view> bytes, SourceEvent& out,
                               DecodeFailure& why) {
  bool laid_out = false;
  if (!parse_object(bytes, *source_layout_, laid_out, why)) return false;
  std::optional<int64_t> id;
  std::optional<std::string_view> time;
  std::optional<std::string_view> hello;
  const std::vector<FlatMember>& members = parser_->members();
  if (laid_out) {  // the same readers in document order, without comparing keys
    if (!read_string(members[0], hello, why) || !read_int(members[1], id, why) ||
        !read_string(members[2], time, why))
      return false;
  } else {
    for (const FlatMember& m : members) {
      bool ok = true;
      if (m.key == "id")
        ok = read_int(m, id, why);
      else if (m.key == "time")
        ok = read_string(m, time, why);
      else if (m.key == "hello")
        ok = read_string(m, hello, why);
      if (!ok) return false;
    }
  }
  if (!id) {
    return fail(why, DeadLetterReason::kMissingField, "/id",
                "expected an integer at /id, the field is missing or null");
  }
  if (!read_time(time, out.event_time_ms, why)) return false;
  out.id = *id;
  out.time = *time;
  out.hello = hello;
  return true;
}

bool EventCodec::decode_staged(std::optional<std::string_view> bytes, StagedEvent& out,
                               DecodeFailure& why) {
  bool laid_out = false;
  if (!parse_object(bytes, *staged_layout_, laid_out, why)) return false;
  StagedEvent e;
  std::optional<std::string_view> time;
  const std::vector<FlatMember>& members = parser_->members();
  if (laid_out) {  // the same readers in document order, without comparing keys
    if (!read_string(members[0], time, why) || !read_int(members[1], e.user_id, why) ||
        !read_string(members[2], e.user_name, why) || !read_string(members[3], e.dept_name, why) ||
        !read_string(members[4], e.gender, why) || !read_int(members[5], e.age, why) ||
        !read_string(members[6], e.hello, why) || !read_int(members[7], e.id, why))
      return false;
  }
  for (const FlatMember& m : laid_out ? std::span<const FlatMember>() : members) {
    bool ok = true;
    if (m.key == "time")
      ok = read_string(m, time, why);
    else if (m.key == "user_id")
      ok = read_int(m, e.user_id, why);
    else if (m.key == "user_name")
      ok = read_string(m, e.user_name, why);
    else if (m.key == "dept_name")
      ok = read_string(m, e.dept_name, why);
    else if (m.key == "gender")
      ok = read_string(m, e.gender, why);
    else if (m.key == "age")
      ok = read_int(m, e.age, why);
    else if (m.key == "hello")
      ok = read_string(m, e.hello, why);
    else if (m.key == "id")
      ok = read_int(m, e.id, why);
    if (!ok) return false;
  }
  if (!read_time(time, e.event_time_ms, why)) return false;
  e.time = *time;
  out = e;
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";  // as Jackson (Spark's to_json) writes them
  out.push_back('"');
  const size_t first = first_json_special(s);
  if (first == s.size()) {  // the common case: nothing to escape
    out.append(s);
    out.push_back('"');
    return;
  }
  size_t run = 0;  // start of the pending unescaped run
  for (size_t i = first; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(esc, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

void append_opt_string(std::string& out, const std::optional<std::string_view>& s) {
  if (s)
    append_json_string(out, *s);
  else
    out.append("null");
}

void append_opt_int(std::string& out, const std::optional<int64_t>& v) {
  if (v)
    append_int(out, *v);
  else
    out.append("null");
}

}  // namespace

void append_source_event_json(std::string& out, int64_t id, std::optional<std::string_view> hello,
                              std::string_view time) {
  out.append("{\"hello\":");
  append_opt_string(out, hello);
  out.append(",\"id\":");
  append_int(out, id);
  out.append(",\"time\":");
  append_json_string(out, time);
  out.push_back('}');
}

void append_staged_head(std::string& out, std::string_view time) {
  out.append("{\"time\":");
  append_json_string(out, time);
}

void append_staged_enrichment(std::string& out, const StagedEvent& e) {
  out.append(",\"user_id\":");
  append_opt_int(out, e.user_id);
  out.append(",\"user_name\":");
  append_opt_string(out, e.user_name);
  out.append(",\"dept_name\":");
  append_opt_string(out, e.dept_name);
  out.append(",\"gender\":");
  append_opt_string(out, e.gender);
  out.append(",\"age\":");
  append_opt_int(out, e.age);
}

void append_staged_tail(std::string& out, const StagedEvent& e) {
  out.append(",\"hello\":");
  append_opt_string(out, e.hello);
  out.append(",\"id\":");
  append_opt_int(out, e.id);
  out.push_back('}');
}

void append_staged_json(std::string& out, const StagedEvent& e) {
  append_staged_head(out, e.time);
  append_staged_enrichment(out, e);
  append_staged_tail(out, e);
}

}  // namespace kappa
