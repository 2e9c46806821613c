#!/usr/bin/env python3
"""Valgrind-clean end to end: a complete poll against the mock portal (cursor
pagination over several pages and transactions, a few invalid records into
quarantine), a second poll, a signed checkpoint and `custody audit verify`,
each under valgrind (memcheck) with --error-exitcode=99 --leak-check=full
--errors-for-leak-kinds=definite. Any memcheck error (invalid read or write,
use of uninitialised memory, bad free, a definite leak) fails the test with
valgrind's report.

The ASan+UBSan build does not register this test (valgrind cannot run an
ASan binary); the plain build always does. Without valgrind installed the
test is skipped (exit 77); scripts/install-deps.sh installs it."""
import argparse
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

SKIP = 77
VALGRIND_TIMEOUT = 600


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--events", type=int, default=300)
    a = ap.parse_args()
    valgrind = shutil.which("valgrind")
    if not valgrind:
        print("SKIP: valgrind is not installed (scripts/install-deps.sh installs it)")
        return SKIP
    custody = os.path.abspath(a.custody)
    with open(custody, "rb") as f:
        if b"__asan_init" in f.read():
            print("SKIP: %s is built with AddressSanitizer; valgrind checks the plain build" % custody)
            return SKIP

    work = tempfile.mkdtemp(prefix="custody-valgrind-")
    failures = []
    try:
        with harness.Portal("--fsma-events", str(a.events)) as portal:
            with open(os.path.join(work, "config.yaml"), "w") as f:
                f.write(harness.fsma_config(portal.url, commit_pages=2, limit=50))
                f.write("audit: { signing_key: audit.key, verify_key: audit.pub }\n")
            plain = harness.Custody(custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
            plain.run("keygen", "-o", "audit", check=0)

            def under_valgrind(name, *args, want=0):
                log = os.path.join(work, "valgrind-%s.log" % name)
                cli = harness.Custody(valgrind, work, {"SUPPLIER_API_KEY": harness.TOKEN})
                code, out, err = cli.run(
                    "--quiet", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite", "--num-callers=30", "--log-file=" + log,
                    custody, *args, timeout=VALGRIND_TIMEOUT)
                with open(log) as f:
                    report = f.read()
                print("%-10s exit %d under valgrind" % (name, code))
                if code == 99:
                    failures.append("%s: memcheck errors:\n%s" % (name, report))
                elif report.strip():
                    print("valgrind said (not an error):\n" + report)
                if code not in (99, want):
                    failures.append("%s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                                    % (name, code, want, out[-2000:], err[-2000:]))
                return out

            under_valgrind("poll", "poll", "-c", "config.yaml")
            con = sqlite3.connect(os.path.join(work, "custody.db"))
            try:
                n_rec = con.execute("SELECT count(*) FROM records").fetchone()[0]
                n_quar = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            finally:
                con.close()
            print("first poll stored %d records, quarantined %d" % (n_rec, n_quar))
            if n_rec == 0 or n_quar == 0 or n_rec + n_quar != a.events:
                failures.append("the poll did not take every event: %d records + %d quarantined != %d"
                                % (n_rec, n_quar, a.events))
            under_valgrind("repoll", "poll", "-c", "config.yaml")
            under_valgrind("checkpoint", "audit", "checkpoint", "-c", "config.yaml")
            out = under_valgrind("verify", "audit", "verify", "-c", "config.yaml")
            # the plain binary agrees: the log verifies
            plain.run("audit", "verify", "-c", "config.yaml", check=0)
            if not out.strip():
                failures.append("verify printed nothing")
    finally:
        if failures:
            print("\n\n".join(failures))
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("FAILED: %d of the valgrind runs" % len(failures))
        return 1
    print("valgrind: poll, repoll, checkpoint and audit verify are memcheck-clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
