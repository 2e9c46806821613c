#!/usr/bin/env bash
# One command on a fresh machine: install what is missing, build, start the
# bundled demo portal on loopback, poll it into SQLite with
# examples/fsma204.yaml, show the summary and a sample of what was stored,
# and verify the audit log. The store lands in demo/custody.db.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install-deps.sh
scripts/build.sh
CUSTODY=$ROOT/build/custody

mkdir -p demo
# The demo always starts from an empty store, so its output is the same each run.
rm -f demo/custody.db demo/custody.db-wal demo/custody.db-shm
PORTFILE=$(mktemp)
python3 tests/mockportal/portal.py --port 0 --port-file "$PORTFILE" --fsma-events 2000 \
  --quiet --max-seconds 600 >/dev/null &
PORTAL=$!
trap 'kill $PORTAL 2>/dev/null || true; rm -f "$PORTFILE"' EXIT
for _ in $(seq 1 100); do [[ -s $PORTFILE ]] && break; sleep 0.1; done
[[ -s $PORTFILE ]] || { echo "demo: the demo portal did not start" >&2; exit 1; }
PORT=$(cat "$PORTFILE")

export DEMO_PORTAL_URL=http://127.0.0.1:$PORT
export SUPPLIER_API_KEY=demo-token
export CUSTODY_STORE=$ROOT/demo/custody.db
CFG=examples/fsma204.yaml

echo "== custody check: the effective configuration"
"$CUSTODY" check -c $CFG > demo/effective-config.yaml
head -12 demo/effective-config.yaml
echo "   ... (all of it in demo/effective-config.yaml)"
echo
echo "== custody poll: first poll of the demo portal ($DEMO_PORTAL_URL)"
"$CUSTODY" poll -c $CFG
echo
echo "== custody poll again: unchanged upstream stores nothing new"
"$CUSTODY" poll -c $CFG
echo
echo "== custody quarantine list (first 5 of the invalid events)"
"$CUSTODY" quarantine list -c $CFG > demo/quarantine.txt
head -6 demo/quarantine.txt
echo "   ... ($(($(wc -l < demo/quarantine.txt) - 1)) in all; custody quarantine show ID for one)"
echo
echo "== custody audit verify"
"$CUSTODY" audit verify -c $CFG
echo
echo "demo: the store is $CUSTODY_STORE. Look around with, for example:"
echo "  CUSTODY_STORE=$CUSTODY_STORE $CUSTODY records -c $CFG supplier_8842 | head"
echo "  CUSTODY_STORE=$CUSTODY_STORE $CUSTODY quarantine show 1 -c $CFG"
