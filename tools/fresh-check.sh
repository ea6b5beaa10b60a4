#!/usr/bin/env bash
# tools/fresh-check.sh - check that README.md's two Quick start commands work
# on a fresh Debian 12, so that a missing install step in tools/deps.sh shows
# up instead of hiding behind packages this machine happens to have.
#
# It builds a minimal Debian 12 root (debootstrap --variant=minbase bookworm,
# from the Debian mirror this machine's apt uses), git-clones the committed
# tree (REV, default HEAD; never the working directory's files) into it, and
# inside it (chroot, with /proc, /dev, /dev/pts and /sys mounted) runs:
#   1. the test command (Quick start's second): it must exit 0, and no test
#      may be skipped because something is "not installed";
#   2. the run command (Quick start's first), in a network namespace of its
#      own so that the shipped config's fixed loopback ports (7007, 8080, ...)
#      cannot clash with anything on this machine: loomd must print its
#      "core: ready (...)" line, and exit 0 on SIGTERM.
# Both commands are read from the cloned README.md, so editing the README
# changes what is checked.  The test command runs first because it needs the
# network (apt) and the run command does not once it has run.
#
# Usage (as root): tools/fresh-check.sh [-k] [-v] [REV]
#   -k  keep the root afterwards (its path is printed)
#   -v  show the commands' output as they run (it is always in the log)
# Environment:
#   FRESH_CACHE    where the debootstrapped root is kept as a tarball, with
#                  apt's downloaded packages (default /var/cache/loom-fresh-check)
#   FRESH_MAX_AGE  days before that tarball is built again (default 7)
#   FRESH_MIRROR   the Debian mirror (default: from /etc/apt/sources.list.d)
#   FRESH_TIMEOUT  minutes each command may take (default 30)
#
# The last line printed is "N passed, M failed" counting this script's own
# four checks (the suite's own counts are on a line before it, prefixed
# "fresh-check: suite:").  A check that could not run counts as failed.
# Exits 0 only when all four passed; 130 when interrupted.

# (die exits; the functions after it run from traps and run_waited)
# shellcheck disable=SC2317
set -u -o pipefail

SUITE=bookworm
CACHE=${FRESH_CACHE:-/var/cache/loom-fresh-check}
MAX_AGE=${FRESH_MAX_AGE:-7}
TIMEOUT_MIN=${FRESH_TIMEOUT:-30}
CHECKS=4
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
GUEST_TREE=/root/loom

keep=0
verbose=0
while getopts kv opt; do
    case $opt in
    k) keep=1 ;;
    v) verbose=1 ;;
    *)
        sed -n 's/^# Usage[^:]*: //p' "$0" >&2
        exit 2
        ;;
    esac
done
shift $((OPTIND - 1))
rev=${1:-HEAD}

passed=0
failed=0
ROOT=""
MOUNTS=()
child=""

say() { printf 'fresh-check: %s\n' "$*"; }
die() {
    say "$*" >&2
    finish
}
now() { date +%s; }

pass() {
    passed=$((passed + 1))
    say "ok: $*"
}
fail() {
    failed=$((failed + 1))
    say "FAILED: $*"
}

# ---- the root and its mounts -------------------------------------------------

