#include "replay/lab/lab_state.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "pipeline/sinks/sink.h"

namespace kappa {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

json totals_json(const MicroBatchQuery::Totals& t) {
  return json{{"batches", t.batches},
              {"rows_in", t.rows_in},
              {"decoded", t.decoded},
              {"rows_out", t.rows_out},
              {"dead_letters", t.dead_letters},
              {"late_rows", t.late_rows},
              {"late_groups", t.late_groups},
              {"windowed_rows", t.windowed_rows},
              {"failed_attempts", t.failed_attempts},
              {"sink_skips", t.sink_skips}};
}

MicroBatchQuery::Totals totals_from(const json& j) {
  MicroBatchQuery::Totals t;
  auto get = [&](const char* k) {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : 0;
  };
  t.batches = get("batches");
  t.rows_in = get("rows_in");
  t.decoded = get("decoded");
  t.rows_out = get("rows_out");
  t.dead_letters = get("dead_letters");
  t.late_rows = get("late_rows");
  t.late_groups = get("late_groups");
  t.windowed_rows = get("windowed_rows");
  t.failed_attempts = get("failed_attempts");
  t.sink_skips = get("sink_skips");
  return t;
}

}  // namespace

Status load_lab_state(const std::string& data_dir, LabState& state, std::ostream& out) {
  const fs::path path = fs::path(data_dir) / "lab-state.json";
  std::ifstream in(path);
  if (!in) return Status::ok();
  json j;
  try {
    j = json::parse(in);
    for (const auto& a : j.value("aggregations", json::array())) {
      ExtraAggregation e;
      e.kind = a.at("kind").get<std::string>();
      e.table = a.at("table").get<std::string>();
      e.dimension = a.at("dimension").get<std::string>();
      e.window_ms = a.at("window_ms").get<int64_t>();
      e.watermark_ms = a.at("watermark_ms").get<int64_t>();
      e.max_records_per_batch = a.value("max_records_per_batch", int64_t{0});
      e.on = a.value("on", true);
      // Written by a lab that did not check names yet: such a query would fail every trigger.
      if (Status bad = validate_identifier(e.table, "table name"); !bad) {
        out << "kappa lab: " << path.string() << ": leaving out the aggregation into " << e.table
            << " (" << bad.message() << ")" << std::endl;
        continue;
      }
      state.aggregations.push_back(e);
    }
    const json totals_all = j.value("totals", json::object());
    for (const auto& [id, t] : totals_all.items()) state.totals[id] = totals_from(t);
    state.next_injected_id =
        std::max(state.next_injected_id, j.value("next_injected_id", kFirstInjectedId));
  } catch (const std::exception& e) {
    return Status::invalid_argument(path.string() + ": not the lab's state file (" + e.what() +
                                    "); move it away to start without it");
  }
  return Status::ok();
}

void save_lab_state(const std::string& data_dir, const LabState& state) {
  json aggregations = json::array();
  for (const auto& e : state.aggregations) {
    aggregations.push_back({{"kind", e.kind},
                            {"table", e.table},
                            {"dimension", e.dimension},
                            {"window_ms", e.window_ms},
                            {"watermark_ms", e.watermark_ms},
                            {"max_records_per_batch", e.max_records_per_batch},
                            {"on", e.on}});
  }
  json totals_all = json::object();
  for (const auto& [id, t] : state.totals) totals_all[id] = totals_json(t);
  const json j = {{"aggregations", aggregations},
                  {"totals", totals_all},
                  {"next_injected_id", state.next_injected_id}};
  const fs::path path = fs::path(data_dir) / "lab-state.json";
  const fs::path tmp = fs::path(data_dir) / "lab-state.json.tmp";
  {
    std::ofstream o(tmp, std::ios::trunc);
    o << j.dump(2) << "\n";
    if (!o) return;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
}

}  // namespace kappa
