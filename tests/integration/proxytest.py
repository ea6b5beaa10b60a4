"""proxytest - what the reverse proxy tests share: config snippets for
`upstream` sections and `proxy` locations, small HTTP/1.1 upstream servers
written with the Python standard library that run in threads of the test
process and record what they were sent (request heads, bodies, accepted
connections), a WebSocket echo upstream and client (RFC 6455), an HTTP/2
client on python3-h2, and a Debian nginx run from a temporary folder.

    up = Upstream("a").start()                 # answers 200 "a\\n", records
    d = start_http(self, proxy_server([proxy_loc("/p/", "app")]),
                   opts=upstream_section("app", [up.endpoint()]))
    r = d.get("/p/x");  up.requests[-1].target  # "/p/x"

Nothing here asserts on time: every timeout only bounds a hang.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import httptest
import loomtest
from loomtest import WAIT, free_port

httptest.REASONS.setdefault(502, "Bad Gateway")
httptest.REASONS.setdefault(503, "Service Unavailable")
httptest.REASONS.setdefault(504, "Gateway Timeout")

NGINX = "/usr/sbin/nginx"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---- configuration ---------------------------------------------------------

def endpoint(port, host="127.0.0.1"):
    """The connect endpoint string of a loopback TCP upstream."""
    return "tcp:host=%s:port=%d" % (host, port)


def upstream_section(name, servers, **opts):
    """`upstream "NAME" { server = {...}  OPTS }`: SERVERS are endpoint
    strings (or ports), OPTS written as given (quote strings yourself)."""
    eps = [endpoint(s) if isinstance(s, int) else s for s in servers]
    text = 'upstream "%s" {\n    server = {%s}\n' % (name, ", ".join('"%s"' % e for e in eps))
    for k, v in opts.items():
        text += "    %s = %s\n" % (k, v)
    return text + "}\n"


def proxy_loc(title, proxy_pass, **opts):
    """A `handler = "proxy"` location; PROXY_PASS and string OPTS are
    quoted here (numbers are written as given)."""
    lines = '            handler = "proxy"\n'
    if proxy_pass is not None:
        lines += '            proxy_pass = "%s"\n' % proxy_pass
    for k, v in opts.items():
        lines += "            %s = %s\n" % (k, ('"%s"' % v) if isinstance(v, str) else v)
    return '        location "%s" {\n%s        }\n' % (title, lines)


def proxy_server(locations, names=("localhost",), root="www", title="main"):
    """A server section: static "/" on ROOT plus LOCATIONS (text)."""
    return httptest.static_server(title, names, root=root, extra_locations="".join(locations))


# ---- upstream side: raw HTTP/1.1 ----------------------------------------------

class Req:
    """A request as an upstream received it: method, target, version,
    headers [(name, value)], body (bytes, de-chunked; None when only hashed),
    chunked (bool), raw_head (bytes), conn (number of the connection, from
    1), body_len and body_sha256."""

    def __init__(self, method, target, version, headers, raw_head, conn):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.raw_head = raw_head
        self.conn = conn
        self.body = b""
        self.chunked = False
        self.body_len = 0
        self.body_sha256 = hashlib.sha256(b"").hexdigest()

    def getall(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def get(self, name):
        """Every NAME field's value joined with ", " (None if absent)."""
        vals = self.getall(name)
        return ", ".join(vals) if vals else None

    def has(self, name):
        return bool(self.getall(name))

    def tokens(self, name):
        out = []
        for v in self.getall(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def names(self):
        return [n.lower() for n, _ in self.headers]

    def head_text(self):
        return self.raw_head.decode("latin-1")

    def __repr__(self):
        return "<Req %s %s %s conn %d, %d body bytes>\n%s" % (
            self.method, self.target, self.version, self.conn, self.body_len, self.head_text())


class Closed(Exception):
    """The peer closed the connection (cleanly, or inside a message)."""


class Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self, n=65536):
        chunk = self.sock.recv(n)
        if not chunk:
            raise Closed()
        self.buf += chunk

    def head(self, limit=1 << 20):
        """Bytes up to and including the blank line; None on a clean EOF
        before any byte."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i + 4], self.buf[i + 4:]
                return out
            if len(self.buf) > limit:
                raise AssertionError("head too long")
            try:
                self._more()
            except (Closed, ConnectionResetError):
                if self.buf:
                    raise Closed()
                return None

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out

    def exactly(self, n):
        while len(self.buf) < n:
            self._more(max(65536, min(n - len(self.buf), 1 << 20)))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def stream(self, n, sink):
        """Pass N bytes to SINK (a callable) without keeping them."""
        if self.buf:
            take = self.buf[:n]
            self.buf = self.buf[len(take):]
            sink(take)
            n -= len(take)
        while n > 0:
            chunk = self.sock.recv(min(n, 1 << 20))
            if not chunk:
                raise Closed()
            sink(chunk)
            n -= len(chunk)


_REQ_LINE = re.compile(rb"^([A-Z]+) (\S+) (HTTP/\d\.\d)$")


def parse_req_head(raw, conn):
    lines = raw[:-4].split(b"\r\n")
    m = _REQ_LINE.match(lines[0])
    if not m:
        raise AssertionError("upstream got a bad request line %r" % lines[0])
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not re.fullmatch(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise AssertionError("upstream got a bad field line %r" % line)
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return Req(m.group(1).decode(), m.group(2).decode("latin-1"), m.group(3).decode(), headers,
               raw, conn)


def read_body(rd, req, keep=True):
    """Read REQ's body from RD (Content-Length or chunked) into req.body
    (KEEP) and req.body_len / req.body_sha256."""
    h = hashlib.sha256()
    parts = []
    n = [0]

    def sink(b):
        h.update(b)
        n[0] += len(b)
        if keep:
            parts.append(b)

    te = req.tokens("transfer-encoding")
    if te:
        if te[-1] != "chunked":
            raise AssertionError("upstream got Transfer-Encoding %r" % te)
        req.chunked = True
        while True:
            size_line = rd.line()
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while rd.line():
                    pass
                break
            rd.stream(size, sink)
            if rd.exactly(2) != b"\r\n":
                raise AssertionError("chunk not followed by CRLF")
    else:
        cl = req.get("content-length")
        if cl:
            rd.stream(int(cl), sink)
    req.body = b"".join(parts) if keep else None
    req.body_len = n[0]
    req.body_sha256 = h.hexdigest()


def response_bytes(status, headers=(), body=b"", reason=None, length=True):
    """A raw HTTP/1.1 response; Content-Length added unless LENGTH is False
    or HEADERS already frame the body."""
    reason = reason if reason is not None else httptest.REASONS.get(status, "X")
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    lower = [n.lower() for n, _ in headers]
    lines += ["%s: %s" % (n, v) for n, v in headers]
    if length and "content-length" not in lower and "transfer-encoding" not in lower:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(parts, trailers=b""):
    """PARTS (bytes) as a chunked body."""
    out = b""
    for p in parts:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n" + trailers + b"\r\n"


class Upstream:
    """An HTTP/1.1 server on a free loopback port, one thread per
    connection, that records every request (self.requests) and counts
    connections (accepted, open).  RESPOND(upstream, req) gives the answer:
    raw bytes, a (status, headers, body) tuple, or None to close the
    connection without answering; by default 200 with the body NAME + "\\n"
    and X-Upstream: NAME.  Connections are kept alive unless the request
    or the answer says close.  KEEP_BODY False keeps only the length and
    sha256 of bodies; BODY_DELAY pauses before reading a body (to push back
    on the proxy).  HOLD: requests whose target contains "/hold" wait until
    release() is called.  PORT: a given port rather than a free one;
    ALSO_V6: listen on [::1] at the same port too (when there is one), so
    that `tcp:host=localhost` reaches it whatever localhost resolves to."""

    def __init__(self, name="up", respond=None, keep_body=True, body_delay=0.0, port=0,
                 also_v6=False):
        self.name = name
        self.respond = respond or Upstream.default_respond
        self.keep_body = keep_body
        self.body_delay = body_delay
        self.lock = threading.Condition()
        self.accepted = 0
        self.open = 0
        self.active = 0          # requests read and not yet answered
        self.requests = []
        self.errors = []
        self.released = threading.Event()
        self._socks = set()
        self._stopping = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(256)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.listeners = [self.listener]
        if also_v6 and loomtest.have_ipv6_loopback():
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s6.bind(("::1", self.port))
            s6.listen(256)
            s6.settimeout(0.1)
            self.listeners.append(s6)
        self._threads = []

    @staticmethod
    def default_respond(up, req):
        return (200, [("Content-Type", "text/plain"), ("X-Upstream", up.name)],
                (up.name + "\n").encode())

    def endpoint(self):
        return endpoint(self.port)

    def start(self):
        for lst in self.listeners:
            t = threading.Thread(target=self._accept_loop, args=(lst,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _accept_loop(self, listener):
        while not self._stopping:
            try:
                s, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(WAIT * 3)
            with self.lock:
                self.accepted += 1
                self.open += 1
                cid = self.accepted
                self._socks.add(s)
                self.lock.notify_all()
            threading.Thread(target=self._conn, args=(s, cid), daemon=True).start()

    def _conn(self, s, cid):
        try:
            self.serve(s, cid)
        except (Closed, OSError):
            pass
        except Exception as e:  # reported by the tests that look at .errors
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                s.close()
            except OSError:
                pass
            with self.lock:
                self.open -= 1
                self._socks.discard(s)
                self.lock.notify_all()

    def record(self, req):
        with self.lock:
            self.requests.append(req)
            self.lock.notify_all()

    def serve(self, s, cid):
        rd = Reader(s)
        while True:
            raw = rd.head()
            if raw is None:
                return
            req = parse_req_head(raw, cid)
            if self.body_delay and (req.has("content-length") or req.has("transfer-encoding")):
                time.sleep(self.body_delay)
            read_body(rd, req, keep=self.keep_body)
            with self.lock:
                self.active += 1
            self.record(req)
            try:
                if "/hold" in req.target:
                    self.released.wait(WAIT * 3)
                ans = self.respond(self, req)
            finally:
                with self.lock:
                    self.active -= 1
                    self.lock.notify_all()
            if ans is None:
                return
            if isinstance(ans, tuple):
                ans = response_bytes(*ans)
                if req.method == "HEAD":
                    ans = ans[:ans.index(b"\r\n\r\n") + 4]
            s.sendall(ans)
            head = ans.split(b"\r\n\r\n", 1)[0].lower()
            if (b"connection: close" in head or "close" in req.tokens("connection")
                    or req.version == "HTTP/1.0"):
                s.shutdown(socket.SHUT_WR)
                return

    def release(self):
        self.released.set()

    def wait(self, pred, what="upstream condition", timeout=WAIT):
        """Wait until PRED(self) is true (checked under the lock)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s (%s: %d accepted, %d open, "
                                         "%d requests)" % (what, self.name, self.accepted,
                                                           self.open, len(self.requests)))
                self.lock.wait(min(left, 0.1))

    def find(self, marker):
        """Requests whose head or body holds MARKER (str)."""
        m = marker.encode()
        with self.lock:
            return [r for r in self.requests
                    if m in r.raw_head or (r.body is not None and m in r.body)]

    def stop(self):
        if self._stopping:
            return
        self._stopping = True
        self.released.set()
        for lst in self.listeners:
            try:
                lst.close()
            except OSError:
                pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(WAIT)


