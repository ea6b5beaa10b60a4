#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# HTTP/2 benchmark: loomd's http module versus Debian's nginx and h2o, and
# loomd's reverse proxy versus nginx's.
#
# Every server serves the same directory (hello.txt, 13 bytes), one worker /
# thread each, with one self-signed ECDSA P-256 certificate made here with
# openssl:
#   loomd   an http instance with a tcp and a tls listener (ALPN h2; the tcp
#           one takes h2c with prior knowledge), static handler, no access
#           log, default h2 options, keepalive_requests (below)
#   nginx   worker_processes 1, master_process off, `listen ... ssl http2`
#           and `listen ... http2` (h2c prior knowledge), ssl_protocols
#           TLSv1.2 TLSv1.3 (1.22 offers no TLSv1.3 by default), open_file_cache
#           on, access_log off, keepalive_requests (below: nginx closes an h2
#           connection after that many requests and h2load does not
#           reconnect), its own prefix/pid/temp paths in the temporary
#           directory
#   h2o     num-threads 1, a plain and a TLS listener (h2o takes h2c with
#           prior knowledge on the plain one), file.dir, no access log
#
# Parts (H2_PARTS, default "tls h2c proxy"), each in alternating rounds
# (loomd, nginx, h2o, loomd, ...), each server started fresh per round:
#   tls    h2load -c50 -m10 -D DURATION https://.../hello.txt (ALPN h2)
#   h2c    the same over cleartext, prior knowledge (h2load -p h2c)
#   proxy  wrk -t1 -c50 -d DURATION (HTTP/1.1) through a reverse proxy to
#          one upstream loomd serving the same directory (started once for
#          the part): loomd (a location with handler proxy and proxy_pass
#          "tcp:host=127.0.0.1:port=N", an anonymous upstream with the
#          default settings, keepalive 32 among them) versus nginx
#          (proxy_pass to an upstream block with keepalive 32,
#          proxy_http_version 1.1, proxy_set_header Connection ""); h2o is
#          left out
# Per round: requests/s and the server's (for proxy: the proxy's, the
# upstream's CPU is not counted) CPU time (utime + stime of the process and
# its children, from /proc) per request.  Then the medians and the ratios
# loomd/nginx and loomd/h2o.  Before each round curl checks that the server
# returns the file's exact bytes over the protocol measured; a round whose
# client saw failed or non-2xx requests, or that did not speak the protocol
# asked for (h2load's "Application protocol"), is flagged and left out of
# the medians.
#
# With 2 or more CPUs the server (the proxy) runs on one CPU and the load
# generator on another (taskset), the same for every server; the proxy
# part's upstream shares the load generator's CPU.  H2_PIN=0 turns that off.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken, non-zero when a server
# could not be started or measured.  It builds nothing of loom: run it from
# the repository root after the build.  As root it installs what is missing
# (apt-get install nghttp2-client wrk h2o nginx-light) and stops / disables
# the packages' system services, which would hold ports 80/443 and CPU.
#
#     tests/bench/http2.sh
#     ROUNDS=1 DURATION=3 tests/bench/http2.sh      # a quick look
#
# Environment:
#   LOOMD                 loomd binary (default src/loomd)
#   LOOMD_BASE            a baseline loomd measured beside it as server "base" (lib.sh)
#   LOOM_KTLS             ktls for loomd (auto, on, off): TLS with and without kernel TLS
#   NGINX, H2O, H2LOAD, WRK  binaries (default: from PATH, /usr/sbin, /usr/bin)
#   ROUNDS                rounds per server and part (default 3, minimum 1)
#   DURATION (or DUR)     seconds per round (default 10)
#   H2_PARTS              parts to run (default "tls h2c proxy")
#   H2_SERVERS            servers to measure (default "loomd nginx h2o")
#   H2_CONNS              h2load / wrk connections (default 50)
#   H2_STREAMS            h2load streams per connection, -m (default 10)
#   H2_KEEPALIVE          keepalive_requests for loomd and nginx (default 1000000)
#   H2_PIN                0: do not pin the servers and the clients to CPUs
#   H2_KEEP               1: keep the temporary directory (configs, logs, outputs)
#   PYTHON                python interpreter for free_port (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-${DUR:-10}}
PARTS=${H2_PARTS:-tls h2c proxy}
SERVERS=${H2_SERVERS:-loomd nginx h2o}
CONNS=${H2_CONNS:-50}
STREAMS=${H2_STREAMS:-10}
KEEPALIVE=${H2_KEEPALIVE:-1000000}

