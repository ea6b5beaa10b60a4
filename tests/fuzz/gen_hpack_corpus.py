#!/usr/bin/python3
"""gen_hpack_corpus.py - write the seed corpus of fuzz_hpack
(tests/fuzz/corpus/hpack/).  Run from anywhere:
    /usr/bin/python3 tests/fuzz/gen_hpack_corpus.py

Every file is fuzz_hpack's input: a byte choosing the table bound (bits
0-5 x 64, 0 = 4096) and Huffman re-encoding (bit 6), a byte for the list
limit (x 16, 0 = none), then header blocks, each after its length byte.
The seeds are the RFC 7541 Appendix C blocks, blocks written by python3's
hpack package (an independent encoder, when installed), and the error
shapes the unit test names.
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                   "hpack")

C3 = ["828684410f7777772e6578616d706c652e636f6d",
      "828684be58086e6f2d6361636865",
      "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"]
C4 = ["828684418cf1e3c2e5f23a6ba0ab90f4ff",
      "828684be5886a8eb10649cbf",
      "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]
C5 = ["4803333032580770726976617465611d4d6f6e2c203231204f63742032303133"
      "2032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d70"
      "6c652e636f6d",
      "4803333037c1c0bf",
      "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d"
      "54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f5049"
      "5541585157454f49553b206d61782d6167653d333630303b2076657273696f6e"
      "3d31"]
C6 = ["488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a6"
      "2d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
      "4883640effc1c0bf",
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab"
      "77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f"
      "9587316065c003ed4ee5b1063d5007"]
BAD = ["80", "be", "ff8001", "7e0161", "3fe21f", "8220", "20823fe101",
       "ff", "ffffffffff7f", "ff808080808000", "40056162", "400161",
       "04 84ffffffff", "04821fff", "0481ff", "048118", "3f",
       "203fe11f82", "40016101623f02be"]


def blocks(cfg, lim, hexes):
    out = bytes([cfg, lim])
    for h in hexes:
        b = bytes.fromhex(h.replace(" ", ""))
        assert len(b) < 256
        out += bytes([len(b)]) + b
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "c3_requests": blocks(0, 0, C3),
        "c4_requests_huffman": blocks(0x40, 0, C4),
        "c5_responses_256": blocks(4, 0, C5),
        "c6_responses_huffman_256": blocks(0x44, 0, C6),
        "c4_list_limit": blocks(0x40, 6, C4),
        "c5_small_table": blocks(1, 0, C5),
    }
    for i, h in enumerate(BAD):
        seeds["bad_%02d" % i] = blocks(0, 0, [C3[0], h])
    try:
        from hpack import Encoder
        enc = Encoder()
        lists = [
            [(":status", "200"), ("server", "loom"),
             ("content-type", "text/html"), ("content-length", "1234"),
             ("date", "Mon, 07 Dec 2026 20:41:43 GMT")],
            [(":status", "404"), ("server", "loom"),
             ("content-type", "text/plain"), ("x-custom", "a" * 40)],
            [(":method", "GET"), (":path", "/a/b?c=d"), (":scheme", "https"),
             (":authority", "example.org"), ("user-agent", "curl/7.88.1"),
             ("accept", "*/*"), ("cookie", "a=b; c=d")],
        ]
        out = []
        for lst in lists * 2:
            out.append(enc.encode(lst).hex())
        enc.header_table_size = 100
        out.append(enc.encode(lists[0]).hex())
        seeds["python_hpack"] = blocks(0, 0, out)
    except ImportError:
        pass
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
