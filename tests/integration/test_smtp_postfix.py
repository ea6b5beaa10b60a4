"""Postfix both ways with a private instance (postfix_peer.py): the peer
itself works (so a failure below is loom's), and Postfix with loom as its
relayhost hands mail to loom, which lands in loom's Maildir."""

import hashlib
import os
import re
import subprocess
import time
import unittest
import uuid

import loomtest
import postfix_peer
import smtpwire
from loomtest import own, WAIT

SKIP = postfix_peer.available()


def swaks(port, to, sender="sender@origin.test", body=None, extra=()):
    """Run swaks against 127.0.0.1:PORT (BODY: default swaks's own);
    CompletedProcess (text)."""
    args = ["--body", body] if body is not None else []
    return subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--to", to,
                           "--from", sender, "--timeout", "30"] + args + list(extra),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=WAIT * 3)


@unittest.skipIf(SKIP, SKIP or "")
class PeerItself(unittest.TestCase):
    """The private Postfix delivers to its Maildir and refuses strangers:
    what the loom tests rely on when they use it as a peer."""

    @classmethod
    def setUpClass(cls):
        cls.p = own(cls, postfix_peer.PostfixPeer(domains=("peer.test",), users=("carol", "dave")))
        cls.p.start()

    def test_version_is_postfix_3(self):
        self.assertRegex(postfix_peer.version(), r"^3\.\d+")

    def test_delivers_to_maildir_whole(self):
        token = uuid.uuid4().hex
        body = "line one %s\n.leading dot\n\nlast line" % token
        r = swaks(self.p.port, "dave@peer.test", body=body)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0 Ok: queued", r.stdout)
        msgs = [m for m in self.p.wait_mail("dave", 1) if token.encode() in m]
        self.assertEqual(len(msgs), 1)
        m = msgs[0]
        self.assertTrue(m.startswith(b"Return-Path: <sender@origin.test>\n"), m[:200])
        self.assertIn(b"\n.leading dot\n\nlast line\n", m)
        self.assertTrue(os.listdir(os.path.join(self.p.maildir("dave"), "tmp")) == [])

    def test_unknown_user_refused(self):
        r = swaks(self.p.port, "nobody@peer.test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("550 5.1.1 <nobody@peer.test>", r.stdout)

    def test_relays_for_loopback(self):
        # from 127.0.0.1 (mynetworks) mail for another domain is accepted;
        # with no relayhost and DNS off it stays queued: nothing delivered
        token = uuid.uuid4().hex
        r = swaks(self.p.port, "someone@elsewhere.test", body=token)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0 Ok: queued", r.stdout)

    def test_messages_are_distinct_files(self):
        tokens = [uuid.uuid4().hex for _ in range(3)]
        for t in tokens:
            r = swaks(self.p.port, "carol@peer.test", body=t)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        want = {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
        seen = set()
        for m in self.p.wait_mail("carol", 3):
            for t in tokens:
                if t.encode() in m:
                    seen.add(hashlib.sha256(t.encode()).hexdigest())
        self.assertEqual(seen, want)


def with_token(d, user, token, timeout=WAIT * 3):
    """Wait for the one message in loom's Maildir of USER that holds
    TOKEN (Postfix relays asynchronously); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in smtpwire.messages(d, user).values() if token in m]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@unittest.skipIf(SKIP, SKIP or "")
class PostfixRelaysToLoom(unittest.TestCase):
    """Postfix with relayhost = [127.0.0.1]:loom: mail handed to Postfix for
    example.test lands in loom's Maildir; what loom refuses comes back to
    the sender as Postfix's bounce."""

    @classmethod
    def setUpClass(cls):
        cls.d, cls.lport = smtpwire.start()
        own(cls, cls.d)
        cls.p = own(cls, postfix_peer.PostfixPeer(
            domains=("peer.test",), users=("carol",),
            relayhost="[127.0.0.1]:%d" % cls.lport))
        cls.p.start()

    def test_relayed_mail_lands_in_maildir(self):
        token = uuid.uuid4().hex
        body = "relayed %s\n..dot line\nlast" % token
        r = swaks(self.p.port, "alice@example.test", sender="carol@peer.test", body=body)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        found = with_token(self.d, "alice", token.encode())
        self.assertEqual(len(found), 1, self.p.log()[-3000:])
        m = found[0]
        self.assertRegex(m, rb"^Return-Path: <carol@peer\.test>\r?\n")
        # loom's Received (naming the Postfix host) above Postfix's own
        recv = re.findall(rb"^Received: ", m, re.M)
        self.assertGreaterEqual(len(recv), 2, m[:1500])
        # swaks dot-stuffed it, Postfix unstuffed it, so did loom
        self.assertIn(b"\n..dot line\nlast\n", smtpwire.lf(m))
        self.p.wait_log("status=sent")
        self.assertRegex(self.p.log(), r"to=<alice@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*"
                         r"status=sent \(250 2\." % self.lport)

    def test_two_recipients_one_transaction(self):
        token = uuid.uuid4().hex
        r = swaks(self.p.port, "alice@example.test,bob@example.test", sender="carol@peer.test",
                  body="both " + token)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(with_token(self.d, "alice", token.encode())), 1)
        self.assertEqual(len(with_token(self.d, "bob", token.encode())), 1)

    def test_large_message_whole(self):
        token = uuid.uuid4().hex
        lines = ["%06d %s %s" % (i, token, "x" * 60) for i in range(15000)]
        body = "\n".join(lines)
        path = os.path.join(self.d.dir, "large-body.txt")
        with open(path, "w") as f:
            f.write(body)
        r = swaks(self.p.port, "bob@example.test", sender="carol@peer.test", body="@" + path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        found = with_token(self.d, "bob", ("000000 " + token).encode())
        self.assertEqual(len(found), 1)
        stored = smtpwire.lf(smtpwire.body_of(found[0])).rstrip(b"\n")
        self.assertEqual(hashlib.sha256(stored).hexdigest(),
                         hashlib.sha256(body.encode()).hexdigest())

    def test_eight_bit_body_kept(self):
        token = uuid.uuid4().hex
        text = "gr\u00fc\u00dfe \u2603 " + token
        r = swaks(self.p.port, "alice@example.test", sender="carol@peer.test", body=text)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        found = with_token(self.d, "alice", token.encode())
        self.assertEqual(len(found), 1)
        self.assertIn(text.encode(), found[0])

    def test_unknown_user_bounces_back_to_sender(self):
        token = uuid.uuid4().hex
        r = swaks(self.p.port, "nosuch@example.test", sender="carol@peer.test",
                  body="bounce me " + token)
        # Postfix takes it (it only relays), loom refuses it at RCPT
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        bounces = [m for m in self.p.wait_mail("carol", 1) if token.encode() in m]
        deadline = time.monotonic() + WAIT * 3
        while not bounces and time.monotonic() < deadline:
            time.sleep(0.1)
            bounces = [m for m in self.p.messages("carol") if token.encode() in m]
        self.assertEqual(len(bounces), 1, self.p.log()[-3000:])
        self.assertIn(b"multipart/report", bounces[0])
        self.assertRegex(bounces[0], rb"550[ -]5\.1\.1")
        self.assertEqual(with_token(self.d, "alice", token.encode(), timeout=0), [])


@unittest.skipIf(SKIP, SKIP or "")
class PostfixRelaysToLoomOverTLS(unittest.TestCase):
    """Postfix with smtp_tls_security_level = encrypt relays to loom over
    STARTTLS; loom's Received header names the TLS version and cipher."""

    @classmethod
    def setUpClass(cls):
        cls.lport = loomtest.free_port()
        cls.d = own(cls, loomtest.Loomd('tls "local" {\n  self_signed = yes\n}\n' +
                                        smtpwire.smtp_conf(cls.lport, extra='  starttls = "local"\n')))
        cls.d.start()
        cls.p = own(cls, postfix_peer.PostfixPeer(
            domains=("peer.test",), users=("carol",),
            relayhost="[127.0.0.1]:%d" % cls.lport,
            main={"smtp_tls_security_level": "encrypt", "smtp_tls_loglevel": "1"}))
        cls.p.start()

    def test_relayed_over_starttls(self):
        token = uuid.uuid4().hex
        r = swaks(self.p.port, "bob@example.test", sender="carol@peer.test", body="tls " + token)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        found = with_token(self.d, "bob", token.encode())
        self.assertEqual(len(found), 1, self.p.log()[-3000:])
        self.p.wait_log("status=sent")
        log = self.p.log()
        m = re.search(r"TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: "
                      r"(TLSv[\d.]+) with cipher (\S+)" % self.lport, log)
        self.assertIsNotNone(m, log[-3000:])
        # loom's own Received (the first one) says how it was received
        first = re.search(rb"^Received: (.*(?:\r?\n[ \t].*)*)", found[0], re.M)
        self.assertIsNotNone(first)
        self.assertIn(m.group(1).encode(), first.group(1))
        self.assertIn(m.group(2).encode(), first.group(1))
        self.assertIn(b" with ESMTPS ", first.group(1))


if __name__ == "__main__":
    loomtest.main()
