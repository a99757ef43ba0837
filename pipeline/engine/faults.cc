#include "pipeline/engine/faults.h"

namespace kappa {

int FaultPlan::pending() const {
  int n = 0;
  for (const auto& a : armed_) n += a.times > 0 ? a.times : 0;
  return n;
}

Status FaultPlan::at(std::string_view point, std::string_view query) {
  for (auto& a : armed_) {
    if (a.point != point || a.times <= 0 || (!a.query.empty() && a.query != query)) continue;
    if (a.skip > 0) {
      --a.skip;
      continue;
    }
    --a.times;
    ++fired_;
    const std::string what =
        a.code == StatusCode::kAborted ? "injected crash at " : "injected fault at ";
    return Status(a.code,
                  what + std::string(point) + (query.empty() ? "" : " in " + std::string(query)));
  }
  return Status::ok();
}

}  // namespace kappa
