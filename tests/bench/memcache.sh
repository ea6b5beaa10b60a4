#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# memcache benchmark: loomd's memcache module versus Debian's memcached -t 1.
#
# Part 1, throughput.  In alternating rounds (loomd, memcached, loomd,
# memcached, ...) each server is started fresh on a free loopback port with a
# 64 MB memory limit and 1 MB item limit, and memcaslap (libmemcached-tools)
# drives it for DURATION seconds: 50 connections, 90% get / 10% set, 32-byte
# keys and 32-byte values.  Per round it prints the ops/s memcaslap reports
# and the server's CPU time (utime + stime from /proc/PID/stat, all threads)
# per operation, and the error replies memcaslap saw; then the medians and
# the loomd/memcached ratios.  A round in which the server answered with
# errors is flagged and left out of the medians: its ops/s count error
# replies, not gets and sets.
#
# loomd runs with "strict_keys = no" in its memcache section (both parts):
# memcaslap starts every key with 8 binary bytes (a counter ORed with
# 0x1010101010101010: mostly 0x10-0x1f, control characters).  memcached takes
# such keys; loomd by default refuses them as protocol.txt asks ("the key must
# not include control characters or whitespace"), with CLIENT_ERROR.
# strict_keys only changes that key validation, nothing else.
#
# Part 2, memory.  Each server is started with a 1024 MB limit and loaded
# with 1,000,000 items "key:%07d" of 100-byte values (tests/bench/mc_load.py:
# pipelined "set ... noreply", then a "version" round-trip); the script prints
# VmRSS from /proc/PID/status before and after, "stats" curr_items and
# evictions, a spot check of 1000 keys, and the loomd/memcached RSS ratio.
#
# With 2 or more CPUs the server runs on one CPU and memcaslap and the
# loader on another (taskset), the same for both servers; MC_PIN=0 turns that off.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.  It
# exits 0 when the measurements could be taken and non-zero when a server
# could not be started or measured.  It builds nothing of loom: run it from
# the repository root after the build (./configure && make).
#
#     tests/bench/memcache.sh
#
# Environment:
#   LOOMD          loomd binary (default src/loomd)
#   LOOMD_BASE     a baseline loomd measured beside it as server "base" (lib.sh)
#   MEMCACHED      memcached binary (default: from PATH or /usr/bin/memcached)
#   MEMCASLAP      memcaslap binary (default: from PATH)
#                  (both installed with apt-get install memcached
#                  libmemcached-tools when missing and running as root)
#   ROUNDS         throughput rounds per server (default 3, minimum 1)
#   DURATION       seconds per throughput round (default 10)
#   MC_SERVERS     servers to measure (default "loomd memcached")
#   MC_PARTS       parts to run (default "throughput memory")
#   MC_CONNS       memcaslap connections (default 50)
#   MC_THREADS     memcaslap threads (default 1)
#   MC_ITEMS       items loaded in the memory part (default 1000000)
#   MC_VALUE_SIZE  value size in the memory part (default 100)
#   MC_PIN         0: do not pin the server and the client to CPUs
#   MC_KEEP        1: keep the temporary directory (configs, logs, outputs)
#   PYTHON         python interpreter for the loader (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
SERVERS=${MC_SERVERS:-loomd memcached}
PARTS=${MC_PARTS:-throughput memory}
CONNS=${MC_CONNS:-50}
THREADS=${MC_THREADS:-1}
ITEMS=${MC_ITEMS:-1000000}
VALUE_SIZE=${MC_VALUE_SIZE:-100}
TPUT_MB=64
MEM_MB=1024

bench_numbers ROUNDS DURATION CONNS THREADS ITEMS VALUE_SIZE
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
[ "$ITEMS" -ge 2 ] || ITEMS=2

bench_words part MC_PARTS "$PARTS" throughput memory
bench_words server MC_SERVERS "$SERVERS" loomd memcached
do_tput=no; do_mem=no; want_loomd=no; want_memcached=no
in_words throughput "$PARTS" && do_tput=yes
in_words memory "$PARTS" && do_mem=yes
in_words loomd "$SERVERS" && want_loomd=yes
in_words memcached "$SERVERS" && want_memcached=yes

# ---------------------------------------------------------------- tools
bench_python
LOADER="$here/mc_load.py"
[ -r "$LOADER" ] || die "missing $LOADER"
[ $want_loomd = yes ] && bench_loomd

