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

// The register's update over `n` zero bytes is linear over GF(2): a 32x32 bit matrix, here as
// the images of the 32 unit vectors. Shifting a register by n bytes then takes 4 lookups in a
// table of that matrix applied to each value of each of the register's bytes.
using BitMatrix = std::array<uint32_t, 32>;

constexpr uint32_t apply(const BitMatrix& m, uint32_t v) {
  uint32_t out = 0;
  for (int i = 0; v != 0; ++i, v >>= 1) {
    if (v & 1) out ^= m[static_cast<size_t>(i)];
  }
  return out;
}

constexpr BitMatrix compose(const BitMatrix& outer, const BitMatrix& inner) {
  BitMatrix m{};
  for (size_t i = 0; i < 32; ++i) m[i] = apply(outer, inner[i]);
  return m;
}

using ShiftTable = std::array<std::array<uint32_t, 256>, 4>;

constexpr ShiftTable make_shift_table(size_t zero_bytes) {
  BitMatrix bit{};  // one zero bit: c -> c >> 1, xor the polynomial when bit 0 was set
  bit[0] = 0x82F63B78u;
  for (size_t i = 1; i < 32; ++i) bit[i] = uint32_t{1} << (i - 1);
  BitMatrix power = bit;  // bit^(2^k) as k goes up
  BitMatrix result{};
  for (size_t i = 0; i < 32; ++i) result[i] = uint32_t{1} << i;
  for (size_t bits = zero_bytes * 8; bits != 0; bits >>= 1) {
    if (bits & 1) result = compose(power, result);
    power = compose(power, power);
  }
  ShiftTable t{};
  for (size_t byte = 0; byte < 4; ++byte) {
    for (uint32_t v = 0; v < 256; ++v) t[byte][v] = apply(result, v << (8 * byte));
  }
  return t;
}

inline uint32_t shift(const ShiftTable& t, uint32_t c) {
  return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

#if defined(__x86_64__)
// The crc32 instruction's latency (3 cycles) bounds one stream of it to 8 bytes per 3 cycles, so
// long buffers go as three streams over consecutive thirds of a block, joined by shifting: the
// register after A then B is shift_|B|(register after A) xor (register after B from zero).
constexpr size_t kLongStream = 8192;
constexpr size_t kShortStream = 256;
constexpr ShiftTable kShiftLong = make_shift_table(kLongStream);
constexpr ShiftTable kShiftShort = make_shift_table(kShortStream);

__attribute__((target("sse4.2"))) inline uint64_t three_streams(uint64_t c, const unsigned char* p,
                                                                size_t stream,
                                                                const ShiftTable& t) {
  uint64_t c1 = 0, c2 = 0;
  for (size_t at = 0; at < stream; at += 8) {
    uint64_t w0, w1, w2;
    std::memcpy(&w0, p + at, 8);
    std::memcpy(&w1, p + stream + at, 8);
    std::memcpy(&w2, p + 2 * stream + at, 8);
    c = _mm_crc32_u64(c, w0);
    c1 = _mm_crc32_u64(c1, w1);
    c2 = _mm_crc32_u64(c2, w2);
  }
  const uint32_t ab = shift(t, static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1);
  return shift(t, ab) ^ static_cast<uint32_t>(c2);
}

__attribute__((target("sse4.2"))) uint32_t hardware_update(uint32_t c, const unsigned char* p,
                                                           size_t size) {
  uint64_t c64 = c;
  for (; size >= 3 * kLongStream; p += 3 * kLongStream, size -= 3 * kLongStream)
    c64 = three_streams(c64, p, kLongStream, kShiftLong);
  for (; size >= 3 * kShortStream; p += 3 * kShortStream, size -= 3 * kShortStream)
    c64 = three_streams(c64, p, kShortStream, kShiftShort);
  for (; size >= 8; p += 8, size -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // unaligned-safe; one load
    c64 = _mm_crc32_u64(c64, word);
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
