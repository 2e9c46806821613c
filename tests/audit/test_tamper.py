#!/usr/bin/env python3
"""Tamper evidence: `custody audit verify` must catch every logically
effective change made to the store behind custody's back.

One reference store is built by polling the demo portal four times with
changes in between (mutate, append), so it holds several cycles, record
versions, quarantine rows and checkpoints. Each trial copies it, drops the
append-only triggers (as an attacker with the sqlite3 shell would), applies
ONE tamper and runs `custody audit verify`, which must exit 4. A raw byte flip
that makes the file unreadable may instead exit 3 with a message (counted as
"unreadable"). A tamper that changes nothing logically (a byte flip in unused
space: the dump of every table is identical before and after) is a "no-op"
and is left out of the denominator; a byte flip that changes only mutable
operational state (source cursors, source_kv, quarantine lifecycle columns)
is "state" and also left out. Both are counted and printed.

Kinds marked "needs external checkpoint" rewrite the log *consistently*:
they recompute leaf hashes, checkpoint roots and the frontier, exactly as
custody would have. Verification inside one file cannot tell such a store
from a genuine one; only a checkpoint (tree size + root) kept or signed
outside the store can. They are run and reported, but not part of the 100%
claim.

    python3 tests/audit/test_tamper.py --custody build/custody [--trials N] [--seed S]
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

EVENTS = 300
LIMIT = 50
VERIFY_TIMEOUT = 60
SHOW_PER_KIND = 3          # full reports of undetected trials per kind

# Table -> ORDER BY for the logical dump (primary key order).
TABLES = {"meta": "k", "sources": "name", "source_kv": "source, k", "records": "id", "quarantine": "id",
          "audit": "seq", "checkpoints": "tree_size", "audit_frontier": "level"}
# Mutable operational state, not evidence: a change confined to these is "state".
STATE_TABLES = {"sources", "source_kv"}
QUARANTINE_COLS = None     # filled from PRAGMA table_info
COLS = {}
QUARANTINE_LIFECYCLE = {"last_seen", "times_seen", "status", "resolved_by", "resolved_at", "resolved_why"}

AUDIT_COLS = ["time", "actor", "action", "source", "subject", "detail", "cycle_id", "leaf_hash"]


# ---------------------------------------------------------------- hashes

def jstr(s):
    """RFC 8785 string (what json_write_string writes)."""
    return json.dumps(s, ensure_ascii=False)


def jcs(obj):
    """RFC 8785 for the values used here (strings, integers, objects)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def entry_bytes(seq, r):
    """The audit entry's leaf bytes (docs/audit.md): r has the audit columns."""
    return ('{"action":%s,"actor":%s,"cycle":%s,"detail":%s,"seq":%d,"source":%s,"subject":%s,"time":%s}'
            % (jstr(r["action"]), jstr(r["actor"]), jstr(r["cycle_id"]), r["detail"], seq,
               jstr(r["source"]), jstr(r["subject"]), jstr(r["time"]))).encode()


def leaf_hash(seq, r):
    return hashlib.sha256(b"\x00" + entry_bytes(seq, r)).digest()


def node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def frontier_of(leaves):
    """Perfect-subtree roots, largest (leftmost) first, as custody stores them."""
    f = []
    for i, leaf in enumerate(leaves):
        h, n = leaf, i
        while n & 1:
            h = node(f.pop(), h)
            n >>= 1
        f.append(h)
    return f


def root_of(leaves):
    f = frontier_of(leaves)
    if not f:
        return hashlib.sha256(b"").digest()
    r = f[-1]
    for h in reversed(f[:-1]):
        r = node(h, r)
    return r


# ---------------------------------------------------------------- store helpers

def logical_dump(path):
    """Every table's rows in primary-key order; a table that cannot be read
    dumps as the error text."""
    out = {}
    try:
        con = sqlite3.connect(path)
    except sqlite3.Error as ex:
        return {t: "ERROR " + str(ex) for t in TABLES}
    con.text_factory = bytes        # a flipped byte may leave invalid UTF-8
    try:
        for t, order in TABLES.items():
            try:
                out[t] = con.execute("SELECT * FROM %s ORDER BY %s" % (t, order)).fetchall()
            except (sqlite3.Error, ValueError) as ex:
                out[t] = "ERROR " + str(ex)
    finally:
        con.close()
    return out


def changed_columns(before, after, cols):
    """'table.col' names that differ, for tables whose row count is unchanged."""
    out = []
    for t in TABLES:
        b, a = before[t], after[t]
        if b == a:
            continue
        if isinstance(a, str) or isinstance(b, str) or len(a) != len(b) or t not in cols:
            out.append(t + ("(unreadable)" if isinstance(a, str) else "(rows)"))
            continue
        diff = {i for rb, ra in zip(b, a) for i in range(len(rb)) if rb[i] != ra[i]}
        out.extend("%s.%s" % (t, cols[t][i]) for i in sorted(diff))
    return out


