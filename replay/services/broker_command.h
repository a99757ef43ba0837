// `kappa broker`: the mini broker as a Kafka server (broker/server/) on a durable data directory
// (broker/disk/), or in memory without --data, until SIGINT/SIGTERM.
//
//   kappa broker [--listen 127.0.0.1:9092] [--data DIR] [--fsync always|never|interval:MS]
//                [--partitions N] [--no-auto-create] [--retention-ms MS] [--retention-bytes N]
//                [--segment-bytes N] [--advertise HOST] [--checkpoint-interval-ms MS] [--repair]
//                [--socket-request-max-bytes N] [--queued-max-request-bytes N]
//                [--connections-max-idle-ms MS] [--queued-max-response-bytes N]
//                [--offset-metadata-max-bytes N]
//
// With --data, damage that a crash cannot explain (a corrupt batch followed by valid ones,
// deleted segments, durable data truncated; see broker/disk/disk_broker.h) makes it exit with
// code 2 and a message naming the file, the byte or offsets and what --repair would lose;
// --repair cuts the damage instead and logs "TOPIC/P: lost offsets [FROM, TO) (...)" lines.
//
// The limits are Kafka's settings of the same names (docs/protocol.md, "Limits"). At start-up
// the soft RLIMIT_NOFILE is raised to the hard limit; partitions on disk that still do not fit
// (two descriptors each) stop the start with a message naming both numbers.
//
// Prints "kappa broker: listening on HOST:PORT ..." once it accepts connections (with
// --listen HOST:0 the port is the one the system chose), then one line per notable event.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace kappa {

// Returns the exit code: 0 after a clean stop, 1 when serving failed, 2 on bad flags or data.
int broker_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace kappa