bench_numbers ROUNDS DURATION CONNS STREAMS KEEPALIVE
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
bench_words part H2_PARTS "$PARTS" tls h2c proxy
bench_words server H2_SERVERS "$SERVERS" loomd nginx h2o
want() { in_words "$1" "$SERVERS"; }
want_part() { in_words "$1" "$PARTS"; }

# ---------------------------------------------------------------- tools
bench_python
# loomd is needed by every part: the proxy part's upstream is a loomd too.
bench_loomd
NGINX=${NGINX:-$(find_tool nginx)}
H2O=${H2O:-$(find_tool h2o)}
H2LOAD=${H2LOAD:-$(find_tool h2load)}
WRK=${WRK:-$(find_tool wrk)}

need_pkgs=
{ want_part tls || want_part h2c; } && [ ! -x "${H2LOAD:-}" ] && need_pkgs="nghttp2-client"
want_part proxy && [ ! -x "${WRK:-}" ] && need_pkgs="$need_pkgs wrk"
want nginx && [ ! -x "${NGINX:-}" ] && need_pkgs="$need_pkgs nginx-light"
want h2o && [ ! -x "${H2O:-}" ] && need_pkgs="$need_pkgs h2o"
if [ -n "$need_pkgs" ]; then
	# shellcheck disable=SC2086  # package list
	bench_install $need_pkgs
	[ -x "${H2LOAD:-}" ] || H2LOAD=$(find_tool h2load)
	[ -x "${WRK:-}" ] || WRK=$(find_tool wrk)
	[ -x "${NGINX:-}" ] || NGINX=$(find_tool nginx)
	[ -x "${H2O:-}" ] || H2O=$(find_tool h2o)
fi
{ want_part tls || want_part h2c; } && { [ -x "${H2LOAD:-}" ] || die "h2load not found (apt-get install nghttp2-client, or set H2LOAD)"; }
want_part proxy && { [ -x "${WRK:-}" ] || die "wrk not found (apt-get install wrk, or set WRK)"; }
want nginx && { [ -x "${NGINX:-}" ] || die "nginx not found (apt-get install nginx-light, or set NGINX)"; }
want h2o && { [ -x "${H2O:-}" ] || die "h2o not found (apt-get install h2o, or set H2O)"; }
command -v curl >/dev/null 2>&1 || die "curl is needed to check the servers' answers"
curl -V 2>/dev/null | grep -qi 'HTTP2' || die "this curl has no HTTP/2 support (needed to check the servers' answers)"
command -v openssl >/dev/null 2>&1 || die "openssl is needed for the certificate"

quiet_services nginx h2o

# ---------------------------------------------------------------- pinning
bench_pin "${H2_PIN:-1}"

# ---------------------------------------------------------------- cleanup
bench_setup http2 "${H2_KEEP:-0}"
chmod 755 "$tmp"   # servers that switch to an unprivileged user read www/

# The proxy part's upstream is a second server process: stopped on exit too.
upstream_pid=
trap 'stop_upstream; bench_cleanup' EXIT
stop_upstream() {
	[ -n "$upstream_pid" ] || return 0
	kill -TERM "$upstream_pid" 2>/dev/null
	wait "$upstream_pid" 2>/dev/null
	upstream_pid=
}

# ---------------------------------------------------------------- content
www=$tmp/www
mkdir -p "$www"
printf 'Hello, world\n' >"$www/hello.txt"
chmod 755 "$www"
chmod 644 "$www/hello.txt"

