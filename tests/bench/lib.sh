# tests/bench/lib.sh - helpers the benchmark scripts share; sourced first
# thing, with $top set to the repository root.  bench_python sets PY, which
# free_port and bench_pin use.
# shellcheck shell=bash

# ---- start-up

bench_script=${0##*/}   # for messages: "dns.sh: ..."

# die MESSAGE: "SCRIPT: MESSAGE" on stderr, exit 1.
die() { echo "$bench_script: $*" >&2; exit 1; }

# note MESSAGE: a "# MESSAGE" line on stdout.
note() { echo "# $*"; }

# bench_numbers VAR...: die unless every VAR holds a whole number.
bench_numbers() {
	local v
	for v in "$@"; do
		case ${!v} in ''|*[!0-9]*) die "$v must be a number" ;; esac
	done
}

# in_words WORD LIST: 0 when WORD is one of the words of LIST.
in_words() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

# bench_words WHAT NAME LIST ALLOWED...: die unless every word of LIST (the
# value of the environment variable NAME: parts, servers) is one of
# ALLOWED.
bench_words() {
	local what=$1 name=$2 list=$3 w allowed
	shift 3
	# a baseline build is measured wherever loomd is (bench_base)
	if [ "$what" = server ] && [ -n "${LOOMD_BASE:-}" ] && in_words loomd "$*"; then
		set -- "$@" base
	fi
	allowed=$*
	allowed=${allowed// /, }
	for w in $list; do
		in_words "$w" "$*" || die "unknown $what '$w' in $name ($allowed)"
	done
}

# bench_python: PY, the python3 to run helpers with ($PYTHON, else
# /usr/bin/python3, else python3 from PATH), and HZ, clock ticks per second.
bench_python() {
	PY=${PYTHON:-/usr/bin/python3}
	[ -x "$PY" ] || PY=$(command -v python3) || die "python3 is needed"
	HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
}

# bench_loomd: LOOMD ($LOOMD, default src/loomd, also below $top) as an
# absolute path; dies when there is no such binary.
# shellcheck disable=SC2154  # $top is set by the script
bench_loomd() {
	LOOMD=${LOOMD:-src/loomd}
	if [ ! -x "$LOOMD" ] && [ "${LOOMD#/}" = "$LOOMD" ] && [ -x "$top/$LOOMD" ]; then
		LOOMD=$top/$LOOMD
	fi
	[ -x "$LOOMD" ] || die "loomd binary '$LOOMD' not found: this script builds nothing; run ./configure && make first (or set LOOMD)"
	LOOMD=$(cd "$(dirname "$LOOMD")" && pwd)/$(basename "$LOOMD")
	bench_base
}

# ---- before and after: a baseline build beside loomd
#
# With LOOMD_BASE set to another loomd binary (say the build of the commit
# before a change), every script also accepts the server "base" in its
# server list: it is started as loomd is, with the same configuration, in
# the same alternating rounds, and the loomd/base ratios say what the
# change did.  For example:
#     LOOMD_BASE=/tmp/before/src/loomd MC_SERVERS="loomd base" tests/bench/memcache.sh

# bench_base: LOOMD_BASE as an absolute path (dies when it is not a binary);
# nothing when it is not set.
bench_base() {
	[ -n "${LOOMD_BASE:-}" ] || return 0
	[ -x "$LOOMD_BASE" ] || die "LOOMD_BASE '$LOOMD_BASE' is not an executable"
	LOOMD_BASE=$(cd "$(dirname "$LOOMD_BASE")" && pwd)/$(basename "$LOOMD_BASE")
}

# start_base ARGS...: start_loomd ARGS with the baseline binary (the
# script's own start_loomd, with LOOMD rebound for the call); likewise
# start_proxy_base for a script with start_proxy_loomd.
start_base() {
	local LOOMD=$LOOMD_BASE
	start_loomd "$@"
}
start_proxy_base() {
	local LOOMD=$LOOMD_BASE
	start_proxy_loomd "$@"
}

# base_note: the note line that describes the baseline.
base_note() {
	note "base: $LOOMD_BASE ($("$LOOMD_BASE" -V 2>&1 | head -n 1)), the same configuration as loomd: a baseline build"
}

# bench_install PKG...: as root, with apt-get, install the Debian packages
# PKG (after an apt-get update when the first try fails); nothing when PKG
# is empty or not root.  The caller looks for the programs again.
bench_install() {
	[ $# -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
	note "installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1; }
}

# free_port: a loopback TCP port that is free right now.
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# find_tool NAME: absolute path of a program (PATH, then /usr/sbin and
# /usr/bin, which a non-root PATH may lack), or nothing.
find_tool() {
	command -v "$1" 2>/dev/null ||
		{ [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } ||
		{ [ -x "/usr/bin/$1" ] && echo "/usr/bin/$1"; }
}

# median_of [PRINTF_FORMAT]: the median of the numbers on stdin (n/a when
# there are none), printed with the format (default %.3f).
median_of() {
	sort -g | awk -v f="${1:-%.3f}" '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		if (NR % 2) m = v[(NR + 1) / 2]
		else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf f "\n", m }'
}

# median_in FILE KEY1 KEY2 COLUMN [PRINTF_FORMAT]: median_of COLUMN over
# the lines of FILE whose first two words are KEY1 KEY2 (part and server).
median_in() {
	awk -v a="$2" -v b="$3" -v c="$4" '$1 == a && $2 == b { print $c }' "$1" | median_of "${5:-%.3f}"
}

# ratio A B: A/B with 2 decimals, or n/a when either is n/a or B is 0.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"
		else printf "%.2f\n", a / b }'
}

