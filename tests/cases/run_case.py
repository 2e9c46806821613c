#!/usr/bin/env python3
"""Runs one data-driven end-to-end case: a directory holding case.json
(portal arguments and steps) and optionally config.yaml (a template; default
examples/fsma204.yaml). Steps run in order; the first failed expectation
fails the case with a message naming the step.

Step kinds (keys of one step object):
  run: [args...]            custody CLI; -c config.yaml is added
      exit: N               expected exit code (default 0)
      summary: {field: v}   fields of `poll --json` for the first source;
                            v is a number or "valid"/"invalid"/"total" (ground
                            truth from the portal's /_control/dataset)
      stdout_has / stderr_has / stderr_lacks: [strings]
      env: {VAR: value|null}  environment changes for this run (null unsets)
  control: PATH, body: {...} POST to the portal's control interface
  sql: QUERY, rows: [[...]] | count: N | count_of: "valid"|"invalid"|"total"
      error_has: TEXT       the statement must fail with TEXT in the error
  tamper: SQL               run SQL on the store with custody's triggers dropped
                            (an attacker with the sqlite3 shell)
  config_text: TEXT         replace config.yaml with TEXT ({URL} -> portal URL)
  write_file: PATH, text: T write T to PATH in the case's work directory
  exists: PATH [present: false]  PATH in the work directory must (not) exist

--store pg runs the same case against a throwaway PostgreSQL server
(tests/lib/pgserver.py; exit 77 = skipped when PostgreSQL cannot run here),
one fresh database per case, with the same expectations. What differs:
  - the config's top-level `store:` line (template, config.yaml or a
    config_text step) becomes the database's postgresql:// URI; a config
    without one is left as written (0009's config-error steps: adding a line
    would move the file:line the case checks, and they never open a store);
  - sql steps are translated from SQLite's dialect by sqlite_to_pg() (one
    rule per construct, each commented) and run with psql; values come back
    as text and are compared as numbers only where the case expects a number
    (pg_value), so the text-vs-number distinction is checked on SQLite only;
  - error_has must appear in psql's stderr (the triggers raise the same
    messages as SQLite's);
  - tamper runs in one transaction with session_replication_role = replica
    (PostgreSQL's "triggers off" for a superuser: the attacker with psql)
    instead of dropping the triggers;
  - steps tied to the SQLite file itself are skipped with a printed reason:
    `exists` of custody.db or its -wal/-shm/-journal files (no case has one
    today). No other step kind touches the store file: `write_file` and the
    other `exists` paths are drop directories and export files.
"""
import argparse
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import pgserver  # noqa: E402


def truth(portal, dataset):
    recs = harness.records_of(portal.dataset(dataset))
    invalid = sum(1 for r in recs if harness.is_invalid(r))
    return {"total": len(recs), "invalid": invalid, "valid": len(recs) - invalid}


def resolve(v, t):
    return t[v] if isinstance(v, str) and v in t else v


# ---- PostgreSQL ------------------------------------------------------------

_LIT = re.compile(r"'(?:[^']|'')*'")   # an SQL string literal ('' escapes a quote)
_SLOT = r"\x00(\d+)\x00"             # where a stashed literal stood
_KEYWORDS = {"where", "group", "order", "limit", "offset", "join", "inner", "left", "right", "full",
             "cross", "on", "union", "except", "intersect", "having", "window", "natural", "using"}

# Test scaffolding created in the case's database before the first sql or
# tamper step: SQLite's json_valid() has no PostgreSQL twin. A schema of its
# own keeps it out of custody's tables and functions.
PG_HELPERS = r"""
CREATE SCHEMA IF NOT EXISTS custody_e2e;
CREATE OR REPLACE FUNCTION custody_e2e.json_valid(t text) RETURNS integer
  LANGUAGE plpgsql IMMUTABLE STRICT AS $$
  BEGIN PERFORM t::json; RETURN 1; EXCEPTION WHEN others THEN RETURN 0; END $$;
CREATE OR REPLACE FUNCTION custody_e2e.json_valid(b bytea) RETURNS integer
  LANGUAGE plpgsql IMMUTABLE STRICT AS $$
  BEGIN PERFORM convert_from(b, 'UTF8')::json; RETURN 1; EXCEPTION WHEN others THEN RETURN 0; END $$;
"""


