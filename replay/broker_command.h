// `kappa broker`: the mini broker as a Kafka server (broker/server/) on a durable data directory
// (broker/disk/), or in memory without --data, until SIGINT/SIGTERM.
//
//   kappa broker [--listen 127.0.0.1:9092] [--data DIR] [--fsync always|never|interval:MS]
//                [--partitions N] [--no-auto-create] [--retention-ms MS] [--retention-bytes N]
//                [--segment-bytes N] [--advertise HOST] [--checkpoint-interval-ms MS] [--repair]
//
// With --data, damage that a crash cannot explain (a corrupt batch followed by valid ones,
// deleted segments, durable data truncated; see broker/disk/disk_broker.h) makes it exit with
// code 2 and a message naming the file, the byte or offsets and what --repair would lose;
// --repair cuts the damage instead and logs "TOPIC/P: lost offsets [FROM, TO) (...)" lines.
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
