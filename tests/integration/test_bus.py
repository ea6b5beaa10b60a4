"""The bus and its routes from a real loomd, through the test-only module
tests/modules/bustest.c: PUB publishes a message, SUB subscribes a
connection, WATCH shows every call of bustest's `record` action ("ACT
route text attempt=N", then "END route text done|retry|failed"), RELEASE
ends the calls an action held.  Route counters are read from the http
status handler's JSON, as an operator would.

Covered: templates rendered from fields, matches, several actions per
route, subscribers, loops (a route passed twice, too many hops) stopped
and counted, the rate limit and the bounded queue, retries with backoff
up to retry_for, failures, a reload that swaps the route table while
calls are in flight, a stop with calls in flight, and every route config
error at FILE:LINE (at start, and on reload where the old table stays).
"""

import json
import os
import signal
import time
import urllib.request

import loomtest
from loomtest import DaemonTest, Loomd, free_port, assert_error_line, line_of, start_expect_exit, WAIT

BUSTEST_SO = os.path.join(loomtest.BUILDDIR, "tests", "modules", ".libs", "bustest.so")


class Client:
    """A line-protocol client of bustest."""

    def __init__(self, port):
        self.s = loomtest.connect(port)
        self.buf = b""

    def line(self, timeout=WAIT):
        self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; got %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode()

    def ask(self, text):
        self.s.sendall((text + "\n").encode())
        return self.line()

    def pub(self, topic, **fields):
        words = ["PUB", topic] + ["%s=%s" % kv for kv in fields.items()]
        ans = self.ask(" ".join(words))
        self.assert_ok(ans)
        return dict(w.split("=") for w in ans.split()[1:])

    @staticmethod
    def assert_ok(ans):
        if not ans.startswith("OK"):
            raise AssertionError("not OK: %r" % ans)

    def until(self, pred):
        """Lines until one satisfies PRED; returns all read."""
        seen = []
        while True:
            line = self.line()
            seen.append(line)
            if pred(line):
                return seen

    def close(self):
        self.s.close()


def conf(port, http_port, routes, extra=""):
    return ('load_module("%s")\nbustest "b" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
            'http "web" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
            '  server "s" {\n    location "= /status" { handler = "status" }\n'
            '    location "= /metrics" { handler = "status"  format = "prometheus" }\n  }\n}\n'
            % (BUSTEST_SO, port, http_port)) + extra + routes


def route(name, frm, text, outcome=None, more=""):
    sets = ["'text = %s'" % text]
    if outcome:
        sets.append("'outcome = %s'" % outcome)
    return ('route "%s" {\n  from = "%s"\n  to = "bustest:b:record"\n  set = {%s}\n%s}\n'
            % (name, frm, ", ".join(sets), more))


class BusTest(DaemonTest):
    def setUp(self):
        if not os.path.exists(BUSTEST_SO):
            self.fail("bustest.so not built (make check builds it): %s" % BUSTEST_SO)
        self.port = free_port()
        self.http = free_port()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        super().tearDown()

    def start(self, routes, extra=""):
        self.d = Loomd(conf(self.port, self.http, routes, extra))
        self.d.start()

    def client(self):
        c = Client(self.port)
        self.clients.append(c)
        return c

    def watcher(self):
        w = self.client()
        self.assertEqual(w.ask("WATCH"), "OK")
        return w

    def status(self):
        return loomtest.http_status(self.http)

    def route_stats(self, name):
        return loomtest.route_stats(self.http, name)

    def wait_route(self, name, pred):
        return loomtest.wait_route(self.http, name, pred)


