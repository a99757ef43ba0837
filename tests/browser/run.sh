#!/usr/bin/env bash
# The lab's web view, end to end in headless Chromium (Debian's, driven by playwright-core):
#
#   bash tests/browser/run.sh KAPPA_BINARY [SCREENSHOT]
#
# Installs chromium if missing (scripts/setup.sh), playwright-core from npm (package-lock.json),
# starts `KAPPA_BINARY lab` on free ports with a fresh --data directory and its fastest settings,
# reads the web address it prints, runs lab.spec.mjs against it and stops the lab.
# SCREENSHOT defaults to $KAPPA_SCREENSHOT, else build/lab-screenshot.png under the source tree.
# KAPPA_SCREENSHOTS=DIR also saves the guides' pictures there (e.g. KAPPA_SCREENSHOTS=docs/img).
# KAPPA_LAB_FLAGS replaces the extra flags given to `kappa lab`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
kappa="${1:-${KAPPA_BINARY:-}}"
[ -n "$kappa" ] || { echo "usage: $0 KAPPA_BINARY [SCREENSHOT]" >&2; exit 2; }
kappa="$(cd "$(dirname "$kappa")" && pwd)/$(basename "$kappa")"
[ -x "$kappa" ] || { echo "lab_browser: $kappa is not an executable" >&2; exit 2; }
shot="${2:-${KAPPA_SCREENSHOT:-$root/build/lab-screenshot.png}}"
case "$shot" in /*) ;; *) shot="$PWD/$shot" ;; esac
if [ -n "${KAPPA_SCREENSHOTS:-}" ]; then
  case "$KAPPA_SCREENSHOTS" in /*) ;; *) KAPPA_SCREENSHOTS="$PWD/$KAPPA_SCREENSHOTS" ;; esac
  export KAPPA_SCREENSHOTS
fi

# The browser, and Node.js with npm (scripts/setup.sh is idempotent and adds only what is missing).
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] || ! command -v npm >/dev/null 2>&1; then
  bash "$root/scripts/setup.sh"
fi

# playwright-core, at the version of package-lock.json (never a browser download of its own).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd "$here"
want="$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')"
have="$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch (e) { "" }')"
if [ "$want" != "$have" ]; then
  echo "lab_browser: npm ci (playwright-core $want)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The lab, on free ports, in a fresh data directory.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kappa-lab-browser.XXXXXX")"
lab_pid=""
stop_lab() {
  if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
    kill -INT "$lab_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$lab_pid" 2>/dev/null; then
      echo "lab_browser: the lab did not stop on SIGINT within 5 s; killing it" >&2
      kill -KILL "$lab_pid" 2>/dev/null || true
    fi
    wait "$lab_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap stop_lab EXIT

# The lab's own lines of the usage text (from "  lab [" to the next command).
help="$("$kappa" lab --help 2>&1 | awk '/^  lab /{on=1; print; next} on && /^  [a-z]/{on=0} on' || true)"
flags=()
if [ -n "${KAPPA_LAB_FLAGS+set}" ]; then
  # shellcheck disable=SC2206
  flags=(${KAPPA_LAB_FLAGS})
else
  # The fastest settings the lab offers: more events per second and a short trigger, so that
  # windows close and late rows show within seconds.
  grep -q -- '--rate' <<<"$help" && flags+=(--rate 20)
  grep -q -- '--trigger' <<<"$help" && flags+=(--trigger 1s)
fi
echo "lab_browser: $kappa lab --listen 127.0.0.1:0 --http 127.0.0.1:0 --data $tmp/data ${flags[*]}"
"$kappa" lab --listen 127.0.0.1:0 --http 127.0.0.1:0 --data "$tmp/data" "${flags[@]}" \
  >"$tmp/lab.out" 2>"$tmp/lab.err" </dev/null &
lab_pid=$!

url=""
for _ in $(seq 300); do
  url="$(grep -o 'web on http://[^ ]*/' "$tmp/lab.out" 2>/dev/null | head -1 | sed 's/^web on //')" || true
  [ -n "$url" ] && break
  kill -0 "$lab_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "lab_browser: the lab printed no 'web on http://...' line within 30 s" >&2
  echo "--- stdout" >&2; head -c 4000 "$tmp/lab.out" >&2 || true
  echo "--- stderr" >&2; tail -c 4000 "$tmp/lab.err" >&2 || true
  exit 1
fi
echo "lab_browser: lab at $url"

rc=0
node "$here/lab.spec.mjs" "$url" "$shot" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- lab stderr (tail)" >&2; tail -c 4000 "$tmp/lab.err" >&2 || true
fi
exit "$rc"
