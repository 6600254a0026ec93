#!/bin/sh
# Reset and on-crash=reboot (DESIGN.md §8): a guest that crashes is
# booted again from its image, at most 3 times a minute, then powered
# off; a vmworker killed without saving (kill -9) reboots the guest; the
# host's `parapet ctl NAME reset` boots it again (an smp guest with
# sidecar CPUs too). The console continues across every boot. On emu, and on kvm where it works. BUILD is the build
# directory; exit 77 skips.
set -u
build=${BUILD:-build}
. "$(dirname "$0")/lib_e2e.sh"
P=$build/bin/parapet
G=$build/guests
partition_script
command -v jq >/dev/null || { echo "jq missing (make deps)"; exit 77; }
for g in crash counter smp; do
	"$P" igvm build --guest "$G/$g.pvh.elf" \
		--paravisor-cmdline on-crash=reboot -o "$tmp/$g.igvm" ||
		{ echo "cannot build $g.igvm"; exit 1; }
done

# boots FILE: how many times the counter started (lines "0"); every boot's
# numbers run 0, 1, 2, ... without a gap (a last line cut short aside).
boots() {
	awk '$1 == "0" { n++; want = 1; next }
	     $1 != want { if (NR < last) bad = 1 } { want = $1 + 1 }
	     END { print n; exit bad }' last="$(wc -l <"$1")" "$1"
}

# booted FILE N: FILE shows N boots at least
booted() {
	[ "$(boots "$1")" -ge "$2" ] 2>/dev/null
}

# wait_boots FILE N WHAT: until FILE shows N boots (60 s at most: the
# bound only catches a hang), else fail WHAT
wait_boots() {
	wait_until 600 booted "$1" "$2" || { fail "$3"; return 1; }
}

# vm_running NAME: policy says the VM runs (ctl status --json)
vm_running() {
	"$P" ctl "$1" status --json 2>/dev/null |
		json_is '.reply.vm.state == "running"'
}

# wait_running NAME: until the VM runs (a reset before that is refused as
# unavailable; a loaded machine takes a while to boot), 60 s at most
wait_running() {
	wait_until 600 vm_running "$1"
}

usable_accels reboot

for a in $accels; do
	# A guest that always crashes: booted 4 times, then powered off.
	n=rbc$a$$
	timeout 60 "$P" run --name "$n" --accel "$a" "$tmp/crash.igvm" \
		>"$tmp/$n.out" 2>"$tmp/$n.err"
	rc=$?
	[ $rc -eq 123 ] || fail "$a: crashing guest: exit $rc, want 123"
	got=$(grep -c "triple fault now" "$tmp/$n.out")
	[ "$got" -eq 4 ] || fail "$a: crashing guest booted $got times, want 4"
	grep -q "3 reboots within 60 s; powering off" "$tmp/$n.err" ||
		fail "$a: no 'powering off' after 3 reboots"

	# kill -9 of vmworker, then the host's reset: three boots in all.
	n=rbk$a$$
	names="$names $n"
	: >"$tmp/$n.out"
	"$P" run --name "$n" --accel "$a" --timeout 60 \
		--guest-cmdline delay_ms=20 "$tmp/counter.igvm" \
		>"$tmp/$n.out" 2>"$tmp/$n.err" &
	wait_lines "$tmp/$n.out" 10
	# hostcomm held meanwhile: the new boot writes more than the host
	# has (its ack) before hostcomm takes its first byte, and the host
	# must still get all of it.
	hc=$(hostpid "$n" hostcomm)
	kill -STOP "$hc" 2>/dev/null || fail "$a: no hostcomm to hold"
	kill -9 "$(hostpid "$n" vmworker)" 2>/dev/null ||
		fail "$a: no vmworker to kill"
	sleep 1
	kill -CONT "$hc" 2>/dev/null
	wait_boots "$tmp/$n.out" 2 "$a: no reboot after kill -9"
	wait_running "$n"
	"$P" ctl "$n" reset >"$tmp/ctl.out" 2>&1 ||
		fail "$a: parapet ctl reset: $(cat "$tmp/ctl.out")"
	wait_boots "$tmp/$n.out" 3 "$a: no boot after ctl reset"
	sleep 0.3
	"$P" ctl "$n" poweroff >/dev/null 2>&1
	wait
	got=$(boots "$tmp/$n.out") || fail "$a: a boot's numbers have a gap"
	[ "$got" = 3 ] || fail "$a: counter booted $got times, want 3"
	grep -q "vmworker restarted without its VM state" "$tmp/$n.err" ||
		fail "$a: the killed vmworker was not reported as a crash"
	echo "$a: crash x4 then power-off; kill -9 and ctl reset: $got boots"

	# smp with sidecar CPUs, reset mid-run: the new boot starts its VPs
	# again (full VP threads from then on) and VP 1's loop finishes once.
	# (about a second of port writes: sidecar exits cost ~2.5 us on kvm
	# here, 25 ns on emu)
	n=rbs$a$$
	names="$names $n"
	loops=200000000 # long enough that the reset lands mid-run, even loaded
	[ "$a" = kvm ] && loops=2000000
	"$P" run --name "$n" --accel "$a" --cpus 3 --timeout 60 \
		--guest-cmdline pio=$loops "$tmp/smp.igvm" \
		>"$tmp/$n.out" 2>"$tmp/$n.err" &
	wait_running "$n"
	"$P" ctl "$n" reset >"$tmp/ctl.out" 2>&1 ||
		fail "$a: smp: ctl reset: $(cat "$tmp/ctl.out")"
	wait
	[ "$(grep -c "smp: vp1 pio $loops in" "$tmp/$n.out")" -eq 1 ] ||
		fail "$a: smp after reset: $(cat "$tmp/$n.out")"
done

san_scan "$tmp" || fails=$((fails + 1))

[ $fails -eq 0 ] && echo "reboot: all checks passed"
[ $fails -eq 0 ]
