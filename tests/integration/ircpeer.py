"""ircpeer - IRC servers and real IRC clients for the integration tests.

Servers (each on free loopback ports, cleaned up with .cleanup()):
  IrcD     loomd with one irc instance "chat" (plain and TLS listeners,
           an operator, an accounts file); the server under test.
  Ngircd   Debian's ngIRCd on a free port: a reference server that the
           client harnesses are proven against (and that the tests'
           expectations can be checked against: IRC_PEER=ngircd).
  server() the one a test runs against: IrcD, or Ngircd when the
           environment says IRC_PEER=ngircd.

Clients:
  Net / Bot  python3-irc (the `irc` package, irc.client.IRC): several
           connections on one reactor; every raw line kept in bot.lines,
           the library's parsed events in bot.events.  Tests wait with
           bot.expect(REGEX) (in order, from bot.cursor) and
           net.until(PRED): generous deadlines only bound a hang.
  Twisted  Twisted words' IRCClient bots on a reactor in a thread.
  Tmux     a terminal client (irssi) under tmux: send-keys, capture-pane.

Nothing here asserts on how long anything took.
"""

import base64
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import irc.client
import irc.connection

import loomtest
from loomtest import WAIT

# the documented demo operator of the test configuration (crypt(3) SHA-512
# of "operpass")
OPER_NAME = "admin"
OPER_PASS = "operpass"
ACCOUNT_PASS = "alicepass"


def _crypt(password):
    r = subprocess.run(["openssl", "passwd", "-6", "-salt", "loomtestsalt", password],
                       capture_output=True, text=True, timeout=WAIT, check=True)
    return r.stdout.strip()


class IrcD:
    """loomd with an irc instance "chat": .port (plain), .tls_port, .cert
    (the self-signed certificate's path), .d (the Loomd).  EXTRA is put
    inside the irc block; CONF_TAIL after it (other instances, routes)."""

    def __init__(self, extra="", conf_tail="", files=None, tls=True):
        self.port = loomtest.free_port()
        self.tls_port = loomtest.free_port() if tls else None
        self.d = loomtest.Loomd("", files=files)
        self.cert, self.key = (None, None)
        listen = ['"tcp:%d:interface=127.0.0.1"' % self.port]
        if tls:
            self.cert, self.key = loomtest.make_cert(self.d.dir, "irc", "localhost",
                                                     "DNS:localhost,IP:127.0.0.1")
            listen.append('"tls:%d:interface=127.0.0.1:cert=%s:key=%s"'
                          % (self.tls_port, self.cert, self.key))
        self.d.write_file("irc.accounts", "alice %s\nbob %s\n"
                          % (_crypt(ACCOUNT_PASS), _crypt("bobpass")))
        self.d.write_file("irc.motd", "Welcome to the loom test network.\n")
        self.conf = ('irc "chat" {\n'
                     '    listen = {%s}\n'
                     '    server_name = "irc.example.test"\n'
                     '    network = "loomtest"\n'
                     '    motd = "{dir}/irc.motd"\n'
                     '    accounts_file = "{dir}/irc.accounts"\n'
                     '    oper "%s" { password = "%s" }\n'
                     '%s\n'
                     '}\n%s' % (", ".join(listen), OPER_NAME, _crypt(OPER_PASS),
                                extra, conf_tail))
        self.d.write_conf(self.conf)
        self.server_name = "irc.example.test"

    def start(self):
        self.d.start()
        return self

    def alive(self):
        return self.d.proc is not None and self.d.proc.poll() is None

    def pid(self):
        return self.d.proc.pid

    def cleanup(self):
        self.d.cleanup()


