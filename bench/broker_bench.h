// `kappa bench broker`: our Kafka-protocol server (`kappa broker`) against Apache Kafka, through
// the same librdkafka client code, in one run. The kappa broker is this binary, spawned as
// `kappa broker --listen 127.0.0.1:0 --data <fresh temp dir> --fsync <policy>` and stopped with
// SIGTERM at the end; Kafka is an already running cluster (--kafka URL, default
// $KAPPA_TEST_KAFKA or kafka://127.0.0.1:9092; scripts/start-kafka.sh), skipped with a "# note"
// line when it does not answer. The targets take turns run by run (kappa's run 1, the peers' run
// 1, kappa's run 2, ...), so that each run of each sees the same machine; the brokers' data dirs
// are removed only at the end, and every run starts with nothing dirty in the page cache (sync(2),
// untimed, before it). Each run of each target uses a fresh topic of --partitions
// partitions (CreateTopics, replication 1) and:
//
//   produce   N messages of --size bytes (distinct values: the first 8 bytes are the index; null
//             keys; partition i % P) with acks=all, linger.ms=5, batch.size=1000000,
//             batch.num.messages=10000 and --compression; timed from the first produce call to
//             the end of flush(), every delivery report checked
//   consume   all N from the beginning with an assigned (not subscribed) consumer, fetches of up
//             to 4 MiB a partition and 16 MiB a request; timed from assign() to the Nth message,
//             each index seen exactly once
//
// A Kafka cluster's topics get retention.ms=-1 and file.delete.delay.ms=0 and are deleted after
// all the runs, so that Kafka deletes no files while a run is timed.
//
// Figures, one "name value" line each; per run (broker.T.runK.*) and the median over --runs
// (broker.T.*), T = kappa or kafka:
//
//   produce_msgs_per_s, produce_mb_per_s   messages and payload MB (10^6 bytes) per second
//   consume_msgs_per_s, consume_mb_per_s   the same for the consumer
//   produce_cpu_ns_per_msg,                the broker process's CPU time (all its threads, from
//   consume_cpu_ns_per_msg                 /proc/PID/task/*/schedstat) in the phase, per message;
//                                          for Kafka only when its pid is known (see below)
//   produce_client_cpu_ns_per_msg, ...     this process's (the librdkafka client's) CPU time,
//   consume_client_cpu_ns_per_msg          per message: on a small machine the client, which
//                                          shares the cores, is most of the work
//   peak_rss_mb                            VmHWM of the broker process in MiB: for kappa read just
//                                          before stopping it (so over all runs); for Kafka over
//                                          the JVM's whole life (pid from --kafka-pid or
//                                          build/kafka/kafka.pid), plus its current VmRSS as
//                                          broker.kafka.rss_mb
//   broker.throughput_ratio.produce|consume, broker.cpu_ratio.produce|consume,
//   broker.memory_ratio                    kappa / kafka (a CPU ratio below 1: kappa uses less)
//
// --kfake PATH adds franz-go's kfake (bench/kfake, built by scripts/build-kfake.sh from the Go
// module proxy) in the mode like kappa's: --fsync always runs it with DataDir and SyncWrites,
// never with DataDir, memory (kappa without --data) in memory; its figures are broker.kfake.*
// and broker.throughput_ratio_kfake.produce|consume, broker.cpu_ratio_kfake.produce|consume,
// broker.memory_ratio_kfake (kappa / kfake).
// --listen HOST:PORT puts the kappa broker on that address (default 127.0.0.1:0). The first
// "#" lines give the parameters and the load average.
//
// Note that Kafka, as configured by scripts/start-kafka.sh, never fsyncs on produce (it leaves
// it to the page cache and replication), while `kappa broker --fsync always` (the default here,
// as in the broker) syncs before acknowledging; --fsync never compares like with like.
// A failed produce or consume (an error, a missing or duplicate message) exits 1; a bad flag 2.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace kappa {

// `args` are the words after `kappa bench broker`.
int broker_bench_command(const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err);

}  // namespace kappa
