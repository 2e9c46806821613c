#!/usr/bin/env python3
"""bench/scale: N sources (default 10,000) each due every 60 s, polled by one
`custody run` for SECONDS (default 300) against the mock portal on loopback.
Prints schedule lateness p50/p99 (the daemon's own figures and ones computed
here from the poll.end log lines), peak RSS, CPU in cores, cycles achieved
against N/EVERY, failures and the store size, each as a ratio to the goal
(p99 lateness <= 1 s, RSS <= 256 MB, < 1 core); and beside them the ceiling
measured in this same run: the portal's own request throughput with a plain
concurrent client (curl -Z), so the output says whether the portal rather than
custody is the limit. Driven by bench/scale.sh; stdlib only. Every process is
bounded in time (portal --max-seconds, custody --for plus a hard kill, curl
--max-time); loopback only."""
import calendar
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTAL = os.path.join(ROOT, "tests", "mockportal", "portal.py")
TOKEN = "demo-token"
CLK = os.sysconf("SC_CLK_TCK")

CONTRACT = """
contracts:
  kde:
    key: [traceability_lot_code, event_type, event_timestamp]
    fields:
      traceability_lot_code:   { type: string, required: true, min_length: 1, max_length: 64 }
      product_description:     { type: string, required: true, min_length: 1 }
      quantity:                { type: number, required: true, gt: 0 }
      unit_of_measure:         { type: enum, required: true, values: [kg, lb, ea, case, pallet, liter, gallon] }
      origin_location_id:      { type: string, required: true, min_length: 1 }
      destination_location_id: { type: string, required: true, min_length: 1 }
      event_timestamp:         { type: datetime, required: true, normalize: utc }
      event_type:              { type: enum, required: true, values: [harvest, cooling, packing, shipping, receiving, transformation] }
      supplier_id:             { type: string, required: true, pattern: "^SUP-[0-9]+$" }
      updated_at:              { type: datetime, normalize: utc }
"""


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def duration_s(text):
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h)?\s*", text)
    if not m:
        sys.exit("bench/scale: bad duration %r (give e.g. 60s, 1m, 500ms)" % text)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


