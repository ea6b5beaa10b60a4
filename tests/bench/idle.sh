#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# Idle-connection memory benchmark: loomd versus nginx (1 process).
#
# For each server, in alternating rounds (loomd, nginx, loomd, nginx, ...):
#   1. start it on a free loopback port,
#   2. open and close 100 warm-up connections, read VmRSS and CPU time,
#   3. open IDLE_CONNS connections that send nothing (from 2+ client
#      processes so that no process needs more fds than RLIMIT_NOFILE),
#   4. wait until the server holds them all, settle 1 s, read VmRSS and CPU
#      time again,
# and report the RSS growth per connection and the CPU time the server spent
# per accepted connection.  A summary gives the medians, the loomd/nginx ratio
# and the target (<= 1024 B/conn for loomd, and below nginx).
#
# This is a benchmark, not a test: it exits 0 when the measurements could be
# taken (set IDLE_STRICT=1 to exit 3 when loomd misses the target) and
# non-zero when a server could not be started or measured.
#
# Run from the repository root after the build:  tests/bench/idle.sh
#
# Environment:
#   LOOMD          loomd binary (default src/loomd)
#   NGINX          nginx binary (default: nginx from PATH or /usr/sbin/nginx;
#                  installed with apt-get install nginx-light when missing
#                  and running as root)
#   IDLE_CONNS     idle connections per round (default 18000)
#   IDLE_ROUNDS    rounds per server (default 3, minimum 2)
#   IDLE_SERVERS   servers to measure (default "loomd nginx")
#   IDLE_MODULE    loomd module holding the connections: echo (default) or finger
#   IDLE_SETTLE    seconds to wait after the last accept (default 1)
#   IDLE_TIMEOUT   seconds to wait for all connections to be accepted (default 120)
#   IDLE_STRICT    1: exit 3 when loomd misses the 1024 B/conn target or nginx
#   IDLE_KEEP      1: keep the temporary directory (configs, logs)
#   IDLE_SMAPS     1: also print where the RSS grew (per mapping, from smaps)
#   PYTHON         python interpreter for the client (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

CONNS=${IDLE_CONNS:-18000}
ROUNDS=${IDLE_ROUNDS:-3}
SERVERS=${IDLE_SERVERS:-loomd nginx}
MODULE=${IDLE_MODULE:-echo}
SETTLE=${IDLE_SETTLE:-1}
ACCEPT_TIMEOUT=${IDLE_TIMEOUT:-120}
WARMUP=100
TARGET=1024

case $CONNS in ''|*[!0-9]*) die "IDLE_CONNS must be a number" ;; esac
case $ROUNDS in ''|*[!0-9]*) die "IDLE_ROUNDS must be a number" ;; esac
[ "$ROUNDS" -ge 2 ] || ROUNDS=2
case $MODULE in echo|finger) ;; *) die "IDLE_MODULE must be echo or finger" ;; esac

# ---------------------------------------------------------------- fd limits
# The server process must hold CONNS sockets plus its own few fds.  Ask for
# 20000 (or more when root and CONNS needs it); fall back to the hard limit.
want_nofile=20000
[ $((CONNS + 256)) -gt $want_nofile ] && want_nofile=$((CONNS + 256))
if ! ulimit -n "$want_nofile" 2>/dev/null; then
	ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
fi
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
if [ $((CONNS + 256)) -gt "$nofile" ]; then
	new=$((nofile - 256))
	[ "$new" -gt 0 ] || die "open-file limit $nofile is too low"
	note "open-file limit is $nofile: lowering IDLE_CONNS from $CONNS to $new"
	CONNS=$new
fi
# Client processes: each holds at most half the limit (so 2 clients of N/2
# with the usual 20000), and there are always at least 2.
per_client=$(( (nofile - 256) / 2 ))
[ "$per_client" -gt 8 ] || per_client=8
nclients=$(( (CONNS + per_client - 1) / per_client ))
[ "$nclients" -ge 2 ] || nclients=2

