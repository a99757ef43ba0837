// `kappa lab`: the seed's whole lab in one command, on the system clock, until SIGINT/SIGTERM
// (issue 6):
//
//   kappa lab [--listen 127.0.0.1:9092] [--http 127.0.0.1:8080] [--data DIR] [--sink URL]
//             [--zone Z] [--rate N] [--trigger 5s] [--window 10s] [--watermark 15s]
//             [--dimensions ages,depts]
//
// One process runs:
//   - the mini broker: a DiskBroker on DIR/broker, served on --listen by a KafkaServer, so kcat
//     and any Kafka client see the lab's topics while it runs;
//   - one Pipeline: the generator (--rate events/s), the stage job and the v1 aggregation
//     (events_users_v1: user_name, 10 s windows, 15 s watermark, 5 s trigger) into the sink
//     (default sqlite:DIR/lab.db), with checkpoints in DIR/checkpoints. Recoveries and the
//     other dimensions (events_ages, events_depts) are started from the web view;
//   - the terminal view: at every v1 batch, its latest windows and figures (reprinted like
//     Spark's displayStream, clearing the screen only when stdout is a terminal), and a progress
//     line for a running recovery;
//   - the web view on --http: the page (replay/lab/lab_web/index.html, compiled in) and its JSON
//     API (docs/lab-api.md).
//
// Restarting on the same --data resumes: the queries from their checkpoints, the generator from
// the id after the last one in `events`, and DIR/lab-state.json brings back the recoveries,
// the dimensions switched on and the job figures of earlier runs.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace kappa {

// Returns the exit code: 0 after a clean stop, 1 on a failure, 2 on bad flags.
int lab_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace kappa
