"""h2test - what the HTTP/2 integration tests share: frames built byte by
byte (struct.pack) and a raw connection that reads the server's frames
(RawH2), a client on python3-h2 for ordinary exchanges with flow control
(H2Client), and wrappers around curl, nghttp and h2load.

    c = RawH2(d.port)                      # h2c prior knowledge; tls=True: ALPN h2
    c.handshake()                          # the server's SETTINGS, ACKed
    c.request(1, "/hello.txt")             # HEADERS (literal fields, no HPACK state)
    st = c.response(1)                     # .status .headers .body .rst
    c.send_frame(PING, 0, 0, b"12345678")
    g = c.wait_goaway()                    # .last_stream .error

    cl = H2Client(d.port)                  # python3-h2, windows handled
    r = cl.get("/hello.txt")               # .status .headers .body .reset

RawH2 gives the frames exactly as the test writes them, so it is what
the conformance and abuse tests use; python3-h2 refuses to process frames
after a GOAWAY, so graceful-stop tests use RawH2 as well.  Nothing here
asserts on time: timeouts only bound hangs.
"""

import base64
import os
import re
import select
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack

import loomtest
from loomtest import WAIT
from httptest import CURL, insecure_ctx, _client_env

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING",
               "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]

# flags
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xa
ENHANCE_YOUR_CALM = 0xb
INADEQUATE_SECURITY = 0xc
HTTP_1_1_REQUIRED = 0xd
ERROR_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
               "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
               "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
               "HTTP_1_1_REQUIRED"]

# settings
SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6

# headers a response must never carry over HTTP/2 (RFC 9113 8.2.2)
CONNECTION_SPECIFIC = ("connection", "keep-alive", "proxy-connection", "transfer-encoding",
                       "upgrade")


def error_name(code):
    if code is None:
        return "None"
    return ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else "0x%x" % code


# ---- frames, byte by byte ---------------------------------------------------------

def frame(ftype, flags, stream, payload=b"", length=None):
    """One frame.  LENGTH overrides the length field (for lying frames)."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", ftype, flags, stream) + payload


def settings_frame(pairs=(), ack=False):
    """SETTINGS with PAIRS [(id, value)] (a dict works too)."""
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    return frame(SETTINGS, ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def ping_frame(data=b"\0" * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, data)


def rst_frame(stream, code):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def window_update_frame(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def goaway_frame(last_stream, code, debug=b""):
    return frame(GOAWAY, 0, 0, struct.pack(">II", last_stream, code) + debug)


def data_frame(stream, data, end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, stream, data)


def hpack_int(value, prefix_bits, first=0):
    """An HPACK integer (RFC 7541 5.1) with PREFIX_BITS, FIRST holding the
    bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode("latin-1")


def hpack_str(s):
    s = _b(s)
    return hpack_int(len(s), 7) + s


def literal(name, value):
    """A literal field without indexing, new name, no Huffman: the bytes
    of NAME go on the wire as given (upper case included)."""
    return b"\x00" + hpack_str(name) + hpack_str(value)


def literal_indexed(name, value):
    """A literal field with incremental indexing, new name: it enters the
    decoder's dynamic table (as entry 62 until the next one)."""
    return b"\x40" + hpack_str(name) + hpack_str(value)


