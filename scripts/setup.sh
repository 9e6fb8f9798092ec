#!/usr/bin/env bash
# One command from a fresh Debian machine: install, build (optimised), and run
# the main job on the built-in virtual mat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DRM_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)"
echo "rollmat: built build/release/cli/rollmat"
out=${ROLLMAT_OUT:-demo-output}
exec build/release/cli/rollmat demo -o "$out" "$@"
