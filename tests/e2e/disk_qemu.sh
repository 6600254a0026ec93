#!/bin/sh
# Runs the disk guest's PVH ELF under qemu (microvm, TCG) against qemu's
# own virtio-blk device: verify, check, a corrupted image, torture, bench,
# read-only refusal, two disks, an injected I/O error, a stalled device
# (timeout), no disk, a legacy (version 1) transport, and a vhost-user-blk
# backend in another process (qemu-storage-daemon, when installed). qemu exits with
# (value << 1) | 1: guest exit 0 is 1, 1 is 3, 2 is 5, 3 is 7, 4 is 9, 5 is
# 11.
set -u
build=${BUILD:-build}
elf=$build/guests/disk.pvh.elf

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "skip: qemu-system-x86_64 not installed"
	exit 77
fi
if [ ! -f "$elf" ]; then
	echo "FAIL: $elf missing (make BUILD=$build guests)"
	exit 1
fi

tmp=$(mktemp -d)
qsd_pid=""
cleanup() {
	[ -n "$qsd_pid" ] && kill "$qsd_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
out=$tmp/out
img=$tmp/disk0.img
img1=$tmp/disk1.img
truncate -s 4M "$img"
truncate -s 1M "$img1"
failures=0

# run APPEND QEMU-ARGS...: boots the guest with -append APPEND and the
# given devices; sets rc, output in $out.
run() {
	append=$1
	shift
	set -- -M microvm,acpi=off -accel tcg -display none -nodefaults \
		-no-reboot -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$elf" "$@"
	echo "\$ qemu-system-x86_64 $* -append \"$append\""
	timeout 120 qemu-system-x86_64 "$@" -append "$append" \
		</dev/null >"$out" 2>&1
	rc=$?
	sed 's/^/  | /' "$out" | head -n 24
}

modern="-global virtio-mmio.force-legacy=false"
# drive FILE ID [OPTS]: a raw -drive and its virtio-blk-device.
drive() {
	echo "-drive file=$1,format=raw,if=none,id=$2${3:+,$3}" \
		"-device virtio-blk-device,drive=$2,serial=serial-$2"
}

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "$what: exit status $rc, want $1"
}

expect_line() {
	grep -qx -- "$1" "$out" || fail "$what: no line '$1'"
}

expect_match() {
	grep -q -- "$1" "$out" || fail "$what: no line matching '$1'"
}

what="no disk"
run "" $modern
expect_rc 5
expect_line "disk: no virtio_mmio.device= on the command line (qemu: -M microvm,acpi=off and a virtio-blk-device)"

what="legacy transport"
# shellcheck disable=SC2046
run "" $(drive "$img" d0)
expect_rc 5
expect_line "disk0: 0xfeb00e00: legacy virtio-mmio; run qemu with -global virtio-mmio.force-legacy=false"

what="verify"
# shellcheck disable=SC2046
run "mode=verify seed=7" $modern $(drive "$img" d0)
expect_rc 1
expect_match "^disk0: 0xfeb00e00 capacity 8192 sectors, blk_size 512, features 0x1[0-9a-f]*"
expect_line "disk0: id 'serial-d0'"
expect_line "verify: 8192 sectors ok"

what="check"
# shellcheck disable=SC2046
run "mode=check seed=7" $modern $(drive "$img" d0)
expect_rc 1
expect_line "verify: 8192 sectors ok"

what="check, other seed"
# shellcheck disable=SC2046
run "mode=check seed=8 sectors=16" $modern $(drive "$img" d0)
expect_rc 3
expect_line "disk: sector 0 is stale: seq 0 seed 7, want seq 0 seed 8"
expect_line "verify: 16 of 16 sectors bad"

what="check, corrupted image"
printf 'XXXX' | dd of="$img" bs=1 seek=$((100 * 512 + 40)) conv=notrunc \
	status=none
dd if="$img" of="$img" bs=512 skip=200 seek=300 count=1 conv=notrunc \
	status=none
# shellcheck disable=SC2046
run "mode=check seed=7" $modern $(drive "$img" d0)
expect_rc 3
expect_match "^disk: sector 100 corrupt: word 5 is "
expect_line "disk: sector 300 holds sector 200's data"
expect_line "verify: 2 of 8192 sectors bad"

what="torture"
# shellcheck disable=SC2046
run "mode=torture ops=20000 seed=3" $modern $(drive "$img" d0)
expect_rc 1
expect_match "^torture: 20000 requests ([0-9]* reads, [0-9]* writes), [1-9][0-9]* sector reads checked, 0 bad$"
expect_match "^torture: verified [1-9][0-9]* sectors, 0 bad$"

