#!/bin/sh
# parapet run end to end with the real services (vmworker, policy,
# hostcomm): guest bytes only on stdout, the guest's exit value, the guest
# command line, a crash (123, reason on stderr), --timeout (124), an image
# with only a platform header, pages and a VP context, stdin to the echo
# guest, and a big exit value (122, via a stand-in vmworker). Nothing is
# left behind after any run. The guest's own power-off stops every service
# at once; a stop by the host (--timeout) stops vmworker after the others.
. "$(dirname "$0")/lib_partition.sh"
G=$B/guests
FAKE=$(pwd)/$B/tests/parapet-fake-vmworker
for f in "$B/bin/parapet-vmworker" "$B/bin/parapet-policy" \
	"$B/bin/parapet-hostcomm" "$FAKE" "$B/tests/igvm-minimal" \
	"$G/hello.igvm" "$G/crash.igvm" "$G/counter.igvm" "$G/echo.igvm"; do
	[ -e "$f" ] || fail "missing $f (run make all)"
done

# run NAME EXPECTED-STATUS ARGS...: synchronous parapet run; stdout in
# $T/NAME.out, stderr in $T/NAME.err; then nothing may be left.
run() {
	n=$1
	want=$2
	shift 2
	"$P" run --name "$n" "$@" >"$T/$n.out" 2>"$T/$n.err" </dev/null
	rc=$?
	[ "$rc" -eq "$want" ] || {
		cat "$T/$n.err"
		fail "$n: exit $rc, want $want"
	}
	[ ! -e "$RUNBASE/$n" ] || fail "$n: run directory left behind"
	! pgrep -f "parapet run --name $n " >/dev/null ||
		fail "$n: a process is left"
}

# hello: exactly the guest's lines on stdout, its exit value (0)
run hello 0 "$G/hello.igvm"
printf 'hello from parapet guest\ncmdline: \nvp count: 1\nboot: igvm\n' \
	>"$T/hello.want"
cmp -s "$T/hello.out" "$T/hello.want" || {
	cat "$T/hello.out"
	fail "hello: stdout is not the guest's bytes only"
}

# the guest powered off once the host had its console and event: init
# stops every service at once, vmworker with the others
grep -q 'parapet-init: power-off (guest powered off (0)): status 0, every service at once' \
	"$T/hello.err" || fail "hello: power-off not of every service at once"

# the same on the emu accelerator
run helloemu 0 --accel emu "$G/hello.igvm"
cmp -s "$T/helloemu.out" "$T/hello.want" || fail "hello on emu: stdout"

# the guest command line reaches the guest
run cmdline 0 --guest-cmdline "answer=42 x" "$G/hello.igvm"
grep -qx 'cmdline: answer=42 x' "$T/cmdline.out" ||
	fail "cmdline: guest did not see --guest-cmdline"

# a crash: 123 and the reason on stderr
run crash 123 "$G/crash.igvm"
grep -q 'parapet run: guest crashed: .*triple fault' "$T/crash.err" ||
	fail "crash: no reason on stderr"

# --timeout: 124, and what the guest printed arrives whole
# (a loaded machine may boot slower than the timeout: then nothing
# printed is the whole of it; whatever did print starts at 0, no gaps)
run timeout 124 --timeout 3 --guest-cmdline delay_ms=20 "$G/counter.igvm"
grep -q 'timeout after 3 s' "$T/timeout.err" || fail "timeout: no message"
# (a line cut by the timeout is not checked)
{ [ -z "$(tail -c 1 "$T/timeout.out")" ] && cat "$T/timeout.out" ||
	sed '$d' "$T/timeout.out"; } |
	awk 'NR == 1 && $0 != 0 || NR > 1 && $0 != prev + 1 {bad = 1}
	{prev = $0} END {exit bad}' ||
	fail "timeout: counter output not whole: $(head -c 200 "$T/timeout.out")"
[ -s "$T/timeout.out" ] || echo "note: the guest printed nothing in 3 s"
# a stop by the host: vmworker (running the guest) is stopped only after
# the others are gone (hostcomm's stop drains the console from it)
! grep -q 'every service at once' "$T/timeout.err" ||
	fail "timeout: every service stopped at once"
[ "$(grep -o 'parapet-init: [a-z]*: stopped' "$T/timeout.err" | tail -n 1)" = \
	"parapet-init: vmworker: stopped" ] ||
	fail "timeout: vmworker not stopped last: $(grep 'stopped' "$T/timeout.err")"

# an image with only a platform header, pages and a VP context
"$B/tests/igvm-minimal" "$G/hello.igvm" "$T/min.igvm" || fail "igvm-minimal"
run minimal 0 "$T/min.igvm"
grep -qx 'hello from parapet guest' "$T/minimal.out" ||
	fail "minimal image did not boot"

# stdin reaches the guest (the echo guest upper-cases each line)
printf 'hi\nquit\n' | "$P" run --name echo "$G/echo.igvm" >"$T/echo.out" \
	2>"$T/echo.err"
rc=$?
[ "$rc" -eq 0 ] || fail "echo: exit $rc"
grep -qx 'HI' "$T/echo.out" || fail "echo: input did not reach the guest"
[ ! -e "$RUNBASE/echo" ] || fail "echo: run directory left behind"

# an exit value of 123 or more: 122 with the value on stderr
manifest "$T/m" \
	"vmworker $FAKE fds=guest-ram,sidecar,boot-dtb -- --lines 2 --exit 200" \
	"policy parapet-policy fds=boot-dtb" "hostcomm parapet-hostcomm"
run big 122 --manifest "$T/m" "$G/hello.igvm"
grep -q 'guest exit value 200' "$T/big.err" || fail "big: no value on stderr"
printf 'line 1\nline 2\n' | cmp -s - "$T/big.out" || fail "big: console"
echo "ok"
