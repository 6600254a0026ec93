/* Who may call whom: the caller identities of lib/ipc's method tables.
 * A caller is known by its connection's kernel-verified peer uid
 * (SO_PEERCRED), never by a field of its message: each service runs as
 * its own uid (sandbox_service_uid(its profile), sandbox/sandbox.h), and
 * caller_peer_uids() maps those uids to the bits below. Every method
 * table names its callers with these bits; IPC_SENDER_ANY only with a
 * comment saying why. The full table is in sandbox/README.md. */
#ifndef PARAPET_CALLER_H
#define PARAPET_CALLER_H

#include <stddef.h>

#include "lib/ipc.h"

/* One bit per service, in sandbox profile order (checked in caller.c). */
#define CALLER_POLICY	(1u << 0)
#define CALLER_HOSTCOMM (1u << 1)
#define CALLER_VMWORKER (1u << 2)
#define CALLER_DIAGD	(1u << 3)
#define CALLER_SERVICES 4u

#define CALLER_UIDS_MAX (CALLER_SERVICES + 1)

/* Fills out (CALLER_UIDS_MAX entries) with the uid of every service and
 * its bit; returns the count. Where the services share one uid (an
 * unprivileged partition whose user namespace maps only the user's uid,
 * DESIGN.md §7 step 5) that uid gets every bit: services are not
 * separated from each other there, as `parapet-diag sandbox` says. */
size_t caller_peer_uids(struct ipc_peer_uid *out);

/* The service name of a single caller bit ("policy", ...), or "unknown". */
const char *caller_name(uint32_t bit);

#endif
