#!/bin/sh
# without-kvm.sh CMD [ARG...]: runs CMD with /dev/kvm hidden, so that the
# real accelerator probe fails as on a machine without KVM: a private
# mount namespace whose /dev is a tmpfs holding only the nodes Parapet and
# its tests use (a /dev/null bound over /dev/kvm would still pass
# `[ -c /dev/kvm ]`). Nothing changes outside the namespace. Root only.
# Exit 99: the namespace could not be set up.
set -eu
if [ "${1:-}" != "--inside" ]; then
	[ $# -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
	exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift
dev=$(mktemp -d /tmp/parapet-nokvm.XXXXXX)
{
	mount -t tmpfs -o mode=0755,size=64k parapet-nokvm "$dev"
	for n in null zero full random urandom tty ptmx; do
		[ -e "/dev/$n" ] || continue
		: >"$dev/$n"
		mount --bind "/dev/$n" "$dev/$n"
	done
	for d in pts shm mqueue; do
		[ -d "/dev/$d" ] || continue
		mkdir "$dev/$d"
		mount --rbind "/dev/$d" "$dev/$d"
	done
	ln -s /proc/self/fd "$dev/fd"
	ln -s /proc/self/fd/0 "$dev/stdin"
	ln -s /proc/self/fd/1 "$dev/stdout"
	ln -s /proc/self/fd/2 "$dev/stderr"
	mount --move "$dev" /dev
} || { echo "without-kvm: cannot build a /dev without kvm" >&2; exit 99; }
rmdir "$dev"
[ ! -e /dev/kvm ] || { echo "without-kvm: /dev/kvm still there" >&2; exit 99; }
exec "$@"
