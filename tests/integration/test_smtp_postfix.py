"""Postfix both ways with a private instance (postfix_peer.py): the peer
itself works (so a failure below is loom's), and Postfix with loom as its
relayhost hands mail to loom, which lands in loom's Maildir."""

import hashlib
import os
import subprocess
import unittest
import uuid

import loomtest
import postfix_peer
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


if __name__ == "__main__":
    loomtest.main()
