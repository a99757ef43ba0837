#include "broker/protocol/wire.h"

namespace kappa {

void WireWriter::be(uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void WireWriter::uvarint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void WireWriter::string(std::string_view s) {
  i16(static_cast<int16_t>(s.size()));
  out_.append(s);
}

void WireWriter::nullable_string(const std::optional<std::string>& s) {
  if (!s) {
    i16(-1);
    return;
  }
  string(*s);
}

void WireWriter::compact_string(const std::optional<std::string>& s) {
  if (!s) {
    uvarint(0);
    return;
  }
  uvarint(s->size() + 1);
  out_.append(*s);
}

void WireWriter::bytes(std::string_view b) {
  i32(static_cast<int32_t>(b.size()));
  out_.append(b);
}

void WireWriter::compact_bytes(const std::optional<std::string>& b) { compact_string(b); }

void WireWriter::array_length(int32_t n, bool compact) {
  if (compact) {
    uvarint(n < 0 ? 0 : static_cast<uint64_t>(n) + 1);
  } else {
    i32(n);
  }
}

void WireReader::fail(const char* field, const std::string& what) {
  if (error_.is_ok()) {
    error_ =
        Status::corruption("at byte " + std::to_string(pos_) + " reading " + field + ": " + what);
  }
  pos_ = in_.size();
}

bool WireReader::take(size_t n, const char* field) {
  if (!error_.is_ok()) return false;
  if (left() < n) {
    fail(field, "expected " + std::to_string(n) + " bytes, found " + std::to_string(left()));
    return false;
  }
  return true;
}

int8_t WireReader::i8(const char* field) {
  if (!take(1, field)) return 0;
  return static_cast<int8_t>(in_[pos_++]);
}

int16_t WireReader::i16(const char* field) {
  if (!take(2, field)) return 0;
  uint16_t v = 0;
  for (int i = 0; i < 2; ++i)
    v = static_cast<uint16_t>((v << 8) | static_cast<unsigned char>(in_[pos_++]));
  return static_cast<int16_t>(v);
}

int32_t WireReader::i32(const char* field) {
  if (!take(4, field)) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in_[pos_++]);
  return static_cast<int32_t>(v);
}

int64_t WireReader::i64(const char* field) {
  if (!take(8, field)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in_[pos_++]);
  return static_cast<int64_t>(v);
}

uint64_t WireReader::uvarint(const char* field) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!take(1, field)) return 0;
    const auto b = static_cast<unsigned char>(in_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail(field, "an unsigned varint longer than 10 bytes");
  return 0;
}

std::string WireReader::string(const char* field) {
  const int16_t n = i16(field);
  if (n < 0) {
    if (ok()) fail(field, "a null where a string is required");
    return {};
  }
  if (!take(static_cast<size_t>(n), field)) return {};
  std::string s(in_.substr(pos_, static_cast<size_t>(n)));
  pos_ += static_cast<size_t>(n);
  return s;
}

std::optional<std::string> WireReader::nullable_string(const char* field) {
  const size_t at = pos_;
  const int16_t n = i16(field);
  if (!ok()) return std::nullopt;
  if (n == -1) return std::nullopt;
  pos_ = at;
  return string(field);
}

std::optional<std::string> WireReader::compact_string(const char* field) {
  const uint64_t n = uvarint(field);
  if (!ok() || n == 0) return std::nullopt;
  if (n - 1 > left()) {
    fail(field, "a length of " + std::to_string(n - 1) + " with " + std::to_string(left()) +
                    " bytes left");
    return std::nullopt;
  }
  std::string s(in_.substr(pos_, n - 1));
  pos_ += n - 1;
  return s;
}

std::string WireReader::bytes(const char* field) {
  const int32_t n = i32(field);
  if (!ok()) return {};
  if (n < 0) {
    fail(field, "a length of " + std::to_string(n));
    return {};
  }
  if (!take(static_cast<size_t>(n), field)) return {};
  std::string s(in_.substr(pos_, static_cast<size_t>(n)));
  pos_ += static_cast<size_t>(n);
  return s;
}

std::optional<std::string> WireReader::compact_bytes(const char* field) {
  return compact_string(field);
}

std::optional<std::string_view> WireReader::nullable_bytes_view(const char* field, bool compact) {
  int64_t n = 0;
  if (compact) {
    const uint64_t raw = uvarint(field);
    if (!ok() || raw == 0) return std::nullopt;
    if (raw - 1 > left()) {
      fail(field, "a length of " + std::to_string(raw - 1) + " with " + std::to_string(left()) +
                      " bytes left");
      return std::nullopt;
    }
    n = static_cast<int64_t>(raw - 1);
  } else {
    n = i32(field);
    if (!ok() || n == -1) return std::nullopt;
    if (n < 0) {
      fail(field, "a length of " + std::to_string(n));
      return std::nullopt;
    }
  }
  if (!take(static_cast<size_t>(n), field)) return std::nullopt;
  const std::string_view v = in_.substr(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return v;
}

std::optional<int32_t> WireReader::array_length(const char* field, bool compact) {
  int64_t n = 0;
  if (compact) {
    const uint64_t raw = uvarint(field);
    if (!ok() || raw == 0) return std::nullopt;
    n = static_cast<int64_t>(raw - 1);
  } else {
    n = i32(field);
    if (!ok() || n == -1) return std::nullopt;
  }
  if (n < 0 || static_cast<uint64_t>(n) > left()) {
    fail(field, "an array of " + std::to_string(n) + " elements with " + std::to_string(left()) +
                    " bytes left");
    return std::nullopt;
  }
  return static_cast<int32_t>(n);
}

void WireReader::skip_tagged_fields(const char* where) {
  const uint64_t count = uvarint(where);
  for (uint64_t i = 0; ok() && i < count; ++i) {
    (void)uvarint(where);  // tag
    const uint64_t size = uvarint(where);
    if (!ok()) return;
    if (size > left()) {
      fail(where, "a tagged field of " + std::to_string(size) + " bytes with " +
                      std::to_string(left()) + " left");
      return;
    }
    pos_ += size;
  }
}

}  // namespace kappa
