#!/usr/bin/env python3
"""Self-test of the demo portal (stdlib unittest only).

Starts portal.py on an ephemeral loopback port and checks the properties the
end-to-end cases rely on: cursor pages chain to the whole dataset with no
duplicate and no gap, two fresh starts serve identical bytes, bearer auth,
the invalid-record share, /_control/mutate, /_control/append and
/_control/faults; and the resilience features: the request log, Retry-After
and "early" requests, the fault actions slow_body / reset / wrong_type /
html200 / oversize, the server-side rate limit, the auth variants and OAuth2,
conditional requests, gzip, TLS and mTLS (certificates from mkcerts.sh) and
the /mirror paths; and the /paged/ family (every pagination style walked to
the end with a tiny client, each style's contract, tie runs, cursor expiry,
the grants snapshot and /_control/remove). Every network call, process and
test is bounded in time.

    python3 tests/mockportal/test_portal.py [-v]
"""
import base64
import calendar
import email.utils
import gzip
import hashlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PORTAL = os.path.join(HERE, "portal.py")
MKCERTS = os.path.join(HERE, "mkcerts.sh")
TOKEN = "demo-token"
TEST_SECONDS = 30        # upper bound for any one test
HTTP_SECONDS = 10        # upper bound for any one request
ROUTES = {"fsma": ("/fsma/v1/events", "data", "next_cursor"),
          "grants": ("/grants/v1/awards", "grants", "next"),
          "registrations": ("/registrations/v1/registrations", "data", "next_cursor")}
ARGS = ["--fsma-events", "700", "--grants", "250", "--registrations", "400", "--invalid-ratio", "0.1"]


class Portal:
    """portal.py as a child process on 127.0.0.1:<ephemeral port>."""

    def __init__(self, *args, ssl_ctx=None, quiet=True, output=None):
        """ssl_ctx: speak HTTPS with this client context; quiet=False with
        output=FILE: the portal's stdout and stderr go to FILE."""
        self.dir = tempfile.mkdtemp(prefix="portal-test-")
        self.ssl_ctx = ssl_ctx
        portfile = os.path.join(self.dir, "port")
        self.out = open(output, "wb") if output else None
        self.proc = subprocess.Popen([sys.executable, PORTAL, "--port", "0", "--port-file", portfile,
                                      *(["--quiet"] if quiet else []), "--max-seconds", "300", *args],
                                     stdout=self.out or subprocess.DEVNULL,
                                     stderr=self.out or subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not (os.path.exists(portfile) and os.path.getsize(portfile) > 0):
            if self.proc.poll() is not None:
                raise RuntimeError("portal exited: " + (self.proc.stderr.read().decode() if self.proc.stderr else ""))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("portal did not start within 20 s")
            time.sleep(0.02)
        with open(portfile) as f:
            self.port = int(f.read())
        self.url = "%s://127.0.0.1:%d" % ("https" if ssl_ctx else "http", self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()
        if self.out:
            self.out.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def get(self, path, token=TOKEN):
        """(status, headers, body bytes) of a GET; HTTP errors are returned, not raised."""
        headers = {"Authorization": "Bearer " + token} if token else {}
        req = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=HTTP_SECONDS, context=self.ssl_ctx) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            try:
                return e.code, e.headers, e.read()
            finally:
                e.close()

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=HTTP_SECONDS, context=self.ssl_ctx) as r:
            return json.loads(r.read().decode())

    def conn(self, timeout=HTTP_SECONDS):
        if self.ssl_ctx:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ssl_ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def req(self, method, path, headers=None, body=None, token=TOKEN, timeout=HTTP_SECONDS):
        """(status, headers, body bytes) over http.client: exact headers, no
        redirect or decoding magic; token=None sends no Authorization."""
        h = dict(headers or {})
        if token:
            h.setdefault("Authorization", "Bearer " + token)
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def control(self, path):
        status, _, body = self.get(path, token=None)
        assert status == 200, (path, status)
        return json.loads(body.decode())

    def log(self):
        return self.control("/_control/requests")["requests"]

    def dataset(self, name):
        status, _, body = self.get("/_control/dataset?name=" + name, token=None)
        assert status == 200, status
        return json.loads(body.decode())["records"]

    def walk(self, name, limit):
        """Follow the cursor chain from the start; returns (records, raw pages)."""
        path, list_key, next_key = ROUTES[name]
        recs, pages, cursor = [], [], None
        for _ in range(10000):
            q = "?limit=%d" % limit + ("&cursor=" + cursor if cursor else "")
            status, _, body = self.get(path + q)
            if status != 200:
                raise AssertionError("%s%s: HTTP %d %r" % (path, q, status, body[:200]))
            pages.append(body)
            doc = json.loads(body.decode())
            recs.extend(doc[list_key])
            cursor = doc[next_key]
            if name == "fsma":
                assert doc["has_more"] == (cursor is not None), doc.get("has_more")
            if cursor is None:
                return recs, pages
        raise AssertionError("cursor chain did not end")


def ident(rec):
    return rec.get("id", rec.get("grant_id"))


class Bounded(unittest.TestCase):
    """Each test is cut off by SIGALRM after TEST_SECONDS."""

    def setUp(self):
        def expire(*_):
            raise TimeoutError("test exceeded %d s" % TEST_SECONDS)
        self._old = signal.signal(signal.SIGALRM, expire)
        signal.alarm(TEST_SECONDS)

    def tearDown(self):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old)


