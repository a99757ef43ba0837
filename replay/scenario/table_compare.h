// Comparison of two aggregate tables, as a recovery is judged against the table it replaces
// (v1 against v2): over the windows both tables have closed, which (window, value) groups are the
// same, which changed count, which only the second has (added) and which only the first
// (removed).
//
// A table's rows are closed windows (append mode writes a window once, when final), and windows
// close in order, so a table has closed every window ending at or before its latest `end`: its
// horizon. The comparison covers windows ending at or before the earlier horizon.
// When the windows differ, the finer table is rolled up into the coarser one's windows, if they
// tile it (tumbling windows, the coarse size a multiple of the fine one, aligned starts): the
// lab's recovery goes from 10 s to 1 minute windows.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "broker/result.h"
#include "pipeline/jobs/window.h"
#include "pipeline/sinks/sink.h"
#include "pipeline/time/time_zone.h"

namespace kappa {

struct TableComparison {
  int64_t same = 0, changed = 0, added = 0, removed = 0;
  std::optional<int64_t> horizon_ms;  // unset when either table is empty
  std::vector<std::string> lines;     // a summary line, then one line per difference
};

Result<TableComparison> compare_tables(const std::string& left_name,
                                       const std::vector<TableRow>& left,
                                       const WindowSpec& left_window, const std::string& right_name,
                                       const std::vector<TableRow>& right,
                                       const WindowSpec& right_window, const TimeZone& zone);

}  // namespace kappa