def header_block(headers):
    """A header block of literal fields only (no dynamic-table state)."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    return b"".join(literal(n, v) for n, v in headers)


def request_headers(path="/hello.txt", method="GET", authority="localhost", scheme="http",
                    extra=()):
    h = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", path)]
    return h + list(extra)


def headers_frame(stream, headers=None, block=None, end_stream=True, end_headers=True):
    """HEADERS carrying BLOCK (raw bytes) or HEADERS (a list: literal
    fields)."""
    if block is None:
        block = header_block(headers)
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    return frame(HEADERS, flags, stream, block)


def headers_frames(stream, block, end_stream=True, max_size=16384):
    """HEADERS + CONTINUATION frames carrying BLOCK in pieces of MAX_SIZE."""
    parts = [block[i:i + max_size] for i in range(0, len(block), max_size)] or [b""]
    out = frame(HEADERS, (END_STREAM if end_stream else 0) |
                (END_HEADERS if len(parts) == 1 else 0), stream, parts[0])
    for i, p in enumerate(parts[1:], 1):
        out += frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, stream, p)
    return out


class Frame:
    def __init__(self, ftype, flags, stream, payload):
        self.type = ftype
        self.flags = flags
        self.stream = stream
        self.payload = payload
        self.headers = None  # HEADERS/PUSH_PROMISE: the decoded block

    @property
    def name(self):
        return FRAME_NAMES[self.type] if self.type < len(FRAME_NAMES) else "0x%x" % self.type

    # -- typed views
    @property
    def error(self):
        """GOAWAY / RST_STREAM error code."""
        if self.type == GOAWAY:
            return struct.unpack(">I", self.payload[4:8])[0]
        if self.type == RST_STREAM:
            return struct.unpack(">I", self.payload[:4])[0]
        raise AssertionError("no error code in %r" % self)

    @property
    def last_stream(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7fffffff

    @property
    def debug(self):
        return self.payload[8:]

    @property
    def increment(self):
        return struct.unpack(">I", self.payload[:4])[0] & 0x7fffffff

    @property
    def settings(self):
        return [struct.unpack(">HI", self.payload[i:i + 6]) for i in range(0, len(self.payload), 6)]

    @property
    def ack(self):
        return bool(self.flags & ACK) if self.type in (SETTINGS, PING) else False

    @property
    def end_stream(self):
        return bool(self.flags & END_STREAM) if self.type in (DATA, HEADERS) else False

    def __repr__(self):
        extra = ""
        if self.type == GOAWAY:
            extra = " last=%d %s %r" % (self.last_stream, error_name(self.error), self.debug[:80])
        elif self.type == RST_STREAM:
            extra = " %s" % error_name(self.error)
        elif self.type == WINDOW_UPDATE:
            extra = " +%d" % self.increment
        elif self.type == SETTINGS:
            extra = " %r" % (self.settings,)
        elif self.type == HEADERS and self.headers is not None:
            extra = " %r" % (self.headers[:8],)
        elif self.type in (DATA, PING):
            extra = " len=%d" % len(self.payload)
        return "<%s flags=0x%x stream=%d%s>" % (self.name, self.flags, self.stream, extra)


class RawStream:
    def __init__(self, sid):
        self.id = sid
        self.headers = None     # the first header block (response head)
        self.informational = []
        self.trailers = None
        self.body = bytearray()
        self.ended = False
        self.rst = None         # RST_STREAM error code, if reset

    @property
    def status(self):
        if self.headers is None:
            return None
        return int(dict(self.headers)[":status"])

    def get(self, name):
        vals = [v for n, v in (self.headers or []) if n == name]
        if len(vals) > 1:
            raise AssertionError("%s appears %d times: %r" % (name, len(vals), self.headers))
        return vals[0] if vals else None

    @property
    def done(self):
        return self.ended or self.rst is not None

    def __repr__(self):
        return "<stream %d status=%s ended=%s rst=%s body=%d headers=%r>" % (
            self.id, self.status, self.ended, error_name(self.rst), len(self.body), self.headers)


class ConnClosed(AssertionError):
    pass


class RawH2:
    """A client HTTP/2 connection on which the test writes every frame.

    The server's frames are read one at a time (read_frame) and kept in
    .frames; header blocks are HPACK-decoded, per-stream state is kept in
    .streams (RawStream), GOAWAYs in .goaways.  With auto_window, every
    DATA frame is given back at once (WINDOW_UPDATE on the stream and the
    connection); with ack_settings, the server's SETTINGS are ACKed as
    they arrive."""

    def __init__(self, port, tls=False, host="127.0.0.1", timeout=WAIT, preface=True,
                 settings=(), sock=None, alpn=("h2",), rcvbuf=None, auto_window=True,
                 ack_settings=True):
        self.tls = tls
        if sock is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(timeout)
            try:
                s.connect((host, port))
                if tls:
                    s = insecure_ctx(alpn=list(alpn) if alpn else None).wrap_socket(s)
            except BaseException:
                s.close()
                raise
            sock = s
        self.sock = sock
        self.timeout = timeout
        self.alpn = sock.selected_alpn_protocol() if tls else None
        self.buf = b""
        self.eof = False
        self.frames = []
        self.goaways = []
        self.streams = {}
        self.decoder = hpack.Decoder(max_header_list_size=1 << 24)
        self.server_settings = None
        self.auto_window = auto_window
        self.ack_settings = ack_settings
        self._block = None  # (frame, bytes) of a header block in progress
        self.bytes_in = 0
        if preface:
            self.send(PREFACE + settings_frame(settings))

    # -- sending
    def send(self, data):
        """Send DATA; False if the server has already closed."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
            if isinstance(e, socket.timeout):
                raise
            return False

    def send_frame(self, ftype, flags, stream, payload=b""):
        return self.send(frame(ftype, flags, stream, payload))

    def request(self, stream, path="/hello.txt", method="GET", authority="localhost", extra=(),
                end_stream=True, headers=None, scheme=None):
        """HEADERS for a request on STREAM (literal fields).  HEADERS, if
        given, is the whole list (pseudo-fields included)."""
        if headers is None:
            headers = request_headers(path, method, authority,
                                      scheme or ("https" if self.tls else "http"), extra)
        self.stream(stream)
        return self.send(headers_frames(stream, header_block(headers), end_stream=end_stream))

    def stream(self, sid):
        st = self.streams.get(sid)
        if st is None:
            st = self.streams[sid] = RawStream(sid)
        return st

    # -- reading
    def _recv(self, timeout):
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(262144)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            chunk = b""
        except ssl.SSLError as e:
            if "timed out" in str(e):
                raise socket.timeout(str(e))
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.bytes_in += len(chunk)
        self.buf += chunk
        return True

    def _parse_one(self):
        if len(self.buf) < 9:
            return None
        n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
        if len(self.buf) < 9 + n:
            return None
        ftype, flags, sid = struct.unpack(">BBI", self.buf[3:9])
        f = Frame(ftype, flags, sid & 0x7fffffff, self.buf[9:9 + n])
        self.buf = self.buf[9 + n:]
        self._handle(f)
        return f

    def _handle(self, f):
        self.frames.append(f)
        if f.type in (HEADERS, PUSH_PROMISE):
            p = f.payload
            pad = 0
            if f.flags & PADDED:
                pad = p[0]
                p = p[1:]
            if f.type == HEADERS and f.flags & PRIORITY_FLAG:
                p = p[5:]
            if f.type == PUSH_PROMISE:
                p = p[4:]
            p = p[:len(p) - pad]
            self._block = [f, p]
            if f.flags & END_HEADERS:
                self._end_block()
        elif f.type == CONTINUATION:
            if self._block is None:
                raise AssertionError("CONTINUATION from the server with no header block open")
            self._block[1] += f.payload
            if f.flags & END_HEADERS:
                self._end_block()
        elif f.type == DATA:
            st = self.stream(f.stream)
            p = f.payload
            if f.flags & PADDED:
                p = p[1:len(p) - p[0]]
            st.body += p
            if f.flags & END_STREAM:
                st.ended = True
            if self.auto_window and f.payload:
                upd = window_update_frame(0, len(f.payload))
                if not st.ended:
                    upd += window_update_frame(f.stream, len(f.payload))
                self.send(upd)
        elif f.type == RST_STREAM:
            self.stream(f.stream).rst = f.error
        elif f.type == GOAWAY:
            self.goaways.append(f)
        elif f.type == SETTINGS and not f.ack:
            if self.server_settings is None:
                self.server_settings = dict(f.settings)
            if self.ack_settings:
                self.send(settings_frame(ack=True))

    def _end_block(self):
        f, block = self._block
        self._block = None
        try:
            f.headers = self.decoder.decode(bytes(block), raw=False)
        except Exception as e:
            raise AssertionError("server header block does not decode: %r (%r)" % (e, f))
        if f.type != HEADERS:
            return
        st = self.stream(f.stream)
        status = dict(f.headers).get(":status")
        if st.headers is None and status is not None and status.startswith("1"):
            st.informational.append(f.headers)
        elif st.headers is None:
            st.headers = f.headers
        else:
            st.trailers = f.headers
        if f.flags & END_STREAM:
            st.ended = True

    def read_frame(self, timeout=None):
        """The next frame; None once the server has closed and every
        frame it sent has been read.  Fails after TIMEOUT without one."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            f = self._parse_one()
            if f is not None:
                return f
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no frame from the server within the timeout; seen: %s"
                                     % self.summary())
            try:
                self._recv(left)
            except socket.timeout:
                pass

    def poll(self, timeout=0.0, first=False):
        """Every frame that arrives within TIMEOUT (none: whatever is
        already readable).  FIRST: return as soon as there is one."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse_one()
            if f is not None:
                out.append(f)
                continue
            if self.eof or (first and out):
                return out
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], left)
            pending = self.tls and self.sock.pending()
            if not r and not pending:
                return out
            try:
                self._recv(1.0)
            except socket.timeout:
                return out

    def summary(self, n=25):
        fs = self.frames[-n:]
        more = "... %d frames before ...\n" % (len(self.frames) - n) if len(self.frames) > n else ""
        return "%s%s%s" % (more, "\n".join("  %r" % f for f in fs),
                           "\n  <closed by server>" if self.eof else "")

    def wait(self, pred, timeout=None, what="condition"):
        """Read frames until PRED() is true (checked first); fails at EOF
        or after TIMEOUT."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; frames:\n%s"
                                     % (what, self.summary()))
            f = self.read_frame(left)
            if f is None and not pred():
                raise ConnClosed("connection closed while waiting for %s; frames:\n%s"
                                 % (what, self.summary()))
        return True

    def handshake(self, timeout=None):
        """Wait for the server's SETTINGS, which must be its first frame;
        returns them as a dict."""
        self.wait(lambda: self.server_settings is not None, timeout, "the server's SETTINGS")
        first = self.frames[0]
        if first.type != SETTINGS or first.ack:
            raise AssertionError("the server's first frame is %r, not SETTINGS" % first)
        return self.server_settings

    def response(self, sid, timeout=None):
        """Wait until stream SID ends (END_STREAM or RST_STREAM); returns
        its RawStream."""
        st = self.stream(sid)
        self.wait(lambda: st.done, timeout, "the end of stream %d" % sid)
        return st

    def get(self, sid, path="/hello.txt", **kw):
        self.request(sid, path, **kw)
        return self.response(sid)

    def wait_goaway(self, timeout=None):
        """The first GOAWAY from the server (read until one comes)."""
        try:
            self.wait(lambda: self.goaways, timeout, "GOAWAY")
        except ConnClosed:
            raise AssertionError("the server closed without GOAWAY; frames:\n%s" % self.summary())
        return self.goaways[0]

    def read_until_close(self, timeout=None):
        """Read frames until the server closes; fails if it is still open
        after TIMEOUT."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open; frames:\n%s" % self.summary())
            try:
                self.read_frame(left)
            except AssertionError:
                if not self.eof:
                    raise AssertionError("connection still open; frames:\n%s" % self.summary())
        while self._parse_one() is not None:
            pass
        return self.frames

    def expect_connection_error(self, tc, code, timeout=None):
        """GOAWAY with CODE (an int or a set of them), then the close."""
        g = self.wait_goaway(timeout)
        codes = code if isinstance(code, (set, frozenset, tuple, list)) else {code}
        tc.assertIn(g.error, codes, "GOAWAY %s, expected %s; frames:\n%s" % (
            error_name(g.error), "/".join(error_name(c) for c in codes), self.summary()))
        self.read_until_close(timeout)
        return g

    def send_reading(self, data, chunk=65536):
        """Send DATA while reading what the server sends meanwhile (plain
        sockets only), so that neither side blocks on a full buffer.
        Stops early, returning False, if the server closes."""
        if self.tls:
            raise AssertionError("send_reading is for cleartext connections")
        pos = 0
        self.sock.setblocking(False)
        try:
            deadline = time.monotonic() + self.timeout * 3
            while pos < len(data):
                if time.monotonic() > deadline:
                    raise AssertionError("could not send %d bytes (sent %d)" % (len(data), pos))
                r, w, _ = select.select([self.sock], [self.sock], [], 1.0)
                if r:
                    try:
                        chunk_in = self.sock.recv(262144)
                    except (BlockingIOError, InterruptedError):
                        chunk_in = None
                    except (ConnectionResetError, BrokenPipeError):
                        chunk_in = b""
                    if chunk_in == b"":
                        self.eof = True
                        return False
                    if chunk_in:
                        self.bytes_in += len(chunk_in)
                        self.buf += chunk_in
                        while self._parse_one() is not None:
                            pass
                if w:
                    try:
                        pos += self.sock.send(data[pos:pos + chunk])
                    except (BlockingIOError, InterruptedError):
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        return False
            return True
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fill_windows(c, sids, cap, idle=1.0, chunk=16384):
    """Send DATA (never END_STREAM) on the open streams SIDS of RawH2 C
    for as long as loom's flow-control windows (its initial window and
    the WINDOW_UPDATEs it sends) allow: until CAP bytes in all, a GOAWAY
    or close, or no window for IDLE seconds.  Returns {sid: bytes sent}."""
    init = (c.server_settings or {}).get(SETTINGS_INITIAL_WINDOW_SIZE, 65535)
    sent = dict.fromkeys(sids, 0)
    opened = dict.fromkeys(sids, 0)
    conn_opened = 0
    seen = 0
    total = 0
    payload = b"u" * chunk
    while total < cap:
        c.poll(0)
        for f in c.frames[seen:]:
            if f.type == WINDOW_UPDATE:
                if f.stream == 0:
                    conn_opened += f.increment
                elif f.stream in opened:
                    opened[f.stream] += f.increment
        seen = len(c.frames)
        if c.eof or c.goaways:
            break
        progress = False
        for sid in sids:
            conn = 65535 + conn_opened - total
            n = min(init + opened[sid] - sent[sid], conn, chunk, cap - total)
            if n > 0 and c.stream(sid).rst is None:
                if not c.send(frame(DATA, 0, sid, payload[:n])):
                    return sent
                sent[sid] += n
                total += n
                progress = True
        if not progress and not c.poll(idle, first=True):
            break
    return sent


