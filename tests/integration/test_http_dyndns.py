"""The http dyndns handler (dyndns2, /nic/update) against a real loomd:
curl for every answer code (good, nochg, badauth, notfqdn, nohost,
numhost, abuse, 911) and the HTTP refusals (401 without credentials, 405,
400); yescrypt, bcrypt and SHA-512 hashes from the users file checked on
the worker pool; badauth only after the configured delay, counted per
address until `abuse`; a client that goes away while its hash is being
checked, and a reload mid-request, leave the daemon sound (ASan clean);
config faults (handler options, the users file's own FILE:LINE) exit 1
with one line.  With the dns instance's dynamic zone (dns.update/1): the
record set and confirmed with dig, nochg for the same address, the
client's own address when myip is missing, A and AAAA, several hosts in
one request, the bus message a route can take (an events stream here),
Debian's ddclient as the real client, kill -9 right after `good` then a
restart keeping the record (50 times), and the shipped conf's demo user."""

import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import loomtest
from loomtest import (DaemonTest, WAIT, assert_error_line, free_port, line_of, own, run_loomd,
                      start_expect_exit)
from httptest import HttpD, curl, location
from h2test import assert_no_sanitizer_report

_lc = ctypes.CDLL("libcrypt.so.1")
_lc.crypt_gensalt.restype = ctypes.c_char_p
_lc.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_lc.crypt.restype = ctypes.c_char_p
_lc.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def hash_of(password, prefix="$y$", rounds=0):
    """A crypt(3) hash of PASSWORD made by libcrypt itself."""
    salt = _lc.crypt_gensalt(prefix.encode(), rounds, None, 0)
    return _lc.crypt(password.encode(), salt).decode()


ZONE = """$ORIGIN dyn.test.
$TTL 300
@    IN SOA ns hostmaster 1 3600 600 86400 60
     IN NS  ns
ns   IN A   192.0.2.1
"""

DELAY_MS = 300
USERS = ("# test users\n"
         "demo:%s *.dyn.test\n"
         "bc:%s one.dyn.test\n"
         "sha:%s one.dyn.test two.dyn.test\n"
         "slow:%s *.dyn.test\n" % (hash_of("demo"), hash_of("bcpw", "$2b$", 5),
                                    hash_of("shapw", "$6$"), hash_of("slowpw", "$2b$", 13)))


def dns_section(port, dynamic=False):
    return ('dns "auth" {\n'
            '    listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '    zone "dyn.test" {\n        file = "zones/dyn.test.zone"\n%s    }\n}\n'
            % (port, port, "        dynamic = yes\n" if dynamic else ""))


def locations(dns="auth", extra=None):
    opts = {"handler": '"dyndns"', "dns": '"%s"' % dns, "zone": '"dyn.test"',
            "users_file": '"dyndns.users"', "fail_delay": str(DELAY_MS),
            "max_failures": "3", "ttl": "120"}
    opts.update(extra or {})
    none = dict(opts, dns='"nosuch"')
    return (location("= /nic/update", opts) + location("= /none/update", none) +
            location("= /events/dyndns", {"handler": '"events"', "topic": '"dyndns"',
                                          "keepalive": "1"}))


def server_body(dns="auth"):
    return '    server "main" {\n        default = yes\n%s    }\n' % locations(dns)


def update(d, query, user="demo", password="demo", path="/nic/update", extra=(), ip=None):
    """GET PATH?QUERY with Basic credentials (USER None: none) from
    source address IP (default 127.0.0.1).  Returns (status, body text)."""
    args = ["--http1.1", "-o", "-", "-w", "\n%{http_code}"] + list(extra)
    if user is not None:
        args += ["-u", "%s:%s" % (user, password)]
    if ip:  # the client's own address (source)
        args += ["--interface", ip]
    url = "http://127.0.0.1:%d%s?%s" % (d.port, path, query)
    r = curl(args + [url])
    out = r.stdout.decode()
    body, _, code = out.rpartition("\n")
    return int(code), body


