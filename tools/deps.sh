#!/bin/sh
# tools/deps.sh - install what loom needs to build, test and benchmark on
# Debian 12 (uses sudo when not run as root).  tools/fresh-check.sh runs it
# on a minimal Debian 12 root, so nothing may be left to chance here: with
# --no-install-recommends, what a package only recommends (curl's and
# OpenSSL's CA certificates, Net::SSLeay for swaks's TLS) must be named.
# debhelper and lintian build and check the Debian package
# (tools/build-deb.sh); systemd gives systemd-socket-activate and
# systemd-analyze, man-db the `man` that `systemd-analyze verify` runs on
# Documentation=; netcat-openbsd and socat are the README's `nc` and `socat`;
# fonts-liberation (chromium only recommends it) gives the headless
# Chromium of the page tests real text for their screenshots; prometheus
# gives promtool, which checks loomd's metrics output.
set -e
if [ "$(id -u)" != 0 ]; then
    exec sudo "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential autoconf automake libtool pkg-config
 libevent-dev libssl-dev libc-ares-dev libconfuse-dev libcmocka-dev
 libsystemd-dev clang libclang-rt-14-dev clang-format
 python3 openssl ca-certificates finger util-linux procps iproute2 mandoc
 memcached libmemcached-tools python3-pymemcache python3-twisted
 libldns-dev bind9-dnsutils knot-dnsutils python3-dnspython nsd dnsperf
 libssh2-1-dev openssh-server openssh-client
 curl libnghttp2-dev libjansson-dev libcrypt-dev ddclient nghttp2-client python3-h2 python3-websockets
 nginx-light h2o wrk chromium fonts-liberation dnsdist
 postfix swaks libnet-ssleay-perl libgmime-3.0-dev
 ngircd python3-irc irssi weechat-curses tmux
 debhelper lintian systemd man-db netcat-openbsd socat git prometheus"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    # Postfix is the SMTP module's peer and benchmark: no system
    # configuration, no mail service of its own on port 25.
    echo "postfix postfix/main_mailer_type select No configuration" |
        debconf-set-selections
    # nsd, nginx, h2o, memcached, dnsdist and ngircd are servers the tests
    # and benchmarks start themselves (in temporary directories, on high
    # ports): their packages must not start system services on ports 53,
    # 80, 11211 and 6667 (nor prometheus its server on 9090)
    # while installing (nor ddclient its daemon: the tests run it one-shot).
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
    if [ -n "$policy" ]; then rm -f "$policy"; fi
fi
# On a machine with systemd, freshly installed ones must not stay behind as
# enabled system services either (memcached's would take port 11211).
case " $missing " in
*" nsd "* | *" nginx-light "* | *" h2o "* | *" memcached "* | *" ddclient "* | *" dnsdist "* | *" postfix "* | *" ngircd "* | *" prometheus "*)
    if [ -d /run/systemd/system ]; then
        for s in nsd nginx h2o memcached ddclient dnsdist postfix ngircd prometheus; do
            systemctl disable --now "$s.service" >/dev/null 2>&1 || true
        done
    fi
    ;;
esac
