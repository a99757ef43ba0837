// Quoting untrusted text inside an error message, for the time, zone and duration parsers.
#pragma once

#include <string>
#include <string_view>

namespace kappa {

// Quotes text for an error message: in double quotes, with control characters, '"' and '\'
// written as \xNN, cut after 200 bytes ("..."). Shared by the time and duration parsers.
std::string quote_input(std::string_view text);

}  // namespace kappa
