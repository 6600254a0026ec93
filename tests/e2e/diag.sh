#!/bin/sh
# parapet-diag against a real partition (default manifest, counter guest):
# ps, restart of services while the guest prints (every number once, in
# order), the live trace of policy -> vmworker calls during `vm pause` with
# decoded bodies and a pcapng that tshark decodes, malformed and oversized
# requests refused with diagd staying up, a client that is not the owner
# refused, and the --json of every command parsing.
. "$(dirname "$0")/lib_partition.sh"

D=$(pwd)/$B/bin/parapet-diag
PROBE=$(pwd)/$B/tests/parapet-ipc-probe
COUNTER=$B/guests/counter.igvm
PROTO=$(pwd)/$B/share/parapet/proto
[ -x "$D" ] && [ -x "$PROBE" ] || fail "missing $D or $PROBE"
[ -f "$COUNTER" ] || fail "missing $COUNTER (make all)"
for b in parapet-policy parapet-hostcomm parapet-vmworker parapet-diagd; do
	[ -x "$B/bin/$b" ] || skip "$b not built yet: no default partition"
done
command -v python3 >/dev/null || skip "python3 missing (JSON checks)"
command -v jq >/dev/null || skip "jq missing (JSON checks; make deps)"
command -v tshark >/dev/null || skip "tshark not installed"

diag() { "$D" --vm dg "$@"; }
json_ok() { python3 -m json.tool >/dev/null 2>&1; }
# jsonl_ok: every line of stdin is one JSON value
jsonl_ok() {
	python3 -c 'import json,sys
n=0
for l in sys.stdin:
    json.loads(l); n+=1
sys.exit(0 if n else 1)'
}
# diag_up: diagd answers
diag_up() { diag ps >/dev/null 2>&1; }
# svc_json SVC FILTER: ps --json's row of SVC passes the jq FILTER
svc_json() {
	diag ps --json | json_is ".[] | select(.name == \"$1\") | $2"
}
# all_running: policy, hostcomm, vmworker and diagd are running
all_running() {
	diag ps --json | json_is '["policy", "hostcomm", "vmworker", "diagd"] -
		[.[] | select(.state == "running") | .name] == []'
}

start dg --guest-cmdline delay_ms=20 "$COUNTER" >"$T/dg.out"
wait_for "$RUNBASE/dg/diag/diag.sock" || fail "no diag.sock: $(cat "$T/dg.err")"
wait_until 600 diag_up || fail "diagd does not answer"

# ps: the four services, running (vmworker may still be creating its VM:
# give it a few seconds)
wait_until 100 all_running || fail "ps: not all running: $(diag ps)"
diag ps >"$T/ps" || fail "ps"
for s in policy hostcomm vmworker diagd; do
	grep -q "^$s .* running " "$T/ps" || fail "ps: $s not running: $(cat "$T/ps")"
done
diag ps --json >"$T/ps.json" && json_ok <"$T/ps.json" || fail "ps --json"
python3 -c 'import json,sys
rows=json.load(open(sys.argv[1]))
names={r["name"] for r in rows}
assert {"policy","hostcomm","vmworker","diagd"} <= names, names
for r in rows:
    for k in ("name","pid","state","uptime_s","restarts","last_exit","rss_kib"):
        assert k in r, (k, r)
    assert r["state"] == "running" and r["rss_kib"] > 0, r' "$T/ps.json" ||
	fail "ps --json keys: $(cat "$T/ps.json")"

# restart while the guest prints: each returns once the new one is ready
# (vmworker: servicing through policy, the guest continues)
wait_grep '^20$' "$T/dg.out" || fail "the guest does not print"
for s in hostcomm policy hostcomm; do
	diag restart "$s" | grep -q "^$s: running" || fail "restart $s"
done
diag restart vmworker | grep -q '^vmworker: running .*servicing through policy' ||
	fail "restart vmworker is not servicing through policy"
diag restart diagd | grep -q "diagd answers first" || fail "restart diagd"
sleep 0.5
wait_until 600 diag_up || fail "no diagd after its restart"
svc_json diagd '.state == "running" and .restarts == 1' ||
	fail "diagd not restarted: $(diag ps)"
# the replaced vmworker's idle policy client closed without a request: not
# an oversize drop (policy settles such closes a second later)
sleep 1.5
o=$(diag inspect policy.ipc.oversize_drops)
[ "$o" = 0 ] || fail "restarts counted as oversize drops by policy: $o"
# stop diagd through diagd would leave nothing to start it again: refused
diag stop diagd >"$T/stopd" 2>&1 && fail "stop diagd was done (a lock-out)"
grep -q "diagd cannot be stopped through itself" "$T/stopd" ||
	fail "stop diagd: $(cat "$T/stopd")"
