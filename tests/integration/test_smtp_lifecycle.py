"""The smtp module with mail in flight: reloads (the instance changed,
removed and put back) and a stop while sessions are in DATA, waiting for
their group commit, or gone before their 250.  Every message that got its
250 is in the Maildir exactly once; loomd stays up through the reloads and
exits 0 on SIGTERM (under ASan, with no report)."""

import smtplib
import socket
import threading
import time
import unittest

import loomtest
from loomtest import own, WAIT
from smtptest import SmtpD, CONF

ECHO = '''
echo "e" {
  listen = {"tcp:%d:interface=127.0.0.1"}
}
'''


class InFlight(unittest.TestCase):
    def setUp(self):
        self.srv = own(self, SmtpD()).start()
        self.d = self.srv.d
        self.stop = threading.Event()
        self.acked = []  # tokens of messages that got their 250
        self.lock = threading.Lock()
        self.threads = []

    def sender(self, n):
        i = 0
        while not self.stop.is_set():
            token = "t%d-%d" % (n, i)
            i += 1
            msg = ("From: s@x.test\r\nTo: alice@example.test\r\n"
                   "Subject: %s\r\n\r\n%s\r\n" % (token, "line\r\n" * 50))
            try:
                with smtplib.SMTP("127.0.0.1", self.srv.port, timeout=WAIT) as s:
                    s.sendmail("s@x.test", ["alice@example.test"], msg)
                with self.lock:
                    self.acked.append(token)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.01)  # refused while the listener was gone

    def hangup(self):
        # the whole transaction and QUIT sent, the socket closed before the
        # 250 can come back: the commit finishes for a session that is gone
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                c = socket.create_connection(("127.0.0.1", self.srv.port), timeout=WAIT)
                c.sendall(b"EHLO h\r\nMAIL FROM:<h@x.test>\r\n"
                          b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
                c.recv(4096)
                c.sendall(b"Subject: gone %d\r\n\r\nbody\r\n.\r\nQUIT\r\n" % i)
                c.close()
            except OSError:
                time.sleep(0.01)

    def start_load(self):
        self.threads = [threading.Thread(target=self.sender, args=(n,)) for n in range(4)]
        self.threads.append(threading.Thread(target=self.hangup))
        for t in self.threads:
            t.start()
        self.addCleanup(self.end_load)

    def end_load(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        self.threads = []

    def wait_acked(self, n):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.acked) >= n:
                    return
            time.sleep(0.02)
        self.fail("fewer than %d messages acknowledged:\n%s" % (n, self.d.log()))

    def check_delivered(self):
        seen = {}
        for m in self.srv.messages("alice"):
            for line in m.split(b"\r\n"):
                if line.startswith(b"Subject: t"):
                    tok = line[len(b"Subject: "):].decode()
                    seen[tok] = seen.get(tok, 0) + 1
        with self.lock:
            acked = list(self.acked)
        self.assertGreater(len(acked), 0)
        missing = [t for t in acked if t not in seen]
        self.assertEqual(missing, [], "250 given, not in the Maildir")
        self.assertEqual([t for t, n in seen.items() if n != 1], [])

    def conf(self, extra="", smtp=True, echo_port=None):
        vals = dict(port=self.srv.port, sub=self.srv.sub, size="1M", rcpts=100,
                    extra=extra, more="")
        text = CONF % vals if smtp else 'tls "local" {\n  self_signed = yes\n}\n'
        if echo_port:
            text += ECHO % echo_port
        return text

    def test_reload_with_mail_in_flight(self):
        echo_port = loomtest.free_port()
        self.start_load()
        self.wait_acked(5)
        for k in range(3):
            # the instance changed, then removed (its sessions finish on the
            # old generation), then put back
            self.d.write_conf(self.conf(extra="max_errors = %d" % (5 + k)))
            self.assertTrue(self.d.reload(), self.d.log())
            self.wait_acked(5 + 10 * k)
            self.d.write_conf(self.conf(smtp=False, echo_port=echo_port))
            self.assertTrue(self.d.reload(), self.d.log())
            time.sleep(0.1)
            self.d.write_conf(self.conf())
            self.assertTrue(self.d.reload(), self.d.log())
        with self.lock:
            n = len(self.acked)
        self.wait_acked(n + 5)
        self.end_load()
        self.assertIsNone(self.d.proc.poll(), self.d.log())
        self.check_delivered()
        self.assertEqual(self.d.stop(), 0, self.d.log())

    def test_stop_with_mail_in_flight(self):
        self.start_load()
        self.wait_acked(10)
        try:
            self.assertEqual(self.d.stop(), 0, self.d.log())
        finally:
            self.end_load()
        self.check_delivered()


if __name__ == "__main__":
    loomtest.main()