MEMCACHED=${MEMCACHED:-$(find_tool memcached)}
MEMCASLAP=${MEMCASLAP:-$(find_tool memcaslap)}
need_pkgs=
[ $want_memcached = yes ] && [ ! -x "${MEMCACHED:-}" ] && need_pkgs="memcached"
[ $do_tput = yes ] && [ ! -x "${MEMCASLAP:-}" ] && need_pkgs="$need_pkgs libmemcached-tools"
if [ -n "$need_pkgs" ]; then
	# shellcheck disable=SC2086  # package list
	bench_install $need_pkgs
	[ -x "${MEMCACHED:-}" ] || MEMCACHED=$(find_tool memcached)
	[ -x "${MEMCASLAP:-}" ] || MEMCASLAP=$(find_tool memcaslap)
fi
if [ $want_memcached = yes ] && [ ! -x "${MEMCACHED:-}" ]; then
	die "memcached not found (apt-get install memcached, or set MEMCACHED)"
fi
if [ $do_tput = yes ] && [ ! -x "${MEMCASLAP:-}" ]; then
	die "memcaslap not found (apt-get install libmemcached-tools, or set MEMCASLAP)"
fi

# ---------------------------------------------------------------- pinning
# Two CPUs from the ones this shell may run on: the first for the server, the
# second for memcaslap and the loader.
bench_pin "${MC_PIN:-1}"

# ---------------------------------------------------------------- cleanup
bench_setup memcache "${MC_KEEP:-0}"

# ---------------------------------------------------------------- helpers

# stat_value FILE NAME: the value of one "NAME VALUE" line, or n/a.
stat_value() {
	local v
	v=$(awk -v n="$2" '$1 == n { print $2; exit }' "$1" 2>/dev/null)
	echo "${v:-n/a}"
}

# ---------------------------------------------------------------- servers
# start_SERVER PORT DIR MEMORY_MB: starts it (pinned when pinning), sets
# server_pid, returns 0 once it answers "version".
loomd_conf() {   # loomd_conf PORT MEMORY_MB: a configuration on stdout
	loomd_conf_head
	echo 'memcache "cache" {'
	echo "    listen = {\"tcp:$1:interface=127.0.0.1\"}"
	echo "    memory = ${2}M"
	echo '    max_item_size = 1M'
	echo '    strict_keys = no'
	echo '}'
}

start_loomd() {
	local port=$1 dir=$2 mb=$3
	loomd_conf "$port" "$mb" >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	if loomd_ready "$dir" &&
	   "$PY" "$LOADER" version 127.0.0.1 "$port" 5 >"$dir/version" 2>"$dir/version.err"; then
		return 0
	fi
	server_failed "loomd did not become ready; its stderr" "$dir/stderr.log" "$dir/version.err"
}

start_memcached() {
	local port=$1 dir=$2 mb=$3 user=()
	[ "$(id -u)" = 0 ] && user=(-u root)
	spawn_server "$dir" "$MEMCACHED" "${user[@]}" -t 1 -m "$mb" -I 1m -c 1024 \
		-l 127.0.0.1 -p "$port" -U 0
	"$PY" "$LOADER" version 127.0.0.1 "$port" 10 >"$dir/version" 2>"$dir/version.err" ||
		server_failed "memcached did not start; its output" "$dir/stdout.log" "$dir/stderr.log" "$dir/version.err"
}

server_version() {
	case $1 in
	loomd) "$LOOMD" -V 2>&1 | head -n 1 ;;
	base) "$LOOMD_BASE" -V 2>&1 | head -n 1 ;;
	memcached) "$MEMCACHED" -V 2>&1 | head -n 1 ;;
	esac
}

# ---------------------------------------------------------------- part 1
cfg=$tmp/memcaslap.cfg
cat >"$cfg" <<-'EOF'
# key length: min max proportion
key
32 32 1
# value length: min max proportion
value
32 32 1
# command (0 set, 1 get) and proportion
cmd
0 0.1
1 0.9
EOF

tput_results=$tmp/tput     # lines: server round ops ops_per_s us_per_op
tput_invalid=$tmp/tput.errors   # the same, for rounds with error replies
: >"$tput_results"
: >"$tput_invalid"

