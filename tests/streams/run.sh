#!/usr/bin/env bash
# Kafka Streams with exactly_once_v2 against a broker (issue: every Kafka tool and client works
# against `kappa broker`): WindowedCount.java's windowed count over 1000 records, killed with
# kill -9 once it runs and started again with its state directory gone (restored from its
# changelog), must end with exactly the counts of the input: 10000 (key, window) pairs of 2.
#   run.sh KAPPA_BINARY kappa|kafka
# kappa: a fresh `kappa broker --data` of its own; kafka: $KAPPA_TEST_KAFKA (default
# kafka://127.0.0.1:9092, scripts/start-kafka.sh). The jars (Kafka Streams 3.9.2) come from Maven
# Central with mvn, cached in build/streams. Exit 77 (skipped) when Maven Central, java or the
# Kafka broker is not there, except under CI=true, where that fails.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
kappa="$1" target="$2"
cache="$root/build/streams"
skip() {
  echo "streams: SKIPPED: $*"
  [ "${CI:-}" = true ] && { echo "streams: CI=true, so this is a failure" >&2; exit 1; }
  exit 77
}
command -v java >/dev/null && command -v javac >/dev/null || skip "no java/javac"
command -v mvn >/dev/null || skip "no mvn (Debian package maven)"
mkdir -p "$cache"
stamp="$(sha256sum "$here/pom.xml" "$here/WindowedCount.java" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$cache/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$cache/libs" "$cache/classes"
  if ! mvn -B -q -f "$here/pom.xml" \
       org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
       -DoutputDirectory="$cache/libs" -DincludeScope=runtime >"$cache/mvn.log" 2>&1; then
    tail -5 "$cache/mvn.log"
    skip "mvn could not fetch Kafka Streams (full output in $cache/mvn.log)"
  fi
  javac -d "$cache/classes" -cp "$cache/libs/*" "$here/WindowedCount.java" || exit 1
  echo "$stamp" > "$cache/.stamp"
fi
cp="$cache/classes:$cache/libs/*"
java_flags=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$cp" WindowedCount)
app() { java "${java_flags[@]}" "$@"; }

work="$(mktemp -d)"
broker_pid=""
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill -9 "$app_pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$target" = kappa ]; then
  "$kappa" broker --listen 127.0.0.1:0 --data "$work/data" >"$work/broker.out" 2>"$work/broker.err" &
  broker_pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/broker.out" 2>/dev/null && break
    sleep 0.1
  done
  bootstrap="$(grep -o 'listening on [^ ]*' "$work/broker.out" | cut -d' ' -f3)"
  [ -n "$bootstrap" ] || { cat "$work/broker.err"; echo "streams: kappa broker did not start" >&2; exit 1; }
else
  url="${KAPPA_TEST_KAFKA:-kafka://127.0.0.1:9092}"
  bootstrap="${url#kafka://}"
  (exec 3<>"/dev/tcp/${bootstrap%:*}/${bootstrap##*:}") 2>/dev/null || skip "no Kafka at $bootstrap"
fi

began=$(date +%s.%N)
id="streams-$target-$$-$(date +%s)"
in="$id-in" out="$id-out"
records=20000 pairs=10000  # each 10 s window holds 2 records of each of 5 keys
# The input arrives while the application runs (about 4 s of it), so the kill -9 falls in the
# middle of its work.
app produce "$bootstrap" "$in" 0 >"$work/produce.log" 2>&1 || { cat "$work/produce.log"; exit 1; }
java "${java_flags[@]}" produce "$bootstrap" "$in" "$records" >>"$work/produce.log" 2>&1 &
producer_pid=$!
start_app() {
  # java itself in the background (not a subshell around it), so that kill -9 reaches it
  java "${java_flags[@]}" count "$bootstrap" "$in" "$out" "$id" "$work/state" >>"$work/app.log" 2>&1 &
  app_pid=$!
}
start_app
for _ in $(seq 300); do grep -q "state RUNNING" "$work/app.log" && break; sleep 0.1; done
grep -q "state RUNNING" "$work/app.log" || { tail -30 "$work/app.log"; echo "streams: the application never ran" >&2; exit 1; }
sleep 1
kill -9 "$app_pid"; wait "$app_pid" 2>/dev/null
rm -rf "$work/state"  # the restart restores its store from the changelog
app read "$bootstrap" "$out" >"$work/before.txt" 2>/dev/null
echo "streams: killed the application with kill -9 while it ran, with $(wc -l <"$work/before.txt") of $pairs pairs committed; starting it again"
start_app
wait "$producer_pid" || { cat "$work/produce.log"; exit 1; }
ok=""
# Each read is a JVM and 3 s of quiet: up to about 6 minutes for the restarted instance to finish
# (it waits for the killed one's session and open transaction to expire first).
for _ in $(seq 80); do
  app read "$bootstrap" "$out" >"$work/table.txt" 2>"$work/read.err"
  rows=$(wc -l <"$work/table.txt")
  twos=$(awk '$2 == 2' "$work/table.txt" | wc -l)
  if [ "$rows" -eq "$pairs" ] && [ "$twos" -eq "$pairs" ]; then ok=1; break; fi
  # A window counted more than twice is a duplicate: no waiting makes that right.
  [ "$(awk '$2 > 2' "$work/table.txt" | wc -l)" -gt 0 ] && break
  sleep 1
done
kill -9 "$app_pid" 2>/dev/null; wait "$app_pid" 2>/dev/null; app_pid=""
echo "streams: $target: $rows (key, window) pairs read with read_committed, $twos of them with count 2, wall $(echo "$(date +%s.%N) - $began" | bc) s"
if [ -z "$ok" ]; then
  awk '$2 != 2' "$work/table.txt" | head -5
  tail -20 "$work/app.log"
  [ -n "$broker_pid" ] && tail -20 "$work/broker.err"
  echo "streams: FAILED: expected $pairs pairs, each counted exactly twice" >&2
  exit 1
fi
echo "streams: $target: exactly once: every window counted exactly, across a kill -9"
