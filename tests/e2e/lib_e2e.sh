# Shared by the e2e scripts (sourced): which accelerators to check, and the
# sanitizer-report scan of captured stderr files.

# usable_accels WHAT: sets $accels to "emu", plus kvm where a VM really
# runs on it (BUILD's vmworker boots hello.igvm); says so when it does not.
usable_accels() {
	accels="emu"
	if [ -w /dev/kvm ] && "$build/bin/parapet-vmworker" --standalone \
		--accel kvm "$build/guests/hello.igvm" >/dev/null 2>&1; then
		accels="emu kvm"
	else
		echo "kvm unusable here: $1 checked on emu only"
	fi
}

# san_scan DIR: prints every sanitizer report (ASan, LeakSanitizer,
# UBSan) in DIR/*.err; status 1 when there is one. Reports come at exit:
# call it once the partitions are gone.
san_scan() {
	pat='ERROR: (Address|Leak)Sanitizer|runtime error: '
	found=0
	for f in "$1"/*.err; do
		[ -f "$f" ] && grep -E -q "$pat" "$f" || continue
		echo "FAIL: sanitizer report in ${f##*/}:"
		grep -E -A 12 "$pat" "$f" | head -n 40
		found=1
	done
	return $found
}
