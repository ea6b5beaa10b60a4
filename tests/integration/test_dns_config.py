"""dns module configuration and zone loading errors: a bad zone or option
stops loomd at start with one stderr line naming FILE:LINE (the zone file
for zone content, loom.conf for options); records outside the zone are
warned about and not served; SIGHUP with a broken zone keeps the old one
serving, with a fixed zone serves the new data."""

import os
import re
import unittest

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.zone

import loomtest
from loomtest import DaemonTest
from dnstest import ZONE_FILE, ORIGIN
from loomtest import (Loomd, free_port, line_of, assert_error_line, start_expect_exit,
                      run_loomd, WAIT, _ERR_LINE)

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(warn|info)\] ")
ZONE_ERR = re.compile(r"^(.+?): (.+)$")
GOOD = """$ORIGIN example.test.
$TTL 3600
@    IN SOA ns1 hostmaster 2026112101 7200 3600 1209600 300
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.80
"""


def conf(port, zone_opts="", extra="", zfile="zones/example.test.zone"):
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '%s'
            '    zone "example.test" {\n'
            '        file = "%s"\n'
            '%s'
            '    }\n'
            '}\n') % (port, port, extra, zfile, zone_opts)


def query(port, qname, rdtype="A"):
    return dns.query.udp(dns.message.make_query(qname, rdtype), "127.0.0.1",
                         timeout=WAIT, port=port)


class ZoneErrors(DaemonTest):
    """Each bad zone makes loomd (and loomd -t) exit 1 with one line
    naming the zone file and, where there is one, the offending line."""

    def expect_zone_error(self, text, needles=None, any_line=False, zname="zones/example.test.zone"):
        self.d = Loomd(conf(free_port(), zfile=zname), files={zname: text})
        zpath = os.path.join(self.d.dir, zname)
        lines = None
        if needles is not None:
            lines = {line_of(zpath, n) for n in needles}
        for mode in ("start", "test"):
            if mode == "start":
                rc, err = start_expect_exit(self.d)
            else:
                r = run_loomd(["-t", "-c", self.d.conf_path])
                rc, err = r.returncode, r.stderr
                self.assertEqual(r.stdout, "")
            self.assertEqual(rc, 1, "%s: %s" % (mode, err))
            # log lines (warnings about the zone) may come first; the error
            # itself is one line, FILE:LINE: message, or FILE: message for
            # a fault of the zone as a whole
            errs = [l for l in err.strip("\n").split("\n") if not LOG_LINE.match(l)]
            self.assertEqual(len(errs), 1, "%s: expected one error line:\n%s" % (mode, err))
            m = _ERR_LINE.match(errs[0])
            if m is None and lines is None:
                m = ZONE_ERR.match(errs[0])
            self.assertIsNotNone(m, "%s: not FILE:LINE: message: %r" % (mode, errs[0]))
            f = m.group(1)
            fpath = f if os.path.isabs(f) else os.path.join(self.d.dir, f)
            self.assertTrue(os.path.exists(fpath) and os.path.samefile(fpath, zpath),
                            "%s: error names %r, not the zone file: %r" % (mode, f, errs[0]))
            if lines is not None and not any_line:
                self.assertIn(int(m.group(2)), lines, "%s: wrong line: %r (want %s)"
                              % (mode, errs[0], sorted(lines)))
        return m.group(m.lastindex)

    def test_syntax_error_bad_address(self):
        self.expect_zone_error(GOOD + "bad  IN A   192.0.2.300\nok   IN A 192.0.2.1\n",
                               ["192.0.2.300"])

    def test_syntax_error_unknown_type(self):
        self.expect_zone_error(GOOD + "x IN FROB 1 2 3\n", ["FROB"])

    def test_syntax_error_unclosed_paren(self):
        self.expect_zone_error(GOOD + "txt IN TXT ( \"a\"\n")

    def test_syntax_error_in_real_zone(self):
        """The shipped zone with one line broken in the middle."""
        with open(ZONE_FILE) as f:
            lines = f.read().split("\n")
        i = next(n for n, l in enumerate(lines) if l.startswith("www "))
        lines[i] = "www     IN A    not-an-address"
        self.expect_zone_error("\n".join(lines), ["not-an-address"])

    def test_no_soa(self):
        """Named at the zone's first record, where the SOA belongs."""
        text = "\n".join(l for l in GOOD.split("\n") if "SOA" not in l) + "\n"
        text = text.replace("     IN NS", "@    IN NS")
        msg = self.expect_zone_error(text, ["IN NS"])
        self.assertIn("no SOA record", msg)

    def test_two_soas(self):
        text = GOOD + "@ IN SOA ns1 hostmaster 2026112102 7200 3600 1209600 300\n"
        self.expect_zone_error(text, ["SOA ns1 hostmaster 2026112101", "2026112102"])

    def test_no_apex_ns(self):
        """Named at the SOA record, beside which the NS records belong."""
        text = GOOD.replace("     IN NS  ns1\n", "sub  IN NS  ns1\n")
        msg = self.expect_zone_error(text, ["IN SOA"])
        self.assertIn("no NS records", msg)

    def test_cname_and_other_data(self):
        text = GOOD + "alias IN CNAME www\nalias IN TXT \"also here\"\n"
        self.expect_zone_error(text, ["CNAME www", "also here"])

    def test_cname_at_apex(self):
        self.expect_zone_error(GOOD + "@ IN CNAME www\n", ["CNAME www", "SOA"])

    def test_soa_for_other_zone(self):
        """Every record outside the zone: named at the first of them."""
        msg = self.expect_zone_error(GOOD.replace("$ORIGIN example.test.",
                                                  "$ORIGIN other.test."), ["IN SOA"])
        self.assertIn("outside the zone", msg)

    def test_missing_include(self):
        self.expect_zone_error(GOOD + "$INCLUDE no-such-file.zone\n", ["$INCLUDE"])

    def test_error_in_include_names_included_file(self):
        self.d = Loomd(conf(free_port()),
                       files={"zones/example.test.zone": GOOD + "$INCLUDE extra.zone\n",
                              "zones/extra.zone": "a IN A 192.0.2.1\nb IN A 1.2.3\n"})
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        inc = os.path.join(self.d.dir, "zones", "extra.zone")
        m = _ERR_LINE.match(err.strip())
        self.assertIsNotNone(m, err)
        f = m.group(1) if os.path.isabs(m.group(1)) else os.path.join(self.d.dir, m.group(1))
        self.assertTrue(os.path.exists(f) and os.path.samefile(f, inc), err)
        self.assertEqual(int(m.group(2)), 2, err)


