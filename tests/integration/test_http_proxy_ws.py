"""http module, reverse proxy: WebSocket.  A python echo upstream (RFC 6455)
behind the proxy: the handshake is passed (Upgrade, Connection,
Sec-WebSocket-*), text and binary messages come back byte for byte (a
stdlib client and python3-websockets), closing either side closes the
other, read_timeout ends an idle tunnel, and an Upgrade: websocket request
to an upstream that answers 200 stays a plain request."""

import asyncio
import os
import struct
import unittest

import loomtest
from loomtest import own, WAIT
from httptest import HttpD
import proxytest
from proxytest import proxy_loc, proxy_server, upstream_section, WsClient, WsEchoUpstream


class WebSocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ws = own(cls, WsEchoUpstream("ws")).start()
        cls.idle = own(cls, WsEchoUpstream("idle")).start()
        cls.plain = own(cls, proxytest.Upstream("plain")).start()
        cls.d = own(cls, HttpD(proxy_server([proxy_loc("/ws/", "ws"),
                                             proxy_loc("/idle/", "idle"),
                                             proxy_loc("/plain/", "plain")]),
                               opts=upstream_section("ws", [cls.ws.port]) +
                               upstream_section("idle", [cls.idle.port], read_timeout=1) +
                               upstream_section("plain", [cls.plain.port]), tree={"www": None}))
        cls.d.start()

    def client(self, path="/ws/chat", **kw):
        c = WsClient(self.d.port, path, **kw)
        self.addCleanup(c.close)
        return c

    def test_handshake_forwarded(self):
        c = self.client("/ws/chat?m=hs1", extra=[("Sec-WebSocket-Protocol", "chat"),
                                                 ("Origin", "http://localhost")])
        self.assertEqual(c.response.tokens("upgrade"), ["websocket"], c.response)
        self.assertIn("upgrade", c.response.tokens("connection"), c.response)
        q = self.ws.find("m=hs1")[0]
        self.assertEqual((q.method, q.target, q.version), ("GET", "/ws/chat?m=hs1", "HTTP/1.1"))
        self.assertEqual(q.tokens("upgrade"), ["websocket"], q)
        self.assertIn("upgrade", q.tokens("connection"), q)
        self.assertIsNotNone(q.get("sec-websocket-key"), q)
        self.assertEqual(q.get("sec-websocket-version"), "13", q)
        self.assertEqual(q.get("sec-websocket-protocol"), "chat", q)
        self.assertEqual(q.get("origin"), "http://localhost", q)
        self.assertEqual(q.get("x-forwarded-for"), "127.0.0.1", q)

    def test_echo_stdlib_client(self):
        c = self.client()
        msgs = ["hello", "", "ünïcødé " * 50, os.urandom(1), os.urandom(125), os.urandom(126),
                os.urandom(70000), b"", os.urandom(300000), "last"]
        for m in msgs:
            c.send(m)
        for m in msgs:
            op, payload = c.recv()
            if isinstance(m, str):
                self.assertEqual((op, payload.decode()), (1, m))
            else:
                self.assertEqual((op, len(payload)), (2, len(m)))
                self.assertEqual(payload, m)
        # a ping goes through the tunnel too
        c.sock.sendall(proxytest.ws_frame(9, b"are you there", True))
        self.assertEqual(c.recv(), (10, b"are you there"))

    def test_echo_websockets_library(self):
        try:
            import websockets  # noqa: F401
            import websockets.client
        except ImportError:
            self.skipTest("python3-websockets is not installed")
        port = self.d.port

        async def run():
            uri = "ws://127.0.0.1:%d/ws/lib" % port
            got = []
            async with websockets.client.connect(uri, max_size=None, open_timeout=WAIT,
                                                 close_timeout=WAIT) as w:
                for m in ("text one", b"\x00\x01binary\xff", "x" * 100000, os.urandom(200000)):
                    await w.send(m)
                    got.append((m, await asyncio.wait_for(w.recv(), WAIT)))
            return got

        for sent, got in asyncio.run(run()):
            self.assertEqual(type(sent), type(got))
            self.assertEqual(sent, got)

    def test_client_close_closes_upstream(self):
        c = self.client("/ws/a")
        c.send("ping")
        self.assertEqual(c.recv(), (1, b"ping"))
        ended = self.ws.ended
        c.close()   # a TCP close with no close frame
        self.ws.wait(lambda u: u.ended > ended, "the upstream side of the tunnel to end")

    def test_close_handshake_through_tunnel(self):
        c = self.client("/ws/b")
        c.send_close(1000)
        op, payload = c.recv()
        self.assertEqual((op, payload), (8, struct.pack("!H", 1000)))
        self.assertTrue(c.closed_by_peer(), "client side not closed after the upstream closed")

    def test_upstream_close_closes_client(self):
        c = self.client("/ws/c")
        c.send("close-me")
        op, payload = c.recv()
        self.assertEqual(op, 8)
        self.assertTrue(c.closed_by_peer(), "client side not closed after the upstream closed")

    def test_idle_tunnel_ends_after_read_timeout(self):
        c = self.client("/idle/x")
        c.send("still here")
        self.assertEqual(c.recv(), (1, b"still here"))
        self.assertTrue(c.closed_by_peer(timeout=WAIT), "idle tunnel kept past read_timeout")

    def test_upgrade_to_plain_upstream(self):
        with self.d.conn() as c:
            c.send(b"GET /plain/x?m=up200 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                   b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   b"Sec-WebSocket-Version: 13\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"plain\n"), r)
            self.assertFalse(r.has("upgrade"), r)
            # still HTTP on the same connection
            c.request("GET", "/plain/y")
            n = c.read_response()
            self.assertEqual((n.status, n.body), (200, b"plain\n"), n)

    def test_websocket_refused_by_upstream_answer(self):
        """The ws upstream answers a non-websocket request plainly."""
        r = self.d.get("/ws/plain-get")
        self.assertEqual((r.status, r.body), (200, b"not a websocket\n"), r)


if __name__ == "__main__":
    loomtest.main()
