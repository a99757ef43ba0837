#include "replay/cli.h"

#include <iostream>
#include <memory>

#include "bench/pipeline_bench.h"
#include "broker/embedded_broker.h"
#include "pipeline/sqlite_sink.h"
#include "replay/scenario_runner.h"

namespace kappa {
namespace {

constexpr const char* kUsage = R"(usage: kappa COMMAND [OPTIONS]

commands:
  run [--print-tables] [--trace] SCENARIO.json...
      replay scenarios under the simulated clock and check their expectations
  bench pipeline [--events N] [--runs N]
      pipeline throughput figures, one "name value" per line

exit codes: 0 all expectations hold; 1 an expectation failed; 2 bad input or usage
)";

int usage(std::ostream& err, const std::string& problem) {
  err << "kappa: " << problem << "\n\n" << kUsage;
  return 2;
}

void print_report(std::ostream& out, const RunReport& r) {
  if (r.passed()) {
    out << "PASS " << r.path << " (" << r.expectations << " expectations, " << r.rows_checked
        << " rows checked, " << static_cast<int64_t>(r.wall_ms) << " ms)\n";
    return;
  }
  out << "FAIL " << r.path << "\n";
  if (!r.error.is_ok()) {
    out << "  " << r.error_where.to_string() << ": " << r.error.message() << "\n";
  }
  for (const auto& f : r.failures) {
    out << "  " << f.where.to_string() << ": " << f.title << "\n";
    for (const auto& line : f.lines) out << "    " << line << "\n";
  }
}

int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool print_tables = false;
  bool trace = false;
  std::vector<std::string> files;
  for (const auto& a : args) {
    if (a == "--print-tables")
      print_tables = true;
    else if (a == "--trace")
      trace = true;
    else if (a.rfind("--", 0) == 0)
      return usage(err, "unknown option " + a + " for run");
    else
      files.push_back(a);
  }
  if (files.empty()) return usage(err, "run needs at least one scenario file");
  bool bad_input = false;
  bool failed = false;
  for (const auto& file : files) {
    auto scenario = load_scenario(file);
    if (!scenario) {
      err << "kappa: " << scenario.status().message() << "\n";
      bad_input = true;
      continue;
    }
    EmbeddedBroker broker;
    auto sink = SqliteSink::open(":memory:");
    if (!sink) {
      err << "kappa: " << sink.status().message() << "\n";
      return 2;
    }
    RunOptions options;
    if (trace) options.trace = &out;
    if (print_tables) options.tables = &out;
    const RunReport report = run_scenario(*scenario, broker, **sink, options);
    print_report(out, report);
    if (!report.passed()) {
      const auto code = report.error.code();
      if (code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound)
        bad_input = true;
      else
        failed = true;
    }
  }
  return bad_input ? 2 : failed ? 1 : 0;
}

}  // namespace

int kappa_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) return usage(err, "missing command");
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "run") return run_command(rest, out, err);
  if (command == "bench") return bench_command(rest, out, err);
  if (command == "help" || command == "--help" || command == "-h") {
    out << kUsage;
    return 0;
  }
  return usage(err, "unknown command '" + command + "'");
}

}  // namespace kappa
