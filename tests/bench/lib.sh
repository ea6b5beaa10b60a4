# tests/bench/lib.sh - helpers the benchmark scripts share; sourced, with
# PY set to a python3 interpreter.
# shellcheck shell=bash

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
