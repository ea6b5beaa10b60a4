#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# dns benchmark: loomd's dns module versus Debian's NSD, one server process.
#
# Both serve conf/zones/example.test.zone on a free loopback port.  In
# alternating rounds (loomd, nsd, loomd, nsd, ...) each server is started
# fresh and dnsperf drives it for DURATION seconds with a query file that
# mixes A, AAAA, MX, TXT, a CNAME chain, a wildcard, a referral and
# NXDOMAIN / NODATA names of example.test.  Per round it prints dnsperf's
# queries per second and average latency, the queries lost, and the
# server's CPU time (utime + stime from /proc/PID/stat, the server and its
# child processes: NSD forks its query server) per query in microseconds;
# then the medians and the loomd/nsd ratios.  UDP rounds first, then the
# same over TCP (dnsperf -m tcp).
#
# NSD runs with server-count: 1 and rrl-ratelimit: 0; loomd's rate limiting
# exempts loopback by default, so neither limits dnsperf.
#
# With 2 or more CPUs the server runs on one CPU and dnsperf on another
# (taskset), the same for both servers; DNS_PIN=0 turns that off.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken, non-zero when a server
# could not be started or measured.  It builds nothing: run it from the
# repository root after the build.
#
#     tests/bench/dns.sh
#
# Environment:
#   LOOMD      loomd binary (default src/loomd)
#   LOOMD_BASE a baseline loomd measured beside it as server "base" (lib.sh)
#   NSD        nsd binary (default /usr/sbin/nsd)
#   DNSPERF    dnsperf binary (default: from PATH)
#   ROUNDS     rounds per server and transport (default 3, minimum 1)
#   DURATION   seconds per round (default 10)
#   DNS_TRANSPORTS  transports to measure (default "udp tcp")
#   DNS_SERVERS     servers to measure (default "loomd nsd"; "base" with
#                   LOOMD_BASE, see lib.sh)
#   DNS_CLIENTS     dnsperf -c (default 1)
#   DNS_OUTSTANDING dnsperf -q (default 100)
#   DNS_PIN    0: do not pin the server and dnsperf to CPUs
#   DNS_KEEP   1: keep the temporary directory (configs, logs, outputs)
#   PYTHON     python interpreter for free_port (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
TRANSPORTS=${DNS_TRANSPORTS:-udp tcp}
CLIENTS=${DNS_CLIENTS:-1}
OUTSTANDING=${DNS_OUTSTANDING:-100}
SERVERS=${DNS_SERVERS:-loomd nsd}

bench_numbers ROUNDS DURATION CLIENTS OUTSTANDING
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
bench_words transport DNS_TRANSPORTS "$TRANSPORTS" udp tcp

# ---------------------------------------------------------------- tools
bench_python
bench_loomd
bench_words server DNS_SERVERS "$SERVERS" loomd nsd
NSD=${NSD:-/usr/sbin/nsd}
[ -x "$NSD" ] || die "nsd not found at $NSD (apt-get install nsd, or set NSD)"
DNSPERF=${DNSPERF:-$(command -v dnsperf 2>/dev/null)}
[ -x "${DNSPERF:-}" ] || die "dnsperf not found (apt-get install dnsperf, or set DNSPERF)"
command -v dig >/dev/null 2>&1 || die "dig is needed to check that a server answers (bind9-dnsutils)"
ZONE=$top/conf/zones/example.test.zone
[ -r "$ZONE" ] || die "missing $ZONE"

# ---------------------------------------------------------------- pinning
bench_pin "${DNS_PIN:-1}"

# ---------------------------------------------------------------- cleanup
bench_setup dns "${DNS_KEEP:-0}"

# ---------------------------------------------------------------- queries
# A mix of answers: positive A/AAAA/MX/TXT/SRV, a CNAME chain, a wildcard,
# a referral, NODATA and NXDOMAIN (about a quarter of the queries).
queries=$tmp/queries.txt
{
	for i in $(seq 0 49); do
		echo "www.example.test A"
		echo "www.example.test AAAA"
		echo "example.test MX"
		echo "example.test TXT"
		echo "mail.example.test A"
		echo "ns1.example.test AAAA"
		echo "alias.example.test A"
		echo "host$i.wild.example.test A"
		echo "_sip._tcp.example.test SRV"
		echo "long.example.test TXT"
		echo "www.sub.example.test A"
		echo "www.example.test MX"
		echo "nx$i.example.test A"
		echo "missing-$i.example.test AAAA"
		echo "nope$i.example.test MX"
		echo "q$i.host.wild.example.test TXT"
	done
} >"$queries"

