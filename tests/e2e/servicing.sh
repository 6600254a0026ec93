#!/bin/sh
# Servicing and service restarts under a running guest (DESIGN.md §8):
# vmworker restarted 20 times with its state saved (counter guest, every
# number once and in order; smp with sidecar CPUs keeps going), then
# policy, hostcomm and diagd restarted 20 times each with no gap and no
# repeat. BUILD is the build directory; exit 77 skips.
set -u
build=${BUILD:-build}
. "$(dirname "$0")/lib_e2e.sh"
P=$build/bin/parapet
D=$build/bin/parapet-diag
G=$build/guests
partition_script
command -v jq >/dev/null || { echo "jq missing (make deps)"; exit 77; }
for f in "$P" "$D" "$G/counter.igvm" "$G/smp.igvm"; do
	[ -e "$f" ] || { echo "missing $f"; exit 1; }
done

# diag_up NAME: diagd of NAME answers
diag_up() {
	"$D" --vm "$1" ps >/dev/null 2>&1
}

# boot NAME ARGS...: parapet run in the background, stdout to $tmp/NAME.out
boot() {
	n=$1
	shift
	names="$names $n"
	"$P" run --name "$n" "$@" >"$tmp/$n.out" 2>"$tmp/$n.err" &
	wait_until 600 diag_up "$n" || { fail "$n did not come up"; return 1; }
	# the guest prints before anything is restarted
	[ -n "${QUIET_GUEST:-}" ] && return 0
	wait_until 600 test -s "$tmp/$n.out" ||
		{ fail "$n printed nothing"; return 1; }
}

# restart NAME SVC COUNT: restarts through parapet-diag; every one must
# work. $restarted counts the ones that did.
restart() {
	k=0
	restarted=0
	while [ $k -lt "$3" ]; do
		if timeout 30 "$D" --vm "$1" restart "$2" >/dev/null \
			2>>"$tmp/$1.diag"; then
			restarted=$((restarted + 1))
		else
			fail "$1: restart $2 #$k failed: $(tail -n 1 "$tmp/$1.diag")"
			return 1
		fi
		sleep 0.05
		k=$((k + 1))
	done
}

# exact NAME: the counter's lines are 0, 1, 2, ... with nothing lost (a
# last line cut short by the power-off does not count).
exact() {
	counter_exact "$tmp/$1.out" ||
		fail "$1: console numbers not exactly once in order"
	[ "$(wc -l <"$tmp/$1.out")" -gt 20 ] || fail "$1: too few lines"
}

# gaps_match NAME: the guest's own clock (stamp=1: "N T", T in µs) shows
# each servicing pause. Pairing the largest gaps between lines with the
# largest measured blackouts, every gap covers its blackout: the guest saw
# at least the pause that was measured.
gaps_match() {
	grep -o "restored: blackout [0-9.]*" "$tmp/$1.err" | cut -d' ' -f3 |
		sort -rn >"$tmp/blackouts"
	k=$(wc -l <"$tmp/blackouts")
	[ "$k" -gt 0 ] || { fail "$1: no blackout logged"; return; }
	awk 'NF == 2 && prev != "" { d = $2 - prev; if (d < 0) d += 4294967296;
	       printf "%.3f\n", d / 1000 } NF == 2 { prev = $2 }' \
		"$tmp/$1.out" | sort -rn | head -n "$k" >"$tmp/gaps"
	paste "$tmp/gaps" "$tmp/blackouts" | awk -v name="$1" '
		$1 < $2 - 1 { printf "%s: guest gap %s ms < blackout %s ms\n",
			name, $1, $2; bad = 1 }
		END { exit bad }' ||
		fail "$1: a servicing pause the guest did not see"
	med=$(paste "$tmp/gaps" "$tmp/blackouts" | awk '{ print $1 - $2 }' |
		sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	# Above the blackout: the counter's delay, and console back-pressure
	# while hostcomm catches up (large on a loaded machine): reported.
	echo "$1: guest clock gaps vs blackouts: median excess $med ms"
}

stop() {
	"$P" ctl "$1" poweroff >/dev/null 2>&1
	wait 2>/dev/null
}