# ---- a client on python3-h2 -----------------------------------------------------

class H2Stream:
    def __init__(self, sid):
        self.id = sid
        self.status = None
        self.headers = None
        self.informational = []
        self.trailers = None
        self.body = bytearray()
        self.ended = False
        self.reset = None   # RST_STREAM error code from the server
        self.sent_all = False

    def get(self, name):
        vals = [v for n, v in (self.headers or []) if n == name]
        if len(vals) > 1:
            raise AssertionError("%s appears %d times: %r" % (name, len(vals), self.headers))
        return vals[0] if vals else None

    def has(self, name):
        return any(n == name for n, _ in (self.headers or []))

    @property
    def done(self):
        return self.ended or self.reset is not None

    def __repr__(self):
        return "<h2 stream %d status=%s ended=%s reset=%s body=%d headers=%r>" % (
            self.id, self.status, self.ended, error_name(self.reset), len(self.body), self.headers)


class H2Client:
    """HTTP/2 over python3-h2 on one connection (h2c prior knowledge, or
    TLS with ALPN h2).  WINDOW: our SETTINGS_INITIAL_WINDOW_SIZE; CONN_WINDOW:
    the connection receive window we open; auto_ack gives received data
    back as it arrives."""

    def __init__(self, port, tls=False, host="localhost", timeout=WAIT, window=None,
                 conn_window=None, auto_ack=True, settings=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            try:
                s = insecure_ctx(alpn=["h2"]).wrap_socket(s)
            except BaseException:
                s.close()
                raise
            if s.selected_alpn_protocol() != "h2":
                s.close()
                raise AssertionError("ALPN chose %r, not h2" % s.selected_alpn_protocol())
        self.sock = s
        self.tls = tls
        self.host = host
        self.timeout = timeout
        self.auto_ack = auto_ack
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=cfg)
        init = dict(settings or {})
        if window is not None:
            init[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = window
        if init:
            self.h2.local_settings = h2.settings.Settings(client=True, initial_values=init)
        self.h2.initiate_connection()
        if conn_window and conn_window > 65535:
            self.h2.increment_flow_control_window(conn_window - 65535)
        self.streams = {}
        self.terminated = None
        self.closed = False
        self.remote_settings = None
        self.ping_acks = []
        self.events = []
        self.flush()

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def _stream(self, sid):
        st = self.streams.get(sid)
        if st is None:
            st = self.streams[sid] = H2Stream(sid)
        return st

    def send_request(self, method, path, headers=(), body=None, end_stream=True, authority=None):
        """Open a stream: HEADERS, then BODY (with flow control) if given.
        END_STREAM False leaves the request body open.  Returns the id."""
        sid = self.h2.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https" if self.tls else "http"),
                (":authority", authority or self.host), (":path", path)] + list(headers)
        st = self._stream(sid)
        end = end_stream and not body
        self.h2.send_headers(sid, hdrs, end_stream=end)
        st.sent_all = end
        self.flush()
        if body:
            self.send_body(sid, body, end_stream)
        return sid

    def send_body(self, sid, data, end_stream=True):
        """Send DATA as the windows allow; returns False if the stream was
        closed by the server before all of it went."""
        st = self._stream(sid)
        view = memoryview(data)
        pos = 0
        deadline = time.monotonic() + self.timeout * 3
        while True:
            if st.reset is not None:
                return False
            try:
                window = self.h2.local_flow_control_window(sid)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                return False
            n = min(window, self.h2.max_outbound_frame_size, len(data) - pos)
            if n > 0 or pos == len(data):
                last = end_stream and pos + n == len(data)
                try:
                    self.h2.send_data(sid, bytes(view[pos:pos + n]), end_stream=last)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                    return False
                self.flush()
                self.drain()
                pos += n
                if pos == len(data):
                    st.sent_all = end_stream
                    return True
                continue
            if time.monotonic() > deadline:
                raise AssertionError("stream %d: window closed for good after %d bytes"
                                     % (sid, pos))
            if not self.pump(1.0) and self.closed:
                return False

    def end_stream(self, sid):
        self.h2.end_stream(sid)
        self._stream(sid).sent_all = True
        self.flush()

    def reset_stream(self, sid, code=CANCEL):
        self.h2.reset_stream(sid, error_code=code)
        self.flush()

    def ping(self, data):
        self.h2.ping(data)
        self.flush()

    def pump(self, timeout):
        """One read (up to TIMEOUT) and its events; False if nothing came."""
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            return False
        except ssl.SSLError as e:
            if "timed out" in str(e):
                return False
            data = b""
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            if self.terminated is not None:  # python3-h2 takes nothing after a GOAWAY
                self.closed = True
                return False
            raise AssertionError("the server broke HTTP/2 (python3-h2 says %r)" % e)
        for ev in events:
            self._event(ev)
        self.flush()
        return True

    def drain(self):
        """Take in whatever has already arrived, without waiting."""
        while not self.closed:
            r, _, _ = select.select([self.sock], [], [], 0)
            if not r and not (self.tls and self.sock.pending()):
                return
            if not self.pump(1.0):
                return

    def _event(self, ev):
        self.events.append(ev)
        if isinstance(ev, h2.events.ResponseReceived):
            st = self._stream(ev.stream_id)
            st.headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in ev.headers]
            st.status = int(st.get(":status"))
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            self._stream(ev.stream_id).informational.append(ev.headers)
        elif isinstance(ev, h2.events.TrailersReceived):
            self._stream(ev.stream_id).trailers = ev.headers
        elif isinstance(ev, h2.events.DataReceived):
            self._stream(ev.stream_id).body += ev.data
            if self.auto_ack and ev.flow_controlled_length:
                try:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                    pass
        elif isinstance(ev, h2.events.StreamEnded):
            self._stream(ev.stream_id).ended = True
        elif isinstance(ev, h2.events.StreamReset):
            self._stream(ev.stream_id).reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.terminated = ev
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            if self.remote_settings is None:
                self.remote_settings = {k: v.new_value for k, v in ev.changed_settings.items()}
        elif isinstance(ev, h2.events.PingAckReceived):
            self.ping_acks.append(ev.ping_data)

    def wait(self, pred, timeout=None, what="condition"):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s" % what)
            got = self.pump(min(left, 1.0))
            if not got and self.closed and not pred():
                raise ConnClosed("connection closed (GOAWAY %r) while waiting for %s"
                                 % (self.terminated, what))
        return True

    def response(self, sid, timeout=None):
        st = self._stream(sid)
        self.wait(lambda: st.done, timeout, "the end of stream %d (%r)" % (sid, st))
        return st

    def request(self, method, path, headers=(), body=None, authority=None, timeout=None):
        sid = self.send_request(method, path, headers, body, authority=authority)
        return self.response(sid, timeout)

    def get(self, path, headers=(), authority=None):
        return self.request("GET", path, headers, authority=authority)

    def close(self):
        try:
            if not self.closed and self.terminated is None:
                self.h2.close_connection()
                self.flush()
        except Exception:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def h2_get(port, path, tls=False, headers=(), host="localhost", method="GET"):
    """One request on a fresh H2Client connection."""
    with H2Client(port, tls=tls, host=host) as c:
        return c.request(method, path, headers)


