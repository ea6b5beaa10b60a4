"""dns module, response rate limiting: a burst of UDP queries from one
source over a small rate gets some answers dropped and some slipped (sent
truncated), other prefixes and TCP are not affected, stats.loom counts
them; with the default config loopback is exempt and the burst is answered
in full.  Nothing here measures time: the burst is far above the rate."""

import re
import socket
import subprocess
import unittest

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode

import loomtest
from dnstest import zone_text, stats
from loomtest import Loomd, free_port, own, WAIT

BURST = 300
CHUNK = 50      # sent together, so that no socket buffer overflows


def conf(port, rrl):
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '    zone "example.test" { file = "zones/example.test.zone" }\n'
            '%s'
            '}\n') % (port, port, rrl)


def burst(port, source, n=BURST, quiet=1.0):
    """Send N queries for www.example.test A from SOURCE in chunks; returns
    (full answers, truncated answers, anything else) parsed messages.  After
    each chunk, answers are read until QUIET seconds pass without one (or
    the chunk is fully answered): a bound on the wait, not a measurement."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    full, tc, other = [], [], []
    ids = set()
    try:
        for base in range(0, n, CHUNK):
            pending = set()
            for i in range(base, min(n, base + CHUNK)):
                q = dns.message.make_query("www.example.test.", "A")
                q.id = i
                pending.add(i)
                ids.add(i)
                s.send(q.to_wire())
            s.settimeout(quiet)
            while pending:
                try:
                    d = s.recv(65535)
                except socket.timeout:
                    break
                r = dns.message.from_wire(d, raise_on_truncation=False)
                if r.id not in ids:
                    other.append(r)
                    continue
                pending.discard(r.id)
                if r.flags & dns.flags.TC:
                    tc.append(r)
                elif r.rcode() == dns.rcode.NOERROR and r.answer:
                    full.append(r)
                else:
                    other.append(r)
    finally:
        s.close()
    return full, tc, other


class Limited(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = Loomd(conf(cls.port, '    rrl {\n        rate = 5\n        slip = 2\n'
                                     '        exempt = {}\n    }\n'),
                      files={"zones/example.test.zone": zone_text()})
        own(cls, cls.d)
        cls.d.start()

    def test_burst_limited(self):
        before = stats(self.port)
        full, tc, other = burst(self.port, "127.0.1.1")
        self.assertEqual(other, [], [r.to_text() for r in other[:2]])
        self.assertGreater(len(full), 0, "not even the first queries were answered")
        self.assertLess(len(full) + len(tc), BURST, "nothing was dropped")
        self.assertLess(len(full), BURST // 2, "%d full answers at rate 5" % len(full))
        self.assertGreater(len(tc), 0, "no slipped (TC) answers with slip = 2")
        for r in tc:
            self.assertEqual(r.answer, [], "a slipped answer carries no records")
        # another /24 is unaffected, also while the first is limited
        r = dns.query.udp(dns.message.make_query("www.example.test.", "A"), "127.0.0.1",
                          timeout=WAIT, port=self.port, source="127.0.2.1")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertTrue(r.answer)
        after = stats(self.port)
        self.assertGreater(after["rrl_dropped"] - before["rrl_dropped"], 0)
        self.assertGreater(after["rrl_slipped"] - before["rrl_slipped"], 0)
        self.assertEqual(after["rrl_slipped"] - before["rrl_slipped"], len(tc))
        # the same counters as dig shows them
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+short", "CH", "TXT",
                              "stats.loom"], capture_output=True, text=True, timeout=WAIT * 2)
        self.assertEqual(out.returncode, 0, out.stderr)
        kv = dict(m.groups() for m in re.finditer(r'"(\w+)=(\d+)"', out.stdout))
        self.assertGreater(int(kv.get("rrl_dropped", 0)), 0, out.stdout)
        self.assertGreater(int(kv.get("rrl_slipped", 0)), 0, out.stdout)

    def test_tcp_not_limited(self):
        burst(self.port, "127.0.5.1", n=CHUNK * 2, quiet=0.3)   # the prefix is now over its rate
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(WAIT)
        s.bind(("127.0.5.1", 0))
        s.connect(("127.0.0.1", self.port))
        try:
            for i in range(30):
                q = dns.message.make_query("www.example.test.", "A")
                q.id = i
                r = dns.query.tcp(q, "127.0.0.1", timeout=WAIT, sock=s)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                self.assertFalse(r.flags & dns.flags.TC)
                self.assertTrue(r.answer)
        finally:
            s.close()


class DefaultExempt(unittest.TestCase):
    def test_loopback_exempt_by_default(self):
        port = free_port()
        d = Loomd(conf(port, ""), files={"zones/example.test.zone": zone_text()})
        try:
            d.start()
            full, tc, other = burst(port, "127.0.1.1", quiet=WAIT)
            self.assertEqual((len(full), len(tc), len(other)), (BURST, 0, 0))
            st = stats(port)
            self.assertEqual(st["rrl_dropped"], 0)
            self.assertEqual(st["rrl_slipped"], 0)
        finally:
            d.cleanup()

    def test_rate_zero_is_off(self):
        port = free_port()
        d = Loomd(conf(port, "    rrl {\n        rate = 0\n        exempt = {}\n    }\n"),
                  files={"zones/example.test.zone": zone_text()})
        try:
            d.start()
            full, tc, other = burst(port, "127.0.1.1", quiet=WAIT)
            self.assertEqual((len(full), len(tc), len(other)), (BURST, 0, 0))
        finally:
            d.cleanup()


if __name__ == "__main__":
    loomtest.main()
