#include "replay/scenario/table_compare.h"

#include <algorithm>
#include <map>

#include "pipeline/time/duration.h"
#include "pipeline/time/timestamp.h"
#include "replay/scenario/table_diff.h"

namespace kappa {
namespace {

using Key = std::pair<int64_t, DimValue>;  // window start (ms), dimension value

struct Parsed {
  std::map<Key, int64_t> counts;
  std::optional<int64_t> horizon;  // latest window end
};

Result<Parsed> parse(const std::string& name, const std::vector<TableRow>& rows,
                     const WindowSpec& target, const TimeZone& zone) {
  Parsed p;
  for (const auto& r : rows) {
    auto start = parse_timestamp(r.start, zone);
    auto end = parse_timestamp(r.end, zone);
    if (!start || !end)
      return Status::invalid_argument("table " + name +
                                      " has a row with an unreadable window: " + format_row(r));
    p.horizon = p.horizon ? std::max(*p.horizon, *end) : *end;
    const int64_t coarse = *start - floor_mod(*start - target.offset_ms, target.slide_ms);
    p.counts[{coarse, r.dim}] += r.count;
  }
  return p;
}

bool tiles(const WindowSpec& fine, const WindowSpec& coarse) {
  return fine.size_ms == fine.slide_ms && coarse.size_ms == coarse.slide_ms &&
         coarse.size_ms % fine.size_ms == 0 &&
         floor_mod(coarse.offset_ms - fine.offset_ms, fine.size_ms) == 0;
}

}  // namespace

Result<TableComparison> compare_tables(const std::string& left_name,
                                       const std::vector<TableRow>& left,
                                       const WindowSpec& left_window, const std::string& right_name,
                                       const std::vector<TableRow>& right,
                                       const WindowSpec& right_window, const TimeZone& zone) {
  const bool same_windows = left_window.size_ms == right_window.size_ms &&
                            left_window.slide_ms == right_window.slide_ms &&
                            left_window.offset_ms == right_window.offset_ms;
  WindowSpec target = right_window;
  std::string rolled;
  if (!same_windows) {
    if (tiles(left_window, right_window)) {
      target = right_window;
      rolled = " (" + left_name + " rolled up into " + format_duration(right_window.size_ms) +
               " windows)";
    } else if (tiles(right_window, left_window)) {
      target = left_window;
      rolled = " (" + right_name + " rolled up into " + format_duration(left_window.size_ms) +
               " windows)";
    } else {
      return Status::invalid_argument(
          "cannot compare " + left_name + " (" + format_duration(left_window.size_ms) +
          " windows every " + format_duration(left_window.slide_ms) + ") with " + right_name +
          " (" + format_duration(right_window.size_ms) + " windows every " +
          format_duration(right_window.slide_ms) + "): neither table's windows tile the other's");
    }
  } else if (left_window.size_ms != left_window.slide_ms) {
    target = left_window;  // identical sliding windows: compare window by window
  }
  auto l = parse(left_name, left, target, zone);
  if (!l) return l.status();
  auto r = parse(right_name, right, target, zone);
  if (!r) return r.status();

  TableComparison c;
  if (!l->horizon || !r->horizon) {
    c.lines.push_back("compare " + left_name + " with " + right_name + ": nothing to compare (" +
                      (!l->horizon ? left_name : right_name) + " has no closed window yet)");
    return c;
  }
  const int64_t horizon = std::min(*l->horizon, *r->horizon);
  c.horizon_ms = horizon;
  std::map<Key, std::pair<int64_t, int64_t>> both;
  for (const auto& [k, n] : l->counts) {
    if (k.first + target.size_ms <= horizon) both[k].first = n;
  }
  for (const auto& [k, n] : r->counts) {
    if (k.first + target.size_ms <= horizon) both[k].second = n;
  }
  std::vector<std::string> details;
  for (const auto& [k, counts] : both) {
    const auto [a, b] = counts;
    const TableRow row{format_timestamp_ms(k.first, zone),
                       format_timestamp_ms(k.first + target.size_ms, zone), k.second, 0};
    if (a == b) {
      ++c.same;
    } else if (a > 0 && b > 0) {
      ++c.changed;
      details.push_back("changed: " + format_row_key(row) + " " + std::to_string(a) + " -> " +
                        std::to_string(b));
    } else if (b > 0) {
      ++c.added;
      details.push_back("added:   " + format_row_key(row) + " " + std::to_string(b));
    } else {
      ++c.removed;
      details.push_back("removed: " + format_row_key(row) + " " + std::to_string(a));
    }
  }
  c.lines.push_back("compare " + left_name + " with " + right_name + " over windows ending by " +
                    format_timestamp_ms(horizon, zone) + rolled + ": " + std::to_string(c.same) +
                    " same, " + std::to_string(c.changed) + " changed, " + std::to_string(c.added) +
                    " added, " + std::to_string(c.removed) + " removed");
  for (auto& d : details) c.lines.push_back(std::move(d));
  return c;
}

}  // namespace kappa
