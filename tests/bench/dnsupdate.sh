#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly (traps)
# Durable dynamic-update benchmark: RFC 2136 UPDATEs acknowledged only once
# their journal record is on disk (fdatasync on the worker pool), with one
# client connection and with many.
#
# loomd serves a dynamic copy of conf/zones/dyn.example.test.zone from a
# directory on a real disk ($UPDATE_DIR, default /var/tmp; not tmpfs,
# where an fsync costs nothing).  tests/bench/update_load.py keeps C TCP
# connections each sending one UPDATE (replace one A record), waiting for
# the answer, sending the next.  With one connection every update pays a
# whole fsync; with many, the updates that queue during one fsync are
# written and synced together (group commit), so the rate grows with C
# while the fsyncs per second stay about the same.  In alternating rounds
# per connection count: updates per second, loomd's CPU per update, and
# the journal's growth; then the medians and each count's rate against
# one connection.  There is no peer: NSD takes no UPDATE, and Knot and
# BIND are not in this project's dependencies.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken.  It builds nothing.
#
#     tests/bench/dnsupdate.sh
#
# Environment:
#   LOOMD        loomd binary (default src/loomd)
#   ROUNDS       rounds per connection count (default 3)
#   DURATION     seconds per round (default 10)
#   UPDATE_CONNS connection counts (default "1 4 16 64")
#   UPDATE_DIR   where the zone and journal live (default /var/tmp)
#   UPDATE_PIN   0: do not pin loomd and the client to CPUs
#   UPDATE_KEEP  1: keep the temporary directory
#   PYTHON       python interpreter (default /usr/bin/python3; needs
#                dnspython)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${UPDATE_CONNS:-1 4 16 64}
bench_numbers ROUNDS DURATION
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
for c in $CONNS; do
	case $c in '' | *[!0-9]* | 0) die "UPDATE_CONNS: '$c' is not a connection count" ;; esac
done

bench_python
bench_loomd
"$PY" -c 'import dns.update' 2>/dev/null || die "$PY lacks dnspython (python3-dnspython)"
ZONE=$top/conf/zones/dyn.example.test.zone
[ -r "$ZONE" ] || die "missing $ZONE"

bench_pin "${UPDATE_PIN:-1}"
TMPDIR=${UPDATE_DIR:-/var/tmp} bench_setup dnsupdate "${UPDATE_KEEP:-0}"

start_loomd() {
	local dir=$1
	dns_port=$(free_port)
	mkdir -p "$dir/zones" "$dir/state"
	cp "$ZONE" "$dir/zones/dyn.example.test.zone"
	[ "$(id -u)" != 0 ] || chown -R nobody "$dir/zones" "$dir/state" 2>/dev/null
	{
		loomd_conf_head
		echo 'dns "bench" {'
		echo "    listen = {\"tcp:$dns_port:interface=127.0.0.1\"}"
		echo '    tcp_per_client = 1000'
		echo "    state_dir = \"$dir/state\""
		echo '    zone "dyn.example.test" {'
		echo "        file = \"$dir/zones/dyn.example.test.zone\""
		echo '        dynamic = yes'
		echo '        journal_max = 1073741824'
		echo '        allow_update = {"127.0.0.1"}'
		echo '    }'
		echo '}'
	} >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	loomd_ready "$dir" || server_failed "loomd did not start; its stderr" "$dir/stderr.log"
}

results=$tmp/results   # lines: conns loomd round ups us_per_update

measure() {
	local conns=$1 round=$2 dir t0 t1 rc count secs ups cpu_s us errors jsize
	dir=$tmp/c$conns.$round
	bench_start "$dir" start_loomd "$dir" || return 1
	t0=$(tree_ticks "$server_pid")
	run_client "$dir/client.out" timeout $((DURATION + 60)) \
		"$PY" "$here/update_load.py" "$dns_port" dyn.example.test "$conns" "$DURATION"
	rc=$?
	t1=$(tree_ticks "$server_pid")
	[ -n "$t1" ] || { server_died "loomd died during $conns-connection round $round" "$dir"; return 1; }
	count=$(awk '/^updates/ { print $2 }' "$dir/client.out")
	errors=$(awk '/^errors/ { print $2 }' "$dir/client.out")
	secs=$(awk '/^seconds/ { print $2 }' "$dir/client.out")
	client_ok "$rc" "$count" "$secs" ||
		{ client_failed "$conns connections round $round: the client failed" "$rc" "$dir/client.out"; return 1; }
	ups=$(awk -v n="$count" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$count")
	jsize=$(stat -c %s "$dir/state/dyn.example.test.journal" 2>/dev/null || echo 0)
	echo "$conns loomd $round $ups $us" >>"$results"
	printf '%3d connections round %d: %7s updates/s  loomd CPU %6ss  %8s us/update  journal %s bytes  errors %s\n' \
		"$conns" "$round" "$ups" "$cpu_s" "$us" "$jsize" "${errors:-?}"
	server_done "$conns connections round $round"
}

echo "# dnsupdate benchmark: $(nproc 2>/dev/null || echo '?') CPUs, zone and journal in $tmp ($(df -T "$tmp" | awk 'NR == 2 { print $2 }'))"
note "loomd: $LOOMD ($("$LOOMD" -V 2>&1 | head -n 1))"
note "UPDATE over TCP, one outstanding per connection, $DURATION s rounds"
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: loomd on CPU $server_cpu, the client on CPU $client_cpu"
else
	note "not pinned"
fi

failed=0
: >"$results"
for round in $(seq "$ROUNDS"); do
	for c in $CONNS; do
		measure "$c" "$round" || failed=1
	done
done

echo
echo "summary (medians):"
first=${CONNS%% *}
for c in $CONNS; do
	printf '  %3d connections %8s updates/s  %8s us CPU/update' "$c" \
		"$(median_in "$results" "$c" loomd 4 %.0f)" "$(median_in "$results" "$c" loomd 5)"
	if [ "$c" != "$first" ]; then
		printf '   vs %d connection(s): updates/s %s' "$first" \
			"$(ratio "$(median_in "$results" "$c" loomd 4)" "$(median_in "$results" "$first" loomd 4)")"
	fi
	echo
done

[ "$failed" = 0 ] || exit 1
exit 0
