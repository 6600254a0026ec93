#!/bin/sh
# The guest suite through `parapet-vmworker --standalone` on one
# accelerator: vmworker_guests.sh emu|kvm. Exit 0 pass, 77 skip (kvm
# absent), anything else fail. BUILD is the build directory.
set -u
accel=${1:-emu}
build=${BUILD:-build}
vmw="$build/bin/parapet-vmworker"
parapet="$build/bin/parapet"
g="$build/guests"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
	echo "FAIL [$accel]: $*"
	fails=$((fails + 1))
}

# run NAME EXPECTED_RC ARGS...: runs the worker, keeps stdout/stderr.
run() {
	name=$1
	want=$2
	shift 2
	timeout 120 "$vmw" --standalone --accel "$accel" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" <"${STDIN:-/dev/null}"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit $rc, want $want"
		sed 's/^/    stderr: /' "$tmp/$name.err" | tail -n 5
	fi
}

expect_out() {
	grep -q -- "$2" "$tmp/$1.out" || fail "$1: stdout lacks '$2'"
}

if [ "$accel" = kvm ]; then
	if ! "$vmw" --standalone --accel kvm "$g/hello.igvm" \
		>/dev/null 2>"$tmp/probe.err"; then
		echo "kvm accelerator unusable here, kvm cases skipped:" \
			"$(grep -o 'accel kvm:.*' "$tmp/probe.err")"
		exit 77
	fi
	# Exits cost ~20 µs on nested KVM: keep the loops short.
	loop_n=20000
else
	loop_n=2000000
fi

run hello 0 "$g/hello.igvm" --guest-cmdline "who=e2e x=1" --cpus 3
expect_out hello "^hello from parapet guest"
expect_out hello "^cmdline: who=e2e x=1"
expect_out hello "^vp count: 3"
grep -q 'accel\|warning' "$tmp/hello.out" && fail "hello: Parapet text on stdout"

run counter 0 "$g/counter.igvm" --guest-cmdline "count=5 delay_ms=2"
printf '0\n1\n2\n3\n4\n' | cmp -s - "$tmp/counter.out" ||
	fail "counter: stdout is not exactly 0..4"

run pio 0 "$g/pio_loop.igvm" --guest-cmdline "n=$loop_n"
expect_out pio "^pio_loop: n=$loop_n sum="
run mmio 0 "$g/mmio_loop.igvm" --guest-cmdline "n=$((loop_n / 10))"
expect_out mmio "^mmio_loop: n=$((loop_n / 10)) sum="

# smp on full VP threads, then with VPs 1-3 as sidecar CPUs: plain, with
# every command logged, and hot-plugged after a few exits.
run smp 0 "$g/smp.igvm" --cpus 4 --sidecar-cpus none
expect_out smp "^smp: all 4 VPs up"
for i in 1 2 3; do expect_out smp "^vp $i up"; done
run smp_sidecar 0 "$g/smp.igvm" --cpus 4 --sidecar-cpus 1-3
expect_out smp_sidecar "^smp: all 4 VPs up"
run smp_log 0 "$g/smp.igvm" --cpus 4 --sidecar-cpus 1-3 --cmdline sidecar=log
expect_out smp_log "^smp: all 4 VPs up"
grep -q "sidecar vp2: RUN_VP" "$tmp/smp_log.err" || fail "sidecar=log: no command log"
grep -q "sidecar vp3: intercept io write 0x3f8" "$tmp/smp_log.err" ||
	fail "sidecar=log: no intercept log"
run smp_hotplug 0 "$g/smp.igvm" --cpus 4 --sidecar-cpus auto --sidecar-hotplug 5
expect_out smp_hotplug "^smp: all 4 VPs up"
[ "$(grep -c "hot-plugged after 5 exits" "$tmp/smp_hotplug.err")" -eq 3 ] ||
	fail "hot-plug: not every sidecar VP was hot-plugged"
run smp_badlist 125 "$g/smp.igvm" --cpus 4 --sidecar-cpus 0-2
grep -q -- "--sidecar-cpus" "$tmp/smp_badlist.err" || fail "bad sidecar list not named"

printf 'hello world\nquit\n' >"$tmp/echo.in"
STDIN="$tmp/echo.in" run echo 0 "$g/echo.igvm"
expect_out echo "^HELLO WORLD"

run crash 123 "$g/crash.igvm"
grep -q "guest crashed: vp0: .* at RIP 0x" "$tmp/crash.err" ||
	fail "crash: no reason with RIP on stderr"

# A secret in the measured (VTL2) configuration never reaches the guest.
secret=s3cr3tvtl2
"$parapet" igvm build --guest "$g/evil.pvh.elf" --config "secret=$secret" \
	-o "$tmp/evil.igvm" || fail "cannot build evil image"
run evil 0 "$tmp/evil.igvm"
expect_out evil "vtl2: 32 of 32 reads all ones"
expect_out evil "^evil: done"
# "parapet-config" as bytes, and its first 8 bytes as a little-endian u64.
hex=$(printf "%s" "parapet-config" | od -An -tx1 | tr -d " \n")
if grep -qi -e "$secret" -e "$hex" -e "2d74657061726170" "$tmp/evil.out"; then
	fail "evil: VTL2 configuration leaked into guest output"
fi

run flood 124 "$g/evil.igvm" --guest-cmdline mode=flood --timeout 2
[ "$(wc -c <"$tmp/flood.out")" -gt 10000 ] || fail "flood: little output"
run spin 124 "$g/evil.igvm" --guest-cmdline mode=spin --timeout 1

printf 'IGVMnonsense' >"$tmp/bad.igvm"
run bad 125 "$tmp/bad.igvm"
grep -q "bad.igvm: " "$tmp/bad.err" || fail "bad image: no error naming it"
run badflag 125 "$g/hello.igvm" --cpus 0
grep -q -- "--cpus" "$tmp/badflag.err" || fail "bad flag not named"

# sanitizer builds: no report (ASan, LeakSanitizer, UBSan) in any run
for f in "$tmp"/*.err; do
	grep -E -q 'ERROR: (Address|Leak)Sanitizer|runtime error: ' "$f" ||
		continue
	echo "FAIL: sanitizer report in ${f##*/}: $(grep -E -m 1 \
		'ERROR: (Address|Leak)Sanitizer|runtime error: ' "$f")"
	fails=$((fails + 1))
done
[ $fails -eq 0 ] && echo "all vmworker cases passed on $accel"
[ $fails -eq 0 ]
