"""Delivery over SSH (the ssh module, libssh2) to Debian's real OpenSSH
server, which each test starts itself: `sshd -D -e -f CONFIG` on a free
loopback port with a host key, an authorized key and internal-sftp, all
in a temporary folder.  Messages come in through an http `publish`
location and routes carry them to ssh:archive:put / append; the files
sshd wrote and the route counters in /status are the checks.

Covered: a put arrives whole (1 MiB, binary-safe text), overwrites an
existing file, leaves no temporary file; a body template; appends in
order; the session is reused across calls; a host key that differs from
known_hosts, and a host known_hosts does not name, are refused with a log
line and nothing is written; a killed and restarted sshd is reconnected
to (a put made while it is down is retried until it is back); bad
parameters fail without a retry; a missing directory fails; a reload and
a stop with a put in flight (sshd frozen with SIGSTOP) end the call and
leave loomd sound; config errors at FILE:LINE.
"""

import getpass
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import loomtest
from loomtest import DaemonTest, Loomd, WAIT, assert_error_line, free_port, line_of, start_expect_exit
from httptest import curl

SSHD = "/usr/sbin/sshd"


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "loomtest", "-f", path],
                   check=True, stdin=subprocess.DEVNULL)
    with open(path + ".pub") as f:
        return f.read().split()[:2]  # type, base64


class Sshd:
    """An OpenSSH server in a temporary folder on a free loopback port,
    accepting the client key it made for the current user over SFTP."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="loomsshd-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.hostkey = keygen(os.path.join(self.dir, "hostkey"))
        self.client_key = os.path.join(self.dir, "id_ed25519")
        ctype, cb64 = keygen(self.client_key)
        with open(os.path.join(self.dir, "authorized_keys"), "w") as f:
            f.write("%s %s loomtest\n" % (ctype, cb64))
        self.known_hosts = self.write_known_hosts("known_hosts", self.hostkey)
        self.files = os.path.join(self.dir, "files")
        os.mkdir(self.files)
        with open(os.path.join(self.dir, "sshd_config"), "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s/hostkey\n"
                    "PidFile %s/sshd.pid\nAuthorizedKeysFile %s/authorized_keys\n"
                    "StrictModes no\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nUsePAM no\n"
                    "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
                    "LogLevel VERBOSE\n" % (self.port, self.dir, self.dir, self.dir))
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation
        self.proc = None
        self.log_path = os.path.join(self.dir, "sshd.log")

    def write_known_hosts(self, name, key, host=None):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("%s %s %s\n" % (host or "[127.0.0.1]:%d" % self.port, key[0], key[1]))
        return path

    def start(self):
        log = open(self.log_path, "ab")
        # a session of its own, so that kill() reaches the per-connection
        # children as well
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", os.path.join(self.dir, "sshd_config")],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        loomtest.wait_port(self.port)
        return self

    def family(self):
        """The server and every process it forked (sessions call setsid,
        so a process group does not reach them)."""
        pids, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    todo += [int(x) for x in f.read().split()]
            except OSError:
                pass
        return pids

    def signal_all(self, sig):
        for pid in self.family():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGKILL the server and every session it forked."""
        if self.proc and self.proc.poll() is None:
            self.signal_all(signal.SIGCONT)
            pids = self.family()
            self.signal_all(signal.SIGKILL)
            self.proc.wait()
            for pid in pids[1:]:  # reaped by init once their parent died
                while os.path.exists("/proc/%d" % pid) and open("/proc/%d/stat" % pid).read().split()[2] != "Z":
                    time.sleep(0.02)
        self.proc = None

    def freeze(self, on):
        self.signal_all(signal.SIGSTOP if on else signal.SIGCONT)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def ssh_conf(sshd, known_hosts=None, extra=""):
    return ('ssh "archive" {\n  host = "127.0.0.1"\n  port = %d\n  user = "%s"\n'
            '  key = "%s"\n  known_hosts = "%s"\n  timeout = 5\n%s}\n'
            % (sshd.port, getpass.getuser(), sshd.client_key, known_hosts or sshd.known_hosts, extra))


