#!/bin/sh
# Boots the test guests through their 64-bit entry (the one `parapet igvm
# build` uses) with kvmrun, a minimal KVM loader of the guest ABI: checks
# parameter areas, the VP start mailbox (smp with 4 VPs) and the exits.
set -u
build=${BUILD:-build}
dir=$build/guests
kvmrun=$dir/kvmrun

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "skip: /dev/kvm not usable"
	exit 77
fi
if [ ! -x "$kvmrun" ]; then
	echo "FAIL: $kvmrun missing (make BUILD=$build guests)"
	exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
failures=0

# run NAME VPS CMDLINE: sets rc and name, output in $out.
run() {
	name=$1
	echo "\$ $kvmrun $dir/$1.pvh.elf $2 \"$3\""
	timeout 60 "$kvmrun" "$dir/$1.pvh.elf" "$2" "$3" >"$out" 2>&1
	rc=$?
	sed 's/^/  | /' "$out" | head -n 20
}

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "$name: exit status $rc, want $1"
}

expect_line() {
	grep -qx -- "$1" "$out" || fail "$name: no line '$1'"
}

run hello 2 "answer=42 who=kvm"
expect_rc 0
expect_line "cmdline: answer=42 who=kvm"
expect_line "vp count: 2"
expect_line "boot: igvm"

run smp 4 ""
expect_rc 0
for vp in 1 2 3; do
	expect_line "vp $vp up"
done
expect_line "smp: all 4 VPs up"

run counter 1 "count=3 delay_ms=20"
expect_rc 0
[ "$(tr '\n' ' ' <"$out")" = "0 1 2 " ] || fail "counter: want 0 1 2 only"

run pio_loop 1 "n=1000"
expect_rc 0
expect_line "pio_loop: n=1000 sum=124716"
grep -q '^pio_loop: [0-9]* us$' "$out" || fail "pio_loop: no time"

run mmio_loop 1 "n=1000"
expect_rc 0
expect_line "mmio_loop: n=1000 sum=499500"

run evil 1 "mode=unmapped"
expect_rc 0
expect_line "evil: unmapped d0000000 read ffffffff, after write ffffffff"

run crash 1 ""
expect_rc 100

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all kvm guest checks passed"