class Ngircd:
    """Debian's ngIRCd on a free loopback port, in the foreground, its log
    in .log_path; .port, .server_name."""

    BIN = shutil.which("ngircd") or "/usr/sbin/ngircd"

    def __init__(self, extra_limits=""):
        self.port = loomtest.free_port()
        self.tls_port = loomtest.free_port()
        self.dir = tempfile.mkdtemp(prefix="loomtest-ngircd-")
        os.chmod(self.dir, 0o755)
        self.server_name = "irc.ngircd.test"
        self.cert, self.key = loomtest.make_cert(self.dir, "irc", "localhost",
                                                 "DNS:localhost,IP:127.0.0.1")
        os.chmod(self.key, 0o644)  # ngIRCd reads it as nobody
        conf = os.path.join(self.dir, "ngircd.conf")
        with open(conf, "w") as f:
            f.write("[Global]\n Name = %s\n Info = reference\n Listen = 127.0.0.1\n"
                    " Ports = %d\n MotdPhrase = ngircd reference\n"
                    " AdminInfo1 = test\n AdminInfo2 = test\n AdminEMail = t@t.test\n"
                    "[Limits]\n MaxConnectionsIP = 0\n PingTimeout = 600\n%s"
                    "[Options]\n DNS = no\n Ident = no\n PAM = no\n"
                    "[SSL]\n CertFile = %s\n KeyFile = %s\n Ports = %d\n"
                    "[Operator]\n Name = %s\n Password = %s\n"
                    % (self.server_name, self.port, extra_limits, self.cert, self.key,
                       self.tls_port, OPER_NAME, OPER_PASS))
        self.log_path = os.path.join(self.dir, "ngircd.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.BIN, "-n", "-f", conf], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def start(self):
        loomtest.wait_port(self.port)
        return self

    def alive(self):
        return self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def peer_is_ngircd():
    return os.environ.get("IRC_PEER") == "ngircd"


def server(**kw):
    """The server the tests run against (not started): IrcD(**kw), or
    Ngircd() when IRC_PEER=ngircd."""
    if peer_is_ngircd():
        return Ngircd()
    return IrcD(**kw)


# ---------------------------------------------------------------- python3-irc

TAGGED = re.compile(r"^(?:@(?P<tags>\S+) +)?(?::(?P<prefix>\S+) +)?(?P<cmd>\S+)(?P<rest>.*)$")


def parse_tags(line):
    """The IRCv3 tags of a raw LINE as a dict (values unescaped)."""
    m = TAGGED.match(line)
    out = {}
    if m and m.group("tags"):
        for item in m.group("tags").split(";"):
            k, _, v = item.partition("=")
            out[k] = re.sub(r"\\(.)", lambda x: {":": ";", "s": " ", "\\": "\\", "r": "\r",
                                                  "n": "\n"}.get(x.group(1), x.group(1)), v)
    return out


class Net:
    """One python3-irc reactor (irc.client.IRC) for several Bots of a test."""

    def __init__(self, srv):
        self.srv = srv
        self.irc = irc.client.IRC()
        self.bots = []
        self.irc.add_global_handler("all_events", self._on_event, -20)

    def _on_event(self, conn, event):
        for b in self.bots:
            if b.conn is conn:
                b._event(event)

    def bot(self, nick, **kw):
        return Bot(self, nick, **kw)

    def pump(self, timeout=0.05):
        self.irc.process_once(timeout)

    def until(self, pred, what="condition", timeout=WAIT):
        """Process input until PRED() is true (returns its value); fails
        the test after TIMEOUT seconds (a hang, not a measurement)."""
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; last lines: %s" % (
                    what, {b.nick: b.lines[-8:] for b in self.bots}))
            self.pump()

    def close(self):
        for b in self.bots:
            try:
                b.conn.close()
            except Exception:  # noqa: BLE001 - already gone
                pass