def http_conf(port):
    return ('http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n  server "s" {\n'
            '    location "= /status" { handler = "status" }\n'
            '    location "/pub" {\n      handler = "publish"\n      topic = "pub"\n'
            '      max_body = "4M"\n    }\n  }\n}\n' % port)


def route(name, to, sets, extra=""):
    return ('route "%s" {\n  from = "http:web:pub"\n  to = "ssh:archive:%s"\n'
            '  set = {%s}\n%s}\n' % (name, to, ", ".join("'%s'" % s for s in sets), extra))


class SshTest(DaemonTest):
    def setUp(self):
        self.sshd = Sshd()
        self.addCleanup(self.sshd.cleanup)
        self.sshd.start()
        self.http = free_port()

    def tearDown(self):
        # every test ends with a clean stop: exit 0, and under ASan no
        # leak or error report (libssh2 freed with each session)
        if self.d and self.d.proc:
            rc = self.d.stop()
            log = self.d.log()
            self.drop_daemon()
            self.assertNotIn("Sanitizer", log)
            self.assertEqual(rc, 0, log)
        super().tearDown()

    def start(self, routes, known_hosts=None, extra=""):
        self.d = Loomd(http_conf(self.http) + ssh_conf(self.sshd, known_hosts, extra) + routes)
        self.d.start()

    def publish(self, body, ctype="text/plain"):
        with tempfile.NamedTemporaryFile(prefix="loomssh-body-") as f:
            f.write(body)
            f.flush()
            r = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                      "-H", "Content-Type: " + ctype, "--data-binary", "@" + f.name,
                      "http://127.0.0.1:%d/pub" % self.http])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(int(r.stdout), 202)

    def wait_route(self, name, pred):
        return loomtest.wait_route(self.http, name, pred)

    def path(self, name):
        return os.path.join(self.sshd.files, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def samples(self):
        """The ssh instance's samples in the status JSON: {(name,
        sorted label items): value}."""
        inst = [i for i in loomtest.http_status(self.http)["instances"]
                if i["module"] == "ssh"][0]
        return {(m["name"], tuple(sorted(m["labels"].items()))): m["value"]
                for m in inst["metrics"]}

    def calls(self, action, result):
        return self.samples()[("loom_ssh_calls_total",
                               (("action", action), ("result", result)))]

    def leftovers(self):
        return [n for n in os.listdir(self.sshd.files) if "loomtmp" in n]


class PutTest(SshTest):
    def test_put_arrives_whole_and_overwrites(self):
        self.start(route("p", "put", ["path = %s/out-${@id}.bin" % self.sshd.files]) +
                   route("same", "put", ["path = %s/latest.txt" % self.sshd.files]))
        big = bytes((i * 7 + i // 251) % 256 for i in range(1 << 20)).replace(b"\0", b"x")
        self.publish(big)
        self.wait_route("p", lambda s: s["delivered"] == 1)
        self.wait_route("same", lambda s: s["delivered"] == 1)
        self.assertEqual(self.read("out-1.bin"), big)
        self.assertEqual(self.read("latest.txt"), big)
        # the second message replaces latest.txt whole (SFTP v3 refuses
        # a rename over a file: removed, then renamed)
        self.publish(b"second\n")
        self.wait_route("same", lambda s: s["delivered"] == 2)
        self.assertEqual(self.read("latest.txt"), b"second\n")
        self.assertEqual(self.read("out-2.bin"), b"second\n")
        self.assertEqual(self.leftovers(), [])
        # one session served all four calls
        self.assertEqual(len(re.findall(r"ssh/archive: session open", self.d.log())), 1)
        self.assertEqual(len(re.findall(r"Accepted publickey", self.sshd.log())), 1)
        # and the samples say so
        got = self.samples()
        self.assertEqual(got[("loom_ssh_sessions_total", ())], 1)
        self.assertEqual(got[("loom_ssh_session_failures_total", ())], 0)
        self.assertEqual(got[("loom_ssh_session_up", ())], 1)
        self.assertEqual(got[("loom_ssh_calls_queued", ())], 0)
        self.assertEqual(self.calls("put", "done"), 4)
        self.assertEqual(self.calls("put", "failed"), 0)
        self.assertEqual(got[("loom_ssh_written_bytes_total", ())],
                         2 * len(big) + 2 * len(b"second\n"))

    def test_body_template(self):
        self.start(route("p", "put", ["path = %s/${name}.txt" % self.sshd.files,
                                      "body = hello ${who}"]))
        self.publish(b'{"name": "greeting", "who": "world"}', "application/json")
        self.wait_route("p", lambda s: s["delivered"] == 1)
        self.assertEqual(self.read("greeting.txt"), b"hello world")

    def test_append_in_order(self):
        self.start(route("a", "append", ["path = %s/log.txt" % self.sshd.files, "line = ${n} ${w}"]))
        for i in range(20):
            self.publish(('{"n": %d, "w": "line"}' % i).encode(), "application/json")
        self.wait_route("a", lambda s: s["delivered"] == 20)
        self.assertEqual(self.read("log.txt").decode(), "".join("%d line\n" % i for i in range(20)))
        self.assertEqual(self.calls("append", "done"), 20)
        self.assertEqual(self.calls("put", "done"), 0)

    def test_bad_parameters_fail_without_retry(self):
        self.start(route("empty", "put", ["path = ${nothing}"]) +
                   route("dir", "put", ["path = %s/" % self.sshd.files]) +
                   route("nl", "append", ["path = %s/x" % self.sshd.files, "line = ${text}"]))
        self.publish(b"two\nlines")
        for name in ("empty", "dir", "nl"):
            st = self.wait_route(name, lambda s: s["failed"] == 1)
            self.assertEqual(st["retried"], 0)
            self.assertEqual(st["delivered"], 0)
        self.assertEqual(os.listdir(self.sshd.files), [])
        # refused before they were queued: no call of the module ended
        self.assertEqual(self.calls("put", "failed"), 0)
        self.assertEqual(self.samples()[("loom_ssh_sessions_total", ())], 0)

    def test_missing_directory_fails(self):
        self.start(route("p", "put", ["path = %s/no/such/dir/f" % self.sshd.files]))
        self.publish(b"x")
        st = self.wait_route("p", lambda s: s["failed"] == 1)
        self.assertEqual(st["delivered"], 0)
        self.assertRegex(self.d.log(), r'route "p": ssh:archive:put failed.*no such file')
        self.assertEqual(self.calls("put", "failed"), 1)
        self.assertEqual(self.calls("put", "done"), 0)


class HostKeyTest(SshTest):
    def refused(self, known_hosts, pattern):
        self.start(route("p", "put", ["path = %s/f" % self.sshd.files]) + "",
                   known_hosts=known_hosts)
        self.publish(b"secret")
        self.d.wait_log(pattern)
        st = loomtest.route_stats(self.http, "p")
        self.assertEqual(st["delivered"], 0)
        self.assertFalse(os.path.exists(self.path("f")))
        # refused before authenticating: sshd never saw a login
        self.assertNotIn("Accepted publickey", self.sshd.log())

    def test_changed_host_key_is_refused(self):
        other = keygen(os.path.join(self.sshd.dir, "otherkey"))
        kh = self.sshd.write_known_hosts("kh_wrong", other)
        self.refused(kh, r"host key refused: it DIFFERS from the key recorded in .*kh_wrong")
        self.wait_route("p", lambda s: s["retried"] >= 1)
        self.assertGreaterEqual(self.samples()[("loom_ssh_session_failures_total", ())], 1)
        self.assertEqual(self.samples()[("loom_ssh_sessions_total", ())], 0)
        self.assertGreaterEqual(self.calls("put", "retry"), 1)

    def test_unknown_host_is_refused(self):
        kh = self.sshd.write_known_hosts("kh_other", self.sshd.hostkey, host="[127.0.0.1]:1")
        self.refused(kh, r"host key refused: the host is not known")


class KnownHostsKindsTest(SshTest):
    def test_key_of_another_kind_recorded_first(self):
        """known_hosts names the host with an RSA key first, then its
        ed25519 key: the ed25519 one is what the server's key is checked
        against, as OpenSSH's ssh does."""
        rsa = os.path.join(self.sshd.dir, "rsakey")
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa], check=True,
                       stdin=subprocess.DEVNULL)
        with open(rsa + ".pub") as f:
            rtype, rb64 = f.read().split()[:2]
        kh = os.path.join(self.sshd.dir, "kh_two")
        with open(kh, "w") as f:
            f.write("[127.0.0.1]:%d %s %s\n[127.0.0.1]:%d %s %s\n"
                    % (self.sshd.port, rtype, rb64, self.sshd.port, self.sshd.hostkey[0], self.sshd.hostkey[1]))
        self.start(route("p", "put", ["path = %s/f" % self.sshd.files]), known_hosts=kh)
        self.publish(b"ok")
        self.wait_route("p", lambda s: s["delivered"] == 1)
        self.assertEqual(self.read("f"), b"ok")


class RestartTest(SshTest):
    def test_restarted_sshd_is_reconnected(self):
        self.start(route("p", "put", ["path = %s/f-${@id}" % self.sshd.files]))
        self.publish(b"one")
        self.wait_route("p", lambda s: s["delivered"] == 1)
        self.sshd.kill()
        # the session's connection died with sshd; a put now finds no
        # server and is retried until one is back
        self.publish(b"two")
        self.wait_route("p", lambda s: s["retried"] >= 1)
        self.assertFalse(os.path.exists(self.path("f-2")))
        self.sshd.start()
        self.wait_route("p", lambda s: s["delivered"] == 2)
        self.assertEqual(self.read("f-2"), b"two")
        self.publish(b"three")
        self.wait_route("p", lambda s: s["delivered"] == 3)
        self.assertEqual(self.read("f-3"), b"three")
        self.assertEqual(len(re.findall(r"ssh/archive: session open", self.d.log())), 2)

    def test_idle_session_is_closed_and_reopened(self):
        self.start(route("p", "put", ["path = %s/f-${@id}" % self.sshd.files]), extra="  idle = 1\n")
        self.publish(b"one")
        self.wait_route("p", lambda s: s["delivered"] == 1)
        deadline = time.monotonic() + WAIT
        # closed by loomd, with an SSH goodbye (SSH_MSG_DISCONNECT)
        while "Received disconnect" not in self.sshd.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertRegex(self.sshd.log(), r"Received disconnect from 127\.0\.0\.1 port \d+:11: idle")
        self.publish(b"two")
        self.wait_route("p", lambda s: s["delivered"] == 2)
        self.assertEqual(self.read("f-2"), b"two")
        self.assertEqual(len(re.findall(r"Accepted publickey", self.sshd.log())), 2)


class InFlightTest(SshTest):
    def hold(self):
        """A put held in flight: the session is open, then sshd (and its
        session) frozen, then a put sent."""
        self.start(route("p", "put", ["path = %s/f-${@id}" % self.sshd.files],
                         "  retry_for = 30\n"), extra="  timeout = 60\n")
        self.publish(b"one")
        self.wait_route("p", lambda s: s["delivered"] == 1)
        self.sshd.freeze(True)
        self.addCleanup(lambda: self.sshd.proc and self.sshd.freeze(False))
        self.publish(b"two")
        self.wait_route("p", lambda s: s["inflight"] == 1)

    def test_reload_with_a_put_in_flight(self):
        self.hold()
        self.assertTrue(self.d.reload())
        # ended RETRY; delivered by a new session once sshd is back
        self.wait_route("p", lambda s: s["retried"] >= 1)
        self.sshd.freeze(False)
        self.wait_route("p", lambda s: s["delivered"] == 2)
        self.assertEqual(self.read("f-2"), b"two")
        # the abandoned session, thawed, may have made its temporary file
        # (documented); nothing else is there
        self.assertEqual(sorted(n for n in os.listdir(self.sshd.files) if n not in self.leftovers()),
                         ["f-1", "f-2"])

    def test_stop_with_a_put_in_flight(self):
        self.hold()
        self.assertEqual(self.d.stop(), 0)
        self.assertRegex(self.d.log(), r'route "p": ssh:archive:put failed .*stopping')
        self.assertFalse(os.path.exists(self.path("f-2")))


class ShippedExampleTest(SshTest):
    def test_shipped_example_delivers(self):
        """The commented-out example in conf/loom.conf, uncommented and
        pointed at the test's sshd, works as written."""
        self.d, ports = loomtest.shipped_conf()
        with open(self.d.conf_path) as f:
            text = f.read()
        m = re.search(r"^#ssh \"archive\" \{\n(?:#.*\n)*?#route \"demo-to-log\" \{\n(?:#.*\n)*?#\}\n",
                      text, re.M)
        self.assertIsNotNone(m, "no ssh example in conf/loom.conf")
        block = re.sub(r"^#", "", m.group(0), flags=re.M)
        # loomd runs as the shipped `user` (nobody when root): the key must
        # be readable by that user
        key = os.path.join(self.d.dir, "id_ed25519")
        shutil.copy(self.sshd.client_key, key)
        os.chmod(key, 0o644)
        for old, new in (('"backup.example.net"', '"127.0.0.1"'), ("port = 22", "port = %d" % self.sshd.port),
                         ('"loom"', '"%s"' % getpass.getuser()),
                         ("/etc/loom/ssh/id_ed25519", key),
                         ("/etc/loom/ssh/known_hosts", self.sshd.known_hosts),
                         ("/srv/archive", self.sshd.files)):
            self.assertIn(old, block)
            block = block.replace(old, new)
        self.d.write_conf(text.replace(m.group(0), block), raw=True)
        self.d.start()
        self.http = ports[8080]
        r = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                  "--data", '{"text":"hi"}', "http://127.0.0.1:%d/hooks/demo" % self.http])
        self.assertEqual(r.stdout, b"202")
        self.wait_route("demo-to-archive", lambda s: s["delivered"] == 1)
        self.wait_route("demo-to-log", lambda s: s["delivered"] == 1)
        self.assertEqual(self.read("demo-1.json"), b'{"text":"hi"}')
        self.assertRegex(self.read("demo.log").decode(), r"^\d+ hi\n$")


