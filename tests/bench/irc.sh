#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# irc benchmark: loomd's irc module versus ngIRCd (Debian's ngircd) and
# Twisted words (twisted.words.service run by tests/bench/twisted_ircd.py).
#
# Two parts, each in alternating rounds (loomd, ngircd, twisted, loomd,
# ...), every round on a freshly started server on a fresh port:
#   fanout  IRC_CLIENTS (200) clients join #bench; IRC_SENDERS (10) of them
#           send PRIVMSG #bench for IRC_SECONDS (10) seconds.  Per round:
#           deliveries per second (PRIVMSG lines the clients received) and
#           the server's CPU time (utime + stime, all threads) per
#           delivery, counted over the same window.
#   idle    IRC_IDLE (10000) clients register and stay idle; the server's
#           VmRSS before the first connect and once all are registered,
#           and the difference per client.
# The load generator is tests/bench/irc_load.c (built here with cc -O2):
# one epoll loop, every client in one thread.  A sender keeps at most
# IRC_LOAD_WINDOW (8) of its messages unseen by the last client to join,
# so no server queue grows and no server cuts a slow reader.  With 2 or
# more CPUs the server runs on one CPU and irc_load on another (taskset;
# IRC_PIN=0 turns that off), and every fanout round prints irc_load's own
# CPU share next to the server's: while the server's is near 100% and the
# client's below, the server is the limit, not the client.
#
# The servers are configured alike for a benchmark: no flood control in
# the way (loomd: its largest burst and rate, 10,000 commands a second,
# beyond what a sender sends; ngircd:
# MaxPenaltyTime = 0; Twisted has none), no limit on connections per IP,
# long ping intervals.  Twisted words wants a PASS (any is accepted).
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken.  It builds nothing of
# loom (run ./configure && make first).
#
#     tests/bench/irc.sh
#
# Environment:
#   LOOMD          loomd binary (default src/loomd)
#   LOOMD_BASE     a baseline loomd measured beside it as server "base"
#   ROUNDS         rounds per server and part (default 3)
#   IRC_PARTS      parts to run (default "fanout idle")
#   IRC_SERVERS    servers (default "loomd ngircd twisted")
#   IRC_CLIENTS    clients in the channel (default 200)
#   IRC_SENDERS    of them sending (default 10)
#   IRC_SECONDS    seconds of sending per fanout round (default 10)
#   IRC_IDLE       idle clients (default 10000; needs ulimit -n above it)
#   IRC_LOAD_WINDOW  messages per sender in flight (default 8)
#   IRC_PIN        0: do not pin server and client to CPUs
#   IRC_KEEP       1: keep the temporary directory
#   CC             compiler for irc_load.c (default cc)
#   PYTHON         python interpreter (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
PARTS=${IRC_PARTS:-fanout idle}
SERVERS=${IRC_SERVERS:-loomd ngircd twisted}
CLIENTS=${IRC_CLIENTS:-200}
SENDERS=${IRC_SENDERS:-10}
SECONDS_=${IRC_SECONDS:-10}
IDLE=${IRC_IDLE:-10000}
CC=${CC:-cc}
bench_numbers ROUNDS CLIENTS SENDERS SECONDS_ IDLE
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$SENDERS" -ge 1 ] && [ "$SENDERS" -lt "$CLIENTS" ] || die "need 1 <= IRC_SENDERS < IRC_CLIENTS"

# ---------------------------------------------------------------- tools
bench_python
bench_words part IRC_PARTS "$PARTS" fanout idle
bench_words server IRC_SERVERS "$SERVERS" loomd ngircd twisted
if in_words loomd "$SERVERS" || in_words base "$SERVERS"; then
	bench_loomd
fi
if in_words ngircd "$SERVERS"; then
	NGIRCD=$(find_tool ngircd) || { bench_install ngircd; NGIRCD=$(find_tool ngircd); } ||
		die "ngircd not found (apt-get install ngircd)"
	quiet_services ngircd
fi
if in_words twisted "$SERVERS"; then
	"$PY" -c 'import twisted.words.service' 2>/dev/null ||
		die "$PY cannot import twisted.words (apt-get install python3-twisted)"
fi

