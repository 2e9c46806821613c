#!/usr/bin/env python3
"""Invariant 1 under kill -9: a poll killed at a random instant and then
re-run until it completes leaves the store identical to a crash-free run's:
the same records (no loss, nothing twice), the same quarantine evidence and
the same cursor; and the audit log still verifies.

--store pg runs the same trials against a throwaway PostgreSQL server (a
database per trial): there a kill -9 drops the connection and the server
rolls the open transaction back.

The portal answers slowly (a bounded delay per page) so kills land at every
stage: mid-fetch, mid-transaction, mid-commit. Trials: --trials (CI: 20)."""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

EVENTS = 1200
LIMIT = 50          # 24 pages
DELAY_MS = 15


PG = None  # the PostgreSQL server with --store pg


def write_config(work, url, commit_pages):
    text = harness.fsma_config(url, commit_pages=commit_pages, limit=LIMIT)
    if PG:
        text, _ = harness.replace_store_line(text, PG.create_database(os.path.basename(work)))
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write(text)


def snapshot(work):
    if not PG:
        return harness.store_snapshot(os.path.join(work, "custody.db"))
    db = os.path.basename(work)
    q = lambda sql: [tuple(r) for r in PG.query(db, sql)]  # noqa: E731
    return {"records": q("SELECT source, key, version, content_hash, canonical, raw_hash FROM records "
                         "ORDER BY source, key, version"),
            "quarantine": q("SELECT source, recon_key, encode(raw, 'hex'), errors, status FROM quarantine "
                            "ORDER BY source, recon_key"),
            "cursors": q("SELECT name, cursor FROM sources ORDER BY name")}


def poll(cli, work):
    return cli.run("poll", "-q", "-c", os.path.join(work, "config.yaml"), timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--trials", type=int, default=int(os.environ.get("CUSTODY_CRASH_TRIALS", "20")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CUSTODY_CRASH_SEED", str(int(time.time())))))
    ap.add_argument("--store", choices=("sqlite", "pg"), default="sqlite")
    a = ap.parse_args()
    global PG
    if a.store == "pg":
        import pgserver
        try:
            PG = pgserver.PgServer()
            PG.start()
        except pgserver.Unavailable as ex:
            print("skip: %s" % ex)
            return 77
    a.custody = os.path.abspath(a.custody)
    rnd = random.Random(a.seed)
    print("kill -9 trials: %d, seed %d (rerun with --seed to reproduce)" % (a.trials, a.seed))
    base = tempfile.mkdtemp(prefix="custody-crash-")
    passed = failed = 0
    try:
        with harness.Portal("--fsma-events", str(EVENTS)) as portal:
            portal.control("/_control/faults", {"rules": [
                {"path_prefix": "/fsma", "nth": 1, "times": 10 ** 9, "action": "slow", "delay_ms": DELAY_MS}]})
            refs = {}
            for cp in (1, 4):
                ref = os.path.join(base, "ref%d" % cp)
                os.makedirs(ref)
                write_config(ref, portal.url, cp)
                cli = harness.Custody(a.custody, ref, {"SUPPLIER_API_KEY": harness.TOKEN})
                code, out, err = poll(cli, ref)
                assert code == 0, "reference poll failed: %s" % err
                refs[cp] = snapshot(ref)
                assert len(refs[cp]["records"]) > 0
            for trial in range(a.trials):
                cp = rnd.choice((1, 4))
                work = os.path.join(base, "t%d" % trial)
                os.makedirs(work)
                write_config(work, portal.url, cp)
                cli = harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
                kills = 0
                # Up to three kills per trial, each after a random delay within
                # the expected duration of a full poll (~ pages x delay).
                for _ in range(rnd.randint(1, 3)):
                    p = subprocess.Popen([a.custody, "poll", "-q", "-c", os.path.join(work, "config.yaml")],
                                         cwd=work, env=cli.env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
                    time.sleep(rnd.uniform(0.0, (EVENTS / LIMIT) * DELAY_MS / 1000.0 * 1.3))
                    if p.poll() is None:
                        p.send_signal(signal.SIGKILL)
                        kills += 1
                    p.wait(timeout=60)
                for attempt in range(5):
                    code, out, err = poll(cli, work)
                    if code == 0:
                        break
                problems = []
                if code != 0:
                    problems.append("re-run did not complete: exit %d: %s" % (code, err.strip()))
                got = snapshot(work)
                want = refs[cp]
                for part in ("records", "quarantine", "cursors"):
                    if got[part] != want[part]:
                        g, w = set(got[part]), set(want[part])
                        problems.append("%s differ: %d rows vs %d in the crash-free run; missing %d, extra %d"
                                        % (part, len(got[part]), len(want[part]), len(w - g), len(g - w)))
                vcode, vout, verr = cli.run("audit", "verify", "-c", os.path.join(work, "config.yaml"))
                if vcode != 0:
                    problems.append("audit verify failed: " + verr.strip())
                if problems:
                    failed += 1
                    print("trial %d (commit_pages %d, %d kills): FAIL\n  %s" % (trial, cp, kills, "\n  ".join(problems)))
                else:
                    passed += 1
                    print("trial %d (commit_pages %d, %d kills): ok, %d records" % (trial, cp, kills, len(got["records"])))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if PG:
            PG.stop()
    print("test_kill9: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