class Delivery(BusTest):
    def test_template_match_and_two_actions(self):
        self.start(route("main", "bustest:b:deploy", "${who}-pushed-${ref}",
                         more='  match = {"ref = main", "n >= 2"}\n'
                              '  action "bustest:b:record" { set = {\'text = second:${n}\'} }\n'))
        w = self.watcher()
        p = self.client()
        self.assertEqual(p.pub("deploy", who="ann", ref="dev", n="5")["matched"], "0")
        self.assertEqual(p.pub("deploy", who="ann", ref="main", n="1")["matched"], "0")
        ans = p.pub("deploy", who="bob", ref="main", n="2")
        self.assertEqual((ans["matched"], ans["queued"]), ("1", "1"))
        lines = w.until(lambda l: l.startswith("END") and "second" in l)
        acts = sorted(l for l in lines if l.startswith("ACT"))
        self.assertEqual(acts, ["ACT main bob-pushed-main attempt=1", "ACT main second:2 attempt=2"])
        st = self.wait_route("main", lambda s: s["delivered"] == 2)
        self.assertEqual((st["matched"], st["failed"]), (1, 0))

    def test_subscriber_gets_every_message_in_order(self):
        self.start(route("r", "nothing", "x"))
        s = self.client()
        self.assertEqual(s.ask("SUB bustest:b:t*"), "OK")
        p = self.client()
        ids = [p.pub("t%d" % i, k="v%d" % i)["id"] for i in range(5)]
        p.pub("other", k="no")
        got = [s.line() for _ in range(5)]
        self.assertEqual([g.split()[1] for g in got], ids)
        self.assertIn("origin=bustest/b k=v3", got[3])
        self.assertEqual(self.status()["bus"]["subscribers"], 1)

    def test_bad_subscription_pattern(self):
        self.start(route("r", "nothing", "x"))
        self.assertEqual(self.client().ask("SUB a:b:c:d"), "ERR bad pattern")


class Loops(BusTest):
    def test_two_routes_feeding_each_other_stop(self):
        routes = (route("ping", "bustest:b:ping", "${text}", "republish",
                        more="  action \"bustest:b:record\" { set = {'text = p2', 'outcome = done'} }\n")
                  .replace("'outcome = republish'", "'outcome = republish', 'topic = pong'")
                  + route("pong", "bustest:b:pong", "${text}", "republish")
                  .replace("'outcome = republish'", "'outcome = republish', 'topic = ping'"))
        self.start(routes)
        w = self.watcher()
        self.client().pub("ping", text="go")
        ping = self.wait_route("ping", lambda s: s["dropped_loop"] == 1)
        pong = self.wait_route("pong", lambda s: s["dropped_loop"] == 0 and s["delivered"] == 1)
        # ping (2 actions) -> pong -> ping again: dropped there, once
        self.assertEqual((ping["matched"], ping["delivered"]), (2, 2))
        self.assertEqual(pong["matched"], 1)
        self.assertRegex(self.d.log(), r'route "ping": dropped message \d+ .* \(a loop\)')
        lines = w.until(lambda l: l.startswith("END pong"))
        self.assertEqual(sum(1 for l in lines if l.startswith("ACT")), 3)

    def test_too_many_hops(self):
        routes = ""
        for i in range(10):
            routes += route("hop%d" % i, "bustest:b:t%d" % i, "${text}", "republish").replace(
                "'outcome = republish'", "'outcome = republish', 'topic = t%d'" % (i + 1))
        self.start(routes)
        s = self.client()
        self.assertEqual(s.ask("SUB t*"), "OK")
        self.client().pub("t0", text="far")
        hops = []
        while len(hops) < 9:
            hops.append(int(s.line().split()[3].split("=")[1]))
        self.assertEqual(hops, list(range(9)))
        st = self.wait_route("hop8", lambda s: s["dropped_loop"] == 1)
        self.assertEqual(st["delivered"], 0)
        self.assertEqual(self.route_stats("hop7")["delivered"], 1)
        self.assertEqual(self.status()["bus"]["dropped_hops"], 1)


