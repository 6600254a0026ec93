#!/bin/sh
# parapet@.service and `parapet run` under systemd's notify protocol,
# without systemd as PID 1: systemd-analyze verify passes, warning-free,
# on an instance of the unit naming the built binary (and fails on one
# naming a missing binary, so the check is real); `parapet run` with
# NOTIFY_SOCKET at a stand-in socket sends STATUS=booting, then READY=1
# with STATUS=running once the guest runs, every message from its own pid
# (NotifyAccess=main); SIGTERM brings STOPPING=1 and STATUS=powered off
# (exit status 143) and exit 143; a guest that ends at once is still
# reported ready before the end; a bad NOTIFY_SOCKET is ignored with a
# warning; parapet links no libsystemd.
. "$(dirname "$0")/lib_partition.sh"

LISTEN=$B/tests/parapet-notify-listen
UNIT_IN=host/parapet@.service.in
COUNTER=$B/guests/counter.igvm
HELLO_IGVM=$B/guests/hello.igvm
[ -x "$LISTEN" ] || fail "missing $LISTEN (make all)"
[ -f "$UNIT_IN" ] || fail "missing $UNIT_IN"
[ -f "$COUNTER" ] && [ -f "$HELLO_IGVM" ] || fail "missing guests (make all)"
for b in parapet-policy parapet-hostcomm parapet-vmworker parapet-diagd; do
	[ -x "$B/bin/$b" ] || skip "$b not built yet: no default partition"
done

LPID=""
sd_cleanup() {
	[ -z "$LPID" ] || kill -TERM "$LPID" 2>/dev/null
	cleanup
}
trap sd_cleanup EXIT

! ldd "$P" | grep -q libsystemd || fail "$P links libsystemd"

# The unit: an instance naming the built binary verifies without a word
if command -v systemd-analyze >/dev/null; then
	sed "s|@BINDIR@|$(pwd)/$B/bin|g" "$UNIT_IN" >"$T/parapet@sd1.service"
	(cd "$T" && systemd-analyze verify ./parapet@sd1.service) \
		>"$T/verify.out" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$T/verify.out")"
	[ ! -s "$T/verify.out" ] || fail "verify warns: $(cat "$T/verify.out")"
	sed "s|@BINDIR@|$T/nowhere|g" "$UNIT_IN" >"$T/parapet@sd2.service"
	(cd "$T" && systemd-analyze verify ./parapet@sd2.service) \
		>"$T/verify2.out" 2>&1 &&
		fail "systemd-analyze verify passes a missing binary"
	grep -q '^Type=notify$' "$T/parapet@sd1.service" || fail "Type=notify"
else
	echo "systemd-analyze missing: the unit is not verified"
fi

# READY=1 once the guest runs, after STATUS=booting, from parapet run
SOCK=$T/notify.sock
NOTES=$T/notify.out
"$LISTEN" "$SOCK" "$NOTES" 600 &
LPID=$!
wait_for "$SOCK" 100 || fail "notify listener did not bind"
export NOTIFY_SOCKET="$SOCK"
start sd1 --guest-cmdline delay_ms=50 "$COUNTER" >"$T/sd1.out"
unset NOTIFY_SOCKET
RUNPID=$(runpid sd1)
wait_grep '^READY=1$' "$NOTES" 1200 ||
	fail "no READY=1: $(cat "$NOTES")"
grep -q '^STATUS=running$' "$NOTES" || fail "no STATUS=running"
booting=$(grep -n '^STATUS=booting$' "$NOTES" | cut -d: -f1)
ready=$(grep -n '^READY=1$' "$NOTES" | cut -d: -f1)
[ -n "$booting" ] && [ "$booting" -lt "$ready" ] ||
	fail "STATUS=booting not before READY=1: $(cat "$NOTES")"
# the guest does run: its counter reaches the console
wait_lines "$T/sd1.out" 2 600 || fail "sd1: the guest printed nothing"
! tr '\0' '\n' <"/proc/$INIT/environ" | grep -q NOTIFY_SOCKET ||
	fail "the partition inherited NOTIFY_SOCKET"

# SIGTERM: STOPPING=1, powered off, exit 143
stop_run sd1
[ "$RC" -eq 143 ] || fail "sd1: exit $RC after SIGTERM, want 143"
wait_grep '^STATUS=powered off (exit status 143)$' "$NOTES" 100 ||
	fail "no powered-off status: $(cat "$NOTES")"
grep -q '^STOPPING=1$' "$NOTES" || fail "no STOPPING=1"
grep -q '^STATUS=powering off (SIGTERM)$' "$NOTES" ||
	fail "no powering-off status"
others=$(grep '^pid=' "$NOTES" | grep -v "^pid=$RUNPID\$")
[ -z "$others" ] || fail "messages not from parapet run ($RUNPID): $others"
assert_gone sd1 "$INIT"

# A guest that prints and powers off at once: READY=1 all the same,
# before the end (systemd fails a notify service that ends unready)
: >"$NOTES"
NOTIFY_SOCKET="$SOCK" "$P" run --name sd2 "$HELLO_IGVM" >"$T/sd2.out" \
	2>"$T/sd2.err" || fail "sd2: exit $?: $(cat "$T/sd2.err")"
wait_grep '^STATUS=powered off (exit status 0)$' "$NOTES" 100 ||
	fail "sd2: no powered-off status: $(cat "$NOTES")"
ready=$(grep -n '^READY=1$' "$NOTES" | cut -d: -f1)
off=$(grep -n '^STATUS=powered off' "$NOTES" | cut -d: -f1)
[ -n "$ready" ] && [ "$ready" -lt "$off" ] ||
	fail "sd2: READY=1 not before the end: $(cat "$NOTES")"

# A NOTIFY_SOCKET that is no socket path: ignored, said once, run goes on
NOTIFY_SOCKET=relative/path "$P" run --name sd3 "$HELLO_IGVM" \
	>"$T/sd3.out" 2>"$T/sd3.err"
rc=$?
[ "$rc" -eq 0 ] || fail "sd3: exit $rc with a bad NOTIFY_SOCKET"
grep -q "NOTIFY_SOCKET 'relative/path'" "$T/sd3.err" ||
	fail "sd3: no warning: $(cat "$T/sd3.err")"
echo "systemd: ok"
