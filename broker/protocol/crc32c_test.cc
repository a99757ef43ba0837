#include "broker/protocol/crc32c.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

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

}  // namespace
}  // namespace kappa
