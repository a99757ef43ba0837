# Turns the lab's page (replay/lab/lab_web/index.html) into a header, so that `kappa lab` serves it
# from any directory with no files beside the binary. Run as a build step:
#   cmake -DINPUT=index.html -DOUTPUT=lab_page.h -P lab_embed.cmake
# The header holds the file's bytes as an array (any content is safe: no raw-string delimiter
# to collide with) and lab_page(), a string_view over them.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}"
"// Generated from replay/lab/lab_web/index.html by replay/lab/lab_embed.cmake; do not edit.
#pragma once

#include <string_view>

namespace kappa {

inline constexpr unsigned char kLabPageBytes[] = {${bytes}0x00};

inline std::string_view lab_page() {
  return {reinterpret_cast<const char*>(kLabPageBytes), sizeof kLabPageBytes - 1};
}

}  // namespace kappa
")
