#!/usr/bin/env python3
"""Upstream resilience and politeness, from the user's side (docs/resilience.md).

Each test starts its own demo portal (tests/mockportal) on an ephemeral
loopback port and a scratch directory, writes a config derived from
examples/fsma204.yaml, runs the custody CLI, and checks what happened from
both ends: the portal's own request log and statistics, and custody's store
(records, quarantine, audit, source_kv) plus its exit codes and messages.
Every store a test touched must still pass `custody audit verify`.

    python3 tests/resilience/test_resilience.py --custody build/custody [-v] [-k PATTERN]

Exit 0 only if every test passes; the last line is a summary."""
import argparse
import json
import os
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

CUSTODY = None           # set by main()
SOURCE = "supplier_8842"
EVENTS = 300             # with LIMIT 100: 3 pages
LIMIT = 100
PORTAL_SECONDS = 180     # every portal stops by itself
TEST_SECONDS = 90        # every test is cut off (SIGALRM) after this
SECRET = "s3cr3t-XYZ-123"
FAST_RETRY = "retry: { attempts: 5, base: 100ms, max: 400ms }"


# ---------------------------------------------------------------------------
# helpers

def make_config(url, source_extra=(), request_extra=(), auth=None, source_url=None,
                limit=LIMIT, commit_pages=20, timeout="timeout: { connect: 5s, total: 10s }"):
    """examples/fsma204.yaml for the portal at url, with extra source keys
    (indented under the source) and extra request keys (under request)."""
    text = harness.fsma_config(url, extra_source="".join("\n    " + s for s in source_extra),
                               commit_pages=commit_pages, limit=limit)
    old_timeout = "timeout: { connect: 10s, total: 30s }"
    assert old_timeout in text
    text = text.replace(old_timeout, "\n      ".join([timeout, *request_extra]))
    if auth is not None:
        old_auth = "auth: { type: bearer, token_env: SUPPLIER_API_KEY }"
        assert old_auth in text
        text = text.replace(old_auth, "auth: " + auth)
    if source_url is not None:
        text = text.replace("url: %s/fsma/v1/events" % url, "url: " + source_url)
    return text


def truth(portal, dataset="fsma"):
    """Ground truth from the portal (as tests/cases/run_case.py computes it)."""
    recs = harness.records_of(portal.dataset(dataset))
    invalid = sum(1 for r in recs if harness.is_invalid(r))
    valid_pairs = sorted((r["record"]["traceability_lot_code"], r["record"]["event_type"])
                         for r in recs if not harness.is_invalid(r))
    return {"total": len(recs), "invalid": invalid, "valid": len(recs) - invalid, "pairs": valid_pairs}


class Bench:
    """One scratch directory with a config and a custody CLI bound to it."""

    def __init__(self, test, portal, text, env=None, name="work"):
        self.test = test
        self.portal = portal
        self.dir = tempfile.mkdtemp(prefix="custody-res-%s-" % name)
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.cfg = os.path.join(self.dir, "config.yaml")
        self.write(text)
        e = {"SUPPLIER_API_KEY": harness.TOKEN}
        e.update(env or {})
        self.cli = harness.Custody(CUSTODY, self.dir, e)
        self.outputs = []            # everything custody printed, for secret scans
        test.benches.append(self)

    def write(self, text):
        with open(self.cfg, "w") as f:
            f.write(text)

    def run(self, *args, timeout=60):
        code, out, err = self.cli.run(args[0], "-c", self.cfg, *args[1:], timeout=timeout)
        self.outputs.append((args, out, err))
        return code, out, err

    def poll(self, timeout=60):
        """poll --json: (exit code, the source's summary dict or None, stderr)."""
        code, out, err = self.run("poll", "--json", timeout=timeout)
        summary = None
        try:
            summary = json.loads(out)["sources"][0]
        except (ValueError, KeyError, IndexError):
            pass
        return code, summary, err

    def sql(self, query, args=()):
        con = sqlite3.connect(os.path.join(self.dir, "custody.db"))
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def audit(self, action):
        return [(subj, json.loads(detail)) for subj, detail in
                self.sql("SELECT subject, detail FROM audit WHERE action=? ORDER BY seq", (action,))]

    def cursor(self):
        rows = self.sql("SELECT cursor FROM sources WHERE name=?", (SOURCE,))
        return rows[0][0] if rows else None

    def kv(self, k):
        rows = self.sql("SELECT v FROM source_kv WHERE source=? AND k=?", (SOURCE, k))
        return rows[0][0] if rows else None

    def assert_complete(self, t, first_sight=True):
        """Every valid record of the portal's dataset stored exactly once
        (version 1), every invalid one in quarantine once (and, with
        first_sight, seen once: no page was processed twice)."""
        tc = self.test
        keys = [json.loads(k) for (k,) in self.sql("SELECT key FROM records WHERE source=?", (SOURCE,))]
        tc.assertEqual(len(keys), t["valid"], "records stored vs valid records upstream")
        tc.assertEqual(sorted((k[0], k[1]) for k in keys), t["pairs"],
                       "stored (lot, event_type) keys differ from the portal's valid records")
        tc.assertEqual(self.sql("SELECT count(*), count(DISTINCT key), max(version) FROM records"),
                       [(t["valid"], t["valid"], 1)], "a record stored twice or as a second version")
        tc.assertEqual(self.sql("SELECT count(*) FROM quarantine"), [(t["invalid"],)],
                       "quarantine vs invalid records upstream")
        if first_sight:
            tc.assertEqual(self.sql("SELECT coalesce(sum(times_seen),0) FROM quarantine"), [(t["invalid"],)],
                           "an invalid record was counted twice: a page was processed twice")

    def verify(self):
        code, out, err = self.run("audit", "verify")
        self.test.assertEqual(code, 0, "audit verify failed in %s:\n%s\n%s" % (self.dir, out, err))


