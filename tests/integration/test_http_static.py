"""http module, static handler: files and index files, directories (301,
403, autoindex), 404/405, MIME types and charset, ETag and Last-Modified,
path traversal attempts over raw sockets, symlinks in and out of the root,
gzip_static, virtual hosts and locations, and a file changed on disk being
served fresh once file_cache_valid has passed."""

import gzip
import os
import re
import unittest
import urllib.parse

import loomtest
from loomtest import own, WAIT
from httptest import (assert_common_headers, assert_error_page, case, curl_fetch, etag_of,
                      http_date, HttpD, location, parse_http_date, start_http, static_server,
                      Symlink, wait_for)

MTIME = 1700000000  # Tue, 14 Nov 2023 22:13:20 GMT
SECRET = b"TOPSECRET-d41d8cd98f00b204\n"
HELLO = b"Hello, world\n"
INDEX = b"<html><body>index of www</body></html>\n"


def tree():
    return {
        "secret": SECRET,                       # next to the root, never served
        "www/index.html": INDEX,
        "www/hello.txt": HELLO,
        "www/style.css": b"body { color: black }\n",
        "www/page.htm": b"<p>htm</p>\n",
        "www/pic.png": b"\x89PNG\r\n\x1a\n" + bytes(40),
        "www/data.json": b'{"a": 1}\n',
        "www/blob.zzqunknown": bytes(range(256)),
        "www/noext": b"no extension\n",
        "www/sp ace.txt": b"space\n",
        "www/x.txt": b"x file\n",
        "www/dir/index.html": b"<p>dir index</p>\n",
        "www/noindex/a.txt": b"a\n",
        "www/noindex/b.html": b"b\n",
        "www/noindex/sub/c.txt": b"c\n",
        "www/link_in.txt": Symlink("hello.txt"),
        "www/link_out.txt": Symlink("../secret"),
        "www/link_abs_out.txt": None,  # replaced by an absolute symlink in setUpClass
        "www/linkdir_out": None,
        "www/gz/hello.txt": HELLO,
        "www/gz/hello.txt.gz": gzip.compress(HELLO, mtime=0),
        "www/gz/plain.txt": b"no gz sibling\n",
    }


