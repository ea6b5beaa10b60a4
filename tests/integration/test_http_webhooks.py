"""Webhooks through a real loomd: curl POSTs to `handler = "publish"`
locations (JSON, form, text; HTTP/1.1 and HTTP/2; a GitHub-style
signature made with `openssl dgst -sha256 -hmac`; a bearer token), routes
render the messages into calls of the http module's `post` action, and a
recording HTTP server in this test (Python's http.server) is the webhook
receiver.  What arrives there is the check that fields were flattened and
templates rendered; the route counters in /status say how each call
ended.

Covered: every refusal (400, 401, 403, 405, 413, 415) with nothing
published; 2xx delivered once; 503 then 200 retried then delivered once;
404 failed without a retry; a refused connect retried until retry_for,
then failed; a timeout; bad action parameters failed at once; https to
a recorder with a certificate of the test's own (trusted through
post_ca_file; refused by name or by an unknown CA, without a retry);
post_concurrency; a reload and a stop while a post is in flight; config
errors at FILE:LINE.
"""

import http.server
import json
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import loomtest
from loomtest import DaemonTest, Loomd, WAIT, assert_error_line, free_port, line_of, make_cert, start_expect_exit
from httptest import curl

SECRET = "It's a Secret to Everybody"
TOKEN = "tok-0123456789"


