"""RFC 9113 stream states, one table run over both transports (h2c prior
knowledge and TLS with ALPN h2), frames built with hyperframe (or byte
by byte where hyperframe refuses to build the fault):

  - DATA / HEADERS on a half-closed (remote) stream, on a closed one, on
    one the client reset: STREAM_CLOSED (5.1), of the stream or the
    connection;
  - HEADERS on a stream id lower than one already opened: connection
    error PROTOCOL_ERROR (5.1.1), even when nghttp2 would ignore it;
  - a handler that answered before the request body (the static handler's
    405, a return location's 200) still lets the session check what
    follows on that stream: invalid padding (6.1), content-length against
    the DATA (8.1.1), pseudo-fields in trailers (8.1), a WINDOW_UPDATE that
    overflows the stream's window (6.9.1).  Each offending frame is sent
    only after the complete answer has been read, so it arrives in a read
    of its own (over TLS, a record of its own).

After every case the connection (stream error) or a fresh one
(connection error) is served.  The shared cleartext port's handling of
bytes that are neither a preface nor an HTTP/1.1 request is checked at
the end."""

import socket
import struct
import unittest

from hyperframe.frame import DataFrame, HeadersFrame, RstStreamFrame, WindowUpdateFrame

import loomtest
from loomtest import own
from httptest import case, HttpD, location, static_server
from h2test import (assert_h2_served, assert_no_sanitizer_report, DATA,
                    FLOW_CONTROL_ERROR, frame, GOAWAY, header_block, PADDED,
                    PROTOCOL_ERROR, RawH2, SETTINGS_INITIAL_WINDOW_SIZE,
                    STREAM_CLOSED)

HELLO = b"Hello, world\n"
CANCEL = 0x8


# ---- frames (hyperframe) ------------------------------------------------------------

def hf_headers(sid, headers, end_stream=True):
    f = HeadersFrame(sid, header_block(headers))
    f.flags.add("END_HEADERS")
    if end_stream:
        f.flags.add("END_STREAM")
    return f.serialize()


def hf_data(sid, data, end_stream=False, pad=None):
    f = DataFrame(sid, data)
    if end_stream:
        f.flags.add("END_STREAM")
    if pad is not None:
        f.flags.add("PADDED")
        f.pad_length = pad
    return f.serialize()


def hf_rst(sid, code):
    return RstStreamFrame(sid, error_code=code).serialize()


def hf_window_update(sid, inc):
    return WindowUpdateFrame(sid, window_increment=inc).serialize()


def bad_padding(sid, data):
    """DATA whose pad length is the whole rest of the payload (6.1: a
    connection error PROTOCOL_ERROR); hyperframe will not build it."""
    return frame(DATA, PADDED, sid, bytes([len(data) + 1]) + data)


def trailers(sid, fields):
    return hf_headers(sid, fields, end_stream=True)


# ---- how a case gets its stream into the state under test ---------------------------

def half_closed_remote(c, path):
    """GET BIG while our window is 0: the request is complete (half-closed
    (remote) for the server), the response cannot finish."""
    c.request(1, "/big.bin")
    st = c.stream(1)
    c.wait(lambda: st.headers is not None, what="the response head")
    return 1


def closed(c, path):
    st = c.get(1, "/hello.txt")
    assert st.status == 200, st
    return 1


def client_reset(c, path):
    c.request(1, "/echo", method="POST", end_stream=False)
    c.send(hf_data(1, b"some") + hf_rst(1, CANCEL))
    c.poll(0.1)
    return 1


def answered_early(c, path, cl=None):
    """POST PATH with the body still to come; wait for the complete
    answer (405 from the static handler, 200 from the return location)."""
    extra = [("content-length", str(cl))] if cl is not None else []
    c.request(1, path, method="POST", extra=extra, end_stream=False)
    st = c.stream(1)
    c.wait(lambda: st.ended or st.rst is not None, what="the early answer")
    assert st.status in (200, 405) and st.rst is None, st
    return 1


def answered_early_cl5(c, path):
    return answered_early(c, path, cl=5)


def higher_stream_served(c, path):
    st = c.get(5, "/hello.txt")
    assert st.status == 200, st
    return 3


