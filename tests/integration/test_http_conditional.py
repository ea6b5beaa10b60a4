"""http module, static handler: byte ranges (curl -r and raw Range fields)
and conditional requests (If-None-Match, If-Modified-Since, If-Match,
If-Unmodified-Since, If-Range); 304 answers carry no body."""

import os
import unittest

import loomtest
from loomtest import own
from httptest import HttpD, case, curl_fetch, etag_of, http_date, static_server

MTIME = 1700000000
DATA = bytes((i * 7 + 3) % 251 for i in range(1000))
SIZE = len(DATA)


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = HttpD(static_server(), tree={"www/data.bin": DATA, "www/t.txt": b"text\n",
                                             "www/big.bin": os.urandom(100000)})
        own(cls, cls.d)
        for n in ("data.bin", "t.txt", "big.bin"):
            os.utime(cls.d.path("www/" + n), (MTIME, MTIME))
        cls.d.start()
        cls.etag = etag_of(cls.d.path("www/data.bin"))
        cls.lm = http_date(MTIME)

    def get(self, headers, target="/data.bin", method="GET"):
        return self.d.request(method, target, headers)

    def assert_whole(self, r, data=DATA):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, data)
        self.assertEqual(r.get("content-length"), str(len(data)), r)
        self.assertFalse(r.has("content-range"), r)

    def assert_partial(self, r, first, last, size=SIZE, data=DATA):
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.get("content-range"), "bytes %d-%d/%d" % (first, last, size), r)
        self.assertEqual(r.body, data[first:last + 1])
        self.assertEqual(r.get("content-length"), str(last - first + 1), r)


class Ranges(Base):
    def test_curl_single_range(self):
        r = curl_fetch(self.d.url("/data.bin"), ["-r", "0-99"])
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.headers.get("content-range"), "bytes 0-99/1000")
        self.assertEqual(r.body, DATA[:100])
        r = curl_fetch(self.d.url("/data.bin"), ["-r", "500-500"])
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.body, DATA[500:501])

    def test_single_range(self):
        self.assert_partial(self.get([("Range", "bytes=10-19")]), 10, 19)
        self.assert_partial(self.get([("Range", "bytes=0-0")]), 0, 0)
        self.assert_partial(self.get([("Range", "bytes=999-999")]), 999, 999)

    def test_range_headers_kept(self):
        r = self.get([("Range", "bytes=10-19")])
        self.assertEqual(r.get("etag"), self.etag)
        self.assertEqual(r.get("last-modified"), self.lm)
        self.assertEqual(r.get("accept-ranges"), "bytes")

    def test_last_byte_past_end_clamped(self):
        self.assert_partial(self.get([("Range", "bytes=990-5000")]), 990, 999)

    def test_suffix_range(self):
        self.assert_partial(self.get([("Range", "bytes=-100")]), 900, 999)
        r = curl_fetch(self.d.url("/data.bin"), ["-r", "-10"])
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.body, DATA[-10:])
        # a suffix longer than the file is the whole file, as a 206
        self.assert_partial(self.get([("Range", "bytes=-5000")]), 0, 999)

    def test_open_range(self):
        self.assert_partial(self.get([("Range", "bytes=900-")]), 900, 999)
        r = curl_fetch(self.d.url("/data.bin"), ["-r", "995-"])
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.body, DATA[995:])

    def test_unsatisfiable(self):
        for spec in ("bytes=1000-", "bytes=1000-1010", "bytes=5000-6000", "bytes=-0"):
            with case(range=spec):
                r = self.get([("Range", spec)])
                self.assertEqual(r.status, 416, r)
                self.assertEqual(r.get("content-range"), "bytes */%d" % SIZE, r)

    def test_multiple_disjoint_whole_file(self):
        for spec in ("bytes=0-9,500-509", "bytes=0-0,-1", "bytes=100-199, 300-399, 900-"):
            with case(range=spec):
                self.assert_whole(self.get([("Range", spec)]))

    def test_overlapping_merge(self):
        self.assert_partial(self.get([("Range", "bytes=0-99,50-149")]), 0, 149)
        self.assert_partial(self.get([("Range", "bytes=100-199,150-")]), 100, 999)
        self.assert_partial(self.get([("Range", "bytes=10-20, 15-30, 12-25")]), 10, 30)

    def test_bad_syntax_ignored(self):
        for spec in ("bytes=abc", "bytes=0-5x", "items=0-5", "bytes", "bytes=--5", "bytes=1-2-3"):
            with case(range=spec):
                self.assert_whole(self.get([("Range", spec)]))

    def test_range_on_larger_file(self):
        data = open(self.d.path("www/big.bin"), "rb").read()
        r = self.get([("Range", "bytes=65530-70000")], target="/big.bin")
        self.assert_partial(r, 65530, 70000, size=len(data), data=data)

    def test_head_with_range(self):
        r = self.d.request("HEAD", "/data.bin", [("Range", "bytes=10-19")])
        self.assertIn(r.status, (200, 206), r)
        self.assertEqual(r.body, b"")
        if r.status == 206:
            self.assertEqual(r.get("content-range"), "bytes 10-19/1000")


