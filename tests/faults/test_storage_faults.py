#!/usr/bin/env python3
"""Storage faults: an LD_PRELOAD shim (tests/faults/failio.c) fails the Nth
open, write or fsync of the store's files with EIO or ENOSPC, once or from
then on, for N swept over a whole poll. Every faulted poll must end with
exit 0 (the fault hit nothing that mattered) or 3 (store error, with a
message that says what to do), never a crash; after the fault is removed a
rerun must leave the store identical to a fault-free run's (nothing lost,
nothing twice, cursor never ahead) and the audit log must verify."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--points", type=int, default=int(os.environ.get("CUSTODY_FAULT_POINTS", "16")))
    a = ap.parse_args()
    a.custody = os.path.abspath(a.custody)
    base = tempfile.mkdtemp(prefix="custody-faults-")
    failures, runs, hit = [], 0, 0
    try:
        shim = os.path.join(base, "failio.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", shim, os.path.join(HERE, "failio.c"), "-ldl"],
                       check=True, timeout=120)
        with harness.Portal("--fsma-events", "600") as portal:
            def fresh(name):
                work = os.path.join(base, name)
                os.makedirs(work)
                with open(os.path.join(work, "config.yaml"), "w") as f:
                    f.write(harness.fsma_config(portal.url, commit_pages=2, limit=100))
                return work, harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})

            # the fault-free reference, and how many store calls a poll makes
            ref, cli = fresh("ref")
            cli.env.update({"LD_PRELOAD": shim, "FAILIO_MATCH": "custody.db",
                            "FAILIO_COUNT_FILE": os.path.join(ref, "calls")})
            code, out, err = cli.run("poll", "-q", "-c", "config.yaml", timeout=120)
            assert code == 0, "reference poll failed: %s" % err
            want = harness.store_snapshot(os.path.join(ref, "custody.db"))
            total = int(open(os.path.join(ref, "calls")).read())
            assert total > 50 and len(want["records"]) > 0, (total, len(want["records"]))
            points = sorted({1, 2, 3, total} | {1 + (total - 1) * k // (a.points - 1) for k in range(a.points)})
            print("storage faults: a poll makes %d store calls; failing each of %d points x {EIO, ENOSPC} x "
                  "{once, persistent}" % (total, len(points)))
            for n in points:
                for eno in ("EIO", "ENOSPC"):
                    for mode in ("once", "persistent"):
                        runs += 1
                        work, cli = fresh("n%d-%s-%s" % (n, eno, mode))
                        env = dict(cli.env)
                        cli.env.update({"LD_PRELOAD": shim, "FAILIO_MATCH": "custody.db", "FAILIO_AT": str(n),
                                        "FAILIO_ERRNO": eno, "FAILIO_MODE": mode})
                        code, out, err = cli.run("poll", "-q", "-c", "config.yaml", timeout=120)
                        cli.env = env
                        what = "call %d %s %s" % (n, eno, mode)
                        if code not in (0, 3):
                            failures.append("%s: exit %d (want 0 or 3): %s" % (what, code, err.strip()[-300:]))
                            continue
                        if code == 3:
                            hit += 1
                            if "store" not in err or (("full" in err or "No space" in err) and
                                                      "free disk space" not in err):
                                failures.append("%s: unclear message: %s" % (what, err.strip()))
                        code, out, err = cli.run("poll", "-q", "-c", "config.yaml", timeout=120)
                        if code != 0:
                            failures.append("%s: rerun without the fault exited %d: %s" % (what, code, err.strip()))
                            continue
                        got = harness.store_snapshot(os.path.join(work, "custody.db"))
                        if got != want:
                            failures.append("%s: store differs from the fault-free run (records %d vs %d)"
                                            % (what, len(got["records"]), len(want["records"])))
                        code, out, err = cli.run("audit", "verify", "-c", "config.yaml", timeout=120)
                        if code != 0:
                            failures.append("%s: audit verify after rerun: %s" % (what, err.strip()))
                        shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print("test_storage_faults: %d faulted polls (%d stopped with a store error), %d failed"
          % (runs, hit, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
