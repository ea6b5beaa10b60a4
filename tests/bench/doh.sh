#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly (traps)
# DNS over HTTPS benchmark: loomd's doh handler against the same dns
# instance's own UDP and TCP, one loomd process.
#
# loomd serves conf/zones/example.test.zone from a dns instance (UDP and
# TCP) and, through an http instance's `= /dns-query` location (handler
# doh), over h2c and HTTP/2 over TLS.  In alternating rounds each
# transport is driven for DURATION seconds against a freshly started
# loomd: h2load GETs /dns-query?dns=... (a file of URIs mixing positive
# answers, a CNAME chain, a referral, NODATA and NXDOMAIN) for doh-h2c and
# doh-tls, dnsperf the same names over udp and tcp.  Per round: queries
# per second, loomd's CPU time per query (utime + stime from /proc), and
# for h2load the non-2xx count; then the medians and each transport's
# ratio to udp.  dnsdist-h2c and dnsdist-tls put Debian's dnsdist (1.7, its
# DoH listener, no packet cache) in front of the same dns instance over UDP,
# as a site without loom's doh handler would: their CPU per query is
# dnsdist's and loomd's together, both pinned to the server CPU.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken.  It builds nothing.
#
#     tests/bench/doh.sh
#
# Environment:
#   LOOMD      loomd binary (default src/loomd)
#   ROUNDS     rounds per transport (default 3)
#   DURATION   seconds per round (default 10)
#   DOH_TRANSPORTS  transports (default "udp tcp doh-h2c doh-tls
#                   dnsdist-h2c dnsdist-tls"; the dnsdist ones are left out
#                   when dnsdist is not installed)
#   DNSDIST    dnsdist binary (default: from PATH)
#   DOH_CLIENTS     h2load -c and dnsperf -c (default 1)
#   DOH_OUTSTANDING h2load -m (streams per connection) and dnsperf -q
#                   (default 100)
#   DOH_PIN    0: do not pin loomd and the client to CPUs
#   DOH_KEEP   1: keep the temporary directory
#   PYTHON     python interpreter (default /usr/bin/python3; needs
#              dnspython to build the queries)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
DNSDIST=${DNSDIST:-$(command -v dnsdist 2>/dev/null)}
if [ -x "${DNSDIST:-}" ]; then
	TRANSPORTS=${DOH_TRANSPORTS:-udp tcp doh-h2c doh-tls dnsdist-h2c dnsdist-tls}
else
	TRANSPORTS=${DOH_TRANSPORTS:-udp tcp doh-h2c doh-tls}
fi
CLIENTS=${DOH_CLIENTS:-1}
OUTSTANDING=${DOH_OUTSTANDING:-100}

bench_numbers ROUNDS DURATION CLIENTS OUTSTANDING
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$DURATION" -ge 1 ] || DURATION=1
bench_words transport DOH_TRANSPORTS "$TRANSPORTS" udp tcp doh-h2c doh-tls dnsdist-h2c dnsdist-tls
case $TRANSPORTS in *dnsdist*) [ -x "${DNSDIST:-}" ] || die "dnsdist not found (apt-get install dnsdist, or set DNSDIST)" ;; esac

bench_python
bench_loomd
"$PY" -c 'import dns.message' 2>/dev/null || die "$PY lacks dnspython (python3-dnspython)"
H2LOAD=${H2LOAD:-$(command -v h2load 2>/dev/null)}
[ -x "${H2LOAD:-}" ] || die "h2load not found (apt-get install nghttp2-client)"
DNSPERF=${DNSPERF:-$(command -v dnsperf 2>/dev/null)}
[ -x "${DNSPERF:-}" ] || die "dnsperf not found (apt-get install dnsperf)"
ZONE=$top/conf/zones/example.test.zone
[ -r "$ZONE" ] || die "missing $ZONE"

bench_pin "${DOH_PIN:-1}"
bench_setup doh "${DOH_KEEP:-0}"

# ---------------------------------------------------------------- queries
names="www.example.test/A www.example.test/AAAA example.test/MX example.test/TXT
alias.example.test/A www.sub.example.test/A www.example.test/MX nx1.example.test/A
missing.example.test/AAAA"
queries=$tmp/queries.txt
for n in $names; do echo "${n%/*} ${n#*/}"; done >"$queries"

