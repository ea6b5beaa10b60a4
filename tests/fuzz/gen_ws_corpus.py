#!/usr/bin/python3
"""gen_ws_corpus.py - write the seed inputs of fuzz_ws into corpus/ws.

Each input is one byte (bit 0: the decoder expects masked frames; the
rest: the split step) followed by WebSocket frames: the examples of RFC
6455 section 5.7, fragments with control frames between them, closes,
and one of each protocol error.  Run from tests/fuzz/.
"""
import os
import struct

MASK = b"\x37\xfa\x21\x3d"


def frame(op, payload=b"", fin=True, mask=MASK, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    if n < 126:
        head = bytes([b0, n | (0x80 if mask else 0)])
    elif n < 65536:
        head = bytes([b0, 126 | (0x80 if mask else 0)]) + struct.pack("!H", n)
    else:
        head = bytes([b0, 127 | (0x80 if mask else 0)]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def close(code, reason=b""):
    return frame(8, struct.pack("!H", code) + reason)


SEEDS = {
    "rfc-text-unmasked": b"\x00" + bytes.fromhex("810548656c6c6f"),
    "rfc-text-masked": b"\x01" + bytes.fromhex("818537fa213d7f9f4d5158"),
    "rfc-fragments": b"\x02" + bytes.fromhex("010348656c8002 6c6f".replace(" ", "")),
    "rfc-ping": b"\x00" + bytes.fromhex("890548656c6c6f"),
    "rfc-pong-masked": b"\x01" + bytes.fromhex("8a8537fa213d7f9f4d5158"),
    "irc-session": b"\x03"
    + frame(1, b"CAP LS 302")
    + frame(1, b"NICK ws")
    + frame(1, b"USER ws 0 * :web")
    + frame(1, b"PRIVMSG #c :h\xc3\xa9llo")
    + close(1000, b"bye"),
    "fragments-with-ping": b"\x01"
    + frame(1, b"PRIV", fin=False)
    + frame(9, b"p")
    + frame(0, b"MSG #c :", fin=False)
    + frame(10)
    + frame(0, b"x")
    + frame(2, b"\xff\xfe"),
    "utf8-split": b"\x05" + frame(1, b"\xe2\x82", fin=False) + frame(0, b"\xac"),
    "len16": b"\x07" + frame(2, bytes(range(256)) + bytes(44)),
    "len64": b"\x01" + frame(2, b"a" * 70000)[:40],
    "close-empty": b"\x01" + frame(8),
    "close-1005": b"\x01" + close(1005),
    "close-bad-utf8": b"\x01" + close(1000, b"\xc0"),
    "close-one-byte": b"\x01" + frame(8, b"\x03"),
    "rsv": b"\x01" + frame(1, b"a", rsv=0x40),
    "opcode3": b"\x01" + frame(3, b"a"),
    "unmasked": b"\x01" + frame(1, b"a", mask=None),
    "masked-to-client": b"\x00" + frame(1, b"a"),
    "ping-fragmented": b"\x01" + frame(9, b"a", fin=False),
    "cont-first": b"\x01" + frame(0, b"a"),
    "text-in-text": b"\x01" + frame(1, b"a", fin=False) + frame(1, b"b"),
    "text-bad-utf8": b"\x01" + frame(1, b"caf\xe9"),
    "too-big": b"\x01" + frame(2, b"z" * 700),
    "nonminimal16": b"\x01" + bytes([0x82, 0xFE, 0, 5]) + MASK + b"hello",
    "highbit64": b"\x01" + bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + MASK,
    "repair-mix": b"\x00a\xc3\xa9\xe2\x82\xf0\x9f\x98\x80\xed\xa0\x80\xff",
}


def main():
    os.makedirs("corpus/ws", exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join("corpus/ws", name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
