#!/bin/bash
# h2_callgrind.sh: instructions per HTTP/2 request, counted by callgrind
# (load-independent, unlike the CPU time of tests/bench/http2.sh), for
# loomd and h2o serving the same 13-byte hello.txt over h2c (prior
# knowledge) and over TLS (ALPN h2).
#
# Each server runs twice per part under `valgrind --tool=callgrind`, once
# for N1 and once for N2 requests of `h2load -c CONNS -m STREAMS`; the
# per-request figure is (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up,
# shutdown and the connections' handshakes cancel out.
#
#     tests/bench/h2_callgrind.sh
#     LOOMD_BASE=/tmp/before/src/loomd tests/bench/h2_callgrind.sh
#
# Environment:
#   LOOMD           loomd binary (default src/loomd)
#   LOOMD_BASE      a baseline loomd, measured as server "base" too
#   H2O             h2o binary (default: from PATH); H2_SERVERS to choose
#   H2_SERVERS      servers (default "loomd h2o", plus base with LOOMD_BASE)
#   H2_PARTS        parts (default "h2c tls")
#   N1, N2          request counts (default 20000 and 60000)
#   H2_CONNS, H2_STREAMS  h2load -c and -m (default 50 and 10)
# Prints one line per server and part; exits non-zero when a run failed.

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

LOOMD=${LOOMD:-$top/src/loomd}
H2O=${H2O:-$(find_tool h2o)}
N1=${N1:-20000}
N2=${N2:-60000}
CONNS=${H2_CONNS:-50}
STREAMS=${H2_STREAMS:-10}
PARTS=${H2_PARTS:-"h2c tls"}
SERVERS=${H2_SERVERS:-"loomd h2o${LOOMD_BASE:+ base}"}
bench_python
command -v valgrind >/dev/null || die "valgrind is not installed"
command -v h2load >/dev/null || die "h2load (nghttp2-client) is not installed"

tmp=$(mktemp -d /tmp/h2cg.XXXXXX)
trap 'kill "${server_pid:-}" 2>/dev/null; [ -n "${H2_KEEP:-}" ] || rm -rf "$tmp"' EXIT
www=$tmp/www
mkdir -p "$www"
printf 'Hello, world\n' >"$www/hello.txt"
cert=$tmp/cert.pem
key=$tmp/key.pem
make_cert "$cert" "$key"

# total_ir FILE: the Ir total of a callgrind output file
total_ir() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

# run_once SERVER PART N: start SERVER under callgrind, N requests, stop;
# prints the Ir total.
run_once() {
	local server=$1 part=$2 n=$3 port tport dir bin url
	port=$(free_port)
	tport=$(free_port)
	dir=$tmp/$server-$part-$n
	mkdir -p "$dir"
	case $server in
	loomd | base)
		bin=$LOOMD
		[ "$server" = base ] && bin=$LOOMD_BASE
		loomd_static_conf "$port" "$tport" "$www" 10000000 "$cert" "$key" \
			| sed 's/level = "info"/level = "error"/' >"$dir/loom.conf"
		valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
			"$bin" -c "$dir/loom.conf" >"$dir/stdout.log" 2>"$dir/stderr.log" &
		;;
	h2o)
		h2o_conf "$dir" "$port" "$tport" "$www" "$cert" "$key" >"$dir/h2o.conf"
		valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
			"$H2O" -c "$dir/h2o.conf" \
			>"$dir/stdout.log" 2>"$dir/stderr.log" &
		;;
	esac
	server_pid=$!
	url=http://127.0.0.1:$port/hello.txt
	[ "$part" = tls ] && url=https://localhost:$tport/hello.txt
	for _ in $(seq 600); do
		curl -sfk --http2-prior-knowledge -o /dev/null "$url" 2>/dev/null && break
		sleep 0.1
	done
	h2load -n "$n" -c "$CONNS" -m "$STREAMS" "$url" >"$dir/h2load.log" 2>&1
	grep -q "succeeded, 0 errored, 0 timeout" "$dir/h2load.log" || grep -q " $n succeeded" "$dir/h2load.log" ||
		{ echo "$server $part: h2load failed:" >&2; cat "$dir/h2load.log" >&2; }
	kill -TERM "$server_pid"
	wait "$server_pid" 2>/dev/null
	server_pid=
	total_ir "$dir/cg.out"
}

rc=0
for part in $PARTS; do
	for server in $SERVERS; do
		a=$(run_once "$server" "$part" "$N1")
		b=$(run_once "$server" "$part" "$N2")
		if [ -z "$a" ] || [ -z "$b" ]; then
			echo "$server $part: no callgrind totals" >&2
			rc=1
			continue
		fi
		echo "$part $server: $(( (b - a) / (N2 - N1) )) instructions per request" \
			"(Ir $a for $N1, $b for $N2)"
	done
done
exit $rc
