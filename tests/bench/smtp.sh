#!/bin/bash
# shellcheck disable=SC2317  # functions called indirectly ("start_$server", traps)
# smtp benchmark: loomd's smtp module versus Postfix, and Postfix's
# smtp-sink as the speed of light.
#
# Postfix's smtp-source sends MESSAGES messages of SIZE bytes in SESSIONS
# parallel sessions (the issue's `smtp-source -s 20 -l 1024 -m 20000`, a
# new connection per message as smtp-source does by default) to one
# recipient, alice@example.test, at:
#   loomd    the smtp module delivering into a Maildir, every 250 sent only
#            after the message is fsync'd in new/ (group commit);
#   postfix  a private Postfix (`postfix -c DIR`, its own queue) with
#            virtual(8) Maildir delivery and its default durability: the
#            250 after the queue file is fsync'd, delivery afterwards;
#   sink     smtp-sink, which stores nothing.
# In alternating rounds (loomd, postfix, sink, loomd, ...) each server is
# started fresh in a directory on a real disk ($SMTP_DIR, default
# /var/tmp; on tmpfs an fsync costs nothing).  Per round: messages per
# second acknowledged (smtp-source's wall time), the server's CPU time per
# message (utime + stime of the server and all its processes, those that
# exited included: Postfix runs smtpd, cleanup, qmgr, virtual, ... as
# separate processes; counted until every message is in the Maildir), and
# the messages found in the Maildir.  For Postfix also the rate until the
# last message is delivered.  Then the medians and the loomd/postfix and
# loomd/sink ratios.
#
# fsyncs per message are counted apart, in one extra pass per server under
# `strace -f -c` (fsync, fdatasync, syncfs, sync_file_range, sync) with
# SMTP_STRACE_MESSAGES messages: strace slows a server down too much for
# its rate to mean anything, so the timed rounds run without it.
#
# With 2 or more CPUs the server (all of its processes and threads) runs
# on one CPU and smtp-source on another (taskset); SMTP_PIN=0 turns that
# off.
#
# This is a benchmark, not a test: it prints numbers and asserts nothing.
# It exits 0 when the measurements could be taken.  It builds nothing.
# Run it as root (a private Postfix needs root).
#
#     tests/bench/smtp.sh
#
# Environment:
#   LOOMD          loomd binary (default src/loomd)
#   LOOMD_BASE     a baseline loomd measured beside it as server "base"
#   ROUNDS         rounds per server (default 3)
#   SMTP_MESSAGES  messages per round (default 20000)
#   SMTP_SESSIONS  parallel sessions (default 20)
#   SMTP_SIZE      payload bytes per message (default 1024)
#   SMTP_SERVERS   servers to measure (default "loomd postfix sink")
#   SMTP_STRACE_MESSAGES  messages in the fsync-counting pass (default
#                  2000; 0 skips the pass)
#   SMTP_DIR       where the Maildirs and queues live (default /var/tmp)
#   SMTP_PIN       0: do not pin the server and smtp-source to CPUs
#   SMTP_KEEP      1: keep the temporary directory
#   PYTHON         python interpreter for free_port (default /usr/bin/python3)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

ROUNDS=${ROUNDS:-3}
MESSAGES=${SMTP_MESSAGES:-20000}
SESSIONS=${SMTP_SESSIONS:-20}
SIZE=${SMTP_SIZE:-1024}
SERVERS=${SMTP_SERVERS:-loomd postfix sink}
STRACE_MESSAGES=${SMTP_STRACE_MESSAGES:-2000}
bench_numbers ROUNDS MESSAGES SESSIONS SIZE STRACE_MESSAGES
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
[ "$MESSAGES" -ge 1 ] || die "SMTP_MESSAGES must be at least 1"
[ "$SESSIONS" -ge 1 ] || die "SMTP_SESSIONS must be at least 1"

# ---------------------------------------------------------------- tools
bench_python
bench_words server SMTP_SERVERS "$SERVERS" loomd postfix sink
if in_words loomd "$SERVERS" || in_words base "$SERVERS"; then
	bench_loomd