# enough descriptors for the idle clients (each process has its own limit)
if in_words idle "$PARTS"; then
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((IDLE + 100)) ] ||
		die "ulimit -n is $(ulimit -n): too low for IRC_IDLE=$IDLE clients"
fi

bench_pin "${IRC_PIN:-1}"
bench_setup irc "${IRC_KEEP:-0}"
chmod 755 "$tmp"

LOAD=$tmp/irc_load
"$CC" -O2 -o "$LOAD" "$here/irc_load.c" >"$tmp/load_build.log" 2>&1 ||
	{ cat "$tmp/load_build.log" >&2; die "could not build irc_load.c with $CC"; }

# ---------------------------------------------------------------- servers

# Every server listens on 127.0.0.1:$port; pass is the PASS its clients
# send (empty: none).

loomd_irc_conf() {
	loomd_conf_head
	cat <<-EOF
	irc "bench" {
	    listen = {"tcp:$1:interface=127.0.0.1"}
	    server_name = "irc.bench.test"
	    network = "bench"
	    clients_per_ip = 10000000
	    max_clients = 10000000
	    flood_burst = 10000
	    flood_rate = 100000
	    sendq = "16M"
	    ping_interval = 600
	    ping_timeout = 600
	    register_timeout = 600
	}
	EOF
}

start_loomd() {
	local dir=$1
	port=$(free_port)
	pass=
	loomd_irc_conf "$port" >"$dir/loom.conf"
	loomd_accepts "$dir/loom.conf" "the irc configuration" || return 1
	spawn_server "$dir" "$LOOMD" -c "$dir/loom.conf"
	loomd_ready "$dir" || server_failed "loomd did not start; its stderr" "$dir/stderr.log"
}

ngircd_conf() {
	cat <<-EOF
	[Global]
	    Name = irc.bench.test
	    Info = bench
	    Listen = 127.0.0.1
	    Ports = $1
	    PidFile = $2/ngircd.pid
	    MotdPhrase = bench
	    AdminInfo1 = bench
	    AdminInfo2 = bench
	    AdminEMail = bench@bench.test
	[Limits]
	    MaxConnections = 0
	    MaxConnectionsIP = 0
	    MaxJoins = 0
	    MaxPenaltyTime = 0
	    PingTimeout = 600
	    PongTimeout = 600
	[Options]
	    DNS = no
	    Ident = no
	    PAM = no
	EOF
}

start_ngircd() {
	local dir=$1
	port=$(free_port)
	pass=
	ngircd_conf "$port" "$dir" >"$dir/ngircd.conf"
	# -n: in the foreground, its log on stdout
	spawn_server "$dir" "$NGIRCD" -n -f "$dir/ngircd.conf"
	wait_listen "$port" || server_failed "ngircd does not listen on $port; its output" "$dir/stdout.log" "$dir/stderr.log"
}

start_twisted() {
	local dir=$1
	port=$(free_port)
	pass=bench
	spawn_server "$dir" "$PY" "$here/twisted_ircd.py" "$port"
	wait_listen "$port" || server_failed "twisted words does not listen on $port; its output" "$dir/stdout.log" "$dir/stderr.log"
}

# wait_listen PORT: 0 once something accepts on PORT (up to 10 s) and the
# server still runs.
wait_listen() {
	"$PY" - "$1" <<-'EOF'
	import socket, sys, time
	deadline = time.monotonic() + 10
	while time.monotonic() < deadline:
	    try:
	        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
	        sys.exit(0)
	    except OSError:
	        time.sleep(0.05)
	sys.exit(1)
	EOF
	[ $? = 0 ] && kill -0 "$server_pid" 2>/dev/null
}

server_version() {
	case $1 in
	loomd) "$LOOMD" -V 2>&1 | head -n 1 ;;
	base) "$LOOMD_BASE" -V 2>&1 | head -n 1 ;;
	ngircd) "$NGIRCD" --version 2>/dev/null | head -n 1 ;;
	twisted) "$PY" -c 'import twisted; print("Twisted", twisted.__version__, "words, epoll reactor")' ;;
	esac
}

# ---------------------------------------------------------------- rounds

results=$tmp/results # lines: part server round value1 value2