# quiet_services NAME...: as root, stop (and disable) the system services
# NAME that Debian's packages start (nginx, h2o on port 80), so that they
# hold no port and take no CPU during the rounds.  Uses note().
quiet_services() {
	local svc
	[ "$(id -u)" = 0 ] || return 0
	for svc in "$@"; do
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
			if systemctl is-active --quiet "$svc" 2>/dev/null || systemctl is-enabled --quiet "$svc" 2>/dev/null; then
				systemctl disable --now "$svc" >/dev/null 2>&1 && note "stopped and disabled the system service $svc"
			fi
		elif [ -x "/etc/init.d/$svc" ] && [ -r "/run/$svc.pid" ] &&
		     kill -0 "$(cat "/run/$svc.pid" 2>/dev/null)" 2>/dev/null; then
			"/etc/init.d/$svc" stop >/dev/null 2>&1 && note "stopped the system service $svc"
			command -v update-rc.d >/dev/null 2>&1 && update-rc.d "$svc" disable >/dev/null 2>&1
		fi
	done
	return 0
}

# rss_kib PID: resident memory of a process in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# cpu_ticks PID: CPU time (utime + stime) of a process, all its threads, in
# clock ticks.
cpu_ticks() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }          # fields from 3 (state) on; comm may hold spaces
	# shellcheck disable=SC2086  # split into fields on purpose
	set -- $rest
	echo $(( ${12} + ${13} ))  # fields 14 (utime) and 15 (stime)
}

