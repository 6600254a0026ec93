#!/bin/sh
# Namespaces: init is PID 1 of the partition's pid namespace, its services
# live in the partition's pid and net namespaces (not the host's), nothing
# mounted in the partition shows in the host's mount table, and SIGTERM
# (exit 143) or SIGINT (exit 130) to `parapet run` leaves nothing behind. Then the same unprivileged (user
# namespace) as nobody, when the kernel allows it.
. "$(dirname "$0")/lib_partition.sh"

image img
manifest "$T/m" "a $SVC -- --record $T/a.rec" "b $SVC -- --record $T/b.rec"
start ns1 --manifest "$T/m" "$T/img.igvm"
wait_for "$T/b.rec" || fail "services did not start"
[ "$(nsenter -t "$INIT" -p -m cat /proc/1/comm)" = parapet-init ] ||
	fail "PID 1 of the partition is not parapet-init"
[ "$(nsenter -t "$INIT" -u hostname)" = ns1 ] || fail "hostname not set"
for ns in pid net mnt; do
	host=$(readlink /proc/self/ns/$ns)
	part=$(readlink "/proc/$INIT/ns/$ns")
	[ "$host" != "$part" ] || fail "init shares the host's $ns namespace"
	grep -qF "$ns=$host" "$T/a.rec" && fail "service in the host's $ns ns"
done
[ "$(readlink "/proc/$INIT/ns/ipc")" != "$(readlink /proc/self/ns/ipc)" ] ||
	fail "init shares the host's ipc namespace"
grep -qF "pid=$(readlink "/proc/$INIT/ns/pid")" "$T/a.rec" ||
	fail "service not in the partition's pid namespace"
grep -qF "net=$(readlink "/proc/$INIT/ns/net")" "$T/a.rec" ||
	fail "service not in the partition's net namespace"
grep -q 'ppid=1 ' "$T/a.rec" || fail "service's parent is not init"
[ "$(nsenter -t "$INIT" -m ls /sys/class/net)" = lo ] ||
	fail "the partition's net namespace has more than lo"
for m in /sys/firmware /run/parapet/host /run/parapet/ipc /dev/null; do
	grep -q " $m " "/proc/$INIT/mountinfo" || [ "$m" = /run/parapet/ipc ] ||
		fail "$m not mounted in the partition"
done
grep -q ' /sys/firmware ' /proc/self/mountinfo &&
	fail "partition mount /sys/firmware visible on the host"
grep -q ' /run/parapet/host ' /proc/self/mountinfo &&
	fail "partition mount /run/parapet/host visible on the host"
nsenter -t "$INIT" -m test -S /run/parapet/ipc/init/init.sock ||
	fail "no init.sock in the partition"
"$P" list | grep -q '^ns1 ' || fail "parapet list does not show ns1"
"$P" list --json | grep -q '"name": "ns1"' || fail "list --json"
stop_run ns1
[ "$RC" = 143 ] || fail "SIGTERM: exit $RC, not 143"
assert_gone ns1 "$INIT"
# Ctrl-C: SIGINT ends the run with 130 (128 + 2), as documented
"$P" run --help | grep -q '130 Ctrl-C (SIGINT), 143 SIGTERM' ||
	fail "run --help does not document 130 and 143"
start ns2 --manifest "$T/m" "$T/img.igvm"
p=$(runpid ns2)
kill -INT "$p"
wait "$p"
RC=$?
[ "$RC" = 130 ] || fail "SIGINT: exit $RC, not 130"
assert_gone ns2 "$INIT"

# Unprivileged: a user namespace maps nobody to root inside.
if ! command -v setpriv >/dev/null; then
	skip "setpriv missing: user-namespace path not tested"
fi
mkdir -p "$T/xdg" && chown 65534:65534 "$T/xdg" && chmod 755 "$T"
chmod 644 "$T/img.igvm" "$T/m"
if ! setpriv --reuid 65534 --regid 65534 --clear-groups \
	unshare -U true 2>/dev/null; then
	echo "ok (user namespaces not allowed for nobody here: unprivileged path not tested)"
	exit 0
fi
nob() {
	setpriv --reuid 65534 --regid 65534 --clear-groups \
		env XDG_RUNTIME_DIR="$T/xdg" "$@"
}
manifest "$T/mu" "u $SVC -- --record $T/xdg/u.rec"
chmod 644 "$T/mu"
nob "$P" run --name nsu --manifest "$T/mu" --timeout 2 "$T/img.igvm" \
	2>"$T/nsu.err"
RC=$?
[ "$RC" = 124 ] || {
	cat "$T/nsu.err"
	fail "unprivileged run: exit $RC, not 124 (timeout)"
}
grep -q 'ppid=1 ' "$T/xdg/u.rec" || fail "unprivileged: service did not run"
[ ! -e "$T/xdg/parapet/nsu" ] || fail "unprivileged: run dir left behind"

# Unprivileged with subordinate ids: newuidmap/newgidmap map a block of
# them, and every service runs as a uid of its own (host/ids.h). The
# test's own /etc/subuid and /etc/subgid (nobody: 400000, 65536 ids) are
# bound over the host's in a private mount namespace.
COUNTER=$(pwd)/$B/guests/counter.igvm
D=$(pwd)/$B/bin/parapet-diag
if [ ! -x /usr/bin/newuidmap ] || [ ! -x /usr/bin/newgidmap ] ||
	[ ! -f /etc/subuid ] || [ ! -f /etc/subgid ]; then
	echo "ok (no newuidmap or /etc/subuid: subordinate ids not tested)"
	exit 0
fi
printf '65534:400000:65536\n' >"$T/subid"
chmod 644 "$T/subid"
unshare -m sh -c 'mount --bind "$1" /etc/subuid &&
	mount --bind "$1" /etc/subgid && shift && exec "$@"' sh "$T/subid" \
	setpriv --reuid 65534 --regid 65534 --clear-groups \
	env XDG_RUNTIME_DIR="$T/xdg" "$P" run --name nss --timeout 120 \
	--guest-cmdline delay_ms=20 "$COUNTER" >"$T/nss.out" 2>"$T/nss.err" &
NSS=$!
wait_for "$T/xdg/parapet/nss/diag/diag.sock" ||
	fail "subordinate ids: no partition: $(cat "$T/nss.err")"
wait_grep '^3$' "$T/nss.out" || fail "subordinate ids: the guest does not print"
i=$(cat "$T/xdg/parapet/nss/init.pid")
for p in $(cat "/proc/$i/task/$i/children"); do
	echo "$(tr '\0' '\n' <"/proc/$p/cmdline" | head -n 1)" \
		"$(awk '/^Uid:/ {print $2}' "/proc/$p/status")"
done | sort >"$T/nss.uids"
printf 'diagd 400003\nhostcomm 400001\npolicy 400000\nvmworker 400002\n' |
	diff - "$T/nss.uids" ||
	fail "subordinate ids: services not as their own uids"
nob "$D" --vm nss ps >"$T/nss.ps" 2>&1 ||
	fail "subordinate ids: parapet-diag: $(cat "$T/nss.ps")"
nob "$P" ctl nss poweroff >/dev/null 2>&1 || fail "subordinate ids: ctl"
wait "$NSS"
RC=$?
[ "$RC" = 0 ] || fail "subordinate ids: exit $RC: $(tail -5 "$T/nss.err")"
[ ! -e "$T/xdg/parapet/nss" ] || fail "subordinate ids: run dir left behind"
echo "ok"
