#!/usr/bin/env python3
"""custody run, end to end against the mock portal. Every run is bounded
(--for, and a hard timeout that kills a hung daemon); nothing here fails
because a machine is slow: schedules are judged by counts and by "never
early", caps by the overlap of requests the portal logged.

  scale     200 sources on `every: 4s`, three tenant pools with caps, a global
            cap: each source polled repeatedly, never before it was due,
            no pool (and not the whole) over its cap.
  sigterm   SIGTERM in the middle of a long paged cycle: exit 0, the cycle
            ends at a page boundary with poll.end audited; resuming gives
            exactly the store of an uninterrupted run; verify passes.
  reload    SIGHUP with a new source: config.reload audited with both
            hashes and the source polled; a broken file: reload_failed
            audited, the daemon keeps running on the old one.
  lock      a second daemon, a poll and a cursor reset on the same store are
            refused (3).
  alerts    rejection ratio raised once over several cycles, delivered to a
            command and to a webhook that fails once; cleared after a reload
            raises the limit; stale and breaker alerts for a dead upstream.
"""
import argparse
import http.server
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

CONTRACT = harness.KDE_CONTRACT


def source_yaml(name, url, every="3s", pool=None, limit=10, extra=""):
    s = ("  - name: %s\n    request:\n      url: %s/fsma/v1/events?src=%s\n"
         "      auth: { type: bearer, token_env: SUPPLIER_API_KEY }\n"
         "    records: $.data\n"
         "    pagination: { type: cursor, next: $.next_cursor, param: cursor, limit_param: limit, limit: %d }\n"
         "    contract: kde\n" % (name, url, name, limit))
    if every:
        s += "    every: %s\n" % every
    if pool:
        s += "    pool: %s\n" % pool
    return s + extra