def pct(sorted_vals, p):
    """Nearest rank, as daemon.c computes its late_ms_p50/p99: v[n*p/100];
    "-" when there is nothing to rank."""
    if not sorted_vals:
        return "-"
    return sorted_vals[min(len(sorted_vals) - 1, len(sorted_vals) * p // 100)]


def proc_cpu_s(pid):
    """utime+stime of a live process, seconds (all its threads)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / CLK
    except (OSError, IndexError, ValueError):
        return None


def proc_mem_kb(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(("VmHWM:", "VmRSS:")):
                    out[ln.split(":")[0]] = int(ln.split()[1])
    except OSError:
        pass
    return out


def listen_overflows():
    """TcpExt ListenOverflows of this network namespace (SYNs dropped because
    an accept queue was full); None if unreadable."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
        for a, b in zip(lines, lines[1:]):
            if a.startswith("TcpExt:") and b.startswith("TcpExt:"):
                return int(dict(zip(a.split()[1:], b.split()[1:]))["ListenOverflows"])
    except (OSError, KeyError, ValueError):
        pass
    return None


class Portal:
    """One mock portal process. backlog > 0 starts it with that listen
    backlog (socketserver's default is 5) by setting the class attribute
    before portal.main(): portal.py itself is unchanged."""

    def __init__(self, work, idx, events, max_seconds, backlog):
        self.portfile = os.path.join(work, "portal%d.port" % idx)
        args = ["--port", "0", "--port-file", self.portfile, "--quiet", "--fsma-events", str(events),
                "--invalid-ratio", "0", "--max-seconds", str(int(max_seconds))]
        if backlog > 0:
            code = ("import sys; sys.path.insert(0, %r); import portal; portal.Server.request_queue_size = %d; "
                    "sys.argv = ['portal.py'] + %r; portal.main()" % (os.path.dirname(PORTAL), backlog, args))
            cmd = [sys.executable, "-c", code]
        else:
            cmd = [sys.executable, PORTAL] + args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "portal%d.err" % idx), "w"))
        deadline = time.time() + 60
        while not (os.path.exists(self.portfile) and os.path.getsize(self.portfile) > 0):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                sys.exit("bench/scale: portal %d did not start" % idx)
            time.sleep(0.05)
        with open(self.portfile) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())
        self.rusage = None

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode() or "null")

    def etag(self):
        req = urllib.request.Request(self.url + "/fsma/v1/events?limit=10&src=probe",
                                     headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return r.headers["ETag"]

    def stop(self):
        if self.proc.poll() is None and self.rusage is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.time() + 10
            while time.time() < deadline:
                pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.rusage = ru
                    self.proc.returncode = status
                    return
                time.sleep(0.05)
            self.proc.kill()
            self.proc.wait()


def ceiling(portals, work, n_req, parallel, etag):
    """Requests/s the portals answer to curl -Z (a plain concurrent C client
    that keeps connections alive), all portals at once, and the portal CPU
    seconds each request cost. etag=None: 200 pages (a first cycle);
    otherwise If-None-Match: 304s (a repoll)."""
    cfg = os.path.join(work, "ceiling.curl")
    with open(cfg, "w") as f:
        for i in range(n_req):
            f.write('url = "%s/fsma/v1/events?src=c%06d&limit=10"\noutput = /dev/null\n'
                    % (portals[i % len(portals)].url, i))
    cmd = ["curl", "-s", "-Z", "--parallel-max", str(parallel), "--max-time", "20", "--connect-timeout", "10",
           "-H", "Authorization: Bearer " + TOKEN, "-w", "%{http_code} %{time_total}\\n", "-K", cfg]
    if etag:
        cmd[1:1] = ["-H", "If-None-Match: " + etag]
    cpu0 = [proc_cpu_s(p.proc.pid) or 0.0 for p in portals]
    ov0 = listen_overflows()
    t0 = time.time()
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120).stdout.decode()
    except subprocess.TimeoutExpired:
        return None
    wall = time.time() - t0
    ov1 = listen_overflows()
    cpu = sum((proc_cpu_s(p.proc.pid) or 0.0) - c for p, c in zip(portals, cpu0))
    codes, slow = {}, 0
    for ln in out.splitlines():
        parts = ln.split()
        if len(parts) == 2:
            codes[parts[0]] = codes.get(parts[0], 0) + 1
            slow += float(parts[1]) >= 1.0
    ok = codes.get("304" if etag else "200", 0)
    return {"rps": ok / wall if wall > 0 else 0.0, "wall": wall, "codes": codes, "slow": slow,
            "cpu_per_req": cpu / max(ok, 1), "overflows": None if ov0 is None or ov1 is None else ov1 - ov0}


