#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly (traps)
# bus benchmark: what a message on loomd's bus costs beside the HTTP
# request that carries it in.  Webhooks are POSTed with wrk to an http
# location with handler = "publish" (topic "bench"), and the server's CPU
# per request is compared between:
#   http-only  no route and no events location: the HTTP request and a
#              publish that nobody takes (the cost of the carrier)
#   routed     a route from "bench" to memcache:cache:set (key bench:last,
#              value ${text}; queue 1000000 and inflight 100000, so that
#              nothing is dropped) and BUS_SUBS (default 10) Server-Sent
#              Events subscribers on an events location for the topic:
#              11 deliveries per message
#   routed-1k  as routed with BUS_SUBS_BIG (default 1000) subscribers, for
#              memory: loomd's VmRSS before the subscribers connect, with
#              them connected and idle, and after the round
# Every configuration has the same memcache instance and a status location;
# each part is a separate round with loomd started fresh, in alternating
# rounds (http-only, routed, routed-1k, http-only, ...).  wrk -t1 -c50
# posts {"text":"hello","n":1} as application/json over keep-alive
# connections (a Lua script; BUS_BIG_DELAY paces routed-1k, see below).
# The subscribers are one Python process (tests/bench/sse_client.py) that
# reads every stream and counts its events.
#
# Per round: requests/s, the messages published (the status handler's
# bus.published over the round, which counts the requests wrk had in
# flight when it stopped), the server's CPU time (utime + stime of loomd
# from /proc: never the subscribers' or wrk's) per message, the events the
# subscribers received against subscribers x messages, and the route's
# counters (matched, delivered, failed, dropped_*) from /status.  The CPU
# time is taken once the route's queue is empty and the subscribers have
# every event (or their count stopped moving for 3 s).  Then the medians
# and, from them,
#   CPU per routed message = (CPU/msg routed - CPU/req http-only)
#   CPU per delivery       = that / (subscribers + 1)
#   routed message / HTTP request = CPU per routed message / CPU/req
#                            http-only: the issue's goal is below 1.0.
# A round whose wrk saw non-2xx answers or socket errors, or in which a
# message was dropped or an event went missing, is flagged and left out of
# the medians.
#
# routed-1k: 1000 subscribers make every message a thousand stream writes;
# unpaced, loomd saturates its CPU at a few hundred messages/s and queues
# what the Python reader has not taken yet (up to max_buffer per stream),
# which is a backlog, not the cost of a subscriber.  So by default each
# wrk connection waits BUS_BIG_DELAY ms (default 250) before each request:
# at most 200 messages/s (200,000 events/s) with 50 connections;
# BUS_BIG_DELAY=0 runs it unpaced.  Its memory: VmRSS before the
# subscribers, with them idle and after the round, and VmHWM (the peak).
#
# With 2 or more CPUs loomd runs on one CPU and wrk and the subscribers on
# another (taskset); BUS_PIN=0 turns that off.
#
# The issue's benchmark is this script and tests/bench/kv.sh (a value read
# over HTTP from the kv handler, against nginx and memcached): together
# they measure the bus and the kv handler; bus.sh does not repeat kv.sh.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken, non-zero when loomd or
# a client could not be started or measured.  It builds nothing of loom:
# run it from the repository root after the build.  As root it installs
# what is missing (apt-get install wrk curl).
#
#     tests/bench/bus.sh
#
# Environment:
#   LOOMD           loomd binary (default src/loomd)
#   WRK             wrk binary (default: from PATH)
#   ROUNDS          rounds per part (default 3, minimum 1)
#   DURATION        seconds per round (default 10)
#   BUS_PARTS       parts to run (default "http-only routed routed-1k")
#   BUS_CONNS       wrk connections (default 50)
#   BUS_SUBS        subscribers in routed (default 10)
#   BUS_SUBS_BIG    subscribers in routed-1k (default 1000)
#   BUS_BIG_DELAY   ms each wrk connection waits between requests in
#                   routed-1k (default 250; 0: unpaced)
#   BUS_KEEPALIVE   keepalive_requests (default 100000)
#   BUS_PIN         0: do not pin loomd and the clients to CPUs
#   BUS_KEEP        1: keep the temporary directory (configs, logs, outputs)
#   PYTHON          python interpreter (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
PARTS=${BUS_PARTS:-http-only routed routed-1k}
CONNS=${BUS_CONNS:-50}
SUBS=${BUS_SUBS:-10}
SUBS_BIG=${BUS_SUBS_BIG:-1000}
BIG_DELAY=${BUS_BIG_DELAY:-250}
KEEPALIVE=${BUS_KEEPALIVE:-100000}
BODY='{"text":"hello","n":1}'

