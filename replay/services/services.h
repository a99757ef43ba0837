// The jobs as long-running services on the system clock (DESIGN.md §5):
//   kappa generate  --broker kafka://H:P [--rate N] [--count N] [--first-id N]
//   kappa stage     --broker kafka://H:P [--from earliest|latest|TIME] [--checkpoint DIR]
//                   [--group G [--instance NAME]]  (several processes share the partitions)
//   kappa aggregate --broker kafka://H:P --sink URL [--table T] [--dimension D] [--window 10s]
//                   [--watermark 15s] [--checkpoint DIR]
//   kappa recover   the same, into a new table (refused for a live or non-empty one),
//                   [--max-records-per-batch N] [--until-idle]
//   kappa cutover   --sink URL [--view events_users] --to TABLE
// Common: --zone, --trigger 5s, --partitions N (for topics it creates), --topic-prefix P (topics
// P+events, P+events_stages, P+events_dlq, to run several labs on one cluster). Each runs until
// SIGINT or SIGTERM, finishes the batch in progress, and resumes from its checkpoint
// (<--checkpoint DIR>/<query id>; by default DIR is $XDG_STATE_HOME/kappa/checkpoints, else
// ~/.local/state/kappa/checkpoints, whatever the working directory) when started again.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace kappa {

// Returns the exit code: 0 after a clean stop, 1 on a failure, 2 on bad flags.
int service_command(const std::string& command, const std::vector<std::string>& args,
                    std::ostream& out, std::ostream& err);

}  // namespace kappa