class Answers(unittest.TestCase):
    """Everything up to the update (the location's dns instance need not
    offer dynamic zones: "nosuch" answers 911)."""

    @classmethod
    def setUpClass(cls):
        cls.dport = free_port()
        cls.d = own(cls, HttpD(server_body(), post=dns_section(cls.dport),
                               files={"zones/dyn.test.zone": ZONE, "dyndns.users": USERS}))
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def test_no_credentials_is_401(self):
        r = curl(["--http1.1", "-i", self.d.url("/nic/update?hostname=a.dyn.test")])
        text = r.stdout.decode()
        self.assertIn(" 401 ", text.split("\r\n")[0])
        self.assertIn('WWW-Authenticate: Basic realm="dyndns"', text)
        self.assertTrue(text.endswith("\r\n\r\nbadauth\n"), text)

    def test_other_methods_and_bad_query(self):
        r = curl(["--http1.1", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                  "-u", "demo:demo", self.d.url("/nic/update?hostname=a.dyn.test")])
        self.assertEqual(r.stdout, b"405")
        self.assertEqual(update(self.d, "hostname=a%zz.dyn.test")[0], 400)

    def test_hash_kinds_pass_to_the_update(self):
        # 911 from "nosuch": the password was right, the update impossible
        for user, pw in (("demo", "demo"), ("bc", "bcpw"), ("sha", "shapw")):
            with self.subTest(user=user):
                self.assertEqual(update(self.d, "hostname=one.dyn.test&myip=192.0.2.9",
                                        user, pw, "/none/update"), (200, "911\n"))

    def test_badauth_after_the_delay(self):
        for user, pw in (("demo", "wrong"), ("nobody", "demo"), ("sha", "")):
            with self.subTest(user=user):
                t = time.monotonic()
                self.assertEqual(update(self.d, "hostname=a.dyn.test", user, pw,
                                        ip="127.0.0.%d" % (10 + len(user))),
                                 (200, "badauth\n"))
                # the answer waits for the timer: never earlier
                self.assertGreaterEqual(time.monotonic() - t, DELAY_MS / 1000.0 * 0.95)

    def test_abuse_after_repeated_failures(self):
        ip = "127.0.0.77"
        for _ in range(3):
            self.assertEqual(update(self.d, "hostname=a.dyn.test", "demo", "x", ip=ip),
                             (200, "badauth\n"))
        # over max_failures: even the right password gets abuse, at once
        self.assertEqual(update(self.d, "hostname=a.dyn.test", ip=ip), (200, "abuse\n"))
        self.d.wait_log(r"\[warn\] http/web: dyndns: 127\.0\.0\.77: 3 failed logins")
        # another address is not affected
        self.assertEqual(update(self.d, "hostname=one.dyn.test&myip=192.0.2.9",
                                path="/none/update", ip="127.0.0.78"), (200, "911\n"))

    def test_names(self):
        cases = (("hostname=nohost.example.org", "nohost\n"),
                 ("hostname=dyn.test", "nohost\n"),            # the apex is not "*.dyn.test"
                 ("hostname=bad_name!.dyn.test", "notfqdn\n"),
                 ("hostname=single", "notfqdn\n"),
                 ("hostname=", "notfqdn\n"),
                 ("myip=192.0.2.1", "notfqdn\n"),              # no hostname at all
                 ("hostname=" + ",".join("h%d.dyn.test" % i for i in range(21)), "numhost\n"),
                 ("hostname=a.dyn.test,x.example.org,bad..dyn.test&myip=192.0.2.3",
                  "911\nnohost\nnotfqdn\n"))
        for q, want in cases:
            with self.subTest(q=q):
                self.assertEqual(update(self.d, q, path="/none/update"), (200, want))
        # a user with fixed names
        self.assertEqual(update(self.d, "hostname=two.dyn.test,three.dyn.test&myip=192.0.2.3",
                                "sha", "shapw", "/none/update"), (200, "911\nnohost\n"))


