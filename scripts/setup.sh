#!/usr/bin/env bash
# Installs everything kappa-harness needs to build and test, from Debian bookworm packages.
# Idempotent: packages already present are left alone, and apt is not touched at all when
# nothing is missing. Run as root (or through sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost-dev nlohmann-json3-dev libsqlite3-dev sqlite3
  libsimdjson-dev zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev
  librdkafka-dev libmysqlcppconn-dev libmongoc-dev
  libgtest-dev librapidcheck-dev
  tzdata
  # test-only: the real servers of the real-backend suite and the tools to look at them
  # (Apache Kafka itself comes from Maven Central through scripts/start-kafka.sh)
  openjdk-17-jre-headless maven kcat mariadb-server mariadb-client
  # test-only: the headless browser of the lab's web-view test (tests/browser, playwright-core from
  # npm), and a Korean font so that its screenshots of the page show the Korean labels
  chromium fonts-nanum
)
# Node.js and npm for that test: the machine's own when it has them, else Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [ "${KAPPA_SETUP_EXTRA:-}" != "" ]; then
  # shellcheck disable=SC2206
  packages+=(${KAPPA_SETUP_EXTRA})
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
