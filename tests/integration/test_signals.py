"""Signals: SIGHUP reload (module settings, broken config, listeners added,
removed and kept), SIGTERM/SIGINT graceful stop, SIGUSR1 access-log
reopening."""

import http.client
import os
import pwd
import re
import signal
import socket
import time
import unittest

import loomtest
from loomtest import (WAIT, Loomd, connect, echo_roundtrip, free_port,
                      recv_until_close, tcp_query, wait_port)


def finger_conf(port, extra_users=""):
    return ('finger "users" {\n'
            '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '    idle_timeout = 120\n'
            '    access_log = "finger.log"\n'
            '    user "alice" {\n'
            '        name = "Alice Liddell"\n'
            '        plan = "Down the rabbit hole."\n'
            '    }\n'
            '    user "bob" {\n'
            '        name = "Bob Builder"\n'
            '    }\n'
            '%s'
            '}\n' % (port, extra_users))


CAROL = ('    user "carol" {\n'
         '        name = "Carol Danvers"\n'
         '    }\n')


def echo_conf(ports, grace=None):
    text = ""
    if grace is not None:
        text += "shutdown_grace = %d\n" % grace
    for i, port in enumerate(ports):
        text += ('echo "e%d" {\n'
                 '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                 '}\n' % (i + 1, port))
    return text