bench_numbers ROUNDS DURATION CONNS SUBS SUBS_BIG BIG_DELAY KEEPALIVE
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
bench_words part BUS_PARTS "$PARTS" http-only routed routed-1k

# ---------------------------------------------------------------- tools
bench_python
bench_loomd
WRK=${WRK:-$(find_tool wrk)}
need_pkgs=
[ -x "${WRK:-}" ] || need_pkgs="wrk"
command -v curl >/dev/null 2>&1 || need_pkgs="$need_pkgs curl"
if [ -n "$need_pkgs" ]; then
	# shellcheck disable=SC2086  # package list
	bench_install $need_pkgs
	[ -x "${WRK:-}" ] || WRK=$(find_tool wrk)
fi
[ -x "${WRK:-}" ] || die "wrk not found (apt-get install wrk, or set WRK)"
command -v curl >/dev/null 2>&1 || die "curl not found (apt-get install curl): it checks the publish location and reads /status"

bench_pin "${BUS_PIN:-1}"
bench_setup bus "${BUS_KEEP:-0}"

sub_pid=
# stop_clients (lib.sh's, for the traps): wrk and the subscribers.
stop_clients() {
	if [ -n "$client_pid" ]; then
		kill -TERM "$client_pid" 2>/dev/null
		wait "$client_pid" 2>/dev/null
		client_pid=
	fi
	if [ -n "$sub_pid" ]; then
		kill -TERM "$sub_pid" 2>/dev/null
		wait "$sub_pid" 2>/dev/null
		sub_pid=
	fi
}

# post.lua [DELAY_MS]: wrk's script: POST the JSON body, and with
# DELAY_MS > 0 wait that long before each request of a connection.
post_lua() {
	echo 'wrk.method = "POST"'
	echo "wrk.body = '$BODY'"
	echo 'wrk.headers["Content-Type"] = "application/json"'
	if [ "${1:-0}" -gt 0 ]; then
		echo "function delay() return $1 end"
	fi
}
post_lua 0 >"$tmp/post.lua"
post_lua "$BIG_DELAY" >"$tmp/post_big.lua"

# subs_of PART: the subscribers of a part.
subs_of() {
	case $1 in
	routed) echo "$SUBS" ;;
	routed-1k) echo "$SUBS_BIG" ;;
	*) echo 0 ;;
	esac
}

# ---------------------------------------------------------------- loomd
# bus_conf PART HTTP_PORT MC_PORT: the configuration of a part.
bus_conf() {
	loomd_conf_head
	echo 'memcache "cache" {'
	echo "    listen = {\"tcp:$3:interface=127.0.0.1\"}"
	echo '    memory = 64M'
	echo '}'
	echo 'http "bench" {'
	echo "    listen = {\"tcp:$2:interface=127.0.0.1\"}"
	echo "    keepalive_requests = $KEEPALIVE"
	echo '    server "main" {'
	echo '        location "/hook" { handler = "publish"  topic = "bench" }'
	[ "$1" = http-only ] ||
		echo '        location "/events" { handler = "events"  topic = "bench" }'
	echo '        location "/status" { handler = "status" }'
	echo '    }'
	echo '}'
	[ "$1" = http-only ] && return 0
	echo 'route "bench" {'
	echo '    from = "bench"'
	echo '    to = "memcache:cache:set"'
	echo "    set = {'key = bench:last', 'value = \${text}'}"
	echo '    queue = 1000000'
	echo '    inflight = 100000'
	echo '}'
}

