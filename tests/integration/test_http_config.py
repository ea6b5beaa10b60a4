"""http module configuration: every error the spec lists stops loomd (and
loomd -t) with exit 1 and exactly one stderr line `FILE:LINE: message`
naming the offending line; SIGHUP with a broken file keeps the old
configuration serving, with a good one serves the new."""

import os
import unittest

import loomtest
from loomtest import DaemonTest
from loomtest import (assert_error_line, free_port, line_of, run_loomd,
                      start_expect_exit)
from httptest import HttpD, case, curl_fetch, http_section, wait_for


def loc_server(loc_text, title="main", names=("localhost",), server_opts=""):
    names_v = "{" + ", ".join('"%s"' % n for n in names) + "}"
    return ('    server "%s" {\n        names = %s\n%s%s    }\n'
            % (title, names_v, server_opts, loc_text))


def static_loc(title="/", extra="", root='"www"'):
    return ('        location "%s" {\n'
            '            handler = "static"\n'
            '%s'
            '%s'
            '        }\n') % (title, '            root = %s\n' % root if root else "", extra)


def loc(title, body):
    return '        location "%s" {\n%s        }\n' % (title, body)


class ConfigErrors(DaemonTest):
    def expect(self, body, needle, nth=1, lines=None, opts="", tree=None, extra_needles=()):
        """An http instance with BODY fails with one line naming the line
        that holds the NTH NEEDLE (or one of those holding EXTRA_NEEDLES)."""
        if tree is None:
            tree = {"www/index.html": "i\n"}
        self.d = HttpD(body, opts=opts, tree=tree)
        path = self.d.conf_path
        want = {line_of(path, needle, nth)} if lines is None else set(lines)
        for n in extra_needles:
            want.add(line_of(path, n))
        r = run_loomd(["-t", "-c", path])  # first: a config taken as valid fails fast
        self.assertEqual(r.returncode, 1, "loomd -t accepted it: " + r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        assert_error_line(self, r.stderr, path, want)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        return assert_error_line(self, err, path, want)

    def cleanup_between(self):
        if self.d:
            self.drop_daemon()

    def test_good_config_passes(self):
        """The baseline the error cases are variations of is valid."""
        self.d = HttpD(loc_server(static_loc()), tree={"www/index.html": "i\n"})
        r = run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_handler(self):
        self.expect(loc_server(loc("/", '            handler = "fastcgi"\n')), "fastcgi")

    def test_static_without_root(self):
        self.expect(loc_server(static_loc(root=None)), 'location "/"',
                    extra_needles=['handler = "static"'])

    def test_root_missing(self):
        self.expect(loc_server(static_loc(root='"nothere"')), "nothere")

    def test_root_not_a_directory(self):
        self.expect(loc_server(static_loc(root='"www/index.html"')), 'root = "www/index.html"')

    def test_location_title_bad(self):
        for title in ("images/", "=/x", "= x", "", "~ php", "*.html"):
            with case(title=title):
                self.expect(loc_server(static_loc() + static_loc(title=title)), 'location "%s"' % title)
                self.cleanup_between()

    def test_duplicate_location(self):
        self.expect(loc_server(static_loc() + static_loc("/a/") + static_loc("/a/")),
                    'location "/a/"', nth=2)

    def test_duplicate_exact_location(self):
        self.expect(loc_server(static_loc() + static_loc("= /a") + static_loc("= /a")),
                    'location "= /a"', nth=2)

    def test_status_out_of_range(self):
        for v in ("99", "600", "-1", "1000"):
            with case(status=v):
                self.expect(loc_server(loc("/", '            handler = "return"\n'
                                                '            status = %s\n' % v)), "status =")
                self.cleanup_between()

    def test_status_zero(self):
        """An explicit status = 0 is outside 100-599 too."""
        self.expect(loc_server(loc("/", '            handler = "return"\n'
                                        '            status = 0\n')), "status =")

    def test_redirect_status_not_3xx(self):
        for v in ("200", "300", "304", "305", "404"):
            with case(status=v):
                self.expect(loc_server(loc("/", '            handler = "return"\n'
                                                '            status = %s\n'
                                                '            redirect = "/x"\n' % v)),
                            "status =", extra_needles=["redirect ="])
                self.cleanup_between()

    def test_bad_status_format(self):
        self.expect(loc_server(static_loc() + loc("/s", '            handler = "status"\n'
                                                         '            format = "xml"\n')), "xml")

    def test_bad_sizes(self):
        cases = [("", static_loc(extra='            max_body = "12Q"\n'), "12Q"),
                 ('max_request_line = "12Q"\n', static_loc(), "12Q"),
                 ('max_header_size = "8X"\n', static_loc(), "8X"),
                 ('file_cache_max = "lots"\n', static_loc(), "lots"),
                 ("", static_loc(extra='            max_body = "-1K"\n'), "-1K")]
        for opts, locs, needle in cases:
            with case(needle=needle, opts=opts):
                self.expect(loc_server(locs), needle, opts=opts)
                self.cleanup_between()

    def test_max_headers_range(self):
        for v in ("0", "1001", "-3"):
            with case(max_headers=v):
                self.expect(loc_server(static_loc()), "max_headers", opts="max_headers = %s\n" % v)
                self.cleanup_between()

    def test_max_headers_bounds_accepted(self):
        for v in ("1", "1000"):
            with case(max_headers=v):
                self.d = HttpD(loc_server(static_loc()), opts="max_headers = %s\n" % v,
                               tree={"www/index.html": "i\n"})
                r = run_loomd(["-t", "-c", self.d.conf_path])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.cleanup_between()

    def test_error_page_no_file(self):
        self.expect(loc_server(static_loc(), server_opts='        error_page = {"404"}\n'),
                    "error_page")

    def test_error_page_bad_status(self):
        for entry in ("99 e.html", "abc e.html", "600 e.html", "404x e.html"):
            with case(entry=entry):
                self.expect(loc_server(static_loc(),
                                       server_opts='        error_page = {"%s"}\n' % entry),
                            "error_page", tree={"www/index.html": "i", "e.html": "e"})
                self.cleanup_between()

    def test_error_page_missing_file(self):
        self.expect(loc_server(static_loc(),
                               server_opts='        error_page = {"404 errors/none.html"}\n'),
                    "error_page")

    @unittest.skipIf(loomtest.is_root(), "root reads every file")
    def test_error_page_unreadable_file(self):
        self.d = None
        body = loc_server(static_loc(), server_opts='        error_page = {"404 e.html"}\n')
        self.d = HttpD(body, tree={"www/index.html": "i", "e.html": "e"})
        os.chmod(self.d.path("e.html"), 0)
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, line_of(self.d.conf_path, "error_page"))

    def test_two_default_servers(self):
        body = (loc_server(static_loc(), "one", ["a.test"], '        default = yes\n') +
                loc_server(static_loc(), "two", ["b.test"], '        default = yes\n'))
        self.expect(body, "default = yes", nth=2, extra_needles=['server "two"'])

    def test_name_in_two_servers(self):
        body = (loc_server(static_loc(), "one", ["a.test", "same.test"]) +
                loc_server(static_loc(), "two", ["b.test", "same.test"]))
        self.expect(body, 'names = {"b.test"', extra_needles=['server "two"'])

    def test_name_in_two_servers_case(self):
        body = (loc_server(static_loc(), "one", ["Same.Test"]) +
                loc_server(static_loc(), "two", ["same.test"]))
        self.expect(body, '"same.test"', extra_needles=['server "two"'])

    def test_no_server(self):
        msg = self.expect("", 'http "web"', extra_needles=["listen ="])
        self.assertIn("at least one server", msg)

    def test_server_without_locations(self):
        self.expect(loc_server("") + loc_server(static_loc(), "two", ["b.test"]), 'server "main"')

    def test_unknown_option_in_location(self):
        self.expect(loc_server(static_loc(extra='            colour = "blue"\n')), "colour")

    def test_error_in_second_instance(self):
        """Two http instances; the broken one is named."""
        second = http_section(free_port(), loc_server(static_loc(root='"gone"')), name="other")
        self.d = HttpD(loc_server(static_loc()), post=second, tree={"www/index.html": "i"})
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, line_of(self.d.conf_path, '"gone"'))