# uris PORT SCHEME: one URI per name, the query base64url-encoded (ID 0).
uris() {
	# shellcheck disable=SC2086  # one argument per name
	"$PY" - "$1" "$2" $names <<-'EOF'
	import base64, sys
	import dns.message
	port, scheme = sys.argv[1], sys.argv[2]
	for arg in sys.argv[3:]:
	    name, rdtype = arg.split("/")
	    q = dns.message.make_query(name, rdtype)
	    q.id = 0
	    b = base64.urlsafe_b64encode(q.to_wire()).rstrip(b"=").decode()
	    print("%s://127.0.0.1:%s/dns-query?dns=%s" % (scheme, port, b))
	EOF
}

start_loomd() {
	local dir=$1
	dns_port=$(free_port)
	http_port=$(free_port)
	tls_port=$(free_port)
	{
		loomd_conf_head
		echo 'tls "local" { self_signed = yes }'
		echo 'dns "bench" {'
		echo "    listen = {\"udp:$dns_port:interface=127.0.0.1\", \"tcp:$dns_port:interface=127.0.0.1\"}"
		echo "    zone \"example.test\" { file = \"$ZONE\" }"
		echo '}'
		echo 'http "web" {'
		echo "    listen = {\"tcp:$http_port:interface=127.0.0.1\", \"tls:$tls_port:interface=127.0.0.1:profile=local\"}"
		echo '    h2_max_streams = 1000'
		echo '    server "main" {'
		echo '        location "= /dns-query" { handler = "doh"  dns = "bench" }'
		echo '    }'
		echo '}'
	} >"$dir/loom.conf"
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	loomd_ready "$dir" || server_failed "loomd did not start; its stderr" "$dir/stderr.log"
}

# start_dnsdist DIR: dnsdist's DoH listeners (h2c on dd_http_port, TLS on
# dd_tls_port) in front of the loomd start_loomd started, over UDP; waits
# until dnsdist has marked it up.  Sets dd_pid.
start_dnsdist() {
	local dir=$1 _
	dd_http_port=$(free_port)
	dd_tls_port=$(free_port)
	make_cert "$dir/cert.pem" "$dir/key.pem"
	cat >"$dir/dnsdist.conf" <<-EOF
	setLocal("127.0.0.1:$(free_port)")
	newServer({address="127.0.0.1:$dns_port", checkName="example.test."})
	addDOHLocal("127.0.0.1:$dd_http_port", nil, nil, "/dns-query")
	addDOHLocal("127.0.0.1:$dd_tls_port", "$dir/cert.pem", "$dir/key.pem", "/dns-query")
	setSecurityPollSuffix("")
	EOF
	"${on_server_cpu[@]}" "$DNSDIST" --supervised --disable-syslog -C "$dir/dnsdist.conf" \
		>"$dir/dnsdist.log" 2>&1 </dev/null &
	dd_pid=$!
	for _ in $(seq 100); do
		grep -q "as 'up'" "$dir/dnsdist.log" 2>/dev/null && return 0
		kill -0 "$dd_pid" 2>/dev/null || break
		sleep 0.1
	done
	server_failed "dnsdist did not start; its log" "$dir/dnsdist.log"
}

stop_dnsdist() {
	[ -n "${dd_pid:-}" ] || return 0
	kill -TERM "$dd_pid" 2>/dev/null
	wait "$dd_pid" 2>/dev/null
	dd_pid=
}

results=$tmp/results   # lines: transport loomd round qps us_per_query

