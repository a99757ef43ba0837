#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is missing, builds, and replays the
# bundled quickstart scenario (the seed lab's v1 aggregation over ten minutes of generated
# events) on the in-process broker and an in-memory SQLite sink, printing its table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/kappa run --print-tables scenarios/quickstart.json
