/* One `--disk` value, as `parapet run` and the shim read it
 * (docs/disks.md): "PATH[,ro]" (a file served by parapet-blkd) or
 * "vhost-user=SOCKET" (an external vhost-user-blk backend). */
#ifndef PARAPET_DISKSPEC_H
#define PARAPET_DISKSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISKSPEC_PATH_MAX 1024

enum diskspec_backend {
	DISKSPEC_BLKD,	     /* a host file, served by parapet-blkd */
	DISKSPEC_VHOST_USER, /* an external vhost-user-blk server */
};

struct diskspec {
	enum diskspec_backend backend;
	bool read_only;
	char path[DISKSPEC_PATH_MAX]; /* the file or the socket */
};

/* Parses s into d: 0, or -1 with why (a phrase for "--disk 'S': why"). */
int diskspec_parse(const char *s, struct diskspec *d, const char **why);

/* The device-tree name of a backend ("blkd", "vhost-user"). */
const char *diskspec_backend_name(enum diskspec_backend b);
/* The backend named name, or -1. */
int diskspec_backend_from_name(const char *name);

/* Where disk index sits for the guest (lib/guest_abi.h). */
uint64_t diskspec_gpa(unsigned index);
unsigned diskspec_irq(unsigned index);

#endif
