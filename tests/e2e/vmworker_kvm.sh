#!/bin/sh
# The guest suite on the kvm accelerator (skips without /dev/kvm).
exec "$(dirname "$0")/vmworker_guests.sh" kvm
