"""The smtp module relaying: mail from a relay network for another domain
is queued (durably, before the 250) and the queue runner delivers it --
to a private Postfix (postfix_peer.py; root only) found through MX records
served by loom's own DNS module, or to Postfix as the smarthost -- and to
a scripted next hop (smtpscript.py) that answers 451 first (the message is
retried and delivered) or 550 (the bounce, an RFC 3464 report from
MAILER-DAEMON with the null sender, lands in the local sender's Maildir).
Python's smtplib is the client that hands loom the mail.
"""

import glob
import os
import smtplib
import time
import unittest

import loomtest
import postfix_peer
import smtpscript
from loomtest import Loomd, WAIT

ZONE = """$ORIGIN peer.test.
$TTL 300
@        IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300
@        IN NS  ns1
ns1      IN A   127.0.0.1
@        IN MX  10 mx1
@        IN MX  20 mx2
mx1      IN A   127.0.0.2
mx2      IN A   127.0.0.1
"""

MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: Carol <carol@peer.test>\r\n"
       b"Subject: through loom\r\n"
       b"Message-ID: <loom-relay-1@example.test>\r\n"
       b"\r\n"
       b"hello carol\r\n"
       b".leading dot\r\n"
       b"bye\r\n")


def conf(port, relay, dns_port=None):
    dns = ""
    if dns_port is not None:
        dns = ('dns "auth" {\n'
               '  listen = {"udp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
               '  zone "peer.test" { file = "zones/peer.test.zone" }\n'
               '}\n') % (dns_port, dns_port)
    return (dns +
            'smtp "m" {\n'
            '  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  hostname = "mx.example.test"\n'
            '  local_domains = {"example.test"}\n'
            '  recipients = {"alice@example.test mail/alice/"}\n'
            '  relay_networks = {"127.0.0.1/32"}\n'
            '  queue_dir = "queue"\n'
            '  relay_timeout = "10s"\n' % port
            + "".join("  %s\n" % l for l in relay) +
            '}\n')


