"""systemd integration: socket activation through systemd-socket-activate
(adopted by address, the rest bound, a passed socket nobody wants named in
a warning, datagram sockets too), a restart that keeps the socket open so
that a connection made while no loomd runs is served by the next one, and
the READY/RELOADING/STOPPING notifications with their STATUS= line, read
from a NOTIFY_SOCKET of the test's own.
"""

import os
import re
import signal
import socket
import tempfile
import time
import unittest

import loomtest

SSA = "/usr/bin/systemd-socket-activate"


def built_with_systemd():
    try:
        with open(loomtest.LOOMD, "rb") as f:
            return b"sd_listen_fds_with_names" in f.read()
    except OSError:
        return False


def echo_conf(*listens):
    return 'echo "e" {\n    listen = {%s}\n}\n' % ", ".join('"%s"' % x for x in listens)


def inherit_as_3(sock):
    """A preexec_fn that puts SOCK at descriptor 3 (SD_LISTEN_FDS_START)."""
    fd = sock.fileno()

    def pre():
        os.dup2(fd, 3)
    return pre


@unittest.skipUnless(os.path.exists(SSA), "systemd-socket-activate not installed")
@unittest.skipUnless(built_with_systemd(), "loomd built without libsystemd")
class SocketActivation(loomtest.DaemonTest):
    def start_activated(self, d, ssa_args, trigger):
        """Start loomd under systemd-socket-activate; it execs loomd when
        TRIGGER() makes the first connection or datagram, which returns
        what the caller needs (a socket)."""
        d.start(wrap=[SSA] + ssa_args + ["--"], wait_ready=False)
        d.wait_log(r"Listening on")  # systemd-socket-activate's own line
        deadline = time.monotonic() + loomtest.WAIT
        while True:  # systemd-socket-activate binds, then waits
            try:
                got = trigger()
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        d.wait_log(r"core: ready")
        return got

    def test_adopts_by_address_binds_the_rest(self):
        p_tcp, p_fin, p_own, p_extra = (loomtest.free_port() for _ in range(4))
        conf = echo_conf("tcp:%d:interface=127.0.0.1" % p_tcp,
                         "tcp:%d:interface=127.0.0.1" % p_own)
        conf += ('finger "f" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n'
                 '    user "alice" { name = "Alice" }\n}\n' % p_fin)
        self.d = loomtest.Loomd(conf)
        # passed in another order than the config lists them, one extra
        args = ["-l", "127.0.0.1:%d" % p_fin, "-l", "127.0.0.1:%d" % p_extra,
                "-l", "127.0.0.1:%d" % p_tcp, "--fdname=fin:extra:echo"]
        s = self.start_activated(
            self.d, args,
            lambda: socket.create_connection(("127.0.0.1", p_tcp), timeout=loomtest.WAIT))
        with s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"first\n"), b"first\n")
        log = self.d.log()
        self.assertRegex(log, r"socket activation: 3 socket\(s\) passed")
        self.assertRegex(log, r"tcp:%d:interface=127.0.0.1 adopted from systemd \(fd \d+, echo\)"
                         % p_tcp)
        self.assertRegex(log, r"tcp:%d:interface=127.0.0.1 adopted from systemd \(fd \d+, fin\)"
                         % p_fin)
        self.assertNotIn("tcp:%d:interface=127.0.0.1 adopted" % p_own, log)
        self.assertRegex(log, r"\[warn\] core: socket activation: stream 127.0.0.1:%d "
                         r"\(fd \d+, extra\) matches no listener" % p_extra)
        self.assertIn("2 of 3 passed socket(s) adopted", log)
        self.assertIn(b"Alice", loomtest.finger_query(p_fin, b"alice"))
        with loomtest.connect(p_own) as s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"own\n"), b"own\n")
        # the extra socket stays open (a reload may want it), unserved
        self.assertEqual(self.d.stop(), 0)

    def test_datagram(self):
        port = loomtest.free_port()
        self.d = loomtest.Loomd(echo_conf("udp:%d:interface=127.0.0.1" % port))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(u.close)
        u.settimeout(loomtest.WAIT)

        def trigger():
            u.sendto(b"dgram", ("127.0.0.1", port))
            return u
        self.start_activated(self.d, ["-d", "-l", "127.0.0.1:%d" % port], trigger)
        # the datagram that woke systemd-socket-activate is answered
        self.assertEqual(u.recv(100), b"dgram")
        self.assertRegex(self.d.log(), r"udp:%d:interface=127.0.0.1 adopted from systemd"
                         % port)

    def test_reload_readopts(self):
        """A reload that drops a listener closes loomd's copy only; the
        reload that brings it back adopts the passed socket again (a bind
        would fail: systemd-socket-activate still holds the address)."""
        p1, p2 = loomtest.free_port(), loomtest.free_port()
        both = echo_conf("tcp:%d:interface=127.0.0.1" % p1, "tcp:%d:interface=127.0.0.1" % p2)
        self.d = loomtest.Loomd(both)
        args = ["-l", "127.0.0.1:%d" % p1, "-l", "127.0.0.1:%d" % p2]
        s = self.start_activated(
            self.d, args,
            lambda: socket.create_connection(("127.0.0.1", p1), timeout=loomtest.WAIT))
        s.close()
        self.d.write_conf(echo_conf("tcp:%d:interface=127.0.0.1" % p1))
        self.assertTrue(self.d.reload())
        self.d.write_conf(both)
        self.assertTrue(self.d.reload(), self.d.log())
        self.assertEqual(len(re.findall(r"tcp:%d:interface=127.0.0.1 adopted from systemd"
                                        % p2, self.d.log())), 2)
        with loomtest.connect(p2) as c:
            self.assertEqual(loomtest.echo_roundtrip(c, b"back\n"), b"back\n")

    def test_restart_keeps_the_socket(self):
        """The test holds the listening socket, as systemd does for
        loom.socket, and passes it through systemd-socket-activate to each
        loomd in turn.  A client that connects while no loomd runs is not
        refused: the next loomd serves it."""
        port = loomtest.free_port()
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(held.close)
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", port))
        held.listen(64)
        self.d = loomtest.Loomd(echo_conf("tcp:%d:interface=127.0.0.1" % port))
        wrap = ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=echo exec "$@"',
                "sh", SSA, "--"]

        def launch():
            self.d.start(wrap=wrap, wait_ready=False, preexec=inherit_as_3(held),
                         pass_fds=(3,))

        launch()
        with loomtest.connect(port) as s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"one\n"), b"one\n")
        self.d.wait_log(r"core: ready")
        self.assertEqual(self.d.stop(), 0)
        # no loomd now: the connection waits in the held socket's backlog
        gap = loomtest.connect(port)
        self.addCleanup(gap.close)
        gap.sendall(b"made in the gap\n")
        launch()  # systemd-socket-activate execs loomd: gap is pending
        got = loomtest.recv_exactly(gap, len(b"made in the gap\n"))
        self.assertEqual(got, b"made in the gap\n")
        self.d.wait_log(r"core: ready", count=2)
        self.assertEqual(len(re.findall(r"adopted from systemd", self.d.log())), 2)
        self.assertEqual(self.d.stop(), 0)
        # the control: once nothing holds the socket, connecting is refused
        held.close()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=loomtest.WAIT)


