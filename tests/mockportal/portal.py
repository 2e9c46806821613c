#!/usr/bin/env python3
"""custody's demo and test upstream: a scriptable fake API (stdlib only).

Serves three scenario datasets with keyset cursor pagination, bearer auth,
deterministic content for a seed, a share of invalid records, mutation
between polls, and fault injection. See README.md beside this file."""
import argparse
import base64
import json
import os
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

UNITS = ["kg", "lb", "ea", "case", "pallet", "liter", "gallon"]
EVENT_TYPES = ["harvest", "cooling", "packing", "shipping", "receiving", "transformation"]
PRODUCTS = ["Romaine lettuce, 24ct", "Cantaloupe, whole", "Fresh-cut spinach 10oz", "Roma tomatoes",
            "Shell eggs, dozen", "Atlantic salmon fillet", "Cucumbers, field", "Fresh herbs, cilantro"]
OFFSETS = ["Z", "-05:00", "-04:00", "+01:00", "-08:00", "+00:00", "+05:30"]
GRANT_STATUS = ["submitted", "under_review", "awarded", "declined", "closed"]
SKUS = ["GA-2026", "VIP-2026", "STUDENT-2026"]
PAY = ["pending", "paid", "completed", "Refunded", "FAILED", "Pending"]
NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra",
         "Barbara Liskov", "Donald Knuth", "Frances Allen", "Ken Thompson", "Radia Perlman"]

FSMA_BAD = ["missing_lot", "quantity_nonpositive", "quantity_string", "bad_unit", "bad_timestamp",
            "timestamp_no_zone", "lot_too_long", "bad_event_type"]
GRANT_BAD = ["missing_pi", "negative_amount", "bad_status"]
REG_BAD = ["email_no_at", "missing_created_at"]


def ts(base, minutes, off):
    """An ISO 8601 local time at UTC base+minutes, written with offset off."""
    t = base + minutes * 60
    if off == "Z":
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    sign = 1 if off[0] == "+" else -1
    delta = sign * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + delta)) + off


BASE = 1772323200  # 2026-03-01T00:00:00Z


class Dataset:
    def __init__(self, name, records, list_key, next_key, has_more):
        self.name = name
        self.list_key = list_key
        self.next_key = next_key
        self.has_more = has_more
        self.seq = 0
        self.items = []        # [seq, record, why-invalid or None]
        self.by_id = {}
        for rec, why in records:
            self.add(rec, why)
        self.version = 0
        self.cache = {}

    def add(self, rec, why):
        self.seq += 1
        item = [self.seq, rec, why]
        self.items.append(item)
        self.by_id[rec["id"] if "id" in rec else rec["grant_id"]] = item
        return item

    def touch(self, item, now_iso):
        self.items.remove(item)
        self.seq += 1
        item[0] = self.seq
        if "updated_at" in item[1]:
            item[1]["updated_at"] = now_iso
        if "last_updated" in item[1]:
            item[1]["last_updated"] = now_iso
        self.items.append(item)
        self.version += 1
        self.cache.clear()

    def page(self, after, limit):
        key = (after, limit, self.version)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        # items are in seq order; find the first with seq > after
        lo, hi = 0, len(self.items)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.items[mid][0] <= after:
                lo = mid + 1
            else:
                hi = mid
        chunk = self.items[lo:lo + limit]
        more = lo + limit < len(self.items)
        body = {self.list_key: [it[1] for it in chunk]}
        body[self.next_key] = token(chunk[-1][0]) if (more and chunk) else None
        if self.has_more:
            body["has_more"] = more
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        if len(self.cache) > 4096:
            self.cache.clear()
        self.cache[key] = data
        return data


def token(seq):
    return base64.urlsafe_b64encode(json.dumps({"after": seq}, separators=(",", ":")).encode()).decode().rstrip("=")


def untoken(tok):
    pad = "=" * (-len(tok) % 4)
    obj = json.loads(base64.urlsafe_b64decode(tok + pad).decode())
    after = obj["after"]
    if not isinstance(after, int) or after < 0:
        raise ValueError("bad position")
    return after