class Recorder:
    """An HTTP server on a free port that records every request
    (method, path, headers, body) and answers by path: /ok 200, /gone 404,
    /flaky 503 the first time then 200, /hold only once release() is
    called, /park only once unpark() is."""

    def __init__(self, tls=None):
        self.requests = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.released = threading.Event()
        self.parked = threading.Event()
        self.flaky_seen = 0
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.cond:
                    rec.requests.append((self.command, self.path, dict(self.headers.items()), body))
                    rec.cond.notify_all()
                    status = 200
                    if self.path.startswith("/gone"):
                        status = 404
                    elif self.path.startswith("/flaky"):
                        rec.flaky_seen += 1
                        status = 503 if rec.flaky_seen == 1 else 200
                if self.path.startswith("/hold"):
                    rec.released.wait(WAIT)
                elif self.path.startswith("/park"):
                    rec.parked.wait(WAIT)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # loomd gave up on this one (stop, timeout)
                    pass

            do_PUT = do_POST

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        if tls:  # (pem, key): https
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait(self, count):
        """Wait until COUNT requests arrived; returns them."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.requests) >= count, WAIT):
                raise AssertionError("only %d of %d requests arrived" % (len(self.requests), count))
            return list(self.requests)

    def release(self):
        self.released.set()

    def unpark(self):
        self.parked.set()

    def close(self):
        self.release()
        self.unpark()
        self.httpd.shutdown()
        self.httpd.server_close()


def conf(http_port, routes, extra_http="", locations=""):
    return ('http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n%s'
            '  server "s" {\n'
            '    location "= /status" { handler = "status" }\n'
            '    location "/hook" {\n      handler = "publish"\n      topic = "push"\n'
            '      publish_headers = {"X-GitHub-Event"}\n      hmac_secret_file = "{dir}/secret"\n    }\n'
            '    location "/open" {\n      handler = "publish"\n      topic = "open"\n      max_body = "4K"\n    }\n'
            '    location "/tok" {\n      handler = "publish"\n      topic = "tok"\n      bearer_token = "%s"\n    }\n'
            '%s  }\n}\n' % (http_port, extra_http, TOKEN, locations)) + routes


def route(name, frm, url, body, more=""):
    """A route from FRM to the post action with url URL and body BODY
    (templates); MORE: extra lines for the route, or a dict with "set"
    (more parameters) and "extra" (lines)."""
    if not isinstance(more, dict):
        more = {"extra": more}
    sets = "".join(", '%s'" % p for p in more.get("set", []))
    return ('route "%s" {\n  from = "%s"\n  to = "http:web:post"\n'
            "  set = {'url = %s', 'body = %s'%s}\n%s}\n"
            % (name, frm, url, body, sets, more.get("extra", "")))


class WebhookTest(DaemonTest):
    def setUp(self):
        self.rec = Recorder()
        self.addCleanup(self.rec.close)
        self.http = free_port()

    def start(self, routes, extra_http="", locations=""):
        self.d = Loomd(conf(self.http, routes, extra_http, locations), files={"secret": SECRET + "\n"})
        self.d.start()

    def post(self, path, body, ctype="application/json", headers=(), args=()):
        """curl -X POST; returns (status, parsed JSON answer or None)."""
        cmd = ["-X", "POST", "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: " + ctype]
        for h in headers:
            cmd += ["-H", h]
        r = curl(cmd + list(args) + ["--data-binary", body, "http://127.0.0.1:%d%s" % (self.http, path)])
        self.assertEqual(r.returncode, 0, r.stderr)
        out, _, code = r.stdout.rpartition(b"\n")
        try:
            answer = json.loads(out) if out.startswith(b"{") else None
        except ValueError:
            answer = None
        return int(code), answer

    def status(self):
        return loomtest.http_status(self.http)

    def route_stats(self, name):
        return loomtest.route_stats(self.http, name)

    def wait_route(self, name, pred):
        return loomtest.wait_route(self.http, name, pred)


def github_sig(body):
    """sha256=HEX as GitHub sends it, made by openssl."""
    r = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", SECRET], input=body.encode(),
                       capture_output=True, timeout=WAIT, check=True)
    return "sha256=" + r.stdout.decode().strip().rsplit("= ", 1)[1]


PUSH = json.dumps({"ref": "refs/heads/main",
                   "head_commit": {"id": "abc123", "message": "fix: the \"quoted\" thing\nsecond line"},
                   "commits": [{"id": "c1"}, {"id": "c2"}],
                   "repository": {"full_name": "o/loom", "private": False, "stars": 12}})


class In(WebhookTest):
    def test_github_push_signed_to_recorder(self):
        self.start(route("gh", "http:web:push", self.rec.url("/ok"),
                         '{"msg": ${head_commit.message|json}, "ref": ${ref|json}, '
                         '"event": ${header.x-github-event|json}, "second": ${commits.1.id|json}, '
                         '"private": ${repository.private|json}, "stars": ${repository.stars}}',
                         {"set": ["header = X-Loom-Test: yes"]}))
        code, ans = self.post("/hook", PUSH, headers=["X-GitHub-Event: push",
                                                      "X-Hub-Signature-256: " + github_sig(PUSH)])
        self.assertEqual(code, 202)
        self.assertEqual((ans["matched"], ans["queued"]), (1, 1))
        method, path, headers, body = self.rec.wait(1)[0]
        self.assertEqual((method, path), ("POST", "/ok"))
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(headers["X-Loom-Test"], "yes")
        self.assertEqual(json.loads(body), {"msg": "fix: the \"quoted\" thing\nsecond line",
                                            "ref": "refs/heads/main", "event": "push", "second": "c2",
                                            "private": "false", "stars": 12})
        st = self.wait_route("gh", lambda s: s["delivered"] == 1)
        self.assertEqual((st["matched"], st["failed"], st["retried"]), (1, 0, 0))

    def test_form_text_and_http2(self):
        self.start(route("o", "http:web:open", self.rec.url("/ok"), "a=${a} b=${b} text=${text}",
                         {"set": ["content_type = text/plain; charset=utf-8", "method = PUT"]}))
        self.assertEqual(self.post("/open", "a=1&b=two+words%21", "application/x-www-form-urlencoded")[0], 202)
        self.assertEqual(self.post("/open", "plain words", "text/plain")[0], 202)
        self.assertEqual(self.post("/open", '{"a": {"x": 1}, "b": [true, null]}', "application/json",
                                   args=["--http2-prior-knowledge"])[0], 202)
        reqs = self.rec.wait(3)
        bodies = sorted(r[3].decode() for r in reqs)
        # the JSON one has a.x and b.0, b.1, but no "a" or "b" of its own
        self.assertEqual(bodies, ["a= b= text=", "a= b= text=plain words", "a=1 b=two words! text="])
        self.assertEqual({r[0] for r in reqs}, {"PUT"})
        self.assertEqual({r[2]["Content-Type"] for r in reqs}, {"text/plain; charset=utf-8"})

    def test_nested_fields_over_http2(self):
        self.start(route("o", "http:web:open", self.rec.url("/ok"), "${a.x}|${b.0}|${b.1}|${c}"))
        code, ans = self.post("/open", '{"a": {"x": 1.5}, "b": [true, null], "c": {}}', "application/json",
                              args=["--http2-prior-knowledge"])
        self.assertEqual(code, 202)
        self.assertEqual(self.rec.wait(1)[0][3], b"1.5|true||")

    def test_bearer_token(self):
        self.start(route("t", "http:web:tok", self.rec.url("/ok"), "${x}"))
        self.assertEqual(self.post("/tok", '{"x": "in"}', headers=["Authorization: Bearer " + TOKEN])[0], 202)
        self.assertEqual(self.rec.wait(1)[0][3], b"in")

    def test_refusals_publish_nothing(self):
        self.start(route("gh", "http:web:push", self.rec.url("/ok"), "${ref}")
                   + route("o", "http:web:open", self.rec.url("/ok"), "${a}")
                   + route("t", "http:web:tok", self.rec.url("/ok"), "${a}"))
        good_sig = github_sig(PUSH)
        bad_sig = "sha256=" + ("0" if good_sig[7] != "0" else "1") + good_sig[8:]
        cases = [
            ("/hook", PUSH, "application/json", [], 401),                                 # no signature
            ("/hook", PUSH, "application/json", ["X-Hub-Signature-256: " + bad_sig], 403),
            ("/hook", PUSH + " ", "application/json", ["X-Hub-Signature-256: " + good_sig], 403),
            ("/hook", PUSH, "application/json", ["X-Hub-Signature-256: sha256=beef"], 403),
            ("/tok", '{"a":1}', "application/json", [], 401),
            ("/tok", '{"a":1}', "application/json", ["Authorization: Bearer nope"], 401),
            ("/open", '{"a":', "application/json", [], 400),
            ("/open", '[{"a": 1}]', "application/json", [], 400),
            ("/open", '{"a": 1, "a": 2}', "application/json", [], 400),
            ("/open", "{" + '"a":{' * 40 + "}" * 40 + "}", "application/json", [], 400),
            ("/open", "a=%zz", "application/x-www-form-urlencoded", [], 400),
            ("/open", '{"a":1}', "application/xml", [], 415),
            ("/open", "x" * 5000, "text/plain", [], 413),
            # the fields that authenticate or type a webhook, twice
            ("/hook", PUSH, "application/json",
             ["X-Hub-Signature-256: " + good_sig, "X-Hub-Signature-256: " + good_sig], 400),
            ("/tok", '{"a":1}', "application/json", ["Authorization: Bearer " + TOKEN] * 2, 400),
            ("/open", '{"a":1}', "application/json", ["Content-Type: text/plain"], 400),
        ]
        for path, body, ctype, headers, want in cases:
            code, ans = self.post(path, body, ctype, headers)
            self.assertEqual(code, want, "%s %r %s" % (path, body[:40], headers))
        r = curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:%d/open" % self.http])
        self.assertEqual(r.stdout, b"405")
        r = curl(["-X", "POST", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: text/plain",
                  "-H", "Transfer-Encoding: chunked", "--data-binary", "y" * 5000,
                  "http://127.0.0.1:%d/open" % self.http])
        self.assertEqual(r.stdout, b"413")
        st = self.status()["bus"]
        self.assertEqual(st["published"], 0)
        self.assertEqual([r["matched"] for r in st["routes"]], [0, 0, 0])
        self.assertEqual(self.rec.requests, [])
        # and the daemon is unharmed: a good one goes through
        self.assertEqual(self.post("/hook", PUSH, headers=["X-Hub-Signature-256: " + good_sig])[0], 202)
        self.assertEqual(self.rec.wait(1)[0][3], b"refs/heads/main")


    def test_refusals_over_http2_wait_for_the_body(self):
        # refusals decided from the head are sent once the body is in:
        # sent earlier, HTTP/2 resets the upload and curl drops the answer
        self.start(route("b", "http:web:big", self.rec.url("/ok"), "${a}"),
                   locations='    location "/big" {\n      handler = "publish"\n      topic = "big"\n'
                             '      max_body = "1M"\n    }\n')
        body = json.dumps({"a": "x" * 100000})
        cases = [("/tok", "application/json", [], [], 401),
                 ("/tok", "application/json", ["Authorization: Bearer nope"], [], 401),
                 ("/hook", "application/json", [], [], 401),
                 ("/hook", "application/json", ["X-Hub-Signature-256: sha256=beef"], [], 403),
                 ("/big", "application/xml", [], [], 415),
                 ("/big", "application/json", [], ["-X", "PUT"], 405)]
        for path, ctype, headers, args, want in cases:
            with self.subTest(path=path, headers=headers, args=args):
                code, ans = self.post(path, body, ctype, headers, args=["--http2-prior-knowledge"] + args)
                self.assertEqual(code, want)
                self.assertIn("error", ans)
        self.assertEqual(self.status()["bus"]["published"], 0)
        self.assertEqual(self.post("/big", body, args=["--http2-prior-knowledge"])[0], 202)
        self.assertEqual(len(self.rec.wait(1)[0][3]), 100000)

    def status_line(self, path, body, ctype):
        """POST over a raw HTTP/1.1 connection; the response's status line."""
        req = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
               "Connection: close\r\n\r\n%s" % (path, ctype, len(body), body)).encode()
        with socket.create_connection(("127.0.0.1", self.http), timeout=WAIT) as s:
            s.sendall(req)
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return buf.split(b"\r\n", 1)[0].decode()

    def test_refusals_have_reason_phrases(self):
        # 415 and 429 come with their reason phrases, like every other answer
        self.start(route("o", "http:web:open", self.rec.url("/hold"), "${a}",
                         "  queue = 1\n  inflight = 1\n"))
        self.assertEqual(self.status_line("/open", "{}", "application/xml"),
                         "HTTP/1.1 415 Unsupported Media Type")
        self.assertEqual(self.status_line("/open", '{"a": 1}', "application/json"), "HTTP/1.1 202 Accepted")
        self.rec.wait(1)  # the first is under way, the next one waits in the queue
        self.assertEqual(self.status_line("/open", '{"a": 2}', "application/json"), "HTTP/1.1 202 Accepted")
        self.assertEqual(self.status_line("/open", '{"a": 3}', "application/json"),
                         "HTTP/1.1 429 Too Many Requests")
        # the 429 one was published (live streams see it), but no route kept it
        st = self.status()["bus"]
        self.assertEqual(st["published"], 3)
        self.assertEqual(st["routes"][0]["dropped_queue"], 1)

