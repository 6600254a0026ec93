#!/bin/sh
# Bad input everywhere (issue 12): every binary with a wrong flag, a flag
# without its value, a non-number or out-of-range number, a bad enum
# word, a missing or corrupt file, a run directory that is not writable,
# a second VM with the same name, --accel kvm without /dev/kvm. Each row
# of the table must give a non-zero exit (the documented one where
# DESIGN.md fixes it), no crash (status < 128), nothing on stdout, a
# first stderr line naming what is wrong, and leave nothing behind: no
# new file under the test's directory (the rows' cwd and TMPDIR), no run
# directory, no process.
. "$(dirname "$0")/lib_partition.sh"
BB=$(pwd)/$B/bin
P=$BB/parapet
D=$BB/parapet-diag
VW=$BB/parapet-vmworker
SHIM=$BB/parapet-boot
G=$(pwd)/$B/guests
for f in "$D" "$VW" "$SHIM" "$BB/parapet-init" "$BB/parapet-policy" \
	"$BB/parapet-hostcomm" "$BB/parapet-diagd" "$G/counter.igvm"; do
	[ -e "$f" ] || fail "missing $f (run make all)"
done
command -v unshare >/dev/null || skip "unshare (util-linux) missing"

N=0        # rows run
BAD=0      # rows failed
XFAIL=""   # rows failing for a known reason (see xrow)
DUP=bidup$$
mkdir -p "$T/cwd" "$T/tmp" "$T/ro" "$T/sub"

# --- inputs -------------------------------------------------------------
image bi
image allow --allow-host-cmdline
I=$T/bi.igvm
HELLO=$(pwd)/$HELLO
: >"$T/empty.igvm"
head -c 100 "$I" >"$T/trunc.igvm"
cp "$I" "$T/flip.igvm"
printf '\377' | dd of="$T/flip.igvm" bs=1 seek=40 conv=notrunc 2>/dev/null
head -c 4096 /dev/urandom >"$T/junk.igvm"
head -c 2000 /dev/urandom >"$T/junk.dtb"
head -c 2000 /dev/urandom >"$T/junk.elf"
# an ELF without a PVH note, a bzImage's setup header, plain text
cp "$(command -v env)" "$T/plain.elf"
head -c 4096 /dev/zero | tr '\0' 'x' >"$T/bzImage"
printf 'HdrS' | dd of="$T/bzImage" bs=1 seek=514 conv=notrunc 2>/dev/null
cp "$(dirname "$0")/../../README.md" "$T/text"
manifest "$T/badman" "Bad-Name x"
NONE=$T/none.igvm

# rorun CMD...: CMD with a read-only tmpfs over the run directories'
# parent (run it under unshare -m: the mount stays in that namespace).
cat >"$T/rorun" <<'EOF'
#!/bin/sh
mount -t tmpfs -o ro,size=64k parapet-bi-ro /run/parapet || exit 99
exec "$@"
EOF
# nokvm CMD...: CMD with /dev/kvm hidden (scripts/without-kvm.sh).
nokvm="$(cd "$(dirname "$0")/../.." && pwd)/scripts/without-kvm.sh"
# rodir CMD...: CMD with a read-only tmpfs on $T/ro.
cat >"$T/rodir" <<EOF
#!/bin/sh
mount -t tmpfs -o ro,size=64k parapet-bi-ro "$T/ro" || exit 99
exec "\$@"
EOF
chmod +x "$T/rorun" "$T/rodir"
mkdir -p -m 0700 "$RUNBASE"
NOKVM=yes
"$nokvm" true 2>/dev/null || NOKVM=""
ROFS=yes
unshare -m "$T/rorun" true 2>/dev/null || ROFS=""

# --- the checks -----------------------------------------------------------

# snapshot: every path under $T but the row's own outputs, the run
# directories this test may create, processes carrying its marker.
snapshot() {
	{
		find "$T" -path "$T/row.*" -prune -o -path "$T/$DUP.err" \
			-prune -o -print
		ls -A "$RUNBASE" 2>/dev/null | grep '^bi-' |
			sed 's/^/rundir /'
		grep -l "BI_ROW=$T" /proc/[0-9]*/environ 2>/dev/null |
			sed 's/^/process /'
	} | sort
}

