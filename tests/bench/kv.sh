#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# kv benchmark: a small value read over HTTP from loomd's kv handler (the
# memcache store behind an http location), side by side with nginx serving
# the same bytes from a file, and with a memcache `get` of a value of the
# same size from Debian's memcached and from loomd's own memcache module.
#
# Servers (KV_SERVERS, default "kv nginx memcached mc"), each started fresh
# per round, in alternating rounds (kv, nginx, memcached, mc, kv, ...):
#   kv         loomd: a memcache instance and an http instance whose
#              location /kv/ is handler kv over it, no access log,
#              keepalive_requests KV_KEEPALIVE; the value (13 bytes,
#              "Hello, world\n") is stored with curl PUT before the round;
#              wrk -t1 -c50 on GET /kv/hello
#   nginx      worker_processes 1, master_process off, open_file_cache,
#              access_log off, the same 13 bytes in a file; wrk as for kv
#   memcached  memcached -t 1 -m 64; memcaslap (libmemcached-tools) with
#              100% get of 13-byte values under 16-byte keys (memcaslap's
#              shortest), 50 connections, a window of 1k keys per
#              connection that it sets first (51,200 sets, counted in its
#              ops: a few per cent of a 10 s round)
#   mc         loomd's memcache module alone, driven as memcached is
#              (strict_keys = no: memcaslap's keys begin with control
#              bytes, see memcache.sh)
# Per round: requests (or operations) per second, and the server's CPU time
# (utime + stime from /proc, all threads) per request.  Then the medians and
# the ratios kv/nginx, kv/memcached and kv/mc.  Before each HTTP round curl
# checks that the server returns the value's exact bytes; a round with
# non-2xx answers, socket errors or memcache error replies is flagged and
# left out of the medians.
#
# With 2 or more CPUs the server runs on one CPU and the load generator on
# another (taskset); KV_PIN=0 turns that off.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken, non-zero when a server
# could not be started or measured.  It builds nothing of loom: run it from
# the repository root after the build.  As root it installs what is
# missing (apt-get install wrk nginx-light memcached libmemcached-tools).
#
#     tests/bench/kv.sh
#
# Environment:
#   LOOMD             loomd binary (default src/loomd)
#   NGINX, WRK, MEMCACHED, MEMCASLAP   binaries (default: from PATH)
#   ROUNDS            rounds per server (default 3, minimum 1)
#   DURATION          seconds per round (default 10)
#   KV_SERVERS        servers to measure (default "kv nginx memcached mc")
#   KV_CONNS          connections of wrk and memcaslap (default 50)
#   KV_KEEPALIVE      keepalive_requests for loomd and nginx (default 100000)
#   KV_PIN            0: do not pin the server and the client to CPUs
#   KV_KEEP           1: keep the temporary directory
#   PYTHON            python interpreter for free_port (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
SERVERS=${KV_SERVERS:-kv nginx memcached mc}
CONNS=${KV_CONNS:-50}
KEEPALIVE=${KV_KEEPALIVE:-100000}
VALUE='Hello, world'   # and a newline: 13 bytes

bench_numbers ROUNDS DURATION CONNS KEEPALIVE
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
bench_words server KV_SERVERS "$SERVERS" kv nginx memcached mc
want() { in_words "$1" "$SERVERS"; }

# ---------------------------------------------------------------- tools
bench_python
{ want kv || want mc; } && bench_loomd
NGINX=${NGINX:-$(find_tool nginx)}
WRK=${WRK:-$(find_tool wrk)}
MEMCACHED=${MEMCACHED:-$(find_tool memcached)}
MEMCASLAP=${MEMCASLAP:-$(find_tool memcaslap)}
need_pkgs=
{ want kv || want nginx; } && [ ! -x "${WRK:-}" ] && need_pkgs="wrk"
want nginx && [ ! -x "${NGINX:-}" ] && need_pkgs="$need_pkgs nginx-light"
want memcached && [ ! -x "${MEMCACHED:-}" ] && need_pkgs="$need_pkgs memcached"
{ want memcached || want mc; } && [ ! -x "${MEMCASLAP:-}" ] && need_pkgs="$need_pkgs libmemcached-tools"
if [ -n "$need_pkgs" ]; then
	# shellcheck disable=SC2086  # package list
	bench_install $need_pkgs
	[ -x "${WRK:-}" ] || WRK=$(find_tool wrk)
	[ -x "${NGINX:-}" ] || NGINX=$(find_tool nginx)
	[ -x "${MEMCACHED:-}" ] || MEMCACHED=$(find_tool memcached)
	[ -x "${MEMCASLAP:-}" ] || MEMCASLAP=$(find_tool memcaslap)