class Lifetimes(DaemonTest):
    """A client gone while its hash is checked, and reloads mid-request."""

    def start(self, dynamic=False):
        self.dport = free_port()
        self.d = HttpD(server_body(), post=dns_section(self.dport, dynamic),
                       files={"zones/dyn.test.zone": ZONE, "dyndns.users": USERS})
        self.d.start()

    def slow_request(self):
        """A request for user "slow" (bcrypt cost 13), sent, not read."""
        s = socket.create_connection(("127.0.0.1", self.d.port))
        import base64
        cred = base64.b64encode(b"slow:slowpw").decode()
        s.sendall(("GET /nic/update?hostname=s.dyn.test&myip=192.0.2.5 HTTP/1.1\r\n"
                   "Host: x\r\nAuthorization: Basic %s\r\n\r\n" % cred).encode())
        return s

    def test_client_gone_during_crypt(self):
        self.start()
        for _ in range(4):
            self.slow_request().close()
        time.sleep(0.1)
        # the jobs finish with nobody to answer; the daemon goes on
        self.assertEqual(update(self.d, "hostname=one.dyn.test&myip=192.0.2.9",
                                path="/none/update"), (200, "911\n"))
        self.d.stop()
        assert_no_sanitizer_report(self, self.d)

    def send_update(self, query):
        import base64
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(("GET /nic/update?%s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n"
                   % (query, base64.b64encode(b"demo:demo").decode())).encode())
        return s

    def test_updates_abandoned_and_dns_removed_mid_update(self):
        self.start(dynamic=True)
        # clients gone at every moment: during the hash, during the commit
        for i in range(40):
            s = self.send_update("hostname=g%d.dyn.test&myip=192.0.2.%d" % (i, i + 1))
            time.sleep(i % 8 * 0.005)
            s.close()
        # requests in flight when a reload removes the dns instance
        socks = [self.send_update("hostname=r%d.dyn.test&myip=192.0.2.9" % i) for i in range(10)]
        conf = open(self.d.conf_path).read()
        self.d.write_conf(conf[:conf.index('dns "auth"')], raw=True)
        self.assertTrue(self.d.reload(), self.d.log())
        for s in socks:
            s.settimeout(WAIT * 3)
            got = b""
            while not got.endswith(b"\n") or b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            body = got.decode().split("\r\n\r\n", 1)[-1]
            self.assertIn(body, ("good 192.0.2.9\n", "911\n"), got)
            s.close()
        self.assertEqual(update(self.d, "hostname=one.dyn.test&myip=192.0.2.9"),
                         (200, "911\n"))
        self.d.stop()
        assert_no_sanitizer_report(self, self.d)

    def test_reload_mid_request(self):
        self.start()
        s = self.slow_request()
        s2 = socket.create_connection(("127.0.0.1", self.d.port))
        s2.sendall(b"GET /nic/update?hostname=a.dyn.test HTTP/1.1\r\nHost: x\r\n"
                   b"Authorization: Basic ZGVtbzpiYWQ=\r\n\r\n")   # demo:bad, waits DELAY_MS
        # a reload that drops the users file's "slow" and changes the delay
        self.d.write_file("dyndns.users", "demo:%s *.dyn.test\n" % hash_of("demo"))
        self.assertTrue(self.d.reload(), self.d.log())
        s.settimeout(WAIT * 3)
        s2.settimeout(WAIT * 3)
        got = s.recv(4096).decode()
        self.assertIn("\r\n\r\n", got)
        # "slow" is gone from the config the answer is judged by
        self.assertTrue(got.endswith("911\n") or got.endswith("badauth\n"), got)
        self.assertTrue(s2.recv(4096).decode().endswith("badauth\n"))
        s.close()
        s2.close()
        self.d.stop()
        assert_no_sanitizer_report(self, self.d)


def dig(port, name, rdtype="A"):
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "+tries=1",
                        "+time=%d" % WAIT, name, rdtype],
                       capture_output=True, text=True, timeout=WAIT * 3)
    return sorted(p.stdout.split())


