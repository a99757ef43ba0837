#include "pipeline/jobs/dead_letter.h"

#include <simdjson.h>

namespace kappa {

bool is_valid_utf8(std::string_view bytes) {
  return simdjson::validate_utf8(bytes.data(), bytes.size());
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                       (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                       uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) n |= uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

void append_dead_letter_json(std::string& out, std::string_view job, std::string_view source_topic,
                             const RecordView& record, const DecodeFailure& why) {
  out.append("{\"reason\":");
  append_json_string(out, to_string(why.reason));
  out.append(",\"detail\":");
  append_json_string(out, why.detail);
  out.append(",\"pointer\":");
  append_json_string(out, why.pointer);
  out.append(",\"job\":");
  append_json_string(out, job);
  out.append(",\"source\":{\"topic\":");
  append_json_string(out, source_topic);
  out.append(",\"partition\":");
  out.append(std::to_string(record.partition));
  out.append(",\"offset\":");
  out.append(std::to_string(record.offset));
  out.append(",\"timestamp\":");
  out.append(std::to_string(record.timestamp_ms));
  out.append("},\"value\":");
  if (!record.value) {
    out.append("null");
  } else if (is_valid_utf8(*record.value)) {
    append_json_string(out, *record.value);
  } else {
    out.append("null,\"value_base64\":");
    append_json_string(out, base64_encode(*record.value));
  }
  out.push_back('}');
}

void add_dead_letter(BatchOutput& output, std::string& scratch, size_t dlq_topic,
                     std::string_view job, std::string_view source_topic, const RecordView& record,
                     const DecodeFailure& why, int64_t now_ms) {
  scratch.clear();
  append_dead_letter_json(scratch, job, source_topic, record, why);
  const int32_t partition = record.partition % output.partitions(dlq_topic);
  output.add(dlq_topic, record.key, scratch, now_ms, partition);
}

}  // namespace kappa
