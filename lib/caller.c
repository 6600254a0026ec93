/* Service uids to caller identity bits (lib/caller.h). */
#include "lib/caller.h"

#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/registry.h"
#include "sandbox/sandbox.h"

_Static_assert(CALLER_POLICY == 1u << SANDBOX_PROFILE_POLICY &&
		   CALLER_HOSTCOMM == 1u << SANDBOX_PROFILE_HOSTCOMM &&
		   CALLER_VMWORKER == 1u << SANDBOX_PROFILE_VMWORKER &&
		   CALLER_DIAGD == 1u << SANDBOX_PROFILE_DIAGD,
	       "caller bits follow the sandbox profiles");

/* Whether uid is mapped in this process's user namespace (always, outside
 * any user namespace). */
static bool uid_mapped(uid_t uid)
{
	unsigned long inside, outside, count;
	bool found = false;
	FILE *f = fopen("/proc/self/uid_map", "re");

	if (f == NULL)
		return true;
	while (!found &&
	       fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		found = uid >= inside && uid - inside < count;
	fclose(f);
	return found;
}

size_t caller_peer_uids(struct ipc_peer_uid *out)
{
	size_t n = 0;
	bool separated = true;

	for (unsigned i = 0; i < CALLER_SERVICES; i++) {
		uid_t uid = sandbox_service_uid((int)i);

		if (!uid_mapped(uid))
			separated = false;
		out[n++] = (struct ipc_peer_uid){ uid, 1u << i };
	}
	/* The sandbox keeps the one mapped uid when a service's own is not
	 * mapped (sandbox.c pick_ids): that uid is every service. */
	if (!separated)
		out[n++] = (struct ipc_peer_uid){ getuid(),
						  (1u << CALLER_SERVICES) - 1 };
	return n;
}

const char *caller_name(uint32_t bit)
{
	const struct registry_entry *e = NULL;

	for (unsigned i = 0; e == NULL && i < CALLER_SERVICES; i++)
		if (bit == 1u << i)
			e = registry_by_profile((int)i);
	return e != NULL ? e->name : "unknown";
}
