"""SASL EXTERNAL over loomd's own TLS listener: a TLS profile with
client_certs = yes asks the client for a certificate, the irc instance
reads its SHA-256 fingerprint from the core (loom_conn_tls_info) and logs
the client in to the account whose fp= it is.  A client without a
certificate, one with a certificate bound to no account, and a listener
whose profile does not ask for certificates all get 904; the same account
still logs in with PLAIN."""

import asyncio
import base64
import socket
import ssl
import subprocess
import unittest

import websockets.client

import loomtest
from loomtest import own, WAIT


def fingerprint(pem):
    """The SHA-256 of PEM's certificate as openssl prints it: hex, colons."""
    r = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
                       capture_output=True, text=True, check=True, timeout=60)
    return r.stdout.strip().split("=", 1)[1]


class Client:
    def __init__(self, port, cert=None, key=None):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(cert, key)
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.s = ctx.wrap_socket(raw)
        self.buf = b""

    def send(self, line):
        self.s.sendall(line.encode() + b"\r\n")

    def until(self, *words):
        """Lines up to and including the first holding one of WORDS."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(4096)
                if not chunk:
                    raise AssertionError("closed; got %r" % lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode(errors="replace")
            lines.append(text)
            if any(w in text for w in words):
                return lines

    def sasl(self, mech, payload="+"):
        """CAP REQ sasl, AUTHENTICATE MECH: the final numeric's line."""
        self.send("CAP LS 302")
        self.send("NICK ext%d" % id(self))
        self.send("USER u 0 * :external")
        self.until(" LS ")
        self.send("CAP REQ :sasl")
        self.until(" ACK ")
        self.send("AUTHENTICATE " + mech)
        ends = (" 903 ", " 904 ", " 905 ", " 906 ")
        lines = self.until("AUTHENTICATE +", *ends)
        if any(e in lines[-1] for e in ends):  # refused before the exchange
            return lines
        self.send("AUTHENTICATE " + payload)
        return lines + self.until(*ends)

    def close(self):
        self.s.close()


class External(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tls_port = loomtest.free_port()
        cls.plain_tls_port = loomtest.free_port()
        cls.wss_port = loomtest.free_port()
        cls.d = own(cls, loomtest.Loomd(""))
        cls.srv_cert, cls.srv_key = loomtest.make_cert(cls.d.dir, "srv", "localhost")
        cls.cert, cls.key = loomtest.make_cert(cls.d.dir, "alice", "alice")
        cls.other, cls.other_key = loomtest.make_cert(cls.d.dir, "mallory", "mallory")
        hashed = subprocess.run(["openssl", "passwd", "-6", "alicepass"], capture_output=True,
                                text=True, check=True, timeout=WAIT).stdout.strip()
        cls.d.write_file("irc.accounts", "alice %s fp=%s\n" % (hashed, fingerprint(cls.cert)))
        cls.d.write_file("irc.motd", "hello\n")
        cls.d.write_conf(
            'tls "clients" {\n'
            '    cert = "%s"\n    key = "%s"\n    client_certs = yes\n}\n'
            'tls "plain" {\n    cert = "%s"\n    key = "%s"\n}\n'
            'irc "chat" {\n'
            '    listen = {"tls:%d:interface=127.0.0.1:profile=clients",\n'
            '              "tls:%d:interface=127.0.0.1:profile=plain"}\n'
            '    server_name = "irc.example.test"\n'
            '    motd = "{dir}/irc.motd"\n'
            '    accounts_file = "{dir}/irc.accounts"\n'
            '}\n'
            'http "web" {\n'
            '    listen = {"tls:%d:interface=127.0.0.1:profile=clients"}\n'
            '    server "default" {\n'
            '        default = yes\n'
            '        location "= /irc" {\n'
            '            handler = "irc"\n'
            '            irc = "chat"\n'
            '        }\n'
            '    }\n'
            '}\n' % (cls.srv_cert, cls.srv_key, cls.srv_cert, cls.srv_key,
                     cls.tls_port, cls.plain_tls_port, cls.wss_port))
        cls.d.start()

    def client(self, port, cert=None, key=None):
        c = Client(port, cert, key)
        self.addCleanup(c.close)
        return c

    def test_certificate_logs_in(self):
        c = self.client(self.tls_port, self.cert, self.key)
        lines = c.sasl("EXTERNAL")
        self.assertTrue(any(" 900 " in x and " alice " in x for x in lines), lines)
        self.assertIn(" 903 ", lines[-1])
        c.send("CAP END")
        welcome = c.until(" 001 ")
        self.assertIn(" 001 ", welcome[-1])
        # WHOIS says which account the connection is logged in to
        nick = welcome[-1].split()[2]
        c.send("WHOIS " + nick)
        whois = c.until(" 318 ")
        self.assertTrue(any(" 330 " in x and " alice " in x for x in whois), whois)

    def test_no_certificate_fails(self):
        c = self.client(self.tls_port)
        self.assertIn(" 904 ", c.sasl("EXTERNAL")[-1])

    def test_unbound_certificate_fails(self):
        c = self.client(self.tls_port, self.other, self.other_key)
        self.assertIn(" 904 ", c.sasl("EXTERNAL")[-1])

    def test_profile_without_client_certs_asks_none(self):
        # the client holds alice's certificate, but this listener never
        # asks for it: nothing binds the connection to the account
        c = self.client(self.plain_tls_port, self.cert, self.key)
        self.assertIn(" 904 ", c.sasl("EXTERNAL")[-1])

    def test_plain_still_works(self):
        c = self.client(self.tls_port)
        token = base64.b64encode(b"\0alice\0alicepass").decode()
        self.assertIn(" 903 ", c.sasl("PLAIN", token)[-1])


    def test_websocket_certificate_logs_in(self):
        # wss on the same profile: the http connection's certificate is
        # handed to the irc instance with the link
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(self.cert, self.key)

        async def run():
            ws = await websockets.client.connect(
                "wss://127.0.0.1:%d/irc" % self.wss_port,
                subprotocols=["text.ircv3.net"], ssl=ctx)
            got = []
            try:
                for line in ("CAP LS 302", "NICK wsext", "USER u 0 * :ws",
                             "CAP REQ :sasl", "AUTHENTICATE EXTERNAL", "AUTHENTICATE +"):
                    await ws.send(line)
                while not any(" 903 " in x or " 904 " in x for x in got):
                    got.append(await asyncio.wait_for(ws.recv(), WAIT))
            finally:
                await ws.close()
            return got

        got = asyncio.run(run())
        self.assertTrue(any(" 900 " in x and " alice " in x for x in got), got)
        self.assertIn(" 903 ", got[-1])


if __name__ == "__main__":
    loomtest.main()