def higher_stream_open(c, path):
    c.request(5, "/echo", method="POST", end_stream=False)
    c.poll(0.1)
    return 3


# ---- the table ------------------------------------------------------------------------
# name, settings for the client, state(c, path) -> sid, offending bytes(sid),
# where the error may be ("stream": RST_STREAM or GOAWAY, "connection": GOAWAY),
# the codes allowed.

STREAM, CONNECTION = "stream", "connection"
HEAD_OK = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
           (":path", "/hello.txt")]

TABLE = [
    ("DATA on half-closed (remote)", [(SETTINGS_INITIAL_WINDOW_SIZE, 0)], half_closed_remote,
     lambda sid: hf_data(sid, b"late"), STREAM, {STREAM_CLOSED}),
    ("HEADERS on half-closed (remote)", [(SETTINGS_INITIAL_WINDOW_SIZE, 0)], half_closed_remote,
     lambda sid: trailers(sid, [("x-late", "1")]), STREAM, {STREAM_CLOSED}),
    ("DATA on a closed stream", (), closed,
     lambda sid: hf_data(sid, b"late"), STREAM, {STREAM_CLOSED}),
    ("HEADERS on a closed stream", (), closed,
     lambda sid: hf_headers(sid, HEAD_OK), STREAM, {STREAM_CLOSED}),
    ("DATA after the client's RST_STREAM", (), client_reset,
     lambda sid: hf_data(sid, b"late"), STREAM, {STREAM_CLOSED}),
    ("HEADERS after the client's RST_STREAM", (), client_reset,
     lambda sid: trailers(sid, [("x-late", "1")]), STREAM, {STREAM_CLOSED}),
    ("HEADERS on a lower stream id (served)", (), higher_stream_served,
     lambda sid: hf_headers(sid, HEAD_OK), CONNECTION, {PROTOCOL_ERROR}),
    ("HEADERS on a lower stream id (open)", (), higher_stream_open,
     lambda sid: hf_headers(sid, HEAD_OK), CONNECTION, {PROTOCOL_ERROR}),
    ("early answer, then bad padding", (), answered_early,
     lambda sid: bad_padding(sid, b"abcd"), CONNECTION, {PROTOCOL_ERROR}),
    ("early answer, then more than content-length", (), answered_early_cl5,
     lambda sid: hf_data(sid, b"0123456789", end_stream=True), STREAM, {PROTOCOL_ERROR}),
    ("early answer, then less than content-length", (), answered_early_cl5,
     lambda sid: hf_data(sid, b"012", end_stream=True), STREAM, {PROTOCOL_ERROR}),
    ("early answer, then a pseudo-field in trailers", (), answered_early,
     lambda sid: hf_data(sid, b"abc") + trailers(sid, [(":path", "/x")]), STREAM,
     {PROTOCOL_ERROR}),
    ("early answer, then a stream window overflow", (), answered_early,
     lambda sid: hf_window_update(sid, 0x7fffffff), STREAM, {FLOW_CONTROL_ERROR}),
]

# the early answers come from two handlers
EARLY_PATHS = ("/hello.txt", "/ret")


