#!/usr/bin/env bash
# Stops the MariaDB test server that scripts/start-mysql.sh started from
# ${KAPPA_MYSQL_DIR:-build/mysql}: SIGTERM (a clean shutdown), up to 60 s, then SIGKILL.
# Idempotent: exits 0 when no server of that state dir is running. A system server that
# start-mysql.sh only provisioned is left alone.
# --wipe also removes the data dir (databases, users; initialised anew on start).
set -euo pipefail
cd "$(dirname "$0")/.."

wipe=0
for a in "$@"; do
  case "$a" in
    --wipe) wipe=1 ;;
    *) echo "usage: $0 [--wipe]" >&2; exit 2 ;;
  esac
done

state="${KAPPA_MYSQL_DIR:-$PWD/build/mysql}"
if [ -d "$state" ]; then state="$(cd "$state" && pwd)"; fi
pidfile="$state/mysqld.pid"
conf="$state/my.cnf"

pid=""
[ -f "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
if [ -z "$pid" ] || [ ! -r "/proc/$pid/cmdline" ] ||
   ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--defaults-file=$conf"; then
  pid=""
  if command -v pgrep >/dev/null; then
    pid="$(pgrep -f -- "--defaults-file=$conf" | head -n1 || true)"
  fi
fi

if [ -z "$pid" ]; then
  echo "mysql: not running"
else
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "mysql: pid $pid still running after 60s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  echo "mysql: stopped (pid $pid)"
fi
rm -f "$pidfile"

if [ "$wipe" -eq 1 ] && [ -d "$state/data" ]; then
  rm -rf "$state/data"
  echo "mysql: wiped $state/data"
fi