def assert_h2_served(tc, port, path="/hello.txt", body=None, tls=False):
    """A fresh HTTP/2 connection is served (200, and BODY if given)."""
    r = h2_get(port, path, tls=tls)
    tc.assertEqual(r.status, 200, r)
    tc.assertTrue(r.ended, r)
    if body is not None:
        tc.assertEqual(bytes(r.body), body)
    return r


def assert_h2_response_headers(tc, headers):
    """RFC 9113 8.2: lower-case names, no connection-specific field,
    :status first and the only pseudo-field."""
    names = [n for n, _ in headers]
    tc.assertEqual(names[0], ":status", headers)
    tc.assertEqual([n for n in names if n.startswith(":")], [":status"], headers)
    for n in names:
        tc.assertEqual(n, n.lower(), headers)
        tc.assertNotIn(n, CONNECTION_SPECIFIC, headers)


# ---- h2c upgrade -------------------------------------------------------------------

def http2_settings_value(pairs=()):
    """The HTTP2-Settings value (base64url, no padding) of PAIRS."""
    payload = b"".join(struct.pack(">HI", k, v) for k, v in pairs)
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def upgrade_request(path="/hello.txt", method="GET", settings_value=None, host="localhost",
                    extra=(), body=b"", connection="Upgrade, HTTP2-Settings"):
    if settings_value is None:
        settings_value = http2_settings_value([(SETTINGS_INITIAL_WINDOW_SIZE, 65535)])
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host,
             "Connection: " + connection, "Upgrade: h2c", "HTTP2-Settings: " + settings_value]
    lines += ["%s: %s" % kv for kv in extra]
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_http1_head(sock, timeout=WAIT):
    """Read up to the end of one HTTP/1.1 head; returns (head, rest)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("closed before an HTTP/1.1 head; got %r" % data[:300])
        data += chunk
    i = data.index(b"\r\n\r\n") + 4
    return data[:i], data[i:]


# ---- external clients ----------------------------------------------------------------

class CurlH2:
    """curl's outcome: rc, version (%{http_version}: "2", "1.1"), status,
    blocks [(status line, [(name, value)])] for every header block, body,
    stderr."""

    def __init__(self, rc, out, head, body, stderr):
        self.rc = rc
        self.body = body
        self.stderr = stderr
        parts = out.decode(errors="replace").split()
        self.version = parts[0] if parts else None
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        self.blocks = []
        for block in re.split(rb"\r?\n\r?\n", head):
            lines = [l for l in block.decode("latin-1").splitlines() if l]
            if not lines:
                continue
            fields = []
            for l in lines[1:]:
                n, _, v = l.partition(":")
                fields.append((n.strip().lower(), v.strip()))
            self.blocks.append((lines[0], fields))
        self.headers = self.blocks[-1][1] if self.blocks else []

    def get(self, name):
        vals = [v for n, v in self.headers if n == name]
        return vals[0] if vals else None

    def __repr__(self):
        return "<curl rc=%s version=%s status=%s blocks=%r stderr=%r>" % (
            self.rc, self.version, self.status, self.blocks, self.stderr[-600:])


def curl_h2(url, args=(), out=None, timeout=WAIT * 3, check=True):
    """Run curl on URL with ARGS; -w gives the HTTP version and status.
    OUT: a file for the body (then .body is None)."""
    with tempfile.TemporaryDirectory(prefix="curlh2-") as tmp:
        hdr = os.path.join(tmp, "head")
        body_path = out or os.path.join(tmp, "body")
        cmd = [CURL, "-q", "--noproxy", "*", "-sS", "-D", hdr, "-o", body_path,
               "-w", "%{http_version} %{response_code}"] + list(args) + [url]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           env=_client_env())
        head = b""
        if os.path.exists(hdr):
            with open(hdr, "rb") as f:
                head = f.read()
        body = None
        if out is None:
            body = b""
            if os.path.exists(body_path):
                with open(body_path, "rb") as f:
                    body = f.read()
    r = CurlH2(p.returncode, p.stdout, head, body, p.stderr.decode(errors="replace"))
    if check and r.rc != 0:
        raise AssertionError("curl %s failed (%d): %s" % (url, r.rc, r.stderr))
    return r


def run_tool(cmd, timeout=WAIT * 6):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                          env=_client_env())


_H2LOAD_REQ = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                         r"(\d+) failed, (\d+) errored, (\d+) timeout")
_H2LOAD_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")


def h2load(url, n, c, m, extra=(), timeout=WAIT * 9):
    """Run h2load; returns (dict of the request counts and status codes,
    its whole output)."""
    p = run_tool(["h2load", "-n", str(n), "-c", str(c), "-m", str(m)] + list(extra) + [url],
                 timeout=timeout)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    m1 = _H2LOAD_REQ.search(out)
    m2 = _H2LOAD_STATUS.search(out)
    if not m1 or not m2:
        raise AssertionError("h2load output not understood (rc %d):\n%s" % (p.returncode, out))
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    res = dict(zip(keys, map(int, m1.groups())))
    res.update(zip(("2xx", "3xx", "4xx", "5xx"), map(int, m2.groups())))
    res["rc"] = p.returncode
    proto = re.search(r"Application protocol: (\S+)", out)
    res["protocol"] = proto.group(1) if proto else None
    return res, out


_SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")


def assert_no_sanitizer_report(tc, d):
    """Fail if loomd's log holds an ASan/UBSan report (called from
    tearDown or a cleanup).  If the test has already failed the report is
    only printed as TAP comments: loomtest's TAP output has one line per
    test."""
    log = d.log()
    m = _SANITIZER_REPORT.search(log)
    if not m:
        return
    text = "sanitizer report in loomd's log:\n" + log[max(0, m.start() - 200):m.start() + 4000]
    result = getattr(getattr(tc, "_outcome", None), "result", None)
    if result is not None and any(t is tc for t, _ in result.failures + result.errors):
        print("".join("# " + line + "\n" for line in text.splitlines()), end="", flush=True)
        return
    tc.fail(text)


def vmhwm_kb(pid):
    return int(loomtest.proc_status(pid)["VmHWM"].split()[0])
