#!/bin/sh
# Disks end to end (docs/disks.md): the disk guest's verify and torture
# modes through vmworker's virtio-mmio transport, on parapet-blkd and on
# qemu-storage-daemon as an external vhost-user backend; a read-only disk;
# parapet-diag disks while a guest runs; and bad --disk values, each a
# clear error with exit 125 and nothing left behind.
. "$(dirname "$0")/lib_partition.sh"
G=$B/guests
DIAG=$B/bin/parapet-diag
for f in "$G/disk.igvm" "$DIAG"; do
	[ -e "$f" ] || fail "missing $f (run make all)"
done
usable_accels "disks"
failures=0

bad() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# run NAME EXPECTED-STATUS ARGS...: parapet run in the foreground; stdout
# in $T/NAME.out, stderr in $T/NAME.err; nothing may be left behind.
run() {
	n=$1
	want=$2
	shift 2
	"$P" run --name "$n" "$@" >"$T/$n.out" 2>"$T/$n.err" </dev/null
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		tail -n 20 "$T/$n.out" "$T/$n.err"
		bad "$n: exit $rc, want $want"
	fi
	[ ! -e "$RUNBASE/$n" ] || bad "$n: run directory left behind"
}

expect_out() {
	grep -q -- "$2" "$T/$1.out" || bad "$1: no '$2' in the guest's output"
}

expect_err() {
	grep -q -- "$2" "$T/$1.err" || {
		cat "$T/$1.err"
		bad "$1: no '$2' on stderr"
	}
}

disk() {
	rm -f "$1"
	truncate -s "$2" "$1"
}

# ---------------------------------------------------------- bad input
disk "$T/ok.img" 4M
mkdir "$T/dir"
: >"$T/empty.img"
truncate -s 1000 "$T/odd.img"
run nofile 125 --disk "$T/missing.img" "$G/disk.igvm"
expect_err nofile "--disk 0 '$T/missing.img': No such file or directory"
run isdir 125 --disk "$T/dir" "$G/disk.igvm"
expect_err isdir "Is a directory"
run empty 125 --disk "$T/empty.img" "$G/disk.igvm"
expect_err empty "the file is empty"
run odd 125 --disk "$T/odd.img" "$G/disk.igvm"
expect_err odd "not a multiple of 512"
run nolisten 125 --disk "vhost-user=$T/nobody.sock" "$G/disk.igvm"
expect_err nolisten "vhost-user=$T/nobody.sock"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	"$T/dead.sock" 2>/dev/null &&
	{
		run deadsock 125 --disk "vhost-user=$T/dead.sock" "$G/disk.igvm"
		expect_err deadsock "no backend listens there"
	}
run badopt 125 --disk "$T/ok.img,rw" "$G/disk.igvm"
expect_err badopt "only ',ro' is known"
set --
for i in 1 2 3 4 5 6 7 8 9; do set -- "$@" --disk "$T/ok.img,ro"; done
run nine 125 "$@" "$G/disk.igvm"
expect_err nine "9 disks: at most 8"
# a file the user may not write, without ,ro: a read-only mount here
mkdir "$T/ro"
cp "$T/ok.img" "$T/ro/ok.img"
if unshare -m sh -c "mount --bind -o ro '$T/ro' '$T/ro' &&
	'$P' run --name rofs --disk '$T/ro/ok.img' '$G/disk.igvm'" \
	>"$T/rofs.out" 2>"$T/rofs.err" </dev/null; then
	bad "rofs: a disk the user may not write was accepted"
else
	expect_err rofs "Read-only file system (add ,ro for a read-only disk)"
fi

# ------------------------------------------------------ parapet-blkd
disk "$T/b0.img" 4M
disk "$T/b1.img" 2M
for a in $accels; do
	run "blkd-verify-$a" 0 --accel "$a" --disk "$T/b0.img" \
		--guest-cmdline "mode=verify" "$G/disk.igvm"
	expect_out "blkd-verify-$a" "verify: 8192 sectors ok"
	expect_out "blkd-verify-$a" "disk0: id 'parapet-blkd-0'"
	run "blkd-check-$a" 0 --accel "$a" --disk "$T/b0.img" \
		--guest-cmdline "mode=check" "$G/disk.igvm"
	run "blkd-torture-$a" 0 --accel "$a" --disk "$T/b0.img" \
		--disk "$T/b1.img" --guest-cmdline "mode=torture seconds=3 disk=1" \
		"$G/disk.igvm"
	expect_out "blkd-torture-$a" "torture: verified [0-9]* sectors, 0 bad"
	expect_out "blkd-torture-$a" "disk1: 0xfeb00200 capacity 4096 sectors"
done
# the data is in the host file: a corrupted sector is found
run blkd-verify2 0 --disk "$T/b0.img" --guest-cmdline "mode=verify" \
	"$G/disk.igvm"
printf 'XXXXXXXX' | dd of="$T/b0.img" bs=1 seek=$((512 * 100 + 40)) \
	conv=notrunc 2>/dev/null
run blkd-corrupt 1 --disk "$T/b0.img" --guest-cmdline "mode=check" \
	"$G/disk.igvm"
# read-only: the feature arrives, writes fail with IOERR, the file stays
cp "$T/b0.img" "$T/b0.before"
run blkd-ro 0 --disk "$T/b0.img,ro" --guest-cmdline "mode=verify expect_ro=1" \
	"$G/disk.igvm"
expect_out blkd-ro "disk0: read-only: write refused with status 1"
cmp -s "$T/b0.img" "$T/b0.before" || bad "blkd-ro: the read-only file changed"
run blkd-notro 5 --disk "$T/b0.img" --guest-cmdline "mode=verify expect_ro=1" \
	"$G/disk.igvm"
