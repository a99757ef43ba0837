#include "broker/protocol/batch_log.h"

#include <cstddef>

namespace kappa {

int64_t BatchRanges::size() const {
  int64_t n = static_cast<int64_t>(bytes.size());
  for (const FileRange& f : files) n += f.length;
  return n;
}

Result<BatchRanges> BatchLog::read_batch_ranges(std::string_view topic, int32_t partition,
                                                int64_t offset, int64_t max_bytes, int64_t below) {
  auto read = read_batches(topic, partition, offset, max_bytes);
  if (!read) return read.status();
  // Only the whole batches that start below `below`: baseOffset is the first 8 bytes of a
  // batch, batchLength the next 4.
  const std::string& bytes = read->bytes;
  size_t keep = 0;
  while (bytes.size() - keep >= 12) {
    const char* b = bytes.data() + keep;
    int64_t base = 0;
    for (int i = 0; i < 8; ++i) base = (base << 8) | static_cast<uint8_t>(b[i]);
    uint32_t length = 0;
    for (int i = 8; i < 12; ++i) length = (length << 8) | static_cast<uint8_t>(b[i]);
    if (base >= below || 12 + size_t{length} > bytes.size() - keep) break;
    keep += 12 + size_t{length};
  }
  read->bytes.resize(keep);
  BatchRanges out;
  out.bytes = std::move(read->bytes);
  out.high_watermark = read->high_watermark;
  out.log_start_offset = read->log_start_offset;
  return out;
}

}  // namespace kappa
