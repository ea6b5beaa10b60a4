"""Finger forwarding between two loomd processes: A (forwarding = yes)
relays user@host queries to B's finger port.  A few cases use a finger
server played by the test itself, to see what A sends and how it filters
the reply."""

import os
import socket
import threading
import unittest

import loomtest
from loomtest import Loomd, free_port, finger_query, own, WAIT

B_CONF = '''
finger "b" {
  listen = {%(listen)s}
  forwarding = no
  user "alice" {
    name = "Alice Liddell"
    office = "Rabbit Hole 1"
    phone = "+1 555 0100"
    plan = "Answered by B."
  }
}
'''

A_CONF = '''
finger "a" {
  listen = {"tcp:%(a)d:interface=127.0.0.1"}
  access_log = "{dir}/a.log"
  forwarding = yes
  forward_port = %(b)d
  forward_timeout = 10
  user "alice" {
    name = "Alice on A"
    plan = "Answered by A."
  }
}
finger "dead" {
  listen = {"tcp:%(dead)d:interface=127.0.0.1"}
  forwarding = yes
  forward_port = %(nothing)d
  forward_timeout = 5
}
finger "closed" {
  listen = {"tcp:%(closed)d:interface=127.0.0.1"}
  forwarding = no
  forward_port = %(b)d
}
finger "tofake" {
  listen = {"tcp:%(tofake)d:interface=127.0.0.1"}
  forwarding = yes
  forward_port = %(fake)d
  forward_timeout = 10
}
finger "toslow" {
  listen = {"tcp:%(toslow)d:interface=127.0.0.1"}
  forwarding = yes
  forward_port = %(slow)d
  forward_timeout = 2
}
'''

REFUSE_FORWARD = b"finger: forwarding is not allowed on this server.\r\n"


class FakeFinger:
    """A finger server played by the test: records each query it gets,
    answers REPLY (bytes) and closes."""

    def __init__(self, reply):
        self.reply = reply
        self.queries = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(WAIT)
                data = b""
                try:
                    while b"\r\n" not in data:
                        chunk = c.recv(1024)
                        if not chunk:
                            break
                        data += chunk
                    self.queries.append(data)
                    c.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Forwarding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pb = free_port()
        listen = ['"tcp:%d:interface=127.0.0.1"' % cls.pb]
        # "localhost" may resolve to ::1 first: B answers there too
        if loomtest.have_ipv6_loopback():
            listen.append('"tcp:%d:interface=[::1]"' % cls.pb)
        cls.b = own(cls, Loomd(B_CONF % {"listen": ", ".join(listen)}))
        cls.fake = own(cls, FakeFinger(b"Remote says hi\x07\xff there\r\nsecond\tline\r\n"))
        # accepts connections (the kernel completes the handshake) but
        # never answers
        cls.slow = own(cls, socket.socket())
        cls.slow.bind(("127.0.0.1", 0))
        cls.slow.listen(8)
        cls.ports = {"a": free_port(), "b": cls.pb, "dead": free_port(),
                     "closed": free_port(), "nothing": free_port(),
                     "tofake": free_port(), "fake": cls.fake.port,
                     "toslow": free_port(), "slow": cls.slow.getsockname()[1]}
        cls.b.start()
        cls.a = own(cls, Loomd(A_CONF % cls.ports))
        cls.a.start()

    def test_b_answers_directly(self):
        out = finger_query(self.pb, "alice")
        self.assertIn(b"Answered by B.", out)

    def test_forward_localhost(self):
        direct = finger_query(self.pb, "alice")
        relayed = finger_query(self.ports["a"], "alice@localhost")
        self.assertIn(b"Answered by B.", relayed)
        self.assertNotIn(b"Answered by A.", relayed)
        self.assertEqual(relayed, direct)

    def test_forward_ip_literal(self):
        direct = finger_query(self.pb, "alice")
        relayed = finger_query(self.ports["a"], "alice@127.0.0.1")
        self.assertEqual(relayed, direct)

    def test_forward_verbose(self):
        out = finger_query(self.ports["a"], "/W alice@127.0.0.1")
        self.assertIn(b"Login: alice", out)
        self.assertIn(b"Answered by B.", out)

    def test_forward_unknown_user(self):
        self.assertEqual(finger_query(self.ports["a"], "mallory@localhost"),
                         b"finger: mallory: no such user.\r\n")

    def test_local_query_still_local(self):
        out = finger_query(self.ports["a"], "alice")
        self.assertIn(b"Answered by A.", out)

    def test_chain_relays_refusal(self):
        # A gets alice@localhost@localhost, sends "alice@localhost" to B,
        # which does not forward and refuses; A relays that refusal.
        direct = finger_query(self.pb, "alice@localhost")
        self.assertEqual(direct, REFUSE_FORWARD)
        relayed = finger_query(self.ports["a"], "alice@localhost@localhost")
        self.assertEqual(relayed, direct)

    def test_sends_user_and_filters_reply(self):
        n = len(self.fake.queries)
        out = finger_query(self.ports["tofake"], "carol@127.0.0.1")
        self.assertEqual(self.fake.queries[n:], [b"carol\r\n"])
        self.assertEqual(out, b"Remote says hi?? there\r\nsecond\tline\r\n")

    def test_sends_rest_of_chain(self):
        n = len(self.fake.queries)
        finger_query(self.ports["tofake"], "carol@far.example@127.0.0.1")
        self.assertEqual(self.fake.queries[n:], [b"carol@far.example\r\n"])

    def test_nothing_listening(self):
        out = finger_query(self.ports["dead"], "alice@127.0.0.1")
        self.assertRegex(out, rb"^finger: 127\.0\.0\.1: [ -~]+\r\n$")
        self.assertNotIn(b"Login:", out)
        # the daemon survives it
        self.assertIn(b"Login: alice", finger_query(self.ports["a"], "alice"))

    def test_forward_timeout(self):
        out = finger_query(self.ports["toslow"], "alice@127.0.0.1")
        self.assertRegex(out, rb"^finger: 127\.0\.0\.1: [ -~]+\r\n$")
        self.assertIn(b"Login: alice", finger_query(self.ports["a"], "alice"))

    def test_unresolvable_host(self):
        out = finger_query(self.ports["a"], "alice@no-such-host.invalid")
        self.assertRegex(out, rb"^finger: no-such-host\.invalid: [ -~]+\r\n$")

    def test_forwarding_no(self):
        self.assertEqual(finger_query(self.ports["closed"], "alice@localhost"), REFUSE_FORWARD)

    def test_access_log_forwarded(self):
        finger_query(self.ports["a"], "alice@127.0.0.1")
        loomtest.wait_file(os.path.join(self.a.dir, "a.log"),
                           r'"alice@127\.0\.0\.1" forwarded$')


if __name__ == "__main__":
    loomtest.main()
