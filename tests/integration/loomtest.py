"""loomtest - harness for integration tests: the real loomd on free loopback
ports, driven by real clients.  Each test file is a unittest module that ends
with `loomtest.main()`, which prints TAP (one line per test method) for the
automake TAP driver.

Environment (set by `make check`): LOOMD (the binary), LOOM_BUILDDIR,
LOOM_SRCDIR.  Run one file by hand with
    LOOMD=src/loomd /usr/bin/python3 tests/integration/test_echo.py
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("LOOM_SRCDIR", os.path.normpath(os.path.join(HERE, "..", "..")))
BUILDDIR = os.environ.get("LOOM_BUILDDIR", SRCDIR)
LOOMD = os.environ.get("LOOMD", os.path.join(BUILDDIR, "src", "loomd"))
ECHO_SO = os.path.join(BUILDDIR, "protocols", "echo", ".libs", "echo.so")
BADABI_SO = os.path.join(BUILDDIR, "tests", "modules", ".libs", "badabi.so")
LIFECYCLE_SO = os.path.join(BUILDDIR, "tests", "modules", ".libs", "lifecycle.so")

# Generous upper bounds for waiting on the daemon: they only bound a hang,
# nothing asserts on how long anything took.
WAIT = 20.0


def is_root():
    return os.geteuid() == 0


def _port_range():
    """Ports to hand out: those below the kernel's ephemeral range, so that
    no client socket (curl's, dig's, another test's) can be given a port
    between the moment it is chosen and the moment loomd binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low > 12000:
        return max(1024, low - 12000), low
    return 61000, 65536


_PORT_DIR = os.path.join(tempfile.gettempdir(), "loomtest-ports-%d" % os.getuid())
_held_ports = []


def _release_ports():
    for path in _held_ports:
        try:
            os.unlink(path)
        except OSError:
            pass


def _reserve(port):
    """Claim PORT among every test process of this user: a file named after
    it holds the claimant's pid; a claim whose process is gone is taken
    over.  True when the claim is ours."""
    path = os.path.join(_PORT_DIR, str(port))
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                with open(path) as f:
                    pid = int(f.read().strip() or "0")
                if pid > 0:
                    os.kill(pid, 0)
                    return False
            except ProcessLookupError:
                pass
            except (OSError, ValueError):
                return False
            try:
                os.unlink(path)
            except OSError:
                return False
            continue
        with os.fdopen(fd, "w") as f:
            f.write("%d\n" % os.getpid())
        if not _held_ports:
            import atexit
            atexit.register(_release_ports)
        _held_ports.append(path)
        return True
    return False


def free_port(kind=socket.SOCK_STREAM):
    """A loopback port that is free for both TCP and UDP right now, taken
    from below the ephemeral range and claimed for this process, so that
    neither a client socket nor another test can be given it before loomd
    binds it.  KIND is accepted for callers that name the socket type."""
    del kind
    os.makedirs(_PORT_DIR, exist_ok=True)
    lo, hi = _port_range()
    import random
    start = random.randrange(lo, hi)
    for i in range(hi - lo):
        port = lo + (start - lo + i) % (hi - lo)
        if not _reserve(port):
            continue
        ok = True
        for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, t)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise RuntimeError("no free port")


def _sanitized():
    """True when LOOMD was built with AddressSanitizer, whose allocator
    keeps freed memory in quarantine and adds shadow memory: RSS bounds of
    a normal build do not apply to it (the plain build's run checks them).
    A gcc build links libasan dynamically: its binary names __asan_init
    but holds no "AddressSanitizer" string."""
    try:
        with open(LOOMD, "rb") as f:
            data = f.read()
        return b"AddressSanitizer" in data or b"__asan_init" in data
    except OSError:
        return False


SANITIZED = _sanitized()


def user_line():
    """The `user` line a test config needs: as root loomd refuses to run
    without one, so tests that do not test privilege dropping say root."""
    return 'user = "root"\n' if is_root() else ""


