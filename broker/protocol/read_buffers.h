// Buffers for the record bytes a fetch reads (BatchRead::bytes), reused on the thread that
// gave them back. A fetch answers megabytes; in a fresh buffer each time, the kernel maps and
// zeroes every page of it first, which was most of a disk fetch's cost.
//
// take_read_buffer() returns a buffer from this thread's pool (or an empty one) whose size and
// contents are whatever they were: a reader writes the bytes it keeps and resizes it down to
// them (growing only past its size fills). give_back_read_buffer() keeps a buffer for the next
// taker, within limits (kMaxPooledBuffers, kMaxPooledBytes of capacity; small ones are not
// kept), and frees it otherwise.
#pragma once

#include <cstddef>
#include <string>

namespace kappa {

inline constexpr size_t kMaxPooledBuffers = 16;
inline constexpr size_t kMaxPooledBytes = size_t{64} << 20;
inline constexpr size_t kMinPooledCapacity = size_t{64} << 10;

std::string take_read_buffer();
void give_back_read_buffer(std::string buffer);
// The capacity this thread's pool holds (tests).
size_t pooled_read_buffer_bytes();

}  // namespace kappa
