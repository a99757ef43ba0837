// `kappa bench pipeline`: throughput of the whole pipeline in one process, one thread, on the
// embedded broker and an in-memory SQLite sink (a file-backed sink with --sqlite-file). Prints
// one "name value" line per figure; each figure is the median of --runs runs.
//
//   end_to_end_events_per_s  events staged, aggregated and written, per second of wall time:
//                            N pre-generated events (1,000 a second of event time) read by the
//                            stage job and the v1 aggregation from the earliest offset
//   stage_events_per_s       the stage job alone over the same events
//   sim_day_wall_s           a simulated day: 86,400 generated events at 1 a second with 5 s
//                            triggers through generator, stage and v1 aggregation
//
// --mode append|update: the output mode of the v1 aggregation in every part (append, as the
// lab's v1, by default).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace kappa {

// `args` are the words after `kappa bench pipeline`.
int pipeline_bench_command(const std::vector<std::string>& args, std::ostream& out,
                           std::ostream& err);

}  // namespace kappa
