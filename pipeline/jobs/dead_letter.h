// Dead letters: a record a job cannot process goes to the dead-letter topic (`events_dlq`) with
// everything needed to find, understand and replay it. Nothing is dropped silently.
//
// Key: the original record's key. Partition: the source partition modulo the dead-letter topic's
// partition count (deterministic, so a re-run batch writes its dead letters to the same place).
// Value: a JSON object, fields in this order (docs/events_dlq.md):
//   reason        code: not_json, not_object, missing_field, wrong_type, out_of_range, bad_time,
//                 oversize
//   detail        what was expected and what was found
//   pointer       JSON pointer of the offending field, "" for the whole value
//   job           the query that rejected it ("stage", "events_users_v1", ...)
//   source        {"topic","partition","offset","timestamp"} of the original record
//   value         the original value as a string when it is valid UTF-8, else null
//   value_base64  the original value in base64 when it is not valid UTF-8, else absent
//   (a null original value gives "value":null and no value_base64)
#pragma once

#include <string>
#include <string_view>

#include "broker/record.h"
#include "pipeline/codec/event_codec.h"
#include "pipeline/engine/batch_output.h"

namespace kappa {

void append_dead_letter_json(std::string& out, std::string_view job, std::string_view source_topic,
                             const RecordView& record, const DecodeFailure& why);

// Builds the dead letter and adds it to the batch's output.
void add_dead_letter(BatchOutput& output, std::string& scratch, size_t dlq_topic,
                     std::string_view job, std::string_view source_topic, const RecordView& record,
                     const DecodeFailure& why, int64_t now_ms);

std::string base64_encode(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

}  // namespace kappa