# Pids of the processes whose root directory is inside $ROOT (all of them
# started by this script: the commands, the suite, loomd).
root_pids() {
    local p r
    [ -n "$ROOT" ] || return 0
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        case $r in
        "$ROOT" | "$ROOT"/*) echo "${p#/proc/}" ;;
        esac
    done
}

kill_root_procs() {
    local pids i
    pids=$(root_pids)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for i in $(seq 50); do
        pids=$(root_pids)
        [ -n "$pids" ] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.2
}

# Mount points at or below $ROOT, deepest last (from mountinfo).
mounts_below() {
    awk -v r="$ROOT" '$5 == r || index($5, r "/") == 1 {print $5}' \
        /proc/self/mountinfo
}

do_mount() { # do_mount TARGET ARGS...: mount, and remember to unmount it
    local target=$1
    shift
    mkdir -p "$target"
    mount "$@" "$target" || return 1
    MOUNTS+=("$target")
}

unmount_all() {
    local i m
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        m=${MOUNTS[i]}
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
            say "cannot unmount $m" >&2
    done
    MOUNTS=()
    # Anything left (a mount made inside the root): lazily, deepest first.
    for m in $(mounts_below | sort -r); do
        umount -l "$m" 2>/dev/null
    done
}

# Runs on every exit: stop what runs in the root, unmount, remove the root.
cleanup() {
    trap '' INT TERM HUP
    [ -n "$ROOT" ] || return 0
    kill_root_procs
    unmount_all
    if [ -n "$(mounts_below)" ]; then
        say "something is still mounted below $ROOT; not removing it" >&2
        mounts_below >&2
    elif [ "$keep" = 1 ]; then
        say "the root is kept in $ROOT"
    else
        rm -rf --one-file-system "$ROOT"
    fi
    ROOT=""
}

# The last line: the checks that did not pass (or never ran) count as failed.
finish() {
    cleanup
    failed=$((CHECKS - passed))
    echo "${passed} passed, ${failed} failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}

on_signal() {
    say "interrupted" >&2
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
    cleanup
    echo "${passed} passed, $((CHECKS - passed)) failed"
    exit 130
}
trap 'on_signal' INT TERM HUP
trap 'cleanup' EXIT

# Run "$@" in the background and wait for it, so that a signal is handled
# at once rather than when a long command ends.  Returns its exit status.
run_waited() {
    local rc
    "$@" &
    child=$!
    wait "$child"
    rc=$?
    child=""
    return $rc
}

# ---- what the host needs ---------------------------------------------------------

[ "$(id -u)" = 0 ] || {
    echo "fresh-check: run me as root (debootstrap, mount and chroot)" >&2
    exit 2
}
cd "$(dirname "$0")/.." || exit 2
SRC=$(pwd)
commit=$(git rev-parse --verify -q "$rev^{commit}") ||
    die "$rev is not a commit of $SRC"

need=""
command -v debootstrap >/dev/null || need="$need debootstrap"
command -v unshare >/dev/null || need="$need util-linux"
command -v ip >/dev/null || need="$need iproute2"
if [ -n "$need" ]; then
    say "installing$need"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need; } ||
        die "cannot install$need"
fi

# The mirror: the first URI of a stanza (deb822 .sources) or line (.list)
# that carries the suite itself, as apt on this machine has it.
mirror_from_apt() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$SUITE" '
            /^[ \t]*$/ { if (u != "" && ok && deb) { print u; exit } u = ""; ok = 0; deb = 0; next }
            /^URIs:/   { u = $2 }
            /^Types:/  { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
            END        { if (u != "" && ok && deb) print u }' "$f" | head -n 1
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v s="$SUITE" '$1 == "deb" {
            i = 2; if ($2 ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++
            if ($2 ~ /^\[/) i++
            if ($(i + 1) == s) { print $i; exit } }'
}
MIRROR=${FRESH_MIRROR:-$(mirror_from_apt | head -n 1)}
[ -n "$MIRROR" ] || die "no Debian mirror for $SUITE in /etc/apt (set FRESH_MIRROR)"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$CACHE/apt-archives" || die "cannot create $CACHE"
# Two checks at once would only fight over both cores: one at a time.
exec 9>"$CACHE/lock"
if ! flock -n 9; then
    say "waiting for another fresh-check to finish"
    flock 9
fi

ROOT=$(mktemp -d "${TMPDIR:-/var/tmp}/loom-fresh.XXXXXX") || die "mktemp failed"
chmod 755 "$ROOT"
LOG=$CACHE/last.log # the whole output of the last run, kept
: >"$LOG"
say "root $ROOT, log $LOG, mirror $MIRROR, commit ${commit:0:12}"

# ---- 1. a fresh Debian 12 root (cached as a tarball) ----------------------------

tarball="$CACHE/$SUITE-minbase-$(printf '%s' "$MIRROR" | md5sum | cut -c1-8).tar"
t0=$(now)
if [ -f "$tarball" ] && [ -n "$(find "$tarball" -mtime -"$MAX_AGE")" ]; then
    run_waited tar -C "$ROOT" --numeric-owner -xpf "$tarball" ||
        die "cannot unpack $tarball"
    say "unpacked the cached root ($tarball) in $(($(now) - t0)) s"
else
    say "debootstrap --variant=minbase $SUITE from $MIRROR"
    kr=()
    [ -f "$KEYRING" ] && kr=(--keyring="$KEYRING")
    if ! run_waited debootstrap --variant=minbase "${kr[@]}" "$SUITE" "$ROOT" \
        "$MIRROR" >>"$LOG" 2>&1; then
        tail -n 20 "$LOG"
        die "debootstrap failed (log: $LOG)"
    fi
    say "debootstrap took $(($(now) - t0)) s"
    # Clean up what debootstrap leaves mounted, if anything, before the tar.
    unmount_all
    if tar -C "$ROOT" --numeric-owner -cpf "$tarball.new.$$" . &&
        mv -f "$tarball.new.$$" "$tarball"; then
        say "cached the root as $tarball"
    else
        rm -f "$tarball.new.$$"
        say "could not cache the root (going on without)"
    fi
fi

# apt sources as this machine has them (a fresh install from this mirror
# has the suite, its updates and security); DNS as on this machine.
if [ -z "${FRESH_MIRROR:-}" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$ROOT/etc/apt/sources.list.d/"
    rm -f "$ROOT/etc/apt/sources.list"
fi
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
if ! grep -qs localhost "$ROOT/etc/hosts"; then
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
        >"$ROOT/etc/hosts"
fi

# ---- 2. the committed tree --------------------------------------------------------

# (A commit no branch holds, e.g. a detached HEAD, is fetched by its id.)
g() { git -C "$ROOT$GUEST_TREE" "$@" >>"$LOG" 2>&1; }
if ! git clone -q --no-checkout "$SRC" "$ROOT$GUEST_TREE" >>"$LOG" 2>&1 ||
    ! { g cat-file -e "$commit^{commit}" || g fetch -q origin "$commit"; } ||
    ! g checkout -q --detach "$commit"; then
    die "cannot clone $SRC at $commit into the root"
fi

# The two commands, from the clone's README: the first two indented lines
# of its "## Quick start" section.
readme=$ROOT$GUEST_TREE/README.md
quick() {
    awk '/^## / { inq = ($0 == "## Quick start") ; next }
         inq && /^    [^ ]/ { sub(/^    /, ""); print }' "$readme" | sed -n "$1p"
}
run_cmd=$(quick 1)
test_cmd=$(quick 2)
case $run_cmd in *src/loomd*) ;; *) run_cmd="" ;; esac
case $test_cmd in *check*) ;; *) test_cmd="" ;; esac
if [ -z "$run_cmd" ] || [ -z "$test_cmd" ]; then
    die "README.md's Quick start no longer starts with the run command (src/loomd ...) and the test command (... check)"
fi
say "run command:  $run_cmd"
say "test command: $test_cmd"

if ! do_mount "$ROOT/proc" -t proc proc ||
    ! do_mount "$ROOT/sys" --bind /sys ||
    ! do_mount "$ROOT/dev" --bind /dev ||
    ! do_mount "$ROOT/dev/pts" --bind /dev/pts ||
    ! do_mount "$ROOT/var/cache/apt/archives" --bind "$CACHE/apt-archives"; then
    die "cannot mount inside $ROOT"
fi

# Run COMMAND (a bash command line) as root in the tree inside the root,
# with a fresh login's environment; output to the log (and the terminal
# with -v).  PREFIX... (e.g. unshare) goes before chroot.
guest() {
    local cmd=$1
    shift
    local -a run=("$@" timeout --kill-after=30 "${TIMEOUT_MIN}m"
        env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb
        "PATH=$GUEST_PATH" chroot "$ROOT" /bin/bash -c "cd $GUEST_TREE && $cmd")
    echo "### $cmd" >>"$LOG"
    if [ "$verbose" = 1 ]; then
        "${run[@]}" </dev/null 2>&1 | tee -a "$LOG"
    else
        "${run[@]}" </dev/null >>"$LOG" 2>&1
    fi
}

# ---- 3. the test command -----------------------------------------------------

t0=$(now)
say "running the test command (log: $LOG)"
run_waited guest "$test_cmd"
rc=$?
say "the test command took $(($(now) - t0)) s and exited $rc"
tlog=$ROOT$GUEST_TREE/test-suite.log
if [ -f "$tlog" ]; then
    count() {
        local n
        n=$(awk -v k="# $1:" 'index($0, k) == 1 {print $3; exit}' "$tlog")
        echo "${n:-0}"
    }
    say "suite: $(count PASS) passed, $(($(count FAIL) + $(count ERROR) + $(count XPASS))) failed, $(count SKIP) skipped"
fi
if [ "$rc" -eq 0 ]; then
    pass "the test command"
else
    fail "the test command exited $rc"
    if [ -f "$tlog" ]; then
        sed -n '/^FAIL\|^ERROR/,+40p' "$tlog" | head -n 200
    else
        tail -n 40 "$LOG"
    fi
fi

# A test skipped because a tool or library is not there is a missing
# install step, not an excuse: list every skip, fail on those.
skips=$(cd "$ROOT$GUEST_TREE" && find tests -name '*.log' -exec grep -h '^SKIP: ' {} + 2>/dev/null)
[ -n "$skips" ] && printf '%s\n' "$skips" | sed 's/^SKIP: /fresh-check: skipped: /'
if [ ! -f "$tlog" ]; then
    fail "no test ran, so no skips to judge"
elif printf '%s\n' "$skips" | grep -qi 'not installed\|Debian package'; then
    fail "tests were skipped for want of a package"
else
    pass "no test skipped for want of a package"
fi

# ---- 4. the run command ---------------------------------------------------------

# In a network namespace with only a loopback: the shipped config binds
# fixed ports, which something on this machine may hold.  stderr goes to a
# file of its own, to find the ready line (and its pid) in.
t0=$(now)
say "running the run command"
rlog=$ROOT.run.log
: >"$rlog"
echo "### $run_cmd" >>"$LOG"
unshare --net sh -c 'ip link set lo up && exec "$@"' sh \
    env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
    PATH=$GUEST_PATH chroot "$ROOT" /bin/bash -c "cd $GUEST_TREE && $run_cmd" \
    </dev/null >>"$rlog" 2>&1 &
child=$!
pid=""
deadline=$(($(now) + TIMEOUT_MIN * 60))
while kill -0 "$child" 2>/dev/null && [ "$(now)" -lt "$deadline" ]; do
    pid=$(sed -n 's/.*core: ready (.*pid \([0-9][0-9]*\).*/\1/p' "$rlog" | head -n 1)
    [ -n "$pid" ] && break
    sleep 0.5
done
if [ -n "$pid" ]; then
    pass "loomd is ready after $(($(now) - t0)) s: $(grep -m1 'core: ready (' "$rlog")"
    kill -TERM "$pid"
    for _ in $(seq 300); do
        kill -0 "$child" 2>/dev/null || break
        sleep 0.1
    done
    hung=0
    if kill -0 "$child" 2>/dev/null; then
        hung=1
        kill_root_procs
    fi
    wait "$child"
    rc=$?
    child=""
    if [ "$hung" = 1 ]; then
        fail "loomd was still running 30 s after SIGTERM"
        tail -n 20 "$rlog"
    elif [ "$rc" = 0 ]; then
        pass "loomd exited 0 on SIGTERM"
    else
        fail "loomd exited $rc on SIGTERM"
        tail -n 20 "$rlog"
    fi
else
    fail "the run command printed no ready line"
    kill_root_procs
    wait "$child" 2>/dev/null
    child=""
    tail -n 40 "$rlog"
fi
cat "$rlog" >>"$LOG"
rm -f "$rlog"

finish
