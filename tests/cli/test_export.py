#!/usr/bin/env python3
"""custody export, checked with Python's csv module: the CSV of the mock
portal's FSMA feed and of a file source with awkward values (commas, quotes,
line breaks, nested objects, formula-looking text, negative numbers) parses
back to exactly the stored records; formula cells carry a leading quote and
are listed in FILE.notes.txt, typed negative numbers are left alone; the
FSMA 204 spreadsheet parses too and its rows follow the mapping."""
import argparse
import csv
import io
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

FILE_SOURCE = """
  - name: ledger
    files: { dir: drop, pattern: "*.jsonl", format: jsonl }
    contract: ledger
"""
LEDGER_CONTRACT = """
  ledger:
    key: [id]
    fields:
      id:    { type: string, required: true }
      delta: { type: number, required: true }
      count: { type: integer }
      note:  { type: string }
      meta:  { type: object }
      tags:  { type: array, items: string }
"""
LEDGER = [
    {"id": "a", "delta": -5, "count": -2, "note": "-5", "meta": {"k": "v,w"}, "tags": ["x", "y"]},
    {"id": "b", "delta": 1.5, "note": "=1+2", "meta": {}},
    {"id": "c", "delta": 0, "note": "@SUM(A1:A9)"},
    {"id": "d", "delta": 2, "note": "line one\r\nline \"two\", with comma"},
    {"id": "e", "delta": 3, "note": "\tTAB first"},
    {"id": "f", "delta": -0.25, "note": "+cmd|' /C calc'!A0"},
    {"id": "g", "delta": 4, "note": "plain"},
]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what)