def classify_diff(before, after):
    """'noop', 'state' or 'evidence', plus the changed tables."""
    changed = sorted(t for t in TABLES if before[t] != after[t])
    if not changed:
        return "noop", changed
    evidence = [t for t in changed if t not in STATE_TABLES]
    if not evidence:
        return "state", changed
    if evidence == ["quarantine"] and not isinstance(after["quarantine"], str) \
            and len(before["quarantine"]) == len(after["quarantine"]):
        life = [i for i, c in enumerate(QUARANTINE_COLS) if c in QUARANTINE_LIFECYCLE]
        strip = lambda rows: [tuple(v for i, v in enumerate(r) if i not in life) for r in rows]  # noqa: E731
        if strip(before["quarantine"]) == strip(after["quarantine"]):
            return "state", changed
    return "evidence", changed


def open_rw(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.row_factory = sqlite3.Row
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        con.execute('DROP TRIGGER "%s"' % name)
    con.execute("BEGIN")
    return con


def audit_rows(con):
    return [dict(r) for r in con.execute("SELECT * FROM audit ORDER BY seq")]


def rewrite_derived(con, from_seq=1):
    """Recompute, as custody would, every leaf hash from from_seq on, every
    checkpoint root and the stored frontier."""
    rows = audit_rows(con)
    leaves = []
    for r in rows:
        lh = leaf_hash(r["seq"], r)
        if r["seq"] >= from_seq and lh.hex() != r["leaf_hash"]:
            con.execute("UPDATE audit SET leaf_hash=? WHERE seq=?", (lh.hex(), r["seq"]))
        leaves.append(lh)
    for (size,) in con.execute("SELECT tree_size FROM checkpoints").fetchall():
        if size <= len(leaves):
            con.execute("UPDATE checkpoints SET root=? WHERE tree_size=?", (root_of(leaves[:size]).hex(), size))
    con.execute("DELETE FROM audit_frontier")
    for i, h in enumerate(frontier_of(leaves)):
        con.execute("INSERT INTO audit_frontier(level, hash) VALUES(?, ?)", (i, h.hex()))
    con.execute("UPDATE meta SET v=? WHERE k='frontier_size'", (str(len(leaves)),))


# ---------------------------------------------------------------- value edits

HEX = "0123456789abcdef"


def alter_text(s, rnd, keep_class=True):
    """Change one character of s to a different one (digit for digit, hex for
    hex, letter for letter when keep_class) so the value usually stays
    well-formed JSON: the edit has to be caught by a hash, not a parser."""
    if not s:
        return "x"
    positions = list(range(len(s)))
    if keep_class:
        alnum = [i for i in positions if s[i].isalnum()]
        if alnum and rnd.random() < 0.85:
            positions = alnum
    for _ in range(200):
        i = rnd.choice(positions)
        c = s[i]
        if c.isdigit():
            n = rnd.choice(string.digits)
        elif c in HEX:
            n = rnd.choice(HEX)
        elif c.isalpha():
            n = rnd.choice(string.ascii_letters)
        else:
            n = rnd.choice(string.ascii_letters + string.digits + " -_:.,\"{}[]")
        if n != c:
            return s[:i] + n + s[i + 1:]
    return s + "x"


def show_change(old, new, width=40):
    """old -> new around the first differing position."""
    old, new = str(old), str(new)
    i = next((k for k in range(min(len(old), len(new))) if old[k] != new[k]), min(len(old), len(new)))
    lo = max(0, i - width // 2)
    cut = lambda v: ("..." if lo else "") + v[lo:lo + width] + ("..." if len(v) > lo + width else "")  # noqa: E731
    return "%r -> %r" % (cut(old), cut(new))


def alter_blob(b, rnd):
    b = bytearray(b)
    i = rnd.randrange(len(b))
    b[i] ^= rnd.randrange(1, 256)
    return bytes(b)


def pick(con, sql, rnd, args=()):
    rows = con.execute(sql, args).fetchall()
    if not rows:
        raise Skip("no row for: " + sql)
    return rnd.choice(rows)


class Skip(Exception):
    pass


# ---------------------------------------------------------------- tamper kinds
# Each takes (con, rnd, path) and returns a short description of what it did.

def audit_edit(col):
    def t(con, rnd, path):
        r = pick(con, "SELECT seq, %s FROM audit" % col, rnd)
        old = r[1]
        if col == "action" and rnd.random() < 0.5:
            new = rnd.choice([a for a in ("record.new", "record.version", "record.rejected", "poll.start",
                                          "poll.end", "cursor.advance", "http.request") if a != old])
        else:
            new = alter_text(old, rnd)
        con.execute("UPDATE audit SET %s=? WHERE seq=?" % col, (new, r[0]))
        return "audit seq %d: %s %s" % (r[0], col, show_change(old, new))
    return t


def audit_edit_rehash(con, rnd, path):
    """Edit a column and recompute that entry's leaf hash (but not the
    checkpoints): the checkpoint roots must catch it."""
    r = dict(pick(con, "SELECT * FROM audit", rnd))
    col = rnd.choice(AUDIT_COLS[:-1])
    old = r[col]
    r[col] = alter_text(old, rnd)
    con.execute("UPDATE audit SET %s=?, leaf_hash=? WHERE seq=?" % col, (r[col], leaf_hash(r["seq"], r).hex(), r["seq"]))
    return "audit seq %d: %s %s, leaf hash recomputed" % (r["seq"], col, show_change(old, r[col]))


def audit_delete(con, rnd, path):
    r = pick(con, "SELECT seq, action FROM audit", rnd)
    con.execute("DELETE FROM audit WHERE seq=?", (r[0],))
    return "deleted audit seq %d (%s)" % (r[0], r[1])


def audit_swap(con, rnd, path):
    n = con.execute("SELECT max(seq) FROM audit").fetchone()[0]
    a = rnd.randint(1, n)
    b = rnd.choice([s for s in range(max(1, a - 20), min(n, a + 20) + 1) if s != a])
    cols = AUDIT_COLS if rnd.random() < 0.5 else AUDIT_COLS[:-1]
    ra = con.execute("SELECT %s FROM audit WHERE seq=?" % ",".join(cols), (a,)).fetchone()
    rb = con.execute("SELECT %s FROM audit WHERE seq=?" % ",".join(cols), (b,)).fetchone()
    sets = ",".join("%s=?" % c for c in cols)
    con.execute("UPDATE audit SET %s WHERE seq=?" % sets, (*rb, a))
    con.execute("UPDATE audit SET %s WHERE seq=?" % sets, (*ra, b))
    return "swapped audit seq %d and %d (%s)" % (a, b, "with their leaf hashes" if len(cols) == 8 else
                                                 "leaf hashes left in place")


def shift_audit(con, after):
    con.execute("UPDATE audit SET seq=-seq-1 WHERE seq>?", (after,))
    con.execute("UPDATE audit SET seq=-seq WHERE seq<0")


def forged_entry(con, rnd):
    src = dict(pick(con, "SELECT * FROM audit WHERE action IN ('record.new','poll.start','cursor.advance')", rnd))
    src["actor"] = rnd.choice(["custody", "mallory"])
    src["time"] = alter_text(src["time"], rnd)
    return src


def audit_insert_middle(con, rnd, path):
    n = con.execute("SELECT max(seq) FROM audit").fetchone()[0]
    k = rnd.randint(1, n - 1)
    shift_audit(con, k)
    e = forged_entry(con, rnd)
    mode = rnd.choice(["random leaf", "correct leaf", "correct leaf, later leaves rehashed"])
    if mode == "random leaf":
        lh = os.urandom(32).hex()
    else:
        lh = leaf_hash(k + 1, e).hex()
    con.execute("INSERT INTO audit VALUES(?,?,?,?,?,?,?,?,?)",
                (k + 1, e["time"], e["actor"], e["action"], e["source"], e["subject"], e["detail"],
                 e["cycle_id"], lh))
    if mode.endswith("rehashed"):
        for r in audit_rows(con):
            if r["seq"] > k + 1:
                con.execute("UPDATE audit SET leaf_hash=? WHERE seq=?", (leaf_hash(r["seq"], r).hex(), r["seq"]))
    return "forged %s entry inserted at seq %d, later entries renumbered (%s)" % (e["action"], k + 1, mode)


def audit_insert_end(con, rnd, path):
    """Append an entry whose leaf hash is not its own (copied or random)."""
    n = con.execute("SELECT max(seq) FROM audit").fetchone()[0]
    e = forged_entry(con, rnd)
    lh = e["leaf_hash"] if rnd.random() < 0.5 else os.urandom(32).hex()
    con.execute("INSERT INTO audit VALUES(?,?,?,?,?,?,?,?,?)",
                (n + 1, e["time"], e["actor"], e["action"], e["source"], e["subject"], e["detail"],
                 e["cycle_id"], lh))
    return "forged %s entry appended at seq %d with a leaf hash that is not its own" % (e["action"], n + 1)


def audit_truncate(con, rnd, path):
    n = con.execute("SELECT max(seq) FROM audit").fetchone()[0]
    k = rnd.randint(1, min(60, n - 1))
    con.execute("DELETE FROM audit WHERE seq>?", (n - k,))
    return "truncated the last %d audit entries (kept %d)" % (k, n - k)


def audit_truncate_with_ckps(con, rnd, path):
    """Cut the log and the checkpoints beyond it, but leave records and
    quarantine rows whose entries were cut: the cross-check must catch it."""
    last = con.execute("SELECT max(seq) FROM audit WHERE action IN ('record.new','record.version',"
                       "'record.rejected')").fetchone()[0]
    keep = rnd.randint(max(1, last - 60), last - 1)
    con.execute("DELETE FROM audit WHERE seq>?", (keep,))
    con.execute("DELETE FROM checkpoints WHERE tree_size>?", (keep,))
    rewrite_derived(con, keep + 1)
    return "truncated the log to %d entries and removed the checkpoints beyond (records kept)" % keep


def record_edit(col):
    def t(con, rnd, path):
        r = pick(con, "SELECT id, %s FROM records" % col, rnd)
        old = r[1]
        for _ in range(20):
            if col == "version":
                new = old + rnd.choice([1, 2, 5, -1]) if old > 1 else old + rnd.choice([1, 2, 5])
            else:
                new = alter_text(old, rnd)
            try:
                con.execute("SAVEPOINT s")
                con.execute("UPDATE records SET %s=? WHERE id=?" % col, (new, r[0]))
                con.execute("RELEASE s")
                return "record id %d: %s %s" % (r[0], col, show_change(old, new))
            except sqlite3.IntegrityError:
                con.execute("ROLLBACK TO s")
                con.execute("RELEASE s")
        raise Skip("no free value")
    return t


def record_edit_canonical_rehash(con, rnd, path):
    r = pick(con, "SELECT id, canonical FROM records", rnd)
    new = alter_text(r[1], rnd)
    h = hashlib.sha256(new.encode()).hexdigest()
    con.execute("UPDATE records SET canonical=?, content_hash=? WHERE id=?", (new, h, r[0]))
    return "record id %d: canonical edited and content_hash recomputed (%s)" % (r[0], h)


def record_edit_meta(con, rnd, path):
    col = rnd.choice(["fetched_at", "request_id", "cycle_id", "config_hash"])
    return record_edit(col)(con, rnd, path)


def record_delete(con, rnd, path):
    r = pick(con, "SELECT id, key, version FROM records", rnd)
    con.execute("DELETE FROM records WHERE id=?", (r[0],))
    return "deleted record id %d %s v%d" % (r[0], r[1], r[2])


def record_insert(con, rnd, path):
    base = dict(pick(con, "SELECT * FROM records", rnd))
    mode = rnd.choice(["new key", "next version of an existing key", "copy under a new key"])
    doc = json.loads(base["canonical"])
    if mode == "new key":
        doc["traceability_lot_code"] = "TLC-9%05d" % rnd.randrange(100000)
        doc["quantity"] = rnd.randrange(1, 1000)
        key = jcs([doc["traceability_lot_code"], doc["event_type"], doc["event_timestamp"]])
        version = 1
    elif mode == "copy under a new key":
        key = jcs(["TLC-8%05d" % rnd.randrange(100000), doc["event_type"], doc["event_timestamp"]])
        version = 1
    else:
        key = base["key"]
        version = con.execute("SELECT max(version) FROM records WHERE source=? AND key=?",
                              (base["source"], key)).fetchone()[0] + 1
        doc["quantity"] = rnd.randrange(1, 1000)
    canon = jcs(doc)
    con.execute("INSERT INTO records(source,key,version,content_hash,canonical,raw_hash,fetched_at,request_id,"
                "cycle_id,config_hash) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (base["source"], key, version, hashlib.sha256(canon.encode()).hexdigest(), canon,
                 hashlib.sha256(canon.encode()).hexdigest(), base["fetched_at"], base["request_id"],
                 base["cycle_id"], base["config_hash"]))
    return "forged record %s v%d inserted (%s)" % (key, version, mode)


def quarantine_edit(col):
    def t(con, rnd, path):
        r = pick(con, "SELECT id, %s FROM quarantine" % col, rnd)
        old = r[1]
        new = alter_blob(old, rnd) if isinstance(old, bytes) else alter_text(old, rnd)
        con.execute("UPDATE quarantine SET %s=? WHERE id=?" % col, (new, r[0]))
        return "quarantine id %d: %s %s" % (r[0], col, show_change(old, new))
    return t


def quarantine_edit_meta(con, rnd, path):
    return quarantine_edit(rnd.choice(["first_seen", "request_id", "cycle_id"]))(con, rnd, path)


def quarantine_delete(con, rnd, path):
    r = pick(con, "SELECT id, recon_key FROM quarantine", rnd)
    con.execute("DELETE FROM quarantine WHERE id=?", (r[0],))
    return "deleted quarantine id %d" % r[0]


def quarantine_insert(con, rnd, path):
    base = dict(pick(con, "SELECT * FROM quarantine", rnd))
    raw = alter_blob(base["raw"], rnd)
    recon = hashlib.sha256(raw).hexdigest()
    con.execute("INSERT INTO quarantine(source,recon_key,raw,errors,first_seen,last_seen,times_seen,status,"
                "request_id,cycle_id) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (base["source"], recon, raw, base["errors"], base["first_seen"], base["last_seen"], 1, "open",
                 base["request_id"], base["cycle_id"]))
    return "forged quarantine row inserted (recon_key %s)" % recon