class Bot:
    """A python3-irc ServerConnection to SRV.  CAPS: capabilities to REQ
    before registration (CAP LS 302 is sent first, registration waits for
    CAP END); SASL=(account, password) for SASL PLAIN; TLS with TLS=True
    (the test certificate is not verified: self-signed)."""

    def __init__(self, net, nick, tls=False, caps=(), sasl=None, password=None,
                 register=True, username=None, realname=None, cert=None, end_cap=True):
        self.net = net
        self.nick = nick
        self.lines = []
        self.events = []
        self.cursor = 0
        self.caps_acked = set()
        self.conn = net.irc.server()
        self.closed = False
        net.bots.append(self)
        wrapper = _identity
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if cert:
                ctx.load_cert_chain(cert[0], cert[1])
            wrapper = ctx.wrap_socket
        want_cap = bool(caps) or sasl is not None

        def factory(addr):
            sock = irc.connection.Factory(wrapper=wrapper).connect(addr)
            if want_cap:
                # before python3-irc's NICK/USER, so registration waits
                sock.send(b"CAP LS 302\r\n")
            return sock

        port = net.srv.tls_port if tls else net.srv.port
        if not register:
            self.sock = factory(("127.0.0.1", port))
            return
        self.conn.connect("127.0.0.1", port, nick, password=password,
                          username=username or nick.lower(), ircname=realname or "bot " + nick,
                          connect_factory=factory)
        if want_cap:
            self.expect(r" CAP \S+ LS")
            req = list(caps) + (["sasl"] if sasl is not None and "sasl" not in caps else [])
            self.raw("CAP REQ :" + " ".join(req))
            m = self.expect(r" CAP \S+ (ACK|NAK) :?(.*)")
            if m.group(1) == "ACK":
                self.caps_acked = set(m.group(2).split())
            if sasl is not None and sasl[0] == "EXTERNAL":
                self.raw("AUTHENTICATE EXTERNAL")
                self.expect(r"^AUTHENTICATE \+")
                self.raw("AUTHENTICATE +")
                self.sasl_result = self.expect(r" (90[2-9]) ").group(1)
            elif sasl is not None:
                self.raw("AUTHENTICATE PLAIN")
                self.expect(r"^AUTHENTICATE \+")
                blob = ("%s\0%s\0%s" % (sasl[0], sasl[0], sasl[1])).encode()
                self.raw("AUTHENTICATE " + base64.b64encode(blob).decode())
                self.sasl_result = self.expect(r" (90[2-9]) ").group(1)
            if end_cap:
                self.raw("CAP END")

    def _event(self, ev):
        if ev.type == "all_raw_messages":
            self.lines.append(ev.arguments[0])
        elif ev.type == "disconnect":
            self.closed = True
            self.events.append(ev)
        else:
            self.events.append(ev)

    def raw(self, line):
        self.conn.send_raw(line)

    def find(self, regex, start=None):
        """The first match of REGEX in the lines from START (default the
        cursor), with its index, or (None, None)."""
        rx = re.compile(regex)
        for i in range(self.cursor if start is None else start, len(self.lines)):
            m = rx.search(self.lines[i])
            if m:
                return m, i
        return None, None

    def expect(self, regex, timeout=WAIT):
        """Wait for a line matching REGEX after the cursor; move the cursor
        past it; returns the match."""
        def look():
            m, i = self.find(regex)
            if m:
                self.cursor = i + 1
                return m
            return None
        return self.net.until(look, "%s: %r" % (self.nick, regex), timeout)

    def expect_event(self, etype, pred=lambda e: True, timeout=WAIT):
        """Wait for a python3-irc event of type ETYPE ("pubmsg", "kick",
        "mode", ...) satisfying PRED; returns it (and forgets older ones)."""
        def look():
            for i, e in enumerate(self.events):
                if e.type == etype and pred(e):
                    del self.events[:i + 1]
                    return e
            return None
        return self.net.until(look, "%s: event %s" % (self.nick, etype), timeout)

    def welcome(self):
        """Wait for 001 and the end of the MOTD (376 or 422)."""
        self.expect(r" 001 ")
        self.expect(r" (376|422) ")
        return self

    def skip(self):
        """Forget what came so far (lines and events)."""
        self.cursor = len(self.lines)
        self.events.clear()

    def sync(self):
        """A PING round trip: everything the server sent before it is here."""
        token = "sync%d" % time.monotonic_ns()
        self.raw("PING " + token)
        self.expect(r"PONG .*" + token)

    def wait_closed(self, timeout=WAIT):
        return self.net.until(lambda: self.closed or not self.conn.is_connected(),
                              self.nick + " closed", timeout)


def _identity(x):
    return x


# ---------------------------------------------------------------- raw sockets

class Raw:
    """A plain line-oriented socket client (for what no library sends:
    over-long lines, floods, a client that never reads)."""

    def __init__(self, port, timeout=WAIT):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.rstrip(b"\r").decode(errors="replace")

    def until(self, regex):
        rx = re.compile(regex)
        while True:
            ln = self.line()
            if ln.startswith("PING "):
                self.send("PONG " + ln[5:] + "\r\n")
            m = rx.search(ln)
            if m:
                return m

    def register(self, nick):
        self.send("NICK %s\r\nUSER %s 0 * :raw %s\r\n" % (nick, nick.lower(), nick))
        self.until(r" (376|422) ")
        return self

    def close(self):
        self.s.close()


# ---------------------------------------------------------------- Twisted