class OptionErrors(DaemonTest):
    def expect(self, conf_text, needle, files=None):
        self.d = Loomd(conf_text, files=files if files is not None else {"zones/example.test.zone": GOOD})
        want = line_of(self.d.conf_path, needle)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, want)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1, r.stderr)
        assert_error_line(self, r.stderr, self.d.conf_path, want)

    def test_missing_zone_file(self):
        self.expect(conf(free_port(), zfile="zones/absent.zone"), "absent.zone")

    def test_empty_zone_file(self):
        """No record at all: no line of the zone file shows the fault, so it
        is named at the zone's file option."""
        self.expect(conf(free_port()), "file = ",
                    files={"zones/example.test.zone": "; nothing here yet\n\n"})

    def test_edns_size(self):
        for v in ("100", "511", "4097", "70000"):
            with self.subTest(value=v):
                self.expect(conf(free_port(), extra="    edns_size = %s\n" % v), "edns_size")
                self.drop_daemon()

    def test_rrl_slip(self):
        self.expect(conf(free_port(), extra="    rrl {\n        slip = -1\n    }\n"), "slip")

    def test_rrl_rate_negative(self):
        self.expect(conf(free_port(), extra="    rrl {\n        rate = -5\n    }\n"), "rate")

    def test_rrl_prefix(self):
        self.expect(conf(free_port(), extra="    rrl {\n        ipv4_prefix = 33\n    }\n"), "ipv4_prefix")

    def test_bad_allow_transfer(self):
        for v in ('"not-an-address"', '"127.0.0.1/33"', '"300.1.1.1"', '"::1/129"'):
            with self.subTest(value=v):
                self.expect(conf(free_port(), zone_opts="        allow_transfer = {%s}\n" % v),
                            "allow_transfer")
                self.drop_daemon()

    def test_bad_notify(self):
        self.expect(conf(free_port(), zone_opts='        notify = {"127.0.0.1:99999"}\n'), "notify")

    def test_bad_forward_server(self):
        self.expect(conf(free_port(), extra='    forward {\n        servers = {"nowhere:53"}\n    }\n'),
                    "nowhere")

    def test_bad_stats_allow(self):
        self.expect(conf(free_port(), extra='    stats_allow = {"10.0.0.0/40"}\n'), "stats_allow")

    def test_unknown_option(self):
        self.expect(conf(free_port(), zone_opts='        colour = "blue"\n'), "colour")

    def test_bad_zone_name(self):
        self.expect(conf(free_port()).replace('zone "example.test"', 'zone "exa..mple.test"'),
                    "exa..mple")

    def test_duplicate_zone(self):
        text = conf(free_port()).replace(
            "    }\n}\n", '    }\n    zone "EXAMPLE.test." {\n        file = "zones/example.test.zone"\n    }\n}\n')
        self.d = Loomd(text, files={"zones/example.test.zone": GOOD})
        want = line_of(self.d.conf_path, "EXAMPLE.test")
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, want)