def requests_log(portal, data_only=True):
    reqs = portal.control("/_control/requests")["requests"]
    if data_only:
        reqs = [r for r in reqs if r["path"].startswith(("/fsma/", "/mirror/"))]
    return reqs


def fsma_requests(portal):
    return requests_log(portal)


class Base(unittest.TestCase):
    def setUp(self):
        self.benches = []
        self.started = time.time()

        def on_alarm(*_):
            raise TimeoutError("test exceeded %d s" % TEST_SECONDS)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(TEST_SECONDS)
        self.addCleanup(signal.alarm, 0)

    def portal(self, *args, events=EVENTS):
        p = harness.Portal("--fsma-events", str(events), *args, max_seconds=PORTAL_SECONDS)
        self.addCleanup(shutil.rmtree, p.dir, True)
        self.addCleanup(p.stop)
        return p

    def bench(self, portal, text, **kw):
        return Bench(self, portal, text, **kw)

    def faults(self, portal, *rules):
        portal.control("/_control/faults", {"rules": list(rules)})

    def verify_all(self):
        """Requirement 12: every store a test used ends with audit verify OK."""
        for b in self.benches:
            if os.path.exists(os.path.join(b.dir, "custody.db")):
                b.verify()

    def assert_no_early(self, portal):
        st = portal.control("/_control/stats")
        self.assertEqual(st["early_requests"], 0, "requests arrived before the announced Retry-After")
        early = [r for r in requests_log(portal, data_only=False) if r.get("early")]
        self.assertEqual(early, [], "log entries flagged early")


# ---------------------------------------------------------------------------
# 1. Retry-After

class T01RetryAfter(Base):
    def _case(self, rule, wait):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=[FAST_RETRY]))
        self.faults(p, dict(path_prefix="/fsma/", nth=2, times=1, status=429, **rule))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        self.assertEqual(s["result"], "ok")
        b.assert_complete(truth(p))
        self.assert_no_early(p)
        log = fsma_requests(p)
        i = [r["status"] for r in log].index(429)
        self.assertEqual(log[i + 1]["query"], log[i]["query"], "the 429'd page is asked again")
        gap = log[i + 1]["t"] - log[i]["t_end"]
        self.assertGreaterEqual(gap, wait - 0.03, "retry sent %.3f s after a Retry-After of %s s" % (gap, wait))
        retried = [d for _, d in b.audit("http.request") if d.get("status") == 429]
        self.assertEqual(len(retried), 1)
        self.assertIn("retry", retried[0], "audit http.request of the 429 carries the retry decision")
        self.assertEqual(retried[0]["retry"].get("verdict"), "again")
        self.assertGreaterEqual(retried[0]["retry"].get("delay_ms", 0), (wait - 0.03) * 1000)
        self.verify_all()

    def test_retry_after_seconds(self):
        self._case({"retry_after": 2}, 2)

    def test_retry_after_http_date(self):
        # an IMF-fixdate has 1 s resolution: the permitted time is at least
        # 1 s ahead; the portal's "early" flag is the exact check.
        self._case({"retry_after_date": 2}, 1)


