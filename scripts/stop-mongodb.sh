#!/usr/bin/env bash
# Stops the FerretDB test server that scripts/start-mongodb.sh started from
# ${KAPPA_MONGODB_DIR:-build/ferretdb}: SIGTERM (a clean shutdown), up to 30 s, then SIGKILL.
# Idempotent: exits 0 when no server of that state dir is running.
# --wipe also removes the data dir (every database; made anew on start).
set -euo pipefail
cd "$(dirname "$0")/.."

wipe=0
for a in "$@"; do
  case "$a" in
    --wipe) wipe=1 ;;
    *) echo "usage: $0 [--wipe]" >&2; exit 2 ;;
  esac
done

state="${KAPPA_MONGODB_DIR:-$PWD/build/ferretdb}"
if [ -d "$state" ]; then state="$(cd "$state" && pwd)"; fi
pidfile="$state/ferretdb.pid"
bin="$state/ferretdb"

pid=""
[ -f "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
if [ -n "$pid" ] && { [ ! -r "/proc/$pid/cmdline" ] ||
   ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$bin -listen"; }; then
  pid=""
fi

if [ -z "$pid" ]; then
  echo "mongodb: not running"
else
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "mongodb: pid $pid still running after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  echo "mongodb: stopped (pid $pid)"
fi
rm -f "$pidfile"

if [ "$wipe" -eq 1 ] && [ -d "$state/data" ]; then
  rm -rf "$state/data"
  echo "mongodb: wiped $state/data"
fi