class Out(WebhookTest):
    def test_503_then_200_is_retried_and_delivered_once(self):
        self.start(route("r", "http:web:open", self.rec.url("/flaky"), "${a}", "  retry_for = 30\n"))
        self.assertEqual(self.post("/open", '{"a": "once"}')[0], 202)
        st = self.wait_route("r", lambda s: s["delivered"] == 1)
        self.assertGreaterEqual(st["retried"], 1)
        self.assertEqual(st["failed"], 0)
        reqs = self.rec.wait(2)
        self.assertEqual([r[3] for r in reqs], [b"once", b"once"])
        time.sleep(0.3)  # nothing more comes: delivered means done
        self.assertEqual(len(self.rec.requests), 2)

    def test_404_fails_without_retry(self):
        self.start(route("r", "http:web:open", self.rec.url("/gone"), "${a}"))
        self.assertEqual(self.post("/open", '{"a": "x"}')[0], 202)
        st = self.wait_route("r", lambda s: s["failed"] == 1)
        self.assertEqual((st["retried"], st["delivered"]), (0, 0))
        self.assertEqual(len(self.rec.wait(1)), 1)
        self.d.wait_log(r'route "r": http:web:post failed .*HTTP 404')

    def test_refused_connect_retried_then_failed(self):
        dead = free_port()
        self.start(route("r", "http:web:open", "http://127.0.0.1:%d/x" % dead, "${a}", "  retry_for = 1\n"))
        self.assertEqual(self.post("/open", '{"a": "x"}')[0], 202)
        st = self.wait_route("r", lambda s: s["failed"] == 1)
        self.assertGreaterEqual(st["retried"], 1)
        self.assertEqual(st["delivered"], 0)
        self.d.wait_log(r'route "r": http:web:post failed .*connect')

    def test_timeout_is_retried(self):
        self.start(route("r", "http:web:open", self.rec.url("/hold"), "${a}",
                         {"set": ["timeout = 1"], "extra": "  retry_for = 2\n"}))
        self.assertEqual(self.post("/open", '{"a": "x"}')[0], 202)
        st = self.wait_route("r", lambda s: s["failed"] == 1)
        self.assertGreaterEqual(st["retried"], 1)
        self.d.wait_log(r"timed out after 1 s")

    def test_bad_parameters_fail_at_once(self):
        routes = ""
        for i, (url, more) in enumerate([("ftp://127.0.0.1/x", []),
                                         ("http://127.0.0.1:99999/x", []),
                                         ("http://user@127.0.0.1/x", []),
                                         (self.rec.url("/ok"), ["method = DELETE"]),
                                         (self.rec.url("/ok"), ["timeout = 0"]),
                                         (self.rec.url("/ok"), ["header = Content-Length: 5"]),
                                         (self.rec.url("/ok"), ["header = no colon"]),
                                         (self.rec.url("/ok?q=${a}"), [])]):
            routes += route("r%d" % i, "http:web:open", url, "${a}", {"set": more, "extra": "  retry_for = 30\n"})
        self.start(routes)
        # the last one is fine, but its rendered url holds a space
        self.assertEqual(self.post("/open", '{"a": "a b"}')[0], 202)
        for i in range(8):
            st = self.wait_route("r%d" % i, lambda s: s["failed"] == 1)
            self.assertEqual(st["retried"], 0)
        self.assertEqual(self.rec.requests, [])

    def test_post_concurrency(self):
        self.start(route("r", "http:web:open", self.rec.url("/hold"), "${a}", "  retry_for = 60\n"),
                   extra_http="  post_concurrency = 1\n")
        self.assertEqual(self.post("/open", '{"a": "1"}')[0], 202)
        self.rec.wait(1)
        self.assertEqual(self.post("/open", '{"a": "2"}')[0], 202)
        # the second call is told to retry while the first holds the slot
        self.wait_route("r", lambda s: s["retried"] >= 1)
        self.assertEqual(len(self.rec.requests), 1)
        self.rec.release()
        st = self.wait_route("r", lambda s: s["delivered"] == 2)
        self.assertEqual(st["failed"], 0)
        self.assertEqual(sorted(r[3] for r in self.rec.requests), [b"1", b"2"])


