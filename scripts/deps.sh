#!/bin/sh
# Installs the Debian packages Parapet needs to build, run and test,
# only those missing; prints what it did.
set -eu

PACKAGES="gcc make pkg-config libfdt-dev device-tree-compiler libnng-dev
libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libseccomp-dev
libcmocka-dev libunicorn-dev zlib1g-dev libssl-dev libjansson-dev
libmicrohttpd-dev prometheus
qemu-system-x86 qemu-system-common tshark clang libclang-rt-14-dev llvm
binutils clang-format iproute2 uidmap util-linux procps jq man-db groff-base
socat curl"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all $(echo $PACKAGES | wc -w) packages present"
	exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: not root and no sudo; install:$missing" >&2
		exit 1
	fi
fi
# tshark asks whether non-root users may capture; answer it up front.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	$SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
echo "deps: installed:$missing"
