// The bundled scenarios (scenarios/*.json) as test parameters, for the suites that run every one
// of them: their paths in name order, under $KAPPA_SOURCE_DIR (which ctest sets) or the working
// directory, and a test name for each ("late_event_recovery"). Header-only, for tests.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace kappa {

inline std::vector<std::string> bundled_scenario_files() {
  const char* dir = std::getenv("KAPPA_SOURCE_DIR");
  const std::filesystem::path root = dir ? dir : ".";
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(root / "scenarios")) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// For INSTANTIATE_TEST_SUITE_P: the file's stem, with every character GoogleTest does not allow
// in a name written '_'.
struct ScenarioTestName {
  template <class ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    std::string name = std::filesystem::path(info.param).stem().string();
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
  }
};

}  // namespace kappa