fi
SOURCE=$(find_tool smtp-source) || die "smtp-source not found (apt-get install postfix)"
SINK=$(find_tool smtp-sink) || die "smtp-sink not found (apt-get install postfix)"
POSTFIX=$(find_tool postfix)
if in_words postfix "$SERVERS"; then
	[ -n "$POSTFIX" ] || die "postfix not found (apt-get install postfix)"
	[ "$(id -u)" = 0 ] || die "a private Postfix needs root (the postfix command is reserved for the superuser)"
	id postfix >/dev/null 2>&1 || die "no postfix user"
fi
if [ "$STRACE_MESSAGES" -gt 0 ]; then
	STRACE=$(find_tool strace) || die "strace not found (apt-get install strace), or SMTP_STRACE_MESSAGES=0"
fi

bench_pin "${SMTP_PIN:-1}"
TMPDIR=${SMTP_DIR:-/var/tmp} bench_setup smtp "${SMTP_KEEP:-0}"
chmod 755 "$tmp"

# ---------------------------------------------------------------- CPU time

# all_ticks PID: CPU time of PID and of all its descendants, in clock
# ticks, including the children they have already reaped (cutime and
# cstime): Postfix's short-lived processes count too.
all_ticks() {
	local f rest
	[ -r "/proc/$1/stat" ] || return 1
	for f in /proc/[0-9]*/stat; do
		rest=$(cat "$f" 2>/dev/null) || continue
		echo "${f#/proc/} ${rest##*) }"
	done | awk -v root="$1" '{
		pid = $1; sub("/stat", "", pid)
		parent[pid] = $3
		# fields from state on: $2 state, $3 ppid ... utime is the 12th
		# after state, so $13 utime $14 stime $15 cutime $16 cstime
		t[pid] = $13 + $14 + $15 + $16
	} END {
		total = 0
		for (p in parent) {
			q = p; n = 0
			while (q != "" && q != root && n++ < 64) q = parent[q]
			if (q == root) total += t[p]
		}
		print total
	}'
}

# ---------------------------------------------------------------- servers

# Every server is reached at $port, started in DIR, delivering for
# alice@example.test into $maildir (nothing for the sink); $stop_fn stops
# it.

# loomd_smtp_conf PORT DIR: a loomd configuration with one smtp instance
# on PORT delivering alice@example.test to DIR/mail/alice/.
loomd_smtp_conf() {
	loomd_conf_head
	echo 'smtp "bench" {'
	echo "    listen = {\"tcp:$1:interface=127.0.0.1\"}"
	echo '    hostname = "mx.example.test"'
	echo '    local_domains = {"example.test"}'
	echo "    recipients = {\"alice@example.test $2/mail/alice/\"}"
	echo '    max_connections_per_ip = 1000'
	echo '}'
}

