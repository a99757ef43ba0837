// The `kappa` command line (DESIGN.md §5). Exit codes: 0 every expectation held, 1 one failed
// (with a row-level diff), 2 bad input or usage.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace kappa {

int kappa_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace kappa
