/* parapet-blkd, the vhost-user-blk back-end (docs/disks.md): one disk per
 * descriptor it was handed, one thread per disk serving one front-end
 * connection at a time on the disk's socket. blk.c runs virtio-blk
 * requests, dev.c the vhost-user device and its queue, listen.c the
 * sockets and their peer check. */
#ifndef PARAPET_BLKD_H
#define PARAPET_BLKD_H

#include <linux/virtio_blk.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/virtq.h"

#define BLKD_MAX_DISKS	 8
#define BLKD_SECTOR	 512u
#define BLKD_SEG_MAX	 (VIRTQ_CHAIN_MAX - 2) /* less header and status */
#define BLKD_MSG_TIMEOUT 5000 /* ms for the rest of a started message */

/* What each disk counts (read from any thread: parapet-diag disks). */
struct blkd_counters {
	atomic_uint_fast64_t requests; /* every chain taken */
	atomic_uint_fast64_t reads, writes, flushes, get_ids;
	atomic_uint_fast64_t bytes_read, bytes_written;
	atomic_uint_fast64_t errors;  /* completed with IOERR or UNSUPP */
	atomic_uint_fast64_t refused; /* malformed chains */
	atomic_uint_fast64_t in_flight;
	atomic_uint_fast64_t resubmitted;    /* run again after a restart */
	atomic_uint_fast64_t connections;    /* front-ends accepted */
	atomic_uint_fast64_t rejected_peers; /* connections refused */
	atomic_uint_fast64_t bad_messages;   /* vhost-user messages refused */
	atomic_uint_fast64_t features;	     /* negotiated virtio features */
	atomic_bool connected;
};

struct blkd_disk {
	unsigned index; /* N of diskN */
	int fd;		/* the disk's descriptor */
	bool ro;	/* opened O_RDONLY: writes fail */
	uint64_t sectors;
	char id[VIRTIO_BLK_ID_BYTES + 1]; /* GET_ID, e.g. "parapet-blkd-0" */
	char label[64];			  /* for logs: "disk0" or the path */
	int listen_fd;			  /* the disk's vhost-user socket */
	char sock_path[108];
	uid_t peer_uid; /* the one front-end uid accepted */
	struct blkd_counters c;
};

/* Fills d from its descriptor: read-only from its access mode, capacity
 * from its size (whole sectors). 0, or -1 logged. */
int blkd_disk_init(struct blkd_disk *d, unsigned index, int fd,
		   const char *label);

/* The features a disk offers (VERSION_1, SEG_MAX, BLK_SIZE, FLUSH, RO
 * when read-only, and vhost-user's PROTOCOL_FEATURES). */
uint64_t blkd_features(const struct blkd_disk *d);
/* Its config space (struct virtio_blk_config, little-endian). */
void blkd_config(const struct blkd_disk *d, struct virtio_blk_config *cfg);

/* Runs the request in chain c against d: writes its status byte (and the
 * data of a read) into the chain and returns the bytes written into it,
 * the used length. A chain too short to carry a status is refused
 * (counted) and 0 returned. */
uint32_t blkd_request(struct blkd_disk *d, const struct virtq_chain *c);

/* Takes every chain the queue has, runs it and returns it to the used
 * ring; a broken ring is reported once (q stops). Returns the chains
 * returned. */
unsigned blkd_drain(struct blkd_disk *d, struct virtq *q,
		    const struct virtq_mem *m);

/* Runs again the n chains at heads that a previous instance had taken
 * and not completed (virtq_inflight_attach), in that order, returning
 * each to the used ring; a chain that no longer walks is returned
 * unrun. Counted as resubmitted. */
void blkd_resubmit(struct blkd_disk *d, struct virtq *q,
		   const struct virtq_mem *m, const uint16_t *heads,
		   unsigned n);

/* Listens on path for d: a stream socket, mode 0600 plus an ACL entry for
 * acl_uid (unless it is our own uid), created under a temporary name and
 * renamed into place. 0, or -1 logged. */
int blkd_listen(struct blkd_disk *d, const char *path, uid_t acl_uid);

/* Serves d until stop_fd is readable: accepts one front-end at a time
 * (only d->peer_uid; others are closed and counted) and runs its
 * vhost-user session. */
void blkd_serve(struct blkd_disk *d, int stop_fd);

#endif
