/* vmworker's vhost-user frontend for one disk: the connection to its
 * backend (parapet-blkd's socket, or an external server's connection the
 * host made), the handshake that learns the backend's features and
 * config space, and starting and stopping its one request queue. The
 * backend gets guest RAM outside the VTL2 hole only. Calls block (with a
 * timeout) and come from the device under its lock. */
#ifndef PARAPET_VHOST_FRONT_H
#define PARAPET_VHOST_FRONT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

#define VHOST_FRONT_CONFIG_MAX 64 /* virtio_blk_config bytes kept */

struct vhost_front {
	int sock;	/* -1: not connected */
	int kick_fd;	/* eventfd: QueueNotify writes it */
	int call_fd;	/* eventfd the backend signals (guests poll instead) */
	char path[108]; /* blkd's socket, or "" for a given connection */
	uint64_t features;	    /* the backend's virtio features */
	uint64_t protocol_features; /* negotiated */
	uint8_t config[VHOST_FRONT_CONFIG_MAX];
	bool has_config;
	bool started; /* the queue runs in the backend */
	/* The guest's avail index (in guest RAM) and its value at the last
	 * kick: a notify that makes nothing new available wakes nobody. */
	const volatile uint16_t *avail_idx;
	_Atomic uint32_t kicked_idx; /* > 0xffff: none yet */
	char error[160];	     /* the last failure, for logs and diag */
};

/* A frontend that connects to path on first use (fd < 0), or uses the
 * connected socket fd. */
void vhost_front_init(struct vhost_front *f, int fd, const char *path);

/* Connects (retrying for up to wait_ms while the socket is not there
 * yet) and does the handshake: features, protocol features, owner,
 * config. Idempotent. 0, or -1 with f->error. */
int vhost_front_connect(struct vhost_front *f, int wait_ms);

/* Starts queue 0 of num entries whose parts lie at the guest-physical
 * addresses given (checked against guest RAM), with the features the
 * driver accepted, the backend taking requests from avail index base
 * (0 at DRIVER_OK; where a serviced vmworker stopped). 0, or -1 with
 * f->error. */
int vhost_front_start(struct vhost_front *f, struct vm *vm, uint64_t features,
		      unsigned num, uint64_t desc, uint64_t avail,
		      uint64_t used, uint16_t base);

/* Stops the queue (GET_VRING_BASE); the index where the backend stopped
 * in *last_avail when not NULL. */
int vhost_front_stop(struct vhost_front *f, uint32_t *last_avail);

/* The hot path of QueueNotify: one eventfd write when the guest made
 * something available since the last one (the backend reads the avail
 * index after it takes a kick, so it sees all up to that index); false
 * when the kick was not needed. */
bool vhost_front_kick(struct vhost_front *f);

void vhost_front_close(struct vhost_front *f);

#endif