# ---------------------------------------------------------------- tools
bench_python
CLIENT="$here/idle_client.py"
[ -r "$CLIENT" ] || die "missing $CLIENT"
command -v ss >/dev/null 2>&1 || die "ss (iproute2) is needed"

bench_words server IDLE_SERVERS "$SERVERS" loomd nginx
want_loomd=no; want_nginx=no
in_words loomd "$SERVERS" && want_loomd=yes
in_words nginx "$SERVERS" && want_nginx=yes

[ $want_loomd = yes ] && bench_loomd

if [ $want_nginx = yes ]; then
	NGINX=${NGINX:-$(find_tool nginx)}
	if [ ! -x "${NGINX:-}" ]; then
		bench_install nginx-light
		# the package's own service is not needed (and may hold port 80)
		command -v systemctl >/dev/null 2>&1 && systemctl stop nginx >/dev/null 2>&1
		NGINX=$(find_tool nginx)
	fi
	[ -x "${NGINX:-}" ] || die "nginx not found (apt-get install nginx-light, or set NGINX)"
fi

# ---------------------------------------------------------------- cleanup
bench_setup idle "${IDLE_KEEP:-0}"
client_pids=

stop_clients() {
	local p
	for p in $client_pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $client_pids; do wait "$p" 2>/dev/null; done
	client_pids=
}

# ---------------------------------------------------------------- helpers

# smaps_sum PID: "mapping KiB" lines, RSS summed per mapping name (anonymous
# mappings as [anon]), sorted for join(1).
smaps_sum() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]"; sub(".*/", "", name) }
	     /^Rss:/ { rss[name] += $2 }
	     END { for (n in rss) print n, rss[n] }' "/proc/$1/smaps" 2>/dev/null | sort
}

# shellcheck disable=SC2012  # fd names are numbers
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

established() { ss -Htn state established "sport = :$1" 2>/dev/null | wc -l; }

listening() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

# wait_fds PID TARGET TIMEOUT_S: until the fd count of PID reaches TARGET
# (or stops changing for 5 s after TIMEOUT_S).  Prints the last count.
wait_fds() {
	local pid=$1 target=$2 limit=$3 n last=-1 since=$SECONDS start=$SECONDS
	while :; do
		n=$(fd_count "$pid")
		[ "$n" -ge "$target" ] && break
		kill -0 "$pid" 2>/dev/null || break
		if [ "$n" != "$last" ]; then last=$n; since=$SECONDS; fi
		[ $((SECONDS - start)) -ge "$limit" ] && [ $((SECONDS - since)) -ge 5 ] && break
		sleep 0.1
	done
	echo "$n"
}

# wait_fds_down PID TARGET TIMEOUT_S: until the fd count is <= TARGET.
wait_fds_down() {
	local pid=$1 target=$2 limit=$3 i
	for i in $(seq $((limit * 10))); do
		[ "$(fd_count "$pid")" -le "$target" ] && return 0
		sleep 0.1
	done
	return 1
}

# run_clients PORT COUNT [--close]: COUNT connections spread over the client
# processes; for --close waits for them, otherwise leaves them running (their
# pids in client_pids).  Returns 1 when a client failed to start.
run_clients() {
	local port=$1 count=$2 mode=${3:-} k n per rest i out
	rm -f "$tmp"/client.*.out "$tmp"/client.*.err
	n=$nclients
	[ "$count" -lt "$n" ] && n=1
	per=$((count / n)); rest=$((count % n))
	for i in $(seq "$n"); do
		k=$per; [ "$i" -le "$rest" ] && k=$((k + 1))
		out=$tmp/client.$i.out
		: >"$out"
		# shellcheck disable=SC2086  # empty $mode must vanish
		"$PY" "$CLIENT" 127.0.0.1 "$port" "$k" $mode --spread=$((10 + i)) >"$out" 2>"$tmp/client.$i.err" </dev/null &
		client_pids="$client_pids $!"
	done
	if [ "$mode" = --close ]; then
		for i in $client_pids; do wait "$i"; done
		client_pids=
	fi
}

