#include "replay/scenario/table_diff.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "pipeline/codec/event_codec.h"

namespace kappa {
namespace {

using Key = std::tuple<std::string, std::string, DimValue>;

Key key_of(const TableRow& r) { return {r.start, r.end, r.dim}; }

std::string format_dim(const DimValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "null";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  std::string out;
  append_json_string(out, std::get<std::string>(v));
  return out;
}

}  // namespace

std::string format_row_key(const TableRow& row) {
  return "[\"" + row.start + "\", \"" + row.end + "\", " + format_dim(row.dim) + "]";
}

std::string format_row(const TableRow& row) {
  std::string s = format_row_key(row);
  s.pop_back();
  return s + ", " + std::to_string(row.count) + "]";
}

TableDiff diff_rows(std::vector<TableRow> expected, std::vector<TableRow> actual) {
  std::map<Key, std::vector<int64_t>> want, have;
  for (const auto& r : expected) want[key_of(r)].push_back(r.count);
  for (const auto& r : actual) have[key_of(r)].push_back(r.count);
  TableDiff d;
  auto row = [](const Key& k, int64_t count) {
    return TableRow{std::get<0>(k), std::get<1>(k), std::get<2>(k), count};
  };
  for (auto& [k, counts] : want) {
    auto it = have.find(k);
    std::vector<int64_t> got = it == have.end() ? std::vector<int64_t>{} : it->second;
    std::vector<int64_t> unmatched_want;
    for (int64_t c : counts) {
      auto g = std::find(got.begin(), got.end(), c);
      if (g != got.end())
        got.erase(g);
      else
        unmatched_want.push_back(c);
    }
    // Pair what is left on both sides as wrong counts; the rest is missing or unexpected.
    size_t i = 0;
    for (; i < unmatched_want.size() && i < got.size(); ++i)
      d.wrong_count.push_back({row(k, unmatched_want[i]), got[i]});
    for (size_t j = i; j < unmatched_want.size(); ++j)
      d.missing.push_back(row(k, unmatched_want[j]));
    for (size_t j = i; j < got.size(); ++j) d.unexpected.push_back(row(k, got[j]));
    if (it != have.end()) have.erase(it);
  }
  for (auto& [k, counts] : have) {
    for (int64_t c : counts) d.unexpected.push_back(row(k, c));
  }
  std::sort(d.unexpected.begin(), d.unexpected.end());
  return d;
}

std::vector<std::string> TableDiff::lines() const {
  std::vector<std::string> out;
  for (const auto& w : wrong_count) {
    out.push_back("wrong count: " + format_row_key(w.expected) + " expected " +
                  std::to_string(w.expected.count) + ", found " + std::to_string(w.actual));
  }
  for (const auto& r : missing) out.push_back("missing:     " + format_row(r));
  for (const auto& r : unexpected) out.push_back("unexpected:  " + format_row(r));
  return out;
}

}  // namespace kappa
