#!/bin/sh
# Runs the unit test binaries (cmocka) and the end-to-end scripts, prints
# each suite's summary and one final line "N passed, N failed".
# Usage: run-tests.sh BUILD_DIR UNIT_TEST... -- E2E_SCRIPT...
# An e2e script counts as one test: exit 0 passes, 77 skips (with its
# reason printed), anything else fails.
set -u
build=$1
shift
passed=0
failed=0
skipped=0
failed_names=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	t=$1
	shift
	echo "== $(basename "$t")"
	# A hang fails the binary (124) instead of stalling the whole run.
	timeout -k 10 "${UNIT_TIMEOUT:-600}" "$t" >"$log" 2>&1
	rc=$?
	[ $rc -eq 124 ] && echo "(timed out after ${UNIT_TIMEOUT:-600} s)" >>"$log"
	grep -E '^\[ *(PASSED|FAILED|SKIPPED) *\]|^\[ +FAILED|^\[==========\]' \
		"$log" | grep -v '^\[==========\] Running'
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	if [ $rc -ne 0 ]; then
		# A crash before cmocka's summary still counts as a failure.
		[ -z "$f" ] && failed=$((failed + 1))
		failed_names="$failed_names $(basename "$t")"
		echo "-- output of $(basename "$t") (exit $rc):"
		tail -n 60 "$log"
	fi
done
[ $# -gt 0 ] && shift

# tests/e2e/upgrade.sh's older release, built while the other scripts
# run (cached under build/releases; upgrade.sh waits for it, or builds
# it itself when run alone).
case " $* " in
*/upgrade.sh\ *)
	nice "$(dirname "$0")/build-release.sh" >/dev/null 2>&1 &
	;;
esac

for t in "$@"; do
	name=$(basename "$t" .sh)
	echo "== e2e/$name"
	# A hang fails the script (124) instead of stalling the whole run.
	BUILD="$build" timeout -k 10 "${E2E_TIMEOUT:-900}" "$t" >"$log" 2>&1
	rc=$?
	[ $rc -eq 124 ] && echo "(timed out after ${E2E_TIMEOUT:-900} s)" >>"$log"
	case $rc in
	0)
		passed=$((passed + 1))
		echo "[  PASSED  ] $name"
		;;
	77)
		skipped=$((skipped + 1))
		echo "[  SKIPPED ] $name: $(tail -n 1 "$log")"
		;;
	*)
		failed=$((failed + 1))
		failed_names="$failed_names e2e/$name"
		echo "[  FAILED  ] $name (exit $rc)"
		tail -n 40 "$log"
		;;
	esac
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
[ $skipped -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
