"""update_load.py - drive RFC 2136 UPDATEs at a dns server over TCP for a
benchmark (tests/bench/dnsupdate.sh), not a test.

    update_load.py PORT ZONE CONNECTIONS SECONDS [KEYNAME:SECRET]

CONNECTIONS TCP connections each send one UPDATE, wait for its answer,
send the next (a durable server answers only after its journal write is
on disk, so this is the acknowledged rate).  Each UPDATE replaces the A
record of a name of its own connection (hN-C.ZONE) with a new address.
Prints "updates N", "errors E" (answers other than NOERROR) and
"seconds S"."""

import asyncio
import struct
import sys
import time

import dns.message
import dns.rcode
import dns.tsigkeyring
import dns.update


def make(zone, conn, i, keyring, keyname):
    u = dns.update.UpdateMessage(zone, keyring=keyring, keyname=keyname)
    name = "h%d-%d" % (i % 64, conn)
    u.replace(name, 60, "A", "10.%d.%d.%d" % (conn % 256, (i >> 8) & 255, i & 255))
    return u.to_wire()


async def worker(port, zone, conn, deadline, keyring, keyname, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.monotonic() < deadline:
        wire = make(zone, conn, i, keyring, keyname)
        writer.write(struct.pack("!H", len(wire)) + wire)
        n = struct.unpack("!H", await reader.readexactly(2))[0]
        answer = await reader.readexactly(n)
        rcode = answer[3] & 0x0F
        if rcode == dns.rcode.NOERROR:
            counts[0] += 1
        else:
            counts[1] += 1
        i += 1
    writer.close()


async def main():
    port, zone, conns, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    keyring = keyname = None
    if len(sys.argv) > 5:
        keyname, secret = sys.argv[5].split(":", 1)
        keyring = dns.tsigkeyring.from_text({keyname: secret})
    counts = [0, 0]
    t0 = time.monotonic()
    deadline = t0 + secs
    await asyncio.gather(*(worker(port, zone, c, deadline, keyring, keyname, counts)
                           for c in range(conns)))
    print("updates %d" % counts[0])
    print("errors %d" % counts[1])
    print("seconds %.3f" % (time.monotonic() - t0))


asyncio.run(main())
