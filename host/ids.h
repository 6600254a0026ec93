/* The ids a partition's services run as, seen from the host (DESIGN.md §7
 * step 5, sandbox/sandbox.h). As root: a block of SANDBOX_UID_BLOCK ids
 * of the partition's own. Unprivileged: the user's subordinate ids
 * (/etc/subuid and /etc/subgid, mapped by newuidmap/newgidmap), a block
 * of them per partition, mapped to the same ids inside as a root
 * partition's block 0; without subordinate ids, every service runs as the
 * user, not separated from the others. */
#ifndef PARAPET_HOST_IDS_H
#define PARAPET_HOST_IDS_H

#include <stdbool.h>
#include <sys/types.h>

struct run_ids {
	bool separated; /* each service has a uid of its own */
	bool subids;	/* unprivileged, from the subordinate ranges */
	uid_t uid_base; /* host view: the block's first uid and gid */
	gid_t gid_base;
	int lock_fd;   /* holds the block while we live; -1 */
	char why[160]; /* not separated: why (for the log) */
};

/* Takes a block (lock files in base_dir/.uid-blocks/) and, as root,
 * exports it to our children (SANDBOX_UID_BASE_ENV). 0, or -1 with a
 * message printed. */
int ids_take(struct run_ids *ids, const char *base_dir);

/* The host uid of the service running under sandbox profile profile. */
uid_t ids_service_uid(const struct run_ids *ids, int profile);
gid_t ids_service_gid(const struct run_ids *ids, int profile);

/* Unprivileged: writes the user namespace maps of pid (root inside is
 * the user; with subordinate ids, the block too). 0, or -1 with a
 * message printed. */
int ids_map(const struct run_ids *ids, pid_t pid);

#endif
