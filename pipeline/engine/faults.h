// Fault hooks: named points where a test or scenario can make a component fail, so that crash
// and outage behaviour is exercised through the real code paths, not mocks.
//
// Points (docs/scenarios.md names them for users):
//   query.after_plan              after a batch's plan is checkpointed, before it reads anything
//   sink.before_commit            before the sink opens its transaction (before any row)
//   sink.between_rows_and_ledger  after the rows are written, before the ledger row (rolled back)
//   sink.after_commit             after the transaction commits, before the job records it
//   query.before_checkpoint       after every output is written, before the checkpoint commit
// A hook returns an error Status to fail at that point; kAborted means "the process crashed
// here", kUnavailable "the component is down". `query` names the query at work, so a fault can
// target one query.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/result.h"

namespace kappa {

class FaultHook {
 public:
  virtual ~FaultHook() = default;
  virtual Status at(std::string_view point, std::string_view query) = 0;
};

// Calls `hook` at `point` when there is a hook; no hook is a healthy component.
inline Status fault_at(FaultHook* hook, std::string_view point, std::string_view query) {
  return hook ? hook->at(point, query) : Status::ok();
}

// Faults armed by a test or a scenario: at `point` (for `query`, or any query when empty), let
// `skip` calls pass, then fail `times` calls with `code`.
class FaultPlan final : public FaultHook {
 public:
  void arm(std::string point, StatusCode code, int times = 1, int skip = 0,
           std::string query = {}) {
    armed_.push_back({std::move(point), code, times, skip, std::move(query)});
  }
  void clear() { armed_.clear(); }
  Status at(std::string_view point, std::string_view query) override;
  int fired() const { return fired_; }
  // Faults armed and not yet fired.
  int pending() const;

 private:
  struct Armed {
    std::string point;
    StatusCode code;
    int times;
    int skip;
    std::string query;
  };
  std::vector<Armed> armed_;
  int fired_ = 0;
};

}  // namespace kappa
