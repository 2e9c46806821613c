#!/usr/bin/env bash
# bench/ingest: 200,000 FSMA 204 events in 500-record pages from the demo
# portal on loopback. Prints custody's end-to-end durable records/s beside
# ceilings measured in this same run: libcurl fetching the same pages,
# the JSON parser(s) on the same bytes, and plain SQLite inserts (WAL,
# synchronous=FULL) committed per page and per 20 pages.
#   EVENTS=200000 LIMIT=500 COMMIT_PAGES=20 bench/ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EVENTS=${EVENTS:-200000}
LIMIT=${LIMIT:-500}
COMMIT_PAGES=${COMMIT_PAGES:-20}

CUSTODY_BENCH_DEPS=1 scripts/install-deps.sh >/dev/null
BUILD_DIR=build-bench BUILD_TYPE=Release scripts/build.sh -DCUSTODY_BENCH=ON >/dev/null
CEIL=$ROOT/build-bench/bench_ceilings
CUSTODY=$ROOT/build-bench/custody

WORK=$(mktemp -d /tmp/custody-bench-XXXXXX)
PORTFILE=$WORK/port
python3 tests/mockportal/portal.py --port 0 --port-file "$PORTFILE" --quiet \
  --fsma-events "$EVENTS" --invalid-ratio 0 --max-seconds 1200 >/dev/null &
PORTAL=$!
trap 'kill $PORTAL 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do [[ -s $PORTFILE ]] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$PORTFILE")

echo "bench/ingest: $EVENTS events, $LIMIT per page, commit_pages $COMMIT_PAGES, $(nproc) cores"
# Warm the portal's page cache so neither custody nor curl pays for rendering.
mkdir -p "$WORK/pages0" "$WORK/pages"
"$CEIL" fetch "$URL/fsma/v1/events?limit=$LIMIT" demo-token "$WORK/pages0" >/dev/null
"$CEIL" fetch "$URL/fsma/v1/events?limit=$LIMIT" demo-token "$WORK/pages" | tee "$WORK/ceil.txt"
"$CEIL" parse "$WORK/pages" | tee -a "$WORK/ceil.txt"
"$CEIL" sqlite "$WORK/plain.db" "$EVENTS" "$LIMIT" | tee -a "$WORK/ceil.txt"
"$CEIL" sqlite "$WORK/plain.db" "$EVENTS" $((LIMIT * COMMIT_PAGES)) | tee -a "$WORK/ceil.txt"

sed -e "s#\${DEMO_PORTAL_URL:-http://127.0.0.1:8642}#$URL#" \
    -e "s#\${CUSTODY_STORE:-custody.db}#$WORK/custody.db#" \
    -e "s#limit: 500#limit: $LIMIT#" -e "s#commit_pages: 20#commit_pages: $COMMIT_PAGES#" \
    examples/fsma204.yaml > "$WORK/bench.yaml"
export SUPPLIER_API_KEY=demo-token
T0=$(date +%s.%N)
"$CUSTODY" poll -c "$WORK/bench.yaml" --json > "$WORK/poll.json"
T1=$(date +%s.%N)
python3 - "$WORK/poll.json" "$WORK/ceil.txt" "$T0" "$T1" "$EVENTS" <<'PY'
import json, sys
poll = json.load(open(sys.argv[1]))["sources"][0]
ceil = {}
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) >= 3 and p[0] == "ceiling":
        ceil[p[1]] = float(p[2])
wall = float(sys.argv[4]) - float(sys.argv[3])
n = poll["fetched"]
rate = n / wall
print("custody end_to_end: %d records (%d stored) in %.2f s = %.0f records/s durable"
      % (n, poll["new"], wall, rate))
fetch_rate = n / ceil["fetch_seconds"]
print("ratio to curl fetching the same pages (%.0f records/s): %.2f" % (fetch_rate, rate / fetch_rate))
for k in sorted((k for k in ceil if k.startswith("sqlite_per")),
               key=lambda k: int(k[len("sqlite_per"):].split("_")[0])):
    per = int(k[len("sqlite_per"):].split("_")[0])
    print("ratio to plain SQLite inserts, one commit per %d rows (%.0f rows/s): %.2f"
          % (per, ceil[k], rate / ceil[k]))
print("ratio to parsing alone (%.0f records/s): %.2f" % (ceil["parse_custody_records_per_s"], rate / ceil["parse_custody_records_per_s"]))
if "parse_cjson_mbps" in ceil:
    print("parser: custody json %.0f MB/s, cJSON %.0f MB/s on the same pages"
          % (ceil["parse_custody_mbps"], ceil["parse_cjson_mbps"]))
print("vs the Python requests+pydantic poller of the scenarios (~23k records/s, not durable): %.1fx" % (rate / 23000))
PY