def fsma_event(i, rnd):
    off = rnd.choice(OFFSETS)
    minutes = i * 7 + rnd.randint(0, 5)
    qty = rnd.choice([rnd.randint(1, 400), round(rnd.uniform(0.5, 900.0), 2)])
    return {
        "id": "EVT-%06d" % i,
        "traceability_lot_code": "TLC-%06d" % (i // 3),
        "product_description": rnd.choice(PRODUCTS),
        "quantity": qty,
        "unit_of_measure": rnd.choice(UNITS),
        "origin_location_id": "LOC-%03d" % rnd.randint(1, 200),
        "destination_location_id": "LOC-%03d" % rnd.randint(1, 200),
        "event_timestamp": ts(BASE, minutes, off),
        "event_type": EVENT_TYPES[i % 3 + rnd.choice([0, 3])],
        "supplier_id": "SUP-%d" % rnd.choice([8842, 1207, 5531]),
        "updated_at": ts(BASE, minutes + 30, "Z"),
    }


def spoil_fsma(rec, why, rnd):
    if why == "missing_lot":
        del rec["traceability_lot_code"]
    elif why == "quantity_nonpositive":
        rec["quantity"] = rnd.choice([0, -3, -0.5])
    elif why == "quantity_string":
        rec["quantity"] = "twelve"
    elif why == "bad_unit":
        rec["unit_of_measure"] = rnd.choice(["crate", "KG ", "tons"])
    elif why == "bad_timestamp":
        rec["event_timestamp"] = rnd.choice(["2026-02-30T10:00:00Z", "yesterday", "2026-13-01T00:00:00Z"])
    elif why == "timestamp_no_zone":
        rec["event_timestamp"] = rec["event_timestamp"][:19]
    elif why == "lot_too_long":
        rec["traceability_lot_code"] = "TLC-" + "X" * 70
    elif why == "bad_event_type":
        rec["event_type"] = "teleportation"


def build(name, n, ratio, seed):
    rnd = random.Random("%s:%d" % (name, seed))
    out = []
    for i in range(1, n + 1):
        bad = rnd.random() < ratio
        if name == "fsma":
            rec = fsma_event(i, rnd)
            why = FSMA_BAD[i % len(FSMA_BAD)] if bad else None
            if why:
                spoil_fsma(rec, why, rnd)
        elif name == "grants":
            agency = rnd.choice(["NIH-R01", "NSF-CAREER", "NIH-K99", "DOE-SC"])
            rec = {"grant_id": "%s-%05d" % (agency, i), "pi_name": rnd.choice(NAMES),
                   "award_amount": rnd.choice([rnd.randint(50, 900) * 1000, round(rnd.uniform(1e4, 2e6), 2)]),
                   "status": rnd.choice(GRANT_STATUS),
                   "last_updated": ts(BASE, i * 90, rnd.choice(OFFSETS))}
            rec["id"] = rec["grant_id"]
            why = GRANT_BAD[i % len(GRANT_BAD)] if bad else None
            if why == "missing_pi":
                del rec["pi_name"]
            elif why == "negative_amount":
                rec["award_amount"] = -rec["award_amount"]
            elif why == "bad_status":
                rec["status"] = "pending_magic"
        else:
            nm = rnd.choice(NAMES)
            email = "%s@%s" % (nm.replace(" ", ".").replace("'", ""), rnd.choice(["example.org", "Example.ORG", "uni.example.edu"]))
            if rnd.random() < 0.3:
                email = "  " + email + " "
            sku = rnd.choice(SKUS) if rnd.random() > 0.05 else "PROMO-X"
            rec = {"id": "REG-%06d" % i, "email": email, "ticket_sku": sku,
                   "payment_status": rnd.choice(PAY), "created_at": ts(BASE, i * 11, rnd.choice(OFFSETS)),
                   "metadata": {"source": rnd.choice(["web", "mobile", "import"]), "seat": i % 300}}
            why = REG_BAD[i % len(REG_BAD)] if bad else None
            if why == "email_no_at":
                rec["email"] = rec["email"].replace("@", " at ")
            elif why == "missing_created_at":
                del rec["created_at"]
        out.append((rec, why))
    return out


def new_record(ds, i, rnd, now):
    """A fresh, valid record for /_control/append, with a new identity and the
    dataset's own change-time field set to now."""
    if ds.name == "fsma":
        rec = fsma_event(i, rnd)
        rec["updated_at"] = now
        return rec
    # Grants and registrations: a copy of the newest valid record under a new
    # id (a copy of an invalid one would be served as valid; a shared
    # grant_id would make the "new" award a version of an old one).
    base = next((it[1] for it in reversed(ds.items) if it[2] is None), None)
    if base is None:
        raise ValueError("dataset has no valid record to copy")
    rec = json.loads(json.dumps(base))
    if ds.name == "grants":
        rec["grant_id"] = rec["id"] = "%s-%05d" % (base["grant_id"].rsplit("-", 1)[0], i)
        rec["last_updated"] = now
    else:
        rec["id"] = "REG-%06d" % i
        rec["created_at"] = now
    return rec


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        a = self.args
        self.data = {
            "fsma": Dataset("fsma", build("fsma", a.fsma_events, a.invalid_ratio, a.seed), "data", "next_cursor", True),
            "grants": Dataset("grants", build("grants", a.grants, a.invalid_ratio, a.seed), "grants", "next", False),
            "registrations": Dataset("registrations", build("registrations", a.registrations, a.invalid_ratio, a.seed),
                                     "data", "next_cursor", False),
        }
        self.rules = []
        self.matched = 0
        self.stats = {"requests": 0, "by_path": {}, "by_status": {}}
        self.mutations = 0


ROUTES = {"/fsma/v1/events": "fsma", "/grants/v1/awards": "grants", "/registrations/v1/registrations": "registrations"}


def make_handler(state):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "custody-demo-portal/1"

        def log_message(self, fmt, *a):
            if not state.args.quiet:
                sys.stderr.write("portal: %s %s\n" % (self.command, self.path.split("?")[0]))

        def send(self, status, body, ctype="application/json", headers=None):
            if isinstance(body, (dict, list)):
                body = json.dumps(body, separators=(",", ":")).encode()
            elif isinstance(body, str):
                body = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.write(body)
            with state.lock:
                s = state.stats["by_status"]
                s[str(status)] = s.get(str(status), 0) + 1

        def body_json(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b"{}"
            return json.loads(raw.decode() or "{}")

        def do_POST(self):
            u = urlparse(self.path)
            try:
                req = self.body_json()
            except ValueError:
                return self.send(400, {"error": "body is not JSON"})
            with state.lock:
                if u.path == "/_control/faults":
                    state.rules = list(req.get("rules", []))
                    state.matched = 0
                    return self.send(200, {"ok": True, "rules": len(state.rules)})
                if u.path == "/_control/reset":
                    state.reset()
                    return self.send(200, {"ok": True})
                if u.path in ("/_control/mutate", "/_control/append"):
                    ds = state.data.get(req.get("dataset", "fsma"))
                    if ds is None:
                        return self.send(400, {"error": "unknown dataset"})
                    now = ts(BASE + 86400 * 30, state.mutations, "Z")
                    state.mutations += 1
                    changed = []
                    if u.path.endswith("append"):
                        rnd = random.Random("append:%d:%d" % (state.args.seed, ds.seq))
                        for _ in range(int(req.get("count", 1))):
                            i = 900000 + ds.seq
                            try:
                                rec = new_record(ds, i, rnd, now)
                            except ValueError as ex:
                                return self.send(409, {"error": str(ex)})
                            ds.add(rec, None)
                            changed.append(rec.get("id"))
                        ds.version += 1
                        ds.cache.clear()
                        return self.send(200, {"ids": changed})
                    if "ids" in req:
                        targets = [ds.by_id[i] for i in req["ids"] if i in ds.by_id]
                    else:
                        valid = [it for it in ds.items if it[2] is None]
                        rnd = random.Random("mutate:%d:%d" % (state.args.seed, state.mutations))
                        targets = rnd.sample(valid, min(int(req.get("count", 1)), len(valid)))
                    for it in targets:
                        rec = it[1]
                        if req.get("changes"):
                            rec.update(req["changes"])
                        elif ds.name == "fsma":
                            rec["quantity"] = (rec["quantity"] if isinstance(rec["quantity"], (int, float)) else 1) + 1000
                        elif ds.name == "grants":
                            rec["status"] = "closed" if rec.get("status") != "closed" else "awarded"
                        else:
                            rec["payment_status"] = "refunded"
                        ds.touch(it, now)
                        changed.append(rec.get("id"))
                    return self.send(200, {"ids": changed})
            return self.send(404, {"error": "no such control endpoint"})

        def do_GET(self):
            u = urlparse(self.path)
            q = parse_qs(u.query)
            with state.lock:
                state.stats["requests"] += 1
                bp = state.stats["by_path"]
                bp[u.path] = bp.get(u.path, 0) + 1
            if u.path == "/healthz":
                return self.send(200, "ok", "text/plain")
            if u.path == "/_control/stats":
                with state.lock:
                    return self.send(200, state.stats)
            if u.path == "/_control/dataset":
                name = (q.get("name") or ["fsma"])[0]
                with state.lock:
                    ds = state.data.get(name)
                    if not ds:
                        return self.send(400, {"error": "unknown dataset"})
                    recs = [{"record": it[1], "invalid": it[2] is not None, "why": it[2]} for it in ds.items]
                return self.send(200, {"records": recs})
            ds_name = ROUTES.get(u.path)
            if not ds_name:
                return self.send(404, {"error": "not found", "path": u.path})
            # Faults apply to data requests that match.
            rule = None
            with state.lock:
                if state.rules:
                    matching = [r for r in state.rules if u.path.startswith(r.get("path_prefix", "/"))]
                    if matching:
                        state.matched += 1
                        for r in matching:
                            nth, times = int(r.get("nth", 1)), int(r.get("times", 1))
                            if nth <= state.matched < nth + times:
                                rule = r
                                break
            if rule:
                act = rule.get("action")
                if rule.get("delay_ms"):
                    time.sleep(min(float(rule["delay_ms"]), 30000) / 1000.0)
                if act == "close":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if rule.get("status"):
                    return self.send(int(rule["status"]), rule.get("body", json.dumps({"error": "injected fault"})),
                                     headers=rule.get("headers"))
                if act == "garbage":
                    return self.send(200, "<html>Service temporarily unavailable</html>", "text/html")
            if self.headers.get("Authorization") != "Bearer " + state.args.token:
                return self.send(401, {"error": "missing or wrong bearer token"},
                                 headers={"WWW-Authenticate": "Bearer"})
            try:
                limit = int((q.get("limit") or ["100"])[0])
                if not 1 <= limit <= 1000:
                    raise ValueError
            except ValueError:
                return self.send(400, {"error": "limit must be an integer 1..1000", "param": "limit"})
            cur = (q.get("cursor") or [None])[0]
            try:
                after = untoken(cur) if cur else 0
            except (ValueError, KeyError, TypeError):
                return self.send(400, {"error": "malformed cursor", "param": "cursor"})
            with state.lock:
                data = state.data[ds_name].page(after, limit)
            if rule and rule.get("action") == "truncate":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
                return
            return self.send(200, data)

    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8642)
    ap.add_argument("--port-file")
    ap.add_argument("--seed", type=int, default=204)
    ap.add_argument("--fsma-events", type=int, default=2000)
    ap.add_argument("--grants", type=int, default=40)
    ap.add_argument("--registrations", type=int, default=500)
    ap.add_argument("--invalid-ratio", type=float, default=0.03)
    ap.add_argument("--token", default="demo-token")
    ap.add_argument("--script")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=0)
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("the demo portal binds to loopback only")
    state = State(a)
    if a.script:
        with open(a.script) as f:
            script = json.load(f)
        state.rules = script.get("faults", [])
    srv = ThreadingHTTPServer((a.host, a.port), make_handler(state))
    srv.daemon_threads = True
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, a.port_file)
    print("listening on http://%s:%d" % (a.host, port), flush=True)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.max_seconds > 0:
        t = threading.Timer(a.max_seconds, stop)
        t.daemon = True
        t.start()
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