sleep 0.5
svc_json diagd '.state == "running" and .restarts == 1' ||
	fail "diagd after a refused stop: $(diag ps)"
svc_json hostcomm '.state == "running" and .restarts == 2' ||
	fail "hostcomm restarts: $(diag ps)"
# printed_past LINE: the guest printed a line after LINE
printed_past() { [ "$(tail -n 2 "$T/dg.out" | head -n 1)" != "$1" ]; }
wait_until 50 printed_past "$(tail -n 2 "$T/dg.out" | head -n 1)"
python3 -c 'import sys
nums=[l.strip() for l in open(sys.argv[1]) if l.strip()]
nums=[int(x) for x in nums[:-1]]  # the last line may be partial
assert nums == list(range(len(nums))), "gap or duplicate near %s" % next(
    (i for i, v in enumerate(nums) if v != i), None)
assert len(nums) > 40, len(nums)' "$T/dg.out" ||
	fail "console not exactly once across restarts"

# trace during vm pause: policy -> vmworker with decoded bodies; pcapng
diag trace -c 20 --svc policy -w "$T/t.pcapng" >"$T/trace" 2>"$T/trace.err" &
tp=$!
# until the trace has its 20 frames (it may attach late on a busy machine)
pause_resume() {
	diag vm pause >/dev/null || fail "vm pause"
	diag vm resume >/dev/null || fail "vm resume"
	exited "$tp"
}
exited "$tp" || wait_until 100 pause_resume
wait "$tp" || fail "trace: $(cat "$T/trace.err")"
# the command printed at the end decodes the bodies with the dissector
grep -qF -- "-X 'lua_script:$T/t.pcapng.lua' -o 'uat:protobuf_search_paths:\"$PROTO\",\"TRUE\"' -o protobuf.pbf_as_hf:TRUE" \
	"$T/trace.err" || fail "trace -w: no typed decode command: $(cat "$T/trace.err")"
[ "$(stat -c %a "$T/t.pcapng")" = 600 ] ||
	fail "trace -w capture is mode $(stat -c %a "$T/t.pcapng"), not 600"
grep -q 'policy -> vmworker REQUEST Pause ' "$T/trace" ||
	fail "no policy -> vmworker Pause in the trace: $(cat "$T/trace")"
grep -q 'vmworker -> policy REPLY Pause ' "$T/trace" || fail "no Pause reply"
grep -q 'parapet.VmStatus' "$T/trace" && grep -q 'state: "paused"' "$T/trace" ||
	fail "Pause reply not decoded: $(cat "$T/trace")"
[ "$(grep -c ' -> ' "$T/trace")" -eq 20 ] || fail "trace -c 20 printed $(grep -c ' -> ' "$T/trace")"
# a command the state refuses: policy's reason, as ctl prints it
diag vm pause >/dev/null || fail "vm pause"
diag vm pause >/dev/null 2>"$T/pause2" && fail "a second vm pause succeeded"
grep -q "not allowed in state paused" "$T/pause2" ||
	fail "vm pause on a paused VM: $(cat "$T/pause2")"
diag vm resume >/dev/null || fail "vm resume after the refusal"
# the idle stop counts frames the filters let through: with ps calls
# traced all along, a trace whose filter matches none still ends (10 s)
(while :; do diag ps >/dev/null 2>&1; sleep 0.2; done) &
busy=$!
timeout 40 "$D" --vm dg trace -c 1 --svc diagd --method NoSuchMethod \
	>"$T/idle" 2>&1
rc=$?
kill "$busy"
wait "$busy" 2>/dev/null
[ $rc -eq 0 ] && [ ! -s "$T/idle" ] ||
	fail "a trace matching nothing did not stop by itself ($rc): $(cat "$T/idle")"
"$D" trace --help | grep -q "uat:protobuf_search_paths:\"$PROTO\"" ||
	fail "trace --help: no tshark command line"
tshark -r "$T/t.pcapng" -V -o "uat:protobuf_search_paths:\"$PROTO\",\"TRUE\"" \
	-o 'uat:protobuf_udp_message_types:"30000-30009","parapet.Envelope"' \
	>"$T/tshark" 2>"$T/tshark.err" || fail "tshark: $(cat "$T/tshark.err")"
[ "$(grep -c '^Frame ' "$T/tshark")" -eq 20 ] || fail "tshark: not 20 packets"
grep -q 'method = Pause (string)' "$T/tshark" ||
	fail "tshark does not decode the method: $(head -60 "$T/tshark")"

# malformed and oversized requests: an error each, diagd stays up
bad() { "$PROBE" --bad-request "$1" "$RUNBASE/dg/diag/diag.sock"; }
[ "$(bad malformed)" = "malformed message" ] ||
	fail "malformed request not refused"
