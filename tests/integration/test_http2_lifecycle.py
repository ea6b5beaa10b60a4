"""HTTP/2 connections across loomd's life: SIGTERM with a stream in
flight (GOAWAY NO_ERROR naming the last stream, the stream completes,
newer streams are not served, loomd exits 0), SIGHUP (GOAWAY on open
connections, their streams complete, new connections get the new
configuration), idle_timeout; the h2_* options' errors (FILE:LINE, exit
1) and bounds; the access log's HTTP/2.0 lines and the status counters."""

import hashlib
import os
import re
import signal
import subprocess
import time
import unittest

import loomtest
from loomtest import assert_error_line, line_of, run_loomd, start_expect_exit
from httptest import (case, HttpD, location, start_http, static_server, status_json, wait_for)
from h2test import (assert_no_sanitizer_report, DATA, END_STREAM, frame, H2Client, NO_ERROR, RawH2,
                    SETTINGS_INITIAL_WINDOW_SIZE, window_update_frame)

HELLO = b"Hello, world\n"
B2M = os.urandom(2 << 20)
MAX_ID = 0x7fffffff


def version_server(body):
    locs = (location("= /ver", {"handler": '"return"', "status": "200", "body": '"%s"' % body}) +
            location("/echo", {"handler": '"echo"'}))
    return static_server(extra_locations=locs)


def start(tc, body="one", opts="", **kw):
    d = start_http(tc, version_server(body), opts=opts,
                   tree={"www/hello.txt": HELLO, "www/b2m.bin": B2M}, **kw)
    tc.addCleanup(assert_no_sanitizer_report, tc, d)   # runs before d.cleanup
    return d


def final_goaway(c):
    """Wait for the GOAWAY that names the last stream (a first one with
    2^31-1 is a shutdown notice); every GOAWAY must be NO_ERROR."""
    c.wait(lambda: any(g.last_stream != MAX_ID for g in c.goaways), what="the final GOAWAY")
    for g in c.goaways:
        if g.error != NO_ERROR:
            raise AssertionError("GOAWAY with an error: %r\n%s" % (g, c.summary()))
    return [g for g in c.goaways if g.last_stream != MAX_ID][0]


class GracefulStop(unittest.TestCase):
    def test_sigterm_with_request_body_in_flight(self):
        d = start(self)
        c = RawH2(d.port)
        self.addCleanup(c.close)
        c.handshake()
        body = os.urandom(20000)
        c.request(1, "/echo", method="POST", extra=[("content-length", str(len(body)))],
                  end_stream=False)
        c.send(frame(DATA, 0, 1, body[:10000]))
        st = c.stream(1)
        c.wait(lambda: st.headers is not None, what="the echo's response head")
        d.signal(signal.SIGTERM)
        g = final_goaway(c)
        self.assertEqual(g.last_stream, 1, c.summary())
        # a new stream above the last one is not served
        c.request(3, "/hello.txt")
        self.assertIsNone(d.proc.poll(), "loomd exited with a stream in flight")
        c.send(frame(DATA, END_STREAM, 1, body[10000:]))
        st = c.response(1)
        self.assertEqual((st.status, st.ended, st.rst), (200, True, None), st)
        self.assertEqual(bytes(st.body), body)
        c.read_until_close()
        st3 = c.stream(3)
        self.assertIsNone(st3.headers, "stream 3 above GOAWAY's last stream was served: %r" % st3)
        self.assertEqual(d.wait_exit(), 0, d.log())

    def test_sigterm_with_download_in_flight(self):
        """A 2 MiB download held back by a 16K window: after SIGTERM and
        GOAWAY the client opens the window and gets all of it."""
        d = start(self)
        c = RawH2(d.port, auto_window=False, settings=[(SETTINGS_INITIAL_WINDOW_SIZE, 16384)])
        self.addCleanup(c.close)
        c.handshake()
        c.request(1, "/b2m.bin")
        st = c.stream(1)
        c.wait(lambda: len(st.body) >= 16384, what="the first 16K")
        d.signal(signal.SIGTERM)
        g = final_goaway(c)
        self.assertEqual(g.last_stream, 1, c.summary())
        self.assertIsNone(d.proc.poll(), "loomd exited with a download in flight")
        self.assertFalse(st.done, st)
        c.auto_window = True
        c.send(window_update_frame(0, 4 << 20) + window_update_frame(1, 4 << 20))
        st = c.response(1)
        self.assertEqual((st.status, st.ended, st.rst), (200, True, None), st)
        self.assertEqual(hashlib.sha256(bytes(st.body)).digest(), hashlib.sha256(B2M).digest())
        c.read_until_close()
        self.assertEqual(d.wait_exit(), 0, d.log())

    def test_sigterm_idle_connection(self):
        d = start(self)
        c = RawH2(d.port)
        self.addCleanup(c.close)
        c.handshake()
        st = c.get(1, "/hello.txt")
        self.assertEqual((st.status, bytes(st.body)), (200, HELLO), st)
        d.signal(signal.SIGTERM)
        g = final_goaway(c)
        self.assertEqual(g.last_stream, 1, c.summary())
        c.read_until_close()
        self.assertEqual(d.wait_exit(), 0, d.log())

    def test_sigterm_tls(self):
        d = start(self, tls=True)
        c = RawH2(d.tls_port, tls=True)
        self.addCleanup(c.close)
        c.handshake()
        st = c.get(1, "/hello.txt")
        self.assertEqual(st.status, 200, st)
        d.signal(signal.SIGTERM)
        g = final_goaway(c)
        self.assertEqual(g.last_stream, 1, c.summary())
        c.read_until_close()
        self.assertEqual(d.wait_exit(), 0, d.log())


