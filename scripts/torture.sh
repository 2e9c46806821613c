#!/usr/bin/env bash
# Crash torture, the long run: build custody (Release) into build-release (or
# $BUILD_DIR) and run tests/crash/test_torture.py with 1,000 trials, or as
# many as the first argument says; further arguments go to the script
# (--seed S, --commit-pages N, --keep, -v). Prints the summary line
#   torture: N trials, F failed, failpoints hit: K/M, seed S
# and exits non-zero when a trial failed. Bounded: $TORTURE_TIMEOUT seconds
# (default 3 s per trial plus 10 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${1:-1000}
[[ $# -gt 0 ]] && shift
[[ $TRIALS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [TRIALS] [test_torture.py options]" >&2; exit 2; }
BUILD_DIR=${BUILD_DIR:-build-release}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target custody
exec timeout "${TORTURE_TIMEOUT:-$((TRIALS * 3 + 600))}" \
  python3 tests/crash/test_torture.py --custody "$BUILD_DIR/custody" --trials "$TRIALS" "$@"