# a partition without disks starts no blkd
run nodisk 0 "$G/hello.igvm"
! grep -q "blkd" "$T/nodisk.err" || bad "nodisk: blkd started without a disk"
# parapet-diag disks: blkd's counters while the guest runs; vmworker
# serviced twice with the disk busy: every sector still checks
"$P" run --name blkddiag --disk "$T/b0.img" \
	--guest-cmdline "mode=torture seconds=20" "$G/disk.igvm" \
	>"$T/blkddiag.out" 2>"$T/blkddiag.err" </dev/null &
BPID=$!
RUN_PIDS="$RUN_PIDS $BPID"
wait_grep "torture: " "$T/blkddiag.out" || bad "blkddiag: no torture"
sleep 1
"$DIAG" --vm blkddiag disks --json >"$T/bdisks.json" 2>"$T/bdisks.err"
json_is 'length == 1 and .[0].backend == "blkd" and .[0].running and
	.[0].requests > 0 and .[0].bytes_written > 0 and .[0].errors == 0' \
	"$T/bdisks.json" || {
	cat "$T/bdisks.json" "$T/bdisks.err"
	bad "diag disks: no blkd counters"
}
# the boot device tree describes the disk
"$DIAG" --vm blkddiag dt >"$T/dt.txt" 2>&1
grep -q "disk@feb00000" "$T/dt.txt" && grep -q 'backend = "blkd"' "$T/dt.txt" ||
	{ cat "$T/dt.txt"; bad "blkddiag: no disk node in the device tree"; }
for i in 1 2; do
	"$P" ctl blkddiag service >"$T/svc$i.out" 2>&1 ||
		{ cat "$T/svc$i.out"; bad "blkddiag: servicing $i failed"; }
done
wait "$BPID"
rc=$?
[ "$rc" -eq 0 ] || { tail "$T/blkddiag.out" "$T/blkddiag.err"; bad "blkddiag: exit $rc"; }
grep -q "torture: verified [0-9]* sectors, 0 bad" "$T/blkddiag.out" ||
	bad "blkddiag: torture across servicing"

# -------------------------------------------- qemu-storage-daemon backend
if command -v qemu-storage-daemon >/dev/null 2>&1; then
	qsd_start() {
		rm -f "$T/qsd.sock"
		qemu-storage-daemon --blockdev \
			"driver=file,node-name=f,filename=$1" --export \
			"type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$T/qsd.sock,writable=on" \
			>"$T/qsd.log" 2>&1 &
		QSD=$!
		wait_for "$T/qsd.sock" || bad "qemu-storage-daemon did not listen"
	}
	disk "$T/qsd.img" 4M
	qsd_start "$T/qsd.img"
	for a in $accels; do
		run "qsd-verify-$a" 0 --accel "$a" --disk "vhost-user=$T/qsd.sock" \
			--guest-cmdline "mode=verify" "$G/disk.igvm"
		expect_out "qsd-verify-$a" "verify: 8192 sectors ok"
		expect_out "qsd-verify-$a" "disk0: id 'vhost_user_blk'"
		# what the guest wrote is in the file: the next guest reads it
		run "qsd-check-$a" 0 --accel "$a" --disk "vhost-user=$T/qsd.sock" \
			--guest-cmdline "mode=check" "$G/disk.igvm"
		run "qsd-torture-$a" 0 --accel "$a" \
			--disk "vhost-user=$T/qsd.sock" \
			--guest-cmdline "mode=torture seconds=2" "$G/disk.igvm"
		expect_out "qsd-torture-$a" "torture: verified [0-9]* sectors, 0 bad"
	done
	# parapet-diag disks while a guest runs
	"$P" run --name qsddiag --disk "vhost-user=$T/qsd.sock" \
		--guest-cmdline "mode=torture seconds=15" "$G/disk.igvm" \
		>"$T/qsddiag.out" 2>"$T/qsddiag.err" </dev/null &
	QPID=$!
	RUN_PIDS="$RUN_PIDS $QPID"
	wait_grep "torture: " "$T/qsddiag.out" || bad "qsddiag: no torture"
	"$DIAG" --vm qsddiag disks --json >"$T/disks.json" 2>"$T/disks.err"
	json_is 'length == 1 and .[0].backend == "vhost-user" and
		.[0].running and .[0].capacity_sectors == 8192 and
		.[0].notifies > 0 and .[0].label == "'"$T/qsd.sock"'"' \
		"$T/disks.json" || {
		cat "$T/disks.json" "$T/disks.err"
		bad "diag disks: not the running disk"
	}
	"$DIAG" --vm qsddiag disks >"$T/disks.txt" 2>&1
	grep -q "^0 *vhost-user *running" "$T/disks.txt" || {
		cat "$T/disks.txt"
		bad "diag disks: no table row"
	}
	"$P" ctl qsddiag service >"$T/qsvc.out" 2>&1 ||
		{ cat "$T/qsvc.out"; bad "qsddiag: servicing failed"; }
	"$DIAG" --vm qsddiag disks --json >"$T/disks2.json" 2>&1
	json_is '.[0].running' "$T/disks2.json" ||
		{ cat "$T/disks2.json"; bad "qsddiag: disk not running after servicing"; }
	wait "$QPID" || bad "qsddiag: guest failed across servicing"
	grep -q "torture: verified [0-9]* sectors, 0 bad" "$T/qsddiag.out" ||
		{ tail "$T/qsddiag.out"; bad "qsddiag: torture across servicing"; }
	kill "$QSD" 2>/dev/null
	wait "$QSD" 2>/dev/null
else
	echo "qemu-storage-daemon missing: external backend not checked"
fi

[ "$failures" -eq 0 ] || fail "$failures failures"
echo "disk: all passed"
