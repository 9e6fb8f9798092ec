#!/usr/bin/env bash
# The whole test suite: a -Werror build under AddressSanitizer and
# UndefinedBehaviorSanitizer, every Criterion, USB-emulation and end-to-end
# test through CTest, then the fuzz targets for a bounded time.
#
#   bash scripts/test.sh                  the suite once, with sanitizers
#   bash scripts/test.sh --repeat 10      ten runs in a row, stopping at the first failure
#   bash scripts/test.sh --no-sanitize    a plain Debug build (timings differ: races show)
#   bash scripts/test.sh -- -L unit       anything after -- goes to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=1
sanitize=ON
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: --repeat needs a count >= 1" >&2; exit 2; }
      repeat=$2; shift 2 ;;
    --repeat=*)
      repeat=${1#--repeat=}
      [[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: --repeat needs a count >= 1" >&2; exit 2; }
      shift ;;
    --no-sanitize) sanitize=OFF; shift ;;
    --) shift; ctest_args+=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ctest_args+=("$1"); shift ;;
  esac
done

bash scripts/install-deps.sh
build=build/test
[ "$sanitize" = OFF ] && build=build/test-plain
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DRM_SANITIZE="$sanitize" -DRM_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
for ((run = 1; run <= repeat; run++)); do
  [ "$repeat" -gt 1 ] && echo "=== test.sh: run $run of $repeat ($build)"
  if ! ctest --output-on-failure -j"$(nproc)" ${ctest_args[@]+"${ctest_args[@]}"}; then
    [ "$repeat" -gt 1 ] && echo "=== test.sh: run $run of $repeat failed; stopping" >&2
    exit 1
  fi
done
[ "$repeat" -gt 1 ] && echo "=== test.sh: $repeat runs in a row passed ($build)"
exit 0
