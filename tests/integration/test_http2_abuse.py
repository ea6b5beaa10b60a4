"""HTTP/2 abuse, each limit of loom.conf(5) "HTTP/2" on its own: rapid
reset (CVE-2023-44487), CONTINUATION floods with and without payload
(CVE-2024-28182), HPACK bombs through the dynamic table, SETTINGS, PING
and empty-DATA floods (ENHANCE_YOUR_CALM; WINDOW_UPDATE not counted),
streams beyond h2_max_streams (REFUSED_STREAM), and 100 streams of a
100 MiB file that the client never gives window to, or never reads at
all: loomd's memory stays bounded and other clients are served.  Every
case ends by checking that loomd still serves new connections."""

import os
import struct
import time
import unittest

import loomtest
from loomtest import own, WAIT
from httptest import (curl_fetch, HttpD, location, rss_kb, RssSampler, static_server)
from h2test import (assert_h2_served, assert_no_sanitizer_report, CANCEL, CONTINUATION, DATA,
                    END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, error_name, fill_windows, frame,
                    header_block, HEADERS, literal, literal_indexed, NO_ERROR, PING, ping_frame,
                    PROTOCOL_ERROR, RawH2, REFUSED_STREAM, request_headers, rst_frame,
                    settings_frame, SETTINGS_INITIAL_WINDOW_SIZE, vmhwm_kb, window_update_frame)

HELLO = b"Hello, world\n"
RSS_LIMIT_KB = 64 * 1024
BIG = 100 << 20


def big_tree():
    return {"www/hello.txt": HELLO, "www/b256k.bin": os.urandom(256 * 1024)}


def start_daemon(cls, opts="", tree=None, sparse_big=False):
    locs = (location("/echo", {"handler": '"echo"'}) +
            location("/bigecho", {"handler": '"echo"', "max_body": '"1G"'}))
    cls.d = own(cls, HttpD(static_server(extra_locations=locs), opts=opts,
                           tree=tree or big_tree()))
    if sparse_big:
        with open(cls.d.path("www/big.bin"), "wb") as f:
            f.truncate(BIG)
    cls.d.start()


class Base(unittest.TestCase):
    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def assert_served(self):
        assert_h2_served(self, self.d.port, body=HELLO)
        r = curl_fetch(self.d.url("/hello.txt"))
        self.assertEqual((r.status, r.body), (200, HELLO), r)

    def goaway_not_no_error(self, c):
        g = c.wait_goaway()
        self.assertNotEqual(g.error, NO_ERROR, c.summary())
        c.read_until_close()
        return g


