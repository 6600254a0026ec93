#!/bin/sh
# The guest suite on the emu (Unicorn) accelerator.
exec "$(dirname "$0")/vmworker_guests.sh" emu
