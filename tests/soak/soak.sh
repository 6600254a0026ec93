#!/bin/sh
# Soak under faults (make soak): the counter guest, with a disk, prints
# every 1 ms while policy, hostcomm, diagd and blkd are killed, vmworker
# serviced, services
# stopped and trace clients killed; SOAK_SECONDS (default 240) and
# SOAK_KILLS (default 100000: no limit) bound it. Exit 0 pass, 77 skip.
B=${BUILD:-build}
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
exec python3 "$(dirname "$0")/soak.py" "$B" "${SOAK_SECONDS:-240}" \
	"${SOAK_KILLS:-100000}"
