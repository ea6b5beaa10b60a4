"""smtp for operators, in a real loomd: the loom_smtp_* samples read from
the http status endpoint (Prometheus text, checked by promtool too) after
real clients (swaks, smtplib) talked to it, and the loomctl commands
`smtp queue`, `smtp flush` and `smtp delete ID` over the control socket
(the JSON line protocol, spoken with a plain UNIX socket) -- on a held
queue, and on a queue whose next hop (smtpscript.py) defers, accepts and
refuses on cue."""

import glob
import json
import os
import smtplib
import socket
import subprocess
import time
import unittest

import loomtest
import smtpscript
from loomtest import WAIT, Loomd, free_port
from smtptest import DEMO_PASSWORD, swaks, users_file
from test_http_status import metric, parse_prometheus

MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: Someone <someone@remote.test>\r\n"
       b"Subject: operators\r\n"
       b"\r\n"
       b"hello\r\n")


def ask(path, line):
    """The reply to control request LINE on the socket at PATH, as a dict
    (one JSON line, then the server closes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    s.connect(path)
    with s:
        s.sendall(line.encode() + b"\n")
        raw = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            raw += b
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw
    return json.loads(raw)


def stopped_clean(tc, d):
    """Stop D: exit 0, and (under ASan) no sanitizer report in its log."""
    if d.proc is None or d.proc.poll() is not None:
        return
    rc = d.stop()
    log = d.log()
    tc.assertNotIn("Sanitizer", log)
    tc.assertNotIn("runtime error:", log)
    tc.assertEqual(rc, 0, log)


def conf(port, sub, http, extra):
    return ('control {\n  listen = "unix:ctl.sock:mode=0600"\n}\n'
            'http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  server "s" {\n'
            '    location "= /metrics" {\n      handler = "status"\n'
            '      format = "prometheus"\n    }\n  }\n}\n'
            'smtp "m" {\n'
            '  listen = {"tcp:%d:interface=127.0.0.1", "tcp:%d:interface=127.0.0.1"}\n'
            '  submission = {"tcp:%d:interface=127.0.0.1"}\n'
            '  hostname = "mx.example.test"\n'
            '  local_domains = {"example.test"}\n'
            '  recipients = {"alice@example.test mail/alice/"}\n'
            '  aliases = {"out@example.test someone@remote.test"}\n'
            '  relay_networks = {"127.0.0.1/32"}\n'
            '  users_file = "users"\n'
            '  auth_failure_delay = 0\n'
            '  queue_dir = "queue"\n'
            '  relay_timeout = "10s"\n'
            '%s}\n' % (http, port, sub, sub, "".join("  %s\n" % l for l in extra)))


class OpsTest(unittest.TestCase):
    extra = ()

    def setUp(self):
        self.port, self.sub, self.http = free_port(), free_port(), free_port()
        self.d = Loomd(conf(self.port, self.sub, self.http, self.extra),
                       files={"users": users_file()})
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.addCleanup(stopped_clean, self, self.d)
        self.sock = os.path.join(self.d.dir, "ctl.sock")

    # ---- the control socket and the samples

    def ask(self, line):
        return ask(self.sock, line)

    def ok(self, line):
        r = self.ask(line)
        self.assertTrue(r["ok"], r)
        return r["result"]

    def error(self, line, piece):
        r = self.ask(line)
        self.assertFalse(r["ok"], r)
        self.assertIn(piece, r["error"])

    def queue(self):
        r = self.ok("smtp queue")
        self.assertEqual(r["columns"], ["id", "sender", "recipients", "size", "age",
                                        "attempts", "next", "error"])
        return [dict(zip(r["columns"], row)) for row in r["rows"]]

    def scrape(self):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http,
                                    timeout=WAIT) as r:
            text = r.read().decode()
        return parse_prometheus(text), text

    def smtp(self, name, **labels):
        return metric(self.scrape()[0], "loom_smtp_" + name, instance="m", **labels)

    def wait_smtp(self, name, want, **labels):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            got = self.smtp(name, **labels)
            if got == want:
                return
            time.sleep(0.05)
        self.fail("loom_smtp_%s%r stayed %r, not %r\n%s"
                  % (name, labels, got, want, self.d.log()))

    def queue_files(self):
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.d.dir, "queue", "*"))
                      if os.path.isfile(p))

    def send(self, sender, rcpts, msg=MSG):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=WAIT) as c:
            c.ehlo("client.test")
            self.assertEqual(c.sendmail(sender, rcpts, msg), {})


class Held(OpsTest):
    extra = ("relay_hold = yes",)

    def test_samples_after_real_clients(self):
        fams0, _ = self.scrape()
        before = {k: metric(fams0, "loom_smtp_" + k, instance="m", **l) for k, l in (
            ("sessions_total", {}), ("messages_accepted_total", {}),
            ("received_bytes_total", {}))}
        rc, out = swaks(self.port, "--from", "x@client.test", "--to", "alice@example.test")
        self.assertEqual(rc, 0, out)
        rc, out = swaks(self.port, "--from", "x@client.test", "--to", "nobody@example.test")
        self.assertNotEqual(rc, 0, out)
        rc, out = swaks(self.sub, "--from", "alice@example.test", "--to", "alice@example.test",
                        "--auth", "PLAIN", "--auth-user", "demo", "--auth-password", "wrong")
        self.assertNotEqual(rc, 0, out)
        rc, out = swaks(self.sub, "--from", "alice@example.test", "--to", "alice@example.test",
                        "--auth", "PLAIN", "--auth-user", "demo",
                        "--auth-password", DEMO_PASSWORD)
        self.assertEqual(rc, 0, out)
        # the MAIL before AUTH on the submission port
        rc, out = swaks(self.sub, "--from", "alice@example.test", "--to", "alice@example.test")
        self.assertNotEqual(rc, 0, out)
        fams, text = self.scrape()
        m = lambda name, **l: metric(fams, "loom_smtp_" + name, instance="m", **l)
        self.assertEqual(m("sessions_total") - before["sessions_total"], 5)
        self.assertEqual(m("messages_accepted_total") - before["messages_accepted_total"], 2)
        self.assertGreater(m("received_bytes_total"), before["received_bytes_total"] + 100)
        self.assertGreater(m("accepted_bytes_total"), 100)
        self.assertEqual(m("rejected_total", stage="rcpt", reason="unknown_recipient"), 1)
        self.assertEqual(m("rejected_total", stage="mail", reason="auth_required"), 1)
        self.assertEqual(m("rejected_total", stage="rcpt", reason="relay_denied"), 0)
        self.assertEqual(m("auth_total", result="failure"), 1)
        self.assertEqual(m("auth_total", result="success"), 1)
        self.assertGreaterEqual(m("replies_total", **{"class": "5xx"}), 3)
        self.assertEqual(fams["loom_smtp_queue_messages"]["type"], "gauge")
        self.assertEqual(fams["loom_smtp_rejected_total"]["type"], "counter")
        # the whole exposition is valid for Prometheus itself
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=WAIT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_queue_listing_and_delete(self):
        self.assertEqual(self.queue(), [])
        rc, out = swaks(self.port, "--from", "alice@example.test", "--to", "out@example.test")
        self.assertEqual(rc, 0, out)
        self.send("", ["other@remote.test"])  # the null sender
        files = self.queue_files()
        self.assertEqual(len(files), 2)
        rows = self.queue()
        self.assertEqual(sorted(r["id"] for r in rows), files)
        first, second = rows
        self.assertEqual((first["sender"], first["recipients"]),
                         ("alice@example.test", "someone@remote.test"))
        self.assertEqual((second["sender"], second["recipients"]), ("<>", "other@remote.test"))
        for r in rows:
            self.assertEqual((r["attempts"], r["next"], r["error"]), ("0", "held", ""))
            self.assertGreaterEqual(int(r["age"]), 0)
        size = os.path.getsize(os.path.join(self.d.dir, "queue", first["id"]))
        self.assertGreater(int(first["size"]), 200)
        self.assertLess(int(first["size"]), size)  # the body, without the envelope
        self.assertEqual(self.smtp("queue_messages"), 2)
        # relay_hold keeps the queue: flush says so and changes nothing
        self.error("smtp flush", "relay_hold")
        self.assertEqual(len(self.queue()), 2)
        r = self.ok("smtp delete %s" % first["id"])
        self.assertIn(first["id"], r["message"])
        deadline = time.monotonic() + WAIT
        while first["id"] in self.queue_files() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.queue_files(), [second["id"]])
        self.assertEqual([r["id"] for r in self.queue()], [second["id"]])
        self.assertEqual(self.smtp("queue_messages"), 1)
        self.d.wait_log(r"queue %s: deleted by the operator" % first["id"])
        self.error("smtp delete %s" % first["id"], "no message")
        self.error("smtp/m delete", "usage")
        self.error("smtp delete a b", "usage")
        self.error("smtp/nope queue", "nope")
        # the instance name can be given; the module has one
        self.assertEqual(len(self.ok("smtp/m queue")["rows"]), 1)

    def test_queue_survives_restart_with_what_the_file_says(self):
        rc, out = swaks(self.port, "--from", "alice@example.test", "--to", "out@example.test")
        self.assertEqual(rc, 0, out)
        want = self.queue()
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        got = self.queue()
        self.assertEqual([(r["id"], r["sender"], r["recipients"], r["size"]) for r in got],
                         [(r["id"], r["sender"], r["recipients"], r["size"]) for r in want])


class Deferring(OpsTest):
    """The next hop defers twice, then takes the message; another
    recipient is refused for good."""

    def setUp(self):
        self.script = smtpscript.ScriptServer(
            rcpt=lambda a, n: ("550 5.1.1 no such user" if a.startswith("bad")
                               else "451 4.7.1 try later" if n <= 2 else None)).start()
        self.addCleanup(self.script.stop)
        self.extra = ('smarthost = "127.0.0.1:%d"' % self.script.port, 'queue_retry = "1h"')
        super().setUp()

    def test_flush_retries_and_outcomes_are_counted(self):
        self.send("alice@example.test", ["carol@peer.test"])
        self.d.wait_log(r"to=<carol@peer\.test> relay=127\.0\.0\.1 deferred")
        [row] = self.queue()
        self.assertEqual((row["sender"], row["recipients"], row["attempts"]),
                         ("alice@example.test", "carol@peer.test", "1"))
        self.assertIn("451 4.7.1 try later", row["error"])
        # queue_retry is an hour: the next try is far off
        self.assertGreater(int(row["next"]), 3000)
        self.assertEqual(self.smtp("deliveries_total", result="deferred"), 1)
        r = self.ok("smtp flush")
        self.assertIn("1 message(s) due now", r["message"])
        self.d.wait_log(r"to=<carol@peer\.test> relay=127\.0\.0\.1 deferred", count=2)
        self.wait_smtp("deliveries_total", 2, result="deferred")
        deadline = time.monotonic() + WAIT
        while self.queue()[0]["attempts"] != "2" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.queue()[0]["attempts"], "2")
        self.ok("smtp flush")
        self.assertTrue(self.script.wait_messages(1)[0].data.endswith(MSG))
        self.wait_smtp("queue_messages", 0)
        self.assertEqual(self.queue(), [])
        self.assertEqual(self.queue_files(), [])
        self.assertEqual(self.smtp("deliveries_total", result="delivered"), 1)
        self.assertEqual(self.smtp("deliveries_total", result="bounced"), 0)
        # a refused recipient: bounced, and the report goes to alice
        self.send("alice@example.test", ["bad@peer.test"])
        self.wait_smtp("bounces_total", 1)
        self.wait_smtp("deliveries_total", 1, result="bounced")
        self.wait_smtp("queue_messages", 0)
        self.assertEqual(self.smtp("queue_active"), 0)
        # nothing left: a flush is harmless
        self.assertIn("0 message(s)", self.ok("smtp flush")["message"])


class NoQueue(unittest.TestCase):
    def test_commands_need_a_queue(self):
        port, http = free_port(), free_port()
        text = conf(port, free_port(), http, ()).replace('  queue_dir = "queue"\n', "")
        text = text.replace('  aliases = {"out@example.test someone@remote.test"}\n', "")
        d = Loomd(text, files={"users": users_file()})
        self.addCleanup(d.cleanup)
        d.start()
        self.addCleanup(stopped_clean, self, d)
        for cmd in ("smtp queue", "smtp flush", "smtp delete x"):
            r = ask(os.path.join(d.dir, "ctl.sock"), cmd)
            self.assertFalse(r["ok"], r)
            self.assertIn("no relay queue", r["error"])


if __name__ == "__main__":
    loomtest.main()