class Limits(BusTest):
    def test_rate_and_queue(self):
        self.start(route("slow", "bustest:b:x", "${i}",
                         more='  rate = "1/60s"\n  queue = 2\n'))
        w = self.watcher()
        p = self.client()
        answers = [p.pub("x", i=str(i)) for i in range(6)]
        # one goes at once, two wait for a token, three find the queue full
        self.assertEqual(w.until(lambda l: l.startswith("END")), ["ACT slow 0 attempt=1", "END slow 0 done"])
        self.assertEqual(sum(a["dropped"] == "1" for a in answers), 3)
        st = self.route_stats("slow")
        self.assertEqual((st["matched"], st["dropped_rate"], st["queued"], st["delivered"]), (6, 3, 2, 1))
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http, timeout=WAIT) as r:
            prom = r.read().decode()
        self.assertIn('loom_route_messages_total{route="slow",outcome="dropped_rate"} 3', prom)
        self.assertIn('loom_route_queued{route="slow"} 2', prom)

    def test_drop_oldest(self):
        self.start(route("old", "bustest:b:x", "${i}", "hold",
                         more='  inflight = 1\n  queue = 2\n  overflow = "drop-oldest"\n'))
        w = self.watcher()
        p = self.client()
        for i in range(5):
            p.pub("x", i=str(i))
        self.assertEqual(w.line(), "ACT old 0 attempt=1")
        st = self.route_stats("old")
        self.assertEqual((st["dropped_queue"], st["queued"], st["inflight"]), (2, 2, 1))
        # the two that stayed are the newest
        self.assertEqual(p.ask("RELEASE"), "OK 1")
        self.assertEqual([w.line(), w.line()], ["END old 0 done", "ACT old 3 attempt=1"])
        self.assertEqual(p.ask("RELEASE"), "OK 1")
        self.assertEqual([w.line(), w.line()], ["END old 3 done", "ACT old 4 attempt=1"])
        self.assertEqual(p.ask("RELEASE"), "OK 1")
        self.assertEqual(w.line(), "END old 4 done")


class Retries(BusTest):
    def test_retry_then_done(self):
        self.start(route("r", "bustest:b:x", "${i}", "retry:3"))
        w = self.watcher()
        self.client().pub("x", i="a")
        lines = w.until(lambda l: l == "END r a done")
        self.assertEqual([l for l in lines if l.startswith("ACT")],
                         ["ACT r a attempt=%d" % n for n in (1, 2, 3)])
        st = self.wait_route("r", lambda s: s["delivered"] == 1)
        self.assertEqual((st["retried"], st["failed"]), (2, 0))

    def test_retry_until_deadline_then_failed(self):
        self.start(route("r", "bustest:b:x", "${i}", "retry", more="  retry_for = 1\n"))
        self.client().pub("x", i="a")
        st = self.wait_route("r", lambda s: s["failed"] == 1)
        self.assertGreaterEqual(st["retried"], 1)
        self.assertEqual(st["delivered"], 0)
        self.assertRegex(self.d.log(), r'route "r": bustest:b:record failed for message \d+ after \d+ attempt\(s\): told to retry')

    def test_failed_is_not_retried(self):
        self.start(route("r", "bustest:b:x", "${i}", "fail"))
        w = self.watcher()
        self.client().pub("x", i="a")
        self.assertEqual(w.until(lambda l: l.startswith("END")), ["ACT r a attempt=1", "END r a failed"])
        st = self.wait_route("r", lambda s: s["failed"] == 1)
        self.assertEqual(st["retried"], 0)