# host_service NAME: servicing from the host, with and without an updated
# binary; a binary init cannot run is refused before the guest pauses.
host_service() {
	"$P" ctl "$1" service >"$tmp/ctl.out" 2>&1 &&
		grep -q blackout "$tmp/ctl.out" ||
		fail "$1: parapet ctl service: $(cat "$tmp/ctl.out")"
	cp "$build/bin/parapet-vmworker" "$tmp/vmw-update"
	"$P" ctl "$1" service --binary "$tmp/vmw-update" >"$tmp/ctl.out" 2>&1 ||
		fail "$1: ctl service --binary: $(cat "$tmp/ctl.out")"
	found=0
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/exe" 2>/dev/null)" = "$tmp/vmw-update" ] &&
			found=1
	done
	[ $found -eq 1 ] || fail "$1: the updated vmworker binary is not running"
	echo "not a program" >"$tmp/not-exec"
	chmod 0644 "$tmp/not-exec"
	if "$P" ctl "$1" service --binary "$tmp/not-exec" >"$tmp/ctl.out" 2>&1 ||
		! grep -q "not an executable file" "$tmp/ctl.out"; then
		fail "$1: a bad --binary was not refused: $(cat "$tmp/ctl.out")"
	fi
	# init runs only a root-owned file nobody else may write
	cp "$build/bin/parapet-vmworker" "$tmp/vmw-nobody"
	chown 65534 "$tmp/vmw-nobody"
	if "$P" ctl "$1" service --binary "$tmp/vmw-nobody" >"$tmp/ctl.out" 2>&1 ||
		! grep -q "not owned by root" "$tmp/ctl.out"; then
		fail "$1: a binary owned by another user ran: $(cat "$tmp/ctl.out")"
	fi
	# A binary that runs but dies before it is ready: init brings the
	# previous one back with the saved state; the answer is an error.
	cp /bin/false "$tmp/vmw-broken"
	if "$P" ctl "$1" service --binary "$tmp/vmw-broken" >"$tmp/ctl.out" 2>&1 ||
		! grep -q "update failed" "$tmp/ctl.out"; then
		fail "$1: a failing update was not reported: $(cat "$tmp/ctl.out")"
	fi
	before=$(wc -l <"$tmp/$1.out")
	sleep 0.3
	[ "$(wc -l <"$tmp/$1.out")" -gt "$before" ] ||
		fail "$1: the guest stopped after a refused or failed --binary"
	"$P" ctl "$1" service >"$tmp/ctl.out" 2>&1 ||
		fail "$1: servicing after a failed update: $(cat "$tmp/ctl.out")"
}

usable_accels servicing

for a in $accels; do
	n=svc$a$$
	boot "$n" --accel "$a" --timeout 600 \
		--guest-cmdline "delay_ms=2 stamp=1" "$G/counter.igvm" || continue
	t0=$(date +%s%N)
	restart "$n" vmworker 20
	# the VM's uptime goes on across servicing: at least the time from
	# before the first one to the status call (not since the last
	# vmworker started)
	since=$(($(date +%s%N) - t0))
	up=$("$P" ctl "$n" status --json | jq -r '.reply.vm.uptime_ns')
	[ "${up:-0}" -ge "$since" ] ||
		fail "$n: VM uptime ${up:-?} ns after servicing, less than the $since ns since before it"
	# Each servicing of the same binary took over a standby that loaded
	# while the guest ran (init/standby.c); none was left behind.
	sb=$(grep -c "vmworker: started (pid [0-9]*) from its standby" \
		"$tmp/$n.err")
	[ "$sb" -eq 20 ] ||
		fail "$n: $sb of 20 servicings took over a standby"
	# ... handed the saved state as soon as the running one was told to
	# stop, before that one exited (it resumes the guest meanwhile): for
	# each, init's log has state (S), hand-over (H), exit (X) in order.
	order=$(sed -n -e 's/^parapet-init: vmworker: holds a saved state.*/S/p' \
		-e 's/^parapet-init: vmworker: standby (pid [0-9]*) given the saved state$/H/p' \
		-e 's/^parapet-init: vmworker: exited 0; restarting as requested$/X/p' \
		"$tmp/$n.err" | tr -d '\n')
	[ "$order" = "$(printf 'SHX%.0s' $(seq 20))" ] ||
		fail "$n: hand-overs out of order (S state, H hand-over, X exit): $order"
	ip=$(cat "/run/parapet/$n/init.pid")
	c=0
	for q in $(cat "/proc/$ip/task/$ip/children"); do
		[ "$(tr '\0' '\n' <"/proc/$q/cmdline" | head -n 1)" = vmworker ] &&
			c=$((c + 1))
	done
	[ "$c" -eq 1 ] || fail "$n: $c vmworker processes after servicing"
	[ "$a" = emu ] && host_service "$n"
	sleep 0.3
	got=$("$D" --vm "$n" ps --json |
		jq '.[] | select(.name == "vmworker") | .restarts')
	[ "$got" -ge "$restarted" ] ||
		fail "$n: vmworker restarted $got times, want $restarted"
	tl=$(jq '.servicing // [] | length' "/run/parapet/$n/timeline.json")
	[ "$tl" -ge "$restarted" ] ||
		fail "$n: $tl servicings in timeline.json, want $restarted"
	stop "$n"
	exact "$n"
	grep -q "guest crashed" "$tmp/$n.err" && fail "$n: a crash was reported"
	# Every instance init saw ready logged its own ready line: init read
	# each new instance's log pipe (none closed as the old one's EOF).
	i=$(grep -c "^parapet-init: vmworker: ready (pid" "$tmp/$n.err")
	v=$(grep -c "^vmworker: ready: " "$tmp/$n.err")
	[ "$i" -eq "$v" ] ||
		fail "$n: $i vmworker instances ready, $v ready lines logged"
	echo "$a: 20 restarts; blackouts (ms):" \
		$(grep -o "restored: blackout [0-9.]*" "$tmp/$n.err" | cut -d' ' -f3)
	gaps_match "$n"