class Relaying(unittest.TestCase):
    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for c in reversed(self.cleanups):
            c()

    def loom(self, relay, dns_port=None):
        self.port = loomtest.free_port()
        d = Loomd(conf(self.port, relay, dns_port), files={"zones/peer.test.zone": ZONE})
        self.cleanups.append(d.cleanup)
        d.start()
        self.d = d
        return d

    def script(self, **kw):
        s = smtpscript.ScriptServer(**kw).start()
        self.cleanups.append(s.stop)
        return s

    def postfix(self):
        why = postfix_peer.available()
        if why:
            self.skipTest(why)
        p = postfix_peer.PostfixPeer(domains=("peer.test",), users=("carol",)).start()
        self.cleanups.append(p.cleanup)
        return p

    def send(self, sender, rcpts, msg=MSG):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=WAIT) as c:
            c.ehlo("client.test")
            refused = c.sendmail(sender, rcpts, msg)
        self.assertEqual(refused, {})

    def queue_files(self):
        return [p for p in glob.glob(os.path.join(self.d.dir, "queue", "*")) if os.path.isfile(p)]

    def wait_queue_empty(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if not self.queue_files():
                return
            time.sleep(0.05)
        raise AssertionError("queue not empty: %r\n%s" % (self.queue_files(), self.d.log()))

    def alice(self, count):
        deadline = time.monotonic() + WAIT
        paths = []
        while time.monotonic() < deadline:
            paths = sorted(glob.glob(os.path.join(self.d.dir, "mail", "alice", "new", "*")))
            if len(paths) >= count:
                break
            time.sleep(0.05)
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def test_postfix_through_mx_served_by_loom(self):
        p = self.postfix()
        dns_port = loomtest.free_port()
        self.loom(['relay_dns = "127.0.0.1:%d"' % dns_port, "relay_port = %d" % p.port],
                  dns_port)
        self.send("alice@example.test", ["carol@peer.test"])
        got = p.wait_mail("carol@peer.test", 1)[0].replace(b"\r\n", b"\n")
        self.assertIn(b"Subject: through loom\n", got)
        self.assertIn(b"\n.leading dot\nbye\n", got)
        # loom's Received: header travelled with it
        self.assertIn(b"by mx.example.test", got)
        self.wait_queue_empty()
        self.d.wait_log(r"to=<carol@peer.test> relay=mx2\.peer\.test sent")

    def test_postfix_as_smarthost(self):
        p = self.postfix()
        self.loom(['smarthost = "127.0.0.1:%d"' % p.port])
        self.send("alice@example.test", ["carol@peer.test"])
        got = p.wait_mail("carol@peer.test", 1)[0]
        self.assertIn(b"Message-ID: <loom-relay-1@example.test>", got)
        self.wait_queue_empty()

    def test_retry_after_451(self):
        s = self.script(rcpt=lambda a, n: "451 4.7.1 greylisted" if n == 1 else None)
        self.loom(['smarthost = "127.0.0.1:%d"' % s.port, 'queue_retry = "1s"'])
        self.send("alice@example.test", ["carol@peer.test"])
        self.d.wait_log(r"to=<carol@peer.test> relay=127\.0\.0\.1 deferred")
        t = s.wait_messages(1)[0]
        self.assertTrue(t.data.endswith(MSG), t.data[:400])
        self.assertEqual(s.rcpt_seen["carol@peer.test"], 2)
        self.wait_queue_empty()
        self.assertEqual(self.alice(0), [])

    def test_bounce_after_550_lands_in_the_senders_maildir(self):
        s = self.script(rcpt=lambda a, n: "550 5.1.1 <%s>: Recipient address rejected" % a)
        self.loom(['smarthost = "127.0.0.1:%d"' % s.port])
        self.send("alice@example.test", ["nobody@peer.test"])
        self.wait_queue_empty()
        msgs = self.alice(1)
        self.assertEqual(len(msgs), 1, self.d.log())
        b = msgs[0]
        self.assertTrue(b.startswith(b"Return-Path: <>\r\n"), b[:200])
        self.assertIn(b"From: MAILER-DAEMON@mx.example.test", b)
        self.assertIn(b"multipart/report", b)
        self.assertIn(b"Final-Recipient: rfc822; nobody@peer.test", b)
        self.assertIn(b"Status: 5.1.1", b)
        unfolded = b.replace(b"\r\n ", b" ")
        self.assertIn(b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@peer.test>: Recipient address "
                      b"rejected", unfolded)
        self.assertIn(b"Remote-MTA: dns; 127.0.0.1", b)
        self.assertIn(b"Subject: through loom", b)
        self.assertEqual(s.messages(), [])

    def test_bounce_for_an_unknown_local_sender_is_dropped(self):
        s = self.script(rcpt=lambda a, n: "550 5.1.1 no such user")
        self.loom(['smarthost = "127.0.0.1:%d"' % s.port])
        self.send("ghost@example.test", ["nobody@peer.test"])
        self.wait_queue_empty()
        self.d.wait_log(r"bounce to <ghost@example\.test> could not be queued; dropped")
        self.assertEqual(self.alice(0), [])
        # still serving
        self.send("alice@example.test", ["alice@example.test"])
        self.assertEqual(len(self.alice(1)), 1)

    def test_hold_then_reload_releases(self):
        s = self.script()
        d = self.loom(['smarthost = "127.0.0.1:%d"' % s.port, "relay_hold = yes"])
        self.send("alice@example.test", ["carol@peer.test"])
        self.assertEqual(len(self.queue_files()), 1)
        time.sleep(0.5)  # a held queue stays as it is: nothing may have gone out
        self.assertEqual(s.connections, 0)
        self.assertEqual(len(self.queue_files()), 1)
        d.write_conf(conf(self.port, ['smarthost = "127.0.0.1:%d"' % s.port]))
        self.assertTrue(d.reload())
        self.assertTrue(s.wait_messages(1)[0].data.endswith(MSG))
        self.wait_queue_empty()

    def test_relay_option_errors_in_the_smtp_section(self):
        for line, needle in (('relay_tls = "sometimes"', "relay_tls"),
                             ('smarthost = "mx.example.net:0"', "smarthost"),
                             ('queue_lifetime = "forever"', "queue_lifetime")):
            with self.subTest(line=line):
                d = Loomd(conf(loomtest.free_port(), [line]),
                          files={"zones/peer.test.zone": ZONE})
                try:
                    rc, err = loomtest.start_expect_exit(d)
                    self.assertEqual(rc, 1, err)
                    loomtest.assert_error_line(self, err, d.conf_path,
                                               loomtest.line_of(d.conf_path, line),
                                               contains=needle)
                finally:
                    d.cleanup()


if __name__ == "__main__":
    loomtest.main()