class PortalTest(Bounded):
    @classmethod
    def setUpClass(cls):
        cls.portal = Portal(*ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.portal.stop()

    def setUp(self):
        super().setUp()
        self.assertEqual(self.portal.post("/_control/reset", {}), {"ok": True})

    def test_pages_chain_to_full_dataset(self):
        for name in ROUTES:
            truth = [ident(r["record"]) for r in self.portal.dataset(name)]
            for limit in (1000, 100, 37, 1):
                if limit == 1 and len(truth) > 300:
                    continue
                with self.subTest(dataset=name, limit=limit):
                    recs, pages = self.portal.walk(name, limit)
                    got = [ident(r) for r in recs]
                    self.assertEqual(len(got), len(set(got)), "duplicate records across pages")
                    self.assertEqual(got, truth, "pages do not cover the dataset in order")
                    self.assertEqual(len(pages), max(1, -(-len(truth) // limit)))

    def test_default_page_size_is_100(self):
        status, _, body = self.portal.get("/fsma/v1/events")
        self.assertEqual(status, 200)
        self.assertEqual(len(json.loads(body.decode())["data"]), 100)

    def test_page_contents_match_dataset(self):
        truth = [r["record"] for r in self.portal.dataset("registrations")]
        recs, _ = self.portal.walk("registrations", 100)
        self.assertEqual(recs, truth)

    def test_bearer_auth_refused_without_token(self):
        for name, (path, _, _) in ROUTES.items():
            with self.subTest(dataset=name):
                status, headers, body = self.portal.get(path, token=None)
                self.assertEqual(status, 401)
                self.assertEqual(headers.get("WWW-Authenticate"), "Bearer")
                self.assertNotIn(b'"data"', body)
                status, _, _ = self.portal.get(path, token="wrong-token")
                self.assertEqual(status, 401)
                status, _, _ = self.portal.get(path)
                self.assertEqual(status, 200)

    def test_bad_parameters_refused(self):
        path = ROUTES["fsma"][0]
        for q in ("?limit=0", "?limit=1001", "?limit=ten", "?cursor=%%%", "?cursor=" +
                  base64.urlsafe_b64encode(b'{"after":-1}').decode().rstrip("="), "?cursor=W10"):
            with self.subTest(query=q):
                status, _, body = self.portal.get(path + q)
                self.assertEqual(status, 400, body)

    def test_invalid_share_present(self):
        expected_kinds = {"fsma": {"missing_lot", "quantity_nonpositive", "quantity_string", "bad_unit",
                                   "bad_timestamp", "timestamp_no_zone", "lot_too_long", "bad_event_type"},
                          "grants": {"missing_pi", "negative_amount", "bad_status"},
                          "registrations": {"email_no_at", "missing_created_at"}}
        for name, kinds in expected_kinds.items():
            with self.subTest(dataset=name):
                ds = self.portal.dataset(name)
                bad = [r for r in ds if r["invalid"]]
                share = len(bad) / len(ds)
                self.assertTrue(0.05 <= share <= 0.15, "invalid share %.3f for ratio 0.1" % share)
                self.assertEqual({r["why"] for r in bad}, kinds)
                self.assertTrue(all(r["why"] is None for r in ds if not r["invalid"]))
        for r in self.portal.dataset("grants"):
            rec, why = r["record"], r["why"]
            if why == "missing_pi":
                self.assertNotIn("pi_name", rec)
            elif why == "negative_amount":
                self.assertLess(rec["award_amount"], 0)
            elif why == "bad_status":
                self.assertEqual(rec["status"], "pending_magic")
            else:
                self.assertGreaterEqual(rec["award_amount"], 0)
        for r in self.portal.dataset("registrations"):
            rec, why = r["record"], r["why"]
            self.assertEqual("@" in rec["email"], why != "email_no_at")
            self.assertEqual("created_at" in rec, why != "missing_created_at")

    def test_mutate_changes_record_content(self):
        cases = {"fsma": ("quantity", None), "grants": ("status", None), "registrations": ("payment_status", "refunded")}
        for name, (field, want) in cases.items():
            with self.subTest(dataset=name):
                before = self.portal.dataset(name)
                target = next(r["record"] for r in before if not r["invalid"])
                rid = ident(target)
                got = self.portal.post("/_control/mutate", {"dataset": name, "ids": [rid]})
                self.assertEqual(got, {"ids": [rid]})
                after = {ident(r["record"]): r["record"] for r in self.portal.dataset(name)}
                self.assertNotEqual(after[rid][field], target[field])
                if want is not None:
                    self.assertEqual(after[rid][field], want)
                # the changed record moved to the end of the keyset order, so a
                # poller resuming from its cursor sees it again
                recs, _ = self.portal.walk(name, 1000)
                self.assertEqual(ident(recs[-1]), rid)
                self.assertEqual(len(recs), len(before))
        # explicit changes are applied as given
        gid = next(ident(r["record"]) for r in self.portal.dataset("grants")
                   if r["record"].get("status") != "declined")
        self.portal.post("/_control/mutate", {"dataset": "grants", "ids": [gid], "changes": {"status": "declined"}})
        rec = {ident(r["record"]): r["record"] for r in self.portal.dataset("grants")}[gid]
        self.assertEqual(rec["status"], "declined")

    def test_mutate_by_count_touches_valid_records(self):
        got = self.portal.post("/_control/mutate", {"dataset": "fsma", "count": 5})
        self.assertEqual(len(got["ids"]), 5)
        invalid = {ident(r["record"]) for r in self.portal.dataset("fsma") if r["invalid"]}
        self.assertFalse(set(got["ids"]) & invalid)

    def test_append_adds_new_valid_records(self):
        for name in ROUTES:
            with self.subTest(dataset=name):
                before = self.portal.dataset(name)
                got = self.portal.post("/_control/append", {"dataset": name, "count": 3})
                self.assertEqual(len(got["ids"]), 3)
                after = self.portal.dataset(name)
                self.assertEqual(len(after), len(before) + 3)
                old_ids = {ident(r["record"]) for r in before}
                for r in after[-3:]:
                    self.assertFalse(r["invalid"])
                    self.assertNotIn(r["record"]["id"], old_ids)
                    if name == "grants":
                        self.assertEqual(r["record"]["grant_id"], r["record"]["id"])
                        self.assertIn("pi_name", r["record"])
                        self.assertGreaterEqual(r["record"]["award_amount"], 0)
                    if name == "registrations":
                        self.assertRegex(r["record"]["id"], r"^REG-[0-9]+$")
                        self.assertIn("@", r["record"]["email"])
                        self.assertIn("created_at", r["record"])
                recs, _ = self.portal.walk(name, 100)
                self.assertEqual([ident(r) for r in recs], [ident(r["record"]) for r in after])

    def test_faults_inject_status_for_next_n_requests(self):
        path = ROUTES["fsma"][0]
        ok = self.portal.post("/_control/faults", {"rules": [
            {"path_prefix": "/fsma/", "nth": 1, "times": 3, "status": 503, "headers": {"Retry-After": "7"}}]})
        self.assertEqual(ok, {"ok": True, "rules": 1})
        # another dataset's path does not match the rule and is not counted
        self.assertEqual(self.portal.get(ROUTES["grants"][0])[0], 200)
        for i in range(3):
            status, headers, body = self.portal.get(path + "?limit=10")
            self.assertEqual(status, 503, "request %d" % (i + 1))
            self.assertEqual(headers.get("Retry-After"), "7")
            self.assertEqual(json.loads(body.decode()), {"error": "injected fault"})
        status, _, body = self.portal.get(path + "?limit=10")
        self.assertEqual(status, 200)
        self.assertEqual(len(json.loads(body.decode())["data"]), 10)
        stats = json.loads(self.portal.get("/_control/stats", token=None)[2].decode())
        self.assertGreaterEqual(stats["by_status"].get("503", 0), 3)

    def test_faults_nth_and_garbage(self):
        path = ROUTES["registrations"][0]
        self.portal.post("/_control/faults", {"rules": [{"nth": 2, "times": 1, "action": "garbage"}]})
        self.assertEqual(self.portal.get(path)[0], 200)
        status, headers, body = self.portal.get(path)
        self.assertEqual((status, headers.get("Content-Type")), (200, "text/html"))
        self.assertIn(b"<html>", body)
        status, _, body = self.portal.get(path)
        self.assertEqual(status, 200)
        json.loads(body.decode())
        # an empty rule list clears faults
        self.portal.post("/_control/faults", {"rules": [{"status": 500, "times": 100}]})
        self.assertEqual(self.portal.get(path)[0], 500)
        self.portal.post("/_control/faults", {"rules": []})
        self.assertEqual(self.portal.get(path)[0], 200)

    def test_reset_restores_initial_bytes(self):
        _, first = self.portal.walk("grants", 50)
        self.portal.post("/_control/mutate", {"dataset": "grants", "count": 4})
        self.portal.post("/_control/append", {"dataset": "grants", "count": 2})
        _, changed = self.portal.walk("grants", 50)
        self.assertNotEqual(changed, first)
        self.portal.post("/_control/reset", {})
        _, again = self.portal.walk("grants", 50)
        self.assertEqual(again, first)

    def test_unknown_paths(self):
        self.assertEqual(self.portal.get("/nope")[0], 404)
        self.assertEqual(self.portal.get("/_control/dataset?name=nope", token=None)[0], 400)
        status, _, body = self.portal.get("/healthz", token=None)
        self.assertEqual((status, body), (200, b"ok"))


class DeterminismTest(Bounded):
    def test_two_fresh_starts_serve_identical_bytes(self):
        served = []
        for _ in range(2):
            p = Portal(*ARGS)
            try:
                pages = {}
                for name in ROUTES:
                    pages[name] = p.walk(name, 64)[1]
                pages["dataset"] = [p.get("/_control/dataset?name=" + n, token=None)[2] for n in ROUTES]
                # the same mutation and append give the same bytes too
                p.post("/_control/mutate", {"dataset": "fsma", "count": 3})
                p.post("/_control/append", {"dataset": "fsma", "count": 3})
                pages["after"] = p.walk("fsma", 500)[1]
                served.append(pages)
            finally:
                p.stop()
        self.assertEqual(served[0].keys(), served[1].keys())
        for k in served[0]:
            self.assertEqual(served[0][k], served[1][k], "bytes differ between starts: %s" % k)

    def test_seed_changes_content(self):
        a, b = Portal("--grants", "30", "--seed", "1"), Portal("--grants", "30", "--seed", "2")
        try:
            self.assertNotEqual(a.walk("grants", 100)[1], b.walk("grants", 100)[1])
        finally:
            a.stop()
            b.stop()



def etag_of(body):
    return '"%s"' % hashlib.sha256(body).hexdigest()[:32]


class ResilienceTest(Bounded):
    """The features for custody's resilience tests, on one shared portal."""

    @classmethod
    def setUpClass(cls):
        cls.portal = Portal(*ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.portal.stop()

    def setUp(self):
        super().setUp()
        self.assertEqual(self.portal.post("/_control/reset", {}), {"ok": True})

    def faults(self, *rules):
        self.assertEqual(self.portal.post("/_control/faults", {"rules": list(rules)}),
                         {"ok": True, "rules": len(rules)})

    # ---- request log

    def test_request_log_records_data_requests(self):
        p = self.portal
        t0 = time.time()
        status, _, body = p.req("GET", "/fsma/v1/events?limit=7&x=1&x=2", headers={"X-Trace": "abc"})
        self.assertEqual(status, 200)
        self.assertEqual(p.req("GET", "/grants/v1/awards", token=None)[0], 401)
        p.get("/_control/stats", token=None)                 # control requests are not logged
        p.post("/_control/faults", {"rules": []})
        log = p.log()
        self.assertEqual([(e["method"], e["path"], e["status"]) for e in log],
                         [("GET", "/fsma/v1/events", 200), ("GET", "/grants/v1/awards", 401)])
        e = log[0]
        self.assertEqual(set(e) >= {"t", "method", "path", "query", "headers", "status", "bytes", "early"}, True)
        self.assertIsInstance(e["t"], float)
        self.assertTrue(t0 - 1 <= e["t"] <= time.time())
        self.assertEqual(e["query"], {"limit": "7", "x": "1"})
        self.assertEqual(e["headers"]["X-Trace"], "abc")
        self.assertEqual(e["headers"]["Authorization"], "Bearer " + TOKEN)
        self.assertEqual(e["bytes"], len(body))
        self.assertIs(e["early"], False)
        self.assertEqual(p.post("/_control/requests/clear", {}), {"ok": True, "cleared": 2})
        self.assertEqual(p.log(), [])
        # a dropped connection is logged with no status; truncation with the bytes actually sent
        self.faults({"nth": 1, "action": "close"}, {"nth": 2, "action": "truncate"})
        with self.assertRaises((http.client.HTTPException, OSError)):
            p.req("GET", "/fsma/v1/events?limit=5")
        with self.assertRaises(http.client.IncompleteRead):
            p.req("GET", "/fsma/v1/events?limit=5")
        full = len(p.req("GET", "/fsma/v1/events?limit=5")[2])
        log = p.log()
        self.assertEqual([(e["status"], e["bytes"]) for e in log], [(None, 0), (200, full // 2), (200, full)])

    # ---- Retry-After, early requests

    def test_retry_after_seconds_and_early_requests(self):
        p = self.portal
        self.faults({"path_prefix": "/fsma/", "times": 1, "status": 503, "retry_after": 1})
        status, headers, _ = p.req("GET", "/fsma/v1/events?limit=5")
        self.assertEqual((status, headers["Retry-After"]), (503, "1"))
        self.assertEqual(p.req("GET", "/fsma/v1/events?limit=5")[0], 200)       # too early
        time.sleep(1.2)
        self.assertEqual(p.req("GET", "/fsma/v1/events?limit=5")[0], 200)       # waited
        self.assertEqual([e["early"] for e in p.log()], [False, True, False])
        self.assertEqual(p.control("/_control/stats")["early_requests"], 1)

    def test_retry_after_date(self):
        p = self.portal
        self.faults({"times": 1, "status": 429, "retry_after_date": 2})
        t0 = time.time()
        status, headers, _ = p.req("GET", "/grants/v1/awards")
        self.assertEqual(status, 429)
        ra = headers["Retry-After"]
        self.assertRegex(ra, r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
        when = email.utils.parsedate_to_datetime(ra).timestamp()
        self.assertTrue(t0 + 0.5 <= when <= t0 + 3.5, (t0, when))
        self.assertEqual(p.req("GET", "/grants/v1/awards")[0], 200)
        time.sleep(max(0.0, when - time.time()) + 0.1)
        self.assertEqual(p.req("GET", "/grants/v1/awards")[0], 200)
        self.assertEqual([e["early"] for e in p.log()], [False, True, False])
        # a Retry-After given through "headers" counts the same way
        self.faults({"times": 1, "status": 503, "headers": {"Retry-After": "5"}})
        p.req("GET", "/grants/v1/awards")
        p.req("GET", "/grants/v1/awards")
        self.assertIs(p.log()[-1]["early"], True)
        self.assertEqual(p.control("/_control/stats")["early_requests"], 2)

    def test_ratelimit_headers_on_fault_and_on_page(self):
        p = self.portal
        rl = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3",
              "RateLimit": "limit=10, remaining=0, reset=3", "RateLimit-Policy": "10;w=60"}
        self.faults({"nth": 1, "status": 429, "ratelimit_headers": rl, "retry_after": 3},
                    {"nth": 2, "headers": {"X-RateLimit-Remaining": 1, "X-RateLimit-Reset": 30}})
        status, headers, _ = p.req("GET", "/fsma/v1/events?limit=3")
        self.assertEqual(status, 429)
        for k, v in rl.items():
            self.assertEqual(headers[k], v)
        self.assertEqual(headers["Retry-After"], "3")
        status, headers, body = p.req("GET", "/fsma/v1/events?limit=3")
        self.assertEqual(status, 200)                    # a rule with headers only: the real page plus headers
        self.assertEqual(len(json.loads(body)["data"]), 3)
        self.assertEqual((headers["X-RateLimit-Remaining"], headers["X-RateLimit-Reset"]), ("1", "30"))

    # ---- fault actions

    def test_slow_body(self):
        p = self.portal
        want = p.req("GET", "/fsma/v1/events?limit=20")[2]
        self.faults({"action": "slow_body", "chunk_delay_ms": 100, "chunk_bytes": 1024})
        chunks = -(-len(want) // 1024)
        t0 = time.monotonic()
        status, headers, body = p.req("GET", "/fsma/v1/events?limit=20")
        took = time.monotonic() - t0
        self.assertEqual((status, body), (200, want))
        self.assertEqual(int(headers["Content-Length"]), len(want))
        self.assertGreaterEqual(took, (chunks - 1) * 0.1 - 0.05)
        self.assertLess(took, (chunks - 1) * 0.1 + 5)

    def test_slow_body_headers_come_first(self):
        p = self.portal
        # one 2 s pause between two chunks: the headers arrive well before it
        # ends, however slow the machine (an upper bound of 1.5 s is loose)
        self.faults({"action": "slow_body", "chunk_delay_ms": 2000, "chunk_bytes": 8192})
        c = p.conn()
        try:
            t0 = time.monotonic()
            c.request("GET", "/fsma/v1/events?limit=40", headers={"Authorization": "Bearer " + TOKEN})
            r = c.getresponse()
            t_headers = time.monotonic() - t0
            body = r.read()
            t_body = time.monotonic() - t0
            self.assertGreater(t_body, 1.95)
            self.assertLess(t_headers, t_body - 0.5)  # status and headers came before the pause
            json.loads(body)
        finally:
            c.close()

    def test_reset_sends_half_then_rst(self):
        p = self.portal
        want = p.req("GET", "/fsma/v1/events?limit=50")[2]
        self.faults({"action": "reset"})
        s = socket.create_connection(("127.0.0.1", p.port), timeout=HTTP_SECONDS)
        got, err = b"", None
        try:
            s.sendall(b"GET /fsma/v1/events?limit=50 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + TOKEN.encode() + b"\r\n\r\n")
            while True:
                try:
                    b = s.recv(65536)
                except ConnectionResetError as ex:
                    err = ex
                    break
                if not b:
                    break
                got += b
        finally:
            s.close()
        self.assertIsInstance(err, ConnectionResetError, "connection ended by FIN, not RST")
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/1.1 200", head)
        self.assertIn(b"Content-Length: %d" % len(want), head)
        self.assertEqual(body, want[:len(want) // 2])
        self.assertEqual(p.log()[-1]["bytes"], len(want) // 2)

    def test_wrong_type_and_html200(self):
        p = self.portal
        want = p.req("GET", "/registrations/v1/registrations?limit=5")[2]
        self.faults({"nth": 1, "action": "wrong_type"}, {"nth": 2, "action": "html200"})
        status, headers, body = p.req("GET", "/registrations/v1/registrations?limit=5")
        self.assertEqual((status, headers["Content-Type"], body), (200, "text/plain", want))
        status, headers, body = p.req("GET", "/registrations/v1/registrations?limit=5")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/html"))
        self.assertIn(b"<html>", body)

    def test_oversize_streams_padded_json(self):
        p = self.portal
        n = 20 * 1024 * 1024
        self.faults({"nth": 1, "action": "oversize", "bytes": n},
                    {"nth": 2, "action": "oversize", "bytes": 3 * 1024 * 1024 + 7, "chunked": True},
                    {"nth": 3, "action": "oversize", "bytes": 5})
        status, headers, body = p.req("GET", "/grants/v1/awards", timeout=20)
        self.assertEqual((status, int(headers["Content-Length"]), len(body)), (200, n, n))
        doc = json.loads(body)
        self.assertEqual((doc["grants"], doc["next"]), ([], None))
        self.assertEqual(set(doc["pad"]), {"x"})
        status, headers, body = p.req("GET", "/fsma/v1/events", timeout=20)
        self.assertEqual(headers["Transfer-Encoding"], "chunked")
        self.assertIsNone(headers["Content-Length"])
        self.assertEqual(len(body), 3 * 1024 * 1024 + 7)
        self.assertEqual(json.loads(body)["data"], [])
        status, _, body = p.req("GET", "/fsma/v1/events")        # smaller than the skeleton: the skeleton
        self.assertEqual(json.loads(body)["pad"], "")
        self.assertEqual([e["bytes"] for e in p.log()], [n, 3 * 1024 * 1024 + 7, len(body)])

    # ---- server-side rate limit

    def test_server_rate_limit(self):
        # Robust to a slow machine: only orderings the limiter guarantees are
        # asserted, never how many requests fit in a wall-clock window.
        p = self.portal
        self.assertEqual(p.post("/_control/ratelimit", {"rps": 2}), {"ok": True, "rps": 2.0})
        seen = []
        for _ in range(20):
            status, headers, body = p.req("GET", "/fsma/v1/events?limit=1")
            seen.append(status)
            if status == 429:
                break
        self.assertEqual(seen[-1], 429, "a burst of requests never hit the limit: %r" % seen)
        self.assertEqual((headers["X-RateLimit-Remaining"], headers["Retry-After"]), ("0", headers["X-RateLimit-Reset"]))
        self.assertGreaterEqual(int(headers["Retry-After"]), 1)
        # asked again at once: either still limited (and flagged early) or,
        # on a machine that paused past Retry-After, served and not early
        again = p.req("GET", "/fsma/v1/events?limit=1")[0]
        self.assertIn(again, (200, 429))
        time.sleep(int(headers["Retry-After"]) + 0.05)
        self.assertEqual(p.req("GET", "/fsma/v1/events?limit=1")[0], 200)
        log = p.log()
        self.assertEqual([e["status"] for e in log], seen + [again, 200])
        self.assertEqual(log[-2]["early"], again == 429)
        self.assertFalse(any(e["early"] for e in log[:-2]))
        self.assertEqual(p.control("/_control/stats")["early_requests"], 1 if again == 429 else 0)
        # another credential has its own bucket: a wrong token still gets 401, not 429
        self.assertEqual(p.req("GET", "/fsma/v1/events?limit=1", token="other")[0], 401)
        # off again
        p.post("/_control/ratelimit", {"rps": 0})
        statuses = [p.req("GET", "/fsma/v1/events?limit=1")[0] for _ in range(6)]
        self.assertEqual(statuses, [200] * 6)
        self.assertEqual(p.control("/_control/settings")["rate_limit"], 0)

    # ---- auth variants

    def creds(self, mode, secret=TOKEN):
        if mode == "bearer":
            return {"Authorization": "Bearer " + secret}, ""
        if mode == "basic":
            return {"Authorization": "Basic " + base64.b64encode(("demo:" + secret).encode()).decode()}, ""
        if mode == "apikey_header":
            return {"X-API-Key": secret}, ""
        if mode == "apikey_query":
            return {}, "&api_key=" + urllib.parse.quote(secret)
        if mode == "header":
            return {"X-Custom-Auth": secret}, ""
        raise AssertionError(mode)

    def test_auth_modes(self):
        p = self.portal
        path = "/grants/v1/awards?limit=3"
        www = {"bearer": "Bearer", "basic": "Basic", "apikey_header": "ApiKey", "apikey_query": "ApiKey",
               "header": "Custom"}
        for mode in ("bearer", "basic", "apikey_header", "apikey_query", "header"):
            with self.subTest(mode=mode):
                self.assertEqual(p.post("/_control/auth", {"mode": mode})["mode"], mode)
                h, q = self.creds(mode)
                status, _, body = p.req("GET", path + q, headers=h, token=None)
                self.assertEqual(status, 200, body)
                self.assertEqual(len(json.loads(body)["grants"]), 3)
                h, q = self.creds(mode, "wrong")
                status, headers, _ = p.req("GET", path + q, headers=h, token=None)
                self.assertEqual(status, 401)
                self.assertTrue(headers["WWW-Authenticate"].startswith(www[mode]), headers["WWW-Authenticate"])
                status, headers, _ = p.req("GET", path, token=None)
                self.assertEqual(status, 401)
                if mode != "bearer":   # the bearer token alone is not enough any more
                    self.assertEqual(p.req("GET", path)[0], 401)
        self.assertEqual(p.req("POST", "/_control/auth", body=b'{"mode":"nope"}', token=None)[0], 400)

    def test_auth_per_dataset_and_path(self):
        p = self.portal
        p.post("/_control/auth", {"dataset": "registrations", "mode": "apikey_header"})
        p.post("/_control/auth", {"path": "/mirror/fsma/v1/events", "mode": "basic"})
        self.assertEqual(p.req("GET", "/grants/v1/awards")[0], 200)                      # global: bearer
        self.assertEqual(p.req("GET", "/fsma/v1/events")[0], 200)
        self.assertEqual(p.req("GET", "/registrations/v1/registrations")[0], 401)
        self.assertEqual(p.req("GET", "/mirror/registrations/v1/registrations",
                               headers={"X-API-Key": TOKEN}, token=None)[0], 200)     # dataset: both paths
        self.assertEqual(p.req("GET", "/mirror/fsma/v1/events")[0], 401)
        self.assertEqual(p.req("GET", "/mirror/fsma/v1/events", headers=self.creds("basic")[0], token=None)[0], 200)
        p.post("/_control/auth", {"dataset": "registrations", "mode": None})          # override removed
        self.assertEqual(p.req("GET", "/registrations/v1/registrations")[0], 200)
        p.post("/_control/reset", {})                                                  # reset: back to the options
        self.assertEqual(p.req("GET", "/mirror/fsma/v1/events")[0], 200)

    def token(self, via="form", secret=TOKEN, grant="client_credentials"):
        if via == "form":
            body = urllib.parse.urlencode({"grant_type": grant, "client_id": "demo-client",
                                           "client_secret": secret}).encode()
            h = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            body = urllib.parse.urlencode({"grant_type": grant}).encode()
            h = {"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "Basic " + base64.b64encode(("demo-client:" + secret).encode()).decode()}
        return self.portal.req("POST", "/oauth/token", headers=h, body=body, token=None)

    def test_oauth2_client_credentials(self):
        p = self.portal
        p.post("/_control/auth", {"mode": "oauth2"})
        before = p.control("/_control/stats")["token_requests"]
        path = "/fsma/v1/events?limit=2"
        self.assertEqual(p.req("GET", path)[0], 401)                 # the static token is not an access token
        tokens = []
        for via in ("form", "basic"):
            status, headers, body = self.token(via)
            self.assertEqual(status, 200, body)
            doc = json.loads(body)
            self.assertEqual((doc["token_type"], doc["expires_in"]), ("Bearer", 3600))
            self.assertEqual(headers["Cache-Control"], "no-store")
            tokens.append(doc["access_token"])
            self.assertEqual(p.req("GET", path, token=doc["access_token"])[0], 200)
        self.assertNotEqual(tokens[0], tokens[1])
        status, headers, _ = self.token("form", secret="wrong")
        self.assertEqual(status, 401)
        self.assertIn("WWW-Authenticate", headers)
        self.assertEqual(self.token("basic", secret="wrong")[0], 401)
        self.assertEqual(self.token("form", grant="password")[0], 400)
        status, headers, _ = p.req("GET", path, token="made-up")
        self.assertEqual(status, 401)
        self.assertIn('error="invalid_token"', headers["WWW-Authenticate"])
        # revocation: the next data request gets 401
        self.assertEqual(p.post("/_control/oauth/revoke", {}), {"ok": True, "revoked": 2})
        self.assertEqual(p.req("GET", path, token=tokens[0])[0], 401)
        # expiry
        p.post("/_control/oauth", {"ttl": 1})
        status, _, body = self.token()
        short = json.loads(body)
        self.assertEqual(short["expires_in"], 1)
        self.assertEqual(p.req("GET", path, token=short["access_token"])[0], 200)
        time.sleep(1.1)
        self.assertEqual(p.req("GET", path, token=short["access_token"])[0], 401)
        self.assertEqual(p.control("/_control/stats")["token_requests"] - before, 6)
        self.assertEqual([e["path"] for e in p.log() if e["method"] == "POST"], ["/oauth/token"] * 6)

    def test_oauth_token_endpoint_faults(self):
        p = self.portal
        # a default rule (path_prefix "/") does not touch the token endpoint ...
        self.faults({"times": 5, "status": 500})
        self.assertEqual(self.token()[0], 200)
        # ... one naming it does
        self.faults({"path_prefix": "/oauth/", "times": 1, "status": 503, "retry_after": 1})
        status, headers, _ = self.token()
        self.assertEqual((status, headers["Retry-After"]), (503, "1"))
        self.assertEqual(self.token()[0], 200)

    # ---- conditional requests

    def test_etag_and_last_modified(self):
        p = self.portal
        path = "/grants/v1/awards?limit=1000"
        status, headers, body = p.req("GET", path)
        self.assertEqual(headers["ETag"], etag_of(body))
        lm = headers["Last-Modified"]
        self.assertRegex(lm, r"GMT$")
        for h in ({"If-None-Match": headers["ETag"]}, {"If-None-Match": '"zz", W/' + headers["ETag"]},
                  {"If-None-Match": "*"}, {"If-Modified-Since": lm},
                  {"If-Modified-Since": email.utils.formatdate(time.time() + 60, usegmt=True)}):
            with self.subTest(headers=h):
                status, h304, b304 = p.req("GET", path, headers=h)
                self.assertEqual((status, b304), (304, b""))
                self.assertEqual(h304["ETag"], headers["ETag"])
        old = email.utils.formatdate(email.utils.parsedate_to_datetime(lm).timestamp() - 1, usegmt=True)
        self.assertEqual(p.req("GET", path, headers={"If-Modified-Since": old})[0], 200)
        # If-None-Match that does not match wins over a matching If-Modified-Since
        self.assertEqual(p.req("GET", path, headers={"If-None-Match": '"other"', "If-Modified-Since": lm})[0], 200)
        # a mutation changes both
        p.post("/_control/mutate", {"dataset": "grants", "count": 1})
        status, h2, body2 = p.req("GET", path, headers={"If-None-Match": headers["ETag"], "If-Modified-Since": lm})
        self.assertEqual(status, 200)
        self.assertNotEqual(h2["ETag"], headers["ETag"])
        self.assertEqual(h2["ETag"], etag_of(body2))
        self.assertGreater(email.utils.parsedate_to_datetime(h2["Last-Modified"]),
                           email.utils.parsedate_to_datetime(lm))
        self.assertEqual(p.req("GET", path, headers={"If-Modified-Since": lm})[0], 200)
        # so does an append (at least a second later, even straight after)
        p.post("/_control/append", {"dataset": "grants", "count": 1})
        status, h3, _ = p.req("GET", path, headers={"If-Modified-Since": h2["Last-Modified"]})
        self.assertEqual(status, 200)
        self.assertGreater(email.utils.parsedate_to_datetime(h3["Last-Modified"]),
                           email.utils.parsedate_to_datetime(h2["Last-Modified"]))
        self.assertEqual(p.log()[1]["bytes"], 0)

    # ---- gzip

    def test_gzip(self):
        p = self.portal
        path = "/fsma/v1/events?limit=50"
        plain = p.req("GET", path)[2]
        status, headers, body = p.req("GET", path, headers={"Accept-Encoding": "gzip"})
        self.assertEqual((body, headers["Content-Encoding"]), (plain, None))       # off by default
        self.assertEqual(p.post("/_control/gzip", {"on": True}), {"ok": True, "on": True})
        status, headers, body = p.req("GET", path, headers={"Accept-Encoding": "br, gzip;q=0.8"})
        self.assertEqual((status, headers["Content-Encoding"], headers["Vary"]), (200, "gzip", "Accept-Encoding"))
        self.assertEqual(int(headers["Content-Length"]), len(body))
        self.assertEqual(gzip.decompress(body), plain)
        self.assertLess(len(body), len(plain))
        self.assertEqual(headers["ETag"], etag_of(plain))
        for ae in (None, "identity", "gzip;q=0", "br"):
            with self.subTest(accept_encoding=ae):
                status, headers, body = p.req("GET", path, headers={"Accept-Encoding": ae} if ae else None)
                self.assertEqual((headers["Content-Encoding"], body), (None, plain))
        p.post("/_control/gzip", {"on": False})
        self.assertIsNone(p.req("GET", path, headers={"Accept-Encoding": "gzip"})[1]["Content-Encoding"])

    # ---- mirror

    def test_mirror_serves_same_content(self):
        p = self.portal
        for name, (path, _, _) in ROUTES.items():
            with self.subTest(dataset=name):
                a = p.req("GET", path + "?limit=30")
                b = p.req("GET", "/mirror" + path + "?limit=30")
                self.assertEqual((a[0], a[2]), (b[0], b[2]))
                cursor = json.loads(a[2])[ROUTES[name][2]]
                if cursor:
                    self.assertEqual(p.req("GET", path + "?limit=30&cursor=" + cursor)[2],
                                     p.req("GET", "/mirror" + path + "?limit=30&cursor=" + cursor)[2])
        # a fault on the primary does not touch the mirror, and the other way round
        self.faults({"path_prefix": "/fsma/", "times": 10, "status": 503})
        self.assertEqual(p.req("GET", "/fsma/v1/events")[0], 503)
        self.assertEqual(p.req("GET", "/mirror/fsma/v1/events")[0], 200)
        self.faults({"path_prefix": "/mirror/", "times": 10, "status": 503})
        self.assertEqual(p.req("GET", "/mirror/fsma/v1/events")[0], 503)
        self.assertEqual(p.req("GET", "/fsma/v1/events")[0], 200)
        # mutations show on both
        p.post("/_control/append", {"dataset": "grants", "count": 2})
        self.faults()
        self.assertEqual(p.req("GET", "/grants/v1/awards?limit=1000")[2],
                         p.req("GET", "/mirror/grants/v1/awards?limit=1000")[2])
        self.assertEqual(p.req("GET", "/mirror/nope")[0], 404)


class OptionsTest(Bounded):
    """Command-line options: --auth, --auth-for, --rate-limit, --gzip,
    --oauth-ttl, and no secret in the portal's own output."""

    def test_options_and_no_secret_in_output(self):
        secret = "s3cr3t-TOKEN-xyzzy"
        out = tempfile.NamedTemporaryFile(prefix="portal-out-", delete=False)
        out.close()
        p = Portal("--grants", "20", "--token", secret, "--auth", "apikey_query", "--auth-for", "fsma=oauth2",
                   "--auth-for", "/mirror/grants/v1/awards=header", "--rate-limit", "50", "--gzip",
                   "--oauth-ttl", "120", quiet=False, output=out.name)
        try:
            s = p.control("/_control/settings")
            self.assertEqual((s["auth"], s["rate_limit"], s["gzip"], s["oauth_ttl"]), ("apikey_query", 50, True, 120))
            status, headers, body = p.req("GET", "/grants/v1/awards?api_key=" + secret,
                                          headers={"Accept-Encoding": "gzip"}, token=None)
            self.assertEqual((status, headers["Content-Encoding"], headers["X-RateLimit-Limit"]), (200, "gzip", "50"))
            self.assertEqual(p.req("GET", "/mirror/grants/v1/awards", headers={"X-Custom-Auth": secret},
                                   token=None)[0], 200)
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "demo-client",
                                           "client_secret": secret}).encode()
            status, _, body = p.req("POST", "/oauth/token", body=form, token=None,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
            doc = json.loads(body)
            self.assertEqual(doc["expires_in"], 120)
            self.assertEqual(p.req("GET", "/fsma/v1/events", token=doc["access_token"])[0], 200)
            self.assertEqual(p.req("GET", "/fsma/v1/events?api_key=" + secret, token=None)[0], 401)
            self.assertEqual(p.req("GET", "/fsma/v1/events", token=secret)[0], 401)
        finally:
            p.stop()
            with open(out.name, "rb") as f:
                text = f.read()
            os.unlink(out.name)
        self.assertIn(b"listening on http://127.0.0.1:", text)
        self.assertIn(b"portal: GET /grants/v1/awards", text)
        self.assertNotIn(secret.encode(), text)
        self.assertNotIn(doc["access_token"].encode(), text)

    def test_bad_options_refused(self):
        for args in (["--auth", "nope"], ["--auth-for", "fsma"], ["--auth-for", "nope=basic"],
                     ["--rate-limit", "-1"], ["--tls-cert", "x.pem"], ["--tls-client-ca", "ca.pem"]):
            with self.subTest(args=args):
                r = subprocess.run([sys.executable, PORTAL, "--port", "0", "--max-seconds", "5", *args],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
                self.assertEqual(r.returncode, 2, r.stderr)


@unittest.skipUnless(shutil.which("openssl"), "openssl CLI not installed")
class TLSTest(Bounded):
    """HTTPS with certificates from mkcerts.sh; mTLS with --tls-client-ca."""

    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="portal-certs-")
        subprocess.run(["sh", MKCERTS, cls.certs], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs)

    def f(self, name):
        return os.path.join(self.certs, name)

    def client_ctx(self, cert=True):
        ctx = ssl.create_default_context(cafile=self.f("ca.pem"))
        if cert:
            ctx.load_cert_chain(self.f("client.pem"), self.f("client.key"))
        return ctx

    def test_https(self):
        p = Portal("--grants", "20", "--tls-cert", self.f("server.pem"), "--tls-key", self.f("server.key"),
                   ssl_ctx=self.client_ctx(cert=False))
        try:
            self.assertTrue(p.url.startswith("https://127.0.0.1:"))
            status, _, body = p.req("GET", "/grants/v1/awards")
            self.assertEqual(status, 200)
            self.assertEqual(len(json.loads(body)["grants"]), 20)
            # the certificate verifies for 127.0.0.1 against the CA, not against the system store
            with self.assertRaises(ssl.SSLCertVerificationError):
                with socket.create_connection(("127.0.0.1", p.port), timeout=HTTP_SECONDS) as s:
                    ssl.create_default_context().wrap_socket(s, server_hostname="127.0.0.1")
            # plain HTTP to the TLS port gets no HTTP answer
            with socket.create_connection(("127.0.0.1", p.port), timeout=HTTP_SECONDS) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    got = s.recv(100)
                except OSError:
                    got = b""
                self.assertFalse(got.startswith(b"HTTP/1.1 200"))
            self.assertEqual(p.req("GET", "/healthz", token=None)[0], 200)   # and the portal carries on
        finally:
            p.stop()

    def test_mtls_requires_client_certificate(self):
        p = Portal("--grants", "20", "--tls-cert", self.f("server.pem"), "--tls-key", self.f("server.key"),
                   "--tls-client-ca", self.f("ca.pem"), ssl_ctx=self.client_ctx())
        try:
            self.assertEqual(p.req("GET", "/grants/v1/awards")[0], 200)
            self.assertEqual(p.log()[-1]["client_cert_cn"], "custody-test-client")
            nocert = self.client_ctx(cert=False)
            with self.assertRaises((ssl.SSLError, OSError, http.client.HTTPException)):
                c = http.client.HTTPSConnection("127.0.0.1", p.port, timeout=HTTP_SECONDS, context=nocert)
                try:
                    c.request("GET", "/grants/v1/awards", headers={"Authorization": "Bearer " + TOKEN})
                    c.getresponse().read()
                finally:
                    c.close()
            self.assertEqual(len(p.log()), 1)
            self.assertEqual(p.req("GET", "/grants/v1/awards")[0], 200)
        finally:
            p.stop()


# ---- /paged/...: the fsma dataset under other pagination styles

def parse_link(value):
    """RFC 8288 Link header -> {rel: uri} (commas and semicolons inside <> or quotes respected)."""
    out, parts, cur, inq, inb = {}, [], "", False, False
    for ch in value:
        if ch == '"' and not inb:
            inq = not inq
        elif ch == "<" and not inq:
            inb = True
        elif ch == ">" and not inq:
            inb = False
        if ch == "," and not inq and not inb:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in parts:
        part = part.strip()
        if not part:
            continue
        assert part.startswith("<"), part
        uri, rest = part[1:].split(">", 1)
        for param in rest.split(";"):
            name, _, val = param.strip().partition("=")
            if name.strip().lower() == "rel":
                for rel in val.strip().strip('"').split():
                    out[rel.lower()] = uri
    return out


def link_shape(value):
    """(rel order, quoted?) of a Link header: what the style varies."""
    rels, quoted = [], []
    for m in re.finditer(r'rel=("?)([a-z]+)', value):
        rels.append(m.group(2))
        quoted.append(bool(m.group(1)))
    return tuple(rels), tuple(quoted)


class PagedClient:
    """A tiny client for every /paged/ style: walk() follows one style from
    the first page to the end and returns (records, pages), pages being the
    decoded bodies (with "_headers" and "_path" added)."""

    def __init__(self, portal):
        self.p = portal

    def call(self, method, path, body=None, headers=None, expect=200):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        status, hdrs, raw = self.p.req(method, path, headers=h, body=data)
        if expect is not None and status != expect:
            raise AssertionError("%s %s: HTTP %d %r" % (method, path, status, raw[:200]))
        return status, hdrs, json.loads(raw.decode()) if raw else None

    def walk(self, style, limit=100, first=None, max_pages=5000, body_extra=None):
        base = "/paged/%s/events" % style
        recs, pages = [], []
        path = first or base + ("?per_page=%d" if style == "page" else "?limit=%d") % limit
        cursor = None
        for _ in range(max_pages):
            if style == "cursor-body":
                req = {"cursor": cursor, "limit": limit}
                req.update(body_extra or {})
                _, h, doc = self.call("POST", base, body=req)
            elif style == "limit-header":
                _, h, doc = self.call("GET", path, headers={"X-Page-Size": str(limit)})
            else:
                _, h, doc = self.call("GET", path)
            page = {"_headers": h, "_path": path, "body": doc}
            pages.append(page)
            if style == "link":
                recs.extend(doc)
                links = parse_link(h["Link"])
                if "next" not in links:
                    return recs, pages
                path = self.rel(urllib.parse.urljoin(self.p.url + path, links["next"]))
                continue
            if style in ("offset", "offset1"):
                recs.extend(doc["items"])
                start = int(dict(urllib.parse.parse_qsl(urllib.parse.urlparse(path).query)).get(
                    "offset", "1" if style == "offset1" else "0"))
                nxt = start + len(doc["items"])
                if not doc["items"] or nxt - (1 if style == "offset1" else 0) >= doc["total"]:
                    return recs, pages
                path = base + "?offset=%d&limit=%d" % (nxt, limit)
                continue
            if style == "page":
                recs.extend(doc["results"])
                num = len(pages)
                if num >= doc["total_pages"]:
                    return recs, pages
                path = base + "?page=%d&per_page=%d" % (num + 1, limit)
                continue
            recs.extend(doc["data"])
            if style == "last-id":
                if not doc["has_more"]:
                    return recs, pages
                path = base + "?after_id=%s&limit=%d" % (doc["data"][-1]["id"], limit)
            elif style == "flags":
                if doc["end_of_stream"]:
                    return recs, pages
                path = base + "?cursor=%s&limit=%d" % (doc["next"], limit)
            elif style in ("next-url-abs", "next-url-rel"):
                if doc["links"]["next"] is None:
                    return recs, pages
                path = self.rel(urllib.parse.urljoin(self.p.url + path, doc["links"]["next"]))
            else:
                nk = "next_page_token" if style == "token-alone" else "next_cursor"
                cursor = doc[nk]
                if cursor is None:
                    return recs, pages
                if style == "token-alone":
                    path = base + "?page_token=%s&limit=%d" % (cursor, limit)
                elif style == "limit-header":
                    path = base + "?cursor=" + cursor + "&limit=1"     # query limit is ignored
                elif style in ("since", "since-horizon"):
                    q = urllib.parse.urlparse(path).query
                    keep = [(k, v) for k, v in urllib.parse.parse_qsl(q) if k != "cursor"]
                    path = base + "?" + urllib.parse.urlencode(keep + [("cursor", cursor)])
        raise AssertionError("%s: page chain did not end" % style)

    def rel(self, absolute):
        u = urllib.parse.urlparse(absolute)
        assert "%s://%s" % (u.scheme, u.netloc) == self.p.url, absolute
        return u.path + ("?" + u.query if u.query else "")


WALK_STYLES = ("cursor-body", "token-alone", "next-url-abs", "next-url-rel", "link", "offset", "offset1",
               "page", "last-id", "flags", "limit-header", "since", "since-horizon")


class PagedTest(Bounded):
    @classmethod
    def setUpClass(cls):
        cls.portal = Portal(*ARGS)
        cls.c = PagedClient(cls.portal)

    @classmethod
    def tearDownClass(cls):
        cls.portal.stop()

    def setUp(self):
        super().setUp()
        self.assertEqual(self.portal.post("/_control/reset", {}), {"ok": True})

    def truth(self):
        status, _, body = self.portal.get("/_control/dataset?name=fsma&view=paged", token=None)
        self.assertEqual(status, 200)
        return [r["record"] for r in json.loads(body)["records"]]

    def check_all_styles(self, limits=(100, 37)):
        truth = self.truth()
        by_id = sorted(truth, key=lambda r: r["id"])
        horizon = self.portal.control("/_control/paged")["horizon_seconds"]
        top = max(r["updated_at"] for r in truth)
        cut = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
            calendar.timegm(time.strptime(top, "%Y-%m-%dT%H:%M:%SZ")) - horizon))
        for style in WALK_STYLES:
            for limit in limits:
                with self.subTest(style=style, limit=limit):
                    recs, pages = self.c.walk(style, limit)
                    ids = [r["id"] for r in recs]
                    self.assertEqual(len(ids), len(set(ids)), "duplicate records across pages")
                    if style == "last-id":
                        want = by_id
                    elif style == "since-horizon":
                        want = [r for r in truth if r["updated_at"] <= cut]
                        self.assertLess(len(want), len(truth))
                    else:
                        want = truth
                    self.assertEqual(recs, want, "pages do not cover the dataset in order")
                    self.assertEqual(len(pages), max(1, -(-len(want) // limit)))
        return truth

    def test_view_is_the_fsma_dataset_sorted_with_tie_runs(self):
        natural = self.portal.dataset("fsma")
        status, _, body = self.portal.get("/_control/dataset?name=fsma&view=paged", token=None)
        view = json.loads(body)["records"]
        self.assertEqual(len(view), len(natural))
        nat = {r["record"]["id"]: r for r in natural}
        for v in view:
            n = nat[v["record"]["id"]]
            self.assertEqual((v["invalid"], v["why"]), (n["invalid"], n["why"]))
            self.assertEqual({k: x for k, x in v["record"].items() if k != "updated_at"},
                             {k: x for k, x in n["record"].items() if k != "updated_at"})
            self.assertEqual(list(v["record"]), list(n["record"]))          # same field order
            self.assertLessEqual(v["record"]["updated_at"], n["record"]["updated_at"])
        keys = [(v["record"]["updated_at"], v["record"]["id"]) for v in view]
        self.assertEqual(keys, sorted(keys))
        runs = [len(list(g)) for _, g in itertools.groupby(k[0] for k in keys)]
        self.assertEqual(runs, [250, 1, 2, 1, 17, 125, 250, 1, 2, 1, 17, 33])   # 700 records, tie run 250
        self.assertTrue(any(v["invalid"] for v in view))
        self.assertEqual(self.portal.get("/_control/dataset?name=grants&view=paged", token=None)[0], 400)
        # tie_run 0: the records are exactly those of /fsma/v1/events
        self.portal.post("/_control/paged", {"tie_run": 0})
        status, _, body = self.portal.get("/_control/dataset?name=fsma&view=paged", token=None)
        self.assertEqual(sorted(json.dumps(r["record"]) for r in json.loads(body)["records"]),
                         sorted(json.dumps(r["record"]) for r in natural))

    def test_every_style_walks_the_whole_dataset(self):
        self.check_all_styles()

    def test_walks_after_mutate_append_remove(self):
        mutated = self.portal.post("/_control/mutate", {"dataset": "fsma", "count": 5})["ids"]
        appended = self.portal.post("/_control/append", {"dataset": "fsma", "count": 30})["ids"]
        removed = self.portal.post("/_control/remove", {"dataset": "fsma", "count": 4})["ids"]
        self.assertEqual(len(removed), 4)
        truth = self.check_all_styles(limits=(64,))
        ids = [r["id"] for r in truth]
        tail = sorted(set(mutated) - set(removed)) + sorted(set(appended) - set(removed))
        self.assertEqual(ids[-len(tail):], tail)      # changed records move to the end, by (updated_at, id)
        self.assertFalse(set(removed) & set(ids))
        self.assertEqual(len(ids), 700 + 30 - 4)
        # the 30 appended records share one updated_at (a tie run made by one append)
        self.assertEqual(len({r["updated_at"] for r in truth if r["id"] in appended}), 1)

    def test_pages_are_deterministic(self):
        first = [json.dumps(p["body"]) for p in self.c.walk("cursor-body", 50)[1]]
        self.portal.post("/_control/reset", {})
        self.assertEqual([json.dumps(p["body"]) for p in self.c.walk("cursor-body", 50)[1]], first)

    def test_auth_and_routing(self):
        for style in WALK_STYLES:
            with self.subTest(style=style):
                method = "POST" if style == "cursor-body" else "GET"
                status, h, _ = self.portal.req(method, "/paged/%s/events" % style, token=None)
                self.assertEqual((status, h["WWW-Authenticate"]), (401, "Bearer"))
                other = "GET" if method == "POST" else "POST"
                status, h, _ = self.portal.req(other, "/paged/%s/events" % style,
                                               body=b"{}" if other == "POST" else None)
                self.assertEqual((status, h["Allow"]), (405, method))
        for path in ("/paged/nope/events", "/paged/offset/other", "/paged/snapshot/nope", "/paged/"):
            self.assertEqual(self.portal.get(path)[0], 404)
        self.assertEqual(self.portal.req("GET", "/paged/snapshot/grants", token=None)[0], 401)

    def test_cursor_body(self):
        filt = {"supplier_id": ["SUP-8842"], "nested": {"a": 1}}
        recs, pages = self.c.walk("cursor-body", 100, body_extra={"filter": filt})
        self.assertEqual(recs, self.truth())          # the filter is accepted and not applied
        log = [e for e in self.portal.log() if e["path"] == "/paged/cursor-body/events"]
        self.assertEqual(len(log), len(pages))
        self.assertTrue(all(e["body"]["filter"] == filt and e["method"] == "POST" for e in log))
        tok = pages[0]["body"]["next_cursor"]
        bad = [({"cursor": tok, "limit": 10}, "filter differs from the one the cursor was issued for"),
               ({"cursor": tok, "filter": {"x": 1}}, "filter differs from the one the cursor was issued for"),
               ({"cursor": "!!notatoken", "filter": filt}, "malformed cursor"),
               ({"limit": 0}, "limit must be an integer 1..1000"), ({"limit": 5.5}, "limit must be an integer 1..1000")]
        for body, err in bad:
            status, _, doc = self.c.call("POST", "/paged/cursor-body/events", body=body, expect=400)
            self.assertEqual(doc["error"], err)
        self.assertEqual(self.portal.req("POST", "/paged/cursor-body/events", body=b"{nope")[0], 400)
        # an empty body is the first page with the default limit
        status, _, raw = self.portal.req("POST", "/paged/cursor-body/events")
        self.assertEqual((status, len(json.loads(raw)["data"])), (200, 100))
        # a token of another style is refused
        tt = self.c.call("GET", "/paged/token-alone/events?limit=5")[2]["next_page_token"]
        self.assertEqual(self.c.call("POST", "/paged/cursor-body/events", body={"cursor": tt}, expect=400)[2],
                         {"error": "malformed cursor", "param": "cursor"})

    def test_token_alone(self):
        base = "/paged/token-alone/events"
        _, _, doc = self.c.call("GET", base + "?limit=10&supplier_id=SUP-1&sort=updated_at&q=")
        self.assertEqual(len(doc["data"]), 10)
        tok = doc["next_page_token"]
        self.assertIsNotNone(tok)
        for extra in ("&supplier_id=SUP-1", "&sort=updated_at", "&q=", "&cursor=x"):
            _, _, err = self.c.call("GET", base + "?page_token=" + tok + extra, expect=400)
            self.assertEqual(err, {"error": "page_token must be sent alone"})
        self.assertEqual(self.c.call("GET", base + "?limit=7&page_token=" + tok)[2]["data"][0]["id"],
                         self.truth()[10]["id"])
        self.assertEqual(self.c.call("GET", base + "?page_token=" + tok)[2]["data"][0]["id"], self.truth()[10]["id"])
        # an empty page_token counts as absent: a first page
        self.assertEqual(self.c.call("GET", base + "?page_token=&x=1")[2]["data"][0]["id"], self.truth()[0]["id"])

    def test_next_url_absolute_and_relative(self):
        _, pages = self.c.walk("next-url-abs", 50)
        for pg in pages[:-1]:
            self.assertTrue(pg["body"]["links"]["next"].startswith(self.portal.url + "/paged/next-url-abs/events?after="))
        self.assertIsNone(pages[-1]["body"]["links"]["next"])
        _, pages = self.c.walk("next-url-rel", 50)
        forms = [pg["body"]["links"]["next"] for pg in pages[:-1]]
        kinds = [("path" if f.startswith("/paged/next-url-rel/events?after=") else
                  "query" if f.startswith("?after=") else "relpath" if f.startswith("events?after=") else f)
                 for f in forms]
        self.assertEqual(kinds[:3], ["path", "query", "relpath"])
        self.assertEqual(set(kinds), {"path", "query", "relpath"})
        self.assertTrue(all("&limit=50" in f for f in forms))

    def test_link_header(self):
        truth = self.truth()
        recs, pages = self.c.walk("link", 40)
        self.assertEqual(len(pages), -(-len(truth) // 40))
        shapes, orders = set(), set()
        for i, pg in enumerate(pages):
            self.assertIsInstance(pg["body"], list)
            value = pg["_headers"]["Link"]
            links = parse_link(value)
            self.assertEqual(set(links), {"first", "last"} | ({"next"} if i < len(pages) - 1 else set()))
            order, quoted = link_shape(value)
            orders.add(order)
            shapes.update(quoted)
            for rel, uri in links.items():
                self.assertTrue(uri.startswith(self.portal.url + "/paged/link/events?") or
                                uri.startswith("/paged/link/events?"), uri)
        self.assertGreaterEqual(len(orders), 3)           # next/first/last in varying order
        self.assertEqual(shapes, {True, False})           # rel="next" and rel=next
        # first and last lead to the first and the final page
        links = parse_link(pages[3]["_headers"]["Link"])
        _, h, doc = self.c.call("GET", self.c.rel(urllib.parse.urljoin(self.portal.url + pages[3]["_path"],
                                                                       links["first"])))
        self.assertEqual(doc, truth[:40])
        _, h, doc = self.c.call("GET", self.c.rel(urllib.parse.urljoin(self.portal.url + pages[3]["_path"],
                                                                       links["last"])))
        self.assertEqual(doc, truth[(len(truth) - 1) // 40 * 40:])
        self.assertNotIn("next", parse_link(h["Link"]))
        # the parser copes with the forms used
        self.assertEqual(parse_link('<a,b>; rel="next last", </x>;rel=first'),
                         {"next": "a,b", "last": "a,b", "first": "/x"})

    def test_offset_styles(self):
        truth = self.truth()
        n = len(truth)
        for style, first in (("offset", 0), ("offset1", 1)):
            with self.subTest(style=style):
                base = "/paged/%s/events" % style
                _, _, doc = self.c.call("GET", base + "?offset=%d&limit=5" % (first + 3))
                self.assertEqual((doc["items"], doc["total"]), (truth[3:8], n))
                _, _, doc = self.c.call("GET", base + "?offset=%d&limit=50" % (first + n - 10))
                self.assertEqual(doc["items"], truth[-10:])
                self.assertEqual(self.c.call("GET", base + "?offset=%d" % (first + n))[2], {"items": [], "total": n})
                self.assertEqual(self.c.call("GET", base + "?offset=%d" % (first - 1), expect=400)[2]["param"], "offset")
                self.assertEqual(self.c.call("GET", base + "?offset=%d" % (first + 10000))[2]["items"], [])
                self.assertEqual(self.c.call("GET", base + "?offset=%d" % (first + 10001), expect=400)[2],
                                 {"error": "offset too large"})
        self.assertEqual(self.portal.post("/_control/paged", {"max_offset": 300})["max_offset"], 300)
        self.assertEqual(self.c.call("GET", "/paged/offset/events?offset=300&limit=10")[2]["items"], truth[300:310])
        self.assertEqual(self.c.call("GET", "/paged/offset/events?offset=301", expect=400)[2],
                         {"error": "offset too large"})
        self.assertEqual(self.c.call("GET", "/paged/offset1/events?offset=302", expect=400)[2],
                         {"error": "offset too large"})
        with self.assertRaisesRegex(AssertionError, "offset too large"):
            self.c.walk("offset", 100)
        self.assertEqual(self.portal.get("/paged/offset/events?offset=abc")[0], 400)

    def test_page_style(self):
        truth = self.truth()
        _, _, doc = self.c.call("GET", "/paged/page/events?page=3&per_page=30")
        self.assertEqual((doc["results"], doc["total_pages"]), (truth[60:90], -(-len(truth) // 30)))
        _, _, doc = self.c.call("GET", "/paged/page/events")
        self.assertEqual((len(doc["results"]), doc["total_pages"]), (100, 7))
        self.assertEqual(self.c.call("GET", "/paged/page/events?page=8")[2], {"results": [], "total_pages": 7})
        for q in ("page=0", "page=x", "per_page=0", "per_page=1001"):
            self.assertEqual(self.portal.get("/paged/page/events?" + q)[0], 400, q)

    def test_last_id_and_flags(self):
        by_id = sorted(self.truth(), key=lambda r: r["id"])
        _, _, doc = self.c.call("GET", "/paged/last-id/events?after_id=EVT-000100&limit=3")
        self.assertEqual(([r["id"] for r in doc["data"]], doc["has_more"]),
                         (["EVT-000101", "EVT-000102", "EVT-000103"], True))
        _, _, doc = self.c.call("GET", "/paged/last-id/events?after_id=EVT-000698&limit=3")
        self.assertEqual((doc["data"], doc["has_more"]), (by_id[-2:], False))
        self.assertEqual(self.c.call("GET", "/paged/last-id/events?after_id=EVT-000099x&limit=1")[2]["data"][0]["id"],
                         "EVT-000100")                    # any id works as a position, present or not
        _, pages = self.c.walk("flags", 100)
        self.assertEqual([p["body"]["end_of_stream"] for p in pages], [False] * 6 + [True])
        final = pages[-1]["body"]
        self.assertIsNotNone(final["next"])               # a useless token on the final page
        _, _, doc = self.c.call("GET", "/paged/flags/events?cursor=" + final["next"])
        self.assertEqual((doc["data"], doc["end_of_stream"]), ([], True))
        self.assertIsNotNone(doc["next"])

    def test_limit_header(self):
        base = "/paged/limit-header/events"
        _, h, doc = self.c.call("GET", base + "?limit=5", headers={"X-Page-Size": "12"})
        self.assertEqual((len(doc["data"]), h["X-Page-Size"]), (12, "12"))
        _, h, doc = self.c.call("GET", base + "?limit=5")
        self.assertEqual((len(doc["data"]), h["X-Page-Size"]), (100, "100"))
        _, _, doc = self.c.call("GET", base + "?limit=nonsense", headers={"X-Page-Size": "3"})
        self.assertEqual(len(doc["data"]), 3)
        for bad in ("0", "1001", "ten"):
            _, _, err = self.c.call("GET", base, headers={"X-Page-Size": bad}, expect=400)
            self.assertEqual(err["param"], "X-Page-Size")

    def test_since_ties_and_incremental_polling(self):
        truth = self.truth()
        run_ts = truth[0]["updated_at"]
        self.assertEqual(sum(r["updated_at"] == run_ts for r in truth), 250)
        # inclusive lower bound: the whole 250-record run, straddling 3 pages of 100
        recs, pages = self.c.walk("since", 100, first="/paged/since/events?updated_after=%s&limit=100" % run_ts)
        self.assertEqual(recs, truth)
        self.assertEqual([p["body"]["data"][-1]["updated_at"] for p in pages[:2]], [run_ts, run_ts])
        # a bound in the middle of the data, written with an offset (percent-encoded and raw)
        second = truth[250]["updated_at"]             # the one-record run after the first big one
        t = calendar.timegm(time.strptime(second, "%Y-%m-%dT%H:%M:%SZ")) + 3600
        local = time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(t))
        for enc in (urllib.parse.quote(local, safe=""), local):
            recs, _ = self.c.walk("since", 37, first="/paged/since/events?limit=37&updated_after=" + enc)
            self.assertEqual(recs, truth[250:])
        # a bound one second after a run's timestamp excludes that run
        t = calendar.timegm(time.strptime(second, "%Y-%m-%dT%H:%M:%SZ")) + 1
        recs, _ = self.c.walk("since", 100, first="/paged/since/events?updated_after=" +
                              time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)))
        self.assertEqual(recs, truth[251:])
        # incremental polling with the high-water mark: the last run comes again (ties), then new records
        hw = truth[-1]["updated_at"]
        again, _ = self.c.walk("since", 20, first="/paged/since/events?limit=20&updated_after=" + hw)
        self.assertEqual(again, [r for r in truth if r["updated_at"] == hw])
        self.assertEqual(len(again), 33)
        new = self.portal.post("/_control/append", {"dataset": "fsma", "count": 300})["ids"]
        recs, pages = self.c.walk("since", 100, first="/paged/since/events?limit=100&updated_after=" + hw)
        self.assertEqual([r["id"] for r in recs], [r["id"] for r in again] + sorted(new))
        # the cursor keeps its bound: a different updated_after with it is refused; a bad bound too
        tok = pages[0]["body"]["next_cursor"]
        self.assertEqual(self.c.call("GET", "/paged/since/events?cursor=%s&updated_after=%s" % (tok, run_ts),
                                     expect=400)[2]["error"], "updated_after does not match the cursor")
        self.assertEqual(self.c.call("GET", "/paged/since/events?cursor=" + tok)[2]["data"][0]["id"], recs[100]["id"])
        for bad in ("yesterday", "2026-03-01T00:00:00", "2026-13-01T00:00:00Z"):
            self.assertEqual(self.c.call("GET", "/paged/since/events?updated_after=" + bad, expect=400)[2]["param"],
                             "updated_after")

    def test_since_horizon(self):
        truth = self.truth()
        _, h, doc = self.c.call("GET", "/paged/since-horizon/events?limit=1000")
        self.assertEqual(doc["data"], truth[:-33])         # the newest run is within the horizon
        first = self.portal.post("/_control/append", {"dataset": "fsma", "count": 3})["ids"]
        recs, _ = self.c.walk("since-horizon", 1000)
        self.assertEqual(recs, truth)
        second = self.portal.post("/_control/append", {"dataset": "fsma", "count": 2})["ids"]
        recs, pages = self.c.walk("since-horizon", 1000)
        self.assertEqual([r["id"] for r in recs[-3:]], first)
        self.assertFalse(set(second) & {r["id"] for r in recs})
        self.assertEqual(pages[0]["_headers"]["X-Horizon"], recs[-1]["updated_at"])
        self.portal.post("/_control/paged", {"horizon_seconds": 0})
        self.assertEqual([r["id"] for r in self.c.walk("since-horizon", 1000)[0][-2:]], second)

    def test_expired_cursors(self):
        tokens = {
            "cursor-body": lambda: self.c.call("POST", "/paged/cursor-body/events", body={"limit": 5})[2]["next_cursor"],
            "token-alone": lambda: self.c.call("GET", "/paged/token-alone/events?limit=5")[2]["next_page_token"],
            "flags": lambda: self.c.call("GET", "/paged/flags/events?limit=5")[2]["next"],
            "since": lambda: self.c.call("GET", "/paged/since/events?limit=5")[2]["next_cursor"],
        }
        paths = {"cursor-body": None, "token-alone": "/paged/token-alone/events?page_token=%s",
                 "flags": "/paged/flags/events?cursor=%s", "since": "/paged/since/events?cursor=%s"}

        def use(style, tok, expect):
            if style == "cursor-body":
                return self.c.call("POST", "/paged/cursor-body/events", body={"cursor": tok}, expect=expect)[2]
            return self.c.call("GET", paths[style] % tok, expect=expect)[2]
        old = {s: f() for s, f in tokens.items()}
        nxt = self.c.call("GET", "/paged/next-url-abs/events?limit=5")[2]["links"]["next"]
        s = self.portal.post("/_control/paged", {"expire_cursors": True})
        self.assertEqual((s["cursor_epoch"], s["expired_before"], s["expire_status"]), (1, 1, 410))
        for style, tok in old.items():
            self.assertEqual(use(style, tok, 410), {"error": "cursor expired"})
        self.assertEqual(self.c.call("GET", self.c.rel(nxt), expect=410)[2], {"error": "cursor expired"})
        fresh = {s: f() for s, f in tokens.items()}       # new walks work, their tokens too
        for style, tok in fresh.items():
            use(style, tok, 200)
        self.assertEqual(len(self.c.walk("link", 200)[0]), 700)
        self.portal.post("/_control/paged", {"expire_cursors": True, "expire_status": 400})
        for style, tok in fresh.items():
            self.assertEqual(use(style, tok, 400), {"error": "cursor expired"})
        self.assertEqual(self.c.call("GET", "/paged/token-alone/events?page_token=" + old["token-alone"],
                                     expect=400)[2], {"error": "cursor expired"})
        # reset: back to epoch 0 and status 410
        self.portal.post("/_control/reset", {})
        self.assertEqual(self.portal.control("/_control/paged")["expire_status"], 410)
        for bad in ({"expire_status": 418}, {"max_offset": -1}, {"tie_run": "x"}, {"horizon_seconds": True}):
            status, _, _ = self.portal.req("POST", "/_control/paged", body=json.dumps(bad).encode(), token=None)
            self.assertEqual(status, 400, bad)

    def test_snapshot_and_remove(self):
        def snap():
            _, h, doc = self.c.call("GET", "/paged/snapshot/grants")
            return doc
        truth = [r["record"] for r in self.portal.dataset("grants")]
        doc = snap()
        self.assertEqual((doc["grants"], doc["count"]), (truth, 250))
        removed = self.portal.post("/_control/remove", {"dataset": "grants", "count": 3})["ids"]
        self.assertEqual(len(set(removed)), 3)
        doc = snap()
        self.assertEqual(doc["count"], 247)
        self.assertEqual(doc["grants"], [r for r in truth if r["grant_id"] not in removed])
        # the choice is deterministic: the same after a reset; a second call picks others
        again = self.portal.post("/_control/remove", {"dataset": "grants", "count": 3})["ids"]
        self.assertFalse(set(again) & set(removed))
        self.portal.post("/_control/reset", {})
        self.assertEqual(self.portal.post("/_control/remove", {"dataset": "grants", "count": 3})["ids"], removed)
        # by id; unknown ids are skipped; the regular endpoint and the dataset agree
        self.assertEqual(self.portal.post("/_control/remove", {"dataset": "grants",
                                                               "ids": [truth[0]["grant_id"], "nope"]})["ids"],
                         [truth[0]["grant_id"]])
        recs, _ = self.portal.walk("grants", 100)
        self.assertEqual(recs, snap()["grants"])
        self.assertEqual(len(recs), 246)
        # mutate shows in the snapshot (moved to the end, status flipped)
        m = self.portal.post("/_control/mutate", {"dataset": "grants", "count": 1})["ids"]
        self.assertEqual(snap()["grants"][-1]["grant_id"], m[0])
        status, _, _ = self.portal.req("POST", "/_control/remove", body=b'{"dataset":"nope"}', token=None)
        self.assertEqual(status, 400)

    def test_faults_apply_to_paged(self):
        self.portal.post("/_control/faults", {"rules": [{"path_prefix": "/paged/", "nth": 2, "status": 503,
                                                         "retry_after": 1}]})
        self.assertEqual(self.portal.get("/paged/offset/events")[0], 200)
        status, h, _ = self.portal.get("/paged/offset/events")
        self.assertEqual((status, h["Retry-After"]), (503, "1"))
        self.assertEqual(self.portal.get("/fsma/v1/events")[0], 200)     # not matched


if __name__ == "__main__":
    unittest.main()
