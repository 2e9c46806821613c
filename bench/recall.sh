#!/usr/bin/env bash
# bench/recall: the 24-hour recall drill at scale. Builds a store of
# RECALL_EVENTS FSMA 204 events (default 10,000,000) through custody's own
# write path (a file source: contract, JCS, SHA-256, audit entry and index
# terms per record), then times, through the lot index and by reading every
# record (--scan, the same output): the FSMA 204 spreadsheet of one lot's
# date range and a trace of that lot; beside a plain SQLite read of the whole
# records table. Prints seconds and the ratios; checks the outputs are
# byte-identical. See bench/README.md.
#   bench/recall.sh                         # 10 million events (about 35 minutes on 2 cores)
#   RECALL_EVENTS=1000000 bench/recall.sh   # the quick version (about 4 minutes)
# RECALL_PER_FILE=50000 (events per file = per transaction) RECALL_REPEAT=5 (indexed
# runs; the median is printed) RECALL_SCAN_REPEAT=2 RECALL_REBUILD=1 (0: skip timing
# custody index rebuild) RECALL_FULL_EXPORT=0 (1: also export every record as fsma204)
# RECALL_WORK=DIR (reuse a store built earlier there; KEEP=1 keeps it) SKIP_BUILD=1
# CUSTODY=path/to/custody
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z ${SKIP_BUILD:-} && -z ${CUSTODY:-} ]]; then
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-bench -j2 --target custody >/dev/null
fi
exec python3 bench/recall.py
