#!/usr/bin/env python3
"""custody_verify.py - check custody's audit evidence without custody.

Python 3 standard library only; meant to be read in ten minutes. It trusts
nothing in the documents except the roots you compare with roots you
already hold (e.g. a signed checkpoint you were given earlier).

    custody_verify.py inclusion   PROOF.json   # this entry is in that tree
    custody_verify.py consistency PROOF.json   # the new tree extends the old
    custody_verify.py export      FILE.jsonl   # the log yields its checkpoints

Exit status: 0 valid, 1 invalid (including a malformed document), 2 usage
error or unreadable file. The formats are also in docs/proofs.md.

Hashes (RFC 9162 section 2.1, SHA-256), hex is 64 lowercase digits:
    leaf hash  = SHA-256(0x00 || JCS(entry))
    node hash  = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")
    leaf index = entry "seq" - 1   (seq counts from 1, the tree from 0)
JCS is RFC 8785 canonical JSON; an audit entry is the object with exactly
the members action, actor, cycle, detail, seq, source, subject, time.

Inclusion proof (one JSON object):
    {"version": 1, "algorithm": "RFC9162-SHA256",
     "tree_size": N, "leaf_index": i,              # 0 <= i < N
     "entry": {...the audit entry...},
     "leaf_hash": hex,                             # must equal the recomputed one
     "path": [hex, ...],                           # RFC 9162 PATH, leaf level first
     "root": hex,                                  # root of the tree of size N
     "checkpoint": {"tree_size": N, "root": hex, "time": str,
                    "signature": str|null, "key_id": str|null} | null}
    "checkpoint" may be absent or null; when present its tree_size and root
    must equal the document's.

Consistency proof:
    {"version": 1, "algorithm": "RFC9162-SHA256",
     "first": m, "second": n,                      # 0 <= m <= n
     "first_root": hex, "second_root": hex,
     "proof": [hex, ...]}                          # RFC 9162 PROOF(m, D[n])
    m == 0 or m == n take the empty proof (and m == 0 needs
    first_root = SHA-256("")).

Export (JSON Lines, UTF-8, one value per line, "\\n" line ends):
    an entry line is exactly the JCS bytes of one audit entry (no "type"
    member: the line is what gets hashed), in seq order from 1;
    a checkpoint line is
    {"type": "checkpoint", "tree_size": N, "root": hex, "time": str,
     "signature": str|null, "key_id": str|null}
    and may appear anywhere (custody writes it after entry N). Every
    checkpoint's root must be the root of the first tree_size entries.
Signatures ("ed25519:<key id>:<base64>" over "custody checkpoint v1\\n
tree_size N\\nroot HEX\\ntime T\\n") need Ed25519, which the standard
library lacks: they are reported, not checked (docs/proofs.md shows how
with openssl).
"""

import hashlib
import json
import math
import sys

ALGORITHM = "RFC9162-SHA256"
ENTRY_KEYS = {"action", "actor", "cycle", "detail", "seq", "source", "subject", "time"}


class Invalid(Exception):
    """The evidence does not verify; the message says why."""


# ---- RFC 8785 canonical JSON (JCS) ----

def ecma_number(x):
    """ECMA-262 Number::toString of a float, from Python's shortest repr."""
    if math.isnan(x) or math.isinf(x):
        raise Invalid("NaN and Infinity are not JSON")
    if x == 0:
        return "0"                      # also -0
    mant, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac               # abs(x) = 0.DIGITS * 10**n
    n = len(whole) + int(exp or 0)
    n -= len(digits) - len(digits.lstrip("0"))
    digits = digits.strip("0")
    k = len(digits)
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * -n + digits
    else:
        e = n - 1
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return ("-" if x < 0 else "") + s