class T01bRateLimitHeaders(Base):
    """The other ways an upstream names a time: X-RateLimit-Reset (seconds
    or epoch), IETF RateLimit, a 403 whose quota is spent, 503 Retry-After;
    and a wait beyond retry.max_wait, which is stored for later runs."""

    def _wait_case(self, rule, not_before):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 3, base: 100ms, max: 200ms }"]))
        self.faults(p, dict(path_prefix="/fsma/", nth=2, times=1, **rule))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        self.assert_no_early(p)
        log = fsma_requests(p)
        self.assertEqual(len(log), 4)
        self.assertEqual(log[2]["query"], log[1]["query"])
        earliest = not_before(log[1])
        self.assertGreaterEqual(log[2]["t"], earliest - 0.03,
                                "retry %.3f s before the named time" % (earliest - log[2]["t"]))
        d = [d for _, d in b.audit("http.request") if d.get("status") == rule["status"]]
        self.assertEqual(d[0].get("retry", {}).get("verdict"), "again", d)
        self.verify_all()

    def test_x_ratelimit_reset_seconds(self):
        self._wait_case({"status": 429, "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}},
                        lambda r: r["t_end"] + 2)

    def test_x_ratelimit_reset_epoch(self):
        reset = int(time.time()) + 3        # installed just before the poll
        self._wait_case({"status": 429, "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}},
                        lambda r: reset)

    def test_403_quota_spent_is_a_429(self):
        self._wait_case({"status": 403, "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}},
                        lambda r: r["t_end"] + 2)

    def test_ietf_ratelimit(self):
        self._wait_case({"status": 429, "ratelimit_headers": {"RateLimit": "limit=5, remaining=0, reset=2",
                                                              "RateLimit-Policy": "5;w=60"}},
                        lambda r: r["t_end"] + 2)

    def test_503_retry_after(self):
        self._wait_case({"status": 503, "retry_after": 2}, lambda r: r["t_end"] + 2)

    def test_wait_beyond_max_wait_is_kept_for_later_runs(self):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=[
            "retry: { attempts: 3, base: 100ms, max: 200ms, max_wait: 1s }"], commit_pages=1))
        self.faults(p, {"path_prefix": "/fsma/", "nth": 2, "times": 1, "status": 429, "retry_after": 4})
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertIn("max_wait", err)
        log = fsma_requests(p)
        self.assertEqual([r["status"] for r in log], [200, 429], "no retry within the poll")
        announced = log[1]["t_end"] + 4
        page2 = log[1]["query"]["cursor"]
        self.assertEqual(b.cursor(), page2, "cursor kept at the page that was refused")
        # a new process before the time: no request at all
        before = len(requests_log(p, data_only=False))
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertEqual(len(requests_log(p, data_only=False)), before, "a later run called before Retry-After")
        # after it: resumes at page 2 and completes
        time.sleep(max(0.0, announced - time.time() + 0.1))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        self.assert_no_early(p)
        self.verify_all()


# ---------------------------------------------------------------------------
# 2. 5xx then success: nothing lost, nothing twice

class T02ServerErrors(Base):
    def _case(self, rules, expect_statuses):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=[FAST_RETRY], commit_pages=1))
        self.faults(p, *rules)
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        self.assertEqual(s["result"], "ok")
        b.assert_complete(truth(p))
        statuses = [r["status"] for r in fsma_requests(p)]
        self.assertEqual(statuses, expect_statuses)
        again = [d for _, d in b.audit("http.request") if d.get("status", 0) >= 500]
        self.assertEqual(len(again), expect_statuses.count(500) + expect_statuses.count(503))
        self.assertTrue(all(d.get("retry", {}).get("verdict") == "again" for d in again), again)
        # a second poll rereads the last page only: still exactly once
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p), first_sight=False)
        self.verify_all()

    def test_503_burst_then_success(self):
        self._case([{"path_prefix": "/fsma/", "nth": 2, "times": 3, "status": 503}],
                   [200, 503, 503, 503, 200, 200])

    def test_not_retried(self):
        # other 4xx never; a status outside a custom retry.on neither
        for rule, retry in (({"status": 404}, FAST_RETRY),
                            ({"status": 400}, FAST_RETRY),
                            ({"status": 500}, "retry: { attempts: 5, base: 100ms, max: 200ms, on: [503] }")):
            with self.subTest(rule=rule, retry=retry):
                p = self.portal()
                b = self.bench(p, make_config(p.url, source_extra=[retry]))
                self.faults(p, dict(path_prefix="/fsma/", nth=1, times=10 ** 6, **rule))
                code, s, err = b.poll()
                self.assertEqual(code, 1, err)
                self.assertIn("HTTP %d" % rule["status"], err)
                self.assertEqual(len(fsma_requests(p)), 1, "not retried")
                d = b.audit("http.request")[0][1]
                self.assertNotEqual(d.get("retry", {}).get("verdict"), "again", d)
        self.verify_all()

    def test_500_then_success(self):
        self._case([{"path_prefix": "/fsma/", "nth": 1, "times": 1, "status": 500}],
                   [500, 200, 200, 200])


# ---------------------------------------------------------------------------
# 3. transport faults: retried when transient; clean failure when persistent

TRANSPORT = {
    # name: (rule, timeout line (None: SHORT_TIMEOUT), words one of which the failure message must hold)
    "slow_headers": ({"delay_ms": 2500}, None, ["timed out", "timeout"]),
    "slow_body": ({"action": "slow_body", "chunk_delay_ms": 200, "chunk_bytes": 1024}, None,
                  ["timed out", "timeout"]),
    "reset": ({"action": "reset"}, None, ["reset"]),
    "truncate": ({"action": "truncate"}, None, ["transfer closed", "truncat", "cut short", "remaining"]),
    "html200": ({"action": "html200"}, None, ["html"]),
    "close": ({"action": "close"}, None, ["empty reply", "closed", "connection"]),
    # a body that dribbles 1 KiB per 1.5 s, under a 5000 B/s low-speed floor
    # for 1 s, with a generous total: the low-speed limit aborts it
    "low_speed": ({"action": "slow_body", "chunk_delay_ms": 1500, "chunk_bytes": 1024},
                  "timeout: { connect: 2s, total: 20s, low_speed: 1s, low_speed_bytes: 5000 }",
                  ["timed out", "timeout", "slow", "speed"]),
}
SHORT_TIMEOUT = "timeout: { connect: 2s, total: 1s }"