def sqlite_fullsync(path):
    """A SQLite database as custody opens its store (WAL, synchronous=FULL),
    warmed up: its WAL has grown to the auto-checkpoint size and restarted,
    so later commits overwrite it in place, as in a long-running store
    (a growing WAL makes every fdatasync a metadata journal commit too)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    for _ in range(1100):
        con.execute("BEGIN")
        con.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,))
        con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(PASSIVE)")
    con.execute("PRAGMA synchronous=FULL")
    return con


def store_ceiling(work, seconds=3.0):
    """Plain SQLite on the store's filesystem, as custody opens it (WAL,
    synchronous=FULL): one-row transactions committed back to back for
    `seconds`; commits/s is what one writer can do when each commit waits
    for the disk."""
    path = os.path.join(work, "ceiling.db")
    con = sqlite_fullsync(path)
    n, t0 = 0, time.time()
    while time.time() - t0 < seconds:
        con.execute("BEGIN")
        con.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,))
        con.execute("COMMIT")
        n += 1
    wall = time.time() - t0
    con.close()
    for suf in ("", "-wal", "-shm"):
        try:
            os.unlink(path + suf)
        except OSError:
            pass
    return n / wall


def proc_io(pid):
    out = {}
    try:
        with open("/proc/%d/io" % pid) as f:
            for ln in f:
                k, v = ln.split(":")
                out[k] = int(v)
    except (OSError, ValueError):
        pass
    return out


def source_yaml(name, url, every, limit):
    return ("  - name: %s\n    request:\n      url: %s/fsma/v1/events?src=%s\n"
            "      auth: { type: bearer, token_env: SUPPLIER_API_KEY }\n"
            "    records: $.data\n"
            "    pagination: { type: cursor, next: $.next_cursor, param: cursor, limit_param: limit, limit: %d }\n"
            "    contract: kde\n    every: %s\n" % (name, url, name, limit, every))


def iso_s(t):
    # "2026-11-25T10:00:00.123Z" -> epoch seconds
    return calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + (int(t[20:23]) / 1000.0 if len(t) > 20 else 0)


def main():
    custody = os.path.abspath(os.environ.get("CUSTODY") or os.path.join(ROOT, "build-bench", "custody"))
    n = env_int("SOURCES", 10000)
    seconds = env_int("SECONDS", 300)
    every_text = os.environ.get("EVERY") or "60s"
    every = duration_s(every_text)
    conc = env_int("MAX_CONCURRENT", 64)
    jitter_text = os.environ.get("STARTUP_JITTER") or every_text
    nportals = env_int("PORTALS", 1)
    backlog = env_int("PORTAL_BACKLOG", 1024)
    src_jitter = os.environ.get("SOURCE_JITTER", "").strip()
    events = env_int("EVENTS", 5)
    limit = env_int("LIMIT", 10)
    ceil_req = env_int("CEILING_REQUESTS", 3000)
    ceil_par = env_int("CEILING_PARALLEL", conc)
    strace_s = env_int("PROFILE_STRACE", 0)
    # transactions per cycle in poll.c poll_source: poll.start; the page (a first cycle, which stores
    # records; a 304 has none); poll.end + checkpoint. Each is a synchronous COMMIT unless the daemon
    # groups them; daemon.stop's "commits" (when the build reports it) and PROFILE_STRACE tell.
    tx_first, tx_repoll = 3, 2
    if not os.access(custody, os.X_OK):
        sys.exit("bench/scale: no custody binary at %s (build it, or set CUSTODY)" % custody)
    work = tempfile.mkdtemp(prefix="custody-scale-")
    try:
        version = subprocess.run([custody, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=10).stdout.decode().strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        version = "?"
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=10).stdout.decode().strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        head = "?"
    with open(custody, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    need_rps = n / every
    load0 = os.getloadavg()[0]
    print("binary: %s (%s), built %s, sha256 %s; the source tree is at HEAD %s now (plus any uncommitted edits)"
          % (custody, version, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(custody))),
             digest, head))
    cores = os.cpu_count()
    print("bench/scale: %d sources every %s for %d s (%.1f cycles/s due), max_concurrent %d, startup_jitter %s, "
          "%d portal(s)%s, %d cores, per-source jitter %s, work %s"
          % (n, every_text, seconds, need_rps, conc, jitter_text, nportals,
             " with listen backlog %d" % backlog if backlog else " as shipped (listen backlog 5)", cores,
             src_jitter or "none", work), flush=True)
    portals = []
    daemon = None
    try:
        for i in range(nportals):
            portals.append(Portal(work, i, events, seconds + 600, backlog))
        etag = portals[0].etag()

        # ---- the ceiling: the portal's own throughput to a plain client
        c200 = ceiling(portals, work, ceil_req, ceil_par, None)
        c304 = ceiling(portals, work, ceil_req, ceil_par, etag)
        for what, c in (("200 pages (first cycles)", c200), ("304 repolls", c304)):
            if c is None:
                print("ceiling %s: curl did not finish in 120 s" % what)
                continue
            print("ceiling portal %s: %.0f req/s to curl -Z --parallel-max %d (%d requests in %.2f s, codes %s, "
                  "%d took >= 1 s), %.2f ms portal CPU per request; listen-queue overflows %s"
                  % (what, c["rps"], ceil_par, sum(c["codes"].values()), c["wall"], c["codes"], c["slow"],
                     c["cpu_per_req"] * 1000, c["overflows"]), flush=True)
        for p in portals:
            p.control("/_control/reset", {})  # stats and request log: custody's only
        sq_before = store_ceiling(work)
        print("ceiling store: %.0f commits/s, plain SQLite WAL synchronous=FULL, one row per commit, on the store's "
              "filesystem: with a COMMIT per transaction (%d per repoll, %d per first cycle) one writer does at "
              "most %.0f-%.0f cycles/s (%.0f due); grouping commits across cycles lifts that"
              % (sq_before, tx_repoll, tx_first, sq_before / tx_first, sq_before / tx_repoll, need_rps), flush=True)

        # ---- the config
        cfg = ["store: sqlite:custody.db\n",
               "run: { max_concurrent: %d, startup_jitter: %s, adaptive: false, log: json }\n" % (conc, jitter_text),
               "sources:\n"]
        for i in range(n):
            cfg.append(source_yaml("s%05d" % i, portals[i % nportals].url, every_text, limit))
            if src_jitter:
                cfg.append("    jitter: %s\n" % src_jitter)
        cfg.append(CONTRACT)
        cfg_path = os.path.join(work, "config.yaml")
        with open(cfg_path, "w") as f:
            f.write("".join(cfg))

        # ---- the run
        log_path = os.path.join(work, "daemon.log")
        env = dict(os.environ, SUPPLIER_API_KEY=TOKEN, NO_COLOR="1")
        env.pop("CUSTODY_CONFIG", None)
        ov0 = listen_overflows()
        pcpu0 = [proc_cpu_s(p.proc.pid) or 0.0 for p in portals]
        t0 = time.time()
        with open(log_path, "w") as logf:
            daemon = subprocess.Popen([custody, "run", "-c", cfg_path, "--for", "%ds" % seconds],
                                      stdout=subprocess.DEVNULL, stderr=logf, env=env, cwd=work)
        hard = t0 + seconds + 180  # --for, the 10 s shutdown grace, and a margin for start-up
        samples = []  # (t, custody cpu s, VmRSS kB, VmHWM kB, portal cpu s)
        last_io = {}
        stop_sampling = threading.Event()

        def sampler():
            while not stop_sampling.is_set():
                c = proc_cpu_s(daemon.pid)
                m = proc_mem_kb(daemon.pid)
                if c is not None and m:
                    pc = sum(proc_cpu_s(p.proc.pid) or 0.0 for p in portals)
                    samples.append((time.time() - t0, c, m.get("VmRSS", 0), m.get("VmHWM", 0), pc))
                    io = proc_io(daemon.pid)
                    if io:
                        last_io.update(io)
                stop_sampling.wait(0.5)
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        probe = []  # latency (s) of one-row SQLite WAL+FULL commits on the same filesystem, every 0.5 s

        def prober():
            con = sqlite_fullsync(os.path.join(work, "probe.db"))
            while not stop_sampling.is_set():
                a = time.time()
                con.execute("BEGIN")
                con.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,))
                con.execute("COMMIT")
                probe.append(time.time() - a)
                stop_sampling.wait(0.5)
            con.close()
        th2 = threading.Thread(target=prober, daemon=True)
        th2.start()
        strace_out = None
        if strace_s > 0:
            # a syscall profile (wall time) of custody for PROFILE_STRACE seconds in the middle of the steady
            # window; strace slows what it traces, so the run's figures are not clean in that window
            def trace():
                nonlocal strace_out
                at = t0 + min(seconds - strace_s - 5, max(every + 5, (every + seconds - strace_s) / 2))
                time.sleep(max(0, at - time.time()))
                out = os.path.join(work, "strace.txt")
                try:
                    subprocess.run(["timeout", "-s", "INT", str(strace_s), "strace", "-c", "-f", "-w", "-o", out,
                                    "-p", str(daemon.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=strace_s + 30)
                    strace_out = (at, out)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            threading.Thread(target=trace, daemon=True).start()
        status = ru = None
        while True:
            pid, status, ru = os.wait4(daemon.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > hard:
                daemon.kill()
                _, status, ru = os.wait4(daemon.pid, 0)
                print("custody run did not stop by itself within %d s: killed" % (seconds + 180))
                break
            time.sleep(0.1)
        wall = time.time() - t0
        daemon.returncode = os.waitstatus_to_exitcode(status)
        stop_sampling.set()
        th.join()
        th2.join()
        pcpu = sum((proc_cpu_s(p.proc.pid) or 0.0) - c for p, c in zip(portals, pcpu0))
        ov1 = listen_overflows()
        stats = [p.control("/_control/stats") for p in portals]
        sq_after = store_ceiling(work)
    finally:
        if daemon is not None and daemon.poll() is None and daemon.returncode is None:
            daemon.kill()
        for p in portals:
            p.stop()

    # ---- the log
    ends, stop, start_t = [], None, None
    bad_lines = nlines = 0
    with open(log_path) as f:
        for ln in f:
            nlines += 1
            try:
                x = json.loads(ln)
            except ValueError:
                bad_lines += 1
                continue
            ev = x.get("event")
            if ev == "poll.end":
                ends.append(x)
            elif ev == "daemon.stop" and "cycles" in x:
                stop = x
            elif ev == "daemon.start" and start_t is None:
                start_t = iso_s(x["time"])
    start_t = start_t or t0
    seen, first, later, steady_starts = set(), [], [], 0
    due_k = {}  # k-th cycle of a source -> due times (s after start)
    count_k = {}
    late_all = []
    for x in ends:  # in log (end) order; a source's cycles never overlap
        lm = x.get("late_ms", 0)
        late_all.append(lm)
        began = iso_s(x["time"]) - x.get("seconds", 0.0) - start_t
        k = count_k[x.get("source")] = count_k.get(x.get("source"), 0) + 1
        if k <= 3:
            due_k.setdefault(k, []).append(began - lm / 1000.0)
        if x.get("source") in seen:
            later.append(lm)
        else:
            seen.add(x.get("source"))
            first.append(lm)
        if every <= began < seconds:
            steady_starts += 1
    durs = sorted(x.get("seconds", 0.0) for x in ends)
    ends_per = {}
    for x in ends:
        k = int((iso_s(x["time"]) - start_t) // 30)
        ends_per[k] = ends_per.get(k, 0) + 1
    late_all.sort()
    first.sort()
    later.sort()
    failed = [x for x in ends if x.get("result") != "ok"]
    interrupted = sum(1 for x in ends if x.get("interrupted"))
    expected = n * seconds / every
    steady_window = max(seconds - every, 0)

    # ---- resources
    hwm_kb = max([s[3] for s in samples] + [ru.ru_maxrss if ru else 0])
    cpu_total = (ru.ru_utime + ru.ru_stime) if ru else (samples[-1][1] if samples else 0.0)
    cores_used = cpu_total / wall if wall > 0 else 0.0

    def cpu_between(a, b):
        sel = [s for s in samples if a <= s[0] <= b]
        if len(sel) < 2:
            return None, None
        return ((sel[-1][1] - sel[0][1]) / (sel[-1][0] - sel[0][0]),
                (sel[-1][4] - sel[0][4]) / (sel[-1][0] - sel[0][0]))
    steady_cpu, steady_pcpu = cpu_between(every, seconds)
    peak_cpu, i0 = 0.0, 0
    for j in range(len(samples)):  # the busiest 10 s
        while samples[j][0] - samples[i0][0] > 10:
            i0 += 1
        if samples[j][0] - samples[i0][0] >= 9:
            peak_cpu = max(peak_cpu, (samples[j][1] - samples[i0][1]) / (samples[j][0] - samples[i0][0]))
    rss_at = []
    for frac in (0.25, 0.5, 0.75, 1.0):
        sel = [s for s in samples if s[0] <= frac * seconds]
        if sel:
            rss_at.append("%.0f s %.1f MB" % (sel[-1][0], sel[-1][2] / 1024.0))
    with open(os.path.join(work, "samples.csv"), "w") as f:
        f.write("t_s,custody_cpu_s,vmrss_kb,vmhwm_kb,portal_cpu_s\n")
        for s in samples:
            f.write("%.2f,%.2f,%d,%d,%.2f\n" % s)
    store_bytes = {}
    for suf in ("", "-wal", "-shm"):
        p = os.path.join(work, "custody.db" + suf)
        if os.path.exists(p):
            store_bytes[suf or "db"] = os.path.getsize(p)
    rows = {}
    try:
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(work, "custody.db"), uri=True, timeout=30)
        for tname in ("records", "audit", "quarantine", "sources"):
            try:
                rows[tname] = con.execute("SELECT count(*) FROM %s" % tname).fetchone()[0]
            except sqlite3.Error:
                pass
        con.close()
    except sqlite3.Error:
        pass
    by_status = {}
    reqs = 0
    for s in stats:
        reqs += s.get("requests", 0)
        for k, v in s.get("by_status", {}).items():
            by_status[k] = by_status.get(k, 0) + v
    pru = [p.rusage for p in portals if p.rusage]
    portal_cores = pcpu / wall if wall > 0 else 0.0
    ceil_rps = c304["rps"] if c304 else float("nan")
    mb = hwm_kb / 1024.0

    # ---- the summary
    print("")
    print("custody run: exit %d after %.1f s wall (--for %ds); %d log lines (%d not JSON), %d poll.end"
          % (daemon.returncode, wall, seconds, nlines, bad_lines, len(ends)))
    if stop:
        print("daemon.stop: " + ", ".join("%s %s" % (k, v) for k, v in stop.items()
                                          if k not in ("time", "level", "event", "msg")))
    else:
        print("daemon.stop: no summary line in the log (see %s)" % log_path)
    print("lateness from poll.end, all cycles (%d): p50 %s ms, p99 %s ms, max %s ms"
          % (len(late_all), pct(late_all, 50), pct(late_all, 99), late_all[-1] if late_all else "-"))
    print("lateness, first cycle of each source (%d; 200 + %d records stored, due across the %s start-up spread): "
          "p50 %s ms, p99 %s ms, max %s ms" % (len(first), events, jitter_text, pct(first, 50), pct(first, 99),
                                                first[-1] if first else "-"))
    print("lateness, later cycles (%d; conditional repolls, 304): p50 %s ms, p99 %s ms, max %s ms"
          % (len(later), pct(later, 50), pct(later, 99), later[-1] if later else "-"))
    print("cycles: %d of %.0f expected (N x %d s / %s) = %.3f; sources polled at least once: %d of %d; "
          "started in the steady window [%.0f s, %d s): %.1f/s of %.1f/s due = %.3f"
          % (len(ends), expected, seconds, every_text, len(ends) / expected if expected else 0, len(seen), n,
             every, seconds, steady_starts / steady_window if steady_window else 0, need_rps,
             (steady_starts / steady_window / need_rps) if steady_window else 0))
    print("failures: %d cycles not ok%s; %d interrupted at the stop"
          % (len(failed), (" (first: %s: %s)" % (failed[0].get("source"), failed[0].get("msg"))) if failed else "",
             interrupted))
    if durs:
        print("cycle duration (poll.end seconds; includes waiting for the store writer and its COMMIT): p50 %.3f s, "
              "p99 %.3f s, max %.3f s" % (pct(durs, 50), pct(durs, 99), durs[-1]))
    for k in sorted(due_k):
        v = sorted(due_k[k])
        print("due times of each source's cycle %d (%d): p1 %.1f s, p50 %.1f s, p99 %.1f s after start (%.1f s wide)"
              % (k, len(v), pct(v, 1), pct(v, 50), pct(v, 99), pct(v, 99) - pct(v, 1)))
    herd = False
    if 2 in due_k and 1 in due_k:
        w1 = pct(sorted(due_k[1]), 99) - pct(sorted(due_k[1]), 1)
        w2 = pct(sorted(due_k[2]), 99) - pct(sorted(due_k[2]), 1)
        if w2 < 0.25 * w1:
            herd = True
            print("  -> the start-up spread is not kept: the 2nd cycles of all sources fall due within %.1f s "
                  "(the 1st were spread over %.1f s): a burst of %d cycles at once" % (w2, w1, len(due_k[2])))
    print("cycles/s ended per 30 s: %s" % " ".join("%.0f" % (ends_per.get(k, 0) / 30.0)
                                                for k in range(int(seconds // 30) + 1)))
    if last_io:
        print("custody I/O: %.1f MB written to disk (%.1f kB per cycle), %d write syscalls (%.0f per cycle)"
              % (last_io.get("write_bytes", 0) / 1e6, last_io.get("write_bytes", 0) / 1e3 / max(len(ends), 1),
                 last_io.get("syscw", 0), last_io.get("syscw", 0) / max(len(ends), 1)))
    lo_sq, hi_sq = min(sq_before, sq_after), max(sq_before, sq_after)
    commits = stop.get("commits") if stop else None
    print("ceiling store (plain SQLite WAL+FULL commits/s): %.0f before the run, %.0f after (the disk is shared with "
          "whatever else runs on this host)" % (sq_before, sq_after))
    if commits:
        print("custody commits: %d COMMITs for %d cycles (%.2f cycles per COMMIT; %d-%d transactions per cycle "
              "without grouping), %.1f COMMITs/s on average = %.2f of the plain-SQLite ceiling"
              % (commits, len(ends), len(ends) / commits, tx_repoll, tx_first, commits / wall,
                 commits / wall / hi_sq if hi_sq else 0))
    if len(probe) > 1:
        pr = sorted(probe)
        print("disk during the run: a one-row SQLite WAL+FULL commit (probe every 0.5 s, %d): p50 %.2f ms, p90 %.2f ms, "
              "p99 %.2f ms, max %.1f ms; at the p50, a COMMIT per transaction allows %.0f repolls/s"
              % (len(pr), pct(pr, 50) * 1e3, pct(pr, 90) * 1e3, pct(pr, 99) * 1e3, pr[-1] * 1e3,
                 1.0 / max(pct(pr, 50), 1e-6) / tx_repoll))
    if strace_out:
        at, path = strace_out  # absolute time strace started
        in_win = sum(1 for x in ends if at <= iso_s(x["time"]) < at + strace_s)
        print("strace -c -f -w for %d s from t=%.0f s (about %d cycles ended in it; strace slows what it traces), "
              "top syscalls by wall time:" % (strace_s, at - t0, in_win))
        with open(path) as f:
            lines = [ln.rstrip() for ln in f if ln.strip()]
        for ln in lines[:9]:
            print("  " + ln)
        for ln in lines:
            if "fdatasync" in ln or " fsync" in ln:
                calls = int(ln.split()[3])
                print("  -> %s: %.2f per cycle" % (ln.split()[-1], calls / max(in_win, 1)))
    print("custody RSS: peak %.1f MB (VmHWM / ru_maxrss); VmRSS at %s" % (mb, ", ".join(rss_at)))
    print("custody CPU: %.1f s user+sys in %.1f s = %.3f cores overall; steady window %s; busiest 10 s %.3f cores"
          % (cpu_total, wall, cores_used, "%.3f cores" % steady_cpu if steady_cpu is not None else "-", peak_cpu))
    print("portal(s): %d requests %s, %.1f CPU s = %.3f cores during the run%s; listen-queue overflows "
          "(whole host) %s" % (reqs, dict(sorted(by_status.items())), pcpu, portal_cores,
                               " (steady window %.3f)" % steady_pcpu if steady_pcpu is not None else "",
                               None if ov0 is None or ov1 is None else ov1 - ov0))
    print("store: %s bytes (%s); rows %s" % (sum(store_bytes.values()),
                                            ", ".join("%s %d" % kv for kv in store_bytes.items()), rows))
    if pru:
        print("portal(s) lifetime: %.1f CPU s, peak RSS %.0f MB" % (
            sum(r.ru_utime + r.ru_stime for r in pru), max(r.ru_maxrss for r in pru) / 1024.0))

    p99 = stop.get("late_ms_p99") if stop else pct(late_all, 99)
    if not isinstance(p99, (int, float)):
        p99 = float("inf")  # no cycle at all: the goal is not met
    print("")
    print("== bench/scale summary: %d sources every %s, %d s, max_concurrent %d, %d portal(s), %d cores =="
          % (n, every_text, seconds, conc, nportals, cores))
    print("lateness p50 %s ms, p99 %s ms (daemon); later cycles only p99 %s ms; goal p99 <= 1000 ms: ratio %.2f %s"
          % (stop.get("late_ms_p50") if stop else pct(late_all, 50), p99, pct(later, 99), p99 / 1000.0,
             "ok" if p99 <= 1000 else "MISSED"))
    if herd and p99 > 1000:
        print("  the miss comes from the schedule: every source's later cycles fall due at the same instant (above); "
              "SOURCE_JITTER=%s spreads them with the per-source jitter option and shows custody without the burst"
              % every_text)
    print("peak RSS %.1f MB; goal <= 256 MB: ratio %.2f %s" % (mb, mb / 256.0, "ok" if mb <= 256 else "MISSED"))
    print("CPU %.3f cores overall (%s steady); goal < 1 core: ratio %.2f %s"
          % (cores_used, "%.3f" % steady_cpu if steady_cpu is not None else "-", cores_used,
             "ok" if cores_used < 1 else "MISSED"))
    print("cycles %d of %.0f expected: ratio %.3f; failures %d"
          % (len(ends), expected, len(ends) / expected if expected else 0, len(failed)))
    print("store: plain SQLite WAL+FULL %.0f-%.0f commits/s on this disk%s"
          % (lo_sq, hi_sq, "; custody %.1f COMMITs/s (%.2f cycles each): ratio to the ceiling %.2f"
             % (commits / wall, len(ends) / commits, commits / wall / hi_sq) if commits and hi_sq else
             "; a COMMIT per transaction would allow %.0f-%.0f repolls/s, %.0f due" %
             (lo_sq / tx_repoll, hi_sq / tx_repoll, need_rps)))
    print("portal need %.0f req/s; its ceiling to curl %.0f req/s (304s), %.0f req/s (200s): headroom %.1fx; "
          "portal CPU during the run %.3f cores%s"
          % (need_rps, ceil_rps, c200["rps"] if c200 else float("nan"), ceil_rps / need_rps if need_rps else 0,
             portal_cores, " -- the portal may be the limit" if portal_cores > 0.8 or ceil_rps < 1.5 * need_rps
             else " -- not the limit"))
    keep = bool(os.environ.get("KEEP"))
    print("store %.1f MB; load average before %.2f, after %.2f (other work on this host skews every figure); %s"
          % (sum(store_bytes.values()) / 1e6, load0, os.getloadavg()[0],
             "log, samples and store in " + work if keep else "work directory removed (KEEP=1 keeps it)"))
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if daemon.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
