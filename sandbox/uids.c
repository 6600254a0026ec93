/* Service ids: each root partition's block of uids and gids
 * (sandbox/sandbox.h), so that no two partitions share a service uid. */
#include <stdbool.h>
#include <stdlib.h>

#include "sandbox/sandbox.h"

bool sandbox_uid_base_ok(unsigned long base)
{
	return base >= SANDBOX_UID_BASE &&
	       (base - SANDBOX_UID_BASE) % SANDBOX_UID_BLOCK == 0 &&
	       (base - SANDBOX_UID_BASE) / SANDBOX_UID_BLOCK <
		   SANDBOX_UID_BLOCKS;
}

uid_t sandbox_uid_base(void)
{
	const char *v = getenv(SANDBOX_UID_BASE_ENV);
	char *end;
	unsigned long base;

	if (v == NULL || *v == '\0')
		return SANDBOX_UID_BASE;
	base = strtoul(v, &end, 10);
	return *end == '\0' && sandbox_uid_base_ok(base) ? (uid_t)base
							 : SANDBOX_UID_BASE;
}

uid_t sandbox_service_uid(int profile)
{
	return sandbox_uid_base() + (uid_t)profile;
}

gid_t sandbox_ipc_gid(void)
{
	return sandbox_uid_base() + SANDBOX_IPC_GID_OFFSET;
}