# row_fail WHY: reports the row (command, status, stderr).
row_fail() {
	echo "${ROWTAG:-FAIL} row $N: $ROWCMD"
	echo "  $1 (exit $rc)"
	sed -n '1,5s/^/  stderr: /p' "$T/row.err"
	[ $ROWBAD -eq 1 ] || BAD=$((BAD + 1))
	ROWBAD=1
}

# row WANT REGEX CMD...: WANT is the exit status, or nz for any non-zero
# one; REGEX (grep -E) must match the first line of stderr.
row() {
	want=$1
	pat=$2
	shift 2
	N=$((N + 1))
	ROWCMD=$(echo "$*" | sed "s|$BB/||g; s|$T/|T/|g; s|$G/|G/|g")
	ROWBAD=0
	snapshot >"$T/row.before"
	t0=$(date +%s%N)
	(cd "$T/cwd" && exec env BI_ROW="$T" TMPDIR="$T/tmp" \
		timeout -s KILL 20 "$@" >"$T/row.out" 2>"$T/row.err" \
		</dev/null)
	rc=$?
	t1=$(date +%s%N)
	[ -z "${BI_TIMES:-}" ] || [ $((t1 - t0)) -lt ${BI_TIMES:-300000000} ] ||
		echo "row $N: $(((t1 - t0) / 1000000)) ms: $ROWCMD"
	if [ "$want" = nz ]; then
		[ $rc -ne 0 ] || row_fail "exit 0"
	else
		[ $rc -eq "$want" ] || row_fail "exit status not $want"
	fi
	[ $rc -lt 128 ] || row_fail "killed by signal $((rc - 128))"
	[ -s "$T/row.err" ] || row_fail "nothing on stderr"
	head -n 1 "$T/row.err" | grep -Eq -- "$pat" ||
		row_fail "first stderr line does not match /$pat/"
	[ ! -s "$T/row.out" ] || row_fail "wrote to stdout"
	snapshot >"$T/row.after"
	comm -13 "$T/row.before" "$T/row.after" >"$T/row.new"
	[ ! -s "$T/row.new" ] || {
		row_fail "left something behind:"
		sed 's/^/  + /' "$T/row.new"
		# and does not keep it: a leftover process is killed
		for p in $(sed -n 's|^process /proc/\([0-9]*\)/environ|\1|p' \
			"$T/row.new"); do
			kill -KILL "$p" 2>/dev/null
		done
	}
}

# xrow WHY WANT REGEX CMD...: a row whose binary cannot be fixed here
# (WHY says why); it is run and reported, but does not fail the test.
xrow() {
	why=$1
	shift
	b=$BAD
	ROWTAG=XFAIL
	row "$@"
	ROWTAG=FAIL
	[ $BAD -eq "$b" ] && echo "XPASS row $N: $ROWCMD" && return
	BAD=$b
	XFAIL="$XFAIL
  row $N ($ROWCMD): $why"
}

RUN='^parapet run: '
IG='^parapet igvm( build| dump| measure)?: '
BOOT='parapet-boot: error: '
VWK='(^vmworker: |parapet-vmworker: ).*'
DG='^parapet-diag: '

# --- parapet ----------------------------------------------------------------
row 2 '^parapet: missing COMMAND' "$P"
row 2 "^parapet: unknown command 'bogus'" "$P" bogus
row 2 "^parapet: unknown command '--bogus'" "$P" --bogus

# --- parapet run ----------------------------------------------------------
row 125 "$RUN"'expected IMAGE.igvm' "$P" run
row 125 "$RUN"'expected one IMAGE.igvm' "$P" run "$I" "$I"
row 125 "$RUN""unknown option '--bogus'" "$P" run --bogus "$I"
row 125 "$RUN""unknown option '-z'" "$P" run -z "$I"
for f in name accel cpus sidecar-cpus mem cmdline guest-cmdline host-dtb \
	sandbox timeout manifest; do
	row 125 "$RUN--$f needs a value" "$P" run "$I" --$f
