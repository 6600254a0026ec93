/* Run directory helpers shared by `parapet run`, `parapet list`, `parapet ctl`
 * and the host CLI parapet-diag. */
#define _XOPEN_SOURCE 700
#include "lib/rundir.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rundir_base(char *out, size_t len, char *err, size_t err_len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		snprintf(out, len, "/run/parapet");
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(out, len, "%s/parapet", xdg);
	else {
		snprintf(err, err_len,
			 "XDG_RUNTIME_DIR is not set (needed "
			 "for the run directory when not root)");
		return -1;
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		snprintf(err, err_len, "%s: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}

pid_t rundir_read_pid(const char *dir, const char *file)
{
	char path[4096];
	FILE *fp;
	long pid = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1 || pid <= 0 || pid > 4194304)
		pid = 0;
	fclose(fp);
	return (pid_t)pid;
}

bool rundir_pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int rundir_rm(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void rundir_remove(const char *dir)
{
	nftw(dir, rundir_rm, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

bool rundir_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63 || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		      name[i] == '.' || name[i] == '-'))
			return false;
	return true;
}