class T03TransportFaults(Base):
    def _transient(self, name):
        rule, timeout, _ = TRANSPORT[name]
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=[FAST_RETRY], timeout=timeout or SHORT_TIMEOUT,
                                      commit_pages=1))
        self.faults(p, dict(path_prefix="/fsma/", nth=2, times=1, **rule))
        code, s, err = b.poll()
        self.assertEqual(code, 0, "%s once: %s" % (name, err))
        self.assertEqual(s["result"], "ok")
        self.assertEqual(s["pages"], 3)
        b.assert_complete(truth(p))
        log = fsma_requests(p)
        cursors = [r["query"].get("cursor") for r in log]
        self.assertEqual(len(log), 4, "one retry of the faulty page: %r" % cursors)
        self.assertEqual(cursors[1], cursors[2], "the faulty page is asked again")
        attempts = [d.get("attempt") for _, d in b.audit("http.request")]
        if name != "close":
            self.assertIn(2, attempts, "the retry is audited as attempt 2")
        # close: a connection dropped with no answer on a reused keep-alive
        # connection is replayed once at once by libcurl itself, so custody
        # sees one success (attempts [1, 1, 1]) and the dropped request has
        # no audit entry (reported as an observation).
        self.verify_all()

    def _persistent(self, name):
        rule, timeout, words = TRANSPORT[name]
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 2, base: 100ms, max: 200ms }",
                                                           "breaker: { failures: 0 }"],
                                      timeout=timeout or SHORT_TIMEOUT, commit_pages=1))
        self.faults(p, dict(path_prefix="/fsma/", nth=2, times=10 ** 6, **rule))
        code, s, err = b.poll()
        self.assertEqual(code, 1, "%s persistent: exit %d\n%s" % (name, code, err))
        self.assertIn(SOURCE, err)
        self.assertTrue(any(w in err.lower() for w in words),
                        "%s: the message should say what went wrong (%s): %s" % (name, " / ".join(words), err))
        if name == "html200":
            self.assertIn("not json", err.lower(), err)
        self.assertNotEqual(s["result"], "ok")
        log = fsma_requests(p)
        # page 1, then 2 attempts at page 2 (close: + libcurl's one replay on
        # the reused connection, see _transient)
        self.assertEqual(len(log), 4 if name == "close" else 3, "page 1, then 2 attempts at page 2")
        page2 = log[1]["query"]["cursor"]
        # the cursor stops after the committed page 1, never past the failed page
        self.assertEqual(b.cursor(), page2, "cursor must point at the page that failed")
        first_page = harness.records_of(p.dataset())[:LIMIT]
        valid1 = sum(1 for r in first_page if not harness.is_invalid(r))
        self.assertEqual(b.sql("SELECT count(*) FROM records"), [(valid1,)], "only page 1's records are stored")
        self.assertEqual(b.sql("SELECT count(*) FROM quarantine"), [(LIMIT - valid1,)])
        # the upstream heals: the next poll resumes at page 2 and loses nothing
        self.faults(p)
        p.control("/_control/requests/clear", {})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        self.assertEqual(fsma_requests(p)[0]["query"].get("cursor"), page2, "resume at the failed page")
        b.assert_complete(truth(p))
        self.verify_all()


for _n in TRANSPORT:
    setattr(T03TransportFaults, "test_%s_transient" % _n, lambda self, n=_n: self._transient(n))
    setattr(T03TransportFaults, "test_%s_persistent" % _n, lambda self, n=_n: self._persistent(n))


# ---------------------------------------------------------------------------
# 4. content type and body size

class T04Body(Base):
    def test_wrong_content_type_valid_json_is_accepted(self):
        # Observed and kept: a JSON body labelled text/plain is processed
        # (resilience.md only rejects bodies that are not JSON).
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 1 }"]))
        self.faults(p, {"path_prefix": "/fsma/", "nth": 1, "times": 10 ** 6, "action": "wrong_type"})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        self.assertEqual(len(fsma_requests(p)), 3, "no retries")
        b.assert_complete(truth(p))
        cts = {d.get("content_type") for _, d in b.audit("http.request")}
        self.assertTrue(all(ct and ct.startswith("text/plain") for ct in cts), cts)
        self.verify_all()

    def test_body_over_max_body(self):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=[FAST_RETRY], request_extra=["max_body: 16KiB"]))
        code, s, err = b.poll()           # a ~34 KB page with Content-Length
        self.assertEqual(code, 1, err)
        self.assertIn("request.max_body", err)
        self.assertEqual(len(fsma_requests(p)), 1, "an oversized body is not retried")
        self.assertEqual(b.sql("SELECT count(*) FROM records"), [(0,)])
        self.assertIsNone(b.cursor())
        # streamed (chunked) without a length: stopped at the cap as well
        p.control("/_control/requests/clear", {})
        b.write(make_config(p.url, source_extra=[FAST_RETRY], request_extra=["max_body: 1MiB"]))
        self.faults(p, {"path_prefix": "/fsma/", "action": "oversize", "bytes": 8 << 20, "chunked": True})
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertIn("request.max_body", err)
        self.assertEqual(b.sql("SELECT count(*) FROM records"), [(0,)])
        self.verify_all()


# ---------------------------------------------------------------------------
# 5. gzip

class T05Gzip(Base):
    def test_gzip(self):
        p = self.portal("--gzip")
        b = self.bench(p, make_config(p.url))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        log = fsma_requests(p)
        self.assertEqual(len(log), 3)
        for r in log:
            ae = r["headers"].get("Accept-Encoding", "")
            self.assertIn("gzip", [x.split(";")[0].strip() for x in ae.split(",")], ae)
        # the portal really compressed: bytes on the wire < the body custody hashed
        sent = sum(r["bytes"] for r in log)
        received = sum(d["bytes"] for _, d in b.audit("http.request"))
        self.assertLess(sent, received)
        self.verify_all()


# ---------------------------------------------------------------------------
# 6. circuit breaker

