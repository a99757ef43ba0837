#include "replay/cli/cli.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "bench/broker_bench.h"
#include "bench/pipeline_bench.h"
#include "broker/server/kafka_server.h"
#include "broker/server/record_log_batches.h"
#include "broker/url.h"
#include "pipeline/time/duration.h"
#include "replay/backends/backends.h"
#include "replay/lab/lab.h"
#include "replay/scenario/capture.h"
#include "replay/scenario/junit.h"
#include "replay/scenario/scenario_runner.h"
#include "replay/services/broker_command.h"
#include "replay/services/services.h"
#include "replay/services/signals.h"

namespace kappa {
namespace {

constexpr const char* kUsage = R"(usage: kappa COMMAND [OPTIONS]

commands:
  run [--print-tables] [--trace] [--listen HOST:PORT] [--limits-scale N] [BACKENDS] SCENARIO.json...
      replay scenarios under the simulated clock and check their expectations; --listen serves
      the scenario's embedded broker over Kafka's protocol (kcat -b HOST:PORT) while it runs and
      after it, until Ctrl-C
  test [--junit FILE] [--trace] [--limits-scale N] [BACKENDS] DIR|SCENARIO.json...
      the same over folders of scenarios; PASS/FAIL per scenario, then "N passed, M failed".
      A scenario may ask for at most 4 MiB of file, 1,000,000 records, 1,000 windows per event,
      10 years of simulated time, 2,000,000 trigger firings (per partition read) and more
      (docs/scenarios.md#limits); more is bad input (exit 2). --limits-scale N multiplies every
      limit by N, on purpose, for a bigger run
  record --topic TOPIC [--topic TOPIC...] --out FILE [--limits-scale N] [BACKENDS] SCENARIO.json
      run a scenario and capture topics to a file that a scenario can replay
  broker [--listen 127.0.0.1:9092] [--data DIR] [--fsync always|never|interval:MS] [--partitions N]
         [--no-auto-create] [--retention-ms MS] [--retention-bytes N] [--segment-bytes N]
         [--checkpoint-interval-ms MS] [--repair] [--socket-request-max-bytes N]
         [--queued-max-request-bytes N] [--connections-max-idle-ms MS]
         [--queued-max-response-bytes N] [--offset-metadata-max-bytes N]
         [--log-retention-check-interval-ms MS] [--log-cleaner-backoff-ms MS]
         [--log-cleaner-dedupe-buffer-size BYTES] [--log-cleaner-delete-retention-ms MS]
      the mini broker as a Kafka server (kcat, librdkafka, any Kafka client), until SIGINT/SIGTERM;
      durable in DIR, in memory without --data; a DIR damaged beyond a torn tail is refused
      (exit 2) unless --repair, which cuts the damage and logs the offsets lost
  bench pipeline|broker ...
      bench pipeline [--events N] [--runs N] [--sqlite-file PATH] [--mode append|update]:
        pipeline throughput figures;
      bench broker [--messages N] [--size BYTES] [--partitions P] [--runs R]
        [--compression none|gzip|snappy|lz4|zstd] [--fsync always|never|memory] [--kafka URL|none]
        [--kafka-pid PID] [--kfake PATH|none] [--listen HOST:PORT]: produce/consume throughput and
        peak memory of `kappa broker`, of franz-go's kfake (scripts/build-kfake.sh) and of Apache
        Kafka through librdkafka; one "name value" per line
  lab [--listen 127.0.0.1:9092] [--http 127.0.0.1:8080] [--data kappa-lab] [--sink sqlite:DIR/lab.db]
      [--zone Asia/Seoul] [--rate 1] [--trigger 5s] [--window 10s] [--watermark 15s]
      [--dimensions ages,depts] [--stage-mode dead-letter|spark]
      the teaching lab, until Ctrl-C: the mini broker (kcat -b on --listen), the generator, the
      stage job and the v1 aggregation into the sink, a terminal view of each batch, and a web
      view with a JSON API on --http (docs/lab-api.md); restarting on the same --data resumes
  generate --broker kafka://HOST:PORT [--rate N] [--count N] [--first-id N]
  stage --broker kafka://HOST:PORT [--from earliest|latest|TIME] [--checkpoint DIR]
        [--stage-mode dead-letter|spark]
  aggregate --broker URL --sink URL [--table T] [--dimension D] [--window 10s] [--watermark 15s]
  recover --broker URL --sink URL --table T [--window W] [--watermark W] [--max-records-per-batch N] [--until-idle]
  cutover --sink URL [--view events_users] --to TABLE
      the jobs as services on the system clock, until SIGINT/SIGTERM; they resume from their
      checkpoints (--checkpoint DIR, default $XDG_STATE_HOME/kappa/checkpoints, else
      ~/.local/state/kappa/checkpoints; never the working directory). A query whose checkpoint is
      missing or stale while its sink or topics hold its work refuses to start.
      Common: --zone, --trigger, --partitions

BACKENDS:
  --broker embedded|kafka://HOST:PORT     the log (default: the embedded broker)
  --sink sqlite::memory:|sqlite:PATH|mysql://USER:PASS@HOST:PORT/DB|mongodb://HOST:PORT/DB
                                          the tables (default: in-memory SQLite)
  On a shared backend every scenario run gets its own topic and table name prefix.

exit codes: 0 all expectations hold; 1 an expectation failed; 2 bad input or usage
)";

int usage(std::ostream& err, const std::string& problem) {
  err << "kappa: " << problem << "\n\n" << kUsage;
  return 2;
}

// A run's outcome as the command line reports it.
enum class Outcome { kPassed, kFailed, kBadInput };

struct ScenarioRun {
  std::string path;
  Outcome outcome = Outcome::kPassed;
  RunReport report;
  Status load_error;
};

Outcome outcome_of(const RunReport& r) {
  if (r.passed()) return Outcome::kPassed;
  const auto code = r.error.code();
  return code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound ? Outcome::kBadInput
                                                                               : Outcome::kFailed;
}

ScenarioRun run_one(const std::string& path, const RunOptions& options, const BackendUrls& urls,
                    const ScenarioLimits& limits,
                    std::function<void(Log&, const ScenarioRun&)> after = {},
                    std::function<void(Log&)> before = {}) {
  ScenarioRun run;
  run.path = path;
  auto scenario = load_scenario(path, limits);
  if (!scenario) {
    run.outcome = Outcome::kBadInput;
    run.load_error = scenario.status();
    return run;
  }
  auto backends = Backends::open(urls);
  if (!backends) {
    run.outcome = backends.status().code() == StatusCode::kInvalidArgument ? Outcome::kBadInput
                                                                           : Outcome::kFailed;
    run.load_error = Status(backends.status().code(), redact(backends.status().message()));
    return run;
  }
  if (before) before((*backends)->log());
  run.report = run_scenario(*scenario, (*backends)->log(), (*backends)->sink(), options);
  if (!(*backends)->note().empty())
    run.report.notes.insert(run.report.notes.begin(), (*backends)->note());
  run.outcome = outcome_of(run.report);
  if (after) after((*backends)->log(), run);
  return run;
}

std::vector<std::string> failure_lines(const ScenarioRun& run) {
  std::vector<std::string> lines;
  if (!run.load_error.is_ok()) {
    lines.push_back(run.load_error.message());
    return lines;
  }
  const RunReport& r = run.report;
  if (!r.error.is_ok()) lines.push_back(r.error_where.to_string() + ": " + r.error.message());
  for (const auto& f : r.failures) {
    lines.push_back(f.where.to_string() + ": " + f.title);
    for (const auto& line : f.lines) lines.push_back("  " + line);
  }
  return lines;
}

void print_run(std::ostream& out, const ScenarioRun& run) {
  const RunReport& r = run.report;
  if (run.outcome == Outcome::kPassed) {
    out << "PASS " << run.path << " (" << r.expectations << " expectations, " << r.rows_checked
        << " rows checked, " << static_cast<int64_t>(r.wall_ms) << " ms)\n";
  } else {
    out << "FAIL " << run.path << "\n";
    for (const auto& line : failure_lines(run)) out << "  " << line << "\n";
  }
  for (const auto& note : r.notes) out << "  | " << note << "\n";
}

struct RunFlags {
  RunOptions options;
  BackendUrls backends;
  std::vector<std::string> inputs;
  std::string junit;
  std::string listen;  // run --listen HOST:PORT: serve the embedded broker over Kafka's protocol
  ScenarioLimits limits;
};

// --limits-scale N; returns true when args[i] was it (i moved past its value).
bool limits_flag(const std::vector<std::string>& args, size_t& i, ScenarioLimits& limits,
                 std::string& problem) {
  if (args[i] != "--limits-scale") return false;
  const auto n = i + 1 < args.size() ? parse_integer(args[i + 1]) : std::nullopt;
  if (!n || *n < 1 || *n > 1'000'000) {
    problem = "--limits-scale needs a whole number from 1 to 1000000";
    return true;
  }
  ++i;
  limits = ScenarioLimits{}.scaled(*n);
  return true;
}

// --broker URL and --sink URL; returns true when args[i] was one of them (i moved past its value).
bool backend_flag(const std::vector<std::string>& args, size_t& i, BackendUrls& urls,
                  std::string& problem) {
  const std::string& a = args[i];
  if (a != "--broker" && a != "--sink") return false;
  if (i + 1 >= args.size()) {
    problem = a + " needs a URL";
    return true;
  }
  (a == "--broker" ? urls.broker : urls.sink) = args[++i];
  return true;
}

// Parses the flags shared by run and test; returns an error message, or "" when fine.
std::string parse_flags(const std::vector<std::string>& args, bool allow_junit, bool allow_tables,
                        std::ostream& out, RunFlags& f) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string problem;
    if (backend_flag(args, i, f.backends, problem) || limits_flag(args, i, f.limits, problem)) {
      if (!problem.empty()) return problem;
      continue;
    }
    if (a == "--trace") {
      f.options.trace = &out;
    } else if (a == "--print-tables" && allow_tables) {
      f.options.tables = &out;
    } else if (a == "--listen" && allow_tables) {
      if (i + 1 >= args.size()) return "--listen needs HOST:PORT";
      f.listen = args[++i];
    } else if (a == "--junit" && allow_junit) {
      if (i + 1 >= args.size()) return "--junit needs a file name";
      f.junit = args[++i];
    } else if (a.rfind("--", 0) == 0) {
      return "unknown option " + a;
    } else {
      f.inputs.push_back(a);
    }
  }
  if (Status s = validate(f.backends); !s) return s.message();
  return "";
}