class Https(WebhookTest):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="hooks-tls-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))
        self.pem, key = make_cert(self.tmp, "up", "localhost", "DNS:localhost")
        self.tls = Recorder(tls=(self.pem, key))
        self.addCleanup(self.tls.close)

    def test_https_with_post_ca_file(self):
        url = "https://localhost:%d/ok" % self.tls.port
        self.start(route("r", "http:web:open", url, "${a}"), extra_http='  post_ca_file = "%s"\n' % self.pem)
        self.assertEqual(self.post("/open", '{"a": "secret"}')[0], 202)
        self.assertEqual(self.tls.wait(1)[0][3], b"secret")
        self.assertEqual(self.wait_route("r", lambda s: s["delivered"] == 1)["failed"], 0)

    def test_https_unverified_fails_at_once(self):
        # "web" trusts the test's CA, but 127.0.0.1 is not the name the
        # certificate holds; "other" uses the system store, which does not
        # know the CA
        other = ('http "other" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                 '  server "s" {\n    location "/" { handler = "echo" }\n  }\n}\n' % free_port())
        routes = (other
                  + route("ip", "http:web:open", "https://127.0.0.1:%d/ok" % self.tls.port, "${a}",
                          "  retry_for = 30\n")
                  + route("sys", "http:web:open", "https://localhost:%d/ok" % self.tls.port, "${a}",
                          "  retry_for = 30\n").replace("http:web:post", "http:other:post"))
        self.start(routes, extra_http='  post_ca_file = "%s"\n' % self.pem)
        self.assertEqual(self.post("/open", '{"a": "x"}')[0], 202)
        for name in ("ip", "sys"):
            st = self.wait_route(name, lambda s: s["failed"] == 1)
            self.assertEqual((st["retried"], st["delivered"]), (0, 0))
        self.assertEqual(self.tls.requests, [])
        log = self.d.log()
        self.assertRegex(log, r'route "ip": http:web:post failed .*certificate')
        self.assertRegex(log, r'route "sys": http:other:post failed .*certificate')


