#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# HTTP/1.1 benchmark: loomd's http module versus Debian's nginx and h2o,
# and a "speed of light" server (tests/bench/sol_server.c).
#
# Every server serves the same directory, one worker / thread each:
#   loomd   an http instance, static handler, no access log, default options
#           except keepalive_requests (below)
#   nginx   worker_processes 1, master_process off, open_file_cache on,
#           access_log off, sendfile on, its own prefix/pid/temp paths in the
#           temporary directory
#   h2o     num-threads 1, file.dir, no access log
#   sol     sol_server.c built here with cc -O2: one epoll loop that parses
#           nothing and answers each "\r\n\r\n" with a canned 13-byte
#           response; the ceiling for this machine, wrk and the kernel
# keepalive_requests is HTTP_KEEPALIVE (default 100000) for loomd and nginx
# so that every server keeps wrk's connections for the whole round (h2o and
# sol have no such limit; both servers' default of 1000 would make wrk
# reconnect about once a second per connection).
#
# Parts (HTTP_PARTS, default "small big tls"), each in alternating rounds
# (loomd, nginx, h2o, sol, loomd, ...), each server started fresh per round:
#   small  wrk -t1 -c50 --latency on GET /hello.txt (13 bytes), keep-alive
#   big    the same on GET /big.bin (1 MiB): throughput in MB/s (plain TCP:
#          sendfile for loomd and nginx); sol is left out
#   tls    the small file over TLS (a self-signed ECDSA P-256 certificate
#          made with openssl); sol is left out
# Per round: requests/s, p50 and p99 latency (wrk --latency), MB/s, and the
# server's CPU time (utime + stime of the process and its children, from
# /proc) per request.  Then the medians and the ratios loomd/h2o,
# loomd/nginx and loomd/sol.  Before each round curl checks that the
# server returns the file's exact bytes; a round in which wrk saw non-2xx
# answers or socket errors is flagged and left out of the medians.
#
# With 2 or more CPUs the server runs on one CPU and wrk on another
# (taskset), the same for every server; HTTP_PIN=0 turns that off.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken, non-zero when a server
# could not be started or measured.  It builds nothing of loom: run it from
# the repository root after the build.  As root it installs what is
# missing (apt-get install wrk h2o nginx-light) and stops / disables the
# packages' system services, which would hold ports 80/443 and CPU.
#
#     tests/bench/http1.sh
#
# Environment:
#   LOOMD            loomd binary (default src/loomd)
#   LOOMD_BASE       a baseline loomd measured beside it as server "base" (lib.sh)
#   LOOM_KTLS        ktls for loomd (auto, on, off): TLS with and without kernel TLS
#   NGINX, H2O, WRK  binaries (default: from PATH, /usr/sbin, /usr/bin)
#   CC               compiler for sol_server.c (default cc)
#   ROUNDS           rounds per server and part (default 3, minimum 1)
#   DURATION         seconds per round (default 10)
#   HTTP_PARTS       parts to run (default "small big tls")
#   HTTP_SERVERS     servers to measure (default "loomd nginx h2o sol")
#   HTTP_CONNS       wrk connections (default 50)
#   HTTP_THREADS     wrk threads (default 1)
#   HTTP_KEEPALIVE   keepalive_requests for loomd and nginx (default 100000)
#   HTTP_PIN         0: do not pin the server and wrk to CPUs
#   HTTP_KEEP        1: keep the temporary directory (configs, logs, outputs)
#   PYTHON           python interpreter for free_port (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
PARTS=${HTTP_PARTS:-small big tls}
SERVERS=${HTTP_SERVERS:-loomd nginx h2o sol}
CONNS=${HTTP_CONNS:-50}
THREADS=${HTTP_THREADS:-1}
KEEPALIVE=${HTTP_KEEPALIVE:-100000}

bench_numbers ROUNDS DURATION CONNS THREADS KEEPALIVE
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
bench_words part HTTP_PARTS "$PARTS" small big tls
bench_words server HTTP_SERVERS "$SERVERS" loomd nginx h2o sol
want() { in_words "$1" "$SERVERS"; }

# ---------------------------------------------------------------- tools
bench_python
want loomd && bench_loomd
NGINX=${NGINX:-$(find_tool nginx)}
H2O=${H2O:-$(find_tool h2o)}
WRK=${WRK:-$(find_tool wrk)}
CC=${CC:-cc}

