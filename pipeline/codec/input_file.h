// Reading an input file whole (a fixture table, a capture, a scenario) without trusting it: the
// size is checked with fstat before any byte is read, at most max_bytes + 1 bytes are ever read
// (a file that grows, a pipe or a device cannot make us read more), and a directory is refused.
// With `regular_only`, anything but a regular file is refused too (devices such as /dev/zero,
// FIFOs, and the files of /proc, which claim a size of 0 and may not be read at all).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "broker/result.h"

namespace kappa {

struct InputFileLimit {
  size_t max_bytes = 0;
  std::string_view name;  // the limit's name in messages, e.g. "max_input_file_bytes"
};

// The file's bytes. A missing or unreadable file, or a directory, is kNotFound; one that is not a
// regular file (when `regular_only`) or larger than the limit is kInvalidArgument naming `what`
// ("fixture file"), the path, and the limit.
Result<std::string> read_input_file(const std::string& path, std::string_view what,
                                    InputFileLimit limit, bool regular_only);

// The same checks without reading: for a validator that names the file before it is used.
Status check_input_file(const std::string& path, std::string_view what, InputFileLimit limit,
                        bool regular_only);

}  // namespace kappa
