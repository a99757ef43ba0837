#!/usr/bin/env bash
# Every test: installs what is missing, builds (warnings are errors), runs ctest (unit tests,
# RapidCheck properties, the bundled scenarios and their mutations, the command line).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --parallel "$(nproc)"
