#!/usr/bin/env python3
"""Webhooks into custody run, /metrics, /healthz and /readyz, end to end.

A daemon polls the mock portal and serves 127.0.0.1:<ephemeral>. Deliveries
are signed here the way each provider signs them (Standard Webhooks,
Stripe, GitHub), independently of custody's C code:
  - a delivery for a stored record makes a new version with its fields;
  - the same delivery again is acknowledged and changes nothing;
  - a tampered body, a wrong secret, a stale timestamp, a missing header and
    an oversized body are each refused, and change nothing;
  - a delivery that comes before its record is held, then applied when a
    poll ingests the record (audited webhook.held, webhook.applied);
  - /metrics parses as the Prometheus text format and counts all this;
  - the audit log verifies afterwards.
Bounded: --for on the daemon, timeouts on every request."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

STD_KEY = b"custody-test-key-0123456789abcdef"
STD_SECRET = "whsec_" + base64.b64encode(STD_KEY).decode()
STRIPE_SECRET = "whsec_stripe_test_secret"
GITHUB_SECRET = "It's a Secret to Everybody"

KDE = """
      traceability_lot_code:   { type: string, required: true, min_length: 1, max_length: 64 }
      event_type:              { type: enum, required: true, values: [harvest, cooling, packing, shipping, receiving, transformation] }
      event_timestamp:         { type: datetime, required: true, normalize: utc }