int exit_code(const std::vector<ScenarioRun>& runs) {
  bool bad = false, failed = false;
  for (const auto& r : runs) {
    bad = bad || r.outcome == Outcome::kBadInput;
    failed = failed || r.outcome == Outcome::kFailed;
  }
  return bad ? 2 : failed ? 1 : 0;
}

// Serves a scenario's embedded broker on a port while it runs and, once it has finished, until
// SIGINT/SIGTERM, so kcat and other Kafka clients can look at its topics.
class ScenarioListener {
 public:
  ScenarioListener(std::string listen, std::ostream& out, std::ostream& err)
      : listen_(std::move(listen)), out_(out), err_(err) {}

  void start(Log& log) {
    const auto colon = listen_.rfind(':');
    KafkaServer::Options o;
    o.host = listen_.substr(0, colon);
    try {
      o.port = static_cast<uint16_t>(std::stoi(listen_.substr(colon + 1)));
    } catch (const std::exception&) {
      o.port = 0;
    }
    o.log = [this](const std::string& line) { err_ << "kappa broker: " << line << std::endl; };
    batches_ = std::make_unique<RecordLogBatches>(log);
    auto server = KafkaServer::start(*batches_, o);
    if (!server) {
      err_ << "kappa: " << server.status().message() << "\n";
      return;
    }
    server_ = std::move(*server);
    out_ << "kappa: serving the scenario's broker on " << server_->address() << std::endl;
  }