class Lifecycle(WebhookTest):
    def test_reload_with_a_post_in_flight(self):
        routes = route("r", "http:web:open", self.rec.url("/hold"), "${a}")
        self.start(routes)
        self.assertEqual(self.post("/open", '{"a": "held"}')[0], 202)
        self.rec.wait(1)
        # a new table and new locations while the call is under way
        self.d.write_conf(conf(self.http, routes + route("extra", "http:web:tok", self.rec.url("/ok"), "${a}"),
                               locations='    location "/more" { handler = "publish"  topic = "more" }\n'))
        self.assertTrue(self.d.reload())
        self.rec.release()
        st = self.wait_route("r", lambda s: s["delivered"] == 1)
        self.assertEqual(st["failed"], 0)
        self.assertEqual(self.post("/more", '{"a": 1}')[0], 202)

    def start_grace(self, routes, grace):
        self.d = Loomd("shutdown_grace = %d\n" % grace + conf(self.http, routes), files={"secret": SECRET})
        self.d.start()

    def test_stop_with_a_post_in_flight(self):
        # the grace period runs out with the post under way: it fails
        self.start_grace(route("r", "http:web:open", self.rec.url("/hold"), "${a}"), 1)
        self.assertEqual(self.post("/open", '{"a": "held"}')[0], 202)
        self.rec.wait(1)
        self.d.signal(signal.SIGTERM)
        self.assertEqual(self.d.wait_exit(), 0, self.d.log())
        self.assertRegex(self.d.log(), r'route "r": http:web:post failed .*: stopping')

    def test_stop_waits_for_a_post_in_flight(self):
        # the upstream answers within the grace period: delivered
        self.start_grace(route("r", "http:web:open", self.rec.url("/hold"), "${a}"), 20)
        self.assertEqual(self.post("/open", '{"a": "held"}')[0], 202)
        self.rec.wait(1)
        self.d.signal(signal.SIGTERM)
        self.d.wait_log("shutting down")
        self.rec.release()
        self.assertEqual(self.d.wait_exit(), 0, self.d.log())
        self.assertNotIn("failed", self.d.log())


    def test_stop_starts_no_new_posts(self):
        # route "r" has one post under way and two messages waiting; route
        # "keep" holds connections open, so the stop's grace period runs
        # on after r's post ends.  The waiting ones are lost, as
        # documented: no new post goes out once the stop began, the calls
        # fail as "stopping"
        self.start_grace(route("r", "http:web:open", self.rec.url("/hold"), "${a}", "  inflight = 1\n")
                         + route("keep", "http:web:open", self.rec.url("/park"), "${a}"), 20)
        for k in range(3):
            self.assertEqual(self.post("/open", '{"a": "%d"}' % k)[0], 202)
        self.rec.wait(4)  # r's first post and keep's three
        self.assertEqual(self.route_stats("r")["queued"], 2)
        self.d.signal(signal.SIGTERM)
        self.d.wait_log("shutting down")
        self.rec.release()  # r's post ends; keep's are still parked
        held = lambda: [q[3] for q in self.rec.requests if q[1] == "/hold"]
        deadline = time.monotonic() + WAIT
        while (time.monotonic() < deadline and len(held()) < 2
               and not re.search(r'route "r": .* stopping', self.d.log())):
            time.sleep(0.05)
        self.rec.unpark()
        self.assertEqual(self.d.wait_exit(), 0, self.d.log())
        self.assertEqual(held(), [b"0"])
        self.assertRegex(self.d.log(), r'route "r": http:web:post failed .*: stopping')

