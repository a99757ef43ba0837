#include "pipeline/sinks/sink.h"

namespace kappa {

std::string_view to_string(OutputMode mode) {
  switch (mode) {
    case OutputMode::kAppend:
      return "append";
    case OutputMode::kUpdate:
      return "update";
    case OutputMode::kComplete:
      return "complete";
  }
  return "append";
}

std::string to_display(const DimValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "NULL";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return std::get<std::string>(v);
}

Status validate_identifier(std::string_view name, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::invalid_argument(std::string(what) + " '" + std::string(name) + "' " +
                                    std::string(why) +
                                    "; expected letters, digits and '_', starting with a letter or "
                                    "'_', at most 64 characters");
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 64) return bad("is too long");
  const auto alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!alpha(name[0])) return bad("does not start with a letter or '_'");
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return bad("has a character outside [A-Za-z0-9_]");
  }
  auto starts_with = [&](std::string_view prefix) {
    if (name.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      const char c =
          name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] - 'A' + 'a') : name[i];
      if (c != prefix[i]) return false;
    }
    return true;
  };
  auto reserved = [&](std::string_view why) {
    return Status::invalid_argument(std::string(what) + " '" + std::string(name) +
                                    "' is reserved: " + std::string(why) + "; choose another name");
  };
  if (starts_with("sqlite_")) {
    return reserved("names starting with sqlite_ belong to SQLite's own tables (sqlite_master...)");
  }
  if (starts_with("kappa_")) {
    return reserved(
        "names starting with kappa_ belong to the pipeline's own tables (kappa_ledger, "
        "kappa_views)");
  }
  return Status::ok();
}

Status ledger_mismatch(const BatchCommit& commit, std::string_view recorded_end,
                       std::string_view sink) {
  return Status::failed_precondition(
      "query " + commit.query_id + " batch " + std::to_string(commit.batch_id) +
      ": the ledger in " + std::string(sink) + " records this batch as ending at source offsets " +
      std::string(recorded_end) + ", but the query's plan reads from " + commit.source_start +
      " to " + commit.source_end +
      ": the query's checkpoint and the sink disagree (a checkpoint lost, rolled back or from "
      "another run); stopping rather than losing or doubling rows. Start the query with the "
      "checkpoint it ran with, or recover into a new table.");
}

}  // namespace kappa
