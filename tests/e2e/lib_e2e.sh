# Shared by the e2e scripts (sourced): waits with a bound (wait_until and
# the waits built on it), which accelerators to check, the sanitizer-report
# scan of captured stderr files, and (partition_script) the temporary
# directory, failure count and clean-up of scripts that run partitions
# with `parapet run`.

# wait_until TENTHS COMMAND [ARG...]: runs COMMAND every 0.1 s until it
# succeeds, TENTHS times more at most; 1 when it never did. The bound only
# catches a hang: a loaded machine is slow, not stuck. COMMAND must not
# itself call wait_until (one counter).
wait_until() {
	_wait_left=$1
	shift
	until "$@"; do
		[ "$_wait_left" -gt 0 ] || return 1
		_wait_left=$((_wait_left - 1))
		sleep 0.1
	done
}

# wait_for FILE [TENTHS]: until FILE exists (60 s by default).
wait_for() {
	wait_until "${2:-600}" test -e "$1"
}

# wait_grep PATTERN FILE [TENTHS]: until a line of FILE matches.
wait_grep() {
	wait_until "${3:-600}" grep -qs -- "$1" "$2"
}

# more_lines FILE N: FILE has more than N complete lines.
more_lines() {
	[ "$(wc -l <"$1")" -gt "$2" ]
}

# wait_lines FILE N [TENTHS]: until FILE has more than N lines.
wait_lines() {
	wait_until "${3:-600}" more_lines "$1" "$2"
}

# exited PID: the process is gone (or not ours to signal).
exited() {
	! kill -0 "$1" 2>/dev/null
}

# wait_exit PID [TENTHS]: until the process is gone.
wait_exit() {
	wait_until "${2:-600}" exited "$1"
}

# json_is FILTER [FILE]: the JSON document on stdin (or in FILE) makes
# jq's FILTER true; no document fails too (jq -e alone passes on none).
json_is() {
	jq -en "input | $1" ${2:+"$2"} >/dev/null 2>&1
}

# usable_accels WHAT: sets $accels to "emu", plus kvm where a VM really
# runs on it (BUILD's vmworker boots hello.igvm); says so when it does not.
usable_accels() {
	accels="emu"
	_b=${BUILD:-build}
	if [ -w /dev/kvm ] && "$_b/bin/parapet-vmworker" --standalone \
		--accel kvm "$_b/guests/hello.igvm" >/dev/null 2>&1; then
		accels="emu kvm"
	else
		echo "kvm unusable here: $1 checked on emu only"
	fi
}

# hostpid NAME SVC: the host pid of service SVC of partition NAME (a
# child of its init)
hostpid() {
	_i=$(cat "/run/parapet/$1/init.pid") || return 1
	for _p in $(cat "/proc/$_i/task/$_i/children"); do
		[ "$(tr '\0' '\n' <"/proc/$_p/cmdline" | head -n 1)" = "$2" ] &&
			echo "$_p" && return 0
	done
	return 1
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

# partition_script: root or skip (77); sets $tmp (removed at exit), $fails
# and $names (partitions powered off at exit, and killed a second later if
# still there). fail MESSAGE counts a failure and shows the captured
# stderr tails.
partition_script() {
	[ "$(id -u)" -eq 0 ] || { echo "partitions need root here"; exit 77; }
	tmp=$(mktemp -d)
	fails=0
	names=""
	trap partition_cleanup EXIT
}

partition_cleanup() {
	[ -n "$names" ] || { rm -rf "$tmp"; return; }
	for n in $names; do
		"$P" ctl "$n" poweroff >/dev/null 2>&1
	done
	sleep 1
	for n in $names; do
		[ -f "/run/parapet/$n/pid" ] &&
			kill "$(cat "/run/parapet/$n/pid")" 2>/dev/null
	done
	rm -rf "$tmp"
}

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
	for f in "$tmp"/*.err; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }
	done
}

# counter_exact FILE: the counter guest's console in FILE is 0, 1, 2, ...
# with nothing lost or repeated (a last line cut short by the power-off
# does not count); prints the first wrong line.
counter_exact() {
	if [ -n "$(tail -c 1 "$1")" ]; then
		sed '$d' "$1"
	else
		cat "$1"
	fi | awk 'NR - 1 != $1 { print "line " NR ": " $0; bad = 1; exit }
		  END { exit bad }'
}