fi
{ want kv || want nginx; } && { [ -x "${WRK:-}" ] || die "wrk not found (apt-get install wrk, or set WRK)"; }
want nginx && { [ -x "${NGINX:-}" ] || die "nginx not found (apt-get install nginx-light, or set NGINX)"; }
want memcached && { [ -x "${MEMCACHED:-}" ] || die "memcached not found (apt-get install memcached)"; }
{ want memcached || want mc; } && { [ -x "${MEMCASLAP:-}" ] || die "memcaslap not found (apt-get install libmemcached-tools)"; }
command -v curl >/dev/null 2>&1 || die "curl is needed to store and check the value"

quiet_services nginx
bench_pin "${KV_PIN:-1}"
bench_setup kv "${KV_KEEP:-0}"
chmod 755 "$tmp"

www=$tmp/www
mkdir -p "$www"
printf '%s\n' "$VALUE" >"$www/hello"
chmod 755 "$www"
chmod 644 "$www/hello"

cfg=$tmp/memcaslap.cfg
cat >"$cfg" <<-'EOF'
key
16 16 1
value
13 13 1
cmd
0 0.0
1 1.0
EOF

# ---------------------------------------------------------------- servers
# start_SERVER PORT DIR: starts it, sets server_pid; 0 once it serves.

# answers URL: 0 once URL returns the value's exact bytes (up to 10 s).
answers() {
	local _ out
	for _ in $(seq 100); do
		out=$(curl -s --max-time 2 "$1" 2>/dev/null)
		[ "$out" = "$VALUE" ] && return 0
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# mc_answers PORT: 0 once the memcache server at PORT answers `version`.
mc_answers() {
	"$PY" "$here/mc_load.py" version 127.0.0.1 "$1" 10 >/dev/null 2>&1
}

loomd_kv_conf() {   # loomd_kv_conf HTTP_PORT MC_PORT
	loomd_conf_head
	echo 'memcache "cache" {'
	echo "    listen = {\"tcp:$2:interface=127.0.0.1\"}"
	echo '    memory = 64M'
	echo '    strict_keys = no'
	echo '}'
	[ -n "$1" ] || return 0
	echo 'http "bench" {'
	echo "    listen = {\"tcp:$1:interface=127.0.0.1\"}"
	echo "    keepalive_requests = $KEEPALIVE"
	echo '    server "main" {'
	echo '        location "/kv/" { handler = "kv"  memcache = "cache" }'
	echo '    }'
	echo '}'
}

start_kv() {
	local port=$1 dir=$2
	loomd_kv_conf "$port" "$(free_port)" >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	if loomd_ready "$dir" &&
		curl -s --max-time 5 -X PUT --data-binary @"$www/hello" -o /dev/null \
			"http://127.0.0.1:$port/kv/hello" &&
		answers "http://127.0.0.1:$port/kv/hello"; then
		return 0
	fi
	server_failed "loomd (kv) did not serve the value; its stderr" "$dir/stderr.log"
}

start_nginx() {
	local port=$1 dir=$2
	{
		nginx_main "$dir"
		cat <<-EOF
		http {
		    access_log off;
		    keepalive_requests $KEEPALIVE;
		    open_file_cache max=1000 inactive=60s;
		    open_file_cache_valid 60s;
		    default_type application/octet-stream;
		EOF
		nginx_temp_paths "$dir"
		cat <<-EOF
		    server {
		        listen 127.0.0.1:$port;
		        root $www;
		    }
		}
		EOF
	} >"$dir/nginx.conf"
	spawn_nginx "$dir"
	answers "http://127.0.0.1:$port/hello" ||
		server_failed "nginx did not answer; its logs" "$dir/stderr.log" "$dir/error.log"
}

start_memcached() {
	local port=$1 dir=$2 user=()
	[ "$(id -u)" = 0 ] && user=(-u root)
	spawn_server "$dir" "$MEMCACHED" "${user[@]}" -t 1 -m 64 -c 1024 -l 127.0.0.1 -p "$port" -U 0
	mc_answers "$port" || server_failed "memcached did not start; its output" "$dir/stdout.log" "$dir/stderr.log"
}

start_mc() {
	local port=$1 dir=$2
	loomd_kv_conf "" "$port" >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	if loomd_ready "$dir" && mc_answers "$port"; then
		return 0
	fi
	server_failed "loomd (memcache) did not start; its stderr" "$dir/stderr.log"
}

# ---------------------------------------------------------------- rounds
results=$tmp/results     # lines: server round per_s us_per_req
: >"$results"

measure() {
	local server=$1 round=$2 port dir t0 t1 rc n rate cpu_s us flag='' errors
	port=$(free_port)
	dir=$tmp/$server.$round
	bench_start "$dir" "start_$server" "$port" "$dir" || return 1
	t0=$(cpu_ticks "$server_pid")
	case $server in
	kv | nginx)
		local path=/kv/hello
		[ "$server" = nginx ] && path=/hello
		run_client "$dir/client.out" timeout $((DURATION + 60)) \
			"$WRK" -t 1 -c "$CONNS" -d "${DURATION}s" "http://127.0.0.1:$port$path"
		rc=$?
		wrk_results "$dir/client.out"
		n=$wrk_reqs; rate=$wrk_rps; flag=$wrk_flag
		;;
	*)
		run_client "$dir/client.out" timeout $((DURATION + 120)) \
			"$MEMCASLAP" -s "127.0.0.1:$port" -F "$cfg" -c "$CONNS" -T 1 -w 1k -t "${DURATION}s"
		rc=$?
		read -r n rate < <(awk '/^Run time:/ { for (i = 1; i < NF; i++) { if ($i == "Ops:") o = $(i + 1); if ($i == "TPS:") t = $(i + 1) } }
			END { print o, t }' "$dir/client.out")
		errors=$(grep -c '^<[0-9]* .*ERROR' "$dir/client.out")
		[ "$errors" -gt 0 ] && flag="  ** $errors error replies -- not in the medians"
		;;
	esac
	t1=$(cpu_ticks "$server_pid")
	[ -n "$t1" ] || { server_died "$server died during round $round" "$dir"; return 1; }
	client_ok "$rc" "$n" "$rate" ||
		{ client_failed "$server round $round: the load generator failed" "$rc" "$dir/client.out"; return 1; }
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$n")
	[ -n "$flag" ] || echo "$server $round $rate $us" >>"$results"
	printf '%-9s round %d: %8s req/s  %9s requests  server CPU %6ss  %7s us/req%s\n' \
		"$server" "$round" "$rate" "$n" "$cpu_s" "$us" "$flag"
	server_done "$server round $round"
}

median() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$results" | median_of "${3:-%.3f}"; }

# ---------------------------------------------------------------- main
echo "# kv benchmark: $(nproc 2>/dev/null || echo '?') CPUs, servers: $SERVERS, $ROUNDS rounds of ${DURATION}s each, alternating"
for s in $SERVERS; do
	case $s in
	kv) note "kv: $LOOMD ($("$LOOMD" -V 2>&1 | head -n 1)); GET /kv/hello (13 bytes) from the memcache store, wrk -t1 -c$CONNS" ;;
	nginx) note "nginx: $NGINX ($("$NGINX" -v 2>&1 | sed 's/^nginx version: //')); GET /hello (the same 13 bytes from a file), wrk -t1 -c$CONNS" ;;
	memcached) note "memcached: $MEMCACHED ($("$MEMCACHED" -V 2>&1 | head -n 1)) -t 1; memcaslap 100% get, 13-byte values, -c $CONNS -w 1k (1k keys per connection, set first: in the op count)" ;;
	mc) note "mc: loomd's memcache module, driven as memcached" ;;
	esac
done
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: server on CPU $server_cpu, client on CPU $client_cpu"
else
	note "not pinned (KV_PIN=0, fewer than 2 CPUs, or no taskset)"
fi
if want kv; then
	loomd_kv_conf "$(free_port)" "$(free_port)" >"$tmp/check.conf"
	loomd_accepts "$tmp/check.conf" "a kv configuration (a loomd without the kv handler?)" || exit 1
fi

failed=0
for round in $(seq "$ROUNDS"); do
	for server in $SERVERS; do
		measure "$server" "$round" || failed=1
	done
done

echo
echo "summary (medians over rounds without errors):"
printf '  %-9s %10s %12s\n' server "req/s" "CPU us/req"
for server in $SERVERS; do
	printf '  %-9s %10s %12s\n' "$server" "$(median "$server" 3 %.0f)" "$(median "$server" 4 %.2f)"
done
if want kv; then
	echo
	echo "ratios (kv / other; req/s above 1 and CPU below 1 favour kv):"
	for other in $SERVERS; do
		[ "$other" = kv ] && continue
		printf '  kv/%-9s req/s %5s  CPU/req %5s\n' "$other" \
			"$(ratio "$(median kv 3)" "$(median "$other" 3)")" \
			"$(ratio "$(median kv 4)" "$(median "$other" 4)")"
	done
fi

[ "$failed" = 0 ] || exit 1
exit 0
