"""Shared helpers for custody's end-to-end tests (stdlib only): start the
mock portal on a free loopback port, write a config, run the custody CLI,
read the SQLite store. Every process started here is bounded in time."""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORTAL = os.path.join(ROOT, "tests", "mockportal", "portal.py")
TOKEN = "demo-token"


class Portal:
    """The mock portal as a subprocess on 127.0.0.1:<free port>."""

    def __init__(self, *args, max_seconds=600):
        self.dir = tempfile.mkdtemp(prefix="custody-portal-")
        portfile = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen(
            [sys.executable, PORTAL, "--port", "0", "--port-file", portfile, "--quiet",
             "--max-seconds", str(max_seconds), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(portfile) and os.path.getsize(portfile) > 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("portal exited: " + self.proc.stderr.read().decode())
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("portal did not start within 30 s")
        with open(portfile) as f:
            self.port = int(f.read().strip())
        self.url = "http://127.0.0.1:%d" % self.port

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode() or "null")

    def dataset(self, name="fsma"):
        return self.control("/_control/dataset?name=" + name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def records_of(ds):
    """The record list of a /_control/dataset answer, whatever its wrapping."""
    if isinstance(ds, dict):
        for k in ("records", "data", "items"):
            if k in ds:
                return ds[k]
    return ds


def is_invalid(rec):
    for k in ("invalid", "_invalid", "is_invalid"):
        if k in rec:
            return bool(rec[k])
    return False


class Custody:
    """Runs the custody binary against a config in a scratch directory."""

    def __init__(self, binary, workdir, env=None):
        self.binary = os.path.abspath(binary)
        self.workdir = workdir
        self.env = dict(os.environ)
        self.env.pop("CUSTODY_CONFIG", None)
        self.env["NO_COLOR"] = "1"
        self.env.update(env or {})

    def run(self, *args, timeout=300, check=None):
        p = subprocess.run([self.binary, *args], cwd=self.workdir, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        out, err = p.stdout.decode(), p.stderr.decode()
        if check is not None and p.returncode != check:
            raise AssertionError("custody %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(args), p.returncode, check, out, err))
        return p.returncode, out, err

    def db(self, name="custody.db"):
        return sqlite3.connect(os.path.join(self.workdir, name))


# The demo's FSMA 204 contract as a config fragment (tests that write their
# own sources append it).
KDE_CONTRACT = """
contracts:
  kde:
    key: [traceability_lot_code, event_type, event_timestamp]
    fields:
      traceability_lot_code:   { type: string, required: true, min_length: 1, max_length: 64 }
      product_description:     { type: string, required: true, min_length: 1 }
      quantity:                { type: number, required: true, gt: 0 }
      unit_of_measure:         { type: enum, required: true, values: [kg, lb, ea, case, pallet, liter, gallon] }
      origin_location_id:      { type: string, required: true, min_length: 1 }
      destination_location_id: { type: string, required: true, min_length: 1 }
      event_timestamp:         { type: datetime, required: true, normalize: utc }
      event_type:              { type: enum, required: true, values: [harvest, cooling, packing, shipping, receiving, transformation] }
      supplier_id:             { type: string, required: true, pattern: "^SUP-[0-9]+$" }
      updated_at:              { type: datetime, normalize: utc }
"""


def fsma_config(portal_url, extra_source="", commit_pages=20, limit=100, store="custody.db"):
    with open(os.path.join(ROOT, "examples", "fsma204.yaml")) as f:
        text = f.read()
    text = text.replace("${DEMO_PORTAL_URL:-http://127.0.0.1:8642}", portal_url)
    text = text.replace("${CUSTODY_STORE:-custody.db}", store)
    text = text.replace("limit: 500", "limit: %d" % limit)
    text = text.replace("commit_pages: 20", "commit_pages: %d%s" % (commit_pages, extra_source))
    return text


def replace_store_line(text, store):
    """text with its top-level `store:` line (the whole line, comment and
    all) replaced by `store: <store>`; returns (new text, lines replaced).
    A config without one is returned unchanged with 0, so line numbers in
    error messages stay as the case wrote them."""
    return re.subn(r"(?m)^store:.*$", lambda m: "store: " + store, text)


def store_snapshot(path):
    """What must be identical between a crash-free run and a crashed and
    restarted one: records, quarantine evidence, cursors."""
    con = sqlite3.connect(path)
    try:
        recs = con.execute("SELECT source, key, version, content_hash, canonical, raw_hash FROM records "
                           "ORDER BY source, key, version").fetchall()
        quar = con.execute("SELECT source, recon_key, raw, errors, status FROM quarantine "
                           "ORDER BY source, recon_key").fetchall()
        curs = con.execute("SELECT name, cursor FROM sources ORDER BY name").fetchall()
    finally:
        con.close()
    return {"records": recs, "quarantine": quar, "cursors": curs}
