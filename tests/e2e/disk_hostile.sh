#!/bin/sh
# Hostile drivers against a disk (guests/evildisk.c), each step in its own
# partition on emu (and kvm where usable): descriptor loops, over-long
# chains, buffers past RAM and in the VTL2 hole, bad queue sizes, misaligned
# rings, queue registers changed while running, a reset under requests, a
# notify storm, a used ring over the descriptors, a broken available index
# or head, malformed chains. The guest checks that each failed cleanly and that
# disk 1 still works; here blkd's counters for disk 0 must match what the
# guest sent (parapet-diag disks), disk 1 must show no error, vmworker's
# view must show the step (inspect vmworker.vm.disks), and no service may
# restart (parapet-diag ps, init's log).
. "$(dirname "$0")/lib_partition.sh"
G=$B/guests
DIAG=$B/bin/parapet-diag
for f in "$G/evildisk.igvm" "$DIAG"; do
	[ -e "$f" ] || fail "missing $f (run make all)"
done
command -v jq >/dev/null || skip "jq missing"
usable_accels "hostile disks"
STEPS="loop long pastram hole qsize unaligned requeue reset storm usedover
availidx badhead chains"
failures=0

bad() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# disk_is NAME INDEX FILTER: parapet-diag disks of disk INDEX passes the
# jq FILTER.
disk_is() {
	jq -e ".[] | select(.index == $2) | $3" "$T/$1.disks" >/dev/null
}

# inspect_is NAME FILTER: vmworker's disk 0 passes FILTER.
inspect_is() {
	jq -e ".[0] | $2" "$T/$1.inspect" >/dev/null
}

# check_counters NAME: blkd counted for disk 0 what the guest says it
# sent; disk 1 was used without an error.
check_counters() {
	line=$(grep '^evildisk: expect ' "$T/$1.out")
	r=$(echo "$line" | sed -n 's/.*refused=\([0-9]*\).*/\1/p')
	e=$(echo "$line" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
	x=$(echo "$line" | sed -n 's/.*exact=\([0-9]*\).*/\1/p')
	[ -n "$r" ] && [ -n "$e" ] || { bad "$1: no expectation line"; return; }
	if [ "$x" = 1 ]; then
		disk_is "$1" 0 ".refused == $r and .errors == $e and
			.requests >= $r" ||
			bad "$1: disk 0 counters, want refused $r errors $e: $(
				jq -c '.[0]' "$T/$1.disks")"
	fi
	disk_is "$1" 1 '.errors == 0 and .refused == 0 and .requests >= 2 and
		.bytes_written >= 4096' ||
		bad "$1: disk 1 counters: $(jq -c '.[1]' "$T/$1.disks")"
}

# check_step NAME STEP: what vmworker shows for the step: each refused
# queue counted, the last one's reason; notifies to a stopped queue.
check_step() {
	case $2 in
	storm) want='.notifies_idle >= 1000000' ;;
	qsize) want='.driver_errors == 5 and (.error | test("num 255"))' ;;
	unaligned) want='.driver_errors == 3 and (.error | test("ready queue"))' ;;
	hole) want='.driver_errors == 2 and (.error | test("outside guest RAM"))' ;;
	requeue) want='.driver_errors == 0 and .notifies_dropped == 2' ;;
	*) want='.driver_errors == 0' ;;
	esac
	inspect_is "$1" "$want" ||
		bad "$1: vmworker's view, want $want: $(jq -c '.[0]' "$T/$1.inspect")"
}

# no_restarts NAME: every service ran once (ps), none died (init's log).
no_restarts() {
	awk 'NR > 1 && ($3 != "running" || $5 != 0) { bad = 1 }
		END { exit bad }' "$T/$1.ps" ||
		bad "$1: a service restarted or stopped: $(cat "$T/$1.ps")"
	! grep -E -q 'restarting|killed by|exited [0-9]+: not' "$T/$1.err" ||
		bad "$1: a service died: $(grep -E 'restarting|killed by' "$T/$1.err")"
}

# step ACCEL STEP: one step held in its partition while it is inspected.
step() {
	n=evd-$1-$2
	"$P" run --name "$n" --accel "$1" --timeout 300 \
		--disk "$T/d0.img" --disk "$T/d1.img" \
		--guest-cmdline "mode=$2 hold=1" "$G/evildisk.igvm" \
		>"$T/$n.out" 2>"$T/$n.err" </dev/null &
	pid=$!
	RUN_PIDS="$RUN_PIDS $pid"
	if ! wait_grep '^evildisk: held' "$T/$n.out" 1200; then
		tail -n 20 "$T/$n.out" "$T/$n.err"
		bad "$n: the guest never finished its step"
	fi
	grep -q "^evildisk: $2: ok (disk1 ok)" "$T/$n.out" &&
		grep -q '^evildisk: exit 0' "$T/$n.out" || {
		cat "$T/$n.out"
		bad "$n: the guest saw a failure"
	}
	"$DIAG" --vm "$n" disks --json >"$T/$n.disks" 2>&1 ||
		bad "$n: parapet-diag disks: $(cat "$T/$n.disks")"
	"$DIAG" --vm "$n" inspect vmworker.vm.disks --json \
		>"$T/$n.inspect" 2>&1 || bad "$n: inspect: $(cat "$T/$n.inspect")"
	"$DIAG" --vm "$n" ps >"$T/$n.ps" 2>&1 || bad "$n: ps failed"
	check_counters "$n"
	check_step "$n" "$2"
	no_restarts "$n"
	"$P" ctl "$n" poweroff >/dev/null 2>&1
	wait_exit "$pid" 600 || bad "$n: parapet run did not end"
	[ ! -e "$RUNBASE/$n" ] || bad "$n: run directory left behind"
}

truncate -s 4M "$T/d0.img"
truncate -s 4M "$T/d1.img"
for a in $accels; do
	for s in $STEPS; do
		step "$a" "$s"
	done
done
# everything in one guest: the steps do not spoil each other
n=evd-all
"$P" run --name "$n" --timeout 300 --disk "$T/d0.img" --disk "$T/d1.img" \
	--guest-cmdline "mode=all n=100000" "$G/evildisk.igvm" \
	>"$T/$n.out" 2>"$T/$n.err" </dev/null
rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 "$T/$n.out" "$T/$n.err"; bad "$n: exit $rc"; }
[ "$(grep -c ': ok (disk1 ok)$' "$T/$n.out")" -eq 13 ] ||
	bad "$n: not every step passed: $(cat "$T/$n.out")"

[ "$failures" -eq 0 ] || fail "$failures failures"
echo "disk_hostile: all passed"
