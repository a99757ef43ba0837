#!/usr/bin/env bash
# Configures and builds kappa-harness in build/ (CMake + Ninja, Release, ccache when present).
# Warnings are errors (KAPPA_WERROR=OFF to relax that with another compiler than bookworm's GCC 12).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKAPPA_WERROR="${KAPPA_WERROR:-ON}" >/dev/null
cmake --build build --parallel "$(nproc)"