[ "$(bad big)" = "message body too big" ] || fail "oversized body not refused"
bad huge >/dev/null || fail "huge request accepted"
svc_json diagd '.state == "running"' || fail "diagd down after bad requests"
diag inspect diagd.ipc >"$T/ipc" || fail "inspect diagd.ipc"
grep -q 'err_malformed: [1-9]' "$T/ipc" && grep -q 'err_too_big: [1-9]' "$T/ipc" ||
	fail "bad requests not counted: $(cat "$T/ipc")"

# not the owner: nobody reaches the socket (bound into a directory it may
# enter) and is refused by diagd
mkdir -p "$T/x/parapet/dg/diag"
chmod 0755 "$T" "$T/x" "$T/x/parapet" "$T/x/parapet/dg" "$T/x/parapet/dg/diag"
: >"$T/x/parapet/dg/diag/diag.sock"
mount --bind "$RUNBASE/dg/diag/diag.sock" "$T/x/parapet/dg/diag/diag.sock" ||
	fail "bind diag.sock"
chmod 0666 "$RUNBASE/dg/diag/diag.sock"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	env XDG_RUNTIME_DIR="$T/x" "$D" --vm dg ps >"$T/nobody" 2>&1
rc=$?
umount "$T/x/parapet/dg/diag/diag.sock"
chmod 0600 "$RUNBASE/dg/diag/diag.sock"
[ $rc -ne 0 ] && grep -q "refused" "$T/nobody" ||
	fail "a client that is not the owner was served: $(cat "$T/nobody")"
diag inspect diagd.ipc.err_denied | grep -q '^[1-9]' || fail "denial not counted"

# --json of every command parses; OpenMetrics is well formed
for c in "ps" "logs" "logs policy" "inspect" "inspect vmworker -r 1" \
	"stats" "dt" "timeline" "vm status" "sandbox policy" "stop hostcomm" \
	"start hostcomm" "restart policy"; do
	diag $c --json >"$T/j" 2>"$T/j.err" && json_ok <"$T/j" ||
		fail "$c --json: $(cat "$T/j.err") $(head -c 300 "$T/j")"
done
diag trace -c 3 --json | jsonl_ok || fail "trace --json"
timeout 10 "$D" --vm dg logs -f --json policy | jsonl_ok || fail "logs -f --json"
diag stats >"$T/om" || fail "stats"
tail -n 1 "$T/om" | grep -qx '# EOF' || fail "stats: no # EOF"
grep -v '^#' "$T/om" | grep -vqE '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9]+(\.[0-9]+)?$' &&
	fail "stats: a malformed sample line"
grep -q '^parapet_ipc_received_total{service="policy"} [1-9]' "$T/om" ||
	fail "stats: no policy counters"
grep -q '^parapet_vp_exits_pio_total{service="vmworker",vp="0"} [1-9]' "$T/om" ||
	fail "stats: no per-VP exits"

# text views
diag dt | grep -q 'compatible = "parapet,partition"' || fail "dt"
diag timeline --svg "$T/tl.svg" | grep -q 'service_ready.diagd' || fail "timeline"
grep -q '<svg' "$T/tl.svg" || fail "timeline --svg"
diag sandbox policy | grep -q 'profile policy' || fail "sandbox policy"
diag inspect vmworker.vm.vps.0 | grep -q 'exits_pio' || fail "inspect path"
diag logs policy | grep -q 'policy' || fail "logs policy"

# -f ends with the partition: what its services wrote last (policy's
# power-off line, from the log file once diagd is gone), a message, 0
"$D" --vm dg logs -f policy >"$T/lf" 2>"$T/lf.err" &
lf=$!
"$D" --vm dg trace -f >"$T/tf" 2>"$T/tf.err" &
tf=$!
wait_grep 'policy' "$T/lf" || fail "logs -f printed nothing"
"$P" ctl dg poweroff >/dev/null || fail "ctl poweroff"
wait_run dg
for p in $lf $tf; do
	wait_exit "$p" 600 || { kill "$p"; fail "a -f did not end with the VM"; }
done
wait "$lf" || fail "logs -f: exit $? when the VM ended"
wait "$tf" || fail "trace -f: exit $? when the VM ended"
grep -q "logs: VM 'dg' has ended" "$T/lf.err" ||
	fail "logs -f: no end message: $(cat "$T/lf.err")"
grep -q "trace: VM 'dg' has ended" "$T/tf.err" ||
	fail "trace -f: no end message: $(cat "$T/tf.err")"
grep -q 'power-off: status 0' "$T/lf" ||
	fail "logs -f: no power-off line: $(tail -n 5 "$T/lf")"
assert_gone dg "$INIT"
echo "ok"
