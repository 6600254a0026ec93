#!/bin/sh
# `parapet run` refuses bad input with exit 125 and one line naming what
# is wrong: bad flags, corrupt images, corrupt host device trees, bad
# paravisor options, a bad manifest, a name already running, a manifest
# whose every service fails. The default manifest runs the guest.
. "$(dirname "$0")/lib_partition.sh"

image img
image allow --allow-host-cmdline
manifest "$T/m" "a $SVC -- --record $T/a.rec"

# expect125 PATTERN ARGS...: exit 125, a "parapet..." line matching PATTERN.
expect125() {
	pat=$1
	shift
	"$P" run "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 125 ] || {
		cat "$T/err"
		fail "parapet run $*: exit $rc, not 125"
	}
	grep -q -- "$pat" "$T/err" || {
		cat "$T/err"
		fail "parapet run $*: no error matching '$pat'"
	}
	[ ! -s "$T/out" ] || fail "parapet run $*: wrote to stdout"
}

expect125 'expected IMAGE.igvm'
expect125 "unknown option '--bogus'" --bogus "$T/img.igvm"
expect125 '--cpus needs a value' "$T/img.igvm" --cpus
expect125 "--cpus '0': want 1-64" --cpus 0 "$T/img.igvm"
expect125 "--accel 'fast'" --accel fast "$T/img.igvm"
expect125 "--mem '12345'" --mem 12345 "$T/img.igvm"
expect125 "--sidecar-cpus '1-x'" --sidecar-cpus 1-x "$T/img.igvm"
expect125 "--sandbox 'maybe'" --sandbox maybe "$T/img.igvm"
expect125 "--timeout '0'" --timeout 0 "$T/img.igvm"
expect125 "--name 'a/b'" --name a/b "$T/img.igvm"
expect125 "image $T/none.igvm" "$T/none.igvm"
expect125 'expected one IMAGE' "$T/img.igvm" "$T/img.igvm"
# the shim's checks, in the partition
expect125 'CPU 0 (the BSP)' --manifest "$T/m" --cpus 2 --sidecar-cpus 0 \
	"$T/img.igvm"
expect125 'the partition has CPUs 0-1' --manifest "$T/m" --cpus 2 \
	--sidecar-cpus 1-3 "$T/img.igvm"
expect125 "option 'sidecar=maybe'" --manifest "$T/m" \
	--cmdline "sidecar=maybe" "$T/allow.igvm"
expect125 "unknown option" --manifest "$T/m" --cmdline "frobnicate=1" \
	"$T/allow.igvm"
expect125 'at least' --manifest "$T/m" --mem 1M "$T/img.igvm"

# corrupt images: truncated, a flipped byte, empty (the parser's unit
# tests cover each rejection rule)
head -c 100 "$T/img.igvm" >"$T/trunc.igvm"
expect125 "image $T/trunc.igvm" --manifest "$T/m" "$T/trunc.igvm"
cp "$T/img.igvm" "$T/flip.igvm"
printf '\377' | dd of="$T/flip.igvm" bs=1 seek=40 conv=notrunc 2>/dev/null
expect125 "image $T/flip.igvm" --manifest "$T/m" "$T/flip.igvm"
: >"$T/empty.igvm"
expect125 "image $T/empty.igvm\|$T/empty.igvm" --manifest "$T/m" \
	"$T/empty.igvm"

# corrupt host device trees
head -c 2000 /dev/urandom >"$T/junk.dtb"
expect125 "host device tree $T/junk.dtb" --manifest "$T/m" \
	--host-dtb "$T/junk.dtb" "$T/img.igvm"
printf '/dts-v1/;\n/ { chosen { bootargs = "sidecar=on"; }; };\n' |
	dtc -I dts -O dtb -o "$T/ok.dtb" 2>/dev/null
head -c 60 "$T/ok.dtb" >"$T/short.dtb"
expect125 "host device tree $T/short.dtb" --manifest "$T/m" \
	--host-dtb "$T/short.dtb" "$T/img.igvm"
printf '/dts-v1/;\n/ { chosen { bootargs = <1>; }; };\n' |
	dtc -I dts -O dtb -o "$T/int.dtb" 2>/dev/null
expect125 "property bootargs is not a string" --manifest "$T/m" \
	--host-dtb "$T/int.dtb" "$T/img.igvm"
printf '/dts-v1/;\n/ { chosen { bootargs = "sidecar=bad"; }; };\n' |
	dtc -I dts -O dtb -o "$T/badopt.dtb" 2>/dev/null
expect125 "host device tree /chosen/bootargs: option 'sidecar=bad'" \
	--manifest "$T/m" --host-dtb "$T/badopt.dtb" "$T/allow.igvm"

# a bad manifest
manifest "$T/bad" "Bad-Name x"
expect125 "--manifest $T/bad, line 1" --manifest "$T/bad" "$T/img.igvm"

# a name already running
start dup --manifest "$T/m" "$T/img.igvm"
expect125 "'dup' is already running" --name dup --manifest "$T/m" \
	"$T/img.igvm"
stop_run dup
assert_gone dup "$INIT"

# Every service failed (exit 125: not restarted): 125, clearly.
manifest "$T/fail" "a $SVC -- --exit 125"
expect125 'no service left running' --timeout 60 --manifest "$T/fail" \
	"$T/img.igvm"

# The default manifest (vmworker, policy, hostcomm) runs the guest: its
# lines on stdout and its exit value.
"$P" run --timeout 60 "$T/img.igvm" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] || {
	cat "$T/err"
	fail "default manifest: exit $rc, not the guest's 0"
}
grep -qx 'hello from parapet guest' "$T/out" ||
	fail "default manifest: no guest output on stdout"
[ ! -e "$RUNBASE" ] || [ -z "$(ls "$RUNBASE" | grep '^img-')" ] ||
	fail "run directory of a failed run left behind"
echo "ok"
