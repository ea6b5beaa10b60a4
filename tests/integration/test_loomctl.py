"""loomctl, the built binary, against the real loomd's control socket
(`control { listen = "unix:..." }`): every core command (status, reload
that works and one that fails at FILE:LINE, stop with a grace, listeners,
connections, routes, log-level, reopen-logs, help) and module commands
(tests/modules/ctltest.c: a table of the words it received, a message, an
error), in text and --json; and loomctl's own error paths: no daemon or
nothing listening (exit 3), a peer that is not the protocol (exit 3),
usage errors (exit 2), a refused user (exit 1).

Each assertion compares what loomctl printed with what the test made
happen (its own connections, bytes, published messages, config edits),
never with canned output.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import loomtest
from loomtest import DaemonTest, Loomd, free_port, assert_error_line, line_of, WAIT

LOOMCTL = os.environ.get("LOOMCTL", os.path.join(loomtest.BUILDDIR, "src", "loomctl"))
CTLTEST_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "ctltest.so")
BUSTEST_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "bustest.so")


def run(args, sock=None, env=None, timeout=WAIT, preexec=None, exe=LOOMCTL):
    """Run loomctl (EXE) with ARGS (after -s SOCK when given); the
    CompletedProcess (text)."""
    cmd = [exe] + (["-s", sock] if sock else []) + list(args)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=preexec)


def conf(echo_port, ct_port, bus_port, extra_echo=""):
    return ('load_module("%s")\nload_module("%s")\n'
            'control {\n  listen = "unix:{dir}/control.sock"\n}\n'
            'echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"%s}\n}\n'
            'ctltest "c" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  access_log = "{dir}/ct.access"\n}\n'
            'bustest "b" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
            'route "r" {\n  from = "bustest:b:deploy"\n  to = "bustest:b:record"\n'
            "  set = {'text = ${who}'}\n}\n"
            % (CTLTEST_SO, BUSTEST_SO, echo_port, extra_echo, ct_port, bus_port))


def rows(reply):
    """A --json table reply as a list of dicts (cells as strings)."""
    res = reply["result"]
    return [dict(zip(res["columns"], [str(c) for c in r])) for r in res["rows"]]


class Loomctl(DaemonTest):
    """One loomd with a control socket, echo, ctltest and a bus route."""

    @classmethod
    def setUpClass(cls):
        for so in (CTLTEST_SO, BUSTEST_SO):
            if not os.path.exists(so):
                raise AssertionError("%s not built (make check builds it)" % so)
        if not os.access(LOOMCTL, os.X_OK):
            raise AssertionError("loomctl not built: %s" % LOOMCTL)
        cls.echo, cls.ct, cls.bus = free_port(), free_port(), free_port()
        cls.daemon = loomtest.own(cls, Loomd(conf(cls.echo, cls.ct, cls.bus)))
        cls.daemon.start()
        cls.sock = os.path.join(cls.daemon.dir, "control.sock")

    def ctl(self, *args, **kw):
        return run(args, sock=self.sock, **kw)

    def ctl_json(self, *args, rc=0):
        r = self.ctl("--json", *args)
        self.assertEqual(r.returncode, rc, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, 0, "loomctl %s: %s%s" % (args, r.stdout, r.stderr))
        self.assertEqual(r.stderr, "")
        return r.stdout

    def fails(self, *args, rc=1):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, rc, "loomctl %s: %s%s" % (args, r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        return r.stderr

    # ---- status, listeners, connections -----------------------------------

    def test_status(self):
        d = self.daemon
        out = self.ok("status")
        self.assertRegex(out, r"(?m)^version: +\d+\.\d+\.\d+$")
        self.assertRegex(out, r"(?m)^pid: +%d$" % d.proc.pid)
        self.assertRegex(out, r"(?m)^config: +%s$" % re.escape(d.conf_path))
        self.assertRegex(out, r"(?m)^uptime: +\d+(s|m\d\ds|h\d\dm)$")
        self.assertRegex(out, r"(?m)^MODULE +NAME +LISTENERS +CONNECTIONS$")
        self.assertRegex(out, r"(?m)^echo +e +\S*%d\S* +\d+$" % self.echo)
        self.assertRegex(out, r"(?m)^ctltest +c +\S*%d\S* +\d+$" % self.ct)
        # the collector's samples, each instance's and the core's, in one table
        self.assertRegex(out, r"(?m)^metrics:\nINSTANCE +NAME +LABELS +VALUE$")
        self.assertRegex(out, r"(?m)^e +loom_connections +module=echo +\d+$")
        self.assertRegex(out, r"(?m)^- +loom_build_info +version=\S+ +1$")
        st = self.ctl_json("status")
        self.assertIs(st["ok"], True)
        r = st["result"]
        self.assertEqual(r["pid"], d.proc.pid)
        self.assertEqual(os.path.realpath(r["config"]), os.path.realpath(d.conf_path))
        mods = {(i["module"], i["name"]): i for i in r["instances"]}
        self.assertIn(("echo", "e"), mods)
        self.assertIn(("bustest", "b"), mods)
        self.assertTrue(any(str(self.echo) in l for l in mods[("echo", "e")]["listeners"]))

    def test_listeners_and_connections(self):
        # two connections of ours to echo, with a known number of bytes
        conns = []
        for n in (1, 2):
            s = loomtest.connect(self.echo)
            self.addCleanup(s.close)
            self.assertEqual(loomtest.echo_roundtrip(s, b"x" * (100 * n)), b"x" * (100 * n))
            conns.append(s)
        ls = [r for r in rows(self.ctl_json("listeners")) if str(self.echo) in r["endpoint"]]
        self.assertEqual(len(ls), 1, ls)
        self.assertEqual((ls[0]["instance"], ls[0]["transport"], ls[0]["connections"],
                          ls[0]["adopted"]), ("echo/e", "tcp", "2", "no"))
        out = self.ok("listeners")
        self.assertRegex(out.split("\n")[0], r"^INSTANCE +ENDPOINT +TRANSPORT +CONNECTIONS +ADOPTED$")
        self.assertRegex(out, r"(?m)^echo/e +\S*:%d:\S* +tcp +2 +no$" % self.echo)
        # connections: one row per connection of ours, the peer with the
        # port each client socket has, its byte counts its own
        peers = ["127.0.0.1:%d" % s.getsockname()[1] for s in conns]
        got = rows(self.ctl_json("connections", "e"))
        self.assertEqual(sorted((r["instance"], r["peer"], int(r["bytes_in"]),
                                 int(r["bytes_out"]), r["state"]) for r in got),
                         sorted(("echo/e", peers[n - 1], 100 * n, 100 * n, "open")
                                for n in (1, 2)))
        out = self.ok("connections", "echo/e")
        self.assertRegex(out.split("\n")[0],
                         r"^INSTANCE +PEER +AGE +BYTES_IN +BYTES_OUT +STATE$")
        for n in (1, 2):
            self.assertRegex(out, r"(?m)^echo/e +%s +\d+s +%d +%d +open$"
                             % (re.escape(peers[n - 1]), 100 * n, 100 * n))
        # the whole list has ours too; an unknown instance is an error
        every = [r for r in rows(self.ctl_json("connections")) if r["instance"] == "echo/e"]
        self.assertEqual(len(every), 2, every)
        err = self.fails("connections", "nosuch")
        self.assertIn("no instance 'nosuch'", err)
        # closed connections leave the table
        for s in conns:
            s.close()
        deadline = time.monotonic() + WAIT
        while rows(self.ctl_json("connections", "e")):
            self.assertLess(time.monotonic(), deadline, "connections never closed")
            time.sleep(0.05)

    # ---- routes, log-level, reopen-logs, help -----------------------------

    def test_routes(self):
        before = {r["route"]: r for r in rows(self.ctl_json("routes"))}
        self.assertIn("r", before)
        with loomtest.connect(self.bus) as s:
            s.sendall(b"PUB deploy who=ann\n")
            s.settimeout(WAIT)
            ans = b""
            while b"\r\n" not in ans:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "bustest closed: %r" % ans)
                ans += chunk
            self.assertTrue(ans.startswith(b"OK"), ans)
        deadline = time.monotonic() + WAIT
        while True:
            now = {r["route"]: r for r in rows(self.ctl_json("routes"))}["r"]
            if int(now["delivered"]) == int(before["r"]["delivered"]) + 1:
                break
            self.assertLess(time.monotonic(), deadline, now)
            time.sleep(0.05)
        self.assertEqual(int(now["matched"]), int(before["r"]["matched"]) + 1)
        out = self.ok("routes")
        self.assertRegex(out.split("\n")[0], r"^ROUTE +MATCHED +DELIVERED +FAILED")
        self.assertRegex(out, r"(?m)^r +%s +%s " % (now["matched"], now["delivered"]))

    def test_log_level(self):
        d = self.daemon
        out = self.ok("log-level", "debug")
        self.assertEqual(out, "log level set to debug until the next reload\n")
        d.wait_log(r"log level set to debug \(control socket\)")
        self.assertIn("log level must be error, warn, info or debug, not 'loud'",
                      self.fails("log-level", "loud"))
        self.assertIn("usage: log-level", self.fails("log-level"))
        self.ok("log-level", "info")

    def ct_line(self, text):
        """One line to ctltest (logged in its access log); its answer."""
        with loomtest.connect(self.ct) as s:
            s.sendall(text + b"\n")
            s.settimeout(WAIT)
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return data

    def test_reopen_logs(self):
        d = self.daemon
        log = os.path.join(d.dir, "ct.access")
        self.assertEqual(self.ct_line(b"before"), b"ctltest/c\n")
        loomtest.wait_file(log, r" 6\n")
        os.rename(log, log + ".1")
        self.assertEqual(self.ok("reopen-logs"), "access logs reopened\n")
        self.assertTrue(os.path.exists(log), "reopen-logs did not create a new access log")
        self.assertEqual(self.ct_line(b"after!!"), b"ctltest/c\n")
        loomtest.wait_file(log, r" 7\n")
        with open(log + ".1") as f:
            self.assertNotIn(" 7\n", f.read())

    def test_help(self):
        out = self.ok("help")
        self.assertRegex(out.split("\n")[0], r"^COMMAND +ARGUMENTS +DESCRIPTION$")
        for cmd in ("status", "reload", "stop", "listeners", "connections", "routes",
                    "log-level", "reopen-logs", "help"):
            self.assertRegex(out, r"(?m)^%s " % cmd)
        self.assertRegex(out, r"(?m)^ctltest\[/NAME\] words +ARG\.\.\. +a table")

    # ---- module commands ---------------------------------------------------

    def test_module_words_survive_quoting(self):
        words = ["plain", "two words", 'a "quoted" one', "back\\slash", "", "tab\there",
                 "caf\u00e9", "-x"]
        for inst in ("ctltest", "ctltest/c"):
            got = rows(self.ctl_json(inst, "words", *words))
            self.assertEqual([r["word"] for r in got], words)
            self.assertEqual([int(r["bytes"]) for r in got], [len(w.encode()) for w in words])
        out = self.ok("ctltest", "words", "one", "two words")
        self.assertEqual(out, "N  WORD       BYTES\n1  one            3\n2  two words      9\n")

    def test_module_message_and_error(self):
        self.assertEqual(self.ok("ctltest/c", "say", "hello there"),
                         "ctltest/c says: hello there\n")
        self.assertEqual(self.fails("ctltest", "fail"), "ctltest/c failed on purpose\n")
        j = self.ctl_json("ctltest", "fail", rc=1)
        self.assertEqual(j, {"ok": False, "error": "ctltest/c failed on purpose"})
        self.assertIn("no command 'nosuch'", self.fails("ctltest", "nosuch"))
        self.assertIn("usage: ctltest say", self.fails("ctltest", "say"))
        self.assertIn("no instance ctltest/zz", self.fails("ctltest/zz", "say", "x"))

    # ---- errors the daemon answers ----------------------------------------

    def test_daemon_errors(self):
        self.assertIn("unknown command 'frobnicate'", self.fails("frobnicate"))
        self.assertIn("usage: stop", self.fails("stop", "1", "2"))
        self.assertIn("usage: stop", self.fails("stop", "--grace"))
        self.assertIn("usage: stop", self.fails("stop", "--later", "2"))
        self.assertIn("GRACE must be a number of seconds", self.fails("stop", "soon"))
        self.assertIn("usage: status", self.fails("status", "extra"))
        # a control character the protocol refuses: an error, nothing done
        self.assertNotEqual(self.fails("ctltest", "say", "bell\x07"), "")
        # the daemon is unharmed
        self.assertRegex(self.ok("status"), r"(?m)^pid: +%d$" % self.daemon.proc.pid)

    # ---- reload ----------------------------------------------------------------

    def test_reload(self):
        d = self.daemon
        extra = free_port()
        good = conf(self.echo, self.ct, self.bus, ', "tcp:%d:interface=127.0.0.1"' % extra)
        self.addCleanup(d.write_conf, conf(self.echo, self.ct, self.bus))
        d.write_conf(good)
        self.assertEqual(self.ok("reload"), "configuration reloaded\n")
        with loomtest.connect(extra) as s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"new\n"), b"new\n")
        # a broken file: exit 1, one FILE:LINE line, the old config kept
        d.write_conf(good.replace("  access_log", "  no_such_option = 1\n  access_log"))
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        msg = assert_error_line(self, r.stderr, d.conf_path, line_of(d.conf_path, "no_such_option"))
        self.assertTrue(msg.endswith("; old configuration kept"), msg)
        self.assertIn("no_such_option", msg)
        d.wait_log(r"core: reload failed")
        with loomtest.connect(extra) as s:
            self.assertEqual(loomtest.echo_roundtrip(s, b"still\n"), b"still\n")
        j = self.ctl_json("reload", rc=1)
        self.assertIs(j["ok"], False)
        self.assertIn("old configuration kept", j["error"])
        # restored: reloads again, and the extra listener goes away
        d.write_conf(conf(self.echo, self.ct, self.bus))
        self.assertEqual(self.ok("reload"), "configuration reloaded\n")
        self.assertFalse([r for r in rows(self.ctl_json("listeners"))
                          if str(extra) in r["endpoint"]])

    # ---- refused users -----------------------------------------------------------

    def test_refused_user(self):
        if not loomtest.is_root():
            self.skipTest("running loomctl as another user needs root")
        os.chmod(self.sock, 0o666)  # let the kernel pass nobody through

        # A copy nobody may run: the build tree may sit under a home
        # directory others cannot enter (/root in the fresh Debian root).
        exe = os.path.join(self.daemon.dir, "loomctl")
        shutil.copy2(LOOMCTL, exe)
        os.chmod(exe, 0o755)

        def nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        r = run(["status"], sock=self.sock, preexec=nobody, exe=exe)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("permission denied: uid 65534", r.stderr)
        self.assertEqual(r.stdout, "")


class Stop(DaemonTest):
    """stop GRACE: listeners close at once, open connections finish within
    the grace, loomd exits 0; afterwards loomctl finds nobody (exit 3)."""

    def test_stop_with_grace(self):
        port = free_port()
        self.d = Loomd('control {\n  listen = "unix:{dir}/ctl.sock"\n}\n'
                       'shutdown_grace = 1\n'
                       'echo "e" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % port)
        self.d.start()
        sock = os.path.join(self.d.dir, "ctl.sock")
        held = loomtest.connect(port)
        self.addCleanup(held.close)
        self.assertEqual(loomtest.echo_roundtrip(held, b"one\n"), b"one\n")
        r = run(["stop", "60"], sock=sock)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # the count is every connection of loomd's: ours and loomctl's own
        m = re.match(r"^stopping: (\d+) connection\(s\) open, grace 60 s\n$", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertIn(int(m.group(1)), (1, 2), r.stdout)
        # the listener is closed; the open connection still works, past
        # the configured shutdown_grace of 1 s (the 60 given wins)
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                break
            self.assertLess(time.monotonic(), deadline, "listener still open")
            time.sleep(0.05)
        time.sleep(1.5)
        self.assertIsNone(self.d.proc.poll(), "loomd did not wait the grace given")
        self.assertEqual(loomtest.echo_roundtrip(held, b"two\n"), b"two\n")
        held.close()
        self.assertEqual(self.d.wait_exit(), 0, self.d.log())
        r = run(["status"], sock=sock)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"^loomctl: cannot connect to %s: " % re.escape(sock))


class ClientErrors(DaemonTest):
    """loomctl's own failures, without a daemon or against fake ones."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loomctl-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_no_daemon(self):
        path = os.path.join(self.tmp, "none.sock")
        r = run(["status"], sock=path)
        self.assertEqual((r.returncode, r.stdout), (3, ""))
        self.assertIn("cannot connect to %s: No such file or directory" % path, r.stderr)
        # a socket file nobody listens on
        s = socket.socket(socket.AF_UNIX)
        s.bind(os.path.join(self.tmp, "dead.sock"))
        s.close()
        r = run(["status"], sock=os.path.join(self.tmp, "dead.sock"))
        self.assertEqual(r.returncode, 3)
        self.assertIn("Connection refused", r.stderr)

    def test_socket_from_environment(self):
        path = os.path.join(self.tmp, "env.sock")
        env = dict(os.environ, LOOMCTL_SOCKET=path)
        r = run(["status"], env=env)
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot connect to %s:" % path, r.stderr)
        # -s wins over the environment
        other = os.path.join(self.tmp, "other.sock")
        r = run(["status"], sock=other, env=env)
        self.assertIn("cannot connect to %s:" % other, r.stderr)
        # without either: the default
        env.pop("LOOMCTL_SOCKET")
        if not os.path.exists("/run/loom/control.sock"):
            r = run(["status"], env=env)
            self.assertIn("cannot connect to /run/loom/control.sock:", r.stderr)

    def fake(self, answer, close_early=False):
        """A one-shot unix server that reads the request line and answers
        ANSWER (bytes); returns (socket path, list the request lands in)."""
        path = os.path.join(self.tmp, "fake%d.sock" % len(os.listdir(self.tmp)))
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(1)
        srv.settimeout(WAIT)
        got = []

        def serve():
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                if not close_early:
                    buf = b""
                    while not buf.endswith(b"\n"):
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        buf += chunk
                    got.append(buf)
                c.sendall(answer)
            srv.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        self.addCleanup(t.join, WAIT)
        self.addCleanup(srv.close)
        return path, got

    def test_request_line_on_the_wire(self):
        path, got = self.fake(b'{"ok":true,"result":{"message":"fine"}}\n')
        r = run(["irc", "kill", "bob", 'say "bye"', "c:\\x", ""], sock=path)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "fine\n", ""))
        self.assertEqual(got, [b'irc kill bob "say \\"bye\\"" "c:\\\\x" ""\n'])

    def test_not_the_protocol(self):
        for answer in (b"", b"hello\n", b'{"ok":"yes"}', b"[1]", b'{"ok":true,"result":{"columns":[]}}'):
            path, _ = self.fake(answer)
            r = run(["status"], sock=path)
            self.assertEqual(r.returncode, 3, (answer, r.stdout, r.stderr))
            self.assertRegex(r.stderr, r"^loomctl: ")
        # an answer sent before the request was even read still counts
        path, _ = self.fake(b'{"ok":false,"error":"permission denied: go away"}', close_early=True)
        r = run(["status"], sock=path)
        self.assertEqual((r.returncode, r.stderr), (1, "permission denied: go away\n"))

    def test_usage(self):
        for args in ([], ["--json"], ["-s"], ["--bogus", "status"], ["--json=yes", "status"]):
            r = run(args, env=dict(os.environ, LOOMCTL_SOCKET="/nonexistent/x.sock"))
            self.assertEqual((r.returncode, r.stdout), (2, ""), args)
            self.assertRegex(r.stderr, r"^loomctl: .*\nusage: loomctl ", args)
        r = run(["status", "a\nb"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("line break", r.stderr)
        r = run(["x" * 5000])
        self.assertEqual(r.returncode, 2)
        self.assertIn("longer than 4096 bytes", r.stderr)
        r = run(["-h"])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn("usage: loomctl [-s SOCKET] [--json] COMMAND", r.stdout)
        r = run(["-V"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^loomctl \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    loomtest.main()
