#!/bin/sh
# parapet-blkd --standalone against qemu as the vhost-user front-end: the
# disk guest (guests/disk.c) verifies a pattern, checks it again over a
# new connection, runs a short torture, and finds a read-only disk
# refusing its write; a hostile front-end (parapet-vhost-evil) gets every
# bad message and chain refused, a peer of another uid is turned away,
# and blkd serves the guest again after all of them. qemu's exit status
# is (value << 1) | 1: 1 is the guest's 0.
set -u
build=${BUILD:-build}
. tests/e2e/lib_e2e.sh

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "skip: qemu-system-x86_64 not installed"
	exit 77
fi
for f in "$build/bin/parapet-blkd" "$build/guests/disk.pvh.elf" \
	"$build/tests/parapet-vhost-evil"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f missing (make BUILD=$build all)"
		exit 1
	fi
done

dir=$(mktemp -d)
blkd_pid=""
trap '[ -n "$blkd_pid" ] && kill "$blkd_pid" 2>/dev/null; rm -rf "$dir"' EXIT
out=$dir/qemu.out
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# start_blkd NAME DISKARG: parapet-blkd serving DISKARG on $dir/NAME.sock,
# stderr in $dir/NAME.err.
start_blkd() {
	sock=$dir/$1.sock
	err=$dir/$1.err
	"$build/bin/parapet-blkd" --standalone --socket "$sock" \
		--disk "$2" 2>"$err" &
	blkd_pid=$!
	wait_for "$sock" || fail "$1: no socket $sock"
}

# stop_blkd: SIGTERM; it exits 0 and removes its socket.
stop_blkd() {
	kill -TERM "$blkd_pid"
	wait "$blkd_pid"
	rc=$?
	[ "$rc" -eq 0 ] || fail "blkd exit status $rc after SIGTERM, want 0"
	[ ! -e "$sock" ] || fail "blkd left $sock behind"
	blkd_pid=""
}

# guest WHAT APPEND: boots the disk guest on $sock; rc, output in $out.
guest() {
	echo "\$ disk guest ($1): $2"
	timeout 600 qemu-system-x86_64 -M microvm,acpi=off,memory-backend=mem \
		-object memory-backend-memfd,id=mem,size=64M,share=on \
		-global virtio-mmio.force-legacy=false \
		-chardev socket,id=c0,path="$sock" \
		-device vhost-user-blk,chardev=c0 \
		-kernel "$build/guests/disk.pvh.elf" -append "$2" \
		-accel tcg -display none -nodefaults -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 >"$out" 2>&1 \
		</dev/null
	rc=$?
	sed 's/^/  | /' "$out" | tail -n 8
	[ "$rc" -eq 1 ] || fail "$1: qemu exit status $rc, want 1 (guest 0)"
}

expect_line() {
	grep -qx -- "$1" "$out" || fail "no line '$1'"
}

# A 32 MiB disk; verify writes and reads back 16 MiB of it.
img=$dir/disk.img
truncate -s 32M "$img"
start_blkd rw "$img"

guest verify "mode=verify seed=7"
expect_line "verify: 32768 sectors ok"
expect_line "disk0: id 'parapet-blkd-0'"

# A new connection finds the data of the last one.
guest "check, reconnected" "mode=check seed=7"
expect_line "verify: 32768 sectors ok"

guest "torture, short" "mode=torture ops=3000 sectors=4096 seed=3"
grep -Eq '^torture: verified [1-9][0-9]* sectors, 0 bad$' "$out" ||
	fail "torture: no 'torture: verified N sectors, 0 bad' line"

# The hostile front-end: garbage, oversize and stalled messages, refused
# requests, hostile chains beside good ones (the tool checks each answer).
echo "\$ parapet-vhost-evil"
if ! "$build/tests/parapet-vhost-evil" "$sock" 65536; then
	fail "parapet-vhost-evil: the back-end answered a case wrongly"
fi

# A peer of another uid (root only): the socket opened to everyone here,
# the kernel's peer uid still turns it away.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 0711 "$dir"
	chmod 0666 "$sock"
	echo "\$ parapet-vhost-evil as uid 65534"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$build/tests/parapet-vhost-evil" "$sock" 65536 >/dev/null 2>&1 &&
		fail "a peer of uid 65534 was served"
	wait_grep "connection from uid 65534 refused" "$dir/rw.err" ||
		fail "no refusal of uid 65534 in blkd's log"
	chmod 0600 "$sock"
else
	echo "not root: the peer-uid refusal is left to the unit tests"
fi

# blkd lives on: the guest still verifies (a new pattern: the torture
# wrote over the first).
kill -0 "$blkd_pid" 2>/dev/null || fail "blkd died under the hostile front-end"
guest "verify after the hostile front-end" "mode=verify seed=9"
expect_line "verify: 32768 sectors ok"
stop_blkd
grep -Eq 'refused chains' "$dir/rw.err" || fail "no counters at blkd's exit"
grep -E '[0-9]+ requests' "$dir/rw.err" | sed 's/^/  | /'

# Read-only: the guest sees VIRTIO_BLK_F_RO, reads, and its write is
# refused; the file is unchanged.
sum=$(md5sum <"$img")
start_blkd ro "$img,ro"
guest read-only "mode=verify expect_ro=1 sectors=2048"
expect_line "verify: read-only disk: 2048 sectors read"
grep -q "read-only: write refused with status 1" "$out" ||
	fail "read-only: the write was not refused with IOERR"
stop_blkd
[ "$(md5sum <"$img")" = "$sum" ] || fail "read-only disk changed"

# Set-up errors exit 125.
"$build/bin/parapet-blkd" --standalone --socket "$dir/x.sock" \
	--disk "$dir/none.img" 2>/dev/null
rc=$?
[ "$rc" -eq 125 ] || fail "missing disk: exit status $rc, want 125"
truncate -s 1000 "$dir/odd.img"
"$build/bin/parapet-blkd" --standalone --socket "$dir/x.sock" \
	--disk "$dir/odd.img" 2>/dev/null
rc=$?
[ "$rc" -eq 125 ] || fail "partial sector: exit status $rc, want 125"

san_scan "$dir" || failures=$((failures + 1))
if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s); blkd's log:"
	tail -n 20 "$dir"/*.err
	exit 1
fi
echo "disk_blkd_qemu: ok"
