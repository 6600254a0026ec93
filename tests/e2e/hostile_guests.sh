#!/bin/sh
# Hostile guests through `parapet run`, on emu and on kvm where present:
# evil's default mode exits 0 with every VTL2 read all ones and the
# measured secret never on stdout; mode=flood and mode=spin end at
# --timeout with 124 and the partition torn down; mode=ports and
# mode=unmapped exit 0 with no service restarted; a spinning guest is
# paused, resumed, serviced and powered off from the host; a flooding
# guest whose stdout nobody reads still obeys ctl, SIGTERM and --timeout.
. "$(dirname "$0")/lib_partition.sh"
EVIL=$B/guests/evil.pvh.elf
SECRET=PaRaPeTsEcReT42
[ -f "$EVIL" ] || fail "missing $EVIL (run make all)"
for b in parapet-policy parapet-hostcomm parapet-vmworker parapet-diagd; do
	[ -x "$B/bin/$b" ] || skip "$b not built yet: no default partition"
done
"$P" igvm build --guest "$EVIL" -o "$T/evil.igvm" \
	--config "secret=$SECRET" >/dev/null || fail "igvm build --config"
ACCELS=emu
[ -c /dev/kvm ] && [ -r /dev/kvm ] && ACCELS="emu kvm"

# no_restarts NAME: init logged no service death before the power-off.
no_restarts() {
	sed '/power-off\|powered off/,$d' "$T/$1.err" |
		grep -E 'restarting|killed by|exited [0-9]+: not' &&
		fail "$1: a service died: $(cat "$T/$1.err")"
	return 0
}

# evil NAME ACCEL CMDLINE [run options]: runs to its end, status in RC.
evil() {
	n=$1 a=$2 c=$3
	shift 3
	"$P" run --name "$n" --accel "$a" --timeout 120 --guest-cmdline "$c" \
		"$@" "$T/evil.igvm" >"$T/$n.out" 2>"$T/$n.err"
	RC=$?
}

# timed NAME ACCEL MODE TIMEOUT: flood or spin until --timeout: 124 and
# nothing of the partition left.
timed() {
	start "$1" --accel "$2" --timeout "$4" --guest-cmdline "mode=$3" \
		"$T/evil.igvm" >"$T/$1.out"
	wait_run "$1"
	[ "$RC" -eq 124 ] || fail "$1: mode=$3 exit $RC, want 124: $(tail "$T/$1.err")"
	assert_gone "$1" "$INIT"
	! grep -q "$SECRET" "$T/$1.out" || fail "$1: the secret reached stdout"
}

# spin_controlled NAME ACCEL: a guest that never exits is paused, resumed,
# serviced (saved and restored) and powered off from the host; diag's ps
# keeps answering (its time is reported, not asserted: a shared machine).
spin_controlled() {
	start "$1" --accel "$2" --timeout 60 --guest-cmdline mode=spin \
		"$T/evil.igvm" >"$T/$1.out"
	wait_grep '^evil: spinning' "$T/$1.out" || fail "$1: not spinning"
	for c in pause resume service; do
		"$P" ctl "$1" "$c" >"$T/$1.ctl" 2>&1 ||
			fail "$1: ctl $c on a spinning guest: $(cat "$T/$1.ctl")"
	done
	grep -q blackout "$T/$1.ctl" || fail "$1: service: $(cat "$T/$1.ctl")"
	t0=$(date +%s%N)
	"$B/bin/parapet-diag" --vm "$1" ps >/dev/null ||
		fail "$1: diag ps while spinning"
	echo "$2: diag ps answered in $((($(date +%s%N) - t0) / 1000000)) ms" \
		"while the guest spins"
	"$P" ctl "$1" poweroff >/dev/null 2>&1 || fail "$1: ctl poweroff"
	wait_run "$1"
	[ "$RC" -eq 0 ] || fail "$1: powered off spinning guest: exit $RC"
	assert_gone "$1" "$INIT"
}