  void hold() {
    if (!server_) return;
    out_ << "kappa: the scenario has finished; its topics stay on " << server_->address()
         << " until Ctrl-C" << std::endl;
    install_stop_handlers();
    while (!stop_requested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    server_->stop();
  }

  bool failed() const { return server_ == nullptr; }

 private:
  std::string listen_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<RecordLogBatches> batches_;
  std::unique_ptr<KafkaServer> server_;
};

int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  RunFlags f;
  if (auto problem = parse_flags(args, false, true, out, f); !problem.empty())
    return usage(err, problem + " for run");
  if (f.inputs.empty()) return usage(err, "run needs at least one scenario file");
  if (!f.listen.empty()) {
    if (f.inputs.size() != 1)
      return usage(err, "run --listen serves one scenario's broker: give one file");
    if (f.backends.broker != "embedded") {
      return usage(err,
                   "run --listen serves the embedded broker; with --broker kafka:// that Kafka is "
                   "there already");
    }
    if (f.listen.rfind(':') == std::string::npos)
      return usage(err, "--listen expects HOST:PORT, got '" + f.listen + "'");
  }
  std::vector<ScenarioRun> runs;
  ScenarioListener listener(f.listen, out, err);
  std::function<void(Log&)> before;
  std::function<void(Log&, const ScenarioRun&)> after;
  if (!f.listen.empty()) {
    before = [&](Log& log) { listener.start(log); };
    after = [&](Log&, const ScenarioRun& run) {
      print_run(out, run);
      listener.hold();
    };
  }
  for (const auto& file : f.inputs) {
    runs.push_back(run_one(file, f.options, f.backends, f.limits, after, before));
    if (!runs.back().load_error.is_ok()) {
      err << "kappa: " << runs.back().load_error.message() << "\n";
      continue;
    }
    if (f.listen.empty()) print_run(out, runs.back());
  }
  if (!f.listen.empty() && listener.failed()) return 1;
  return exit_code(runs);
}

