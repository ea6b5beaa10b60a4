#!/bin/sh
# tools/deps.sh - install what loom needs to build, test and benchmark on
# Debian 12 (uses sudo when not run as root).
set -e
if [ "$(id -u)" != 0 ]; then
    exec sudo "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential autoconf automake libtool pkg-config
 libevent-dev libssl-dev libc-ares-dev libconfuse-dev libcmocka-dev
 libsystemd-dev clang libclang-rt-14-dev
 python3 openssl finger util-linux procps iproute2 mandoc
 libmemcached-tools python3-pymemcache python3-twisted
 libldns-dev bind9-dnsutils knot-dnsutils python3-dnspython nsd dnsperf
 curl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi
# nsd is here for the test that runs it as a secondary of loom (in a
# temporary directory, on a high port); a freshly installed one must not
# stay behind as a system service on port 53.
case " $missing " in
*" nsd "*)
    if [ -d /run/systemd/system ]; then
        systemctl disable --now nsd.service >/dev/null 2>&1 || true
    fi
    ;;
esac
