"""dns module, forwarding: a second loomd serving upstream.test is the
upstream resolver of the first.  Allowed clients get the upstream's
answers (ID, RD and question kept), others REFUSED; no forward section
means REFUSED; an upstream that never answers gives SERVFAIL after the
timeout."""

import socket
import threading
import time
import unittest

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.zone

import loomtest
from dnstest import stats
from loomtest import Loomd, free_port, own, WAIT

UPSTREAM = dns.name.from_text("upstream.test.")
UPSTREAM_ZONE = """$ORIGIN upstream.test.
$TTL 1800
@    IN SOA ns hostmaster 5 3600 600 86400 120
     IN NS  ns
ns   IN A   192.0.2.11
www  IN A   192.0.2.12
     IN AAAA 2001:db8::12
mx   IN MX  5 mail
mail IN A   192.0.2.13
txt  IN TXT "from the upstream"
"""
LOCAL_ZONE = """$ORIGIN local.test.
$TTL 600
@    IN SOA ns hostmaster 1 3600 600 86400 60
     IN NS  ns
ns   IN A   192.0.2.21
www  IN A   192.0.2.22
"""


def listen(port):
    return '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n' % (port, port)


def front_conf(port, forward):
    return ('dns "front" {\n' + listen(port) +
            '    zone "local.test" { file = "zones/local.test.zone" }\n' +
            forward + '}\n')


def query(port, qname, rdtype="A", source=None, tcp=False, q=None):
    q = q or dns.message.make_query(qname, rdtype)
    f = dns.query.tcp if tcp else dns.query.udp
    return f(q, "127.0.0.1", timeout=WAIT, port=port, source=source)


class Upstream:
    """The upstream loomd, shared by the tests of one class."""

    def __init__(self):
        self.port = free_port()
        self.zone = dns.zone.from_text(UPSTREAM_ZONE, UPSTREAM, relativize=False)
        self.d = Loomd('dns "upstream" {\n' + listen(self.port) +
                       '    zone "upstream.test" { file = "zones/upstream.test.zone" }\n}\n',
                       files={"zones/upstream.test.zone": UPSTREAM_ZONE})
        self.d.start()


class Forward(unittest.TestCase):
    ALLOW = ""

    @classmethod
    def setUpClass(cls):
        cls.up = Upstream()
        own(cls, cls.up.d)
        cls.port = free_port()
        fwd = ('    forward {\n        servers = {"127.0.0.1:%d"}\n%s        timeout = 2\n    }\n'
               % (cls.up.port, cls.ALLOW))
        cls.d = own(cls, Loomd(front_conf(cls.port, fwd), files={"zones/local.test.zone": LOCAL_ZONE}))
        cls.d.start()

    def direct(self, q):
        return dns.query.udp(q, "127.0.0.1", timeout=WAIT, port=self.up.port)

    def assertSameAnswer(self, got, want):
        self.assertEqual(got.rcode(), want.rcode(), got.to_text())
        self.assertEqual(sorted(rr.to_text() for rr in got.answer),
                         sorted(rr.to_text() for rr in want.answer))
        self.assertEqual(sorted(rr.to_text() for rr in got.authority),
                         sorted(rr.to_text() for rr in want.authority))


class Forwarding(Forward):
    def test_forwarded_answer(self):
        for rel, t in (("www", "A"), ("www", "AAAA"), ("mx", "MX"), ("txt", "TXT"), ("@", "SOA")):
            with self.subTest(name=rel, type=t):
                qname = dns.name.from_text(rel, UPSTREAM) if rel != "@" else UPSTREAM
                q = dns.message.make_query(qname, t)
                q.id = 0x7A00 + len(rel)
                r = query(self.port, None, q=q)
                self.assertEqual(r.id, q.id)
                self.assertTrue(r.flags & dns.flags.QR)
                self.assertTrue(r.flags & dns.flags.RD, "RD not echoed")
                self.assertEqual(r.question[0].name, qname)
                self.assertSameAnswer(r, self.direct(q))
                self.assertEqual(set(r.answer[0]), set(self.up.zone.get_rdataset(qname, t)))

    def test_forwarded_nxdomain(self):
        q = dns.message.make_query("nope.upstream.test.", "A")
        r = query(self.port, None, q=q)
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN, r.to_text())
        self.assertSameAnswer(r, self.direct(q))

    def test_forwarded_over_tcp(self):
        q = dns.message.make_query("www.upstream.test.", "A")
        r = query(self.port, None, q=q, tcp=True)
        self.assertEqual(r.id, q.id)
        self.assertSameAnswer(r, self.direct(q))

    def test_question_case_preserved(self):
        qname = dns.name.from_text("WwW.UpStReAm.TeSt.")
        r = query(self.port, qname, "A")
        self.assertEqual(r.question[0].name.labels, qname.labels)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)

    def test_local_zone_not_forwarded(self):
        r = query(self.port, "www.local.test.", "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.flags & dns.flags.AA, "own zone must be answered authoritatively")
        zone = dns.zone.from_text(LOCAL_ZONE, "local.test.", relativize=False)
        self.assertEqual(set(r.answer[0]), set(zone.get_rdataset("www.local.test.", "A")))
        # a name in our zone that does not exist is NXDOMAIN from us, not forwarded
        r = query(self.port, "nope.local.test.", "A")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)

    def test_many_concurrent(self):
        """Queries in flight together come back with their own IDs and names."""
        kinds = [(dns.name.from_text(n, UPSTREAM), t)
                 for n, t in (("www", "A"), ("mx", "MX"), ("txt", "TXT"), ("mail", "A"), ("www", "AAAA"))]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", self.port))
        sent = {}
        try:
            for i in range(50):
                q = dns.message.make_query(*kinds[i % len(kinds)])
                q.id = 0x1000 + i
                sent[q.id] = q
                s.send(q.to_wire())
            got = {}
            while len(got) < len(sent):
                r = dns.message.from_wire(s.recv(65535))
                self.assertIn(r.id, sent)
                self.assertNotIn(r.id, got, "two answers for one ID")
                got[r.id] = r
        finally:
            s.close()
        for qid, r in got.items():
            self.assertTrue(sent[qid].is_response(r), r.to_text())
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            want = self.up.zone.get_rdataset(sent[qid].question[0].name, sent[qid].question[0].rdtype)
            self.assertEqual(set(r.answer[0]), set(want))

    def test_stats(self):
        before = stats(self.port)
        query(self.port, "www.upstream.test.", "A")
        self.assertGreaterEqual(stats(self.port)["forwarded"] - before["forwarded"], 1)