class StreamStates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        locs = (location("/echo", {"handler": '"echo"'}) +
                location("= /ret", {"handler": '"return"', "status": "200",
                                    "body": '"returned\\n"'}))
        cls.d = own(cls, HttpD(static_server(extra_locations=locs), tls=True,
                               tree={"www/hello.txt": HELLO, "www/big.bin": b"B" * (1 << 20)}))
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def run_case(self, tls, name, settings, state, offend, where, codes, path):
        port = self.d.tls_port if tls else self.d.port
        c = RawH2(port, tls=tls, settings=settings, auto_window=not settings)
        self.addCleanup(c.close)
        c.handshake()
        sid = state(c, path)
        c.send(offend(sid))
        st = c.stream(sid)
        c.wait(lambda: (where == STREAM and st.rst is not None) or c.goaways,
               what="the error for: %s" % name)
        if c.goaways:
            g = c.goaways[0]
            self.assertIn(g.error, codes, "%s: GOAWAY %r\n%s" % (name, g, c.summary()))
            c.read_until_close()
        else:
            self.assertIn(st.rst, codes, "%s: RST_STREAM %r\n%s" % (name, st, c.summary()))
            # a stream error: the connection goes on
            nxt = max(c.streams) + 2
            st2 = c.get(nxt, "/hello.txt")
            self.assertEqual((st2.status, bytes(st2.body)), (200, HELLO), st2)
            self.assertEqual(c.goaways, [], c.summary())
        c.close()
        assert_h2_served(self, port, body=HELLO, tls=tls)
        return c

    def run_table(self, tls):
        for name, settings, state, offend, where, codes in TABLE:
            paths = EARLY_PATHS if state in (answered_early, answered_early_cl5) else (None,)
            for path in paths:
                with case(tls=tls, case=name, path=path):
                    self.run_case(tls, name, settings, state, offend, where, codes, path)

    def test_table_h2c(self):
        self.run_table(False)

    def test_table_tls(self):
        self.run_table(True)

    def test_lower_stream_id_in_one_write(self):
        """HEADERS 5 and HEADERS 3 in one write: 5 is served (or at least
        processed: GOAWAY names it), 3 never is."""
        for tls in (False, True):
            with case(tls=tls):
                port = self.d.tls_port if tls else self.d.port
                c = RawH2(port, tls=tls)
                self.addCleanup(c.close)
                c.handshake()
                c.send(hf_headers(5, HEAD_OK) + hf_headers(3, HEAD_OK))
                g = c.expect_connection_error(self, PROTOCOL_ERROR)
                self.assertEqual(g.last_stream, 5, c.summary())
                self.assertIsNone(c.stream(3).headers, c.summary())
                c.close()
                assert_h2_served(self, port, body=HELLO, tls=tls)

    def test_early_answer_body_within_content_length_is_fine(self):
        """The answered stream's body, correct this time, ends the stream
        with no error, and the connection goes on."""
        for tls in (False, True):
            for path in EARLY_PATHS:
                with case(tls=tls, path=path):
                    port = self.d.tls_port if tls else self.d.port
                    c = RawH2(port, tls=tls)
                    self.addCleanup(c.close)
                    c.handshake()
                    answered_early(c, path, cl=5)
                    c.send(hf_data(1, b"01234", end_stream=True))
                    st = c.get(3, "/hello.txt")
                    self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
                    self.assertIn(c.stream(1).rst, (None, 0), c.summary())
                    self.assertEqual(c.goaways, [], c.summary())


class SharedCleartextPort(unittest.TestCase):
    """The cleartext port serves HTTP/1.1 and h2c.  Bytes that begin as
    the HTTP/2 preface's request line but go on wrong are an HTTP/2
    client's: GOAWAY PROTOCOL_ERROR and a close.  Anything else that is
    not a request is HTTP/1.1's: 400 and a close."""

    @classmethod
    def setUpClass(cls):
        cls.d = own(cls, HttpD(static_server(), tree={"www/hello.txt": HELLO}))
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def exchange(self, data):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=loomtest.WAIT)
        self.addCleanup(s.close)
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out

    def test_broken_preface_gets_goaway(self):
        for tail in (b"XX\r\n\r\n", b"SM\r\n\r\r", b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"):
            with case(tail=tail):
                out = self.exchange(b"PRI * HTTP/2.0\r\n\r\n" + tail)
                # the server's SETTINGS, then GOAWAY PROTOCOL_ERROR
                frames = []
                while len(out) >= 9:
                    n = struct.unpack(">I", b"\0" + out[:3])[0]
                    frames.append((out[3], out[9:9 + n]))
                    out = out[9 + n:]
                goaways = [p for t, p in frames if t == GOAWAY]
                self.assertEqual(len(goaways), 1, frames)
                self.assertEqual(struct.unpack(">I", goaways[0][4:8])[0], PROTOCOL_ERROR)

    def test_other_garbage_gets_400(self):
        for data in (b"\x00\x00\x12\x04\x00\x00\x00\x00\x00" + b"\x00" * 18,
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                     b"HELLO THERE\r\n\r\n", b"GET / HTTP/9.9 extra\r\n\r\n"):
            with case(data=data[:16]):
                out = self.exchange(data)
                self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:200])
        assert_h2_served(self, self.d.port, body=HELLO)


if __name__ == "__main__":
    loomtest.main()