what="bench"
# shellcheck disable=SC2046
run "mode=bench mb=128 ios=5000" $modern $(drive "$img" d0)
expect_rc 1
expect_match "^bench-raw: seq_write bytes=134217728 ios=2048 us=[0-9]* clock="
expect_match "^bench-raw: seq_read bytes=134217728 ios=2048 us=[0-9]* clock="
expect_match "^bench-raw: rand4k_read bytes=20480000 ios=5000 us=[0-9]* clock="
# With the RTC-calibrated TSC, rates; without a clock only byte counts.
if grep -q "clock=tsc" "$out"; then
	expect_match "^bench: seq_write [0-9]*\.[0-9] MB/s$"
	expect_match "^bench: seq_read [0-9]*\.[0-9] MB/s$"
	expect_match "^bench: rand4k_read [0-9]* IOPS$"
fi

what="read-only"
sum=$(cksum <"$img")
# shellcheck disable=SC2046
run "mode=verify expect_ro=1" $modern $(drive "$img" d0 readonly=on)
expect_rc 1
expect_match "^disk0: 0xfeb00e00 capacity 8192 sectors.*, read-only"
expect_line "verify: read-only disk: 8192 sectors read"
expect_match "^disk0: read-only: write refused with status [1-9]"
[ "$(cksum <"$img")" = "$sum" ] || fail "$what: the image changed"

what="expect_ro on a writable disk"
# shellcheck disable=SC2046
run "mode=check expect_ro=1" $modern $(drive "$img" d0)
expect_rc 11
expect_line "disk0: expected a read-only disk, but VIRTIO_BLK_F_RO is not offered"

what="two disks"
# qemu lists them in -device order: the first gets 0xfeb00e00, IRQ 12.
sum=$(cksum <"$img")
# shellcheck disable=SC2046
run "disk=1 mode=verify" $modern $(drive "$img" d0) $(drive "$img1" d1)
expect_rc 1
expect_match "^disk0: 0xfeb00e00 capacity 8192 sectors, .*, irq 12, vendor 0x554d4551"
expect_match "^disk1: 0xfeb00c00 capacity 2048 sectors, .*, irq 11"
expect_line "disk1: id 'serial-d1'"
expect_line "verify: 2048 sectors ok"
[ "$(cksum <"$img")" = "$sum" ] || fail "$what: disk0 changed"

what="disk=2 of 1"
# shellcheck disable=SC2046
run "disk=2" $modern $(drive "$img" d0)
expect_rc 5
expect_line "disk: disk=2, but only 1 disk(s)"

what="write error"
printf '[inject-error]\nevent = "write_aio"\nerrno = "5"\n' >"$tmp/eio.conf"
# shellcheck disable=SC2046
run "mode=verify" $modern $(drive "blkdebug:$tmp/eio.conf:$img" d0)
expect_rc 7
expect_line "disk0: write of 65536 bytes at sector 0 failed: status 1"

what="stalled device"
# One request a second: every wait is longer than timeout_ms=100.
# shellcheck disable=SC2046
run "mode=verify timeout_ms=100" $modern \
	$(drive "$img" d0 throttling.iops-total=1)
expect_rc 9
expect_match "^disk: timeout waiting for request ([1-9][0-9]* in flight, timeout_ms 100)$"
expect_match "^disk:   write of 65536 bytes at sector "

# The device in another process, reading guest memory from a shared memfd
# while the guest polls: what Parapet's vhost-user backends do.
if command -v qemu-storage-daemon >/dev/null 2>&1; then
	truncate -s 4M "$tmp/vu.img"
	qemu-storage-daemon --blockdev \
		driver=file,node-name=f,filename="$tmp/vu.img" \
		--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$tmp/vu.sock",writable=on \
		>"$tmp/qsd.log" 2>&1 &
	qsd_pid=$!
	i=0
	while [ ! -S "$tmp/vu.sock" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	vhost="-M memory-backend=mem -object memory-backend-memfd,id=mem,size=128M,share=on -m 128M -chardev socket,id=c0,path=$tmp/vu.sock -device vhost-user-blk,chardev=c0"
	what="vhost-user verify"
	# shellcheck disable=SC2086
	run "mode=verify" $modern $vhost
	expect_rc 1
	expect_line "verify: 8192 sectors ok"
	what="vhost-user torture"
	# shellcheck disable=SC2086
	run "mode=torture ops=20000 depth=16 seed=11" $modern $vhost
	expect_rc 1
	expect_match "^torture: verified [1-9][0-9]* sectors, 0 bad$"
	kill "$qsd_pid"
	wait "$qsd_pid" 2>/dev/null
	qsd_pid=""
else
	echo "note: qemu-storage-daemon not installed; vhost-user case skipped"
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all disk guest checks passed under qemu"