def start_upstream(testcase, *args, kind=None, **kw):
    """An Upstream (or a KIND of one) started now and stopped when TESTCASE
    ends (or earlier by stop_upstreams)."""
    up = (kind or Upstream)(*args, **kw).start()
    testcase.addCleanup(up.stop)
    testcase.__dict__.setdefault("_proxytest_upstreams", []).append(up)
    return up


def stop_upstreams(testcase):
    """Stop the upstreams TESTCASE started (from tearDown, which runs
    before the cleanups stop the proxies): a proxy then sees its pooled
    connections closed and its stop does not wait for them
    (test_sigterm_closes_idle_pool tests a stop with an idle pool)."""
    for up in testcase.__dict__.get("_proxytest_upstreams", []):
        up.stop()


class ScriptedUpstream(Upstream):
    """An upstream whose whole conversation is SCRIPT(upstream, sock,
    reader, conn number): for the ones that misbehave."""

    def __init__(self, script, name="scripted", port=0):
        super().__init__(name, port=port)
        self.script = script

    def serve(self, s, cid):
        self.script(self, s, Reader(s), cid)


def read_and_record(up, rd, cid):
    """Read one whole request from RD and record it in UP; the Req, or
    None if the peer closed first."""
    raw = rd.head()
    if raw is None:
        return None
    req = parse_req_head(raw, cid)
    read_body(rd, req)
    up.record(req)
    return req


