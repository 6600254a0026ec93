#!/bin/sh
# Supervision by parapet-init: a service killed with SIGKILL is restarted
# (at least 1 s after its previous spawn when it dies young); one exiting
# 125 is not; a missing binary is reported and the rest keep running; InitControl Ps, Restart, Stop (SIGTERM then SIGKILL), Start,
# Logs and Poweroff(status) work; SIGKILL of `parapet run` takes the
# partition down with it.
. "$(dirname "$0")/lib_partition.sh"

image img
manifest "$T/m" "a $SVC -- --record $T/a.rec" \
	"b $SVC -- --exit 125 --record $T/b.rec" \
	"c $SVC stop-timeout=300 -- --ignore-term --record $T/c.rec" \
	"m /nonexistent/parapet-nothing"
start sv1 --manifest "$T/m" "$T/img.igvm"
wait_for "$T/c.rec" && wait_for "$T/b.rec" || fail "services did not start"

starts() { grep -c '^start' "$1"; }
nspid() { sed -n 's/^start pid=\([0-9]*\) .*/\1/p' "$1" | tail -n 1; }
# started FILE N: FILE records N starts at least
started() { [ "$(starts "$1")" -ge "$2" ]; }
# wait_starts FILE N: until FILE records N starts (60 s at most).
wait_starts() { wait_until 600 started "$1" "$2"; }
# b_failed: init's Ps shows b failed with exit 125 (Ps in $T/ps)
b_failed() {
	ctl "$INIT" Ps >"$T/ps" || fail "Ps failed"
	grep -q '^b failed .*last=exited 125' "$T/ps"
}

# exit 125: failed, never restarted (a restart would come after 1 s)
sleep 1.2
wait_until 100 b_failed || fail "b not failed: $(cat "$T/ps")"
grep -q '^a running pid=' "$T/ps" || fail "a not running: $(cat "$T/ps")"
[ "$(starts "$T/b.rec")" -eq 1 ] || fail "b (exit 125) was restarted"
grep -q '^m failed .*last=missing binary' "$T/ps" ||
	fail "missing binary not reported: $(cat "$T/ps")"
grep -q 'binary /nonexistent/parapet-nothing: No such file' "$T/sv1.err" ||
	fail "no missing-binary message on stderr"

# SIGKILL after more than 1 s up: restarted at once
nsenter -t "$INIT" -p -m kill -KILL "$(nspid "$T/a.rec")"
wait_starts "$T/a.rec" 2 || fail "a not restarted after SIGKILL"
# and again right away: the next spawn waits until 1 s after the last.
# init says which it chose ("restarting in N ms"); on a loaded machine the
# kill may come after 1 s of uptime (no backoff due): try again.
backoff=""
n=2
while [ -z "$backoff" ] && [ $n -lt 7 ]; do
	nsenter -t "$INIT" -p -m kill -KILL "$(nspid "$T/a.rec")"
	n=$((n + 1))
	wait_starts "$T/a.rec" $n || fail "a not restarted after SIGKILL $n"
	ms=$(sed -n 's/.*a: killed by signal 9; restarting in \([0-9]*\) ms.*/\1/p' \
		"$T/sv1.err" | tail -n 1)
	[ -n "$ms" ] || fail "no restart line for a: $(tail -5 "$T/sv1.err")"
	[ "$ms" -le 1000 ] || fail "backoff of $ms ms after one quick death"
	[ "$ms" -gt 0 ] && backoff=$ms
done
[ -n "$backoff" ] || fail "no backoff in 4 quick deaths"
ctl "$INIT" Ps | grep -q "^a running .*deaths=$((n - 1)) last=killed by signal 9" ||
	fail "death tally: $(ctl "$INIT" Ps)"

# requested restart: a new instance, ready when the call returns
old=$(nspid "$T/a.rec")
ctl "$INIT" Restart a | grep -q '^a running' || fail "Restart a"
[ "$(starts "$T/a.rec")" -eq $((n + 1)) ] && [ "$(nspid "$T/a.rec")" != "$old" ] ||
	fail "Restart did not start a new instance"

# Stop escalates to SIGKILL for a service that ignores SIGTERM
ctl "$INIT" Stop c | grep -q '^c stopped' || fail "Stop c"
ctl "$INIT" Ps | grep -q '^c stopped .*last=killed by signal 9' ||
	fail "c not SIGKILLed: $(ctl "$INIT" Ps)"
ctl "$INIT" Start c | grep -q '^c running' || fail "Start c"
[ "$(starts "$T/c.rec")" -eq 2 ] || fail "Start did not spawn c"
ctl "$INIT" Logs a | grep -q 'test-service a: up' || fail "Logs a"
ctl "$INIT" Restart nosuch 2>/dev/null && fail "Restart of an unknown service"

# init answers by the caller's uid (sandbox/README.md): hostcomm, vmworker
# and root reach none of its methods, diagd cannot power off, and a binary
# comes from policy only
for who in hostcomm vmworker root; do
	PARAPET_TEST_CALLER=$who ctl "$INIT" Ps 2>"$T/deny" &&
		fail "Ps answered $who"
	grep -q 'not allowed' "$T/deny" || fail "Ps from $who: $(cat "$T/deny")"