class Twisted:
    """Twisted words IRCClient bots on a reactor running in a daemon
    thread (started once per process; Twisted's reactor cannot restart).
    t.bot(port, nick) connects one; t.call(f, *a) runs f in the reactor
    thread; bots record what their callbacks saw in .seen (a list of
    tuples, appended in the reactor thread)."""

    _started = False

    def __init__(self):
        from twisted.internet import reactor
        self.reactor = reactor
        if not Twisted._started:
            Twisted._started = True
            threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                             daemon=True).start()

    def call(self, f, *a, **kw):
        self.reactor.callFromThread(f, *a, **kw)

    def bot(self, port, nick, password=None):
        from twisted.internet import protocol
        from twisted.words.protocols import irc as twirc

        seen = []

        class Bot(twirc.IRCClient):
            nickname = nick

            def __init__(self):
                self.password = password

            def connectionMade(self):
                holder["proto"] = self
                twirc.IRCClient.connectionMade(self)

            def signedOn(self):
                seen.append(("signedOn",))

            def joined(self, channel):
                seen.append(("joined", channel))

            def left(self, channel):
                seen.append(("left", channel))

            def userJoined(self, user, channel):
                seen.append(("userJoined", user.split("!")[0], channel))

            def privmsg(self, user, channel, message):
                seen.append(("privmsg", user.split("!")[0], channel, message))

            def noticed(self, user, channel, message):
                seen.append(("noticed", user.split("!")[0], channel, message))

            def kickedFrom(self, channel, kicker, message):
                seen.append(("kickedFrom", channel, kicker, message))

            def userKicked(self, kickee, channel, kicker, message):
                seen.append(("userKicked", kickee, channel, kicker, message))

            def modeChanged(self, user, channel, set_, modes, args):
                seen.append(("modeChanged", channel, set_, modes, tuple(a for a in args if a)))

            def topicUpdated(self, user, channel, newTopic):
                seen.append(("topicUpdated", user, channel, newTopic))

            def userRenamed(self, oldname, newname):
                seen.append(("userRenamed", oldname, newname))

            def irc_RPL_AWAY(self, prefix, params):
                seen.append(("away", params[1], params[-1]))

            def irc_RPL_WHOISUSER(self, prefix, params):
                seen.append(("whoisuser",) + tuple(params[1:]))

            def irc_ERR_NICKNAMEINUSE(self, prefix, params):
                seen.append(("433",))
                twirc.IRCClient.irc_ERR_NICKNAMEINUSE(self, prefix, params)

            def irc_unknown(self, prefix, command, params):
                seen.append(("unknown", command) + tuple(params))

            def lineReceived(self, line):
                seen.append(("line", line.decode(errors="replace")
                             if isinstance(line, bytes) else line))
                twirc.IRCClient.lineReceived(self, line)

        holder = {"proto": None, "seen": seen}
        factory = protocol.ClientFactory.forProtocol(Bot)
        self.call(self.reactor.connectTCP, "127.0.0.1", port, factory)
        return holder

    @staticmethod
    def until(holder, pred, what="condition", timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(holder["seen"]):
                if pred(item):
                    return item
            time.sleep(0.02)
        raise AssertionError("timed out waiting for %s; seen: %s" % (what, holder["seen"][-10:]))


# ---------------------------------------------------------------- tmux

class Tmux:
    """A terminal client under a private tmux server: irssi with a home
    directory of its own, configured to connect to 127.0.0.1:PORT (over
    TLS when TLS=True, the certificate not verified: self-signed) as NICK
    and to join CHANNEL.  .screen() is the pane's text; .wait(REGEX) polls
    it; .keys(TEXT) types a line."""

    def __init__(self, port, nick, channel, tls=False):
        self.dir = tempfile.mkdtemp(prefix="loomtest-irssi-")
        self.sock = os.path.join(self.dir, "tmux.sock")
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write('servers = ({ address = "127.0.0.1"; chatnet = "loomtest"; port = "%d";\n'
                    '  use_tls = "%s"; tls_verify = "no"; autoconnect = "yes"; });\n'
                    'chatnets = { loomtest = { type = "IRC"; }; };\n'
                    'channels = ({ name = "%s"; chatnet = "loomtest"; autojoin = "yes"; });\n'
                    'settings = { core = { real_name = "irssi under tmux"; user_name = "%s";\n'
                    '  nick = "%s"; }; "fe-common/core" = { hide_colors = "yes"; }; };\n'
                    % (port, "yes" if tls else "no", channel, nick.lower(), nick))
        env = dict(os.environ, TERM="screen", HOME=self.dir, LANG="C.UTF-8")
        env.pop("TMUX", None)
        self.env = env
        self._tmux("new-session", "-d", "-x", "160", "-y", "48", "-s", "irc",
                   "irssi --home=%s" % self.dir)

    def _tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), env=self.env,
                              capture_output=True, text=True, timeout=WAIT)

    def screen(self):
        return self._tmux("capture-pane", "-p", "-J", "-t", "irc").stdout

    def wait(self, regex, timeout=WAIT * 3):
        """Poll capture-pane until REGEX matches the screen; the match.
        The deadline is generous: it only bounds a hang."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError("%r never on the irssi screen:\n%s" % (regex, text))
            time.sleep(0.2)

    def keys(self, text):
        self._tmux("send-keys", "-t", "irc", "-l", text)
        self._tmux("send-keys", "-t", "irc", "Enter")

    def show(self, window):
        """Bring irssi's window WINDOW (a channel name) to the front."""
        self.keys("/window goto " + window)
        self.wait(r"\[\d+:loomtest/" + re.escape(window) + r"|" + re.escape(window) + r"\]")

    def cleanup(self):
        self._tmux("kill-server")
        shutil.rmtree(self.dir, ignore_errors=True)
