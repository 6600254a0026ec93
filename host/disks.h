/* `parapet run --disk`: opens each disk with the invoking user's rights
 * (or connects to its external vhost-user backend) before the partition
 * exists, and sends the descriptors to init (docs/disks.md). */
#ifndef PARAPET_HOST_DISKS_H
#define PARAPET_HOST_DISKS_H

#include "boot/vmopts.h"
#include "lib/diskspec.h"

struct host_disks {
	unsigned n;
	struct diskspec spec[VMOPTS_DISK_MAX];
	int fd[VMOPTS_DISK_MAX];
};

/* Opens every --disk of o: 0, or PARTITION_EXIT_SETUP after saying which
 * disk is wrong (nothing is left open then). */
int host_disks_open(const struct vmopts *o, struct host_disks *d);

/* Sends disk N's descriptor on the descriptor channel with token N + 1
 * and closes ours: 0, or PARTITION_EXIT_SETUP. */
int host_disks_send(struct host_disks *d, int fdchan);

/* Closes what is still open. */
void host_disks_close(struct host_disks *d);

#endif
