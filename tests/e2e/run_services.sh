#!/bin/sh
# The services under init with the real vmworker while the counter guest
# runs: run-dir/timeline.json holds every boot stage; `parapet ctl`
# status/pause/resume/reset/poweroff with clear errors; kill -9 of policy
# and of hostcomm: each is restarted and the guest's output goes on, every
# number exactly once and in order.
. "$(dirname "$0")/lib_partition.sh"
G=$B/guests
[ -e "$G/counter.igvm" ] || fail "missing $G/counter.igvm (run make all)"
command -v jq >/dev/null || skip "jq missing (JSON checks; make deps)"

# svc_pid NAME: host pid of the partition's service NAME (child of init).
svc_pid() {
	for p in $(pgrep -P "$INIT"); do
		case $(readlink "/proc/$p/exe") in
		*/parapet-$1) echo "$p" ;;
		esac
	done
}

# list_state NAME STATE: parapet list shows NAME in STATE
list_state() {
	"$P" list --json | json_is ".[] | select(.name == \"$1\") | .state == \"$2\""
}

# lines FILE: complete lines so far.
lines() {
	wc -l <"$1"
}

# restarted NAME OLD: a process of service NAME runs, not pid OLD
restarted() {
	[ -n "$(svc_pid "$1")" ] && [ "$(svc_pid "$1")" != "$2" ]
}

# --- ctl and the timeline: a counter that runs until powered off
"$P" run --name ctl1 --guest-cmdline delay_ms=5 "$G/counter.igvm" \
	>"$T/ctl1.out" 2>"$T/ctl1.err" &
RUN_PIDS="$RUN_PIDS $!"
RUNPID_ctl1=$!
wait_grep '"first_console_byte"' "$RUNBASE/ctl1/timeline.json" || {
	cat "$T/ctl1.err"
	fail "ctl1: no first console byte in timeline.json"
}
INIT=$(cat "$RUNBASE/ctl1/init.pid")
for k in run_start shim_start shim_end init_start vmworker policy hostcomm \
	vm_created first_guest_instruction first_console_byte; do
	grep -q "\"$k\": [0-9]" "$RUNBASE/ctl1/timeline.json" ||
		fail "timeline.json lacks $k"
done

"$P" ctl ctl1 status >"$T/st" || fail "ctl status"
grep -q '^ctl1: running (vm running' "$T/st" || fail "status: $(cat "$T/st")"
"$P" ctl ctl1 pause >"$T/st" || fail "ctl pause"
grep -q '^ctl1: paused' "$T/st" || fail "pause: $(cat "$T/st")"
# list shows the VM's state as the partition reports it
wait_until 100 list_state ctl1 paused || fail "list, paused: $("$P" list)"
n=$(lines "$T/ctl1.out")
sleep 0.3
[ "$(lines "$T/ctl1.out")" -le $((n + 1)) ] || fail "guest ran while paused"
"$P" ctl ctl1 pause 2>"$T/e" && fail "pause while paused succeeded"
grep -q "command 'pause' not allowed in state paused" "$T/e" ||
	fail "pause twice: $(cat "$T/e")"
"$P" ctl ctl1 status --json >"$T/j" || fail "ctl status --json"
json_is '.reply.state == "paused"' "$T/j" ||
	fail "status --json: $(cat "$T/j")"
"$P" ctl ctl1 resume >/dev/null || fail "ctl resume"
wait_lines "$T/ctl1.out" "$n" || fail "guest did not resume"
wait_until 100 list_state ctl1 running || fail "list, resumed: $("$P" list)"
"$P" ctl nosuchvm status 2>"$T/e" && fail "ctl of an unknown VM succeeded"
grep -q "no running VM named 'nosuchvm'" "$T/e" || fail "unknown VM: $(cat "$T/e")"
"$P" ctl ctl1 frobnicate 2>/dev/null
[ $? -eq 2 ] || fail "unknown command: want exit 2"
"$P" ctl ctl1 reset >"$T/r" 2>"$T/e"
rc=$?
[ $rc -eq 0 ] || grep -q "ctl1: reset: " "$T/e" || fail "reset: no clear error"
"$P" ctl ctl1 poweroff >"$T/st" || fail "ctl poweroff"
wait_run ctl1
[ "$RC" -eq 0 ] || fail "ctl1: exit $RC after ctl poweroff"
assert_gone ctl1 "$INIT"
"$P" ctl ctl1 status 2>/dev/null && fail "status of a stopped VM succeeded"

# --- kill -9 of policy, then of hostcomm: nothing lost, nothing twice
"$P" run --name kill1 --guest-cmdline delay_ms=4 "$G/counter.igvm" \
	>"$T/kill1.out" 2>"$T/kill1.err" &
RUN_PIDS="$RUN_PIDS $!"
RUNPID_kill1=$!
wait_for "$RUNBASE/kill1/init.pid" || fail "kill1 did not start"
wait_lines "$T/kill1.out" 20 || fail "kill1: no output"
INIT=$(cat "$RUNBASE/kill1/init.pid")
for s in policy hostcomm; do
	old=$(svc_pid $s)
	[ -n "$old" ] || fail "no $s process"
	kill -KILL "$old"
	n=$(lines "$T/kill1.out")
	# generous bounds: a sanitizer build on a loaded host starts slowly
	wait_until 300 restarted "$s" "$old"
	[ -n "$(svc_pid $s)" ] || fail "$s was not restarted"
	wait_lines "$T/kill1.out" $((n + 20)) 300 ||
		fail "no output after $s was restarted"
done
"$P" ctl kill1 poweroff >/dev/null || fail "kill1: ctl poweroff"
wait_run kill1
[ "$RC" -eq 0 ] || {
	cat "$T/kill1.err"
	fail "kill1: exit $RC"
}
n=$(lines "$T/kill1.out")
head -n "$n" "$T/kill1.out" >"$T/kill1.lines"
seq 0 $((n - 1)) | cmp -s - "$T/kill1.lines" || {
	seq 0 $((n - 1)) | diff - "$T/kill1.lines" | head
	fail "console lost or repeated bytes across restarts"
}
grep -q 'policy: killed by signal 9' "$T/kill1.err" || fail "policy not killed"
assert_gone kill1 "$INIT"
echo "ok"
