#!/bin/sh
# Servicing across releases (docs/servicing.md): one counter guest whose
# hostcomm, vmworker and diagd are the previous release's (the newest in
# RELEASES older than HEAD, built by scripts/build-release.sh), under this
# build's init and policy. vmworker goes old -> new -> old (saved-state
# version 1 both ways, 2 between two new ones), hostcomm and diagd
# old -> new -> old, policy new -> old; a vmworker reading only a newer
# version is refused before the guest pauses; an old policy answers the
# new command with its error and still talks to the new services. The
# console stays exactly once and the guest's clock sees every pause.
# Then a partition wholly on the old release, on emu and (where it works)
# kvm, services vmworker to this build's and back. BUILD is the build directory; exit 77 only when RELEASES names no
# older release.
set -u
build=${BUILD:-build}
. "$(dirname "$0")/lib_e2e.sh"
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 1

# the newest release that is an ancestor of HEAD (and not HEAD itself)
head=$(git -C "$top" rev-parse HEAD)
old=""
while read -r ver commit; do
	case $ver in '#'* | '') continue ;; esac
	[ "$commit" != "$head" ] &&
		git -C "$top" merge-base --is-ancestor "$commit" HEAD 2>/dev/null &&
		{ old=$commit; oldver=$ver; }
done <"$top/RELEASES"
if [ -z "$old" ]; then
	# a shallow clone lacks the release commits: say so, not "none"
	[ "$(git -C "$top" rev-parse --is-shallow-repository)" = true ] &&
		{ echo "this clone is shallow: RELEASES' commits are not in it"; exit 77; }
	echo "RELEASES names no release older than HEAD"
	exit 77
fi

partition_script
command -v jq >/dev/null || { echo "jq missing (make deps)"; exit 77; }
PROBE=$(cd "$build" && pwd)/tests/parapet-ipc-probe
for f in "$build/bin/parapet" "$build/tests/parapet-fake-newer" "$PROBE"; do
	[ -e "$f" ] || { echo "missing $f"; exit 1; }
done
t0=$(date +%s)
rel=$("$top/scripts/build-release.sh" "$old") ||
	{ echo "FAIL: building release $oldver ($old)"; exit 1; }
echo "release $oldver ready in $(($(date +%s) - t0)) s: $rel"

# The partition's programs: this build's host side, init and policy; the
# old release's services. Copies (parapet finds the others next to its
# own /proc/self/exe), root-owned and nobody else's to write, as init
# wants a --binary.
mix=$tmp/mix
mkdir -p "$mix" "$tmp/new" "$tmp/old"
for p in parapet parapet-boot parapet-init parapet-policy parapet-diag; do
	cp "$build/bin/$p" "$mix/"
done
for p in parapet-hostcomm parapet-vmworker parapet-diagd parapet-blkd; do
	cp "$rel/bin/$p" "$mix/"
done
for p in parapet-hostcomm parapet-vmworker parapet-diagd parapet-policy; do
	cp "$build/bin/$p" "$tmp/new/$p"
	cp "$rel/bin/$p" "$tmp/old/$p"
done
cp "$build/tests/parapet-fake-newer" "$tmp/fake-newer"
P=$mix/parapet
D=$mix/parapet-diag

# the old release's programs do not know --version; this one's say
# which saved-state versions they read
"$tmp/old/parapet-vmworker" --version 2>/dev/null | grep -q "saved-state" &&
	fail "release $oldver's vmworker knows --version"
"$tmp/new/parapet-vmworker" --version | grep -qx "saved-state read 1 2" ||
	fail "vmworker --version: $("$tmp/new/parapet-vmworker" --version)"

# step WHAT: how long the script has run, before each step
step() {
	echo "$(($(date +%s) - t0)) s: $*"
}

diag_up() {
	"$D" --vm "$1" ps >/dev/null 2>&1
}

# running NAME SVC PATH: SVC runs from PATH, and from no other of the
# test's copies (init's ps shows pids of the partition's namespace: the
# processes are found by their executable instead)
running() {
	_n=0
	_this=0
	for _d in /proc/[0-9]*; do
		_e=$(readlink "$_d/exe" 2>/dev/null) || continue
		case $_e in
		"$mix/parapet-$2" | "$tmp/new/parapet-$2" | "$tmp/old/parapet-$2")
			_n=$((_n + 1))
			[ "$_e" = "$3" ] && _this=1
			;;
		esac
	done
	[ $_n -eq 1 ] && [ $_this -eq 1 ]
}

# progress NAME: the guest printed more lines within 1 s
progress() {
	before=$(wc -l <"$tmp/$1.out")
	wait_until 100 more_lines "$tmp/$1.out" "$before"
}

