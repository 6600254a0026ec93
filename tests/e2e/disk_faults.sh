#!/bin/sh
# parapet-blkd restarts losslessly (docs/disks.md, "A backend restarts"),
# and vmworker is serviced with the disk in use, all on one run of the
# disk guest's torture mode: blkd is killed (SIGKILL, init restarts it),
# restarted gracefully (parapet-diag restart blkd) and vmworker serviced
# (parapet-diag restart vmworker), interleaved, DISK_FAULT_KILLS,
# _RESTARTS and _SERVICINGS times (20 each); every 4th servicing meets a
# kill -9 of blkd as well. vmworker hands each new blkd
# the running queue and the inflight region, and each new vmworker the
# drained queue: the guest sees no error and no timeout, every request
# completes once (a second completion is a bogus used entry, exit 3), and
# every sector it wrote reads back right. Its console holds every line
# once: the numbered ticks (tick_ms) run 1..N without a gap or a repeat.
# No zombie is left; the last vmworker and each blkd hold the first one's
# files and at most 2 more sockets. Prints the restart time vmworker
# measured per blkd restart and the guest's longest stalls.
. "$(dirname "$0")/lib_partition.sh"
G=$B/guests
DIAG=$B/bin/parapet-diag
for f in "$G/disk.igvm" "$DIAG"; do
	[ -e "$f" ] || fail "missing $f (run make all)"
done
usable_accels "disks"
KILLS=${DISK_FAULT_KILLS:-20}
RESTARTS=${DISK_FAULT_RESTARTS:-20}
SERVICINGS=${DISK_FAULT_SERVICINGS:-20}
SECONDS_RUN=${DISK_FAULT_SECONDS:-900}
TOTAL=$((KILLS + RESTARTS + SERVICINGS))
n=dfault

