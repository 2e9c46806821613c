#!/usr/bin/env python3
"""custody's demo and test upstream: a scriptable fake API (stdlib only).

Serves three scenario datasets with keyset cursor pagination, bearer auth,
deterministic content for a seed, a share of invalid records, mutation
between polls, and fault injection; for resilience tests also a request log,
a server-side rate limit, other auth schemes (basic, API key, OAuth2 client
credentials, custom header), conditional requests, gzip, TLS/mTLS and a
mirror path. See README.md beside this file."""
import argparse
import base64
import bisect
import calendar
import datetime
import email.utils
import gzip
import hashlib
import json
import math
import os
import random
import secrets
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, unquote, urlparse

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
        self.mtime = int(time.time())   # Last-Modified (whole seconds)

    def bump_mtime(self):
        """A mutation or append: Last-Modified moves forward by at least one
        second, so If-Modified-Since can tell the before and after apart."""
        self.mtime = max(int(time.time()), self.mtime + 1)

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


AUTH_MODES = ("bearer", "basic", "apikey_header", "apikey_query", "oauth2", "header")
BASIC_USER = "demo"
OAUTH_CLIENT_ID = "demo-client"
REALM = 'realm="custody-demo-portal"'
MIRROR = "/mirror"              # every dataset is also served under /mirror/...
LOG_MAX = 10000                 # request log entries kept (oldest dropped)
MAX_KEYS = 10000                # issued OAuth tokens / rate-limit buckets kept
MAX_DELAY_S = 30.0              # delay_ms, slow_body: at most this long
MAX_OVERSIZE = 1 << 30          # oversize: at most 1 GiB
STREAM_CHUNK = 1 << 20          # oversize: written in 1 MiB pieces
MAX_FORM = 64 * 1024            # /oauth/token: largest request body read
WRITE_TIMEOUT_S = 30.0          # streamed bodies give up on a stalled reader


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.tokens = {}        # OAuth access token -> expiry (time.time()); kept across reset
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
        self.stats = {"requests": 0, "by_path": {}, "by_status": {}, "early_requests": 0,
                      "token_requests": 0, "tokens_issued": 0}
        self.mutations = 0
        # runtime settings go back to the command line's
        self.log = deque(maxlen=LOG_MAX)
        self.not_before = 0.0   # when the last announced Retry-After lets the next request in
        self.rps = float(a.rate_limit or 0)
        self.buckets = {}       # credential -> [tokens, time]
        self.auth_mode = a.auth
        self.auth_for = dict(a.auth_for_map)
        self.gzip = bool(a.gzip)
        self.oauth_ttl = int(a.oauth_ttl)
        # the /paged/ family (see README.md)
        fs = self.data["fsma"]
        fs.paged_orig = [(str(it[1].get("id")), it[1].get("updated_at")) for it in fs.items]
        self.paged = {"max_offset": int(getattr(a, "paged_max_offset", 10000)), "expire_status": 410,
                      "horizon_seconds": int(getattr(a, "paged_horizon", 60)),
                      "tie_run": int(getattr(a, "paged_tie_run", 250)), "expired_before": 0}
        self.paged_epoch = 0     # cursor generation, advanced by expire_cursors
        self.removals = 0        # /_control/remove calls (seeds its choice)

    def paged_settings(self):
        return dict(self.paged, cursor_epoch=self.paged_epoch)

    def settings(self):
        return {"auth": self.auth_mode, "auth_for": self.auth_for, "rate_limit": self.rps, "gzip": self.gzip,
                "oauth_ttl": self.oauth_ttl, "tls": bool(self.args.tls_cert),
                "mtls": bool(self.args.tls_client_ca), "oauth_tokens": len(self.tokens)}


ROUTES = {"/fsma/v1/events": "fsma", "/grants/v1/awards": "grants", "/registrations/v1/registrations": "registrations"}


def route(path):
    """The dataset a data path serves (also under /mirror/...), or None."""
    if path.startswith(MIRROR + "/"):
        path = path[len(MIRROR):]
    return ROUTES.get(path)


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def parse_retry_after(value, now):
    """The time a Retry-After value (delta-seconds or HTTP-date) permits, or None."""
    value = str(value).strip()
    try:
        return now + float(value)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def accepts_gzip(value):
    for part in (value or "").lower().split(","):
        bits = [b.strip() for b in part.split(";")]
        if bits[0] in ("gzip", "x-gzip", "*"):
            q = 1.0
            for b in bits[1:]:
                if b.startswith("q="):
                    try:
                        q = float(b[2:])
                    except ValueError:
                        q = 0.0
            if q > 0:
                return True
    return False


def fmt_num(x):
    return str(int(x)) if float(x).is_integer() else str(x)


# ---- /paged/...: the fsma dataset under other pagination styles (see README.md)

PAGED = "/paged/"
PAGED_STYLES = ("cursor-body", "token-alone", "next-url-abs", "next-url-rel", "link", "offset", "offset1",
                "page", "last-id", "flags", "limit-header", "since", "since-horizon")
PAGED_TOKEN_PARAM = {"token-alone": "page_token", "next-url-abs": "after", "next-url-rel": "after",
                     "link": "cursor", "flags": "cursor", "limit-header": "cursor", "since": "cursor",
                     "since-horizon": "cursor", "cursor-body": "cursor"}
MAX_PAGED_BODY = 64 * 1024      # POST /paged/cursor-body/events: largest body read
UTC_FMT = "%Y-%m-%dT%H:%M:%SZ"


