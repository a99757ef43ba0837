#!/usr/bin/env bash
# One client library of the compatibility suite against one broker: installs the client from its
# registry once (test-only, cached under CACHE: a virtual environment for kafka-python from PyPI,
# node_modules for kafkajs from npm at package-lock.json, a binary built from the Go module proxy
# at go.sum for franz-go), then runs its program, which prints "ok   OPERATION" or
# "FAIL OPERATION: why" per operation.
#
#   tests/clients/run.sh kafka-python|franz-go|kafkajs CACHE BOOTSTRAP PREFIX
#
# Exit 77 when the client's registry is unreachable (or its runtime is missing), except under
# CI=true, where that is a failure (exit 1). Runs of the same client share one install (flock).
set -uo pipefail

client=$1 cache=$2 bootstrap=$3 prefix=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "$client: FAILED (CI=true, so this is not skipped): $*" >&2
    exit 1
  fi
  echo "$client: SKIPPED: $*" >&2
  exit 77
}

# install NAME FINGERPRINT COMMAND... : runs COMMAND once per FINGERPRINT (under a lock); exit 77
# from it means the registry is unreachable.
install() {
  local name=$1 fingerprint=$2
  shift 2
  (
    flock 9
    if [ "$(cat "$cache/$name.installed" 2>/dev/null)" != "$fingerprint" ]; then
      local t0=$SECONDS
      echo "$client: installing into $cache/$name"
      "$@" || exit $?
      echo "$fingerprint" >"$cache/$name.installed"
      echo "$client: installed in $((SECONDS - t0)) s"
    fi
  ) 9>"$cache/$name.lock"
}

fingerprint() { cat "$@" | sha256sum | cut -c1-16; }

case "$client" in
  kafka-python)
    version=3.0.12
    python=$(command -v python3) || skip "no python3 on PATH"
    venv="$cache/kafka-python"
    do_install() {
      rm -rf "$venv"
      if "$python" -m venv "$venv" &&
         timeout 300 "$venv/bin/python" -m pip install -q --disable-pip-version-check \
           --cache-dir "$cache/pip-cache" "kafka-python==$version"; then
        return 0
      fi
      rm -rf "$venv"
      timeout 60 "$python" -m pip index versions kafka-python >/dev/null 2>&1 || return 77
      echo "$client: pip install kafka-python==$version failed with PyPI reachable" >&2
      return 1
    }
    install kafka-python "$version" do_install
    rc=$?
    [ $rc -eq 77 ] && skip "PyPI is unreachable: cannot install kafka-python==$version"
    [ $rc -ne 0 ] && exit $rc
    PYTHONDONTWRITEBYTECODE=1 exec timeout 120 "$venv/bin/python" "$here/kafka_python/compat.py" "$bootstrap" "$prefix"
    ;;
  kafkajs)
    command -v node >/dev/null && command -v npm >/dev/null || skip "no node and npm on PATH"
    dir="$cache/kafkajs"
    do_install() {
      rm -rf "$dir" && mkdir -p "$dir" &&
        cp "$here/kafkajs/package.json" "$here/kafkajs/package-lock.json" "$dir/" || return 1
      if (cd "$dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
        return 0
      fi
      rm -rf "$dir"
      timeout 60 npm view kafkajs version >/dev/null 2>&1 || return 77
      echo "$client: npm ci failed with the npm registry reachable" >&2
      return 1
    }
    install kafkajs "$(fingerprint "$here/kafkajs/package-lock.json")" do_install
    rc=$?
    [ $rc -eq 77 ] && skip "the npm registry is unreachable: cannot install kafkajs"
    [ $rc -ne 0 ] && exit $rc
    NODE_PATH="$dir/node_modules" exec timeout 120 node "$here/kafkajs/compat.cjs" "$bootstrap" "$prefix"
    ;;
  franz-go)
    go=$(command -v go || echo /usr/local/go/bin/go)
    [ -x "$go" ] || skip "no go on PATH nor /usr/local/go/bin/go"
    bin="$cache/franz-go/compat"
    src="$here/franz_go"
    do_install() {
      mkdir -p "$cache/franz-go"
      if (cd "$src" && GOFLAGS="-mod=readonly -buildvcs=false" timeout 300 "$go" build -o "$bin" .); then
        return 0
      fi
      (cd "$src" && timeout 60 "$go" list -m -versions github.com/twmb/franz-go >/dev/null 2>&1) || return 77
      echo "$client: go build failed with the Go module proxy reachable" >&2
      return 1
    }
    install franz-go "$(fingerprint "$src/go.mod" "$src/go.sum" "$src/main.go")" do_install
    rc=$?
    [ $rc -eq 77 ] && skip "the Go module proxy is unreachable: cannot build franz-go"
    [ $rc -ne 0 ] && exit $rc
    exec timeout 120 "$bin" "$bootstrap" "$prefix"
    ;;
  *)
    echo "run.sh: unknown client $client (kafka-python, franz-go or kafkajs)" >&2
    exit 2
    ;;
esac
