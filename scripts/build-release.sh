#!/bin/sh
# scripts/build-release.sh [COMMIT [CACHE_DIR]]: builds the programs of an
# older release (RELEASES) for tests/e2e/upgrade.sh, once per commit;
# without COMMIT, the newest release in RELEASES older than HEAD (exit 3
# when there is none). Prints the directory.
# The checkout is a temporary worktree of this clone; the result lands in
# CACHE_DIR/COMMIT/bin (default build/releases: shared by build/ and
# build-san/, always built without sanitizers) and is kept for later runs.
# Concurrent callers wait for each other on CACHE_DIR/COMMIT.lock.
set -eu

top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=${1:-}
if [ -z "$commit" ]; then
	head=$(git -C "$top" rev-parse HEAD)
	while read -r ver c; do
		case $ver in '#'* | '') continue ;; esac
		[ "$c" != "$head" ] &&
			git -C "$top" merge-base --is-ancestor "$c" HEAD \
				2>/dev/null && commit=$c
	done <"$top/RELEASES"
	[ -n "$commit" ] || { echo "no release older than HEAD" >&2; exit 3; }
fi
cache=${2:-$top/build/releases}
commit=$(git -C "$top" rev-parse --verify "$commit^{commit}")
dest=$cache/$commit
mkdir -p "$cache"

# The programs a partition needs, and the guest images; nothing else
# (no unit tests, fuzzers or benches).
progs="parapet parapet-boot parapet-init parapet-policy parapet-hostcomm
	parapet-vmworker parapet-diagd parapet-diag parapet-blkd"

# a worktree left by a killed run is forgotten first
git -C "$top" worktree prune 2>/dev/null || true
exec 9>"$dest.lock"
flock 9
if [ -f "$dest/.complete" ]; then
	echo "$dest"
	exit 0
fi

wt=$(mktemp -d "${TMPDIR:-/tmp}/parapet-release.XXXXXX")
cleanup() {
	git -C "$top" worktree remove --force "$wt" >/dev/null 2>&1 || true
	rm -rf "$wt"
}
trap cleanup EXIT INT TERM
rmdir "$wt"
git -C "$top" worktree add --detach "$wt" "$commit" >/dev/null 2>&1
targets=""
for p in $progs; do
	targets="$targets build/bin/$p"
done
# make's own -j from the caller's environment would multiply the jobs.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$wt" -j2 SAN= BUILD=build \
	CI= $targets build/guests/counter.igvm >"$cache/$commit.log" 2>&1 || {
	echo "build-release.sh: building $commit failed (log: $cache/$commit.log)" >&2
	exit 1
}
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/guests"
for p in $progs; do
	cp "$wt/build/bin/$p" "$dest/bin/"
done
cp "$wt/build/guests/counter.igvm" "$dest/guests/"
touch "$dest/.complete"
echo "$dest"