# tree_ticks PID: cpu_ticks of PID and of all its descendants (a server that
# forks workers, such as NSD or nginx).
tree_ticks() {
	local total=0 pid t f rest pids
	cpu_ticks "$1" >/dev/null || return 1
	# "pid ppid" of every process, then the descendants of $1
	pids=$(for f in /proc/[0-9]*/stat; do
			rest=$(cat "$f" 2>/dev/null) || continue
			pid=${f#/proc/}; pid=${pid%/stat}
			rest=${rest##*) }
			# shellcheck disable=SC2086  # split into fields on purpose
			set -- $rest
			echo "$pid $2"
		done | awk -v root="$1" '{ parent[$1] = $2 }
			END { for (p in parent) { q = p; n = 0
				while (q != "" && q != root && n++ < 64) q = parent[q]
				if (q == root) print p } }')
	for pid in $pids; do
		t=$(cpu_ticks "$pid") && total=$((total + t))
	done
	echo "$total"
}

# ---- one server and its clients at a time.  A script sets server_pid when
# it starts a server and client_pid when it starts its load generator (or
# defines its own stop_clients); bench_setup does the rest.

# stop_clients: SIGTERM to $client_pid and wait for it.
stop_clients() {
	[ -n "$client_pid" ] || return 0
	kill -TERM "$client_pid" 2>/dev/null
	wait "$client_pid" 2>/dev/null
	client_pid=
}

# stop_server: SIGTERM to $server_pid, wait up to 15 s, then SIGKILL.  Sets
# server_status ("exit N" or "killed").
stop_server() {
	local _ rc
	server_status=
	[ -n "$server_pid" ] || return 0
	kill -TERM "$server_pid" 2>/dev/null
	for _ in $(seq 150); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null
		server_status=killed
	fi
	wait "$server_pid" 2>/dev/null
	rc=$?
	[ -n "$server_status" ] || server_status="exit $rc"
	server_pid=
}

# bench_setup NAME KEEP: a temporary directory in $tmp; on exit (or INT,
# TERM, HUP) the clients and the server are stopped and $tmp is removed,
# unless KEEP is 1.
bench_setup() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/loom-$1.XXXXXX") || die "mktemp failed"
	bench_keep=$2
	server_pid=
	server_status=
	client_pid=
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

bench_cleanup() {
	trap - EXIT INT TERM HUP
	stop_clients
	stop_server
	if [ "$bench_keep" = 1 ]; then
		echo "# temporary files kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}

# bench_pin ON: unless ON is 0, with taskset and two CPUs this shell may use,
# the first for the server and the second for the load generator: sets
# server_cpu, client_cpu and the command prefixes on_server_cpu and
# on_client_cpu (arrays, empty when not pinning).
# shellcheck disable=SC2034  # the arrays are used by the scripts
bench_pin() {
	local cpus
	server_cpu=; client_cpu=
	on_server_cpu=(); on_client_cpu=()
	[ "$1" != 0 ] && command -v taskset >/dev/null 2>&1 || return 0
	cpus=$("$PY" -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))' 2>/dev/null)
	# shellcheck disable=SC2086  # split on purpose
	set -- $cpus
	[ $# -ge 2 ] || return 0
	server_cpu=$1; client_cpu=$2
	on_server_cpu=(taskset -c "$server_cpu")
	on_client_cpu=(taskset -c "$client_cpu")
}

# make_cert CERT KEY: a self-signed ECDSA P-256 certificate for localhost
# and 127.0.0.1, valid two days, readable by every server; dies when
# openssl fails (its output in $tmp/openssl.log).
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$2" -out "$1" -days 2 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >"$tmp/openssl.log" 2>&1 ||
		{ cat "$tmp/openssl.log" >&2; die "openssl could not make a certificate"; }
	chmod 644 "$1" "$2"
}

# ---- starting a server.  start_SERVER functions call spawn_server, wait
# until it answers, and report a failure with server_failed.

on_server_cpu=()   # bench_pin fills these; empty: not pinned
on_client_cpu=()

# spawn_server DIR CMD...: start CMD in the background on the server CPU
# (when pinning), its output in DIR/stdout.log and DIR/stderr.log; sets
# server_pid.
spawn_server() {
	local dir=$1
	shift
	"${on_server_cpu[@]}" "$@" >"$dir/stdout.log" 2>"$dir/stderr.log" </dev/null &
	server_pid=$!
}

# server_failed WHAT FILE...: "SCRIPT: WHAT:" and the FILEs indented, on
# stderr; returns 1.
server_failed() {
	local what=$1
	shift
	echo "$bench_script: $what:" >&2
	sed 's/^/  /' "$@" >&2 2>/dev/null
	return 1
}

# bench_start DIR START...: make DIR and run START... (a start_SERVER
# call); when it fails, stop what it started and return 1.
bench_start() {
	mkdir -p "$1"
	shift
	"$@" && return 0
	stop_server
	return 1
}

# loomd_conf_head: the first lines of a loomd configuration: as root no
# user switch, a 1 s shutdown grace, the info log on stderr; LOOM_KTLS
# (auto, on or off) sets ktls, to measure TLS with and without kernel TLS
# (default: loomd's own default, auto).
loomd_conf_head() {
	[ "$(id -u)" = 0 ] && echo 'user = "root"'
	echo 'shutdown_grace = 1'
	[ -n "${LOOM_KTLS:-}" ] && echo "ktls = \"$LOOM_KTLS\""
	echo 'log { level = "info" target = "stderr" }'
}

# loomd_static_conf PORT TLSPORT WWW KEEPALIVE [CERT KEY]: a loomd
# configuration with an http instance serving WWW (static handler, no
# access log) on tcp PORT, and on tls TLSPORT when TLSPORT is set and CERT
# is a non-empty file; keepalive_requests KEEPALIVE.
loomd_static_conf() {
	loomd_conf_head
	echo 'http "bench" {'
	if [ -n "$2" ] && [ -s "${5:-}" ]; then
		echo "    listen = {\"tcp:$1:interface=127.0.0.1\", \"tls:$2:interface=127.0.0.1:cert=$5:key=$6\"}"
	else
		echo "    listen = {\"tcp:$1:interface=127.0.0.1\"}"
	fi
	echo "    keepalive_requests = $4"
	echo '    server "main" {'
	echo '        names = {"localhost"}'
	echo '        location "/" {'
	echo '            handler = "static"'
	echo "            root = \"$3\""
	echo '        }'
	echo '    }'
	echo '}'
}

# loomd_ready DIR: 0 once the loomd started with spawn_server DIR logged
# "core: ready" (up to 10 s), 1 when it did not or died.
loomd_ready() {
	local _
	for _ in $(seq 200); do
		grep -q '\[info\] core: ready' "$1/stderr.log" 2>/dev/null && return 0
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# loomd_accepts CONF WHAT: 0 when `loomd -t` accepts CONF; else "SCRIPT:
# LOOMD rejects WHAT:" and its output on stderr, and 1.
loomd_accepts() {
	"$LOOMD" -t -c "$1" >"$1.out" 2>&1 && return 0
	server_failed "$LOOMD rejects $2" "$1.out"
}

# nginx_main DIR [CONNECTIONS]: the main context of a one-process
# nginx.conf in DIR: no daemon, no master, pid and error log in DIR,
# CONNECTIONS worker connections (default 4096).
nginx_main() {
	cat <<-EOF
	worker_processes 1;
	daemon off;
	master_process off;
	pid $1/nginx.pid;
	error_log $1/error.log warn;
	events {
	    worker_connections ${2:-4096};
	}
	EOF
}

# nginx_temp_paths DIR: for inside http { }, every temporary path under
# DIR/tmp (made here).
nginx_temp_paths() {
	mkdir -p "$1/tmp"
	cat <<-EOF
	    client_body_temp_path $1/tmp/body;
	    proxy_temp_path $1/tmp/proxy;
	    fastcgi_temp_path $1/tmp/fastcgi;
	    uwsgi_temp_path $1/tmp/uwsgi;
	    scgi_temp_path $1/tmp/scgi;
	EOF
}

# spawn_nginx DIR: spawn_server with $NGINX and DIR/nginx.conf.
spawn_nginx() {
	spawn_server "$1" "$NGINX" -p "$1/" -e "$1/error.log" -c "$1/nginx.conf"
}

# h2o_conf DIR PORT TLSPORT WWW [CERT KEY]: an h2o.conf serving WWW with one
# thread on PORT, and on TLSPORT with CERT and KEY when CERT is a non-empty
# file; pid and error log in DIR.
h2o_conf() {
	echo 'num-threads: 1'
	[ "$(id -u)" = 0 ] && echo 'user: root'
	echo "pid-file: $1/h2o.pid"
	echo "error-log: $1/error.log"
	echo 'max-connections: 4096'
	echo 'listen:'
	echo '  host: 127.0.0.1'
	echo "  port: $2"
	if [ -s "${5:-}" ]; then
		echo 'listen:'
		echo '  host: 127.0.0.1'
		echo "  port: $3"
		echo '  ssl:'
		echo "    certificate-file: $5"
		echo "    key-file: $6"
	fi
	echo 'hosts:'
	echo '  default:'
	echo '    paths:'
	echo '      /:'
	echo "        file.dir: $4"
}

# ---- one round: the load generator, its results, the server's CPU time

# run_client OUT CMD...: run CMD on the client CPU (when pinning), stdout
# and stderr to OUT; interruptible (the traps stop it).  Returns its exit
# status.
run_client() {
	local out=$1 rc
	shift
	"${on_client_cpu[@]}" "$@" >"$out" 2>&1 </dev/null &
	client_pid=$!
	wait "$client_pid"
	rc=$?
	client_pid=
	return $rc
}

# client_ok RC COUNT [RATE]: 0 when the client exited 0, COUNT is a number
# above 0 and RATE (when given) is not empty.
client_ok() {
	[ "$1" = 0 ] && [ -n "$2" ] && [ "$2" -gt 0 ] 2>/dev/null && { [ $# -lt 3 ] || [ -n "$3" ]; }
}

# client_failed WHAT RC OUT: "SCRIPT: WHAT (exit RC); its output:" and the
# tail of OUT on stderr; stops the server; returns 1.
client_failed() {
	echo "$bench_script: $1 (exit $2); its output:" >&2
	tail -n 20 "$3" | sed 's/^/  /' >&2
	stop_server
	return 1
}

# server_died WHAT DIR: the server is gone (WHAT: "nginx died during ...");
# says so with the tail of DIR/stderr.log, reaps it; returns 1.
server_died() {
	echo "$bench_script: $1; its stderr:" >&2
	tail -n 20 "$2/stderr.log" >&2
	wait "$server_pid" 2>/dev/null
	server_pid=
	return 1
}

# server_done WHAT: stop the server; a note when it did not exit 0.
server_done() {
	stop_server
	[ "$server_status" = "exit 0" ] || note "$1: stopped with $server_status"
	return 0
}

# cpu_per TICKS N: "SECONDS MICROSECONDS_PER_ITEM" for TICKS clock ticks
# spent on N items (requests, queries, operations).
cpu_per() {
	awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { printf "%.2f %.3f\n", t / hz, t * 1000000 / hz / n }'
}

# wrk_results OUT: from wrk's output OUT set wrk_reqs (requests done),
# wrk_rps (per second, rounded) and wrk_flag: empty, or why the round is
# left out of the medians (non-2xx answers, socket errors).
# shellcheck disable=SC2034  # set for the caller
wrk_results() {
	local non2xx sockerr
	wrk_reqs=$(awk '$2 == "requests" && $3 == "in" { print $1; exit }' "$1")
	wrk_rps=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$1")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
	# "Socket errors: connect 0, read 0, write 0, timeout 0"
	sockerr=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$1")
	wrk_flag=
	if [ -n "$non2xx" ] && [ "$non2xx" != 0 ]; then
		wrk_flag="  ** $non2xx non-2xx answers -- not in the medians"
	elif [ -n "$sockerr" ] && [ "$sockerr" != 0 ]; then
		wrk_flag="  ** socket errors: $(grep 'Socket errors' "$1" | sed 's/^ *Socket errors: //') -- not in the medians"
	fi
}