done
PARAPET_TEST_CALLER=diagd ctl "$INIT" Poweroff 9 2>/dev/null &&
	fail "diagd powered the partition off"
PARAPET_TEST_CALLER=policy ctl "$INIT" Stop a 2>/dev/null &&
	fail "policy stopped a service"
# A Restart with a binary: policy's alone, and never by path: only a
# descriptor the host sent init (lib/fdchan.h) under a token, so a file a
# service wrote cannot be named at all; /run is noexec for init anyway.
evil=/run/parapet/ipc/hostcomm/evil
nsenter -t "$INIT" -m sh -c "printf '#!/bin/sh\necho pwned >$T/pwned\n' >$evil &&
	chmod 0755 $evil" || fail "cannot plant $evil"
PARAPET_TEST_BINARY_TOKEN=1 PARAPET_TEST_CALLER=diagd ctl "$INIT" Restart a \
	2>"$T/deny" && fail "diagd set a binary"
grep -q 'through policy only' "$T/deny" || fail "binary from diagd: $(cat "$T/deny")"
PARAPET_TEST_BINARY=$evil PARAPET_TEST_CALLER=policy ctl "$INIT" Restart a \
	2>"$T/deny" && fail "init took a binary by path"
grep -q 'never named by path' "$T/deny" || fail "binary path: $(cat "$T/deny")"
PARAPET_TEST_BINARY_TOKEN=12345 PARAPET_TEST_CALLER=policy ctl "$INIT" Restart a \
	2>"$T/deny" && fail "init took a token the host never sent"
grep -q 'no binary from the host' "$T/deny" || fail "unknown token: $(cat "$T/deny")"
[ ! -e "$T/pwned" ] || fail "init executed $evil"
ctl "$INIT" Ps >"$T/ps" 2>&1; grep -q "^a running" "$T/ps" ||
	fail "a not back on its own binary: $(cat "$T/deny" "$T/ps")"

# Poweroff(status): parapet run exits with it. The answer is what counts:
# the caller lives in init's pid namespace and is killed with it when init
# ends first (a sanitizer build's exit, with its leak check, is slow).
ctl "$INIT" Poweroff 7 >"$T/off" 2>&1
rc=$?
grep -q '^Poweroff: ok$' "$T/off" && { [ $rc = 0 ] || [ $rc = 137 ]; } ||
	fail "Poweroff (exit $rc): $(cat "$T/off")"
wait_run sv1
[ "$RC" = 7 ] || fail "Poweroff 7: parapet run exited $RC"
assert_gone sv1 "$INIT"

# parapet run SIGKILLed: the partition dies with it (PR_SET_PDEATHSIG).
# ctl, list and parapet-diag say such a VM is gone at once, from its pid
# file (not after their timeouts on its dead sockets), and remove the
# stale run directory; one whose pid lives as another program is gone
# too, one whose pid is a parapet is kept.
start sv2 --manifest "$T/m" "$T/img.igvm"
run2=$(runpid sv2)
mkdir "$RUNBASE/svkeep" && echo "$run2" >"$RUNBASE/svkeep/pid"
"$P" list | grep -q '^svkeep ' && fail "list shows a directory without status"
[ -d "$RUNBASE/svkeep" ] || fail "a run directory whose pid is a parapet was removed"
rm -rf "$RUNBASE/svkeep"
kill -KILL "$run2"
wait "$run2" 2>/dev/null
wait_exit "$INIT" 50 || fail "partition outlived a SIGKILLed parapet run"
[ -e "$RUNBASE/sv2/ctl.sock" ] || fail "sv2: no stale run directory to check"
timeout 30 "$P" ctl sv2 status >"$T/gone" 2>&1 && fail "ctl status of a killed run"
grep -q "no running VM named 'sv2' (its parapet run, pid $run2, is gone; stale run directory removed)" \
	"$T/gone" || fail "ctl status after kill -9 of parapet run: $(cat "$T/gone")"
[ ! -e "$RUNBASE/sv2" ] || fail "ctl left the stale run directory"
# fakes: a pid gone (an exited shell's), a pid reused by another program
sh -c 'echo $$ >"$1"' - "$T/dead.pid"
sleep 60 &
other=$!
for v in svdead svother; do
	mkdir "$RUNBASE/$v" && : >"$RUNBASE/$v/ctl.sock" &&
		mkdir "$RUNBASE/$v/diag" && : >"$RUNBASE/$v/diag/diag.sock"
done
cp "$T/dead.pid" "$RUNBASE/svdead/pid"
echo "$other" >"$RUNBASE/svother/pid"
timeout 30 "$B/bin/parapet-diag" --vm svdead ps >"$T/gone" 2>&1 &&
	fail "parapet-diag ps of a gone run"
grep -q "no running VM named 'svdead' (its parapet run, pid [0-9]*, is gone; stale run directory removed)" \
	"$T/gone" || fail "parapet-diag after its run died: $(cat "$T/gone")"
[ ! -e "$RUNBASE/svdead" ] || fail "parapet-diag left the stale run directory"
"$P" list >"$T/list" || fail "list"
grep -q '^svother ' "$T/list" && fail "list shows a run whose pid is another program"
[ ! -e "$RUNBASE/svother" ] || fail "list left a run directory whose pid was reused"
kill "$other"
echo "ok"
