/* What `parapet-diag sandbox SVC` shows: each thread's Seccomp,
 * NoNewPrivs and capability sets from /proc, and profile/mode names. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/registry.h"
#include "sandbox/sandbox.h"

/* The services' profiles are named after them (lib/registry.h). */
static const char *const profile_names[] = {
	[SANDBOX_PROFILE_SIDECAR] = "sidecar",
	[SANDBOX_PROFILE_TEST] = "test",
};

static const char *const mode_names[] = {
	[SANDBOX_STRICT] = "strict",
	[SANDBOX_LOG] = "log",
	[SANDBOX_OFF] = "off",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *sandbox_profile_name(enum sandbox_profile profile)
{
	const struct registry_entry *e = registry_by_profile((int)profile);

	if (e != NULL)
		return e->name;
	if ((unsigned)profile >= NELEM(profile_names))
		return NULL;
	return profile_names[profile];
}

const char *sandbox_mode_name(enum sandbox_mode mode)
{
	if ((unsigned)mode >= NELEM(mode_names))
		return NULL;
	return mode_names[mode];
}

int sandbox_mode_parse(const char *name, enum sandbox_mode *out)
{
	for (size_t i = 0; i < NELEM(mode_names); i++)
		if (mode_names[i] != NULL && strcmp(name, mode_names[i]) == 0) {
			*out = (enum sandbox_mode)i;
			return 0;
		}
	return -1;
}

int sandbox_profile_parse(const char *name, enum sandbox_profile *out)
{
	const struct registry_entry *e = registry_find(name);

	if (e != NULL && e->profile >= 0) {
		*out = (enum sandbox_profile)e->profile;
		return 0;
	}
	for (size_t i = 0; i < NELEM(profile_names); i++)
		if (profile_names[i] != NULL &&
		    strcmp(name, profile_names[i]) == 0) {
			*out = (enum sandbox_profile)i;
			return 0;
		}
	return -1;
}

static void parse_line(struct sandbox_thread_status *t, const char *line)
{
	unsigned long a, b;

	if (sscanf(line, "Name:\t%15[^\n]", t->comm) == 1)
		return;
	if (sscanf(line, "Uid:\t%lu\t%lu", &a, &b) == 2)
		t->uid = (uid_t)b;
	else if (sscanf(line, "Gid:\t%lu\t%lu", &a, &b) == 2)
		t->gid = (gid_t)b;
	else if (sscanf(line, "CapInh:\t%" SCNx64, &t->cap_inh) == 1 ||
		 sscanf(line, "CapPrm:\t%" SCNx64, &t->cap_prm) == 1 ||
		 sscanf(line, "CapEff:\t%" SCNx64, &t->cap_eff) == 1 ||
		 sscanf(line, "CapBnd:\t%" SCNx64, &t->cap_bnd) == 1 ||
		 sscanf(line, "CapAmb:\t%" SCNx64, &t->cap_amb) == 1 ||
		 sscanf(line, "NoNewPrivs:\t%d", &t->no_new_privs) == 1 ||
		 sscanf(line, "Seccomp:\t%d", &t->seccomp) == 1)
		return;
	else
		(void)sscanf(line, "Seccomp_filters:\t%d", &t->seccomp_filters);
}

static int read_one(const char *task_dir, const char *tid,
		    struct sandbox_thread_status *t)
{
	char path[600], line[256];
	FILE *f;

	memset(t, 0, sizeof(*t));
	t->tid = (pid_t)atoi(tid);
	t->seccomp_filters = -1;
	snprintf(path, sizeof(path), "%s/%s/status", task_dir, tid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1; /* the thread exited meanwhile */
	while (fgets(line, sizeof(line), f) != NULL)
		parse_line(t, line);
	fclose(f);
	return 0;
}

int sandbox_read_threads(pid_t pid, struct sandbox_thread_status *out,
			 size_t max, size_t *n)
{
	char dir[64];
	struct dirent *de;
	struct sandbox_thread_status t;
	DIR *d;

	if (pid == 0)
		snprintf(dir, sizeof(dir), "/proc/self/task");
	else
		snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (d == NULL)
		return -1;
	*n = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || read_one(dir, de->d_name, &t) != 0)
			continue;
		if (*n < max)
			out[*n] = t;
		(*n)++;
	}
	closedir(d);
	return 0;
}
