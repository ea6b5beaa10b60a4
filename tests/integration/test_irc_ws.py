"""IRC over WebSocket (the http handler `irc`) against a real loomd: a
python3-websockets client under text.ircv3.net, binary.ircv3.net and no
subprotocol chatting with a TCP client in one channel (one message per
line, no CR LF; the server's invalid UTF-8 replaced in text mode, kept in
binary mode); pings answered; bad handshakes refused with 400 / 405 / 426
and the daemon unharmed; a masking error closed with 1002 and bad UTF-8
with 1007, the TCP peer seeing the WebSocket client quit; a client that
leaves in the middle of a frame; a reload that removes the irc instance
while a WebSocket client is attached (its link closed, nothing dangling:
under ASan the log stays clean); a location whose irc instance does not
exist answering 503; and an irc location without `irc` being a FILE:LINE
error with exit 1."""

import asyncio
import re
import socket
import struct
import subprocess
import time
import unittest

import websockets
import websockets.client

import loomtest
from loomtest import WAIT, assert_error_line, free_port, line_of, own, start_expect_exit
from httptest import HttpD, location
from h2test import assert_no_sanitizer_report

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def irc_section(name, port):
    return ('irc "%s" {\n'
            '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '    server_name = "irc.example.test"\n'
            '}\n' % (name, port))


def irc_locations(instance="chat"):
    return (location("/irc", {"handler": '"irc"', "irc": '"%s"' % instance}) +
            location("/none", {"handler": '"irc"', "irc": '"nosuch"'}))


def irc_httpd(irc_port, instance="chat"):
    body = '    server "main" {\n%s    }\n' % irc_locations(instance)
    return HttpD(body, tls=True, post=irc_section("chat", irc_port))


# ---- a TCP IRC client --------------------------------------------------------