def _json_path(path):
    """SQLite's '$.a.b[0]' as PostgreSQL's text[] path {"a","b","0"}."""
    if not path.startswith("$"):
        raise ValueError("JSON path %r does not start with $" % path)
    parts = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", path[1:])
    if "".join("." + k if k else "[%s]" % i for k, i in parts) != path[1:]:
        raise ValueError("JSON path %r not supported by the translation" % path)
    return "{%s}" % ",".join('"%s"' % (k or i) for k, i in parts)


def _glob_regex(pat):
    """A GLOB pattern as an anchored PostgreSQL regex: * -> .*, ? -> .,
    [..] and [^..] stay classes (a ] first in one is literal, as in GLOB),
    everything else literal. Case-sensitive, as GLOB is."""
    out, i = [], 0
    while i < len(pat):
        c = pat[i]
        k = -1
        if c == "[":
            j = i + 1 + (pat[i + 1:i + 2] == "^")
            j += pat[j:j + 1] == "]"
            k = pat.find("]", j)
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif k > 0:
            out.append("[" + pat[i + 1:k].replace("\\", "\\\\") + "]")
            i = k
        else:
            out.append("\\" + c if c in "\\.^$|?*+()[]{}" else c)
        i += 1
    return "^" + "".join(out) + "$"