cert=$tmp/cert.pem
key=$tmp/key.pem
make_cert "$cert" "$key"

# ---------------------------------------------------------------- servers
# start_SERVER PORT TLSPORT DIR: starts it (pinned when pinning), sets
# server_pid; returns 0 once it answers over h2c (h2c / tls parts) or
# HTTP/1.1 (proxy part).

# answers HOW PORT [PID]: 0 once GET /hello.txt returns its exact bytes
# over HOW (h2c: prior knowledge; tls: HTTPS with ALPN h2; h1: HTTP/1.1)
# and HTTP/2 for h2c / tls (up to 10 s).
answers() {
	local _ out pid=${3:-$server_pid} url opts
	case $1 in
	h2c) url=http://127.0.0.1:$2/hello.txt; opts=(--http2-prior-knowledge) ;;
	tls) url=https://127.0.0.1:$2/hello.txt; opts=(-k --http2) ;;
	h1) url=http://127.0.0.1:$2/hello.txt; opts=(--http1.1) ;;
	esac
	for _ in $(seq 100); do
		out=$(curl -s "${opts[@]}" --max-time 2 -w '|%{http_version}' "$url" 2>/dev/null)
		case $1:$out in
		h1:"Hello, world
|1.1"|h2c:"Hello, world
|2"|tls:"Hello, world
|2") return 0 ;;
		esac
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# loom_conf PORT TPORT: an http instance serving www/ on tcp PORT and, if
# TPORT is not empty, tls TPORT.
loom_conf() {
	loomd_static_conf "$1" "$2" "$www" "$KEEPALIVE" "$cert" "$key"
}

start_loomd() {
	local port=$1 tport=$2 dir=$3
	loom_conf "$port" "$tport" >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	answers h2c "$port" || server_failed "loomd did not answer over h2c; its stderr" "$dir/stderr.log"
}

nginx_http_common() {   # settings inside http { } for DIR
	cat <<-EOF
	    access_log off;
	    keepalive_requests $KEEPALIVE;
	    types {
	        text/plain txt;
	    }
	    default_type application/octet-stream;
	EOF
	nginx_temp_paths "$1"
}

run_nginx() {   # run_nginx DIR HOW PORT: start nginx -c DIR/nginx.conf
	spawn_nginx "$1"
	answers "$2" "$3" || server_failed "nginx did not answer; its logs" "$1/stderr.log" "$1/error.log"
}

start_nginx() {
	local port=$1 tport=$2 dir=$3
	{
		nginx_main "$dir"
		echo 'http {'
		nginx_http_common "$dir"
		cat <<-EOF
		    sendfile on;
		    open_file_cache max=1000 inactive=60s;
		    open_file_cache_valid 60s;
		    ssl_protocols TLSv1.2 TLSv1.3;
		    server {
		        listen 127.0.0.1:$port http2;
		        listen 127.0.0.1:$tport ssl http2;
		        ssl_certificate $cert;
		        ssl_certificate_key $key;
		        server_name localhost;
		        root $www;
		    }
		}
		EOF
	} >"$dir/nginx.conf"
	run_nginx "$dir" h2c "$port"
}

start_h2o() {
	local port=$1 tport=$2 dir=$3
	h2o_conf "$dir" "$port" "$tport" "$www" "$cert" "$key" >"$dir/h2o.conf"
	spawn_server "$dir" "$H2O" -c "$dir/h2o.conf"
	answers h2c "$port" || server_failed "h2o did not answer over h2c; its logs" "$dir/stderr.log" "$dir/error.log"
}

# ---- the proxy part: one upstream loomd, then the proxies in turn