done
for v in abc 0 65 -1 1x 99999999999999999999 ''; do
	row 125 "$RUN--cpus '$v': want 1-64" "$P" run --cpus "$v" "$I"
done
for v in abc 0 12345 -4K 1T 99999999999G ''; do
	row 125 "$RUN--mem '$v'" "$P" run --mem "$v" "$I"
done
for v in abc 0 604801 -1 1.5 ''; do
	row 125 "$RUN--timeout '$v'" "$P" run --timeout "$v" "$I"
done
for v in x 1-x 64 3-1 ,, ''; do
	row 125 "$RUN--sidecar-cpus '$v'" "$P" run --sidecar-cpus "$v" "$I"
done
for v in fast KVM ''; do
	row 125 "$RUN--accel '$v': want kvm, emu or auto" \
		"$P" run --accel "$v" "$I"
done
for v in maybe STRICT ''; do
	row 125 "$RUN--sandbox '$v': want strict, log or off" \
		"$P" run --sandbox "$v" "$I"
done
for v in a/b .hidden '' 'a b' \
	0123456789012345678901234567890123456789012345678901234567890123; do
	row 125 "$RUN--name '$v'" "$P" run --name "$v" "$I"
done
row 125 "${RUN}image $NONE: No such file" "$P" run "$NONE"
row 125 "${RUN}image $T/sub: not a regular file" "$P" run "$T/sub"
row 125 "$RUN--host-dtb $T/none.dtb: No such file" \
	"$P" run --host-dtb "$T/none.dtb" "$I"
row 125 "$RUN--manifest $T/none: No such file" \
	"$P" run --manifest "$T/none" "$I"
for c in empty trunc flip junk; do
	row 125 "$BOOT.*$T/$c.igvm" "$P" run --name bi-$c "$T/$c.igvm"
done
# a guest kernel instead of its image: how to build one
row 125 "${BOOT}$HELLO is an ELF file \(a PVH kernel\), not an IGVM image: build one with \`parapet igvm build --guest $HELLO -o ${HELLO%.elf}.igvm\`" \
	"$P" run --name bi-pvh "$HELLO"
row 125 "${BOOT}$T/plain.elf is an ELF file, not an IGVM image: build one with \`parapet igvm build --guest $T/plain.elf -o $T/plain.igvm\`" \
	"$P" run --name bi-elf "$T/plain.elf"
row 125 "${BOOT}$T/bzImage is a Linux bzImage, not an IGVM image: build one from the kernel's ELF" \
	"$P" run --name bi-bz "$T/bzImage"
row 125 "${BOOT}image $T/text: fixed header, field magic: bad magic" \
	"$P" run --name bi-text "$T/text"
row 125 "${BOOT}host device tree $T/junk.dtb" \
	"$P" run --name bi-dtb --host-dtb "$T/junk.dtb" "$I"
row 125 "${BOOT}--manifest $T/badman, line 1" \
	"$P" run --name bi-man --manifest "$T/badman" "$I"
for o in sidecar=maybe on-crash=explode frobnicate=1; do
	row 125 "${BOOT}--cmdline: .*'?${o%=*}" \
		"$P" run --name bi-pv --cmdline "$o" "$T/allow.igvm"
done
row 125 "${RUN}--host-dtb $T/sub: not a regular file" \
	"$P" run --host-dtb "$T/sub" "$I"
row 125 "${RUN}--manifest $T/sub: not a regular file" \
	"$P" run --manifest "$T/sub" "$I"
if [ -n "$ROFS" ]; then
	# (as root the block of service uids is taken first, under
	# .uid-blocks: the first write there fails)
	row 125 "$RUN$RUNBASE/(\.uid-blocks|bi-ro): Read-only file system" \
		unshare -m "$T/rorun" "$P" run --name bi-ro "$I"
else
	echo "note: no read-only tmpfs in a mount namespace: run-dir row skipped"
