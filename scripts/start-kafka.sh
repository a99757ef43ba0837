#!/usr/bin/env bash
# Starts a real Apache Kafka broker for tests: one KRaft node (combined broker + controller,
# node.id=1) on 127.0.0.1:9092 (PLAINTEXT), controller on 127.0.0.1:9093, run straight from the
# jars of org.apache.kafka:kafka_2.13 fetched from Maven Central with `mvn
# dependency:copy-dependencies` (driven by a pom.xml this script writes; no tarball, no docker).
# The jars also hold Kafka's command-line tools (org.apache.kafka:kafka-tools: ConsumerGroupCommand
# behind kafka-consumer-groups.sh, GetOffsetShell behind kafka-get-offsets.sh), which tests run
# with `java -cp "libs/*" CLASS`.
# Everything lives in ${KAPPA_KAFKA_DIR:-build/kafka}: libs/, config/, data/, log/ (the broker's
# own log is log/server.log, its stdout/stderr log/kafka.out), kafka.pid.
# Idempotent: a broker of this state dir that is already up is left alone (exit 0); storage is
# formatted only once, so topics and messages survive a stop/start. Waits until the broker answers
# a metadata request (kcat, installed from Debian when missing), then prints
#   kafka: ready on 127.0.0.1:9092 (Apache Kafka <version>)
# Env: KAFKA_VERSION (default below), KAPPA_KAFKA_PORT (default 9092; controller = port + 1),
# KAPPA_KAFKA_TIMEOUT (seconds to wait for readiness, default 90), KAPPA_KAFKA_HEAP (default
# "-Xmx512m -Xms256m"). Stop with scripts/stop-kafka.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${KAFKA_VERSION:-3.9.2}"
port="${KAPPA_KAFKA_PORT:-9092}"
cport=$((port + 1))
timeout_s="${KAPPA_KAFKA_TIMEOUT:-90}"
heap="${KAPPA_KAFKA_HEAP:--Xmx512m -Xms256m}"
state="${KAPPA_KAFKA_DIR:-$PWD/build/kafka}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
libs="$state/libs" conf="$state/config" data="$state/data" logs="$state/log"
pidfile="$state/kafka.pid"
props="$conf/server.properties"
# Logging backend for the log4j 1.x API Kafka 3.9 uses (the same pair its own distribution ships).
slf4j_version=1.7.36
reload4j_version=1.2.25

die() { echo "kafka: $*" >&2; exit 1; }

# pid of the broker started from this state dir, or nothing.
broker_pid() {
  local pid=""
  [ -f "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
     tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $props"; then
    echo "$pid"
    return
  fi
  if command -v pgrep >/dev/null; then
    pgrep -f -- "kafka.Kafka $props" | head -n1 || true
  fi
}

# True while $1 runs (a broker that died during startup stays a zombie child of this shell).
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

answers() {
  timeout 15 kcat -b "127.0.0.1:$port" -L -m 5 2>/dev/null | grep -q "broker 1 at"
}

ensure_kcat() {
  command -v kcat >/dev/null && return
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "kafka: installing kcat"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -qq --no-install-recommends kcat >/dev/null 2>&1; then
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends kcat >/dev/null
  fi
  command -v kcat >/dev/null || die "kcat could not be installed (Debian package kcat)"
}

show_log() {
  local f
  for f in "$logs/server.log" "$logs/kafka.out"; do
    [ -s "$f" ] || continue
    echo "---- tail of $f" >&2
    tail -n 40 "$f" >&2
  done
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + timeout_s))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! alive "$pid"; then
      show_log
      rm -f "$pidfile"
      die "broker (pid $pid) exited during startup"
    fi
    if port_open "$port" && answers; then
      return 0
    fi
    sleep 0.5
  done
  show_log
  die "broker (pid $pid) not ready on 127.0.0.1:$port after ${timeout_s}s (still running; scripts/stop-kafka.sh stops it)"
}

ready_message() {
  local v="$version" jar
  jar="$(ls "$libs"/kafka_2.13-*.jar 2>/dev/null | head -n1 || true)"
  [ -n "$jar" ] && v="$(basename "$jar" .jar)" && v="${v#kafka_2.13-}"
  echo "kafka: ready on 127.0.0.1:$port (Apache Kafka $v)"
}

command -v java >/dev/null || die "java not found (Debian package openjdk-17-jre-headless)"
ensure_kcat