need_pkgs=
[ -x "${WRK:-}" ] || need_pkgs="wrk"
want nginx && [ ! -x "${NGINX:-}" ] && need_pkgs="$need_pkgs nginx-light"
want h2o && [ ! -x "${H2O:-}" ] && need_pkgs="$need_pkgs h2o"
if [ -n "$need_pkgs" ]; then
	# shellcheck disable=SC2086  # package list
	bench_install $need_pkgs
	[ -x "${WRK:-}" ] || WRK=$(find_tool wrk)
	[ -x "${NGINX:-}" ] || NGINX=$(find_tool nginx)
	[ -x "${H2O:-}" ] || H2O=$(find_tool h2o)
fi
[ -x "${WRK:-}" ] || die "wrk not found (apt-get install wrk, or set WRK)"
want nginx && { [ -x "${NGINX:-}" ] || die "nginx not found (apt-get install nginx-light, or set NGINX)"; }
want h2o && { [ -x "${H2O:-}" ] || die "h2o not found (apt-get install h2o, or set H2O)"; }
command -v curl >/dev/null 2>&1 || die "curl is needed to check the servers' answers"
command -v openssl >/dev/null 2>&1 || die "openssl is needed for the TLS part's certificate"

quiet_services nginx h2o

# ---------------------------------------------------------------- pinning
bench_pin "${HTTP_PIN:-1}"

# ---------------------------------------------------------------- cleanup
bench_setup http1 "${HTTP_KEEP:-0}"
chmod 755 "$tmp"   # servers that switch to an unprivileged user read www/

# ---------------------------------------------------------------- content
www=$tmp/www
mkdir -p "$www"
printf 'Hello, world\n' >"$www/hello.txt"
head -c 1048576 /dev/urandom >"$www/big.bin"
chmod 755 "$www"
chmod 644 "$www/hello.txt" "$www/big.bin"

cert=$tmp/cert.pem
key=$tmp/key.pem
in_words tls "$PARTS" && make_cert "$cert" "$key"

SOL=
if want sol; then
	SOL=$tmp/sol_server
	"$CC" -O2 -o "$SOL" "$here/sol_server.c" >"$tmp/sol_build.log" 2>&1 ||
		{ cat "$tmp/sol_build.log" >&2; die "could not build sol_server.c with $CC"; }
fi

# ---------------------------------------------------------------- servers
# start_SERVER PORT TLSPORT DIR: starts it (pinned when pinning), sets
# server_pid; returns 0 once it listens.  ready PORT checks with curl.

# answers SCHEME PORT: 0 once GET /hello.txt returns its exact bytes (up to
# 10 s).
answers() {
	local _ out
	for _ in $(seq 100); do
		out=$(curl -sk --max-time 2 "$1://127.0.0.1:$2/hello.txt" 2>/dev/null)
		[ "$out" = "Hello, world" ] && return 0
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

start_loomd() {
	local port=$1 tport=$2 dir=$3
	loomd_static_conf "$port" "$tport" "$www" "$KEEPALIVE" "$cert" "$key" >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	answers http "$port" || server_failed "loomd did not answer; its stderr" "$dir/stderr.log"
}

start_nginx() {
	local port=$1 tport=$2 dir=$3 tls=
	[ -s "$cert" ] && tls="listen 127.0.0.1:$tport ssl;
	        ssl_certificate $cert;
	        ssl_certificate_key $key;"
	{
		nginx_main "$dir"
		cat <<-EOF
		http {
		    access_log off;
		    sendfile on;
		    tcp_nopush on;
		    keepalive_requests $KEEPALIVE;
		    open_file_cache max=1000 inactive=60s;
		    open_file_cache_valid 60s;
		    types {
		        text/plain txt;
		        application/octet-stream bin;
		    }
		    default_type application/octet-stream;
		EOF
		nginx_temp_paths "$dir"
		cat <<-EOF
		    server {
		        listen 127.0.0.1:$port;
		        $tls
		        server_name localhost;
		        root $www;
		    }
		}
		EOF
	} >"$dir/nginx.conf"
	spawn_nginx "$dir"
	answers http "$port" || server_failed "nginx did not answer; its logs" "$dir/stderr.log" "$dir/error.log"
}

start_h2o() {
	local port=$1 tport=$2 dir=$3
	h2o_conf "$dir" "$port" "$tport" "$www" "$cert" "$key" >"$dir/h2o.conf"
	spawn_server "$dir" "$H2O" -c "$dir/h2o.conf"
	answers http "$port" || server_failed "h2o did not answer; its logs" "$dir/stderr.log" "$dir/error.log"
}

start_sol() {
	local port=$1 dir=$3
	spawn_server "$dir" "$SOL" "$port"
	answers http "$port" || server_failed "sol_server did not answer; its stderr" "$dir/stderr.log"
}

server_version() {
	case $1 in
	loomd) "$LOOMD" -V 2>&1 | head -n 1 ;;
	base) "$LOOMD_BASE" -V 2>&1 | head -n 1 ;;
	nginx) "$NGINX" -v 2>&1 | sed 's/^nginx version: //' ;;
	h2o) "$H2O" --version 2>&1 | head -n 1 ;;
	sol) echo "tests/bench/sol_server.c, $("$CC" --version 2>/dev/null | head -n 1) -O2" ;;
	esac
}

