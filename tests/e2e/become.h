/* Test tools only: become a partition's service (its uid, gid and the
 * IPC group) from inside the partition (nsenter), as a compromised
 * service would call others. The partition's block of service uids is
 * in init's environment (sandbox/sandbox.h), read from /proc/1/environ. */
#ifndef PARAPET_TESTS_BECOME_H
#define PARAPET_TESTS_BECOME_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/registry.h"
#include "sandbox/sandbox.h"

/* Takes SANDBOX_UID_BASE_ENV from init's environment, if there. */
static inline void become_take_uid_base(void)
{
	static char env[8192];
	size_t n = 0, want = strlen(SANDBOX_UID_BASE_ENV);
	ssize_t k;
	int fd = open("/proc/1/environ", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (n < sizeof(env) - 1 &&
	       (k = read(fd, env + n, sizeof(env) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	env[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(env + i) + 1)
		if (!strncmp(env + i, SANDBOX_UID_BASE_ENV, want) &&
		    env[i + want] == '=')
			setenv(SANDBOX_UID_BASE_ENV, env + i + want + 1, 1);
}

/* Takes the ids of the service named who (not "root"): its uid, gid and
 * IPC group, no capabilities (bounding set too), NoNewPrivs. 0, or -1
 * (printed with tool's name). */
static inline int become_ids(const char *tool, const char *who,
			     const struct registry_entry *e)
{
	gid_t ipc;
	uid_t id;

	become_take_uid_base();
	ipc = sandbox_ipc_gid();
	id = sandbox_service_uid(e->profile);
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
		    errno != EINVAL)
			break;
	if (setgroups(1, &ipc) != 0 || setresgid(id, id, id) != 0 ||
	    setresuid(id, id, id) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "%s: becoming %s (uid %u): %s\n", tool, who,
			(unsigned)id, strerror(errno));
		return -1;
	}
	return 0;
}

/* Becomes the service named who ("root" stays root) as a compromised one
 * would be: become_ids, and that service's own seccomp profile (strict;
 * a refused call kills the tool with SIGSYS). The partition's namespaces
 * are the caller's (nsenter): init's mount view, a superset of the
 * service's. Returns the caller bit (1 << profile), 0 for root, -1 on
 * error (printed with tool's name). */
static inline long become_service(const char *tool, const char *who)
{
	const struct registry_entry *e = registry_find(who);
	char err[256];

	if (!strcmp(who, "root"))
		return 0;
	if (e == NULL || e->profile < 0) {
		fprintf(stderr, "%s: no service '%s'\n", tool, who);
		return -1;
	}
	if (become_ids(tool, who, e) != 0)
		return -1;
	if (sandbox_load_filter((enum sandbox_profile)e->profile, 0,
				SANDBOX_STRICT, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", tool, err);
		return -1;
	}
	return 1L << e->profile;
}

#endif
