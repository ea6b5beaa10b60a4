"""kill -9 under load: 20 SMTP sessions send 2,000 messages in all while
loomd is killed with SIGKILL at a random point, 20 times (restarted on the
same Maildirs each time; what is left of the 2,000 after the last kill is
sent to the last loomd, which is stopped cleanly).  After every restart and at the end: every
message that got its 250 is in each of its recipients' Maildirs exactly
once and whole (a checksum of its body in its header) -- or, for a
recipient in another domain, in exactly one relay queue file -- no other
message
is there twice, and no file in new/ or cur/ is partial."""

import hashlib
import os
import random
import re
import smtplib
import struct
import threading
import time
import unittest

import loomtest
import smtpwire
from loomtest import own, WAIT

SESSIONS = 20
MESSAGES = 2000
KILLS = 20
USERS = ("alice", "bob", "carol")
# A recipient in another domain: relayed (127.0.0.0/8 may), so the message
# goes to the relay queue, whose next hop (a closed port) never takes it:
# it stays there, deferred.
REMOTE = "dave@remote.test"

_ID = re.compile(rb"^X-Kill-Id: (\d+)\r?$", re.M)
_SUM = re.compile(rb"^X-Kill-Sum: ([0-9a-f]{64})\r?$", re.M)


def make_message(n, rng):
    """Message N: headers naming it and its body's sha256 (over the body
    with LF line ends), a body of random lines (some starting with a dot)."""
    lines = []
    size = rng.choice((200, 1000, 4000, 20000, 70000))
    total = 0
    while total < size:
        line = "".join(rng.choice("abcdefghij .-=0123456789") for _ in range(rng.randrange(0, 78)))
        if rng.random() < 0.05:
            line = "." + line
        lines.append(line.encode())
        total += len(line) + 2
    body = b"\r\n".join(lines) + b"\r\n"
    digest = hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()
    head = ("From: <load@origin.test>\r\nSubject: kill test %d\r\nMessage-ID: <%d@kill.test>\r\n"
            "X-Kill-Id: %d\r\nX-Kill-Sum: %s\r\n\r\n" % (n, n, n, digest)).encode()
    return head + body


class State:
    """What the clients learnt: the ids acknowledged with 250 (and to whom
    they went), under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}        # id -> recipients
        self.sent = {}         # id -> recipients, whether acked or not
        self.next_id = 0
        self.round_acks = 0

    def take(self, limit):
        with self.lock:
            if self.next_id >= limit:
                return None
            n = self.next_id
            self.next_id += 1
            return n


def client(port, state, limit, rng_seed, stop):
    rng = random.Random(rng_seed)
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=WAIT)
        s.ehlo("load.test")
    except (OSError, smtplib.SMTPException):
        return
    try:
        while not stop.is_set():
            n = state.take(limit)
            if n is None:
                break
            rcpts = rng.sample(USERS, rng.choice((1, 1, 2, 3)))
            if rng.random() < 0.25:
                rcpts.append(REMOTE)
            msg = make_message(n, rng)
            with state.lock:
                state.sent[n] = rcpts
            code, _ = s.mail("load@origin.test")
            if code != 250:
                break
            ok = True
            for u in rcpts:
                code, _ = s.rcpt(u if u == REMOTE else "%s@example.test" % u)
                ok = ok and code == 250
            if not ok:
                break
            code, _ = s.data(msg)
            if code == 250:
                with state.lock:
                    state.acked[n] = rcpts
                    state.round_acks += 1
            else:
                break
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def check_file(data):
    """None when DATA is a whole test message, else what is wrong."""
    mid, msum = _ID.search(data), _SUM.search(data)
    if not mid or not msum:
        return "no test headers (%d bytes)" % len(data)
    body = smtpwire.lf(smtpwire.body_of(data))
    if hashlib.sha256(body).hexdigest().encode() != msum.group(1):
        return "message %s is not whole (%d bytes)" % (mid.group(1).decode(), len(data))
    return None


class Watcher(threading.Thread):
    """Reads every file as soon as it shows in a new/ directory, while the
    load runs: a file that is ever seen there partial is a problem."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.dirs = [os.path.join(smtpwire.maildir(d, u), "new") for u in USERS]
        self.seen = set()
        self.bad = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for path in self.dirs:
                try:
                    names = os.listdir(path)
                except FileNotFoundError:
                    continue
                for name in names:
                    full = os.path.join(path, name)
                    if full in self.seen:
                        continue
                    try:
                        with open(full, "rb") as f:
                            data = f.read()
                    except FileNotFoundError:
                        continue  # moved to cur/ meanwhile: not ours to judge
                    self.seen.add(full)
                    why = check_file(data)
                    if why:
                        self.bad.append("%s: %s" % (full, why))
            time.sleep(0.002)