class Floods(Base):
    @classmethod
    def setUpClass(cls):
        start_daemon(cls)

    # ---- rapid reset ------------------------------------------------------------------

    def test_rapid_reset(self):
        """2000 streams, each opened and at once reset (CANCEL): beyond
        the burst of 1000 the connection gets GOAWAY with an error and is
        closed."""
        with RawH2(self.d.port) as c:
            c.handshake()
            block = header_block(request_headers("/b256k.bin"))
            out = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, sid, block) +
                           rst_frame(sid, CANCEL) for sid in range(1, 4001, 2))
            c.send_reading(out)
            g = self.goaway_not_no_error(c)
            print("# rapid reset: %r" % g, flush=True)
        self.assert_served()

    def test_resets_below_limit_tolerated(self):
        """A few hundred resets are within the bucket: the connection goes
        on and serves a request afterwards."""
        with RawH2(self.d.port) as c:
            c.handshake()
            block = header_block(request_headers("/b256k.bin"))
            out = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, sid, block) +
                           rst_frame(sid, CANCEL) for sid in range(1, 601, 2))
            self.assertTrue(c.send_reading(out))
            st = c.get(601, "/hello.txt")
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
            self.assertEqual(c.goaways, [], c.summary())

    # ---- CONTINUATION ---------------------------------------------------------------------

    def continuations(self, n, payload):
        """HEADERS without END_HEADERS, then N CONTINUATION frames (the
        last one with END_HEADERS when END is wanted)."""
        out = frame(HEADERS, END_STREAM, 1, header_block(request_headers("/hello.txt")))
        for i in range(n):
            out += frame(CONTINUATION, 0, 1, payload(i))
        return out

    def test_continuation_flood(self):
        with RawH2(self.d.port) as c:
            c.handshake()
            c.send_reading(self.continuations(20, lambda i: literal("x-c%d" % i, "v" * 20)))
            g = self.goaway_not_no_error(c)
            self.assertIsNone(c.stream(1).headers, "the flooded request was answered")
            print("# CONTINUATION flood: %r" % g, flush=True)
        self.assert_served()

    def test_continuation_flood_empty_frames(self):
        with RawH2(self.d.port) as c:
            c.handshake()
            c.send_reading(self.continuations(20, lambda i: b""))
            self.goaway_not_no_error(c)
            self.assertIsNone(c.stream(1).headers, "the flooded request was answered")
        self.assert_served()

    def test_eight_continuations_accepted(self):
        """8 CONTINUATION frames (the limit) are a valid request."""
        with RawH2(self.d.port) as c:
            c.handshake()
            out = self.continuations(7, lambda i: literal("x-c%d" % i, "v"))
            out += frame(CONTINUATION, END_HEADERS, 1, literal("x-last", "v"))
            c.send(out)
            st = c.response(1)
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
            self.assertEqual(c.goaways, [], c.summary())

    # ---- HPACK bombs ------------------------------------------------------------------------

    @staticmethod
    def bomb(refs, path="/hello.txt", size=4000):
        """A header block that puts one SIZE-byte field into the dynamic
        table and refers to it REFS more times (one byte each)."""
        return (header_block(request_headers(path)) + literal_indexed("x-bomb", "a" * size) +
                b"\xbe" * refs)

    def refused(self, c, sid):
        """Stream SID was refused: 431, a reset, or a connection error
        (GOAWAY with an error).  Returns a description."""
        st = c.stream(sid)
        c.wait(lambda: st.done or c.goaways or st.headers is not None,
               what="stream %d refused" % sid)
        if st.headers is not None:
            self.assertEqual(st.status, 431, st)
            return "431"
        if st.rst is not None:
            return "RST_STREAM %s" % error_name(st.rst)
        self.assertNotEqual(c.goaways[0].error, NO_ERROR, c.summary())
        return "GOAWAY %s" % error_name(c.goaways[0].error)

    def test_hpack_bomb_small(self):
        """10 fields of 4000 bytes (40K decoded, 4K on the wire) are over
        max_header_size (32K); 6 of them (24K) are not."""
        with RawH2(self.d.port) as c:
            c.handshake()
            c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, self.bomb(5)))
            st = c.response(1)
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
            c.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, self.bomb(9)))
            how = self.refused(c, 3)
            print("# HPACK bomb 40K: %s" % how, flush=True)
        self.assert_served()

    def test_hpack_bomb_large(self):
        """10 streams whose 10 KB header blocks decode to 40 MB each."""
        sampler = RssSampler(self.d.pid).start()
        try:
            with RawH2(self.d.port) as c:
                c.handshake()
                out = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, sid, self.bomb(10000))
                               for sid in range(1, 21, 2))
                c.send_reading(out)
                how = self.refused(c, 1)
                if not c.goaways:
                    for sid in range(3, 21, 2):
                        self.refused(c, sid)
                print("# HPACK bomb 10 x 40M: stream 1 %s" % how, flush=True)
                for sid in range(1, 21, 2):
                    self.assertNotEqual(c.stream(sid).status, 200, c.stream(sid))
            self.assert_served()
        finally:
            peak = sampler.stop()
        print("# loomd peak VmRSS over the HPACK bombs: %d kB" % peak, flush=True)
        if not loomtest.SANITIZED:
            self.assertLess(peak, RSS_LIMIT_KB, "loomd RSS reached %d kB" % peak)

    # ---- control-frame floods ---------------------------------------------------------------

    def flood(self, data):
        with RawH2(self.d.port) as c:
            c.handshake()
            c.send_reading(data)
            g = c.wait_goaway()
            self.assertEqual(g.error, ENHANCE_YOUR_CALM, c.summary())
            c.read_until_close()
        self.assert_served()

    def test_settings_flood(self):
        self.flood(settings_frame() * 5000)

    def test_ping_flood(self):
        self.flood(b"".join(ping_frame(struct.pack(">Q", i)) for i in range(5000)))

    def test_empty_data_flood(self):
        block = header_block(request_headers("/echo", "POST"))
        self.flood(frame(HEADERS, END_HEADERS, 1, block) + frame(DATA, 0, 1, b"") * 5000)

    def test_pings_below_limit_answered(self):
        with RawH2(self.d.port) as c:
            c.handshake()
            self.assertTrue(c.send(b"".join(ping_frame(struct.pack(">Q", i)) for i in range(300))))
            c.wait(lambda: sum(1 for f in c.frames if f.type == PING and f.ack) == 300,
                   what="300 PING ACKs")
            acks = [struct.unpack(">Q", f.payload)[0] for f in c.frames if f.type == PING]
            self.assertEqual(sorted(acks), list(range(300)))
            st = c.get(1, "/hello.txt")
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
            self.assertEqual(c.goaways, [], c.summary())

    def test_window_updates_not_counted(self):
        """5000 WINDOW_UPDATE frames are not a flood."""
        with RawH2(self.d.port) as c:
            c.handshake()
            self.assertTrue(c.send_reading(window_update_frame(0, 1) * 5000))
            c.send(ping_frame(b"wu-check"))
            c.wait(lambda: any(f.type == PING and f.ack and f.payload == b"wu-check"
                               for f in c.frames), what="PING ACK")
            st = c.get(1, "/hello.txt")
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
            self.assertEqual(c.goaways, [], c.summary())


