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
/* Removes dir and everything under it (no symlinks followed). */
void rundir_remove(const char *dir);
/* NAME: 1-63 of [A-Za-z0-9_.-], not starting with '.'. */
bool rundir_name_ok(const char *name);

#endif
