#!/bin/sh
# Console attach and `parapet run --console` end to end with the echo guest
# (docs/console.md): two readers and one writer on a --console none VM,
# the upper-cased echo reaching both readers, a second writer refused,
# Ctrl-] detaching with 0, --history, the VM's end told to the attached
# (exit 3); file: appending the guest's output, socket: serving one client
# (socat), stdout mode with a reader beside run's own stdin; bad --console
# values exit 125 leaving nothing behind.
. "$(dirname "$0")/lib_partition.sh"
ECHO=$B/guests/echo.igvm
[ -f "$ECHO" ] || fail "missing $ECHO (run make all)"

# launch NAME ARGS...: parapet run of the echo guest in the background
# ($RUN), stdin from $LAUNCH_IN or /dev/null, stdout and stderr in
# $T/NAME.out and .err; waits for console.sock.
launch() {
	n=$1
	shift
	"$P" run --name "$n" "$@" "$ECHO" >"$T/$n.out" 2>"$T/$n.err" \
		<"${LAUNCH_IN:-/dev/null}" &
	RUN=$!
	RUN_PIDS="$RUN_PIDS $RUN"
	wait_for "$RUNBASE/$n/console.sock" || {
		cat "$T/$n.err"
		fail "$n: no console.sock"
	}
}

# attach FILE IN ARGS...: parapet console in the background ($ATT),
# stdin from IN (given: sh gives a background job /dev/null), stdout in
# $T/FILE.out, stderr in $T/FILE.err; waits until it is attached.
attach() {
	f=$1
	in=$2
	shift 2
	"$P" console "$@" <"$in" >"$T/$f.out" 2>"$T/$f.err" &
	ATT=$!
	wait_grep "attached to" "$T/$f.err" || {
		cat "$T/$f.err"
		fail "$f: did not attach"
	}
}

# finish NAME PID WANT: waits for parapet run PID to exit with WANT, and
# for nothing of NAME to be left.
finish() {
	wait_exit "$2" || fail "$1: parapet run did not end"
	wait "$2"
	rc=$?
	[ "$rc" -eq "$3" ] || {
		cat "$T/$1.err"
		fail "$1: exit $rc, want $3"
	}
	[ ! -e "$RUNBASE/$1" ] || fail "$1: run directory left behind"
}

# --- bad values: 125, a clear message, nothing created
echo keep >"$T/regular"
for v in bogus file: socket: "file:$T/no/such/dir/f" \
	"socket:$T/no/such/dir/s" "socket:$T/regular" stdout:x; do
	"$P" run --name badcon --console "$v" "$ECHO" >/dev/null \
		2>"$T/bad.err" </dev/null
	rc=$?
	[ "$rc" -eq 125 ] || fail "--console '$v': exit $rc, want 125"
	grep -q -- "--console" "$T/bad.err" ||
		fail "--console '$v': no message: $(cat "$T/bad.err")"
	[ ! -e "$RUNBASE/badcon" ] || fail "--console '$v': run dir left"
done
[ "$(cat "$T/regular")" = keep ] || fail "socket: over a file changed it"
[ ! -e "$T/no" ] || fail "a bad --console created something"

# --- none: two readers, one writer, a refused second writer
launch cnone --console none
[ "$(stat -c %a "$RUNBASE/cnone/console.sock")" = 600 ] ||
	fail "console.sock is not 0600"
# a valid file: for a run that fails later (the name is taken) is removed
"$P" run --name cnone --console "file:$T/never.log" "$ECHO" >/dev/null \
	2>"$T/taken.err" </dev/null
rc=$?
[ "$rc" -eq 125 ] && grep -q "already running" "$T/taken.err" ||
	fail "a second cnone: exit $rc, $(cat "$T/taken.err")"
[ ! -e "$T/never.log" ] || fail "file: left behind by a failed run"
attach r1 /dev/null cnone --read-only
R1=$ATT
attach r2 /dev/null cnone --read-only
R2=$ATT
mkfifo "$T/w.in"
exec 4<>"$T/w.in"
attach w "$T/w.in" cnone
W=$ATT
grep -q "read-write" "$T/w.err" || fail "the writer is not read-write"
"$P" console cnone </dev/null >/dev/null 2>"$T/w2.err"
rc=$?
[ "$rc" -eq 1 ] || fail "second writer: exit $rc, want 1"
grep -q "refused: another console (pid $W) is attached for input" \
	"$T/w2.err" || fail "second writer: $(cat "$T/w2.err")"
"$P" console nosuchvm </dev/null 2>"$T/unknown.err"
rc=$?
[ "$rc" -eq 1 ] && grep -q "no running VM" "$T/unknown.err" ||
	fail "unknown VM: exit $rc, $(cat "$T/unknown.err")"
