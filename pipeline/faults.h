// Fault hooks: named points where a test or scenario can make a component fail, so that crash
// and outage behaviour is exercised through the real code paths, not mocks.
//
// Points (docs/scenarios.md lists them for users):
//   sink.before_commit         before the sink opens its transaction (a sink outage)
//   sink.between_rows_and_ledger  after the rows are written, before the ledger row (rolled back)
//   sink.after_commit          after the transaction commits, before the job records it
//   query.after_plan           after a batch's offsets are logged, before it reads anything
//   query.before_checkpoint    after outputs are written, before the checkpoint commit
// A hook returns an error Status to fail at that point; kAborted means "the process crashed
// here", kUnavailable "the component is down".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/result.h"

namespace kappa {

class FaultHook {
 public:
  virtual ~FaultHook() = default;
  virtual Status at(std::string_view point) = 0;
};

// Calls `hook` at `point` when there is a hook; no hook is a healthy component.
inline Status fault_at(FaultHook* hook, std::string_view point) {
  return hook ? hook->at(point) : Status::ok();
}

// Faults armed by a test or a scenario: at `point`, let `skip` calls pass, then fail `times`
// calls with `code`.
class FaultPlan final : public FaultHook {
 public:
  void arm(std::string point, StatusCode code, int times = 1, int skip = 0) {
    armed_.push_back({std::move(point), code, times, skip});
  }
  void clear() { armed_.clear(); }
  Status at(std::string_view point) override;
  int fired() const { return fired_; }

 private:
  struct Armed {
    std::string point;
    StatusCode code;
    int times;
    int skip;
  };
  std::vector<Armed> armed_;
  int fired_ = 0;
};

}  // namespace kappa