@unittest.skipUnless(built_with_systemd(), "loomd built without libsystemd")
class Notify(loomtest.DaemonTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loomtest-notify-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.tmp, True))
        self.path = os.path.join(self.tmp, "notify")
        self.ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.ns.close)
        self.ns.bind(self.path)
        self.ns.settimeout(loomtest.WAIT)

    def next_msg(self, pattern):
        """Messages until one matches PATTERN (bounded by WAIT)."""
        deadline = time.monotonic() + loomtest.WAIT
        while time.monotonic() < deadline:
            msg = self.ns.recv(4096).decode()
            if re.search(pattern, msg):
                return msg
        raise AssertionError("no notification matching %r" % pattern)

    def test_ready_status_reload_stop(self):
        port = loomtest.free_port()
        self.d = loomtest.Loomd(echo_conf("tcp:%d:interface=127.0.0.1" % port,
                                          "udp:%d:interface=127.0.0.1" % port))
        env = dict(os.environ, NOTIFY_SOCKET=self.path)
        self.d.start(env=env)
        msg = self.next_msg(r"READY=1")
        self.assertEqual(msg, "READY=1\nSTATUS=ready: 2 listeners, 0 connections")
        with loomtest.connect(port) as s:
            loomtest.echo_roundtrip(s, b"x\n")
            # the periodic line (every 5 s) counts the open connection
            msg = self.next_msg(r"^STATUS=serving")
            self.assertRegex(msg, r"^STATUS=serving: 2 listeners, 1 connections, "
                                  r"\d+\.\d conn/s, \d+\.\d datagrams/s$")
        self.d.signal(signal.SIGHUP)
        self.assertEqual(self.next_msg(r"RELOADING=1"), "RELOADING=1")
        self.assertRegex(self.next_msg(r"READY=1"), r"^READY=1\nSTATUS=reloaded: 2 listeners")
        self.d.write_conf("echo {")
        self.d.signal(signal.SIGHUP)
        self.next_msg(r"RELOADING=1")
        self.assertRegex(self.next_msg(r"READY=1"),
                         r"^READY=1\nSTATUS=reload failed, old configuration kept: ")
        self.d.signal(signal.SIGTERM)
        self.assertRegex(self.next_msg(r"STOPPING=1"), r"^STOPPING=1\nSTATUS=stopping: ")
        self.assertEqual(self.d.wait_exit(), 0)


if __name__ == "__main__":
    loomtest.main()