# ---------------------------------------------------------------- servers
# answers PORT: 0 once the server answers the SOA (up to 10 s).
answers() {
	local _
	for _ in $(seq 50); do
		if dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short example.test SOA 2>/dev/null | grep -q .; then
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

start_loomd() {
	local port=$1 dir=$2
	{
		loomd_conf_head
		echo 'dns "bench" {'
		echo "    listen = {\"udp:$port:interface=127.0.0.1\", \"tcp:$port:interface=127.0.0.1\"}"
		echo "    zone \"example.test\" { file = \"$ZONE\" }"
		echo '}'
	} >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	answers "$port" || server_failed "loomd did not answer; its stderr" "$dir/stderr.log"
}

start_nsd() {
	local port=$1 dir=$2
	cat >"$dir/nsd.conf" <<-EOF
	server:
	    ip-address: 127.0.0.1@$port
	    port: $port
	    do-ip6: no
	    server-count: 1
	    rrl-ratelimit: 0
	    username: ""
	    chroot: ""
	    zonesdir: "$dir"
	    database: ""
	    zonelistfile: "$dir/zone.list"
	    xfrdfile: "$dir/xfrd.state"
	    xfrdir: "$dir"
	    pidfile: "$dir/nsd.pid"
	    logfile: "$dir/nsd.log"
	remote-control:
	    control-enable: no
	zone:
	    name: example.test
	    zonefile: "$ZONE"
	EOF
	spawn_server "$dir" "$NSD" -d -c "$dir/nsd.conf"
	answers "$port" ||
		server_failed "nsd did not answer; its output" "$dir/stdout.log" "$dir/stderr.log" "$dir/nsd.log"
}

server_version() {
	case $1 in
	loomd) "$LOOMD" -V 2>&1 | head -n 1 ;;
	base) "$LOOMD_BASE" -V 2>&1 | head -n 1 ;;
	nsd) "$NSD" -v 2>&1 | head -n 1 ;;
	esac
}

# ---------------------------------------------------------------- rounds
results=$tmp/results    # lines: transport server round qps latency_us us_per_query lost

measure() {
	local transport=$1 server=$2 round=$3 port dir t0 t1 rc completed lost qps lat cpu_s us codes
	port=$(free_port)
	dir=$tmp/$transport.$server.$round
	bench_start "$dir" "start_$server" "$port" "$dir" || return 1
	t0=$(tree_ticks "$server_pid")
	run_client "$dir/dnsperf.out" timeout $((DURATION + 60)) \
		"$DNSPERF" -m "$transport" -s 127.0.0.1 -p "$port" -d "$queries" -l "$DURATION" \
		-c "$CLIENTS" -q "$OUTSTANDING"
	rc=$?
	t1=$(tree_ticks "$server_pid")
	[ -n "$t1" ] || { server_died "$server died during $transport round $round" "$dir"; return 1; }
	completed=$(awk '/Queries completed:/ { print $3 }' "$dir/dnsperf.out")
	lost=$(awk '/Queries lost:/ { print $3 }' "$dir/dnsperf.out")
	qps=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$dir/dnsperf.out")
	# the first "Average Latency" is the queries' (TCP adds one for connects)
	lat=$(awk '/Average Latency/ { printf "%.1f", $4 * 1000000; exit }' "$dir/dnsperf.out")
	codes=$(sed -n 's/^ *Response codes: *//p' "$dir/dnsperf.out")
	client_ok "$rc" "$completed" ||
		{ client_failed "$server $transport round $round: dnsperf failed" "$rc" "$dir/dnsperf.out"; return 1; }
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$completed")
	echo "$transport $server $round $qps $lat $us $lost" >>"$results"
	printf '%-3s %-5s round %d: %8s q/s  latency %7s us  server CPU %6ss  %7s us/query  lost %s  (%s)\n' \
		"$transport" "$server" "$round" "$qps" "$lat" "$cpu_s" "$us" "$lost" "$codes"
	server_done "$server $transport round $round"
}

median() { median_in "$results" "$@"; }   # median TRANSPORT SERVER COLUMN [PRINTF_FORMAT]

# ---------------------------------------------------------------- main
echo "# dns benchmark: $(nproc 2>/dev/null || echo '?') CPUs"
note "loomd: $LOOMD ($(server_version loomd)), dns module, default options"
in_words base "$SERVERS" && base_note
note "nsd: $NSD ($(server_version nsd)), server-count 1, rrl-ratelimit 0"
note "dnsperf: $("$DNSPERF" -h 2>&1 | sed -n 's/^Version //p' | head -n 1) -c $CLIENTS -q $OUTSTANDING -l $DURATION, $(wc -l <"$queries") queries in the file (zone $ZONE)"
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: server on CPU $server_cpu, dnsperf on CPU $client_cpu"
else
	note "not pinned (DNS_PIN=0, fewer than 2 CPUs, or no taskset)"
fi

failed=0
: >"$results"
for transport in $TRANSPORTS; do
	echo
	echo "$transport: $ROUNDS rounds per server, alternating"
	for round in $(seq "$ROUNDS"); do
		for server in $SERVERS; do
			measure "$transport" "$server" "$round" || failed=1
		done
	done
done

echo
echo "summary (medians):"
for transport in $TRANSPORTS; do
	for server in $SERVERS; do
		printf '  %-3s %-5s %8s q/s  latency %7s us  %7s us CPU/query\n' "$transport" "$server" \
			"$(median "$transport" "$server" 4 %.0f)" "$(median "$transport" "$server" 5 %.1f)" \
			"$(median "$transport" "$server" 6)"
	done
	for other in $SERVERS; do
		[ "$other" = loomd ] && continue
		echo "  $transport ratio loomd/$other: q/s $(ratio "$(median "$transport" loomd 4)" "$(median "$transport" "$other" 4)")" \
			" latency $(ratio "$(median "$transport" loomd 5)" "$(median "$transport" "$other" 5)")" \
			" CPU/query $(ratio "$(median "$transport" loomd 6)" "$(median "$transport" "$other" 6)")"
	done
done

[ "$failed" = 0 ] || exit 1
exit 0