class OutOfZone(unittest.TestCase):
    def test_out_of_zone_record_warned_not_served(self):
        port = free_port()
        text = GOOD + "www.other.test. IN A 192.0.2.99\nstray.example.com. IN TXT \"x\"\n"
        d = Loomd(conf(port), files={"zones/example.test.zone": text})
        try:
            d.start()
            zpath = os.path.join(d.dir, "zones", "example.test.zone")
            log = d.log()
            warns = [l for l in log.split("\n") if "[warn]" in l]
            self.assertTrue(any("example.test.zone" in l for l in warns), log)
            n = line_of(zpath, "www.other.test.")
            self.assertTrue(any(re.search(r"example\.test\.zone:%d\b" % n, l) for l in warns),
                            "no warning naming line %d:\n%s" % (n, log))
            r = query(port, "www.other.test.", "A")
            self.assertEqual(r.rcode(), dns.rcode.REFUSED, r.to_text())
            self.assertEqual(r.answer, [])
            r = query(port, "www.example.test.", "A")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        finally:
            d.cleanup()


class Reload(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.d = Loomd(conf(self.port), files={"zones/example.test.zone": GOOD})
        self.d.start()
        self.addCleanup(self.d.cleanup)
        self.zpath = os.path.join(self.d.dir, "zones", "example.test.zone")

    def serial(self):
        r = query(self.port, "example.test.", "SOA")
        return r.answer[0][0].serial

    def test_broken_zone_keeps_old_then_fixed_serves_new(self):
        old_serial = self.serial()
        # broken: the old zone keeps serving, the error is logged
        self.d.write_file("zones/example.test.zone",
                          GOOD.replace("2026112101", "2026112102") + "new IN A 192.0.2.777\n")
        self.assertFalse(self.d.reload(), "reload with a broken zone succeeded")
        n = line_of(self.zpath, "192.0.2.777")
        self.assertRegex(self.d.log(), r"example\.test\.zone:%d" % n)
        self.assertEqual(self.serial(), old_serial)
        self.assertEqual(query(self.port, "new.example.test.", "A").rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(query(self.port, "www.example.test.", "A").rcode(), dns.rcode.NOERROR)
        # fixed: the new data is served
        text = GOOD.replace("2026112101", "2026112103") + "new IN A 192.0.2.77\n"
        self.d.write_file("zones/example.test.zone", text)
        self.assertTrue(self.d.reload(), self.d.log())
        self.assertEqual(self.serial(), 2026112103)
        zone = dns.zone.from_text(text, ORIGIN, relativize=False)
        r = query(self.port, "new.example.test.", "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(set(r.answer[0]), set(zone.get_rdataset("new.example.test.", "A")))

    def test_removed_record_gone_after_reload(self):
        self.d.write_file("zones/example.test.zone",
                          GOOD.replace("2026112101", "2026112104").replace("www  IN A   192.0.2.80\n", ""))
        self.assertTrue(self.d.reload(), self.d.log())
        self.assertEqual(query(self.port, "www.example.test.", "A").rcode(), dns.rcode.NXDOMAIN)

    def test_zone_added_by_reload(self):
        other = GOOD.replace("example.test.", "added.test.")
        self.d.write_file("zones/added.test.zone", other)
        self.assertEqual(query(self.port, "www.added.test.", "A").rcode(), dns.rcode.REFUSED)
        text = conf(self.port).replace(
            "    }\n}\n", '    }\n    zone "added.test" {\n        file = "zones/added.test.zone"\n    }\n}\n')
        self.d.write_conf(text)
        self.assertTrue(self.d.reload(), self.d.log())
        r = query(self.port, "www.added.test.", "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r.to_text())
        zone = dns.zone.from_text(other, "added.test.", relativize=False)
        self.assertEqual(set(r.answer[0]), set(zone.get_rdataset("www.added.test.", "A")))


if __name__ == "__main__":
    loomtest.main()
