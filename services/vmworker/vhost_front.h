/* vmworker's vhost-user frontend for one disk: the connection to its
 * backend (parapet-blkd's socket, or an external server's connection the
 * host made), the handshake that learns the backend's features and
 * config space, and starting and stopping its one request queue. The
 * backend gets guest RAM outside the VTL2 hole only. Calls block (with a
 * timeout) and come from the device under its lock. A backend that goes
 * away (parapet-blkd restarted or killed) is replaced: the next one gets
 * the running queue's state and the inflight region the frontend keeps
 * (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), and completes what its
 * predecessor had taken. */
#ifndef PARAPET_VHOST_FRONT_H
#define PARAPET_VHOST_FRONT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/vhost_user.h"

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
	/* The running queue as the driver set it up, to start it again in
	 * the next backend (ring parts: guest-physical). */
	uint64_t ring_features;
	unsigned ring_num;
	uint64_t ring_desc, ring_avail, ring_used;
	const uint16_t *ring_used_idx; /* in guest RAM */
	/* The backend's inflight region, kept across backends (-1: none). */
	int inflight_fd;
	struct vhost_user_inflight inflight;
	unsigned restarts; /* queues started again in a new backend */
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

/* Connects to path, retrying for up to wait_ms while nobody listens (a
 * restarting backend). Needs no lock: touches no frontend. The socket,
 * or -1 with errno. */
int vhost_front_dial(const char *path, int wait_ms);

/* The backend went away: its socket is closed (sock -1). The queue stays
 * "started": notifies still land in the kick eventfd, which the next
 * backend takes over. */
void vhost_front_lost(struct vhost_front *f);

/* Takes sock, a new connection to the backend, does the handshake and,
 * when the queue was running, starts it again as it was: features,
 * memory table, the inflight region (the new backend runs again what the
 * old one had taken; without the protocol feature the queue resumes at
 * the guest's used index instead), num, base, addresses, kick, call,
 * enable, then one kick for whatever the guest made available meanwhile.
 * 0, or -1 with f->error. */
int vhost_front_restart(struct vhost_front *f, struct vm *vm, int sock);

/* Stops the queue (GET_VRING_BASE); the index where the backend stopped
 * in *last_avail when not NULL. A backend gone before or during the stop
 * took the queue with it: 0, the connection closed, *last_avail as it
 * was. Else 0, or -1 with f->error. */
int vhost_front_stop(struct vhost_front *f, uint32_t *last_avail);

/* The hot path of QueueNotify: one eventfd write when the guest made
 * something available since the last one (the backend reads the avail
 * index after it takes a kick, so it sees all up to that index); false
 * when the kick was not needed. */
bool vhost_front_kick(struct vhost_front *f);

void vhost_front_close(struct vhost_front *f);

#endif
