#!/usr/bin/env python3
"""The store's lot index (index: [traceability_lot_code, input_lots]):
custody export --lot and custody trace give byte for byte what a scan of
every record gives (--scan), and really read the index (a term removed
behind custody's back changes the indexed answer only); a new version that
moves a record to another lot leaves the old lot; records stored before
index: was declared (and a store from before the index existed: schema 2)
are found after `custody index rebuild`, which is audited, and until then
export and trace say so and read every record; a replayed quarantine entry
is indexed."""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

CHAIN_SOURCE = """
  - name: chain
    files: { dir: drop, pattern: "*.jsonl", format: jsonl }
    contract: kde_chain{INDEX}
"""
CHAIN_CONTRACT = """
  kde_chain:
    key: [event_id]
    fields:
      event_id:                { type: string, required: true }
      traceability_lot_code:   { type: string, required: true, min_length: 1 }
      product_description:     { type: string, required: true }
      quantity:                { type: number, required: true, gt: 0 }
      unit_of_measure:         { type: string, required: true }
      origin_location_id:      { type: string, required: true }
      destination_location_id: { type: string, required: true }
      event_timestamp:         { type: datetime, required: true, normalize: utc }
      event_type:              { type: string, required: true }
      supplier_id:             { type: string, required: {REQ} }
      input_lots:              { type: array, items: string }
"""
INDEX_LINE = "\n    index: [traceability_lot_code, input_lots]"


def ev(eid, lot, typ, ts, o, d, inputs=None, supplier="SUP-1", product="Romaine"):
    r = {"event_id": eid, "traceability_lot_code": lot, "product_description": product, "quantity": 10,
         "unit_of_measure": "kg", "origin_location_id": o, "destination_location_id": d,
         "event_timestamp": ts, "event_type": typ}
    if supplier is not None:
        r["supplier_id"] = supplier
    if inputs is not None:
        r["input_lots"] = inputs
    return r


# A farm lot L1 shipped to DC-7 and received there (and at DC-9: a receiving
# with no shipping), L9 harvested; L2 made from L1 and L9, shipped on; L1
# made again from L2 (a cycle in bad data); L3 made from L2 twice over
# (input listed twice); same timestamps on purpose; a formula-looking product.
FILE1 = [
    ev("e01", "L1", "harvest", "2026-03-01T06:00:00Z", "FARM-1", "FARM-1"),
    ev("e02", "L1", "shipping", "2026-03-01T08:00:00+01:00", "FARM-1", "DC-7"),
    ev("e03", "L1", "receiving", "2026-03-01T12:00:00Z", "FARM-1", "DC-7"),
    ev("e04", "L1", "receiving", "2026-03-01T12:00:00Z", "FARM-1", "DC-9"),
    ev("e05", "L9", "harvest", "2026-03-01T05:00:00Z", "FARM-2", "FARM-2", product="@Spinach"),
    ev("e06", "L2", "transformation", "2026-03-02T09:00:00Z", "DC-7", "DC-7", ["L1", "L9"]),
    ev("e07", "L2", "shipping", "2026-03-02T15:00:00Z", "DC-7", "STORE-3"),
    ev("e08", "L2", "receiving", "2026-03-02T18:30:00Z", "DC-7", "STORE-3"),
    ev("e09", "L1", "transformation", "2026-03-03T09:00:00Z", "DC-7", "DC-7", ["L2"]),
    ev("e10", "L3", "transformation", "2026-03-03T09:00:00Z", "DC-7", "DC-7", ["L2", "L2"]),
    ev("e11", "L4", "transformation", "2026-03-04T10:00:00Z", "DC-7", "DC-7", ["L3", "NOSUCH"]),
    ev("e12", "L5", "harvest", "2026-03-05T10:00:00Z", "FARM-3", "FARM-3"),
]
# e12 moves from lot L5 to L6 (a new version); e13 joins L1.
FILE2 = [
    ev("e12", "L6", "harvest", "2026-03-05T10:00:00Z", "FARM-3", "FARM-3"),
    ev("e13", "L1", "cooling", "2026-03-01T07:00:00Z", "FARM-1", "FARM-1"),
]
# fails the strict contract (no supplier_id): quarantined, then replayed
FILE3 = [ev("e14", "L2", "cooling", "2026-03-02T10:00:00Z", "DC-7", "DC-7", supplier=None)]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what)


def write_jsonl(path, recs):
    with open(path, "w", newline="") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