# ---------------------------------------------------------------- rounds
results=$tmp/results      # lines: part server round rps p50_us p99_us us_per_req mb_s
invalid=$tmp/results.bad  # the same, rounds with errors
: >"$results"
: >"$invalid"

# to_us VALUE: a wrk duration ("512.00us", "2.31ms", "1.02s") in microseconds
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) print n
		else if (v ~ /ms$/) print n * 1000
		else if (v ~ /m$/) print n * 60000000
		else if (v ~ /s$/) print n * 1000000
		else print "n/a" }'
}

# to_mb VALUE: a wrk size ("8.66MB", "1.20GB", "900.00KB") in MiB
to_mb() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /GB$/) print n * 1024
		else if (v ~ /MB$/) print n
		else if (v ~ /KB$/) print n / 1024
		else if (v ~ /B$/) print n / 1048576
		else print "n/a" }'
}

measure() {
	local part=$1 server=$2 round=$3 port tport dir scheme path url t0 t1 rc
	local p50 p99 mbs cpu_s us check
	port=$(free_port)
	tport=$(free_port)
	dir=$tmp/$part.$server.$round
	bench_start "$dir" "start_$server" "$port" "$tport" "$dir" || return 1
	scheme=http; path=/hello.txt
	[ "$part" = big ] && path=/big.bin
	if [ "$part" = tls ]; then
		scheme=https; port=$tport
		if ! answers https "$port"; then
			echo "http1.sh: $server does not answer over TLS on $port" >&2
			stop_server
			return 1
		fi
	fi
	url=$scheme://127.0.0.1:$port$path
	if [ "$part" = big ]; then
		check=$(curl -sk --max-time 10 "$url" 2>/dev/null | cmp - "$www/big.bin" >/dev/null 2>&1 && echo ok)
		if [ "$check" != ok ]; then
			echo "http1.sh: $server: $url does not return big.bin's bytes" >&2
			stop_server
			return 1
		fi
	fi
	t0=$(tree_ticks "$server_pid")
	run_client "$dir/wrk.out" timeout $((DURATION + 60)) \
		"$WRK" -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency "$url"
	rc=$?
	t1=$(tree_ticks "$server_pid")
	[ -n "$t1" ] || { server_died "$server died during $part round $round" "$dir"; return 1; }
	wrk_results "$dir/wrk.out"
	p50=$(to_us "$(awk '$1 == "50%" { print $2; exit }' "$dir/wrk.out")")
	p99=$(to_us "$(awk '$1 == "99%" { print $2; exit }' "$dir/wrk.out")")
	mbs=$(to_mb "$(awk '$1 == "Transfer/sec:" { print $2 }' "$dir/wrk.out")")
	client_ok "$rc" "$wrk_reqs" "$wrk_rps" ||
		{ client_failed "$server $part round $round: wrk failed" "$rc" "$dir/wrk.out"; return 1; }
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$wrk_reqs")
	if [ -n "$wrk_flag" ]; then
		echo "$part $server $round $wrk_rps $p50 $p99 $us $mbs" >>"$invalid"
	else
		echo "$part $server $round $wrk_rps $p50 $p99 $us $mbs" >>"$results"
	fi
	printf '%-5s %-5s round %d: %8s req/s  p50 %8s us  p99 %8s us  %8.1f MB/s  server CPU %6ss  %7s us/req%s\n' \
		"$part" "$server" "$round" "$wrk_rps" "$p50" "$p99" "$mbs" "$cpu_s" "$us" "$wrk_flag"
	server_done "$server $part round $round"
}