class T06Breaker(Base):
    def test_breaker_opens_skips_probes_closes(self):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 1 }",
                                                           "breaker: { failures: 2, cooldown: 3s }"]))
        self.faults(p, {"path_prefix": "/fsma/", "nth": 1, "times": 10 ** 6, "status": 500})
        for i in range(2):
            code, s, err = b.poll()
            self.assertEqual(code, 1, err)
            self.assertIn("HTTP 500", err)
        self.assertEqual(len(fsma_requests(p)), 2, "one request per failing run")
        tr = [d for _, d in b.audit("breaker.transition")]
        self.assertEqual([(d.get("from"), d.get("to")) for d in tr], [("closed", "open")], tr)
        self.assertTrue(b.kv("breaker").startswith("open"), "breaker state kept in source_kv: %r" % b.kv("breaker"))
        opened = time.time()
        # third run, during the cooldown, in a new process: no request at all
        before = len(requests_log(p, data_only=False))
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertIn("breaker", err.lower())
        self.assertEqual(len(requests_log(p, data_only=False)), before, "a request was sent while the breaker was open")
        # after the cooldown, with the upstream healthy: a probe that closes it
        self.faults(p)
        time.sleep(max(0.0, opened + 3.3 - time.time()))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        tr = [(d.get("from"), d.get("to")) for _, d in b.audit("breaker.transition")]
        self.assertEqual(tr, [("closed", "open"), ("open", "half-open"), ("half-open", "closed")], tr)
        for _, d in b.audit("breaker.transition"):
            self.assertIn("why", d)
        self.assertTrue(b.kv("breaker").startswith("closed"), b.kv("breaker"))
        self.verify_all()


    def test_failed_probe_reopens(self):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 1 }",
                                                           "breaker: { failures: 1, cooldown: 2s }"]))
        self.faults(p, {"path_prefix": "/fsma/", "nth": 1, "times": 10 ** 6, "status": 503})
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        opened = time.time()
        time.sleep(max(0.0, opened + 2.3 - time.time()))
        p.control("/_control/requests/clear", {})
        code, s, err = b.poll()                 # the half-open probe, still failing
        self.assertEqual(code, 1, err)
        self.assertEqual(len(fsma_requests(p)), 1, "exactly one probe request")
        tr = [(d.get("from"), d.get("to")) for _, d in b.audit("breaker.transition")]
        self.assertEqual(tr, [("closed", "open"), ("open", "half-open"), ("half-open", "open")], tr)
        p.control("/_control/requests/clear", {})
        code, s, err = b.poll()                 # reopened: a fresh cooldown, no request
        self.assertEqual(code, 1, err)
        self.assertIn("breaker", err.lower())
        self.assertEqual(fsma_requests(p), [])
        self.verify_all()

    def test_open_breaker_served_from_fallback(self):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 1 }",
                                                           "breaker: { failures: 1, cooldown: 30s }"]))
        self.faults(p, {"path_prefix": "/fsma/", "nth": 1, "times": 10 ** 6, "status": 500})
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertTrue(b.kv("breaker").startswith("open"), b.kv("breaker"))
        b.write(make_config(p.url, source_extra=["retry: { attempts: 1 }", "breaker: { failures: 1, cooldown: 30s }"],
                            request_extra=["fallback: [ %s/mirror/fsma/v1/events ]" % p.url]))
        p.control("/_control/requests/clear", {})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        log = fsma_requests(p)
        self.assertTrue(log and all(r["path"].startswith("/mirror/") for r in log),
                        "the open primary is skipped: %r" % [r["path"] for r in log])
        b.assert_complete(truth(p))
        self.verify_all()


# ---------------------------------------------------------------------------
# 7. fallback endpoint

class T07Fallback(Base):
    def test_mirror_takes_over(self):
        p = self.portal()
        b = self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 2, base: 100ms, max: 200ms }"],
                                      request_extra=["fallback: [ %s/mirror/fsma/v1/events ]" % p.url]))
        self.faults(p, {"path_prefix": "/fsma/", "nth": 1, "times": 10 ** 6, "status": 503})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        log = fsma_requests(p)
        self.assertEqual([r["path"] for r in log][:2], ["/fsma/v1/events"] * 2, "primary tried retry.attempts times")
        self.assertTrue(all(r["path"] == "/mirror/fsma/v1/events" for r in log[2:]), "the rest stays on the mirror")
        self.assertEqual(len(log), 2 + 3)
        reqs = b.audit("http.request")
        self.assertEqual([d.get("endpoint") for _, d in reqs], [0, 0, 1, 1, 1])
        self.assertTrue(all("/mirror/" in subj for subj, d in reqs if d.get("endpoint") == 1))
        self.verify_all()


# ---------------------------------------------------------------------------
# 8. conditional requests

