"""The SMTP module on the bus: mail to a published address becomes a
message (subject and text decoded to UTF-8) once it is durable, and the
send action composes a message into a Maildir from a webhook."""

import json
import time
import unittest
import urllib.request

import loomtest
from loomtest import own, free_port, WAIT
from smtptest import SmtpD, swaks, wait_messages, Raw

MORE = '''
memcache "cache" {
  listen = {"tcp:%(mc)d:interface=127.0.0.1"}
}
http "web" {
  listen = {"tcp:%(web)d:interface=127.0.0.1"}
  server "s" {
    default = yes
    location "= /status" {
      handler = "status"
      format = "json"
    }
    location "= /hooks/send" {
      handler = "publish"
      topic = "send"
      max_body = "64k"
    }
  }
}
route "mail-to-cache" {
  from = "smtp:m:mail"
  to = "memcache:cache:set"
  set = {'key = mail:last', 'value = ${subject}|${from}|${to}|${size}|${text}'}
}
route "webhook-to-mail" {
  from = "http:web:send"
  to = "smtp:m:send"
  set = {'to = ${to}', 'subject = ${subject}', 'body = ${text}',
         'from = Loom Bot <bot@example.test>'}
}
'''


def mc_get(port, key):
    r = Raw(port, greet=False)
    try:
        r.send("get %s\r\n" % key)
        first = r.line()
        if first == "END":
            return None
        n = int(first.split()[3])
        data = b""
        while len(data) < n + 2:
            data += r.buf or r.s.recv(65536)
            r.buf = b""
        return data[:n].decode("utf-8")
    finally:
        r.close()


class BusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mc = free_port()
        cls.web = free_port()
        cls.srv = own(cls, SmtpD(
            extra='aliases = {"announce@example.test alice@example.test"}\n'
                  '  publish = {"announce@example.test"}',
            more=MORE % {"mc": cls.mc, "web": cls.web})).start()

    def wait_cache(self, pred):
        deadline = time.monotonic() + WAIT
        v = None
        while time.monotonic() < deadline:
            v = mc_get(self.mc, "mail:last")
            if v is not None and pred(v):
                return v
            time.sleep(0.05)
        self.fail("cache never matched: %r" % v)

    def test_published_after_delivery(self):
        msg = ("From: =?utf-8?q?Ren=C3=A9?= <rene@elsewhere.test>\r\n"
               "To: announce@example.test\r\n"
               "Subject: =?utf-8?b?w5xiZXIgYWxsZXM=?=\r\n"
               "MIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=iso-8859-1\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
               "Gr=FC=DFe\r\n")
        before = len(self.srv.messages("alice"))
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<rene@elsewhere.test>")
        self.assertEqual(r.cmd("RCPT TO:<announce@example.test>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        code, _ = r.cmd(msg + ".")
        self.assertEqual(code, 250)
        msgs = wait_messages(self.srv, "alice", before + 1)
        self.assertEqual(len(msgs), before + 1)
        v = self.wait_cache(lambda v: v.startswith("Über alles|"))
        subject, frm, to, size, text = v.split("|", 4)
        self.assertEqual(frm, "René <rene@elsewhere.test>")
        self.assertEqual(to, "announce@example.test")
        self.assertGreater(int(size), len(msg))  # Received: is part of it
        self.assertEqual(text.strip(), "Grüße")

    def test_not_published_for_others(self):
        before = loomtest.route_stats(self.web, "mail-to-cache")["matched"]
        rc, out = swaks(self.srv.port, "--to", "bob@example.test",
                        "--header", "Subject: private")
        self.assertEqual(rc, 0, out)
        rc, out = swaks(self.srv.port, "--to", "announce@example.test",
                        "--header", "Subject: public after private")
        self.assertEqual(rc, 0, out)
        self.wait_cache(lambda v: v.startswith("public after private|"))
        # one message more went through the route: the public one only
        self.assertEqual(loomtest.route_stats(self.web, "mail-to-cache")["matched"],
                         before + 1)

    def post(self, obj):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/hooks/send" % self.web,
            data=json.dumps(obj).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=WAIT) as resp:
            return resp.status

    def test_send_action_to_maildir(self):
        before = len(self.srv.messages("bob"))
        self.assertIn(self.post({"to": "bob@example.test",
                                 "subject": "Grüße vom Bus",
                                 "text": "Zeile eins\nÄrger = 1\n"}), (200, 202))
        msgs = wait_messages(self.srv, "bob", before + 1)
        self.assertEqual(len(msgs), before + 1)
        m = msgs[-1]
        self.assertTrue(m.startswith(b"Return-Path: <bot@example.test>\r\n"), m[:100])
        self.assertIn(b"Subject: =?", m)        # RFC 2047, not raw UTF-8
        self.assertIn(b"MIME-Version: 1.0", m)
        self.assertIn(b"Message-ID: <", m.replace(b"Message-Id", b"Message-ID"))
        self.assertIn(b"by mx.example.test (loom) with local (route webhook-to-mail)", m)
        m.decode("ascii")  # 7-bit only

    def test_send_action_unknown_local_fails(self):
        before = len(self.srv.messages("bob"))
        self.post({"to": "nobody@example.test", "subject": "x", "text": "y"})
        self.srv.d.wait_log(r"nobody@example\.test: no such local recipient")
        self.assertEqual(len(self.srv.messages("bob")), before)


if __name__ == "__main__":
    loomtest.main()
