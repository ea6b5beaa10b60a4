"""SMTP over raw sockets: smuggling (every end-of-data look-alike of the
issue), dot-stuffing, line limits, BDAT exact sizes and pipelining, each
checked both on the wire (the replies, in order, none extra) and in the
Maildir (what was stored, once)."""

import socket
import unittest
import uuid

import loomtest
import smtpwire
from loomtest import own
from smtpwire import Raw, messages, body_of, lf

SENDER = b"MAIL FROM:<sender@origin.test>\r\n"
TO_ALICE = b"RCPT TO:<alice@example.test>\r\n"

# The smuggled transaction that follows each fake end of data: if the
# server took the fake end for the real one, these would be commands and
# bob would get a message.
SMUGGLED = (b"MAIL FROM:<evil@evil.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nSmuggled %s\r\n")

# Fake ends with a bare CR or a bare LF: the message is refused.
BARE = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r.\r\n", b"\r\n.\r", b"\r\n.\n",
        b"\x00\n.\r\n", b"\r\n.\r\x00\n", b"\r\x00\n.\r\n", b"\n.\x00\n"]
# Fake ends with a NUL and no bare CR or LF: not an end either; whether
# the message is taken or refused, it is one transaction.
NUL = [b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\x00\r\n.\x00\r\n"]


def tokens_in(d, user, token):
    """How many stored messages of USER contain TOKEN."""
    return sum(1 for m in messages(d, user).values() if token in m)


class Server(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d, cls.port = smtpwire.start()
        own(cls, cls.d)

    def conn(self):
        c = Raw(self.port)
        self.addCleanup(c.close)
        c.greet_ehlo()
        return c

    def open_data(self, c, rcpts=(TO_ALICE,)):
        """MAIL, RCPT..., DATA on C up to the 354."""
        self.assertEqual(c.cmd(SENDER.rstrip()).code, 250)
        for r in rcpts:
            self.assertEqual(c.cmd(r.rstrip()).code, 250)
        r = c.cmd("DATA")
        self.assertEqual(r.code, 354, r)

    def after_data(self, payload, split=False):
        """One DATA transaction to alice whose data is PAYLOAD, then QUIT:
        every reply that came after the 354."""
        c = self.conn()
        self.open_data(c)
        data = payload + b"QUIT\r\n"
        if split:
            c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(data)):
                c.send(data[i:i + 1])
        else:
            c.send(data)
        return c.rest()

    def assertAlive(self):
        with Raw(self.port) as c:
            c.greet_ehlo()
            self.assertEqual(c.cmd("NOOP").code, 250)


class Smuggling(Server):
    def _variant(self, fake, split=False):
        token = uuid.uuid4().hex.encode()
        payload = (b"Subject: t\r\n\r\nbefore " + token + fake + SMUGGLED % token +
                   b"\r\n.\r\n")
        replies = self.after_data(payload, split)
        # one reply for the one transaction, then QUIT's: nothing was
        # taken for MAIL, RCPT or DATA
        self.assertEqual(len(replies), 2, replies)
        self.assertEqual(replies[1].code, 221, replies)
        self.assertEqual(tokens_in(self.d, "bob", token), 0)
        return replies[0], token

    def test_bare_cr_or_lf_refuses_and_never_ends(self):
        for fake in BARE:
            with self.subTest(fake=fake):
                final, token = self._variant(fake)
                self.assertIn(final.code, (550, 554), final)
                self.assertRegex(final.lines[0], r"^5\.\d\.\d ")
                self.assertEqual(tokens_in(self.d, "alice", token), 0)
        self.assertAlive()

    def test_bare_variants_split_at_every_byte(self):
        for fake in (b"\n.\n", b"\r.\r\n", b"\r\n.\n"):
            with self.subTest(fake=fake):
                final, token = self._variant(fake, split=True)
                self.assertIn(final.code, (550, 554), final)
                self.assertEqual(tokens_in(self.d, "alice", token), 0)

    def test_nul_is_no_end(self):
        for fake in NUL:
            with self.subTest(fake=fake):
                final, token = self._variant(fake)
                if final.code == 250:
                    stored = [m for m in messages(self.d, "alice").values() if token in m]
                    self.assertEqual(len(stored), 1)
                    self.assertIn(b"Smuggled " + token, stored[0])
                    self.assertIn(b"evil@evil.test", stored[0])
                else:
                    self.assertEqual(final.code // 100, 5, final)
                    self.assertEqual(tokens_in(self.d, "alice", token), 0)

    def test_real_end_then_pipelined_command(self):
        token = uuid.uuid4().hex.encode()
        replies = self.after_data(b"Subject: t\r\n\r\n" + token + b"\r\n.\r\nNOOP\r\n")
        self.assertEqual([r.code for r in replies], [250, 250, 221], replies)
        self.assertEqual(tokens_in(self.d, "alice", token), 1)

    def test_zero_line_message(self):
        before = set(messages(self.d, "alice"))
        replies = self.after_data(b".\r\n")
        self.assertEqual([r.code for r in replies], [250, 221], replies)
        new = {k: v for k, v in messages(self.d, "alice").items() if k not in before}
        self.assertEqual(len(new), 1)
        msg = list(new.values())[0]
        # only what the server prepends: Return-Path and Received
        self.assertRegex(msg, rb"^Return-Path: <sender@origin\.test>\r?\n")
        self.assertIn(b"Received: ", msg)
        self.assertEqual(body_of(msg), b"")


class Content(Server):
    def _stored(self, data_lines):
        """Send DATA_LINES (as on the wire, dot-stuffed) then the end;
        the one stored message's body."""
        token = uuid.uuid4().hex.encode()
        payload = b"Subject: " + token + b"\r\n\r\n" + data_lines + b".\r\n"
        replies = self.after_data(payload)
        self.assertEqual([r.code for r in replies], [250, 221], replies)
        stored = [m for m in messages(self.d, "alice").values() if token in m]
        self.assertEqual(len(stored), 1)
        return stored[0]

    def test_dot_stuffing_removed(self):
        msg = self._stored(b"..one\r\n...two\r\nmid.dle\r\n..\r\n. x\r\n")
        self.assertEqual(lf(body_of(msg)), b".one\n..two\nmid.dle\n.\n x\n")

    def test_line_of_1000_octets_kept_whole(self):
        line = b"y" * 998
        msg = self._stored(line + b"\r\n")
        self.assertEqual(lf(body_of(msg)), line + b"\n")

    def test_line_over_1000_octets_refused(self):
        token = uuid.uuid4().hex.encode()
        payload = b"Subject: " + token + b"\r\n\r\n" + b"z" * 999 + b"\r\nafter\r\n.\r\n"
        replies = self.after_data(payload)
        self.assertEqual(len(replies), 2, replies)
        self.assertEqual(replies[0].code // 100, 5, replies)
        self.assertEqual(replies[1].code, 221)
        self.assertEqual(tokens_in(self.d, "alice", token), 0)

    def test_eight_bit_text_kept(self):
        text = "caf\u00e9 \u2603 na\u00efve".encode()
        msg = self._stored(text + b"\r\n\tindented\r\n")
        self.assertEqual(lf(body_of(msg)), text + b"\n\tindented\n")


class Bdat(Server):
    def _bdat(self, wire, n_replies):
        """MAIL, RCPT to alice, then WIRE in one write: the N_REPLIES
        replies after RCPT's."""
        c = self.conn()
        c.send(SENDER + TO_ALICE + wire)
        r = c.replies(2 + n_replies)
        self.assertEqual([x.code for x in r[:2]], [250, 250], r)
        return c, r[2:]

    def _stored_with(self, token):
        stored = [m for m in messages(self.d, "alice").values() if token in m]
        self.assertEqual(len(stored), 1, "expected one message with the token")
        return stored[0]

    def test_ehlo_advertises_chunking_and_pipelining(self):
        c = Raw(self.port)
        self.addCleanup(c.close)
        ehlo = c.greet_ehlo()
        keywords = {line.split()[0].upper() for line in ehlo.lines[1:]}
        for kw in ("PIPELINING", "CHUNKING", "8BITMIME", "SIZE", "ENHANCEDSTATUSCODES",
                   "SMTPUTF8", "DSN"):
            self.assertIn(kw, keywords, ehlo)

    def test_bdat_last_holds_an_end_of_data_lookalike(self):
        token = uuid.uuid4().hex.encode()
        content = (b"Subject: " + token + b"\r\n\r\nbody\r\n.\r\n" + SMUGGLED % token +
                   b".\r\n")
        c, r = self._bdat(b"BDAT %d LAST\r\n" % len(content) + content + b"QUIT\r\n", 2)
        self.assertEqual([x.code for x in r], [250, 221], r)
        msg = self._stored_with(token)
        # not dot-unstuffed, not ended at the first CRLF.CRLF
        self.assertEqual(lf(body_of(msg)), lf(b"body\r\n.\r\n" + SMUGGLED % token + b".\r\n"))
        self.assertEqual(tokens_in(self.d, "bob", token), 0)

    def test_chunks_concatenate(self):
        token = uuid.uuid4().hex.encode()
        parts = [b"Subject: " + token + b"\r\n\r\n", b"first ", b"part\r\nsecond\r\n"]
        wire = b"".join(b"BDAT %d\r\n" % len(p) + p for p in parts) + b"BDAT 0 LAST\r\nNOOP\r\n"
        c, r = self._bdat(wire, 5)
        self.assertEqual([x.code for x in r], [250, 250, 250, 250, 250], r)
        self.assertEqual(lf(body_of(self._stored_with(token))), b"first part\nsecond\n")

    def test_size_is_exact(self):
        # the command right after the counted bytes is a command: one byte
        # too many or too few and it would not be read as NOOP
        token = uuid.uuid4().hex.encode()
        content = b"Subject: " + token + b"\r\n\r\n0123456789"
        c, r = self._bdat(b"BDAT %d LAST\r\n" % len(content) + content + b"NOOP\r\n", 2)
        self.assertEqual([x.code for x in r], [250, 250], r)
        self.assertEqual(body_of(self._stored_with(token)), b"0123456789")

    def test_split_at_every_byte_same_replies(self):
        token = uuid.uuid4().hex.encode()
        content = b"Subject: " + token + b"\r\n\r\nx\r\n.\r\ny"
        wire = SENDER + TO_ALICE + b"BDAT 5\r\n" + content[:5] + \
            b"BDAT %d LAST\r\n" % (len(content) - 5) + content[5:] + b"NOOP\r\n"
        c = self.conn()
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(wire)):
            c.send(wire[i:i + 1])
        r = c.replies(5)
        self.assertEqual([x.code for x in r], [250, 250, 250, 250, 250], r)
        self.assertEqual(body_of(self._stored_with(token)), b"x\r\n.\r\ny")

    def test_bdat_without_transaction_discards_its_chunk(self):
        # as Postfix: 503, and the 6 counted bytes (which look like a
        # command) are read and dropped
        c = self.conn()
        c.send(b"BDAT 6\r\nNOOP\r\nRSET\r\n")
        r = c.replies(2)
        self.assertEqual(r[0].code, 503, r)
        self.assertRegex(r[0].lines[0], r"^5\.5\.1 ")
        self.assertEqual(r[1].code, 250, r)

    def test_data_after_bdat_refused(self):
        c, r = self._bdat(b"BDAT 3\r\nabcDATA\r\n", 2)
        self.assertEqual(r[0].code, 250, r)
        self.assertEqual(r[1].code, 503, r)
        self.assertRegex(r[1].lines[0], r"^5\.5\.1 ")

    def test_bad_sizes(self):
        for arg in (b"BDAT x", b"BDAT -1", b"BDAT 1.5", b"BDAT", b"BDAT 5 LASTX",
                    b"BDAT 99999999999999999999999"):
            with self.subTest(arg=arg):
                c, r = self._bdat(arg + b"\r\n", 1)
                self.assertEqual(r[0].code // 100, 5, r)
        self.assertAlive()


class Pipelining(Server):
    def test_group_answered_in_order(self):
        c = self.conn()
        c.send(SENDER + TO_ALICE + b"RCPT TO:<nosuch@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
        r = c.replies(5)
        self.assertEqual([x.code for x in r], [250, 250, 550, 250, 354], r)
        self.assertRegex(r[2].lines[0], r"^5\.1\.1 ")
        token = uuid.uuid4().hex.encode()
        c.send(b"Subject: " + token + b"\r\n\r\nhi\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        self.assertEqual([x.code for x in c.rest()], [250, 250, 250, 221])
        self.assertEqual(tokens_in(self.d, "alice", token), 1)
        self.assertEqual(tokens_in(self.d, "bob", token), 1)

    def test_two_transactions_one_connection(self):
        c = self.conn()
        tokens = []
        for _ in range(2):
            token = uuid.uuid4().hex.encode()
            tokens.append(token)
            c.send(SENDER + TO_ALICE + b"DATA\r\n")
            self.assertEqual([x.code for x in c.replies(3)], [250, 250, 354])
            c.send(b"Subject: " + token + b"\r\n\r\nhi\r\n.\r\n")
            self.assertEqual(c.reply().code, 250)
        for t in tokens:
            self.assertEqual(tokens_in(self.d, "alice", t), 1)

    def test_byte_by_byte_same_as_whole(self):
        wire = (SENDER + TO_ALICE + b"RCPT TO:<nosuch@example.test>\r\nNOOP\r\n"
                b"VRFY alice\r\nRSET\r\nHELP\r\nBOGUS\r\nMAIL FROM:<broken\r\nQUIT\r\n")

        def run(split):
            c = self.conn()
            if split:
                c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for i in range(len(wire)):
                    c.send(wire[i:i + 1])
            else:
                c.send(wire)
            return [(x.code, x.lines[0].split(" ")[0]) for x in c.rest()]

        whole = run(False)
        self.assertEqual(len(whole), 10, whole)
        self.assertEqual(whole[-1][0], 221)
        self.assertEqual(run(True), whole)

    def test_session_still_fine_after_errors(self):
        c = self.conn()
        for line in ("DATA", "RCPT TO:<alice@example.test>", "XYZZY", "MAIL FROM:<"):
            self.assertEqual(c.cmd(line).code // 100, 5, line)
        self.assertEqual(c.cmd("NOOP").code, 250)


if __name__ == "__main__":
    loomtest.main()