class Conditional(Base):
    def test_if_none_match(self):
        for inm in (self.etag, "W/" + self.etag, '"nope", ' + self.etag, "*"):
            with case(if_none_match=inm):
                r = self.get([("If-None-Match", inm)])
                self.assertEqual(r.status, 304, r)
                self.assertEqual(r.get("etag"), self.etag, r)
                self.assertEqual(r.get("last-modified"), self.lm, r)
        self.assert_whole(self.get([("If-None-Match", '"other"')]))
        self.assert_whole(self.get([("If-None-Match", 'W/"other"')]))

    def test_if_none_match_curl(self):
        r = curl_fetch(self.d.url("/data.bin"), ["-H", "If-None-Match: " + self.etag])
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")

    def test_if_modified_since(self):
        r = self.get([("If-Modified-Since", self.lm)])
        self.assertEqual(r.status, 304, r)
        self.assert_whole(self.get([("If-Modified-Since", http_date(MTIME - 3600))]))

    def test_if_modified_since_curl_z(self):
        r = curl_fetch(self.d.url("/data.bin"), ["-z", self.lm])
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")

    def test_inm_wins_over_ims(self):
        """If-None-Match present: If-Modified-Since is ignored (RFC 9110)."""
        r = self.get([("If-None-Match", '"other"'), ("If-Modified-Since", self.lm)])
        self.assert_whole(r)

    def test_304_has_no_body(self):
        """On one keep-alive connection: the 304 is followed directly by the
        next response, so not one body byte was sent."""
        c = self.d.conn()
        try:
            c.request("GET", "/data.bin", [("If-None-Match", self.etag)])
            c.request("GET", "/t.txt", [("If-Modified-Since", self.lm)])
            c.request("GET", "/t.txt")
            r1 = c.read_response()
            r2 = c.read_response()
            r3 = c.read_response()
        finally:
            c.close()
        self.assertEqual((r1.status, r2.status, r3.status), (304, 304, 200))
        self.assertEqual(r3.body, b"text\n")
        for r in (r1, r2):
            self.assertFalse(r.has("transfer-encoding"), r)
            cl = r.get("content-length")
            self.assertIn(cl, (None, "0", str(SIZE), "5"), r)

    def test_if_match(self):
        r = self.get([("If-Match", '"mismatch"')])
        self.assertEqual(r.status, 412, r)
        self.assertNotEqual(r.body, DATA)
        self.assert_whole(self.get([("If-Match", self.etag)]))
        self.assert_whole(self.get([("If-Match", "*")]))
        self.assert_whole(self.get([("If-Match", '"x", ' + self.etag)]))
        # weak tags never match If-Match (strong comparison)
        self.assertEqual(self.get([("If-Match", "W/" + self.etag)]).status, 412)

    def test_if_unmodified_since(self):
        r = self.get([("If-Unmodified-Since", http_date(MTIME - 3600))])
        self.assertEqual(r.status, 412, r)
        self.assert_whole(self.get([("If-Unmodified-Since", self.lm)]))
        self.assert_whole(self.get([("If-Unmodified-Since", http_date(MTIME + 3600))]))

    def test_if_range_etag(self):
        r = self.get([("Range", "bytes=0-9"), ("If-Range", self.etag)])
        self.assert_partial(r, 0, 9)
        r = self.get([("Range", "bytes=0-9"), ("If-Range", '"different"')])
        self.assert_whole(r)
        r = self.get([("Range", "bytes=0-9"), ("If-Range", "W/" + self.etag)])
        self.assert_whole(r)

    def test_if_range_date(self):
        self.assert_partial(self.get([("Range", "bytes=5-9"), ("If-Range", self.lm)]), 5, 9)
        self.assert_whole(self.get([("Range", "bytes=5-9"), ("If-Range", http_date(MTIME - 60))]))

    def test_if_range_curl(self):
        r = curl_fetch(self.d.url("/data.bin"), ["-r", "0-9", "-H", "If-Range: " + self.etag])
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.body, DATA[:10])
        r = curl_fetch(self.d.url("/data.bin"), ["-r", "0-9", "-H", 'If-Range: "old"'])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, DATA)

    def test_head_304(self):
        r = self.d.request("HEAD", "/data.bin", [("If-None-Match", self.etag)])
        self.assertEqual(r.status, 304, r)

    def test_304_with_etag_from_a_get(self):
        r = self.d.get("/t.txt")
        et = r.get("etag")
        self.assertEqual(self.get([("If-None-Match", et)], target="/t.txt").status, 304)


if __name__ == "__main__":
    loomtest.main()