round() {
	local part=$1 server=$2 round=$3 dir rc line
	dir=$tmp/$server.$part.$round
	bench_start "$dir" "start_$server" "$dir" || return 1
	if [ "$part" = fanout ]; then
		# shellcheck disable=SC2086  # $pass: one word or none
		run_client "$dir/load.out" "$LOAD" fanout "$port" "$server_pid" "$CLIENTS" "$SENDERS" "$SECONDS_" $pass
	else
		# shellcheck disable=SC2086
		run_client "$dir/load.out" "$LOAD" idle "$port" "$server_pid" "$IDLE" $pass
	fi
	rc=$?
	line=$(tail -n 1 "$dir/load.out")
	[ "$rc" = 0 ] || { client_failed "$server $part round $round: irc_load failed" "$rc" "$dir/load.out"; return 1; }
	kill -0 "$server_pid" 2>/dev/null || { server_died "$server died during $part round $round" "$dir"; return 1; }
	if [ "$part" = fanout ]; then
		# deliveries N seconds S rate R server_ticks T client_ticks C
		# shellcheck disable=SC2086
		set -- $line
		local n=$2 secs=$4 rate=$6 st=$8 ct=${10} cpu_s us
		read -r cpu_s us < <(cpu_per "$st" "$n")
		echo "fanout $server $round $rate $us" >>"$results"
		printf '%-7s round %d: %9s deliveries/s  %8s us CPU/delivery  server CPU %3d%%  irc_load CPU %3d%%\n' \
			"$server" "$round" "$rate" "$us" \
			"$(awk -v t="$st" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%d", t * 100 / hz / s }')" \
			"$(awk -v t="$ct" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%d", t * 100 / hz / s }')"
	else
		# clients N rss_before_kib B rss_after_kib A
		# shellcheck disable=SC2086
		set -- $line
		local per
		per=$(awk -v b="$4" -v a="$6" -v n="$2" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
		echo "idle $server $round $per $6" >>"$results"
		printf '%-7s round %d: %d clients  RSS %d KiB -> %d KiB  %s bytes/client\n' \
			"$server" "$round" "$2" "$4" "$6" "$per"
	fi
	server_done "$server"
}

note "irc benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$server_cpu" ]; then
	note "server on CPU $server_cpu, irc_load on CPU $client_cpu"
else
	note "not pinned to CPUs"
fi
for s in $SERVERS; do note "$s: $(server_version "$s")"; done
[ -z "${LOOMD_BASE:-}" ] || ! in_words base "$SERVERS" || base_note
note "fanout: $CLIENTS clients in #bench, $SENDERS sending for ${SECONDS_} s, window ${IRC_LOAD_WINDOW:-8}; idle: $IDLE clients"

failed=0
for part in $PARTS; do
	echo "== $part"
	for r in $(seq "$ROUNDS"); do
		for s in $SERVERS; do
			round "$part" "$s" "$r" || failed=1
		done
	done
done

echo "== medians"
for part in $PARTS; do
	for s in $SERVERS; do
		if [ "$part" = fanout ]; then
			printf '%-7s fanout: %9s deliveries/s  %8s us CPU/delivery\n' "$s" \
				"$(median_in "$results" fanout "$s" 4 %.0f)" "$(median_in "$results" fanout "$s" 5)"
		else
			printf '%-7s idle:   %9s bytes RSS/client\n' "$s" "$(median_in "$results" idle "$s" 4 %.0f)"
		fi
	done
done
if in_words loomd "$SERVERS"; then
	for other in ngircd twisted base; do
		in_words "$other" "$SERVERS" || continue
		in_words fanout "$PARTS" &&
			printf 'loomd/%s: deliveries/s %s, CPU/delivery %s\n' "$other" \
				"$(ratio "$(median_in "$results" fanout loomd 4 %.0f)" "$(median_in "$results" fanout "$other" 4 %.0f)")" \
				"$(ratio "$(median_in "$results" fanout loomd 5)" "$(median_in "$results" fanout "$other" 5)")"
		in_words idle "$PARTS" &&
			printf 'loomd/%s: RSS/idle client %s\n' "$other" \
				"$(ratio "$(median_in "$results" idle loomd 4 %.0f)" "$(median_in "$results" idle "$other" 4 %.0f)")"
	done
fi
exit "$failed"