# clients_connected TIMEOUT_S: waits until every client reported; prints the
# total number of connections the clients hold.  Client errors go to stderr.
clients_connected() {
	local limit=$1 i f total done_n start=$SECONDS
	while :; do
		done_n=0; total=0
		for f in "$tmp"/client.*.out; do
			if grep -q '^connected ' "$f" 2>/dev/null; then
				done_n=$((done_n + 1))
				total=$((total + $(awk '/^connected / { print $2 }' "$f")))
			fi
		done
		[ "$done_n" -ge "$(echo "$client_pids" | wc -w)" ] && break
		[ $((SECONDS - start)) -ge "$limit" ] && break
		sleep 0.1
	done
	for f in "$tmp"/client.*.out "$tmp"/client.*.err; do
		grep -v '^connected ' "$f" 2>/dev/null | sed 's/^/# client: /' >&2
	done
	echo "$total"
}

# ---------------------------------------------------------------- servers
start_loomd() {
	local port=$1 dir=$2
	{
		loomd_conf_head
		echo "limits { max_connections = $((CONNS + 12000)) }"
		echo "$MODULE \"bench\" {"
		echo "    listen = {\"tcp:$port:interface=127.0.0.1\"}"
		echo '    idle_timeout = 3600'
		echo '}'
	} >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	loomd_ready "$dir" || server_failed "loomd did not become ready; its stderr" "$dir/stderr.log"
}

start_nginx() {
	local port=$1 dir=$2 i
	{
		nginx_main "$dir" 20000
		echo 'worker_rlimit_nofile 20000;'
		cat <<-EOF
		http {
		    access_log off;
		    client_header_timeout 3600s;
		EOF
		nginx_temp_paths "$dir"
		cat <<-EOF
		    server {
		        listen 127.0.0.1:$port;
		        location / { return 200 "ok\n"; }
		    }
		}
		EOF
	} >"$dir/nginx.conf"
	spawn_nginx "$dir"
	for i in $(seq 200); do
		listening "$port" && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	server_failed "nginx did not start listening; its logs" "$dir/stderr.log" "$dir/error.log"
}

# ---------------------------------------------------------------- one round
results=$tmp/results      # lines: server round conns before after bpc cpu_us
: >"$results"

measure() {
	local server=$1 round=$2 port dir base fds before after t0 t1 held got
	local bpc cpu_us accepted wall start_ns end_ns
	port=$(free_port)
	dir=$tmp/$server.$round
	bench_start "$dir" "start_$server" "$port" "$dir" || return 1

	# warm-up: open and close 100 connections, wait until they are gone
	base=$(fd_count "$server_pid")
	run_clients "$port" "$WARMUP" --close
	sleep 0.2
	wait_fds_down "$server_pid" "$base" 10 ||
		note "$server: warm-up connections still open after 10 s"
	sleep 0.3
	base=$(fd_count "$server_pid")
	before=$(rss_kib "$server_pid")
	[ "${IDLE_SMAPS:-0}" = 1 ] && smaps_sum "$server_pid" >"$dir/smaps.before"
	t0=$(cpu_ticks "$server_pid")
	start_ns=$(date +%s%N)

	run_clients "$port" "$CONNS"
	held=$(clients_connected "$ACCEPT_TIMEOUT")
	fds=$(wait_fds "$server_pid" $((base + held)) "$ACCEPT_TIMEOUT")
	end_ns=$(date +%s%N)
	accepted=$((fds - base))
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "idle.sh: $server died during the accept phase; its stderr:" >&2
		tail -n 20 "$dir/stderr.log" >&2
		server_pid=
		stop_clients
		return 1
	fi
	sleep "$SETTLE"
	after=$(rss_kib "$server_pid")
	t1=$(cpu_ticks "$server_pid")
	got=$(established "$port")   # server-side sockets only (sport)

	if [ "$accepted" -le 0 ]; then
		echo "idle.sh: $server accepted no connection" >&2
		stop_clients; stop_server
		return 1
	fi
	bpc=$(awk -v a="$after" -v b="$before" -v n="$accepted" \
		'BEGIN { printf "%.1f", (a - b) * 1024 / n }')
	cpu_us=$(awk -v t="$((t1 - t0))" -v hz="$HZ" -v n="$accepted" \
		'BEGIN { printf "%.2f", t * 1000000 / hz / n }')
	wall=$(awk -v d="$((end_ns - start_ns))" 'BEGIN { printf "%.2f", d / 1e9 }')
	local flag=
	[ "$accepted" -lt "$CONNS" ] && flag=" (incomplete: asked for $CONNS, clients held $held)"
	printf '%-6s round %d: conns %6d (ESTABLISHED %6d)  RSS %7d -> %7d KiB  %8s B/conn  cpu %6s us/conn  accept phase %ss%s\n' \
		"$server" "$round" "$accepted" "$got" "$before" "$after" "$bpc" "$cpu_us" "$wall" "$flag"
	echo "$server $round $accepted $before $after $bpc $cpu_us" >>"$results"

	if [ "${IDLE_SMAPS:-0}" = 1 ]; then
		smaps_sum "$server_pid" >"$dir/smaps.after"
		join -a 1 -a 2 -e 0 -o 0,1.2,2.2 "$dir/smaps.before" "$dir/smaps.after" |
			awk '$3 != $2 { printf "#   RSS growth %-40s %+8d KiB\n", $1, $3 - $2 }'
	fi

	stop_clients
	# let the server see the resets before it is asked to stop
	wait_fds_down "$server_pid" "$base" 10 >/dev/null 2>&1
	stop_server
	case $server_status in
	"exit 0") ;;
	*) note "$server round $round: stopped with $server_status" ;;
	esac
	return 0
}

