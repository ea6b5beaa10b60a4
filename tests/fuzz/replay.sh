#!/bin/sh
# replay.sh - TAP: run every committed fuzz corpus input through its target.
# A crash, sanitizer report or assertion failure makes the replay exit
# non-zero and the test "not ok".
: "${LOOM_BUILDDIR:=.}"
: "${LOOM_SRCDIR:=.}"

names="endpoint lines finger memcache dns_query dns_zfile dns_tsig dns_journal dns_upd h1 http_util h2 h1_resp http_flatten bus_tmpl doh dyndns"
names="$names smtp_queue smtp_cmd smtp_data"
names="$names smtp_reply"
names="$names ws"
names="$names irc_line irc_mode"
names="$names metrics_req"
set -- $names
echo "1..$#"
n=0
for name in $names; do
    n=$((n + 1))
    bin="$LOOM_BUILDDIR/tests/fuzz/replay_$name"
    dir="$LOOM_SRCDIR/tests/fuzz/corpus/$name"
    count=$(find "$dir" -type f 2>/dev/null | wc -l | tr -d ' ')
    if [ ! -x "$bin" ]; then
        echo "not ok $n - replay $name (no $bin)"
    elif [ "$count" -eq 0 ]; then
        echo "not ok $n - replay $name (empty corpus $dir)"
    elif out=$("$bin" "$dir" 2>&1); then
        echo "ok $n - replay $name ($count inputs)"
    else
        echo "not ok $n - replay $name ($count inputs)"
        printf '%s\n' "$out" | sed 's/^/# /'
    fi
done