class TlsDownloadTail(unittest.TestCase):
    """curl --http2 over TLS, at a limited rate, downloading a large file
    when SIGTERM or SIGHUP arrives: the download completes intact.  It used
    to be cut short every time ("connection reset by peer" a few MB before
    the end): the TLS connection was closed right after close_notify with
    the client's last WINDOW_UPDATEs unread, the kernel answered them with
    RST and the client's kernel discarded the tail still in flight.  loomd
    now lingers (FIN, then reads and drops for a while) on TLS as on plain
    TCP."""

    SIZE = 32 << 20

    def download_across(self, sig):
        big = os.urandom(self.SIZE)
        d = start(self, tls=True)
        with open(d.path("www/big.bin"), "wb") as f:
            f.write(big)
        out = d.path("got.bin")
        curl = subprocess.Popen(["curl", "-sSk", "--http2", "--limit-rate", "10M", "-o", out,
                                 d.url("/big.bin", tls=True, host="localhost")],
                                stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(curl.kill)
        deadline = time.monotonic() + loomtest.WAIT
        while not (os.path.exists(out) and os.path.getsize(out) >= 4 << 20):
            self.assertIsNone(curl.poll(), "curl ended early")
            self.assertLess(time.monotonic(), deadline, "the download does not progress")
            time.sleep(0.05)
        d.signal(sig)
        rc = curl.wait(timeout=120)
        err = curl.stderr.read().decode(errors="replace")
        self.assertEqual(rc, 0, "curl: %s\n%s" % (err, d.log()))
        with open(out, "rb") as f:
            got = f.read()
        self.assertEqual(len(got), self.SIZE)
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(big).digest())
        return d

    def test_sigterm(self):
        d = self.download_across(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0, d.log())

    def test_sighup(self):
        d = self.download_across(signal.SIGHUP)
        self.assertIsNone(d.proc.poll(), d.log())


