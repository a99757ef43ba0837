#!/usr/bin/env bash
# Stops the Apache Kafka test broker that scripts/start-kafka.sh started from
# ${KAPPA_KAFKA_DIR:-build/kafka}: SIGTERM (a clean shutdown), up to 30 s, then SIGKILL.
# Idempotent: exits 0 when no broker of that state dir is running.
# --wipe also removes the data dir (topics, messages, the KRaft metadata; formatted anew on start).
set -euo pipefail
cd "$(dirname "$0")/.."

wipe=0
for a in "$@"; do
  case "$a" in
    --wipe) wipe=1 ;;
    *) echo "usage: $0 [--wipe]" >&2; exit 2 ;;
  esac
done

state="${KAPPA_KAFKA_DIR:-$PWD/build/kafka}"
if [ -d "$state" ]; then state="$(cd "$state" && pwd)"; fi
pidfile="$state/kafka.pid"
props="$state/config/server.properties"

pid=""
[ -f "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
if [ -z "$pid" ] || [ ! -r "/proc/$pid/cmdline" ] ||
   ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $props"; then
  pid=""
  if command -v pgrep >/dev/null; then
    pid="$(pgrep -f -- "kafka.Kafka $props" | head -n1 || true)"
  fi
fi

if [ -z "$pid" ]; then
  echo "kafka: not running"
else
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka: pid $pid still running after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  echo "kafka: stopped (pid $pid)"
fi
rm -f "$pidfile"

if [ "$wipe" -eq 1 ] && [ -d "$state/data" ]; then
  rm -rf "$state/data"
  echo "kafka: wiped $state/data"
fi