# ctl NAME ARGS...: parapet ctl, its output in $tmp/ctl.out
ctl() {
	n=$1
	shift
	timeout 60 "$P" ctl "$n" "$@" >"$tmp/ctl.out" 2>&1
}

# vmworker_to NAME DIR FORMAT: servicing into DIR's vmworker, whose
# saved state had format version FORMAT
vmworker_to() {
	k=$(grep -c "restored: blackout" "$tmp/$1.err")
	ctl "$1" service --binary "$2/parapet-vmworker" ||
		{ fail "$1: service to $2: $(cat "$tmp/ctl.out")"; return 1; }
	grep -q blackout "$tmp/ctl.out" || fail "$1: $(cat "$tmp/ctl.out")"
	wait_until 100 running "$1" vmworker "$2/parapet-vmworker" ||
		fail "$1: vmworker is not $2's"
	[ "$(grep -c "restored: blackout" "$tmp/$1.err")" -gt "$k" ] ||
		fail "$1: no blackout logged for the servicing to $2"
	[ -z "$3" ] || grep "saved [0-9]* bytes" "$tmp/$1.err" | tail -n 1 |
		grep -q "format version $3" ||
		fail "$1: the state for $2 was not version $3: $(grep "saved [0-9]* bytes" "$tmp/$1.err" | tail -n 1)"
	progress "$1" || fail "$1: the guest stopped after the servicing to $2"
}

# replace NAME SVC DIR: SVC into DIR's binary, ready
replace() {
	ctl "$1" service --service "$2" --binary "$3/parapet-$2" ||
		{ fail "$1: replace $2 by $3: $(cat "$tmp/ctl.out")"; return 1; }
	wait_until 300 running "$1" "$2" "$3/parapet-$2" ||
		fail "$1: $2 is not $3's: $("$D" --vm "$1" ps 2>&1)"
}

step boot
n=upg$$
names=$n
"$P" run --name "$n" --accel emu --timeout 600 \
	--guest-cmdline "delay_ms=2 stamp=1" "$build/guests/counter.igvm" \
	>"$tmp/$n.out" 2>"$tmp/$n.err" &
wait_until 600 diag_up "$n" && wait_until 600 test -s "$tmp/$n.out" ||
	{ fail "$n did not come up"; exit 1; }
running "$n" vmworker "$mix/parapet-vmworker" ||
	fail "$n: vmworker is not the old release's"

# this build's IPC calling the old release's services: a method neither
# knows is answered with the unknown method error (the new policy's calls
# with fields the old ones lack are the servicings below)
ip=$(cat "/run/parapet/$n/init.pid")
for s in vmworker hostcomm; do
	nsenter -t "$ip" -m -n -p "$PROBE" --as policy --unknown-method \
		"/run/parapet/ipc/$s/$s.sock" >"$tmp/probe.out" 2>&1 ||
		fail "$n: old $s: $(cat "$tmp/probe.out")"
	cat "$tmp/probe.out"
done

# vmworker: old -> new (the old one writes 1, ignoring the new reader
# fields of Save), new -> new (2), a newer one refused before the guest
# pauses, new -> old (init finds no --version: 1).
step vmworker
vmworker_to "$n" "$tmp/new" ""
vmworker_to "$n" "$tmp/new" 2
saves=$(grep -c "saved [0-9]* bytes" "$tmp/$n.err")
if ctl "$n" service --binary "$tmp/fake-newer" ||
	! grep -q "no common version" "$tmp/ctl.out"; then
	fail "$n: a vmworker reading only version 3 was not refused: $(cat "$tmp/ctl.out")"
fi
[ "$(grep -c "saved [0-9]* bytes" "$tmp/$n.err")" -eq "$saves" ] ||
	fail "$n: the guest was saved for a vmworker it could not write for"
running "$n" vmworker "$tmp/new/parapet-vmworker" ||
	fail "$n: vmworker changed after a refusal"
progress "$n" || fail "$n: the guest stopped after a refusal"
vmworker_to "$n" "$tmp/old" 1

# hostcomm (the console's and ctl's path: their state is parapet run's)
# and diagd (init's log rings, vmworker's trace): old -> new -> old.
step hostcomm diagd
for s in hostcomm diagd; do
	replace "$n" "$s" "$tmp/new"
	progress "$n" || fail "$n: the guest stopped under a new $s"
	# the log lines from before the restart are init's, still there
	"$D" --vm "$n" logs vmworker 2>&1 | grep -q "restored the saved state" ||
		fail "$n: parapet-diag logs under a new $s"
	replace "$n" "$s" "$tmp/old"
	progress "$n" || fail "$n: the guest stopped under an old $s"