class TcpIrc:
    """A plain IRC client on a socket: lines out, lines in."""

    def __init__(self, port, nick):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.nick = nick
        self.send("NICK %s" % nick)
        self.send("USER %s 0 * :tcp client" % nick)
        self.expect(r"^:\S+ 001 %s " % re.escape(nick))

    def send(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.sock.sendall(line + b"\r\n")

    def line(self, timeout=WAIT):
        """The next line (bytes, without CR LF); answers PING itself."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                ln, self.buf = self.buf[:i].rstrip(b"\r"), self.buf[i + 1:]
                if ln.startswith(b"PING "):
                    self.send(b"PONG " + ln[5:])
                    continue
                return ln
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: no line in %ss" % (self.nick, timeout))
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("%s: connection closed" % self.nick)
            self.buf += chunk

    def expect(self, pattern, timeout=WAIT):
        """Read lines until one matches PATTERN (a str regex over the line
        decoded as latin-1); returns it as bytes."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                ln = self.line(max(0.01, deadline - time.monotonic()))
            except AssertionError as e:
                raise AssertionError("%s; waiting for %r after %r" % (e, pattern, seen[-10:]))
            if re.search(pattern, ln.decode("latin-1")):
                return ln
            seen.append(ln)

    def close(self):
        self.sock.close()


# ---- a raw WebSocket client (for what a library will not send) ---------------

def handshake_headers(protocols=None, key=KEY, version="13"):
    h = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
         ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    if protocols:
        h.append(("Sec-WebSocket-Protocol", protocols))
    return h


def frame(op, payload=b"", fin=True, mask=b"\x11\x22\x33\x44"):
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


class RawWs:
    """A WebSocket client on a RawConn after a successful handshake."""

    def __init__(self, d, protocols=None):
        self.c = d.conn()
        self.c.request("GET", "/irc", handshake_headers(protocols))
        r = self.c.read_response()
        if r.status != 101:
            self.c.close()
            raise AssertionError("handshake: %r" % r)
        self.resp = r

    def send(self, data):
        self.c.send(data)

    def read_frame(self, timeout=WAIT):
        """(opcode, payload) of the next frame; None at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.c.buf
            if len(b) >= 2:
                n = b[1] & 0x7F
                at = 2
                if n == 126 and len(b) >= 4:
                    n, at = struct.unpack("!H", b[2:4])[0], 4
                elif n == 127 and len(b) >= 10:
                    n, at = struct.unpack("!Q", b[2:10])[0], 10
                if n < 126 or at > 2:
                    if b[1] & 0x80:
                        raise AssertionError("the server masked a frame")
                    if len(b) >= at + n:
                        self.c.buf = b[at + n:]
                        return b[0] & 0x0F, b[at:at + n]
            if self.c.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no frame in %ss (have %r)" % (timeout, b[:100]))
            self.c._recv(timeout=left)

    def read_until_close(self):
        """Frames until a close frame; returns (messages, close code, reason)."""
        msgs = []
        while True:
            f = self.read_frame()
            if f is None:
                raise AssertionError("EOF without a close frame after %r" % msgs)
            op, pl = f
            if op == 8:
                code = struct.unpack("!H", pl[:2])[0] if len(pl) >= 2 else None
                return msgs, code, pl[2:]
            msgs.append((op, pl))

    def close(self):
        self.c.close()


# ---- the websockets library ----------------------------------------------------

def run(coro):
    return asyncio.run(asyncio.wait_for(coro, WAIT * 2))


async def ws_connect(d, protocols=None, tls=False):
    if tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        url = "wss://127.0.0.1:%d/irc" % d.tls_port
    else:
        ctx = None
        url = "ws://127.0.0.1:%d/irc" % d.port
    return await websockets.client.connect(url, subprotocols=protocols, ssl=ctx,
                                           open_timeout=WAIT, max_size=2 ** 20)


async def ws_expect(ws, pattern):
    """Messages until one matches PATTERN (str regex; bytes decoded as
    latin-1); answers PING itself.  Returns the message as received."""
    seen = []
    while True:
        try:
            m = await asyncio.wait_for(ws.recv(), WAIT)
        except asyncio.TimeoutError:
            raise AssertionError("no message matching %r after %r" % (pattern, seen[-10:]))
        text = m.decode("latin-1") if isinstance(m, bytes) else m
        if text.startswith("PING "):
            await ws.send(type(m)(("PONG " + text[5:]).encode("latin-1")) if isinstance(m, bytes)
                          else "PONG " + text[5:])
            continue
        if re.search(pattern, text):
            return m
        seen.append(m)


async def ws_register(ws, nick, binary=False):
    for line in ("NICK %s" % nick, "USER %s 0 * :web client" % nick):
        await ws.send(line.encode() if binary else line)
    return await ws_expect(ws, r"^:\S+ 001 %s " % re.escape(nick))


# ---- the tests -----------------------------------------------------------------

class Chat(unittest.TestCase):
    """One daemon: an irc instance with a TCP listener and an http instance
    with the WebSocket location."""

    @classmethod
    def setUpClass(cls):
        cls.irc_port = free_port()
        cls.d = own(cls, irc_httpd(cls.irc_port))
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)
        self.assertIsNone(self.d.proc.poll(), "loomd exited")

    def tcp(self, nick):
        c = TcpIrc(self.irc_port, nick)
        self.addCleanup(c.close)
        return c

    def _chat(self, protocols, chosen, nick, chan, binary_out, tls=False):
        tcp = self.tcp("t" + nick)
        tcp.send("JOIN " + chan)
        tcp.expect(r" JOIN :?%s$" % re.escape(chan))

        async def go():
            ws = await ws_connect(self.d, protocols, tls)
            try:
                self.assertEqual(ws.subprotocol, chosen)
                welcome = await ws_register(ws, nick, binary=binary_out)
                self.assertIsInstance(welcome, bytes if binary_out else str)
                self.assertFalse(welcome.endswith("\r\n" if isinstance(welcome, str) else b"\r\n"))
                self.assertNotIn("\n", welcome if isinstance(welcome, str) else welcome.decode())
                await ws.send("JOIN " + chan)
                await ws_expect(ws, r"^:%s!\S+ JOIN :?%s$" % (nick, re.escape(chan)))
                tcp.expect(r"^:%s!\S+ JOIN :?%s$" % (nick, re.escape(chan)))
                # web -> tcp, with a trailing CR LF the server tolerates
                await ws.send("PRIVMSG %s :h\u00e9llo from the web\r\n" % chan)
                ln = tcp.expect(r"^:%s!\S+ PRIVMSG %s :" % (nick, re.escape(chan)))
                self.assertTrue(ln.endswith(" :h\u00e9llo from the web".encode()), ln)
                # tcp -> web, valid UTF-8
                tcp.send("PRIVMSG %s :caf\u00e9 from tcp" % chan)
                m = await ws_expect(ws, r" PRIVMSG %s :" % re.escape(chan))
                want = ("PRIVMSG %s :caf\u00e9 from tcp" % chan).encode()
                got = m if isinstance(m, bytes) else m.encode()
                self.assertTrue(got.endswith(want), got)
                self.assertTrue(got.startswith((":%s!" % tcp.nick).encode()), got)
                # tcp -> web, latin-1 bytes: kept in binary, U+FFFD in text
                tcp.send(("PRIVMSG %s :caf" % chan).encode() + b"\xe9!")
                m = await ws_expect(ws, r" PRIVMSG %s :caf" % re.escape(chan))
                if binary_out:
                    self.assertIsInstance(m, bytes)
                    self.assertTrue(m.endswith(b"caf\xe9!"), m)
                else:
                    self.assertIsInstance(m, str)
                    self.assertTrue(m.endswith("caf\ufffd!"), m)
                # several lines in one message are several lines
                await ws.send("PRIVMSG %s :one\r\nPRIVMSG %s :two" % (chan, chan))
                tcp.expect(r"PRIVMSG %s :one$" % re.escape(chan))
                tcp.expect(r"PRIVMSG %s :two$" % re.escape(chan))
                # a WebSocket ping gets its pong
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, WAIT)
                await ws.send("QUIT :bye now")
                tcp.expect(r"^:%s!\S+ QUIT :.*bye now" % nick)
                try:
                    await asyncio.wait_for(ws.wait_closed(), WAIT)
                except asyncio.TimeoutError:
                    self.fail("the link stayed open after QUIT")
            finally:
                await ws.close()

        run(go())

    def test_text_subprotocol(self):
        self._chat(["text.ircv3.net"], "text.ircv3.net", "wstext", "#text", False)

    def test_binary_subprotocol(self):
        self._chat(["binary.ircv3.net"], "binary.ircv3.net", "wsbin", "#bin", True)

    def test_client_preference_order(self):
        self._chat(["binary.ircv3.net", "text.ircv3.net"], "binary.ircv3.net", "wsboth", "#both",
                   True)

    def test_no_subprotocol_is_text(self):
        self._chat(None, None, "wsnone", "#none", False)

    def test_unknown_subprotocol_only_is_text(self):
        self._chat(["chat"], None, "wsother", "#other", False)

    def test_wss(self):
        self._chat(["text.ircv3.net"], "text.ircv3.net", "wstls", "#tls", False, tls=True)

    def test_handshake_answer(self):
        ws = RawWs(self.d, "text.ircv3.net")
        self.addCleanup(ws.close)
        r = ws.resp
        self.assertEqual(r.get("Sec-WebSocket-Accept"), ACCEPT)
        self.assertIn("websocket", r.tokens("Upgrade"))
        self.assertIn("upgrade", r.tokens("Connection"))
        self.assertEqual(r.get("Sec-WebSocket-Protocol"), "text.ircv3.net")

    def test_bad_handshakes(self):
        cases = [
            # (method, headers, version, status)
            ("GET", [], "HTTP/1.1", 426),
            ("GET", handshake_headers(version="8"), "HTTP/1.1", 426),
            ("GET", [h for h in handshake_headers() if h[0] != "Sec-WebSocket-Key"], "HTTP/1.1",
             400),
            ("GET", handshake_headers(key="short"), "HTTP/1.1", 400),
            ("GET", [h for h in handshake_headers() if h[0] != "Connection"], "HTTP/1.1", 400),
            ("GET", handshake_headers(protocols="text ircv3"), "HTTP/1.1", 400),
            ("POST", handshake_headers(), "HTTP/1.1", 405),
        ]
        for method, headers, version, status in cases:
            with self.subTest(method=method, headers=headers):
                r = self.d.request(method, "/irc", headers, version=version)
                self.assertEqual(r.status, status, r)
                if status == 426:
                    self.assertIn("websocket", r.tokens("Upgrade"))
                    self.assertEqual(r.get("Sec-WebSocket-Version"), "13")
                if status == 405:
                    self.assertEqual(r.get("Allow"), "GET")
                self.assertFalse(r.has("Sec-WebSocket-Accept"))
        # HTTP/2 has no Upgrade: 426 there too
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                              "--http2-prior-knowledge", self.d.url("/irc")],
                             capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(out.stdout, "426 2")
        # and the websocket side still works
        ws = RawWs(self.d)
        ws.close()

    def test_no_such_instance_is_503(self):
        r = self.d.request("GET", "/none", handshake_headers())
        self.assertEqual(r.status, 503)

    def _watch_quit(self, nick, chan):
        tcp = self.tcp("w" + nick)
        tcp.send("JOIN " + chan)
        tcp.expect(r" JOIN :?%s$" % re.escape(chan))
        return tcp

    def _raw_join(self, nick, chan, tcp):
        ws = RawWs(self.d, "text.ircv3.net")
        self.addCleanup(ws.close)
        for ln in ("NICK " + nick, "USER %s 0 * :raw" % nick, "JOIN " + chan):
            ws.send(frame(1, ln.encode()))
        tcp.expect(r"^:%s!\S+ JOIN :?%s$" % (nick, re.escape(chan)))
        return ws

    def test_unmasked_frame_closes_with_1002(self):
        tcp = self._watch_quit("bad1", "#err1")
        ws = self._raw_join("bad1", "#err1", tcp)
        ws.send(frame(1, b"PRIVMSG #err1 :unmasked", mask=None))
        msgs, code, reason = ws.read_until_close()
        self.assertEqual(code, 1002, (msgs, reason))
        tcp.expect(r"^:bad1!\S+ QUIT :.*WebSocket")
        self.assertNotIn(b"unmasked", b"".join(p for _, p in msgs))

    def test_bad_utf8_closes_with_1007(self):
        tcp = self._watch_quit("bad2", "#err2")
        ws = self._raw_join("bad2", "#err2", tcp)
        ws.send(frame(1, b"PRIVMSG #err2 :caf\xe9"))
        msgs, code, reason = ws.read_until_close()
        self.assertEqual(code, 1007, (msgs, reason))
        tcp.expect(r"^:bad2!\S+ QUIT :.*WebSocket")

    def test_close_is_echoed_and_the_client_quits(self):
        tcp = self._watch_quit("bye3", "#err3")
        ws = self._raw_join("bye3", "#err3", tcp)
        ws.send(frame(8, struct.pack("!H", 1000) + b"done"))
        msgs, code, reason = ws.read_until_close()
        self.assertEqual(code, 1000)
        tcp.expect(r"^:bye3!\S+ QUIT ")
        self.assertIsNone(ws.read_frame(), "more after the close")

    def test_leaving_mid_frame(self):
        tcp = self._watch_quit("mid4", "#err4")
        ws = self._raw_join("mid4", "#err4", tcp)
        whole = frame(1, b"PRIVMSG #err4 :never complete")
        ws.send(whole[:9])
        ws.close()
        ln = tcp.expect(r"^:mid4!\S+ (QUIT|PRIVMSG) ")
        self.assertIn(b" QUIT ", ln)
        # and the daemon goes on
        ws2 = self._raw_join("mid5", "#err4", tcp)
        ws2.send(frame(1, b"PRIVMSG #err4 :still here"))
        tcp.expect(r"^:mid5!\S+ PRIVMSG #err4 :still here$")


class Reload(loomtest.DaemonTest):
    def tearDown(self):
        if self.d:
            assert_no_sanitizer_report(self, self.d)
        super().tearDown()

    def test_reload_removing_the_instance(self):
        irc_port = free_port()
        self.d = irc_httpd(irc_port)
        self.d.start()
        ws = RawWs(self.d, "binary.ircv3.net")
        for ln in ("NICK stay", "USER stay 0 * :raw"):
            ws.send(frame(2, ln.encode()))
        while True:
            f = ws.read_frame()
            self.assertIsNotNone(f, "closed before 001")
            self.assertEqual(f[0], 2)  # binary under binary.ircv3.net
            if re.match(rb"^:\S+ 001 stay ", f[1]):
                break
        # the same config without the irc instance
        with open(self.d.conf_path) as f:
            conf = f.read()
        start = conf.index('irc "chat"')
        self.d.write_conf(conf[:start], raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        msgs, code, _ = ws.read_until_close()
        self.assertIn(code, (1000, 1001))
        ws.close()
        # the location now answers 503; the daemon is fine
        r = self.d.request("GET", "/irc", handshake_headers())
        self.assertEqual(r.status, 503)
        # and back again
        self.d.write_conf(conf, raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        ws = RawWs(self.d)
        for ln in ("NICK back", "USER back 0 * :raw"):
            ws.send(frame(1, ln.encode()))
        while True:
            f = ws.read_frame()
            self.assertIsNotNone(f)
            if re.match(rb"^:\S+ 001 back ", f[1]):
                break
        ws.close()


class Shipped(loomtest.DaemonTest):
    """The shipped conf/loom.conf: ws://127.0.0.1:8080/irc and
    wss://127.0.0.1:8443/irc reach irc "chat", whose TCP port 6667 client
    sees them in a channel."""

    def tearDown(self):
        if self.d:
            assert_no_sanitizer_report(self, self.d)
        super().tearDown()

    def test_shipped_websocket(self):
        self.d, ports = loomtest.shipped_conf()
        self.d.start()

        class Ports:
            port = ports[8080]
            tls_port = ports[8443]

        tcp = TcpIrc(ports[6667], "shiptcp")
        self.addCleanup(tcp.close)
        tcp.send("JOIN #ship")
        tcp.expect(r" JOIN :?#ship$")

        async def go():
            for nick, tls in (("shipws", False), ("shipwss", True)):
                ws = await ws_connect(Ports, ["text.ircv3.net"], tls)
                try:
                    self.assertEqual(ws.subprotocol, "text.ircv3.net")
                    await ws_register(ws, nick)
                    await ws.send("JOIN #ship")
                    tcp.expect(r"^:%s!\S+ JOIN :?#ship$" % nick)
                    await ws.send("PRIVMSG #ship :hello over %s" % ("wss" if tls else "ws"))
                    tcp.expect(r"^:%s!\S+ PRIVMSG #ship :hello over w" % nick)
                finally:
                    await ws.close()

        run(go())


class Config(unittest.TestCase):
    def test_irc_location_needs_irc(self):
        body = ('    server "main" {\n%s    }\n'
                % location("/irc", {"handler": '"irc"'}))
        d = HttpD(body)
        self.addCleanup(d.cleanup)
        rc, err = start_expect_exit(d)
        self.assertEqual(rc, 1)
        assert_error_line(self, err, d.conf_path, line_of(d.conf_path, 'location "/irc"'),
                          'irc = "INSTANCE"')


if __name__ == "__main__":
    loomtest.main()