measure_tput() {
	local server=$1 round=$2 port dir t0 t1 ns0 ns1 ops tps misses errors cpu_s us rc flag
	port=$(free_port)
	dir=$tmp/$server.tput.$round
	bench_start "$dir" "start_$server" "$port" "$dir" "$TPUT_MB" || return 1
	t0=$(cpu_ticks "$server_pid")
	ns0=$(date +%s%N)
	run_client "$dir/client.out" timeout $((DURATION + 120)) \
		"$MEMCASLAP" -s "127.0.0.1:$port" -F "$cfg" -c "$CONNS" -T "$THREADS" -t "${DURATION}s"
	rc=$?
	t1=$(cpu_ticks "$server_pid")
	ns1=$(date +%s%N)
	[ -n "$t1" ] || { server_died "$server died during round $round" "$dir"; return 1; }
	# "Run time: 10.0s Ops: 1543210 TPS: 154321 Net_rate: 17.4M/s"
	read -r ops tps < <(awk '/^Run time:/ { for (i = 1; i < NF; i++) { if ($i == "Ops:") o = $(i + 1); if ($i == "TPS:") t = $(i + 1) } }
		END { print o, t }' "$dir/client.out")
	misses=$(awk '/^get_misses:/ { v = $2 } END { print (v == "") ? "n/a" : v }' "$dir/client.out")
	# memcaslap prints each error reply as "<FD CLIENT_ERROR ..." (or SERVER_ERROR, ERROR)
	errors=$(grep -c '^<[0-9]* .*ERROR' "$dir/client.out")
	client_ok "$rc" "$ops" "$tps" ||
		{ client_failed "$server round $round: memcaslap failed" "$rc" "$dir/client.out"; return 1; }
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$ops")
	flag=
	if [ "$errors" -gt 0 ]; then
		flag="  ** $errors error replies ($(awk -v e="$errors" -v n="$ops" 'BEGIN { printf "%.1f", e * 100 / n }')% of ops), first: $(grep -m 1 '^<[0-9]* ' "$dir/client.out" | cut -d' ' -f2- | tr -d '\r') -- not in the medians"
		echo "$server $round $ops $tps $us" >>"$tput_invalid"
	else
		echo "$server $round $ops $tps $us" >>"$tput_results"
	fi
	printf '%-9s round %d: %8d ops/s  %9d ops  server CPU %6ss  %6s us/op  get_misses %s  errors %s  (wall %ss)%s\n' \
		"$server" "$round" "$tps" "$ops" "$cpu_s" "$us" "$misses" "$errors" \
		"$(awk -v d="$((ns1 - ns0))" 'BEGIN { printf "%.1f", d / 1e9 }')" "$flag"
	server_done "$server round $round"
}

median() {   # median FILE SERVER COLUMN [PRINTF_FORMAT]
	awk -v s="$2" -v c="$3" '$1 == s { print $c }' "$1" | median_of "${4:-%.3f}"
}

# ---------------------------------------------------------------- part 2
mem_results=$tmp/mem      # lines: server rss_empty rss_loaded curr_items
: >"$mem_results"

measure_mem() {
	local server=$1 port dir before after items evictions load_s check
	port=$(free_port)
	dir=$tmp/$server.mem
	bench_start "$dir" "start_$server" "$port" "$dir" "$MEM_MB" || return 1
	before=$(rss_kib "$server_pid")
	if ! run_client "$dir/load.out" "$PY" "$LOADER" load 127.0.0.1 "$port" "$ITEMS" "$VALUE_SIZE"; then
		echo "memcache.sh: $server: loading failed; loader output:" >&2
		sed 's/^/  /' "$dir/load.out" >&2
		kill -0 "$server_pid" 2>/dev/null || { echo "  ($server died)" >&2; tail -n 20 "$dir/stderr.log" >&2; }
		stop_server
		return 1
	fi
	sed -n 's/^mc_load.py: /# loader: /p' "$dir/load.out"
	load_s=$(awk '$1 == "loaded" { print $3 }' "$dir/load.out")
	sleep 1
	after=$(rss_kib "$server_pid")
	if "$PY" "$LOADER" stats 127.0.0.1 "$port" >"$dir/stats" 2>"$dir/stats.err"; then
		items=$(stat_value "$dir/stats" curr_items)
		evictions=$(stat_value "$dir/stats" evictions)
	else
		items=n/a; evictions=n/a
		note "$server: stats failed: $(head -c 200 "$dir/stats.err")"
	fi
	check=$("$PY" "$LOADER" check 127.0.0.1 "$port" "$ITEMS" "$VALUE_SIZE" 1000 2>&1 |
		awk '$1 == "check" { printf "%d/%d found, %d intact", $3, $2, $4; next } { print }')
	printf '%-9s VmRSS empty %8d KiB  loaded %8d KiB  (+%d KiB, %.1f B/item)  curr_items %s  evictions %s  load %ss  spot check %s\n' \
		"$server" "$before" "$after" "$((after - before))" \
		"$(awk -v a="$after" -v b="$before" -v n="$ITEMS" 'BEGIN { print (a - b) * 1024 / n }')" \
		"$items" "$evictions" "$load_s" "$check"
	echo "$server $before $after $items" >>"$mem_results"
	server_done "$server (memory)"
}

# ---------------------------------------------------------------- main
echo "# memcache benchmark: $(nproc 2>/dev/null || echo '?') CPUs, servers: $SERVERS"
for s in $SERVERS; do
	case $s in
	loomd) note "loomd: $LOOMD ($(server_version loomd)); memcache module, memory = ${TPUT_MB}M / ${MEM_MB}M, max_item_size = 1M, strict_keys = no (memcaslap's keys begin with control characters; strict_keys only changes key validation)" ;;
	base) base_note ;;
	memcached) note "memcached: $MEMCACHED ($(server_version memcached)), -t 1 -m $TPUT_MB / -m $MEM_MB -I 1m" ;;
	esac
