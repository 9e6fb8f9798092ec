#!/usr/bin/env bash
# The whole test suite: a -Werror build under AddressSanitizer and
# UndefinedBehaviorSanitizer, every Criterion, USB-emulation and end-to-end
# test through CTest, then the fuzz targets for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DRM_SANITIZE=ON -DRM_WERROR=ON >/dev/null
cmake --build build/test -j"$(nproc)"
cd build/test
ctest --output-on-failure -j"$(nproc)" "$@"