def scan_queue(d):
    """The relay queue: {id: count} of committed queue files, and a list of
    problems (a file that is not a whole queue file holding a whole test
    message; anything moved to corrupt/)."""
    qdir = os.path.join(d.dir, "queue")
    seen = {}
    bad = []
    try:
        names = os.listdir(qdir)
    except FileNotFoundError:
        return seen, bad
    for name in names:
        path = os.path.join(qdir, name)
        if name in ("tmp", "corrupt") or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        # smtp_queue.h: magic, u32 envelope length, u64 body length,
        # envelope, body, u32 CRC-32C, then status records
        if data[:8] != b"LOOMQ\x01\r\n" or len(data) < 20:
            bad.append("queue/%s: not a queue file (%d bytes)" % (name, len(data)))
            continue
        elen, blen = struct.unpack("<IQ", data[8:20])
        if len(data) < 20 + elen + blen + 4:
            bad.append("queue/%s: short (%d bytes)" % (name, len(data)))
            continue
        body = data[20 + elen:20 + elen + blen]
        why = check_file(body)
        if why:
            bad.append("queue/%s: %s" % (name, why))
            continue
        n = int(_ID.search(body).group(1))
        seen[n] = seen.get(n, 0) + 1
    try:
        corrupt = os.listdir(os.path.join(qdir, "corrupt"))
    except FileNotFoundError:
        corrupt = []
    bad += ["queue/corrupt/%s" % c for c in corrupt]
    return seen, bad


def scan(d):
    """Every stored message: {(user, id): count}, and a list of problems
    (files in new/ or cur/ that are not a whole test message)."""
    seen = {}
    bad = []
    for u in USERS:
        for sub in ("new", "cur"):
            path = os.path.join(smtpwire.maildir(d, u), sub)
            try:
                names = os.listdir(path)
            except FileNotFoundError:
                continue
            for name in names:
                with open(os.path.join(path, name), "rb") as f:
                    data = f.read()
                why = check_file(data)
                if why:
                    bad.append("%s/%s/%s: %s" % (u, sub, name, why))
                    continue
                key = (u, int(_ID.search(data).group(1)))
                seen[key] = seen.get(key, 0) + 1
    return seen, bad


