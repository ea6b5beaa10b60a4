#!/usr/bin/python3
"""gen_h2_corpus.py - write the seed corpus of fuzz_h2 (tests/fuzz/corpus/h2/).

Needs Debian's python3-h2 (hyperframe, hpack); run with /usr/bin/python3
from anywhere:  /usr/bin/python3 tests/fuzz/gen_h2_corpus.py

Every file is fuzz_h2's input: a selector byte (bits 0-1 the mode: bit 0
the target prepends a valid preface + SETTINGS itself, bit 1 the
connection starts as ALPN h2; bits 2-3: chunks - 1; bit 4: a graceful
GOAWAY after the first chunk), two bytes placing the
cuts between chunks, then the client's bytes.
"""
import os
import sys

from hpack import Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, GoAwayFrame,
                              HeadersFrame, PingFrame, PriorityFrame,
                              RstStreamFrame, SettingsFrame,
                              WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h2")


def settings(**kw):
    return SettingsFrame(0, settings=kw.get("values", {})).serialize()


def req(enc, method, path, extra=(), authority="localhost"):
    return enc.encode([(":method", method), (":scheme", "http"),
                       (":authority", authority), (":path", path)]
                      + list(extra))


def headers(sid, block, end_stream=True, end_headers=True, **kw):
    flags = []
    if end_stream:
        flags.append("END_STREAM")
    if end_headers:
        flags.append("END_HEADERS")
    if kw.get("padded"):
        flags.append("PADDED")
    if kw.get("priority"):
        flags.append("PRIORITY")
    f = HeadersFrame(sid, data=block, flags=flags)
    if kw.get("padded"):
        f.pad_length = kw["padded"]
    if kw.get("priority"):
        f.depends_on, f.stream_weight, f.exclusive = kw["priority"]
    return f.serialize()


def data(sid, payload, end_stream=True, pad=0):
    flags = ["END_STREAM"] if end_stream else []
    if pad:
        flags.append("PADDED")
    f = DataFrame(sid, data=payload, flags=flags)
    if pad:
        f.pad_length = pad
    return f.serialize()


