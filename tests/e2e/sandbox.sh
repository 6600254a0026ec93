#!/bin/sh
# The service sandbox on running partitions (DESIGN.md §7): every thread of
# policy, hostcomm, vmworker and diagd filtered (Seccomp 2), NoNewPrivs 1,
# no capability, its own uid/gid; a minimal root and no host file among its
# fds; `parapet-diag sandbox SVC` (text and --json) agrees; --sandbox log
# and off; the sidecar thread's second filter on an SMP guest; a forbidden
# call reported by init as "killed by seccomp" with the syscall's name.
. "$(dirname "$0")/lib_partition.sh"

D=$(pwd)/$B/bin/parapet-diag
COUNTER=$B/guests/counter.igvm
SMP=$B/guests/smp.igvm
[ -x "$D" ] || fail "missing $D"
[ -f "$COUNTER" ] && [ -f "$SMP" ] || fail "missing guests (make all)"
for b in parapet-policy parapet-hostcomm parapet-vmworker parapet-diagd; do
	[ -x "$B/bin/$b" ] || skip "$b not built yet: no default partition"
done
command -v python3 >/dev/null || skip "python3 missing (JSON checks)"

SERVICES="policy hostcomm vmworker diagd"

# uid_of NAME SVC: the partition's first service uid (uid_base) + the
# service's profile number (sandbox/sandbox.h)
uid_of() {
	case $2 in
	policy) echo $(($(uid_base "$1") + 0)) ;;
	hostcomm) echo $(($(uid_base "$1") + 1)) ;;
	vmworker) echo $(($(uid_base "$1") + 2)) ;;
	diagd) echo $(($(uid_base "$1") + 3)) ;;
	esac
}

# root_of SVC ACCEL: the expected top of its root (find, sorted)
root_of() {
	fw="./sys ./sys/firmware ./sys/firmware/devicetree ./sys/firmware/fdt"
	r="./dev ./dev/null ./proc ./run ./run/parapet ./run/parapet/ipc"
	case $1 in
	policy) r="$r $fw" ;;
	hostcomm) r="$r ./run/parapet/host" ;;
	diagd) r="$r ./run/parapet/host $fw" ;;
	vmworker) [ "$2" = kvm ] && r="$r ./dev/kvm" ;;
	esac
	echo ". $r" | tr ' ' '\n' | sort | tr '\n' ' '
}

# threads PID: one line per thread: seccomp filters nnp caps... uid gid
threads() {
	for t in /proc/$1/task/*; do
		awk '/^Seccomp:/ {s=$2} /^Seccomp_filters:/ {f=$2}
		/^NoNewPrivs:/ {n=$2} /^Cap(Inh|Prm|Eff|Bnd|Amb):/ {c=c" "$2}
		/^Uid:/ {u=$2"/"$3"/"$4"/"$5} /^Gid:/ {g=$2"/"$3"/"$4"/"$5}
		END {print s, f, n, u, g, c}' "$t/status"
	done
}

# check_threads NAME SVC SECCOMP: every thread of SVC as sandboxed
check_threads() {
	pid=$(hostpid "$1" "$2") || fail "$1: no $2 under init"
	u=$(uid_of "$1" "$2")
	g=$(($(uid_base "$1") + 100))
	z=0000000000000000
	want="$3 $u/$u/$u/$u $u/$u/$u/$u $z $z $z $z $z"
	threads "$pid" >"$T/th" 2>/dev/null
	n=$(wc -l <"$T/th")
	[ "$n" -ge 2 ] || fail "$1 $2: only $n threads"
	awk -v w="$want" '{l=$1" "$4" "$5" "$6" "$7" "$8" "$9" "$10}
		$3 != 1 || l != w {bad=1; print} END {exit bad}' "$T/th" ||
		fail "$1 $2: threads not as '$want' (seccomp uids gids caps)"
	grep -q "^Groups:.*$g" "/proc/$pid/status" ||
		fail "$1 $2: not in the IPC group $g"
}

# check_root NAME SVC ACCEL: minimal root, no host file among the fds
check_root() {
	pid=$(hostpid "$1" "$2")
	got=$(cd "/proc/$pid/root" && find . -maxdepth 3 -not -path './proc/*' |
		sort | tr '\n' ' ')
	[ "$got" = "$(root_of "$2" "$3")" ] ||
		fail "$1 $2: root is '$got', want '$(root_of "$2" "$3")'"
	awk '$5 ~ "^/sys/firmware" && $6 !~ "^ro" {print; bad=1}
		END {exit bad}' "/proc/$pid/mountinfo" ||
		fail "$1 $2: /sys/firmware writable"
	awk '$5 == "/" && $6 !~ "^ro" {print; bad=1} END {exit bad}' \
		"/proc/$pid/mountinfo" || fail "$1 $2: root writable"
	for f in /proc/$pid/fd/*; do
		l=$(readlink "$f") || continue
		case $l in
		/dev/null | pipe:* | socket:* | anon_inode:*) ;;
		/memfd:parapet-*) [ "$2" = vmworker ] || fail "$2 has $l" ;;
		/dev/kvm) [ "$2" = vmworker ] || fail "$2 has $l" ;;
		*) fail "$1 $2: fd ${f##*/} -> $l (a host file)" ;;
		esac
	done
}

