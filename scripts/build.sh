#!/usr/bin/env bash
# Configures and builds kappa-harness in build/ (CMake + Ninja, Release, ccache when present).
# KAPPA_WERROR=ON turns warnings into errors (CI and the test command do).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKAPPA_WERROR="${KAPPA_WERROR:-OFF}" >/dev/null
cmake --build build --parallel "$(nproc)"
