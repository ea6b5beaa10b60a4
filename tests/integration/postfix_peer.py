"""postfix_peer - a private Postfix instance for the SMTP tests: its own
main.cf, master.cf, queue and data directories and Maildirs in a fresh
temporary folder, listening on a free loopback port, delivering its
virtual domains with virtual(8) into Maildirs under DIR/mail/.

    p = PostfixPeer(domains=("peer.test",), users=("carol",))
    p.start()
    ...  # an SMTP client sends to carol@peer.test at 127.0.0.1:p.port
    msgs = p.wait_mail("carol@peer.test", 1)   # [bytes, ...] from new/
    p.cleanup()

relayhost="[127.0.0.1]:PORT" makes it send everything that is not for its
own domains to PORT (Postfix using loom as its relay host).  Mail from
127.0.0.0/8 may be relayed (mynetworks), so a test can hand it mail for
any domain over SMTP; no sendmail(1)/postdrop is involved.

Runs as root (Postfix's master wants it): the daemons run as the system's
`postfix` user and deliver as that user.  Without root, or without Postfix
installed, available() says why, and tests skip.  Nothing outside the
temporary folder is touched; the machine's /etc/postfix/main.cf is neither
read nor needed (the instance is always addressed with -c DIR).
"""

import glob
import os
import pwd
import grp
import shutil
import socket
import subprocess
import tempfile
import time

import loomtest

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
DAEMON_DIR = "/usr/lib/postfix/sbin"

# master.cf for the instance: only the services a relay and a virtual(8)
# Maildir need, none chrooted (the temporary folder has no chroot jail).
# {smtp} is replaced by the listening address.
_MASTER_CF = """\
{smtp}   inet  n  -  n  -  -  smtpd
pickup    unix  n  -  n  60 1  pickup
cleanup   unix  n  -  n  -  0  cleanup
qmgr      unix  n  -  n  300 1 qmgr
rewrite   unix  -  -  n  -  -  trivial-rewrite
bounce    unix  -  -  n  -  0  bounce
defer     unix  -  -  n  -  0  bounce
trace     unix  -  -  n  -  0  bounce
verify    unix  -  -  n  -  1  verify
flush     unix  n  -  n  1000? 0 flush
proxymap  unix  -  -  n  -  -  proxymap
smtp      unix  -  -  n  -  -  smtp
relay     unix  -  -  n  -  -  smtp
error     unix  -  -  n  -  -  error
retry     unix  -  -  n  -  -  error
discard   unix  -  -  n  -  -  discard
virtual   unix  -  n  n  -  -  virtual
anvil     unix  -  -  n  -  1  anvil
scache    unix  -  -  n  -  1  scache
postlog   unix-dgram n - n  -  1  postlogd
tlsmgr    unix  -  -  n  1000? 1 tlsmgr
"""


def available():
    """None when a private Postfix can be started here, else the reason
    (for a skip message)."""
    if not os.path.exists(POSTFIX) or not os.path.isdir(DAEMON_DIR):
        return "postfix is not installed"
    if not loomtest.is_root():
        return "a private Postfix needs root (\"the postfix command is reserved for the superuser\")"
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        return "no postfix user or postdrop group"
    return None


def version():
    """Postfix's mail_version, e.g. "3.7.11" (built-in default, so no
    main.cf is read)."""
    d = tempfile.mkdtemp(prefix="pfver-")
    try:
        open(os.path.join(d, "main.cf"), "w").close()
        r = subprocess.run([POSTCONF, "-c", d, "-dh", "mail_version"],
                           capture_output=True, text=True, timeout=30)
        return r.stdout.strip()
    finally:
        shutil.rmtree(d, ignore_errors=True)


