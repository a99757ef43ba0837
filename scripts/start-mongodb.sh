#!/usr/bin/env bash
# Starts a MongoDB-wire server for tests: FerretDB 1.24 with its SQLite backend, embedded in our
# small Go program tests/ferretdb (its go.mod pins github.com/FerretDB/FerretDB v1.24.2; the Go
# toolchain fetches it from the Go module proxy into ~/go, nothing is vendored). It listens on
# 127.0.0.1:27017, has no authentication (any database name works: mongodb://127.0.0.1:27017/kappa),
# no views and no multi-document transactions (pipeline/sinks/mongo_sink.h says how the sink
# does without them).
# Everything lives in ${KAPPA_MONGODB_DIR:-build/ferretdb}: ferretdb (the binary, rebuilt when
# tests/ferretdb changes), data/ (one SQLite file a database, kept across stop/start),
# ferretdb.log, ferretdb.pid.
# Idempotent: a server of this state dir that is already up is left alone. Waits until the port
# answers, then prints
#   mongodb: ready on 127.0.0.1:27017 (FerretDB 1.24.2, SQLite)
# Env: KAPPA_MONGODB_PORT (default 27017), KAPPA_MONGODB_TIMEOUT (seconds to wait, default 60),
# GO (the go binary, Go 1.24 or later; default go on PATH, else /usr/local/go/bin/go). Stop with
# scripts/stop-mongodb.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${KAPPA_MONGODB_PORT:-27017}"
timeout_s="${KAPPA_MONGODB_TIMEOUT:-60}"
state="${KAPPA_MONGODB_DIR:-$PWD/build/ferretdb}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
bin="$state/ferretdb" data="$state/data" log="$state/ferretdb.log" pidfile="$state/ferretdb.pid"
src="$PWD/tests/ferretdb"

die() { echo "mongodb: $*" >&2; exit 1; }

go="${GO:-}"
if [ -z "$go" ]; then
  if command -v go >/dev/null; then go=go; else go=/usr/local/go/bin/go; fi
fi

# pid of the server started from this state dir, or nothing.
server_pid() {
  local pid=""
  [ -f "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
     tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$bin -listen"; then
    echo "$pid"
  fi
}

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_log() {
  [ -s "$log" ] || return 0
  echo "---- tail of $log" >&2
  tail -n 40 "$log" >&2
}

pid="$(server_pid)"
if [ -n "$pid" ] && port_open "$port"; then
  echo "mongodb: already running (pid $pid)"
  echo "mongodb: ready on 127.0.0.1:$port (FerretDB 1.24.2, SQLite)"
  exit 0
fi
rm -f "$pidfile"
if port_open "$port"; then
  who=""
  command -v ss >/dev/null && who="$(ss -ltnpH "sport = :$port" 2>/dev/null | head -n1 || true)"
  die "127.0.0.1:$port is already in use by something other than this state dir's server ($state)${who:+: $who}"
fi

# Build when the binary is missing or older than its sources.
if [ ! -x "$bin" ] || [ -n "$(find "$src" -newer "$bin" -type f 2>/dev/null | head -n1)" ]; then
  command -v "$go" >/dev/null || die "no Go toolchain (looked for ${GO:-go and /usr/local/go/bin/go}); set GO"
  echo "mongodb: building $bin from tests/ferretdb (FerretDB from the Go module proxy)"
  t0=$SECONDS
  if ! (cd "$src" && CGO_ENABLED=0 "$go" build -mod=readonly -o "$bin.new" .) >"$state/build.log" 2>&1; then
    tail -n 30 "$state/build.log" >&2
    die "go build failed (full output in $state/build.log)"
  fi
  mv "$bin.new" "$bin"
  echo "mongodb: built in $((SECONDS - t0))s"
fi

mkdir -p "$data"
nohup setsid "$bin" -listen "127.0.0.1:$port" -data "$data" </dev/null >>"$log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
echo "mongodb: started pid $pid, waiting up to ${timeout_s}s (log: $log)"
deadline=$((SECONDS + timeout_s))
while ! port_open "$port"; do
  if ! alive "$pid"; then
    show_log
    rm -f "$pidfile"
    die "server (pid $pid) exited during startup"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    show_log
    die "server (pid $pid) not ready on 127.0.0.1:$port after ${timeout_s}s (still running; scripts/stop-mongodb.sh stops it)"
  fi
  sleep 0.2
done
echo "mongodb: ready on 127.0.0.1:$port (FerretDB 1.24.2, SQLite)"
