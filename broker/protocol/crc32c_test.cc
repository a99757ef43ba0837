#include "broker/protocol/crc32c.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace kappa {
namespace {

TEST(Crc32c, KnownVectorsAndChaining) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the standard check value of CRC-32C
  EXPECT_EQ(crc32c(""), 0u);
  const std::string long_text(1000, 'x');
  const uint32_t whole = crc32c(long_text);
  EXPECT_EQ(crc32c(crc32c(0, long_text.data(), 333), long_text.data() + 333, 667), whole);
  EXPECT_EQ(crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32c, ThisMachineUsesItsInstructionWhenItHasOne) {
#if defined(__x86_64__)
  EXPECT_EQ(crc32c_uses_hardware(), __builtin_cpu_supports("sse4.2") != 0);
#else
  EXPECT_FALSE(crc32c_uses_hardware());
#endif
}

// The instruction and the tables agree on every input, at every alignment and split point.
RC_GTEST_PROP(Crc32c, HardwareAndTablesAgree, (const std::vector<unsigned char>& bytes)) {
  const size_t skip = *rc::gen::inRange<size_t>(0, 8);
  std::vector<unsigned char> shifted(skip, 0xA5);
  shifted.insert(shifted.end(), bytes.begin(), bytes.end());
  const unsigned char* data = shifted.data() + skip;
  const uint32_t portable = crc32c_portable(0, data, bytes.size());
  RC_ASSERT(crc32c(0, data, bytes.size()) == portable);
  const size_t split = *rc::gen::inRange<size_t>(0, bytes.size() + 1);
  RC_ASSERT(crc32c(crc32c(0, data, split), data + split, bytes.size() - split) == portable);
  const uint32_t seed = *rc::gen::arbitrary<uint32_t>();
  RC_ASSERT(crc32c(seed, data, bytes.size()) == crc32c_portable(seed, data, bytes.size()));
}

std::vector<unsigned char> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

// Long buffers go through three interleaved streams joined by shifts (blocks of 3 x 8192 and
// 3 x 256 bytes): every size at and around those blocks' edges agrees with the tables.
TEST(Crc32c, BlockEdgesAgreeWithTheTables) {
  const std::vector<unsigned char> bytes = random_bytes(3 * 3 * 8192 + 2000, 7);
  for (size_t block : {size_t{3 * 256}, size_t{3 * 8192}}) {
    for (size_t k = 1; k <= 3; ++k) {
      for (size_t n = k * block - 9; n <= k * block + 9; ++n) {
        ASSERT_EQ(crc32c(0, bytes.data(), n), crc32c_portable(0, bytes.data(), n)) << n;
      }
    }
  }
  const size_t n = 2 * 3 * 8192 + 3 * 256 + 11;
  ASSERT_EQ(crc32c(0x12345678u, bytes.data() + 3, n),
            crc32c_portable(0x12345678u, bytes.data() + 3, n));
}

RC_GTEST_PROP(Crc32c, LongBuffersAgreeWithTheTables, ()) {
  const size_t size = *rc::gen::inRange<size_t>(0, 4 * 3 * 8192);
  const size_t skip = *rc::gen::inRange<size_t>(0, 8);
  const std::vector<unsigned char> bytes =
      random_bytes(size + skip, *rc::gen::arbitrary<uint64_t>());
  const unsigned char* data = bytes.data() + skip;
  const uint32_t portable = crc32c_portable(0, data, size);
  RC_ASSERT(crc32c(0, data, size) == portable);
  const size_t split = *rc::gen::inRange<size_t>(0, size + 1);
  RC_ASSERT(crc32c(crc32c(0, data, split), data + split, size - split) == portable);
  const uint32_t seed = *rc::gen::arbitrary<uint32_t>();
  RC_ASSERT(crc32c(seed, data, size) == crc32c_portable(seed, data, size));
}

}  // namespace
}  // namespace kappa