median() { median_in "$results" "$@"; }   # median PART SERVER COLUMN [PRINTF_FORMAT]

servers_for() {   # servers_for PART: the wanted servers that take part
	local s out=
	for s in $SERVERS; do
		[ "$s" = sol ] && [ "$1" != small ] && continue
		out="$out $s"
	done
	echo "${out# }"
}

# ---------------------------------------------------------------- main
echo "# http1 benchmark: $(nproc 2>/dev/null || echo '?') CPUs, servers: $SERVERS, parts: $PARTS"
for s in $SERVERS; do
	case $s in
	loomd) note "loomd: $LOOMD ($(server_version loomd)); http instance, static handler, no access log, keepalive_requests $KEEPALIVE" ;;
	base) base_note ;;
	nginx) note "nginx: $NGINX ($(server_version nginx)); worker_processes 1, master_process off, open_file_cache, sendfile, access_log off, keepalive_requests $KEEPALIVE" ;;
	h2o) note "h2o: $H2O ($(server_version h2o)); num-threads 1, file.dir, no access log" ;;
	sol) note "sol: $(server_version sol)" ;;
	esac
done
note "wrk: $WRK ($("$WRK" --version 2>&1 | head -n 1 | awk '{ print $2 }')) -t $THREADS -c $CONNS -d ${DURATION}s --latency, keep-alive"
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: server on CPU $server_cpu, wrk on CPU $client_cpu (same for every server)"
else
	note "not pinned (HTTP_PIN=0, fewer than 2 CPUs, or no taskset)"
fi

if want loomd; then
	# Check the configuration once, so that a loomd without the http module
	# is reported once.
	start_dir=$tmp/check
	mkdir -p "$start_dir"
	{
		[ "$(id -u)" = 0 ] && echo 'user = "root"'
		echo "http \"check\" { listen = {\"tcp:$(free_port):interface=127.0.0.1\"}"
		echo "  server \"s\" { location \"/\" { handler = \"static\"  root = \"$www\" } } }"
	} >"$start_dir/loom.conf"
	loomd_accepts "$start_dir/loom.conf" "an http configuration (built without the http module?)" || exit 1
fi

failed=0
for part in $PARTS; do
	echo
	case $part in
	small) echo "small: GET /hello.txt (13 bytes), $ROUNDS rounds per server, alternating" ;;
	big) echo "big: GET /big.bin (1 MiB), $ROUNDS rounds per server, alternating" ;;
	tls) echo "tls: GET /hello.txt over TLS (ECDSA P-256, self-signed), $ROUNDS rounds per server, alternating" ;;
	esac
	for round in $(seq "$ROUNDS"); do
		for server in $(servers_for "$part"); do
			measure "$part" "$server" "$round" || failed=1
		done
	done
done

echo
echo "summary (medians over rounds without errors):"
printf '  %-5s %-5s %10s %10s %10s %10s %10s\n' part server "req/s" "p50 us" "p99 us" "MB/s" "CPU us/req"
for part in $PARTS; do
	for server in $(servers_for "$part"); do
		printf '  %-5s %-5s %10s %10s %10s %10s %10s\n' "$part" "$server" \
			"$(median "$part" "$server" 4 %.0f)" "$(median "$part" "$server" 5 %.0f)" \
			"$(median "$part" "$server" 6 %.0f)" "$(median "$part" "$server" 8 %.1f)" \
			"$(median "$part" "$server" 7 %.2f)"
	done
done
if want loomd; then
	echo
	echo "ratios (loomd / other; req/s and MB/s above 1 and latency and CPU below 1 favour loomd):"
	for part in $PARTS; do
		for other in $(servers_for "$part"); do
			[ "$other" = loomd ] && continue
			printf '  %-5s loomd/%-5s req/s %5s  p50 %5s  p99 %5s  MB/s %5s  CPU/req %5s\n' "$part" "$other" \
				"$(ratio "$(median "$part" loomd 4)" "$(median "$part" "$other" 4)")" \
				"$(ratio "$(median "$part" loomd 5)" "$(median "$part" "$other" 5)")" \
				"$(ratio "$(median "$part" loomd 6)" "$(median "$part" "$other" 6)")" \
				"$(ratio "$(median "$part" loomd 8)" "$(median "$part" "$other" 8)")" \
				"$(ratio "$(median "$part" loomd 7)" "$(median "$part" "$other" 7)")"
		done
	done
fi

[ "$failed" = 0 ] || exit 1
exit 0
