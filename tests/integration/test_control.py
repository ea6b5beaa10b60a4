"""The control socket (control { listen = "unix:..." }), spoken with a
plain UNIX socket: one request line, one JSON reply, then the server
closes.  Core commands, every malformed request, reload and stop with
work in flight, the peer credential check run as other users (setpriv),
and malformed control sections (FILE:LINE, exit 1)."""

import json
import os
import shutil
import socket
import subprocess
import threading
import unittest

import loomtest
from loomtest import (WAIT, DaemonTest, Loomd, assert_error_line, connect,
                      echo_roundtrip, free_port, line_of, run_loomd,
                      start_expect_exit)

PY = "/usr/bin/python3"


def ask_raw(path, data, shut=False):
    """Send DATA (bytes) on the control socket at PATH; the bytes that
    came back before the server closed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    s.connect(path)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        s.close()


def ask(path, line):
    """The reply to LINE (str, without its newline) as a dict."""
    raw = ask_raw(path, line.encode() + b"\n")
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw
    return json.loads(raw)


def echo_conf(port, name="main"):
    return ('echo "%s" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
            % (name, port))


CONTROL = 'control {\n    listen = "unix:ctl.sock:mode=0600"\n}\n'


class Commands(DaemonTest):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.dd = loomtest.own(cls, Loomd(
            CONTROL + echo_conf(cls.port) +
            'finger "users" {\n    listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '    access_log = "finger.log"\n}\n' % free_port()))
        cls.dd.start()
        cls.sock = os.path.join(cls.dd.dir, "ctl.sock")

    def ok(self, line):
        r = ask(self.sock, line)
        self.assertTrue(r["ok"], r)
        return r["result"]

    def error(self, line, piece):
        r = ask(self.sock, line)
        self.assertEqual(r["ok"], False, r)
        self.assertNotIn("result", r)
        self.assertIn(piece, r["error"])
        return r["error"]

    def test_socket_mode(self):
        self.assertEqual(os.stat(self.sock).st_mode & 0o777, 0o600)

    def test_status(self):
        r = self.ok("status")
        self.assertEqual(r["pid"], self.dd.proc.pid)
        self.assertEqual(r["version"], "0.1.0")
        self.assertIsInstance(r["uptime"], int)
        # the absolute path of -c, its symbolic links resolved
        self.assertEqual(r["config"], os.path.realpath(self.dd.conf_path))
        got = {(i["module"], i["name"]): i for i in r["instances"]}
        self.assertEqual(set(got), {("echo", "main"), ("finger", "users"),
                                    ("control", "control")})
        self.assertEqual(got[("echo", "main")]["listeners"],
                         ["tcp:%d:interface=127.0.0.1" % self.port])
        # the asking connection is the control instance's one connection
        self.assertEqual(got[("control", "control")]["connections"], 1)
        # each instance's samples from the metrics collector
        with connect(self.port) as s:
            echo_roundtrip(s, b"counted")
            r = self.ok("status")
        for i in r["instances"]:
            conns = [m["value"] for m in i["metrics"] if m["name"] == "loom_connections"]
            self.assertEqual(conns, [i["connections"]], i)
            self.assertTrue(all(m["instance"] == i["name"] for m in i["metrics"]))
        echo = [i for i in r["instances"] if i["module"] == "echo"][0]
        self.assertEqual(echo["connections"], 1)
        self.assertIn("loom_build_info", [m["name"] for m in r["metrics"]])

    def test_listeners(self):
        r = self.ok("listeners")
        self.assertEqual(r["columns"], ["instance", "endpoint", "transport",
                                        "connections", "adopted"])
        rows = {row[0]: row for row in r["rows"]}
        self.assertEqual(rows["echo/main"][1:], ["tcp:%d:interface=127.0.0.1" % self.port,
                                                 "tcp", "0", "no"])
        self.assertEqual(rows["control/control"][2], "unix")

    def test_connections_count_bytes(self):
        with connect(self.port) as s:
            echo_roundtrip(s, b"x" * 1000)
            r = self.ok("connections echo/main")
            self.assertEqual(r["columns"], ["instance", "peer", "age", "bytes_in",
                                            "bytes_out", "state"])
            self.assertEqual(len(r["rows"]), 1)
            inst, peer, age, bin_, bout, state = r["rows"][0]
            # the peer with its port: the client socket's own
            self.assertEqual((inst, peer, bin_, bout, state),
                             ("echo/main", "127.0.0.1:%d" % s.getsockname()[1],
                              "1000", "1000", "open"))
            self.assertGreaterEqual(int(age), 0)
            # every connection, the asking one included
            everyone = self.ok("connections")["rows"]
            self.assertEqual(sorted(r[0] for r in everyone),
                             ["control/control", "echo/main"])
        self.assertEqual(self.ok("connections main")["rows"], [])

    def test_routes_help(self):
        self.assertEqual(self.ok("routes")["rows"], [])
        names = [r[0] for r in self.ok("help")["rows"]]
        for c in ("status", "reload", "stop", "listeners", "connections",
                  "routes", "log-level", "reopen-logs", "help"):
            self.assertIn(c, names)

    def test_log_level(self):
        self.assertIn("debug", self.ok("log-level debug")["message"])
        self.ok("routes")
        self.dd.wait_log(r"\[debug\] control/control: request: routes")
        self.ok("log-level info")
        self.error("log-level chatty", "not 'chatty'")

    def test_reopen_logs(self):
        log = os.path.join(self.dd.dir, "finger.log")
        loomtest.wait_file(log)
        os.rename(log, log + ".1")
        self.assertEqual(self.ok("reopen-logs")["message"], "access logs reopened")
        self.assertTrue(os.path.exists(log))

    def test_malformed(self):
        cases = [
            ("", "empty request"),
            ("   \t", "empty request"),
            ("nosuch", "unknown command 'nosuch'"),
            ("status extra", "usage: status"),
            ("log-level", "usage: log-level LEVEL"),
            ("stop 1 2", "usage: stop [--grace] [SECONDS]"),
            ("stop later", "GRACE must be a number"),
            ("connections nope", "no instance 'nope'"),
            ('irc kill bob "a reason', "unterminated quote"),
            ('x "a\\qb"', "bad escape"),
            ('x "a"b', "no space after a closing quote"),
            ('x a"b"', "quote inside a word"),
            ("echo stats", "module echo has no commands"),
            ("memcache stats", "no instance of module memcache"),
            ("echo/other x", "no instance echo/other"),
            ("help nosuch", "no running module 'nosuch'"),
            (" ".join(["w"] * 65), "too many words"),
        ]
        for line, piece in cases:
            with self.subTest(line=line[:40]):
                self.error(line, piece)
        for raw, piece in [(b"x\x01y\n", "control character"),
                           (b"st\xffatus\n", "not UTF-8"),
                           (b"x\x00\n", "control character"),
                           (b"a" * 5000 + b"\n", "longer than 4096"),
                           (b"a" * 5000, "longer than 4096")]:
            with self.subTest(raw=raw[:20]):
                r = json.loads(ask_raw(self.sock, raw))
                self.assertFalse(r["ok"])
                self.assertIn(piece, r["error"])
        # no newline before the client finishes: no request, no reply
        self.assertEqual(ask_raw(self.sock, b"status", shut=True), b"")
        # one request per connection: the second line is not answered
        raw = ask_raw(self.sock, b"help\nstop\n")
        self.assertTrue(json.loads(raw)["ok"])
        # the daemon is unharmed
        self.assertTrue(ask(self.sock, "status")["ok"])
        with connect(self.port) as s:
            echo_roundtrip(s, b"still here")
        self.assertIsNone(self.dd.proc.poll())

    def test_crlf_and_quotes(self):
        r = json.loads(ask_raw(self.sock, b'connections\t"echo/main"\r\n'))
        self.assertTrue(r["ok"], r)


class PeerV6(DaemonTest):
    def test_connections_ipv6_peer(self):
        """An IPv6 peer is written [address]:port, the port the client
        socket's own."""
        if not loomtest.have_ipv6_loopback():
            self.skipTest("no IPv6 loopback")
        port = free_port()
        self.d = Loomd(CONTROL + 'echo "six" {\n    listen = {"tcp:%d:interface=[::1]"}\n}\n'
                       % port)
        self.d.start()
        with socket.create_connection(("::1", port), timeout=WAIT) as s:
            echo_roundtrip(s, b"six")
            r = ask(os.path.join(self.d.dir, "ctl.sock"), "connections six")
            self.assertTrue(r["ok"], r)
            self.assertEqual([row[1] for row in r["result"]["rows"]],
                             ["[::1]:%d" % s.getsockname()[1]])