def silent_script(up, s, rd, cid):
    """Read the request, never answer (until the peer closes)."""
    read_and_record(up, rd, cid)
    while s.recv(65536):
        pass


def close_after_request_script(up, s, rd, cid):
    """Read the whole request, then close without a byte of answer."""
    read_and_record(up, rd, cid)


def dying_script(length=1000000, sent=100):
    """Answer with a head announcing LENGTH body bytes, send SENT, close."""
    def script(up, s, rd, cid):
        read_and_record(up, rd, cid)
        s.sendall(response_bytes(200, [("Content-Type", "application/octet-stream"),
                                       ("Content-Length", str(length))]) + b"d" * sent)
        time.sleep(0.2)
    return script


def dying_chunked_script(up, s, rd, cid):
    """A chunked answer cut after its first chunk (no last chunk)."""
    read_and_record(up, rd, cid)
    s.sendall(response_bytes(200, [("Content-Type", "text/plain"),
                                   ("Transfer-Encoding", "chunked")]) + b"64\r\n" + b"c" * 100
              + b"\r\n")
    time.sleep(0.2)


def raw_answer_script(data):
    """Read the request, send DATA, close."""
    def script(up, s, rd, cid):
        read_and_record(up, rd, cid)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    return script


def first_request_only_script(up, s, rd, cid):
    """Answer the first request of a connection (kept alive); a later
    request on it is read and the connection closed unanswered, as when an
    idle keep-alive connection is closed just as a request is sent."""
    req = read_and_record(up, rd, cid)
    if req is None:
        return
    body = (up.name + "\n").encode()
    s.sendall(response_bytes(200, [("X-Upstream", up.name)], body))
    raw = rd.head()
    if raw is not None:
        with up.lock:
            up.errors.append("dropped a reused connection")


