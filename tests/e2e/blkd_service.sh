#!/bin/sh
# parapet-blkd as a service, outside a partition (init's side of the disk
# contract is stood in for by parapet-svc-launch): it takes the fds named
# diskN from its supervisor channel (and leaves other names alone),
# enters its sandbox, and listens on /run/parapet/ipc/blkd/diskN.sock,
# 0600 with an ACL entry for vmworker's uid. vmworker's uid may connect
# and gets a working device (parapet-vhost-evil's checks); policy's and
# diagd's uids are refused by the file's permissions, and by SO_PEERCRED
# when the file is opened to all. Its Disks method takes diagd and
# vmworker only. SIGTERM removes its sockets. Root only (the sandbox); a
# private mount namespace with a tmpfs on /run keeps it off the host's.
set -u
build=${BUILD:-build}
. tests/e2e/lib_e2e.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: the service sandbox needs root"
	exit 77
fi
for t in unshare setpriv; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "skip: $t not installed"
		exit 77
	fi
done
if [ -z "${BLKD_SERVICE_NS:-}" ]; then
	BLKD_SERVICE_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

# The last block of service ids: no partition of this test run uses it.
PARAPET_UID_BASE=$((61000 + 128 * 31))
export PARAPET_UID_BASE
base=$PARAPET_UID_BASE
blkd_uid=$((base + 5))
vmw_uid=$((base + 2))
ipc_gid=$((base + 100))
ipcdir=/run/parapet/ipc

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

mount -t tmpfs -o mode=0755 none /run || exit 1
mkdir -p $ipcdir/blkd
chown root:$ipc_gid $ipcdir
chmod 02750 $ipcdir
chown $blkd_uid:$ipc_gid $ipcdir/blkd
chmod 02750 $ipcdir/blkd

truncate -s 1M "$dir/a.img"
truncate -s 2M "$dir/b.img"
"$build/tests/parapet-svc-launch" disk0="$dir/a.img" \
	disk3="$dir/b.img,ro" other=/dev/null disk9=/dev/null \
	-- "$build/bin/parapet-blkd" >"$dir/launch.out" 2>"$dir/blkd.err" &
launch=$!
wait_grep '^ready$' "$dir/launch.out" || fail "blkd never said READY"
pid=$(sed -n 's/^pid //p' "$dir/launch.out")

# Owner blkd; the group bits show the ACL's mask (vmworker's entry), the
# group entry itself grants nothing (policy and diagd are refused below).
for n in 0 3; do
	s=$ipcdir/blkd/disk$n.sock
	[ -S "$s" ] || fail "no socket $s"
	[ "$(stat -c '%u %A' "$s")" = "$blkd_uid srw-rw----" ] ||
		fail "$s: $(stat -c '%u %A' "$s"), want $blkd_uid srw-rw----"
done
[ ! -e $ipcdir/blkd/disk9.sock ] || fail "disk9 (not 0-7) was served"
grep -q "fd 'disk9' left out" "$dir/blkd.err" || fail "disk9 not refused"

# vmworker's uid: through the ACL, a device that answers as it should.
s=$ipcdir/blkd/disk0.sock
probe() {
	"$build/tests/parapet-ipc-probe" --as "$1" --connect "$s" >/dev/null 2>&1
}
probe vmworker || fail "vmworker cannot connect to $s"
probe policy && fail "policy may connect to $s"
probe diagd && fail "diagd may connect to $s"
setpriv --reuid=$vmw_uid --regid=$vmw_uid --groups=$ipc_gid \
	"$build/tests/parapet-vhost-evil" "$s" 2048 ||
	fail "vmworker's session with blkd went wrong"

# The file (and its directories) opened to everyone: the peer uid still
# decides. (Without the IPC group: the ACL's group entry would refuse.)
chmod o+x $ipcdir $ipcdir/blkd
chmod 0666 "$s"
setpriv --reuid=$base --regid=$base --clear-groups \
	"$build/tests/parapet-vhost-evil" "$s" 2048 >/dev/null 2>&1 &&
	fail "policy's uid was served"
wait_grep "connection from uid $base refused" "$dir/blkd.err" ||
	fail "no refusal of policy's uid in blkd's log"

# Disks: diagd and vmworker may call, policy not (ipc_probe checks the
# endpoint's table against the answers).
for who in diagd vmworker policy hostcomm; do
	"$build/tests/parapet-ipc-probe" --as $who $ipcdir/blkd/blkd.sock \
		>"$dir/probe.out" 2>&1 || {
		fail "Disks callers as $who:"
		cat "$dir/probe.out"
	}
done
grep -q 'Disks' "$dir/probe.out" || fail "no Disks method in blkd's table"

kill -TERM "$pid"
wait "$launch"
rc=$?
[ "$rc" -eq 0 ] || fail "blkd exit status $rc after SIGTERM, want 0"
for n in 0 3; do
	[ ! -e $ipcdir/blkd/disk$n.sock ] || fail "disk$n.sock left behind"
done

san_scan "$dir" || failures=$((failures + 1))
if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s); blkd's log:"
	tail -n 60 "$dir/blkd.err"
	exit 1
fi
echo "blkd_service: ok"
