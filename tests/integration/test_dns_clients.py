"""dns module with independent client libraries and tools: Twisted Names
(in a subprocess with its own reactor), dnspython's stub resolver, dig and
kdig.  Expected data is dnspython's parse of the zone file."""

import json
import re
import subprocess
import sys
import unittest

import dns.name
import dns.resolver
import dns.zone

import loomtest
from dnstest import ZONE_FILE, ORIGIN
from loomtest import Loomd, free_port, own, WAIT


TWISTED_CLIENT = r"""
import json, socket, sys
from twisted.internet import reactor, defer
from twisted.names import client, dns as tdns, error

port = int(sys.argv[1])
out = {}

@defer.inlineCallbacks
def main():
    r = client.createResolver(servers=[("127.0.0.1", port)])
    try:
        ans, auth, add = yield r.lookupAddress("www.example.test", timeout=[5])
        out["a"] = sorted(x.payload.dottedQuad() for x in ans if x.type == tdns.A)
        ans, auth, add = yield r.lookupIPV6Address("www.example.test", timeout=[5])
        out["aaaa"] = sorted(socket.inet_ntop(socket.AF_INET6, x.payload.address)
                             for x in ans if x.type == tdns.AAAA)
        ans, auth, add = yield r.lookupMailExchange("example.test", timeout=[5])
        out["mx"] = sorted([x.payload.preference, x.payload.name.name.decode().lower()] for x in ans)
        out["mx_additional"] = sorted(x.name.name.decode().lower() for x in add if x.type in (tdns.A, tdns.AAAA))
        ans, auth, add = yield r.lookupText("info.example.test", timeout=[5])
        out["txt"] = [[s.decode() for s in x.payload.data] for x in ans]
        ans, auth, add = yield r.lookupService("_sip._tcp.example.test", timeout=[5])
        out["srv"] = [[x.payload.priority, x.payload.weight, x.payload.port,
                       x.payload.target.name.decode().lower()] for x in ans]
        try:
            yield r.lookupAddress("nope.example.test", timeout=[5])
            out["nx"] = "answered"
        except error.DomainError:
            out["nx"] = "NXDOMAIN"
        try:
            yield r.lookupAddress("elsewhere.example.com", timeout=[5])
            out["refused"] = "answered"
        except error.DNSQueryRefusedError:
            out["refused"] = "REFUSED"
        # over TCP
        tr = client.Resolver(servers=[("127.0.0.1", port)])
        ans = yield tr.queryTCP([tdns.Query(b"mail.example.test", tdns.A, tdns.IN)], timeout=5)
        out["tcp_a"] = sorted(x.payload.dottedQuad() for x in ans.answers if x.type == tdns.A)
        out["tcp_aa"] = bool(ans.auth)
    except Exception as e:
        out["error"] = repr(e)
    finally:
        reactor.stop()

reactor.callWhenRunning(main)
reactor.callLater(30, reactor.stop)   # a bound on a hang, not a measurement
reactor.run()
print(json.dumps(out))
"""


class Clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        text = open(ZONE_FILE).read()
        cls.zone = dns.zone.from_text(text, ORIGIN, relativize=False)
        cls.d = Loomd('dns "auth" {\n'
                      '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
                      '    zone "example.test" { file = "zones/example.test.zone" }\n'
                      '}\n' % (cls.port, cls.port), files={"zones/example.test.zone": text})
        own(cls, cls.d)
        cls.d.start()

    def rds(self, rel, t):
        name = dns.name.from_text(rel, ORIGIN) if rel != "@" else ORIGIN
        return list(self.zone.get_rdataset(name, t))

    def test_twisted_names(self):
        r = subprocess.run([sys.executable, "-c", TWISTED_CLIENT, str(self.port)],
                           capture_output=True, text=True, timeout=WAIT * 3)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().split("\n")
        out = json.loads(lines[-1])
        self.assertNotIn("error", out, out)
        self.assertEqual(out["a"], sorted(rd.address for rd in self.rds("www", "A")))
        self.assertEqual(out["aaaa"], sorted(rd.address for rd in self.rds("www", "AAAA")))
        self.assertEqual(out["mx"], sorted([rd.preference, rd.exchange.to_text(True).lower()]
                                           for rd in self.rds("@", "MX")))
        targets = {rd.exchange.to_text(True).lower() for rd in self.rds("@", "MX")}
        self.assertTrue(targets <= set(out["mx_additional"]), out)
        self.assertEqual(out["txt"], [[s.decode() for s in rd.strings] for rd in self.rds("info", "TXT")])
        self.assertEqual(out["srv"], [[rd.priority, rd.weight, rd.port, rd.target.to_text(True).lower()]
                                      for rd in self.rds("_sip._tcp", "SRV")])
        self.assertEqual(out["nx"], "NXDOMAIN")
        self.assertEqual(out["refused"], "REFUSED")
        self.assertEqual(out["tcp_a"], sorted(rd.address for rd in self.rds("mail", "A")))
        self.assertTrue(out["tcp_aa"])

    def test_dnspython_resolver(self):
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = ["127.0.0.1"]
        res.port = self.port
        res.timeout = WAIT
        res.lifetime = WAIT
        a = res.resolve("alias.example.test.", "A")
        self.assertEqual(a.canonical_name, dns.name.from_text("www", ORIGIN))
        self.assertEqual(set(a.rrset), set(self.rds("www", "A")))
        with self.assertRaises(dns.resolver.NXDOMAIN):
            res.resolve("nope.example.test.", "A")
        with self.assertRaises(dns.resolver.NoAnswer):
            res.resolve("www.example.test.", "MX")
        a = res.resolve("example.test.", "CAA", tcp=True)
        self.assertEqual(set(a.rrset), set(self.rds("@", "CAA")))

    def run_tool(self, *cmd):
        r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=WAIT * 2)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_dig_short(self):
        for rel, t in (("www", "A"), ("@", "MX"), ("_sip._tcp", "SRV"), ("@", "CAA"), ("ns1", "AAAA")):
            with self.subTest(name=rel, type=t):
                name = (rel + ".example.test") if rel != "@" else "example.test"
                out = self.run_tool("dig", "@127.0.0.1", "-p", str(self.port), "+short", name, t)
                self.assertEqual(sorted(out.split("\n")[:-1]),
                                 sorted(rd.to_text() for rd in self.rds(rel, t)))

    def test_dig_flags(self):
        out = self.run_tool("dig", "@127.0.0.1", "-p", str(self.port), "www.example.test", "A")
        self.assertRegex(out, r"flags: qr aa rd;")
        self.assertIn("status: NOERROR", out)
        out = self.run_tool("dig", "@127.0.0.1", "-p", str(self.port), "www.sub.example.test", "A")
        self.assertRegex(out, r"flags: qr rd;")    # referral: no aa
        self.assertIn("AUTHORITY: 1", out)

    def test_kdig(self):
        for proto in ("+notcp", "+tcp"):
            out = self.run_tool("kdig", "@127.0.0.1", "-p", str(self.port), proto, "example.test", "MX")
            self.assertIn("NOERROR", out)
            self.assertRegex(out, r"Flags: qr aa rd;")
            got = re.findall(r"(?m)^example\.test\.\s+\d+\s+IN\s+MX\s+(\d+ \S+)", out)
            self.assertEqual(sorted(got), sorted(rd.to_text() for rd in self.rds("@", "MX")), out)


if __name__ == "__main__":
    loomtest.main()