fi
# unprivileged: the run directories live under $XDG_RUNTIME_DIR
if command -v setpriv >/dev/null; then
	mkdir -p "$T/pub/ro555"
	cp "$I" "$T/pub/bi.igvm"
	chmod 0711 "$T"
	chmod 0755 "$T/pub" "$T/pub/bi.igvm"
	chmod 0555 "$T/pub/ro555"
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups env"
	row 125 "${RUN}XDG_RUNTIME_DIR is not set" \
		$NOBODY -u XDG_RUNTIME_DIR "$P" run "$T/pub/bi.igvm"
	row 125 "$RUN$T/pub/ro555/parapet: Permission denied" \
		$NOBODY XDG_RUNTIME_DIR="$T/pub/ro555" "$P" run "$T/pub/bi.igvm"
else
	echo "note: no setpriv: unprivileged run-dir rows skipped"
fi
if [ -n "$NOKVM" ]; then
	row 125 "${BOOT}--accel kvm: /dev/kvm" \
		"$nokvm" "$P" run --name bi-kvm --accel kvm "$I"
else
	echo "note: cannot hide /dev/kvm in a mount namespace: kvm rows skipped"
fi

# --- parapet list / ctl ---------------------------------------------------
row 2 "^parapet list: unknown option '--bogus'" "$P" list --bogus
row 2 "^parapet list: unexpected 'x'" "$P" list --json x
row 2 '^parapet ctl: expected NAME and COMMAND' "$P" ctl
row 2 '^parapet ctl: expected NAME and COMMAND' "$P" ctl vm1
row 2 '^parapet ctl: --binary needs a path' "$P" ctl vm1 service --binary
row 2 "^parapet ctl: --binary $T/none: No such file" \
	"$P" ctl vm1 service --binary "$T/none"
row 2 "^parapet ctl: --binary goes with 'service' only" \
	"$P" ctl vm1 status --binary "$I"
row 2 "^parapet ctl: unexpected '--bogus'" "$P" ctl --bogus vm1 status
row 2 "^parapet ctl: unexpected 'extra'" "$P" ctl vm1 status extra
row 2 "^parapet ctl: unknown command 'explode'" "$P" ctl vm1 explode
row 2 "^parapet ctl: bad name 'a/b'" "$P" ctl a/b status
row 1 "^parapet ctl: no running VM named 'bi-none'" "$P" ctl bi-none status

# --- parapet igvm ---------------------------------------------------------
row 2 "${IG}missing command" "$P" igvm
row 2 "${IG}unknown command 'bogus'" "$P" igvm bogus
O=$T/out.igvm
BUILD_OK="--guest $HELLO -o $O"
row 2 "${IG}--guest and -o are required" "$P" igvm build
row 2 "${IG}--guest and -o are required" "$P" igvm build --guest "$HELLO"
row 2 "${IG}unknown option '--bogus'" "$P" igvm build $BUILD_OK --bogus
row 2 "${IG}unexpected operand 'extra'" "$P" igvm build $BUILD_OK extra
for f in --guest -o --output --vps --mem --cmdline --paravisor-cmdline \
	--config; do
	row 2 "$IG$f needs a value" "$P" igvm build $BUILD_OK $f
done
for v in abc 0 -1 4K 99999 ''; do
	row 2 "${IG}bad --vps '$v'" "$P" igvm build $BUILD_OK --vps "$v"
done
for v in abc 0 12345 -4K 99999999999G ''; do
	row 2 "${IG}(bad )?--mem" "$P" igvm build $BUILD_OK --mem "$v"
done
for v in novalue =x 'a b=1'; do
	row 2 "${IG}bad or duplicate --config '$v'" \
		"$P" igvm build $BUILD_OK --config "$v"
done
row 2 "${IG}bad or duplicate --config 'k=1'" \
	"$P" igvm build $BUILD_OK --config k=1 --config k=1
# the path once, then the reason
row 2 "$IG$T/none.elf: No such file or directory\$" \
	"$P" igvm build --guest "$T/none.elf" -o "$O"