class Reload(BusTest):
    def test_swap_with_calls_in_flight(self):
        self.start(route("r", "bustest:b:x", "old-${i}", "hold"))
        w = self.watcher()
        p = self.client()
        p.pub("x", i="1")
        self.assertEqual(w.line(), "ACT r old-1 attempt=1")
        self.d.write_conf(conf(self.port, self.http, route("r", "bustest:b:x", "new-${i}", "hold")
                               + route("extra", "bustest:b:y", "${i}")))
        self.d.reload()
        p.pub("x", i="2")
        self.assertEqual(w.line(), "ACT r new-2 attempt=1")
        self.assertEqual(p.ask("RELEASE"), "OK 2")
        ends = sorted([w.line(), w.line()])
        self.assertEqual(ends, ["END r new-2 done", "END r old-1 done"])
        # the counters carried over under the route's name
        st = self.wait_route("r", lambda s: s["delivered"] == 2)
        self.assertEqual(st["matched"], 2)
        self.assertEqual([r["name"] for r in self.status()["bus"]["routes"]], ["r", "extra"])

    def test_broken_route_on_reload_keeps_the_old_table(self):
        self.start(route("r", "bustest:b:x", "${i}"))
        bad = conf(self.port, self.http, route("r", "bustest:b:x", "${i}").replace("bustest:b:record", "bustest:b:nope"))
        self.d.write_conf(bad)
        self.d.signal(signal.SIGHUP)
        self.d.wait_log("has no action 'nope'")
        w = self.watcher()
        self.client().pub("x", i="still")
        self.assertEqual(w.line(), "ACT r still attempt=1")

    def test_stop_with_calls_held_and_queued(self):
        self.start(route("r", "bustest:b:x", "${i}", "hold", more="  inflight = 1\n"))
        w = self.watcher()
        p = self.client()
        for i in range(4):
            p.pub("x", i=str(i))
        self.assertEqual(w.line(), "ACT r 0 attempt=1")
        self.assertEqual(self.route_stats("r")["queued"], 3)
        self.d.signal(signal.SIGTERM)
        self.assertEqual(self.d.wait_exit(), 0)

    def test_publish_refused_once_a_graceful_stop_began(self):
        self.start(route("r", "bustest:b:x", "${i}"))
        p = self.client()
        self.assertTrue(p.ask("PUB x i=1").startswith("OK"))
        self.d.signal(signal.SIGTERM)
        self.d.wait_log("shutting down")
        # the open connection keeps the daemon in its grace period
        self.assertEqual(p.ask("PUB x i=2"), "ERR")
        p.close()
        self.clients.remove(p)
        self.assertEqual(self.d.wait_exit(), 0)

    def test_action_of_removed_instance_is_retried(self):
        extra = 'bustest "gone" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n' % free_port()
        r = route("r", "bustest:b:x", "${i}", more="  retry_for = 30\n").replace("bustest:b:record", "bustest:gone:record")
        self.start(r, extra)
        self.client().pub("x", i="1")
        self.wait_route("r", lambda s: s["delivered"] == 1)
        # the instance goes; the route (changed to retry briefly) keeps it
        r2 = r.replace("bustest:gone:record", "bustest:b:record")
        self.d.write_conf(conf(self.port, self.http, r2))
        self.d.reload()
        w = self.watcher()
        self.client().pub("x", i="2")
        self.assertEqual(w.line(), "ACT r 2 attempt=1")