def seed(name, body, mode=1, chunks=1, cut1=0x55, cut2=0xaa, goaway=False):
    sel = (mode & 3) | (((chunks - 1) & 3) << 2) | (16 if goaway else 0)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([sel, cut1, cut2]) + body)


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.unlink(os.path.join(OUT, old))

    e = Encoder()
    seed("get_hello", headers(1, req(e, "GET", "/hello.txt")))

    e = Encoder()
    seed("get_multi", b"".join(
        headers(sid, req(e, "GET", p))
        for sid, p in ((1, "/hello.txt"), (3, "/index.html"), (5, "/d/"),
                       (7, "/ret"), (9, "/nope"), (11, "/big.bin"))),
        chunks=3, cut1=0x30, cut2=0x90)

    e = Encoder()
    seed("head", headers(1, req(e, "HEAD", "/hello.txt")) +
         headers(3, req(e, "HEAD", "/nope")))

    e = Encoder()
    seed("post_echo",
         headers(1, req(e, "POST", "/echo",
                        [("content-length", "11"),
                         ("content-type", "text/plain")]), end_stream=False) +
         data(1, b"hello", end_stream=False) + data(1, b" world"),
         chunks=2, cut1=0x80)

    e = Encoder()
    seed("post_echo_nocl",
         headers(1, req(e, "POST", "/echo"), end_stream=False) +
         data(1, b"abc", end_stream=False) + data(1, b"", end_stream=False) +
         data(1, b"def"))

    e = Encoder()
    seed("post_too_big",
         headers(1, req(e, "POST", "/echo", [("content-length", "2000")]),
                 end_stream=False) +
         data(1, b"x" * 1000, end_stream=False) + data(1, b"y" * 1000))

    e = Encoder()
    block = req(e, "GET", "/hello.txt", [("x-long", "v" * 60),
                                         ("user-agent", "fuzz")])
    third = len(block) // 3
    seed("continuation",
         headers(1, block[:third], end_headers=False) +
         ContinuationFrame(1, data=block[third:2 * third]).serialize() +
         ContinuationFrame(1, data=block[2 * third:],
                           flags=["END_HEADERS"]).serialize())

    e = Encoder()
    seed("ping", PingFrame(0, opaque_data=b"loomping").serialize() +
         headers(1, req(e, "GET", "/ret")) +
         PingFrame(0, opaque_data=b"\0" * 8, flags=["ACK"]).serialize())

    e = Encoder()
    seed("settings",
         SettingsFrame(0, settings={
             SettingsFrame.HEADER_TABLE_SIZE: 0,
             SettingsFrame.INITIAL_WINDOW_SIZE: 10,
             SettingsFrame.MAX_FRAME_SIZE: 16384,
             SettingsFrame.MAX_CONCURRENT_STREAMS: 3}).serialize() +
         SettingsFrame(0, flags=["ACK"]).serialize() +
         headers(1, req(e, "GET", "/big.bin")))

    e = Encoder()
    seed("rst", headers(1, req(e, "GET", "/big.bin")) +
         RstStreamFrame(1, error_code=8).serialize() +
         headers(3, req(e, "GET", "/hello.txt")) +
         headers(5, req(e, "POST", "/echo"), end_stream=False) +
         data(5, b"part", end_stream=False) +
         RstStreamFrame(5, error_code=8).serialize())

    e = Encoder()
    seed("goaway", headers(1, req(e, "GET", "/hello.txt")) +
         GoAwayFrame(0, last_stream_id=0, error_code=0).serialize() +
         headers(3, req(e, "GET", "/ret")))

    e = Encoder()
    seed("window_update",
         SettingsFrame(0, settings={
             SettingsFrame.INITIAL_WINDOW_SIZE: 100}).serialize() +
         headers(1, req(e, "GET", "/big.bin")) +
         headers(3, req(e, "GET", "/big.bin")) +
         WindowUpdateFrame(0, window_increment=100000).serialize() +
         WindowUpdateFrame(1, window_increment=1000).serialize() +
         WindowUpdateFrame(3, window_increment=70000).serialize(),
         chunks=3, cut1=0x40, cut2=0xc0)

    e = Encoder()
    seed("raw_preface", PREFACE + settings() +
         headers(1, req(e, "GET", "/hello.txt")), mode=0, chunks=2, cut1=0x10)

    seed("raw_h1", b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
         b"GET /ret HTTP/1.1\r\nHost: localhost\r\n\r\n", mode=0)

    seed("upgrade_h2c",
         b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n"
         b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
         b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n" + PREFACE + settings(),
         mode=0, chunks=2, cut1=0x70)

    e = Encoder()
    seed("alpn", headers(1, req(e, "GET", "/index.html")) +
         headers(3, req(e, "GET", "/hello.txt")), mode=3, chunks=3,
         cut1=0x20, cut2=0xe0)

    seed("alpn_h1", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", mode=2)

    e = Encoder()
    seed("priority", PriorityFrame(3, depends_on=0, stream_weight=200)
         .serialize() +
         headers(1, req(e, "GET", "/hello.txt"), priority=(3, 15, True)) +
         PriorityFrame(1, depends_on=0, stream_weight=1).serialize())

    e = Encoder()
    seed("padded",
         headers(1, req(e, "POST", "/echo"), end_stream=False, padded=7) +
         data(1, b"padded body", pad=20))

    e = Encoder()
    seed("trailers",
         headers(1, req(e, "POST", "/echo", [("te", "trailers")]),
                 end_stream=False) +
         data(1, b"body", end_stream=False) +
         headers(1, e.encode([("x-trailer", "t")])))

    e = Encoder()
    seed("vhost_authority",
         headers(1, req(e, "GET", "/hello.txt", authority="other.example")) +
         headers(3, e.encode([(":method", "GET"), (":scheme", "http"),
                              (":path", "/ret"), ("host", "localhost")])))

    e = Encoder()
    seed("malformed", headers(1, e.encode([(":method", "GET"),
                                            (":path", "/hello.txt")])) +
         # DATA on stream 0 (hyperframe refuses to make one)
         b"\x00\x00\x04\x00\x01\x00\x00\x00\x00zero" +
         headers(3, req(e, "GET", "/ret")))

    # RFC 9113 stream states: a lower stream id, frames after the client's
    # RST_STREAM, on a closed stream, after an early answer
    e = Encoder()
    seed("lower_stream_id", headers(5, req(e, "GET", "/hello.txt")) +
         headers(3, req(e, "GET", "/hello.txt")), chunks=2, cut1=0x80)
    e = Encoder()
    seed("data_after_rst", headers(1, req(e, "POST", "/echo"), end_stream=False) +
         data(1, b"some", end_stream=False) +
         RstStreamFrame(1, error_code=8).serialize() + data(1, b"late"),
         chunks=3)
    e = Encoder()
    seed("data_on_closed", headers(1, req(e, "GET", "/hello.txt")) +
         data(1, b"late"), chunks=2, cut1=0x90)
    e = Encoder()
    seed("early_answer_bad_padding",
         headers(1, req(e, "POST", "/hello.txt"), end_stream=False) +
         # pad length 5 in a 5-byte payload (hyperframe refuses to make one)
         b"\x00\x00\x05\x00\x08\x00\x00\x00\x01\x05abcd", chunks=2, cut1=0xa0)
    e = Encoder()
    seed("early_answer_cl_mismatch",
         headers(1, req(e, "POST", "/ret", [("content-length", "5")]), end_stream=False) +
         data(1, b"0123456789") +
         headers(3, req(e, "POST", "/ret"), end_stream=False) +
         headers(3, e.encode([(":path", "/x")])), chunks=2, cut1=0x80)
    e = Encoder()
    seed("early_answer_window_overflow",
         headers(1, req(e, "POST", "/ret"), end_stream=False) +
         WindowUpdateFrame(1, window_increment=0x7fffffff).serialize(), chunks=2,
         cut1=0xc0)
    # a graceful GOAWAY: the notice's PING acked, a stream crossing it
    e = Encoder()
    seed("graceful_goaway", headers(1, req(e, "GET", "/hello.txt")) +
         headers(3, req(e, "GET", "/index.html")) +
         PingFrame(0, opaque_data=b"loombye!", flags=["ACK"]).serialize() +
         headers(5, req(e, "GET", "/hello.txt")), chunks=2, cut1=0x60, goaway=True)
    # the preface's request line, then something else, on the cleartext port
    seed("broken_preface", b"PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n" + settings(), mode=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
