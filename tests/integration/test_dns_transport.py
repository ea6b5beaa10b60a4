"""dns module transports: UDP, TCP with 2-byte length framing (pipelined
queries, a query split over several writes), DNS over TLS (kdig +tls and a
Python ssl socket), the idle timeout on TCP and tcp_per_client."""

import re
import socket
import ssl
import struct
import subprocess
import time
import unittest

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.zone

import loomtest
from dnstest import ORIGIN, zone_text
from loomtest import Loomd, free_port, recv_exactly, own, WAIT



def conf(port, tls_port, extra=""):
    return ('tls "local" { self_signed = yes }\n'
            'dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1",\n'
            '              "tls:%d:interface=127.0.0.1:profile=local"}\n'
            '%s'
            '    zone "example.test" { file = "zones/example.test.zone" }\n'
            '}\n') % (port, port, tls_port, extra)


def framed(msg):
    wire = msg.to_wire() if hasattr(msg, "to_wire") else msg
    return struct.pack(">H", len(wire)) + wire


def read_framed(s):
    """One length-prefixed message from S, or None at EOF before it."""
    head = b""
    while len(head) < 2:
        try:
            chunk = s.recv(2 - len(head))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        head += chunk
    (n,) = struct.unpack(">H", head)
    return recv_exactly(s, n)


def at_eof(s):
    """True once the peer has closed S (EOF or reset), reading whatever
    comes first; False if a whole DNS message arrives instead."""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return True
        if not chunk:
            return True
        if len(chunk) >= 2:
            return False


class Transport(unittest.TestCase):
    EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.tls_port = free_port()
        cls.text = zone_text()
        cls.zone = dns.zone.from_text(cls.text, ORIGIN, relativize=False)
        cls.d = Loomd(conf(cls.port, cls.tls_port, cls.EXTRA),
                      files={"zones/example.test.zone": cls.text})
        own(cls, cls.d)
        cls.d.start()

    def want(self, rel, t):
        return set(self.zone.get_rdataset(dns.name.from_text(rel, ORIGIN), t))

    def check_answer(self, r, rel, t):
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertEqual(set(r.answer[-1]), self.want(rel, t), r.to_text())

    def connect(self, source="127.0.0.1"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(WAIT)
        s.bind((source, 0))
        s.connect(("127.0.0.1", self.port))
        return s

    def ask_on(self, s, rel, t="A", qid=None):
        q = dns.message.make_query(dns.name.from_text(rel, ORIGIN), t)
        if qid is not None:
            q.id = qid
        s.sendall(framed(q))
        raw = read_framed(s)
        self.assertIsNotNone(raw, "connection closed instead of an answer")
        r = dns.message.from_wire(raw)
        self.assertEqual(r.id, q.id)
        return r


class Basic(Transport):
    def test_udp(self):
        q = dns.message.make_query("www.example.test.", "AAAA")
        r = dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=self.port)
        self.check_answer(r, "www", "AAAA")

    def test_tcp(self):
        q = dns.message.make_query("mail.example.test.", "A")
        r = dns.query.tcp(q, "127.0.0.1", timeout=WAIT, port=self.port)
        self.check_answer(r, "mail", "A")

    def test_dig_udp_and_tcp(self):
        for mode in ("+notcp", "+tcp"):
            out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), mode, "+short",
                                  "ns1.example.test", "A"],
                                 capture_output=True, text=True, timeout=WAIT * 2)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(set(out.stdout.split()), {rd.to_text() for rd in self.want("ns1", "A")})

    def test_tcp_framing_length(self):
        with self.connect() as s:
            q = dns.message.make_query("www.example.test.", "A")
            s.sendall(framed(q))
            head = recv_exactly(s, 2)
            (n,) = struct.unpack(">H", head)
            body = recv_exactly(s, n)
            r = dns.message.from_wire(body)  # exactly N bytes: a whole message
            self.check_answer(r, "www", "A")

    def test_tcp_pipelined_in_order(self):
        queries = []
        for i, (rel, t) in enumerate([("www", "A"), ("@", "MX"), ("mail", "AAAA"), ("info", "TXT"),
                                      ("ns2", "A"), ("@", "NS"), ("_sip._tcp", "SRV"), ("www", "AAAA")]):
            q = dns.message.make_query(dns.name.from_text(rel, ORIGIN), t)
            q.id = 1000 + i
            queries.append((q, rel, t))
        with self.connect() as s:
            s.sendall(b"".join(framed(q) for q, _, _ in queries))
            for q, rel, t in queries:
                raw = read_framed(s)
                self.assertIsNotNone(raw, "closed before the answer to %d" % q.id)
                r = dns.message.from_wire(raw)
                self.assertEqual(r.id, q.id, "answers out of order")
                self.check_answer(r, rel, t)

    def test_tcp_split_writes(self):
        q = dns.message.make_query("www.example.test.", "A")
        q.id = 777
        data = framed(q)
        with self.connect() as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for piece in (data[:1], data[1:2], data[2:7], data[7:20], data[20:]):
                s.sendall(piece)
                time.sleep(0.05)  # separate segments; nothing is timed
            r = dns.message.from_wire(read_framed(s))
            self.assertEqual(r.id, 777)
            self.check_answer(r, "www", "A")
            # the connection stays usable for another query
            self.check_answer(self.ask_on(s, "mail2", "A", 778), "mail2", "A")

    def test_tcp_many_queries_one_connection(self):
        with self.connect() as s:
            for i in range(200):
                self.check_answer(self.ask_on(s, "www", "A", i), "www", "A")

    def test_dot_python_ssl(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                r = self.ask_on(s, "www", "A", 31)
                self.check_answer(r, "www", "A")
                r = self.ask_on(s, "@", "MX", 32)
                self.check_answer(r, "@", "MX")

    def test_dot_kdig(self):
        out = subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.tls_port), "+tls",
                              "www.example.test", "A"],
                             capture_output=True, text=True, timeout=WAIT * 2)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("TLS", out.stdout)
        self.assertIn("NOERROR", out.stdout)
        got = set(re.findall(r"(?m)^www\.example\.test\.\s+\d+\s+IN\s+A\s+(\S+)", out.stdout))
        self.assertEqual(got, {rd.to_text() for rd in self.want("www", "A")}, out.stdout)

    def test_dnspython_tls(self):
        if not hasattr(dns.query, "tls"):
            self.skipTest("dnspython without dns.query.tls")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        q = dns.message.make_query("ns1.example.test.", "AAAA")
        r = dns.query.tls(q, "127.0.0.1", timeout=WAIT, port=self.tls_port, ssl_context=ctx)
        self.check_answer(r, "ns1", "AAAA")

    def test_client_closes_mid_query(self):
        q = dns.message.make_query("www.example.test.", "A")
        data = framed(q)
        for cut in (1, 2, 5, len(data) - 1):
            s = self.connect()
            s.sendall(data[:cut])
            s.close()
        # a connection reset with an unread answer pending
        s = self.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(data * 20)
        s.close()
        r = dns.query.tcp(q, "127.0.0.1", timeout=WAIT, port=self.port)
        self.check_answer(r, "www", "A")