// Scenario files under the inputs: files as given, folders searched for *.json, sorted.
Result<std::vector<std::string>> scenario_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (auto it = std::filesystem::recursive_directory_iterator(input, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".json")
          found.push_back(it->path().string());
      }
      if (ec) return Status::not_found("cannot read folder " + input + ": " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::exists(input, ec)) {
      files.push_back(input);
    } else {
      return Status::not_found("no such file or folder: " + input);
    }
  }
  return files;
}

int test_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  RunFlags f;
  if (auto problem = parse_flags(args, true, false, out, f); !problem.empty())
    return usage(err, problem + " for test");
  if (f.inputs.empty()) return usage(err, "test needs a folder or scenario files");
  auto files = scenario_files(f.inputs);
  if (!files) {
    err << "kappa: " << files.status().message() << "\n";
    return 2;
  }
  if (files->empty()) {
    err << "kappa: no scenario files (*.json) found\n";
    return 2;
  }
  std::vector<ScenarioRun> runs;
  std::vector<JunitCase> cases;
  int passed = 0;
  for (const auto& file : *files) {
    runs.push_back(run_one(file, f.options, f.backends, f.limits));
    const ScenarioRun& run = runs.back();
    print_run(out, run);
    JunitCase c;
    c.name = std::filesystem::path(file).stem().string();
    c.file = file;
    c.seconds = run.report.wall_ms / 1000;
    if (run.outcome == Outcome::kPassed) {
      ++passed;
    } else {
      const auto lines = failure_lines(run);
      c.error =
          run.outcome == Outcome::kBadInput || !run.load_error.is_ok() || !run.report.error.is_ok();
      c.failure = lines.empty() ? "failed" : lines.front();
      std::ostringstream details;
      for (const auto& line : lines) details << line << "\n";
      c.details = details.str();
    }
    cases.push_back(std::move(c));
  }
  const int failed = static_cast<int>(runs.size()) - passed;
  out << passed << " passed, " << failed << " failed\n";
  if (!f.junit.empty()) {
    std::ofstream junit(f.junit);
    write_junit(junit, "kappa scenarios", cases);
    if (!junit) {
      err << "kappa: cannot write " << f.junit << "\n";
      return 2;
    }
  }
  return exit_code(runs);
}

