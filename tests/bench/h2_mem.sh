#!/bin/bash
# HTTP/2 memory per connection, idle and busy (closed streams kept).
#
# One loomd (an http instance serving a 13-byte file over tcp, static
# handler, no access log, h2_max_streams MAXSTREAMS) gets CONNS h2c
# connections from tests/bench/h2_mem_client.py: VmRSS is read with no
# connection, with CONNS idle ones (handshake done), and after every
# connection ran ROUNDS bursts of MAXSTREAMS concurrent requests (all
# answered, connections still open: nghttp2 keeps up to about
# MAX_CONCURRENT_STREAMS closed streams each).  Printed: the RSS growth per
# connection, idle and busy, in bytes.  With LOOMD_BASE set (lib.sh), the
# baseline binary is measured the same way, for a before / after.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# Run from the repository root after the build:  tests/bench/h2_mem.sh
#
# Environment:
#   LOOMD, LOOMD_BASE   loomd binaries (lib.sh)
#   CONNS               connections (default 200)
#   ROUNDS              bursts per connection (default 4)
#   MAXSTREAMS          h2_max_streams (default 128, loomd's default)
#   H2M_KEEP            1: keep the temporary directory
#   PYTHON              python3 (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

CONNS=${CONNS:-200}
ROUNDS=${ROUNDS:-4}
MAXSTREAMS=${MAXSTREAMS:-128}
bench_numbers CONNS ROUNDS MAXSTREAMS

bench_python
bench_loomd
bench_setup h2mem "${H2M_KEEP:-0}"
www=$tmp/www
mkdir -p "$www"
printf 'Hello, world\n' >"$www/hello.txt"
ulimit -n $((CONNS + 256)) 2>/dev/null || die "cannot raise the fd limit to $((CONNS + 256))"

measure() {
	local bin=$1 name=$2 dir port nums
	dir=$tmp/$name
	mkdir -p "$dir"
	port=$(free_port)
	loomd_static_conf "$port" "" "$www" 1000000 |
		sed "s/^    keepalive_requests.*/&\n    h2_max_streams = $MAXSTREAMS/" >"$dir/loom.conf"
	spawn_server "$dir" "$bin" -c "$dir/loom.conf"
	loomd_ready "$dir" || { server_failed "$name did not start" "$dir/stderr.log"; return 1; }
	nums=$("$PY" "$here/h2_mem_client.py" "$port" "$server_pid" "$CONNS" "$ROUNDS") ||
		{ stop_server; die "$name: the client failed"; }
	stop_server
	# shellcheck disable=SC2086  # three numbers
	set -- $nums
	echo "$name: RSS ${1} KiB with no connection; per connection: idle $(( ($2 - $1) * 1024 / CONNS )) B, busy $(( ($3 - $1) * 1024 / CONNS )) B ($CONNS connections, $((ROUNDS * MAXSTREAMS)) requests each)"
}

note "$CONNS h2c connections, $ROUNDS bursts of $MAXSTREAMS streams each"
measure "$LOOMD" loomd || exit 1
if [ -n "${LOOMD_BASE:-}" ]; then
	measure "$LOOMD_BASE" base || exit 1
fi
exit 0