class T08Conditional(Base):
    def test_unchanged_single_page_is_304(self):
        p = self.portal(events=80)          # one page: the second poll repeats the same request
        b = self.bench(p, make_config(p.url))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        n_records = b.sql("SELECT count(*) FROM records")
        p.control("/_control/requests/clear", {})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        log = fsma_requests(p)
        self.assertEqual(len(log), 1)
        self.assertIn("If-None-Match", log[0]["headers"])
        self.assertEqual(log[0]["status"], 304)
        self.assertIs(s["not_modified"], True)
        self.assertEqual((s["fetched"], s["new"], s["new_versions"]), (0, 0, 0))
        self.assertEqual(b.sql("SELECT count(*) FROM records"), n_records)
        # a change upstream: fetched, stored as a new version
        ids = p.control("/_control/mutate", {"dataset": "fsma", "count": 1})["ids"]
        self.assertEqual(len(ids), 1)
        p.control("/_control/requests/clear", {})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        log = fsma_requests(p)
        self.assertEqual(log[0]["status"], 200)
        self.assertIs(s["not_modified"], False)
        self.assertEqual(s["new_versions"], 1)
        self.assertEqual(b.sql("SELECT count(*) FROM records WHERE version=2"), [(1,)])
        self.verify_all()

    def test_unchanged_multi_page_settles_on_304(self):
        # Observed: after a full multi-page cycle the cursor rests on the last
        # page, whose URL differs from the previous cycle's first page, so the
        # 2nd poll rereads it unconditionally and only the 3rd sends
        # If-None-Match (documented: "this is the same request").
        p = self.portal()
        b = self.bench(p, make_config(p.url))
        for _ in range(2):
            code, s, err = b.poll()
            self.assertEqual(code, 0, err)
        n_records = b.sql("SELECT count(*) FROM records")
        p.control("/_control/requests/clear", {})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        log = fsma_requests(p)
        self.assertEqual([(r["status"], "If-None-Match" in r["headers"]) for r in log], [(304, True)])
        self.assertIs(s["not_modified"], True)
        self.assertEqual(b.sql("SELECT count(*) FROM records"), n_records)
        p.control("/_control/mutate", {"dataset": "fsma", "count": 2})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        self.assertEqual(s["new_versions"], 2)
        self.assertEqual(b.sql("SELECT count(*) FROM records WHERE version=2"), [(2,)])
        ends = [d for _, d in b.audit("poll.end")]
        self.assertTrue(any(d.get("not_modified") or d.get("result") == "not_modified" for d in ends),
                        "poll.end says not_modified: %r" % ends)
        self.verify_all()


# ---------------------------------------------------------------------------
# 9. auth modes; secrets never leak

AUTH = {
    "bearer": "{ type: bearer, token_env: SUPPLIER_API_KEY }",
    "basic": "{ type: basic, username: demo, token_env: SUPPLIER_API_KEY }",
    "apikey_header": "{ type: api_key, token_env: SUPPLIER_API_KEY }",
    "apikey_query": "{ type: api_key, param: api_key, token_env: SUPPLIER_API_KEY }",
    "header": "{ type: header, header: X-Custom-Auth, token_env: SUPPLIER_API_KEY }",
    "oauth2": "{ type: oauth2, token_url: %s/oauth/token, client_id: demo-client, token_env: SUPPLIER_API_KEY }",
}