row 2 "$IG$T/junk.elf: " "$P" igvm build --guest "$T/junk.elf" -o "$O"
row 2 "$IG$T/sub: " "$P" igvm build --guest "$T/sub" -o "$O"
row 1 "$IG$T/nodir/x.igvm: No such file" \
	"$P" igvm build --guest "$HELLO" -o "$T/nodir/x.igvm"
row 1 "$IG$T/ro/x.igvm: Read-only file system" \
	unshare -m "$T/rodir" "$P" igvm build --guest "$HELLO" -o "$T/ro/x.igvm"
for cmd in dump measure; do
	row 2 "${IG}expected exactly one FILE" "$P" igvm $cmd
	row 2 "${IG}expected exactly one FILE" "$P" igvm $cmd "$I" "$I"
	row 2 "${IG}unknown option '--bogus'" "$P" igvm $cmd --bogus "$I"
	row 2 "$IG$NONE: No such file" "$P" igvm $cmd "$NONE"
	row 2 "$IG$T/sub: " "$P" igvm $cmd "$T/sub"
	for c in empty trunc flip junk; do
		row 2 "$IG$T/$c.igvm: " "$P" igvm $cmd "$T/$c.igvm"
	done
done
row 2 "${IG}unknown option '--json'" "$P" igvm measure --json "$I"

# --- parapet-boot (the shim; under unshare -m: it hands off like a
# kernel, making mounts private, when nothing stops it) -------------------
SHIM_OK="--run-dir $T/sub --libexec $BB --name bi-shim"
row 125 "$BOOT.*--run-dir, --libexec, --name and IMAGE are required" \
	unshare -m "$SHIM"
row 125 "$BOOT.*unrecognized option '--bogus'" \
	unshare -m "$SHIM" $SHIM_OK --bogus "$I"
for f in run-dir libexec name accel cpus sidecar-cpus mem cmdline \
	guest-cmdline host-dtb sandbox manifest reftime-run-start; do
	row 125 "$BOOT.*option '--$f' requires an argument" \
		unshare -m "$SHIM" $SHIM_OK "$I" --$f
done
for v in abc -1 ''; do
	row 125 "$BOOT.*--reftime-run-start '$v'" unshare -m "$SHIM" \
		$SHIM_OK --reftime-run-start "$v" "$I"
done
for v in abc 0 65; do
	row 125 "$BOOT.*--cpus '$v'" unshare -m "$SHIM" $SHIM_OK --cpus $v "$I"
done
row 125 "$BOOT.*--mem 'abc'" unshare -m "$SHIM" $SHIM_OK --mem abc "$I"
row 125 "$BOOT.*guest memory 12345 bytes" \
	unshare -m "$SHIM" $SHIM_OK --mem 12345 "$I"
row 125 "$BOOT.*sidecar CPUs '1-x'" \
	unshare -m "$SHIM" $SHIM_OK --cpus 2 --sidecar-cpus 1-x "$I"
row 125 "$BOOT.*$T/none.dtb" \
	unshare -m "$SHIM" $SHIM_OK --host-dtb "$T/none.dtb" "$I"
row 125 "$BOOT.*$T/none" unshare -m "$SHIM" $SHIM_OK --manifest "$T/none" "$I"
row 125 "$BOOT.*accel 'fast'" unshare -m "$SHIM" $SHIM_OK --accel fast "$I"
row 125 "$BOOT.*--sandbox 'maybe'" \
	unshare -m "$SHIM" $SHIM_OK --sandbox maybe "$I"
row 125 "$BOOT.*$NONE" unshare -m "$SHIM" $SHIM_OK "$NONE"
row 125 "$BOOT.*$T/flip.igvm" unshare -m "$SHIM" $SHIM_OK "$T/flip.igvm"
[ -n "$NOKVM" ] && row 125 "$BOOT.*--accel kvm: /dev/kvm" \
	"$nokvm" "$SHIM" $SHIM_OK --accel kvm "$I"