def parse_csv(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    # RFC 4180: every record ends with CRLF; no bare LF outside quoted cells
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    return raw, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="custody-export-")
    try:
        with harness.Portal("--fsma-events", "60") as portal:
            cfg = harness.fsma_config(portal.url).replace("\ncontracts:", FILE_SOURCE + "\ncontracts:")
            cfg += LEDGER_CONTRACT
            cfgpath = os.path.join(work, "config.yaml")
            with open(cfgpath, "w") as f:
                f.write(cfg)
            os.makedirs(os.path.join(work, "drop"))
            with open(os.path.join(work, "drop", "l.jsonl"), "w", newline="") as f:
                for r in LEDGER:
                    f.write(json.dumps(r) + "\n")
            cli = harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
            code, out, err = cli.run("poll", "-c", cfgpath)
            check(code == 0, "poll exit %d: %s" % (code, err))

            # --- the file source with awkward values
            code, out, err = cli.run("export", "-c", cfgpath, "ledger", "-o", "ledger.csv")
            check(code == 0, "export ledger exit %d: %s" % (code, err))
            raw, rows = parse_csv(os.path.join(work, "ledger.csv"))
            check(raw.count(b"\r\n") >= len(LEDGER) + 1, "CRLF line ends")
            check(rows[0] == ["key", "version", "fetched_at", "content_hash", "id", "delta", "count", "note", "meta",
                              "tags"], "header %r" % rows[0])
            by = {r[4]: dict(zip(rows[0], r)) for r in rows[1:]}
            check(len(by) == len(LEDGER), "rows %d" % len(by))
            check(by["a"]["delta"] == "-5", "typed number -5 is not neutralised: %r" % by["a"]["delta"])
            check(by["a"]["count"] == "-2", "typed integer -2 is not neutralised: %r" % by["a"]["count"])
            check(by["f"]["delta"] == "-0.25", "typed number -0.25 kept: %r" % by["f"]["delta"])
            check(by["a"]["note"] == "'-5", "string -5 is neutralised: %r" % by["a"]["note"])
            check(by["b"]["note"] == "'=1+2", "=1+2 neutralised: %r" % by["b"]["note"])
            check(by["c"]["note"] == "'@SUM(A1:A9)", "@ neutralised")
            check(by["e"]["note"] == "'\tTAB first", "TAB neutralised: %r" % by["e"]["note"])
            check(by["f"]["note"] == "'+cmd|' /C calc'!A0", "+ neutralised")
            check(by["d"]["note"] == "line one\r\nline \"two\", with comma", "CR LF quote comma round trip: %r"
                  % by["d"]["note"])
            check(by["g"]["note"] == "plain", "plain")
            check(json.loads(by["a"]["meta"]) == {"k": "v,w"}, "nested object as JSON: %r" % by["a"]["meta"])
            check(json.loads(by["a"]["tags"]) == ["x", "y"], "array as JSON")
            check(by["c"]["meta"] == "", "absent is empty")
            # every cell equals the stored value (after removing the documented quote)
            code, out, err = cli.run("records", "-c", cfgpath, "ledger", "--json")
            stored = {json.loads(line)["record"]["id"]: json.loads(line) for line in out.splitlines()}
            for rid, row in by.items():
                s = stored[rid]
                check(row["content_hash"] == s["content_hash"] and row["version"] == str(s["version"]),
                      "hash/version of %s" % rid)
                for k, v in s["record"].items():
                    cell = row[k]
                    if isinstance(v, (dict, list)):
                        check(json.loads(cell) == v, "%s.%s" % (rid, k))
                        continue
                    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        check(cell == "'" + v, "%s.%s neutralised" % (rid, k))
                        continue
                    check(cell == (v if isinstance(v, str) else json.dumps(v)), "%s.%s: %r vs %r" % (rid, k, cell, v))
            notes_path = os.path.join(work, "ledger.csv.notes.txt")
            check(os.path.exists(notes_path), "notes file written")
            if os.path.exists(notes_path):
                with open(notes_path) as f:
                    notes = f.read()
                check("formula injection" in notes, "notes say why")
                check("5 cell(s)" in notes, "notes count five cells: %s" % notes)
                check("column note" in notes and "column delta" not in notes, "notes name the columns")
            check(not os.path.exists(os.path.join(work, "ledger.csv.tmp")), "no temp file left")

            # --- the portal feed: CSV parses, one row per current record
            code, out, err = cli.run("export", "-c", cfgpath, "supplier_8842", "-o", "feed.csv")
            check(code == 0, "export feed exit %d: %s" % (code, err))
            raw, rows = parse_csv(os.path.join(work, "feed.csv"))
            db = cli.db()
            nrec = db.execute("SELECT count(DISTINCT key) FROM records WHERE source='supplier_8842'").fetchone()[0]
            db.close()
            check(len(rows) == nrec + 1, "feed rows %d, records %d" % (len(rows) - 1, nrec))
            keys = [r[0] for r in rows[1:]]
            check(keys == sorted(keys), "stable order by key")
            check(not os.path.exists(os.path.join(work, "feed.csv.notes.txt")), "no notes when nothing changed")

            # --- FSMA 204: parses, mapping per event type, sorted by event time then lot
            code, out, err = cli.run("export", "-c", cfgpath, "supplier_8842", "--format", "fsma204",
                                     "-o", "fsma.csv")
            check(code == 0, "export fsma exit %d: %s" % (code, err))
            raw, rows = parse_csv(os.path.join(work, "fsma.csv"))
            hdr = rows[0]
            check(hdr[:3] == ["Event Type", "Traceability Lot Code", "Product Description"], "fsma header %r" % hdr)
            check(len(rows) == nrec + 1, "fsma rows")
            ix = {h: i for i, h in enumerate(hdr)}
            order = [(r[ix["Event Date (UTC)"]], r[ix["Event Time (UTC)"]], r[ix["Traceability Lot Code"]])
                     for r in rows[1:]]
            check(order == sorted(order), "sorted by event date/time then lot")
            for r in rows[1:]:
                key = json.loads(r[ix["Custody Key"]])
                db = cli.db()
                rec = json.loads(db.execute("SELECT canonical FROM records WHERE source='supplier_8842' AND key=? "
                                            "AND version=?", (r[ix["Custody Key"]], int(r[ix["Custody Version"]])))
                                 .fetchone()[0])
                db.close()
                check(key[0] == r[ix["Traceability Lot Code"]], "lot")
                t = rec["event_type"]
                loc = rec["destination_location_id"] if t == "receiving" else rec["origin_location_id"]
                other = {"shipping": rec["destination_location_id"], "receiving": rec["origin_location_id"]}.get(t, "")
                check(r[ix["Location"]] == loc, "location of %s" % t)
                check(r[ix["Previous Source or Recipient"]] == other, "previous source / recipient of %s" % t)
                check(r[ix["Traceability Lot Code Source"]] == rec["supplier_id"], "lot code source")
                check(rec["event_timestamp"].startswith(r[ix["Event Date (UTC)"]] + "T" + r[ix["Event Time (UTC)"]]),
                      "event date")
            check(os.path.exists(os.path.join(work, "fsma.csv.glossary.txt")), "glossary written")
            # the reference document can be proved
            if len(rows) > 1:
                r = rows[1]
                code, out, err = cli.run("audit", "-c", cfgpath, "prove", "supplier_8842", r[ix["Custody Key"]],
                                         "--version", r[ix["Custody Version"]])
                check(code == 0, "audit prove of an exported row: %d %s" % (code, err))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("test_export: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
