#!/usr/bin/env python3
"""bench/recall.py - run by bench/recall.sh (Python standard library only).

1. Generates RECALL_EVENTS events (bench/recall_gen.py) as JSONL files.
2. Ingests them with `custody poll` through a file source whose contract is
   examples/fsma204.yaml's and which declares
   index: [traceability_lot_code, input_lots]: every record is validated,
   canonicalised, hashed, audited and indexed exactly as in production, so
   the store is audit-valid (`custody audit verify` passes on it).
3. Times, for the generator's probe lot (a farm lot whose product lot was
   consumed again: a trace of two hops or more) and its date range:
     spreadsheet  custody export SRC --format fsma204 --lot L --from D1 --to D2
     trace        custody trace L --json
   through the index (median of RECALL_REPEAT runs) and with --scan (every
   current record read, as custody did before the index), and compares the
   outputs byte for byte. Beside them: a plain SQLite read of every row of
   the records table (the floor of any scan), and optionally custody index
   rebuild on the whole store and an fsma204 export of every record.
"""
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(os.environ.get("RECALL_EVENTS", "10000000"))
PER_FILE = int(os.environ.get("RECALL_PER_FILE", "50000"))
REPEAT = int(os.environ.get("RECALL_REPEAT", "5"))
SCAN_REPEAT = int(os.environ.get("RECALL_SCAN_REPEAT", "2"))
REBUILD = os.environ.get("RECALL_REBUILD", "1") == "1"
FULL_EXPORT = os.environ.get("RECALL_FULL_EXPORT", "0") == "1"
CUSTODY = os.environ.get("CUSTODY") or os.path.join(ROOT, "build-bench", "custody")
SOURCE = "recall"


def config_text(work):
    with open(os.path.join(ROOT, "examples", "fsma204.yaml")) as f:
        example = f.read()
    contracts = example[example.index("\ncontracts:"):]
    return ("store: sqlite:%s/custody.db\n\nsources:\n"
            "  - name: %s\n"
            "    files: { dir: %s/drop, pattern: \"*.jsonl\", format: jsonl }\n"
            "    contract: kde\n"
            "    index: [traceability_lot_code, input_lots]\n" % (work, SOURCE, work)) + contracts