def jcs_string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if 0xD800 <= c <= 0xDFFF:
            raise Invalid("string with a lone surrogate is not I-JSON")
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif c < 0x20:
            out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(c, "\\u%04x" % c))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(v):
    """RFC 8785 canonical form of a parsed JSON value, as a str."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        # JSON numbers are IEEE doubles: small integers print as themselves,
        # big ones as the double they become.
        if abs(v) <= 2 ** 53:
            return str(v)
        try:
            return ecma_number(float(v))
        except OverflowError:
            raise Invalid("number too large for a double") from None
    if isinstance(v, float):
        return ecma_number(v)
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        # Sort by UTF-16 code units (big-endian bytes compare the same way).
        keys = sorted(v, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise Invalid("not a JSON value: %r" % (v,))


def parse_json(text):
    """json.loads that refuses duplicate names and NaN/Infinity."""
    def pairs(items):
        obj = {}
        for k, val in items:
            if k in obj:
                raise Invalid("duplicate member name %r" % k)
            obj[k] = val
        return obj

    def constant(name):
        raise Invalid("%s is not JSON" % name)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except ValueError as exc:       # json.JSONDecodeError, bad UTF-8
        raise Invalid("not JSON: %s" % exc) from None


# ---- RFC 9162 hashing and proof verification ----

def sha256(data):
    return hashlib.sha256(data).digest()


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def leaf_hash(entry):
    if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
        raise Invalid("an audit entry has exactly the members " + ", ".join(sorted(ENTRY_KEYS)))
    return sha256(b"\x00" + jcs(entry).encode("utf-8"))


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2. True when path proves leaf at index."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, first_root, second_root, proof):
    """RFC 9162 section 2.1.4.2, plus the trivial m == 0 and m == n cases."""
    if m > n:
        return False
    if m == n:
        return not proof and first_root == second_root
    if m == 0:
        return not proof and first_root == sha256(b"")
    if not proof:
        return False
    if m & (m - 1) == 0:               # m is a power of two
        proof = [first_root] + list(proof)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """Roots of the perfect subtrees over the leaves so far: the root of
    any prefix without keeping every leaf hash."""

    def __init__(self):
        self.size, self.stack = 0, []

    def push(self, h):
        n = self.size
        while n & 1:
            h = node_hash(self.stack.pop(), h)
            n >>= 1
        self.stack.append(h)
        self.size += 1

    def root(self):
        if not self.stack:
            return sha256(b"")
        r = self.stack[-1]
        for h in reversed(self.stack[:-1]):
            r = node_hash(h, r)
        return r


# ---- document fields ----

def field(doc, name, kind):
    if not isinstance(doc, dict) or name not in doc:
        raise Invalid("missing %r" % name)
    v = doc[name]
    if kind == "size":
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2 ** 64:
            raise Invalid("%r must be an integer in [0, 2^64)" % name)
    elif kind == "hash":
        v = unhex(v, name)
    elif kind == "hashes":
        if not isinstance(v, list):
            raise Invalid("%r must be an array of hashes" % name)
        v = [unhex(h, "%s[%d]" % (name, i)) for i, h in enumerate(v)]
    return v


def unhex(v, what):
    if not isinstance(v, str) or len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
        raise Invalid("%s must be 64 lowercase hex digits" % what)
    return bytes.fromhex(v)


def check_header(doc):
    if not isinstance(doc, dict):
        raise Invalid("the document must be a JSON object")
    if doc.get("version") != 1 or doc.get("algorithm") != ALGORITHM:
        raise Invalid('need "version": 1 and "algorithm": "%s"' % ALGORITHM)


def describe_signature(cp):
    sig, kid = cp.get("signature"), cp.get("key_id")
    if sig is None:
        return "unsigned"
    if not isinstance(sig, str) or not sig.startswith("ed25519:") or sig.count(":") != 2:
        raise Invalid("signature must be ed25519:<key id>:<base64>")
    if kid is not None and sig.split(":")[1] != kid:
        raise Invalid("signature key id %s differs from key_id %s" % (sig.split(":")[1], kid))
    return "signed by key %s (signature not checked here)" % sig.split(":")[1]


# ---- the three commands ----

def cmd_inclusion(doc):
    check_header(doc)
    size, index = field(doc, "tree_size", "size"), field(doc, "leaf_index", "size")
    entry = field(doc, "entry", None)
    claimed, path, root = field(doc, "leaf_hash", "hash"), field(doc, "path", "hashes"), field(doc, "root", "hash")
    leaf = leaf_hash(entry)
    if leaf != claimed:
        raise Invalid("leaf_hash is not the hash of the entry (recomputed %s)" % leaf.hex())
    if entry["seq"] != index + 1:
        raise Invalid("entry seq %r is not leaf_index + 1 = %d" % (entry["seq"], index + 1))
    cp = doc.get("checkpoint")
    if cp is not None:
        if field(cp, "tree_size", "size") != size or field(cp, "root", "hash") != root:
            raise Invalid("the checkpoint's tree_size/root differ from the proof's")
    if not verify_inclusion(index, size, leaf, path, root):
        raise Invalid("the path does not lead from the leaf to the root")
    note = "not tied to a checkpoint" if cp is None else "checkpoint at %s, %s" % (cp.get("time"), describe_signature(cp))
    return "entry seq %d is leaf %d of the tree of size %d with root %s (%s)" % (
        entry["seq"], index, size, root.hex(), note)


def cmd_consistency(doc):
    check_header(doc)
    m, n = field(doc, "first", "size"), field(doc, "second", "size")
    r1, r2 = field(doc, "first_root", "hash"), field(doc, "second_root", "hash")
    if not verify_consistency(m, n, r1, r2, field(doc, "proof", "hashes")):
        raise Invalid("the proof does not show tree %d (%s) is a prefix of tree %d (%s)" % (m, r1.hex(), n, r2.hex()))
    return "the tree of size %d (root %s) extends the tree of size %d (root %s)" % (n, r2.hex(), m, r1.hex())


def cmd_export(lines):
    leaves, checkpoints = [], []
    for lineno, raw in enumerate(lines, 1):
        if not raw.endswith(b"\n"):
            raise Invalid("line %d: no final newline (truncated export?)" % lineno)
        raw = raw[:-1]
        try:
            obj = parse_json(raw.decode("utf-8"))
            if isinstance(obj, dict) and obj.get("type") == "checkpoint":
                size, root = field(obj, "tree_size", "size"), field(obj, "root", "hash")
                checkpoints.append((size, root, lineno, describe_signature(obj)))
                continue
            h = leaf_hash(obj)
            if jcs(obj).encode("utf-8") != raw:
                raise Invalid("not the canonical (RFC 8785) bytes of its entry")
        except (UnicodeDecodeError, Invalid) as exc:
            raise Invalid("line %d: %s" % (lineno, exc)) from None
        if obj["seq"] != len(leaves) + 1:
            raise Invalid("line %d: seq %r where %d was due (an entry missing or out of order)"
                          % (lineno, obj["seq"], len(leaves) + 1))
        leaves.append(h)
    if not checkpoints:
        raise Invalid("no checkpoint lines: nothing to compare the log with")
    # One pass over the leaves, taking the root at each checkpoint's size.
    frontier, report = Frontier(), []
    for size, root, lineno, sig in sorted(checkpoints):
        if size > len(leaves):
            raise Invalid("line %d: checkpoint of size %d but the export has %d entries"
                          % (lineno, size, len(leaves)))
        while frontier.size < size:
            frontier.push(leaves[frontier.size])
        if frontier.root() != root:
            raise Invalid("line %d: checkpoint root %s, but the first %d entries give %s"
                          % (lineno, root.hex(), size, frontier.root().hex()))
        report.append("checkpoint %d: root %s, %s" % (size, root.hex(), sig))
    while frontier.size < len(leaves):
        frontier.push(leaves[frontier.size])
    report.append("%d entries, %d checkpoints; root of all entries %s"
                  % (len(leaves), len(checkpoints), frontier.root().hex()))
    return "\n  ".join(report)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("inclusion", "consistency", "export"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        with open(argv[2], "rb") as f:
            data = f.read()
    except OSError as exc:
        print("custody_verify: %s" % exc, file=sys.stderr)
        return 2
    try:
        if argv[1] == "export":
            msg = cmd_export(data.splitlines(keepends=True))
        else:
            try:
                doc = parse_json(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise Invalid("not UTF-8") from None
            msg = (cmd_inclusion if argv[1] == "inclusion" else cmd_consistency)(doc)
    except Invalid as exc:
        print("INVALID: %s" % exc)
        return 1
    print("VALID: %s" % msg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
