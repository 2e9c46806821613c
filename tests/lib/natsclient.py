"""A minimal NATS client for custody's tests (stdlib only): the text
protocol (INFO, CONNECT, PING/PONG, SUB, UNSUB, PUB, MSG, HMSG) and the
JetStream API requests the tests need to read what landed in a stream
($JS.API.STREAM.INFO, $JS.API.STREAM.MSG.GET). Every read is bounded by a
timeout. Not a general client: one request at a time, no reconnects."""
import base64
import json
import os
import socket
import time


class NatsError(Exception):
    pass


class Client:
    def __init__(self, host, port, timeout=10, token=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # one small request at a time: without this, Nagle and delayed ACKs
        # add 40 ms to every request
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.sid = 0
        line = self._line(time.time() + timeout)
        if not line.startswith(b"INFO "):
            raise NatsError("expected INFO, got %r" % line[:80])
        self.info = json.loads(line[5:])
        opts = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True, "protocol": 1,
                "name": "custody-test", "lang": "python", "version": "0"}
        if token:
            opts["auth_token"] = token
        self._send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        deadline = time.time() + timeout
        while True:
            line = self._line(deadline)
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode(errors="replace"))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            raise NatsError("timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise NatsError("timed out")
        if not chunk:
            raise NatsError("connection closed by the server")
        self.buf += chunk

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n, deadline):
        while len(self.buf) < n + 2:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, payload=b"", timeout=None):
        """Publish payload with a fresh inbox as reply subject; return
        (headers dict or None, status line or None, data) of the answer."""
        timeout = timeout or self.timeout
        self.sid += 1
        sid = str(self.sid).encode()
        inbox = ("_INBOX.custodytest.%s.%d" % (os.urandom(6).hex(), self.sid)).encode()
        if isinstance(payload, str):
            payload = payload.encode()
        self._send(b"SUB " + inbox + b" " + sid + b"\r\n" +
                   b"PUB " + subject.encode() + b" " + inbox + b" " + str(len(payload)).encode() + b"\r\n" +
                   payload + b"\r\n")
        deadline = time.time() + timeout
        try:
            while True:
                line = self._line(deadline)
                if line == b"PING":
                    self._send(b"PONG\r\n")
                    continue
                if line in (b"PONG", b"+OK"):
                    continue
                if line.startswith(b"-ERR"):
                    raise NatsError(line.decode(errors="replace"))
                parts = line.split(b" ")
                if parts[0] == b"MSG":
                    n = int(parts[-1])
                    data = self._bytes(n, deadline)
                    if parts[2] == sid:
                        return None, None, data
                elif parts[0] == b"HMSG":
                    hlen, total = int(parts[-2]), int(parts[-1])
                    raw = self._bytes(total, deadline)
                    if parts[2] == sid:
                        status, hdrs = parse_headers(raw[:hlen])
                        return hdrs, status, raw[hlen:]
        finally:
            self._send(b"UNSUB " + sid + b"\r\n")

    def js(self, api, body=None, timeout=None):
        """A JetStream API request ($JS.API.<api>); the answer as JSON.
        Raises NatsError on no responders or an API error."""
        hdrs, status, data = self.request("$JS.API." + api, json.dumps(body).encode() if body is not None else b"",
                                          timeout)
        if status and status.startswith("503"):
            raise NatsError("no responders (is JetStream enabled?)")
        ans = json.loads(data)
        if "error" in ans:
            raise NatsError("%s: %s" % (api, ans["error"]))
        return ans

    def stream_info(self, stream):
        return self.js("STREAM.INFO." + stream)

    def stream_messages(self, stream):
        """Every message of the stream, oldest first: a list of dicts with
        seq, subject, headers (dict), data (bytes)."""
        info = self.stream_info(stream)
        first, last = info["state"]["first_seq"], info["state"]["last_seq"]
        out = []
        for seq in range(first, last + 1):
            try:
                m = self.js("STREAM.MSG.GET." + stream, {"seq": seq})["message"]
            except NatsError as ex:
                if "no message found" in str(ex) or "10037" in str(ex):
                    continue  # deleted
                raise
            hdrs = {}
            if m.get("hdrs"):
                hdrs = parse_headers(base64.b64decode(m["hdrs"]))[1]
            out.append({"seq": m["seq"], "subject": m["subject"], "headers": hdrs,
                        "data": base64.b64decode(m.get("data") or "")})
        return out


def parse_headers(raw):
    """'NATS/1.0[ status]\\r\\nK: V\\r\\n...' -> (status or None, {K: V})."""
    lines = raw.decode("utf-8", errors="replace").split("\r\n")
    status = lines[0][8:].strip() or None if lines and lines[0].startswith("NATS/1.0") else None
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip()] = v.strip()
    return status, hdrs
