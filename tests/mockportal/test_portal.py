#!/usr/bin/env python3
"""Self-test of the demo portal (stdlib unittest only).

Starts portal.py on an ephemeral loopback port and checks the properties the
end-to-end cases rely on: cursor pages chain to the whole dataset with no
duplicate and no gap, two fresh starts serve identical bytes, bearer auth,
the invalid-record share, /_control/mutate, /_control/append and
/_control/faults. Every network call, process and test is bounded in time.

    python3 tests/mockportal/test_portal.py [-v]
"""
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PORTAL = os.path.join(HERE, "portal.py")
TOKEN = "demo-token"
TEST_SECONDS = 60        # upper bound for any one test
HTTP_SECONDS = 10        # upper bound for any one request
ROUTES = {"fsma": ("/fsma/v1/events", "data", "next_cursor"),
          "grants": ("/grants/v1/awards", "grants", "next"),
          "registrations": ("/registrations/v1/registrations", "data", "next_cursor")}
ARGS = ["--fsma-events", "700", "--grants", "250", "--registrations", "400", "--invalid-ratio", "0.1"]


class Portal:
    """portal.py as a child process on 127.0.0.1:<ephemeral port>."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="portal-test-")
        portfile = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, PORTAL, "--port", "0", "--port-file", portfile, "--quiet",
                                      "--max-seconds", "300", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not (os.path.exists(portfile) and os.path.getsize(portfile) > 0):
            if self.proc.poll() is not None:
                raise RuntimeError("portal exited: " + self.proc.stderr.read().decode())
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("portal did not start within 20 s")
            time.sleep(0.02)
        with open(portfile) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stderr.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def get(self, path, token=TOKEN):
        """(status, headers, body bytes) of a GET; HTTP errors are returned, not raised."""
        headers = {"Authorization": "Bearer " + token} if token else {}
        req = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=HTTP_SECONDS) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            try:
                return e.code, e.headers, e.read()
            finally:
                e.close()

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=HTTP_SECONDS) as r:
            return json.loads(r.read().decode())

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


if __name__ == "__main__":
    unittest.main()
