#include "broker/protocol/read_buffers.h"

#include <vector>

namespace kappa {
namespace {

struct Pool {
  std::vector<std::string> free;
  size_t bytes = 0;  // their capacity
};

Pool& pool() {
  thread_local Pool p;
  return p;
}

}  // namespace

std::string take_read_buffer() {
  Pool& p = pool();
  if (p.free.empty()) return std::string();
  std::string s = std::move(p.free.back());
  p.free.pop_back();
  p.bytes -= s.capacity();
  return s;
}

void give_back_read_buffer(std::string buffer) {
  Pool& p = pool();
  const size_t capacity = buffer.capacity();
  if (capacity < kMinPooledCapacity || p.free.size() >= kMaxPooledBuffers ||
      p.bytes + capacity > kMaxPooledBytes) {
    return;  // freed here
  }
  p.bytes += capacity;
  p.free.push_back(std::move(buffer));
}

size_t pooled_read_buffer_bytes() { return pool().bytes; }

}  // namespace kappa