class Idle(Transport):
    EXTRA = "    idle_timeout = 2\n"

    def test_idle_connection_closed(self):
        with self.connect() as s:
            self.assertTrue(at_eof(s), "an idle connection got data instead of EOF")

    def test_idle_after_answer_closed(self):
        with self.connect() as s:
            self.check_answer(self.ask_on(s, "www", "A", 5), "www", "A")
            self.assertTrue(at_eof(s))

    def test_idle_tls_closed(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                self.check_answer(self.ask_on(s, "www", "A", 6), "www", "A")
                try:
                    self.assertTrue(at_eof(s))
                except (ssl.SSLError, OSError):
                    pass  # an unclean TLS close still is a close


class PerClient(Transport):
    EXTRA = "    tcp_per_client = 2\n"

    def test_third_connection_refused(self):
        a = self.connect()
        b = self.connect()
        try:
            # both are served (and so registered by loomd)
            self.check_answer(self.ask_on(a, "www", "A", 1), "www", "A")
            self.check_answer(self.ask_on(b, "www", "A", 2), "www", "A")
            c = self.connect()
            try:
                q = dns.message.make_query("www.example.test.", "A")
                try:
                    c.sendall(framed(q))
                except OSError:
                    pass
                self.assertIsNone(read_framed(c), "third connection from one address was answered")
            finally:
                c.close()
            # the first two still work
            self.check_answer(self.ask_on(a, "mail", "A", 3), "mail", "A")
            self.check_answer(self.ask_on(b, "mail", "A", 4), "mail", "A")
            # another client address is not limited by this one's connections
            with self.connect("127.0.0.2") as o:
                self.check_answer(self.ask_on(o, "www", "A", 5), "www", "A")
        finally:
            a.close()
        # a's slot is freed once loomd has seen it close: bounded retries
        deadline = time.monotonic() + WAIT
        while True:
            d = self.connect()
            try:
                q = dns.message.make_query("www.example.test.", "A")
                d.sendall(framed(q))
                raw = read_framed(d)
            except OSError:
                raw = None
            finally:
                d.close()
            if raw is not None:
                self.check_answer(dns.message.from_wire(raw), "www", "A")
                break
            self.assertLess(time.monotonic(), deadline, "slot never freed after close")
            time.sleep(0.1)
        b.close()


if __name__ == "__main__":
    loomtest.main()