# --- parapet-init and the services: no arguments, only under init --------
row 125 "parapet-init: .*unexpected argument '--bogus'" \
	unshare -m "$BB/parapet-init" --bogus
row 125 'parapet-init: .*not PID 1' unshare -m "$BB/parapet-init"
row 125 "hostcomm: .*unexpected argument '--bogus'" \
	unshare -m "$BB/parapet-hostcomm" --bogus
row 125 "diagd: .*unexpected argument '--bogus'" \
	unshare -m "$BB/parapet-diagd" --bogus
row 125 "policy: .*unexpected argument '--bogus'" \
	unshare -m "$BB/parapet-policy" --bogus

# --- parapet-vmworker --standalone ----------------------------------------
row 125 "parapet-vmworker: without --standalone" "$VW"
row 125 "${VWK}unrecognized option '--bogus'" "$VW" --standalone --bogus "$I"
row 125 "${VWK}expected one IMAGE.igvm" "$VW" --standalone
row 125 "${VWK}expected one IMAGE.igvm" "$VW" --standalone "$I" "$I"
for f in accel cpus mem cmdline guest-cmdline timeout sidecar-cpus \
	sidecar-hotplug; do
	row 125 "${VWK}option '--$f' requires an argument" \
		"$VW" --standalone "$I" --$f
done
for v in fast ''; do
	row 125 "${VWK}(accel|accelerator) '$v'" \
		"$VW" --standalone --accel "$v" "$I"
done
for v in abc 0 65 -1 ''; do
	row 125 "${VWK}--cpus '$v'" "$VW" --standalone --cpus "$v" "$I"
done
for v in abc 12345 -4K ''; do
	row 125 "${VWK}--mem '$v'" "$VW" --standalone --mem "$v" "$I"
done
row 125 "${VWK}memory size 0" "$VW" --standalone --mem 0 "$I"
for v in abc 0 -1 ''; do
	row 125 "${VWK}--timeout '$v'" "$VW" --standalone --timeout "$v" "$I"
done
for v in x 0 1-x ''; do
	row 125 "${VWK}--sidecar-cpus '$v'" \
		"$VW" --standalone --cpus 2 --sidecar-cpus "$v" "$I"
done
for v in abc -1 ''; do
	row 125 "${VWK}--sidecar-hotplug '$v'" \
		"$VW" --standalone --sidecar-hotplug "$v" "$I"
done
for o in sidecar=maybe on-crash=explode frobnicate=1; do
	row 125 "${VWK}${o%=*}" "$VW" --standalone --cmdline "$o" "$I"
done
row 125 "${VWK}$NONE" "$VW" --standalone "$NONE"
for c in empty trunc flip junk; do
	row 125 "${VWK}$T/$c.igvm" "$VW" --standalone "$T/$c.igvm"
done
[ -n "$NOKVM" ] && row 125 "${VWK}/dev/kvm: No such file" \
	"$nokvm" "$VW" --standalone --accel kvm "$I"

# --- --help and --version: exit 0, the usage or version on stdout --------
# out_row REGEX CMD...: exit 0, nothing on stderr, REGEX (grep -E) matches
# the first line of stdout.
out_row() {
	pat=$1
	shift
	N=$((N + 1))
	ROWCMD=$(echo "$*" | sed "s|$BB/||g")
	ROWBAD=0
	(cd "$T/cwd" && exec timeout -s KILL 20 "$@" >"$T/row.out" \
		2>"$T/row.err" </dev/null)
	rc=$?
	[ $rc -eq 0 ] || row_fail "exit status not 0"
	[ ! -s "$T/row.err" ] || row_fail "wrote to stderr"
	head -n 1 "$T/row.out" | grep -Eq -- "$pat" ||
		row_fail "first stdout line does not match /$pat/: $(head -n 1 "$T/row.out")"
}
out_row '^parapet [0-9]+\.[0-9]+\.[0-9]+$' "$P" --version
out_row '^parapet-diag [0-9]+\.[0-9]+\.[0-9]+$' "$D" --version
out_row '^usage: parapet list ' "$P" list --help
for c in ps restart stop start logs inspect stats dt timeline vm sandbox; do
	out_row "^usage: parapet-diag \\[--vm NAME\\] $c( |\$)" "$D" $c --help
