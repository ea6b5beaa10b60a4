#!/usr/bin/env python3
"""Helper for tests/bench/memcache.sh: talks the memcached text protocol.

    mc_load.py load HOST PORT COUNT SIZE [BATCH]
        store COUNT items "key:%07d" (0 .. COUNT-1) with SIZE-byte values,
        pipelined "set KEY 0 0 SIZE noreply" in batches of BATCH (default
        10000) commands, then one "version" round-trip so that the server has
        processed every set.  Prints "loaded COUNT SECONDS UNEXPECTED_BYTES".
    mc_load.py check HOST PORT COUNT SIZE [SAMPLES]
        get SAMPLES keys (default 1000) spread over 0 .. COUNT-1 (always
        including the first and the last), pipelined; prints
        "check SAMPLES FOUND INTACT" (INTACT: value as stored).
    mc_load.py stats HOST PORT
        prints the reply to "stats" as "NAME VALUE" lines.
    mc_load.py version HOST PORT [TIMEOUT]
        one "version" round-trip; retries connecting for TIMEOUT seconds
        (default 5).  Prints the version string.

Exit status 0 on success, 1 on a protocol or connection error.
"""

import socket
import sys
import threading
import time


def connect(host, port, timeout=30.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def value_for(i, size):
    v = b"%07d" % i
    return (v * (size // len(v) + 1))[:size]


class Reader:
    """Collects everything the server sends, in a thread, so that a large
    pipelined write can never dead-lock against unread replies."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.closed = True
                    self.cond.notify_all()
                    return
                self.buf += data
                self.cond.notify_all()

    def wait_for(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while not pred(self.buf):
                left = end - time.monotonic()
                if self.closed or left <= 0:
                    return pred(self.buf)
                self.cond.wait(left)
            return True


def cmd_load(host, port, count, size, batch=10000):
    s = connect(host, port, timeout=120.0)
    r = Reader(s)
    t0 = time.monotonic()
    i = 0
    while i < count:
        n = min(batch, count - i)
        s.sendall(b"".join(
            b"set key:%07d 0 0 %d noreply\r\n%s\r\n" % (k, size, value_for(k, size))
            for k in range(i, i + n)))
        i += n
    s.sendall(b"version\r\n")
    ok = r.wait_for(lambda b: b.find(b"VERSION ") >= 0 and b.find(b"\r\n", b.find(b"VERSION ")) >= 0,
                    600.0)
    dt = time.monotonic() - t0
    with r.cond:
        data = bytes(r.buf)
    s.close()
    if not ok:
        sys.stderr.write("mc_load.py: no reply to version after loading (got %r)\n" % data[-200:])
        return 1
    pos = data.find(b"VERSION ")
    unexpected = data[:pos]
    if unexpected:
        sys.stderr.write("mc_load.py: %d unexpected bytes during the load, first: %r\n"
                         % (len(unexpected), unexpected[:200]))
    print("loaded %d %.3f %d" % (count, dt, len(unexpected)))
    return 0


def cmd_check(host, port, count, size, samples=1000):
    samples = max(2, min(samples, count))
    keys = sorted({(count - 1) * j // (samples - 1) for j in range(samples)})
    s = connect(host, port)
    r = Reader(s)
    s.sendall(b"".join(b"get key:%07d\r\n" % k for k in keys) + b"version\r\n")
    ok = r.wait_for(lambda b: b.find(b"VERSION ") >= 0 and b.endswith(b"\r\n"), 60.0)
    with r.cond:
        data = bytes(r.buf)
    s.close()
    if not ok:
        sys.stderr.write("mc_load.py: check: no reply to version (got %r)\n" % data[-200:])
        return 1
    found = intact = 0
    pos = 0
    while True:
        j = data.find(b"VALUE ", pos)
        if j < 0:
            break
        e = data.find(b"\r\n", j)
        parts = data[j:e].split()
        if len(parts) < 4:
            break
        try:
            k = int(parts[1].split(b":")[1])
            n = int(parts[3])
        except (IndexError, ValueError):
            break
        found += 1
        if data[e + 2:e + 2 + n] == value_for(k, size):
            intact += 1
        pos = e + 2 + n + 2
    print("check %d %d %d" % (len(keys), found, intact))
    return 0


def cmd_stats(host, port):
    s = connect(host, port)
    r = Reader(s)
    s.sendall(b"stats\r\n")
    ends = (b"END\r\n", b"ERROR\r\n")
    ok = r.wait_for(lambda b: any(b.endswith(x) for x in ends), 10.0)
    with r.cond:
        data = bytes(r.buf)
    s.close()
    if not ok or not data.endswith(b"END\r\n"):
        sys.stderr.write("mc_load.py: stats: unexpected reply %r\n" % data[-200:])
        return 1
    for line in data.split(b"\r\n"):
        p = line.split(b" ", 2)
        if len(p) == 3 and p[0] == b"STAT":
            print(p[1].decode(errors="replace"), p[2].decode(errors="replace"))
    return 0


def cmd_version(host, port, timeout=5.0):
    end = time.monotonic() + timeout
    while True:
        try:
            s = connect(host, port, timeout=5.0)
            break
        except OSError:
            if time.monotonic() >= end:
                sys.stderr.write("mc_load.py: cannot connect to %s:%d\n" % (host, port))
                return 1
            time.sleep(0.05)
    s.sendall(b"version\r\n")
    data = b""
    try:
        while not data.endswith(b"\r\n"):
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    s.close()
    if not data.startswith(b"VERSION "):
        sys.stderr.write("mc_load.py: version: unexpected reply %r\n" % data[:200])
        return 1
    print(data[8:].strip().decode(errors="replace"))
    return 0


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    what, host, port = argv[1], argv[2], int(argv[3])
    rest = [int(float(a)) for a in argv[4:]]
    try:
        if what == "load" and len(rest) in (2, 3):
            return cmd_load(host, port, *rest)
        if what == "check" and len(rest) in (2, 3):
            return cmd_check(host, port, *rest)
        if what == "stats" and not rest:
            return cmd_stats(host, port)
        if what == "version" and len(rest) <= 1:
            return cmd_version(host, port, *rest)
    except OSError as e:
        sys.stderr.write("mc_load.py: %s: %s\n" % (what, e))
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