# ---------------------------------------------------------------- main
echo "# idle connection benchmark: $CONNS connections per round, $ROUNDS rounds per server"
echo "# open-file limit $nofile, $nclients client processes, $(nproc 2>/dev/null || echo '?') CPUs"
[ $want_loomd = yes ] && echo "# loomd: $LOOMD (module $MODULE)"
[ $want_nginx = yes ] && echo "# nginx: $NGINX ($("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), master_process off)"

failed=0
for round in $(seq "$ROUNDS"); do
	for server in $SERVERS; do
		measure "$server" "$round" || failed=1
	done
done

median() {   # median of column 6 (B/conn) or 7 (cpu) for a server
	awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$results" | median_of %.1f
}

echo
echo "summary (median over rounds):"
status=0
for server in $SERVERS; do
	printf '  %-6s %8s B/conn  %6s us CPU/conn\n' "$server" \
		"$(median "$server" 6)" "$(median "$server" 7)"
done
if [ $want_loomd = yes ]; then
	l=$(median loomd 6)
	if [ "$l" != n/a ]; then
		verdict=$(awk -v l="$l" -v t="$TARGET" 'BEGIN { print (l <= t) ? "met" : "MISSED" }')
		echo "  target: loomd <= $TARGET B/conn: $verdict"
		[ "$verdict" = met ] || status=3
	fi
fi
if [ $want_loomd = yes ] && [ $want_nginx = yes ]; then
	l=$(median loomd 6); n=$(median nginx 6)
	if [ "$l" != n/a ] && [ "$n" != n/a ]; then
		awk -v l="$l" -v n="$n" 'BEGIN {
			if (n > 0) printf "  ratio loomd/nginx: %.2f\n", l / n
			else print "  ratio loomd/nginx: n/a (nginx grew by 0)" }'
		verdict=$(awk -v l="$l" -v n="$n" 'BEGIN { print (l < n) ? "met" : "MISSED" }')
		echo "  goal: loomd below nginx: $verdict"
		[ "$verdict" = met ] || status=3
		lc=$(median loomd 7); nc=$(median nginx 7)
		awk -v l="$lc" -v n="$nc" 'BEGIN {
			if (n > 0) printf "  CPU ratio loomd/nginx: %.2f\n", l / n }'
	fi
fi

[ "$failed" = 0 ] || exit 1
[ "${IDLE_STRICT:-0}" = 1 ] && exit $status
exit 0
