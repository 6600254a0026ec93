#!/bin/sh
# Build and install: a second make has nothing to do; `make install` into
# a temporary DESTDIR puts exactly the expected files under PREFIX (the
# programs, share/parapet with the .proto files and the tshark dissector,
# the manual pages, the bash completion); each manual page renders
# without a warning; the installed parapet-diag names its own share/
# directory and nothing of the build tree; the completion offers commands,
# options and the running VMs' names; `make uninstall` removes all of it.
set -u
B=${BUILD:-build}
. "$(dirname "$0")/lib_e2e.sh"
T=$(mktemp -d /tmp/parapet-pkg.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
# the make of `make test` must not leak its jobserver into ours
unset MAKEFLAGS MFLAGS MAKELEVEL
M="make --no-print-directory BUILD=$B"
[ -z "${SAN:-}" ] || M="$M SAN=$SAN"
ROOT=$T/root
PREFIX=/opt/parapet-pkg
I=$ROOT$PREFIX

# 1. everything is built: a second make has nothing to do
$M -q all || {
	$M -n all | head -n 20
	fail "make all is not up to date after a build (above: what it would do)"
}

# 2. install: exactly these files
$M install DESTDIR="$ROOT" PREFIX="$PREFIX" >"$T/install.log" 2>&1 ||
	fail "make install: $(tail -n 5 "$T/install.log")"
{
	for p in parapet parapet-diag; do echo "bin/$p"; done
	for p in "$B"/bin/*; do
		case ${p##*/} in
		parapet | parapet-diag) ;;
		*) echo "libexec/parapet/${p##*/}" ;;
		esac
	done
	echo share/parapet/parapet.lua
	for p in proto/*.proto; do echo "share/parapet/$p"; done
	for p in docs/man/*.1; do echo "share/man/man1/${p##*/}"; done
	for p in docs/man/*.7; do echo "share/man/man7/${p##*/}"; done
	for p in docs/completion/*; do
		echo "share/bash-completion/completions/${p##*/}"
	done
	echo lib/systemd/system/parapet@.service
} | sort >"$T/want"
(cd "$I" && find . -type f -o -type l) | sed 's|^\./||' | sort >"$T/got"
diff "$T/want" "$T/got" >"$T/diff" ||
	fail "installed files differ from the list (- missing, + extra): $(cat "$T/diff")"
for f in parapet.1 parapet-diag.1; do
	grep -q "^\.TH" "$I/share/man/man1/$f" || fail "$f is not a manual page"
done
for p in bin/parapet bin/parapet-diag libexec/parapet/parapet-boot; do
	[ "$(stat -c %a "$I/$p")" = 755 ] || fail "$p: mode $(stat -c %a "$I/$p")"
done
[ "$(stat -c %a "$I/share/parapet/parapet.lua")" = 644 ] ||
	fail "parapet.lua: mode not 644"
cmp -s "$I/share/parapet/parapet.lua" "$B/share/parapet/parapet.lua" ||
	fail "the installed dissector is not the built one"
grep -q 'Dissector.get("protobuf")' "$I/share/parapet/parapet.lua" ||
	fail "parapet.lua is not the dissector"

# 3. the manual pages render without a warning
if command -v man >/dev/null && command -v groff >/dev/null; then
	for f in "$I"/share/man/man*/*; do
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=all -l "$f" \
			>"$T/page" 2>"$T/warn" || fail "man -l $f failed"
		[ ! -s "$T/warn" ] || fail "man -l $f: $(cat "$T/warn")"
		[ "$(wc -l <"$T/page")" -gt 20 ] || fail "man -l $f: too short"
	done
	LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$I/share/man/man7/parapet-options.7" |
		grep -q 'on-crash=poweroff|reboot' ||
		fail "parapet-options(7) does not show on-crash="
else
	echo "note: man or groff missing (make deps): manual pages not rendered"
fi

# 4. the installed parapet-diag: its share/ directory, no build tree
"$I/bin/parapet-diag" trace --help >"$T/help" 2>&1 ||
	fail "installed parapet-diag trace --help: $(cat "$T/help")"
"$I/bin/parapet-diag" --help >>"$T/help" 2>&1
top=$(pwd)
grep -F "$top" "$T/help" && fail "installed parapet-diag names the build tree"
grep -qF "uat:protobuf_search_paths:\"$I/share/parapet/proto\"" "$T/help" ||
	fail "trace --help does not name $I/share/parapet/proto: $(cat "$T/help")"
grep -qF "$I/share/parapet/parapet.lua" "$T/help" ||
	fail "trace --help does not name the installed dissector"
# ... and the one of the build tree names the build tree's copy
"$B/bin/parapet-diag" trace --help |
	grep -qF "\"$top/$B/share/parapet/proto\"" ||
	fail "parapet-diag of the build tree does not name $B/share/parapet/proto"

# 5. bash completion: commands, options, VM names from the run directory
if command -v bash >/dev/null; then
	mkdir -p "$T/xdg/parapet/vm-a" "$T/xdg/parapet/vm-b" "$T/xdg/parapet/gone"
	echo 1 >"$T/xdg/parapet/vm-a/pid"
	echo 1 >"$T/xdg/parapet/vm-b/pid"
	C=$I/share/bash-completion/completions
	XDG_RUNTIME_DIR=$T/xdg bash -c '
		id() { echo 1000; }   # as a user: the VMs under XDG_RUNTIME_DIR
		. "$1/parapet"; . "$1/parapet-diag"
		t() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
			f=$1; f=_${f//-/_}; $f; echo "$*: ${COMPREPLY[*]}"; }
		t parapet ""
		t parapet run --q
		t parapet ctl ""
		t parapet ctl vm-a p
		t parapet console ""
		t parapet console vm-a --r
		t parapet-diag --vm ""
		t parapet-diag --vm vm-a tr
		t parapet-diag vm ""
	' sh "$C" >"$T/comp" 2>&1 || fail "completion: $(cat "$T/comp")"
	while read -r want; do
		grep -qxF "$want" "$T/comp" ||
			fail "completion: want '$want', got: $(cat "$T/comp")"
	done <<'WANT'
parapet : run list ctl console igvm --help --version
parapet run --q: --quiet
parapet ctl : vm-a vm-b
parapet ctl vm-a p: poweroff pause
parapet console : vm-a vm-b
parapet console vm-a --r: --read-only
parapet-diag --vm : vm-a vm-b
parapet-diag --vm vm-a tr: trace
parapet-diag vm : status pause resume reset
WANT
else
	echo "note: no bash: completion not tried"
fi

# 6. uninstall removes every file and Parapet's own directories
$M uninstall DESTDIR="$ROOT" PREFIX="$PREFIX" >"$T/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -n 5 "$T/uninstall.log")"
left=$(find "$ROOT" -type f -o -type l)
[ -z "$left" ] || fail "left after make uninstall: $left"
for d in libexec/parapet share/parapet; do
	[ ! -e "$I/$d" ] || fail "$d left after make uninstall"
done
echo "PASS: packaging ($(wc -l <"$T/want") files installed and removed)"
