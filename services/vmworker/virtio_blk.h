/* The guests' disks: one virtio-mmio (version 2) transport per disk at
 * its fixed address (docs/disks.md), whose block device lives in a
 * vhost-user backend (vhost_front.h). Registers, feature negotiation,
 * queue set-up, config space, status and reset are here; requests never
 * pass through vmworker: a QueueNotify is one eventfd write. */
#ifndef PARAPET_VIRTIO_BLK_H
#define PARAPET_VIRTIO_BLK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "services/vmworker/vhost_front.h"

struct devices;
struct vm;

#define VBLK_QUEUE_MAX 256 /* QueueNumMax */

/* One disk as vmworker is told of it. */
struct vm_disk_config {
	bool present;
	int conn_fd;	     /* an external backend's connection, or -1 */
	char sock_path[108]; /* blkd's socket when conn_fd < 0 */
	char backend[16];    /* "blkd" or "vhost-user" */
	char label[256];     /* the host's path, for diag */
};

/* One disk's transport state (the device's state in the table). */
struct vblk {
	pthread_mutex_t lock; /* the registers; VPs may race */
	unsigned index;
	const struct vm_disk_config *cfg;
	struct vhost_front front;
	bool front_ready; /* front initialised (index, connection) */
	/* registers */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t drv_features;
	uint32_t queue_sel, queue_num;
	bool queue_ready;
	uint64_t desc, avail, used;
	bool broken;		/* the backend failed: DEVICE_NEEDS_RESET */
	uint64_t driver_errors; /* times the device set NEEDS_RESET */
	/* restored from a serviced vmworker: the queue starts again at
	 * resume_base when the VM resumes */
	bool resume_pending;
	uint16_t resume_base;
	/* counters, for diag */
	/* notifies passed on; with nothing new (no kick); before DRIVER_OK */
	_Atomic uint64_t notifies, notifies_idle, notifies_dropped;
};

/* Adds the transports of the disks in vm->cfg to d. 0, or -1 (logged). */
int virtio_blk_add_all(struct devices *d, struct vm *vm);

/* Disk index's transport, or NULL. */
struct vblk *virtio_blk_get(struct vm *vm, unsigned index);

/* A consistent look at one disk, for diag. */
struct vblk_snapshot {
	unsigned index;
	const struct vm_disk_config *cfg;
	bool connected, running;
	uint64_t offered, negotiated, capacity;
	uint32_t status, queue_size;
	uint64_t notifies, notifies_idle, notifies_dropped, driver_errors;
	uint16_t avail_idx, used_idx; /* from the guest's rings */
	char error[160];
};
void virtio_blk_snapshot(struct vblk *b, struct vm *vm,
			 struct vblk_snapshot *s);

/* A restored VM resumes, or a servicing failed after the disks were
 * saved: the queues that ran start again in their backends (in
 * vmworker's own sandbox, before any VP runs). */
void virtio_blk_resume(struct vm *vm);

/* The backend failed (what, and front.error, logged): the device sets
 * DEVICE_NEEDS_RESET. Under b->lock. */
void virtio_blk_fail(struct vblk *b, const char *what);

/* Closes the backends' connections. */
void virtio_blk_fini(struct vm *vm);

#endif
