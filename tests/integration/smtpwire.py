"""smtpwire - what the raw-socket SMTP tests share: a loomd config with one
smtp instance delivering to Maildirs in the test's folder, a raw client
that reads replies exactly as they come (multi-line, in order), and the
Maildir as a test sees it."""

import glob
import os
import re
import socket
import time

import loomtest
from loomtest import WAIT

DOMAIN = "example.test"


def smtp_conf(port, users=("alice", "bob"), extra=""):
    """A loomd config (for Loomd, {dir} = its folder) with smtp "mx" on
    127.0.0.1:PORT, local domain example.test, USERS delivering to
    {dir}/mail/USER/.  EXTRA: more lines inside the section."""
    rcpts = ", ".join('"%s@%s {dir}/mail/%s/"' % (u, DOMAIN, u) for u in users)
    return ('smtp "mx" {\n'
            '  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  hostname = "mx.example.test"\n'
            '  local_domains = {"%s"}\n'
            '  recipients = {%s}\n'
            '%s'
            '}\n' % (port, DOMAIN, rcpts, extra))


def maildir(d, user):
    """USER's Maildir in Loomd D's folder."""
    return os.path.join(d.dir, "mail", user)


def messages(d, user):
    """{file name: bytes} of USER's Maildir new/ and cur/."""
    out = {}
    base = maildir(d, user)
    for p in glob.glob(os.path.join(base, "new", "*")) + glob.glob(os.path.join(base, "cur", "*")):
        with open(p, "rb") as f:
            out[os.path.basename(p)] = f.read()
    return out


def body_of(msg):
    """The body of a stored message: what follows the first empty line,
    CRLF or LF line ends alike."""
    m = re.search(rb"\r?\n\r?\n", msg)
    return msg[m.end():] if m else b""


def lf(data):
    """DATA with CRLF line ends made LF (Maildir files may hold either)."""
    return data.replace(b"\r\n", b"\n")


class Reply:
    """One SMTP reply: code (int), lines (the text after "NNN-"/"NNN ")."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


_LINE = re.compile(rb"^(\d{3})([ -])(.*)$")


class Raw:
    """A raw SMTP connection: send bytes, read replies one at a time."""

    def __init__(self, port, timeout=WAIT):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.s.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                self.closed = True
                if self.buf:
                    raise AssertionError("connection closed inside a reply line: %r" % self.buf)
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self):
        """The next whole reply, or None when the server closed first."""
        lines = []
        code = None
        while True:
            line = self._line()
            if line is None:
                if lines:
                    raise AssertionError("connection closed inside a reply: %r" % lines)
                return None
            m = _LINE.match(line)
            if not m:
                raise AssertionError("not an SMTP reply line: %r" % line)
            c = int(m.group(1))
            if code is not None and c != code:
                raise AssertionError("reply code changed within a reply: %r" % line)
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                return Reply(code, lines)

    def replies(self, n):
        """The next N replies (fails when the server closes first)."""
        out = []
        for _ in range(n):
            r = self.reply()
            if r is None:
                raise AssertionError("server closed after %r, %d replies were expected"
                                     % (out, n))
            out.append(r)
        return out

    def rest(self):
        """Every reply until the server closes."""
        out = []
        while True:
            r = self.reply()
            if r is None:
                return out
            out.append(r)

    def cmd(self, line):
        """Send LINE (str or bytes, CRLF added) and return its reply."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        r = self.reply()
        if r is None:
            raise AssertionError("server closed after %r" % line)
        return r

    def greet_ehlo(self, name="client.test"):
        """Read the greeting and say EHLO; returns the EHLO reply."""
        g = self.reply()
        assert g is not None and g.code == 220, g
        r = self.cmd("EHLO " + name)
        assert r.code == 250, r
        return r


def wait_count(d, user, n, timeout=WAIT):
    """Wait until USER's Maildir holds N messages; returns messages()."""
    deadline = time.monotonic() + timeout
    while True:
        m = messages(d, user)
        if len(m) >= n or time.monotonic() > deadline:
            return m
        time.sleep(0.05)


def start(extra="", users=("alice", "bob")):
    """A started Loomd with smtp_conf on a free port: (loomd, port)."""
    port = loomtest.free_port()
    d = loomtest.Loomd(smtp_conf(port, users, extra))
    d.start()
    return d, port