def ckp_edit(col):
    def t(con, rnd, path):
        r = pick(con, "SELECT tree_size, %s FROM checkpoints" % col, rnd)
        old = r[1]
        if col == "tree_size":
            n = con.execute("SELECT max(seq) FROM audit").fetchone()[0]
            used = {x for (x,) in con.execute("SELECT tree_size FROM checkpoints")}
            new = rnd.choice([s for s in range(1, n + 5) if s not in used])
        else:
            new = alter_text(old, rnd)
        con.execute("UPDATE checkpoints SET %s=? WHERE tree_size=?" % col, (new, r[0]))
        return "checkpoint %d: %s %r -> %r" % (r[0], col, old, new)
    return t


def ckp_delete(con, rnd, path):
    r = pick(con, "SELECT tree_size FROM checkpoints", rnd)
    con.execute("DELETE FROM checkpoints WHERE tree_size=?", (r[0],))
    return "deleted checkpoint at tree size %d" % r[0]


def ckp_insert(con, rnd, path):
    n = con.execute("SELECT max(seq) FROM audit").fetchone()[0]
    used = {x for (x,) in con.execute("SELECT tree_size FROM checkpoints")}
    size = rnd.choice([s for s in range(1, n + 5) if s not in used])
    con.execute("INSERT INTO checkpoints(tree_size, root, time) VALUES(?,?,?)",
                (size, os.urandom(32).hex(), "2026-01-01T00:00:00.000Z"))
    return "forged checkpoint at tree size %d with a random root" % size