class ConfigErrors(DaemonTest):
    CASES = [
        ('    location "/p" {\n      handler = "publish"\n    }\n', 'location "/p"', "needs a topic"),
        ('    location "/p" {\n      handler = "publish"\n      topic = "a b"\n    }\n', "topic =", "may not hold"),
        ('    location "/p" {\n      handler = "publish"\n      topic = "%s"\n    }\n' % ("t" * 256), "topic =",
         "longer than 255"),
        ('    location "/p" {\n      handler = "publish"\n      topic = "t"\n      hmac_secret = "x"\n'
         '      hmac_secret_file = "{dir}/secret"\n    }\n', "hmac_secret_file", "not both"),
        ('    location "/p" {\n      handler = "publish"\n      topic = "t"\n'
         '      hmac_secret_file = "{dir}/nonexistent"\n    }\n', "hmac_secret_file", "nonexistent"),
        ('    location "/p" {\n      handler = "publish"\n      topic = "t"\n      bearer_token = ""\n    }\n',
         "bearer_token", "empty"),
        ('    location "/p" {\n      handler = "publish"\n      topic = "t"\n'
         '      publish_headers = {"X Bad"}\n    }\n', "publish_headers", "not a header name"),
        ('    location "/p" {\n      handler = "publish"\n      topic = "t"\n      hmac_header = "a:b"\n    }\n',
         "hmac_header", "not a header name"),
    ]

    def check(self, text, needle, part):
        d = Loomd(text, files={"secret": "s\n"})
        try:
            line = line_of(d.conf_path, needle)
            rc, err = start_expect_exit(d)
            self.assertEqual(rc, 1, err)
            assert_error_line(self, err, d.conf_path, line, part)
        finally:
            d.cleanup()

    def test_publish_options(self):
        for loc, needle, part in self.CASES:
            with self.subTest(part=part):
                self.check('http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n  server "s" {\n%s  }\n}\n'
                           % (free_port(), loc), needle, part)

    def test_post_options(self):
        for opt, part in [("post_concurrency = 0", "post_concurrency must be"),
                          ('post_ca_file = "{dir}/nonexistent.pem"', "nonexistent.pem"),
                          ('post_ca_file = "{dir}"', "no PEM certificate"),
                          ('post_ca_file = "{dir}/secret"', "no PEM certificate")]:
            with self.subTest(opt=opt):
                self.check('http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n  %s\n  server "s" {\n'
                           '    location "/" { handler = "echo" }\n  }\n}\n' % (free_port(), opt),
                           opt.split(" ")[0], part)

    def test_route_to_post_needs_a_url(self):
        d = Loomd('http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n  server "s" {\n'
                  '    location "/" { handler = "echo" }\n  }\n}\n'
                  'route "r" {\n  from = "x"\n  to = "http:web:post"\n  set = {\'body = x\'}\n}\n' % free_port())
        try:
            rc, err = start_expect_exit(d)
            self.assertEqual(rc, 1, err)
            self.assertIn("needs parameter 'url'", err)
        finally:
            d.cleanup()


if __name__ == "__main__":
    loomtest.main()
