#!/usr/bin/env python3
"""Audit evidence from the user's side: keygen, signed checkpoints across
polls (separate processes), inclusion proofs for every version of a changed
record, a consistency proof between two checkpoints taken before and after
a restart, an export, all checked by tools/custody_verify.py (which shares
no code with custody) and by `audit verify --key`; a checkpoint re-signed
with another key, or edited, fails verification; retention dry run, holds,
and their audit entries."""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import harness  # noqa: E402

VERIFY = os.path.join(ROOT, "tools", "custody_verify.py")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def tool(kind, doc):
    p = subprocess.run([sys.executable, VERIFY, kind, doc], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


class Run:
    def __init__(self, rc, out, err):
        self.returncode, self.stdout, self.stderr = rc, out, err


class Cli:
    def __init__(self, binary, work, env):
        self.c = harness.Custody(binary, work, env)

    def run(self, *args, check=None):
        return Run(*self.c.run(*args, check=check))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="custody-evidence-") as work, \
            harness.Portal("--fsma-events", "600") as portal:
        cli = Cli(a.custody, work, {"SUPPLIER_API_KEY": "demo-token"})
        p = cli.run("keygen", "-o", os.path.join(work, "k"))
        check(p.returncode == 0 and "key id" in p.stdout, "keygen prints the key id")
        check(oct(os.stat(os.path.join(work, "k.key")).st_mode & 0o777) == "0o600", "private key is 0600")
        p = cli.run("keygen", "-o", os.path.join(work, "k"))
        check(p.returncode != 0 and "refusing to overwrite" in p.stderr, "keygen never overwrites a key")
        cfg = os.path.join(work, "custody.yaml")
        with open(cfg, "w") as f:
            f.write(harness.fsma_config(portal.url, limit=100, commit_pages=2))
            f.write("audit: { signing_key: k.key, verify_key: k.pub }\n")
        cli.run("poll", "-c", cfg, check=0)
        portal.control("/_control/mutate", {"dataset": "fsma", "count": 5})
        cli.run("poll", "-c", cfg, check=0)
        db = os.path.join(work, "custody.db")
        con = sqlite3.connect(db)
        ckps = con.execute("SELECT tree_size, signature FROM checkpoints ORDER BY tree_size").fetchall()
        key, = con.execute("SELECT key FROM records WHERE version = 2 LIMIT 1").fetchone()
        con.close()
        check(len(ckps) >= 2 and all(s and s.startswith("ed25519:") for _, s in ckps), "every poll checkpoint signed")

        p = cli.run("audit", "verify", "-c", cfg)
        check(p.returncode == 0 and "all valid" in p.stdout, "verify checks the signatures: " + p.stdout)
        for version in ("1", "2"):
            p = cli.run("audit", "prove", "-c", cfg, "supplier_8842", key, "--version", version)
            check(p.returncode == 0, "prove version %s: %s" % (version, p.stderr))
            doc = os.path.join(work, "proof%s.json" % version)
            with open(doc, "w") as f:
                f.write(p.stdout)
            rc, out = tool("inclusion", doc)
            check(rc == 0 and out.startswith("VALID"), "inclusion proof of version %s verifies: %s" % (version, out))
            proof = json.loads(p.stdout)
            check(proof["entry"]["detail"]["version"] == int(version), "the proof is of the version asked for")
            proof["entry"]["detail"]["version"] = 3 - int(version)
            with open(doc, "w") as f:
                json.dump(proof, f)
            rc, out = tool("inclusion", doc)
            check(rc == 1, "an edited entry no longer verifies")

        # a consistency proof between the first checkpoint and one taken in
        # a later process (after a restart of everything)
        first = ckps[0][0]
        p = cli.run("audit", "checkpoint", "-c", cfg)
        check(p.returncode == 0 and "signature ed25519:" in p.stdout, "audit checkpoint prints a signed text")
        size = int([l for l in p.stdout.splitlines() if l.startswith("tree_size ")][0].split()[1])
        p = cli.run("audit", "consistency", "-c", cfg, str(first), str(size))
        doc = os.path.join(work, "cons.json")
        with open(doc, "w") as f:
            f.write(p.stdout)
        rc, out = tool("consistency", doc)
        check(rc == 0, "consistency proof %d -> %d verifies: %s" % (first, size, out))
        p = cli.run("audit", "export", "-c", cfg, "-o", os.path.join(work, "audit.jsonl"))
        rc, out = tool("export", os.path.join(work, "audit.jsonl"))
        check(rc == 0, "export verifies: " + out)

        # holds and the retention dry run are audited operator actions
        p = cli.run("hold", "add", "-c", cfg, "supplier_8842", key, "--reason", "FDA request 17", "--actor", "qa")
        check(p.returncode == 0, "hold add: " + p.stderr)
        p = cli.run("hold", "add", "-c", cfg, "supplier_8842")
        check(p.returncode == 2 and "--reason" in p.stderr, "a hold needs a reason")
        p = cli.run("retention", "-c", cfg, "--dry-run", "--as-of", "2040-01-01")
        check(p.returncode == 0 and "0 record versions" in p.stdout, "no retention rule: nothing due: " + p.stdout)
        con = sqlite3.connect(db)
        acts = [r[0] for r in con.execute("SELECT actor FROM audit WHERE action='hold.add'")]
        con.close()
        check(acts == ["qa"], "hold.add audited with its actor")

        # operator actions that end in a checkpoint sign it too
        p = cli.run("quarantine", "replay", "--all", "-c", cfg)
        check(p.returncode == 0, "replay: " + p.stderr)
        p = cli.run("audit", "verify", "-c", cfg)
        check(p.returncode == 0 and "all valid" in p.stdout, "checkpoints after a replay are signed: " + p.stdout + p.stderr)

        # a checkpoint signed by another key, or altered, fails
        cli.run("keygen", "-o", os.path.join(work, "other"))
        p = cli.run("audit", "verify", "-c", cfg, "--key", os.path.join(work, "other.pub"))
        check(p.returncode == 4 and "signature" in p.stderr, "another key's verify fails: " + p.stderr)
        con = sqlite3.connect(db)
        con.execute("DROP TRIGGER checkpoints_no_update")
        con.execute("UPDATE checkpoints SET time = '2020-01-01T00:00:00.000Z' WHERE tree_size = ?", (first,))
        con.commit()
        con.close()
        p = cli.run("audit", "verify", "-c", cfg)
        check(p.returncode == 4 and "tree size %d" % first in p.stderr, "an altered checkpoint fails: " + p.stderr)
    print("test_evidence: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
