"""The finger module (RFC 1288) queried over raw sockets."""

import os
import socket
import struct
import threading
import time
import unittest

import loomtest
from loomtest import Loomd, free_port, finger_query, recv_until_close, own, WAIT

USERS = r'''
  user "alice" {
    name = "Alice Liddell"
    office = "Rabbit Hole 1"
    phone = "+1 555 0100"
    email = "alice@example.org"
    project = "Tea party"
    plan = "Find the white rabbit.\nThen\ttea."
  }
  user "bob" {
    name = "Bob Builder"
    plan_file = "plans/bob.plan"
  }
  user "carl" {
    name = "Carl Control"
    plan = "bell\x07 esc\x1b[1m done\x7f"
  }
  user "dave" {
    name = "Dave Noplan"
  }
'''

CONF = '''
finger "users" {
  listen = {"tcp:%(main)d:interface=127.0.0.1"}
  access_log = "{dir}/finger.log"
''' + USERS + '''}
finger "private" {
  listen = {"tcp:%(private)d:interface=127.0.0.1"}
  list_users = no
  user "alice" { name = "Alice Liddell" }
}
finger "idle" {
  listen = {"tcp:%(idle)d:interface=127.0.0.1"}
  idle_timeout = 1
  user "alice" { name = "Alice Liddell" }
}
'''

BOB_PLAN = b"Bob's plan\n\x07bell and \x1b[31mred\x1b[0m\nlatin1 caf\xe9\n"
BOB_PLAN_FILTERED = ["Bob's plan", "?bell and ?[31mred?[0m", "latin1 caf?"]

REFUSE_FORWARD = b"finger: forwarding is not allowed on this server.\r\n"
REFUSE_LIST = b"finger: listing of users is not available on this server.\r\n"
ERR_LONG = b"finger: error: query too long\r\n"
ERR_CHARS = b"finger: error: query contains non-ASCII or control characters\r\n"
LIST_HEADER = "Login      Name                 Office          Phone"


def lines_of(test, out):
    """Split an answer into lines, checking every line ends with CRLF and
    every byte is printable ASCII or TAB."""
    test.assertTrue(out.endswith(b"\r\n"), "answer does not end with CRLF: %r" % out)
    body = out[:-2].split(b"\r\n")
    for line in body:
        test.assertNotIn(b"\n", line, "bare LF in answer: %r" % out)
        test.assertNotIn(b"\r", line, "bare CR in answer: %r" % out)
        for ch in line:
            test.assertTrue(ch == 9 or 32 <= ch < 127, "unfiltered byte %r in %r" % (ch, line))
    return [l.decode("ascii") for l in body]


def login_line(login, name):
    return ("Login: %s" % login).ljust(40) + "Name: %s" % name


