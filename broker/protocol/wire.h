// Kafka protocol primitives (Apache Kafka's protocol guide, "Protocol Primitive Types"): the
// building blocks of every request and response. Big-endian fixed-width integers; unsigned
// varints (compact lengths, tagged fields); STRING/NULLABLE_STRING with an INT16 length (-1:
// null); COMPACT_STRING with an unsigned varint length + 1 (0: null); BYTES with an INT32
// length; COMPACT_BYTES like COMPACT_STRING; arrays with an INT32 count (-1: null) or a
// compact count + 1. Flexible versions end each header and structure with tagged fields.
//
// WireReader never reads past its input: the first short read sets an error that names the
// field and the byte offset, and every later read returns zero values, so a decoder can read a
// whole message and check ok() once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/result.h"

namespace kappa {

class WireWriter {
 public:
  void i8(int8_t v) { out_.push_back(static_cast<char>(v)); }
  void i16(int16_t v) { be(static_cast<uint16_t>(v), 2); }
  void i32(int32_t v) { be(static_cast<uint32_t>(v), 4); }
  void i64(int64_t v) { be(static_cast<uint64_t>(v), 8); }
  void uvarint(uint64_t v);
  void string(std::string_view s);                            // STRING
  void nullable_string(const std::optional<std::string>& s);  // NULLABLE_STRING
  void compact_string(const std::optional<std::string>& s);   // COMPACT_(NULLABLE_)STRING
  void bytes(std::string_view b);                             // BYTES
  void compact_bytes(const std::optional<std::string>& b);    // COMPACT_(NULLABLE_)BYTES
  void array_length(int32_t n, bool compact);                 // -1: null
  void empty_tagged_fields() { uvarint(0); }
  void raw(std::string_view b) { out_.append(b); }

  const std::string& bytes_written() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void be(uint64_t v, int n);
  std::string out_;
};

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}
  explicit WireReader(std::string&&) =
      delete;  // the reader keeps a view: the bytes must outlive it

  int8_t i8(const char* field);
  int16_t i16(const char* field);
  int32_t i32(const char* field);
  int64_t i64(const char* field);
  uint64_t uvarint(const char* field);
  std::string string(const char* field);
  std::optional<std::string> nullable_string(const char* field);
  std::optional<std::string> compact_string(const char* field);
  std::string bytes(const char* field);
  std::optional<std::string> compact_bytes(const char* field);
  // An array's element count; nullopt for a null array. Counts larger than the bytes left could
  // hold (at least one byte an element) are an error, so a hostile count cannot allocate.
  std::optional<int32_t> array_length(const char* field, bool compact);
  // Skips tagged fields (their tags and values), as a reader that knows none of them does.
  void skip_tagged_fields(const char* where);
  // NULLABLE_BYTES (INT32 length, -1: null) or COMPACT_NULLABLE_BYTES as a view into the input:
  // record sets, which are large and handed on whole.
  std::optional<std::string_view> nullable_bytes_view(const char* field, bool compact);
  // Records a decoding error found by the caller (a value out of its range), at this position.
  void invalid(const char* field, const std::string& what) { fail(field, what); }

  bool ok() const { return error_.is_ok(); }
  const Status& error() const { return error_; }
  size_t position() const { return pos_; }
  size_t left() const { return in_.size() - pos_; }

 private:
  bool take(size_t n, const char* field);
  void fail(const char* field, const std::string& what);
  std::string_view in_;
  size_t pos_ = 0;
  Status error_;
};

}  // namespace kappa
