#!/bin/sh
# The boot device tree: run-dir/boot.dtb decodes with dtc and holds the
# partition's nodes; /sys/firmware/devicetree/base inside the partition
# matches it; host DTB bootargs and --cmdline are merged only when the
# image allows it; --cpus 4 --sidecar-cpus auto gives 3 sidecar CPUs.
. "$(dirname "$0")/lib_partition.sh"

image allow --allow-host-cmdline --paravisor-cmdline "log=info"
image strict --paravisor-cmdline "sidecar=on"
manifest "$T/m" "a $SVC -- --record $T/a.rec"
cat >"$T/host.dts" <<'DTS'
/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	chosen { bootargs = "on-crash=reboot"; };
	memory@0 { device_type = "memory"; reg = <0 0 0 0x4000000>; };
	parapet { accel = "emu"; };
};
DTS
dtc -I dts -O dtb -o "$T/host.dtb" "$T/host.dts" 2>/dev/null ||
	fail "dtc host.dts"

start dt1 --manifest "$T/m" --cpus 4 --sidecar-cpus auto \
	--host-dtb "$T/host.dtb" --cmdline "log=debug" "$T/allow.igvm"
dtc -I dtb -O dts -o "$T/dt1.dts" "$RUNBASE/dt1/boot.dtb" 2>"$T/dtc.err" ||
	fail "boot.dtb does not decode: $(cat "$T/dtc.err")"
d=$T/dt1.dts
grep -q 'compatible = "parapet,partition"' "$d" || fail "no compatible"
[ "$(grep -c 'device_type = "cpu"' "$d")" -eq 4 ] || fail "not 4 cpu nodes"
[ "$(grep -c 'parapet,role = "sidecar"' "$d")" -eq 3 ] ||
	fail "not 3 sidecar CPUs"
[ "$(grep -c 'parapet,role = "linux"' "$d")" -eq 1 ] || fail "not 1 linux CPU"
grep -q 'bootargs = "log=info on-crash=reboot log=debug"' "$d" ||
	fail "bootargs not merged: $(grep bootargs "$d")"
grep -q 'sidecar@0 {' "$d" || fail "no sidecar@ node"
grep -q 'cpus = "1-3"' "$d" || fail "sidecar node does not name CPUs 1-3"
grep -q 'parapet,type = "vtl2-protectable"' "$d" || fail "no VTL2 range"
grep -q 'accel = "emu"' "$d" || fail "host DTB accel not taken"
grep -q 'on-crash = "reboot"' "$d" || fail "on-crash not applied"
m=$("$P" igvm measure "$T/allow.igvm")
grep -q "measurement = \"$m\"" "$d" || fail "measurement differs from igvm measure"
grep -q 'reftime_shim_end' "$d" || fail "no reftime stamps"
grep -q 'entropy = ' "$d" || fail "no entropy"
grep -q 'binary = "'"$SVC"'"' "$d" || fail "manifest not in /parapet/services"

# The tree inside the partition, as files, equals the blob.
dtc -s -I dtb -O dts "$RUNBASE/dt1/boot.dtb" 2>/dev/null >"$T/blob.dts"
nsenter -t "$INIT" -m dtc -s -I fs -O dts /sys/firmware/devicetree/base \
	2>/dev/null >"$T/fs.dts" || fail "cannot read the tree in the partition"
diff "$T/blob.dts" "$T/fs.dts" >/dev/null ||
	fail "/sys/firmware/devicetree/base differs from boot.dtb"
nsenter -t "$INIT" -m cmp -s /sys/firmware/fdt /run/parapet/host/boot.dtb ||
	fail "/sys/firmware/fdt differs from boot.dtb"
# The test service got the partition fds it asked for? (none here)
grep -q 'fds=none' "$T/a.rec" || fail "unexpected fds"
stop_run dt1
[ "$RC" = 143 ] || fail "SIGTERM: exit $RC, not 143"
assert_gone dt1 "$INIT"

# An image without --allow-host-cmdline: host parts ignored, with a warning.
manifest "$T/m2" "a $SVC fds=guest-ram,sidecar,boot-dtb -- --fds --record $T/b.rec"
start dt2 --manifest "$T/m2" --cpus 2 --sidecar-cpus none \
	--host-dtb "$T/host.dtb" --cmdline "log=debug" "$T/strict.igvm"
dtc -I dtb -O dts -o "$T/dt2.dts" "$RUNBASE/dt2/boot.dtb" 2>/dev/null
grep -q 'bootargs = "sidecar=on"' "$T/dt2.dts" ||
	fail "host command line not ignored: $(grep bootargs "$T/dt2.dts")"
grep -q 'allow-host-cmdline' "$T/dt2.err" || fail "no warning about --cmdline"
[ "$(grep -c 'parapet,role = "sidecar"' "$T/dt2.dts")" -eq 0 ] ||
	fail "--sidecar-cpus none still has sidecar CPUs"
wait_grep 'fds=guest-ram:67108864,sidecar:12288,boot-dtb:' "$T/b.rec" ||
	fail "service did not get the partition fds: $(cat "$T/b.rec")"
stop_run dt2
[ "$RC" = 143 ] || fail "SIGTERM: exit $RC, not 143"
assert_gone dt2 "$INIT"

# sidecar=off on the paravisor command line beats --sidecar-cpus.
start dt3 --manifest "$T/m" --cpus 3 --sidecar-cpus 1 --cmdline sidecar=off \
	"$T/allow.igvm"
dtc -I dtb -O dts -o "$T/dt3.dts" "$RUNBASE/dt3/boot.dtb" 2>/dev/null
[ "$(grep -c 'parapet,role = "linux"' "$T/dt3.dts")" -eq 3 ] ||
	fail "sidecar=off still has sidecar CPUs"
grep -q 'mode = "off"' "$T/dt3.dts" || fail "sidecar node mode is not off"
wait_grep 'test-service a: up' "$RUNBASE/dt3/logs/a.log" ||
	fail "no logs/a.log in the run directory"
stop_run dt3
assert_gone dt3 "$INIT"
echo "ok"