upstream_port=
start_upstream() {
	local dir=$tmp/upstream
	mkdir -p "$dir"
	upstream_port=$(free_port)
	loom_conf "$upstream_port" "" >"$dir/loom.conf"
	"${on_client_cpu[@]}" "$LOOMD" -c "$dir/loom.conf" >"$dir/stdout.log" 2>"$dir/stderr.log" </dev/null &
	upstream_pid=$!
	answers h1 "$upstream_port" "$upstream_pid" ||
		server_failed "the upstream loomd did not answer; its stderr" "$dir/stderr.log"
}

loom_proxy_conf() {   # loom_proxy_conf PORT
	loomd_conf_head
	echo 'http "proxy" {'
	echo "    listen = {\"tcp:$1:interface=127.0.0.1\"}"
	echo "    keepalive_requests = $KEEPALIVE"
	echo '    server "main" {'
	echo '        names = {"localhost"}'
	echo '        location "/" {'
	echo '            handler = "proxy"'
	echo "            proxy_pass = \"tcp:host=127.0.0.1:port=$upstream_port\""
	echo '        }'
	echo '    }'
	echo '}'
}

start_proxy_loomd() {
	local port=$1 dir=$3
	loom_proxy_conf "$port" >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	answers h1 "$port" || server_failed "loomd (proxy) did not answer; its stderr" "$dir/stderr.log"
}

start_proxy_nginx() {
	local port=$1 dir=$3
	{
		nginx_main "$dir"
		echo 'http {'
		nginx_http_common "$dir"
		cat <<-EOF
		    upstream up {
		        server 127.0.0.1:$upstream_port;
		        keepalive 32;
		    }
		    server {
		        listen 127.0.0.1:$port;
		        server_name localhost;
		        location / {
		            proxy_pass http://up;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		        }
		    }
		}
		EOF
	} >"$dir/nginx.conf"
	run_nginx "$dir" h1 "$port"
}

server_version() {
	case $1 in
	loomd) "$LOOMD" -V 2>&1 | head -n 1 ;;
	base) "$LOOMD_BASE" -V 2>&1 | head -n 1 ;;
	nginx) "$NGINX" -v 2>&1 | sed 's/^nginx version: //' ;;
	h2o) "$H2O" --version 2>&1 | head -n 1 ;;
	esac
}

# ---------------------------------------------------------------- rounds
results=$tmp/results      # lines: part server round rps us_per_req
invalid=$tmp/results.bad  # the same, rounds with errors
: >"$results"
: >"$invalid"

# record PART SERVER ROUND RPS REQS TICKS FLAG: print the round's line and
# file it under the results (FLAG empty) or the rounds left out.
record() {
	local part=$1 server=$2 round=$3 rps=$4 reqs=$5 ticks=$6 flag=$7 cpu_s us
	read -r cpu_s us < <(cpu_per "$ticks" "$reqs")
	if [ -n "$flag" ]; then
		echo "$part $server $round $rps $us" >>"$invalid"
	else
		echo "$part $server $round $rps $us" >>"$results"
	fi
	printf '%-5s %-5s round %d: %8s req/s  server CPU %6ss  %7s us/req%s\n' \
		"$part" "$server" "$round" "$rps" "$cpu_s" "$us" "$flag"
}

