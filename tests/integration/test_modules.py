"""load_module(): the loadable echo module, a module with a wrong ABI, and
a shared object that is not a loom module at all."""

import glob
import os
import re
import shutil
import socket

import loomtest
from loomtest import DaemonTest, Loomd, free_port, assert_error_line, line_of, start_expect_exit, WAIT


def non_module_so():
    cands = ["/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1"]
    cands += sorted(glob.glob("/usr/lib/*/libz.so.1")) + sorted(glob.glob("/lib/*/libm.so.6"))
    cands += sorted(glob.glob("/usr/lib/*/libm.so.6"))
    for c in cands:
        if os.path.exists(c):
            return c
    return None


class Modules(DaemonTest):
    def test_load_echo(self):
        if not os.path.exists(loomtest.ECHO_SO):
            self.fail("loadable echo module not built: %s" % loomtest.ECHO_SO)
        port = free_port()
        self.d = Loomd('load_module("%s")\n'
                       'echo "shared" {\n  listen = {"tcp:%d:interface=127.0.0.1"}\n}\n'
                       % (loomtest.ECHO_SO, port))
        self.d.start()
        self.assertRegex(self.d.log(), r"\[info\] core: module echo loaded from .*%s"
                         % re.escape(os.path.basename(loomtest.ECHO_SO)))
        self.assertEqual(loomtest.tcp_query(port, b"loaded echo", shut=True), b"loaded echo")
        self.assertEqual(self.d.stop(), 0)

    def test_load_echo_relative(self):
        if not os.path.exists(loomtest.ECHO_SO):
            self.fail("loadable echo module not built: %s" % loomtest.ECHO_SO)
        port = free_port()
        self.d = Loomd('load_module("mods/echo.so")\n'
                       'echo "shared" { listen = {"udp:%d:interface=127.0.0.1"} }\n' % port)
        os.makedirs(os.path.join(self.d.dir, "mods"))
        shutil.copy(loomtest.ECHO_SO, os.path.join(self.d.dir, "mods", "echo.so"))
        r = loomtest.run_loomd(["-t", "-c", self.d.conf_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.d.start()
        self.assertRegex(self.d.log(), r"module echo loaded from \S*mods/echo\.so")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        try:
            s.sendto(b"dgram", ("127.0.0.1", port))
            self.assertEqual(s.recv(100), b"dgram")
        finally:
            s.close()

    def test_bad_abi(self):
        if not os.path.exists(loomtest.BADABI_SO):
            self.fail("badabi.so not built (make check builds it): %s" % loomtest.BADABI_SO)
        self.d = Loomd('echo "e" { listen = {"tcp:%d:interface=127.0.0.1"} }\n'
                       'load_module("%s")\n' % (free_port(), loomtest.BADABI_SO))
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, line_of(self.d.conf_path, "load_module"),
                          contains="ABI")

    def test_not_a_module(self):
        so = non_module_so()
        if so is None:
            self.skipTest("no plain shared library found to try")
        self.d = Loomd('load_module("%s")\n'
                       'echo "e" { listen = {"tcp:%d:interface=127.0.0.1"} }\n' % (so, free_port()))
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, line_of(self.d.conf_path, "load_module"))

    def test_not_a_shared_object(self):
        self.d = Loomd('load_module("junk.so")\n'
                       'echo "e" { listen = {"tcp:%d:interface=127.0.0.1"} }\n' % free_port(),
                       files={"junk.so": "this is not an ELF file\n"})
        rc, err = start_expect_exit(self.d)
        self.assertEqual(rc, 1, err)
        assert_error_line(self, err, self.d.conf_path, line_of(self.d.conf_path, "load_module"))


if __name__ == "__main__":
    loomtest.main()