class Static(unittest.TestCase):
    """One instance, four virtual hosts on the same tree: "localhost" (the
    first, defaults), "follow.test" (follow_symlinks), "auto.test"
    (autoindex), "gz.test" (gzip_static)."""

    @classmethod
    def setUpClass(cls):
        body = (static_server("main", ["localhost"]) +
                static_server("follow", ["follow.test"], loc_opts="follow_symlinks = yes") +
                static_server("auto", ["auto.test"], loc_opts="autoindex = yes") +
                static_server("gz", ["gz.test"], loc_opts="gzip_static = yes"))
        cls.d = HttpD(body, tree=tree())
        own(cls, cls.d)
        www = cls.d.path("www")
        os.rmdir(os.path.join(www, "link_abs_out.txt"))
        os.symlink(cls.d.path("secret"), os.path.join(www, "link_abs_out.txt"))
        os.rmdir(os.path.join(www, "linkdir_out"))
        os.makedirs(cls.d.path("outside"))
        with open(cls.d.path("outside/o.txt"), "wb") as f:
            f.write(SECRET)
        os.symlink(cls.d.path("outside"), os.path.join(www, "linkdir_out"))
        for root, dirs, files in os.walk(www):
            for n in files:
                p = os.path.join(root, n)
                if not os.path.islink(p):
                    os.utime(p, (MTIME, MTIME))
        cls.d.start()

    def get(self, target, host="localhost", headers=(), method="GET"):
        return self.d.request(method, target, headers, host=host)

    # ---- files ---------------------------------------------------------------

    def test_get_file_curl(self):
        r = curl_fetch(self.d.url("/hello.txt"), ["-H", "Host: localhost"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HELLO)
        h = r.headers
        self.assertEqual(h.get("content-length"), str(len(HELLO)))
        self.assertEqual(h.get("content-type"), "text/plain; charset=utf-8")
        self.assertEqual(h.get("accept-ranges"), "bytes")
        self.assertEqual(h.get("etag"), etag_of(self.d.path("www/hello.txt")))
        self.assertEqual(h.get("last-modified"), http_date(MTIME))
        assert_common_headers(self, h)

    def test_head_same_headers_no_body(self):
        c = self.d.conn()
        try:
            c.request("GET", "/hello.txt")
            g = c.read_response()
            c.request("HEAD", "/hello.txt")
            h = c.read_response(head=True)
            # the HEAD answer had no body: the next response starts right after it
            c.request("GET", "/x.txt")
            n = c.read_response()
        finally:
            c.close()
        self.assertEqual((g.status, h.status, n.status), (200, 200, 200))
        self.assertEqual(n.body, b"x file\n")
        self.assertEqual(h.body, b"")
        names = lambda r: sorted(k.lower() for k, _ in r.headers)
        self.assertEqual(names(g), names(h))
        for k in ("content-length", "content-type", "etag", "last-modified", "accept-ranges"):
            self.assertEqual(g.get(k), h.get(k), k)

    def test_head_curl(self):
        r = curl_fetch(self.d.url("/style.css"), ["-I"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-length"), "22")
        self.assertEqual(r.body, b"")

    def test_query_string_ignored(self):
        r = self.get("/hello.txt?v=1&x=%2e%2e")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HELLO)

    def test_percent_decoded_name(self):
        r = self.get("/sp%20ace.txt")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"space\n")
        r = self.get("/%68ello.txt")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HELLO)

    def test_dot_segments_inside_root(self):
        for t in ("/dir/../hello.txt", "/./hello.txt", "/noindex/sub/../../hello.txt",
                  "//hello.txt"):
            with case(target=t):
                r = self.get(t)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, HELLO)

    # ---- directories -------------------------------------------------------------

    def test_index_for_slash(self):
        r = curl_fetch(self.d.url("/"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, INDEX)
        self.assertEqual(r.headers.get("content-type"), "text/html; charset=utf-8")

    def test_index_in_subdirectory(self):
        r = self.get("/dir/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"<p>dir index</p>\n")

    def test_directory_without_slash_301(self):
        for target, want in (("/dir", "/dir/"), ("/dir?q=1&r=2", "/dir/?q=1&r=2"),
                             ("/noindex", "/noindex/")):
            with case(target=target):
                r = self.get(target)
                self.assertEqual(r.status, 301, r)
                loc = urllib.parse.urlsplit(r.get("location") or "")
                got = loc.path + ("?" + loc.query if loc.query else "")
                self.assertEqual(got, want, r)
                if loc.netloc:  # an absolute Location must point back at us
                    self.assertEqual(loc.hostname, "localhost", r)

    def test_curl_follows_directory_redirect(self):
        r = curl_fetch(self.d.url("/dir"), ["-L"])
        self.assertEqual([b.status for b in r.blocks], [301, 200], r)
        self.assertEqual(r.body, b"<p>dir index</p>\n")

    def test_directory_without_index_403(self):
        r = self.get("/noindex/")
        assert_error_page(self, r, 403)

    def test_autoindex(self):
        r = self.get("/noindex/", host="auto.test")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.get("content-type").startswith("text/html"), r)
        text = r.body.decode()
        for name in ("a.txt", "b.html", "sub/"):
            self.assertRegex(text, r'<a href="(\./|/noindex/)?%s">' % re.escape(name), text)
        self.assertNotIn("index.html", text)
        # a link from the listing works
        self.assertEqual(self.get("/noindex/sub/", host="auto.test").status, 200)
        self.assertEqual(self.get("/noindex/a.txt", host="auto.test").body, b"a\n")
        # with an index file the index is served, not a listing
        self.assertEqual(self.get("/dir/", host="auto.test").body, b"<p>dir index</p>\n")

    def test_404(self):
        r = self.get("/nope.txt")
        assert_error_page(self, r, 404)
        assert_common_headers(self, r)
        self.assertEqual(self.get("/dir/nope/deeper").status, 404)
        self.assertEqual(self.get("/hello.txt/x").status, 404)

    # ---- methods -----------------------------------------------------------------

    def test_405_with_allow(self):
        for method in ("POST", "DELETE", "PUT", "PATCH"):
            with case(method=method):
                r = self.get("/hello.txt", method=method)
                self.assertEqual(r.status, 405, r)
                self.assertEqual(sorted(r.tokens("allow")), ["get", "head"], r)

    def test_405_post_with_body_curl(self):
        r = curl_fetch(self.d.url("/hello.txt"), ["-X", "POST", "--data-binary", "x=1"])
        self.assertEqual(r.status, 405, r)
        self.assertEqual(sorted(r.headers.tokens("allow")), ["get", "head"], r)

    def test_options_file(self):
        r = self.get("/hello.txt", method="OPTIONS")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assertTrue({"get", "head"} <= set(r.tokens("allow")), r)

    # ---- types and validators --------------------------------------------------------

    def test_mime_types(self):
        cases = {"/index.html": "text/html; charset=utf-8",
                 "/page.htm": "text/html; charset=utf-8",
                 "/style.css": "text/css; charset=utf-8",
                 "/hello.txt": "text/plain; charset=utf-8",
                 "/pic.png": "image/png",
                 "/data.json": "application/json",
                 "/blob.zzqunknown": "application/octet-stream",
                 "/noext": "application/octet-stream"}
        for target, want in cases.items():
            with case(target=target):
                r = self.get(target)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.get("content-type"), want, r)

    def test_etag_last_modified_format(self):
        for name in ("hello.txt", "blob.zzqunknown", "index.html"):
            with case(name=name):
                r = self.get("/" + name)
                path = self.d.path("www/" + name)
                self.assertEqual(r.get("etag"), etag_of(path), r)
                self.assertRegex(r.get("etag"), r'^"[0-9a-f]+-[0-9a-f]+"$')
                self.assertEqual(parse_http_date(r.get("last-modified")), MTIME)
                self.assertEqual(r.get("last-modified"), http_date(MTIME))

    # ---- path traversal ----------------------------------------------------------

    TRAVERSALS = ["/../secret", "/%2e%2e/secret", "/a/%2e%2e/%2e%2e/secret", "/%2fetc/passwd",
                  "/x%00.txt", "/..%2f..%2fsecret", "/%2e%2e%2fsecret", "/../../../../etc/passwd",
                  "/dir/../../secret", "/%2E%2E/secret", "/.%2e/secret", "/hello.txt%00.png",
                  "/%2e%2e/%2e%2e/%2e%2e/etc/passwd"]

    def test_traversal_refused(self):
        """Every attempt is refused with 400 (spec: `..` above the root, %2f,
        %00 -> 400) and nothing from outside the root leaks."""
        for t in self.TRAVERSALS:
            with case(target=t):
                for host in ("localhost", "follow.test", "auto.test"):
                    r = self.get(t, host=host)
                    self.assertEqual(r.status, 400, "%s (Host %s): %r" % (t, host, r))
                    self.assertNotIn(b"TOPSECRET", r.body)
                    self.assertNotIn(b"root:", r.body)

    def test_traversal_absolute_form(self):
        for t in ("http://localhost/../secret", "http://localhost/%2e%2e/secret"):
            with case(target=t):
                r = self.get(t)
                self.assertEqual(r.status, 400, r)
                self.assertNotIn(b"TOPSECRET", r.body)

    def test_backslash_and_control_chars(self):
        for t in ("/%01hello.txt", "/hello.txt%0d%0a"):
            with case(target=t):
                r = self.get(t)
                self.assertEqual(r.status, 400, r)
        r = self.get("/..%5csecret")
        self.assertIn(r.status, (400, 403, 404), r)
        self.assertNotIn(b"TOPSECRET", r.body)

    # ---- symlinks ----------------------------------------------------------------

    def test_symlink_inside_root(self):
        for host in ("localhost", "follow.test"):
            with case(host=host):
                r = self.get("/link_in.txt", host=host)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, HELLO)

    def test_symlink_outside_root_refused_by_default(self):
        for t in ("/link_out.txt", "/link_abs_out.txt", "/linkdir_out/o.txt"):
            with case(target=t):
                r = self.get(t)
                self.assertEqual(r.status, 404, r)
                self.assertNotIn(b"TOPSECRET", r.body)

    def test_symlink_outside_root_followed_when_allowed(self):
        for t in ("/link_out.txt", "/link_abs_out.txt", "/linkdir_out/o.txt"):
            with case(target=t):
                r = self.get(t, host="follow.test")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, SECRET)

    # ---- gzip_static ---------------------------------------------------------------

    def test_gzip_static_with_accept_encoding(self):
        gz = gzip.compress(HELLO, mtime=0)
        for ae in ("gzip", "gzip, deflate, br", "deflate, gzip;q=0.8"):
            with case(accept_encoding=ae):
                r = self.get("/gz/hello.txt", host="gz.test", headers=[("Accept-Encoding", ae)])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, gz)
                self.assertEqual(r.get("content-encoding"), "gzip", r)
                self.assertIn("accept-encoding", r.tokens("vary"), r)
                self.assertEqual(r.get("content-type"), "text/plain; charset=utf-8", r)
                self.assertEqual(r.get("content-length"), str(len(gz)), r)
                self.assertEqual(gzip.decompress(r.body), HELLO)

    def test_gzip_static_without_accept_encoding(self):
        r = self.get("/gz/hello.txt", host="gz.test")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HELLO)
        self.assertFalse(r.has("content-encoding"), r)
        self.assertIn("accept-encoding", r.tokens("vary"), r)
        r = self.get("/gz/hello.txt", host="gz.test", headers=[("Accept-Encoding", "br")])
        self.assertEqual(r.body, HELLO)
        self.assertFalse(r.has("content-encoding"), r)

    def test_gzip_static_no_sibling(self):
        r = self.get("/gz/plain.txt", host="gz.test", headers=[("Accept-Encoding", "gzip")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"no gz sibling\n")
        self.assertFalse(r.has("content-encoding"), r)

    def test_gzip_static_curl_compressed(self):
        r = curl_fetch(self.d.url("/gz/hello.txt"), ["--compressed", "-H", "Host: gz.test"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-encoding"), "gzip", r)
        self.assertEqual(r.body, HELLO)  # curl decoded it

    def test_gzip_static_off_ignores_gz(self):
        r = self.get("/gz/hello.txt", headers=[("Accept-Encoding", "gzip")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, HELLO)
        self.assertFalse(r.has("content-encoding"), r)

    def test_gz_file_itself(self):
        """The .gz file asked for by name is an ordinary file."""
        r = self.get("/gz/hello.txt.gz", host="gz.test")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, gzip.compress(HELLO, mtime=0))


class Unreadable(unittest.TestCase):
    def test_unreadable_file_403(self):
        """EACCES -> 403.  As root loomd is made to drop to nobody, for
        whom the file is unreadable."""
        user = "nobody" if loomtest.is_root() else None
        d = start_http(self, static_server(), user=user,
                       tree={"www/locked.txt": b"locked\n", "www/open.txt": b"open\n",
                             "www/lockeddir/x.txt": b"x\n"})
        os.chmod(d.path("www/locked.txt"), 0)
        os.chmod(d.path("www/lockeddir"), 0)
        self.assertEqual(d.get("/open.txt").body, b"open\n")
        assert_error_page(self, d.get("/locked.txt"), 403)
        self.assertEqual(d.get("/lockeddir/x.txt").status, 403)


class Routing(unittest.TestCase):
    """Virtual hosts by Host (exact, "*.suffix", default) and locations
    (longest prefix, "= exact")."""

    @classmethod
    def setUpClass(cls):
        t = {}
        for name in ("first", "dflt", "wild", "exact"):
            t["%s/who.txt" % name] = name + "\n"
            t["%s/exact" % name] = "exact file of %s\n" % name
            t["%s/api/x" % name] = "api file of %s\n" % name
        t["sub2/sub/f.txt"] = "sub2\n"
        body = (static_server("first", ["first.test", "www.first.test"], root="first") +
                static_server("dflt", ["dflt.test"], root="dflt", server_opts="default = yes") +
                static_server("wild", ["*.example.test"], root="wild") +
                static_server("exact", ["localhost"], root="exact", extra_locations=(
                    location("/api/", {"handler": '"return"', "status": "200", "body": '"api"'}) +
                    location("/api/deeper/", {"handler": '"return"', "status": "200",
                                              "body": '"deeper"'}) +
                    location("= /exact", {"handler": '"return"', "status": "200",
                                          "body": '"exact location"'}) +
                    location("/sub/", {"handler": '"static"', "root": '"sub2"'}))))
        cls.d = HttpD(body, tree=t)
        own(cls, cls.d)
        cls.d.start()

    def who(self, host, target="/who.txt"):
        r = self.d.get(target, host=host)
        self.assertEqual(r.status, 200, r)
        return r.body.decode().strip()

    def test_exact_names(self):
        self.assertEqual(self.who("first.test"), "first")
        self.assertEqual(self.who("www.first.test"), "first")
        self.assertEqual(self.who("dflt.test"), "dflt")
        self.assertEqual(self.who("localhost"), "exact")

    def test_name_case_and_port(self):
        self.assertEqual(self.who("FIRST.Test"), "first")
        self.assertEqual(self.who("first.test:%d" % self.d.port), "first")
        self.assertEqual(self.who("first.test."), "first")

    def test_wildcard(self):
        self.assertEqual(self.who("a.example.test"), "wild")
        self.assertEqual(self.who("a.b.example.test"), "wild")
        self.assertEqual(self.who("example.test"), "dflt")  # "*.x" does not match x
        self.assertEqual(self.who("aexample.test"), "dflt")

    def test_unmatched_goes_to_default(self):
        self.assertEqual(self.who("nowhere.test"), "dflt")
        self.assertEqual(self.who("127.0.0.1"), "dflt")

    def test_absolute_form_authority_wins(self):
        r = self.d.get("http://first.test/who.txt", host="dflt.test")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"first\n")

    def test_longest_prefix(self):
        self.assertEqual(self.d.get("/api/x").body, b"api")
        self.assertEqual(self.d.get("/api/").body, b"api")
        self.assertEqual(self.d.get("/api/deeper/x").body, b"deeper")
        self.assertEqual(self.d.get("/apix").status, 404)  # "/" static: no such file
        self.assertEqual(self.d.get("/api").status, 301)   # "/" static: a directory

    def test_exact_location(self):
        r = self.d.get("/exact")
        self.assertEqual((r.status, r.body), (200, b"exact location"), r)
        r = self.d.get("/exact?x=1")
        self.assertEqual((r.status, r.body), (200, b"exact location"), r)
        r = self.d.get("/exact", host="first.test")  # other vhost: the static file
        self.assertEqual(r.body, b"exact file of first\n")
        r = self.d.get("/exactly")
        self.assertEqual(r.status, 404, r)

    def test_root_appends_full_path(self):
        """nginx's `root` (the spec does not say): location "/sub/" with
        root "sub2" serves sub2/sub/f.txt for /sub/f.txt."""
        r = self.d.get("/sub/f.txt")
        self.assertEqual((r.status, r.body), (200, b"sub2\n"), r)


class Freshness(unittest.TestCase):
    def test_changed_file_served_fresh(self):
        """A cached (small) file rewritten on disk is served with its new
        content and validators once file_cache_valid has passed: polled,
        no timing asserted."""
        d = start_http(self, static_server(), opts="file_cache_valid = 1\n",
                       tree={"www/f.txt": b"version one\n", "www/big.bin": os.urandom(40000)})
        path = d.path("www/f.txt")
        os.utime(path, (MTIME, MTIME))
        for _ in range(3):  # make sure it is in the cache
            r = d.get("/f.txt")
            self.assertEqual(r.body, b"version one\n")
        with open(path, "wb") as f:
            f.write(b"version two, longer\n")
        os.utime(path, (MTIME + 100, MTIME + 100))
        r = wait_for(lambda: (lambda r: r if r.body != b"version one\n" else None)(d.get("/f.txt")),
                     timeout=WAIT, interval=0.2, what="the new content")
        self.assertEqual(r.body, b"version two, longer\n")
        self.assertEqual(r.get("etag"), etag_of(path))
        self.assertEqual(r.get("content-length"), "20")
        self.assertEqual(r.get("last-modified"), http_date(MTIME + 100))
        # same size, new bytes and mtime
        with open(path, "wb") as f:
            f.write(b"version 3, longer!!\n")
        os.utime(path, (MTIME + 200, MTIME + 200))
        r = wait_for(lambda: (lambda r: r if r.body != b"version two, longer\n" else None)(
            d.get("/f.txt")), timeout=WAIT, interval=0.2, what="the third content")
        self.assertEqual(r.body, b"version 3, longer!!\n")
        # removed: 404 once noticed
        os.unlink(path)
        wait_for(lambda: d.get("/f.txt").status == 404, timeout=WAIT, interval=0.2,
                 what="404 after removal")
        # a large (uncached) file replaced
        new = os.urandom(30000)
        with open(d.path("www/big.bin"), "wb") as f:
            f.write(new)
        wait_for(lambda: d.get("/big.bin").body == new, timeout=WAIT, interval=0.2,
                 what="the new big.bin")

    def test_new_file_appears(self):
        d = start_http(self, static_server(), tree={"www/index.html": "i\n"})
        self.assertEqual(d.get("/later.txt").status, 404)
        with open(d.path("www/later.txt"), "wb") as f:
            f.write(b"later\n")
        r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(d.get("/later.txt")),
                     timeout=WAIT, interval=0.2, what="the new file")
        self.assertEqual(r.body, b"later\n")


class Options(unittest.TestCase):
    def test_default_type_and_charset(self):
        d = start_http(self, static_server(), opts='default_type = "application/x-loom-test"\n'
                       'charset = ""\n',
                       tree={"www/a.zzqunknown": "?", "www/a.txt": "t", "www/a.html": "h"})
        self.assertEqual(d.get("/a.zzqunknown").get("content-type"), "application/x-loom-test")
        self.assertEqual(d.get("/a.txt").get("content-type"), "text/plain")
        self.assertEqual(d.get("/a.html").get("content-type"), "text/html")

    def test_other_charset(self):
        d = start_http(self, static_server(), opts='charset = "iso-8859-1"\n',
                       tree={"www/a.txt": "t"})
        self.assertEqual(d.get("/a.txt").get("content-type"), "text/plain; charset=iso-8859-1")

    def test_mime_types_file(self):
        d = start_http(self, static_server(), opts='mime_types = "my.types"\n',
                       tree={"my.types": "application/x-loom-special   loomx lmx\n",
                             "www/a.loomx": "1", "www/b.lmx": "2", "www/c.css": "3"})
        self.assertEqual(d.get("/a.loomx").get("content-type"), "application/x-loom-special")
        self.assertEqual(d.get("/b.lmx").get("content-type"), "application/x-loom-special")
        # the built-in table still applies
        self.assertEqual(d.get("/c.css").get("content-type"), "text/css; charset=utf-8")

    def test_index_list_order(self):
        d = start_http(self, static_server(loc_opts='index = {"default.htm", "index.html"}'),
                       tree={"www/index.html": "index\n", "www/default.htm": "default\n",
                             "www/d2/index.html": "d2 index\n"})
        self.assertEqual(d.get("/").body, b"default\n")
        self.assertEqual(d.get("/d2/").body, b"d2 index\n")


if __name__ == "__main__":
    loomtest.main()
