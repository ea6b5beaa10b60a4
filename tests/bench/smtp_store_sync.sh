#!/bin/sh
# smtp_store_sync.sh - the SMTP group commit's durability choice, measured:
# SMTP_SYNC_FSYNC, SMTP_SYNC_SYNCFS and SMTP_SYNC_AUTO with 1 and 20
# concurrent submitters, alternating (fsync, syncfs, auto, ...) so that all see the
# same disk weather, ROUNDS times each; prints every run and the median
# messages/s per mode and submitter count.  Not a test.
#
# Usage: tests/bench/smtp_store_sync.sh [ROUNDS [DIR]]
#   build first: make tests/bench/smtp_store_sync
#   DIR: where the Maildirs go (default a temp dir under /var/tmp: the
#   filesystem measured is the one loom's Maildirs would be on).
set -eu
: "${LOOM_BUILDDIR:=.}"
rounds=${1:-5}
base=${2:-/var/tmp}
bin="$LOOM_BUILDDIR/tests/bench/smtp_store_sync"
[ -x "$bin" ] || { echo "build $bin first (make tests/bench/smtp_store_sync)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
    for s in 1 20; do
        n=$([ "$s" = 1 ] && echo 500 || echo 4000)
        for m in fsync syncfs auto; do
            d=$(mktemp -d "$base/smtp_store_sync.XXXXXX")
            "$bin" "$d" "$m" "$s" "$n" 1024 2 | tee -a "$out"
            rm -rf "$d"
        done
    done
done
echo "# median msg/s and syncs/msg over $rounds rounds"
for s in 1 20; do
    for m in fsync syncfs auto; do
        grep "mode=$m submitters=$s " "$out" | sed 's/.*msg\/s=\([0-9]*\) syncs=[0-9]* syncs\/msg=\([0-9.]*\).*/\1 \2/' |
            sort -n | awk -v m="$m" -v s="$s" '{v[NR]=$1; f=$2} END {print "mode=" m " submitters=" s " median_msg/s=" v[int((NR+1)/2)] " syncs/msg=" f}'
    done
done
