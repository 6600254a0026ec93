#!/bin/sh
# Trust between services (DESIGN.md §7a, sandbox/README.md) on a running
# partition: every method of init, policy, hostcomm and vmworker answers
# exactly the callers its table names (the caller matrix comes from the
# endpoints' own Stats, so a new method is covered without editing this
# test), each refusal counted; the attacks a compromised service would try
# first are refused; the trace taps and the trace flag are diagd's alone;
# the guest runs on through all of it and its console stays whole.
. "$(dirname "$0")/lib_partition.sh"

PROBE=$(pwd)/$B/tests/parapet-ipc-probe
D=$(pwd)/$B/bin/parapet-diag
COUNTER=$B/guests/counter.igvm
[ -x "$PROBE" ] && [ -x "$D" ] && [ -f "$COUNTER" ] || fail "missing binaries (make all)"
command -v python3 >/dev/null || skip "python3 missing (JSON checks)"
command -v jq >/dev/null || skip "jq missing (JSON checks; make deps)"

start tr --accel emu --guest-cmdline delay_ms=20 "$COUNTER" >"$T/tr.out"
wait_for "$RUNBASE/tr/diag/diag.sock" || fail "no diag.sock"
IPC=/run/parapet/ipc

# inside COMMAND...: in the partition's mount, net and pid namespaces
inside() {
	nsenter -t "$INIT" -m -n -p "$@"
}

# the caller matrix: every service's endpoint, as every service and root
for ep in init policy hostcomm vmworker; do
	for who in policy hostcomm vmworker diagd root; do
		inside "$PROBE" --as "$who" "$IPC/$ep/$ep.sock" >>"$T/matrix" 2>&1 ||
			fail "$ep as $who: $(tail -n 20 "$T/matrix")"
	done
done
grep -q 'table allows, answer' "$T/matrix" || fail "no allowed call probed"
# the rows an attacker tries first (all follow from the tables)
for row in 'hostcomm init Restart: table refuses' \
	'vmworker init Restart: table refuses' \
	'hostcomm vmworker Reset: table refuses' \
	'hostcomm vmworker Save: table refuses' \
	'hostcomm policy VmEvent: table refuses' \
	'diagd init Poweroff: table refuses' \
	'hostcomm init Logs: table refuses' \
	'policy vmworker ConsoleInput: table refuses' \
	'root init Ps: table refuses'; do
	grep -q "^$row, answer refused" "$T/matrix" ||
		fail "not refused: $row: $(cat "$T/matrix")"
done
# every refusal is counted in the callee's Stats
"$D" --vm tr inspect --json >"$T/inspect" || fail "inspect"
python3 - "$T/inspect" <<'PY' || fail "refusals not counted: $(head -c 600 "$T/inspect")"
import json, sys
doc = json.load(open(sys.argv[1]))
def denied(node):
    if isinstance(node, dict):
        if "err_denied" in node and node.get("service") == "vmworker":
            return int(node["err_denied"])
        for v in node.values():
            d = denied(v)
            if d is not None:
                return d
    if isinstance(node, list):
        for v in node:
            d = denied(v)
            if d is not None:
                return d
    return None
sys.exit(0 if (denied(doc) or 0) > 0 else 1)
PY

# the trace taps carry the console: only diagd may subscribe; only diagd
# switches tracing on
for svc in policy hostcomm vmworker; do
	sock=$IPC/$svc/$svc.trace.sock
	for who in policy hostcomm vmworker; do
		[ "$who" = "$svc" ] && continue
		inside "$PROBE" --as "$who" --connect "$sock" >>"$T/access"
		[ $? = 3 ] || fail "$who reached $sock: $(cat "$T/access")"
	done
	inside "$PROBE" --as diagd --connect "$sock" >>"$T/access" ||
		fail "diagd cannot reach $sock: $(cat "$T/access")"
done
for who in policy hostcomm vmworker; do
	inside "$PROBE" --as "$who" --write "$IPC/trace.flag" >>"$T/access"
	[ $? = 3 ] || fail "$who may switch tracing: $(cat "$T/access")"
done
inside "$PROBE" --as diagd --write "$IPC/trace.flag" >>"$T/access" ||
	fail "diagd cannot switch tracing: $(cat "$T/access")"