class ReloadStop(DaemonTest):
    def start(self, extra="", control=CONTROL):
        self.port = free_port()
        self.d = Loomd(control + echo_conf(self.port) + extra)
        self.d.start()
        self.sock = os.path.join(self.d.dir, "ctl.sock")

    def stream(self, nbytes, ready=None, release=None):
        """A client streaming NBYTES through echo in a thread; returns
        (thread, result dict).  It sends the first half, sets READY, waits
        for RELEASE, then sends the rest, reading back everything."""
        res = {}

        def run():
            try:
                s = connect(self.port)
                got = bytearray()
                half = nbytes // 2

                def reader():
                    while len(got) < nbytes:
                        b = s.recv(65536)
                        if not b:
                            break
                        got.extend(b)
                rt = threading.Thread(target=reader)
                rt.start()
                s.sendall(b"z" * half)
                if ready:
                    ready.set()
                if release:
                    release.wait(WAIT)
                s.sendall(b"z" * (nbytes - half))
                rt.join(WAIT)
                res["got"] = len(got)
                s.close()
            except OSError as e:
                res["error"] = e
        t = threading.Thread(target=run)
        t.start()
        return t, res

    def test_reload_ok_with_work_in_flight(self):
        self.start()
        ready, release = threading.Event(), threading.Event()
        t, res = self.stream(4 << 20, ready, release)
        self.assertTrue(ready.wait(WAIT))
        port2 = free_port()
        with open(self.d.conf_path, "a") as f:
            f.write(echo_conf(port2, "second"))
        r = ask(self.sock, "reload")
        release.set()
        self.assertEqual(r, {"ok": True, "result": {"message": "configuration reloaded"}})
        t.join(WAIT)
        self.assertEqual(res.get("got"), 4 << 20, res)
        with connect(port2) as s:
            echo_roundtrip(s, b"new instance")
        names = [i["name"] for i in ask(self.sock, "status")["result"]["instances"]]
        self.assertIn("second", names)
        self.d.wait_log(r"core: configuration reloaded")

    def test_reload_error_keeps_old(self):
        self.start()
        with open(self.d.conf_path, "a") as f:
            f.write('echo "broken" {\n    listen = {"tcp:notaport"}\n}\n')
        want = line_of(self.d.conf_path, "notaport")
        r = ask(self.sock, "reload")
        self.assertFalse(r["ok"])
        self.assertTrue(r["error"].endswith("; old configuration kept"), r)
        self.assertTrue(r["error"].startswith("%s:%d: " % (self.d.conf_path, want)), r)
        with connect(self.port) as s:
            echo_roundtrip(s, b"old config")
        self.assertTrue(ask(self.sock, "status")["ok"])

    def test_reload_moves_the_control_socket(self):
        self.start()
        with open(self.d.conf_path) as f:
            text = f.read()
        with open(self.d.conf_path, "w") as f:
            f.write(text.replace("ctl.sock", "ctl2.sock"))
        # answered on the old socket, which the reload closed meanwhile
        self.assertTrue(ask(self.sock, "reload")["ok"])
        self.assertFalse(os.path.exists(self.sock))
        self.assertTrue(ask(os.path.join(self.d.dir, "ctl2.sock"), "status")["ok"])

    def test_stop_lets_work_finish(self):
        self.start()
        ready, release = threading.Event(), threading.Event()
        t, res = self.stream(4 << 20, ready, release)
        self.assertTrue(ready.wait(WAIT))
        r = ask(self.sock, "stop 30")
        self.assertTrue(r["ok"], r)
        self.assertIn("grace 30 s", r["result"]["message"])
        # listeners are closed, the connection in flight still works
        self.d.wait_log(r"core: shutting down")
        with self.assertRaises(OSError):
            connect(self.port, timeout=2).close()
        release.set()
        t.join(WAIT)
        self.assertEqual(res.get("got"), 4 << 20, res)
        # its last connection gone, loomd exits at once, cleanly
        self.assertEqual(self.d.wait_exit(), 0)
        self.assertFalse(os.path.exists(self.sock))

    def test_stop_grace_ends_idle_connections(self):
        self.start()
        s = connect(self.port)
        echo_roundtrip(s, b"idle after this")
        r = ask(self.sock, "stop --grace 1")
        self.assertTrue(r["ok"], r)
        self.assertEqual(self.d.wait_exit(), 0)
        self.assertEqual(loomtest.recv_until_close(s), b"")
        s.close()
        self.assertIn("grace period over: closing 1 connection(s)", self.d.log())

    def test_stop_default_grace(self):
        self.start(extra="shutdown_grace = 7\n")
        r = ask(self.sock, "stop")
        self.assertIn("grace 7 s", r["result"]["message"])
        self.assertEqual(self.d.wait_exit(), 0)


