/* Service ids on the host: root blocks, subordinate ranges, user
 * namespace maps (host/ids.h). */
#include "host/ids.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/run.h"
#include "sandbox/sandbox.h"

#define SUBID_BLOCKS_MAX 512u

/* run_fail's message; -1. */
#define ids_fail(...) (run_fail(__VA_ARGS__), -1)

/* The first range of NAME or UID in an /etc/subuid-style file: 0 and
 * start/count, or -1. */
static int ids_subrange(const char *file, const char *name, unsigned long id,
			unsigned long *start, unsigned long *count)
{
	char line[512], who[256];
	FILE *f = fopen(file, "re");
	int rc = -1;

	if (f == NULL)
		return -1;
	while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
		char *end;

		if (sscanf(line, "%255[^:]:%lu:%lu", who, start, count) != 3)
			continue;
		if ((name != NULL && strcmp(who, name) == 0) ||
		    (strtoul(who, &end, 10) == id && *end == '\0'))
			rc = 0;
	}
	fclose(f);
	return rc;
}

/* Blocks the user's subordinate ranges hold (0: none usable). */
static unsigned ids_subid_blocks(struct run_ids *ids)
{
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : NULL;
	unsigned long us, uc, gs, gc, n;

	if (ids_subrange("/etc/subuid", name, getuid(), &us, &uc) != 0 ||
	    ids_subrange("/etc/subgid", name, getuid(), &gs, &gc) != 0) {
		snprintf(ids->why, sizeof(ids->why),
			 "no subordinate ids for uid %u in /etc/subuid and "
			 "/etc/subgid",
			 (unsigned)getuid());
		return 0;
	}
	if (access("/usr/bin/newuidmap", X_OK) != 0 ||
	    access("/usr/bin/newgidmap", X_OK) != 0) {
		snprintf(ids->why, sizeof(ids->why),
			 "newuidmap/newgidmap missing (package uidmap)");
		return 0;
	}
	n = (uc < gc ? uc : gc) / SANDBOX_UID_BLOCK;
	if (n == 0)
		snprintf(ids->why, sizeof(ids->why),
			 "fewer than %u subordinate ids", SANDBOX_UID_BLOCK);
	ids->uid_base = (uid_t)us;
	ids->gid_base = (gid_t)gs;
	return n < SUBID_BLOCKS_MAX ? (unsigned)n : SUBID_BLOCKS_MAX;
}

/* The first of n blocks whose lock file no live parapet run holds. */
static int ids_lock_block(struct run_ids *ids, const char *base_dir, unsigned n)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/.uid-blocks", base_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return ids_fail("%s: %s", path, strerror(errno));
	for (unsigned k = 0; k < n; k++) {
		int fd;

		snprintf(path, sizeof(path), "%s/.uid-blocks/%u", base_dir, k);
		fd =
		    open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return ids_fail("%s: %s", path, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			ids->lock_fd = fd; /* stays open: the block is ours */
			return (int)k;
		}
		close(fd);
	}
	return ids_fail("no free block of service ids: %u partitions are "
			"running",
			n);
}

int ids_take(struct run_ids *ids, const char *base_dir)
{
	char val[16];
	int k;

	*ids = (struct run_ids){ .lock_fd = -1 };
	unsetenv(SANDBOX_UID_BASE_ENV); /* ours to set, never inherited */
	if (geteuid() != 0) {
		unsigned n = ids_subid_blocks(ids);

		if (n == 0)
			return 0; /* one uid for all; why says so */
		if ((k = ids_lock_block(ids, base_dir, n)) < 0)
			return -1;
		ids->separated = ids->subids = true;
		ids->uid_base += (uid_t)k * SANDBOX_UID_BLOCK;
		ids->gid_base += (gid_t)k * SANDBOX_UID_BLOCK;
		return 0;
	}
	if ((k = ids_lock_block(ids, base_dir, SANDBOX_UID_BLOCKS)) < 0)
		return -1;
	ids->separated = true;
	ids->uid_base = ids->gid_base =
	    SANDBOX_UID_BASE + (uid_t)k * SANDBOX_UID_BLOCK;
	snprintf(val, sizeof(val), "%u", (unsigned)ids->uid_base);
	setenv(SANDBOX_UID_BASE_ENV, val, 1);
	return 0;
}

uid_t ids_service_uid(const struct run_ids *ids, int profile)
{
	return ids->separated ? ids->uid_base + (uid_t)profile : getuid();
}

gid_t ids_service_gid(const struct run_ids *ids, int profile)
{
	return ids->separated ? ids->gid_base + (gid_t)profile : getgid();
}

static int ids_write(pid_t pid, const char *file, const char *text)
{
	char path[64];
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return rc;
}

/* newuidmap/newgidmap PID 0 OWN 1 SANDBOX_UID_BASE BASE BLOCK. */
static int ids_run_map(const char *tool, pid_t pid, unsigned own, unsigned base)
{
	char p[16], o[16], in[16], out[16], n[16];
	int status;
	pid_t c;

	snprintf(p, sizeof(p), "%d", (int)pid);
	snprintf(o, sizeof(o), "%u", own);
	snprintf(in, sizeof(in), "%u", SANDBOX_UID_BASE);
	snprintf(out, sizeof(out), "%u", base);
	snprintf(n, sizeof(n), "%u", SANDBOX_UID_BLOCK);
	c = fork();
	if (c == 0) {
		execl(tool, tool, p, "0", o, "1", in, out, n, (char *)NULL);
		_exit(127);
	}
	if (c < 0 || waitpid(c, &status, 0) != c || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return ids_fail("%s failed for the partition's ids (its "
				"message is above)",
				tool);
	return 0;
}

int ids_map(const struct run_ids *ids, pid_t pid)
{
	char map[64];

	if (ids->subids)
		return ids_run_map("/usr/bin/newuidmap", pid, getuid(),
				   ids->uid_base) != 0 ||
			       ids_run_map("/usr/bin/newgidmap", pid, getgid(),
					   ids->gid_base) != 0
			   ? -1
			   : 0;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getuid());
	if (ids_write(pid, "uid_map", map) != 0 ||
	    ids_write(pid, "setgroups", "deny") != 0)
		return ids_fail("user namespace id maps: %s", strerror(errno));
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getgid());
	if (ids_write(pid, "gid_map", map) != 0)
		return ids_fail("user namespace gid map: %s", strerror(errno));
	return 0;
}
