#!/usr/bin/env python3
"""The status page end to end in headless Chromium, driven over the DevTools
protocol (a websocket client written with the standard library only).

  e2e       (default) the mock portal with many invalid records, `custody run`
            with `serve:` on a free loopback port, then in the browser: load
            /, open the quarantine list, open an entry (which asks for the
            login), log in with the operator token, resolve the entry with an
            actor and a reason, and find the new status and the audit entry
            on the page it lands on; the store agrees. Screenshots (PNG) go to
            $CUSTODY_ARTIFACTS or ./artifacts.
  --selftest  the CDP client alone against a static file:// page with a form
            (navigate, evaluate, fill and submit, wait for the load, capture):
            runs without custody.

Exit 77 (skip) only when Chromium is not installed (Debian package
`chromium`). Every process started here is bounded in time and stopped.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import harness  # noqa: E402

SKIP = 77
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def log(msg):
    print("test_page: " + msg, flush=True)


# --------------------------------------------------------------- websocket

class WebSocket:
    """RFC 6455 client: text frames, masked as a client must; answers pings;
    reassembles fragmented messages. Enough for the DevTools protocol."""

    def __init__(self, host, port, path, timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        # No Origin header: Chromium refuses DevTools websockets whose Origin
        # it was not told to allow (--remote-allow-origins), not those without.
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket: connection closed during the handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise RuntimeError("websocket: handshake refused: " + lines[0])
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        accept = [ln.split(":", 1)[1].strip() for ln in lines[1:] if ln.lower().startswith("sec-websocket-accept:")]
        if accept != [want]:
            raise RuntimeError("websocket: bad Sec-WebSocket-Accept")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise RuntimeError("websocket: connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        """The next whole text message (str)."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            fin, opcode, masked, n = b0 & 0x80, b0 & 0x0F, b1 & 0x80, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if masked else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x9:  # ping
                self._send_frame(0xA, data)
                continue
            if opcode == 0xA:  # pong
                continue
            if opcode == 0x8:
                raise RuntimeError("websocket: closed by the browser")
            parts.append(data)
            if fin:
                return b"".join(parts).decode()

    def close(self):
        try:
            self._send_frame(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()


# --------------------------------------------------------------------- CDP

class Browser:
    """Headless Chromium with one page, attached in flat mode over the
    browser's websocket (the DevToolsActivePort file names it)."""

    def __init__(self, chromium, workdir, width=1280, height=900, timeout=60):
        self.profile = tempfile.mkdtemp(prefix="custody-chromium-", dir=workdir)
        args = [chromium, "--headless=new", "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
                "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-dev-shm-usage", "--disable-background-networking", "--disable-sync",
                "--metrics-recording-only", "--mute-audio", "--window-size=%d,%d" % (width, height)]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium will not start its sandbox as root (CI containers)
        args.append("about:blank")
        self.errlog = open(os.path.join(self.profile, "chromium.log"), "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.errlog, start_new_session=True)
        self.next_id = 0
        self.events = []
        self.ws = None
        portfile = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited with %d; its log: %s" % (self.proc.returncode, self.log_tail()))
            try:
                with open(portfile) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                    port, path = int(lines[0]), lines[1].strip()
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("chromium wrote no DevToolsActivePort within %d s" % timeout)
        self.ws = WebSocket("127.0.0.1", port, path, timeout=timeout)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def log_tail(self):
        try:
            with open(os.path.join(self.profile, "chromium.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def call(self, method, params=None, session=False, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)
        raise RuntimeError("%s: no answer in %d s" % (method, timeout))

    def wait_event(self, method, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method and m.get("sessionId") == self.session:
                    del self.events[:i + 1]
                    return m
            if time.time() > deadline:
                raise RuntimeError("no %s within %d s" % (method, timeout))
            self.events.append(json.loads(self.ws.recv()))

    def navigate(self, url):
        self.events.clear()
        r = self.call("Page.navigate", {"url": url}, session=True)
        if r.get("errorText"):
            raise RuntimeError("navigating to %s: %s" % (url, r["errorText"]))
        self.wait_event("Page.loadEventFired")

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True},
                      session=True)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluating %r: %s" % (expr, r["exceptionDetails"]))
        return r.get("result", {}).get("value")

    def submit(self, form_selector, fields):
        """Fill fields ({selector: value}) and submit the form as a person
        would (requestSubmit: the form's own validation runs), then wait for
        the page that answers."""
        script = "(() => {"
        for sel, value in fields.items():
            script += "document.querySelector(%s).value = %s;" % (json.dumps(sel), json.dumps(value))
        script += ("const f = document.querySelector(%s); if (!f) throw new Error('no form');"
                   "if (!f.checkValidity()) throw new Error('the form is not valid');"
                   "f.requestSubmit(); return true; })()" % json.dumps(form_selector))
        self.events.clear()
        self.eval(script)
        self.wait_event("Page.loadEventFired")

    def text(self):
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def location(self):
        return self.eval("location.pathname + location.search")

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)
        data = base64.b64decode(r["data"])
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise RuntimeError("the screenshot is not a PNG")
        with open(path, "wb") as f:
            f.write(data)
        log("screenshot: %s (%d bytes)" % (path, len(data)))

    def stop(self):
        if self.ws:
            try:
                self.call("Browser.close", timeout=5)
            except (RuntimeError, OSError, ValueError):
                pass
            self.ws.close()
            self.ws = None
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.errlog.close()


# ------------------------------------------------------------------ helpers

def find_chromium(explicit):
    for c in [explicit, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]:
        if c and shutil.which(c):
            return shutil.which(c)
    return None


def artifacts_dir():
    d = os.environ.get("CUSTODY_ARTIFACTS") or os.path.join(os.getcwd(), "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


STATIC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'self'; form-action 'self'">
<title>CDP self-test</title></head>
<body><main><h1>CDP self-test</h1>
<form method="get" action="">
<label for="r-actor">Your name</label><input id="r-actor" name="actor" required>
<label for="r-reason">Reason</label><textarea id="r-reason" name="reason" required></textarea>
<button type="submit">Resolve</button></form></main></body></html>
"""


def selftest(chromium):
    """The CDP client against a static file:// page (no custody needed)."""
    work = tempfile.mkdtemp(prefix="custody-cdp-")
    page = os.path.join(work, "form.html")
    with open(page, "w") as f:
        f.write(STATIC_PAGE)
    b = Browser(chromium, work)
    try:
        b.navigate("file://" + page)
        check(b.eval("document.title") == "CDP self-test", "the title")
        check(b.eval("document.querySelector('#r-actor').validity.valueMissing") is True, "required field")
        b.submit("form", {"#r-actor": "Ada <script>", "#r-reason": "checked & done"})
        loc = b.eval("location.search")
        check("actor=Ada+%3Cscript%3E" in loc and "reason=checked+%26+done" in loc, "the submitted query: %r" % loc)
        check("CDP self-test" in b.text(), "the page text after the submit")
        b.screenshot(os.path.join(artifacts_dir(), "ui-selftest.png"))
    finally:
        b.stop()
        shutil.rmtree(work, ignore_errors=True)
    log("selftest ok")


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def e2e(custody, chromium):
    work = tempfile.mkdtemp(prefix="custody-ui-")
    token = secrets.token_hex(24)
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    art = artifacts_dir()
    daemon = None
    browser = None
    with harness.Portal("--fsma-events", "200", "--invalid-ratio", "0.3") as portal:
        try:
            cfg = harness.fsma_config(portal.url, limit=50)
            cfg += ("\nrun: { startup_jitter: 0s }\n"
                    "serve: { listen: 127.0.0.1:%d, token_env: CUSTODY_UI_TOKEN }\n" % port)
            cfg_path = os.path.join(work, "custody.yaml")
            with open(cfg_path, "w") as f:
                f.write(cfg)
            env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, CUSTODY_UI_TOKEN=token, NO_COLOR="1")
            env.pop("CUSTODY_CONFIG", None)
            log_path = os.path.join(work, "daemon.log")
            logf = open(log_path, "w")
            daemon = subprocess.Popen([custody, "run", "-c", cfg_path, "--for", "60s"], cwd=work, env=env,
                                      stdout=subprocess.DEVNULL, stderr=logf)

            def polled():
                if daemon.poll() is not None:
                    with open(log_path) as f:
                        raise AssertionError("custody run exited %d: %s" % (daemon.returncode, f.read()[-3000:]))
                with open(log_path) as f:
                    for ln in f:
                        try:
                            if json.loads(ln).get("event") == "poll.end":
                                return True
                        except ValueError:
                            pass
                return False

            wait_for(polled, 45, "a poll.end in the daemon's log")

            def serving():
                try:
                    with urllib.request.urlopen(base + "/", timeout=2) as r:
                        return r.status == 200
                except OSError:
                    return False

            wait_for(serving, 15, "the status page on " + base)

            browser = Browser(chromium, work)
            # the status page
            browser.navigate(base + "/")
            text = browser.text()
            check("supplier_8842" in text, "the source on the status page")
            check(browser.eval("document.querySelector('svg.spark, .muted') !== null"), "a sparkline or its note")
            browser.screenshot(os.path.join(art, "ui-status.png"))
            # the quarantine list, through the link on the page
            href = browser.eval("document.querySelector('a[href=\"/quarantine\"]').getAttribute('href')")
            browser.navigate(base + href)
            check(browser.location().startswith("/quarantine"), "on the quarantine list")
            entry = browser.eval("(document.querySelector('main a[href^=\"/quarantine/\"]') || {}).pathname || null")
            check(entry, "an open entry in the list: " + browser.text()[:500])
            # an entry asks for the login first
            browser.navigate(base + entry)
            check(browser.location().startswith("/login"), "sent to the login: " + browser.location())
            browser.submit("form[action=\"/login\"]", {"#token": token})
            check(browser.location() == entry, "back on the entry after the login: " + browser.location())
            text = browser.text()
            check("Raw payload as received" in text and "Errors" in text, "payload and errors side by side")
            # resolve it
            actor, reason = "UI test <ada>", "checked in the browser & confirmed \"bad\" upstream"
            browser.submit("form[action$=\"/resolve\"]", {"#r-actor": actor, "#r-reason": reason})
            loc = browser.location()
            check(loc == entry + "?done=resolved", "the entry page after resolving: " + loc)
            text = browser.text()
            check("resolved" in text, "the new status")
            check("quarantine.resolve (just written)" in text, "the audit entry just written: " + text[-1500:])
            check(actor in text, "the actor on the page")
            browser.screenshot(os.path.join(art, "ui-resolved.png"))
        finally:
            if browser:
                browser.stop()
            if daemon and daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
    # the store agrees
    qid = int(entry.rsplit("/", 1)[1])
    con = sqlite3.connect(os.path.join(work, "custody.db"))
    try:
        status = con.execute("SELECT status FROM quarantine WHERE id=?", (qid,)).fetchone()[0]
        rows = con.execute("SELECT actor, detail FROM audit WHERE action='quarantine.resolve'").fetchall()
    finally:
        con.close()
    check(status == "resolved", "quarantine %d is %s" % (qid, status))
    check(any(a == actor and json.loads(d) == {"quarantine_id": qid, "reason": reason} for a, d in rows),
          "the audit entry with the actor and the reason: %r" % rows)
    code = subprocess.run([custody, "audit", "verify", "-c", os.path.join(work, "custody.yaml")], cwd=work,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                          env=dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN)).returncode
    check(code == 0, "custody audit verify exits 0 after the UI's actions (got %d)" % code)
    shutil.rmtree(work, ignore_errors=True)
    log("e2e ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--custody", help="the custody binary (for the end-to-end run)")
    ap.add_argument("--chromium", help="the Chromium binary (default: chromium on PATH)")
    ap.add_argument("--selftest", action="store_true", help="only the CDP client against a file:// page")
    a = ap.parse_args()
    chromium = find_chromium(a.chromium)
    if not chromium:
        log("skipped: Chromium is not installed (apt-get install chromium)")
        return SKIP
    if a.selftest:
        selftest(chromium)
        return 0
    if not a.custody:
        ap.error("--custody is required (or --selftest)")
    e2e(os.path.abspath(a.custody), chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