# measure_h2 PART SERVER ROUND: one h2load round over tls or h2c.
measure_h2() {
	local part=$1 server=$2 round=$3 port tport dir url t0 t1 rc
	local rps reqs failed errored timeouts non2xx proto flag=
	port=$(free_port)
	tport=$(free_port)
	dir=$tmp/$part.$server.$round
	bench_start "$dir" "start_$server" "$port" "$tport" "$dir" || return 1
	if [ "$part" = tls ]; then
		url=https://127.0.0.1:$tport/hello.txt
		if ! answers tls "$tport"; then
			echo "http2.sh: $server does not answer over TLS (h2) on $tport" >&2
			stop_server
			return 1
		fi
	else
		url=http://127.0.0.1:$port/hello.txt
	fi
	t0=$(tree_ticks "$server_pid")
	run_client "$dir/h2load.out" timeout $((DURATION + 60)) \
		"$H2LOAD" -c "$CONNS" -m "$STREAMS" -D "$DURATION" -p h2c "$url"
	rc=$?
	t1=$(tree_ticks "$server_pid")
	[ -n "$t1" ] || { server_died "$server died during $part round $round" "$dir"; return 1; }
	# finished in 10.00s, 123456.70 req/s, 5.12MB/s
	# requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
	# status codes: N 2xx, N 3xx, N 4xx, N 5xx
	rps=$(awk '$1 == "finished" { gsub(",", "", $4); printf "%.0f", $4; exit }' "$dir/h2load.out")
	read -r reqs failed errored timeouts < <(awk '$1 == "requests:" {
		gsub(",", ""); print $8, $10, $12, $14; exit }' "$dir/h2load.out")
	non2xx=$(awk '$1 == "status" && $2 == "codes:" { gsub(",", ""); print $5 + $7 + $9; exit }' "$dir/h2load.out")
	proto=$(awk -F': ' '$1 == "Application protocol" { print $2; exit }' "$dir/h2load.out")
	client_ok "$rc" "${reqs:-}" "$rps" ||
		{ client_failed "$server $part round $round: h2load failed" "$rc" "$dir/h2load.out"; return 1; }
	if [ "$proto" != "$( [ "$part" = tls ] && echo h2 || echo h2c )" ]; then
		flag="  ** spoke '${proto:-?}', not HTTP/2 -- not in the medians"
	elif [ "$((failed + errored + timeouts))" != 0 ] || [ "${non2xx:-0}" != 0 ]; then
		flag="  ** $failed failed, $errored errored, $timeouts timed out, ${non2xx:-?} non-2xx -- not in the medians"
	fi
	record "$part" "$server" "$round" "$rps" "$reqs" "$((t1 - t0))" "$flag"
	server_done "$server $part round $round"
}

# measure_proxy SERVER ROUND: one wrk round through SERVER's proxy.
measure_proxy() {
	local server=$1 round=$2 port dir url t0 t1 rc
	port=$(free_port)
	dir=$tmp/proxy.$server.$round
	bench_start "$dir" "start_proxy_$server" "$port" "" "$dir" || return 1
	url=http://127.0.0.1:$port/hello.txt
	t0=$(tree_ticks "$server_pid")
	run_client "$dir/wrk.out" timeout $((DURATION + 60)) \
		"$WRK" -t 1 -c "$CONNS" -d "${DURATION}s" "$url"
	rc=$?
	t1=$(tree_ticks "$server_pid")
	[ -n "$t1" ] || { server_died "$server (proxy) died during round $round" "$dir"; return 1; }
	wrk_results "$dir/wrk.out"
	client_ok "$rc" "$wrk_reqs" "$wrk_rps" ||
		{ client_failed "$server proxy round $round: wrk failed" "$rc" "$dir/wrk.out"; return 1; }
	record proxy "$server" "$round" "$wrk_rps" "$wrk_reqs" "$((t1 - t0))" "$wrk_flag"
	server_done "$server proxy round $round"
}

median() { median_in "$results" "$@"; }   # median PART SERVER COLUMN [PRINTF_FORMAT]

servers_for() {   # servers_for PART: the wanted servers that take part
	local s out=
	for s in $SERVERS; do
		[ "$s" = h2o ] && [ "$1" = proxy ] && continue
		out="$out $s"
	done
	echo "${out# }"
}

# ---------------------------------------------------------------- main
echo "# http2 benchmark: $(nproc 2>/dev/null || echo '?') CPUs, servers: $SERVERS, parts: $PARTS"
for s in $SERVERS; do
	case $s in
	loomd) note "loomd: $LOOMD ($(server_version loomd)); http instance, static handler, no access log, default h2 options, keepalive_requests $KEEPALIVE" ;;
	base) base_note ;;
	nginx) note "nginx: $NGINX ($(server_version nginx)); worker_processes 1, master_process off, listen http2 (TLS and h2c), open_file_cache, access_log off, keepalive_requests $KEEPALIVE" ;;
	h2o) note "h2o: $H2O ($(server_version h2o)); num-threads 1, file.dir, no access log" ;;
	esac
