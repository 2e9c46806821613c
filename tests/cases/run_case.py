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
"""
import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402


def truth(portal, dataset):
    recs = harness.records_of(portal.dataset(dataset))
    invalid = sum(1 for r in recs if harness.is_invalid(r))
    return {"total": len(recs), "invalid": invalid, "valid": len(recs) - invalid}


def resolve(v, t):
    return t[v] if isinstance(v, str) and v in t else v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    ap.add_argument("case")
    a = ap.parse_args()
    with open(os.path.join(a.case, "case.json")) as f:
        case = json.load(f)
    work = tempfile.mkdtemp(prefix="custody-case-")
    dataset = case.get("dataset", "fsma")
    try:
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
                elif "exists" in step:
                    if os.path.exists(os.path.join(work, step["exists"])) != step.get("present", True):
                        raise AssertionError("%s: %s should%s exist" % (where, step["exists"],
                                                                        "" if step.get("present", True) else " not"))
                elif "config_text" in step:
                    with open(cfg, "w") as f:
                        f.write(step["config_text"].replace("{URL}", portal.url))
                else:
                    raise AssertionError("%s: unknown step kind %r" % (where, step))
        print("%s: 1 passed, 0 failed" % os.path.basename(a.case))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL: %s" % e)
        sys.exit(1)
