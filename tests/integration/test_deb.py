"""The Debian package: tools/build-deb.sh builds loom_<version>_<arch>.deb
with dpkg-buildpackage from a clean copy of the tree, lintian finds nothing
unexplained, `dpkg -i` installs it (user loom from sysusers, the
certificate postinst makes), `loomd -t` accepts /etc/loom/loom.conf,
/usr/sbin/loomd serves every module of that configuration, the units pass
`systemd-analyze verify`, and `dpkg --purge` leaves none of its files.

Installing a package changes the machine: the test needs root and dpkg
(CI is a fresh Debian 12 where it is root) and is skipped otherwise.  It
refuses to run when a loom package is installed already (it would purge
it).  Concurrent runs (a plain and a sanitizer suite at once) take turns
through a lock file.  While the package is installed no service is started
by dpkg (a policy-rc.d that says no, as tools/deps.sh does): the test
starts /usr/sbin/loomd itself.

Ports: the packaged configuration's own (7, 25, 53, 79, 80, 443, 587, 853,
6667, 6697, 11211 on 127.0.0.1) when all of them are free, else every port replaced by
a free one in a copy of the file (nothing else changed); the TAP log says
which.  Run time: the package build dominates (1-3 minutes on 2 cores).
"""

import fcntl
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import loomtest

PKG = "loom"
CONF = "/etc/loom/loom.conf"
SBIN = "/usr/sbin/loomd"
LOOMCTL = "/usr/sbin/loomctl"
LOCK = "/run/lock/loom-test-deb.lock" if os.path.isdir("/run/lock") else "/tmp/loom-test-deb.lock"
BUILD_TIMEOUT = 1800
PORT_RX = re.compile(r'"((?:tcp|udp|tls):)(\d+)')


def run(cmd, timeout=600, check=True, **kw):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode,
                                                   r.stdout, r.stderr))
    return r


def installed():
    """True when dpkg knows the package in any state but not-installed
    (half-configured by an interrupted run counts)."""
    r = run(["dpkg-query", "-W", "-f=${Status}", PKG], check=False)
    return r.returncode == 0 and not r.stdout.endswith(" not-installed")


def dpkg(args):
    """dpkg ARGS, retried while another session holds the dpkg lock."""
    deadline = time.monotonic() + 600
    while True:
        r = run(["dpkg"] + args, check=False)
        if r.returncode == 0 or "lock" not in r.stderr or time.monotonic() > deadline:
            return r
        time.sleep(2)


def diag(text):
    for line in text.rstrip("\n").split("\n"):
        print("# " + line, flush=True)


def std_ports_free(conf_text):
    """True when every port of CONF_TEXT is free on 127.0.0.1 (both kinds
    of socket where the file lists both)."""
    for m in PORT_RX.finditer(conf_text):
        kind = socket.SOCK_DGRAM if m.group(1) == "udp:" else socket.SOCK_STREAM
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(m.group(2))))
        except OSError:
            return False
        finally:
            s.close()
    return True


@unittest.skipIf(loomtest.SANITIZED,
                 "the package is built from the tree without sanitizers: the plain "
                 "suite runs this test (3-5 minutes of package build)")
class DebPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not loomtest.is_root():
            raise unittest.SkipTest("installing a package needs root")
        if shutil.which("dpkg") is None:
            raise unittest.SkipTest("dpkg is not available")
        cls.lockf = open(LOCK, "w")
        cls.addClassCleanup(cls.lockf.close)
        fcntl.flock(cls.lockf, fcntl.LOCK_EX)
        if installed():
            raise AssertionError("a %s package is installed already (or half installed): this test would purge it "
                                 "(dpkg --purge %s first)" % (PKG, PKG))
        cls.tmp = tempfile.mkdtemp(prefix="loomtest-deb-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        t0 = time.monotonic()
        r = run([os.path.join(loomtest.SRCDIR, "tools", "build-deb.sh"), cls.tmp],
                timeout=BUILD_TIMEOUT)
        cls.deb = r.stdout.strip().split("\n")[-1]
        diag("built %s in %.0f s" % (os.path.basename(cls.deb), time.monotonic() - t0))
        # No service may start while dpkg configures the package.
        policy = "/usr/sbin/policy-rc.d"
        if not os.path.exists(policy):
            with open(policy, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
            cls.addClassCleanup(os.unlink, policy)
        cls.addClassCleanup(cls._purge_if_installed)
        r = dpkg(["-i", cls.deb])
        if r.returncode != 0:
            # missing dependencies: apt completes the installation
            run(["apt-get", "install", "-f", "-y", "-q", "--no-install-recommends"],
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        st = run(["dpkg-query", "-W", "-f=${Status}", PKG], check=False).stdout
        if not st.endswith(" ok installed"):
            raise AssertionError("dpkg -i %s did not install it:\n%s%s"
                                 % (cls.deb, r.stdout, r.stderr))
        cls.files = run(["dpkg", "-L", PKG]).stdout.split("\n")

    @classmethod
    def _purge_if_installed(cls):
        if installed():
            dpkg(["--purge", PKG])

    def test_1_name_and_lintian(self):
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        version = run(["dpkg-deb", "-f", self.deb, "Version"]).stdout.strip()
        self.assertEqual(os.path.basename(self.deb), "loom_%s_%s.deb" % (version, arch))
        r = run(["lintian", "--fail-on", "error,warning", self.deb], check=False, timeout=900)
        diag("lintian: %s" % ((r.stdout + r.stderr).strip() or "no tags"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotRegex(r.stdout, r"(?m)^[EW]: ")

    def test_2_layout(self):
        for path in (SBIN, CONF, "/etc/loom/smtp.users", "/usr/lib/loom/modules/echo.so",
                     LOOMCTL, "/usr/share/man/man8/loomctl.8.gz",
                     "/usr/share/man/man8/loomd.8.gz", "/usr/share/man/man5/loom.conf.5.gz",
                     "/lib/systemd/system/loomd.service", "/lib/systemd/system/loom.socket",
                     "/usr/lib/sysusers.d/loom.conf", "/usr/lib/tmpfiles.d/loom.conf",
                     "/etc/logrotate.d/loom", "/usr/share/loom/www/index.html",
                     "/usr/share/loom/www/status.html"):
            self.assertIn(path, self.files)
            self.assertTrue(os.path.exists(path), path)
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", PKG]).stdout
        self.assertIn(CONF + " ", conffiles)
        # sysusers made the user, tmpfiles the directories, postinst the
        # certificate (readable by loom, not by others)
        import grp
        import pwd
        pw = pwd.getpwnam("loom")
        self.assertEqual(pw.pw_shell, "/usr/sbin/nologin")
        for d in ("/var/lib/loom", "/var/log/loom"):
            st = os.stat(d)
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o750), d)
        st = os.stat("/etc/loom/tls/loom.key")
        self.assertEqual((st.st_gid, st.st_mode & 0o777), (grp.getgrnam("loom").gr_gid, 0o640))
        # loadable modules are found where loomd looks
        r = run([SBIN, "-V"])
        self.assertIn("loadable modules (/usr/lib/loom/modules): echo.so", r.stdout)
        # the control client is there and runs (its libraries resolved)
        r = run([LOOMCTL, "-V"])
        self.assertRegex(r.stdout, r"^loomctl \d+\.\d+\.\d+\n$")

    def test_3_config_check(self):
        r = run([SBIN, "-t", "-c", CONF])
        self.assertIn("configuration %s is ok" % CONF, r.stdout)

    def test_4_serves_every_module(self):
        with open(CONF) as f:
            text = f.read()
        ports = {}
        if std_ports_free(text):
            diag("serving on the packaged configuration's own ports")
            conf = CONF
        else:
            def repl(m):
                old = int(m.group(2))
                ports.setdefault(old, loomtest.free_port())
                return '"%s%d' % (m.group(1), ports[old])
            text = PORT_RX.sub(repl, text)
            # not the packaged control socket, which a running service owns
            text = text.replace("unix:/run/loom/control.sock",
                                "unix:%s/control.sock" % self.tmp)
            conf = os.path.join(self.tmp, "loom.conf")
            with open(conf, "w") as f:
                f.write(text)
            diag("standard ports taken: a copy of %s with ports %s" % (CONF, ports))

        def p(n):
            return ports.get(n, n)

        err_path = os.path.join(self.tmp, "stderr.log")
        with open(err_path, "wb") as err:
            proc = subprocess.Popen([SBIN, "-c", conf], stdin=subprocess.DEVNULL,
                                    stdout=err, stderr=err)
        try:
            self._wait_ready(proc, err_path)
            self._query_all(p, proc)
            self._loomctl(conf, p, proc)
        finally:
            proc.terminate()
            rc = proc.wait(timeout=loomtest.WAIT)
        with open(err_path, errors="replace") as f:
            log = f.read()
        self.assertEqual(rc, 0, log)
        self.assertIn("running as user loom", log)

    def _loomctl(self, conf, p, proc):
        """The installed loomctl over the configuration's control socket."""
        with open(conf) as f:
            m = re.search(r'control \{[^}]*listen = "unix:([^":]+)', f.read())
        self.assertIsNotNone(m, "no control socket in %s" % conf)
        r = run([LOOMCTL, "-s", m.group(1), "status"])
        self.assertRegex(r.stdout, r"(?m)^pid: +%d$" % proc.pid)
        self.assertRegex(r.stdout, r"(?m)^echo +")
        r = run([LOOMCTL, "-s", m.group(1), "--json", "listeners"])
        eps = [row[1] for row in json.loads(r.stdout)["result"]["rows"]]
        self.assertTrue(any(re.search(r":%d(:|$)" % p(7), ep) for ep in eps), eps)

    def _wait_ready(self, proc, err_path):
        deadline = time.monotonic() + loomtest.WAIT
        while time.monotonic() < deadline:
            with open(err_path, errors="replace") as f:
                log = f.read()
            if "core: ready" in log:
                return
            if proc.poll() is not None:
                self.fail("loomd exited %d:\n%s" % (proc.returncode, log))
            time.sleep(0.05)
        self.fail("loomd never ready")

    def _query_all(self, p, proc):
        # it dropped root for loom after binding the low ports
        uid = loomtest.proc_status(proc.pid)["Uid"].split()
        import pwd
        self.assertEqual(int(uid[1]), pwd.getpwnam("loom").pw_uid)
        # echo, TCP and UDP
        with socket.create_connection(("127.0.0.1", p(7)), timeout=loomtest.WAIT) as s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"packaged\n"), b"packaged\n")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(loomtest.WAIT)
        u.sendto(b"datagram", ("127.0.0.1", p(7)))
        self.assertEqual(u.recv(100), b"datagram")
        u.close()
        # finger
        out = loomtest.tcp_query(p(79), b"postmaster\r\n")
        self.assertIn(b"Mail administrator", out)
        # memcache
        with socket.create_connection(("127.0.0.1", p(11211)), timeout=loomtest.WAIT) as s:
            s.sendall(b"set k 0 0 2\r\nhi\r\nget k\r\n")
            got = b""
            while not got.endswith(b"END\r\n"):
                chunk = s.recv(4096)
                self.assertTrue(chunk, got)
                got += chunk
        self.assertEqual(got, b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n")
        # dns: UDP, TCP, TLS, HTTPS
        r = run(["dig", "+short", "@127.0.0.1", "-p", str(p(53)), "www.example.test", "A"])
        self.assertEqual(r.stdout.split(), ["192.0.2.80"])
        r = run(["dig", "+tcp", "+short", "@127.0.0.1", "-p", str(p(53)), "example.test", "MX"])
        self.assertIn("10 mail.example.test.", r.stdout)
        r = run(["kdig", "+tls", "+short", "@127.0.0.1", "-p", str(p(853)),
                 "www.example.test", "A"])
        self.assertEqual(r.stdout.split(), ["192.0.2.80"])
        r = run(["kdig", "+https", "+short", "@127.0.0.1", "-p", str(p(443)),
                 "www.example.test", "A"])
        self.assertEqual(r.stdout.split(), ["192.0.2.80"])
        # http, https (the certificate postinst made), status, metrics
        r = run(["curl", "-sS", "http://127.0.0.1:%d/" % p(80)])
        self.assertIn("/usr/share/loom/www/index.html", r.stdout)
        r = run(["curl", "-sS", "http://127.0.0.1:%d/status.html" % p(80)])
        self.assertIn("<title>loom: status</title>", r.stdout)
        r = run(["curl", "-sS", "--http2", "--cacert", "/etc/loom/tls/loom.pem",
                 "-w", "%{http_version}", "-o", "/dev/null",
                 "https://localhost:%d/hello.txt" % p(443)])
        self.assertEqual(r.stdout, "2")
        r = run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % p(80)])
        self.assertIn("loom_http_requests_total", r.stdout)
        # smtp: STARTTLS, a message for postmaster, fsync'd into its Maildir
        before = set(os.listdir("/var/lib/loom/mail/postmaster/new")) \
            if os.path.isdir("/var/lib/loom/mail/postmaster/new") else set()
        with smtplib.SMTP("127.0.0.1", p(25), timeout=loomtest.WAIT) as c:
            c.ehlo("test.example")
            ctx = ssl.create_default_context(cafile="/etc/loom/tls/loom.pem")
            ctx.check_hostname = False
            c.starttls(context=ctx)
            c.ehlo("test.example")
            refused = c.sendmail("someone@example.net", ["postmaster@localhost"],
                                 b"Subject: packaged\r\n\r\nhello\r\n")
            self.assertEqual(refused, {})
        new = set(os.listdir("/var/lib/loom/mail/postmaster/new")) - before
        self.assertEqual(len(new), 1)
        # submission wants AUTH, and nobody is in the packaged smtp.users
        with smtplib.SMTP("127.0.0.1", p(587), timeout=loomtest.WAIT) as c:
            c.ehlo("test.example")
            code, _ = c.mail("someone@localhost")
            self.assertEqual(code, 530)
        # irc: registration over TLS with the postinst certificate, a channel
        ctx = ssl.create_default_context(cafile="/etc/loom/tls/loom.pem")
        ctx.check_hostname = False
        with socket.create_connection(("127.0.0.1", p(6697)), timeout=loomtest.WAIT) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"NICK pkg\r\nUSER pkg 0 * :packaged\r\nJOIN #pkg\r\n")
                got = b""
                while b" 366 " not in got:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, got)
                    got += chunk
        self.assertIn(b" 001 pkg ", got)
        self.assertRegex(got, rb":pkg!\S+ JOIN :?#pkg")
        # the access log is loom's, in /var/log/loom
        import pwd
        st = os.stat("/var/log/loom/access.log")
        self.assertEqual(st.st_uid, pwd.getpwnam("loom").pw_uid)
        with open("/var/log/loom/access.log") as f:
            self.assertIn('"GET /metrics HTTP/1.1" 200', f.read())

    def test_5_units_verify(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze not installed")
        units = ["/lib/systemd/system/loomd.service", "/lib/systemd/system/loom.socket"]
        r = run(["systemd-analyze", "verify"] + units, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")

    def test_6_purge_leaves_nothing(self):
        r = dpkg(["--purge", PKG])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(installed())
        # a folder the package shared with others (/usr/share/man, ...)
        # still belongs to one of them; /lib is usrmerge's link to usr/lib
        def shared(path):
            return os.path.isdir(path) and (
                os.path.islink(path) or
                run(["dpkg-query", "-S", path], check=False).returncode == 0)
        left = [f for f in self.files
                if f and f != "/." and os.path.lexists(f) and not shared(f)]
        for extra in ("/etc/loom", "/var/lib/loom", "/var/log/loom", "/run/loom",
                      "/usr/lib/loom", "/usr/share/loom"):
            if os.path.lexists(extra) and extra not in left:
                left.append(extra)
        diag("left after purge: %s" % (", ".join(left) or "nothing"))
        diag("kept on purge, as Debian packages do: the system user loom")
        self.assertEqual(left, [])


if __name__ == "__main__":
    loomtest.main()