done
if want_part tls || want_part h2c; then
	note "h2load: $H2LOAD ($("$H2LOAD" --version 2>&1 | head -n 1)) -c $CONNS -m $STREAMS -D $DURATION"
fi
if want_part proxy; then
	note "wrk: $WRK ($("$WRK" --version 2>&1 | head -n 1 | awk '{ print $2 }')) -t 1 -c $CONNS -d ${DURATION}s, keep-alive, through the proxy to one loomd upstream (static); upstream keepalive 32 in both proxies"
fi
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: server on CPU $server_cpu, load generator on CPU $client_cpu (same for every server; the proxy part's upstream on CPU $client_cpu)"
else
	note "not pinned (H2_PIN=0, fewer than 2 CPUs, or no taskset)"
fi

# Check the configurations once, so that a loomd without the http module
# (or without the proxy handler) is reported once.
start_dir=$tmp/check
mkdir -p "$start_dir"
loom_conf "$(free_port)" "$(free_port)" >"$start_dir/loom.conf"
loomd_accepts "$start_dir/loom.conf" "an http configuration (built without the http module?)" || exit 1
failed=0
if want_part proxy && want loomd; then
	upstream_port=$(free_port)
	loom_proxy_conf "$(free_port)" >"$start_dir/proxy.conf"
	if ! loomd_accepts "$start_dir/proxy.conf" "the proxy configuration (no proxy handler yet?); the proxy part is left out"; then
		PARTS=$(echo " $PARTS " | sed 's/ proxy / /; s/^ *//; s/ *$//')
		failed=1
	fi
fi

for part in $PARTS; do
	echo
	case $part in
	tls) echo "tls: h2load GET /hello.txt (13 bytes) over TLS, ALPN h2, $ROUNDS rounds per server, alternating" ;;
	h2c) echo "h2c: h2load GET /hello.txt (13 bytes) over cleartext HTTP/2 (prior knowledge), $ROUNDS rounds per server, alternating" ;;
	proxy) echo "proxy: wrk GET /hello.txt (13 bytes) through the proxy, HTTP/1.1, $ROUNDS rounds per proxy, alternating" ;;
	esac
	if [ "$part" = proxy ]; then
		if ! start_upstream; then
			stop_upstream
			failed=1
			continue
		fi
		for round in $(seq "$ROUNDS"); do
			for server in $(servers_for proxy); do
				measure_proxy "$server" "$round" || failed=1
			done
		done
		stop_upstream
		continue
	fi
	for round in $(seq "$ROUNDS"); do
		for server in $(servers_for "$part"); do
			measure_h2 "$part" "$server" "$round" || failed=1
		done
	done
done

echo
echo "summary (medians over rounds without errors; for proxy, the proxy's CPU):"
printf '  %-5s %-5s %10s %10s\n' part server "req/s" "CPU us/req"
for part in $PARTS; do
	for server in $(servers_for "$part"); do
		printf '  %-5s %-5s %10s %10s\n' "$part" "$server" \
			"$(median "$part" "$server" 4 %.0f)" "$(median "$part" "$server" 5 %.2f)"
	done
done
if want loomd; then
	echo
	echo "ratios (loomd / other; req/s above 1 and CPU below 1 favour loomd):"
	for part in $PARTS; do
		for other in $(servers_for "$part"); do
			[ "$other" = loomd ] && continue
			printf '  %-5s loomd/%-5s req/s %5s  CPU/req %5s\n' "$part" "$other" \
				"$(ratio "$(median "$part" loomd 4)" "$(median "$part" "$other" 4)")" \
				"$(ratio "$(median "$part" loomd 5)" "$(median "$part" "$other" 5)")"
		done
	done
fi

[ "$failed" = 0 ] || exit 1
exit 0
