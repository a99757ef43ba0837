#include "replay/lab/lab_flags.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "pipeline/jobs/stage_processor.h"
#include "pipeline/time/duration.h"

namespace kappa {

namespace fs = std::filesystem;

namespace {

Status host_port(const std::string& flag, const std::string& text, std::string& host,
                 uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::invalid_argument(flag + " expects HOST:PORT, got '" + text + "'");
  }
  const auto v = parse_integer(text.substr(colon + 1));
  if (v && *v >= 0 && *v <= 65535) {
    host = text.substr(0, colon);
    port = static_cast<uint16_t>(*v);
    return Status::ok();
  }
  return Status::invalid_argument(flag + " expects a port 0..65535, got '" + text + "'");
}

}  // namespace

Result<LabFlags> parse_lab_flags(const std::vector<std::string>& args) {
  LabFlags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    static const char* kValued[] = {"--listen",    "--http",       "--data",      "--sink",
                                    "--zone",      "--rate",       "--trigger",   "--window",
                                    "--watermark", "--dimensions", "--stage-mode"};
    if (std::none_of(std::begin(kValued), std::end(kValued),
                     [&](const char* k) { return a == k; })) {
      return Status::invalid_argument("unknown option " + a + " for lab");
    }
    if (i + 1 >= args.size()) return Status::invalid_argument(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--listen") {
      KAPPA_RETURN_IF_ERROR(host_port(a, v, f.listen_host, f.listen_port));
    } else if (a == "--http") {
      KAPPA_RETURN_IF_ERROR(host_port(a, v, f.http_host, f.http_port));
    } else if (a == "--data") {
      if (v.empty()) return Status::invalid_argument("--data needs a folder");
      f.data = v;
    } else if (a == "--sink") {
      f.sink = v;
    } else if (a == "--zone") {
      f.zone = v;
    } else if (a == "--rate") {
      const auto rate = parse_integer(v);
      if (!rate || *rate < 1) {
        return Status::invalid_argument(
            "--rate: expected an integer >= 1 (events a second), found '" + v + "'");
      }
      f.rate = *rate;
    } else if (a == "--stage-mode") {
      if (auto m = parse_stage_mode(v); !m) {
        return Status::invalid_argument("--stage-mode: " + m.status().message());
      }
      f.stage_mode = v;
    } else if (a == "--dimensions") {
      std::stringstream list(v);
      std::string d;
      while (std::getline(list, d, ',')) {
        if (d != "ages" && d != "depts") {
          return Status::invalid_argument(
              "--dimensions: expected ages, depts or ages,depts, found '" + v + "'");
        }
        f.dimensions.push_back(d);
      }
    } else {
      auto d = parse_duration(v);
      if (!d) return Status::invalid_argument(a + ": " + d.status().message());
      if (*d <= 0 && a != "--watermark")
        return Status::invalid_argument(a + ": must be longer than 0, found '" + v + "'");
      (a == "--trigger" ? f.trigger_ms : a == "--window" ? f.window_ms : f.watermark_ms) = *d;
    }
  }
  if (f.sink.empty()) f.sink = "sqlite:" + (fs::path(f.data) / "lab.db").string();
  return f;
}

}  // namespace kappa