# check_diag NAME SVC MODE: parapet-diag sandbox SVC, text and --json
# (into $T/NAME.SVC.json, checked by check_json)
check_diag() {
	"$D" --vm "$1" sandbox "$2" >"$T/sb.txt" || fail "diag sandbox $2"
	head -n 1 "$T/sb.txt" |
		grep -q "^service $2 (pid [0-9]*): profile $2 ([0-9]* syscalls), mode $3$" ||
		fail "diag sandbox $2 text: $(head -n 1 "$T/sb.txt")"
	grep -q "TID .*SECCOMP .*UID" "$T/sb.txt" || fail "no thread table"
	"$D" --vm "$1" sandbox "$2" --json >"$T/$1.$2.json" ||
		fail "diag sandbox $2 --json"
}

# check_json NAME MODE SECCOMP: the four JSON replies (one python3: it
# starts slowly on a loaded host)
check_json() {
	python3 -c 'import json,sys
name,mode,sc=sys.argv[1],sys.argv[2],int(sys.argv[3])
b=int(sys.argv[5])
uids={"policy":b,"hostcomm":b+1,"vmworker":b+2,"diagd":b+3}
for svc,uid in uids.items():
    r=json.load(open("%s/%s.%s.json" % (sys.argv[4],name,svc)))
    assert r["service"]==svc and r["profile"]==svc and r["mode"]==mode, r
    assert r["profile_syscalls"]>=10 and len(r["threads"])>=2, r
    for t in r["threads"]:
        assert t.get("seccomp",0)==sc and t["no_new_privs"], t
        assert t["uid"]==uid and t["gid"]==uid, t
        for k in ("cap_eff","cap_prm","cap_bnd"):
            assert int(t[k],16)==0, t
    print("%s %s: profile %s, %d syscalls, %d threads, uid %d" %
          (name,mode,svc,r["profile_syscalls"],len(r["threads"]),uid))' \
		"$1" "$2" "$3" "$T" "$(uid_base "$1")" >>"$T/seen" ||
		fail "$1: diag sandbox --json: $(cat "$T/$1".*.json)"
}

# partition NAME ACCEL MODE SECCOMP: a counter guest, every check
partition() {
	start "$1" --accel "$2" --sandbox "$3" --guest-cmdline delay_ms=20 \
		"$COUNTER" >"$T/$1.out"
	wait_grep '^3$' "$T/$1.out" || fail "$1: the guest does not print"
	wait_for "$RUNBASE/$1/diag/diag.sock" || fail "$1: no diag.sock"
	for s in $SERVICES; do
		check_threads "$1" "$s" "$4"
		check_root "$1" "$s" "$2"
		check_diag "$1" "$s" "$3"
	done
	check_json "$1" "$3" "$4"
	"$P" ctl "$1" poweroff >/dev/null || fail "$1: ctl poweroff"
	wait_run "$1"
	! grep -q "killed by seccomp" "$T/$1.err" ||
		fail "$1: $(grep "killed by seccomp" "$T/$1.err")"
}

partition sbe emu strict 2
partition sbl emu log 2
partition sbo emu off 0
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	partition sbk kvm strict 2
else
	echo "no usable /dev/kvm: kvm partition skipped"
fi

# A forbidden call: init reports the seccomp kill and the syscall's name.
image img
for call in ptrace execve; do
	manifest "$T/m" "v $SVC -- --violate $call"
	start "sbv$call" --manifest "$T/m" "$T/img.igvm"
	wait_grep "v: killed by seccomp (exit 159)" "$T/sbv$call.err" ||
		fail "$call: no seccomp kill: $(cat "$T/sbv$call.err")"
	grep -q "test-service: seccomp: killed by syscall $call (" \
		"$T/sbv$call.err" || fail "$call: syscall not named"
	! grep -q "was allowed" "$T/sbv$call.err" || fail "$call allowed"
	stop_run "sbv$call"
	echo "forbidden $call: $(grep "killed by syscall" "$T/sbv$call.err" |
		head -n 1)" >>"$T/seen"
done

# Sidecar: with 3 VPs the APs' sidecar threads add their own filter (VP 2
# never starts, so its thread keeps its filter; VP 1 loops long)
# (Seccomp_filters 2); every other thread has the process filter only.
start sbs --accel emu --cpus 3 --guest-cmdline pio=2000000000 "$SMP" \
	>"$T/sbs.out"
# sidecar_sampled: $T/th shows a thread with the sidecar filter (the
# sample checked below; vmworker's pid in $pid), or a seccomp kill came
sidecar_sampled() {
	pid=$(hostpid sbs vmworker) &&
		threads "$pid" >"$T/th" 2>/dev/null &&
		awk '$2 == 2 {f=1} END {exit !f}' "$T/th" && return 0
	grep -q "killed by seccomp" "$T/sbs.err"
}
# a slow (sanitizer, loaded) start takes a while
wait_until 300 sidecar_sampled
sleep 1 # VP 1 loops on in its sidecar thread: it must not be killed
! grep -q "killed by seccomp" "$T/sbs.err" ||
	fail "smp on emu: $(grep "seccomp" "$T/sbs.err" | head -n 2)"
[ "$(hostpid sbs vmworker)" = "$pid" ] || fail "smp: vmworker restarted"
awk '$1 != 2 || ($2 != 1 && $2 != 2) {bad=1} $2 == 2 {n++}
	END {exit bad || !n}' "$T/th" ||
	fail "sidecar filters: $(cat "$T/th")"
echo "sidecar threads with 2 filters: $(awk '$2 == 2' "$T/th" | wc -l)" \
	>>"$T/seen"
stop_run sbs

cat "$T/seen"
exit 0