class Updates(unittest.TestCase):
    """Through the dns instance's dynamic zone."""

    @classmethod
    def setUpClass(cls):
        cls.dport = free_port()
        cls.d = own(cls, HttpD(server_body(), post=dns_section(cls.dport, dynamic=True),
                               tls=True,
                               files={"zones/dyn.test.zone": ZONE, "dyndns.users": USERS}))
        cls.d.start()

    def tearDown(self):
        assert_no_sanitizer_report(self, self.d)

    def test_good_then_nochg_then_good(self):
        self.assertEqual(update(self.d, "hostname=h1.dyn.test&myip=192.0.2.7"),
                         (200, "good 192.0.2.7\n"))
        self.assertEqual(dig(self.dport, "h1.dyn.test"), ["192.0.2.7"])
        self.assertEqual(update(self.d, "hostname=H1.dyn.test&myip=192.0.2.7"),
                         (200, "nochg 192.0.2.7\n"))
        self.assertEqual(update(self.d, "hostname=h1.dyn.test&myip=192.0.2.8"),
                         (200, "good 192.0.2.8\n"))
        self.assertEqual(dig(self.dport, "h1.dyn.test"), ["192.0.2.8"])
        p = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.dport), "h1.dyn.test", "A"],
                           capture_output=True, text=True, timeout=WAIT * 3)
        self.assertRegex(p.stdout, r"h1\.dyn\.test\.\s+120\s+IN\s+A\s+192\.0\.2\.8")

    def test_over_http2(self):
        r = curl(["--http2-prior-knowledge", "-u", "demo:demo",
                  self.d.url("/nic/update?hostname=h2c.dyn.test&myip=192.0.2.61")])
        self.assertEqual(r.stdout, b"good 192.0.2.61\n", r)
        r = curl(["--http2", "-k", "-u", "demo:demo",
                  self.d.url("/nic/update?hostname=h2c.dyn.test&myip=192.0.2.61", tls=True)])
        self.assertEqual(r.stdout, b"nochg 192.0.2.61\n", r)
        r = curl(["--http2", "-k", "-u", "demo:nope", "-w", "%{http_version}",
                  self.d.url("/nic/update?hostname=h2c.dyn.test&myip=192.0.2.62", tls=True)])
        self.assertEqual(r.stdout, b"badauth\n2", r)
        self.assertEqual(dig(self.dport, "h2c.dyn.test"), ["192.0.2.61"])

    def test_client_address_and_ipv6(self):
        self.assertEqual(update(self.d, "hostname=me.dyn.test&myip=", ip="127.0.0.9"),
                         (200, "good 127.0.0.9\n"))
        self.assertEqual(dig(self.dport, "me.dyn.test"), ["127.0.0.9"])
        self.assertEqual(update(self.d, "hostname=six.dyn.test&myipv6=2001:db8::55"),
                         (200, "good 2001:db8::55\n"))
        self.assertEqual(dig(self.dport, "six.dyn.test", "AAAA"), ["2001:db8::55"])
        self.assertEqual(dig(self.dport, "six.dyn.test", "A"), [])
        self.assertEqual(update(self.d, "hostname=both.dyn.test&myip=192.0.2.1,2001:db8::1"),
                         (200, "good 192.0.2.1,2001:db8::1\n"))
        self.assertEqual(dig(self.dport, "both.dyn.test", "AAAA"), ["2001:db8::1"])
        self.assertEqual(dig(self.dport, "both.dyn.test", "A"), ["192.0.2.1"])

    def test_several_hosts_one_request(self):
        update(self.d, "hostname=m2.dyn.test&myip=192.0.2.20")
        self.assertEqual(update(self.d, "hostname=m1.dyn.test,m2.dyn.test,x.example.org,"
                                        "m3.dyn.test&myip=192.0.2.20"),
                         (200, "good 192.0.2.20\nnochg 192.0.2.20\nnohost\ngood 192.0.2.20\n"))
        for h in ("m1", "m2", "m3"):
            self.assertEqual(dig(self.dport, h + ".dyn.test"), ["192.0.2.20"])

    def test_bus_message_after_done(self):
        p = subprocess.Popen(["curl", "-sS", "-N", "--noproxy", "*", "--max-time", str(WAIT * 2),
                              self.d.url("/events/dyndns")], stdout=subprocess.PIPE)
        try:
            data = b""
            while b": keep-alive" not in data:   # the stream is live
                chunk = p.stdout.read1(4096)
                self.assertTrue(chunk, "the events stream ended")
                data += chunk
            self.assertEqual(update(self.d, "hostname=bus.dyn.test&myip=192.0.2.44"),
                             (200, "good 192.0.2.44\n"))
            self.assertEqual(update(self.d, "hostname=bus.dyn.test&myip=192.0.2.44"),
                             (200, "nochg 192.0.2.44\n"))
            self.assertEqual(update(self.d, "hostname=bus.dyn.test&myip=192.0.2.45"),
                             (200, "good 192.0.2.45\n"))
            while b"192.0.2.45" not in data:
                chunk = p.stdout.read1(4096)
                if not chunk:
                    break
                data += chunk
        finally:
            p.kill()
            p.wait()
        text = data.decode()
        self.assertIn('"hostname":"bus.dyn.test"', text)
        self.assertIn('"ip":"192.0.2.44"', text)
        self.assertIn('"user":"demo"', text)
        # nochg published nothing: the next message is the second good
        self.assertEqual(text.count('"hostname":"bus.dyn.test"'), 2, text)

    def test_ddclient(self):
        with tempfile.TemporaryDirectory(prefix="ddclient-") as tmp:
            conf = os.path.join(tmp, "ddclient.conf")
            with open(conf, "w") as f:
                f.write("daemon=0\nsyslog=no\nssl=no\nprotocol=dyndns2\n"
                        "use=cmd, cmd='echo 192.0.2.77'\n"
                        "server=127.0.0.1:%d\nlogin=demo\npassword=demo\n"
                        "dd1.dyn.test,dd2.dyn.test\n" % self.d.port)
            os.chmod(conf, 0o600)
            cmd = ["ddclient", "-foreground", "-file", conf, "-cache",
                   os.path.join(tmp, "cache"), "-daemon=0", "-noquiet", "-verbose"]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT * 6)
            out = p.stdout + p.stderr
            self.assertIn("SUCCESS:  updating dd1.dyn.test: good: IP address set to 192.0.2.77",
                          out)
            self.assertIn("SUCCESS:  updating dd2.dyn.test: good: IP address set to 192.0.2.77",
                          out)
            for h in ("dd1", "dd2"):
                self.assertEqual(dig(self.dport, h + ".dyn.test"), ["192.0.2.77"])
            # forced again: the server says nochg, ddclient takes it as done
            p = subprocess.run(cmd + ["-force"], capture_output=True, text=True,
                               timeout=WAIT * 6)
            self.assertIn("nochg", p.stdout + p.stderr)
            self.assertNotIn("FAILED", p.stdout + p.stderr)
        # wrong password: ddclient reports badauth
        with tempfile.TemporaryDirectory(prefix="ddclient-") as tmp:
            conf = os.path.join(tmp, "ddclient.conf")
            with open(conf, "w") as f:
                f.write("daemon=0\nsyslog=no\nssl=no\nprotocol=dyndns2\nuse=ip, ip=192.0.2.78\n"
                        "server=127.0.0.1:%d\nlogin=demo\npassword=nope\n"
                        "dd3.dyn.test\n" % self.d.port)
            os.chmod(conf, 0o600)
            p = subprocess.run(["ddclient", "-foreground", "-file", conf, "-cache",
                                os.path.join(tmp, "cache"), "-daemon=0", "-noquiet"],
                               capture_output=True, text=True, timeout=WAIT * 6)
            self.assertIn("badauth", p.stdout + p.stderr)
            self.assertEqual(dig(self.dport, "dd3.dyn.test"), [])


