#!/usr/bin/python3
"""Server-Sent Events subscribers for tests/bench/bus.sh.

usage: sse_client.py HOST PORT PATH COUNT COUNTFILE

Opens COUNT HTTP/1.1 connections to HOST:PORT, sends GET PATH on each and
waits for every answer's head.  When all are streaming one line
    ready K
is written to stdout (K = streams whose answer was 200); a connection that
fails or gets another status makes the program print
    error: ...
and exit 1.  Then it reads every stream, discarding what it reads and
counting the events: the "data:" lines of the event stream (one per
event; comments such as ": keep-alive" are not counted).  Every 0.2 s
(and at the end) it writes one line to COUNTFILE (replaced atomically):
    EVENTS MIN MAX CLOSED
the events of all streams, the fewest and most of one stream, and the
streams the server closed.  On SIGTERM or SIGINT it writes COUNTFILE a
last time, prints the same line to stdout, resets the connections and
exits 0.
"""

import os
import resource
import selectors
import signal
import socket
import struct
import sys
import time

TOKEN = b"\ndata:"  # every event's data line follows a newline
CARRY = len(TOKEN) - 1


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Stream:
    __slots__ = ("sock", "events", "tail", "closed")

    def __init__(self, sock):
        self.sock = sock
        self.events = 0
        self.tail = b""
        self.closed = False


def open_streams(host, port, path, count):
    request = (
        "GET %s HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n" % path
    ).encode()
    streams = []
    for _ in range(count):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(request)
        streams.append(s)
    out = []
    for s in streams:
        head = b""
        while b"\r\n\r\n" not in head:
            data = s.recv(4096)
            if not data:
                raise OSError("the server closed a stream before its head")
            head += data
        head, _, rest = head.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            raise OSError("answer %r" % status.decode("latin-1"))
        s.setblocking(False)
        st = Stream(s)
        count_in(st, b"\n" + rest)
        out.append(st)
    return out


def count_in(st, data):
    buf = st.tail + data
    st.events += buf.count(TOKEN)
    st.tail = buf[-CARRY:]


def totals(streams):
    ev = [st.events for st in streams]
    closed = sum(1 for st in streams if st.closed)
    return "%d %d %d %d" % (sum(ev), min(ev) if ev else 0, max(ev) if ev else 0, closed)


def write_counts(path, line):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(line + "\n")
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 6:
        sys.stderr.write(__doc__)
        return 2
    host, port, path, count, countfile = sys.argv[1:]
    port, count = int(port), int(count)
    raise_nofile(count + 64)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        streams = open_streams(host, port, path, count)
    except OSError as e:
        print("error: %s" % e, flush=True)
        return 1
    sel = selectors.DefaultSelector()
    for st in streams:
        sel.register(st.sock, selectors.EVENT_READ, st)
    write_counts(countfile, totals(streams))
    print("ready %d" % len(streams), flush=True)
    next_write = time.monotonic() + 0.2
    while not stop:
        for key, _ in sel.select(0.2):
            st = key.data
            try:
                data = st.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                count_in(st, data)
            else:
                st.closed = True
                sel.unregister(st.sock)
        now = time.monotonic()
        if now >= next_write:
            write_counts(countfile, totals(streams))
            next_write = now + 0.2
    line = totals(streams)
    write_counts(countfile, line)
    print(line, flush=True)
    linger = struct.pack("ii", 1, 0)
    for st in streams:
        try:
            st.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        st.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
