#!/bin/sh
# Shared helpers of the partition e2e tests (sourced, not a test): builds
# the images a test needs in a temporary directory, starts `parapet run`
# in the background, and on exit (pass or fail) stops it and checks that
# no process, mount or run directory of the partition is left, and that no
# captured stderr holds a sanitizer report.
set -u
B=${BUILD:-build}
. "$(dirname "$0")/lib_e2e.sh"
P=$B/bin/parapet
SVC=$(pwd)/$B/tests/parapet-test-service
HELLO=$B/guests/hello.pvh.elf
T=$(mktemp -d /tmp/parapet-e2e.XXXXXX)
RUNBASE=/run/parapet
RUN_PIDS=""

fail() {
	echo "FAIL: $*"
	exit 1
}

skip() {
	echo "$*"
	exit 77
}

for f in "$P" "$SVC" "$HELLO"; do
	[ -x "$f" ] || [ -f "$f" ] || fail "missing $f (run make all)"
done
[ "$(id -u)" -eq 0 ] || skip "these tests create namespaces as root"
command -v dtc >/dev/null || skip "dtc (device-tree-compiler) missing"
command -v nsenter >/dev/null || skip "nsenter (util-linux) missing"

# san_reports: a sanitizer report (ASan, LeakSanitizer, UBSan) in any
# captured stderr fails the test, even where a restarted service let every
# check pass. Reports come at exit: called once the partitions are gone.
san_reports() {
	san_scan "$T" || SAN_FAILED=1
}

cleanup() {
	for p in $RUN_PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $RUN_PIDS; do
		wait_exit "$p" 100 || kill -KILL "$p" 2>/dev/null
	done
	SAN_FAILED=
	san_reports
	rm -rf "$T"
	[ -z "$SAN_FAILED" ] || exit 1
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# image NAME [igvm build options]: builds $T/NAME.igvm from hello.
image() {
	n=$1
	shift
	"$P" igvm build --guest "$HELLO" -o "$T/$n.igvm" "$@" >/dev/null ||
		fail "igvm build $*"
}

# manifest FILE LINE...: one service per argument.
manifest() {
	f=$1
	shift
	: >"$f"
	for l in "$@"; do
		echo "$l" >>"$f"
	done
}

# start NAME ARGS...: parapet run --name NAME ARGS in the background;
# stderr in $T/NAME.err; waits until init has started its services.
start() {
	name=$1
	shift
	"$P" run --name "$name" "$@" 2>"$T/$name.err" &
	pid=$!
	RUN_PIDS="$RUN_PIDS $pid"
	eval "RUNPID_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)=$pid"
	wait_for "$RUNBASE/$name/timeline.json" || {
		cat "$T/$name.err"
		fail "$name: partition did not come up"
	}
	INIT=$(cat "$RUNBASE/$name/init.pid")
}

# uid_base NAME: the first id of the partition's block of service uids
# (sandbox/sandbox.h): in init's environment; block 0 without it.
uid_base() {
	b=$(tr '\0' '\n' <"/proc/$(cat "$RUNBASE/$1/init.pid")/environ" |
		sed -n 's/^PARAPET_UID_BASE=//p')
	echo "${b:-61000}"
}

runpid() {
	eval "echo \$RUNPID_$(echo "$1" | tr -c 'a-zA-Z0-9\n' _)"
}

# ctl INITPID METHOD [ARG]: an InitControl call from inside the partition.
ctl() {
	nsenter -t "$1" -m -n -p "$SVC" --ctl "$2" ${3:+"$3"}
}

# stop_run NAME: SIGTERM to parapet run; its exit status in RC.
stop_run() {
	p=$(runpid "$1")
	kill -TERM "$p"
	wait "$p"
	RC=$?
}

# wait_run NAME: waits for parapet run to end; its exit status in RC.
wait_run() {
	wait "$(runpid "$1")"
	RC=$?
}

# assert_gone NAME INITPID: nothing of the partition is left.
assert_gone() {
	! kill -0 "$2" 2>/dev/null || fail "$1: init (pid $2) still running"
	[ ! -e "$RUNBASE/$1" ] || fail "$1: run directory left behind"
	! grep -q "parapet/$1" /proc/self/mountinfo ||
		fail "$1: a mount is left in the host's table"
	! pgrep -f -- "--record $T/" >/dev/null ||
		fail "$1: a test service is still running"
}