# ends_within NAME SECONDS: parapet run NAME ends in time (else fail);
# its status in RC.
ends_within() {
	wait_exit "$(runpid "$1")" $(($2 * 10)) ||
		fail "$1: parapet run still running after $2 s"
	wait_run "$1"
}

# stalled NAME ACCEL: a flooding guest whose console nobody reads (stdout
# a full pipe): parapet run still answers ctl, obeys ctl poweroff, SIGTERM
# and --timeout, and the guest is held back meanwhile, not dropped. The
# stalled write holds none of nng's threads: the listeners keep
# answering their watchdog's probes (over 3 s of silence would have them
# listen anew).
stalled() {
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	sleep 600 <"$T/fifo" &
	reader=$!
	start "$1p" --accel "$2" --timeout 120 --guest-cmdline mode=flood \
		"$T/evil.igvm" >"$T/fifo"
	sleep 5 # the pipe fills in a moment; then the watchdog's rounds
	timeout 60 "$P" ctl "$1p" status >"$T/$1.st" 2>&1 ||
		fail "$1: ctl status with stdout stalled: $(cat "$T/$1.st")"
	! grep "listening anew" "$T/$1p.err" ||
		fail "$1: a listener of parapet run froze while stdout stalled"
	"$P" ctl "$1p" poweroff >/dev/null 2>&1 || fail "$1: ctl poweroff"
	ends_within "$1p" 60
	start "$1t" --accel "$2" --timeout 120 --guest-cmdline mode=flood \
		"$T/evil.igvm" >"$T/fifo"
	sleep 1
	kill -TERM "$(runpid "$1t")"
	ends_within "$1t" 60
	[ "$RC" -eq 143 ] || fail "$1: SIGTERM with stdout stalled: exit $RC"
	start "$1o" --accel "$2" --timeout 3 --guest-cmdline mode=flood \
		"$T/evil.igvm" >"$T/fifo"
	ends_within "$1o" 60
	[ "$RC" -eq 124 ] || fail "$1: --timeout with stdout stalled: exit $RC"
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
}

stalled "st" emu

for a in $ACCELS; do
	evil "d$a" "$a" ""
	[ "$RC" -eq 0 ] || fail "evil default on $a: exit $RC: $(tail "$T/d$a.err")"
	grep -q '^evil: vtl2: 32 of 32 reads all ones$' "$T/d$a.out" ||
		fail "evil on $a: VTL2 reads not all ones: $(grep vtl2 "$T/d$a.out" | tail -3)"
	grep -q '^evil: done$' "$T/d$a.out" || fail "evil on $a did not finish"
	! grep -q "$SECRET" "$T/d$a.out" || fail "evil on $a: secret on stdout"
	[ ! -e "$RUNBASE/d$a" ] || fail "d$a: run directory left behind"
	no_restarts "d$a"

	for m in ports unmapped; do
		evil "$m$a" "$a" "mode=$m"
		[ "$RC" -eq 0 ] || fail "mode=$m on $a: exit $RC: $(tail "$T/$m$a.err")"
		grep -q '^evil: done$' "$T/$m$a.out" || fail "mode=$m on $a: not done"
		no_restarts "$m$a"
		[ ! -e "$RUNBASE/$m$a" ] || fail "$m$a: run directory left behind"
	done
	grep -q '^evil: ports: 100000 accesses survived' "$T/ports$a.out" ||
		fail "mode=ports on $a: $(cat "$T/ports$a.out")"
	[ "$(grep -c '^evil: unmapped ' "$T/unmapped$a.out")" -eq 7 ] ||
		fail "mode=unmapped on $a: $(cat "$T/unmapped$a.out")"

	timed "f$a" "$a" flood 3
	[ "$(wc -l <"$T/f$a.out")" -gt 100 ] || fail "flood on $a: no output"
	timed "s$a" "$a" spin 2
	grep -q '^evil: spinning' "$T/s$a.out" || fail "spin on $a: no output"
	spin_controlled "c$a" "$a"
done
echo "hostile guests passed on: $ACCELS"