done

# smp with VPs 1-2 as sidecar CPUs, VP 1 looping on port writes: the
# restarted vmworker carries the sidecar state and the loop finishes.
n=smp$$
QUIET_GUEST=1 boot "$n" --accel emu --cpus 3 --sidecar-cpus 1-2 \
	--timeout 90 --guest-cmdline pio=300000000 \
	"$G/smp.igvm"
sleep 0.5
restart "$n" vmworker 2
# a serviced vmworker did not see the guest's first mark: no stamp of it
# (this quiet guest prints nothing, so no estimate either)
"$D" --vm "$n" timeline >"$tmp/tl" || fail "$n: timeline"
grep -q 'first_guest_instruction$' "$tmp/tl" &&
	fail "$n: timeline after servicing: $(cat "$tmp/tl")"
wait_grep "smp: vp1 pio" "$tmp/$n.out"
grep -q "smp: vp1 pio 300000000 in" "$tmp/$n.out" ||
	fail "smp: VP 1's loop did not finish across servicing"
stop "$n"

# The other services: restarts never pause the guest or lose a byte.
n=svcs$$
boot "$n" --accel emu --timeout 300 --guest-cmdline delay_ms=2 \
	"$G/counter.igvm" && {
	tl="/run/parapet/$n/timeline.json"
	before=$(jq -cS '.service_ready' "$tl")
	for s in policy hostcomm diagd; do
		restart "$n" "$s" 20
	done
	# restarts keep the boot stamps and are listed apart
	[ "$(jq -cS '.service_ready' "$tl")" = "$before" ] ||
		fail "$n: restarts changed the boot stamps: $before -> $(jq -cS '.service_ready' "$tl")"
	k=$(jq '[.restarts[] | select(.service == "hostcomm")] | length' "$tl")
	[ "$k" -eq 20 ] || fail "$n: $k hostcomm restarts in timeline.json, want 20"
	"$D" --vm "$n" timeline >"$tmp/tl" || fail "$n: timeline"
	# vmworker (not restarted) saw the guest's first mark: a stamp,
	# not the file's estimate
	grep -q 'restart\.[0-9]*\.hostcomm' "$tmp/tl" &&
		grep -q 'ms  first_guest_instruction$' "$tmp/tl" ||
		fail "$n: timeline text: $(cat "$tmp/tl")"
	sleep 0.3
	stop "$n"
	exact "$n"
}

san_scan "$tmp" || fails=$((fails + 1))

[ $fails -eq 0 ] && echo "servicing: all checks passed"
[ $fails -eq 0 ]
