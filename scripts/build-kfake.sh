#!/usr/bin/env bash
# Builds kfake-broker (bench/kfake: franz-go's kfake as a process) from the Go module proxy, for
# `kappa bench broker --kfake build/kfake/kfake-broker`. Test/benchmark-only: nothing of it is in
# the product. The modules are the ones bench/kfake/go.sum pins; the binary is cached in
# ${KAPPA_KFAKE_DIR:-build/kfake} and rebuilt when bench/kfake changes. Prints the binary's path.
# Env: GO (the go binary, Go 1.24 or later; default go on PATH, else /usr/local/go/bin/go).
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD/bench/kfake"
state="${KAPPA_KFAKE_DIR:-$PWD/build/kfake}"
mkdir -p "$state"
bin="$state/kfake-broker"
go="${GO:-}"
if [ -z "$go" ]; then
  if command -v go >/dev/null; then go=go; else go=/usr/local/go/bin/go; fi
fi
command -v "$go" >/dev/null || { echo "kfake: no Go toolchain (set GO)" >&2; exit 1; }
stamp="$state/.source"
now="$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -d' ' -f1)"
if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$now" ]; then
  echo "kfake: building $bin from the Go module proxy" >&2
  if ! (cd "$src" && GOFLAGS=-mod=mod "$go" build -o "$bin" . > "$state/build.log" 2>&1); then
    tail -20 "$state/build.log" >&2
    echo "kfake: go build failed (full output in $state/build.log)" >&2
    exit 1
  fi
  echo "$now" > "$stamp"
fi
echo "$bin"