class KillNine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = loomtest.free_port()
        cls.d = own(cls, loomtest.Loomd(smtpwire.smtp_conf(
            cls.port, USERS, extra=('  max_connections_per_ip = 200\n'
                                    '  relay_networks = {"127.0.0.0/8"}\n'
                                    '  queue_dir = "{dir}/queue"\n'
                                    '  smarthost = "127.0.0.1:%d"\n' % loomtest.free_port()))))

    def check(self, state, label):
        seen, bad = scan(self.d)
        self.assertEqual(bad, [], label)
        with state.lock:
            acked = dict(state.acked)
            sent = dict(state.sent)
        missing = [(u, n) for n, rc in acked.items() for u in rc
                   if u != REMOTE and seen.get((u, n), 0) != 1]
        self.assertEqual(missing, [], "%s: acknowledged messages not stored exactly once: %s"
                         % (label, [(k, seen.get(k, 0)) for k in missing[:20]]))
        twice = [k for k, c in seen.items() if c > 1]
        self.assertEqual(twice, [], "%s: stored more than once" % label)
        strays = [k for k in seen if k[1] not in sent or k[0] not in sent[k[1]]]
        self.assertEqual(strays, [], "%s: stored for a recipient it was not sent to" % label)
        queued, qbad = scan_queue(self.d)
        self.assertEqual(qbad, [], label)
        qmissing = [n for n, rc in acked.items() if REMOTE in rc and queued.get(n, 0) != 1]
        self.assertEqual(qmissing, [], "%s: acknowledged relayed messages not queued exactly "
                         "once: %s" % (label, [(n, queued.get(n, 0)) for n in qmissing[:20]]))
        self.assertEqual([n for n, c in queued.items() if c > 1], [],
                         "%s: queued more than once" % label)
        self.assertEqual([n for n in queued if n not in sent or REMOTE not in sent[n]], [],
                         "%s: queued without a remote recipient" % label)
        return len(seen), len(queued)

    def test_kill_nine_under_load(self):
        rng = random.Random(int.from_bytes(os.urandom(8), "big"))
        state = State()
        per_round = MESSAGES // KILLS
        kills = 0
        watcher = Watcher(self.d)
        watcher.start()
        self.addCleanup(watcher.stop.set)
        for rnd in range(KILLS):
            self.d.start()
            if rnd:
                self.check(state, "after restart %d" % rnd)
            limit = per_round * (rnd + 1)
            with state.lock:
                state.round_acks = 0
            # the kill comes after a random number of this round's 250s
            # (sometimes before the first), then a random few ms more
            kill_after = rng.randrange(0, per_round - SESSIONS)
            stop = threading.Event()
            threads = [threading.Thread(target=client, daemon=True,
                                        args=(self.port, state, limit, rng.random(), stop))
                       for _ in range(SESSIONS)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + WAIT * 3
            while time.monotonic() < deadline:
                with state.lock:
                    if state.round_acks >= kill_after or state.next_id >= limit:
                        break
                time.sleep(0.001)
            time.sleep(rng.random() * 0.02)
            alive = self.d.proc.poll() is None
            self.assertTrue(alive, "loomd died by itself:\n" + self.d.log()[-3000:])
            self.d.proc.kill()
            self.d.proc.wait()
            kills += 1
            stop.set()
            for t in threads:
                t.join(WAIT)
                self.assertFalse(t.is_alive(), "a client hung after the kill")
        # the rest of the 2,000 without a kill, then a clean stop
        self.d.start()
        self.check(state, "after restart %d" % KILLS)
        stop = threading.Event()
        threads = [threading.Thread(target=client, daemon=True,
                                    args=(self.port, state, MESSAGES, rng.random(), stop))
                   for _ in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT * 6)
            self.assertFalse(t.is_alive(), "a client hung")
        self.assertEqual(self.d.stop(), 0, self.d.log()[-3000:])
        self.assertEqual(len(state.sent), MESSAGES)
        self.d.start()
        stored, queued = self.check(state, "at the end")
        self.d.stop()
        watcher.stop.set()
        watcher.join(WAIT)
        self.assertEqual(watcher.bad, [], "partial files seen in new/ during the load")
        self.assertGreater(len(watcher.seen), 0)
        self.assertEqual(kills, KILLS)
        # the load was real: most rounds got messages through
        self.assertGreater(len(state.acked), MESSAGES // 8,
                           "only %d messages acknowledged in all" % len(state.acked))
        self.assertGreater(queued, 0, "nothing went to the relay queue")
        print("# %d kills, %d messages sent, %d acknowledged, %d copies in Maildirs, %d in the "
              "relay queue, %d read in new/ while the load ran"
              % (kills, len(state.sent), len(state.acked), stored, queued, len(watcher.seen)),
              flush=True)


if __name__ == "__main__":
    loomtest.main()