# start_bus PART PORT DIR: loomd with the part's configuration; 0 once a
# POST to /hook gets 202.
start_bus() {
	local part=$1 port=$2 dir=$3 _ code
	bus_conf "$part" "$port" "$(free_port)" >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	if loomd_ready "$dir"; then
		for _ in $(seq 50); do
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
				-H 'Content-Type: application/json' --data "$BODY" \
				"http://127.0.0.1:$port/hook" 2>/dev/null)
			[ "$code" = 202 ] && return 0
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	server_failed "loomd ($part) did not answer 202 on /hook (last status ${code:-none}); its stderr" "$dir/stderr.log"
}

# bus_status PORT: one line from /status JSON: "published matched
# delivered failed retried dropped_rate dropped_queue dropped_loop queued
# inflight" (the route's counters 0 without a route); nothing on failure.
bus_status() {
	curl -s --max-time 5 "http://127.0.0.1:$1/status" 2>/dev/null | "$PY" -c '
import json, sys
try:
    bus = json.load(sys.stdin)["bus"]
except Exception:
    sys.exit(1)
r = bus["routes"][0] if bus["routes"] else {}
keys = ("matched", "delivered", "failed", "retried", "dropped_rate",
        "dropped_queue", "dropped_loop", "queued", "inflight")
print(bus["published"], *(r.get(k, 0) for k in keys))'
}

# start_subs PART PORT DIR COUNT: the subscribers, on the client CPU; 0 once
# all COUNT stream.
start_subs() {
	local part=$1 port=$2 dir=$3 count=$4 _ ready
	"${on_client_cpu[@]}" "$PY" "$here/sse_client.py" 127.0.0.1 "$port" /events \
		"$count" "$dir/subs.count" >"$dir/subs.out" 2>&1 </dev/null &
	sub_pid=$!
	for _ in $(seq 600); do
		ready=$(awk '$1 == "ready" { print $2 }' "$dir/subs.out" 2>/dev/null)
		[ -n "$ready" ] && break
		kill -0 "$sub_pid" 2>/dev/null || break
		sleep 0.05
	done
	if [ "$ready" = "$count" ]; then
		return 0
	fi
	echo "$bench_script: $part: the subscribers did not connect (ready: ${ready:-none} of $count); their output:" >&2
	sed 's/^/  /' "$dir/subs.out" >&2
	stop_clients
	return 1
}

# hwm_kib PID: the peak resident memory of a process in KiB.
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---------------------------------------------------------------- rounds
results=$tmp/results     # lines: part round rps us_per_msg rss0 rss1 rss2 hwm
: >"$results"

