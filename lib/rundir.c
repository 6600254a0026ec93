/* Run directory helpers shared by `parapet run`, `parapet list`, `parapet ctl`
 * and the host CLI parapet-diag. */
#define _XOPEN_SOURCE 700
#include "lib/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

int rundir_write_pid_locked(const char *dir, pid_t pid)
{
	char path[4096], tmp[4200], text[24];
	int fd, n;

	snprintf(path, sizeof(path), "%s/pid", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(text, sizeof(text), "%d\n", (int)pid);
	if (flock(fd, LOCK_EX) != 0 || write(fd, text, (size_t)n) != n ||
	    rename(tmp, path) != 0) {
		int e = errno;

		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0; /* fd stays open: the lock lasts as long as we do */
}

/* A live pid that is (still) a `parapet` program: its comm. */
static bool rundir_pid_is_parapet(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fp = fopen(path, "re");
	if (fp == NULL)
		return false;
	if (fgets(comm, sizeof(comm), fp) == NULL)
		comm[0] = '\0';
	fclose(fp);
	return !strcmp(comm, "parapet\n");
}

/* True when someone holds DIR/pid's lock (or it cannot be tested). */
static bool rundir_pid_locked(const char *dir)
{
	char path[4096];
	int fd, held;

	snprintf(path, sizeof(path), "%s/pid", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd); /* drops our shared lock, if we got it */
	return held;
}

enum rundir_run rundir_run_state(const char *dir, pid_t *pid)
{
	pid_t p = rundir_read_pid(dir, "pid");

	if (pid != NULL)
		*pid = p;
	if (p == 0)
		return RUNDIR_RUN_UNKNOWN;
	if (!rundir_pid_alive(p))
		return RUNDIR_RUN_GONE;
	if (rundir_pid_locked(dir) || rundir_pid_is_parapet(p))
		return RUNDIR_RUN_ALIVE;
	return RUNDIR_RUN_GONE; /* the pid was reused */
}

static void rundir_remove_tree(const char *dir);

bool rundir_reap(const char *base, const char *name)
{
	char dir[4096], aside[4200];

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	if (rundir_run_state(dir, NULL) != RUNDIR_RUN_GONE)
		return false;
	snprintf(aside, sizeof(aside), "%s/.gone.%s.%d", base, name,
		 (int)getpid());
	if (rename(dir, aside) != 0)
		return false; /* someone else reaps it */
	if (rundir_run_state(aside, NULL) != RUNDIR_RUN_GONE) {
		/* a new run took the name in between: give it back */
		(void)!rename(aside, dir); /* failing: left aside, kept */
		return false;
	}
	rundir_remove_tree(aside);
	return true;
}

bool rundir_run_gone(const char *base, const char *name, char *why, size_t len)
{
	char dir[4096];
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	if (rundir_run_state(dir, &pid) != RUNDIR_RUN_GONE)
		return false;
	snprintf(why, len, "its parapet run, pid %d, is gone%s", (int)pid,
		 rundir_reap(base, name) ? "; stale run directory removed"
					 : "");
	return true;
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

/* A file whose creation had looked up dir just before it was renamed
 * aside still lands in it, after the walk read it: walked again. */
#define RUNDIR_REMOVE_WALKS 3

static void rundir_remove_tree(const char *dir)
{
	struct stat st;

	for (int i = 0; i < RUNDIR_REMOVE_WALKS; i++) {
		nftw(dir, rundir_rm, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		if (lstat(dir, &st) != 0)
			return;
	}
}

/* Renamed aside first (PARENT/.gone.NAME.PID, which no listing shows):
 * a thread that still creates a file by its path under dir, such as a
 * listener's watchdog listening anew while the run ends, then fails
 * instead of landing between the walk's unlinks and its rmdir, which
 * left dir behind with that one file and no pid file, refusing the name
 * to every later run. The name is free at once. */
void rundir_remove(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char aside[4200];

	if (slash != NULL && slash[1] != '\0' &&
	    (size_t)snprintf(aside, sizeof(aside), "%.*s/.gone.%s.%d",
			     (int)(slash - dir), dir, slash + 1,
			     (int)getpid()) < sizeof(aside) &&
	    rename(dir, aside) == 0) {
		rundir_remove_tree(aside);
		return;
	}
	rundir_remove_tree(dir); /* e.g. aside taken by an older leftover */
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