class MaxStreams(Base):
    """h2_max_streams = 4: the fifth stream in progress is refused."""

    @classmethod
    def setUpClass(cls):
        start_daemon(cls, opts="h2_max_streams = 4\n")

    def open_four(self, c):
        for sid in (1, 3, 5, 7):   # bodies left open: the streams stay in progress
            c.request(sid, "/echo", method="POST", extra=[("content-length", "5")],
                      end_stream=False)

    def finish_four(self, c):
        for sid in (1, 3, 5, 7):
            c.send(frame(DATA, END_STREAM, sid, b"h%04d" % sid))
        for sid in (1, 3, 5, 7):
            st = c.response(sid)
            self.assertEqual((st.status, bytes(st.body)), (200, b"h%04d" % sid), st)

    def test_settings_announce_limit(self):
        with RawH2(self.d.port) as c:
            self.assertEqual(c.handshake().get(3), 4)

    def test_fifth_stream_refused(self):
        """The fifth stream, opened before the client has acknowledged the
        server's SETTINGS, is reset with REFUSED_STREAM; the four others
        complete and the connection goes on."""
        with RawH2(self.d.port, ack_settings=False) as c:
            c.handshake()
            self.open_four(c)
            c.request(9, "/hello.txt")
            st = c.response(9)
            self.assertEqual(st.rst, REFUSED_STREAM, st)
            self.assertIsNone(st.headers, st)
            self.finish_four(c)
            c.send(settings_frame(ack=True))
            st = c.get(11, "/hello.txt")
            self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
            self.assertEqual(c.goaways, [], c.summary())
        self.assert_served()

    def test_fifth_stream_after_settings_ack(self):
        """Once the SETTINGS are acknowledged the limit is a hard one:
        REFUSED_STREAM for the stream (the others go on), or a connection
        error PROTOCOL_ERROR (RFC 9113 5.1.2)."""
        with RawH2(self.d.port) as c:
            c.handshake()
            self.open_four(c)
            c.request(9, "/hello.txt")
            st = c.stream(9)
            c.wait(lambda: st.done or st.headers is not None or c.goaways, what="stream 9 refused")
            self.assertIsNone(st.headers, "stream 9 was served: %r" % st)
            if st.rst is not None:
                print("# fifth stream after ACK: RST_STREAM %s" % error_name(st.rst), flush=True)
                self.assertEqual(st.rst, REFUSED_STREAM, st)
                self.finish_four(c)
            else:
                print("# fifth stream after ACK: %r" % c.goaways[0], flush=True)
                self.assertEqual(c.goaways[0].error, PROTOCOL_ERROR, c.summary())
        self.assert_served()

    def test_four_at_once_served(self):
        with RawH2(self.d.port) as c:
            c.handshake()
            self.open_four(c)
            self.finish_four(c)
            for sid in (9, 11, 13, 15):   # closed streams no longer count
                c.request(sid, "/hello.txt")
            for sid in (9, 11, 13, 15):
                st = c.response(sid)
                self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)