# Already running from this state dir?
pid="$(broker_pid)"
if [ -n "$pid" ]; then
  echo "$pid" >"$pidfile"
  if answers; then
    echo "kafka: already running (pid $pid)"
    ready_message
    exit 0
  fi
  echo "kafka: broker (pid $pid) running but not answering yet; waiting"
  wait_ready "$pid"
  ready_message
  exit 0
fi
rm -f "$pidfile"

for p in "$port" "$cport"; do
  if port_open "$p"; then
    who=""
    command -v ss >/dev/null && who="$(ss -ltnpH "sport = :$p" 2>/dev/null | head -n1 || true)"
    die "127.0.0.1:$p is already in use by something other than this state dir's broker ($state)${who:+: $who}"
  fi
done

# Fetch the broker's and the tools' jars (once per version and set of artifacts).
stamp="$libs/.kafka-version"
artifacts="$version kafka_2.13 kafka-tools"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$artifacts" ]; then
  command -v mvn >/dev/null || die "mvn not found (Debian package maven)"
  echo "kafka: fetching org.apache.kafka:kafka_2.13:$version and its dependencies from Maven Central"
  mkdir -p "$logs"
  cat >"$state/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/start-kafka.sh: the jars of an Apache Kafka $version broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kappa-harness</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$slf4j_version</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>$reload4j_version</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "$libs.tmp"
  if ! mvn -B -q -f "$state/pom.xml" \
       org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
       -DoutputDirectory="$libs.tmp" -DincludeScope=runtime >"$logs/mvn.log" 2>&1; then
    tail -n 30 "$logs/mvn.log" >&2
    rm -rf "$libs.tmp"
    die "mvn could not fetch Apache Kafka $version (full output in $logs/mvn.log)"
  fi
  ls "$libs.tmp"/kafka_2.13-"$version".jar >/dev/null 2>&1 || die "kafka_2.13-$version.jar missing after mvn"
  ls "$libs.tmp"/kafka-tools-"$version".jar >/dev/null 2>&1 || die "kafka-tools-$version.jar missing after mvn"
  echo "$artifacts" >"$libs.tmp/.kafka-version"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
fi

# Configuration (rewritten on every start so the ports follow KAPPA_KAFKA_PORT).
mkdir -p "$conf" "$data" "$logs"
cat >"$props" <<EOF
# Generated by scripts/start-kafka.sh: a single-node KRaft test broker, 127.0.0.1 only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
# One partition each (instead of 50) so the first consumer group / transaction is quick.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# The log cleaner looks for compacted topics to clean every second (instead of 15 s), and
# retention looks for old segments every second (instead of 5 minutes). Without a topic's own
# retention.ms nothing is deleted by time (instead of after 7 days), as in kappa broker: the
# tests produce records with timestamps of years ago.
log.cleaner.backoff.ms=1000
log.retention.check.interval.ms=1000
log.retention.ms=-1
EOF
cat >"$conf/log4j.properties" <<'EOF'
# Generated by scripts/start-kafka.sh: the broker logs to log/server.log (rolled at 10 MB).
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF

jvm=(java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
     -Djava.awt.headless=true -Dkafka.logs.dir="$logs"
     -Dlog4j.configuration="file:$conf/log4j.properties" -cp "$libs/*")

# Format the storage once (KRaft needs a cluster id in data/meta.properties).
if [ ! -f "$data/meta.properties" ]; then
  if ! cluster_id="$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>>"$logs/kafka.out")"; then
    tail -n 20 "$logs/kafka.out" >&2
    die "kafka.tools.StorageTool random-uuid failed"
  fi
  if ! "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$props" >>"$logs/kafka.out" 2>&1; then
    tail -n 20 "$logs/kafka.out" >&2
    die "formatting $data failed"
  fi
  echo "kafka: formatted $data (cluster id $cluster_id)"
fi

# Start in the background, in its own session so it outlives this shell.
nohup setsid "${jvm[@]}" kafka.Kafka "$props" </dev/null >>"$logs/kafka.out" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
# $! is the JVM itself unless setsid had to fork; then find it by its command line.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  found="$(broker_pid)"
  [ -n "$found" ] && { pid="$found"; break; }
  sleep 0.2
done
echo "$pid" >"$pidfile"
echo "kafka: started pid $pid, waiting up to ${timeout_s}s (log: $logs/server.log)"
wait_ready "$pid"
ready_message
