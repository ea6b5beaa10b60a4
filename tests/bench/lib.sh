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
