#!/usr/bin/env python3
"""test_custody_verify.py - unit tests for custody_verify.py (stdlib only).

Proofs are built here from the RFC 9162 recursive definitions (MTH, PATH,
SUBPROOF), independently of the verifier's iterative algorithms, and the
verifier must accept them and reject every tampered variant.
Run: python3 tools/test_custody_verify.py
"""

import copy
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import custody_verify as cv  # noqa: E402

SCRIPT = os.path.join(HERE, "custody_verify.py")


# ---- an independent RFC 9162 tree, straight from the definitions ----

def H(b):
    return hashlib.sha256(b).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    if not d:
        return H(b"")
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return H(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m, d):
    if len(d) <= 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    if m == len(d):
        return [] if b else [mth(d)]
    k = split(len(d))
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def consistency(m, d):
    return [] if m == 0 else subproof(m, d, True)


def entry(seq):
    return {"seq": seq, "time": "2026-03-01T13:%02d:00.000Z" % (seq % 60), "actor": "poller",
            "action": "record.new" if seq % 3 else "poll.end", "source": "tlc",
            "subject": '["TLC-%06d","shipping"]' % seq, "cycle": "c-%d" % (seq // 4),
            "detail": {"version": seq, "hash": "%064x" % seq, "request": {"page": seq % 5, "q": "ü€"},
                       "counts": [seq, -seq, 0]}}


def canonical(e):
    # For these entries (ASCII member names, integers, plain strings) the
    # RFC 8785 form is exactly what json.dumps writes with sorted keys.
    return json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


ENTRIES = [entry(i) for i in range(1, 41)]
LEAVES = [H(b"\x00" + canonical(e)) for e in ENTRIES]


def inclusion_doc(i, n):
    d = LEAVES[:n]
    root = mth(d)
    return {"version": 1, "algorithm": "RFC9162-SHA256", "tree_size": n, "leaf_index": i,
            "entry": copy.deepcopy(ENTRIES[i]), "leaf_hash": LEAVES[i].hex(),
            "path": [h.hex() for h in path(i, d)], "root": root.hex(),
            "checkpoint": {"tree_size": n, "root": root.hex(), "time": "2026-03-01T14:00:00.000Z",
                           "signature": None, "key_id": None}}


def consistency_doc(m, n):
    return {"version": 1, "algorithm": "RFC9162-SHA256", "first": m, "second": n,
            "first_root": mth(LEAVES[:m]).hex(), "second_root": mth(LEAVES[:n]).hex(),
            "proof": [h.hex() for h in consistency(m, LEAVES[:n])]}


def checkpoint_line(n, root=None):
    return json.dumps({"type": "checkpoint", "tree_size": n, "root": (root or mth(LEAVES[:n])).hex(),
                       "time": "2026-03-01T14:00:00.000Z", "signature": None, "key_id": None}).encode() + b"\n"


def export_lines(n=40, checkpoints=(5, 17, 32, 40)):
    out = []
    for i in range(n):
        out.append(canonical(ENTRIES[i]) + b"\n")
        if i + 1 in checkpoints:
            out.append(checkpoint_line(i + 1))
    return out


def flip(hexstr, pos=0):
    c = hexstr[pos]
    return hexstr[:pos] + ("0" if c != "0" else "1") + hexstr[pos + 1:]


def ok(fn, arg):
    try:
        fn(arg)
        return True
    except cv.Invalid:
        return False


class JCSTest(unittest.TestCase):
    def test_numbers_rfc8785_appendix_b(self):
        vectors = {
            "0000000000000000": "0", "8000000000000000": "0", "0000000000000001": "5e-324",
            "7fefffffffffffff": "1.7976931348623157e+308", "4340000000000000": "9007199254740992",
            "4430000000000000": "295147905179352830000", "44b52d02c7e14af6": "1e+23",
            "44b52d02c7e14af7": "1.0000000000000001e+23", "444b1ae4d6e2ef50": "1e+21",
            "444b1ae4d6e2ef4f": "999999999999999900000", "3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
            "3eb0c6f7a0b5ed8d": "0.000001", "41b3de4355555554": "333333333.33333325",
            "becbf647612f3696": "-0.0000033333333333333333", "43143ff3c1cb0959": "1424953923781206.2",
        }
        for bits, want in vectors.items():
            self.assertEqual(cv.jcs(struct.unpack(">d", bytes.fromhex(bits))[0]), want, bits)
        self.assertEqual(cv.jcs([1, -7, 2 ** 53, 10 ** 21, 4.50, 1e-7]), "[1,-7,9007199254740992,1e+21,4.5,1e-7]")
        self.assertRaises(cv.Invalid, cv.jcs, float("nan"))
        self.assertRaises(cv.Invalid, cv.jcs, 10 ** 400)

    def test_strings_and_key_order(self):
        # RFC 8785 3.2.3: sorted by UTF-16 code units, so U+1F600 (D83D DE00)
        # sorts before U+FB33.
        obj = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
        self.assertEqual(cv.jcs(obj), '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\U0001f600":5,"\ufb33":3}')
        self.assertEqual(cv.jcs("a\"\\/\b\f\n\r\t\x00\x1f\x7f\u2028é"),
                         '"a\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028é"')
        self.assertEqual(cv.jcs({"b": [True, False, None], "a": {}}), '{"a":{},"b":[true,false,null]}')
        self.assertRaises(cv.Invalid, cv.jcs, "\ud800")

    def test_strict_parse(self):
        self.assertRaises(cv.Invalid, cv.parse_json, '{"a":1,"a":2}')
        self.assertRaises(cv.Invalid, cv.parse_json, '[NaN]')
        self.assertRaises(cv.Invalid, cv.parse_json, '{"a":')

    def test_leaf_hash_matches_independent(self):
        for e, h in zip(ENTRIES, LEAVES):
            self.assertEqual(cv.leaf_hash(e), h)
        bad = dict(ENTRIES[0], extra=1)
        self.assertRaises(cv.Invalid, cv.leaf_hash, bad)


class InclusionTest(unittest.TestCase):
    def test_all_valid(self):
        count = 0
        for n in range(1, 41):
            for i in range(n):
                doc = json.loads(json.dumps(inclusion_doc(i, n)))
                self.assertTrue(ok(cv.cmd_inclusion, doc), (i, n))
                count += 1
        self.assertEqual(count, 820)

    def test_tampered(self):
        for n in (1, 2, 3, 5, 8, 13, 21, 40):
            for i in sorted({0, n // 2, n - 1}):
                good = inclusion_doc(i, n)
                bad = []
                for k in range(len(good["path"])):
                    d = copy.deepcopy(good)
                    d["path"][k] = flip(d["path"][k], 2 * k % 64)
                    bad.append(("path[%d]" % k, d))
                for name, mutate in [
                    ("root+checkpoint", lambda d: d.update(root=flip(d["root"]), checkpoint=None)),
                    ("root only", lambda d: d.update(root=flip(d["root"]))),
                    ("checkpoint root", lambda d: d["checkpoint"].update(root=flip(d["root"]))),
                    ("checkpoint size", lambda d: d["checkpoint"].update(tree_size=n + 1)),
                    ("leaf_hash", lambda d: d.update(leaf_hash=flip(d["leaf_hash"], 63))),
                    ("entry subject", lambda d: d["entry"].update(subject="x")),
                    ("entry detail", lambda d: d["entry"]["detail"]["request"].update(page=99)),
                    ("entry extra member", lambda d: d["entry"].update(note="x")),
                    ("leaf_index", lambda d: d.update(leaf_index=(i + 1) % max(n, 2))),
                    ("index out of range", lambda d: d.update(leaf_index=n)),
                    ("extra path element", lambda d: d["path"].append(d["root"])),
                    ("path dropped", lambda d: d["path"].pop() if d["path"] else d["path"].append(d["root"])),
                    ("uppercase hex", lambda d: d.update(root=d["root"].upper(), checkpoint=None)),
                    ("version", lambda d: d.update(version=2)),
                    ("algorithm", lambda d: d.update(algorithm="sha1")),
                    ("bool size", lambda d: d.update(tree_size=True)),
                    ("negative index", lambda d: d.update(leaf_index=-1)),
                ]:
                    d = copy.deepcopy(good)
                    mutate(d)
                    bad.append((name, d))
                # Another size, with that size's true root (keeping the root
                # and changing only tree_size proves nothing: a verifier
                # cannot tell which size a bare root belongs to - that is
                # what the signed checkpoint binds).
                for n2 in range(max(i + 1, 1), 41):
                    if n2 != n:
                        d = copy.deepcopy(good)
                        r2 = mth(LEAVES[:n2]).hex()
                        d.update(tree_size=n2, root=r2)
                        d["checkpoint"].update(tree_size=n2, root=r2)
                        bad.append(("tree_size=%d" % n2, d))
                # Another position that really holds another entry, consistently claimed.
                if n > 1:
                    j = (i + 1) % n
                    d = copy.deepcopy(good)
                    d.update(leaf_index=j, entry=copy.deepcopy(ENTRIES[j]), leaf_hash=LEAVES[j].hex())
                    bad.append(("other leaf, this path", d))
                for name, d in bad:
                    self.assertFalse(ok(cv.cmd_inclusion, d), "%s accepted (i=%d n=%d)" % (name, i, n))


class ConsistencyTest(unittest.TestCase):
    def test_all_valid(self):
        count = 0
        for n in range(0, 41):
            for m in range(0, n + 1):
                self.assertTrue(ok(cv.cmd_consistency, consistency_doc(m, n)), (m, n))
                count += 1
        self.assertEqual(count, 41 * 42 // 2)

    def test_tampered(self):
        for n in range(1, 41):
            for m in range(0, n + 1):
                good = consistency_doc(m, n)
                bad = []
                for k in range(len(good["proof"])):
                    d = copy.deepcopy(good)
                    d["proof"][k] = flip(d["proof"][k], k)
                    bad.append(("proof[%d]" % k, d))
                d = copy.deepcopy(good)
                d["first_root"] = flip(d["first_root"])
                bad.append(("first_root", d))
                if m > 0:
                    d = copy.deepcopy(good)
                    d["second_root"] = flip(d["second_root"])
                    bad.append(("second_root", d))
                if m not in (0, n):
                    for name, mutate in [
                        ("swapped roots", lambda d: d.update(first_root=d["second_root"], second_root=d["first_root"])),
                        ("empty proof", lambda d: d.update(proof=[])),
                        ("truncated", lambda d: d["proof"].pop()),
                        ("extra", lambda d: d["proof"].append(d["second_root"])),
                        ("prefixed", lambda d: d["proof"].insert(0, d["first_root"])),
                    ]:
                        d = copy.deepcopy(good)
                        mutate(d)
                        bad.append((name, d))
                    # Other sizes with their true roots.
                    for m2 in range(1, n):
                        if m2 != m:
                            d = copy.deepcopy(good)
                            d.update(first=m2, first_root=mth(LEAVES[:m2]).hex())
                            bad.append(("first=%d" % m2, d))
                    for n2 in range(m + 1, 41):
                        if n2 != n:
                            d = copy.deepcopy(good)
                            d.update(second=n2, second_root=mth(LEAVES[:n2]).hex())
                            bad.append(("second=%d" % n2, d))
                d = copy.deepcopy(good)
                d.update(first=n + 1)
                bad.append(("first > second", d))
                for name, d in bad:
                    self.assertFalse(ok(cv.cmd_consistency, d), "%s accepted (m=%d n=%d)" % (name, m, n))


class ExportTest(unittest.TestCase):
    def test_valid(self):
        self.assertTrue(ok(cv.cmd_export, export_lines()))
        # Checkpoint lines may come anywhere, including first.
        lines = export_lines(checkpoints=())
        lines.insert(0, checkpoint_line(40))
        lines.insert(3, checkpoint_line(0))
        self.assertTrue(ok(cv.cmd_export, lines))
        self.assertIn(mth(LEAVES).hex(), cv.cmd_export(lines))

    def test_tampered(self):
        good = export_lines()
        entry_at = [k for k, line in enumerate(good) if b'"type"' not in line]

        def edited(k, **changes):
            e = dict(json.loads(good[k]), **changes)
            lines = list(good)
            lines[k] = canonical(e) + b"\n"
            return lines

        cases = {
            "edited entry": edited(entry_at[3], actor="mallory"),
            "edited entry after last checkpoint-free area": edited(entry_at[39], subject="x"),
            "deleted entry": good[:entry_at[10]] + good[entry_at[10] + 1:],
            "swapped entries": (good[:entry_at[1]] + [good[entry_at[2]], good[entry_at[1]]] + good[entry_at[2] + 1:]),
            "non-canonical spacing": [good[0].replace(b'":', b'": ', 1)] + good[1:],
            "non-canonical order": [json.dumps(json.loads(good[0])).encode() + b"\n"] + good[1:],
            "extra member": edited(entry_at[0], note="x"),
            "wrong checkpoint root": good + [checkpoint_line(7, root=mth(LEAVES[:8]))],
            "checkpoint beyond entries": good + [checkpoint_line(41, root=mth(LEAVES))],
            "truncated last line": good[:-1] + [good[-1][:-1]],
            "garbage line": good + [b"{not json\n"],
            "no checkpoints": export_lines(checkpoints=()),
            "bad checkpoint hex": good + [checkpoint_line(5).replace(b'"root": "', b'"root": "X')],
            "duplicate member": [good[0].replace(b'{"action"', b'{"actor":"x","action"', 1)] + good[1:],
        }
        for name, lines in cases.items():
            self.assertFalse(ok(cv.cmd_export, lines), name)


class CLITest(unittest.TestCase):
    def run_cli(self, cmd, content):
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
            f.write(content)
        try:
            return subprocess.run([sys.executable, SCRIPT, cmd, f.name], capture_output=True, text=True)
        finally:
            os.unlink(f.name)

    def test_exit_codes(self):
        r = self.run_cli("inclusion", json.dumps(inclusion_doc(6, 11)).encode())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("VALID"))
        d = inclusion_doc(6, 11)
        d["path"][1] = flip(d["path"][1])
        r = self.run_cli("inclusion", json.dumps(d).encode())
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stdout.startswith("INVALID"))
        self.assertEqual(self.run_cli("consistency", json.dumps(consistency_doc(7, 30)).encode()).returncode, 0)
        self.assertEqual(self.run_cli("export", b"".join(export_lines())).returncode, 0)
        self.assertEqual(self.run_cli("consistency", b"\xff\xfe").returncode, 1)
        self.assertEqual(self.run_cli("bogus", b"{}").returncode, 2)
        r = subprocess.run([sys.executable, SCRIPT, "export", "/nonexistent/file"], capture_output=True)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=1)
