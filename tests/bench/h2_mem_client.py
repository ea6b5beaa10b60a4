"""h2_mem_client.py PORT PID CONNS ROUNDS: the client of tests/bench/h2_mem.sh.

Opens CONNS h2c (prior knowledge) connections to 127.0.0.1:PORT and does
the handshake on each; reads loomd's (PID) VmRSS; then on every connection
runs ROUNDS rounds of as many concurrent GETs of /hello.txt as the server's
MAX_CONCURRENT_STREAMS allows, reading every response, connections kept
open; reads VmRSS again.  Prints "rss_before rss_idle rss_busy" in KiB
(before: with no connection).  Frames are written by hand (literal header
fields, no HPACK state): the point is loomd's memory, not the client."""

import select
import socket
import struct
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def lit(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


BLOCK = (lit(b":method", b"GET") + lit(b":scheme", b"http") + lit(b":authority", b"localhost") +
         lit(b":path", b"/hello.txt"))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.next_sid = 1
        self.max_streams = 100
        self.ended = 0
        self.got_settings = False
        # a large window: responses never wait for WINDOW_UPDATE
        self.s.sendall(PREFACE + frame(4, 0, 0, struct.pack(">HI", 4, 0x7fffffff)) +
                       frame(8, 0, 0, struct.pack(">I", 0x7fffffff - 65535)))

    def feed(self):
        data = self.s.recv(1 << 20)
        if not data:
            raise SystemExit("server closed a connection")
        self.buf += data
        while len(self.buf) >= 9:
            n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
            if len(self.buf) < 9 + n:
                break
            ftype, flags = self.buf[3], self.buf[4]
            payload = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            if ftype == 4 and not flags & 1:
                for i in range(0, len(payload), 6):
                    k, v = struct.unpack(">HI", payload[i:i + 6])
                    if k == 3:
                        self.max_streams = v
                self.got_settings = True
                self.s.sendall(frame(4, 1, 0))
            elif ftype in (0, 1) and flags & 1:
                self.ended += 1
            elif ftype == 3:
                self.ended += 1
            elif ftype == 7:
                raise SystemExit("GOAWAY from the server")

    def burst(self):
        out = []
        for _ in range(self.max_streams):
            out.append(frame(1, 0x5, self.next_sid, BLOCK))
            self.next_sid += 2
        self.s.sendall(b"".join(out))
        return len(out)


def wait_all(conns, pred):
    socks = {c.s: c for c in conns}
    while True:
        todo = [c.s for c in conns if not pred(c)]
        if not todo:
            return
        r, _, _ = select.select(todo, [], [], 30)
        if not r:
            raise SystemExit("no answer within 30 s")
        for s in r:
            socks[s].feed()


def main():
    port, pid, nconns, rounds = (int(a) for a in sys.argv[1:5])
    before = rss_kib(pid)
    conns = [Conn(port) for _ in range(nconns)]
    wait_all(conns, lambda c: c.got_settings)
    idle = rss_kib(pid)
    for _ in range(rounds):
        want = {}
        for c in conns:
            want[c] = c.ended + c.burst()
        wait_all(conns, lambda c: c.ended >= want[c])
    busy = rss_kib(pid)
    print(before, idle, busy)
    for c in conns:
        c.s.close()


if __name__ == "__main__":
    main()
