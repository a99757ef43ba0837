#include "broker/protocol/read_buffers.h"

#include <gtest/gtest.h>

#include <thread>

namespace kappa {
namespace {

void drain() {
  while (pooled_read_buffer_bytes() > 0) take_read_buffer();
}

TEST(ReadBuffers, AGivenBackBufferIsTakenAgainAsItWas) {
  drain();
  std::string big(1 << 20, 'x');
  const char* data = big.data();
  give_back_read_buffer(std::move(big));
  EXPECT_GE(pooled_read_buffer_bytes(), size_t{1} << 20);
  std::string again = take_read_buffer();
  EXPECT_EQ(again.data(), data) << "the same memory";
  EXPECT_EQ(again.size(), size_t{1} << 20) << "size and bytes as given back";
  EXPECT_EQ(again[12345], 'x');
  EXPECT_EQ(pooled_read_buffer_bytes(), 0u);
  EXPECT_TRUE(take_read_buffer().empty()) << "an empty pool gives a new, empty buffer";
}

TEST(ReadBuffers, ThePoolIsBounded) {
  drain();
  give_back_read_buffer(std::string(100, 'y'));  // too small to be worth keeping
  EXPECT_EQ(pooled_read_buffer_bytes(), 0u);
  for (size_t i = 0; i < kMaxPooledBuffers + 5; ++i)
    give_back_read_buffer(std::string(kMinPooledCapacity, 'z'));
  size_t kept = 0;
  while (pooled_read_buffer_bytes() > 0) {
    take_read_buffer();
    ++kept;
  }
  EXPECT_EQ(kept, kMaxPooledBuffers);
  for (int i = 0; i < 8; ++i) give_back_read_buffer(std::string(kMaxPooledBytes / 3, 'w'));
  EXPECT_LE(pooled_read_buffer_bytes(), kMaxPooledBytes);
  EXPECT_GE(pooled_read_buffer_bytes(), 2 * (kMaxPooledBytes / 3));
  drain();
}

TEST(ReadBuffers, EachThreadHasItsOwnPool) {
  drain();
  give_back_read_buffer(std::string(1 << 20, 'a'));
  size_t other = 1;
  std::thread([&] { other = pooled_read_buffer_bytes(); }).join();
  EXPECT_EQ(other, 0u);
  drain();
}

}  // namespace
}  // namespace kappa
