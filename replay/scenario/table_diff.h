// Row-level comparison of a table with what a scenario expects. Rows are matched by their key
// (start, end, dimension value); a key present on both sides with other counts is a wrong count,
// the rest are missing or unexpected rows. Duplicates count: a table holding a row twice has one
// unexpected copy.
#pragma once

#include <string>
#include <vector>

#include "pipeline/sinks/sink.h"

namespace kappa {

struct WrongCount {
  TableRow expected;
  int64_t actual = 0;
};

struct TableDiff {
  std::vector<TableRow> missing;
  std::vector<TableRow> unexpected;
  std::vector<WrongCount> wrong_count;
  bool empty() const { return missing.empty() && unexpected.empty() && wrong_count.empty(); }
  // One line per difference: "wrong count: [...] expected 2, found 1", "missing: [...]", ...
  std::vector<std::string> lines() const;
};

TableDiff diff_rows(std::vector<TableRow> expected, std::vector<TableRow> actual);

// A row as a scenario writes it: ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "zero", 1].
std::string format_row(const TableRow& row);
// The key part only: ["2022-09-30 16:42:00", "2022-09-30 16:42:10", "zero"].
std::string format_row_key(const TableRow& row);

}  // namespace kappa
