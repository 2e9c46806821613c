#!/usr/bin/env python3
"""Many workers on one PostgreSQL store: leases with fencing epochs.

  fence   one `custody poll` is stopped (SIGSTOP) after its first commit,
          past its lease; a second poll takes the lease and finishes the
          source; the first, resumed, cannot commit (lease lost, or its
          idle transaction ended by the server) and exits 3. The store
          equals a single clean poll's: nothing lost, nothing twice, and
          `custody audit verify` passes.
  chaos   3 `custody run` workers, 100 sources: workers killed (kill -9,
          then restarted) and paused (SIGSTOP past the lease, then
          SIGCONT) at random. Once every source is complete the store
          equals a single-worker poll's: the same record versions and
          rejections, each key stored once, the audit log verifies.

Everything is bounded: workers run with --for and a hard kill, the chaos
lasts a fixed number of events. Exit 77 when PostgreSQL is not installed.
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import pgserver  # noqa: E402

CONTRACT = harness.KDE_CONTRACT


def config(uri, url, names, limit, every="2s", ttl="3s"):
    src = ""
    for n in names:
        src += ("  - name: %s\n    request:\n      url: %s/fsma/v1/events?src=%s\n"
                "      auth: { type: bearer, token_env: SUPPLIER_API_KEY }\n"
                "    records: $.data\n"
                "    pagination: { type: cursor, next: $.next_cursor, param: cursor, limit_param: limit, limit: %d }\n"
                "    commit_pages: 1\n    contract: kde\n    every: %s\n" % (n, url, n, limit, every))
    return ("store: %s\nrun: { startup_jitter: 0s, lease_ttl: %s, max_concurrent: 16, adaptive: false }\n"
            "sources:\n%s%s" % (uri, ttl, src, CONTRACT))


def state(pg, db):
    recs = pg.query(db, "SELECT source, key, version, content_hash FROM records ORDER BY 1, 2, 3")
    quar = pg.query(db, "SELECT source, recon_key FROM quarantine ORDER BY 1, 2")
    dup_new = pg.query(db, "SELECT count(*) FROM (SELECT source, subject FROM audit WHERE action = 'record.new' "
                           "GROUP BY source, subject HAVING count(*) > 1) d")
    return [tuple(r) for r in recs], [tuple(r) for r in quar], int(dup_new[0][0])


def run(custody, cfg_path, *args, timeout=300):
    env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, NO_COLOR="1")
    p = subprocess.run([custody, *args, "-c", cfg_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def reference(custody, pg, portal, work, names, limit):
    uri = pg.create_database("reference")
    path = os.path.join(work, "reference.yaml")
    with open(path, "w") as f:
        f.write(config(uri, portal.url, names, limit))
    code, out, err = run(custody, path, "poll")
    assert code == 0, "reference poll failed (%d):\n%s\n%s" % (code, out, err)
    return state(pg, "reference")


def check_same(pg, db, ref, what):
    got = state(pg, db)
    assert got[2] == 0, "%s: a key was stored as new twice (%d keys)" % (what, got[2])
    assert got[0] == ref[0], "%s: records differ from the single clean poll: %d vs %d versions; first difference %r" % (
        what, len(got[0]), len(ref[0]), next((a, b) for a, b in zip(got[0] + [None], ref[0] + [None]) if a != b))
    assert got[1] == ref[1], "%s: rejections differ: %d vs %d" % (what, len(got[1]), len(ref[1]))


def test_fence(custody, pg, portal, work):
    names = ["solo"]
    ref = reference(custody, pg, portal, work, names, 5)
    uri = pg.create_database("fence")
    path = os.path.join(work, "fence.yaml")
    with open(path, "w") as f:
        f.write(config(uri, portal.url, names, 5, ttl="1s"))
    env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, NO_COLOR="1")
    a = subprocess.Popen([custody, "poll", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and a.poll() is None:
            n = pg.query("fence", "SELECT count(*) FROM records") if pg.query(
                "fence", "SELECT to_regclass('records') IS NOT NULL")[0][0] == "t" else [["0"]]
            if int(n[0][0]) > 0:
                break
            time.sleep(0.02)
        assert a.poll() is None, "the first poll finished before it could be paused; the source is too small"
        os.kill(a.pid, signal.SIGSTOP)
        time.sleep(2.5)  # past the 1 s lease
        code, out, err = run(custody, path, "poll")
        assert code == 0, "the second worker could not take over the expired lease (%d):\n%s\n%s" % (code, out, err)
        assert "skipped" not in out, out
        os.kill(a.pid, signal.SIGCONT)
        aout, aerr = a.communicate(timeout=120)
    finally:
        if a.poll() is None:
            os.kill(a.pid, signal.SIGCONT)
            a.kill()
            a.wait()
    aerr = aerr.decode()
    assert a.returncode == 3, "the paused worker exited %d, expected 3 (store refused):\n%s" % (a.returncode, aerr)
    assert "lease lost" in aerr or "connection" in aerr, "the paused worker's error does not say why:\n" + aerr
    check_same(pg, "fence", ref, "fence")
    code, out, err = run(custody, path, "audit", "verify")
    assert code == 0, "audit verify after the fenced worker:\n%s\n%s" % (out, err)
    print("fence: ok (paused worker refused: %s)" % aerr.strip().splitlines()[-1][:160])


def test_chaos(custody, pg, portal, work, seed):
    rnd = random.Random(seed)
    names = ["s%03d" % i for i in range(100)]
    ref = reference(custody, pg, portal, work, names, 10)
    uri = pg.create_database("chaos")
    path = os.path.join(work, "chaos.yaml")
    with open(path, "w") as f:
        f.write(config(uri, portal.url, names, 10))
    env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, NO_COLOR="1")
    logs = []

    def start(i):
        log = open(os.path.join(work, "worker%d-%d.log" % (i, len(logs))), "w")
        logs.append(log)
        return subprocess.Popen([custody, "run", "-c", path, "--for", "150s", "--log", "text"],
                                stdout=subprocess.DEVNULL, stderr=log, env=env)

    workers = [start(i) for i in range(3)]
    kills = pauses = 0
    try:
        for _ in range(14):  # bounded chaos: 14 events, 1-2.5 s apart
            time.sleep(rnd.uniform(1.0, 2.5))
            i = rnd.randrange(3)
            if rnd.random() < 0.5:
                workers[i].kill()
                workers[i].wait()
                workers[i] = start(i)
                kills += 1
            else:
                os.kill(workers[i].pid, signal.SIGSTOP)
                time.sleep(rnd.uniform(3.5, 5.0))  # past the 3 s lease
                os.kill(workers[i].pid, signal.SIGCONT)
                pauses += 1
        # let the survivors finish every source (bounded)
        want = len(ref[0])
        deadline = time.time() + 120
        while time.time() < deadline:
            n = int(pg.query("chaos", "SELECT count(*) FROM records")[0][0])
            if n >= want:
                break
            time.sleep(0.5)
        time.sleep(3)  # cycles in flight end (they find nothing new)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGCONT)
                w.terminate()
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        for log in logs:
            log.close()
    check_same(pg, "chaos", ref, "chaos (%d kills, %d pauses)" % (kills, pauses))
    code, out, err = run(custody, path, "audit", "verify")
    if code != 0:
        import re
        m = re.search(r"cycle ([0-9a-f]{32})", err)
        rows = pg.query("chaos", "SELECT seq, action, source, subject, left(detail, 160) FROM audit WHERE cycle_id = '%s'"
                        " ORDER BY seq LIMIT 20" % m.group(1)) if m else []
        recs = pg.query("chaos", "SELECT source, key, version, config_hash FROM records WHERE cycle_id = '%s' LIMIT 5"
                        % m.group(1)) if m else []
        raise AssertionError("audit verify after chaos:\n%s\n%s\naudit of the cycle: %r\nrecords: %r"
                             % (out, err, rows, recs))
    owners = pg.query("chaos", "SELECT count(DISTINCT owner) FROM leases")[0][0]
    print("chaos: ok (%d record versions, %d kills, %d pauses, %s worker ids held leases)"
          % (len(ref[0]), kills, pauses, owners))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CUSTODY_TEST_SEED", "9")))
    a = ap.parse_args()
    try:
        pg = pgserver.PgServer()
        pg.start()
    except pgserver.Unavailable as ex:
        print("skip: %s" % ex)
        return 77
    work = tempfile.mkdtemp(prefix="custody-workers-")
    try:
        with harness.Portal("--fsma-events", "120") as portal:
            test_fence(custody=a.custody, pg=pg, portal=portal, work=work)
            test_chaos(a.custody, pg, portal, work, a.seed)
    finally:
        pg.stop()
    print("workers: all passed (seed %d)" % a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
