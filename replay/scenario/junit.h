// JUnit XML for `kappa test --junit FILE`: one <testcase> per scenario, a <failure> per failed
// scenario (its differences as text), an <error> for a scenario that could not be read or run.
// The shape CI systems (GitLab, Jenkins, GitHub test reporters) read.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "replay/scenario/scenario_runner.h"

namespace kappa {

struct JunitCase {
  std::string name;
  std::string file;
  double seconds = 0;
  std::string failure;  // message of the first failure; empty when passed
  std::string details;
  bool error = false;  // bad input or a step that could not run
};

void write_junit(std::ostream& out, const std::string& suite, const std::vector<JunitCase>& cases);
std::string xml_escape(std::string_view text);

}  // namespace kappa