measure() {
	local part=$1 round=$2 port dir nsubs lua t0 t1 rc st0 st1 pub0 pub1 n
	local cpu_s us flag='' ev='' want=0 last='' same=0 _ rss0 rss1='-' rss2 hwm
	local matched delivered failed retried d_rate d_queue d_loop queued inflight
	local evsum evmin evmax closed
	port=$(free_port)
	dir=$tmp/$part.$round
	nsubs=$(subs_of "$part")
	bench_start "$dir" start_bus "$part" "$port" "$dir" || return 1
	rss0=$(rss_kib "$server_pid")
	if [ "$nsubs" -gt 0 ]; then
		start_subs "$part" "$port" "$dir" "$nsubs" || { stop_server; return 1; }
		sleep 1   # let the streams settle before the idle RSS
		rss1=$(rss_kib "$server_pid")
	fi
	st0=$(bus_status "$port") || { server_failed "$part round $round: no /status" "$dir/stderr.log"; stop_clients; stop_server; return 1; }
	pub0=${st0%% *}
	lua=$tmp/post.lua
	[ "$part" = routed-1k ] && lua=$tmp/post_big.lua
	t0=$(cpu_ticks "$server_pid")
	run_client "$dir/wrk.out" timeout $((DURATION + 60)) \
		"$WRK" -t 1 -c "$CONNS" -d "${DURATION}s" -s "$lua" "http://127.0.0.1:$port/hook"
	rc=$?
	# drain: the route's queue empty and every event with the subscribers
	for _ in $(seq 300); do
		st1=$(bus_status "$port") || break
		read -r pub1 matched delivered failed retried d_rate d_queue d_loop queued inflight <<<"$st1"
		want=$(( (pub1 - pub0) * nsubs ))
		ev=0
		[ "$nsubs" -gt 0 ] && ev=$(awk '{ print $1 }' "$dir/subs.count" 2>/dev/null)
		if [ "$queued" = 0 ] && [ "$inflight" = 0 ] && [ "${ev:-0}" -ge "$want" ]; then
			break
		fi
		if [ "$ev" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 30 ] && break   # 3 s without a new event
		else
			same=0; last=$ev
		fi
		sleep 0.1
	done
	t1=$(cpu_ticks "$server_pid")
	[ -n "$t1" ] || { stop_clients; server_died "loomd died during $part round $round" "$dir"; return 1; }
	st1=$(bus_status "$port") || { stop_clients; server_failed "$part round $round: no /status at the end" "$dir/stderr.log"; stop_server; return 1; }
	read -r pub1 matched delivered failed retried d_rate d_queue d_loop queued inflight <<<"$st1"
	rss2=$(rss_kib "$server_pid")
	hwm=$(hwm_kib "$server_pid")
	stop_clients
	evsum=0; evmin=0; evmax=0; closed=0
	[ "$nsubs" -gt 0 ] && read -r evsum evmin evmax closed <"$dir/subs.count"
	wrk_results "$dir/wrk.out"
	client_ok "$rc" "$wrk_reqs" "$wrk_rps" ||
		{ client_failed "$part round $round: wrk failed" "$rc" "$dir/wrk.out"; return 1; }
	flag=$wrk_flag
	n=$((pub1 - pub0))
	[ "$n" -gt 0 ] || { client_failed "$part round $round: nothing was published" "$rc" "$dir/wrk.out"; return 1; }
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$n")
	if [ "$part" != http-only ]; then
		local drops=$((d_rate + d_queue + d_loop))
		if [ -z "$flag" ] && { [ "$drops" != 0 ] || [ "$failed" != 0 ] || [ "$delivered" != "$matched" ]; }; then
			flag="  ** route: $drops dropped, $failed failed, $delivered of $matched delivered -- not in the medians"
		elif [ -z "$flag" ] && { [ "$evsum" != "$((n * nsubs))" ] || [ "$closed" != 0 ]; }; then
			flag="  ** subscribers: $evsum events of $((n * nsubs)), $closed streams closed -- not in the medians"
		fi
	fi
	[ -n "$flag" ] || echo "$part $round $wrk_rps $us $rss0 $rss1 $rss2 $hwm" >>"$results"
	printf '%-9s round %d: %7s req/s  %8s messages  server CPU %6ss  %7s us/msg%s\n' \
		"$part" "$round" "$wrk_rps" "$n" "$cpu_s" "$us" "$flag"
	if [ "$part" != http-only ]; then
		printf '%-9s          route: matched %s delivered %s failed %s retried %s dropped_rate %s dropped_queue %s dropped_loop %s\n' \
			"" "$matched" "$delivered" "$failed" "$retried" "$d_rate" "$d_queue" "$d_loop"
		printf '%-9s          subscribers: %s events of %s (%s x %s messages), per stream %s..%s, %s closed by the server\n' \
			"" "$evsum" "$((n * nsubs))" "$nsubs" "$n" "$evmin" "$evmax" "$closed"
	fi
	if [ "$part" = routed-1k ]; then
		printf '%-9s          loomd VmRSS: %s KiB before, %s KiB with %s idle subscribers, %s KiB after the round; VmHWM %s KiB\n' \
			"" "$rss0" "$rss1" "$nsubs" "$rss2" "$hwm"
	fi
	server_done "$part round $round"
}