class Loomd:
    """One loomd process on a config written into a fresh temporary folder.

    d = Loomd(conf_text); d.start(); ...; d.stop()
    conf_text may use {dir} for the folder; user_line() is prepended unless
    raw=True.  d.log() returns everything loomd wrote to stderr so far.
    """

    def __init__(self, conf, raw=False, name="loom.conf", files=None):
        self.dir = tempfile.mkdtemp(prefix="loomtest-")
        os.chmod(self.dir, 0o755)
        self.conf_path = os.path.join(self.dir, name)
        for fname, content in (files or {}).items():
            self.write_file(fname, content)
        self.write_conf(conf, raw)
        self.proc = None
        self.err_path = os.path.join(self.dir, "stderr.log")
        self._err = None

    def write_file(self, fname, content):
        path = os.path.join(self.dir, fname)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content.replace("{dir}", self.dir))
        return path

    def write_conf(self, conf, raw=False):
        text = conf.replace("{dir}", self.dir)
        if not raw:
            text = user_line() + text
        with open(self.conf_path, "w") as f:
            f.write(text)

    def start(self, args=(), wait_ready=True, env=None, preexec=None, wrap=(),
              pass_fds=()):
        """WRAP: a command that execs the rest (same process, so signals
        reach loomd), e.g. hosts_wrap().  PASS_FDS: descriptors loomd
        inherits (as subprocess.Popen's)."""
        # a restart appends to the same log: wait for a "ready" this run wrote
        seen = len(re.findall(self._READY, self.log()))
        self._err = open(self.err_path, "ab")
        self.proc = subprocess.Popen(list(wrap) + [LOOMD, "-c", self.conf_path] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self._err,
                                     stderr=self._err, env=env, preexec_fn=preexec,
                                     pass_fds=pass_fds)
        if wait_ready:
            self.wait_log(self._READY, count=seen + 1)
        return self

    _READY = r"\[info\] core: ready"

    def log(self):
        try:
            with open(self.err_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, count=1, timeout=WAIT):
        """Wait until PATTERN (a regex) has matched COUNT times in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.log())) >= count:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("loomd exited (%s) while waiting for %r:\n%s"
                                     % (self.proc.returncode, pattern, self.log()))
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %r in loomd log:\n%s" % (pattern, self.log()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        """SIGHUP and wait for the outcome; returns True if reloaded."""
        n_ok = len(re.findall(r"core: configuration reloaded", self.log()))
        n_bad = len(re.findall(r"core: reload failed", self.log()))
        self.signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            log = self.log()
            if len(re.findall(r"core: configuration reloaded", log)) > n_ok:
                return True
            if len(re.findall(r"core: reload failed", log)) > n_bad:
                return False
            time.sleep(0.05)
        raise AssertionError("no reload outcome in log:\n" + self.log())

    def wait_exit(self, timeout=WAIT):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._err:
            self._err.close()
            self._err = None
        rc = self.proc.returncode if self.proc else None
        return rc

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def own(cls, thing, cleanup=None):
    """Make the test class CLS own THING (a Loomd, an HttpD, an upstream, a
    socket): CLEANUP (default THING.cleanup, else .stop, else .close) runs
    once the class's tests are done, or at once when its setUpClass fails
    part way -- so setUpClass needs no try/except and the class no
    tearDownClass.  Things are cleaned up in the order they were owned:
    own upstreams before the proxy that pools connections to them, so the
    proxy finds those closed when it stops.  Returns THING.

        cls.d = own(cls, HttpD(...))
        cls.d.start()
    """
    if cleanup is None:
        for name in ("cleanup", "stop", "close"):
            cleanup = getattr(thing, name, None)
            if cleanup is not None:
                break
    owned = cls.__dict__.get("_loomtest_owned")
    if owned is None:
        owned = []
        cls._loomtest_owned = owned
        cls.addClassCleanup(_release_owned, owned)
    owned.append(cleanup)
    return thing


def _release_owned(owned):
    """Run the cleanups of own() in order, each even if one before failed;
    the first failure is raised once all ran."""
    first = None
    while owned:
        try:
            owned.pop(0)()
        except Exception as e:  # noqa: BLE001 - reported after the rest ran
            first = first or e
    if first is not None:
        raise first


class DaemonTest(unittest.TestCase):
    """A TestCase whose tests keep the daemon they work on in self.d (a
    Loomd or an HttpD, or None): whatever it holds is cleaned up when the
    test ends.  A test that makes another one first calls drop_daemon."""

    d = None

    def tearDown(self):
        self.drop_daemon()

    def drop_daemon(self):
        """Clean up self.d, if any, and forget it."""
        if self.d:
            self.d.cleanup()
        self.d = None


def make_cert(dirpath, name, cn, san=None):
    """A self-signed RSA certificate for CN made with openssl, its
    subjectAltName SAN (default "DNS:CN"; e.g. "DNS:localhost,IP:127.0.0.1"):
    NAME.pem and NAME.key in DIRPATH; returns their paths (pem, key)."""
    key = os.path.join(dirpath, name + ".key")
    pem = os.path.join(dirpath, name + ".pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", pem, "-days", "30",
                        "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + (san or "DNS:" + cn)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl req failed: %s" % r.stderr.decode(errors="replace"))
    return pem, key


def can_wrap_hosts():
    """Whether hosts_wrap works here: root, and a mount namespace whose
    root can be made private (not in a chroot, where / is no mount)."""
    if not is_root():
        return False
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                              capture_output=True, timeout=WAIT).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def hosts_wrap(hosts_file):
    """A Loomd.start wrap that runs loomd in a mount namespace of its own
    where HOSTS_FILE is /etc/hosts (root only; the machine's file is not
    touched): names that resolve the way a test needs."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', hosts_file]


