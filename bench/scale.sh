#!/usr/bin/env bash
# bench/scale: SOURCES sources (default 10,000), each due every EVERY (60s),
# polled by one `custody run --for SECONDS` (300) against the mock portal on
# loopback. Prints schedule lateness p50/p99, peak RSS, CPU (cores), cycles
# achieved vs due, failures and the store size, as ratios to the goals
# (p99 lateness <= 1 s, RSS <= 256 MB, under one core), beside the portal's own
# throughput to a plain concurrent client (curl -Z) measured in the same run.
#   SOURCES=10000 SECONDS=300 EVERY=60s bench/scale.sh
#   SOURCES=1000 SECONDS=60 bench/scale.sh                 # the quick version
# More knobs (see bench/README.md): MAX_CONCURRENT=64 STARTUP_JITTER=$EVERY
# SOURCE_JITTER= (per-source `jitter:`; none by default) PORTALS=1
# PORTAL_BACKLOG=1024 (0: the portal exactly as shipped, listen backlog 5)
# EVENTS=5 LIMIT=10 CEILING_REQUESTS=3000 CEILING_PARALLEL=$MAX_CONCURRENT
# PROFILE_STRACE=0 (N: strace -c -f -w custody for N s mid-run) KEEP=1 (keep the work dir)
# SKIP_BUILD=1 CUSTODY=path/to/custody
set -euo pipefail
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { echo "bench/scale: needs curl (the ceiling client)" >&2; exit 2; }
if [[ -z ${SKIP_BUILD:-} && -z ${CUSTODY:-} ]]; then
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-bench -j2 --target custody >/dev/null
fi
exec python3 bench/scale.py