def refused_port():
    """A loopback port nothing listens on."""
    return free_port()


# ---- proxy-side facts ---------------------------------------------------------------

def log_count(d, pattern):
    return len(re.findall(pattern, d.log()))


def upstream_error_re(name, port, reason, request=None):
    """The ERROR line the spec gives for a failed attempt on upstream NAME's
    server on PORT: `upstream "NAME" server <endpoint with PORT>: REASON
    while ..., client 127.0.0.1, request "REQUEST"`."""
    rx = (r"\[error\] [^\n]*upstream \"%s\" server [^\n]*\bport=%d\b[^\n]*: %s(?: while [^,\n]+)?, "
          r"client 127\.0\.0\.1" % (re.escape(name), port, reason))
    if request is not None:
        rx += r", request \"%s" % re.escape(request)
    return rx


def marked_down_re(name, port):
    return (r"\[warn(?:ing)?\] [^\n]*upstream \"%s\" server [^\n]*\bport=%d\b[^\n]*: marked down"
            % (re.escape(name), port))


def forwarded_elements(value):
    """A Forwarded value as a list of {param: value} dicts (lowercase
    names, quotes removed)."""
    out = []
    for elem in (value or "").split(","):
        d = {}
        for pair in elem.split(";"):
            pair = pair.strip()
            if not pair:
                continue
            k, _, v = pair.partition("=")
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = v[1:-1]
            d[k.strip().lower()] = v
        if d:
            out.append(d)
    return out


def clear_peak_rss(pid):
    """Reset VmHWM of PID (echo 5 > clear_refs); False if not allowed."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kb(pid):
    return int(loomtest.proc_status(pid)["VmHWM"].split()[0])


# ---- WebSocket (RFC 6455) -------------------------------------------------------------

def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def ws_frame(opcode, payload, mask):
    """One final frame; masked with a random key when MASK (clients)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            _mask_fast(payload, key)
        return head + key + payload
    return head + payload


def _mask_fast(payload, key):
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def ws_read_frame(rd):
    """(fin, opcode, payload) of the next frame, unmasked."""
    b0, b1 = rd.exactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", rd.exactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rd.exactly(8))[0]
    key = rd.exactly(4) if b1 & 0x80 else None
    payload = rd.exactly(n)
    if key:
        payload = _mask_fast(payload, key) if n else b""
    return bool(b0 & 0x80), b0 & 0x0F, payload