class Durable(DaemonTest):
    def test_kill_after_good_keeps_the_record(self):
        dport = free_port()
        self.d = HttpD(server_body(), post=dns_section(dport, dynamic=True),
                       files={"zones/dyn.test.zone": ZONE, "dyndns.users": USERS})
        port = self.d.port
        for i in range(50):
            ip = "192.0.2.%d" % (100 + i)
            self.d.start()
            if i:  # what the killed run answered "good" for is there
                self.assertEqual(dig(dport, "k.dyn.test"), ["192.0.2.%d" % (99 + i)])
            self.assertEqual(update(self.d, "hostname=k.dyn.test&myip=" + ip),
                             (200, "good %s\n" % ip))
            self.d.proc.send_signal(signal.SIGKILL)
            self.d.proc.wait(WAIT)
            self.assertEqual(self.d.port, port)
        self.d.start()
        self.assertEqual(dig(dport, "k.dyn.test"), ["192.0.2.149"])
        self.assertEqual(update(self.d, "hostname=k.dyn.test&myip=192.0.2.149"),
                         (200, "nochg 192.0.2.149\n"))
        self.d.stop()
        assert_no_sanitizer_report(self, self.d)


class Shipped(DaemonTest):
    def test_shipped_demo_user(self):
        d, ports = loomtest.shipped_conf()
        self.d = d
        d.start()
        r = curl(["-u", "demo:demo", "http://127.0.0.1:%d/nic/update?hostname="
                  "h1.dyn.example.test&myip=192.0.2.55" % ports[8080]])
        self.assertEqual(r.stdout, b"good 192.0.2.55\n", r)
        self.assertEqual(dig(ports[8053], "h1.dyn.example.test"), ["192.0.2.55"])
        d.stop()
        d.start()
        self.assertEqual(dig(ports[8053], "h1.dyn.example.test"), ["192.0.2.55"])
        r = curl(["-k", "-u", "demo:demo", "https://127.0.0.1:%d/nic/update?hostname="
                  "h1.dyn.example.test&myip=192.0.2.55" % ports[8443]])
        self.assertEqual(r.stdout, b"nochg 192.0.2.55\n", r)
        r = curl(["-u", "demo:wrong", "http://127.0.0.1:%d/nic/update?hostname="
                  "h1.dyn.example.test&myip=192.0.2.56" % ports[8080]])
        self.assertEqual(r.stdout, b"badauth\n", r)