def run(args, out=None):
    t0 = time.monotonic()
    p = subprocess.run([CUSTODY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit("bench/recall: custody %s: exit %d\n%s" % (" ".join(args), p.returncode,
                                                                   p.stderr.decode(errors="replace")))
    return dt, p.stdout, p.stderr.decode(errors="replace")


def rss_of_run(args):
    """Wall seconds and peak RSS (MB) of one custody run."""
    with tempfile.TemporaryFile() as errf:
        t0 = time.monotonic()
        p = subprocess.Popen([CUSTODY, *args], stdout=subprocess.DEVNULL, stderr=errf)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            errf.seek(0)
            raise SystemExit("bench/recall: custody %s: exit %d\n%s" % (" ".join(args), p.returncode,
                                                                       errf.read().decode(errors="replace")))
    return dt, ru.ru_maxrss / 1024.0


def fmt(s):
    return "%.3f s" % s if s < 100 else "%.0f s" % s


def main():
    if not os.path.exists(CUSTODY):
        raise SystemExit("bench/recall: no custody binary at %s" % CUSTODY)
    work = os.environ.get("RECALL_WORK")
    keep = bool(os.environ.get("KEEP")) or bool(work)
    if not work:
        work = tempfile.mkdtemp(prefix="custody-recall-", dir=os.environ.get("TMPDIR", "/tmp"))
    os.makedirs(work, exist_ok=True)
    cfg = os.path.join(work, "recall.yaml")
    with open(cfg, "w") as f:
        f.write(config_text(work))
    db = os.path.join(work, "custody.db")
    print("bench/recall: %d events, %d per file (one transaction each), %d cores, work dir %s"
          % (N, PER_FILE, os.cpu_count(), work))
    try:
        probe_path = os.path.join(work, "probe.json")
        if os.path.exists(db) and os.path.exists(probe_path):
            with open(probe_path) as f:
                probe = json.load(f)
            print("reusing the store in %s (%d events)" % (work, probe["events"]))
        else:
            t0 = time.monotonic()
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "recall_gen.py"), "--events", str(N),
                            "--dir", os.path.join(work, "drop"), "--per-file", str(PER_FILE)], check=True,
                           stdout=subprocess.DEVNULL)
            with open(probe_path) as f:
                probe = json.load(f)
            print("generated %d events in %d files: %.0f s" % (probe["events"], probe["files"],
                                                               time.monotonic() - t0))
            t0 = time.monotonic()
            dt, out, err = run(["poll", "-c", cfg, "--json"])
            poll = json.loads(out)["sources"][0]
            print("ingest (custody poll: contract, JCS, SHA-256, audit entry and index terms per record): "
                  "%d stored in %.0f s = %.0f records/s durable" % (poll["new"], dt, poll["new"] / dt))
            shutil.rmtree(os.path.join(work, "drop"), ignore_errors=True)  # ingested (moved to drop/done)
        con = sqlite3.connect(db)
        nrec, nterms = con.execute("SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM record_index)"
                                   ).fetchone()
        con.close()
        size = sum(os.path.getsize(os.path.join(work, x)) for x in os.listdir(work) if x.startswith("custody.db"))
        print("store: %d record versions, %d index terms, %.2f GB" % (nrec, nterms, size / 1e9))

        lot, d1, d2 = probe["lot"], probe["from"], probe["to"]
        print("probe lot %s (its product lot %s is an input of %s), date range %s .. %s"
              % (lot, probe.get("product"), probe.get("next"), d1, d2))
        sheet = ["export", "-c", cfg, SOURCE, "--format", "fsma204", "--lot", lot, "--from", d1, "--to", d2]
        trace = ["trace", "-c", cfg, lot, "--json"]

        # the floor of any scan: SQLite reading every row (twice: the second is from the page cache)
        floor = []
        for _ in range(2):
            t0 = time.monotonic()
            con = sqlite3.connect(db)
            con.execute("SELECT count(*), sum(length(canonical)) FROM records").fetchone()
            con.close()
            floor.append(time.monotonic() - t0)

        results = {}
        for name, args in (("spreadsheet", sheet), ("trace", trace)):
            scans, ix = [], []
            outs = {}
            for _ in range(SCAN_REPEAT):
                path = os.path.join(work, "%s-scan.out" % name)
                a = args + (["-o", path] if name == "spreadsheet" else []) + ["--scan"]
                dt, out, err = run(a)
                scans.append(dt)
                outs["scan"] = open(path, "rb").read() if name == "spreadsheet" else out
            for _ in range(REPEAT):
                path = os.path.join(work, "%s-index.out" % name)
                a = args + (["-o", path] if name == "spreadsheet" else [])
                dt, out, err = run(a)
                if "rebuild" in err:
                    raise SystemExit("bench/recall: the index was not used: " + err)
                ix.append(dt)
                outs["index"] = open(path, "rb").read() if name == "spreadsheet" else out
            same = outs["scan"] == outs["index"]
            if name == "spreadsheet":
                detail = "%d rows" % (outs["index"].count(b"\r\n") - 1)
            else:
                tree = json.loads(outs["index"])

                def count(node):
                    lots, evs = 1, len(node.get("events", []))
                    for e in node.get("events", []):
                        evs += len(e.get("received", []))
                    for o in node.get("outputs", []):
                        a2, b2 = count(o)
                        lots, evs = lots + a2, evs + b2 + 1
                    return lots, evs
                nl, ne = count(tree)
                detail = "%d lots, %d events" % (nl, ne)
            results[name] = (statistics.median(ix), min(scans), ix, scans, same, detail)

        rebuild = None
        if REBUILD:
            # as for a store polled before index: was declared: no terms, no note
            t0 = time.monotonic()
            con = sqlite3.connect(db)
            con.execute("DELETE FROM record_index")
            con.execute("DELETE FROM source_kv WHERE k='index_complete'")
            con.commit()
            con.close()
            dropped = time.monotonic() - t0
            dt, out, err = run(["index", "-c", cfg, "rebuild"])
            rebuild = (dt, dropped)
        full = None
        if FULL_EXPORT:
            full = rss_of_run(["export", "-c", cfg, SOURCE, "--format", "fsma204", "-o",
                               os.path.join(work, "all.csv")])
            os.unlink(os.path.join(work, "all.csv"))

        _, peak_scan = rss_of_run(trace + ["--scan"])
        _, peak_ix = rss_of_run(trace)

        print()
        print("figures (%d events, %d record versions; seconds are wall time of the whole command)" % (probe["events"],
                                                                                                   nrec))
        print("  SQLite reads every row of records:   %s (first), %s (cached)" % (fmt(floor[0]), fmt(floor[1])))
        for name, label in (("spreadsheet", "FSMA 204 spreadsheet, one lot's range"), ("trace", "trace of the lot")):
            med, scan, ix, scans, same, detail = results[name]
            print("  %-38s index %s  scan %s  scan/index %.0fx  (%s; outputs %s)"
                  % (label + ":", fmt(med), fmt(scan), scan / med if med else 0, detail,
                     "byte-identical" if same else "DIFFER"))
            print("      index runs: %s; scan runs: %s; the SQLite read of every row (cached) / index: %.0fx"
                  % (", ".join("%.3f" % x for x in ix), ", ".join("%.2f" % x for x in scans),
                     floor[1] / med if med else 0))
        print("  trace peak RSS:                       index %.0f MB, scan %.0f MB" % (peak_ix, peak_scan))
        if rebuild:
            print("  custody index rebuild (every version): %s (after emptying the index: %s)"
                  % (fmt(rebuild[0]), fmt(rebuild[1])))
        if full:
            print("  export of every record (fsma204):    %s, peak RSS %.0f MB" % (fmt(full[0]), full[1]))
        if not all(r[4] for r in results.values()):
            print("bench/recall: index and scan outputs DIFFER")
            return 1
        return 0
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