class WsEchoUpstream(Upstream):
    """A WebSocket echo server: a GET with Upgrade: websocket is answered
    101 and every data message echoed (unmasked); a text message "close-me"
    makes it send a close frame and close; a close frame is answered with
    one and the connection closed.  Other requests get a plain 200.
    self.ended counts tunnels that ended because the peer went away (EOF
    or close frame)."""

    def __init__(self, name="ws"):
        super().__init__(name)
        self.ended = 0
        self.messages = 0

    def serve(self, s, cid):
        rd = Reader(s)
        while True:
            raw = rd.head()
            if raw is None:
                return
            req = parse_req_head(raw, cid)
            read_body(rd, req)
            self.record(req)
            key = req.get("sec-websocket-key")
            if "websocket" in req.tokens("upgrade") and key:
                s.sendall(response_bytes(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                               ("Sec-WebSocket-Accept", ws_accept(key))],
                                         length=False))
                return self._tunnel(s, rd)
            s.sendall(response_bytes(200, [("Content-Type", "text/plain")], b"not a websocket\n"))

    def _tunnel(self, s, rd):
        try:
            while True:
                fin, op, payload = ws_read_frame(rd)
                if op == 8:
                    s.sendall(ws_frame(8, payload[:2], False))
                    with self.lock:
                        self.ended += 1
                        self.lock.notify_all()
                    return
                if op == 9:
                    s.sendall(ws_frame(10, payload, False))
                    continue
                if op == 1 and payload == b"close-me":
                    s.sendall(ws_frame(8, struct.pack("!H", 1000), False))
                    return
                with self.lock:
                    self.messages += 1
                s.sendall(ws_frame(op, payload, False))
        except (Closed, ConnectionResetError):
            with self.lock:
                self.ended += 1
                self.lock.notify_all()