done
ctl "$n" status || fail "$n: status after hostcomm and diagd: $(cat "$tmp/ctl.out")"

# policy new -> old (its state is vmworker's and init's, asked again at
# start): the old policy still answers ctl and drives the new init and
# vmworker; the new command is unknown to it, answered with its error.
step policy
replace "$n" policy "$tmp/old"
wait_until 300 ctl "$n" status || fail "$n: status under an old policy: $(cat "$tmp/ctl.out")"
grep -q "running" "$tmp/ctl.out" || fail "$n: $(cat "$tmp/ctl.out")"
if ctl "$n" service --service diagd --binary "$tmp/new/parapet-diagd" ||
	! grep -q "unknown command" "$tmp/ctl.out"; then
	fail "$n: an old policy took replace: $(cat "$tmp/ctl.out")"
fi
vmworker_to "$n" "$tmp/new" ""
vmworker_to "$n" "$tmp/old" 1

step poweroff
ctl "$n" poweroff
wait
counter_exact "$tmp/$n.out" ||
	fail "$n: console numbers not exactly once in order"

# the guest's own clock (stamp=1: "N T", T in µs) saw each pause: the
# largest gaps cover the largest blackouts
grep -o "restored: blackout [0-9.]*" "$tmp/$n.err" | cut -d' ' -f3 |
	sort -rn >"$tmp/blackouts"
k=$(wc -l <"$tmp/blackouts")
[ "$k" -ge 5 ] || fail "$n: $k blackouts logged, want 5"
awk 'NF == 2 && prev != "" { d = $2 - prev; if (d < 0) d += 4294967296;
       printf "%.3f\n", d / 1000 } NF == 2 { prev = $2 }' \
	"$tmp/$n.out" | sort -rn | head -n "$k" >"$tmp/gaps"
paste "$tmp/gaps" "$tmp/blackouts" | awk '$1 < $2 - 1 {
	printf "guest gap %s ms < blackout %s ms\n", $1, $2; bad = 1 }
	END { exit bad }' || fail "$n: a servicing pause the guest did not see"
grep -q "guest crashed" "$tmp/$n.err" && fail "$n: a crash was reported"
echo "blackouts (ms):" $(cat "$tmp/blackouts")

# The whole partition on the old release (its parapet, init, policy and
# services, its own counter image), on each usable accelerator (kvm's
# state adds the FPU, MSRs and pending events): its ctl services vmworker
# to this build's and back. The old policy sends no reader range, so the
# new vmworker writes version 1, which the old one reads.
usable_accels "a partition wholly on $oldver"
for a in $accels; do
	step "old partition ($a)"
	o=upgo$a$$
	names="$names $o"
	"$rel/bin/parapet" run --name "$o" --accel "$a" --timeout 600 \
		--guest-cmdline "delay_ms=2" "$rel/guests/counter.igvm" \
		>"$tmp/$o.out" 2>"$tmp/$o.err" &
	wait_until 600 test -s "$tmp/$o.out" || fail "$o did not come up"
	for d in "$tmp/new" "$tmp/old"; do
		k=$(grep -c "restored: blackout" "$tmp/$o.err")
		timeout 60 "$rel/bin/parapet" ctl "$o" service \
			--binary "$d/parapet-vmworker" >"$tmp/ctl.out" 2>&1 ||
			fail "$o: the old ctl's service to $d: $(cat "$tmp/ctl.out")"
		wait_until 100 running "$o" vmworker "$d/parapet-vmworker" ||
			fail "$o: vmworker is not $d's"
		[ "$(grep -c "restored: blackout" "$tmp/$o.err")" -gt "$k" ] ||
			fail "$o: no blackout logged for the servicing to $d"
		progress "$o" ||
			fail "$o: the guest stopped after the servicing to $d"
	done
	grep "saved [0-9]* bytes" "$tmp/$o.err" | grep -q "format version 1" ||
		fail "$o: the new vmworker did not write version 1 for an old policy"
	timeout 60 "$rel/bin/parapet" ctl "$o" poweroff >/dev/null 2>&1
	wait
	counter_exact "$tmp/$o.out" ||
		fail "$o: console numbers not exactly once in order"
	grep -q "guest crashed" "$tmp/$o.err" && fail "$o: a crash was reported"
done

grep -E "saved [0-9]* bytes|reads saved-state|no saved-state versions|no common version|replace |unknown command" "$tmp/$n.err"
san_scan "$tmp" || fails=$((fails + 1))
step done
[ $fails -eq 0 ] && echo "upgrade: $oldver -> HEAD -> $oldver: all checks passed"
[ $fails -eq 0 ]