@unittest.skipUnless(loomtest.is_root() and shutil.which("setpriv"),
                     "needs root and setpriv to run clients as other users")
class Permissions(DaemonTest):
    """The peer's credentials (SO_PEERCRED): root, loomd's user or the
    configured group; the socket is world-writable here so that only the
    credential check stands in the way."""

    CLIENT = ("import json,socket,sys\n"
              "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
              "s.sendall(b'status\\n'); d=b''\n"
              "while True:\n"
              "    b=s.recv(65536)\n"
              "    if not b: break\n"
              "    d+=b\n"
              "sys.stdout.write(d.decode())\n")

    def as_user(self, sock, *ids):
        r = subprocess.run(["setpriv"] + list(ids) + [PY, "-c", self.CLIENT, sock],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def start(self, group=None):
        self.d = Loomd('control {\n    listen = "unix:ctl.sock:mode=0666"\n%s}\n'
                       % ('    group = "%s"\n' % group if group else ""))
        self.d.start()
        return os.path.join(self.d.dir, "ctl.sock")

    def test_other_user_refused(self):
        sock = self.start()
        r = self.as_user(sock, "--reuid=65534", "--regid=65534", "--clear-groups")
        self.assertEqual(r["ok"], False)
        self.assertIn("permission denied: uid 65534", r["error"])
        self.d.wait_log(r"control/control: refused: permission denied")
        self.assertTrue(ask(sock, "status")["ok"])  # root still may

    def test_group_member(self):
        sock = self.start(group="users")
        # primary group
        r = self.as_user(sock, "--reuid=65534", "--regid=100", "--clear-groups")
        self.assertTrue(r["ok"], r)
        # supplementary group
        r = self.as_user(sock, "--reuid=65534", "--regid=65534", "--groups=100")
        self.assertTrue(r["ok"], r)
        # neither
        r = self.as_user(sock, "--reuid=65534", "--regid=65534", "--groups=65534")
        self.assertFalse(r["ok"])
        self.assertIn("member of group users", r["error"])

    def test_socket_given_to_group(self):
        sock = self.start(group="users")
        self.assertEqual(os.stat(sock).st_gid, 100)


class ConfigErrors(DaemonTest):
    def expect(self, conf, needle, contains, nth=1):
        self.d = Loomd(conf)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        want = line_of(self.d.conf_path, needle, nth)
        assert_error_line(self, err, self.d.conf_path, want, contains)
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 1)
        assert_error_line(self, r.stderr, self.d.conf_path, want, contains)

    def test_tcp_listen(self):
        self.expect('control {\n    listen = "tcp:%d:interface=127.0.0.1"\n}\n'
                    % free_port(), "listen", "unix sockets only")

    def test_no_listen(self):
        self.expect('control {\n    group = "users"\n}\n', "control",
                    "control needs a listen")

    def test_unknown_group(self):
        self.expect('control {\n    listen = "unix:c.sock"\n'
                    '    group = "no-such-group-here"\n}\n', "group",
                    "unknown group 'no-such-group-here'")

    def test_two_sections(self):
        self.expect(CONTROL + 'control {\n    listen = "unix:c2.sock"\n}\n',
                    "control {", "only one control section", nth=2)

    def test_titled_section(self):
        self.expect('control "x" {\n    listen = "unix:c.sock"\n}\n',
                    "control", None)

    def test_bad_option(self):
        self.expect('control {\n    listen = "unix:c.sock"\n    colour = 1\n}\n',
                    "colour", None)


if __name__ == "__main__":
    loomtest.main()