class Daemon:
    """custody run in the background, its stderr (JSON log lines) kept."""

    def __init__(self, custody, work, args=(), hard_timeout=120):
        self.log_path = os.path.join(work, "daemon.log")
        self.logf = open(self.log_path, "w")
        env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, NO_COLOR="1")
        self.proc = subprocess.Popen([custody, "run", "-c", os.path.join(work, "config.yaml"), *args],
                                     stdout=subprocess.DEVNULL, stderr=self.logf, env=env, cwd=work)
        self.hard = time.time() + hard_timeout

    def wait(self, timeout=None):
        deadline = self.hard if timeout is None else min(self.hard, time.time() + timeout)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.logf.close()
                return self.proc.returncode
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        self.logf.close()
        raise AssertionError("custody run did not stop in time; log: " + self.log_tail())

    def log(self):
        with open(self.log_path) as f:
            lines = f.read().splitlines()
        out = []
        for ln in lines:
            if "ASan doesn't fully support makecontext/swapcontext" in ln:
                continue  # AddressSanitizer's one-time notice about coroutines (the switches are annotated)
            try:
                out.append(json.loads(ln))
            except ValueError:
                raise AssertionError("a log line is not JSON: %r" % ln)
        return out

    def log_tail(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def signal(self, sig):
        self.proc.send_signal(sig)


def audit(db, action=None):
    con = sqlite3.connect(db)
    try:
        q = "SELECT seq, time, action, source, subject, detail, cycle_id FROM audit"
        rows = con.execute(q + (" WHERE action = ?" if action else "") + " ORDER BY seq",
                           (action,) if action else ()).fetchall()
    except sqlite3.OperationalError as ex:
        if "no such table" not in str(ex):
            raise
        rows = []  # the daemon has not created its store yet
    finally:
        con.close()
    return [{"seq": r[0], "time": r[1], "action": r[2], "source": r[3], "subject": r[4],
             "detail": json.loads(r[5]) if r[5] else None, "cycle": r[6]} for r in rows]


def max_overlap(intervals):
    ev = []
    for a, b in intervals:
        ev.append((a, 1))
        ev.append((b, -1))
    ev.sort(key=lambda x: (x[0], x[1]))  # an end before a start at the same instant
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def verify(cli, work):
    code, out, err = cli.run("audit", "-c", os.path.join(work, "config.yaml"), "verify", timeout=300)
    assert code == 0, "audit verify failed (%d): %s %s" % (code, out, err)


def iso_ms(t):
    # "2026-11-25T10:00:00.123Z" -> seconds
    import calendar
    base, frac = t[:19], t[20:23] if len(t) > 20 else "0"
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000.0


def test_scale(custody, base):
    work = os.path.join(base, "scale")
    os.makedirs(work)
    caps = {"tenant_a": 2, "tenant_b": 3, "tenant_c": 1}
    with harness.Portal("--fsma-events", "20") as portal:
        portal.control("/_control/faults", {"rules": [
            {"path_prefix": "/fsma", "nth": 1, "times": 10 ** 9, "action": "slow", "delay_ms": 40}]})
        srcs, pool_of = [], {}
        for i in range(200):
            pool = ["tenant_a", "tenant_b", "tenant_c", None][i % 4] if i < 48 else None
            name = "s%03d" % i
            pool_of[name] = pool
            srcs.append(source_yaml(name, portal.url, every="4s", pool=pool, limit=10))
        pools = "".join("  %s: { max_concurrent: %d }\n" % (k, v) for k, v in caps.items())
        cfg = ("store: sqlite:custody.db\nrun: { max_concurrent: 12, startup_jitter: 4s, adaptive: false }\n"
               "pools:\n" + pools + "sources:\n" + "".join(srcs) + CONTRACT)
        with open(os.path.join(work, "config.yaml"), "w") as f:
            f.write(cfg)
        d = Daemon(custody, work, ["--for", "24s"])
        code = d.wait()
        assert code == 0, "daemon exit %d: %s" % (code, d.log_tail())
        log = d.log()
        reqs = [r for r in portal.control("/_control/requests")["requests"] if r["path"].startswith("/fsma")]
    starts = {}
    for a in audit(os.path.join(work, "custody.db"), "poll.start"):
        starts.setdefault(a["source"], []).append(iso_ms(a["time"]))
    # six fires are due in 24 s at every 4s; at least two, with a wide margin for slow machines
    missing = [n for n in pool_of if len(starts.get(n, [])) < 2]
    assert not missing, "sources polled fewer than twice in 24 s at every 4s: %s" % missing[:10]
    # never early: a fixed-rate schedule runs a source at most once per
    # interval over the run (plus the first), however late it starts
    early = [(n, len(ts)) for n, ts in starts.items() if len(ts) > int(24 / 4.0) + 1]
    assert not early, "sources polled more often than every 4s allows in 24 s: %s" % early[:10]
    # caps, from the portal's view of requests in flight
    by_pool = {}
    for r in reqs:
        name = r["query"].get("src")
        assert name in pool_of, r
        if r.get("t_end") is None:
            continue
        by_pool.setdefault(pool_of[name], []).append((r["t"], r["t_end"]))
    for p, cap in caps.items():
        got = max_overlap(by_pool.get(p, []))
        assert 1 <= got <= cap, "pool %s: %d requests in flight at once, cap %d" % (p, got, cap)
    total = max_overlap([iv for ivs in by_pool.values() for iv in ivs])
    assert total <= 12, "%d requests in flight at once, global cap 12" % total
    # the start-up spread is each source's phase: the second round is as
    # spread out as the first (not every source due at one instant)
    due2 = []
    for n, ts in starts.items():
        if len(ts) >= 2:
            late = [x["late_ms"] for x in log if x["event"] == "poll.end" and x.get("source") == n]
            if len(late) >= 2:
                due2.append(ts[1] - late[1] / 1000.0)
    span2 = max(due2) - min(due2) if due2 else 0
    assert span2 >= 2.0, "second-round due times span %.2f s; the 4 s start-up spread was lost" % span2
    ends = [x for x in log if x["event"] == "poll.end"]
    assert ends and all(x["result"] == "ok" for x in ends), [x for x in ends if x["result"] != "ok"][:3]
    assert all(x.get("cycle") for x in ends), "every poll.end log line carries its cycle id"
    late = sorted(x["late_ms"] for x in ends)
    stop = [x for x in log if x["event"] == "daemon.stop" and "cycles" in x]
    assert stop and stop[-1]["cycles"] == len(ends), "the stop line counts the cycles"
    print("scale: %d cycles of 200 sources, lateness p50 %d ms, p99 %d ms (informational), "
          "max in flight: %s, total %d" % (len(ends), late[len(late) // 2], late[len(late) * 99 // 100],
                                         {p: max_overlap(by_pool.get(p, [])) for p in caps}, total))
    cli = harness.Custody(custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
    verify(cli, work)


def test_sigterm(custody, base):
    events, limit = 1200, 50
    with harness.Portal("--fsma-events", str(events)) as portal:
        portal.control("/_control/faults", {"rules": [
            {"path_prefix": "/fsma", "nth": 1, "times": 10 ** 9, "action": "slow", "delay_ms": 120}]})
        ref = os.path.join(base, "term-ref")
        os.makedirs(ref)
        with open(os.path.join(ref, "config.yaml"), "w") as f:
            f.write(harness.fsma_config(portal.url, commit_pages=4, limit=limit))
        rcli = harness.Custody(custody, ref, {"SUPPLIER_API_KEY": harness.TOKEN})
        code, out, err = rcli.run("poll", "-q", "-c", os.path.join(ref, "config.yaml"), timeout=300)
        assert code == 0, err
        want = harness.store_snapshot(os.path.join(ref, "custody.db"))
        for trial, wait in enumerate((0.0, 0.4, 0.9)):
            work = os.path.join(base, "term%d" % trial)
            os.makedirs(work)
            with open(os.path.join(work, "config.yaml"), "w") as f:
                f.write(harness.fsma_config(portal.url, commit_pages=4, limit=limit) +
                        "run: { startup_jitter: 0s, shutdown_grace: 20s }\n")
            d = Daemon(custody, work)
            db = os.path.join(work, "custody.db")

            def committed():
                if not os.path.exists(db):
                    return 0
                con = sqlite3.connect(db)
                try:
                    return con.execute("SELECT count(*) FROM records").fetchone()[0]
                except sqlite3.OperationalError:
                    return 0  # not created yet
                finally:
                    con.close()
            # mid-poll means after a first commit (a slow machine takes longer
            # to get there), then a little more; 24 pages take >= 2.9 s
            deadline = time.time() + 60
            while time.time() < deadline and committed() == 0:
                time.sleep(0.05)
            time.sleep(wait)
            d.signal(signal.SIGTERM)
            code = d.wait(timeout=60)
            assert code == 0, "exit %d after SIGTERM: %s" % (code, d.log_tail())
            ends = audit(db, "poll.end")
            assert len(ends) == 1, "one cycle, ended cleanly with poll.end: %s" % ends
            det = ends[0]["detail"]
            assert det.get("interrupted") is True and det["result"] == "ok", det
            snap = harness.store_snapshot(db)
            held = len(snap["records"]) + len(snap["quarantine"])
            assert det["fetched"] % limit == 0 and det["fetched"] > 0, "whole pages only: %s" % det
            assert held == det["fetched"], "stored %d, the cycle says %d fetched" % (held, det["fetched"])
            assert snap["cursors"][0][1] is not None, "the cursor rests after the last committed page"
            assert audit(db, "daemon.stop"), "the stop is audited"
            cli = harness.Custody(custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
            verify(cli, work)
            code, out, err = cli.run("poll", "-q", "-c", os.path.join(work, "config.yaml"), timeout=300)
            assert code == 0, err
            got = harness.store_snapshot(db)
            assert got == want, "after resuming, the store differs from an uninterrupted run's"
            verify(cli, work)
            print("sigterm trial %d: stopped after %d of %d records at a page boundary; resumed to the "
                  "reference store" % (trial, det["fetched"], events))


def test_reload_and_lock(custody, base):
    work = os.path.join(base, "reload")
    os.makedirs(work)
    with harness.Portal("--fsma-events", "20") as portal:
        one = "store: sqlite:custody.db\nrun: { startup_jitter: 0s }\nsources:\n" + \
            source_yaml("first", portal.url, every="1s") + CONTRACT
        two = "store: sqlite:custody.db\nrun: { startup_jitter: 0s }\nsources:\n" + \
            source_yaml("first", portal.url, every="1s") + source_yaml("second", portal.url, every="1s") + CONTRACT
        cfgp = os.path.join(work, "config.yaml")
        with open(cfgp, "w") as f:
            f.write(one)
        d = Daemon(custody, work, ["--for", "30s"])
        db = os.path.join(work, "custody.db")
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.exists(db) and audit(db, "poll.end")):
            time.sleep(0.1)
        # the lock: a second daemon and a poll are refused while this one runs
        cli = harness.Custody(custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
        code, out, err = cli.run("run", "-c", cfgp, "--for", "2s", timeout=60)
        assert code == 3 and "locked" in err and "daemon" in err, (code, err)
        code, out, err = cli.run("poll", "-c", cfgp, timeout=60)
        assert code == 3 and "locked" in err, (code, err)
        # a cursor reset would be overwritten by the running cycle: refused too
        code, out, err = cli.run("cursor", "reset", "first", "--reason", "test", "-c", cfgp, timeout=60)
        assert code == 3 and "locked" in err, (code, err)
        assert not audit(db, "cursor.reset"), "a refused reset was audited"
        with open(cfgp, "w") as f:
            f.write(two)
        d.signal(signal.SIGHUP)
        deadline = time.time() + 30
        while time.time() < deadline and not [a for a in audit(db, "poll.end") if a["source"] == "second"]:
            time.sleep(0.1)
        assert [a for a in audit(db, "poll.end") if a["source"] == "second"], "the new source was polled"
        with open(cfgp, "w") as f:
            f.write(two.replace("sources:", "sources: [oops"))
        d.signal(signal.SIGHUP)
        deadline = time.time() + 30
        while time.time() < deadline and not audit(db, "config.reload_failed"):
            time.sleep(0.1)
        n_before = len(audit(db, "poll.end"))
        time.sleep(2.5)
        assert len(audit(db, "poll.end")) > n_before, "the daemon goes on with the old config"
        d.signal(signal.SIGTERM)
        assert d.wait(timeout=60) == 0, d.log_tail()
    rel = audit(db, "config.reload")
    assert len(rel) == 1 and rel[0]["detail"]["from"] != rel[0]["detail"]["to"], rel
    bad = audit(db, "config.reload_failed")
    assert len(bad) == 1 and "config.yaml:4:" in bad[0]["detail"]["error"] and bad[0]["detail"]["kept"] == rel[0]["detail"]["to"], bad
    ev = [x["event"] for x in d.log()]
    assert "config.reload" in ev
    with open(cfgp, "w") as f:
        f.write(two)
    verify(cli, work)
    print("reload: new source polled after SIGHUP, broken file kept the running config; lock refused "
          "a second daemon and a poll")


class Hook(http.server.BaseHTTPRequestHandler):
    bodies = []
    fail_first = True
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with Hook.lock:
            fail = Hook.fail_first
            Hook.fail_first = False
            if not fail:
                Hook.bodies.append(json.loads(body))
        self.send_response(500 if fail else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test_alerts(custody, base):
    work = os.path.join(base, "alerts")
    os.makedirs(work)
    sink = os.path.join(work, "alerts.jsonl")
    cmd = os.path.join(work, "page-oncall.sh")
    with open(cmd, "w") as f:
        f.write("#!/bin/sh\ncat >> %s\necho >> %s\n" % (sink, sink))
    os.chmod(cmd, 0o755)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens here: connection refused
    try:
        with harness.Portal("--fsma-events", "40", "--invalid-ratio", "0.3") as portal:
            def cfg(ratio):
                return ("store: sqlite:custody.db\nrun: { startup_jitter: 0s, adaptive: false }\n"
                        "alerts:\n  rejection_ratio: %s\n  stale_after: 2s\n  command: [%s]\n"
                        "  webhook: http://127.0.0.1:%d/incident\n  webhook_attempts: 3\n"
                        "sources:\n" % (ratio, cmd, srv.server_address[1]) +
                        source_yaml("dirty", portal.url, every="1s") +
                        source_yaml("down", "http://127.0.0.1:%d" % dead_port, every="1s",
                                    extra="    retry: { attempts: 1 }\n    breaker: { failures: 2, cooldown: 1h }\n") +
                        CONTRACT)
            cfgp = os.path.join(work, "config.yaml")
            with open(cfgp, "w") as f:
                f.write(cfg("0.05"))
            d = Daemon(custody, work, ["--for", "40s"])
            db = os.path.join(work, "custody.db")
            deadline = time.time() + 30

            def dirty_ends():
                return [a for a in audit(db, "poll.end") if a["source"] == "dirty"] if os.path.exists(db) else []
            while time.time() < deadline and len(dirty_ends()) < 4:
                time.sleep(0.1)
            assert len(dirty_ends()) >= 4, "four cycles of the dirty source"
            with open(cfgp, "w") as f:
                f.write(cfg("0.99"))
            d.signal(signal.SIGHUP)
            deadline = time.time() + 30
            while time.time() < deadline and not [a for a in audit(db, "alert.cleared") if a["source"] == "dirty"]:
                time.sleep(0.1)
            deadline = time.time() + 20
            while time.time() < deadline and len([a for a in audit(db, "alert.raised") if a["source"] == "down"]) < 2:
                time.sleep(0.1)
            time.sleep(1.5)  # a few more cycles: nothing more may be raised
            d.signal(signal.SIGTERM)
            assert d.wait(timeout=60) == 0, d.log_tail()
    finally:
        srv.shutdown()
    raised = audit(db, "alert.raised")
    cleared = audit(db, "alert.cleared")
    kinds = sorted((a["source"], a["subject"]) for a in raised)
    assert kinds.count(("dirty", "rejection_ratio")) == 1, "raised once per episode: %s" % kinds
    assert ("down", "stale") in kinds and ("down", "breaker_open") in kinds, kinds
    assert len(kinds) == len(set(kinds)), "no alert raised twice within one episode: %s" % kinds
    assert [(a["source"], a["subject"]) for a in cleared] == [("dirty", "rejection_ratio")], cleared
    # every raise and clear went to both channels
    with open(sink) as f:
        got = [json.loads(x) for x in f.read().split("\n") if x.strip()]
    want = sorted((a["source"], a["subject"], "raised") for a in raised) + \
        sorted((a["source"], a["subject"], "cleared") for a in cleared)
    assert sorted((g["source"], g["alert"], g["state"]) for g in got) == sorted(want), (got, want)
    hooks = sorted((b["source"], b["alert"], b["state"]) for b in Hook.bodies)
    assert hooks == sorted(want), (hooks, want)
    delivered = audit(db, "alert.delivered")
    assert len(delivered) == len(want), delivered
    assert max(a["detail"]["attempts"] for a in delivered) >= 3, "the failed webhook attempt was retried"
    rr = [g for g in got if g["alert"] == "rejection_ratio" and g["state"] == "raised"][0]
    assert "%" in rr["detail"] and rr["cycle"], rr
    cli = harness.Custody(custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
    code, out, err = cli.run("status", "-c", os.path.join(work, "config.yaml"), "--json", timeout=60)
    assert code == 0, err
    st = {s["source"]: s for s in json.loads(out)["sources"]}
    assert "stale" in st["down"]["alerts"] and st["down"]["breaker"] == "open", st["down"]
    assert st["dirty"]["alerts"] == [] and st["dirty"]["next_due"], st["dirty"]
    verify(cli, work)
    print("alerts: %d raised, %d cleared, each delivered once to the command and the webhook" %
          (len(raised), len(cleared)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--only")
    a = ap.parse_args()
    custody = os.path.abspath(a.custody)
    base = tempfile.mkdtemp(prefix="custody-daemon-")
    tests = [("scale", test_scale), ("sigterm", test_sigterm), ("reload", test_reload_and_lock),
             ("alerts", test_alerts)]
    failed = 0
    for name, fn in tests:
        if a.only and name != a.only:
            continue
        try:
            fn(custody, base)
            print("ok   %s" % name)
        except AssertionError as ex:
            failed += 1
            print("FAIL %s: %s" % (name, ex))
    print("daemon tests: %d failed (work in %s)" % (failed, base))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
