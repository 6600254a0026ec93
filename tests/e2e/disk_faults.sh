#!/bin/sh
# parapet-blkd restarts losslessly (docs/disks.md, "A backend restarts"):
# the disk guest's torture mode runs while blkd is killed (SIGKILL) again
# and again, init restarting it each time, and restarted gracefully
# (parapet-diag restart blkd) in between. vmworker hands each new instance
# the running queue and the inflight region: the guest sees no error and
# no timeout, every request completes once (a second completion is a
# bogus used entry, exit 3), and every sector it wrote reads back right.
# No zombie is left and vmworker holds as many descriptors after the
# restarts as before. Prints the restart time vmworker measured per kill
# (its p50 and p99): how long the queue stood still.
. "$(dirname "$0")/lib_partition.sh"
G=$B/guests
DIAG=$B/bin/parapet-diag
for f in "$G/disk.igvm" "$DIAG"; do
	[ -e "$f" ] || fail "missing $f (run make all)"
done
usable_accels "disks"
KILLS=${DISK_FAULT_KILLS:-14}
RESTARTS=${DISK_FAULT_RESTARTS:-4}
SECONDS_RUN=${DISK_FAULT_SECONDS:-120}
TOTAL=$((KILLS + RESTARTS))
n=dfault

blkd_pid() { hostpid "$n" blkd 2>/dev/null; }
reqs() {
	"$DIAG" --vm "$n" disks --json 2>/dev/null | jq '.[0].requests // 0'
}
# serving: blkd is a new instance (not $old), up over a second (so that
# init restarts the next one without backoff), and has run requests
serving() {
	p=$(blkd_pid) || return 1
	[ "$p" != "$old" ] || return 1
	up=$(ps -o etimes= -p "$p" 2>/dev/null | tr -d ' ')
	[ "${up:-0}" -ge 2 ] && [ "$(reqs)" -gt 0 ]
}
guest_running() { kill -0 "$run" 2>/dev/null; }
# kill_busy PID: SIGKILL, preferably while a thread of PID is in a disk
# read or write (preadv, pwritev): a request taken and not completed, for
# the next instance to run again. PID is stopped to look (SIGSTOP), and
# continued when it is not there.
kill_busy() {
	k=0
	while [ "$k" -lt 1000 ]; do
		kill -STOP "$1"
		for f in /proc/"$1"/task/*/syscall; do
			read -r sc _ <"$f" 2>/dev/null || continue
			case $sc in
			295 | 296)
				kill -KILL "$1"
				return
				;;
			esac
		done
		kill -CONT "$1"
		k=$((k + 1))
	done
	kill -KILL "$1"
}

rm -f "$T/f.img"
truncate -s 8M "$T/f.img"
"$P" run --name "$n" --disk "$T/f.img" \
	--guest-cmdline "mode=torture seconds=$SECONDS_RUN sectors=8192" \
	"$G/disk.igvm" >"$T/$n.out" 2>"$T/$n.err" </dev/null &
run=$!
RUN_PIDS="$RUN_PIDS $run"
wait_grep "torture: " "$T/$n.out" || {
	cat "$T/$n.err"
	fail "no torture"
}
INIT=$(cat "$RUNBASE/$n/init.pid")
old=
wait_until 300 serving || fail "blkd does not serve the disk"
vmw=$(hostpid "$n" vmworker) || fail "no vmworker"
fds_before=$(ls "/proc/$vmw/fd" | wc -l)

i=0
while [ "$i" -lt "$TOTAL" ]; do
	guest_running ||
		fail "the guest ended after $i of $TOTAL restarts (raise DISK_FAULT_SECONDS)"
	old=$(blkd_pid) || fail "no blkd"
	i=$((i + 1))
	if [ $((i % 4)) -eq 0 ] && [ "$RESTARTS" -gt 0 ]; then
		RESTARTS=$((RESTARTS - 1))
		"$DIAG" --vm "$n" restart blkd >"$T/restart.out" 2>&1 || {
			cat "$T/restart.out"
			fail "parapet-diag restart blkd"
		}
	else
		kill_busy "$old"
	fi
	wait_until 600 serving || {
		tail -n 20 "$T/$n.out"
		fail "blkd does not serve again after restart $i"
	}
done
[ "$(ps -o stat= --ppid "$INIT" | grep -c Z)" -eq 0 ] ||
	fail "a zombie under init"
[ "$(hostpid "$n" vmworker 2>/dev/null)" = "$vmw" ] ||
	fail "vmworker restarted"
fds_after=$(ls "/proc/$vmw/fd" | wc -l)
[ "$fds_after" -eq "$fds_before" ] ||
	fail "vmworker held $fds_before descriptors, now $fds_after"
"$DIAG" --vm "$n" logs vmworker >"$T/vmw.log" 2>&1
"$DIAG" --vm "$n" logs blkd >"$T/blkd.log" 2>&1
# what each new instance ran again (its log: "N requests taken before...")
resubmitted=$(sed -n 's/.*: \([0-9]*\) requests* taken before the restart.*/\1/p' \
	"$T/blkd.log" | awk '{ s += $1 } END { print s + 0 }')
"$DIAG" --vm "$n" disks --json >"$T/disks.json" 2>&1

wait "$run"
rc=$?
RUN_PIDS=
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$T/$n.out" "$T/$n.err"
	fail "the guest exited $rc"
fi
grep -q "torture: verified [0-9]* sectors, 0 bad" "$T/$n.out" || {
	tail -n 30 "$T/$n.out"
	fail "torture did not verify"
}
grep "torture: verified" "$T/$n.out"
# kill_busy caught blkd in a request at least once: the inflight region
# carried it to the next instance
[ "$resubmitted" -gt 0 ] || {
	cat "$T/blkd.log"
	fail "no request was run again by a new blkd"
}
restarted=$(grep -c "queue restarted in the new backend" "$T/vmw.log")
[ "$restarted" -ge "$i" ] || {
	cat "$T/vmw.log"
	fail "vmworker restarted the queue $restarted times, want $i"
}
# the queue's stall per restart, from vmworker's own clock
sed -n 's/.*queue restarted in the new backend after \([0-9]*\) us.*/\1/p' \
	"$T/vmw.log" | sort -n >"$T/stall.txt"
cnt=$(wc -l <"$T/stall.txt")
p50=$(sed -n "$(((cnt + 1) / 2))p" "$T/stall.txt")
p99=$(sed -n "$(((cnt * 99 + 99) / 100))p" "$T/stall.txt")
echo "disk_faults: $i restarts ($KILLS kill -9), $resubmitted requests run again;" \
	"queue stalled p50 $((p50 / 1000)) ms, p99 $((p99 / 1000)) ms," \
	"max $(($(tail -n 1 "$T/stall.txt") / 1000)) ms"
echo "disk_faults: all passed"
