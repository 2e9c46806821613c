#!/usr/bin/env python3
"""docs/configuration.md is generated from the option table; fail when it
has drifted from what `custody check --reference` prints now, and check that
`custody --help` names every command the README's quick start uses."""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    a = ap.parse_args()
    failed = 0
    ref = subprocess.run([a.custody, "check", "--reference"], capture_output=True, text=True, timeout=60)
    if ref.returncode != 0:
        print("custody check --reference failed (%d): %s" % (ref.returncode, ref.stderr))
        return 1
    with open(os.path.join(ROOT, "docs", "configuration.md"), encoding="utf-8") as f:
        doc = f.read()
    if doc != ref.stdout:
        print("docs/configuration.md is stale: regenerate it with\n"
              "  build/custody check --reference > docs/configuration.md")
        failed += 1
    helptext = subprocess.run([a.custody, "--help"], capture_output=True, text=True, timeout=60).stdout
    for cmd in ("check", "poll", "records", "quarantine", "audit"):
        if "\n  %s " % cmd not in helptext:
            print("custody --help does not list the %s command" % cmd)
            failed += 1
    print("docs_current: %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
