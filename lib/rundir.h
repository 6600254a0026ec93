/* Run directories of partitions on the host (DESIGN.md §11):
 * /run/parapet/NAME/ for root, $XDG_RUNTIME_DIR/parapet/NAME/ otherwise,
 * holding pid, init.pid, status.json, boot.dtb, timeline.json, logs/. */
#ifndef PARAPET_RUNDIR_H
#define PARAPET_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The parent of every run directory. 0, or -1 with a message in err. */
int rundir_base(char *out, size_t len, char *err, size_t err_len);
/* pid read from DIR/FILE, or 0. */
pid_t rundir_read_pid(const char *dir, const char *file);
/* True when pid names a live process. */
bool rundir_pid_alive(pid_t pid);

/* Whether the `parapet run` of a run directory is there. */
enum rundir_run {
	RUNDIR_RUN_ALIVE,   /* its pid runs and holds the pid file's lock */
	RUNDIR_RUN_GONE,    /* its pid is gone, or is another program now */
	RUNDIR_RUN_UNKNOWN, /* no pid file (starting, or not a run dir) */
};
/* `parapet run` writes DIR/pid this way: the file appears already locked
 * (LOCK_EX, held until the process ends; the descriptor is close-on-exec
 * and left open). 0, or -1 with errno. */
int rundir_write_pid_locked(const char *dir, pid_t pid);
/* The state of DIR's `parapet run`, from its pid file: the pid first
 * (quick), then the lock, so that a pid reused by another process does
 * not count (a `parapet` without the lock counts as alive: it may be an
 * older version's run). *pid gets the pid read (0: none). */
enum rundir_run rundir_run_state(const char *dir, pid_t *pid);
/* Removes BASE/NAME when its run is gone: renamed aside first, checked
 * again, then removed, so that a run that took the name in between keeps
 * its directory. True when it was removed. */
bool rundir_reap(const char *base, const char *name);
/* True when BASE/NAME's run is gone: reaps it, and why says so in words
 * ("its parapet run, pid N, is gone; ..."). */
bool rundir_run_gone(const char *base, const char *name, char *why, size_t len);
/* Removes dir and everything under it (no symlinks followed), renamed
 * aside first: the name is free at once, and a file created by a path
 * under dir after that fails instead of keeping dir (see rundir.c). */
void rundir_remove(const char *dir);
/* NAME: 1-63 of [A-Za-z0-9_.-], not starting with '.'. */
bool rundir_name_ok(const char *name);

#endif
