"""The echo module (RFC 862) over TCP, UDP, a unix socket and IPv6."""

import os
import socket
import stat
import struct
import threading
import unittest

import loomtest
from loomtest import Loomd, free_port, recv_exactly, recv_until_close, own, WAIT


class EchoTCP(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = Loomd('echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % cls.port)
        own(cls, cls.d)
        cls.d.start()

    def test_several_writes(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            for chunk in (b"hello", b" world\r\n", b"\x00\xff\x01 binary", b"x" * 5000, b"\n"):
                s.sendall(chunk)
                self.assertEqual(recv_exactly(s, len(chunk)), chunk)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_close(s), b"")

    def test_pipelined_writes(self):
        parts = [("line %d\n" % i).encode() for i in range(200)]
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            for p in parts:
                s.sendall(p)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_close(s), b"".join(parts))

    def test_one_megabyte(self):
        payload = os.urandom(1 << 20)
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            errors = []

            def writer():
                try:
                    view = memoryview(payload)
                    for off in range(0, len(view), 32768):
                        s.sendall(view[off:off + 32768])
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    errors.append(e)

            t = threading.Thread(target=writer)
            t.start()
            got = recv_until_close(s)
            t.join(WAIT)
            self.assertFalse(t.is_alive())
            self.assertEqual(errors, [])
        self.assertEqual(len(got), len(payload))
        self.assertTrue(got == payload, "1 MB payload came back altered")

    def test_client_reset_mid_transfer(self):
        """Clients that vanish with a RST while data is in flight do not
        disturb the daemon."""
        for _ in range(5):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
            s.settimeout(2)
            try:
                s.sendall(b"r" * (1 << 20))
            except OSError:
                pass  # the daemon may push back; that is fine
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.assertEqual(loomtest.tcp_query(self.port, b"still here", shut=True), b"still here")

    def test_concurrent_clients(self):
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
                 for _ in range(10)]
        try:
            for i, s in enumerate(socks):
                s.sendall(b"client %d\n" % i)
            for i, s in enumerate(reversed(socks)):
                n = len(socks) - 1 - i
                want = b"client %d\n" % n
                self.assertEqual(recv_exactly(s, len(want)), want)
        finally:
            for s in socks:
                s.close()


class EchoUDP(unittest.TestCase):
    def test_datagrams(self):
        port = free_port()
        with Loomd('echo "u" {\n  listen = {"udp:%d:interface=127.0.0.1"}\n}\n' % port):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(WAIT)
            try:
                s.connect(("127.0.0.1", port))
                for msg in (b"one", b"two two", b"\x00\x01\x02\xff", b"z" * 1400,
                            b"", b"big" * 10000, os.urandom(65507)):
                    s.send(msg)
                    # each datagram comes back whole, as one datagram
                    self.assertEqual(s.recv(65535), msg)
            finally:
                s.close()

    def test_two_peers(self):
        port = free_port()
        with Loomd('echo "u" {\n  listen = {"udp:%d:interface=127.0.0.1"}\n}\n' % port):
            a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                for s in (a, b):
                    s.settimeout(WAIT)
                    s.bind(("127.0.0.1", 0))
                a.sendto(b"from a", ("127.0.0.1", port))
                b.sendto(b"from b", ("127.0.0.1", port))
                data, addr = b.recvfrom(65535)
                self.assertEqual((data, addr), (b"from b", ("127.0.0.1", port)))
                data, addr = a.recvfrom(65535)
                self.assertEqual((data, addr), (b"from a", ("127.0.0.1", port)))
            finally:
                a.close()
                b.close()

    def test_tcp_and_udp_same_port(self):
        port = free_port()
        conf = ('echo "both" {\n  listen = {"tcp:%d:interface=127.0.0.1", '
                '"udp:%d:interface=127.0.0.1"}\n}\n' % (port, port))
        with Loomd(conf):
            self.assertEqual(loomtest.tcp_query(port, b"via tcp", shut=True), b"via tcp")
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(WAIT)
            try:
                s.sendto(b"via udp", ("127.0.0.1", port))
                self.assertEqual(s.recv(65535), b"via udp")
            finally:
                s.close()


class EchoUnix(unittest.TestCase):
    def test_unix_socket_mode(self):
        d = Loomd('echo "x" {\n  listen = {"unix:{dir}/echo.sock:mode=0660"}\n}\n')
        try:
            d.start()
            path = os.path.join(d.dir, "echo.sock")
            st = os.stat(path)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o660, oct(st.st_mode))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(WAIT)
            try:
                s.connect(path)
                s.sendall(b"over unix")
                self.assertEqual(recv_exactly(s, 9), b"over unix")
                s.sendall(b" again")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_close(s), b" again")
            finally:
                s.close()
        finally:
            d.cleanup()

    def test_unix_socket_other_mode(self):
        d = Loomd('echo "x" {\n  listen = {"unix:{dir}/echo2.sock:mode=0600"}\n}\n')
        try:
            d.start()
            st = os.stat(os.path.join(d.dir, "echo2.sock"))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, oct(st.st_mode))
        finally:
            d.cleanup()


class EchoIPv6(unittest.TestCase):
    def setUp(self):
        if not loomtest.have_ipv6_loopback():
            self.skipTest("no IPv6 loopback (::1) here")

    def check(self, iface):
        port = free_port()
        conf = 'echo "six" {\n  listen = {"tcp:%d:interface=%s"}\n}\n' % (port, iface)
        with Loomd(conf):
            with socket.create_connection(("::1", port), timeout=WAIT) as s:
                self.assertEqual(s.family, socket.AF_INET6)
                s.sendall(b"v6 echo")
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_close(s), b"v6 echo")
            # bound to ::1 only: IPv4 loopback is not served on that port
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()

    def test_escaped_literal(self):
        # In a libconfuse string "\\:" is a backslash and a colon, so loomd
        # sees the Twisted-escaped `interface=\:\:1`.
        self.check(r"\\:\\:1")

    def test_bracketed_literal(self):
        self.check("[::1]")

    def test_udp_v6(self):
        port = free_port()
        with Loomd('echo "six" {\n  listen = {"udp:%d:interface=[::1]"}\n}\n' % port):
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.settimeout(WAIT)
            try:
                s.sendto(b"v6 datagram", ("::1", port))
                self.assertEqual(s.recv(65535), b"v6 datagram")
            finally:
                s.close()


class TwoInstances(unittest.TestCase):
    def test_side_by_side(self):
        p1, p2 = free_port(), free_port()
        conf = ('echo "first" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                'echo "second" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % (p1, p2))
        with Loomd(conf):
            a = socket.create_connection(("127.0.0.1", p1), timeout=WAIT)
            b = socket.create_connection(("127.0.0.1", p2), timeout=WAIT)
            try:
                a.sendall(b"to first")
                b.sendall(b"to second")
                self.assertEqual(recv_exactly(b, 9), b"to second")
                self.assertEqual(recv_exactly(a, 8), b"to first")
            finally:
                a.close()
                b.close()


if __name__ == "__main__":
    loomtest.main()