def run_loomd(args, timeout=WAIT):
    """Run loomd to completion (for -t, -V, bad configs): CompletedProcess."""
    return subprocess.run([LOOMD] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def tcp_query(port, data, host="127.0.0.1", timeout=WAIT, shut=False):
    """Connect, send DATA, read until the server closes; returns bytes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def wait_port(port, host="127.0.0.1", timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("port %d never accepted" % port)


def proc_status(pid):
    """Fields of /proc/PID/status as a dict of strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_cpu_ticks(pid):
    """utime + stime of PID in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class _TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self._subfails = {}

    def _name(self, test):
        method = getattr(test, "_testMethodName", None)
        if method is None:  # a setUpClass or class cleanup error
            return str(test)
        return "%s.%s" % (type(test).__name__, method)

    def addSuccess(self, test):
        self.n += 1
        print("ok %d - %s" % (self.n, self._name(test)), flush=True)

    def _fail(self, test, err):
        self.n += 1
        print("not ok %d - %s" % (self.n, self._name(test)), flush=True)
        for line in self._exc_info_to_string(err, test).splitlines():
            print("# " + line, flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSkip(self, test, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, self._name(test), reason), flush=True)

    def addSubTest(self, test, subtest, err):
        # a failed subTest fails its test (no addSuccess follows): one
        # "not ok" line for the test, with every failed subTest's story
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._subfails.setdefault(id(test), []).append((subtest, err))

    def startTest(self, test):
        super().startTest(test)
        self._subfails = {}

    def stopTest(self, test):
        fails = self._subfails.pop(id(test), [])
        if fails:
            self.n += 1
            print("not ok %d - %s" % (self.n, self._name(test)), flush=True)
            for subtest, err in fails:
                print("# " + subtest._subDescription(), flush=True)
                for line in self._exc_info_to_string(err, test).splitlines():
                    print("# " + line, flush=True)
        super().stopTest(test)


def main():
    """Run the calling module's tests and print TAP."""
    mod = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    print("1..%d" % suite.countTestCases(), flush=True)
    result = _TapResult()
    suite.run(result)
    sys.exit(0 if result.wasSuccessful() else 1)


# ---- helpers added for the CLI / config / echo / finger tests ----------------

def line_of(path, needle, nth=1):
    """1-based number of the NTH line of PATH that contains NEEDLE."""
    seen = 0
    with open(path, errors="replace") as f:
        for i, line in enumerate(f, 1):
            if needle in line:
                seen += 1
                if seen == nth:
                    return i
    raise AssertionError("%r not found in %s" % (needle, path))


def start_expect_exit(d, args=(), timeout=WAIT):
    """Start loomd on D's config, expecting it to exit by itself (a start-up
    error).  Returns (exit code, stderr text).  If it is still running after
    TIMEOUT it is stopped and the test fails."""
    d.start(args=args, wait_ready=False)
    try:
        rc = d.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        d.stop()
        raise AssertionError("loomd did not exit on a bad start-up; log:\n" + d.log())
    d.stop()
    return rc, d.log()


_ERR_LINE = re.compile(r"^(.+?):(\d+): (.+)$")


def assert_error_line(tc, text, path, line, contains=None):
    """TEXT (stderr) is exactly one line `PATH:LINE: message`.  PATH is
    compared as a file (samefile), LINE as a number or a set of numbers;
    CONTAINS, if given, must occur in the message.  Returns the message."""
    lines = text.strip("\n").split("\n")
    tc.assertEqual(len(lines), 1, "expected exactly one stderr line, got:\n" + text)
    m = _ERR_LINE.match(lines[0])
    tc.assertIsNotNone(m, "not a FILE:LINE: message line: %r" % lines[0])
    f, n, msg = m.group(1), int(m.group(2)), m.group(3)
    if os.path.exists(f) and os.path.exists(path):
        same = os.path.samefile(f, path)
    else:
        same = os.path.normpath(os.path.abspath(f)) == os.path.normpath(os.path.abspath(path))
    tc.assertTrue(same, "error names %r, expected %r: %r" % (f, path, lines[0]))
    lines_ok = line if isinstance(line, (set, frozenset, tuple, list)) else {line}
    tc.assertIn(n, lines_ok, "error names line %d, expected %s: %r" % (n, sorted(lines_ok), lines[0]))
    if contains is not None:
        tc.assertIn(contains, msg, "message lacks %r: %r" % (contains, lines[0]))
    return msg


def connect(port, timeout=WAIT, host="127.0.0.1"):
    """A TCP connection to the loopback PORT."""
    return socket.create_connection((host, port), timeout=timeout)


def echo_roundtrip(s, data):
    """Send DATA on S and read back as many bytes (fewer if it closes)."""
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def recv_until_close(s):
    """Read from socket S until EOF; a reset after data counts as the end."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def recv_exactly(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise AssertionError("EOF after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def finger_query(port, query, host="127.0.0.1", timeout=WAIT):
    """Send QUERY (bytes or str) + CRLF to a finger server, return the whole
    answer (bytes) read until the server closes."""
    if isinstance(query, str):
        query = query.encode()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(query + b"\r\n")
        return recv_until_close(s)


def wait_file(path, pattern=None, timeout=WAIT):
    """Wait until PATH exists (and, with PATTERN, its text matches it);
    returns the text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
            if pattern is None or re.search(pattern, text, re.M):
                return text
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %r in %s; it holds:\n%s" % (pattern, path, text))


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s.bind(("::1", 0))
        finally:
            s.close()
        return True
    except OSError:
        return False


_SHIPPED_PORT_RX = re.compile(r'"((?:tcp|udp|tls):(?:host=[^:"]*:port=)?)(\d+)')


def shipped_conf():
    """A Loomd (not started) on a copy of the shipped conf/ (conf/loom.conf
    and what it refers to) with every port replaced by a free one.
    Returns (d, ports): PORTS maps each shipped port to the one used."""
    d = Loomd("", raw=True)
    # (not the control socket of a loomd running on the tree itself)
    shutil.copytree(os.path.join(SRCDIR, "conf"), d.dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.sock"))
    for root, dirs, files in os.walk(d.dir):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
    with open(d.conf_path) as f:
        text = f.read()
    ports = {}

    def repl(m):
        old = int(m.group(2))
        if old not in ports:
            ports[old] = free_port()
        return '"%s%d' % (m.group(1), ports[old])
    d.write_conf(_SHIPPED_PORT_RX.sub(repl, text), raw=True)
    return d, ports


def http_status(port, path="/status"):
    """The http status handler's JSON at PORT and PATH."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=WAIT) as r:
        return json.loads(r.read())


def route_stats(port, name):
    """Route NAME's counters from the status JSON at PORT."""
    for r in http_status(port)["bus"]["routes"]:
        if r["name"] == name:
            return r
    raise AssertionError("no route %r in status" % name)


def wait_route(port, name, pred):
    """Poll route NAME's counters until PRED holds (bounded); returns them."""
    deadline = time.monotonic() + WAIT
    st = None
    while time.monotonic() < deadline:
        st = route_stats(port, name)
        if pred(st):
            return st
        time.sleep(0.05)
    raise AssertionError("route %s never matched: %r" % (name, st))
