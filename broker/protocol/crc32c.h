// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2 and of our durable segments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kappa {

// Extends `crc` (0 to start) over the bytes; crc32c(crc32c(0, a), b) == crc32c(0, a + b).
uint32_t crc32c(uint32_t crc, const void* data, size_t size);
inline uint32_t crc32c(std::string_view bytes) { return crc32c(0, bytes.data(), bytes.size()); }

}  // namespace kappa
