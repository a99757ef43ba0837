#!/usr/bin/env bash
# Every test: installs what is missing, builds (warnings are errors), starts the real servers of
# the real-backend suite (Apache Kafka from Maven Central, MariaDB from Debian, FerretDB built
# from the Go module proxy for MongoDB, all on 127.0.0.1), runs ctest (unit tests, RapidCheck
# properties, the bundled scenarios and their mutations, the command line, and every bundled
# scenario on embedded|kafka x sqlite|mysql and embedded x mongodb).
#
# A server that cannot be started is reported loudly; its tests then skip, except in CI
# (CI=true), where they fail. Servers this script started are stopped at the end unless
# KAPPA_KEEP_SERVERS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bash scripts/setup.sh
bash scripts/build.sh

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
started=()
start() {  # start NAME PORT
  local name="$1" port="$2"
  if port_open "$port"; then
    echo "test: $name already listening on 127.0.0.1:$port"
    return 0
  fi
  if bash "$root/scripts/start-$name.sh"; then
    started+=("$name")
  else
    echo "test: ************************************************************" >&2
    echo "test: could not start $name; its real-backend tests will $([ "${CI:-}" = true ] && echo FAIL || echo be SKIPPED)" >&2
    echo "test: ************************************************************" >&2
  fi
}
stop_started() {
  [ "${KAPPA_KEEP_SERVERS:-}" = 1 ] && return 0
  for name in "${started[@]}"; do bash "$root/scripts/stop-$name.sh" || true; done
}
trap stop_started EXIT
start kafka 9092
start mysql 3306
start mongodb 27017

cd build
ctest --output-on-failure --parallel "$(nproc)"