class MemcacheEnds(BusTest):
    """memcache's actions (set, delete) and its source (publish_prefixes)."""

    def mc_conf(self):
        self.mc_port = free_port()
        return ('memcache "cache" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n'
                '  publish_prefixes = {"watch:", "w2:"}\n}\n' % self.mc_port)

    def mc(self):
        from pymemcache.client.base import Client as MC
        c = MC(("127.0.0.1", self.mc_port), timeout=WAIT)
        self.addCleanup(c.close)
        return c

    def test_set_and_delete_actions(self):
        extra = self.mc_conf()
        routes = ('route "store" {\n  from = "bustest:b:put"\n  to = "memcache:cache:set"\n'
                  "  set = {'key = ${k}', 'value = ${v|upper}', 'ttl = ${ttl|default:0}', 'flags = 7'}\n}\n"
                  'route "drop" {\n  from = "bustest:b:del"\n  to = "memcache:cache:delete"\n'
                  "  set = {'key = ${k}'}\n}\n"
                  'route "badkey" {\n  from = "bustest:b:bad"\n  to = "memcache:cache:set"\n'
                  "  set = {'key = has space ${k}'}\n}\n")
        self.start(routes, extra)
        p = self.client()
        mc = self.mc()
        p.pub("put", k="greeting", v="hi")
        self.wait_route("store", lambda s: s["delivered"] == 1)
        self.assertEqual(mc.get("greeting"), b"HI")
        self.assertEqual(mc.gets("greeting")[0], b"HI")
        p.pub("del", k="greeting")
        self.wait_route("drop", lambda s: s["delivered"] == 1)
        self.assertIsNone(mc.get("greeting"))
        # deleting what is not there is done, not failed
        p.pub("del", k="greeting")
        st = self.wait_route("drop", lambda s: s["delivered"] == 2)
        self.assertEqual(st["failed"], 0)
        p.pub("bad", k="x")
        st = self.wait_route("badkey", lambda s: s["failed"] == 1)
        self.assertEqual(st["retried"], 0)

    def test_publish_prefixes(self):
        self.start(route("r", "nothing", "x"), self.mc_conf())
        s = self.client()
        self.assertEqual(s.ask("SUB memcache:cache:*"), "OK")
        mc = self.mc()
        mc.set("other", b"no")
        mc.set("watch:a", b"one", flags=3)
        mc.set("w2:b", b"two")
        mc.delete("watch:a")
        mc.delete("other")
        got = [s.line() for _ in range(3)]
        self.assertRegex(got[0], r"^MSG \d+ set hops=0 origin=memcache/cache key=watch:a flags=3 value=one$")
        self.assertRegex(got[1], r"^MSG \d+ set hops=0 origin=memcache/cache key=w2:b flags=0 value=two$")
        self.assertRegex(got[2], r"^MSG \d+ delete hops=0 origin=memcache/cache key=watch:a$")
        self.assertEqual(self.status()["bus"]["published"], 3)

    def test_a_route_writing_what_it_watches_stops(self):
        # every set under watch: is copied to another watch: key: the copy
        # is caused by the route's own action, so the route does not take it
        routes = ('route "copy" {\n  from = "memcache:cache:set"\n  match = {"key !~ copy$"}\n'
                  '  to = "memcache:cache:set"\n'
                  "  set = {'key = ${key}.copy', 'value = ${value}'}\n}\n"
                  'route "again" {\n  from = "memcache:cache:set"\n  match = {"key ~ copy$"}\n'
                  '  to = "memcache:cache:set"\n'
                  "  set = {'key = watch:x', 'value = loop'}\n}\n")
        self.start(routes, self.mc_conf())
        mc = self.mc()
        mc.set("watch:x", b"v")
        # copy -> watch:x.copy -> again -> watch:x -> copy: dropped (passed)
        st = self.wait_route("copy", lambda s: s["dropped_loop"] == 1)
        self.assertEqual(st["delivered"], 1)
        self.assertEqual(self.route_stats("again")["delivered"], 1)
        self.assertEqual(mc.get("watch:x.copy"), b"v")
        self.assertEqual(mc.get("watch:x"), b"loop")


class ShippedDefault(DaemonTest):
    """conf/loom.conf as shipped (ports remapped): a webhook posted to
    /hooks/demo is stored by the route demo-to-cache under demo:last,
    where memcache clients and /kv/ read it, and /events/demo streams it."""

    def test_hook_to_cache_and_stream(self):
        import subprocess
        from pymemcache.client.base import Client as MC
        self.d, ports = loomtest.shipped_conf()
        self.d.start()
        web = "http://127.0.0.1:%d" % ports[8080]
        mc = MC(("127.0.0.1", ports[11211]), timeout=WAIT)
        self.addCleanup(mc.close)
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-d", '{"text":"hi"}',
                              "-H", "Content-Type: application/json", web + "/hooks/demo"],
                             capture_output=True, text=True, timeout=WAIT).stdout
        body, code = out.rsplit("\n", 1)
        self.assertEqual(code, "202", out)
        msg_id = json.loads(body)["id"]
        deadline = time.monotonic() + WAIT
        while mc.get("demo:last") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(mc.get("demo:last"), b"hi")
        with urllib.request.urlopen(web + "/kv/demo:last", timeout=WAIT) as r:
            self.assertEqual(r.read(), b"hi")
        with urllib.request.urlopen(web + "/status", timeout=WAIT) as r:
            routes = json.loads(r.read())["bus"]["routes"]
        self.assertEqual([(x["name"], x["matched"], x["delivered"]) for x in routes],
                         [("demo-to-cache", 1, 1), ("dns-set", 0, 0),
                          ("mail-to-irc", 0, 0), ("webhook-to-irc", 0, 0),
                          ("irc-to-mail", 0, 0)])
        # the stream replays the ring from the start, then would wait
        ev = subprocess.run(["curl", "-s", "-N", "--max-time", "2",
                             web + "/events/demo?last_event_id=0"],
                            capture_output=True, text=True, timeout=WAIT).stdout
        self.assertIn("id: %d\nevent: demo\ndata: " % msg_id, ev)
        self.assertIn('"fields":{"text":"hi"}', ev)