start_loomd() {
	local dir=$1
	port=$(free_port)
	maildir=$dir/mail/alice
	mkdir -p "$dir/mail"
	loomd_smtp_conf "$port" "$dir" >"$dir/loom.conf"
	loomd_accepts "$dir/loom.conf" "the smtp configuration" || return 1
	spawn_server "$dir" ${strace_cmd[@]+"${strace_cmd[@]}"} "$LOOMD" -c "$dir/loom.conf"
	loomd_ready "$dir" || server_failed "loomd did not start; its stderr" "$dir/stderr.log"
	measured_pid=$server_pid
	if [ ${#strace_cmd[@]} -gt 0 ]; then
		measured_pid=$(child_of "$server_pid" loomd) || return 1
	fi
	stop_fn=stop_loomd
}

# child_of PID NAME: the pid of PID's child process called NAME (strace's
# traced loomd), waiting up to 10 s for it.
child_of() {
	local _ c
	for _ in $(seq 100); do
		c=$(pgrep -P "$1" -x "$2" | head -n 1)
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 0.1
	done
	return 1
}

stop_loomd() {
	# under strace, stop loomd itself and let strace write its summary
	if [ "$measured_pid" != "$server_pid" ]; then
		kill -TERM "$measured_pid" 2>/dev/null
	fi
	stop_server
}

# postfix_main DIR PORT: main.cf for a private Postfix in DIR, Postfix's
# defaults but for the paths, the listener, and virtual(8) delivery of
# alice@example.test into DIR/mail/alice/ as the postfix user.
postfix_main() {
	local uid gid
	uid=$(id -u postfix) gid=$(id -g postfix)
	cat <<-EOF
	compatibility_level = 3.6
	queue_directory = $1/queue
	data_directory = $1/data
	mail_owner = postfix
	setgid_group = postdrop
	maillog_file = $1/maillog
	maillog_file_prefixes = $1
	myhostname = mx.example.test
	mydestination =
	local_recipient_maps =
	alias_maps =
	alias_database =
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	virtual_mailbox_domains = example.test
	virtual_mailbox_base = $1/mail
	virtual_mailbox_maps = inline:{ alice@example.test=alice/ }
	virtual_uid_maps = static:$uid
	virtual_gid_maps = static:$gid
	virtual_minimum_uid = 1
	smtp_dns_support_level = disabled
	biff = no
	EOF
}

# postfix_master PORT: master.cf with the services a virtual(8) Maildir
# needs, none chrooted; the process limits are Postfix's defaults.
postfix_master() {
	cat <<-EOF
	127.0.0.1:$1 inet n - n - - smtpd
	pickup    unix  n  -  n  60 1  pickup
	cleanup   unix  n  -  n  -  0  cleanup
	qmgr      unix  n  -  n  300 1 qmgr
	rewrite   unix  -  -  n  -  -  trivial-rewrite
	bounce    unix  -  -  n  -  0  bounce
	defer     unix  -  -  n  -  0  bounce
	trace     unix  -  -  n  -  0  bounce
	verify    unix  -  -  n  -  1  verify
	flush     unix  n  -  n  1000? 0 flush
	proxymap  unix  -  -  n  -  -  proxymap
	smtp      unix  -  -  n  -  -  smtp
	relay     unix  -  -  n  -  -  smtp
	error     unix  -  -  n  -  -  error
	retry     unix  -  -  n  -  -  error
	discard   unix  -  -  n  -  -  discard
	virtual   unix  -  n  n  -  -  virtual
	anvil     unix  -  -  n  -  1  anvil
	scache    unix  -  -  n  -  1  scache
	postlog   unix-dgram n - n  -  1  postlogd
	EOF
}

start_postfix() {
	local dir=$1 _ pf
	port=$(free_port)
	maildir=$dir/mail/alice
	mkdir -p "$dir/queue" "$dir/data" "$dir/mail"
	chown postfix:postfix "$dir/data" "$dir/mail"
	postfix_main "$dir" >"$dir/main.cf"
	postfix_master "$port" >"$dir/master.cf"
	pfdir=$dir
	# under strace, strace follows postfix-script into the master and
	# every process it starts, and writes its summary once they all exit
	"${on_server_cpu[@]}" ${strace_cmd[@]+"${strace_cmd[@]}"} "$POSTFIX" -c "$dir" start \
		>"$dir/stdout.log" 2>"$dir/stderr.log" </dev/null &
	pf=$!
	if [ ${#strace_cmd[@]} -gt 0 ]; then
		strace_pid=$pf
	else
		wait "$pf" || { server_failed "postfix start failed" "$dir/stderr.log" "$dir/maillog"; return 1; }
	fi
	for _ in $(seq 200); do
		server_pid=$(tr -d ' ' 2>/dev/null <"$dir/queue/pid/master.pid")
		[ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null && break
		server_pid=
		sleep 0.05
	done
	[ -n "$server_pid" ] || { server_failed "postfix did not start" "$dir/stderr.log" "$dir/maillog"; return 1; }
	measured_pid=$server_pid
	wait_smtp "$port" || { server_failed "postfix does not answer on $port" "$dir/maillog"; return 1; }
	stop_fn=stop_postfix
}

stop_postfix() {
	local _
	"$POSTFIX" -c "$pfdir" stop >/dev/null 2>&1 || "$POSTFIX" -c "$pfdir" abort >/dev/null 2>&1
	for _ in $(seq 300); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	server_status="exit 0"
	kill -0 "$server_pid" 2>/dev/null && server_status="still running"
	server_pid=
	if [ -n "${strace_pid:-}" ]; then
		wait "$strace_pid" 2>/dev/null
		strace_pid=
	fi
}

start_sink() {
	local dir=$1
	port=$(free_port)
	maildir=
	# smtp-sink as root must switch to another user (-u)
	spawn_server "$dir" "$SINK" -u nobody "127.0.0.1:$port" 1024
	wait_smtp "$port" || { server_failed "smtp-sink does not answer on $port" "$dir/stderr.log"; return 1; }
	measured_pid=$server_pid
	stop_fn=stop_sink
}

# stop_sink: smtp-sink ends on SIGTERM with that signal's status
stop_sink() {
	stop_server
	[ "$server_status" != "exit 143" ] || server_status="exit 0"
}

# wait_smtp PORT: 0 once a 220 greeting comes from PORT (up to 10 s).
wait_smtp() {
	"$PY" - "$1" <<-'EOF'
	import socket, sys, time
	deadline = time.monotonic() + 10
	while time.monotonic() < deadline:
	    try:
	        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
	            if s.recv(512).startswith(b"220"):
	                s.sendall(b"QUIT\r\n")
	                sys.exit(0)
	    except OSError:
	        pass
	    time.sleep(0.05)
	sys.exit(1)
	EOF
}

# delivered: the messages in $maildir (new/ and cur/).
delivered() {
	[ -n "$maildir" ] || { echo 0; return; }
	find "$maildir/new" "$maildir/cur" -type f 2>/dev/null | wc -l
}

# wait_delivered N: wait until $maildir holds N messages, at most 120 s
# once the count stops growing; prints the count reached.
wait_delivered() {
	local n last=-1 still=0
	while :; do
		n=$(delivered)
		[ "$n" -ge "$1" ] && break
		if [ "$n" = "$last" ]; then
			still=$((still + 1))
			[ "$still" -ge 1200 ] && break
		else
			still=0
		fi
		last=$n
		sleep 0.1
	done
	echo "$n"
}

# ---------------------------------------------------------------- rounds

now() { date +%s.%N; }

results=$tmp/results   # lines: part server round msgs_per_s us_per_msg delivered_per_s
strace_cmd=()
SYNC_CALLS=fsync,fdatasync,syncfs,sync_file_range,sync

measure() {
	local server=$1 round=$2 dir t0 t1 w0 w1 w2 rc got secs rate cpu_s us drate
	dir=$tmp/$server.$round
	bench_start "$dir" "start_$server" "$dir" || return 1
	t0=$(all_ticks "$measured_pid")
	w0=$(now)
	run_client "$dir/source.out" timeout 3600 "$SOURCE" -s "$SESSIONS" -l "$SIZE" -m "$MESSAGES" \
		-M client.test -f bench@client.test -t alice@example.test "127.0.0.1:$port"
	rc=$?
	w1=$(now)
	[ "$rc" = 0 ] || { client_failed "$server round $round: smtp-source failed" "$rc" "$dir/source.out"; $stop_fn; return 1; }
	got=0
	if [ -n "$maildir" ]; then
		got=$(wait_delivered "$MESSAGES")
	fi
	w2=$(now)
	t1=$(all_ticks "$measured_pid")
	[ -n "$t1" ] || { server_died "$server died during round $round" "$dir"; return 1; }
	secs=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')
	rate=$(awk -v n="$MESSAGES" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
	drate=$(awk -v n="$got" -v a="$w0" -v b="$w2" 'BEGIN { if (n > 0) printf "%.0f", n / (b - a); else print "n/a" }')
	read -r cpu_s us < <(cpu_per "$((t1 - t0))" "$MESSAGES")
	echo "rate $server $round $rate $us $drate" >>"$results"
	printf '%-7s round %d: %6s msgs/s acknowledged  server CPU %7ss  %8s us/msg  in Maildir %s/%s (%s msgs/s)\n' \
		"$server" "$round" "$rate" "$cpu_s" "$us" "$got" "$MESSAGES" "$drate"
	$stop_fn
	[ "$server_status" = "exit 0" ] || note "$server round $round: stopped with $server_status"
	rm -rf "$dir/mail" "$dir/queue/deferred" 2>/dev/null
	return 0
}

# count_fsyncs SERVER: one pass of STRACE_MESSAGES messages under strace
# -f -c; prints the sync calls per message from strace's summary.
count_fsyncs() {
	local server=$1 dir rc calls got
	[ "$server" != sink ] || return 0   # it stores nothing
	dir=$tmp/$server.strace
	strace_cmd=("$STRACE" -f -c -o "$dir/strace.out" -e "trace=$SYNC_CALLS")
	bench_start "$dir" "start_$server" "$dir" || { strace_cmd=(); return 1; }
	run_client "$dir/source.out" timeout 3600 "$SOURCE" -s "$SESSIONS" -l "$SIZE" -m "$STRACE_MESSAGES" \
		-M client.test -f bench@client.test -t alice@example.test "127.0.0.1:$port"
	rc=$?
	got=0
	[ -z "$maildir" ] || got=$(wait_delivered "$STRACE_MESSAGES")
	$stop_fn
	strace_cmd=()
	[ "$rc" = 0 ] || { client_failed "$server fsync pass: smtp-source failed" "$rc" "$dir/source.out"; return 1; }
	# strace -c: "% time seconds usecs/call calls errors syscall"; the
	# total line has "total" last
	calls=$(awk '$NF ~ /^(fsync|fdatasync|syncfs|sync_file_range|sync)$/ { n += $4 }
		END { print n + 0 }' "$dir/strace.out")
	echo "fsync $server 1 $(awk -v c="$calls" -v n="$STRACE_MESSAGES" 'BEGIN { printf "%.3f", c / n }')" >>"$results"
	printf '%-7s fsync pass: %s messages, %s in Maildir, %s sync calls: %s per message  (%s)\n' "$server" \
		"$STRACE_MESSAGES" "$got" "$calls" \
		"$(awk -v c="$calls" -v n="$STRACE_MESSAGES" 'BEGIN { printf "%.3f", c / n }')" \
		"$(awk '$NF ~ /^(fsync|fdatasync|syncfs|sync_file_range|sync)$/ { printf "%s%s %s", s, $NF, $4; s = ", " }' "$dir/strace.out")"
}

echo "# smtp benchmark: $(nproc 2>/dev/null || echo '?') CPUs, Maildirs and queues in $tmp ($(df -T "$tmp" | awk 'NR == 2 { print $2 }'))"
in_words loomd "$SERVERS" && note "loomd: $LOOMD ($("$LOOMD" -V 2>&1 | head -n 1)), Maildir, 250 after fsync of the file and new/"
[ -n "${LOOMD_BASE:-}" ] && in_words base "$SERVERS" && base_note
if in_words postfix "$SERVERS"; then
	: >"$tmp/main.cf"   # postconf -d reads no real configuration, but wants one
	note "postfix $("$(find_tool postconf)" -c "$tmp" -dh mail_version 2>/dev/null || echo '?'): virtual(8) Maildir, its default durability"
fi
note "smtp-source -s $SESSIONS -l $SIZE -m $MESSAGES (a connection per message), one recipient"
if [ -n "$server_cpu" ]; then
	note "pinned with taskset: the server on CPU $server_cpu, smtp-source on CPU $client_cpu"
else
	note "not pinned"
fi

failed=0
: >"$results"
for round in $(seq "$ROUNDS"); do
	for s in $SERVERS; do
		measure "$s" "$round" || failed=1
	done
done
if [ "$STRACE_MESSAGES" -gt 0 ]; then
	for s in $SERVERS; do
		count_fsyncs "$s" || failed=1
	done
fi

echo
echo "summary (medians):"
for s in $SERVERS; do
	printf '  %-7s %8s msgs/s  %8s us CPU/msg  %6s fsyncs/msg\n' "$s" \
		"$(median_in "$results" rate "$s" 4 %.0f)" "$(median_in "$results" rate "$s" 5)" \
		"$(median_in "$results" fsync "$s" 4)"
done
for pair in "loomd postfix" "loomd sink" "base postfix" "loomd base"; do
	# shellcheck disable=SC2086  # split on purpose
	set -- $pair
	if ! in_words "$1" "$SERVERS" || ! in_words "$2" "$SERVERS"; then
		continue
	fi
	printf '  %s/%s: msgs/s %s, CPU per message %s\n' "$1" "$2" \
		"$(ratio "$(median_in "$results" rate "$1" 4)" "$(median_in "$results" rate "$2" 4)")" \
		"$(ratio "$(median_in "$results" rate "$1" 5)" "$(median_in "$results" rate "$2" 5)")"
done

[ "$failed" = 0 ] || exit 1
exit 0
