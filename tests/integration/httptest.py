"""httptest - what the HTTP integration tests share: a loomd with an http
instance built from a config snippet and a file tree, raw sockets that speak
HTTP/1.x byte for byte, a strict parser for raw responses, and wrappers
around the real clients (curl, Python's http.client, Twisted's Agent).

    d = HttpD(static_server(), tree={"www/hello.txt": b"Hello\\n"}).start()
    r = d.request("GET", "/hello.txt")            # one raw request
    c = d.conn(); c.send(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    r = c.read_response()                          # keep-alive, pipelining
    cr = curl_fetch(d.url("/hello.txt"))           # curl: status/headers/body

Paths in TREE are relative to the daemon's folder (the config's folder), so
a test can put files next to the served root as well as in it.  Nothing here
asserts on time: every timeout only bounds a hang.
"""

import contextlib
import email.utils
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import loomtest
from loomtest import WAIT, Loomd, free_port

CURL = "curl"
OPENSSL = "openssl"
PYTHON = "/usr/bin/python3"
VERSION = "0.1.0"

REASONS = {200: "OK", 204: "No Content", 206: "Partial Content", 301: "Moved Permanently",
           302: "Found", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           412: "Precondition Failed", 413: "Content Too Large", 414: "URI Too Long",
           416: "Range Not Satisfiable", 417: "Expectation Failed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 505: "HTTP Version Not Supported"}


# ---- configuration ---------------------------------------------------------

def listen_list(port, tls_port=None, profile="local"):
    """The `listen = {...}` value for a TCP port and optionally a TLS one."""
    eps = ['"tcp:%d:interface=127.0.0.1"' % port]
    if tls_port:
        eps.append('"tls:%d:interface=127.0.0.1:profile=%s"' % (tls_port, profile))
    return "{" + ", ".join(eps) + "}"


def location(title, opts):
    """A location section: OPTS is a dict (values written as given: quote
    strings yourself) or raw text."""
    if isinstance(opts, dict):
        opts = "".join("            %s = %s\n" % (k, v) for k, v in opts.items())
    return '        location "%s" {\n%s        }\n' % (title, opts)


def static_server(title="main", names=("localhost",), root="www", loc_opts="", server_opts="",
                  extra_locations=""):
    """A server section with one static location "/" on ROOT.  LOC_OPTS and
    SERVER_OPTS are raw option lines; EXTRA_LOCATIONS more location text."""
    names_v = "{" + ", ".join('"%s"' % n for n in names) + "}"
    return ('    server "%s" {\n'
            '        names = %s\n'
            '%s'
            '        location "/" {\n'
            '            handler = "static"\n'
            '            root = "%s"\n'
            '%s'
            '        }\n'
            '%s'
            '    }\n') % (title, names_v, _indent(server_opts, 8), root, _indent(loc_opts, 12),
                          extra_locations)


def server(title, names, locations, server_opts=""):
    names_v = "{" + ", ".join('"%s"' % n for n in names) + "}"
    return '    server "%s" {\n        names = %s\n%s%s    }\n' % (
        title, names_v, _indent(server_opts, 8), locations)


def _indent(text, n):
    if not text:
        return ""
    lines = [l.strip() for l in text.strip("\n").split("\n")]
    return "".join(" " * n + l + "\n" for l in lines if l)


def http_section(port, body, tls_port=None, profile="local", name="web", opts=""):
    """`http "NAME" { listen = ...  OPTS  BODY }` where BODY holds servers."""
    return 'http "%s" {\n    listen = %s\n%s%s}\n' % (
        name, listen_list(port, tls_port, profile), _indent(opts, 4), body)


SELF_SIGNED = 'tls "local" { self_signed = yes }\n'


class Symlink:
    """A TREE entry that is a symbolic link to TARGET (as given)."""

    def __init__(self, target):
        self.target = target


def write_tree(base, tree):
    """Create TREE (relative path -> bytes | str | None for a folder |
    Symlink) under BASE."""
    for rel, content in (tree or {}).items():
        path = os.path.join(base, rel)
        if content is None:
            os.makedirs(path, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(content, Symlink):
            os.symlink(content.target, path)
            continue
        if isinstance(content, str):
            content = content.encode()
        with open(path, "wb") as f:
            f.write(content)


class HttpD(Loomd):
    """A loomd whose config is PRE + one http instance + POST.

    BODY is the inside of the http section after `listen` (servers, and
    instance options in OPTS).  With TLS=True a second listener on
    self.tls_port uses PROFILE (a self-signed "local" profile is added to
    PRE unless PRE defines the profile).  TREE is written into the folder
    before start."""

    def __init__(self, body, tree=None, opts="", tls=False, pre="", post="", name="web",
                 profile="local", files=None, port=None, tls_port=None, user=None):
        self.port = port or free_port()
        self.tls_port = (tls_port or free_port()) if tls else None
        if tls and ('tls "%s"' % profile) not in pre:
            pre = SELF_SIGNED + pre
        self.instance = name
        self.body = body
        conf = pre + http_section(self.port, body, self.tls_port, profile, name, opts) + post
        if user:  # run as USER after binding (root only) instead of user_line()
            conf = 'user = "%s"\n' % user + conf
        super().__init__(conf, raw=bool(user), files=files)
        write_tree(self.dir, tree)

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def url(self, path="/", tls=False, host="127.0.0.1"):
        if tls:
            return "https://%s:%d%s" % (host, self.tls_port, path)
        return "http://%s:%d%s" % (host, self.port, path)

    @property
    def pid(self):
        return self.proc.pid

    def conn(self, tls=False, **kw):
        """A RawConn to the TCP (or TLS) listener."""
        if tls:
            kw.setdefault("tls", insecure_ctx())
            return RawConn(self.tls_port, **kw)
        return RawConn(self.port, **kw)

    def request(self, method, target, headers=(), body=b"", host="localhost",
                version="HTTP/1.1", tls=False):
        """One request on a fresh connection; returns the final Response
        (interim 1xx answers are kept in .interim)."""
        c = self.conn(tls=tls)
        try:
            c.request(method, target, headers, body, host=host, version=version)
            return c.read_final(head=(method == "HEAD"))
        finally:
            c.close()

    def get(self, target, headers=(), host="localhost", tls=False):
        return self.request("GET", target, headers, host=host, tls=tls)


def start_http(testcase, body, **kw):
    """An HttpD started now and cleaned up when TESTCASE ends."""
    d = HttpD(body, **kw)
    testcase.addCleanup(d.cleanup)
    d.start()
    return d


@contextlib.contextmanager
def case(**kw):
    """Label the assertions of one case in a loop (like subTest, but a
    failure stops the test and is reported by loomtest's TAP output with
    the case named in the message)."""
    try:
        yield
    except AssertionError as e:
        label = ", ".join("%s=%r" % kv for kv in kw.items())
        raise AssertionError("[%s] %s" % (label, e)) from None


# ---- raw HTTP -----------------------------------------------------------------

def build_request(method, target, headers=(), body=b"", host="localhost", version="HTTP/1.1"):
    """Request bytes.  HEADERS: list of (name, value) or a dict.  HOST None
    sends no Host field.  A Content-Length is added for a BODY unless the
    headers already frame it."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    if isinstance(target, str):
        target = target.encode()
    if isinstance(body, str):
        body = body.encode()
    lines = [method.encode() + b" " + target + b" " + version.encode()]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    lower = [n.lower() for n, _ in headers]
    for n, v in headers:
        lines.append(_b(n) + b": " + _b(v))
    if body and "content-length" not in lower and "transfer-encoding" not in lower:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode()


class Response:
    """A parsed HTTP response: version ("HTTP/1.1"), status (int), reason,
    headers [(name, value)] as sent, body (bytes, de-chunked), chunked,
    raw_head (bytes up to and including the blank line)."""

    def __init__(self, version, status, reason, headers, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.raw_head = raw_head
        self.body = b""
        self.chunked = False
        self.close_delimited = False
        self.trailers = []
        self.interim = []

    def getall(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def get(self, name, default=None):
        """The value of NAME; fails if the field appears more than once."""
        vals = self.getall(name)
        if len(vals) > 1:
            raise AssertionError("%s appears %d times:\n%s" % (name, len(vals), self.head_text()))
        return vals[0] if vals else default

    def has(self, name):
        return bool(self.getall(name))

    def tokens(self, name):
        """Comma-separated tokens of every NAME field, lowercased."""
        out = []
        for v in self.getall(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def head_text(self):
        return self.raw_head.decode("latin-1")

    def __repr__(self):
        return "<Response %s %d %s, %d body bytes>\n%s" % (
            self.version, self.status, self.reason, len(self.body), self.head_text())


class Incomplete(Exception):
    pass


_STATUS = re.compile(rb"^(HTTP/\d(?:\.\d)?) (\d{3}) ?([^\r\n]*)$")
_FIELD = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$")


def parse_response(data, head=False, eof=False):
    """Parse one response at the start of DATA.  Returns (Response, bytes
    consumed).  Raises Incomplete when more bytes are needed (a body that
    runs to the close needs EOF=True), AssertionError when DATA is not
    HTTP.  HEAD: the response answers a HEAD request (no body)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > 200000:
            raise AssertionError("no end of response head in %d bytes" % len(data))
        if eof:
            raise AssertionError("connection closed inside a response head: %r" % data[:300])
        raise Incomplete()
    raw_head = data[:end + 4]
    lines = data[:end].split(b"\r\n")
    m = _STATUS.match(lines[0])
    if not m:
        raise AssertionError("not an HTTP status line: %r" % lines[0])
    headers = []
    for line in lines[1:]:
        f = _FIELD.match(line)
        if not f:
            raise AssertionError("malformed response field %r in:\n%s"
                                 % (line, raw_head.decode("latin-1")))
        headers.append((f.group(1).decode("latin-1"), f.group(2).decode("latin-1")))
    r = Response(m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1"), headers, raw_head)
    pos = end + 4
    if head or r.status < 200 or r.status in (204, 304):
        return r, pos
    te = r.tokens("transfer-encoding")
    if te:
        if te[-1] != "chunked":
            raise AssertionError("response with Transfer-Encoding %r" % te)
        r.chunked = True
        body = []
        while True:
            nl = data.find(b"\r\n", pos)
            if nl < 0:
                if eof:
                    raise AssertionError("connection closed inside a chunked body")
                raise Incomplete()
            size_s = data[pos:nl].split(b";", 1)[0].strip()
            if not re.fullmatch(rb"[0-9a-fA-F]+", size_s):
                raise AssertionError("bad chunk size line %r" % data[pos:nl])
            size = int(size_s, 16)
            pos = nl + 2
            if size == 0:
                # trailers, then an empty line
                while True:
                    nl = data.find(b"\r\n", pos)
                    if nl < 0:
                        if eof:
                            raise AssertionError("connection closed inside chunked trailers")
                        raise Incomplete()
                    line = data[pos:nl]
                    pos = nl + 2
                    if not line:
                        break
                    r.trailers.append(line)
                r.body = b"".join(body)
                return r, pos
            if len(data) < pos + size + 2:
                if eof:
                    raise AssertionError("connection closed inside a chunk")
                raise Incomplete()
            body.append(data[pos:pos + size])
            if data[pos + size:pos + size + 2] != b"\r\n":
                raise AssertionError("chunk not followed by CRLF")
            pos += size + 2
    cl = r.getall("content-length")
    if cl:
        if len(set(cl)) != 1 or not re.fullmatch(r"\d+", cl[0]):
            raise AssertionError("bad Content-Length %r" % cl)
        n = int(cl[0])
        if len(data) < pos + n:
            if eof:
                raise AssertionError("connection closed after %d of %d body bytes"
                                     % (len(data) - pos, n))
            raise Incomplete()
        r.body = data[pos:pos + n]
        return r, pos + n
    if not eof:
        raise Incomplete()
    r.close_delimited = True
    r.body = data[pos:]
    return r, len(data)


def parse_all(data, heads=()):
    """Every response in DATA (a whole connection's output, read until the
    close).  HEADS: indexes of responses that answer HEAD requests."""
    out = []
    pos = 0
    while pos < len(data):
        r, n = parse_response(data[pos:], head=len(out) in heads, eof=True)
        out.append(r)
        pos += n
    return out


def insecure_ctx(alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class RawConn:
    """A client connection that sends exactly the bytes it is given and
    parses what comes back.  TLS: an ssl.SSLContext to wrap with."""

    def __init__(self, port, host="127.0.0.1", timeout=WAIT, tls=None, server_hostname=None,
                 rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        try:
            s.connect((host, port))
            if tls is not None:
                s = tls.wrap_socket(s, server_hostname=server_hostname)
        except BaseException:
            s.close()
            raise
        self.sock = s
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def request(self, method, target, headers=(), body=b"", host="localhost", version="HTTP/1.1"):
        self.send(build_request(method, target, headers, body, host, version))

    def _recv(self, timeout=None):
        """One read into the buffer; False at EOF (or a reset)."""
        if self.eof:
            return False
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            self.eof = self.reset = True
            return False
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, head=False):
        """The next response (a 1xx counts); fails if the connection closes
        before it is complete."""
        while True:
            try:
                r, n = parse_response(self.buf, head=head, eof=self.eof)
                self.buf = self.buf[n:]
                return r
            except Incomplete:
                pass
            if not self._recv() and not self.eof:
                continue
            if self.eof:
                if not self.buf:
                    raise AssertionError("connection closed with no response")
                r, n = parse_response(self.buf, head=head, eof=True)
                self.buf = self.buf[n:]
                return r

    def read_final(self, head=False):
        """The next non-1xx response; the 1xx ones before it in .interim."""
        interim = []
        while True:
            r = self.read_response(head=head)
            if r.status >= 200:
                r.interim = interim
                return r
            interim.append(r)

    def read_until_close(self, timeout=WAIT):
        """Everything up to the server's close (buffered bytes included).
        Fails if the connection is still open after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open after %.0f s; got %r"
                                     % (timeout, self.buf[:300]))
            try:
                self._recv(timeout=left)
            except socket.timeout:
                continue
        out, self.buf = self.buf, b""
        return out

    def closed_by_server(self, timeout=WAIT):
        """True if the server closes (EOF or reset) within TIMEOUT with no
        further bytes; bytes that do arrive stay in self.buf."""
        try:
            self.read_until_close(timeout)
        except AssertionError:
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_exchange(port, data, timeout=WAIT, tls=None):
    """Connect, send DATA, read until the server closes: bytes."""
    with RawConn(port, timeout=timeout, tls=tls) as c:
        c.send(data)
        return c.read_until_close(timeout)


# ---- curl ---------------------------------------------------------------------

def _client_env():
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del env[k]
    return env


def curl(args, timeout=WAIT * 3):
    """Run curl with ARGS (no proxy, no config file); CompletedProcess with
    bytes output."""
    cmd = [CURL, "-q", "--noproxy", "*", "-sS"] + list(args)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                          env=_client_env())


class CurlResult:
    """status, headers (Response of the final header block), blocks (every
    header block, redirects and 1xx included), body, stderr, rc."""

    def __init__(self, rc, head_bytes, body, stderr):
        self.rc = rc
        self.body = body
        self.stderr = stderr
        self.blocks = []
        for block in re.split(rb"\r\n\r\n", head_bytes):
            if block.strip():
                r, _ = parse_response(block + b"\r\n\r\n", head=True)
                self.blocks.append(r)
        self.headers = self.blocks[-1] if self.blocks else None
        self.status = self.headers.status if self.headers else None

    def __repr__(self):
        return "<curl rc=%d status=%s stderr=%r>\n%s" % (
            self.rc, self.status, self.stderr[-500:], self.headers.head_text() if self.headers else "")


def curl_fetch(url, args=(), out=None, timeout=WAIT * 3):
    """curl URL with ARGS, headers and body captured apart.  OUT: a file for
    the body (then .body is None).  Fails if curl itself fails.  HTTP/1.1
    unless ARGS ask for another version (--http2...: the last one wins)."""
    with tempfile.TemporaryDirectory(prefix="curl-") as tmp:
        hdr = os.path.join(tmp, "head")
        body_path = out or os.path.join(tmp, "body")
        r = curl(["--http1.1", "-D", hdr, "-o", body_path] + list(args) + [url],
                 timeout=timeout)
        head = b""
        if os.path.exists(hdr):
            with open(hdr, "rb") as f:
                head = f.read()
        body = None
        if out is None:
            body = b""  # curl creates no file for an empty body
            if os.path.exists(body_path):
                with open(body_path, "rb") as f:
                    body = f.read()
            if ("-I" in args or "--head" in args) and body.startswith(head):
                body = body[len(head):]  # with -I curl writes the head to -o as well
        res = CurlResult(r.returncode, head, body, r.stderr.decode(errors="replace"))
    if res.rc != 0:
        raise AssertionError("curl %s failed (%d): %s" % (url, res.rc, res.stderr))
    return res


# ---- other clients --------------------------------------------------------------

TWISTED_SCRIPT = r'''
import base64, json, sys
from twisted.internet import defer, task
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

reqs = json.loads(sys.argv[1])

@defer.inlineCallbacks
def main(reactor):
    pool = HTTPConnectionPool(reactor, persistent=True)
    agent = Agent(reactor, pool=pool)
    out = []
    for method, url, headers in reqs:
        h = Headers({k.encode(): [v.encode()] for k, v in headers.items()})
        resp = yield agent.request(method.encode(), url.encode(), h, None)
        body = yield readBody(resp)
        out.append({"code": resp.code, "version": list(resp.version[1:]),
                    "headers": {k.decode(): [x.decode() for x in v]
                                for k, v in resp.headers.getAllRawHeaders()},
                    "body": base64.b64encode(body).decode()})
    yield pool.closeCachedConnections()
    print(json.dumps(out))

task.react(main)
'''


def twisted_requests(reqs, timeout=WAIT * 2):
    """Run REQS [(method, url, {headers})] in order through one Twisted
    Agent (persistent pool) in a /usr/bin/python3 subprocess.  Returns a
    list of {"code", "version", "headers", "body" (bytes)}."""
    import base64
    r = subprocess.run([PYTHON, "-c", TWISTED_SCRIPT, json.dumps(reqs)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=_client_env())
    if r.returncode != 0:
        raise AssertionError("twisted client failed (%d):\n%s" % (r.returncode, r.stderr.decode()))
    out = json.loads(r.stdout.decode().strip().split("\n")[-1])
    for o in out:
        o["body"] = base64.b64decode(o["body"])
    return out


# ---- HTTP facts -------------------------------------------------------------------

def http_date(ts):
    """IMF-fixdate of the Unix time TS."""
    return email.utils.formatdate(ts, usegmt=True)


def parse_http_date(s):
    """Unix time of an IMF-fixdate; fails on any other form."""
    if not re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
                        r"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", s or ""):
        raise AssertionError("not an IMF-fixdate: %r" % s)
    return int(email.utils.parsedate_to_datetime(s).timestamp())


def etag_of(path):
    """The ETag the spec gives a file: "<mtime hex>-<size hex>"."""
    st = os.stat(path)
    return '"%x-%x"' % (int(st.st_mtime), st.st_size)


def error_html(status):
    """The built-in error page body for STATUS."""
    t = "%d %s" % (status, REASONS[status])
    return "<html><head><title>%s</title></head><body><h1>%s</h1></body></html>" % (t, t)


def assert_error_page(tc, r, status):
    tc.assertEqual(r.status, status, r)
    tc.assertEqual(r.body.decode("latin-1").strip(), error_html(status), r)
    tc.assertTrue((r.get("content-type") or "").startswith("text/html"), r)


def assert_common_headers(tc, r):
    """Every response has one Date (an IMF-fixdate) and one Server."""
    parse_http_date(r.get("date"))
    tc.assertRegex(r.get("server") or "", r"^loom(/\S+)?$", r)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def make_random_file(path, mib):
    """A file of MIB MiB of random bytes; returns its sha256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            b = os.urandom(1 << 20)
            h.update(b)
            f.write(b)
    return h.hexdigest()


def rss_kb(pid):
    return int(loomtest.proc_status(pid)["VmRSS"].split()[0])


class RssSampler:
    """Samples VmRSS of PID in a thread until stop(); .max_kb."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.max_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.max_kb = max(self.max_kb, rss_kb(self.pid))
                self.samples += 1
            except (OSError, KeyError, ValueError):
                return
            self._stop.wait(self.interval)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(WAIT)
        return self.max_kb


def tcp_states(local_port, remote_port):
    """States (hex strings of /proc/net/tcp) of the sockets whose local port
    is LOCAL_PORT and remote port REMOTE_PORT: "01" established, "04"
    FIN_WAIT1, ... ; empty when there is none."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    lp = int(parts[1].rsplit(":", 1)[1], 16)
                    rp = int(parts[2].rsplit(":", 1)[1], 16)
                    if lp == local_port and rp == remote_port:
                        out.append(parts[3])
        except FileNotFoundError:
            pass
    return out


def wait_for(pred, timeout=WAIT, interval=0.05, what="condition"):
    """Poll PRED until it returns a true value (returned); fail after TIMEOUT."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(interval)


def status_json(port, path="/status", host="localhost"):
    """GET PATH on a fresh connection and parse its JSON body."""
    with RawConn(port) as c:
        c.request("GET", path, host=host)
        r = c.read_final()
    if r.status != 200:
        raise AssertionError("status page: %r" % r)
    return json.loads(r.body.decode())
