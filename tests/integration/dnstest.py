"""dnstest - what the DNS integration tests share: the shipped example zone
and reading loomd's counters (CH TXT stats.loom)."""

import os

import dns.message
import dns.query
import dns.rcode

import loomtest

ZONE_FILE = os.path.join(loomtest.SRCDIR, "conf", "zones", "example.test.zone")
ORIGIN = dns.name.from_text("example.test.")


def zone_text():
    """The text of conf/zones/example.test.zone."""
    with open(ZONE_FILE) as f:
        return f.read()


def stats(port, source=None):
    """loomd's counters as a dict, from CH TXT stats.loom over UDP."""
    r = dns.query.udp(dns.message.make_query("stats.loom.", "TXT", "CH"),
                      "127.0.0.1", timeout=loomtest.WAIT, port=port, source=source)
    if r.rcode() != dns.rcode.NOERROR:
        raise AssertionError("stats.loom: %s" % dns.rcode.to_text(r.rcode()))
    out = {}
    for rrset in r.answer:
        for rd in rrset:
            for s in rd.strings:
                k, _, v = s.decode().partition("=")
                out[k] = int(v) if v.isdigit() else v
    return out
