#!/usr/bin/python3
"""Idle TCP client for tests/bench/idle.sh.

usage: idle_client.py HOST PORT COUNT [--close] [--spread=N]

Opens COUNT TCP connections to HOST:PORT and sends nothing on them.
With --spread=N (1..250, HOST on loopback) the connections come from the
source addresses 127.N.x.y, a few hundred per address: with a single source
address every connect() has to search a crowded ephemeral port range and
18000 connections take seconds instead of a fraction of one.
When all are open (or connecting stopped on an error) one line
    connected K
is written to stdout (K = connections actually open), plus an
    error: ...
line first if connecting stopped early.

With --close the connections are closed again right away (orderly FIN) and
the program exits: this is the warm-up mode.  Otherwise the connections are
held until SIGTERM or SIGINT; then they are reset (SO_LINGER 0, so no
TIME_WAIT or orphaned sockets pile up between rounds) and the program
exits 0.
"""

import errno
import resource
import signal
import socket
import struct
import sys
import time


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def open_connections(host, port, count, spread):
    socks = []
    err = None
    retries = 0
    while len(socks) < count:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if spread:
            k = len(socks)
            src = "127.%d.%d.%d" % (spread, 1 + (k // 250) % 250, 2 + k % 250)
            try:
                # the port is picked at connect() time, per 4-tuple
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((src, 0))
            except OSError:
                spread = 0  # no 127/8 on lo: fall back to the plain way
                s.close()
                continue
        s.settimeout(30)
        try:
            s.connect((host, port))
        except OSError as e:
            s.close()
            # A full accept queue only delays us (SYN retransmit); a transient
            # refusal or address shortage is retried a few times.
            if e.errno in (errno.EAGAIN, errno.EADDRNOTAVAIL,
                           errno.ECONNREFUSED) and retries < 50:
                retries += 1
                time.sleep(0.1)
                continue
            err = "%s after %d connections" % (e, len(socks))
            break
        s.setblocking(True)
        socks.append(s)
    return socks, err


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    close_now = "--close" in sys.argv[1:]
    spread = 0
    for a in sys.argv[1:]:
        if a.startswith("--spread="):
            spread = int(a.split("=", 1)[1])
            if not 1 <= spread <= 250:
                spread = 0
    if len(args) != 3:
        sys.stderr.write(__doc__)
        return 2
    host, port, count = args[0], int(args[1]), int(args[2])

    limit = raise_nofile(count + 32)
    if count + 16 > limit:
        sys.stderr.write("idle_client: RLIMIT_NOFILE %d too low for %d "
                         "connections\n" % (limit, count))
        return 1

    # Block the stop signals now and collect them with sigwait() later, so a
    # SIGTERM arriving while we are still connecting is not lost.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    socks, err = open_connections(host, port, count, spread)
    if err:
        print("error: " + err, flush=True)
    print("connected %d" % len(socks), flush=True)

    if close_now:
        for s in socks:
            s.close()
        return 0

    signal.sigwait(stop_signals)

    linger = struct.pack("ii", 1, 0)
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