class Reload(unittest.TestCase):
    def test_bad_reload_keeps_serving_good_reload_applies(self):
        d = HttpD(loc_server(static_loc()), tree={"www/index.html": "old site\n",
                                                  "www2/index.html": "new site\n"})
        self.addCleanup(d.cleanup)
        d.start()
        self.assertEqual(curl_fetch(d.url("/")).body, b"old site\n")
        good_conf = open(d.conf_path).read()
        # broken: an unknown handler
        d.write_conf(good_conf.replace('handler = "static"', 'handler = "cgi"'), raw=True)
        self.assertFalse(d.reload(), d.log())
        n = line_of(d.conf_path, '"cgi"')
        self.assertRegex(d.log(), r"reload failed: .*loom\.conf:%d: " % n)
        self.assertEqual(curl_fetch(d.url("/")).body, b"old site\n")
        self.assertIsNone(d.proc.poll())
        # broken in another way: a root that does not exist
        d.write_conf(good_conf.replace('root = "www"', 'root = "missing"'), raw=True)
        self.assertFalse(d.reload(), d.log())
        self.assertEqual(curl_fetch(d.url("/")).body, b"old site\n")
        # fixed: the new root is served
        d.write_conf(good_conf.replace('root = "www"', 'root = "www2"'), raw=True)
        self.assertTrue(d.reload(), d.log())
        wait_for(lambda: curl_fetch(d.url("/")).body == b"new site\n", what="the new root")

    def test_reload_keeps_open_connection(self):
        d = HttpD(loc_server(static_loc()), tree={"www/index.html": "old\n",
                                                  "www2/index.html": "new\n"})
        self.addCleanup(d.cleanup)
        d.start()
        with d.conn() as c:
            c.request("GET", "/")
            self.assertEqual(c.read_response().body, b"old\n")
            d.write_conf(open(d.conf_path).read().replace('root = "www"', 'root = "www2"'), raw=True)
            self.assertTrue(d.reload(), d.log())
            c.request("GET", "/")
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertIn(r.body, (b"old\n", b"new\n"))
        self.assertEqual(d.get("/").body, b"new\n")


if __name__ == "__main__":
    loomtest.main()
