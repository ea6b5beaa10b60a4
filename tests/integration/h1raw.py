"""h1raw - raw-socket HTTP/1.x helpers for the http integration tests that
must see the exact bytes on the wire (test_http_smuggling.py,
test_http_pipeline.py): a response reader that splits a byte stream into
responses (Content-Length, chunked, bodiless statuses, HEAD, close-
delimited), socket helpers that fail on a connection left open or a
missing reply, and an access-log reader.  No HTTP client library is used,
so nothing normalises or repairs what the server sent.
"""

import re
import socket
import time

from loomtest import WAIT

# bound on one read (a missing reply or a connection that is never closed
# fails after this long; nothing asserts on how long anything took)
TIMEOUT = min(WAIT, 10.0)


# ---- responses ------------------------------------------------------------------

class Incomplete(Exception):
    """The bytes end before the response does."""


class Response:
    def __init__(self, version, status, reason, headers, body, raw):
        self.version, self.status, self.reason = version, status, reason
        self.headers = headers          # [(name, value)] as received
        self.body = body
        self.raw = raw                  # the response's bytes, head and body

    def get(self, name):
        """The value of the first field NAME (any case), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.raw[:300])


def _dechunk(data, pos):
    """Decode a chunked body starting at DATA[POS]: (body, end offset)."""
    body = b""
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise Incomplete()
        size = int(data[pos:eol].split(b";")[0].strip(), 16)
        pos = eol + 2
        if size == 0:
            # trailer section up to an empty line
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    raise Incomplete()
                line = data[pos:eol]
                pos = eol + 2
                if line == b"":
                    return body, pos
        if len(data) < pos + size + 2:
            raise Incomplete()
        body += data[pos:pos + size]
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise AssertionError("chunk data not followed by CRLF: %r" % data[pos:pos + size + 2])
        pos += size + 2


def parse_response(data, pos=0, head=False, closed=False):
    """One response from DATA[POS:]: (Response, end offset).  HEAD: the
    request was HEAD (no body).  CLOSED: DATA is everything the server sent
    (a body without length runs to the end).  Raises Incomplete."""
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        raise Incomplete()
    lines = data[pos:end].split(b"\r\n")
    m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
    if not m:
        raise AssertionError("not a status line: %r" % lines[0])
    version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise AssertionError("header line without a colon: %r" % line)
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    body_at = end + 4
    r = Response(version, status, reason, headers, b"", b"")
    te = r.get("Transfer-Encoding")
    cl = r.get("Content-Length")
    if head or status < 200 or status in (204, 304):
        stop = body_at
    elif te is not None and "chunked" in te.lower():
        r.body, stop = _dechunk(data, body_at)
    elif cl is not None:
        n = int(cl)
        if len(data) < body_at + n:
            raise Incomplete()
        r.body, stop = data[body_at:body_at + n], body_at + n
    elif closed:
        r.body, stop = data[body_at:], len(data)
    else:
        raise Incomplete()
    r.raw = data[pos:stop]
    return r, stop


def parse_all(data, heads=(), closed=True):
    """Every response in DATA (all the server sent): a list.  HEADS: the
    indexes of final responses that answer HEAD requests."""
    out, pos, n = [], 0, 0
    while pos < len(data):
        r, pos = parse_response(data, pos, head=n in heads, closed=closed)
        out.append(r)
        if r.status >= 200:
            n += 1
    return out


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s):
    """Read until EOF or until nothing more arrives for TIMEOUT: (bytes,
    closed).  A reset after data counts as the end."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out, True
        except socket.timeout:
            return out, False
        if not chunk:
            return out, True
        out += chunk


def read_until_close(s):
    """Everything until EOF (a reset after data counts as the end).  Fails
    if the server keeps the connection open past TIMEOUT."""
    out, closed = read_all(s)
    if not closed:
        raise AssertionError("the server did not close the connection; received so far: %r"
                             % out[:2000])
    return out


def read_responses(s, count, heads=()):
    """Read until COUNT final responses are complete: (list, leftover)."""
    data = b""
    while True:
        try:
            out, pos, n = [], 0, 0
            while n < count:
                r, pos = parse_response(data, pos, head=n in heads)
                out.append(r)
                if r.status >= 200:
                    n += 1
            return out, data[pos:]
        except Incomplete:
            pass
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            raise AssertionError("timed out waiting for %d responses; got %r" % (count, data[:2000]))
        if not chunk:
            raise AssertionError("connection closed before %d responses; got %r" % (count, data[:2000]))
        data += chunk


# ---- the access log ----------------------------------------------------------

_LOG_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]*\] "(.*)" (\d{3}) (\d+|-) ')


def log_entries(path):
    """[(request line, status)] of the access log's lines."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        m = _LOG_LINE.match(line)
        out.append((m.group(1), int(m.group(2))) if m else (line, None))
    return out


def wait_log_entries(path, before, want, status=None, timeout=WAIT):
    """Wait until the access log at PATH has at least WANT lines after its
    first BEFORE (and, with STATUS, one of them has that status); returns
    the new entries.  Raises AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        entries = log_entries(path)[before:]
        if len(entries) >= want and (status is None or any(st == status for _, st in entries)):
            return entries
        if time.monotonic() > deadline:
            raise AssertionError("access log: expected %d new line(s)%s, got %r"
                                 % (want, "" if status is None else " with status %d" % status,
                                    entries))
        time.sleep(0.05)


def normalize_head(r):
    """R's status and headers with the Date value blanked, for comparing
    two responses."""
    return (r.status, [(k.lower(), "<date>" if k.lower() == "date" else v) for k, v in r.headers])