class Finger(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ports = {"main": free_port(), "private": free_port(), "idle": free_port()}
        cls.d = Loomd(CONF % cls.ports)
        own(cls, cls.d)
        os.makedirs(os.path.join(cls.d.dir, "plans"))
        with open(os.path.join(cls.d.dir, "plans", "bob.plan"), "wb") as f:
            f.write(BOB_PLAN)
        # start from another directory: plan_file must be found relative to
        # the config file, not the working directory
        cwd = os.getcwd()
        os.chdir("/")
        try:
            cls.d.start()
        finally:
            os.chdir(cwd)
        cls.port = cls.ports["main"]

    def q(self, query, port=None):
        return finger_query(port or self.port, query)

    def test_user_entry(self):
        out = self.q("alice")
        want = ("\r\n".join([
            login_line("alice", "Alice Liddell"),
            ("Office: Rabbit Hole 1").ljust(40) + "Phone: +1 555 0100",
            "Plan:",
            "Find the white rabbit.",
            "Then\ttea.",
        ]) + "\r\n").encode()
        self.assertEqual(out, want)

    def test_user_entry_plan_file(self):
        lines = lines_of(self, self.q("bob"))
        self.assertEqual(lines[0], login_line("bob", "Bob Builder"))
        self.assertEqual(lines[1], "Plan:")   # no Office/Phone line for bob
        self.assertEqual(lines[2:5], BOB_PLAN_FILTERED)
        self.assertTrue(all(l == "" for l in lines[5:]), lines)

    def test_plan_text_filtered(self):
        lines = lines_of(self, self.q("carl"))
        self.assertEqual(lines[0], login_line("carl", "Carl Control"))
        self.assertEqual(lines[1:], ["Plan:", "bell? esc?[1m done?"])

    def test_no_plan(self):
        lines = lines_of(self, self.q("dave"))
        self.assertEqual(lines[0], login_line("dave", "Dave Noplan"))
        self.assertEqual(lines[-1], "No Plan.")
        self.assertLessEqual(len(lines), 3, lines)

    def test_verbose_entry(self):
        lines = lines_of(self, self.q("/W alice"))
        self.assertEqual(lines, [
            login_line("alice", "Alice Liddell"),
            ("Office: Rabbit Hole 1").ljust(40) + "Phone: +1 555 0100",
            "Email: alice@example.org",
            "Project: Tea party",
            "Plan:",
            "Find the white rabbit.",
            "Then\ttea.",
        ])
        # without /W there is no Email/Project
        plain = lines_of(self, self.q("alice"))
        self.assertFalse([l for l in plain if l.startswith(("Email:", "Project:"))], plain)

    def test_list(self):
        for query in ("", "/W"):
            lines = lines_of(self, self.q(query))
            self.assertEqual(lines[0], LIST_HEADER, query)
            rows = [l for l in lines[1:] if l]
            self.assertEqual([r.split()[0] for r in rows], ["alice", "bob", "carl", "dave"], lines)
            self.assertIn("Alice Liddell", rows[0])
            self.assertIn("Rabbit Hole 1", rows[0])
            self.assertIn("+1 555 0100", rows[0])
            self.assertIn("Bob Builder", rows[1])
            # the name column starts where the header says
            self.assertEqual(rows[0][11:11 + len("Alice Liddell")], "Alice Liddell")

    def test_list_refused(self):
        self.assertEqual(self.q("", self.ports["private"]), REFUSE_LIST)
        # a user query on the same instance is still answered
        self.assertIn(b"Login: alice", self.q("alice", self.ports["private"]))

    def test_unknown_user(self):
        self.assertEqual(self.q("mallory"), b"finger: mallory: no such user.\r\n")

    def test_forwarding_refused(self):
        self.assertEqual(self.q("alice@example.com"), REFUSE_FORWARD)
        self.assertEqual(self.q("alice@127.0.0.1"), REFUSE_FORWARD)

    def test_query_too_long(self):
        out = self.q("a" * 600)
        self.assertEqual(out, ERR_LONG)
        # the daemon still answers
        self.assertIn(b"Login: alice", self.q("alice"))

    def test_query_too_long_without_newline(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            s.sendall(b"b" * 2000)
            self.assertEqual(recv_until_close(s), ERR_LONG)
        self.assertIn(b"Login: alice", self.q("alice"))

    def test_non_ascii(self):
        self.assertEqual(self.q(b"al\xe9ce"), ERR_CHARS)
        self.assertEqual(self.q("alice\u00e9".encode("utf-8")), ERR_CHARS)
        self.assertIn(b"Login: alice", self.q("alice"))

    def test_control_char(self):
        self.assertEqual(self.q(b"al\x01ice"), ERR_CHARS)
        self.assertEqual(self.q(b"alice\x1b[2J"), ERR_CHARS)
        self.assertIn(b"Login: alice", self.q("alice"))

    def test_concurrent_queries(self):
        want = self.q("alice")
        results, errors = [], []

        def worker():
            try:
                for _ in range(5):
                    results.append(self.q("alice"))
            except OSError as e:
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT * 2)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 100)
        self.assertTrue(all(r == want for r in results))

    def test_client_reset(self):
        for query in (b"alice\r\n", b"ali", b"/W alice\r\n"):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
            s.sendall(query)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.assertIn(b"Login: alice", self.q("alice"))

    def test_malformed(self):
        for query in ("alice@", "/X alice"):
            self.assertEqual(self.q(query), b"finger: error: malformed query\r\n", query)
        self.assertIn(b"Login: alice", self.q("alice"))

    def test_access_log(self):
        self.q("alice")
        self.q("nobody-here")
        self.q("bob@example.com")
        self.q(b"x\x02y")
        log = os.path.join(self.d.dir, "finger.log")
        peer = r'(?:^|\s)\[?127\.0\.0\.1\]?(?::\d+)? '
        loomtest.wait_file(log, peer + r'"alice" ok$')
        loomtest.wait_file(log, peer + r'"nobody-here" unknown$')
        loomtest.wait_file(log, peer + r'"bob@example\.com" refused$')
        text = loomtest.wait_file(log, peer + r'".*" error$')
        for line in text.splitlines():
            self.assertRegex(line, r'"[^\n]*" (ok|unknown|refused|forwarded|error)$')

    def test_idle_client_dropped(self):
        with socket.create_connection(("127.0.0.1", self.ports["idle"]), timeout=20) as s:
            try:
                out = recv_until_close(s)
            except socket.timeout:
                self.fail("idle client was not dropped within 20 s")
        # whatever it said (maybe nothing), it is not a user entry
        self.assertNotIn(b"Login:", out)
        self.assertIn(b"Login: alice", self.q("alice", self.ports["idle"]))

    def test_partial_query_then_rest(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            # separate segments, so the daemon sees the query in pieces
            # (the pauses only space the writes; nothing is timed)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for piece in (b"al", b"ice\r", b"\n"):
                s.sendall(piece)
                time.sleep(0.2)
            out = recv_until_close(s)
        self.assertEqual(out, self.q("alice"))


if __name__ == "__main__":
    loomtest.main()