class PagedError(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status, self.body = status, body


def tie_pattern(run):
    """Run lengths (cycled) of equal paged updated_at over the initial records."""
    return [run, 1, 2, 1, 17, max(1, run // 2)]


def paged_view(state, ds):
    """(keys, recs, ids): ds as the /paged/ family serves it, sorted by
    (updated_at, id); ids: indexes of recs in id order. Call under state.lock."""
    run = state.paged["tie_run"]
    ck = (ds.version, run)
    cached = getattr(ds, "paged_cache", None)
    if cached is not None and cached[0] == ck:
        return cached[1]
    base = getattr(ds, "paged_base", None)
    if base is None or base[0] != run:
        m = {}
        orig = getattr(ds, "paged_orig", [])
        if run > 0:
            pat, i, k = tie_pattern(run), 0, 0
            while i < len(orig):
                n = pat[k % len(pat)]
                first = orig[i][1]
                for rid, upd in orig[i:i + n]:
                    m[rid] = (upd, first)
                i, k = i + n, k + 1
        base = ds.paged_base = (run, m)
    m = base[1]
    rows = []
    for it in ds.items:
        rec = it[1]
        rid = str(rec.get("id", rec.get("grant_id")))
        b = m.get(rid)
        if b is not None and rec.get("updated_at") == b[0] and b[0] != b[1]:
            rec = dict(rec)
            rec["updated_at"] = b[1]
        rows.append(((str(rec.get("updated_at", "")), rid), rec))
    rows.sort(key=lambda r: r[0])
    keys = [r[0] for r in rows]
    recs = [r[1] for r in rows]
    ids = sorted(range(len(keys)), key=lambda j: keys[j][1])
    view = (keys, recs, ids)
    ds.paged_cache = (ck, view)
    return view


def ptoken(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()) \
        .decode().rstrip("=")


def utc_seconds(s):
    try:
        return calendar.timegm(time.strptime(s, UTC_FMT))
    except (TypeError, ValueError):
        return None


def parse_since(s):
    """An updated_after value (ISO 8601 with Z or an offset) as the
    UTC_FMT string of the first whole second not before it."""
    s = s.strip().replace(" ", "+")   # an unescaped "+01:00" arrives as " 01:00"
    if s[-1:] in ("Z", "z"):
        s = s[:-1] + "+00:00"
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        raise ValueError("no zone")
    return time.strftime(UTC_FMT, time.gmtime(math.ceil(d.timestamp())))


def paged_answer(state, style, req):
    """(status, body object, headers) for a /paged/<style>/events request;
    raises PagedError. req: method, pairs (query, blank values kept), body
    (POST JSON or None), headers, base ("http://host:port"). Under state.lock."""
    pairs = req["pairs"]
    q = {}
    for k, v in pairs:
        q.setdefault(k, v)
    ps = state.paged
    keys, recs, ids = paged_view(state, state.data["fsma"])
    n = len(keys)

    def int_param(name, value, lo, hi, default, msg):
        if value is None:
            return default
        try:
            if isinstance(value, bool):
                raise ValueError
            v = int(value) if not isinstance(value, float) else None
            if v is None or not lo <= v <= hi:
                raise ValueError
            return v
        except (TypeError, ValueError):
            raise PagedError(400, {"error": msg, "param": name})

    def limit_of(value, name="limit"):
        return int_param(name, value, 1, 1000, 100, "%s must be an integer 1..1000" % name)

    def untok(tok, name):
        if tok is None or tok == "":
            return None
        try:
            if not isinstance(tok, str):
                raise ValueError
            obj = json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode())
            if not isinstance(obj, dict) or obj.get("s") != style:
                raise ValueError
            k, e, p = obj.get("k"), obj.get("e"), obj.get("p")
            if k is not None and not (isinstance(k, list) and len(k) == 2 and all(isinstance(x, str) for x in k)):
                raise ValueError
            if not isinstance(e, int) or isinstance(e, bool) or not isinstance(p, int) or p < 0:
                raise ValueError
        except (ValueError, TypeError, AttributeError):
            raise PagedError(400, {"error": "malformed cursor", "param": name})
        if e < ps["expired_before"]:
            raise PagedError(ps["expire_status"], {"error": "cursor expired"})
        return obj

    def tok(k, page, **extra):
        obj = {"s": style, "k": list(k) if k is not None else None, "e": state.paged_epoch, "p": page}
        obj.update(extra)
        return ptoken(obj)

    def keyset(t, limit, lo=0, hi=n):
        """(start, end, more, page number) of the page after token t."""
        start = lo
        if t is not None and t["k"] is not None:
            start = max(lo, bisect.bisect_right(keys, tuple(t["k"])))
        end = min(hi, start + limit)
        return start, end, end < hi, (t["p"] if t else 0)

    if style == "cursor-body":
        body = req["body"]
        if not isinstance(body, dict):
            raise PagedError(400, {"error": "body must be a JSON object"})
        limit = limit_of(body.get("limit"))
        filt = body.get("filter")
        fh = hashlib.sha256(json.dumps(filt if filt is not None else {}, sort_keys=True,
                                       separators=(",", ":")).encode()).hexdigest()[:16]
        t = untok(body.get("cursor"), "cursor")
        if t is not None and t.get("f") != fh:
            raise PagedError(400, {"error": "filter differs from the one the cursor was issued for"})
        s, e, more, p = keyset(t, limit)
        return 200, {"data": recs[s:e], "next_cursor": tok(keys[e - 1], p + 1, f=fh) if more else None}, {}

    if style == "token-alone":
        pt = q.get("page_token")
        if pt:
            others = sorted({k for k, _ in pairs if k not in ("page_token", "limit", "api_key")})
            if others:
                raise PagedError(400, {"error": "page_token must be sent alone"})
        t = untok(pt, "page_token")
        s, e, more, p = keyset(t, limit_of(q.get("limit")))
        return 200, {"data": recs[s:e], "next_page_token": tok(keys[e - 1], p + 1) if more else None}, {}

    if style in ("next-url-abs", "next-url-rel"):
        limit = limit_of(q.get("limit"))
        t = untok(q.get("after"), "after")
        s, e, more, p = keyset(t, limit)
        nxt = None
        if more:
            qs = "after=%s&limit=%d" % (tok(keys[e - 1], p + 1), limit)
            path = "/paged/%s/events" % style
            if style == "next-url-abs":
                nxt = "%s%s?%s" % (req["base"], path, qs)
            else:
                nxt = (path + "?" + qs, "?" + qs, "events?" + qs)[p % 3]
        return 200, {"data": recs[s:e], "links": {"next": nxt}}, {}

    if style == "link":
        limit = limit_of(q.get("limit"))
        t = untok(q.get("cursor"), "cursor")
        s, e, more, p = keyset(t, limit)
        path = "/paged/link/events"
        prefix = req["base"] + path if p % 2 == 0 else path

        def url(k, page):
            return prefix + ("?cursor=%s&limit=%d" % (tok(k, page), limit) if k is not None else "?limit=%d" % limit)
        last_start = ((n - 1) // limit) * limit if n else 0
        links = []
        if more:
            links.append(("next", url(keys[e - 1], p + 1)))
        links.append(("first", url(None, 0)))
        links.append(("last", url(keys[last_start - 1] if last_start else None, last_start // limit)))
        r = p % len(links)
        links = links[r:] + links[:r]
        forms = ('<%s>; rel="%s"', '<%s>;rel=%s', '<%s> ; rel="%s"; title="page link"')
        values = [forms[(p + j) % 3] % (u, rel) for j, (rel, u) in enumerate(links)]
        return 200, recs[s:e], {"Link": (", " if p % 2 == 0 else ",").join(values)}

    if style in ("offset", "offset1"):
        one = style == "offset1"
        off = int_param("offset", q.get("offset"), 1 if one else 0, 1 << 62, 1 if one else 0,
                        "offset must be an integer >= %d" % (1 if one else 0))
        limit = limit_of(q.get("limit"))
        pos = off - 1 if one else off
        if pos > ps["max_offset"]:
            raise PagedError(400, {"error": "offset too large"})
        # optional incremental filter (inclusive), so a client can split a
        # window that max_offset would otherwise cut off
        lo, ua = 0, q.get("updated_after")
        if ua:
            try:
                lo = bisect.bisect_left(keys, (parse_since(ua), ""))
            except (ValueError, OverflowError, OSError):
                raise PagedError(400, {"error": "updated_after must be an ISO 8601 time with Z or an offset",
                                       "param": "updated_after"})
        return 200, {"items": recs[lo + pos:lo + pos + limit], "total": n - lo}, {}

    if style == "page":
        page = int_param("page", q.get("page"), 1, 1 << 62, 1, "page must be an integer >= 1")
        per = limit_of(q.get("per_page"), "per_page")
        s = (page - 1) * per
        return 200, {"results": recs[s:s + per], "total_pages": -(-n // per)}, {}

    if style == "last-id":
        limit = limit_of(q.get("limit"))
        after = q.get("after_id")
        s = 0
        if after:
            s = bisect.bisect_right([keys[j][1] for j in ids], after)
        e = min(n, s + limit)
        return 200, {"data": [recs[j] for j in ids[s:e]], "has_more": e < n}, {}

    if style == "flags":
        t = untok(q.get("cursor"), "cursor")
        s, e, more, p = keyset(t, limit_of(q.get("limit")))
        k = keys[e - 1] if e > s else (t["k"] if t else None)
        return 200, {"data": recs[s:e], "next": tok(k, p + 1), "end_of_stream": not more}, {}

    if style == "limit-header":
        size = limit_of(req["headers"].get("X-Page-Size"), "X-Page-Size")
        t = untok(q.get("cursor"), "cursor")
        s, e, more, p = keyset(t, size)
        return 200, {"data": recs[s:e], "next_cursor": tok(keys[e - 1], p + 1) if more else None}, \
            {"X-Page-Size": str(size)}

    if style in ("since", "since-horizon"):
        limit = limit_of(q.get("limit"))
        t = untok(q.get("cursor"), "cursor")
        ua = q.get("updated_after")
        bound = None
        if ua:
            try:
                bound = parse_since(ua)
            except (ValueError, OverflowError, OSError):
                raise PagedError(400, {"error": "updated_after must be an ISO 8601 time with Z or an offset",
                                       "param": "updated_after"})
        if t is not None:
            if ua and bound != t.get("u"):
                raise PagedError(400, {"error": "updated_after does not match the cursor"})
            bound = t.get("u")
        lo = bisect.bisect_left(keys, (bound, "")) if bound else 0
        hi, hdrs = n, {}
        if style == "since-horizon" and n:
            top = utc_seconds(keys[-1][0])
            if top is not None:
                cut = time.strftime(UTC_FMT, time.gmtime(top - ps["horizon_seconds"]))
                hi = bisect.bisect_right(keys, (cut, "\U0010ffff"))
                hdrs["X-Horizon"] = cut
        s, e, more, p = keyset(t, limit, lo, max(lo, hi))
        return 200, {"data": recs[s:e], "next_cursor": tok(keys[e - 1], p + 1, u=bound) if more else None}, hdrs

    raise PagedError(404, {"error": "not found"})


def make_handler(state):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "custody-demo-portal/1"

        def setup(self):
            if state.args.tls_cert:
                # the TLS handshake runs here, in the connection's own thread,
                # bounded, so a stalled client cannot block the accept loop
                self.request.settimeout(30)
                self.request.do_handshake()
                self.request.settimeout(None)
            super().setup()

        def log_message(self, fmt, *a):
            if not state.args.quiet:
                # method and path only: never the query (api_key=...) or headers
                sys.stderr.write("portal: %s %s\n" % (getattr(self, "command", None),
                                                      (getattr(self, "path", None) or "").split("?")[0]))

        # ---- response helpers; every byte of a body goes through _write

        def send_response(self, code, message=None):
            # the log entry learns the status before any byte leaves, so a
            # client that has its answer always finds it logged
            self._status = code
            entry = getattr(self, "_entry", None)
            if entry is not None:
                with state.lock:
                    entry["status"] = code
            super().send_response(code, message)

        def _write(self, data):
            entry = getattr(self, "_entry", None)
            if entry is not None:
                with state.lock:
                    entry["bytes"] += len(data)
            self._bytes += len(data)
            self.wfile.write(data)

        def _count(self, status):
            with state.lock:
                s = state.stats["by_status"]
                s[str(status)] = s.get(str(status), 0) + 1

        def _note_retry_after(self, status, headers):
            """Remember when a 429/503 lets the next request in."""
            if status not in (429, 503) or not headers:
                return
            ra = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
            if ra is None:
                return
            until = parse_retry_after(ra, time.time())
            if until is not None:
                with state.lock:
                    state.not_before = until

        def send(self, status, body, ctype="application/json", headers=None):
            if isinstance(body, (dict, list)):
                body = json.dumps(body, separators=(",", ":")).encode()
            elif isinstance(body, str):
                body = body.encode()
            self._note_retry_after(status, headers)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.end_headers()
            self._write(body)
            self._count(status)

        def start(self, status, ctype, length, headers, chunked=False):
            """Status line and headers of a body the caller streams itself."""
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(length))
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.end_headers()
            self._count(status)

        def body_json(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b"{}"
            return json.loads(raw.decode() or "{}")

        # ---- request log

        def _begin(self, t, u):
            self._status, self._bytes, self._entry = None, 0, None
            if u.path.startswith("/_control/") or u.path == "/_control":
                return None
            hdrs = {}
            for k, v in self.headers.items():
                hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
            query = {}
            for k, v in parse_qsl(u.query, keep_blank_values=True):
                query.setdefault(k, v)
            entry = {"t": t, "method": self.command, "path": u.path, "query": query, "headers": hdrs,
                     "status": None, "bytes": 0}
            if state.args.tls_cert:
                cert = self.connection.getpeercert() or {}
                cn = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
                entry["client_cert_cn"] = cn[0] if cn else None
            with state.lock:
                entry["early"] = t < state.not_before
                if entry["early"]:
                    state.stats["early_requests"] += 1
                state.log.append(entry)
            self._entry = entry
            return entry

        def _end(self, entry):
            if entry is not None:
                with state.lock:
                    entry["status"] = self._status
                    entry["bytes"] = self._bytes
                    entry["t_end"] = time.time()

        # ---- faults

        def _match_rule(self, path, token_endpoint=False):
            with state.lock:
                if not state.rules:
                    return None
                if token_endpoint:   # only rules that name the token endpoint explicitly
                    matching = [r for r in state.rules if str(r.get("path_prefix", "")).startswith("/oauth")
                                and path.startswith(r["path_prefix"])]
                else:
                    matching = [r for r in state.rules if path.startswith(r.get("path_prefix", "/"))]
                if not matching:
                    return None
                state.matched += 1
                for r in matching:
                    nth, times = int(r.get("nth", 1)), int(r.get("times", 1))
                    if nth <= state.matched < nth + times:
                        return r
            return None

        @staticmethod
        def _rule_headers(rule):
            h = dict(rule.get("headers") or {})
            h.update(rule.get("ratelimit_headers") or {})
            if rule.get("retry_after") is not None:
                h["Retry-After"] = str(rule["retry_after"])
            if rule.get("retry_after_date") is not None:
                h["Retry-After"] = http_date(time.time() + float(rule["retry_after_date"]))
            return h

        def _pre_auth_fault(self, rule, list_key="data", next_key="next_cursor"):
            """Faults that answer before the auth check; True if answered."""
            act = rule.get("action")
            if rule.get("delay_ms"):
                time.sleep(min(float(rule["delay_ms"]), MAX_DELAY_S * 1000) / 1000.0)
            if act == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return True
            extra = self._rule_headers(rule)
            if rule.get("status"):
                self.send(int(rule["status"]), rule.get("body", json.dumps({"error": "injected fault"})),
                          headers=extra)
                return True
            if act in ("garbage", "html200"):
                self.send(200, "<html>Service temporarily unavailable</html>", "text/html", headers=extra or None)
                return True
            if act == "oversize":
                self._oversize(rule, extra, list_key, next_key)
                return True
            return False

        def _oversize(self, rule, extra, list_key, next_key):
            n = max(0, min(int(rule.get("bytes", 32 << 20)), MAX_OVERSIZE))
            head = ('{"%s":[],"%s":null,"pad":"' % (list_key, next_key)).encode()
            tail = b'"}'
            pad = max(0, n - len(head) - len(tail))
            chunked = bool(rule.get("chunked"))
            self.close_connection = True
            self.start(200, "application/json", len(head) + pad + len(tail), extra, chunked=chunked)
            block = b"x" * min(STREAM_CHUNK, pad)
            self.connection.settimeout(WRITE_TIMEOUT_S)

            def emit(piece):   # never empty: an empty chunk would end a chunked body
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(piece))
                self._write(piece)
                if chunked:
                    self.wfile.write(b"\r\n")
            try:
                emit(head)
                left = pad
                while left > 0:
                    k = min(left, len(block))
                    emit(block if k == len(block) else block[:k])
                    left -= k
                emit(tail)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except (OSError, ValueError):
                pass

        def _post_page_fault(self, rule, data, extra):
            """Faults that need the real page (after auth); True if answered."""
            act = rule.get("action")
            if act == "truncate":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, str(v))
                self.end_headers()
                self._write(data[: len(data) // 2])
                self.close_connection = True
                return True
            if act == "wrong_type":
                self.send(200, data, "text/plain", headers=extra or None)
                return True
            if act == "reset":
                self.start(200, "application/json", len(data), extra)
                self.close_connection = True
                try:
                    self._write(data[: len(data) // 2])
                    time.sleep(0.05)   # let the half body reach the peer before the RST
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                finally:
                    for f in (self.rfile, self.wfile, self.connection):
                        try:
                            f.close()
                        except OSError:
                            pass
                return True
            if act == "slow_body":
                delay = min(max(0.0, float(rule.get("chunk_delay_ms", 100)) / 1000.0), MAX_DELAY_S)
                size = max(1, int(rule.get("chunk_bytes", 1024)))
                if delay > 0:   # at most MAX_DELAY_S of sleeping in all
                    most = int(MAX_DELAY_S / delay) + 1
                    size = max(size, -(-len(data) // most))
                self.start(200, "application/json", len(data), extra)
                self.connection.settimeout(WRITE_TIMEOUT_S)
                try:
                    for off in range(0, len(data), size):
                        if off:
                            time.sleep(delay)
                        self._write(data[off:off + size])
                        self.wfile.flush()
                except OSError:
                    self.close_connection = True
                finally:
                    try:
                        self.connection.settimeout(None)
                    except OSError:
                        pass
                return True
            return False

        # ---- auth

        def _mode_for(self, path):
            with state.lock:
                if path in state.auth_for:
                    return state.auth_for[path]
                return state.auth_for.get(route(path), state.auth_mode)

        def _check_auth(self, mode, path, q):
            """(credential key or None, 401 headers, 401 body)."""
            tok = state.args.token
            authz = self.headers.get("Authorization") or ""
            if mode == "bearer":
                if authz == "Bearer " + tok:
                    return authz, None, None
                return None, {"WWW-Authenticate": "Bearer"}, {"error": "missing or wrong bearer token"}
            if mode == "basic":
                want = "Basic " + base64.b64encode(("%s:%s" % (BASIC_USER, tok)).encode()).decode()
                if authz == want:
                    return authz, None, None
                return None, {"WWW-Authenticate": 'Basic %s, charset="UTF-8"' % REALM}, \
                    {"error": "missing or wrong basic credentials"}
            if mode == "apikey_header":
                if self.headers.get("X-API-Key") == tok:
                    return "key:" + tok, None, None
                return None, {"WWW-Authenticate": 'ApiKey %s, header="X-API-Key"' % REALM}, \
                    {"error": "missing or wrong X-API-Key"}
            if mode == "apikey_query":
                if (q.get("api_key") or [None])[0] == tok:
                    return "key:" + tok, None, None
                return None, {"WWW-Authenticate": 'ApiKey %s, query="api_key"' % REALM}, \
                    {"error": "missing or wrong api_key parameter"}
            if mode == "header":
                if self.headers.get("X-Custom-Auth") == tok:
                    return "custom:" + tok, None, None
                return None, {"WWW-Authenticate": 'Custom %s, header="X-Custom-Auth"' % REALM}, \
                    {"error": "missing or wrong X-Custom-Auth"}
            if mode == "oauth2":
                if authz.startswith("Bearer "):
                    at = authz[7:].strip()
                    with state.lock:
                        exp = state.tokens.get(at)
                    if exp is not None and time.time() < exp:
                        return authz, None, None
                    return None, {"WWW-Authenticate": 'Bearer %s, error="invalid_token", '
                                  'error_description="unknown, expired or revoked token"' % REALM}, \
                        {"error": "invalid_token"}
                return None, {"WWW-Authenticate": "Bearer %s" % REALM}, {"error": "missing bearer token"}
            return None, {"WWW-Authenticate": "Bearer"}, {"error": "portal misconfigured: auth mode %r" % mode}

        # ---- rate limit (token bucket per credential, burst = rate)

        def _rate(self, key):
            """None (off), ("ok", remaining) or ("limited", retry-after seconds)."""
            now = time.monotonic()
            with state.lock:
                r = state.rps
                if r <= 0:
                    return None
                cap = max(r, 1.0)
                b = state.buckets.get(key)
                tokens = cap if b is None else min(cap, b[0] + (now - b[1]) * r)
                if len(state.buckets) >= MAX_KEYS and key not in state.buckets:
                    state.buckets.clear()
                if tokens >= 1.0:
                    state.buckets[key] = [tokens - 1.0, now]
                    return ("ok", int(tokens - 1.0))
                state.buckets[key] = [tokens, now]
                return ("limited", max(1, math.ceil((1.0 - tokens) / r)))

        # ---- GET

        def do_GET(self):
            t = time.time()
            u = urlparse(self.path)
            entry = self._begin(t, u)
            try:
                self._get(u)
            finally:
                self._end(entry)

        def _get(self, u):
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
                    if "view" in q:
                        if q["view"] != ["paged"] or name != "fsma":
                            return self.send(400, {"error": "view=paged is for name=fsma only"})
                        keys, recs, _ = paged_view(state, ds)
                        out = []
                        for k, r in zip(keys, recs):
                            w = ds.by_id[k[1]][2] if k[1] in ds.by_id else None
                            out.append({"record": r, "invalid": w is not None, "why": w})
                        return self.send(200, {"records": out})
                    recs = [{"record": it[1], "invalid": it[2] is not None, "why": it[2]} for it in ds.items]
                return self.send(200, {"records": recs})
            if u.path == "/_control/requests":
                with state.lock:
                    log = [dict(e) for e in state.log]
                return self.send(200, {"requests": log})
            if u.path == "/_control/settings":
                with state.lock:
                    return self.send(200, state.settings())
            if u.path == "/_control/paged":
                with state.lock:
                    return self.send(200, state.paged_settings())
            if u.path.startswith(PAGED):
                return self._paged(u, None)
            ds_name = route(u.path)
            if not ds_name:
                return self.send(404, {"error": "not found", "path": u.path})
            ds0 = state.data[ds_name]
            # Faults apply to data requests that match.
            rule = self._match_rule(u.path)
            extra = {}
            if rule:
                if self._pre_auth_fault(rule, ds0.list_key, ds0.next_key):
                    return
                extra = self._rule_headers(rule)
            key, h401, b401 = self._check_auth(self._mode_for(u.path), u.path, q)
            if key is None:
                return self.send(401, b401, headers=h401)
            rl = self._rate(key)
            if rl and rl[0] == "limited":
                return self.send(429, {"error": "rate limit exceeded"},
                                 headers={"Retry-After": str(rl[1]), "X-RateLimit-Limit": fmt_num(state.rps),
                                          "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(rl[1])})
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
                ds = state.data[ds_name]
                data = ds.page(after, limit)
                mtime = ds.mtime
                use_gzip = state.gzip
            if rule and self._post_page_fault(rule, data, extra):
                return
            hdrs = {"ETag": '"%s"' % hashlib.sha256(data).hexdigest()[:32], "Last-Modified": http_date(mtime)}
            if use_gzip:
                hdrs["Vary"] = "Accept-Encoding"
            if rl:
                hdrs["X-RateLimit-Limit"] = fmt_num(state.rps)
                hdrs["X-RateLimit-Remaining"] = str(rl[1])
            hdrs.update(extra)
            if self._not_modified(hdrs["ETag"], mtime):
                self.send_response(304)
                for k, v in hdrs.items():
                    self.send_header(k, str(v))
                self.end_headers()
                self._count(304)
                return
            if use_gzip and accepts_gzip(self.headers.get("Accept-Encoding")):
                data = gzip.compress(data, compresslevel=6, mtime=0)
                hdrs["Content-Encoding"] = "gzip"
            return self.send(200, data, headers=hdrs)

        def _not_modified(self, etag, mtime):
            inm = self.headers.get("If-None-Match")
            if inm is not None:   # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
                tags = [x.strip() for x in inm.split(",")]
                return "*" in tags or etag in [x[2:] if x.startswith("W/") else x for x in tags]
            ims = self.headers.get("If-Modified-Since")
            if ims:
                try:
                    return email.utils.parsedate_to_datetime(ims).timestamp() >= mtime
                except (TypeError, ValueError, IndexError):
                    return False
            return False

        # ---- /paged/...

        def _paged(self, u, entry):
            """A request to the /paged/ family (GET, or POST with entry = its log entry)."""
            post = entry is not None or self.command == "POST"
            body = None
            if post:
                n = int(self.headers.get("Content-Length") or 0)
                if n > MAX_PAGED_BODY:
                    self.close_connection = True
                    return self.send(413, {"error": "body too large"})
                raw = self.rfile.read(n) if n else b""
                with state.lock:
                    state.stats["requests"] += 1
                    bp = state.stats["by_path"]
                    bp[u.path] = bp.get(u.path, 0) + 1
                try:
                    body = json.loads(raw.decode()) if raw else {}
                except ValueError:
                    body = ValueError
                if entry is not None:
                    with state.lock:
                        entry["body"] = None if body is ValueError else body
            parts = u.path[len(PAGED):].split("/")
            snapshot = len(parts) == 2 and parts[0] == "snapshot" and parts[1] in state.data
            if not snapshot and not (len(parts) == 2 and parts[0] in PAGED_STYLES and parts[1] == "events"):
                return self.send(404, {"error": "not found", "path": u.path})
            want = "POST" if parts[0] == "cursor-body" else "GET"
            if self.command != want:
                return self.send(405, {"error": "use " + want}, headers={"Allow": want})
            rule = self._match_rule(u.path)
            extra = {}
            if rule:
                if self._pre_auth_fault(rule):
                    return
                extra = self._rule_headers(rule)
            q = parse_qs(u.query)
            key, h401, b401 = self._check_auth(self._mode_for(u.path), u.path, q)
            if key is None:
                return self.send(401, b401, headers=h401)
            rl = self._rate(key)
            if rl and rl[0] == "limited":
                return self.send(429, {"error": "rate limit exceeded"},
                                 headers={"Retry-After": str(rl[1]), "X-RateLimit-Limit": fmt_num(state.rps),
                                          "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(rl[1])})
            if body is ValueError:
                return self.send(400, {"error": "body is not JSON"})
            host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
            req = {"pairs": parse_qsl(u.query, keep_blank_values=True), "body": body, "headers": self.headers,
                   "base": "%s://%s" % ("https" if state.args.tls_cert else "http", host)}
            with state.lock:
                try:
                    if snapshot:
                        ds = state.data[parts[1]]
                        status, doc, hdrs = 200, {ds.list_key: [it[1] for it in ds.items],
                                                  "count": len(ds.items)}, {}
                    else:
                        status, doc, hdrs = paged_answer(state, parts[0], req)
                except PagedError as ex:
                    status, doc, hdrs = ex.status, ex.body, {}
            data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
            if status != 200:
                return self.send(status, data, headers=extra or None)
            if rule and self._post_page_fault(rule, data, extra):
                return
            if rl:
                hdrs["X-RateLimit-Limit"] = fmt_num(state.rps)
                hdrs["X-RateLimit-Remaining"] = str(rl[1])
            hdrs.update(extra)
            return self.send(200, data, headers=hdrs)

        # ---- POST

        def do_POST(self):
            t = time.time()
            u = urlparse(self.path)
            entry = self._begin(t, u)
            try:
                if u.path == "/oauth/token":
                    return self._oauth_token(u)
                if u.path.startswith(PAGED):
                    return self._paged(u, entry)
                self._post(u)
            finally:
                self._end(entry)

        def _oauth_token(self, u):
            with state.lock:
                state.stats["token_requests"] += 1
            rule = self._match_rule(u.path, token_endpoint=True)
            if rule and self._pre_auth_fault(rule):
                return
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_FORM:
                self.close_connection = True
                return self.send(413, {"error": "invalid_request", "error_description": "body too large"})
            raw = self.rfile.read(n).decode("utf-8", "replace") if n else ""
            ctype = (self.headers.get("Content-Type") or "").lower()
            params = {}
            if "json" in ctype:
                try:
                    obj = json.loads(raw or "{}")
                    params = {k: str(v) for k, v in obj.items()} if isinstance(obj, dict) else {}
                except ValueError:
                    params = {}
            else:
                params = dict(parse_qsl(raw, keep_blank_values=True))
            cid, secret = params.get("client_id"), params.get("client_secret")
            authz = self.headers.get("Authorization") or ""
            if authz.startswith("Basic "):
                try:
                    user, _, pw = base64.b64decode(authz[6:].strip()).decode().partition(":")
                    cid, secret = unquote(user.replace("+", " ")), unquote(pw.replace("+", " "))
                except (ValueError, UnicodeDecodeError):
                    pass
            if cid != OAUTH_CLIENT_ID or secret != state.args.token:
                return self.send(401, {"error": "invalid_client"},
                                 headers={"WWW-Authenticate": "Basic %s" % REALM, "Cache-Control": "no-store"})
            if params.get("grant_type") != "client_credentials":
                return self.send(400, {"error": "unsupported_grant_type"}, headers={"Cache-Control": "no-store"})
            at = secrets.token_urlsafe(32)
            now = time.time()
            with state.lock:
                ttl = state.oauth_ttl
                if len(state.tokens) >= MAX_KEYS:
                    for k in [k for k, e in state.tokens.items() if e <= now]:
                        del state.tokens[k]
                    while len(state.tokens) >= MAX_KEYS:
                        del state.tokens[next(iter(state.tokens))]
                state.tokens[at] = now + ttl
                state.stats["tokens_issued"] += 1
            return self.send(200, {"access_token": at, "token_type": "Bearer", "expires_in": ttl},
                             headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

        def _post(self, u):
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
                if u.path == "/_control/requests/clear":
                    n = len(state.log)
                    state.log.clear()
                    return self.send(200, {"ok": True, "cleared": n})
                if u.path == "/_control/ratelimit":
                    try:
                        rps = float(req.get("rps", 0) or 0)
                        if rps < 0 or rps != rps or rps == float("inf"):
                            raise ValueError
                    except (TypeError, ValueError):
                        return self.send(400, {"error": "rps must be a number >= 0"})
                    state.rps = rps
                    state.buckets.clear()
                    return self.send(200, {"ok": True, "rps": rps})
                if u.path == "/_control/auth":
                    mode = req.get("mode")
                    target = req.get("dataset") or req.get("path")
                    if target is None:
                        if mode not in AUTH_MODES:
                            return self.send(400, {"error": "mode must be one of " + ", ".join(AUTH_MODES)})
                        state.auth_mode = mode
                    else:
                        if req.get("dataset") and req["dataset"] not in state.data:
                            return self.send(400, {"error": "unknown dataset"})
                        if mode is None:
                            state.auth_for.pop(target, None)
                        elif mode not in AUTH_MODES:
                            return self.send(400, {"error": "mode must be one of " + ", ".join(AUTH_MODES)})
                        else:
                            state.auth_for[target] = mode
                    return self.send(200, {"ok": True, "mode": state.auth_mode, "auth_for": state.auth_for})
                if u.path == "/_control/gzip":
                    state.gzip = bool(req.get("on"))
                    return self.send(200, {"ok": True, "on": state.gzip})
                if u.path == "/_control/oauth/revoke":
                    n = len(state.tokens)
                    state.tokens.clear()
                    return self.send(200, {"ok": True, "revoked": n})
                if u.path == "/_control/oauth":
                    try:
                        ttl = int(req.get("ttl", state.oauth_ttl))
                        if not 0 <= ttl <= 86400 * 366:
                            raise ValueError
                    except (TypeError, ValueError):
                        return self.send(400, {"error": "ttl must be an integer 0..31622400"})
                    state.oauth_ttl = ttl
                    return self.send(200, {"ok": True, "ttl": ttl})
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
                                if changed:
                                    ds.bump_mtime()
                                return self.send(409, {"error": str(ex)})
                            ds.add(rec, None)
                            changed.append(rec.get("id"))
                        ds.version += 1
                        ds.cache.clear()
                        ds.bump_mtime()
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
                    if targets:
                        ds.bump_mtime()
                    return self.send(200, {"ids": changed})
                if u.path == "/_control/paged":
                    return self._control_paged(req)
                if u.path == "/_control/remove":
                    ds = state.data.get(req.get("dataset", "fsma"))
                    if ds is None:
                        return self.send(400, {"error": "unknown dataset"})
                    if "ids" in req:
                        if not isinstance(req["ids"], list):
                            return self.send(400, {"error": "ids must be a list"})
                        seen, targets = set(), []
                        for i in req["ids"]:
                            if isinstance(i, str) and i in ds.by_id and i not in seen:
                                seen.add(i)
                                targets.append(ds.by_id[i])
                    else:
                        count = req.get("count", 1)
                        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                            return self.send(400, {"error": "count must be an integer >= 0"})
                        valid = [it for it in ds.items if it[2] is None]
                        rnd = random.Random("remove:%d:%d" % (state.args.seed, state.removals))
                        state.removals += 1
                        targets = sorted(rnd.sample(valid, min(count, len(valid))), key=lambda it: it[0])
                    removed = []
                    for it in targets:
                        ds.items.remove(it)
                        rid = it[1]["id"] if "id" in it[1] else it[1]["grant_id"]
                        ds.by_id.pop(rid, None)
                        removed.append(rid)
                    if targets:
                        ds.version += 1
                        ds.cache.clear()
                        ds.bump_mtime()
                    return self.send(200, {"ids": removed})
            return self.send(404, {"error": "no such control endpoint"})

        def _control_paged(self, req):
            """POST /_control/paged (under state.lock)."""
            if not isinstance(req, dict):
                return self.send(400, {"error": "body must be a JSON object"})
            new = dict(state.paged)
            for name, lo in (("max_offset", 0), ("horizon_seconds", 0), ("tie_run", 0)):
                if name in req:
                    v = req[name]
                    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= 1 << 40:
                        return self.send(400, {"error": "%s must be an integer >= %d" % (name, lo)})
                    new[name] = v
            if "expire_status" in req:
                if req["expire_status"] not in (400, 410) or isinstance(req["expire_status"], bool):
                    return self.send(400, {"error": "expire_status must be 400 or 410"})
                new["expire_status"] = req["expire_status"]
            if req.get("expire_cursors"):
                state.paged_epoch += 1
                new["expired_before"] = state.paged_epoch
            state.paged = new
            return self.send(200, dict(state.paged_settings(), ok=True))

    return H


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # the default listen backlog (5) drops connections when a daemon opens
    # dozens at once; clients then retry after 1 s, 3 s, 7 s
    request_queue_size = 128
    quiet = False

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError)):   # peer went away, TLS refused, timeouts
            if not self.quiet:
                sys.stderr.write("portal: connection error: %s\n" % type(exc).__name__)
            return
        super().handle_error(request, client_address)


def parse_auth_for(specs, ap):
    out = {}
    for spec in specs or []:
        target, sep, mode = spec.rpartition("=")
        if not sep or not target or mode not in AUTH_MODES:
            ap.error("--auth-for wants DATASET=MODE or /path=MODE, MODE one of " + ", ".join(AUTH_MODES))
        if not target.startswith("/") and target not in ("fsma", "grants", "registrations"):
            ap.error("--auth-for: unknown dataset %r" % target)
        out[target] = mode
    return out


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
    ap.add_argument("--rate-limit", type=float, default=0, metavar="R",
                    help="requests per second per credential (token bucket, burst R); 0 = off")
    ap.add_argument("--auth", choices=AUTH_MODES, default="bearer")
    ap.add_argument("--auth-for", action="append", metavar="DATASET=MODE",
                    help="auth mode for one dataset (fsma, grants, registrations) or one exact path; repeatable")
    ap.add_argument("--oauth-ttl", type=int, default=3600, metavar="SECONDS")
    ap.add_argument("--gzip", action="store_true", help="gzip data pages for clients that accept it")
    ap.add_argument("--tls-cert", metavar="FILE")
    ap.add_argument("--tls-key", metavar="FILE")
    ap.add_argument("--tls-client-ca", metavar="FILE", help="require a client certificate signed by this CA")
    ap.add_argument("--paged-max-offset", type=int, default=10000, metavar="M",
                    help="/paged/offset*: largest 0-based offset served (400 beyond)")
    ap.add_argument("--paged-tie-run", type=int, default=250, metavar="N",
                    help="/paged/*: longest run of records sharing one updated_at (0: unchanged updated_at)")
    ap.add_argument("--paged-horizon", type=int, default=60, metavar="SECONDS",
                    help="/paged/since-horizon: the newest SECONDS of updated_at stay hidden")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("the demo portal binds to loopback only")
    if a.rate_limit < 0:
        ap.error("--rate-limit must be >= 0")
    if a.oauth_ttl < 0:
        ap.error("--oauth-ttl must be >= 0")
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if a.tls_client_ca and not a.tls_cert:
        ap.error("--tls-client-ca needs --tls-cert and --tls-key")
    if min(a.paged_max_offset, a.paged_tie_run, a.paged_horizon) < 0:
        ap.error("--paged-max-offset, --paged-tie-run and --paged-horizon must be >= 0")
    a.auth_for_map = parse_auth_for(a.auth_for, ap)
    state = State(a)
    if a.script:
        with open(a.script) as f:
            script = json.load(f)
        state.rules = script.get("faults", [])
    srv = Server((a.host, a.port), make_handler(state))
    srv.quiet = a.quiet
    scheme = "http"
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        if a.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=a.tls_client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, a.port_file)
    print("listening on %s://%s:%d" % (scheme, a.host, port), flush=True)

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
