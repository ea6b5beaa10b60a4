"""HTTP/2 conformance with frames built byte by byte (the kinds of h2spec):
the server's SETTINGS and connection window, PING, connection errors with
their RFC 9113 codes (frame sizes, HPACK, idle and closed streams, SETTINGS
values, WINDOW_UPDATE, stream ids, a bad preface after ALPN h2), malformed
requests that only reset their stream (RFC 9113 section 8), response
header rules, and the header limits (max_headers, max_header_size).
After every connection error loomd serves a fresh connection."""

import struct
import unittest

import loomtest
from loomtest import own
from httptest import case, HttpD, location, static_server
from h2test import (assert_h2_response_headers, assert_h2_served, assert_no_sanitizer_report,
                    COMPRESSION_ERROR, CONTINUATION, DATA, END_HEADERS, END_STREAM, fill_windows,
                    FLOW_CONTROL_ERROR, frame, FRAME_SIZE_ERROR, GOAWAY, header_block, HEADERS,
                    NO_ERROR, PING, ping_frame, PRIORITY, PROTOCOL_ERROR, RawH2, request_headers,
                    rst_frame, RST_STREAM, SETTINGS, SETTINGS_ENABLE_PUSH, settings_frame,
                    SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_CONCURRENT_STREAMS,
                    SETTINGS_MAX_FRAME_SIZE, SETTINGS_MAX_HEADER_LIST_SIZE, STREAM_CLOSED,
                    WINDOW_UPDATE, window_update_frame)

HELLO = b"Hello, world\n"


def start(cls, opts=""):
    locs = (location("/echo", {"handler": '"echo"'}) +
            location("/bigecho", {"handler": '"echo"', "max_body": '"1G"'}))
    cls.d = own(cls, HttpD(static_server(extra_locations=locs), tls=True, opts=opts,
                           tree={"www/hello.txt": HELLO, "www/big.bin": b"B" * (1 << 20)}))
    cls.d.start()


class Conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start(cls)

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def conn(self, **kw):
        c = RawH2(self.d.port, **kw)
        self.addCleanup(c.close)
        return c

    def connection_error(self, data, code, before=None):
        """On a fresh connection (handshake done, then BEFORE, a callable
        given the connection): DATA gets GOAWAY with CODE and a close;
        then a new connection is served."""
        c = self.conn()
        c.handshake()
        if before:
            before(c)
        c.send(data)
        g = c.expect_connection_error(self, code)
        c.close()
        assert_h2_served(self, self.d.port, body=HELLO)
        return g

    def stream_error(self, headers=None, block=None, code=PROTOCOL_ERROR, then=b"",
                     end_stream=True, head_allowed=False):
        """A request with HEADERS (or a raw BLOCK) on stream 1 is reset
        with CODE; the connection goes on: stream 3 is served.
        HEAD_ALLOWED: the error is in the body, so a response head may
        have gone out before the reset."""
        c = self.conn()
        c.handshake()
        if block is None:
            block = header_block(headers)
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        c.send(frame(HEADERS, flags, 1, block) + then)
        st = c.response(1)
        self.assertEqual(st.rst, code, "stream 1: %r\n%s" % (st, c.summary()))
        if not head_allowed:
            self.assertIsNone(st.headers, st)
        st = c.get(3, "/hello.txt")
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
        self.assertEqual(c.goaways, [], c.summary())

    # ---- the server's side of the handshake -----------------------------------------

    def test_server_settings(self):
        c = self.conn()
        s = c.handshake()
        self.assertEqual(s.get(SETTINGS_MAX_CONCURRENT_STREAMS), 128, s)
        self.assertEqual(s.get(SETTINGS_INITIAL_WINDOW_SIZE), 256 * 1024, s)
        self.assertEqual(s.get(SETTINGS_MAX_HEADER_LIST_SIZE), 32 * 1024, s)
        self.assertEqual(s.get(SETTINGS_ENABLE_PUSH), 0, s)
        c.wait(lambda: any(f.type == WINDOW_UPDATE for f in c.frames), what="WINDOW_UPDATE")
        wu = [f for f in c.frames if f.type == WINDOW_UPDATE][0]
        self.assertEqual((wu.stream, wu.increment), (0, 4 * 1024 * 1024 - 65535), c.summary())
        # our SETTINGS are acknowledged
        c.wait(lambda: any(f.type == SETTINGS and f.ack for f in c.frames), what="SETTINGS ACK")

    def test_tls_alpn_h2_settings(self):
        c = RawH2(self.d.tls_port, tls=True)
        self.addCleanup(c.close)
        self.assertEqual(c.alpn, "h2")
        s = c.handshake()
        self.assertEqual(s.get(SETTINGS_MAX_CONCURRENT_STREAMS), 128, s)
        st = c.get(1, "/hello.txt")
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)

    def test_ping_ack_same_payload(self):
        c = self.conn()
        c.handshake()
        for payload in (b"\x00\x01\x02\x03\x04\x05\x06\x07", b"loomPING"):
            with case(payload=payload):
                c.send(ping_frame(payload))
                c.wait(lambda: any(f.type == PING and f.ack and f.payload == payload
                                   for f in c.frames), what="PING ACK")
                acks = [f for f in c.frames if f.type == PING and f.payload == payload]
                self.assertEqual(len(acks), 1, c.summary())
                self.assertEqual(acks[0].stream, 0)
        # a PING ACK from the client is not answered
        c.send(ping_frame(b"fromclnt", ack=True) + ping_frame(b"after-ak"))
        c.wait(lambda: any(f.type == PING and f.payload == b"after-ak" for f in c.frames),
               what="PING ACK")
        self.assertEqual([f for f in c.frames if f.payload == b"fromclnt"], [], c.summary())

    def test_response_headers(self):
        c = self.conn()
        c.handshake()
        st = c.get(1, "/hello.txt", extra=[("te", "trailers")])
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
        assert_h2_response_headers(self, st.headers)
        self.assertEqual(st.get("content-length"), str(len(HELLO)), st)
        self.assertIsNotNone(st.get("date"), st)
        self.assertIsNotNone(st.get("server"), st)

    def test_unknown_frame_and_setting_ignored(self):
        c = self.conn()
        c.handshake()
        c.send(frame(0xfa, 0xff, 0, b"whatever") + settings_frame([(0x99, 12345)]))
        st = c.get(1, "/hello.txt")
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
        self.assertEqual(c.goaways, [], c.summary())

    def test_data_frame_of_max_size_accepted(self):
        c = self.conn()
        c.handshake()
        body = bytes(range(256)) * 64   # 16384
        c.request(1, "/echo", method="POST", extra=[("content-length", "16384")],
                  end_stream=False)
        c.send(frame(DATA, END_STREAM, 1, body))
        st = c.response(1)
        self.assertEqual((st.status, bytes(st.body)), (200, body), st)

    # ---- connection errors ---------------------------------------------------------------

    def test_data_frame_too_large(self):
        def open_stream(c):
            c.request(1, "/echo", method="POST", end_stream=False)
        self.connection_error(frame(DATA, 0, 1, b"x" * 16385), FRAME_SIZE_ERROR, open_stream)

    def test_headers_frame_too_large(self):
        block = header_block(request_headers("/hello.txt", extra=[("x-big", "b" * 16400)]))
        self.connection_error(frame(HEADERS, END_STREAM | END_HEADERS, 1, block),
                              FRAME_SIZE_ERROR)

    def test_bad_hpack_index_zero(self):
        self.connection_error(frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                    header_block(request_headers()) + b"\x80"),
                              COMPRESSION_ERROR)

    def test_bad_hpack_index_beyond_table(self):
        # indexed field 200: the static table has 61 entries, the dynamic one none
        self.connection_error(frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                    header_block(request_headers()) + b"\xff\x49"),
                              COMPRESSION_ERROR)

    def test_bad_hpack_truncated_literal(self):
        block = header_block(request_headers()) + b"\x00\x05x-abc\x7f\x10abc"  # value cut
        self.connection_error(frame(HEADERS, END_STREAM | END_HEADERS, 1, block),
                              COMPRESSION_ERROR)

    def test_data_on_idle_stream(self):
        self.connection_error(frame(DATA, END_STREAM, 1, b"hello"), PROTOCOL_ERROR)

    def test_rst_stream_on_idle_stream(self):
        self.connection_error(rst_frame(1, 8), PROTOCOL_ERROR)

    def test_window_update_on_idle_stream(self):
        self.connection_error(window_update_frame(5, 100), PROTOCOL_ERROR)

    def test_data_on_half_closed_stream(self):
        """DATA after END_STREAM while the response is still going (our
        window holds it back): STREAM_CLOSED, of the stream or the
        connection (RFC 9113 5.1, half-closed (remote))."""
        c = self.conn(auto_window=False, settings=[(SETTINGS_INITIAL_WINDOW_SIZE, 0)])
        c.handshake()
        c.request(1, "/big.bin")
        st = c.stream(1)
        c.wait(lambda: st.headers is not None, what="the response head")
        c.send(frame(DATA, 0, 1, b"late"))
        c.wait(lambda: st.rst is not None or c.goaways, what="STREAM_CLOSED")
        code = st.rst if st.rst is not None else c.goaways[0].error
        self.assertEqual(code, STREAM_CLOSED, c.summary())
        c.close()
        assert_h2_served(self, self.d.port, body=HELLO)

    def test_data_on_closed_stream(self):
        """DATA on a stream both sides have closed: RFC 9113 5.1 lets the
        server ignore it or end the connection (STREAM_CLOSED, or
        PROTOCOL_ERROR); either way the next stream or connection is
        served."""
        c = self.conn()
        c.handshake()
        st = c.get(1, "/hello.txt")
        self.assertEqual(st.status, 200, st)
        c.send(frame(DATA, 0, 1, b"late"))
        c.request(3, "/hello.txt")
        st = c.stream(3)
        c.wait(lambda: st.done or c.goaways, what="stream 3 or GOAWAY")
        if c.goaways:
            self.assertIn(c.goaways[0].error, (STREAM_CLOSED, PROTOCOL_ERROR), c.summary())
            c.read_until_close()
        else:
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
        c.close()
        assert_h2_served(self, self.d.port, body=HELLO)

    def test_headers_on_stream_zero(self):
        self.connection_error(frame(HEADERS, END_STREAM | END_HEADERS, 0,
                                    header_block(request_headers())), PROTOCOL_ERROR)

    def test_headers_on_even_stream(self):
        self.connection_error(frame(HEADERS, END_STREAM | END_HEADERS, 2,
                                    header_block(request_headers())), PROTOCOL_ERROR)

    def test_stream_id_going_down(self):
        """HEADERS on stream 3 after stream 5: never served (RFC 9113
        5.1.1 asks for PROTOCOL_ERROR; stream 3 is also closed, whose
        frames 5.1 lets a server ignore)."""
        c = self.conn()
        c.handshake()
        st = c.get(5, "/hello.txt")
        self.assertEqual(st.status, 200, st)
        c.request(3, "/hello.txt")
        c.send(ping_frame(b"after-3!"))
        st3 = c.stream(3)
        c.wait(lambda: c.goaways or any(f.type == PING and f.payload == b"after-3!"
                                        for f in c.frames), what="GOAWAY or PING ACK")
        c.poll(0.2)
        self.assertIsNone(st3.headers, "stream 3 was served after stream 5: %r" % st3)
        if c.goaways:
            self.assertIn(c.goaways[0].error, (PROTOCOL_ERROR, STREAM_CLOSED), c.summary())
        else:
            print("# HEADERS on a lower stream id: ignored (no PROTOCOL_ERROR)", flush=True)
        c.close()
        assert_h2_served(self, self.d.port, body=HELLO)

    def test_continuation_without_headers(self):
        self.connection_error(frame(CONTINUATION, END_HEADERS, 1, header_block(request_headers())),
                              PROTOCOL_ERROR)

    def test_other_frame_inside_header_block(self):
        out = (frame(HEADERS, END_STREAM, 1, header_block(request_headers())) +
               ping_frame(b"12345678"))
        self.connection_error(out, PROTOCOL_ERROR)

    def test_settings_enable_push_2(self):
        self.connection_error(settings_frame([(SETTINGS_ENABLE_PUSH, 2)]), PROTOCOL_ERROR)

    def test_settings_initial_window_too_large(self):
        self.connection_error(settings_frame([(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 31)]),
                              FLOW_CONTROL_ERROR)

    def test_settings_max_frame_size_too_small(self):
        self.connection_error(settings_frame([(SETTINGS_MAX_FRAME_SIZE, 100)]), PROTOCOL_ERROR)

    def test_settings_max_frame_size_too_large(self):
        self.connection_error(settings_frame([(SETTINGS_MAX_FRAME_SIZE, 1 << 24)]),
                              PROTOCOL_ERROR)

    def test_settings_length_not_multiple_of_6(self):
        self.connection_error(frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00"), FRAME_SIZE_ERROR)

    def test_settings_ack_with_payload(self):
        self.connection_error(frame(SETTINGS, 1, 0, struct.pack(">HI", 3, 100)), FRAME_SIZE_ERROR)

    def test_settings_on_a_stream(self):
        self.connection_error(frame(SETTINGS, 0, 1, b""), PROTOCOL_ERROR)

    def test_ping_wrong_length(self):
        self.connection_error(frame(PING, 0, 0, b"1234567"), FRAME_SIZE_ERROR)
        self.connection_error(frame(PING, 0, 0, b"123456789"), FRAME_SIZE_ERROR)

    def test_ping_on_a_stream(self):
        self.connection_error(frame(PING, 0, 1, b"12345678"), PROTOCOL_ERROR)

    def test_window_update_zero(self):
        self.connection_error(window_update_frame(0, 0), PROTOCOL_ERROR)

    def test_window_update_wrong_length(self):
        self.connection_error(frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"), FRAME_SIZE_ERROR)

    def test_connection_window_overflow(self):
        self.connection_error(window_update_frame(0, 0x7fffffff), FLOW_CONTROL_ERROR)

    def test_goaway_on_a_stream(self):
        self.connection_error(frame(GOAWAY, 0, 1, struct.pack(">II", 0, 0)), PROTOCOL_ERROR)

    def test_rst_stream_wrong_length(self):
        def open_stream(c):
            c.request(1, "/echo", method="POST", end_stream=False)
        self.connection_error(frame(RST_STREAM, 0, 1, b"\x00\x00\x00"), FRAME_SIZE_ERROR,
                              open_stream)

    def test_priority_wrong_length(self):
        """RFC 9113 6.3: a stream error FRAME_SIZE_ERROR (a connection
        error is allowed too: 5.4)."""
        c = self.conn()
        c.handshake()
        c.send(frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00"))
        st = c.stream(1)
        c.wait(lambda: st.rst is not None or c.goaways, what="FRAME_SIZE_ERROR")
        code = st.rst if st.rst is not None else c.goaways[0].error
        self.assertEqual(code, FRAME_SIZE_ERROR, c.summary())
        c.close()
        assert_h2_served(self, self.d.port, body=HELLO)

    def test_garbage_instead_of_preface_tls(self):
        """ALPN h2, then an HTTP/1.1 request instead of the preface."""
        c = RawH2(self.d.tls_port, tls=True, preface=False)
        self.addCleanup(c.close)
        self.assertEqual(c.alpn, "h2")
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        g = c.wait_goaway()
        self.assertEqual(g.error, PROTOCOL_ERROR, c.summary())
        c.read_until_close()
        assert_h2_served(self, self.d.tls_port, body=HELLO, tls=True)

    def test_client_goaway_then_close(self):
        """A client's GOAWAY, then its close: nothing breaks."""
        c = self.conn()
        c.handshake()
        st = c.get(1, "/hello.txt")
        self.assertEqual(st.status, 200)
        c.send(frame(GOAWAY, 0, 0, struct.pack(">II", 0, NO_ERROR)))
        c.poll(0.2)
        for g in c.goaways:   # loom may answer with its own GOAWAY, without an error
            self.assertEqual(g.error, NO_ERROR, c.summary())
        c.close()
        assert_h2_served(self, self.d.port, body=HELLO)

    # ---- malformed requests: stream errors ---------------------------------------------

    def test_uppercase_field_name(self):
        self.stream_error(request_headers(extra=[("X-Upper", "1")]))

    def test_missing_path(self):
        self.stream_error([(":method", "GET"), (":scheme", "http"), (":authority", "localhost")])

    def test_connection_specific_field(self):
        self.stream_error(request_headers(extra=[("connection", "keep-alive")]))

    def test_malformed_requests(self):
        h = request_headers
        cases = {
            "missing :method": [(":scheme", "http"), (":authority", "localhost"),
                                (":path", "/hello.txt")],
            "missing :scheme": [(":method", "GET"), (":authority", "localhost"),
                                (":path", "/hello.txt")],
            "empty :path": [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                            (":path", "")],
            "pseudo after regular": [(":method", "GET"), (":scheme", "http"),
                                     ("x-a", "1"), (":path", "/hello.txt")],
            "unknown pseudo": h(extra=[]) + [(":foo", "bar")],
            "duplicate :path": h() + [(":path", "/other")],
            "response pseudo": h() + [(":status", "200")],
            "keep-alive": h(extra=[("keep-alive", "timeout=5")]),
            "transfer-encoding": h(extra=[("transfer-encoding", "chunked")]),
            "upgrade": h(extra=[("upgrade", "h2c")]),
            "proxy-connection": h(extra=[("proxy-connection", "keep-alive")]),
            "te gzip": h(extra=[("te", "gzip")]),
        }
        for name, headers in cases.items():
            with case(malformed=name):
                self.stream_error(headers)

    def test_content_length_mismatch(self):
        for sent, cl in ((b"12345", "10"), (b"0123456789abc", "10")):
            with case(sent=len(sent), content_length=cl):
                self.stream_error(request_headers("/echo", "POST",
                                                  extra=[("content-length", cl)]),
                                  end_stream=False, then=frame(DATA, END_STREAM, 1, sent),
                                  head_allowed=True)

    def test_te_trailers_accepted(self):
        c = self.conn()
        c.handshake()
        st = c.get(1, "/hello.txt", extra=[("te", "trailers")])
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)

    # ---- header limits -------------------------------------------------------------------

    def test_max_headers_431(self):
        c = self.conn()
        c.handshake()
        st = c.get(1, "/hello.txt", extra=[("x-f%d" % i, str(i)) for i in range(100)])
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)   # 100 fields: the limit
        st = c.get(3, "/hello.txt", extra=[("x-f%d" % i, str(i)) for i in range(101)])
        self.assertEqual(st.status, 431, st)
        st = c.get(5, "/hello.txt")
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)

    def test_header_list_over_max_header_size(self):
        """A 40K field in HEADERS + CONTINUATION (3 frames): over 32K, so
        431, a reset, or a connection error; 20K is fine."""
        c = self.conn()
        c.handshake()
        st = c.get(1, "/hello.txt", extra=[("x-big", "v" * 20000)])
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
        block = header_block(request_headers(extra=[("x-big", "v" * 40000)]))
        parts = [block[i:i + 16000] for i in range(0, len(block), 16000)]
        out = frame(HEADERS, END_STREAM, 3, parts[0])
        for i, p in enumerate(parts[1:], 1):
            out += frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, 3, p)
        c.send(out)
        st = c.stream(3)
        c.wait(lambda: st.done or c.goaways or st.headers is not None, what="stream 3 refused")
        if st.headers is not None:
            self.assertEqual(st.status, 431, st)
        elif st.rst is None:
            self.assertNotEqual(c.goaways[0].error, NO_ERROR, c.summary())
        c.close()
        assert_h2_served(self, self.d.port, body=HELLO)