blkd_pid() { hostpid "$n" blkd 2>/dev/null; }
vmw_pid() { hostpid "$n" vmworker 2>/dev/null; }
reqs() {
	"$DIAG" --vm "$n" disks --json 2>/dev/null | jq '.[0].requests // 0'
}
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# serving: blkd is a new instance (not $old) and has run requests
serving() {
	p=$(blkd_pid) || return 1
	[ "$p" != "$old" ] && [ "$(reqs)" -gt 0 ]
}
# settled: blkd has been up over a second, so that init restarts it at
# once after a kill (one that died younger is restarted after a backoff)
HZ=$(getconf CLK_TCK)
settled() {
	p=$(blkd_pid) || return 1
	up=$(awk -v u="$(cut -d' ' -f1 /proc/uptime)" -v hz="$HZ" \
		'{ print int(u * 1000 - $22 * 1000 / hz) }' "/proc/$p/stat" 2>/dev/null)
	[ "${up:-0}" -gt 1200 ]
}
# serviced: a new vmworker (not $oldvmw) and blkd ran more requests
# (its count starts again in a new blkd: then more than 0)
serviced() {
	v=$(vmw_pid) || return 1
	[ "$v" != "$oldvmw" ] && [ "$(reqs)" -gt "$reqs0" ]
}
servicing() {
	"$DIAG" --vm "$n" restart vmworker >"$T/service.out" 2>&1 || {
		cat "$T/service.out"
		tail -n 20 "$T/$n.err"
		return 1
	}
}
guest_running() { kill -0 "$run" 2>/dev/null; }
# fdkinds PID: what PID's descriptors point at, without inode numbers,
# counted (sockets apart)
fdkinds() {
	for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null |
		sed 's/\[[0-9]*\]//' | grep -v '^socket:' | sort | uniq -c
}
socks() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'socket:'; }
# blkd_fds_ok: a new blkd holds what the first held. Its sockets are its
# listeners and its clients' connections; a client of its IPC endpoint
# (vmworker, diagd) may hold a second connection for a while after a
# restart (nng 1.5.2 redials with a new dialer while the old one's
# connection is still in its handshake), so up to 2 more are allowed: a
# leak grows past that over 60 faults.
blkd_fds_ok() {
	p=$(blkd_pid) || return 1
	[ "$(fdkinds "$p")" = "$blkd_kinds" ] &&
		[ "$(socks "$p")" -le $((blkd_socks + 2)) ]
}
# vmw_fds_ok: the last vmworker holds what the first held, with the same
# allowance as blkd's for its clients' second connections (up to 2 more
# sockets: one such was seen under the sanitizers, 30 against 28).
vmw_fds_ok() {
	p=$(vmw_pid) || return 1
	[ "$(fdkinds "$p")" = "$vmw_kinds" ] &&
		[ "$(socks "$p")" -le $((vmw_socks + 2)) ]
}
# kill_busy PID: SIGKILL, preferably while a thread of PID is in a disk
# read or write (preadv, pwritev): a request taken and not completed, for
# the next instance to run again. PID is stopped to look (SIGSTOP), and
# continued when it is not there.
kill_busy() {
	k=0
	while [ "$k" -lt 1000 ]; do
		kill -STOP "$1"
		for f in /proc/"$1"/task/*/syscall; do
			read -r sc _ <"$f" 2>/dev/null || continue
			case $sc in
			295 | 296)
				kill -KILL "$1"
				return
				;;
			esac
		done
		kill -CONT "$1"
		k=$((k + 1))
	done
	kill -KILL "$1"
}

# The torture runs until the faults are done: then a 'q' on its console
# (parapet run's stdin, a fifo held open here as fd 3) ends it, and it
# reads the whole region back. SECONDS_RUN only bounds it.
rm -f "$T/f.img"
truncate -s 8M "$T/f.img"
mkfifo "$T/in"
"$P" run --name "$n" --disk "$T/f.img" \
	--guest-cmdline "mode=torture seconds=$SECONDS_RUN sectors=8192 tick_ms=100 stall_ms=100" \
	"$G/disk.igvm" >"$T/$n.out" 2>"$T/$n.err" <"$T/in" &
run=$!
RUN_PIDS="$RUN_PIDS $run"
exec 3>"$T/in"
wait_grep "torture: " "$T/$n.out" || {
	cat "$T/$n.err"
	fail "no torture"
}
INIT=$(cat "$RUNBASE/$n/init.pid")
old=
wait_until 300 serving || fail "blkd does not serve the disk"
vmw_fds=$(fds "$(vmw_pid)")
vmw_kinds=$(fdkinds "$(vmw_pid)")
vmw_socks=$(socks "$(vmw_pid)")
blkd_fds=$(fds "$(blkd_pid)")
blkd_kinds=$(fdkinds "$(blkd_pid)")
blkd_socks=$(socks "$(blkd_pid)")
fdlist() { ls -l "/proc/$1/fd" 2>&1 | sed 's/.* \([0-9]* -> \)/\1/'; }
fdlist "$(blkd_pid)" >"$T/blkd.fds"
fdlist "$(vmw_pid)" >"$T/vmw.fds"

# kill, restart, servicing in turn: a kill finds blkd up over a second
# (the servicing before it gave it the time), and each fault meets a
# queue the one before changed hands
kills=0 restarts=0 servicings=0 overlaps=0 i=0
t0=$(date +%s)
while [ "$i" -lt "$TOTAL" ]; do
	guest_running ||
		fail "the guest ended after $i of $TOTAL faults (raise DISK_FAULT_SECONDS)"
	i=$((i + 1))
	case $((i % 3)) in
	1) what=kill ;;
	2) what=restart ;;
	0) what=service ;;
	esac
	[ "$what" = kill ] && [ "$kills" -ge "$KILLS" ] && what=restart
	[ "$what" = restart ] && [ "$restarts" -ge "$RESTARTS" ] && what=service
	[ "$what" = service ] && [ "$servicings" -ge "$SERVICINGS" ] && what=kill
	case $what in
	kill)
		wait_until 600 settled || fail "no blkd before kill $((kills + 1))"
		old=$(blkd_pid) || fail "no blkd"
		kill_busy "$old"
		kills=$((kills + 1))
		;;
	restart)
		old=$(blkd_pid) || fail "no blkd"
		"$DIAG" --vm "$n" restart blkd >"$T/restart.out" 2>&1 || {
			cat "$T/restart.out"
			fail "parapet-diag restart blkd"
		}
		restarts=$((restarts + 1))
		;;
	service)
		oldvmw=$(vmw_pid) || fail "no vmworker"
		old=$(blkd_pid) || fail "no blkd"
		reqs0=$(reqs)
		servicings=$((servicings + 1))
		if [ $((servicings % 4)) -eq 0 ]; then
			# blkd killed during the servicing: in the drain, between
			# the save and the restore, or as the next vmworker starts
			# the queue
			servicing &
			svc=$!
			sleep "0.$((servicings / 4 % 5))"
			kill -KILL "$old"
			overlaps=$((overlaps + 1))
			wait "$svc" || fail "servicing $servicings with a kill"
			reqs0=0
		else
			servicing || fail "servicing $servicings"
		fi
		wait_until 600 serviced || {
			tail -n 20 "$T/$n.out" "$T/$n.err"
			fail "the disk does not run after servicing $servicings"
		}
		continue
		;;
	esac
	wait_until 600 serving || {
		tail -n 20 "$T/$n.out"
		fail "blkd does not serve again after fault $i ($what)"
	}
	# (a diagd connection just closed may still be counted: a moment)
	wait_until 50 blkd_fds_ok || {
		fdlist "$(blkd_pid)" | diff "$T/blkd.fds" -
		fail "blkd holds $(fds "$(blkd_pid)") descriptors after fault $i ($what), the first held $blkd_fds"
	}
done
t1=$(date +%s)
guest_running ||
	fail "the guest ended before the faults were done (raise DISK_FAULT_SECONDS)"
[ "$(ps -o stat= --ppid "$INIT" | grep -c Z)" -eq 0 ] ||
	fail "a zombie under init"
vmw_pid >/dev/null || fail "no vmworker at the end"
wait_until 50 vmw_fds_ok || {
	fdlist "$(vmw_pid)" | diff "$T/vmw.fds" -
	fail "vmworker held $vmw_fds descriptors at first, the last holds $(fds "$(vmw_pid)")"
}
"$DIAG" --vm "$n" logs vmworker >"$T/vmw.log" 2>&1
"$DIAG" --vm "$n" logs blkd >"$T/blkd.log" 2>&1
# what each new instance ran again (its log: "N requests taken before...")
resubmitted=$(sed -n 's/.*: \([0-9]*\) requests* taken before the restart.*/\1/p' \
	"$T/blkd.log" | awk '{ s += $1 } END { print s + 0 }')
"$DIAG" --vm "$n" disks --json >"$T/disks.json" 2>&1

printf q >&3
exec 3>&-
wait "$run"
rc=$?
RUN_PIDS=
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$T/$n.out" "$T/$n.err"
	fail "the guest exited $rc"
fi
grep -q "torture: verified [0-9]* sectors, 0 bad" "$T/$n.out" || {
	tail -n 30 "$T/$n.out"
	fail "torture did not verify"
}
grep "torture: verified" "$T/$n.out"
grep -q "torture: stopped from the console" "$T/$n.out" ||
	fail "the torture ended by its time, not after the faults"
# kill_busy caught blkd in a request at least once: the inflight region
# carried it to the next instance
[ "$resubmitted" -gt 0 ] || {
	cat "$T/blkd.log"
	fail "no request was run again by a new blkd"
}
restarted=$(grep -c "queue restarted in the new backend" "$T/vmw.log")
[ "$restarted" -ge $((kills + restarts)) ] || {
	cat "$T/vmw.log"
	fail "vmworker restarted the queue $restarted times, want $((kills + restarts))"
}
# the console: each tick once, in order, and every other line once
sed -n 's/^torture: tick \([0-9]*\),.*/\1/p' "$T/$n.out" >"$T/ticks.txt"
ticks=$(wc -l <"$T/ticks.txt")
[ "$ticks" -gt 0 ] && seq 1 "$ticks" | cmp -s - "$T/ticks.txt" || {
	seq 1 "$ticks" | diff - "$T/ticks.txt" | head -n 10
	fail "the console's ticks are not 1..$ticks once each"
}
dup=$(grep -v '^torture: tick ' "$T/$n.out" | sort | uniq -d | head -n 3)
[ -z "$dup" ] || fail "console lines twice: $dup"
# the queue's stall per blkd restart, from vmworker's own clock
sed -n 's/.*queue restarted in the new backend after \([0-9]*\) us.*/\1/p' \
	"$T/vmw.log" | sort -n >"$T/stall.txt"
cnt=$(wc -l <"$T/stall.txt")
p50=$(sed -n "$(((cnt + 1) / 2))p" "$T/stall.txt")
p99=$(sed -n "$(((cnt * 99 + 99) / 100))p" "$T/stall.txt")
# and the guest's: the gaps between completions of 100 ms or more
gmax=$(sed -n 's/^torture: stall of \([0-9]*\) us.*/\1/p' "$T/$n.out" |
	sort -n | tail -n 1)
echo "disk_faults: $kills kill -9, $restarts restarts of blkd, $servicings" \
	"servicings ($overlaps with a kill -9 of blkd) in $((t1 - t0)) s; $resubmitted requests run again;" \
	"$ticks ticks; queue stalled p50 $((p50 / 1000)) ms, p99" \
	"$((p99 / 1000)) ms, max $(($(tail -n 1 "$T/stall.txt") / 1000)) ms;" \
	"the guest's longest stall $((${gmax:-0} / 1000)) ms"
echo "disk_faults: all passed"