done
out_row '^usage: parapet-diag \[--vm NAME\] trace ' "$D" trace --help

# --- parapet-diag without a VM --------------------------------------------
row 2 "${DG}missing COMMAND" "$D"
row 2 "${DG}unknown command 'bogus'" "$D" bogus
row 2 "${DG}--vm needs a value" "$D" --vm
row 2 "${DG}missing COMMAND" "$D" --vm bi-none
row 2 "${DG}--vm 'a/b'" "$D" --vm a/b ps
row 1 "${DG}no running VM named 'bi-none'" "$D" --vm bi-none ps

# --- a second VM with the same name, and diag's arguments against a
# running VM (emu accel: every machine has it) ------------------------------
start "$DUP" --accel emu --timeout 100 --guest-cmdline delay_ms=200 \
	"$G/counter.igvm" >/dev/null
row 125 "${RUN}partition '$DUP' is already running" "$P" run --name "$DUP" "$I"
kill -0 "$(runpid "$DUP")" || fail "the first $DUP did not survive"
[ -e "$RUNBASE/$DUP/timeline.json" ] || fail "$DUP's run directory damaged"
row 2 "^parapet ctl: unknown command 'explode'" "$P" ctl "$DUP" explode
for vm in "$DUP" bi-none; do
	V="--vm $vm"
	row 2 "${DG}ps: unexpected 'extra'" "$D" $V ps extra
	row 2 "${DG}dt: unexpected 'extra'" "$D" $V dt extra
	row 2 "${DG}stats: unexpected 'extra'" "$D" $V stats extra
	row 2 "${DG}restart: expected SVC" "$D" $V restart
	row 2 "${DG}sandbox: expected SVC" "$D" $V sandbox
	row 2 "${DG}vm: expected status, pause, resume or reset" "$D" $V vm
	row 2 "${DG}vm: unknown action 'explode'" "$D" $V vm explode
	row 2 "${DG}logs: .*'-x'" "$D" $V logs -x
	row 2 "${DG}logs: unexpected 'b'" "$D" $V logs a b
	for v in abc 0 -3 ''; do
		row 2 "${DG}trace: -c '$v'" "$D" $V trace -c "$v"
	done
	for f in -c -w --svc --method; do
		row 2 "${DG}trace: .*$f" "$D" $V trace $f
	done
	row 2 "${DG}trace: .*'--bogus'" "$D" $V trace --bogus
	row 2 "${DG}trace: --svc 'nosuch': no such service" \
		"$D" $V trace --svc nosuch -c 1
	for v in abc -1 ''; do
		row 2 "${DG}inspect: -r '$v'" "$D" $V inspect -r "$v"
	done
	row 2 "${DG}inspect: .*-r" "$D" $V inspect -r
	row 2 "${DG}timeline: .*--svg" "$D" $V timeline --svg
	row 2 "${DG}timeline: .*'--bogus'" "$D" $V timeline --bogus
done
row 1 "${DG}restart nosuch: .*no such service" \
	"$D" --vm "$DUP" restart nosuch
row 1 "${DG}sandbox nosuch: .*no such service" \
	"$D" --vm "$DUP" sandbox nosuch
row 1 "${DG}inspect: no nosuch" "$D" --vm "$DUP" inspect nosuch
row 1 "${DG}timeline: .*$T/nodir/t.svg" \
	"$D" --vm "$DUP" timeline --svg "$T/nodir/t.svg"
row 1 "${DG}trace: .*$T/nodir/t.pcapng" \
	"$D" --vm "$DUP" trace -c 1 -w "$T/nodir/t.pcapng"
stop_run "$DUP"
assert_gone "$DUP" "$INIT"

echo "$N rows, $BAD failed"
[ -z "$XFAIL" ] || echo "known failures (not counted):$XFAIL"
[ $BAD -eq 0 ] || fail "$BAD of $N rows failed"
echo "ok"
