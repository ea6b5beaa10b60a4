#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly (traps)
# HTTP/2 reload storm: requests lost while loomd reloads under load.
#
# One loomd (an http instance serving a 13-byte file over tcp and tls,
# static handler, no access log) is loaded with
#     h2load -c CONNS -m STREAMS -D DURATION https://127.0.0.1:PORT/hello.txt
# while this script sends it SIGHUP every INTERVAL seconds.  Each reload
# makes loomd ask every HTTP/2 connection to go away (GOAWAY); h2load does
# not retry a refused stream, so every request loomd refuses counts as
# failed.  Then the same storm with wrk over HTTP/1.1 (if wrk is there),
# for comparison.  Per round: the reloads sent and h2load's requests line
# (total, started, done, succeeded, failed, errored, timeout) and its
# status line.  With LOOMD_BASE set (lib.sh), the baseline binary is run
# the same way after loomd, for a before / after.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken.  Run from the
# repository root after the build:
#
#     tests/bench/h2_reload.sh
#     DURATION=5 tests/bench/h2_reload.sh          # a quick look
#
# Environment:
#   LOOMD, LOOMD_BASE   loomd binaries (lib.sh)
#   DURATION            seconds of load per round (default 20)
#   INTERVAL            seconds between SIGHUPs (default 0.5)
#   CONNS, STREAMS      h2load -c and -m (default 20 and 10)
#   ROUNDS              rounds per binary (default 1)
#   H2R_KEEP            1: keep the temporary directory
#   PYTHON              python3 for free_port (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

DURATION=${DURATION:-20}
INTERVAL=${INTERVAL:-0.5}
CONNS=${CONNS:-20}
STREAMS=${STREAMS:-10}
ROUNDS=${ROUNDS:-1}
bench_numbers DURATION CONNS STREAMS ROUNDS
case $INTERVAL in ''|*[!0-9.]*) die "INTERVAL must be a number of seconds" ;; esac

bench_python
bench_loomd
H2LOAD=$(find_tool h2load) || { bench_install nghttp2-client; H2LOAD=$(find_tool h2load); }
[ -n "$H2LOAD" ] || die "h2load is needed (apt-get install nghttp2-client)"
WRK=$(find_tool wrk) || WRK=
command -v openssl >/dev/null 2>&1 || die "openssl is needed for the certificate"

bench_setup h2reload "${H2R_KEEP:-0}"
www=$tmp/www
mkdir -p "$www"
printf 'Hello, world\n' >"$www/hello.txt"
cert=$tmp/cert.pem
key=$tmp/key.pem
make_cert "$cert" "$key"

# storm PID SECONDS: SIGHUP to PID every INTERVAL for SECONDS; prints the
# number sent.
storm() {
	local pid=$1 end n=0
	end=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -lt "$end" ] && kill -0 "$pid" 2>/dev/null; do
		sleep "$INTERVAL"
		kill -HUP "$pid" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

# round BIN NAME: start BIN, load it over TLS with h2load (and over
# HTTP/1.1 with wrk) during a reload storm, print what the clients saw.
round() {
	local bin=$1 name=$2 dir port tport hups out line
	dir=$tmp/$name.$3
	mkdir -p "$dir"
	port=$(free_port)
	tport=$(free_port)
	loomd_static_conf "$port" "$tport" "$www" 1000000 "$cert" "$key" >"$dir/loom.conf"
	spawn_server "$dir" "$bin" -c "$dir/loom.conf"
	loomd_ready "$dir" || { server_failed "$name did not start" "$dir/stderr.log"; return 1; }

	"$H2LOAD" -c "$CONNS" -m "$STREAMS" -D "$DURATION" \
		"https://127.0.0.1:$tport/hello.txt" >"$dir/h2load.out" 2>&1 &
	client_pid=$!
	hups=$(storm "$server_pid" "$DURATION")
	wait "$client_pid"
	client_pid=
	out=$(grep -E '^(requests|status codes|traffic):' "$dir/h2load.out")
	echo "$name h2load TLS, $hups SIGHUPs:"
	echo "${out:-(no summary; h2load said:) $(tail -3 "$dir/h2load.out")}" | awk '{ print "    " $0 }'

	if [ -n "$WRK" ]; then
		"$WRK" -t1 -c "$CONNS" -d "${DURATION}s" "http://127.0.0.1:$port/hello.txt" \
			>"$dir/wrk.out" 2>&1 &
		client_pid=$!
		hups=$(storm "$server_pid" "$DURATION")
		wait "$client_pid"
		client_pid=
		line=$(grep -E 'requests in|Non-2xx|Socket errors' "$dir/wrk.out")
		echo "$name wrk HTTP/1.1, $hups SIGHUPs:"
		echo "${line:-(no summary)}" | awk '{ print "    " $0 }'
	fi
	stop_server
	echo "$name exit: $server_status"
}

note "h2load -c$CONNS -m$STREAMS -D $DURATION over TLS, SIGHUP every ${INTERVAL}s"
for r in $(seq "$ROUNDS"); do
	round "$LOOMD" loomd "$r" || exit 1
	if [ -n "${LOOMD_BASE:-}" ]; then
		round "$LOOMD_BASE" base "$r" || exit 1
	fi
done
exit 0
