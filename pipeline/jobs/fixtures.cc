#include "pipeline/jobs/fixtures.h"

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "pipeline/codec/input_file.h"
#include "pipeline/jobs/fixtures_embedded.h"

namespace kappa {

Result<LookupTable> LookupTable::parse(std::string_view text, std::string_view id_field,
                                       const std::string& origin) {
  std::map<int64_t, std::pair<std::optional<std::string>, int>> rows;  // id -> (name, line)
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = origin + ":" + std::to_string(line_no);
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object()) {
      return Status::invalid_argument(where + ": expected a JSON object like {\"" +
                                      std::string(id_field) + "\":0,\"name\":\"zero\"}");
    }
    auto id = row.find(std::string(id_field));
    if (id == row.end() || !id->is_number_integer()) {
      return Status::invalid_argument(where + ": expected an integer at /" + std::string(id_field));
    }
    auto name = row.find("name");
    if (name == row.end() || !(name->is_string() || name->is_null())) {
      return Status::invalid_argument(where + ": expected a string or null at /name");
    }
    const int64_t key = id->get<int64_t>();
    std::optional<std::string> value;
    if (name->is_string()) value = name->get<std::string>();
    auto [it, inserted] = rows.emplace(key, std::make_pair(std::move(value), line_no));
    if (!inserted) {
      return Status::invalid_argument(where + ": duplicate " + std::string(id_field) + " " +
                                      std::to_string(key) + " (first at line " +
                                      std::to_string(it->second.second) +
                                      "); a left outer join would duplicate events");
    }
  }
  LookupTable table;
  table.rows_ = rows.size();
  for (auto& [key, entry] : rows) {
    if (key >= 0 && key < 4096) {
      if (table.dense_.size() <= static_cast<size_t>(key))
        table.dense_.resize(static_cast<size_t>(key) + 1);
      table.dense_[static_cast<size_t>(key)] = std::move(entry.first);
    } else {
      table.sparse_.emplace(key, std::move(entry.first));
    }
  }
  return table;
}

Result<LookupTable> LookupTable::load(const std::string& path, std::string_view id_field,
                                      size_t max_bytes) {
  auto text = read_input_file(path, "fixture file", {max_bytes, "max_input_file_bytes"},
                              /*regular_only=*/true);
  if (!text) return text.status();
  return parse(*text, id_field, path);
}

const Fixtures& Fixtures::lab() {
  static const Fixtures fixtures = [] {
    auto names = LookupTable::parse(embedded::kNamesJsonl, "uid", "fixtures/names.jsonl");
    auto depts = LookupTable::parse(embedded::kDeptsJsonl, "did", "fixtures/depts.jsonl");
    // The built-in copies are checked by tests; a failure here is a build defect.
    if (!names || !depts) std::abort();
    return Fixtures{std::move(*names), std::move(*depts)};
  }();
  return fixtures;
}

Result<Fixtures> Fixtures::load(const std::string& names_path, const std::string& depts_path,
                                size_t max_bytes) {
  auto names = LookupTable::load(names_path, "uid", max_bytes);
  if (!names) return names.status();
  auto depts = LookupTable::load(depts_path, "did", max_bytes);
  if (!depts) return depts.status();
  return Fixtures{std::move(*names), std::move(*depts)};
}

}  // namespace kappa