def refused(port):
    """True if a TCP connection to PORT is refused right now."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
        return False
    except ConnectionRefusedError:
        return True


def wait_refused(port, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if refused(port):
            return True
        time.sleep(0.05)
    return False


def listen_inode(pid, port):
    """Inode of the TCP socket of process PID listening on PORT, or None."""
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, st, inode = fields[1], fields[3], fields[9]
            if st == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                return int(inode)
    return None


def fd_socket_inodes(pid):
    out = set()
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(os.path.join(fddir, fd)))
        except OSError:
            continue
        if m:
            out.add(int(m.group(1)))
    return out


class SignalTest(unittest.TestCase):

    def daemon(self, conf):
        d = Loomd(conf)
        self.addCleanup(d.cleanup)
        return d

    # ---- SIGHUP -----------------------------------------------------------

    def test_reload_finger_users(self):
        port = free_port()
        d = self.daemon(finger_conf(port))
        d.start()
        self.assertIn(b"finger: carol: no such user.", tcp_query(port, b"carol\r\n"))
        # A connection opened before the reload, nothing sent yet.
        early = connect(port)
        self.addCleanup(early.close)
        d.write_conf(finger_conf(port, CAROL))
        self.assertTrue(d.reload(), "reload failed:\n" + d.log())
        self.assertRegex(d.log(), r"\[info\] core: configuration reloaded")
        out = tcp_query(port, b"carol\r\n")
        self.assertIn(b"Login: carol", out)
        self.assertIn(b"Name: Carol Danvers", out)
        # The old connection still works.
        early.sendall(b"alice\r\n")
        out = recv_until_close(early)
        self.assertIn(b"Login: alice", out)
        self.assertIn(b"Name: Alice Liddell", out)
        self.assertIn(b"Down the rabbit hole.", out)

    def test_reload_broken_config_keeps_old(self):
        port = free_port()
        d = self.daemon(finger_conf(port))
        d.start()
        early = connect(port)
        self.addCleanup(early.close)
        # Broken: an unknown option, alone on its line; carol added too.
        d.write_conf(finger_conf(port, CAROL) + "no_such_option = 1\n")
        with open(d.conf_path) as f:
            lines = f.read().split("\n")
        bad_line = lines.index("no_such_option = 1") + 1
        self.assertFalse(d.reload(), "broken config was accepted:\n" + d.log())
        self.assertRegex(d.log(), r"\[error\] core: reload failed: %s:%d: "
                         % (re.escape(d.conf_path), bad_line))
        self.assertIsNone(d.proc.poll(), "loomd exited after a bad reload")
        # The old config keeps serving: alice yes, carol no.
        self.assertIn(b"Login: alice", tcp_query(port, b"alice\r\n"))
        self.assertIn(b"finger: carol: no such user.", tcp_query(port, b"carol\r\n"))
        early.sendall(b"bob\r\n")
        self.assertIn(b"Login: bob", recv_until_close(early))
        # Fixing the config makes the next reload work.
        d.write_conf(finger_conf(port, CAROL))
        self.assertTrue(d.reload(), "reload of the fixed config failed:\n" + d.log())
        self.assertIn(b"Login: carol", tcp_query(port, b"carol\r\n"))

    def test_reload_truncated_config_keeps_serving(self):
        """A config cut short inside a section (a partial deploy) is
        refused on SIGHUP at the line where the unclosed thing opens; the
        old config keeps serving: every listener still answers, nothing is
        removed or closed."""
        pe, pf, pm, ph = (free_port() for _ in range(4))
        full = (echo_conf([pe]) + finger_conf(pf) +
                'memcache "m" {\n'
                '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '    memory = "8M"\n'
                '}\n'
                'http "web" {\n'
                '    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '    server "main" {\n'
                '        names = {"localhost"}\n'
                '        location "/" {\n'
                '            handler = "static"\n'
                '            root = "www"\n'
                '        }\n'
                '    }\n'
                '}\n' % (pm, ph))
        d = self.daemon(full)
        d.write_file("www/hello.txt", "hello\n")
        d.start()

        def all_answer():
            self.assertEqual(tcp_query(pe, b"echo", shut=True), b"echo")
            self.assertIn(b"Login: alice", tcp_query(pf, b"alice\r\n"))
            with connect(pm) as s:
                s.sendall(b"version\r\n")
                self.assertTrue(s.recv(100).startswith(b"VERSION "))
            c = http.client.HTTPConnection("127.0.0.1", ph, timeout=WAIT)
            try:
                c.request("GET", "/hello.txt", headers={"Host": "localhost"})
                r = c.getresponse()
                self.assertEqual((r.status, r.read()), (200, b"hello\n"))
            finally:
                c.close()

        all_answer()
        cut_at = full.index('memcache "m"')
        # where to cut, and the line the refusal must name: the section's,
        # or that of its listen list, the line after it
        cuts = ((full.index("    memory", cut_at), 0),   # in the section
                (full.index("tcp:%d" % pm) + 6, 1),      # in a string
                (full.index('"}', cut_at) + 1, 1))       # in the list
        for cut, below in cuts:
            d.write_conf(full[:cut])
            want = "%s:%d: " % (d.conf_path,
                                loomtest.line_of(d.conf_path, 'memcache "m"') + below)
            self.assertFalse(d.reload(), "a config cut at %r was applied:\n%s"
                             % (full[cut - 20:cut], d.log()))
            last = re.findall(r"reload failed: (.*)", d.log())[-1]
            self.assertTrue(("reload failed: " + last).startswith("reload failed: " + want),
                            "wrong place: %r, expected %r" % (last, want))
            all_answer()
        self.assertIsNone(d.proc.poll())
        for word in ("removed", "closing listener", "configuration reloaded"):
            self.assertNotIn(word, d.log())

    def test_reload_listeners(self):
        p1, p2 = free_port(), free_port()
        while p2 == p1:
            p2 = free_port()
        d = self.daemon(echo_conf([p1]))
        d.start()
        pid = d.proc.pid
        self.assertTrue(refused(p2))
        c1 = connect(p1)
        self.addCleanup(c1.close)
        self.assertEqual(echo_roundtrip(c1, b"one\n"), b"one\n")
        inode1 = listen_inode(pid, p1)
        self.assertIsNotNone(inode1, "no listening socket for port %d" % p1)
        self.assertIn(inode1, fd_socket_inodes(pid))

        # Add a second listener.
        d.write_conf(echo_conf([p1, p2]))
        self.assertTrue(d.reload(), "reload failed:\n" + d.log())
        wait_port(p2)
        with connect(p2) as c2:
            self.assertEqual(echo_roundtrip(c2, b"two\n"), b"two\n")
        self.assertEqual(echo_roundtrip(c1, b"still one\n"), b"still one\n")
        self.assertEqual(listen_inode(pid, p1), inode1, "unchanged listener was reopened")
        self.assertIn(inode1, fd_socket_inodes(pid))

        # Remove it again.
        d.write_conf(echo_conf([p1]))
        self.assertTrue(d.reload(), "reload failed:\n" + d.log())
        self.assertTrue(wait_refused(p2), "removed listener %d still accepts" % p2)
        self.assertIsNone(listen_inode(pid, p2))
        self.assertEqual(echo_roundtrip(c1, b"one again\n"), b"one again\n")
        self.assertEqual(listen_inode(pid, p1), inode1, "unchanged listener was reopened")
        self.assertIn(inode1, fd_socket_inodes(pid))
        with connect(p1) as c3:
            self.assertEqual(echo_roundtrip(c3, b"three\n"), b"three\n")

    # ---- SIGTERM / SIGINT -------------------------------------------------

    def assert_not_served(self, port):
        """A new connection during shutdown is refused, or at least never
        echoed (closed, reset, or left unanswered)."""
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        except (ConnectionRefusedError, ConnectionResetError):
            return
        with s:
            try:
                s.sendall(b"new\n")
                s.settimeout(3)
                got = s.recv(100)
            except (socket.timeout, ConnectionError):
                return
            self.assertNotEqual(got, b"new\n", "a new connection was served after SIGTERM")

    def test_sigterm_drains_then_exits_when_last_closes(self):
        port = free_port()
        # A long grace: the exit must come from the last connection closing.
        d = self.daemon(echo_conf([port], grace=60))
        d.start()
        c = connect(port)
        self.addCleanup(c.close)
        self.assertEqual(echo_roundtrip(c, b"before\n"), b"before\n")
        d.signal(signal.SIGTERM)
        d.wait_log(r"\[info\] core: shutting down")
        self.assertEqual(echo_roundtrip(c, b"during\n"), b"during\n")
        self.assert_not_served(port)
        self.assertEqual(echo_roundtrip(c, b"during again\n"), b"during again\n")
        self.assertIsNone(d.proc.poll(), "loomd exited with a connection still open")
        c.close()
        self.assertEqual(d.wait_exit(WAIT), 0, d.log())

    def test_sigterm_grace_expires(self):
        port = free_port()
        d = self.daemon(echo_conf([port], grace=5))
        d.start()
        c = connect(port)
        self.addCleanup(c.close)
        self.assertEqual(echo_roundtrip(c, b"before\n"), b"before\n")
        d.signal(signal.SIGTERM)
        d.wait_log(r"\[info\] core: shutting down")
        self.assertEqual(echo_roundtrip(c, b"in grace\n"), b"in grace\n")
        # Keep the connection open: loomd closes it and exits by itself.
        self.assertEqual(d.wait_exit(WAIT + 5), 0, d.log())
        c.settimeout(WAIT)
        self.assertEqual(recv_until_close(c), b"")

    def test_sigint_stops(self):
        port = free_port()
        d = self.daemon(echo_conf([port], grace=5))
        d.start()
        with connect(port) as c:
            self.assertEqual(echo_roundtrip(c, b"x\n"), b"x\n")
        d.signal(signal.SIGINT)
        self.assertEqual(d.wait_exit(WAIT), 0, d.log())
        self.assertRegex(d.log(), r"\[info\] core: shutting down")
        self.assertTrue(refused(port))

    def test_sigterm_idle_exits_zero(self):
        port = free_port()
        d = self.daemon(echo_conf([port], grace=60))
        d.start()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(WAIT), 0, d.log())
        self.assertRegex(d.log(), r"\[info\] core: shutting down")

    # ---- SIGUSR1 ----------------------------------------------------------

    def test_sigusr1_reopens_access_log(self):
        port = free_port()
        d = self.daemon(finger_conf(port))
        d.start()
        log = os.path.join(d.dir, "finger.log")
        rotated = log + ".1"
        self.assertIn(b"Login: alice", tcp_query(port, b"alice\r\n"))
        with open(log) as f:
            self.assertRegex(f.read(), r'"alice" ok')
        os.rename(log, rotated)
        d.signal(signal.SIGUSR1)
        # The reopen happens when loomd handles the signal: query until the
        # new file shows up (bounded).
        deadline = time.monotonic() + WAIT
        while not os.path.exists(log) and time.monotonic() < deadline:
            tcp_query(port, b"bob\r\n")
            time.sleep(0.1)
        self.assertTrue(os.path.exists(log), "SIGUSR1 did not reopen %s" % log)
        self.assertIn(b"finger: nobody: no such user.", tcp_query(port, b"nobody\r\n"))
        with open(log) as f:
            text = f.read()
        self.assertRegex(text, r'"nobody" unknown')
        with open(rotated) as f:
            old = f.read()
        self.assertRegex(old, r'"alice" ok')
        self.assertNotIn('"nobody"', old)
        self.assertIsNone(d.proc.poll())

    def test_sighup_reopens_access_log(self):
        port = free_port()
        d = self.daemon(finger_conf(port))
        d.start()
        log = os.path.join(d.dir, "finger.log")
        self.assertIn(b"Login: alice", tcp_query(port, b"alice\r\n"))
        os.rename(log, log + ".1")
        self.assertTrue(d.reload(), "reload failed:\n" + d.log())
        self.assertIn(b"Login: bob", tcp_query(port, b"bob\r\n"))
        self.assertTrue(os.path.exists(log), "SIGHUP did not reopen %s" % log)
        with open(log) as f:
            self.assertRegex(f.read(), r'"bob" ok')
        with open(log + ".1") as f:
            old = f.read()
        self.assertRegex(old, r'"alice" ok')
        self.assertNotIn('"bob"', old)


    # ---- access logs and the service user --------------------------------

    def service_user_daemon(self, port):
        """finger with its access log in logs/, run as nobody when the tests
        run as root (as the current user otherwise)."""
        conf = finger_conf(port).replace('"finger.log"', '"logs/finger.log"')
        if loomtest.is_root():
            d = Loomd('user = "nobody"\n' + conf, raw=True, files={"logs/.keep": ""})
            nobody = pwd.getpwnam("nobody")
            os.chown(os.path.join(d.dir, "logs"), nobody.pw_uid, nobody.pw_gid)
        else:
            d = Loomd(conf, files={"logs/.keep": ""})
        self.addCleanup(d.cleanup)
        return d, os.path.join(d.dir, "logs", "finger.log")

    def test_access_log_belongs_to_service_user(self):
        """Started as root with user = "nobody": the access log root creates
        is nobody's, so SIGHUP and SIGUSR1 (run as nobody) can reopen it;
        after a rotation the new file is nobody's and gets the next line."""
        if not loomtest.is_root():
            self.skipTest("needs root: loomd must start as root to switch to user nobody")
        nobody = pwd.getpwnam("nobody")
        port = free_port()
        d, log = self.service_user_daemon(port)
        d.start()
        self.assertEqual(loomtest.proc_status(d.proc.pid)["Uid"].split()[1], str(nobody.pw_uid))
        self.assertIn(b"Login: alice", tcp_query(port, b"alice\r\n"))
        st = os.stat(log)
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid))
        self.assertEqual(st.st_mode & 0o777, 0o640)
        # not rotated: the reopen on SIGHUP opens the same file as nobody
        self.assertTrue(d.reload(), d.log())
        self.assertIn(b"Login: bob", tcp_query(port, b"bob\r\n"))
        loomtest.wait_file(log, r'"bob" ok')
        # rotated with mv, then SIGUSR1 as logrotate does
        os.rename(log, log + ".1")
        d.signal(signal.SIGUSR1)
        d.wait_log(r"\[info\] core: access logs reopened")
        self.assertTrue(os.path.exists(log), "SIGUSR1 did not create a new %s" % log)
        st = os.stat(log)
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid))
        self.assertIn(b"finger: nobody: no such user.", tcp_query(port, b"nobody\r\n"))
        loomtest.wait_file(log, r'"nobody" unknown')
        with open(log + ".1") as f:
            self.assertNotIn('"nobody"', f.read())
        self.assertNotIn("cannot reopen", d.log())

    def test_access_log_reopen_failure_is_reported(self):
        """A reopen that fails names the file, does not claim success, and
        the old file keeps being written."""
        port = free_port()
        d, log = self.service_user_daemon(port)
        logs = os.path.dirname(log)
        d.start()
        self.assertIn(b"Login: alice", tcp_query(port, b"alice\r\n"))
        os.rename(log, log + ".1")
        os.chmod(logs, 0o555)  # the service user cannot create the new file
        self.addCleanup(os.chmod, logs, 0o755)
        d.signal(signal.SIGUSR1)
        d.wait_log(r"\[error\] core: 1 access log\(s\) could not be reopened")
        self.assertIn("[error] core: cannot reopen access log %s: Permission denied" % log,
                      d.log())
        self.assertNotIn("access logs reopened", d.log())
        self.assertIn(b"Login: bob", tcp_query(port, b"bob\r\n"))
        loomtest.wait_file(log + ".1", r'"bob" ok')
        self.assertFalse(os.path.exists(log))
        # a reload reports it too (the configuration itself is applied)
        self.assertTrue(d.reload(), d.log())
        self.assertEqual(d.log().count("cannot reopen access log %s" % log), 2, d.log())
        self.assertIsNone(d.proc.poll())

if __name__ == "__main__":
    loomtest.main()