printf 'hello there\n' >&4
for f in r1 r2 w; do
	wait_grep '^HELLO THERE' "$T/$f.out" ||
		fail "$f did not see the echo: $(cat "$T/$f.out")"
done
printf '\035' >&4 # Ctrl-]
wait_exit "$W" || fail "Ctrl-] did not detach"
wait "$W"
rc=$?
[ "$rc" -eq 0 ] || fail "Ctrl-]: exit $rc, want 0"
exec 4>&-
grep -q "detached from cnone" "$T/w.err" || fail "no detach message"
# the writer's place is free again; the bytes before Ctrl-] are sent
printf 'again\n\035ignored\n' | "$P" console cnone >/dev/null 2>&1 ||
	fail "a new writer after the first detached: exit $?"
wait_grep '^AGAIN' "$T/r1.out" || fail "the second writer's line"
! grep -q IGNORED "$T/r1.out" || fail "bytes after Ctrl-] were sent"
# --history: the guest's first line, printed before anyone attached
attach h /dev/null cnone --read-only --history
H=$ATT
wait_grep '^echo: ready' "$T/h.out" || fail "--history: $(cat "$T/h.out")"
[ ! -s "$T/cnone.out" ] || fail "--console none wrote to stdout"
# the end of the VM: every attached console says so and exits 3
printf 'quit\n' | "$P" console cnone >/dev/null 2>&1
finish cnone "$RUN" 0
for p in "$R1:r1" "$R2:r2" "$H:h"; do
	wait_exit "${p%%:*}" || fail "${p#*:}: still attached after the end"
	wait "${p%%:*}"
	rc=$?
	[ "$rc" -eq 3 ] || fail "${p#*:}: exit $rc at the VM's end, want 3"
	grep -q "the VM powered off (exit value 0)" "$T/${p#*:}.err" ||
		fail "${p#*:}: $(cat "$T/${p#*:}.err")"
done

# --- file: appended to, created 0600, input only from attached consoles
echo "before" >"$T/con.log"
launch cfile --console "file:$T/con.log"
printf 'abc\nquit\n' | "$P" console cfile >/dev/null 2>&1
finish cfile "$RUN" 0
[ "$(head -n 1 "$T/con.log")" = before ] || fail "file: not appended"
grep -q '^ABC' "$T/con.log" && grep -q 'echo: bye' "$T/con.log" ||
	fail "file: $(cat "$T/con.log")"
[ ! -s "$T/cfile.out" ] || fail "file: also wrote to stdout"
launch cfile2 --console "file:$T/new.log"
printf 'quit\n' | "$P" console cfile2 >/dev/null 2>&1
finish cfile2 "$RUN" 0
[ "$(stat -c %a "$T/new.log")" = 600 ] || fail "file: created not 0600"
grep -q 'echo: ready' "$T/new.log" || fail "file: new file: no output"

# --- socket: one client at a time, plain bytes both ways
if command -v socat >/dev/null; then
	launch csock --console "socket:$T/con.sock"
	[ "$(stat -c %a "$T/con.sock")" = 600 ] || fail "socket: not 0600"
	mkfifo "$T/s.in"
	exec 5<>"$T/s.in"
	socat - "UNIX-CONNECT:$T/con.sock" <"$T/s.in" >"$T/s1.out" \
		2>/dev/null &
	S1=$!
	printf 'xyz\n' >&5
	wait_grep '^XYZ' "$T/s1.out" || fail "socket: no echo"
	# (-t: socat waits that long for the answer once its stdin ended)
	socat -t 30 - "UNIX-CONNECT:$T/con.sock" </dev/null >"$T/s2.out" 2>&1
	grep -q "another client" "$T/s2.out" ||
		fail "socket: second client: $(cat "$T/s2.out")"
	printf 'quit\n' >&5
	finish csock "$RUN" 0
	exec 5>&-
	wait_exit "$S1" || fail "socket: the client was not disconnected"
	[ ! -e "$T/con.sock" ] || fail "socket: PATH left behind"
else
	echo "socat missing: socket: mode not checked"
fi

# --- stdout (default): a reader beside run's own stdin and stdout
mkfifo "$T/o.in"
exec 6<>"$T/o.in"
LAUNCH_IN=$T/o.in launch cout
attach ro /dev/null cout --read-only
printf 'one\n' >&6
wait_grep '^ONE' "$T/ro.out" || fail "stdout mode: reader missed run's stdin"
printf 'quit\n' >&6
finish cout "$RUN" 0
exec 6>&-
grep -q '^ONE' "$T/cout.out" && grep -q 'echo: bye' "$T/cout.out" ||
	fail "stdout mode: $(cat "$T/cout.out")"
echo "ok"
