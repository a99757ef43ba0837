// UTF-8 as RFC 3629 defines it, for the readers of untrusted text (the event codec's short
// strings, the scenario JSON reader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kappa {

// Decodes the UTF-8 sequence starting at text[pos] as RFC 3629 defines it: no overlong forms, no
// encoded surrogates, nothing above U+10FFFF. Returns its length and sets *cp; or returns 0 and
// sets *bad to the index of the first byte that cannot continue a valid sequence (text.size() if
// the text ends inside one).
inline size_t decode_utf8(std::string_view text, size_t pos, uint32_t* cp, size_t* bad) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  size_t continuation;
  uint32_t value;
  unsigned char lo = 0x80;  // allowed range of the first continuation byte
  unsigned char hi = 0xBF;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    continuation = 1;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    continuation = 2;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // below is overlong
    if (b0 == 0xED) hi = 0x9F;  // above is a surrogate
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    continuation = 3;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // below is overlong
    if (b0 == 0xF4) hi = 0x8F;  // above is beyond U+10FFFF
  } else {
    *bad = pos;
    return 0;
  }
  for (size_t i = 1; i <= continuation; ++i) {
    if (pos + i >= text.size()) {
      *bad = text.size();
      return 0;
    }
    const auto b = static_cast<unsigned char>(text[pos + i]);
    if (b < lo || b > hi) {
      *bad = pos + i;
      return 0;
    }
    lo = 0x80;
    hi = 0xBF;
    value = (value << 6) | (b & 0x3F);
  }
  *cp = value;
  return continuation + 1;
}

}  // namespace kappa
