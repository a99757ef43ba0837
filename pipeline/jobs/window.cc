#include "pipeline/jobs/window.h"

#include <string>

namespace kappa {

Status validate(const WindowSpec& w) {
  if (w.size_ms <= 0) {
    return Status::invalid_argument("window size must be positive, got " +
                                    std::to_string(w.size_ms) + " ms");
  }
  if (w.slide_ms <= 0 || w.slide_ms > w.size_ms) {
    return Status::invalid_argument("window slide must be positive and at most the window size (" +
                                    std::to_string(w.size_ms) + " ms), got " +
                                    std::to_string(w.slide_ms) + " ms");
  }
  if (w.offset_ms <= -w.slide_ms || w.offset_ms >= w.slide_ms) {
    return Status::invalid_argument(
        "window start offset must be smaller in magnitude than the slide (" +
        std::to_string(w.slide_ms) + " ms), got " + std::to_string(w.offset_ms) + " ms");
  }
  return Status::ok();
}

}  // namespace kappa