"""


def config(url, extra_sources=""):
    src = ("  - name: %s\n    request:\n      url: %s/fsma/v1/events\n"
           "      auth: { type: bearer, token_env: SUPPLIER_API_KEY }\n"
           "    records: $.data\n"
           "    pagination: { type: cursor, next: $.next_cursor, param: cursor, limit_param: limit, limit: 100 }\n"
           "    contract: kde\n    every: 3s\n"
           "    webhook: { scheme: %s, secret_env: [%s], contract: %s, hold_for: 1h }\n")
    return ("store: sqlite:custody.db\n"
            "run: { startup_jitter: 0s, adaptive: false }\n"
            "serve: { listen: 127.0.0.1:0 }\n"
            "sources:\n" +
            src % ("std", url, "standard", "OLD_SECRET, STD_SECRET", "status_update") +
            src % ("stripe", url, "stripe", "STRIPE_SECRET", "stripe_update") +
            src % ("gh", url, "github", "GITHUB_SECRET", "status_update") +
            "contracts:\n  kde:\n    key: [traceability_lot_code, event_type, event_timestamp]\n    fields:\n" + KDE +
            "      product_description:     { type: string, required: true }\n"
            "      quantity:                { type: number, required: true, gt: 0 }\n"
            "      unit_of_measure:         { type: string, required: true }\n"
            "      origin_location_id:      { type: string, required: true }\n"
            "      destination_location_id: { type: string, required: true }\n"
            "      supplier_id:             { type: string, required: true, pattern: \"^SUP-[0-9]+$\" }\n"
            "  status_update:\n    key: [traceability_lot_code, event_type, event_timestamp]\n    fields:\n" + KDE +
            "      status:                  { type: enum, required: true, values: [received, paid, refunded] }\n"
            "  stripe_update:\n    key: [traceability_lot_code, event_type, event_timestamp]\n    fields:\n"
            "      traceability_lot_code:   { type: string, required: true, from: $.data.object.lot }\n"
            "      event_type:              { type: enum, required: true, from: $.data.object.event, values: [harvest, cooling, packing, shipping, receiving, transformation] }\n"
            "      event_timestamp:         { type: datetime, required: true, normalize: utc, from: $.data.object.at }\n"
            "      payment_status:          { type: string, required: true, from: $.data.object.status }\n")


def std_headers(body, wid, ts=None, key=STD_KEY):
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(key, b"%s.%d.%s" % (wid.encode(), ts, body), hashlib.sha256).digest()
    return {"webhook-id": wid, "webhook-timestamp": str(ts),
            "webhook-signature": "v1," + base64.b64encode(mac).decode(), "Content-Type": "application/json"}


def stripe_headers(body, ts=None, secret=STRIPE_SECRET):
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(secret.encode(), b"%d.%s" % (ts, body), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": "t=%d,v1=%s" % (ts, mac), "Content-Type": "application/json"}


def github_headers(body, delivery, secret=GITHUB_SECRET):
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": "sha256=" + mac, "X-GitHub-Delivery": delivery,
            "Content-Type": "application/json"}


def post(port, path, body, headers):
    rq = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(rq, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as ex:
        text = ex.read()
        try:
            return ex.code, json.loads(text or b"{}")
        except ValueError:
            return ex.code, {"raw": text.decode(errors="replace")}


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as ex:
        return ex.code, ex.read().decode(), ex.headers.get("Content-Type", "")


METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? '
                    r'([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?$')


def parse_metrics(text):
    """The Prometheus text exposition format (0.0.4), strictly: every sample
    line well formed, every family declared by TYPE before its samples,
    histogram buckets cumulative and ending in +Inf == _count."""
    types, samples = {}, []
    for ln in text.split("\n"):
        if not ln:
            continue
        if ln.startswith("# HELP "):
            continue
        if ln.startswith("# TYPE "):
            _, _, name, kind = ln.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), ln
            assert name not in types, "family declared twice: " + name
            types[name] = kind
            continue
        assert not ln.startswith("#"), "stray comment: " + ln
        m = METRIC.match(ln)
        assert m, "not a sample line: %r" % ln
        name, labels, value = m.group(1), m.group(3) or "", float(m.group(5).replace("Inf", "inf"))
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        assert fam in types, "sample before its TYPE: " + ln
        if types[fam] == "counter":
            assert value >= 0, ln
        samples.append((name, labels, value))
    for fam, kind in types.items():
        if kind != "histogram":
            continue
        buckets = [(l, v) for n, l, v in samples if n == fam + "_bucket"]
        assert buckets and buckets[-1][0].endswith('le="+Inf"'), fam
        vals = [v for _, v in buckets]
        assert vals == sorted(vals), "%s buckets are not cumulative" % fam
        count = [v for n, _, v in samples if n == fam + "_count"]
        assert count and count[0] == vals[-1], fam
    return types, samples


def metric(samples, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for n, l, v in samples:
        if n == name and ",".join(sorted(l.split(","))) == want:
            return v
    return None


def records_of(db, source):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT key, version, canonical FROM records WHERE source = ? ORDER BY key, version",
                           (source,)).fetchall()
    finally:
        con.close()


def audit_actions(db, action):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT source, subject, detail FROM audit WHERE action = ? ORDER BY seq",
                           (action,)).fetchall()
    finally:
        con.close()


def wait(cond, what, limit=40):
    deadline = time.time() + limit
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def tls_phase(custody, env):
    """serve.tls_cert/tls_key: the server speaks HTTPS (and only HTTPS)."""
    import ssl
    work = tempfile.mkdtemp(prefix="custody-hooks-tls-")
    pki = os.path.join(work, "pki")
    subprocess.run(["sh", os.path.join(harness.ROOT, "tests", "mockportal", "mkcerts.sh"), pki], check=True,
                   capture_output=True, timeout=120)
    with harness.Portal("--fsma-events", "5", "--invalid-ratio", "0") as portal:
        cfg = config(portal.url).replace("serve: { listen: 127.0.0.1:0 }",
                                         "serve: { listen: 127.0.0.1:0, tls_cert: pki/server.pem, "
                                         "tls_key: pki/server.key }")
        with open(os.path.join(work, "config.yaml"), "w") as f:
            f.write(cfg)
        logp = os.path.join(work, "daemon.log")
        with open(logp, "w") as logf:
            proc = subprocess.Popen([custody, "run", "-c", os.path.join(work, "config.yaml"), "--for", "30s"],
                                    stdout=subprocess.DEVNULL, stderr=logf, env=env, cwd=work)
            try:
                def port_of():
                    with open(logp) as lf:
                        for ln in lf:
                            if '"serve.start"' in ln:
                                return json.loads(ln)["port"]
                    return None
                port = wait(port_of, "the TLS server to listen")
                ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
                with urllib.request.urlopen("https://127.0.0.1:%d/healthz" % port, timeout=30, context=ctx) as r:
                    assert r.status == 200 and r.read() == b"ok\n"
                db = os.path.join(work, "custody.db")
                wait(lambda: len(records_of(db, "std")) == 5 if os.path.exists(db) else False, "the first poll")
                _, _, canon = records_of(db, "std")[0]
                rec = json.loads(canon)
                body = json.dumps({k: rec[k] for k in ("traceability_lot_code", "event_type", "event_timestamp")} |
                                  {"status": "paid"}).encode()
                rq = urllib.request.Request("https://127.0.0.1:%d/hooks/std" % port, data=body,
                                            headers=std_headers(body, "msg_tls"), method="POST")
                with urllib.request.urlopen(rq, timeout=30, context=ctx) as r:
                    ans = json.loads(r.read())
                    assert r.status == 200 and ans["outcome"] == "applied", ans
                try:
                    urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10)
                    raise AssertionError("plain HTTP was answered on the TLS port")
                except (urllib.error.URLError, ConnectionError, OSError) as ex:
                    if isinstance(ex, urllib.error.HTTPError):
                        raise AssertionError("plain HTTP got an HTTP answer on the TLS port")
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    a = ap.parse_args()
    custody = os.path.abspath(a.custody)
    work = tempfile.mkdtemp(prefix="custody-hooks-")
    env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, STD_SECRET=STD_SECRET, OLD_SECRET="whsec_" +
               base64.b64encode(b"retired-key-retired-key-retired!").decode(),
               STRIPE_SECRET=STRIPE_SECRET, GITHUB_SECRET=GITHUB_SECRET)
    failures = []
    with harness.Portal("--fsma-events", "30", "--invalid-ratio", "0") as portal:
        with open(os.path.join(work, "config.yaml"), "w") as f:
            f.write(config(portal.url))
        logp = os.path.join(work, "daemon.log")
        logf = open(logp, "w")
        proc = subprocess.Popen([custody, "run", "-c", os.path.join(work, "config.yaml"), "--for", "60s"],
                                stdout=subprocess.DEVNULL, stderr=logf, env=env, cwd=work)
        db = os.path.join(work, "custody.db")
        try:
            def port_of():
                with open(logp) as lf:
                    for ln in lf:
                        if '"serve.start"' in ln:
                            return json.loads(ln)["port"]
                return None
            port = wait(port_of, "the server to listen")
            wait(lambda: len(records_of(db, "std")) == 30 if os.path.exists(db) else False, "the first poll")
            code, body, ctype = get(port, "/healthz")
            assert code == 200 and body == "ok\n", (code, body)
            code, body, _ = get(port, "/readyz")
            assert code == 200, (code, body)

            key0, _, canon0 = records_of(db, "std")[0]
            rec0 = json.loads(canon0)
            ident = {k: rec0[k] for k in ("traceability_lot_code", "event_type", "event_timestamp")}
            payload = json.dumps(dict(ident, status="paid")).encode()

            # refusals first: none may change anything
            before = len(records_of(db, "std"))
            checks = [
                ("tampered body", payload.replace(b"paid", b"paiD"), std_headers(payload, "msg_t1"), 401),
                ("wrong secret", payload, std_headers(payload, "msg_t2", key=b"not-the-key-not-the-key-not-the!"), 401),
                ("stale timestamp", payload, std_headers(payload, "msg_t3", ts=int(time.time()) - 3600), 401),
                ("future timestamp", payload, std_headers(payload, "msg_t4", ts=int(time.time()) + 3600), 401),
                ("missing signature", payload, {k: v for k, v in std_headers(payload, "msg_t5").items()
                                                if k != "webhook-signature"}, 400),
                ("malformed signature", payload, dict(std_headers(payload, "msg_t6"), **{"webhook-signature": "v1,%%%"}),
                 400),
            ]
            for what, body_, hdrs, want in checks:
                code, ans = post(port, "/hooks/std", body_, hdrs)
                if code != want:
                    failures.append("%s: HTTP %d %s, expected %d" % (what, code, ans, want))
            code, ans = post(port, "/hooks/std", b"{" + b" " * (2 << 20) + b"}", std_headers(b"{}", "msg_big"))
            if code != 413:
                failures.append("oversized body: HTTP %d, expected 413" % code)
            code, ans = post(port, "/hooks/nosuch", payload, std_headers(payload, "msg_x"))
            if code != 404:
                failures.append("unknown source: HTTP %d, expected 404" % code)
            if len(records_of(db, "std")) != before or audit_actions(db, "webhook.received"):
                failures.append("a refused delivery changed the store")

            # a good delivery: a new version with the field
            code, ans = post(port, "/hooks/std", payload, std_headers(payload, "msg_1"))
            assert code == 200 and ans["outcome"] == "applied" and ans["version"] == 2, (code, ans)
            latest = [json.loads(c) for k, v, c in records_of(db, "std") if k == key0][-1]
            assert latest["status"] == "paid" and latest["quantity"] == rec0["quantity"], latest
            # the same delivery again: acknowledged, nothing changes
            n = len(records_of(db, "std"))
            code, ans = post(port, "/hooks/std", payload, std_headers(payload, "msg_1"))
            assert code == 200 and ans["outcome"] == "duplicate", (code, ans)
            assert len(records_of(db, "std")) == n, "a duplicate delivery changed the store"

            # Stripe and GitHub
            sbody = json.dumps({"id": "evt_1", "type": "charge.succeeded", "data": {"object": {
                "lot": ident["traceability_lot_code"], "event": ident["event_type"], "at": ident["event_timestamp"],
                "status": "succeeded"}}}).encode()
            code, ans = post(port, "/hooks/stripe", sbody, stripe_headers(sbody))
            assert code == 200 and ans["outcome"] == "applied", (code, ans)
            code, ans = post(port, "/hooks/stripe", sbody, stripe_headers(sbody, secret="whsec_wrong"))
            assert code == 401, (code, ans)
            code, ans = post(port, "/hooks/stripe", sbody, stripe_headers(sbody, ts=int(time.time()) - 301))
            assert code == 401 and ans["verdict"] == "stale", (code, ans)
            gbody = json.dumps(dict(ident, status="received")).encode()
            code, ans = post(port, "/hooks/gh", gbody, github_headers(gbody, "d-1"))
            assert code == 200 and ans["outcome"] == "applied", (code, ans)
            code, ans = post(port, "/hooks/gh", gbody, github_headers(gbody, "d-2", secret="wrong"))
            assert code == 401, (code, ans)

            # early: the record is not here yet
            portal.control("/_control/append", {"dataset": "fsma", "count": 3})
            ds = portal.dataset("fsma")
            recs = harness.records_of(ds) if hasattr(harness, "records_of") else ds
            newest = recs[-1]["record"] if isinstance(recs[-1], dict) and "record" in recs[-1] else recs[-1]
            early_ident = {k: newest[k] for k in ("traceability_lot_code", "event_type", "event_timestamp")}
            ebody = json.dumps(dict(early_ident, status="refunded")).encode()
            code, ans = post(port, "/hooks/std", ebody, std_headers(ebody, "msg_early"))
            if code == 202:
                assert ans["outcome"] == "held", ans
                wait(lambda: audit_actions(db, "webhook.applied"), "the held delivery to be applied")
            else:
                # the poll won the race: then it applies directly; still correct
                assert code == 200 and ans["outcome"] == "applied", (code, ans)
                print("note: the poll ingested the appended record before the early delivery arrived")
            ek = [r for r in records_of(db, "std") if json.loads(r[2]).get("status") == "refunded"]
            assert ek, "the early delivery's field is in a version of its record"

            code, text, ctype = get(port, "/metrics")
            assert code == 200 and ctype.startswith("text/plain; version=0.0.4"), (code, ctype)
            types, samples = parse_metrics(text)
            for fam in ("custody_polls_total", "custody_http_requests_total", "custody_records_total",
                        "custody_commit_seconds", "custody_webhooks_total", "custody_source_breaker_open",
                        "custody_source_lag_seconds"):
                assert fam in types, "metrics lack " + fam
            assert metric(samples, "custody_webhooks_total", outcome="duplicate") == 1, text
            assert metric(samples, "custody_webhooks_total", outcome="refused") >= 6, text
            assert metric(samples, "custody_webhooks_total", outcome="too_large") == 1, text
            assert metric(samples, "custody_http_requests_total", status="200") >= 3, text
            assert metric(samples, "custody_records_total", outcome="new") >= 90, text
        except AssertionError as ex:
            failures.append(str(ex))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                failures.append("the daemon did not stop within 60 s of SIGTERM")
            logf.close()
    cli = harness.Custody(custody, work, env)
    code, out, err = cli.run("audit", "-c", os.path.join(work, "config.yaml"), "verify", timeout=300)
    if code != 0:
        failures.append("audit verify after webhooks: %s %s" % (out, err))
    held = audit_actions(db, "webhook.held")
    applied = audit_actions(db, "webhook.applied")
    if held and len(applied) != len(held):
        failures.append("held %d, applied %d" % (len(held), len(applied)))
    try:
        tls_phase(custody, env)
        print("tls: healthz and a signed delivery over HTTPS with the test CA; plain HTTP refused")
    except AssertionError as ex:
        failures.append("tls: %s" % ex)
    for f_ in failures:
        print("FAIL " + f_)
    print("webhooks: %d failed (work in %s)" % (len(failures), work))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