# the logs are for the owner and diagd: no other service reads them
for who in policy hostcomm vmworker; do
	inside "$PROBE" --as "$who" --read /run/parapet/host/logs/policy.log \
		>>"$T/access" 2>&1
	[ $? = 3 ] || fail "$who read policy's log: $(cat "$T/access")"
done
inside "$PROBE" --as diagd --read /run/parapet/host/logs/policy.log \
	>>"$T/access" || fail "diagd cannot read the logs: $(cat "$T/access")"

# no peer can stop a listener: 20 connections dropped before the SP
# handshake on each (nng 1.5.2 stops taking pipes after one), then each
# serves again (the watchdog listens anew within a few seconds; the calls
# below wait for it within their own timeouts)
for round in 1 2 3; do # the freeze is a race: give it a few chances
	for ep in init policy hostcomm vmworker; do
		inside "$PROBE" --drop "$IPC/$ep/$ep.sock" ||
			fail "drop on $ep.sock"
	done
	for f in diag/diag.sock ctl.sock host.sock; do
		"$PROBE" --drop "$RUNBASE/tr/$f" || fail "drop on $f"
	done
	sleep 1
done
# the watchdog acts within about 4 s (1 s rounds, 3 s probe deadline);
# a client that connected to a frozen listener before that stays caught
# in it, so the checks start after (nng 1.5.2 without the watchdog never
# serves them)
sleep 5
lines=$(wc -l <"$T/tr.out")
for ep in init policy hostcomm vmworker; do
	inside "$PROBE" --as diagd "$IPC/$ep/$ep.sock" >"$T/served" 2>&1 ||
		fail "$ep.sock does not serve after dropped handshakes: $(tail -3 "$T/served"; grep "ipc $ep" "$T/tr.err")"
done
"$P" ctl tr status >"$T/ctlst" 2>&1 ||
	fail "ctl.sock does not serve after dropped handshakes: $(cat "$T/ctlst"; grep -i "listen\\|warn" "$T/tr.err" | tail)"
"$D" --vm tr ps >/dev/null 2>&1 ||
	fail "diag.sock does not serve after dropped handshakes"
# host.sock: the console goes on
wait_lines "$T/tr.out" $((lines + 20)) ||
	fail "the console stopped after dropped handshakes on host.sock"
grep -c 'stopped accepting' "$T/tr.err" | sed 's/^/listeners re-created: /'
# listening anew happens under the service's seccomp filter (no chmod)
grep -q 'killed by seccomp' "$T/tr.err" &&
	fail "a service died listening anew: $(grep seccomp "$T/tr.err")"

# partitions never share service uids: a second one gets a block of its
# own, so its vmworker is another uid (and another RLIMIT_NPROC count)
start tr2 --accel emu --guest-cmdline delay_ms=20 "$COUNTER" >"$T/tr2.out"
wait_for "$RUNBASE/tr2/diag/diag.sock" || fail "tr2: no diag.sock"
[ "$(uid_base tr)" != "$(uid_base tr2)" ] ||
	fail "two partitions share the service uids from $(uid_base tr)"
v1=$(hostpid tr vmworker) && v2=$(hostpid tr2 vmworker) ||
	fail "no vmworker under one of the inits"
[ "$(stat -c %u "/proc/$v1")" = $(($(uid_base tr) + 2)) ] &&
	[ "$(stat -c %u "/proc/$v2")" = $(($(uid_base tr2) + 2)) ] ||
	fail "vmworker uids: $(stat -c %u "/proc/$v1" "/proc/$v2")"
echo "service uids: tr from $(uid_base tr), tr2 from $(uid_base tr2)"
"$P" ctl tr2 poweroff >/dev/null 2>&1
wait_run tr2

# the guest ran through all of it, its console whole
"$P" ctl tr status --json >"$T/st" 2>"$T/st.err" ||
	fail "ctl status: $(cat "$T/st.err")"
json_is '.reply.vm.state == "running"' "$T/st" ||
	fail "the VM is not running: $(cat "$T/st")"
"$P" ctl tr poweroff >/dev/null 2>&1
wait_run tr
python3 - "$T/tr.out" <<'PY' || fail "console not exactly once: $(tail -c 300 "$T/tr.out")"
import re, sys
nums = [int(l) for l in open(sys.argv[1], errors="replace").read().split("\n")[:-1] if l.isdigit()]
sys.exit(0 if nums and nums == list(range(nums[0], nums[0] + len(nums))) else 1)
PY
echo "ok"