class ConfigErrors(DaemonTest):
    def expect(self, loc_opts, needle, users=USERS, in_users=False):
        opts = {"handler": '"dyndns"', "dns": '"auth"', "zone": '"dyn.test"',
                "users_file": '"dyndns.users"'}
        opts.update(loc_opts)
        opts = {k: v for k, v in opts.items() if v is not None}
        body = '    server "main" {\n%s    }\n' % location("= /nic/update", opts)
        self.d = HttpD(body, files={"dyndns.users": users})
        path = os.path.join(self.d.dir, "dyndns.users") if in_users else self.d.conf_path
        want = line_of(path, needle)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        assert_error_line(self, r.stderr, path, want)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        return assert_error_line(self, err, path, want)

    def test_missing_options(self):
        for opt in ("dns", "zone", "users_file"):
            with self.subTest(opt=opt):
                self.expect({opt: None}, 'location "= /nic/update"')

    def test_bad_values(self):
        self.expect({"zone": '"not a zone"'}, "zone = ")
        self.expect({"users_file": '"nonexistent.users"'}, "users_file = ")
        self.expect({"topic": '"a:b"'}, "topic = ")
        self.expect({"fail_delay": "-1"}, 'location "= /nic/update"')

    def test_users_file_faults(self):
        for bad, needle in (("demo:plaintext *.dyn.test\n", "crypt"),
                            ("demo:$y$x$y\n", "no name"),
                            ("demo:$y$x$y not_a_name\n", "host name"),
                            ("demo:$y$x$y a.dyn.test\ndemo:$y$x$y b.dyn.test\n", "twice")):
            with self.subTest(bad=bad):
                text = "# users\n" + bad
                last = bad.strip().split("\n")[-1]
                msg = self.expect({}, last, users=text, in_users=True)
                self.assertIn(needle, msg)


if __name__ == "__main__":
    loomtest.main()
