#!/usr/bin/python3
"""Write the seed corpus of fuzz_smtp_queue (relay queue files) into
tests/fuzz/corpus/smtp_queue/: good files with every envelope field,
appended status records (one torn), a cut file, a flipped byte, an
optional record type and a malformed envelope under a good checksum.
The format is in protocols/smtp/smtp_queue.h."""
import os
import struct
import sys

MAGIC = b"LOOMQ\x01\r\n"


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def rec(t, v):
    return struct.pack("<BI", t, len(v)) + v


def envelope(sender=b"a@example.org", rcpts=((b"b@remote.test", None, 0),),
             extra=b"", full=True):
    e = rec(1, sender)
    if full:
        e += rec(2, b"ENV+2Bid") + rec(3, b"\x02") + rec(4, b"\x02")
        e += rec(5, b"\x01")
    e += rec(6, struct.pack("<q", 1796000000))
    if full:
        e += rec(7, b"alice") + rec(8, b"client.test [192.0.2.7]")
    for addr, orcpt, notify in rcpts:
        e += rec(16, addr)
        if orcpt:
            e += rec(17, orcpt)
        if notify:
            e += rec(18, bytes([notify]))
    return e + extra


def qfile(env, body):
    main = MAGIC + struct.pack("<IQ", len(env), len(body)) + env + body
    return main + struct.pack("<I", crc32c(main))


def status(idx, st, attempts, when, err):
    r = b"S" + struct.pack("<IBIqH", idx, st, attempts, when, len(err)) + err
    return r + struct.pack("<I", crc32c(r))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "corpus", "smtp_queue")
    os.makedirs(out, exist_ok=True)
    body = (b"Received: from client\r\n\tby mx.test\r\nSubject: hi\r\n\r\n"
            b"hello\r\n.dot\r\n")
    three = ((b"b@remote.test", b"rfc822;b@remote.test", 6),
             (b'"odd local"@remote.test', None, 1),
             ("j\u00f6rg@b\u00fccher.test".encode(), None, 8))
    good = qfile(envelope(rcpts=three), body)
    seeds = {
        "good": good,
        "minimal": qfile(envelope(sender=b"", full=False), b""),
        "status": good + status(0, 3, 1, 1796000300, b"451 4.3.0 later")
        + status(2, 1, 1, 1796000300, b"") + status(0, 2, 2, 1796000900,
                                                      b"550 5.1.1 unknown"),
        "status_torn": good + status(1, 2, 1, 1796000300, b"550 no")[:-2],
        "status_badidx": good + status(7, 2, 1, 1796000300, b"x"),
        "cut": good[: len(good) // 2],
        "flipped": good[:40] + bytes([good[40] ^ 0x10]) + good[41:],
        "optional": qfile(envelope(extra=rec(200, b"later")), body),
        "unknown": qfile(envelope(extra=rec(99, b"")), body),
        "norcpt": qfile(envelope(rcpts=()), body),
        "empty": b"",
        "magic": MAGIC,
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