class Setup:
    def __init__(self, cli, work, portal_url):
        self.cli, self.work, self.url = cli, work, portal_url

    def config(self, name, index=True, strict=True):
        cfg = harness.fsma_config(self.url)
        if not index:
            cfg = cfg.replace(INDEX_LINE, "")
            assert "    index: [" not in cfg
        src = CHAIN_SOURCE.replace("{INDEX}", INDEX_LINE if index else "")
        cfg = cfg.replace("\ncontracts:", src + "\ncontracts:")
        cfg += CHAIN_CONTRACT.replace("{REQ}", "true" if strict else "false")
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(cfg)
        return path


def compare(cli, cfg, lots, label):
    """export --lot and trace, through the index and with --scan: identical."""
    for lot in lots:
        for extra in ([], ["--from", "2026-03-01", "--to", "2026-03-02"]):
            for source in ("chain", "supplier_8842"):
                a = cli.run("export", "-c", cfg, source, "--format", "fsma204", "--lot", lot, *extra)
                b = cli.run("export", "-c", cfg, source, "--format", "fsma204", "--lot", lot, "--scan", *extra)
                check(a[0] == b[0] == 0, "%s: export %s --lot %s exit %d/%d: %s %s" % (label, source, lot, a[0], b[0],
                                                                                      a[2], b[2]))
                check(a[1] == b[1], "%s: export %s --lot %s %s: index and scan differ:\n%s\n---\n%s"
                      % (label, source, lot, extra, a[1], b[1]))
        for fmt in ([], ["--json"], ["--format", "dot"]):
            for src in ([], ["--source", "chain"]):
                a = cli.run("trace", "-c", cfg, lot, *fmt, *src)
                b = cli.run("trace", "-c", cfg, lot, "--scan", *fmt, *src)
                check(a[0] == b[0], "%s: trace %s exit %d vs %d: %s" % (label, lot, a[0], b[0], a[2]))
                check(a[1] == b[1], "%s: trace %s %s %s: index and scan differ:\n%s\n---\n%s"
                      % (label, lot, fmt, src, a[1], b[1]))
    # several lots at once, one named twice
    a = cli.run("export", "-c", cfg, "chain", "--format", "fsma204", "--lot", "L2", "--lot", "L1", "--lot", "L2")
    b = cli.run("export", "-c", cfg, "chain", "--format", "fsma204", "--lot", "L2", "--lot", "L1", "--lot", "L2",
                "--scan")
    check(a[1] == b[1] and a[1].count("\r\n") > 5, "%s: several lots: index and scan differ" % label)