class WsClient:
    """A stdlib WebSocket client on a raw socket: handshake on connect
    (fails unless 101 with the right Sec-WebSocket-Accept)."""

    def __init__(self, port, path, host="localhost", timeout=WAIT, extra=()):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        head = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, host, key))
        for n, v in extra:
            head += "%s: %s\r\n" % (n, v)
        self.sock.sendall((head + "\r\n").encode())
        self.rd = Reader(self.sock)
        raw = self.rd.head()
        if raw is None:
            raise AssertionError("connection closed before the handshake answer")
        self.response, _ = httptest.parse_response(raw, head=True)
        if self.response.status != 101:
            raise AssertionError("handshake answered %r" % self.response)
        if self.response.get("sec-websocket-accept") != ws_accept(key):
            raise AssertionError("bad Sec-WebSocket-Accept in %r" % self.response)

    def send(self, data):
        if isinstance(data, str):
            self.sock.sendall(ws_frame(1, data.encode(), True))
        else:
            self.sock.sendall(ws_frame(2, data, True))

    def recv(self):
        """(opcode, payload) of the next message."""
        fin, op, payload = ws_read_frame(self.rd)
        while not fin:
            fin, _, more = ws_read_frame(self.rd)
            payload += more
        return op, payload

    def send_close(self, code=1000):
        self.sock.sendall(ws_frame(8, struct.pack("!H", code), True))

    def closed_by_peer(self, timeout=WAIT):
        """True if the connection reaches EOF (or a reset) within TIMEOUT;
        frames still arriving are skipped."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- HTTP/2 client ---------------------------------------------------------------------

class H2Stream:
    def __init__(self, sid):
        self.id = sid
        self.status = None
        self.headers = []
        self.body = bytearray()
        self.ended = False
        self.reset = None        # error code of a RST_STREAM

    def get(self, name):
        for n, v in self.headers:
            if n == name:
                return v
        return None

    @property
    def done(self):
        return self.ended or self.reset is not None

    def __repr__(self):
        return "<h2 stream %d status %s, %d body bytes, ended %s, reset %s>" % (
            self.id, self.status, len(self.body), self.ended, self.reset)


class H2Client:
    """HTTP/2 over cleartext (prior knowledge) with python3-h2: several
    requests on one connection, each a stream."""

    def __init__(self, port, authority="localhost", timeout=WAIT):
        import h2.config
        import h2.connection
        import h2.settings
        self.authority = authority
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24})
        self.conn.increment_flow_control_window(1 << 28)
        self.streams = {}
        self.goaway = None
        self._flush()

    def _flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _pump(self, timeout):
        import h2.events as ev
        self.sock.settimeout(timeout)
        data = self.sock.recv(1 << 20)
        if not data:
            raise AssertionError("HTTP/2 connection closed by the server (GOAWAY %r); streams %r"
                                 % (self.goaway, list(self.streams.values())))
        for e in self.conn.receive_data(data):
            st = self.streams.get(getattr(e, "stream_id", None))
            if isinstance(e, ev.ResponseReceived) and st:
                st.headers = list(e.headers)
                st.status = int(st.get(":status"))
            elif isinstance(e, ev.DataReceived):
                if st:
                    st.body += e.data
                self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, ev.StreamEnded) and st:
                st.ended = True
            elif isinstance(e, ev.StreamReset) and st:
                st.reset = e.error_code
            elif isinstance(e, ev.ConnectionTerminated):
                self.goaway = e.error_code
        self._flush()

    def request(self, method, path, headers=(), body=None, content_length=True):
        """Open a stream; BODY (bytes) is sent with a content-length field
        unless CONTENT_LENGTH is False.  Returns the H2Stream."""
        sid = self.conn.get_next_available_stream_id()
        st = self.streams[sid] = H2Stream(sid)
        hdrs = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", self.authority)] + list(headers)
        if body is not None and content_length:
            hdrs.append(("content-length", str(len(body))))
        self.conn.send_headers(sid, hdrs, end_stream=body is None)
        self._flush()
        if body is not None:
            self._send_body(st, body)
        return st

    def _send_body(self, st, body):
        pos = 0
        deadline = time.monotonic() + WAIT * 3
        while True:
            if st.reset is not None:
                return
            room = min(self.conn.local_flow_control_window(st.id), self.conn.max_outbound_frame_size)
            if room > 0 or pos == len(body):
                piece = body[pos:pos + room]
                pos += len(piece)
                self.conn.send_data(st.id, piece, end_stream=pos == len(body))
                self._flush()
                if pos == len(body):
                    return
                continue
            if time.monotonic() > deadline:
                raise AssertionError("no flow-control window to send the body")
            self._pump(WAIT)

    def wait(self, *streams, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not all(s.done for s in streams):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("HTTP/2 streams not done: %r" % (streams,))
            try:
                self._pump(left)
            except socket.timeout:
                continue
        return streams

    def close(self):
        try:
            self.conn.close_connection()
            self._flush()
        except Exception:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def have_h2():
    """True if python3-h2 (the HTTP/2 client's library) is installed."""
    import importlib.util
    return importlib.util.find_spec("h2") is not None


# ---- nginx as an upstream -------------------------------------------------------------------

NGINX_CONF = """daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format conn '$connection $connection_requests "$request" host=$http_host '
                    'xff=$http_x_forwarded_for';
    access_log {dir}/access.log conn;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    types {{ text/plain txt; text/html html; application/octet-stream bin; }}
    default_type application/octet-stream;
    keepalive_requests 10000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {dir}/www;
        location / {{ }}
    }}
}}
"""


class Nginx:
    """Debian's nginx serving DIR/www on a free loopback port, run in the
    foreground from a temporary folder (no master process)."""

    def __init__(self, tree):
        self.dir = tempfile.mkdtemp(prefix="nginxtest-")
        os.chmod(self.dir, 0o755)
        for sub in ("tmp", "www"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        httptest.write_tree(self.dir, tree)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port))
        self.proc = None

    def start(self):
        self._err = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-e", os.path.join(self.dir, "error.log"),
                                      "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self._err, stderr=self._err)
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("nginx did not start: %s" % self.read("error.log"))
                time.sleep(0.05)

    def read(self, rel):
        try:
            with open(os.path.join(self.dir, rel), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def access_lines(self):
        return [l for l in self.read("access.log").split("\n") if l]

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- misc ------------------------------------------------------------------------------

def json_body(r):
    return json.loads(bytes(r.body).decode())


def sha256(b):
    return hashlib.sha256(b).hexdigest()