median() { awk -v p="$1" -v c="$2" '$1 == p { print $c }' "$results" | median_of "${3:-%.3f}"; }

# derived CPU_ROUTED CPU_HTTP DELIVERIES: "PER_MESSAGE PER_DELIVERY RATIO"
derived() {
	awk -v r="$1" -v h="$2" -v d="$3" 'BEGIN {
		if (r == "n/a" || h == "n/a" || h + 0 == 0) { print "n/a n/a n/a"; exit }
		m = r - h
		printf "%.3f %.3f %.2f\n", m, m / d, m / h }'
}

# ---------------------------------------------------------------- main
echo "# bus benchmark: $(nproc 2>/dev/null || echo '?') CPUs, parts: $PARTS, $ROUNDS rounds of ${DURATION}s each, alternating"
note "loomd: $LOOMD ($("$LOOMD" -V 2>&1 | head -n 1))"
note "wrk: $WRK ($("$WRK" --version 2>&1 | head -n 1 | awk '{ print $2 }')) -t 1 -c $CONNS, keep-alive, POST /hook $BODY (application/json)"
note "routed: route bench -> memcache:cache:set and $SUBS SSE subscribers; routed-1k: $SUBS_BIG subscribers, wrk paced at ${BIG_DELAY} ms per request and connection (0: unpaced)"
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: loomd on CPU $server_cpu, wrk and the subscribers on CPU $client_cpu"
else
	note "not pinned (BUS_PIN=0, fewer than 2 CPUs, or no taskset): the clients share the CPUs with loomd"
fi
bus_conf routed "$(free_port)" "$(free_port)" >"$tmp/check.conf"
loomd_accepts "$tmp/check.conf" "the routed configuration (a loomd without the publish handler or routes?)" || exit 1

failed=0
for round in $(seq "$ROUNDS"); do
	for part in $PARTS; do
		measure "$part" "$round" || failed=1
	done
done

echo
echo "summary (medians over rounds without errors):"
printf '  %-9s %10s %12s\n' part "req/s" "CPU us/msg"
for part in $PARTS; do
	printf '  %-9s %10s %12s\n' "$part" "$(median "$part" 3 %.0f)" "$(median "$part" 4 %.2f)"
done
if in_words http-only "$PARTS"; then
	http_us=$(median http-only 4)
	echo
	echo "against http-only (CPU us, medians; the issue's goal: routed message / HTTP request below 1.0):"
	printf '  %-44s %9s\n' "CPU per HTTP request (http-only)" "$(median http-only 4)"
	for part in routed routed-1k; do
		in_words "$part" "$PARTS" || continue
		d=$(( $(subs_of "$part") + 1 ))
		read -r per_msg per_del rat < <(derived "$(median "$part" 4)" "$http_us" "$d")
		printf '  %-44s %9s\n' "CPU per routed message ($part - http-only)" "$per_msg" \
			"CPU per delivery ($part, / $d deliveries)" "$per_del" \
			"$part message / HTTP request" "$rat"
	done
fi
if in_words routed-1k "$PARTS"; then
	echo
	r0=$(median routed-1k 5 %.0f); r1=$(median routed-1k 6 %.0f)
	echo "routed-1k memory (loomd, medians, KiB):"
	printf '  VmRSS before the subscribers %s, with %s idle %s, after the round %s; VmHWM %s\n' \
		"$r0" "$SUBS_BIG" "$r1" "$(median routed-1k 7 %.0f)" "$(median routed-1k 8 %.0f)"
	awk -v a="$r0" -v b="$r1" -v n="$SUBS_BIG" 'BEGIN {
		if (a != "n/a" && b != "n/a") printf "  per idle subscriber: %.2f KiB\n", (b - a) / n }'
fi

[ "$failed" = 0 ] || exit 1
exit 0
