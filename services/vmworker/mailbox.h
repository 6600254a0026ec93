/* The VP start mailbox (port 0xf2): the guest asks the paravisor to start
 * VP n at RIP/RSP and reads back the status of its last request. */
#ifndef PARAPET_MAILBOX_H
#define PARAPET_MAILBOX_H

#include <stdatomic.h>
#include <stdint.h>

#include "services/vmworker/devices.h"

struct mailbox {
	_Atomic uint32_t status; /* GUEST_MAILBOX_* of the last request */
};

extern const struct dev_ops mailbox_dev;

#endif