class ConfigTest(DaemonTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loomsshconf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.key = os.path.join(self.tmp, "id")
        keygen(self.key)
        self.kh = os.path.join(self.tmp, "kh")
        with open(self.kh, "w") as f:
            f.write("[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qv1iZ2Q2\n")

    def bad(self, body, needle, contains):
        self.d = Loomd('ssh "archive" {\n%s}\n' % body)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1)
        assert_error_line(self, err, self.d.conf_path, line_of(self.d.conf_path, needle), contains)

    def opts(self, **kw):
        o = {"host": '"127.0.0.1"', "port": "22", "user": '"u"', "key": '"%s"' % self.key,
             "known_hosts": '"%s"' % self.kh}
        o.update(kw)
        return "".join("  %s = %s\n" % (k, v) for k, v in o.items() if v is not None)

    def test_missing_required(self):
        for opt in ("host", "user", "key", "known_hosts"):
            with self.subTest(opt=opt):
                self.bad(self.opts(**{opt: None}), 'ssh "archive"', "%s is required" % opt)
                self.drop_daemon()

    def test_bad_numbers(self):
        for opt, val in (("port", "0"), ("port", "70000"), ("timeout", "0"), ("idle", "0")):
            with self.subTest(opt=opt, val=val):
                self.bad(self.opts(**{opt: val}), "  %s = %s" % (opt, val), opt)
                self.drop_daemon()

    def test_unreadable_files(self):
        self.bad(self.opts(key='"%s/nope"' % self.tmp), "  key =", "No such file")
        self.drop_daemon()
        self.bad(self.opts(known_hosts='"%s/nope"' % self.tmp), "  known_hosts =", "No such file")

    def test_bad_route_parameter(self):
        self.d = Loomd('ssh "archive" {\n%s}\nroute "r" {\n  from = "x:y:z"\n  to = "ssh:archive:put"\n'
                       "  set = {'bogus = 1'}\n}\n" % self.opts())
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1)
        self.assertEqual(len(err.strip().split("\n")), 1, err)


if __name__ == "__main__":
    loomtest.main()
