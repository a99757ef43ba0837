// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2, of our durable segments and group
// offset log, and of the pipeline's checkpoint files: the one implementation in the product.
//
// On x86-64 processors with SSE4.2 it uses the crc32 instruction (checked once at run time), as
// three interleaved streams over long buffers; elsewhere, slicing-by-8 tables. Both give the
// same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kappa {

// Extends `crc` (0 to start) over the bytes; crc32c(crc32c(0, a), b) == crc32c(0, a + b).
uint32_t crc32c(uint32_t crc, const void* data, size_t size);
inline uint32_t crc32c(std::string_view bytes) { return crc32c(0, bytes.data(), bytes.size()); }

// The table implementation, whatever the processor has (for tests and benchmarks).
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t size);
// Whether crc32c() uses the processor's instruction on this machine.
bool crc32c_uses_hardware();

}  // namespace kappa