int record_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> topics;
  std::string output, scenario;
  BackendUrls urls;
  ScenarioLimits limits;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string problem;
    if (backend_flag(args, i, urls, problem) || limits_flag(args, i, limits, problem)) {
      if (!problem.empty()) return usage(err, problem + " for record");
      continue;
    }
    if (args[i] == "--topic" && i + 1 < args.size())
      topics.push_back(args[++i]);
    else if (args[i] == "--out" && i + 1 < args.size())
      output = args[++i];
    else if (args[i].rfind("--", 0) == 0)
      return usage(err, "unknown or incomplete option " + args[i] + " for record");
    else if (scenario.empty())
      scenario = args[i];
    else
      return usage(err, "record runs one scenario");
  }
  if (topics.empty() || output.empty() || scenario.empty())
    return usage(err, "record needs --topic, --out and a scenario");
  if (Status s = validate(urls); !s) return usage(err, s.message() + " for record");
  Status written;
  int64_t count = 0;
  const ScenarioRun run =
      run_one(scenario, RunOptions{}, urls, limits, [&](Log& log, const ScenarioRun&) {
        std::ofstream file(output);
        auto n = write_capture(log, topics, file);
        written = n.status();
        if (n) count = *n;
      });
  if (!run.load_error.is_ok()) {
    err << "kappa: " << run.load_error.message() << "\n";
    return run.outcome == Outcome::kBadInput ? 2 : 1;
  }
  print_run(out, run);
  if (!written) {
    err << "kappa: " << written.message() << "\n";
    return 2;
  }
  out << "recorded " << count << " records to " << output << "\n";
  return 0;
}

// `kappa bench pipeline|broker ...`.
int bench_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::vector<std::string> rest(args.empty() ? args.begin() : args.begin() + 1, args.end());
  if (!args.empty() && args[0] == "broker") return broker_bench_command(rest, out, err);
  if (!args.empty() && args[0] == "pipeline") return pipeline_bench_command(rest, out, err);
  err << "kappa: usage: kappa bench pipeline [--events N] [--runs N] [--sqlite-file PATH] "
         "[--mode append|update]\n"
         "       kappa bench broker [--messages N] [--size BYTES] [--partitions P] [--runs R]\n"
         "                          [--compression none|gzip|snappy|lz4|zstd] [--fsync "
         "always|never]\n"
         "                          [--kafka URL|none] [--kafka-pid PID]\n";
  return 2;
}

int dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) return usage(err, "missing command");
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (std::find_if(rest.begin(), rest.end(),
                   [](const std::string& a) { return a == "--help" || a == "-h"; }) != rest.end()) {
    out << kUsage;
    return 0;
  }
  if (command == "run") return run_command(rest, out, err);
  if (command == "test") return test_command(rest, out, err);
  if (command == "record") return record_command(rest, out, err);
  if (command == "bench") return bench_command(rest, out, err);
  if (command == "broker") return broker_command(rest, out, err);
  if (command == "lab") return lab_command(rest, out, err);
  if (command == "generate" || command == "stage" || command == "aggregate" ||
      command == "recover" || command == "cutover") {
    return service_command(command, rest, out, err);
  }
  if (command == "help" || command == "--help" || command == "-h") {
    out << kUsage;
    return 0;
  }
  return usage(err, "unknown command '" + command + "'");
}

}  // namespace

int kappa_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  // The last resort: the scenario limits keep every input short of this, but an allocation
  // that fails must still end in a message and an exit code, not an abort.
  try {
    return dispatch(args, out, err);
  } catch (const std::bad_alloc&) {
    err << "kappa: out of memory; the input asks for more than this machine has (for a "
           "scenario, lower its limits or see docs/scenarios.md#limits)\n";
    return 2;
  }
}

}  // namespace kappa
