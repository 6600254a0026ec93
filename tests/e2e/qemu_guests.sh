#!/bin/sh
# Boots the test guests' PVH ELFs under qemu (microvm, TCG) and checks what
# they print and how they exit. qemu's isa-debug-exit status is
# (value << 1) | 1; a triple fault with -no-reboot exits 0.
set -u
build=${BUILD:-build}
dir=$build/guests

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "skip: qemu-system-x86_64 not installed"
	exit 77
fi
for g in hello counter pio_loop mmio_loop smp echo crash evil; do
	if [ ! -f "$dir/$g.pvh.elf" ]; then
		echo "FAIL: $dir/$g.pvh.elf missing (make BUILD=$build guests)"
		exit 1
	fi
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
failures=0

# run NAME APPEND: boots NAME with -append APPEND, stdin from the caller;
# sets rc, output in $out.
run() {
	name=$1
	append=$2
	set -- -M microvm -accel tcg -nographic -nodefaults -no-reboot \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$dir/$name.pvh.elf"
	echo "\$ qemu-system-x86_64 $* -append \"$append\""
	timeout 60 qemu-system-x86_64 "$@" -append "$append" >"$out" 2>&1
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

run hello "answer=42 who=qemu" </dev/null
expect_rc 1
expect_line "hello from parapet guest"
expect_line "cmdline: answer=42 who=qemu"
expect_line "vp count: 1"
expect_line "boot: pvh"

run pio_loop "n=1000" </dev/null
expect_rc 1
# sum of (i & 0xff) for i < 1000: 3 * 32640 + sum(0..231) = 124716
expect_line "pio_loop: n=1000 sum=124716"

run mmio_loop "n=1000" </dev/null
expect_rc 1
expect_line "mmio_loop: n=1000 sum=499500"

run counter "count=3" </dev/null
expect_rc 1
expect_line "counter: no timestamp port; cannot pause"
[ "$(grep -x '[0-9]*' "$out" | tr '\n' ' ')" = "0 1 2 " ] ||
	fail "counter: numbers are not exactly 0 1 2"

run smp "" </dev/null
expect_rc 1
expect_line "smp: no VP start mailbox; 1 VP"

printf 'hello world\r\nMiXed 123\nquit\n' | run echo ""
expect_rc 1
expect_line "HELLO WORLD"
expect_line "MIXED 123"
expect_line "echo: bye"

run crash "" </dev/null
expect_rc 0
expect_line "crash: triple fault now"
grep -q "still alive" "$out" && fail "crash: survived its triple fault"

run evil "" </dev/null
expect_rc 1
expect_line "evil: done"

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all qemu guest checks passed"
