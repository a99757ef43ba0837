// The lab's dimension tables: `names` (uid -> name) and `depts` (did -> name), kept as JSON lines
// exactly as the lab kept them for Spark (one object a line: {"uid":0,"name":"zero"}).
//
// The stage job left-outer-joins events to them (user_id = id % 10 with uid, dept_id = id % 5
// with did). A left outer join emits one row per match, so a duplicate id in a fixture would
// duplicate events; we reject it instead, naming both lines.
//
// The copies in fixtures/ are compiled into the binary (Fixtures::lab()), so `kappa` runs from
// any directory; a scenario may point at other files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/result.h"

namespace kappa {

class LookupTable {
 public:
  // Parses JSON lines; each line an object with an integer `id_field` and a string or null
  // "name". Blank lines are skipped. `origin` names the source in errors ("fixtures/names.jsonl").
  static Result<LookupTable> parse(std::string_view text, std::string_view id_field,
                                   const std::string& origin);
  // Reads a regular file of at most max_bytes (input_file.h): a device, a directory or a /proc
  // file is refused, and no more than max_bytes + 1 bytes are read.
  static Result<LookupTable> load(const std::string& path, std::string_view id_field,
                                  size_t max_bytes = kDefaultMaxBytes);
  static constexpr size_t kDefaultMaxBytes = size_t{16} << 20;

  // The name joined to `id`; nullopt when no row matches (or the row's name is null), which the
  // stage job turns into the default ("Unknown Name" / "Unknown Dept").
  std::optional<std::string_view> find(int64_t id) const {
    if (id >= 0 && id < static_cast<int64_t>(dense_.size())) {
      const auto& slot = dense_[static_cast<size_t>(id)];
      return slot ? std::optional<std::string_view>(*slot) : std::nullopt;
    }
    auto it = sparse_.find(id);
    if (it == sparse_.end() || !it->second) return std::nullopt;
    return std::optional<std::string_view>(*it->second);
  }
  size_t size() const { return rows_; }

 private:
  std::vector<std::optional<std::string>> dense_;  // ids 0..dense_.size()-1
  std::unordered_map<int64_t, std::optional<std::string>> sparse_;
  size_t rows_ = 0;
};

struct Fixtures {
  LookupTable names;  // keyed by "uid"
  LookupTable depts;  // keyed by "did"

  // The lab's tables, from the copies of fixtures/names.jsonl and fixtures/depts.jsonl built in.
  static const Fixtures& lab();
  static Result<Fixtures> load(const std::string& names_path, const std::string& depts_path,
                               size_t max_bytes = LookupTable::kDefaultMaxBytes);
};

}  // namespace kappa