class NotAllowed(Forward):
    ALLOW = '        allow = {"127.0.0.2"}\n'

    def test_refused_for_other_client(self):
        r = query(self.port, "www.upstream.test.", "A", source="127.0.0.1")
        self.assertEqual(r.rcode(), dns.rcode.REFUSED, r.to_text())
        self.assertEqual(r.answer, [])

    def test_allowed_client(self):
        q = dns.message.make_query("www.upstream.test.", "A")
        r = query(self.port, None, q=q, source="127.0.0.2")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        self.assertSameAnswer(r, self.direct(q))

    def test_own_zone_still_served(self):
        r = query(self.port, "www.local.test.", "A", source="127.0.0.1")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)


class NoForward(unittest.TestCase):
    def test_refused_without_forward_section(self):
        up = Upstream()
        port = free_port()
        d = Loomd(front_conf(port, ""), files={"zones/local.test.zone": LOCAL_ZONE})
        try:
            d.start()
            r = query(port, "www.upstream.test.", "A")
            self.assertEqual(r.rcode(), dns.rcode.REFUSED, r.to_text())
            self.assertEqual(r.answer, [])
        finally:
            d.cleanup()
            up.d.cleanup()


class DeadUpstream(unittest.TestCase):
    def run_front(self, upstream_port):
        port = free_port()
        fwd = '    forward {\n        servers = {"127.0.0.1:%d"}\n        timeout = 1\n    }\n' % upstream_port
        d = Loomd(front_conf(port, fwd), files={"zones/local.test.zone": LOCAL_ZONE})
        d.start()
        self.addCleanup(d.cleanup)
        return port

    def check_servfail(self, port):
        q = dns.message.make_query("www.upstream.test.", "A")
        r = query(port, None, q=q)
        self.assertEqual(r.id, q.id)
        self.assertEqual(r.rcode(), dns.rcode.SERVFAIL, r.to_text())
        self.assertEqual(r.answer, [])
        # the daemon still answers its own zone
        self.assertEqual(query(port, "www.local.test.", "A").rcode(), dns.rcode.NOERROR)
        self.assertGreaterEqual(stats(port).get("forward_fail", 0), 1)

    def test_silent_upstream(self):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        self.addCleanup(sink.close)
        seen = []
        sink.settimeout(0.2)
        stop = threading.Event()

        def drain():   # reads queries, never answers
            while not stop.is_set():
                try:
                    seen.append(sink.recv(65535))
                except OSError:
                    pass
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        self.addCleanup(stop.set)
        port = self.run_front(sink.getsockname()[1])
        self.check_servfail(port)
        self.assertTrue(seen, "the query never reached the upstream")

    def test_nothing_listening(self):
        self.check_servfail(self.run_front(free_port()))


class ReloadInFlight(unittest.TestCase):
    """A forwarded UDP query whose listener a reload closes before the
    upstream answers: the late answer must not be sent through the freed
    listener (a use after free under ASan before replies held a checked
    handle); it is dropped and counted, and the daemon keeps serving."""

    def test_reply_after_listener_moved(self):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        self.addCleanup(sink.close)
        sink.settimeout(WAIT)
        fwd = ('    forward {\n        servers = {"127.0.0.1:%d"}\n        timeout = 1\n    }\n'
               % sink.getsockname()[1])
        old_port, new_port = free_port(socket.SOCK_DGRAM), free_port()
        d = Loomd(front_conf(old_port, fwd), files={"zones/local.test.zone": LOCAL_ZONE})
        d.start()
        self.addCleanup(d.cleanup)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(client.close)
        client.sendto(dns.message.make_query("www.upstream.test.", "A").to_wire(),
                      ("127.0.0.1", old_port))
        sink.recv(65535)  # the forward is in flight and will never be answered
        d.write_conf(front_conf(new_port, fwd))
        self.assertTrue(d.reload())
        # the forward times out (1 s, one try) and its SERVFAIL has nowhere to go
        deadline = time.monotonic() + WAIT
        while stats(new_port).get("reply_dropped", 0) < 1:
            self.assertLess(time.monotonic(), deadline, d.log())
            time.sleep(0.1)
        self.assertEqual(query(new_port, "www.local.test.", "A").rcode(), dns.rcode.NOERROR)
        self.assertEqual(d.stop(), 0, d.log())


if __name__ == "__main__":
    loomtest.main()
