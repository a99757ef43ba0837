#include "replay/lab/lab.h"

#include <unistd.h>

#include <filesystem>

#include "broker/disk/disk_broker.h"
#include "broker/server/kafka_server.h"
#include "broker/url.h"
#include "pipeline/engine/realtime.h"
#include "pipeline/jobs/pipeline.h"
#include "pipeline/time/clock.h"
#include "replay/backends/backends.h"
#include "replay/lab/lab_core.h"
#include "replay/lab/lab_flags.h"
#include "replay/lab/lab_http.h"
#include "replay/services/signals.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;

int fail(std::ostream& err, const Status& s) {
  err << "kappa: " << redact(s.message()) << "\n";
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ? 2 : 1;
}

}  // namespace

int lab_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto flags = parse_lab_flags(args);
  if (!flags) return fail(err, flags.status());
  auto zone = TimeZone::load(flags->zone);
  if (!zone) return fail(err, zone.status());
  std::error_code ec;
  fs::create_directories(flags->data, ec);
  if (ec)
    return fail(err,
                Status::unavailable("--data: cannot create " + flags->data + ": " + ec.message()));

  DiskBroker::Options o;
  o.dir = fs::path(flags->data) / "broker";
  o.fsync = DiskBroker::FsyncPolicy::kInterval;
  auto disk = DiskBroker::open(o);
  if (!disk) return fail(err, disk.status().with_context("the lab's broker in " + o.dir.string()));
  for (const std::string& line : (*disk)->recovery().lines())
    err << "kappa lab: broker: " << line << "\n";
  auto sink = open_sink_url(flags->sink);
  if (!sink) return fail(err, sink.status());

  SystemClock clock;
  Lab lab(*flags, **disk, **sink, *zone, clock, out, ::isatty(STDOUT_FILENO) == 1);
  if (Status s = lab.start(); !s) return fail(err, s);

  KafkaServer::Options so;
  so.host = flags->listen_host;
  so.port = flags->listen_port;
  so.api.auto_create_topics = true;
  so.api.log_dir = fs::absolute(o.dir, ec).lexically_normal().string();  // for DescribeLogDirs
  so.log = [](const std::string&) {};  // the terminal is the lab's view; the broker stays quiet
  auto kafka = KafkaServer::start(**disk, so);
  if (!kafka) return fail(err, kafka.status().with_context("--listen"));
  auto web = LabHttpServer::start(flags->http_host, flags->http_port,
                                  [&lab](const HttpRequest& r) { return lab.handle(r); });
  if (!web) return fail(err, web.status());
  lab.set_addresses((*kafka)->address(), (*web)->address());

  install_stop_handlers();
  out << "kappa lab: kafka on " << (*kafka)->address() << ", web on http://" << (*web)->address()
      << "/" << std::endl;
  out << "kappa lab: data in " << flags->data << ", tables in " << (*sink)->describe()
      << "; Ctrl-C stops" << std::endl;

  RealTimeDriver driver(clock, lab.pipeline());
  driver.set_wait_hook([&lab](int64_t wait_ms) { lab.actions().wait_and_run(wait_ms); });
  const Status s = driver.run(stop_requested());

  lab.actions().close();
  lab.actions().run_pending();
  (*web)->stop();
  (*kafka)->stop();
  lab.save_state();
  lab.print_totals();
  if (!s) return fail(err, s);
  return 0;
}

}  // namespace kappa
