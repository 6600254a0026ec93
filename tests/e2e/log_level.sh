#!/bin/sh
# The log level of a whole partition: `parapet run` logs at info by
# default; --quiet leaves only warnings and errors from every process
# (the guest's stdout unchanged), PARAPET_LOG=warn does the same, and
# --verbose adds debug messages; --quiet with --verbose is refused.
. "$(dirname "$0")/lib_partition.sh"
G=$B/guests
[ -e "$G/hello.igvm" ] || fail "missing $G/hello.igvm (run make all)"

# run NAME ARGS...: hello under `parapet run`, stderr in $T/NAME.err
run() {
	n=$1
	shift
	"$P" run --name "ll-$n" "$@" "$G/hello.igvm" >"$T/$n.out" \
		2>"$T/$n.err" </dev/null
	rc=$?
	[ $rc -eq 0 ] || fail "$n: exit $rc: $(cat "$T/$n.err")"
	grep -q '^hello from parapet guest$' "$T/$n.out" ||
		fail "$n: the guest's output is missing"
}
# lines NAME: the lines Parapet wrote on stderr
lines() {
	wc -l <"$T/$1.err"
}

run default
run quiet --quiet
env PARAPET_LOG=warn "$P" run --name ll-env "$G/hello.igvm" \
	>"$T/env.out" 2>"$T/env.err" </dev/null || fail "PARAPET_LOG=warn run"
run verbose --verbose
echo "stderr lines: default $(lines default), --quiet $(lines quiet)," \
	"PARAPET_LOG=warn $(lines env), --verbose $(lines verbose)"

# info from init and from the services by default
for who in parapet-init policy vmworker; do
	grep -q "^$who: " "$T/default.err" || fail "default: no info from $who"
done
[ "$(lines default)" -ge 10 ] || fail "default: only $(lines default) lines"
# --quiet: nothing but warnings and errors, from any process
if grep -v ': warning: \|: error: ' "$T/quiet.err" | grep -q .; then
	fail "--quiet: lines other than warnings: $(cat "$T/quiet.err")"
fi
[ "$(lines quiet)" -lt "$(lines default)" ] || fail "--quiet logs as much"
grep -v ': warning: \|: error: ' "$T/env.err" | grep -q . &&
	fail "PARAPET_LOG=warn: info lines: $(cat "$T/env.err")"
# --verbose: the info lines and debug ones
grep -q ': debug: ' "$T/verbose.err" || fail "--verbose: no debug line"
grep -q '^parapet-init: vmworker: ready' "$T/verbose.err" ||
	fail "--verbose: no info line from init"
"$P" run --name ll-both --quiet --verbose "$G/hello.igvm" >"$T/both.out" \
	2>"$T/both.err" </dev/null
rc=$?
[ $rc -eq 125 ] && grep -q -- '--quiet and --verbose' "$T/both.err" ||
	fail "--quiet --verbose: exit $rc: $(cat "$T/both.err")"
echo "PASS: log levels"
