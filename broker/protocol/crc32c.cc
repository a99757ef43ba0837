#include "broker/protocol/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace kappa {
namespace {

// Slicing-by-8 tables for the reflected polynomial 0x82F63B78.
constexpr std::array<std::array<uint32_t, 256>, 8> make_tables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}

constexpr auto kTables = make_tables();

// The register form (complemented on entry and exit by the callers).
uint32_t table_update(uint32_t c, const unsigned char* p, size_t size) {
  while (size >= 8) {
    const uint32_t lo =
        c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
    c = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
        kTables[4][lo >> 24] ^ kTables[3][p[4]] ^ kTables[2][p[5]] ^ kTables[1][p[6]] ^
        kTables[0][p[7]];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return c;
}

#if defined(__x86_64__)
// Eight bytes per crc32 instruction. The instruction's latency (3 cycles) bounds one stream;
// three independent streams over thirds of a long buffer would go further, at the price of
// combining them.
__attribute__((target("sse4.2"))) uint32_t hardware_update(uint32_t c, const unsigned char* p,
                                                           size_t size) {
  uint64_t c64 = c;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // unaligned-safe; one load
    c64 = _mm_crc32_u64(c64, word);
    p += 8;
    size -= 8;
  }
  c = static_cast<uint32_t>(c64);
  while (size-- > 0) c = _mm_crc32_u8(c, *p++);
  return c;
}

bool cpu_has_crc32_instruction() { return __builtin_cpu_supports("sse4.2"); }
#else
uint32_t hardware_update(uint32_t c, const unsigned char* p, size_t size) {
  return table_update(c, p, size);
}
bool cpu_has_crc32_instruction() { return false; }
#endif

// Zero (the tables) until this file's dynamic initialization has run, so a checksum computed
// before that is still right.
const bool kUseHardware = cpu_has_crc32_instruction();

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  return ~(kUseHardware ? hardware_update(~crc, p, size) : table_update(~crc, p, size));
}

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t size) {
  return ~table_update(~crc, static_cast<const unsigned char*>(data), size);
}

bool crc32c_uses_hardware() { return kUseHardware; }

}  // namespace kappa
