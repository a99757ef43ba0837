#include "pipeline/event_codec.h"

#include <simdjson.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "pipeline/timestamp.h"

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

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string_view type_name(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
      return "an integer";
    case element_type::DOUBLE:
      return "a number with a fraction or exponent";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

bool fail(DecodeFailure& why, DeadLetterReason reason, std::string pointer, std::string detail) {
  why.reason = reason;
  why.pointer = std::move(pointer);
  why.detail = std::move(detail);
  return false;
}

// Field readers: absent and null both leave `out` empty; a wrong type fails.
bool read_string(element v, std::string_view name, std::optional<std::string_view>& out,
                 DecodeFailure& why) {
  if (v.type() == element_type::NULL_VALUE) {
    out.reset();
    return true;
  }
  if (v.type() != element_type::STRING) {
    return fail(why, DeadLetterReason::kWrongType, "/" + std::string(name),
                "expected a string at /" + std::string(name) + ", found " +
                    std::string(type_name(v.type())));
  }
  out = std::string_view(v.get_string().value_unsafe());
  return true;
}

bool read_int(element v, std::string_view name, std::optional<int64_t>& out, DecodeFailure& why) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      out.reset();
      return true;
    case element_type::INT64:
      out = v.get_int64().value_unsafe();
      return true;
    case element_type::UINT64:
      return fail(why, DeadLetterReason::kOutOfRange, "/" + std::string(name),
                  "expected an integer within int64 at /" + std::string(name) + ", found " +
                      std::to_string(v.get_uint64().value_unsafe()));
    default:
      return fail(why, DeadLetterReason::kWrongType, "/" + std::string(name),
                  "expected an integer at /" + std::string(name) + ", found " +
                      std::string(type_name(v.type())));
  }
}

}  // namespace

struct EventCodec::Parser {
  simdjson::dom::parser dom;
  std::vector<char> padded;

  // Parses `bytes` as a JSON object; on success `obj` is valid until the next call.
  bool parse_object(std::string_view bytes, size_t max_bytes, simdjson::dom::object& obj,
                    DecodeFailure& why) {
    if (bytes.size() > max_bytes) {
      return fail(why, DeadLetterReason::kOversize, "",
                  "record of " + std::to_string(bytes.size()) + " bytes exceeds the maximum of " +
                      std::to_string(max_bytes));
    }
    const size_t need = bytes.size() + simdjson::SIMDJSON_PADDING;
    if (padded.size() < need) padded.resize(need);
    std::memcpy(padded.data(), bytes.data(), bytes.size());
    std::memset(padded.data() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
    element root;
    auto error = dom.parse(padded.data(), bytes.size(), /*realloc_if_needed=*/false).get(root);
    if (error) {
      return fail(why, DeadLetterReason::kNotJson, "",
                  std::string("expected a JSON object, the value is not valid JSON (") +
                      simdjson::error_message(error) + ")");
    }
    if (root.type() != element_type::OBJECT) {
      return fail(why, DeadLetterReason::kNotObject, "",
                  "expected a JSON object, found " + std::string(type_name(root.type())));
    }
    obj = root.get_object().value_unsafe();
    return true;
  }
};

EventCodec::EventCodec(TimeZone zone, size_t max_record_bytes)
    : zone_(std::move(zone)),
      max_record_bytes_(max_record_bytes),
      parser_(std::make_unique<Parser>()) {}

EventCodec::~EventCodec() = default;

namespace {

bool read_time(const std::optional<std::string_view>& time, const TimeZone& zone, int64_t& out,
               DecodeFailure& why) {
  if (!time) {
    return fail(why, DeadLetterReason::kMissingField, "/time",
                "expected a string at /time (yyyy-MM-dd HH:mm:ss), the field is missing or null");
  }
  if (auto t = parse_timestamp_fast(*time, zone)) {
    out = *t;
    return true;
  }
  auto parsed = parse_timestamp(*time, zone);
  if (parsed) {
    out = *parsed;
    return true;
  }
  return fail(why, DeadLetterReason::kBadTime, "/time", parsed.status().message());
}

}  // namespace

bool EventCodec::decode_source(std::optional<std::string_view> bytes, SourceEvent& out,
                               DecodeFailure& why) {
  if (!bytes)
    return fail(why, DeadLetterReason::kMissingField, "",
                "expected a JSON object, the value is null");
  simdjson::dom::object obj;
  if (!parser_->parse_object(*bytes, max_record_bytes_, obj, why)) return false;
  std::optional<int64_t> id;
  std::optional<std::string_view> time;
  std::optional<std::string_view> hello;
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (key == "id") {
      if (!read_int(field.value, "id", id, why)) return false;
    } else if (key == "time") {
      if (!read_string(field.value, "time", time, why)) return false;
    } else if (key == "hello") {
      if (!read_string(field.value, "hello", hello, why)) return false;
    }
  }
  if (!id) {
    return fail(why, DeadLetterReason::kMissingField, "/id",
                "expected an integer at /id, the field is missing or null");
  }
  if (!read_time(time, zone_, out.event_time_ms, why)) return false;
  out.id = *id;
  out.time = *time;
  out.hello = hello;
  return true;
}

bool EventCodec::decode_staged(std::optional<std::string_view> bytes, StagedEvent& out,
                               DecodeFailure& why) {
  if (!bytes)
    return fail(why, DeadLetterReason::kMissingField, "",
                "expected a JSON object, the value is null");
  simdjson::dom::object obj;
  if (!parser_->parse_object(*bytes, max_record_bytes_, obj, why)) return false;
  StagedEvent e;
  std::optional<std::string_view> time;
  for (auto field : obj) {
    const std::string_view key = field.key;
    bool ok = true;
    if (key == "time")
      ok = read_string(field.value, "time", time, why);
    else if (key == "user_id")
      ok = read_int(field.value, "user_id", e.user_id, why);
    else if (key == "user_name")
      ok = read_string(field.value, "user_name", e.user_name, why);
    else if (key == "dept_name")
      ok = read_string(field.value, "dept_name", e.dept_name, why);
    else if (key == "gender")
      ok = read_string(field.value, "gender", e.gender, why);
    else if (key == "age")
      ok = read_int(field.value, "age", e.age, why);
    else if (key == "hello")
      ok = read_string(field.value, "hello", e.hello, why);
    else if (key == "id")
      ok = read_int(field.value, "id", e.id, why);
    if (!ok) return false;
  }
  if (!read_time(time, zone_, e.event_time_ms, why)) return false;
  e.time = *time;
  out = e;
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending unescaped run
  for (size_t i = 0; i < s.size(); ++i) {
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

void append_staged_json(std::string& out, const StagedEvent& e) {
  out.append("{\"time\":");
  append_json_string(out, e.time);
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
  out.append(",\"hello\":");
  append_opt_string(out, e.hello);
  out.append(",\"id\":");
  append_opt_int(out, e.id);
  out.push_back('}');
}

}  // namespace kappa