def lots_in(cli):
    db = cli.db()
    try:
        rows = db.execute("SELECT DISTINCT json_extract(canonical, '$.traceability_lot_code') FROM records "
                          "WHERE canonical <> ''").fetchall()
    finally:
        db.close()
    lots = sorted(r[0] for r in rows if r[0])
    # every lot of the chain, a few of the portal feed's (each costs 20 runs)
    return [x for x in lots if not x.startswith("TLC-")] + [x for x in lots if x.startswith("TLC-")][:3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="custody-index-")
    try:
        with harness.Portal("--fsma-events", "120", "--invalid-ratio", "0") as portal:
            s = Setup(None, work, portal.url)
            cli = harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
            s.cli = cli
            indexed = s.config("indexed.yaml")
            plain = s.config("plain.yaml", index=False)
            os.makedirs(os.path.join(work, "drop"))

            # --- 1. a store written before the index existed (schema 2), polled without index:
            write_jsonl(os.path.join(work, "drop", "1.jsonl"), FILE1)
            code, out, err = cli.run("poll", "-c", plain)
            check(code == 0, "poll (no index) exit %d: %s" % (code, err))
            db = cli.db()
            db.executescript("DROP TABLE record_index; UPDATE meta SET v='2' WHERE k='schema_version'; "
                             "DELETE FROM source_kv WHERE k='index_complete';")
            db.close()
            # the new binary opens it (migrates), sees index: declared but incomplete: scans, and says so
            code, out, err = cli.run("export", "-c", indexed, "chain", "--format", "fsma204", "--lot", "L1")
            check(code == 0, "export on a schema-2 store exit %d: %s" % (code, err))
            check("custody index rebuild chain" in err, "export says the index is incomplete: %r" % err)
            check(out.count("\r\n") == 6, "the scan fallback still finds L1's 5 events: %r" % out)
            db = cli.db()
            check(db.execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()[0] == "3", "migrated to 3")
            check(db.execute("SELECT count(*) FROM record_index").fetchone()[0] == 0, "index empty before rebuild")
            db.close()
            code, out, err = cli.run("trace", "-c", indexed, "L1")
            check(code == 0 and "custody index rebuild" in err, "trace says the index is incomplete: %r" % err)
            code, out, err = cli.run("index", "-c", indexed, "status")
            check(code == 0 and "incomplete" in out, "index status shows incomplete: %r" % out)
            # polling more with index: keeps it incomplete (the old versions still lack terms)
            code, out, err = cli.run("poll", "-c", indexed)
            check(code == 0, "poll (index) exit %d: %s" % (code, err))
            code, out, err = cli.run("index", "-c", indexed, "status", "--json")
            st = {json.loads(line)["source"]: json.loads(line) for line in out.splitlines()}
            check(st["chain"]["complete"] == [] and st["supplier_8842"]["complete"] == [],
                  "complete for nothing before the rebuild: %r" % st)

            # --- 2. rebuild: audited, idempotent, complete
            code, out, err = cli.run("index", "-c", indexed, "rebuild", "nosuch")
            check(code == 2 and "nosuch" in err, "rebuild of an unknown source: %d %s" % (code, err))
            code, out, err = cli.run("index", "-c", plain, "rebuild", "chain")
            check(code == 2 and "declares no index" in err, "rebuild of a source without index: %d %s" % (code, err))
            code, out, err = cli.run("index", "-c", indexed, "rebuild")
            check(code == 0 and "index rebuilt: 2 source(s)" in out, "rebuild exit %d: %s %s" % (code, out, err))
            db = cli.db()
            aud = db.execute("SELECT source, detail FROM audit WHERE action='index.rebuild' ORDER BY seq").fetchall()
            nterms = db.execute("SELECT count(*) FROM record_index").fetchone()[0]
            db.close()
            check(sorted(r[0] for r in aud) == ["chain", "supplier_8842"], "index.rebuild audited per source: %r" % aud)
            chain_detail = json.loads(dict(aud)["chain"])
            check(chain_detail["fields"] == ["input_lots", "traceability_lot_code"] and chain_detail["versions"] == 12
                  and chain_detail["terms"] == 12 + 7, "rebuild detail: %r" % chain_detail)
            code, out, err = cli.run("index", "-c", indexed, "rebuild")
            db = cli.db()
            check(code == 0 and db.execute("SELECT count(*) FROM record_index").fetchone()[0] == nterms,
                  "a second rebuild adds nothing")
            db.close()
            code, out, err = cli.run("export", "-c", indexed, "chain", "--format", "fsma204", "--lot", "L1")
            check(code == 0 and "rebuild" not in err, "no notice after the rebuild: %r" % err)
            code, out, err = cli.run("audit", "-c", indexed, "verify")
            check(code == 0, "audit verify after the rebuild: %d %s" % (code, err))
            compare(cli, indexed, lots_in(cli) + ["L5", "L6", "NOSUCH", "ZZZ"], "after rebuild")

            # --- 3. the index is what is read: a term removed behind custody's back shows
            db = cli.db()
            db.execute("DELETE FROM record_index WHERE field='traceability_lot_code' AND value='L9'")
            db.commit()
            db.close()
            a1 = cli.run("export", "-c", indexed, "chain", "--format", "fsma204", "--lot", "L9")
            b1 = cli.run("export", "-c", indexed, "chain", "--format", "fsma204", "--lot", "L9", "--scan")
            check(a1[1].count("\r\n") == 1 and b1[1].count("\r\n") == 2,
                  "export --lot reads the index (%d rows) and --scan the records (%d)"
                  % (a1[1].count("\r\n") - 1, b1[1].count("\r\n") - 1))
            code, out, err = cli.run("index", "-c", indexed, "rebuild", "chain")
            check(code == 0, "rebuild chain exit %d: %s" % (code, err))
            a1 = cli.run("export", "-c", indexed, "chain", "--format", "fsma204", "--lot", "L9")
            check(a1[1] == b1[1], "rebuild put the missing term back")

            # --- 4. new versions: e12 leaves L5 for L6; e13 joins L1; written with index: by poll
            write_jsonl(os.path.join(work, "drop", "2.jsonl"), FILE2)
            code, out, err = cli.run("poll", "-c", indexed)
            check(code == 0, "poll 2 exit %d: %s" % (code, err))
            code, out, err = cli.run("export", "-c", indexed, "chain", "--format", "fsma204", "--lot", "L5")
            check(code == 0 and out.count("\r\n") == 1, "L5 lists nothing once e12 moved to L6: %r" % out)
            code, out, err = cli.run("export", "-c", indexed, "chain", "--format", "fsma204", "--lot", "L6")
            check(out.count("\r\n") == 2 and ',"[""e12""]",2\r\n' in out, "L6 lists e12 version 2: %r" % out)
            code, out, err = cli.run("trace", "-c", indexed, "L5")
            check(code == 1, "trace of a lot no current version has: exit %d" % code)
            compare(cli, indexed, lots_in(cli) + ["L5"], "after new versions")

            # --- 5. a quarantined record replayed under a relaxed contract is indexed
            write_jsonl(os.path.join(work, "drop", "3.jsonl"), FILE3)
            code, out, err = cli.run("poll", "-c", indexed)
            db = cli.db()
            check(db.execute("SELECT count(*) FROM quarantine WHERE source='chain'").fetchone()[0] == 1,
                  "e14 quarantined")
            db.close()
            relaxed = s.config("relaxed.yaml", strict=False)
            code, out, err = cli.run("quarantine", "-c", relaxed, "replay", "--all")
            check(code == 0, "replay exit %d: %s" % (code, err))
            code, out, err = cli.run("export", "-c", relaxed, "chain", "--format", "fsma204", "--lot", "L2")
            check(code == 0 and '"[""e14""]"' in out and "rebuild" not in err,
                  "the replayed record is found through the index: %r %r" % (out, err))
            compare(cli, relaxed, ["L2", "L1"], "after replay")

            # --- 6. dropping a field from index: (then adding it back) needs a rebuild again
            halfpath = s.config("half.yaml")
            with open(halfpath) as f:
                half = f.read().replace(INDEX_LINE, "\n    index: [traceability_lot_code]")
            with open(halfpath, "w") as f:
                f.write(half)
            write_jsonl(os.path.join(work, "drop", "4.jsonl"),
                        [ev("e15", "L7", "transformation", "2026-03-06T10:00:00Z", "DC-7", "DC-7", ["L6"])])
            code, out, err = cli.run("poll", "-c", halfpath)
            check(code == 0, "poll with half the index exit %d: %s" % (code, err))
            code, out, err = cli.run("trace", "-c", indexed, "L6")
            check(code == 0 and "custody index rebuild" in err and "lot L7" in out,
                  "a version written without input_lots terms makes trace scan (and find L7): %r %r" % (out, err))
            code, out, err = cli.run("index", "-c", indexed, "rebuild")
            check(code == 0, "rebuild after the gap: %d %s" % (code, err))
            code, out, err = cli.run("trace", "-c", indexed, "L6")
            check(code == 0 and "rebuild" not in err and "lot L7" in out, "after the rebuild trace finds L7: %r"
                  % out)
            compare(cli, indexed, lots_in(cli), "final")

            # --- 7. a fresh store with index: from the first poll needs no rebuild
            os.makedirs(os.path.join(work, "fresh", "drop"))
            with open(indexed) as f:
                fresh = f.read().replace("sqlite:custody.db", "sqlite:fresh/custody.db").replace(
                    "dir: drop", "dir: fresh/drop")
            freshpath = os.path.join(work, "fresh.yaml")
            with open(freshpath, "w") as f:
                f.write(fresh)
            write_jsonl(os.path.join(work, "fresh", "drop", "1.jsonl"), FILE1)
            code, out, err = cli.run("poll", "-c", freshpath)
            check(code == 0, "fresh poll exit %d: %s" % (code, err))
            code, out, err = cli.run("index", "-c", freshpath, "status", "--json")
            st = {json.loads(line)["source"]: json.loads(line) for line in out.splitlines()}
            check(st.get("chain", {}).get("complete") == ["input_lots", "traceability_lot_code"],
                  "a fresh source is complete from its first poll: %r" % st)
            code, out, err = cli.run("trace", "-c", freshpath, "L1")
            check(code == 0 and not err, "fresh trace uses the index quietly: %r" % err)
            code, out, err = cli.run("audit", "-c", indexed, "verify")
            check(code == 0, "audit verify at the end: %d %s" % (code, err))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("test_index: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
