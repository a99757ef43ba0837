#include "replay/scenario/capture.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "pipeline/codec/event_codec.h"
#include "pipeline/codec/input_file.h"
#include "pipeline/jobs/dead_letter.h"

namespace kappa {
namespace {

void append_bytes(std::string& out, std::string_view name,
                  const std::optional<std::string_view>& bytes) {
  out += ",\"";
  if (bytes && !is_valid_utf8(*bytes)) {
    out += name;
    out += "_base64\":";
    append_json_string(out, base64_encode(*bytes));
    return;
  }
  out += name;
  out += "\":";
  if (bytes)
    append_json_string(out, *bytes);
  else
    out += "null";
}

}  // namespace

Result<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0)
    return Status::invalid_argument("base64 text length is not a multiple of 4");
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++pad;
        n <<= 6;
        continue;
      }
      const int v = value(c);
      if (v < 0 || pad > 0) return Status::invalid_argument("invalid base64 character");
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

std::string capture_line(std::string_view topic, const RecordView& r) {
  std::string out = "{\"topic\":";
  append_json_string(out, topic);
  out += ",\"partition\":" + std::to_string(r.partition) +
         ",\"offset\":" + std::to_string(r.offset) +
         ",\"timestamp\":" + std::to_string(r.timestamp_ms);
  append_bytes(out, "key", r.key);
  append_bytes(out, "value", r.value);
  if (!r.headers.empty()) {
    out += ",\"headers\":[";
    for (size_t i = 0; i < r.headers.size(); ++i) {
      if (i) out += ',';
      out += '[';
      append_json_string(out, r.headers[i].key);
      out += ',';
      if (!r.headers[i].value) {
        out += "null";
      } else if (is_valid_utf8(*r.headers[i].value)) {
        append_json_string(out, *r.headers[i].value);
      } else {
        out += "{\"base64\":";
        append_json_string(out, base64_encode(*r.headers[i].value));
        out += '}';
      }
      out += ']';
    }
    out += ']';
  }
  out += '}';
  return out;
}

Result<int64_t> write_capture(Log& log, const std::vector<std::string>& topics, std::ostream& out) {
  int64_t n = 0;
  for (const auto& topic : topics) {
    auto partitions = log.partition_count(topic);
    if (!partitions) return partitions.status();
    for (int32_t p = 0; p < *partitions; ++p) {
      auto range = log.offsets(topic, p);
      if (!range) return range.status();
      KAPPA_RETURN_IF_ERROR(
          scan_records(log, topic, p, range->earliest, range->end, [&](const RecordView& r) {
            out << capture_line(topic, r) << '\n';
            ++n;
          }));
    }
  }
  if (!out) return Status::unavailable("writing the capture failed");
  return n;
}

Result<std::vector<CapturedRecord>> read_capture(const std::string& path, size_t max_bytes) {
  auto text = read_input_file(path, "capture file", {max_bytes, "max_input_file_bytes"},
                              /*regular_only=*/true);
  if (!text) return text.status();
  std::istringstream in(std::move(*text));
  std::vector<CapturedRecord> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Status::invalid_argument(
          where + "expected a JSON object like {\"topic\":...,\"partition\":0,...}");
    }
    CapturedRecord r;
    auto field = [&](const char* name) -> const nlohmann::json* {
      auto it = j.find(name);
      return it == j.end() ? nullptr : &*it;
    };
    const auto* topic = field("topic");
    const auto* partition = field("partition");
    const auto* offset = field("offset");
    const auto* timestamp = field("timestamp");
    if (!topic || !topic->is_string())
      return Status::invalid_argument(where + "expected a string at /topic");
    if (!partition || !partition->is_number_integer())
      return Status::invalid_argument(where + "expected an integer at /partition");
    if (!offset || !offset->is_number_integer())
      return Status::invalid_argument(where + "expected an integer at /offset");
    if (!timestamp || !timestamp->is_number_integer())
      return Status::invalid_argument(where + "expected an integer at /timestamp");
    // Out-of-range numbers would wrap silently (partition 2^32 to 0, -1 to kAnyPartition).
    const auto fits_int64 = [](const nlohmann::json& v) {
      return !v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
    };
    if (!fits_int64(*partition) || partition->get<int64_t>() < 0 ||
        partition->get<int64_t>() > INT32_MAX) {
      return Status::invalid_argument(where +
                                      "expected an integer from 0 to 2147483647 at /partition");
    }
    if (!fits_int64(*offset) || offset->get<int64_t>() < 0)
      return Status::invalid_argument(where + "expected a non-negative integer at /offset");
    if (!fits_int64(*timestamp))
      return Status::invalid_argument(where + "expected an integer at /timestamp");
    r.topic = topic->get<std::string>();
    r.partition = partition->get<int32_t>();
    r.offset = offset->get<int64_t>();
    r.timestamp_ms = timestamp->get<int64_t>();
    for (const char* name : {"key", "value"}) {
      std::optional<std::string>& target = std::string_view(name) == "key" ? r.key : r.value;
      if (const auto* v = field(name)) {
        if (v->is_string())
          target = v->get<std::string>();
        else if (!v->is_null())
          return Status::invalid_argument(where + "expected a string or null at /" + name);
      }
      if (const auto* b = field((std::string(name) + "_base64").c_str())) {
        if (!b->is_string())
          return Status::invalid_argument(where + "expected a string at /" + name + "_base64");
        auto bytes = base64_decode(b->get<std::string>());
        if (!bytes)
          return Status::invalid_argument(where + bytes.status().message() + " at /" + name +
                                          "_base64");
        target = std::move(*bytes);
      }
    }
    if (const auto* hs = field("headers")) {
      if (!hs->is_array()) return Status::invalid_argument(where + "expected an array at /headers");
      for (const auto& h : *hs) {
        const bool base64 = h.is_array() && h.size() == 2 && h[1].is_object() && h[1].size() == 1 &&
                            h[1].contains("base64") && h[1]["base64"].is_string();
        if (!h.is_array() || h.size() != 2 || !h[0].is_string() ||
            !(h[1].is_string() || h[1].is_null() || base64)) {
          return Status::invalid_argument(
              where +
              "expected [name, value] pairs at /headers (value: a string, null or "
              "{\"base64\": ...})");
        }
        std::optional<std::string> value;
        if (base64) {
          auto bytes = base64_decode(h[1]["base64"].get<std::string>());
          if (!bytes)
            return Status::invalid_argument(where + bytes.status().message() + " at /headers");
          value = std::move(*bytes);
        } else if (h[1].is_string()) {
          value = h[1].get<std::string>();
        }
        r.headers.emplace_back(h[0].get<std::string>(), std::move(value));
      }
    }
    out.push_back(std::move(r));
  }
  // A read error (a directory opens, then fails to read) is not the end of the file.
  if (in.bad()) return Status::not_found("capture file " + path + " cannot be read");
  return out;
}

}  // namespace kappa