class NeverReading(Base):
    """Streams of a 100 MiB file that the client never lets through: loom
    must keep at most about 64 KiB per stream."""

    def setUp(self):
        start_daemon(self, sparse_big=True)
        self.addCleanup(self.d.cleanup)

    def check_rss(self, what):
        rss = rss_kb(self.d.pid)
        hwm = vmhwm_kb(self.d.pid)
        print("# loomd with %s: VmRSS %d kB, VmHWM %d kB" % (what, rss, hwm), flush=True)
        if not loomtest.SANITIZED:
            self.assertLess(hwm, RSS_LIMIT_KB, "loomd VmHWM reached %d kB" % hwm)

    def test_no_window_update(self):
        """100 streams on one connection with the default windows (64K)
        and never a WINDOW_UPDATE: the response heads all come, at most
        65535 bytes of DATA (the connection window), memory stays bounded,
        other clients are served and the connection is kept (PING)."""
        with RawH2(self.d.port, auto_window=False) as c:
            c.handshake()
            sids = list(range(1, 201, 2))
            for sid in sids:
                c.request(sid, "/big.bin")
            c.wait(lambda: all(c.stream(s).headers is not None for s in sids),
                   timeout=WAIT * 2, what="100 response heads")
            c.poll(1.0)
            for sid in sids:
                st = c.stream(sid)
                self.assertEqual(st.status, 200, st)
                self.assertEqual(st.get("content-length"), str(BIG), st)
                self.assertFalse(st.done, st)
            got = sum(len(f.payload) for f in c.frames if f.type == DATA)
            self.assertLessEqual(got, 65535, "DATA beyond the connection window")
            for sid in sids:
                self.assertLessEqual(len(c.stream(sid).body), 65535)
            self.assert_served()
            self.check_rss("100 stalled h2 streams")
            c.send(ping_frame(b"stillup!"))
            c.wait(lambda: any(f.type == PING and f.ack and f.payload == b"stillup!"
                               for f in c.frames), what="PING ACK")
            self.assertEqual(c.goaways, [], c.summary())

    def test_upload_answer_never_read(self):
        """10 POST streams to the echo (max_body 1G) whose answers the
        client never reads (its 64K windows stay shut): the echo cannot
        send, so it stops taking the bodies in, and loom must stop
        reopening the windows.  Without that the client pushes the 64 MiB
        it is ready to send and loom holds them."""
        with RawH2(self.d.port, auto_window=False) as c:
            c.handshake()
            sids = list(range(1, 21, 2))
            for sid in sids:
                c.request(sid, "/bigecho", method="POST", end_stream=False)
            sent = fill_windows(c, sids, cap=64 << 20)
            total = sum(sent.values())
            print("# request bodies let in with the answers unread: %d bytes" % total, flush=True)
            self.assertEqual(c.goaways, [], c.summary())
            self.assert_served()
            self.check_rss("10 unread echo streams")
            self.assertLess(total, 16 << 20, "loom kept reopening the windows: %d bytes let in"
                            % total)

    def test_socket_never_read(self):
        """100 streams with the largest windows, but the client never reads
        its socket: what loom cannot write stays bounded in memory."""
        c = RawH2(self.d.port, rcvbuf=4096,
                  settings=[(SETTINGS_INITIAL_WINDOW_SIZE, 0x7fffffff)])
        try:
            c.handshake()
            c.send(window_update_frame(0, 0x7fffffff - 65535))
            for sid in range(1, 201, 2):
                c.request(sid, "/big.bin")
            sampler = RssSampler(self.d.pid).start()
            try:
                time.sleep(2)   # loom writes until the socket is full; nothing is read
                self.assert_served()
            finally:
                peak = sampler.stop()
            print("# loomd peak VmRSS with an unread h2 socket: %d kB" % peak, flush=True)
            self.check_rss("an unread h2 socket")
        finally:
            c.close()
        self.assert_served()


if __name__ == "__main__":
    loomtest.main()