done
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: server on CPU $server_cpu, memcaslap and loader on CPU $client_cpu (same for every server)"
else
	note "not pinned (MC_PIN=0, fewer than 2 CPUs, or no taskset)"
fi

if [ $want_loomd = yes ]; then
	# Check a configuration once (loomd -t) so that a loomd built without the
	# memcache module is reported once, not once per round.
	loomd_conf "$(free_port)" "$TPUT_MB" >"$tmp/check.conf"
	loomd_accepts "$tmp/check.conf" "a memcache configuration (built without the memcache module?)" || exit 1
fi

failed=0
# shellcheck disable=SC2086  # split on purpose
set -- $SERVERS
a=${1:-}; b=${2:-}
set --

if [ $do_tput = yes ]; then
	echo
	echo "throughput: memcaslap $("$MEMCASLAP" -V 2>&1 | head -n 1 | sed 's/^memaslap //') -c $CONNS -T $THREADS -t ${DURATION}s, 90% get / 10% set, 32 B keys, 32 B values, ${TPUT_MB} MB servers, $ROUNDS rounds each, alternating"
	for round in $(seq "$ROUNDS"); do
		for server in $SERVERS; do
			measure_tput "$server" "$round" || failed=1
		done
	done
	echo
	echo "throughput summary (median over rounds without error replies):"
	for server in $SERVERS; do
		bad=$(awk -v s="$server" '$1 == s' "$tput_invalid" | wc -l)
		printf '  %-9s %8s ops/s  %7s us CPU/op%s\n' "$server" \
			"$(median "$tput_results" "$server" 4 %.0f)" "$(median "$tput_results" "$server" 5)" \
			"$( [ "$bad" -gt 0 ] && echo "  ($bad of $ROUNDS rounds left out: error replies)")"
	done
	if [ -n "$b" ]; then
		echo "  ratio $a/$b: ops/s $(ratio "$(median "$tput_results" "$a" 4)" "$(median "$tput_results" "$b" 4)")  CPU/op $(ratio "$(median "$tput_results" "$a" 5)" "$(median "$tput_results" "$b" 5)")"
	fi
fi

if [ $do_mem = yes ]; then
	echo
	echo "memory: $ITEMS items key:%07d with $VALUE_SIZE-byte values, ${MEM_MB} MB servers"
	for server in $SERVERS; do
		measure_mem "$server" || failed=1
	done
	if [ -n "$b" ]; then
		# rss_loaded and growth of one server, or n/a
		mem_of() { awk -v s="$1" '$1 == s { r = $3; g = $3 - $2 } END { print (r == "") ? "n/a n/a" : r " " g }' "$mem_results"; }
		read -r ra ga < <(mem_of "$a")
		read -r rb gb < <(mem_of "$b")
		echo "  ratio $a/$b: VmRSS loaded $(ratio "$ra" "$rb")  (growth $(ratio "$ga" "$gb"))"
	fi
fi

[ "$failed" = 0 ] || exit 1
exit 0
