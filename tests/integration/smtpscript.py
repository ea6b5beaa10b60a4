"""smtpscript - a scripted SMTP next hop for the relay tests: a small
threaded server on a free loopback port whose replies a test decides
(per recipient and per attempt), with optional STARTTLS (Python's ssl)
and AUTH PLAIN, recording every transaction it accepted.

    s = ScriptServer(rcpt=lambda addr, n: "451 4.7.1 later" if n == 1 else None)
    s.start()
    ...  # loom relays to 127.0.0.1:s.port
    s.wait_messages(1)   # [Txn(mail, rcpts, data, tls, auth_user)]
    s.stop()

rcpt(addr, n) is asked for the n-th RCPT of ADDR seen (1-based) and
returns a reply line or None for "250 2.1.5 Ok"; data(txn, n) likewise
for the end of the n-th message's data.  The DATA decoder is strict:
only CRLF.CRLF ends it, and a bare CR or LF in it is recorded (bare=True).
"""

import base64
import socket
import ssl
import threading
import time

import loomtest


class Txn:
    def __init__(self, mail, rcpts, data, tls, auth_user, bare):
        self.mail, self.rcpts, self.data = mail, rcpts, data
        self.tls, self.auth_user, self.bare = tls, auth_user, bare

    def __repr__(self):
        return "Txn(%r, %r, %d bytes, tls=%s)" % (self.mail, self.rcpts, len(self.data), self.tls)


class _Conn:
    def __init__(self, srv, sock):
        self.srv, self.sock, self.buf = srv, sock, b""
        self.tls = False
        self.auth_user = None

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln.decode("utf-8", "replace")

    def data(self):
        """The message up to CRLF.CRLF, unstuffed; and whether a bare CR
        or LF was in it."""
        out = b""
        while True:
            i = self.buf.find(b"\r\n.\r\n")
            if self.buf.startswith(b".\r\n"):
                i, raw, self.buf = 0, b"", self.buf[3:]
                break
            if i >= 0:
                raw, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                break
            d = self.sock.recv(65536)
            if not d:
                return None, False
            self.buf += d
        stripped = raw.replace(b"\r\n", b"")
        bare = b"\r" in stripped or b"\n" in stripped
        for ln in raw.split(b"\r\n")[:-1]:
            out += (ln[1:] if ln.startswith(b".") else ln) + b"\r\n"
        return out, bare

    def run(self):
        s = self.srv
        self.send(s.greeting)
        mail, rcpts = None, []
        while True:
            ln = self.line()
            if ln is None:
                return
            verb = ln.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                mail, rcpts = None, []
                if verb == "HELO" or not s.esmtp:
                    self.send("250 script" if verb == "HELO" else "502 5.5.2 no EHLO")
                    continue
                caps = ["script"] + list(s.caps)
                if s.tls_ctx is not None and not self.tls:
                    caps.append("STARTTLS")
                if s.auth is not None and self.tls:
                    caps.append("AUTH PLAIN")
                for c in caps[:-1]:
                    self.send("250-" + c)
                self.send("250 " + caps[-1])
            elif verb == "STARTTLS" and s.tls_ctx is not None and not self.tls:
                self.send("220 2.0.0 go ahead")
                self.buf = b""
                try:
                    self.sock = s.tls_ctx.wrap_socket(self.sock, server_side=True)
                except (ssl.SSLError, OSError):
                    with s.lock:
                        s.tls_failures += 1
                    return
                self.tls = True
                mail, rcpts = None, []
            elif verb == "AUTH" and s.auth is not None:
                parts = ln.split(" ")
                try:
                    raw = base64.b64decode(parts[2]) if len(parts) > 2 else b""
                    _, user, pw = raw.split(b"\0")
                except ValueError:
                    self.send("501 5.5.2 bad AUTH")
                    continue
                if (user.decode(), pw.decode()) == s.auth:
                    self.auth_user = user.decode()
                    self.send("235 2.7.0 Authentication successful")
                else:
                    self.send("535 5.7.8 Authentication failed")
            elif verb == "MAIL":
                if s.auth is not None and self.auth_user is None:
                    self.send("530 5.7.0 Authentication required")
                    continue
                mail, rcpts = ln[10:], []
                self.send("250 2.1.0 Ok")
            elif verb == "RCPT":
                if mail is None:
                    self.send("503 5.5.1 need MAIL")
                    continue
                addr = ln[8:].split(">", 1)[0].lstrip("<")
                with s.lock:
                    s.rcpt_seen[addr] = s.rcpt_seen.get(addr, 0) + 1
                    n = s.rcpt_seen[addr]
                reply = s.rcpt(addr, n) if s.rcpt else None
                if reply is None:
                    rcpts.append(addr)
                    reply = "250 2.1.5 Ok"
                self.send(reply)
            elif verb == "DATA":
                if not rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.send("354 End data with <CR><LF>.<CR><LF>")
                data, bare = self.data()
                if data is None:
                    return
                t = Txn(mail, rcpts, data, self.tls, self.auth_user, bare)
                with s.lock:
                    s.ndata += 1
                    n = s.ndata
                reply = s.data(t, n) if s.data else None
                if reply is None:
                    with s.lock:
                        s.txns.append(t)
                    reply = "250 2.0.0 Ok: queued as S%d" % n
                self.send(reply)
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.send("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("500 5.5.2 what?")


class ScriptServer:
    def __init__(self, rcpt=None, data=None, caps=("PIPELINING", "8BITMIME", "SIZE 10240000",
                                                   "ENHANCEDSTATUSCODES", "DSN"),
                 tls_cert=None, auth=None, host="127.0.0.1", port=None,
                 greeting="220 script.test ESMTP", esmtp=True):
        self.rcpt, self.data, self.caps = rcpt, data, caps
        self.auth = auth
        self.greeting, self.esmtp = greeting, esmtp
        self.host = host
        self.port = port or loomtest.free_port()
        self.tls_ctx = None
        if tls_cert is not None:
            self.tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_ctx.load_cert_chain(*tls_cert)
        self.lock = threading.Lock()
        self.txns, self.rcpt_seen = [], {}
        self.ndata = self.connections = self.tls_failures = 0
        self._sock = None
        self._stop = False

    def start(self):
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            c.settimeout(loomtest.WAIT)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        conn = _Conn(self, c)
        try:
            conn.run()
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass

    def messages(self):
        with self.lock:
            return list(self.txns)

    def wait_messages(self, count=1, timeout=loomtest.WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.messages()
            if len(m) >= count:
                return m
            time.sleep(0.05)
        raise AssertionError("%d message(s) never arrived at the script server (have %d)"
                             % (count, len(self.messages())))

    def stop(self):
        self._stop = True
        if self._sock is not None:
            self._sock.close()
