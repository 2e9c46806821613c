#!/usr/bin/env python3
"""`make install` like a system tool: PREFIX and DESTDIR honoured; the binary,
custody(1) generated from the command and option tables, bash completion,
examples (systemd units included) and docs land where packagers expect;
`make uninstall` takes them away again. Uses the build directory the tested
binary lives in (no second build)."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    a = ap.parse_args()
    custody = os.path.abspath(a.custody)
    build = os.path.dirname(custody)
    dest = tempfile.mkdtemp(prefix="custody-install-")
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL " + what)

    try:
        prefix = "/opt/custody"
        code, out, err = run(["make", "-C", ROOT, "install", "BUILD=" + build, "PREFIX=" + prefix,
                              "DESTDIR=" + dest])
        check(code == 0, "make install exits 0: %s%s" % (out[-2000:], err[-2000:]))
        root = dest + prefix
        binp = os.path.join(root, "bin", "custody")
        man = os.path.join(root, "share", "man", "man1", "custody.1")
        comp = os.path.join(root, "share", "bash-completion", "completions", "custody")
        for p in (binp, man, comp,
                  os.path.join(root, "share", "custody", "examples", "systemd", "custody.service"),
                  os.path.join(root, "share", "custody", "examples", "systemd", "custody-poll.timer"),
                  os.path.join(root, "share", "custody", "examples", "fsma204.yaml"),
                  os.path.join(root, "share", "doc", "custody", "operations.md"),
                  os.path.join(root, "share", "doc", "custody", "configuration.md")):
            check(os.path.exists(p), "installed: %s" % os.path.relpath(p, dest))
        check(not os.path.exists(os.path.join(ROOT, prefix.lstrip("/"))), "nothing written outside DESTDIR")
        if os.path.exists(binp):
            code, out, _ = run([binp, "--version"])
            check(code == 0 and out.startswith("custody "), "the installed binary runs")
        if os.path.exists(man):
            text = open(man).read()
            check(text.startswith(".TH CUSTODY 1"), "custody.1 is a man page")
            code, helptext, _ = run([custody, "--help"])
            cmds = re.findall(r"^  ([a-z]+) ", helptext, re.M)
            check(len(cmds) >= 10, "the help lists the commands")
            for c in cmds:
                check(".B custody " + c in text, "custody(1) documents the command %s" % c)
            code, ref, _ = run([custody, "check", "--reference"])
            opts = re.findall(r"^\| `([a-z_]+)` \|", ref, re.M)
            check(len(opts) > 100, "the reference lists the options")
            for o in set(opts):
                check((".B " + o.replace("-", "\\-") + "\n") in text,
                      "custody(1) documents the option %s (same table as the reference)" % o)
            if shutil.which("groff"):
                code, _, gerr = run(["groff", "-man", "-Tutf8", "-ww", "-z", man])
                check(code == 0 and not gerr.strip(), "groff reads custody(1) without warnings: %s" % gerr[:500])
        if os.path.exists(comp):
            code, _, err = run(["bash", "-n", comp])
            check(code == 0, "the completion script parses: %s" % err)
            cfg = os.path.join(dest, "c.yaml")
            with open(cfg, "w") as f:
                f.write("sources:\n  - name: supplier_8842\n    request: {}\n  - name: \"grants.portal\"\n")
            script = ('source %s\n'
                      'COMP_WORDS=(custody qu); COMP_CWORD=1; _custody; echo "1:${COMPREPLY[*]}"\n'
                      'COMP_WORDS=(custody poll -c %s ""); COMP_CWORD=4; _custody; echo "2:${COMPREPLY[*]}"\n'
                      'COMP_WORDS=(custody audit v); COMP_CWORD=2; _custody; echo "3:${COMPREPLY[*]}"\n'
                      'COMP_WORDS=(custody run --log ""); COMP_CWORD=3; _custody; echo "4:${COMPREPLY[*]}"\n'
                      % (comp, cfg))
            code, out, err = run(["bash", "-c", script])
            lines = dict(ln.split(":", 1) for ln in out.splitlines() if ":" in ln)
            check(lines.get("1") == "quarantine", "completes a command: %r %s" % (lines.get("1"), err))
            check("supplier_8842" in lines.get("2", "").split() and "grants.portal" in lines.get("2", "").split(),
                  "completes source names from the config: %r" % lines.get("2"))
            check(lines.get("3") == "verify", "completes a subcommand: %r" % lines.get("3"))
            check(lines.get("4") == "json text", "completes an option value: %r" % lines.get("4"))
        code, out, err = run(["make", "-C", ROOT, "uninstall", "BUILD=" + build, "DESTDIR=" + dest])
        check(code == 0, "make uninstall exits 0: %s" % err[-1000:])
        left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs if not f.endswith(".yaml")]
        check(not left, "uninstall removes every installed file: %s" % left[:5])
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    print("install: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