def frontier_edit(con, rnd, path):
    r = pick(con, "SELECT level, hash FROM audit_frontier", rnd)
    new = alter_text(r[1], rnd)
    con.execute("UPDATE audit_frontier SET hash=? WHERE level=?", (new, r[0]))
    return "audit_frontier level %d: hash %s -> %s" % (r[0], r[1], new)


def frontier_delete(con, rnd, path):
    r = pick(con, "SELECT level FROM audit_frontier", rnd)
    con.execute("DELETE FROM audit_frontier WHERE level=?", (r[0],))
    return "deleted audit_frontier level %d" % r[0]


def meta_edit(con, rnd, path):
    r = pick(con, "SELECT k, v FROM meta", rnd)
    new = alter_text(r[1], rnd)
    con.execute("UPDATE meta SET v=? WHERE k=?", (new, r[0]))
    return "meta %s: %r -> %r" % (r[0], r[1], new)


def byte_flip(con, rnd, path):
    con.close()
    size = os.path.getsize(path)
    flips = []
    with open(path, "r+b") as f:
        for _ in range(rnd.randint(1, 3)):
            off = rnd.randrange(size)
            f.seek(off)
            b = f.read(1)[0]
            x = rnd.randrange(1, 256)
            f.seek(off)
            f.write(bytes([b ^ x]))
            flips.append("byte %d (page %d) ^0x%02x" % (off, off // 4096 + 1, x))
    return "flipped " + ", ".join(flips)


def bytes_table_not_index(con, rnd, path):
    """Edit a record's key in its table row on disk, leaving the UNIQUE
    (source, key, version) index entry as it was: what a hex editor does.
    Anything that reads the key through the index still sees the old one."""
    r = dict(pick(con, "SELECT id, key, content_hash FROM records", rnd))
    con.rollback()
    con.close()
    data = bytearray(open(path, "rb").read())
    k, h = r["key"].encode(), r["content_hash"].encode()
    at = []
    i = data.find(k)
    while i >= 0:
        if any(data.startswith(h, i + len(k) + gap) for gap in range(3)):
            at.append(i)
        i = data.find(k, i + 1)
    if len(at) != 1:
        raise Skip("record %d: table cell not found once (%d)" % (r["id"], len(at)))
    letters = [j for j, c in enumerate(r["key"]) if c.isalpha()]
    j = rnd.choice(letters)
    c = r["key"][j]
    n = rnd.choice([x for x in string.ascii_letters if x != c])
    data[at[0] + j] = ord(n)
    with open(path, "wb") as f:
        f.write(data)
    return "record id %d: key byte %d in its table cell (file offset %d) %r -> %r; index entry untouched" % (
        r["id"], j, at[0] + j, c, n)


NULLABLE_TARGETS = [("records", "source", "id"), ("records", "key", "id"), ("records", "content_hash", "id"),
                    ("records", "canonical", "id"), ("records", "version", "id"),
                    ("quarantine", "source", "id"), ("quarantine", "raw", "id"),
                    ("audit", "detail", "seq"), ("audit", "leaf_hash", "seq"), ("checkpoints", "root", "tree_size")]


def null_column(con, rnd, path):
    """With the sqlite3 shell an attacker can also drop a NOT NULL (PRAGMA
    writable_schema) and store NULL where verify expects text."""
    t, col, pk = rnd.choice(NULLABLE_TARGETS)
    r = pick(con, "SELECT %s FROM %s" % (pk, t), rnd)
    sql = con.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (t,)).fetchone()[0]
    new_sql = re.sub(r"\b%s (TEXT|BLOB|INTEGER) NOT NULL" % col, r"%s \1" % col, sql, count=1)
    con.execute("COMMIT")
    con.execute("PRAGMA writable_schema=ON")
    con.execute("UPDATE sqlite_master SET sql=? WHERE type='table' AND name=?", (new_sql, t))
    con.execute("PRAGMA writable_schema=OFF")
    con.close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("UPDATE %s SET %s=NULL WHERE %s=?" % (t, col, pk), (r[0],))
    con.close()
    return "%s %s=%s: %s set to NULL (NOT NULL dropped via writable_schema)" % (t, pk, r[0], col)


# ---- consistent rewrites: need a checkpoint kept outside the store

def ext_truncate(con, rnd, path):
    """Drop whole trailing cycles: their entries, checkpoints, records and
    quarantine rows; recompute the frontier."""
    sizes = [s for (s,) in con.execute("SELECT tree_size FROM checkpoints ORDER BY tree_size")]
    keep = rnd.choice(sizes[:-1])
    cut = audit_rows(con)[keep:]
    for r in cut:
        if r["action"] in ("record.new", "record.version"):
            v = json.loads(r["detail"])["version"]
            con.execute("DELETE FROM records WHERE source=? AND key=? AND version=?", (r["source"], r["subject"], v))
        elif r["action"] == "record.rejected":
            con.execute("DELETE FROM quarantine WHERE id=?", (json.loads(r["detail"])["quarantine_id"],))
    con.execute("DELETE FROM audit WHERE seq>?", (keep,))
    con.execute("DELETE FROM checkpoints WHERE tree_size>?", (keep,))
    rewrite_derived(con, keep + 1)
    return "consistently truncated to checkpoint %d (removed %d entries with their records/quarantine)" % (
        keep, len(cut))


def ext_append(con, rnd, path):
    """Append a forged cycle (poll.start, record.new + its record, poll.end)
    with correct leaf hashes, optionally with a checkpoint."""
    rows = audit_rows(con)
    n = len(rows)
    start = dict(next(r for r in rows if r["action"] == "poll.start"))
    new = dict(next(r for r in rows if r["action"] == "record.new"))
    end = dict(next(r for r in rows if r["action"] == "poll.end"))
    cyc = os.urandom(16).hex()
    base = dict(pick(con, "SELECT * FROM records", rnd))
    doc = json.loads(base["canonical"])
    doc["traceability_lot_code"] = "TLC-7%05d" % rnd.randrange(100000)
    key = jcs([doc["traceability_lot_code"], doc["event_type"], doc["event_timestamp"]])
    canon = jcs(doc)
    h = hashlib.sha256(canon.encode()).hexdigest()
    new["subject"] = key
    new["detail"] = jcs({"hash": h, "raw_hash": h, "request": cyc + "-1", "version": 1})
    con.execute("INSERT INTO records(source,key,version,content_hash,canonical,raw_hash,fetched_at,request_id,"
                "cycle_id,config_hash) VALUES(?,?,1,?,?,?,?,?,?,?)",
                (base["source"], key, h, canon, h, "2099-01-01T00:00:00.000Z", cyc + "-1", cyc,
                 base["config_hash"]))
    for i, e in enumerate((start, new, end)):
        e["cycle_id"], e["time"] = cyc, "2099-01-01T00:00:00.000Z"
        con.execute("INSERT INTO audit VALUES(?,?,?,?,?,?,?,?,?)",
                    (n + 1 + i, e["time"], e["actor"], e["action"], e["source"], e["subject"], e["detail"],
                     e["cycle_id"], leaf_hash(n + 1 + i, e).hex()))
    with_ckp = rnd.random() < 0.5
    if with_ckp:
        con.execute("INSERT INTO checkpoints(tree_size, root, time) VALUES(?,?,?)", (n + 3, "0" * 64, "2099"))
    rewrite_derived(con, n + 1)
    return "forged cycle appended at seq %d-%d with record %s%s" % (
        n + 1, n + 3, key, ", plus its checkpoint" if with_ckp else " (no checkpoint)")


def ext_rewrite(con, rnd, path):
    """Edit a past record and its record.* entry's hash, then recompute the
    leaf, every later checkpoint root and the frontier."""
    r = dict(pick(con, "SELECT * FROM audit WHERE action IN ('record.new','record.version')", rnd))
    d = json.loads(r["detail"])
    rec = con.execute("SELECT id, canonical FROM records WHERE source=? AND key=? AND version=?",
                      (r["source"], r["subject"], d["version"])).fetchone()
    doc = json.loads(rec[1])
    doc["quantity"] = rnd.randrange(1, 100000)
    canon = jcs(doc)
    h = hashlib.sha256(canon.encode()).hexdigest()
    d["hash"] = h
    con.execute("UPDATE records SET canonical=?, content_hash=? WHERE id=?", (canon, h, rec[0]))
    con.execute("UPDATE audit SET detail=? WHERE seq=?", (jcs(d), r["seq"]))
    rewrite_derived(con, r["seq"])
    return "record %s v%d rewritten (quantity %s) with its audit entry %d, roots recomputed" % (
        r["subject"], d["version"], doc["quantity"], r["seq"])


KINDS = [
    *[("audit.edit." + c, audit_edit(c)) for c in AUDIT_COLS],
    ("audit.edit+rehash", audit_edit_rehash),
    ("audit.delete", audit_delete),
    ("audit.swap", audit_swap),
    ("audit.insert.middle", audit_insert_middle),
    ("audit.insert.end", audit_insert_end),
    ("audit.truncate", audit_truncate),
    ("audit.truncate+ckps", audit_truncate_with_ckps),
    *[("records.edit." + c, record_edit(c)) for c in ("canonical", "content_hash", "raw_hash", "key",
                                                      "version", "source")],
    ("records.edit.canonical+rehash", record_edit_canonical_rehash),
    ("records.edit.metadata", record_edit_meta),
    ("records.delete", record_delete),
    ("records.insert", record_insert),
    *[("quarantine.edit." + c, quarantine_edit(c)) for c in ("raw", "errors", "recon_key", "source")],
    ("quarantine.edit.metadata", quarantine_edit_meta),
    ("quarantine.delete", quarantine_delete),
    ("quarantine.insert", quarantine_insert),
    *[("checkpoints.edit." + c, ckp_edit(c)) for c in ("root", "tree_size", "time")],
    ("checkpoints.delete", ckp_delete),
    ("checkpoints.insert", ckp_insert),
    ("audit_frontier.edit", frontier_edit),
    ("audit_frontier.delete", frontier_delete),
    ("meta.edit", meta_edit),
    ("bytes.flip", byte_flip),
    ("bytes.table-not-index", bytes_table_not_index),
    ("schema.null-column", null_column),
    ("ext.truncate-cycles", ext_truncate),
    ("ext.append-cycle", ext_append),
    ("ext.rewrite-history", ext_rewrite),
]
EXTERNAL = {k for k, _ in KINDS if k.startswith("ext.")}
# Byte flips land anywhere, so they get more trials than one targeted kind.
WEIGHT = {"bytes.flip": 5}


# ---------------------------------------------------------------- reference store

def build_reference(custody, base):
    ref = os.path.join(base, "ref")
    os.makedirs(ref)
    cfg = os.path.join(ref, "config.yaml")
    with harness.Portal("--fsma-events", str(EVENTS), max_seconds=300) as portal:
        with open(cfg, "w") as f:
            f.write(harness.fsma_config(portal.url, limit=LIMIT))
        cli = harness.Custody(custody, ref, {"SUPPLIER_API_KEY": harness.TOKEN})
        steps = [None,
                 [("/_control/mutate", {"dataset": "fsma", "count": 10}),
                  ("/_control/append", {"dataset": "fsma", "count": 20})],
                 [("/_control/mutate", {"dataset": "fsma", "count": 15}),
                  ("/_control/append", {"dataset": "fsma", "count": 5})],
                 None]      # an unchanged re-poll: a cycle with no records
        for changes in steps:
            for path, body in changes or ():
                portal.control(path, body)
            cli.run("poll", "-q", "-c", cfg, timeout=120, check=0)
        cli.run("audit", "verify", "-c", cfg, timeout=VERIFY_TIMEOUT, check=0)
    shutil.rmtree(portal.dir, ignore_errors=True)
    # A clean single-file copy (no -wal), through the backup API.
    pristine = os.path.join(base, "pristine.db")
    src = sqlite3.connect(os.path.join(ref, "custody.db"))
    dst = sqlite3.connect(pristine)
    src.backup(dst)
    dst.close()
    src.close()
    for suffix in ("-wal", "-shm"):
        assert not os.path.exists(pristine + suffix)
    return pristine


def self_check(pristine):
    """Our leaf/root computation must agree with the store before we trust
    the consistent-rewrite kinds."""
    con = sqlite3.connect(pristine)
    con.row_factory = sqlite3.Row
    rows = audit_rows(con)
    leaves = [leaf_hash(r["seq"], r) for r in rows]
    for r, lh in zip(rows, leaves):
        assert lh.hex() == r["leaf_hash"], "leaf recomputation disagrees at seq %d" % r["seq"]
    for size, root in con.execute("SELECT tree_size, root FROM checkpoints"):
        assert root_of(leaves[:size]).hex() == root, "root recomputation disagrees at %d" % size
    stored = [h for (h,) in con.execute("SELECT hash FROM audit_frontier ORDER BY level")]
    assert stored == [h.hex() for h in frontier_of(leaves)], "frontier recomputation disagrees"
    stats = {t: con.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
             for t in ("audit", "checkpoints", "records", "quarantine")}
    stats["versions>1"] = con.execute("SELECT count(*) FROM records WHERE version>1").fetchone()[0]
    stats["cycles"] = con.execute("SELECT count(DISTINCT cycle_id) FROM audit").fetchone()[0]
    global QUARANTINE_COLS
    for t in TABLES:
        COLS[t] = [r[1] for r in con.execute("PRAGMA table_info(%s)" % t)]
    QUARANTINE_COLS = COLS["quarantine"]
    con.close()
    return stats


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--kind", action="append", help="run only kinds starting with this (repeatable)")
    ap.add_argument("--trial", type=int, action="append", help="run only this trial number (to reproduce one)")
    ap.add_argument("--show", type=int, default=SHOW_PER_KIND, help="failures printed in full per kind")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = ap.parse_args()
    custody = os.path.abspath(a.custody)
    t0 = time.time()
    rnd = random.Random(a.seed)
    kinds = [k for k in KINDS if not a.kind or any(k[0].startswith(p) for p in a.kind)]
    print("tamper trials: %d over %d kinds, seed %d (rerun with --seed to reproduce)" % (a.trials, len(kinds), a.seed))
    base = tempfile.mkdtemp(prefix="custody-tamper-")
    stats = {k: dict(trials=0, detected=0, noop=0, unreadable=0, state=0, skipped=0, undetected=0, bad=0)
             for k, _ in kinds}
    failures = []
    external = []
    unreadable_msgs = {}
    try:
        pristine = build_reference(custody, base)
        info = self_check(pristine)
        print("reference store: %s" % ", ".join("%s %d" % kv for kv in info.items()))
        before = logical_dump(pristine)
        work = os.path.join(base, "trial")
        os.makedirs(work)
        store = os.path.join(work, "custody.db")
        cfg = os.path.join(work, "config.yaml")
        with open(cfg, "w") as f:
            f.write(harness.fsma_config("http://127.0.0.1:9", store=store, limit=LIMIT))
        env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, NO_COLOR="1")
        env.pop("CUSTODY_CONFIG", None)
        cycle = [i for i, (k, _) in enumerate(kinds) for _ in range(WEIGHT.get(k, 1))]
        order = list(cycle)
        for trial in range(a.trials):
            if trial % len(cycle) == 0:
                rnd.shuffle(order)
            name, fn = kinds[order[trial % len(cycle)]]
            if a.trial and trial not in a.trial:
                continue
            st = stats[name]
            st["trials"] += 1
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(store + suffix):
                    os.remove(store + suffix)
            shutil.copyfile(pristine, store)
            trnd = random.Random("%d/%d" % (a.seed, trial))
            raw = name.startswith("bytes.") or name.startswith("schema.")
            con = open_rw(store) if not raw or name.startswith("schema.") else sqlite3.connect(store)
            if raw:
                con.row_factory = sqlite3.Row
            try:
                what = fn(con, trnd, store)
                if not raw:
                    con.execute("COMMIT")
                    con.close()
            except Skip as ex:
                st["skipped"] += 1
                con.close()
                print("trial %d %s: skipped (%s)" % (trial, name, ex))
                continue
            for suffix in ("-wal", "-shm", "-journal"):
                assert not os.path.exists(store + suffix), "leftover %s after tamper" % suffix
            after = logical_dump(store)
            cls, changed = classify_diff(before, after)
            changed = changed_columns(before, after, COLS)
            try:
                p = subprocess.run([custody, "audit", "verify", "-c", cfg], cwd=work, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=VERIFY_TIMEOUT)
            except subprocess.TimeoutExpired:
                p = subprocess.CompletedProcess([], -999, b"", b"verify did not finish in %d s" % VERIFY_TIMEOUT)
            perr = p.stderr.decode(errors="replace")
            out = (p.stdout.decode(errors="replace") + perr).strip()
            unreadable_tables = [t for t in TABLES if isinstance(after[t], str)]
            if cls == "noop" and p.returncode == 0:
                st["noop"] += 1
                continue
            if cls == "state" and p.returncode == 0:
                st["state"] += 1
                continue
            if p.returncode == 4:
                st["detected"] += 1
                continue
            if p.returncode == 3 and name == "bytes.flip" and "custody" in perr and len(perr.strip()) > 20:
                st["unreadable"] += 1
                unreadable_msgs.setdefault(perr.strip().split(": ")[-1], trial)
                continue
            rec = "trial %d %s: %s\n    tables changed: %s%s\n    verify exit %d: %s" % (
                trial, name, what, ", ".join(changed) or "none",
                " (unreadable: %s)" % ", ".join(unreadable_tables) if unreadable_tables else "",
                p.returncode, out.replace("\n", "\n      "))
            if name in EXTERNAL and p.returncode == 0:
                st["undetected"] += 1
                external.append(rec)
                continue
            if p.returncode == 0:
                st["undetected"] += 1
            else:
                st["bad"] += 1      # wrong exit code (3 for a logical tamper, 1, a signal, ...)
            failures.append((name, rec))
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("scratch kept in", base)

    shown = {}
    for name, rec in failures:
        shown[name] = shown.get(name, 0) + 1
        tag = "UNDETECTED " if "verify exit 0" in rec else "WRONG EXIT "
        if shown[name] <= a.show:
            print(tag + rec)
        else:   # one line each: trial, kind, what was done, what changed
            print(tag + " | ".join(line.strip() for line in rec.split("\n")[:2]))
    if unreadable_msgs:
        print("unreadable after a byte flip (exit 3), distinct messages:")
        for msg, trial in sorted(unreadable_msgs.items(), key=lambda kv: kv[1]):
            print("  trial %d: %s" % (trial, msg))
    if external:
        print("needs external checkpoint (consistent rewrites; verify cannot see them from inside the store):")
        seen = set()
        for rec in external:
            k = rec.split()[2]
            if k not in seen:
                seen.add(k)
                print("  " + rec.replace("\n", "\n  "))

    hdr = "%-32s %6s %8s %6s %10s %6s %10s %9s" % ("kind", "trials", "detected", "no-op", "unreadable", "state",
                                                   "undetected", "wrongexit")
    print(hdr)
    print("-" * len(hdr))
    tot = dict(trials=0, detected=0, noop=0, unreadable=0, state=0, undetected=0, bad=0, skipped=0)
    ext_tot = dict(trials=0, undetected=0)
    for name, _ in kinds:
        s = stats[name]
        mark = "  (needs external checkpoint)" if name in EXTERNAL else ("  FAIL" if s["undetected"] or s["bad"]
                                                                         else "")
        print("%-32s %6d %8d %6d %10d %6d %10d %9d%s" % (name, s["trials"], s["detected"], s["noop"],
                                                       s["unreadable"], s["state"], s["undetected"], s["bad"], mark))
        if name in EXTERNAL:
            ext_tot["trials"] += s["trials"]
            ext_tot["undetected"] += s["undetected"]
            continue
        for k in tot:
            tot[k] += s[k]
    effective = tot["trials"] - tot["noop"] - tot["state"] - tot["skipped"]
    caught = tot["detected"] + tot["unreadable"]
    pct = 100.0 * caught / effective if effective else 100.0
    print("test_tamper: %d trials in %.1fs; %d effective tampers, %d detected (%d exit 4, %d unreadable exit 3) "
          "= %.2f%%; %d no-ops, %d state-only, %d skipped excluded; %d undetected, %d wrong exit; "
          "needs external checkpoint: %d of %d consistent rewrites undetected"
          % (sum(s["trials"] for s in stats.values()), time.time() - t0, effective, caught, tot["detected"], tot["unreadable"], pct, tot["noop"],
             tot["state"], tot["skipped"], tot["undetected"], tot["bad"], ext_tot["undetected"], ext_tot["trials"]))
    return 1 if (tot["undetected"] or tot["bad"]) else 0


if __name__ == "__main__":
    sys.exit(main())