class Reload(unittest.TestCase):
    def test_sighup_goaway_and_new_config(self):
        d = start(self, "one")
        idle = RawH2(d.port)
        self.addCleanup(idle.close)
        idle.handshake()
        st = idle.get(1, "/ver")
        self.assertEqual((st.status, bytes(st.body)), (200, b"one"), st)
        busy = RawH2(d.port)
        self.addCleanup(busy.close)
        busy.handshake()
        busy.request(1, "/echo", method="POST", extra=[("content-length", "10")],
                     end_stream=False)
        busy.send(frame(DATA, 0, 1, b"01234"))
        st = busy.stream(1)
        busy.wait(lambda: st.headers is not None, what="the echo's response head")
        with open(d.conf_path) as f:
            conf = f.read()
        self.assertIn('"one"', conf)
        d.write_conf(conf.replace('"one"', '"two"'), raw=True)
        self.assertTrue(d.reload(), d.log())
        # the idle connection: GOAWAY, then closed
        g = final_goaway(idle)
        self.assertEqual(g.last_stream, 1, idle.summary())
        idle.read_until_close()
        # the busy one: GOAWAY, its stream completes, then closed
        g = final_goaway(busy)
        self.assertEqual(g.last_stream, 1, busy.summary())
        busy.send(frame(DATA, END_STREAM, 1, b"56789"))
        st = busy.response(1)
        self.assertEqual((st.status, bytes(st.body), st.rst), (200, b"0123456789", None), st)
        busy.read_until_close()
        # new connections: the new configuration
        with H2Client(d.port) as c:
            r = c.get("/ver")
            self.assertEqual((r.status, bytes(r.body)), (200, b"two"), r)
        self.assertIsNone(d.proc.poll())

    def test_failed_reload_keeps_serving(self):
        d = start(self, "one")
        with H2Client(d.port) as c:
            self.assertEqual(bytes(c.get("/ver").body), b"one")
            with open(d.conf_path) as f:
                conf = f.read()
            self.assertIn('http "web" {\n', conf)
            d.write_conf(conf.replace('http "web" {\n', 'http "web" {\n    h2_max_streams = 0\n'),
                         raw=True)
            self.assertFalse(d.reload(), d.log())
            r = c.get("/ver")   # the same connection still works
            self.assertEqual((r.status, bytes(r.body)), (200, b"one"), r)


class Idle(unittest.TestCase):
    def test_idle_timeout_closes_h2(self):
        d = start(self, opts="idle_timeout = 1\n")
        with RawH2(d.port) as c:
            c.handshake()
            st = c.get(1, "/hello.txt")
            self.assertEqual(st.status, 200, st)
            c.read_until_close()   # bounded: fails if still open after WAIT
            for g in c.goaways:
                self.assertEqual(g.error, NO_ERROR, c.summary())


class Options(unittest.TestCase):
    def expect_error(self, opts, needle):
        d = HttpD(static_server(), opts=opts, tree={"www/index.html": "i\n"})
        self.addCleanup(d.cleanup)
        path = d.conf_path
        want = line_of(path, needle)
        r = run_loomd(["-t", "-c", path])
        self.assertEqual(r.returncode, 1, "loomd -t accepted %r: %s" % (opts, r.stderr))
        assert_error_line(self, r.stderr, path, want, contains=needle)
        rc, err = start_expect_exit(d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, path, want, contains=needle)

    def expect_ok(self, opts):
        d = HttpD(static_server(), opts=opts, tree={"www/index.html": "i\n"})
        self.addCleanup(d.cleanup)
        r = run_loomd(["-t", "-c", d.conf_path])
        self.assertEqual(r.returncode, 0, "loomd -t refused %r: %s" % (opts, r.stderr))

    def test_h2_max_streams_out_of_range(self):
        for v in ("0", "65537", "-1"):
            with case(value=v):
                self.expect_error("h2_max_streams = %s\n" % v, "h2_max_streams")

    def test_h2_window_out_of_range(self):
        for v in ('"1K"', '"65534"', '"2G"'):
            with case(value=v):
                self.expect_error("h2_window = %s\n" % v, "h2_window")

    def test_h2_connection_window_out_of_range(self):
        for v in ('"3G"', '"1K"', '"2G"'):
            with case(value=v):
                self.expect_error("h2_connection_window = %s\n" % v, "h2_connection_window")

    def test_h2_bad_size_syntax(self):
        self.expect_error('h2_window = "lots"\n', "h2_window")

    def test_bounds_accepted(self):
        for opts in ("h2_max_streams = 1\n", "h2_max_streams = 65536\n",
                     'h2_window = "65535"\n', 'h2_window = "2047M"\n',
                     'h2_connection_window = "65535"\n', 'h2_connection_window = "2047M"\n'):
            with case(opts=opts):
                self.expect_ok(opts)