class PostfixPeer:
    """One private Postfix: main.cf and master.cf written into a fresh
    temporary folder (self.dir), queue in DIR/queue, data in DIR/data,
    its log in DIR/maillog, Maildirs in DIR/mail/<user>/.

    DOMAINS: virtual mailbox domains; USERS: local parts that exist in
    each of them (user@domain -> DIR/mail/user/ ; the same user in two
    domains shares the Maildir).  RELAYHOST: where everything else goes.
    MAIN: extra main.cf lines (a dict).  PORT: default a free one."""

    def __init__(self, domains=("peer.test",), users=("carol",), relayhost=None,
                 main=None, port=None, hostname="peer.test"):
        self.dir = tempfile.mkdtemp(prefix="postfixpeer-")
        os.chmod(self.dir, 0o755)
        self.port = port or loomtest.free_port()
        self.domains = tuple(domains)
        self.users = tuple(users)
        self.relayhost = relayhost
        self.hostname = hostname
        self.extra = dict(main or {})
        self.queue = os.path.join(self.dir, "queue")
        self.mailbase = os.path.join(self.dir, "mail")
        self.logfile = os.path.join(self.dir, "maillog")
        self.started = False
        pw = pwd.getpwnam("postfix")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self._write_config()

    def _main_cf(self):
        boxes = ", ".join("%s@%s=%s/" % (u, dom, u) for dom in self.domains for u in self.users)
        conf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": os.path.join(self.dir, "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydomain": self.hostname,
            "myorigin": self.hostname,
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": ", ".join(self.domains) or "",
            "virtual_mailbox_base": self.mailbase,
            "virtual_mailbox_maps": "inline:{ %s }" % boxes if boxes else "",
            "virtual_uid_maps": "static:%d" % self.uid,
            "virtual_gid_maps": "static:%d" % self.gid,
            "virtual_minimum_uid": "1",
            "maillog_file": self.logfile,
            "maillog_file_prefixes": self.dir,
            "biff": "no",
            "smtputf8_enable": "yes",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "relayhost": self.relayhost or "",
            # a test waits on delivery: retry and deliver promptly
            "queue_run_delay": "2s",
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
            "in_flow_delay": "0",
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "100",
            "smtpd_hard_error_limit": "200",
            "message_size_limit": str(64 * 1024 * 1024),
            "virtual_mailbox_limit": "0",
            "smtp_tls_security_level": "may",
            "smtp_tls_CAfile": "",
            "smtpd_tls_security_level": "none",
            "readme_directory": "no",
            "html_directory": "no",
        }
        conf.update(self.extra)
        return "".join("%s = %s\n" % kv for kv in conf.items())

    def _write_config(self):
        for sub in ("data", "mail"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.makedirs(self.queue, exist_ok=True)
        os.chown(os.path.join(self.dir, "data"), self.uid, self.gid)
        os.chown(self.mailbase, self.uid, self.gid)
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            f.write(self._main_cf())
        with open(os.path.join(self.dir, "master.cf"), "w") as f:
            f.write(_MASTER_CF.replace("{smtp}", "127.0.0.1:%d" % self.port))

    def _postfix(self, *args, check=True):
        r = subprocess.run([POSTFIX, "-c", self.dir] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("postfix %s failed (%d): %s%s\n%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr, self.log()))
        return r

    def start(self):
        """postfix -c DIR start, then wait until its smtpd answers with a
        220 greeting.  Returns self."""
        self._postfix("start")
        self.started = True
        deadline = time.monotonic() + loomtest.WAIT
        last = None
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    s.settimeout(10)
                    greet = s.recv(512)
                    if greet.startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return self
                    last = greet
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise AssertionError("private postfix on port %d never greeted (%r):\n%s"
                             % (self.port, last, self.log()))

    def stop(self):
        """postfix -c DIR stop (the master waits for its children)."""
        if self.started:
            self.started = False
            r = self._postfix("stop", check=False)
            if r.returncode != 0:
                self._postfix("abort", check=False)
            # the master removes its pid file last
            pidfile = os.path.join(self.queue, "pid", "master.pid")
            deadline = time.monotonic() + loomtest.WAIT
            while time.monotonic() < deadline and self._master_alive(pidfile):
                time.sleep(0.05)

    @staticmethod
    def _master_alive(pidfile):
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip() or "0")
            if pid <= 0:
                return False
            os.kill(pid, 0)
            return True
        except (OSError, ValueError):
            return False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        """Everything the instance logged so far (maillog_file)."""
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def flush(self):
        """postfix flush: attempt deferred mail now."""
        self._postfix("flush", check=False)

    def queue_ids(self):
        """Queue file names still in the queue (any of its queues)."""
        out = []
        for q in ("maildrop", "incoming", "active", "deferred", "hold"):
            out += [os.path.basename(p) for p in
                    glob.glob(os.path.join(self.queue, q, "**", "*"), recursive=True)
                    if os.path.isfile(p)]
        return out

    def maildir(self, user):
        """The Maildir of USER (a local part, or user@domain)."""
        return os.path.join(self.mailbase, user.split("@")[0])

    def messages(self, user):
        """The messages in USER's Maildir new/ and cur/, oldest first, as
        bytes."""
        md = self.maildir(user)
        paths = glob.glob(os.path.join(md, "new", "*")) + glob.glob(os.path.join(md, "cur", "*"))
        paths.sort(key=lambda p: (os.stat(p).st_mtime, p))
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_mail(self, user, count=1, timeout=loomtest.WAIT * 3):
        """Wait until USER's Maildir holds at least COUNT messages; returns
        them (see messages())."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.messages(user)
            if len(msgs) >= count:
                return msgs
            time.sleep(0.1)
        raise AssertionError("%d message(s) for %s never arrived in %s (have %d); log:\n%s"
                             % (count, user, self.maildir(user), len(self.messages(user)),
                                self.log()))

    def wait_log(self, needle, timeout=loomtest.WAIT * 3):
        """Wait until the instance's log contains NEEDLE (a string)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            time.sleep(0.1)
        raise AssertionError("%r never logged; log:\n%s" % (needle, self.log()))
