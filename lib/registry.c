/* The registry's rows (lib/registry.h). */
#include "lib/registry.h"

#include <string.h>

#include "blkd.pb-c.h"
#include "diag.pb-c.h"
#include "hostchan.pb-c.h"
#include "hostcomm.pb-c.h"
#include "init.pb-c.h"
#include "lib/manifest.h"
#include "policy.pb-c.h"
#include "sandbox/sandbox.h"
#include "vmworker.pb-c.h"

#define FD(x) (1u << MANIFEST_FD_##x)

/* vmworker first (it builds the VM while the others start; every client
 * dials in the background, so any order boots), diagd last of the default
 * manifest; power-off stops them all at once, vmworker last unless the
 * host has everything already (lib/registry.h). */
const struct registry_entry registry[] = {
	{ SVC_NAME_VMWORKER, "parapet-vmworker", SANDBOX_PROFILE_VMWORKER,
	  FD(GUEST_RAM) | FD(SIDECAR) | FD(BOOT_DTB) | FD(BOOT_IMAGE), 30003,
	  &parapet__vm_worker__descriptor, REGISTRY_F_STOP_LAST },
	{ SVC_NAME_POLICY, "parapet-policy", SANDBOX_PROFILE_POLICY,
	  FD(BOOT_DTB), 30001, &parapet__policy__descriptor, 0 },
	{ SVC_NAME_HOSTCOMM, "parapet-hostcomm", SANDBOX_PROFILE_HOSTCOMM, 0,
	  30002, &parapet__host_comm__descriptor, 0 },
	{ SVC_NAME_DIAGD, "parapet-diagd", SANDBOX_PROFILE_DIAGD, 0, 30004,
	  &parapet__diag__descriptor, 0 },
	/* the disks' back-end (docs/disks.md): only with a disk to serve */
	{ SVC_NAME_BLKD, "parapet-blkd", SANDBOX_PROFILE_BLKD, 0, 30007,
	  &parapet__blkd__descriptor, REGISTRY_F_ON_DEMAND },
	{ SVC_NAME_INIT, NULL, -1, 0, 30000, &parapet__init_control__descriptor,
	  0 },
	{ SVC_NAME_HOST, NULL, -1, 0, 30005, &parapet__host_channel__descriptor,
	  0 },
	{ SVC_NAME_DIAG, NULL, -1, 0, 30006, NULL, 0 },
};

const size_t registry_count = sizeof(registry) / sizeof(registry[0]);
_Static_assert(sizeof(registry) / sizeof(registry[0]) <= REGISTRY_MAX,
	       "REGISTRY_MAX bounds the registry");

const struct registry_entry *registry_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < registry_count; i++)
		if (strcmp(registry[i].name, name) == 0)
			return &registry[i];
	return NULL;
}

const struct registry_entry *registry_by_profile(int profile)
{
	for (size_t i = 0; i < registry_count; i++)
		if (registry[i].binary != NULL &&
		    registry[i].profile == profile)
			return &registry[i];
	return NULL;
}

uid_t registry_uid(const struct registry_entry *e)
{
	return e->profile < 0 ? 0 : sandbox_service_uid(e->profile);
}
