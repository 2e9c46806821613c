#!/usr/bin/env python3
"""Crash torture for invariant 1: each trial either arms one named failpoint
(src/core/failpoint.c) at a random hit with action kill or error, or kills
`custody poll` with SIGKILL at a random instant; then re-runs the poll
without faults until it completes (at most 5 re-runs) and compares the store
with a crash-free reference run's: the same records (no loss, none twice,
by source/key/version/content hash), the same quarantine evidence, the same
cursors; PRAGMA integrity_check says ok and `custody audit verify` exits 0.

Three sources per poll, against one mock portal: a cursor-paginated feed,
an incremental one (/paged/since, ties across pages) and a snapshot
(/paged/snapshot/fsma, one page); commit_pages 1 or 4 per trial.

Before the trials, a traced reference poll (CUSTODY_FAILPOINT_TRACE) must
reach every failpoint of NAMES, and NAMES must equal failpoint_names[] in
src/core/failpoint.c; hit counts from that trace bound each trial's N.

Repro: every failure prints its seed, trial and failpoint; rerun one with
--seed S --only T (a failpoint trial is deterministic; a kill -9 trial
depends on timing), or arm it directly with --failpoint NAME@N:ACTION
--commit-pages CP. Trials: --trials, else $CUSTODY_TORTURE_TRIALS, else 50.
"""
import argparse
import collections
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

# The same list as failpoint_names[] in src/core/failpoint.c (checked below).
NAMES = [
    "store.begin.before",
    "store.record.before",
    "store.record.after",
    "store.reject.before",
    "store.reject.after",
    "store.cursor.before",
    "store.cursor.after",
    "store.result.before",
    "store.result.after",
    "store.kv.before",
    "store.kv.after",
    "store.audit.before",
    "store.audit.after",
    "store.checkpoint.before",
    "store.checkpoint.after",
    "store.frontier.before",
    "store.frontier.after",
    "store.commit.before",
    "store.commit.after",
]

EVENTS = 600        # fsma dataset size: 12 pages of 50, 6 of 100, one snapshot
LIMIT = 50
DELAY_MS = 15       # per data request, in kill -9 trials only
RERUNS = 5
RUN_TIMEOUT = 120   # seconds, every custody process


def extra_sources(url, cp):
    return """
  - name: since_feed
    request:
      url: %(url)s/paged/since/events
      auth: { type: bearer, token_env: SUPPLIER_API_KEY }
    records: $.data
    pagination: { type: cursor, next: $.next_cursor, limit_param: limit, limit: 100 }
    commit_pages: %(cp)d
    incremental: { param: updated_after, field: $.updated_at, format: iso8601, inclusive: true }
    contract: kde
  - name: snapshot_feed
    request:
      url: %(url)s/paged/snapshot/fsma
      auth: { type: bearer, token_env: SUPPLIER_API_KEY }
    records: $.data
    snapshot: true
    contract: kde""" % {"url": url, "cp": cp}


def registry_names():
    """failpoint_names[] as written in src/core/failpoint.c."""
    with open(os.path.join(harness.ROOT, "src", "core", "failpoint.c")) as f:
        text = f.read()
    m = re.search(r"failpoint_names\[\]\s*=\s*\{(.*?)\};", text, re.S)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []


def read_trace(path):
    """(first-hit names, {name: hits} at normal exit, [(name, n, action) fired])"""
    first, counts, fired = [], {}, []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 1:
                    first.append(w[0])
                elif len(w) == 3 and w[0] == "count":
                    counts[w[1]] = int(w[2])
                elif len(w) == 4 and w[0] == "fired":
                    fired.append((w[1], int(w[2]), w[3]))
    return first, counts, fired