def sqlite_to_pg(sql):
    """The case's SQLite SELECT/UPDATE/DELETE in PostgreSQL's dialect against
    the PG store's schema (same tables and columns; quarantine.raw is BYTEA,
    the raw bytes as received). Raises ValueError when a SQLite-only
    construct is left that no rule covers, rather than sending it to fail
    (or worse, mean something else) in PostgreSQL."""
    lits = []

    def stash(m):
        lits.append(m.group(0))
        return "\x00%d\x00" % (len(lits) - 1)

    def lit(m, g=1):           # the text of a stashed literal, unquoted
        return lits[int(m.group(g))][1:-1].replace("''", "'")

    def put(text):             # a new literal, stashed like the others
        lits.append("'" + text.replace("'", "''") + "'")
        return "\x00%d\x00" % (len(lits) - 1)

    s = _LIT.sub(stash, sql)   # rules below never look inside literals

    # R1: json_each(X) A  ->  jsonb_array_elements(<X as jsonb>) AS A(value).
    # Every case iterates an array (quarantine.errors); A.value is then jsonb.
    # (json_each of an object, which iterates keys, is not translated.)
    elems = set()

    def each(m):
        alias, after = m.group(2), ""
        if alias.lower() in _KEYWORDS:     # no alias: SQLite names it json_each
            alias, after = "json_each", " " + alias
        elems.add(alias.lower())
        return "jsonb_array_elements(%s) AS %s(value)%s" % (as_jsonb(m.group(1)), alias, after)

    # <X as jsonb>: raw is BYTEA -> convert_from(X,'UTF8')::jsonb (a raw
    # body that is not UTF-8 or not JSON raises, as json_extract does on
    # SQLite); A.value of R1 is already jsonb; any other column is TEXT -> X::jsonb.
    def as_jsonb(x):
        col = x.split(".")[-1].lower()
        if col == "raw":
            return "convert_from(%s, 'UTF8')::jsonb" % x
        if col == "value" and elems and ("." not in x or x.split(".")[0].lower() in elems):
            return x
        return "%s::jsonb" % x

    s = re.sub(r"\bjson_each\s*\(\s*([\w.]+)\s*\)\s+(?:AS\s+)?(\w+)", each, s, flags=re.I)
    # R2: json_extract(X,'$.a.b[0]') -> (<X as jsonb> #>> '{"a","b","0"}'):
    # the scalar as text, JSON null or a missing member as SQL NULL (as in
    # SQLite). Numbers come back as text ('-666000'); see pg_value.
    s = re.sub(r"\bjson_extract\s*\(\s*([\w.]+)\s*,\s*" + _SLOT + r"\s*\)",
               lambda m: "(%s #>> %s)" % (as_jsonb(m.group(1)), put(_json_path(lit(m, 2)))), s, flags=re.I)
    # R3: json_array_length(X) -> jsonb_array_length(<X as jsonb>).
    s = re.sub(r"\bjson_array_length\s*\(\s*([\w.]+)\s*\)",
               lambda m: "jsonb_array_length(%s)" % as_jsonb(m.group(1)), s, flags=re.I)
    # R4: json_valid(X) -> custody_e2e.json_valid(X): 1/0 like SQLite's,
    # plpgsql catching the cast's error (PG_HELPERS; bytea decoded as UTF-8).
    s = re.sub(r"\bjson_valid\s*\(", "custody_e2e.json_valid(", s, flags=re.I)
    # R5: X [NOT] GLOB 'pat' -> X !~ / ~ '^regex$' (_glob_regex).
    s = re.sub(r"\b(NOT\s+)?GLOB\s+" + _SLOT,
               lambda m: ("!~ " if m.group(1) else "~ ") + put(_glob_regex(lit(m, 2))), s, flags=re.I)
    # R6: X [NOT] LIKE 'pat' -> X [NOT] ILIKE 'pat': SQLite's LIKE ignores
    # ASCII case, so does ILIKE in the C-locale database pgserver creates;
    # SQLite has no LIKE escape character, PostgreSQL's default is
    # backslash: ESCAPE '' where the pattern holds one.
    s = re.sub(r"\bLIKE\s+" + _SLOT,
               lambda m: "ILIKE %s%s" % (lits[int(m.group(1))], " ESCAPE ''" if "\\" in lit(m) else ""),
               s, flags=re.I)
    # R7: FROM (subquery) without an alias -> FROM (subquery) AS sub_N:
    # PostgreSQL 15 requires one.
    out, i, n = [], 0, 0
    for m in re.finditer(r"\bFROM\s*\(", s, flags=re.I):
        if m.start() < i:
            continue
        depth, j = 0, m.end() - 1
        while j < len(s):
            depth += {"(": 1, ")": -1}.get(s[j], 0)
            if depth == 0:
                break
            j += 1
        nxt = re.match(r"\s*(\w+)", s[j + 1:])
        out.append(s[i:j + 1])
        if not nxt or nxt.group(1).lower() in _KEYWORDS:
            n += 1
            out.append(" AS sub_%d" % n)
        i = j + 1
    s = "".join(out) + s[i:]
    # R8: `count(...) >= 4` and other boolean results print as t/f;
    # pg_value maps them to 1/0 where the case expects a number.
    # Anything SQLite-only still here has no rule: refuse it, naming it.
    left = re.search(r"(?<!AS )\b(json_\w+|ifnull|printf|typeof|instr|unicode|char)\s*\("
                     r"|\b(GLOB|REGEXP|rowid|sqlite_\w+)\b", s.replace("custody_e2e.json_valid(", ""), re.I)
    if left:
        raise ValueError("no translation rule for %r in %s" % (left.group(1) or left.group(2), sql))
    return re.sub(_SLOT, lambda m: lits[int(m.group(1))], s)


def pg_value(v, like):
    """psql's text v as the type the case expects (like): 't'/'f' and
    integers -> int where an int is expected, floats where a float is;
    anything else stays text (None stays None)."""
    if v is None or isinstance(like, str) or like is None:
        return v
    if isinstance(like, bool) or isinstance(like, int):
        if v in ("t", "true"):
            return 1
        if v in ("f", "false"):
            return 0
        if re.fullmatch(r"-?\d+", v):
            return int(v)
    if isinstance(like, float):
        try:
            return float(v)
        except ValueError:
            pass
    return v


def pg_rows(rows, want):
    """rows with each value typed like the corresponding expected one
    (left as text when the shapes differ: the mismatch is then reported)."""
    if len(rows) != len(want) or any(len(r) != len(w) for r, w in zip(rows, want)):
        return rows
    return [[pg_value(v, w) for v, w in zip(r, wr)] for r, wr in zip(rows, want)]