ERRORS = [
    # (route body, message part, line offset of the error within the route)
    ('  to = "bustest:b:record"\n  set = {\'text = x\'}\n', "needs a from", 0),
    ('  from = "a:b:c:d"\n  to = "bustest:b:record"\n  set = {\'text = x\'}\n', "is not MODULE:INSTANCE:TOPIC", 1),
    ('  from = "x"\n', "needs a to", 0),
    ('  from = "x"\n  to = "nomod:b:record"\n', "no module named 'nomod'", 2),
    ('  from = "x"\n  to = "bustest:b:nope"\n', "has no action 'nope'", 2),
    ('  from = "x"\n  to = "bustest:zz:record"\n  set = {\'text = x\'}\n', 'no bustest instance named "zz"', 2),
    ('  from = "x"\n  to = "bustest:b"\n', "is not MODULE:INSTANCE:ACTION", 2),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'text = x\', \'colour = red\'}\n', "no parameter 'colour'", 3),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'text = x\', \'text = y\'}\n', "set twice", 3),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'outcome = done\'}\n', "needs parameter 'text'", 0),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'text\'}\n', "is not NAME = TEMPLATE", 3),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'text = x\'}\n  rate = "fast"\n', "rate 'fast'", 4),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'text = x\'}\n  burst = 3\n', "burst needs a rate", 4),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'text = x\'}\n  queue = 0\n', "queue must be", 4),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {\'text = x\'}\n  overflow = "spill"\n', "overflow must be", 4),
    ('  from = "x"\n  to = "bustest:b:record"\n  set = {"text = ${x}"}\n', "environment variable", 3),
    ('  from = "x"\n  to = "memcache:nosuch:set"\n  set = {\'key = k\'}\n', 'no memcache instance named "nosuch"', 2),
    ('  from = "x"\n  action "bustest:b:record" { set = {\'text = x\'} }\n  set = {\'text = y\'}\n', "set applies to the actions in to", 3),
]


class ConfigErrors(DaemonTest):
    def test_every_route_error_names_file_and_line(self):
        wrong = []
        for body, part, off in ERRORS:
            d = Loomd(conf(free_port(), free_port(), 'route "bad" {\n' + body + "}\n"))
            try:
                first = line_of(d.conf_path, 'route "bad"')
                rc, err = start_expect_exit(d)
                self.assertEqual(rc, 1, err)
                # the test module's load is logged before the error
                err = "".join(l for l in err.splitlines(True) if "module bustest loaded" not in l)
                assert_error_line(self, err, d.conf_path, first + off, part)
            except AssertionError as e:
                wrong.append("%s: %s" % (part, e))
            finally:
                d.cleanup()
        self.assertEqual(wrong, [])

    def test_bad_route_name(self):
        d = Loomd(conf(free_port(), free_port(), 'route "a b" {\n  from = "x"\n  to = "bustest:b:record"\n  set = {\'text = x\'}\n}\n'))
        rc, err = start_expect_exit(d)
        self.assertEqual(rc, 1)
        self.assertIn("a route name is letters", err)
        d.cleanup()


if __name__ == "__main__":
    loomtest.main()
