"""smtptest - helpers for the SMTP module's integration tests: a loomd with
one smtp instance (a plain port with STARTTLS and a submission port), the
Maildirs it delivers to, swaks, and a raw line client."""

import glob
import os
import socket
import subprocess
import time

import loomtest
from loomtest import Loomd, free_port, WAIT

DEMO_PASSWORD = "s3cret pass"


def users_file():
    """A users file: demo may send as @example.test, any as anything,
    none only with the null sender."""
    h = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                       input=DEMO_PASSWORD.encode(), stdout=subprocess.PIPE,
                       check=True).stdout.decode().strip()
    return ("# test users\n"
            "demo:%s @example.test\n"
            "any:%s *\n"
            "none:%s\n" % (h, h, h))


CONF = '''
tls "local" {
  self_signed = yes
}
smtp "m" {
  listen = {"tcp:%(port)d:interface=127.0.0.1", "tcp:%(sub)d:interface=127.0.0.1"}
  access_log = "{dir}/smtp.log"
  submission = {"tcp:%(sub)d:interface=127.0.0.1"}
  starttls = "local"
  hostname = "mx.example.test"
  local_domains = {"example.test", "Other.Test"}
  recipients = {"alice@example.test mail/alice/", "bob@example.test mail/bob",
                "carol@other.test {dir}/mail/carol/"}
  aliases = {"team@example.test alice@example.test, bob@example.test",
             "postmaster@example.test alice@example.test",
             "out@example.test alice@example.test, someone@remote.test"}
  users_file = "users"
  queue_dir = "queue"
  relay_hold = true
  max_message_size = %(size)s
  max_recipients = %(rcpts)d
  %(extra)s
}
%(more)s
'''


class SmtpD:
    """A loomd with smtp "m" on PORT (STARTTLS) and SUB (submission)."""

    def __init__(self, size="1M", rcpts=100, extra="", more="", ports=None):
        self.port = free_port()
        self.sub = free_port()
        vals = dict(port=self.port, sub=self.sub, size=size, rcpts=rcpts,
                    extra=extra, more=more)
        vals.update(ports or {})
        self.port, self.sub = vals["port"], vals["sub"]
        self.d = Loomd(CONF % vals, files={"users": users_file()})
        self.dir = self.d.dir

    def start(self):
        self.d.start()
        return self

    def cleanup(self):
        self.d.cleanup()

    def maildir(self, user):
        return os.path.join(self.dir, "mail", user)

    def messages(self, user):
        """The messages in USER's Maildir new/, oldest first, as bytes."""
        out = []
        paths = glob.glob(os.path.join(self.maildir(user), "new", "*"))
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        for p in paths:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def queue_files(self):
        q = os.path.join(self.dir, "queue")
        return sorted(p for p in glob.glob(os.path.join(q, "*"))
                      if os.path.isfile(p))


def swaks(port, *args, timeout=WAIT):
    """Run swaks against 127.0.0.1:PORT with ARGS; returns (exit code,
    output text)."""
    cmd = ["swaks", "--server", "127.0.0.1:%d" % port, "--helo", "client.test",
           "--timeout", "%d" % int(timeout)] + list(args)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout + 10)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def server_lines(out):
    """The server's lines in swaks output ("<-" plain, "<~" under TLS)."""
    res = []
    for line in out.splitlines():
        s = line.lstrip()
        if s.startswith("<-") or s.startswith("<~"):
            res.append(s[2:].strip())
    return res


class Raw:
    """A raw SMTP line client over a socket."""

    def __init__(self, port, greet=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        if greet:
            self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One whole (maybe multi-line) reply: (code, [lines])."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return int(lines[-1][:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def rest(self):
        """Everything until the server closes."""
        out = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out.decode("utf-8", "replace")

    def close(self):
        self.s.close()


def wait_messages(srv, user, n, timeout=WAIT):
    """Wait (bounded) until USER has N messages; returns them."""
    deadline = time.monotonic() + timeout
    msgs = srv.messages(user)
    while len(msgs) < n and time.monotonic() < deadline:
        time.sleep(0.05)
        msgs = srv.messages(user)
    return msgs


__all__ = ["SmtpD", "swaks", "server_lines", "Raw", "wait_messages",
           "DEMO_PASSWORD", "loomtest"]