def integrity(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def compare(got, want):
    """Problems between two store snapshots, in words."""
    problems = []
    key = lambda r: (r[0], r[1], r[3])  # source, key, content hash  # noqa: E731
    g, w = collections.Counter(map(key, got["records"])), collections.Counter(map(key, want["records"]))
    lost, twice = w - g, g - w
    if lost:
        problems.append("records lost: %d (e.g. %s)" % (sum(lost.values()), sorted(lost)[0][:2]))
    if twice:
        problems.append("records stored twice or extra: %d (e.g. %s)" % (sum(twice.values()), sorted(twice)[0][:2]))
    if not lost and not twice and got["records"] != want["records"]:
        problems.append("records differ in version numbering or content (%d rows vs %d)"
                        % (len(got["records"]), len(want["records"])))
    if got["quarantine"] != want["quarantine"]:
        gq, wq = set(got["quarantine"]), set(want["quarantine"])
        problems.append("quarantine differs: %d rows vs %d; missing %d, extra %d"
                        % (len(got["quarantine"]), len(want["quarantine"]), len(wq - gq), len(gq - wq)))
    if got["cursors"] != want["cursors"]:
        problems.append("cursors differ: %r vs %r" % (got["cursors"], want["cursors"]))
    return problems


class Torture:
    def __init__(self, a, portal, base):
        self.a, self.portal, self.base = a, portal, base
        self.refs, self.hits, self.seconds = {}, {}, {}
        self.slow = None
        self.stats = collections.Counter()

    def workdir(self, name, cp):
        work = os.path.join(self.base, name)
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        with open(os.path.join(work, "config.yaml"), "w") as f:
            text = harness.fsma_config(self.portal.url, commit_pages=cp, limit=LIMIT)
            assert "\ncontracts:" in text
            f.write(text.replace("\ncontracts:", extra_sources(self.portal.url, cp) + "\n\ncontracts:", 1))
        cli = harness.Custody(self.a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
        for v in ("CUSTODY_FAILPOINT", "CUSTODY_FAILPOINT_TRACE"):
            cli.env.pop(v, None)
        return work, cli

    def set_slow(self, on):
        if self.slow != on:
            self.portal.control("/_control/faults", {"rules": [
                {"path_prefix": "/", "nth": 1, "times": 10 ** 9, "delay_ms": DELAY_MS}] if on else []})
            self.slow = on

    def poll_argv(self, work):
        return [self.a.custody, "poll", "-q", "-c", os.path.join(work, "config.yaml")]

    def reference(self):
        """Crash-free runs: the expected store, the hit counts, how long a slow poll takes."""
        problems = []
        for cp in (1, 4):
            self.set_slow(False)
            work, cli = self.workdir("ref%d" % cp, cp)
            trace = os.path.join(work, "trace")
            cli.env["CUSTODY_FAILPOINT_TRACE"] = trace
            code, out, err = cli.run("poll", "-q", "-c", "config.yaml", timeout=RUN_TIMEOUT)
            if code != 0:
                return ["reference poll (commit_pages %d) exited %d: %s" % (cp, code, err.strip())]
            self.refs[cp] = harness.store_snapshot(os.path.join(work, "custody.db"))
            first, counts, fired = read_trace(trace)
            self.hits[cp] = counts
            if len(self.refs[cp]["records"]) == 0 or len(self.refs[cp]["quarantine"]) == 0:
                problems.append("reference (commit_pages %d) has %d records and %d rejections; want both"
                                % (cp, len(self.refs[cp]["records"]), len(self.refs[cp]["quarantine"])))
            for n in NAMES:
                if counts.get(n, 0) < 1:
                    problems.append("failpoint %s is never reached by a reference poll (commit_pages %d)" % (n, cp))
            for n in set(first) | set(counts):
                if n not in NAMES:
                    problems.append("failpoint %s is hit but missing from NAMES in this script" % n)
            code, out, err = cli.run("audit", "verify", "-c", "config.yaml", timeout=RUN_TIMEOUT)
            if code != 0:
                problems.append("reference (commit_pages %d): audit verify exited %d: %s" % (cp, code, err.strip()))
            # the same poll against a slow upstream: same store, and its duration
            self.set_slow(True)
            work, cli = self.workdir("slow%d" % cp, cp)
            t0 = time.monotonic()
            code, out, err = cli.run("poll", "-q", "-c", "config.yaml", timeout=RUN_TIMEOUT)
            self.seconds[cp] = time.monotonic() - t0
            if code != 0:
                problems.append("slow reference poll (commit_pages %d) exited %d: %s" % (cp, code, err.strip()))
            elif harness.store_snapshot(os.path.join(work, "custody.db")) != self.refs[cp]:
                problems.append("two crash-free polls (commit_pages %d) disagree: the dataset is not "
                                "deterministic, so no trial can be judged" % cp)
        reg = registry_names()
        if sorted(reg) != sorted(NAMES):
            problems.append("NAMES here and failpoint_names[] in src/core/failpoint.c differ: only here %s, "
                            "only there %s" % (sorted(set(NAMES) - set(reg)), sorted(set(reg) - set(NAMES))))
        return problems

    def trial(self, t, rnd, forced=None):
        """Returns (description, problems, fired name or None, arguments replaying it)."""
        cp = self.a.commit_pages or rnd.choice((1, 4))
        work, cli = self.workdir("t%d" % t, cp)
        trace = os.path.join(work, "trace")
        problems, fired_name = [], None
        if forced or rnd.random() < 0.75:
            if forced:
                spec = forced
                action = spec.split(":")[1] if ":" in spec else "kill"
            else:
                name = rnd.choice(NAMES)
                total = self.hits[cp][name]
                n = rnd.choice((1, total)) if rnd.random() < 0.2 else rnd.randint(1, total)
                action = rnd.choice(("kill", "error"))
                spec = "%s@%d:%s" % (name, n, action)
            what = "failpoint %s, commit_pages %d" % (spec, cp)
            repro = "--failpoint %s --commit-pages %d" % (spec, cp)
            self.set_slow(False)
            env = dict(cli.env, CUSTODY_FAILPOINT=spec, CUSTODY_FAILPOINT_TRACE=trace)
            p = subprocess.run(self.poll_argv(work), cwd=work, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
            err = p.stderr.decode(errors="replace").strip()
            fired = read_trace(trace)[2]
            self.stats["failpoint " + action] += 1
            if fired:
                self.stats["fired " + action] += 1
                fired_name = fired[0][0]
                if action == "kill" and p.returncode != -signal.SIGKILL:
                    problems.append("kill failpoint fired but the poll ended with %d" % p.returncode)
                if action == "error" and p.returncode != 3:
                    problems.append("error failpoint fired but the poll exited %d, not 3 (store error): %s"
                                    % (p.returncode, err[-300:]))
                elif action == "error" and "failpoint %s fired" % fired_name not in err:
                    problems.append("error failpoint fired but the poll's message does not say so: %s" % err[-300:])
            else:
                what += " (not reached: the run hit it fewer times than the reference)"
                if p.returncode != 0:
                    problems.append("failpoint not reached, yet the poll exited %d: %s" % (p.returncode, err[-300:]))
        else:
            kills = rnd.randint(1, 2)
            window = self.seconds[cp] * 1.2
            delays = []
            self.set_slow(True)
            for _ in range(kills):
                p = subprocess.Popen(self.poll_argv(work), cwd=work, env=cli.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                d = rnd.uniform(0.0, window)
                try:
                    p.wait(timeout=d)
                    delays.append("%.3fs (finished first)" % d)
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGKILL)
                    delays.append("%.3fs" % d)
                    self.stats["kills landed"] += 1
                p.wait(timeout=RUN_TIMEOUT)
            self.stats["kill -9"] += 1
            what = "kill -9 after %s, commit_pages %d" % (", ".join(delays), cp)
            repro = "--seed %d --only %d" % (self.a.seed, t)
            self.set_slow(False)
        code, err = None, ""
        for r in range(RERUNS):
            code, out, err = cli.run("poll", "-q", "-c", "config.yaml", timeout=RUN_TIMEOUT)
            if code == 0:
                self.stats["re-runs"] += r + 1
                break
        if code != 0:
            problems.append("%d re-runs did not complete: exit %d: %s" % (RERUNS, code, err.strip()[-300:]))
        db = os.path.join(work, "custody.db")
        problems += compare(harness.store_snapshot(db), self.refs[cp])
        ic = integrity(db)
        if ic != "ok":
            problems.append("PRAGMA integrity_check: %s" % ic)
        vcode, vout, verr = cli.run("audit", "verify", "-c", "config.yaml", timeout=RUN_TIMEOUT)
        if vcode != 0:
            problems.append("audit verify exited %d: %s" % (vcode, (verr or vout).strip()[-300:]))
        if not problems and not self.a.keep:
            shutil.rmtree(work, ignore_errors=True)
        return what, problems, fired_name, repro


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--custody", required=True)
    ap.add_argument("--trials", type=int, default=int(os.environ.get("CUSTODY_TORTURE_TRIALS", "50")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CUSTODY_TORTURE_SEED", str(int(time.time())))))
    ap.add_argument("--only", type=int, help="run only this trial number of the seed's sequence")
    ap.add_argument("--failpoint", help="run one trial with this CUSTODY_FAILPOINT value")
    ap.add_argument("--commit-pages", type=int, choices=(1, 4), help="every trial uses this commit_pages")
    ap.add_argument("--keep", action="store_true", help="keep the work directories (a failed trial's is printed)")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per trial")
    a = ap.parse_args()
    a.custody = os.path.abspath(a.custody)
    trials = [0] if a.failpoint else ([a.only] if a.only is not None else range(a.trials))
    print("torture: %d trials, seed %d (rerun with --seed %d to reproduce)" % (len(trials), a.seed, a.seed),
          flush=True)
    base = tempfile.mkdtemp(prefix="custody-torture-")
    failed, fired, t0, tt = 0, set(), time.monotonic(), None
    try:
        with harness.Portal("--fsma-events", str(EVENTS), max_seconds=max(600, 30 + 15 * len(trials))) as portal:
            tt = Torture(a, portal, base)
            problems = tt.reference()
            if problems:
                print("torture: the reference runs are unusable:\n  " + "\n  ".join(problems))
                print("torture: 0 trials, 1 failed, failpoints hit: 0/%d, seed %d" % (len(NAMES), a.seed))
                return 1
            print("torture: reference polls: %s; slow poll %.2fs (commit_pages 1), %.2fs (4)"
                  % (", ".join("%s %d" % (n, tt.hits[1][n]) for n in NAMES), tt.seconds[1], tt.seconds[4]),
                  flush=True)
            for i, t in enumerate(trials):
                rnd = random.Random("%d/%d" % (a.seed, t))  # one stream per trial: --only T replays it
                what, problems, name, repro = tt.trial(t, rnd, a.failpoint)
                if name:
                    fired.add(name)
                if problems:
                    failed += 1
                    print("trial %d FAIL (seed %d, %s):\n  %s\n  repro: %s --custody %s %s%s"
                          % (t, a.seed, what, "\n  ".join(problems), sys.argv[0], a.custody, repro,
                             "  (kept: %s)" % os.path.join(base, "t%d" % t) if a.keep else ""), flush=True)
                elif a.verbose:
                    print("trial %d ok: %s" % (t, what), flush=True)
                if not a.verbose and (i + 1) % 100 == 0:
                    print("torture: %d/%d trials, %d failed, %.0fs" % (i + 1, len(trials), failed,
                                                                     time.monotonic() - t0), flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    if tt:
        st = tt.stats
        print("torture: %d failpoint trials (kill: %d, of which %d fired; error: %d, %d fired), %d kill -9 trials "
              "(%d kills landed before the poll finished), %d re-runs to complete; wall time %.0fs"
              % (st["failpoint kill"] + st["failpoint error"], st["failpoint kill"], st["fired kill"],
                 st["failpoint error"], st["fired error"], st["kill -9"], st["kills landed"], st["re-runs"],
                 time.monotonic() - t0))
    print("torture: %d trials, %d failed, failpoints hit: %d/%d, seed %d"
          % (len(trials), failed, len(fired), len(NAMES), a.seed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
