#!/usr/bin/env bash
# One command on a fresh machine: install what is missing, build, run every
# test (unit, fuzz corpus replay, end to end, kill -9 crash trials), then the
# unit tests once more under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
BUILD_DIR=build scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 900)

echo "== unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCUSTODY_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -L unit -j2)
