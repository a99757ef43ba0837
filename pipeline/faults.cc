#include "pipeline/faults.h"

namespace kappa {

Status FaultPlan::at(std::string_view point) {
  for (auto& a : armed_) {
    if (a.point != point || a.times <= 0) continue;
    if (a.skip > 0) {
      --a.skip;
      continue;
    }
    --a.times;
    ++fired_;
    const std::string what =
        a.code == StatusCode::kAborted ? "injected crash at " : "injected fault at ";
    return Status(a.code, what + std::string(point));
  }
  return Status::ok();
}

}  // namespace kappa