class ConfiguredSettings(unittest.TestCase):
    """The SETTINGS and window follow h2_max_streams, h2_window,
    h2_connection_window and max_header_size."""

    @classmethod
    def setUpClass(cls):
        start(cls, opts='h2_max_streams = 7\nh2_window = "100K"\n'
                        'h2_connection_window = "1M"\nmax_header_size = "2K"\n')

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def test_settings_follow_config(self):
        with RawH2(self.d.port) as c:
            s = c.handshake()
            self.assertEqual(s.get(SETTINGS_MAX_CONCURRENT_STREAMS), 7, s)
            self.assertEqual(s.get(SETTINGS_INITIAL_WINDOW_SIZE), 100 * 1024, s)
            self.assertEqual(s.get(SETTINGS_MAX_HEADER_LIST_SIZE), 2048, s)
            self.assertEqual(s.get(SETTINGS_ENABLE_PUSH), 0, s)
            c.wait(lambda: any(f.type == WINDOW_UPDATE for f in c.frames), what="WINDOW_UPDATE")
            wu = [f for f in c.frames if f.type == WINDOW_UPDATE][0]
            self.assertEqual((wu.stream, wu.increment), (0, (1 << 20) - 65535), c.summary())

    def test_request_body_beyond_window(self):
        """The echo's answer is never read (our 64K window stays shut), so
        the echo stops taking the body in and loom must stop reopening
        the windows (h2_window 100K, h2_connection_window 1M; max_body
        1G is not what stops it): a client
        that sends 16K more than it was given commits a FLOW_CONTROL_ERROR
        (of the stream or the connection)."""
        with RawH2(self.d.port, auto_window=False) as c:
            c.handshake()
            c.request(1, "/bigecho", method="POST", end_stream=False)
            sent = fill_windows(c, [1], cap=16 << 20)[1]
            print("# request body let in with the answer unread: %d bytes" % sent, flush=True)
            self.assertEqual(c.goaways, [], c.summary())
            self.assertLess(sent, 4 << 20, "loom kept reopening the window while the echo "
                            "could not send: %d bytes let in" % sent)
            c.send(frame(DATA, 0, 1, b"w" * 16384))
            st = c.stream(1)
            c.wait(lambda: st.rst is not None or c.goaways, what="a flow-control error")
            code = st.rst if st.rst is not None else c.goaways[0].error
            self.assertEqual(code, FLOW_CONTROL_ERROR, c.summary())

    def test_small_max_header_size(self):
        with RawH2(self.d.port) as c:
            c.handshake()
            st = c.get(1, "/hello.txt", extra=[("x-a", "a" * 1000)])
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
            c.request(3, "/hello.txt", extra=[("x-a", "a" * 3000)])
            st = c.stream(3)
            c.wait(lambda: st.done or c.goaways or st.headers is not None, what="stream 3 refused")
            if st.headers is not None:
                self.assertEqual(st.status, 431, st)
            elif st.rst is None:
                self.assertNotEqual(c.goaways[0].error, NO_ERROR, c.summary())


if __name__ == "__main__":
    loomtest.main()
