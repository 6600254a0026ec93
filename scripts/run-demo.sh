#!/bin/sh
# `make run`: boots the demo guest (build/guests/hello.igvm) with the most
# complete boot chain present in this build.
set -u
build=$1
image="$build/guests/hello.igvm"
if [ -x "$build/bin/parapet" ] && [ -f "$image" ] &&
	"$build/bin/parapet" --help 2>&1 | grep -q '^ *run '; then
	exec "$build/bin/parapet" run "$image"
fi
if [ -x "$build/bin/parapet-vmworker" ] && [ -f "$image" ]; then
	echo "run: the partition (parapet run) is not built yet;" \
		"booting $image in a standalone vmworker" >&2
	exec "$build/bin/parapet-vmworker" --standalone "$image"
fi
if [ -x "$build/bin/parapet" ] && [ -f "$image" ]; then
	echo "run: no VM runner is built yet; showing the demo image" >&2
	exec "$build/bin/parapet" igvm dump "$image"
fi
echo "run: missing: $image or the tools to boot it" >&2
exit 1