class T09Auth(Base):
    def _bench(self, p, mode, extra=()):
        auth = AUTH[mode] % p.url if "%s" in AUTH[mode] else AUTH[mode]
        return self.bench(p, make_config(p.url, auth=auth, source_extra=[FAST_RETRY, *extra]),
                          env={"SUPPLIER_API_KEY": SECRET}, name=mode)

    def assert_no_secret(self, b):
        for args, out, err in b.outputs:
            self.assertNotIn(SECRET, out, "secret in stdout of custody %s" % " ".join(args))
            self.assertNotIn(SECRET, err, "secret in stderr of custody %s" % " ".join(args))
        for name in sorted(os.listdir(b.dir)):
            if name.startswith("custody.db"):
                with open(os.path.join(b.dir, name), "rb") as f:
                    self.assertNotIn(SECRET.encode(), f.read(), "secret in the bytes of %s" % name)

    def _mode(self, mode):
        p = self.portal("--auth", mode, "--token", SECRET)
        b = self._bench(p, mode)
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        log = fsma_requests(p)
        self.assertEqual([r["status"] for r in log], [200, 200, 200], "no request refused")
        for args in (("check",), ("check", "--json"), ("records", SOURCE), ("records", SOURCE, "--json"),
                     ("quarantine", "list"), ("quarantine", "show", "1"), ("audit", "verify"),
                     ("audit", "verify", "--json"), ("poll",)):
            b.run(*args)
        if mode == "apikey_query":
            subjects = [subj for subj, _ in b.audit("http.request")]
            self.assertTrue(subjects and all("api_key=REDACTED" in s for s in subjects), subjects)
        if mode == "oauth2":
            self.assertGreaterEqual(p.control("/_control/stats")["tokens_issued"], 1)
            toks = b.audit("auth.token")
            self.assertTrue(toks, "the token request is audited")
        # a refused secret: the error names the reference, not the value
        p.control("/_control/faults", {"rules": [{"path_prefix": "/fsma/", "status": 401, "times": 10 ** 6,
                                                  "headers": {"WWW-Authenticate": "Bearer"}}]})
        p.control("/_control/requests/clear", {})
        issued = p.control("/_control/stats")["tokens_issued"]
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertIn("401", err)
        # resilience.md: "401/403 say to check the secret" (observed: it names
        # auth.token_env/token_file, not the variable SUPPLIER_API_KEY)
        self.assertIn("secret", err.lower(), "a 401 says to check the secret")
        self.assertEqual(len(fsma_requests(p)), 2 if mode == "oauth2" else 1,
                         "a 401 is not retried (oauth2: once, with a renewed token)")
        if mode == "oauth2":
            self.assertEqual(p.control("/_control/stats")["tokens_issued"] - issued, 2,
                             "one token for the poll, one renewal after the 401")
        if mode == "apikey_query":
            self.assertIn("REDACTED", err)
        self.assert_no_secret(b)
        self.verify_all()
        self.assert_no_secret(b)

    def test_oauth2_revoked_mid_poll_renews_once(self):
        # The portal holds page 2 for 1.5 s before its auth check (delay_ms
        # comes before auth); the tokens are revoked meanwhile, so page 2
        # meets 401 with the token custody holds. custody must fetch a new
        # token once and finish the same poll.
        p = self.portal("--auth", "oauth2", "--token", SECRET)
        b = self._bench(p, "oauth2")
        self.faults(p, {"path_prefix": "/fsma/", "nth": 2, "times": 1, "delay_ms": 1500})
        result = {}

        def run():
            result["r"] = b.poll()
        th = threading.Thread(target=run)
        th.start()
        deadline = time.time() + 10
        while time.time() < deadline and not [r for r in fsma_requests(p) if r["status"] == 200]:
            time.sleep(0.05)
        revoked = p.control("/_control/oauth/revoke", {})
        th.join(60)
        self.assertFalse(th.is_alive())
        code, s, err = result["r"]
        self.assertEqual(revoked.get("revoked"), 1, "revoked while page 2 was held")
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        log = fsma_requests(p)
        self.assertEqual([r["status"] for r in log], [200, 401, 200, 200])
        st = p.control("/_control/stats")
        self.assertEqual(st["tokens_issued"], 2, "renewed exactly once")
        self.assertEqual(len(b.audit("auth.token")), 2)
        self.assert_no_secret(b)
        self.verify_all()

    def test_oauth2_renewed_before_expiry(self):
        # tokens live 3 s and are renewed refresh_before (2 s) ahead; a poll
        # paced at 2 requests/s over 7 pages outlives several: no 401 ever.
        p = self.portal("--auth", "oauth2", "--token", SECRET, "--oauth-ttl", "3", events=700)
        auth = AUTH["oauth2"] % p.url
        auth = auth.replace(" }", ", refresh_before: 2s }")
        b = self.bench(p, make_config(p.url, auth=auth, source_extra=[
            FAST_RETRY, "rate_limit: { requests: 2, per: 1s, burst: 1 }"]), env={"SUPPLIER_API_KEY": SECRET})
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        log = requests_log(p, data_only=False)
        self.assertNotIn(401, [r["status"] for r in log])
        st = p.control("/_control/stats")
        self.assertGreaterEqual(st["tokens_issued"], 3, "renewed ahead of expiry")
        self.assertEqual(len(b.audit("auth.token")), st["token_requests"])
        # no access token is kept in the store either
        tokens = {r["headers"]["Authorization"].split()[-1] for r in log if "Authorization" in r["headers"]
                  and r["path"].startswith("/fsma/")}
        self.assertGreaterEqual(len(tokens), 2)
        for name in sorted(os.listdir(b.dir)):
            if name.startswith("custody.db"):
                with open(os.path.join(b.dir, name), "rb") as f:
                    data = f.read()
                for tok in tokens:
                    self.assertNotIn(tok.encode(), data, "an access token in %s" % name)
        for args, out, err in b.outputs:
            for tok in tokens:
                self.assertNotIn(tok, out + err)
        self.assert_no_secret(b)
        self.verify_all()

    def test_token_file(self):
        p = self.portal("--auth", "bearer", "--token", SECRET)
        b = self.bench(p, make_config(p.url, auth="{ type: bearer, token_file: secret.txt }"), env={}, name="file")
        path = os.path.join(b.dir, "secret.txt")
        with open(path, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(path, 0o600)
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        b.run("check")
        b.run("audit", "verify")
        self.assert_no_secret(b)
        self.verify_all()


for _m in AUTH:
    setattr(T09Auth, "test_mode_%s" % _m, lambda self, m=_m: self._mode(m))


# ---------------------------------------------------------------------------
# 10. rate limits

def assert_budget(tc, times, rate, burst):
    """n requests under a token bucket of `rate` per second and capacity
    `burst` span at least (n - burst) / rate seconds of departures; arrivals
    may lose one request's latency at each end, allowed as one interval."""
    n = len(times)
    need = (n - burst) / rate - 1.0 / rate
    span = times[-1] - times[0]
    tc.assertGreaterEqual(span, need - 0.03,
                          "%d requests in %.3f s: faster than %.1f/s with burst %d allows (gaps %r)"
                          % (n, span, rate, burst, [round(b - a, 3) for a, b in zip(times, times[1:])]))


class T10RateLimit(Base):
    def test_client_side_rate_limit(self):
        p = self.portal(events=1000)                 # 10 pages
        b = self.bench(p, make_config(p.url, source_extra=["rate_limit: { requests: 5, per: 1s, burst: 1 }"]))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        log = fsma_requests(p)
        self.assertGreaterEqual(len(log), 8)
        # The client spaces departures; the server sees arrivals, which a
        # loaded machine can bunch by one request's latency, never more. So
        # the budget shows in the span of the whole run (n requests need at
        # least n - 1 - burst intervals), not in any single gap.
        times = [r["t"] for r in log]
        assert_budget(self, times, rate=5.0, burst=1)
        self.verify_all()

    def test_shared_pool_across_sources(self):
        p = self.portal()
        text = make_config(p.url, source_extra=["rate_limit: { pool: vendor }"])
        i = text.index("  - name: %s" % SOURCE)
        j = text.index("\ncontracts:")
        second = text[i:j].replace("name: %s" % SOURCE, "name: mirror_8842").replace(
            "%s/fsma/v1/events" % p.url, "%s/mirror/fsma/v1/events" % p.url)
        text = text[:j] + second.rstrip("\n") + "\n" + text[j:]
        text = text.replace("\nsources:", "\npools:\n  vendor: { requests: 5, per: 1s, burst: 1 }\n\nsources:")
        b = self.bench(p, text)
        code, out, err = b.run("poll")
        self.assertEqual(code, 0, "%s\n%s" % (out, err))
        log = fsma_requests(p)
        self.assertEqual(sorted({r["path"] for r in log}), ["/fsma/v1/events", "/mirror/fsma/v1/events"])
        self.assertEqual(len(log), 6)
        times = sorted(r["t"] for r in log)
        assert_budget(self, times, rate=5.0, burst=1)  # one budget for both sources
        self.verify_all()

    def test_server_side_rate_limit(self):
        p = self.portal("--rate-limit", "3", events=800)   # 8 pages, bucket of 3
        b = self.bench(p, make_config(p.url, source_extra=[FAST_RETRY]))
        code, s, err = b.poll(timeout=60)
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        st = p.control("/_control/stats")
        self.assertGreaterEqual(st["by_status"].get("429", 0), 1, "the server-side limit was reached")
        self.assert_no_early(p)
        self.verify_all()


# ---------------------------------------------------------------------------
# 11. TLS

class T11TLS(Base):
    def setUp(self):
        super().setUp()
        self.pki = tempfile.mkdtemp(prefix="custody-res-pki-")
        self.addCleanup(shutil.rmtree, self.pki, True)
        subprocess.run(["sh", os.path.join(harness.ROOT, "tests", "mockportal", "mkcerts.sh"), self.pki],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def tls_portal(self, *extra):
        p = self.portal("--tls-cert", os.path.join(self.pki, "server.pem"),
                        "--tls-key", os.path.join(self.pki, "server.key"), *extra)
        p.url = "https://127.0.0.1:%d" % p.port
        ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.pem"))
        if extra:
            ctx.load_cert_chain(os.path.join(self.pki, "client.pem"), os.path.join(self.pki, "client.key"))

        def control(path, body=None, _p=p):
            data = None if body is None else json.dumps(body).encode()
            req = urllib.request.Request(_p.url + path, data=data, method="POST" if data is not None else "GET",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
                return json.loads(r.read().decode() or "null")
        p.control = control
        return p

    def tls_bench(self, p, tls):
        extra = ["tls: %s" % tls] if tls else []
        return self.bench(p, make_config(p.url, source_extra=["retry: { attempts: 2, base: 100ms, max: 200ms }"],
                                         request_extra=extra))

    def test_server_tls(self):
        p = self.tls_portal()
        ca = os.path.join(self.pki, "ca.pem")
        b = self.tls_bench(p, None)
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertIn("tls", err.lower())
        self.assertIn("ca_file", err)
        self.assertEqual(b.sql("SELECT count(*) FROM records"), [(0,)])
        b = self.tls_bench(p, "{ ca_file: %s }" % ca)
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        self.assertNotIn("insecure", err.lower())
        b.assert_complete(truth(p))
        self.assertEqual(b.audit("tls.insecure"), [])
        b = self.tls_bench(p, "{ insecure: true }")
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        self.assertIn("insecure", err.lower(), "stderr warns about tls.insecure")
        b.assert_complete(truth(p))
        self.assertEqual(len(b.audit("tls.insecure")), 1)
        self.verify_all()

    def test_mutual_tls(self):
        p = self.tls_portal("--tls-client-ca", os.path.join(self.pki, "ca.pem"))
        ca = os.path.join(self.pki, "ca.pem")
        b = self.tls_bench(p, "{ ca_file: %s }" % ca)
        code, s, err = b.poll()
        self.assertEqual(code, 1, err)
        self.assertEqual(b.sql("SELECT count(*) FROM records"), [(0,)])
        b = self.tls_bench(p, "{ ca_file: %s, client_cert: %s, client_key: %s }"
                           % (ca, os.path.join(self.pki, "client.pem"), os.path.join(self.pki, "client.key")))
        code, s, err = b.poll()
        self.assertEqual(code, 0, err)
        b.assert_complete(truth(p))
        cns = {r.get("client_cert_cn") for r in fsma_requests(p) if r["status"] == 200}
        self.assertEqual(cns, {"custody-test-client"})
        self.verify_all()


# ---------------------------------------------------------------------------

def main():
    global CUSTODY
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="patterns", action="append", help="only tests whose name contains this")
    a = ap.parse_args()
    CUSTODY = os.path.abspath(a.custody)
    if not os.access(CUSTODY, os.X_OK):
        print("test_resilience: %s is not executable" % CUSTODY)
        return 2
    loader = unittest.TestLoader()
    if a.patterns:
        loader.testNamePatterns = ["*%s*" % k for k in a.patterns]
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    t0 = time.time()
    r = unittest.TextTestRunner(verbosity=2 if a.verbose else 1, stream=sys.stdout).run(suite)
    bad = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    passed = r.testsRun - bad - len(r.skipped) - len(r.expectedFailures)
    print("test_resilience: %d passed, %d failed, %d expected failures (known bugs), %d skipped in %.1f s"
          % (passed, bad, len(r.expectedFailures), len(r.skipped), time.time() - t0))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
