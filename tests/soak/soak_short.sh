#!/bin/sh
# The soak of tests/soak/soak.sh, short (30 s of faults) for `make test`.
SOAK_SECONDS=${SOAK_SHORT_SECONDS:-30} SOAK_KILLS=100000 \
	exec "$(dirname "$0")/soak.sh"