SQLITE_FILES = re.compile(r"(^|/)custody\.db(-wal|-shm|-journal)?$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("--store", choices=("sqlite", "pg"), default="sqlite",
                    help="the store backend the case runs against (pg: a throwaway PostgreSQL)")
    ap.add_argument("case")
    a = ap.parse_args()
    with open(os.path.join(a.case, "case.json")) as f:
        case = json.load(f)
    work = tempfile.mkdtemp(prefix="custody-case-")
    dataset = case.get("dataset", "fsma")
    pg = pgdb = pguri = None
    name = os.path.basename(os.path.normpath(a.case))
    try:
        if a.store == "pg":
            try:
                pg = pgserver.PgServer().start()
            except pgserver.Unavailable as e:
                print("%s [postgresql]: skipped: %s" % (name, e))
                sys.exit(pgserver.SKIP)
            pgdb = re.sub(r"[^a-z0-9_]", "_", "case_" + name.lower())[:63]
            pguri = pg.create_database(pgdb)
            helpers = []    # PG_HELPERS created once, before the first sql or tamper step

        def pg_config(text, where):
            if pg is None:
                return text
            text, n = harness.replace_store_line(text, pguri)
            if n == 0:
                print("%s: note: config has no store: line; left as written (custody's default store)" % where)
            return text

        def pg_run(sql, where, script=False):
            if not helpers:
                pg.query(pgdb, PG_HELPERS, script=True)
                helpers.append(True)
            try:
                q = sqlite_to_pg(sql)
            except ValueError as ex:
                raise AssertionError("%s: %s" % (where, ex))
            if script:
                q = "SET session_replication_role = replica;\n" + q
            code, out, err = pg.psql(pgdb, q, script=script)
            return q, code, pgserver.parse_rows(out) if code == 0 else None, err

        with harness.Portal(*case.get("portal_args", [])) as portal:
            tpl = os.path.join(a.case, "config.yaml")
            if os.path.exists(tpl):
                with open(tpl) as f:
                    text = f.read().replace("{URL}", portal.url)
            else:
                text = harness.fsma_config(portal.url, commit_pages=case.get("commit_pages", 20),
                                           extra_source=case.get("source_yaml", ""),
                                           limit=case.get("limit", 100))
            cfg = os.path.join(work, "config.yaml")
            text = pg_config(text, "%s config" % name)
            with open(cfg, "w") as f:
                f.write(text)
            cli = harness.Custody(a.custody, work, {"SUPPLIER_API_KEY": harness.TOKEN})
            for i, step in enumerate(case["steps"], 1):
                where = "%s step %d (%s)" % (os.path.basename(a.case), i, step.get("why", ""))
                t = None
                if "run" in step:
                    env = dict(cli.env)
                    for k, v in step.get("env", {}).items():
                        if v is None:
                            env.pop(k, None)
                        else:
                            env[k] = v.replace("{URL}", portal.url)
                    saved, cli.env = cli.env, env
                    args = list(step["run"])
                    args[1:1] = ["-c", cfg]
                    code, out, err = cli.run(*args)
                    cli.env = saved
                    want = step.get("exit", 0)
                    if code != want:
                        raise AssertionError("%s: custody %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                                             % (where, " ".join(step["run"]), code, want, out, err))
                    for s in step.get("stdout_has", []):
                        if s.replace("{URL}", portal.url) not in out:
                            raise AssertionError("%s: stdout lacks %r:\n%s" % (where, s, out))
                    for s in step.get("stderr_has", []):
                        if s.replace("{URL}", portal.url) not in err:
                            raise AssertionError("%s: stderr lacks %r:\n%s" % (where, s, err))
                    for s in step.get("stderr_lacks", []) + step.get("output_lacks", []):
                        if s in err or s in out:
                            raise AssertionError("%s: output shows %r:\n%s\n%s" % (where, s, out, err))
                    if "summary" in step:
                        t = truth(portal, dataset)
                        got = json.loads(out)["sources"][0]
                        for k, v in step["summary"].items():
                            if got.get(k) != resolve(v, t):
                                raise AssertionError("%s: summary %s = %r, expected %r (truth %s)\n%s"
                                                     % (where, k, got.get(k), resolve(v, t), t, out))
                elif "control" in step:
                    portal.control(step["control"], step.get("body", {}))
                elif "sql" in step and pg is not None:
                    q, code, rows, err = pg_run(step["sql"], where)
                    if code != 0:
                        if "error_has" in step and step["error_has"] in err:
                            continue
                        raise AssertionError("%s: %s failed (PostgreSQL: %s): %s"
                                             % (where, step["sql"], q, err.strip()))
                    if "error_has" in step:
                        raise AssertionError("%s: %s succeeded (PostgreSQL: %s); expected an error with %r"
                                             % (where, step["sql"], q, step["error_has"]))
                    if "rows" in step and pg_rows(rows, step["rows"]) != step["rows"]:
                        raise AssertionError("%s: %s gave %r, expected %r (PostgreSQL: %s)"
                                             % (where, step["sql"], pg_rows(rows, step["rows"]), step["rows"], q))
                    if "count" in step or "count_of" in step:
                        want = step.get("count")
                        if "count_of" in step:
                            want = truth(portal, dataset)[step["count_of"]] + step.get("plus", 0)
                        got = pg_value(rows[0][0], want) if rows and rows[0] else None
                        if got != want:
                            raise AssertionError("%s: %s gave %r, expected %r (PostgreSQL: %s)"
                                                 % (where, step["sql"], got, want, q))
                elif "sql" in step:
                    con = cli.db()
                    try:
                        rows = [list(r) for r in con.execute(step["sql"]).fetchall()]
                        con.commit()
                    except sqlite3.DatabaseError as ex:
                        if "error_has" in step and step["error_has"] in str(ex):
                            continue
                        raise AssertionError("%s: %s failed: %s" % (where, step["sql"], ex))
                    finally:
                        con.close()
                    if "error_has" in step:
                        raise AssertionError("%s: %s succeeded; expected an error with %r"
                                             % (where, step["sql"], step["error_has"]))
                    if "rows" in step and rows != step["rows"]:
                        raise AssertionError("%s: %s gave %r, expected %r" % (where, step["sql"], rows, step["rows"]))
                    if "count" in step or "count_of" in step:
                        want = step.get("count")
                        if "count_of" in step:
                            want = truth(portal, dataset)[step["count_of"]] + step.get("plus", 0)
                        if rows[0][0] != want:
                            raise AssertionError("%s: %s gave %r, expected %r" % (where, step["sql"], rows[0][0], want))
                elif "tamper" in step and pg is not None:
                    q, code, rows, err = pg_run(step["tamper"], where, script=True)
                    if code != 0:
                        raise AssertionError("%s: tamper %s failed (PostgreSQL: %s): %s"
                                             % (where, step["tamper"], q, err.strip()))
                elif "tamper" in step:
                    con = cli.db()
                    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
                        con.execute('DROP TRIGGER "%s"' % name)
                    con.executescript(step["tamper"])
                    con.commit()
                    con.close()
                elif "write_file" in step:
                    path = os.path.join(work, step["write_file"])
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w", encoding="utf-8", newline="") as f:
                        f.write(step["text"])
                elif "exists" in step and pg is not None and SQLITE_FILES.search(step["exists"]):
                    print("%s: skipped on PostgreSQL: %s is the SQLite store's file" % (where, step["exists"]))
                elif "exists" in step:
                    if os.path.exists(os.path.join(work, step["exists"])) != step.get("present", True):
                        raise AssertionError("%s: %s should%s exist" % (where, step["exists"],
                                                                        "" if step.get("present", True) else " not"))
                elif "config_text" in step:
                    with open(cfg, "w") as f:
                        f.write(pg_config(step["config_text"].replace("{URL}", portal.url), where))
                else:
                    raise AssertionError("%s: unknown step kind %r" % (where, step))
        print("%s: 1 passed, 0 failed" % (os.path.basename(a.case) if pg is None else name + " [postgresql]"))
    except AssertionError as e:
        if pg is None:
            raise
        raise AssertionError("%s [postgresql]\n--- PostgreSQL server log (tail) ---\n%s"
                             % (e, pg.log_tail(3000))) from None
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL: %s" % e)
        sys.exit(1)
