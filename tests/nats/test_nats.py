#!/usr/bin/env python3
"""custody publish against a real `nats-server -js` started here: after a
poll, the stream holds exactly one message per stored record version, each
Nats-Msg-Id distinct, each payload's content_hash the store's; a second
`publish --once` publishes nothing; kill -9 of the publisher (at a chosen
instant, between the PubAcks and the position commit, and at a random one)
then a rerun still leaves one message per version (the broker drops what is
sent again); the broker stopped and restarted on the same store directory
and port while `publish --follow` runs: publishing resumes, nothing lost,
nothing twice; a bad URL, a missing stream, a missing outbox section and a
second publisher give clear errors. Exit 77 when nats-server is missing.
Every wait is bounded; no timing upper bound is asserted."""
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import harness  # noqa: E402
import natsclient  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what, flush=True)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def find_nats_server():
    for p in (shutil.which("nats-server"), "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if p and os.access(p, os.X_OK):
            return p
    return None


class NatsServer:
    """nats-server -js on 127.0.0.1:port with its store in sd; restartable
    on the same port and directory. Killed at the end whatever happens."""

    def __init__(self, binary, sd, port=None):
        self.binary, self.sd, self.port = binary, sd, port or free_port()
        self.proc = None
        self.logf = None

    def start(self, timeout=30):
        self.logf = open(os.path.join(self.sd, "..", "nats-server-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen([self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", self.sd],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nats-server exited with %d (see its log in %s)" % (self.proc.returncode, self.sd))
            try:
                with natsclient.Client("127.0.0.1", self.port, timeout=2) as c:
                    c.js("INFO")  # JetStream answers: ready
                    return
            except (OSError, natsclient.NatsError) as ex:
                last = ex
                time.sleep(0.1)
        raise RuntimeError("nats-server not ready within %d s: %s" % (timeout, last))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.logf:
            self.logf.close()
            self.logf = None

    def client(self):
        return natsclient.Client("127.0.0.1", self.port, timeout=10)

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port


def outbox_yaml(url, stream, prefix, extra=""):
    return ("\noutbox:\n  nats:\n    url: \"%s\"\n    stream: %s\n    subject_prefix: %s\n    ack_timeout: 2s\n"
            "    retry_max: 1s\n%s" % (url, stream, prefix, extra))


PG = None  # with --store pg: the PostgreSQL server (a database per scenario)


def db_rows(workdir, sql):
    """Rows of sql in the scenario's store; with --store pg values are text
    (callers convert)."""
    if PG:
        return PG.query(os.path.basename(workdir), sql)
    con = sqlite3.connect(os.path.join(workdir, "custody.db"), timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def config_text(workdir, url):
    """The fsma demo config of a scenario, on the scenario's store."""
    text = harness.fsma_config(url)
    if PG:
        text, _ = harness.replace_store_line(text, PG.create_database(os.path.basename(workdir)))
    return text


def stored_versions(workdir):
    rows = db_rows(workdir, "SELECT source, key, version, content_hash, canonical FROM records")
    return {"%s:%s:%d" % (s, k, int(v)): (h, c) for s, k, v, h, c in rows}


def record_seqs(workdir):
    rows = db_rows(workdir, "SELECT seq, source, subject, detail FROM audit WHERE action IN "
                            "('record.new','record.version','record.removed')")
    return {"%s:%s:%d" % (s, k, json.loads(d)["version"]): int(seq) for seq, s, k, d in rows}


def db_scalar(workdir, sql):
    rows = db_rows(workdir, sql)
    if not rows:
        return None
    v = rows[0][0]
    return int(v) if PG and v is not None and v.lstrip("-").isdigit() else v


def position(workdir, stream):
    v = db_scalar(workdir, "SELECT v FROM source_kv WHERE source='' AND k='outbox.nats.%s'" % stream)
    return int(v) if v is not None else 0


def last_record_seq(workdir):
    return db_scalar(workdir, "SELECT coalesce(max(seq), 0) FROM audit WHERE action IN "
                              "('record.new','record.version','record.removed')")


def check_stream(server, stream, prefix, workdir, label):
    """Exactly one message per stored version, ids distinct, payloads match."""
    want = stored_versions(workdir)
    seqs = record_seqs(workdir)
    with server.client() as c:
        msgs = c.stream_messages(stream)
    ids = [m["headers"].get("Nats-Msg-Id") for m in msgs]
    check(len(ids) == len(set(ids)), "%s: Nats-Msg-Id values are distinct (%d messages, %d ids)"
          % (label, len(ids), len(set(ids))))
    check(set(ids) == set(want), "%s: the stream holds one message per stored version: %d messages, %d versions, "
          "%d missing, %d extra" % (label, len(ids), len(want), len(set(want) - set(ids)), len(set(ids) - set(want))))
    bad = 0
    for m in msgs:
        mid = m["headers"].get("Nats-Msg-Id")
        if mid not in want:
            continue
        h, canonical = want[mid]
        env = json.loads(m["data"])
        ok = (env["content_hash"] == h and m["subject"] == "%s.%s" % (prefix, env["source"])
              and "%s:%s:%d" % (env["source"], json.dumps(env["key"], separators=(",", ":"), ensure_ascii=False),
                                env["version"]) == mid
              and int(m["headers"].get("Custody-Audit-Seq", "0")) == env["audit_seq"] == seqs[mid])
        if canonical:
            ok = ok and env["record"] == json.loads(canonical) and hashlib.sha256(canonical.encode()).hexdigest() == h
        else:
            ok = ok and env.get("purged") is True and "record" not in env
        if not ok:
            bad += 1
            if bad <= 3:
                print("  mismatch: %s %r" % (mid, m["data"][:300]))
    check(bad == 0, "%s: every payload matches its stored version (%d do not)" % (label, bad))
    return len(msgs)


def publish_json(out):
    for line in out.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    return {}


def scenario_basic(a, server, portal, root):
    """poll, publish --once, the stream, a second publish, audit verify."""
    work = os.path.join(root, "basic")
    os.makedirs(work)
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write(config_text(work, portal.url) + outbox_yaml(server.url, "BASIC", "basic", "    batch: 64\n"))
    cli = harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
    cli.run("poll", "-c", cfg, check=0)
    code, out, err = cli.run("publish", "-c", cfg, "--once", "--json", timeout=300)
    check(code == 0, "basic: publish --once exit %d: %s" % (code, err))
    res = publish_json(out)
    nver = len(stored_versions(work))
    check(nver > 100, "basic: the poll stored versions (%d)" % nver)
    check(res.get("published") == nver and res.get("duplicates") == 0,
          "basic: published %r of %d versions" % (res, nver))
    check(res.get("position", 0) >= last_record_seq(work), "basic: position %r covers the last record entry %d"
          % (res.get("position"), last_record_seq(work)))
    check_stream(server, "BASIC", "basic", work, "basic")
    with server.client() as c:
        info = c.stream_info("BASIC")
    check(info["config"]["subjects"] == ["basic.>"] and info["config"]["duplicate_window"] == 120 * 10**9,
          "basic: created stream config %r" % info["config"])
    audits = db_scalar(work, "SELECT count(*) FROM audit WHERE action='outbox.published'")
    counted = db_scalar(work, "SELECT sum((detail::jsonb ->> 'count')::int) FROM audit WHERE action='outbox.published'"
                        if PG else
                        "SELECT sum(json_extract(detail, '$.count')) FROM audit WHERE action='outbox.published'")
    check(counted == nver, "basic: outbox.published entries count %r messages" % counted)
    # idempotent: nothing new, nothing sent, nothing written
    code, out, err = cli.run("publish", "-c", cfg, "--once", "--json")
    res2 = publish_json(out)
    check(code == 0 and res2.get("published") == 0 and res2.get("position") == res.get("position"),
          "basic: a second publish --once publishes nothing: %d %r %s" % (code, res2, err))
    check(db_scalar(work, "SELECT count(*) FROM audit WHERE action='outbox.published'") == audits,
          "basic: a second publish --once writes no audit entry")
    with server.client() as c:
        check(c.stream_info("BASIC")["state"]["messages"] == nver, "basic: stream unchanged by the second publish")
    code, out, err = cli.run("audit", "-c", cfg, "verify")
    check(code == 0, "basic: audit verify passes with outbox entries: %d %s %s" % (code, out, err))
    # new versions after a mutation go out on the next publish, and only they
    portal.control("/_control/mutate", {"dataset": "fsma", "count": 25})
    cli.run("poll", "-c", cfg, check=0)
    nver2 = len(stored_versions(work))
    check(nver2 > nver, "basic: mutation made new versions (%d -> %d)" % (nver, nver2))
    code, out, err = cli.run("publish", "-c", cfg, "--json")
    res3 = publish_json(out)
    check(code == 0 and res3.get("published") == nver2 - nver, "basic: the new versions only: %r" % res3)
    check_stream(server, "BASIC", "basic", work, "basic after versions")
    if PG:
        # a shared store has no lock file: two publishers may run; the
        # position row is locked in each commit, so at most one advances it
        # over a stretch, and the broker drops what both sent
        portal.control("/_control/mutate", {"dataset": "fsma", "count": 25})
        cli.run("poll", "-c", cfg, check=0)
        ps = [subprocess.Popen([cli.binary, "publish", "-c", cfg, "--once"], cwd=work, env=cli.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        codes = [p.wait(timeout=120) for p in ps]
        check(all(c in (0, 3) for c in codes), "basic: two publishers on a shared store: exits %r" % codes)
        check_stream(server, "BASIC", "basic", work, "basic after two publishers")
        return
    # a second publisher on the same stream is refused while one runs
    p = subprocess.Popen([cli.binary, "publish", "-c", cfg, "--follow", "--for", "30s"], cwd=work, env=cli.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        code, out, err = cli.run("publish", "-c", cfg, "--once")
        check(code == 3 and "another custody publish" in err, "basic: second publisher refused: %d %s" % (code, err))
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            o, e = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
    check(p.returncode == 0, "basic: publish --follow stops with 0 on SIGTERM: %d %s" % (p.returncode, e.decode()))


def scenario_kill(a, server, portal, root):
    """kill -9 between the PubAcks and the position commit (a failpoint),
    then at a random instant of --follow: reruns leave one per version."""
    work = os.path.join(root, "kill")
    os.makedirs(work)
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write(config_text(work, portal.url) + outbox_yaml(server.url, "KILL", "kill", "    batch: 50\n"))
    cli = harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
    cli.run("poll", "-c", cfg, check=0)
    nver = len(stored_versions(work))
    env = dict(cli.env, CUSTODY_FAILPOINT="store.kv.after@3:kill")
    p = subprocess.run([cli.binary, "publish", "-c", cfg, "--once"], cwd=work, env=env, capture_output=True,
                       timeout=300)
    check(p.returncode == -signal.SIGKILL, "kill: the failpoint killed the publisher (%d %s)"
          % (p.returncode, p.stderr.decode()[-300:]))
    pos = position(work, "KILL")
    with server.client() as c:
        landed = c.stream_info("KILL")["state"]["messages"]
    check(landed == 150 and pos > 0, "kill: 3 batches landed (%d), 2 recorded (position %d)" % (landed, pos))
    code, out, err = cli.run("publish", "-c", cfg, "--once", "--json")
    res = publish_json(out)
    check(code == 0 and res.get("duplicates") == 50, "kill: the rerun sent the unrecorded batch again and the broker "
          "dropped it: %r %s" % (res, err))
    check(res.get("published", 0) + res.get("duplicates", 0) == nver - 100,
          "kill: the rerun covered the rest: %r of %d" % (res, nver))
    check_stream(server, "KILL", "kill", work, "kill failpoint")

    # a random kill -9 of --follow mid-stream
    portal.control("/_control/mutate", {"dataset": "fsma", "count": 400})
    cli.run("poll", "-c", cfg, check=0)
    cfg2 = os.path.join(work, "c2.yaml")
    with open(cfg) as f:
        text = f.read().replace("batch: 50", "batch: 5")
    with open(cfg2, "w") as f:
        f.write(text)
    before = position(work, "KILL")
    target = last_record_seq(work)
    p = subprocess.Popen([cli.binary, "publish", "-c", cfg2, "--follow", "--for", "5m"], cwd=work, env=cli.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and position(work, "KILL") <= before:
            time.sleep(0.01)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    mid = position(work, "KILL")
    print("kill: -9 at position %d (from %d, last record entry %d)" % (mid, before, target))
    code, out, err = cli.run("publish", "-c", cfg, "--once", "--json")
    check(code == 0, "kill: rerun after kill -9: %d %s" % (code, err))
    check_stream(server, "KILL", "kill", work, "kill -9 --follow")


def scenario_restart(a, server, portal, root):
    """The broker stopped mid-stream and restarted on the same directory
    and port while publish --follow runs; records committed meanwhile are
    published after it is back."""
    work = os.path.join(root, "restart")
    os.makedirs(work)
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write(config_text(work, portal.url) + outbox_yaml(server.url, "RESTART", "restart", "    batch: 4\n"))
    cli = harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
    cli.run("poll", "-c", cfg, check=0)
    logpath = os.path.join(work, "publish.log")
    with open(logpath, "wb") as logf:
        p = subprocess.Popen([cli.binary, "publish", "-c", cfg, "--follow", "--for", "10m", "--log", "json"], cwd=work,
                             env=cli.env, stdout=subprocess.PIPE, stderr=logf)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and position(work, "RESTART") == 0:
            time.sleep(0.01)
        server.stop(signal.SIGTERM)
        at_stop = position(work, "RESTART")
        print("restart: broker stopped at position %d of %d" % (at_stop, last_record_seq(work)))
        check(at_stop > 0, "restart: something was published before the stop")
        # committed while the broker is down
        portal.control("/_control/mutate", {"dataset": "fsma", "count": 40})
        cli.run("poll", "-c", cfg, check=0)
        # the publisher notices and retries (bounded wait for its log line)
        deadline = time.time() + 60
        seen = False
        while time.time() < deadline and not seen:
            with open(logpath, "rb") as f:
                seen = b"outbox.retry" in f.read()
            time.sleep(0.1)
        check(seen, "restart: the publisher logs its retries while the broker is down")
        check(p.poll() is None, "restart: publish --follow keeps running while the broker is down")
        server.start()
        target = last_record_seq(work)
        deadline = time.time() + 180
        while time.time() < deadline and position(work, "RESTART") < target and p.poll() is None:
            time.sleep(0.1)
        check(position(work, "RESTART") >= target, "restart: publishing resumed up to the last record entry (%d of %d)"
              % (position(work, "RESTART"), target))
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            out, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
    check(p.returncode == 0, "restart: publish --follow exit %d" % p.returncode)
    with open(logpath, "rb") as f:
        log = f.read().decode(errors="replace")
    check("outbox.recovered" in log, "restart: the log says publishing recovered")
    check_stream(server, "RESTART", "restart", work, "restart")


def scenario_errors(a, server, root, nats_bin):
    work = os.path.join(root, "errors")
    os.makedirs(work)
    os.makedirs(os.path.join(work, "drop"))
    with open(os.path.join(work, "drop", "a.jsonl"), "w") as f:
        f.write('{"id": "x1", "v": 1}\n{"id": "x2", "v": 2}\n')
    base = (("store: %s\n" % PG.create_database("errors")) if PG else "") + ("sources:\n  - name: files\n    files: { dir: drop, pattern: \"*.jsonl\", format: jsonl }\n"
            "    contract: k\ncontracts:\n  k:\n    key: [id]\n    fields:\n      id: { type: string, required: true }\n"
            "      v: { type: number }\n")
    cli = harness.Custody(a.custody, work)

    def write(name, text):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    nobox = write("none.yaml", base)
    cli.run("poll", "-c", nobox, check=0)
    code, out, err = cli.run("publish", "-c", nobox)
    check(code == 2 and "outbox.nats" in err, "errors: no outbox section: %d %s" % (code, err))
    dead = free_port()
    bad = write("bad.yaml", base + outbox_yaml("nats://127.0.0.1:%d" % dead, "ERR", "err", "    attempts: 2\n"))
    code, out, err = cli.run("publish", "-c", bad, "--once", timeout=120)
    check(code == 1 and "cannot connect" in err and "127.0.0.1:%d" % dead in err and "outbox.nats.url" in err,
          "errors: a bad URL: %d %s" % (code, err))
    check(position(work, "ERR") == 0, "errors: no position after a failed connect")
    creds = write("creds.yaml", base + outbox_yaml("nats://someone:s3cret@127.0.0.1:%d" % dead, "ERR", "err",
                                                   "    attempts: 1\n"))
    code, out, err = cli.run("publish", "-c", creds, "--once", timeout=120)
    check(code == 1 and "s3cret" not in err and "someone" not in err, "errors: credentials never printed: %s" % err)
    nostream = write("nostream.yaml", base + outbox_yaml(server.url, "MISSING", "missing", "    create_stream: false\n"))
    code, out, err = cli.run("publish", "-c", nostream, "--once")
    check(code == 2 and "stream MISSING does not exist" in err and "create_stream" in err,
          "errors: a missing stream: %d %s" % (code, err))
    code, out, err = cli.run("check", "-c", write("badprefix.yaml", base + outbox_yaml(server.url, "X", "a..b")))
    check(code == 2 and "subject_prefix" in err and "badprefix.yaml:" in err, "errors: bad prefix: %d %s" % (code, err))
    code, out, err = cli.run("publish", "-c", nobox, "--once", "--follow")
    check(code == 2, "errors: --once with --follow is a usage error")
    code, out, err = cli.run("publish", "-c", nobox, "--for", "10s")
    check(code == 2, "errors: --for without --follow is a usage error")
    # a subject bound to another stream: the PubAck names it, nothing advances
    with server.client() as c:
        c.js("STREAM.CREATE.OTHER", {"name": "OTHER", "subjects": ["other.>"], "storage": "memory"})
    wrong = write("wrong.yaml", base + outbox_yaml(server.url, "WRONG", "other", "    attempts: 1\n    create_stream: "
                                                   "false\n"))
    with server.client() as c:
        c.js("STREAM.CREATE.WRONG", {"name": "WRONG", "subjects": ["wrong.>"], "storage": "memory"})
    code, out, err = cli.run("publish", "-c", wrong, "--once")
    check(code == 1 and position(work, "WRONG") == 0 and "another stream" in err,
          "errors: subject of another stream: %d %s" % (code, err))
    print("errors: wrong stream said: " + err.strip().splitlines()[-1][:300])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--store", choices=("sqlite", "pg"), default="sqlite")
    a = ap.parse_args()
    global PG
    if a.store == "pg":
        import pgserver
        try:
            PG = pgserver.PgServer()
            PG.start()
        except pgserver.Unavailable as ex:
            print("PostgreSQL not installed: skipped (%s)" % ex)
            return 77
    nats_bin = find_nats_server()
    if not nats_bin:
        print("nats-server not installed: skipped (apt-get install nats-server)")
        return 77
    root = tempfile.mkdtemp(prefix="custody-nats-")
    sd = os.path.join(root, "js")
    os.makedirs(sd)
    server = NatsServer(nats_bin, sd)
    try:
        server.start()
        with harness.Portal("--fsma-events", "1500") as portal:
            for name, fn in (("basic", lambda: scenario_basic(a, server, portal, root)),
                             ("kill", lambda: scenario_kill(a, server, portal, root)),
                             ("restart", lambda: scenario_restart(a, server, portal, root)),
                             ("errors", lambda: scenario_errors(a, server, root, nats_bin))):
                t0 = time.time()
                try:
                    fn()
                except Exception as ex:  # one scenario's surprise must not hide the others
                    check(False, "%s: %s: %s" % (name, type(ex).__name__, ex))
                    if server.proc is None or server.proc.poll() is not None:
                        server.start()
                print("%s: %.1f s" % (name, time.time() - t0), flush=True)
    finally:
        server.stop(signal.SIGKILL)
        if PG:
            PG.stop()
        if not failures:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("left for inspection: " + root)
    print("nats: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