measure() {
	local transport=$1 round=$2 dir t0 t1 rc count qps cpu_s us flag=
	dir=$tmp/$transport.$round
	bench_start "$dir" start_loomd "$dir" || return 1
	case $transport in
	dnsdist-*) start_dnsdist "$dir" || { stop_dnsdist; stop_server; return 1; } ;;
	esac
	t0=$(tree_ticks "$server_pid")
	[ -z "${dd_pid:-}" ] || t0=$((t0 + $(tree_ticks "$dd_pid")))
	case $transport in
	udp | tcp)
		run_client "$dir/client.out" timeout $((DURATION + 60)) \
			"$DNSPERF" -m "$transport" -s 127.0.0.1 -p "$dns_port" -d "$queries" \
			-l "$DURATION" -c "$CLIENTS" -q "$OUTSTANDING"
		rc=$?
		count=$(awk '/Queries completed:/ { print $3 }' "$dir/client.out")
		qps=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$dir/client.out")
		;;
	doh-* | dnsdist-*)
		case $transport in
		doh-h2c) uris "$http_port" http >"$dir/uris" ;;
		doh-tls) uris "$tls_port" https >"$dir/uris" ;;
		dnsdist-h2c) uris "$dd_http_port" http >"$dir/uris" ;;
		dnsdist-tls) uris "$dd_tls_port" https >"$dir/uris" ;;
		esac
		run_client "$dir/client.out" timeout $((DURATION + 60)) \
			"$H2LOAD" -i "$dir/uris" -c "$CLIENTS" -m "$OUTSTANDING" -D "$DURATION"
		rc=$?
		count=$(awk '/^requests:/ { print $8 }' "$dir/client.out")
		qps=$(awk '/^finished in/ { gsub(",", ""); printf "%.0f", $4 }' "$dir/client.out")
		local fails
		fails=$(awk '/^status codes:/ { gsub(",", ""); print $5 + $7 + $9 }' "$dir/client.out")
		[ "${fails:-0}" = 0 ] || flag="  ** $fails non-2xx"
		;;
	esac
	t1=$(tree_ticks "$server_pid")
	[ -n "$t1" ] || { stop_dnsdist; server_died "loomd died during $transport round $round" "$dir"; return 1; }
	if [ -n "${dd_pid:-}" ]; then
		local dd
		dd=$(tree_ticks "$dd_pid") || { stop_dnsdist; server_died "dnsdist died during $transport round $round" "$dir"; return 1; }
		t1=$((t1 + dd))
		stop_dnsdist
	fi
	client_ok "$rc" "$count" "$qps" ||
		{ stop_dnsdist; client_failed "$transport round $round: the client failed" "$rc" "$dir/client.out"; return 1; }
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$count")
	[ -n "$flag" ] || echo "$transport loomd $round $qps $us" >>"$results"
	printf '%-11s round %d: %8s q/s  server CPU %6ss  %7s us/query%s\n' \
		"$transport" "$round" "$qps" "$cpu_s" "$us" "$flag"
	server_done "$transport round $round"
}

echo "# doh benchmark: $(nproc 2>/dev/null || echo '?') CPUs"
note "loomd: $LOOMD ($("$LOOMD" -V 2>&1 | head -n 1))"
note "h2load: $("$H2LOAD" --version 2>&1 | head -n 1); dnsperf -c $CLIENTS -q $OUTSTANDING; h2load -c $CLIENTS -m $OUTSTANDING; $DURATION s rounds"
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: loomd on CPU $server_cpu, the client on CPU $client_cpu"
else
	note "not pinned"
fi

failed=0
: >"$results"
for round in $(seq "$ROUNDS"); do
	for transport in $TRANSPORTS; do
		measure "$transport" "$round" || failed=1
	done
done

echo
echo "summary (medians):"
for transport in $TRANSPORTS; do
	printf '  %-11s %8s q/s  %7s us CPU/query' "$transport" \
		"$(median_in "$results" "$transport" loomd 4 %.0f)" "$(median_in "$results" "$transport" loomd 5)"
	if [ "$transport" != udp ] && in_words udp "$TRANSPORTS"; then
		printf '   vs udp: q/s %s  CPU/query %s' \
			"$(ratio "$(median_in "$results" "$transport" loomd 4)" "$(median_in "$results" udp loomd 4)")" \
			"$(ratio "$(median_in "$results" "$transport" loomd 5)" "$(median_in "$results" udp loomd 5)")"
	fi
	echo
done
for t in h2c tls; do
	in_words "doh-$t" "$TRANSPORTS" && in_words "dnsdist-$t" "$TRANSPORTS" || continue
	printf '  loomd doh-%s / dnsdist-%s: q/s %s  CPU/query %s\n' "$t" "$t" \
		"$(ratio "$(median_in "$results" "doh-$t" loomd 4)" "$(median_in "$results" "dnsdist-$t" loomd 4)")" \
		"$(ratio "$(median_in "$results" "doh-$t" loomd 5)" "$(median_in "$results" "dnsdist-$t" loomd 5)")"
done

[ "$failed" = 0 ] || exit 1
exit 0