LOG_LINE = re.compile(r'^127\.0\.0\.1 - - \[[^\]]+\] "(?P<req>[^"]*)" (?P<status>\d{3}) '
                      r'(?P<bytes>\d+) "(?P<ref>[^"]*)" "(?P<ua>[^"]*)" \d+\.\d{3}$')


class AccessLogAndCounters(unittest.TestCase):
    def setUp(self):
        locs = (location("= /status", {"handler": '"status"', "format": '"json"'}) +
                location("/echo", {"handler": '"echo"'}))
        self.d = start_http(self, static_server(extra_locations=locs), tls=True,
                            opts='access_log = "access.log"\n', tree={"www/hello.txt": HELLO})
        self.addCleanup(assert_no_sanitizer_report, self, self.d)
        self.log = self.d.path("access.log")

    def lines(self, n):
        def read():
            try:
                with open(self.log) as f:
                    t = f.read()
            except FileNotFoundError:
                return None
            return t if t.count("\n") >= n else None
        text = wait_for(read, what="%d access log lines" % n)
        out = []
        for line in text.rstrip("\n").split("\n"):
            m = LOG_LINE.match(line)
            self.assertIsNotNone(m, "access log line not in the combined format: %r" % line)
            out.append(m.groupdict())
        return out

    def test_http2_lines(self):
        with H2Client(self.d.port) as c:
            r = c.get("/hello.txt", headers=[("user-agent", "h2-agent/1"),
                                             ("referer", "http://ref.test/")])
            self.assertEqual(r.status, 200)
            self.assertEqual(c.get("/nope").status, 404)
            r = c.request("HEAD", "/hello.txt")
            self.assertEqual(r.status, 200)
            r = c.request("POST", "/echo", body=b"z" * 3000)
            self.assertEqual((r.status, len(r.body)), (200, 3000))
        with H2Client(self.d.tls_port, tls=True) as c:
            self.assertEqual(c.get("/hello.txt?x=1").status, 200)
        self.assertEqual(self.d.get("/hello.txt").status, 200)   # HTTP/1.1 alongside
        lines = self.lines(6)
        self.assertEqual(len(lines), 6, lines)
        got = [(l["req"], l["status"], l["bytes"]) for l in lines]
        self.assertEqual(got, [("GET /hello.txt HTTP/2.0", "200", "13"),
                               ("GET /nope HTTP/2.0", "404", got[1][2]),
                               ("HEAD /hello.txt HTTP/2.0", "200", "0"),
                               ("POST /echo HTTP/2.0", "200", "3000"),
                               ("GET /hello.txt?x=1 HTTP/2.0", "200", "13"),
                               ("GET /hello.txt HTTP/1.1", "200", "13")])
        self.assertGreater(int(got[1][2]), 0)
        self.assertEqual((lines[0]["ua"], lines[0]["ref"]), ("h2-agent/1", "http://ref.test/"))

    def test_status_counters(self):
        s0 = status_json(self.d.port)
        with H2Client(self.d.port) as c:
            for _ in range(3):
                self.assertEqual(c.get("/hello.txt").status, 200)
            self.assertEqual(c.get("/nope").status, 404)
        s1 = status_json(self.d.port)
        q0, q1 = s0["http"]["requests"], s1["http"]["requests"]
        # 3 GETs + 1 404 + the first status request (counted once finished)
        self.assertEqual(q1["2xx"] - q0["2xx"], 4, (s0, s1))
        self.assertEqual(q1["4xx"] - q0["4xx"], 1, (s0, s1))
        self.assertEqual(q1["total"] - q0["total"], 5, (s0, s1))
        self.assertGreaterEqual(s1["http"]["bytes"]["out"] - s0["http"]["bytes"]["out"], 39)


if __name__ == "__main__":
    loomtest.main()
