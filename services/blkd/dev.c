/* One disk's vhost-user session: the front-end's messages dispatched from
 * a table, the request queue (queue 0) started once its memory, layout,
 * kick and enable are known, and kicks answered by draining the queue.
 * A message that breaks the protocol ends the session, never the disk.
 * The inflight region (GET/SET_INFLIGHT_FD) records what the queue has
 * taken and not completed, so that the next instance of blkd, handed the
 * region by the front-end, runs exactly that again. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vhost_types.h>

#include "lib/log.h"
#include "lib/vhost_user.h"
#include "services/blkd/blkd.h"

#define PROTOCOL_FEATURES                                                      \
	(1ull << VHOST_USER_PROTOCOL_F_CONFIG |                                \
	 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |                             \
	 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)

struct vq {
	struct virtq q;
	unsigned num;
	struct vhost_user_vring_addr addr;
	bool addr_set, enabled;
	uint16_t base;
	int kick, call, err;
};

struct session {
	struct blkd_disk *d;
	int sock;
	uint64_t features, protocol;
	struct virtq_mem mem;
	struct virtq_inflight_map inflight;
	struct vq vq;
};

/* A handler's verdict: done (a GET_* has replied), failed (REPLY_ACK 1
 * when asked), or the session must end. */
enum { DONE = 0, FAILED = -1, END = -2 };

typedef int (*handler_fn)(struct session *s, struct vhost_user_msg *m);

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void session_reset(struct session *s)
{
	virtq_mem_clear(&s->mem);
	virtq_inflight_unmap(&s->inflight);
	close_fd(&s->vq.kick);
	close_fd(&s->vq.call);
	close_fd(&s->vq.err);
	memset(&s->vq, 0, sizeof(s->vq));
	s->vq.kick = s->vq.call = s->vq.err = -1;
	s->features = s->protocol = 0;
	atomic_store(&s->d->c.features, 0);
}

/* Answers the driver: the call eventfd, unless it asked for quiet. */
static void notify(struct session *s)
{
	uint64_t one = 1;

	if (s->vq.call >= 0 && virtq_should_notify(&s->vq.q) &&
	    write(s->vq.call, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("%s: call: %s", s->d->label, strerror(errno));
}

static void drain(struct session *s)
{
	if (s->vq.q.ready && blkd_drain(s->d, &s->vq.q, &s->mem) > 0)
		notify(s);
}

/* The queue's inflight region attached: what the instance before took
 * and did not complete runs again first. False: the queue stays
 * stopped (the region or ring is inconsistent). */
static bool vq_recover(struct session *s)
{
	uint16_t heads[VIRTQ_NUM_MAX];
	int n = virtq_inflight_attach(&s->vq.q, s->inflight.r,
				      s->inflight.desc_num, heads);

	if (n < 0) {
		log_warnx("%s: inflight region: %s: queue stopped", s->d->label,
			  virtq_strerror(n));
		atomic_fetch_add(&s->d->c.bad_messages, 1);
		s->vq.q.ready = false;
		return false;
	}
	if (n > 0) {
		log_info("%s: %d request%s taken before the restart run again",
			 s->d->label, n, n == 1 ? "" : "s");
		blkd_resubmit(s->d, &s->vq.q, &s->mem, heads, (unsigned)n);
		notify(s);
	}
	return true;
}

/* Starts the queue once everything it needs has come, keeping its
 * indexes across a new memory table. */
static void vq_try_start(struct session *s)
{
	struct vq *v = &s->vq;
	bool was = v->q.ready;
	uint16_t used = v->q.used_idx, base = was ? v->q.last_avail : v->base;
	int rc;

	if (!s->mem.n || !v->num || !v->addr_set || v->kick < 0 || !v->enabled)
		return;
	rc = virtq_setup(&v->q, &s->mem, v->num, v->addr.desc_user_addr,
			 v->addr.avail_user_addr, v->addr.used_user_addr, base);
	if (rc != VIRTQ_OK) {
		log_warnx("%s: queue 0: %s", s->d->label, virtq_strerror(rc));
		atomic_fetch_add(&s->d->c.bad_messages, 1);
		return;
	}
	if (was)
		v->q.used_idx = used;
	if (s->inflight.r != NULL && !vq_recover(s))
		return;
	drain(s);
}

static void vq_stop(struct session *s)
{
	if (s->vq.q.ready)
		s->vq.base = s->vq.q.last_avail;
	s->vq.q.ready = false;
}

static int on_get_features(struct session *s, struct vhost_user_msg *m)
{
	return vhost_user_reply_u64(s->sock, m, blkd_features(s->d)) ? END
								     : DONE;
}

static int on_set_features(struct session *s, struct vhost_user_msg *m)
{
	uint64_t f = m->payload.u64;

	if (f & ~blkd_features(s->d))
		return FAILED;
	s->features = f;
	atomic_store(&s->d->c.features, f);
	/* Without PROTOCOL_FEATURES a ring is enabled from the start. */
	if (!(f & 1ull << VHOST_USER_F_PROTOCOL_FEATURES))
		s->vq.enabled = true;
	vq_try_start(s);
	return DONE;
}

static int on_get_protocol(struct session *s, struct vhost_user_msg *m)
{
	return vhost_user_reply_u64(s->sock, m, PROTOCOL_FEATURES) ? END : DONE;
}

static int on_set_protocol(struct session *s, struct vhost_user_msg *m)
{
	if (m->payload.u64 & ~PROTOCOL_FEATURES)
		return FAILED;
	s->protocol = m->payload.u64;
	return DONE;
}

static int on_owner(struct session *s, struct vhost_user_msg *m)
{
	(void)s;
	(void)m;
	return DONE;
}

static int on_reset(struct session *s, struct vhost_user_msg *m)
{
	(void)m;
	session_reset(s);
	return DONE;
}

static int on_get_queue_num(struct session *s, struct vhost_user_msg *m)
{
	return vhost_user_reply_u64(s->sock, m, 1) ? END : DONE;
}

static int on_get_max_mem_slots(struct session *s, struct vhost_user_msg *m)
{
	return vhost_user_reply_u64(s->sock, m, VIRTQ_MAX_REGIONS) ? END : DONE;
}

static int on_set_mem_table(struct session *s, struct vhost_user_msg *m)
{
	int rc = virtq_mem_map(&s->mem, &m->payload.mem, m->fds);

	if (rc != VIRTQ_OK) {
		log_warnx("%s: memory table: %s", s->d->label,
			  virtq_strerror(rc));
		s->vq.q.ready = false;
		return FAILED;
	}
	vq_try_start(s);
	return DONE;
}

static int on_set_vring_num(struct session *s, struct vhost_user_msg *m)
{
	unsigned n = m->payload.state.num;

	if (m->payload.state.index != 0 || n == 0 || n > VIRTQ_NUM_MAX ||
	    (n & (n - 1)))
		return FAILED;
	vq_stop(s);
	s->vq.num = n;
	return DONE;
}

static int on_set_vring_addr(struct session *s, struct vhost_user_msg *m)
{
	if (m->payload.addr.index != 0 ||
	    (m->payload.addr.flags & (1u << VHOST_VRING_F_LOG)))
		return FAILED;
	vq_stop(s);
	s->vq.addr = m->payload.addr;
	s->vq.addr_set = true;
	vq_try_start(s);
	return DONE;
}

static int on_set_vring_base(struct session *s, struct vhost_user_msg *m)
{
	if (m->payload.state.index != 0 || m->payload.state.num > UINT16_MAX)
		return FAILED;
	s->vq.q.ready = false;
	s->vq.base = (uint16_t)m->payload.state.num;
	return DONE;
}

/* Stops the ring and tells where it stopped (the next avail entry). */
static int on_get_vring_base(struct session *s, struct vhost_user_msg *m)
{
	struct vhost_user_vring_state st = { 0, 0 };

	if (m->payload.state.index != 0)
		return END; /* no reply of the right shape to give */
	vq_stop(s);
	close_fd(&s->vq.kick);
	st.num = s->vq.base;
	return vhost_user_reply(s->sock, m, &st, sizeof(st)) ? END : DONE;
}

/* KICK, CALL, ERR: the message's descriptor replaces the ring's. */
static int take_vring_fd(struct vhost_user_msg *m, int *slot)
{
	if ((m->payload.u64 & VHOST_USER_VRING_IDX_MASK) != 0)
		return FAILED;
	close_fd(slot);
	if (m->nfds == 1) {
		*slot = m->fds[0];
		m->nfds = 0;
	}
	return DONE;
}

static int on_set_vring_kick(struct session *s, struct vhost_user_msg *m)
{
	/* Polling without kicks is not offered. */
	if (m->payload.u64 & VHOST_USER_VRING_NOFD_MASK)
		return FAILED;
	if (take_vring_fd(m, &s->vq.kick) != DONE)
		return FAILED;
	vq_try_start(s);
	return DONE;
}

static int on_set_vring_call(struct session *s, struct vhost_user_msg *m)
{
	if (take_vring_fd(m, &s->vq.call) != DONE)
		return FAILED;
	/* A call descriptor that cannot take a write must not stall the
	 * disk (eventfds are non-blocking on the front-end's side too). */
	if (s->vq.call >= 0)
		fcntl(s->vq.call, F_SETFL,
		      fcntl(s->vq.call, F_GETFL) | O_NONBLOCK);
	return DONE;
}

static int on_set_vring_err(struct session *s, struct vhost_user_msg *m)
{
	return take_vring_fd(m, &s->vq.err);
}

static int on_set_vring_enable(struct session *s, struct vhost_user_msg *m)
{
	if (m->payload.state.index != 0 || m->payload.state.num > 1 ||
	    !(s->features & 1ull << VHOST_USER_F_PROTOCOL_FEATURES))
		return FAILED;
	s->vq.enabled = m->payload.state.num;
	if (s->vq.enabled)
		vq_try_start(s);
	else
		vq_stop(s);
	return DONE;
}

/* A new region for queue 0 of queue_size entries: a memfd sealed at its
 * size (the next instance maps it without fear of SIGBUS), mapped here,
 * fresh (version 0). The descriptor to hand over, or -1. */
static int inflight_create(struct session *s, unsigned queue_size,
			   uint64_t *size)
{
	int fd;

	*size = virtq_inflight_size(queue_size);
	if (*size == 0)
		return -1;
	fd = memfd_create("parapet-blkd-inflight",
			  MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)*size) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) !=
		0 ||
	    virtq_inflight_map(&s->inflight, fd, 0, *size, queue_size) !=
		VIRTQ_OK) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The queue records into the region just mapped: a running queue (a
 * front-end that sends the region again) takes it up at once, never
 * keeping a pointer into the mapping that was replaced. */
static void inflight_changed(struct session *s)
{
	s->vq.q.inflight = NULL;
	if (s->vq.q.ready)
		vq_try_start(s);
}

/* GET_INFLIGHT_FD: one queue's region; a refusal is a region of size 0
 * (the front-end then tracks nothing), as the spec lets a back-end say. */
static int on_get_inflight_fd(struct session *s, struct vhost_user_msg *m)
{
	struct vhost_user_inflight in = m->payload.inflight, out = { 0 };
	int fd = -1, rc;

	if (!(s->protocol & 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) ||
	    in.num_queues != 1 ||
	    (fd = inflight_create(s, in.queue_size, &out.mmap_size)) < 0) {
		log_warnx("%s: no inflight region for %u queues of %u",
			  s->d->label, in.num_queues, in.queue_size);
		out.mmap_size = 0;
	} else {
		out.num_queues = 1;
		out.queue_size = in.queue_size;
	}
	rc = vhost_user_reply_fd(s->sock, m, &out, sizeof(out), fd);
	if (fd >= 0) {
		close(fd);
		inflight_changed(s);
	}
	return rc ? END : DONE;
}

/* SET_INFLIGHT_FD: the region the queue records into from its next
 * start (queue 0's, the first in it). */
static int on_set_inflight_fd(struct session *s, struct vhost_user_msg *m)
{
	const struct vhost_user_inflight *in = &m->payload.inflight;
	int rc;

	if (!(s->protocol & 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) ||
	    in->num_queues < 1)
		return FAILED;
	rc = virtq_inflight_map(&s->inflight, m->fds[0], in->mmap_offset,
				in->mmap_size, in->queue_size);
	if (rc != VIRTQ_OK) {
		log_warnx("%s: inflight region: %s", s->d->label,
			  virtq_strerror(rc));
		return FAILED;
	}
	inflight_changed(s);
	return DONE;
}

static int on_get_config(struct session *s, struct vhost_user_msg *m)
{
	struct vhost_user_config *c = &m->payload.config;
	uint8_t space[VHOST_USER_CONFIG_MAX] = { 0 };
	struct virtio_blk_config cfg;

	_Static_assert(sizeof(cfg) <= sizeof(space), "config fits");
	blkd_config(s->d, &cfg);
	memcpy(space, &cfg, sizeof(cfg));
	/* offset + size <= VHOST_USER_CONFIG_MAX: checked on receipt */
	memcpy(c->payload, space + c->offset, c->size);
	return vhost_user_reply(s->sock, m, c, m->hdr.size) ? END : DONE;
}

static int on_refuse(struct session *s, struct vhost_user_msg *m)
{
	(void)s;
	(void)m;
	return FAILED;
}

static const handler_fn handlers[VHOST_USER_REQUEST_MAX] = {
	[VHOST_USER_GET_FEATURES] = on_get_features,
	[VHOST_USER_SET_FEATURES] = on_set_features,
	[VHOST_USER_SET_OWNER] = on_owner,
	[VHOST_USER_RESET_OWNER] = on_reset,
	[VHOST_USER_SET_MEM_TABLE] = on_set_mem_table,
	[VHOST_USER_SET_VRING_NUM] = on_set_vring_num,
	[VHOST_USER_SET_VRING_ADDR] = on_set_vring_addr,
	[VHOST_USER_SET_VRING_BASE] = on_set_vring_base,
	[VHOST_USER_GET_VRING_BASE] = on_get_vring_base,
	[VHOST_USER_SET_VRING_KICK] = on_set_vring_kick,
	[VHOST_USER_SET_VRING_CALL] = on_set_vring_call,
	[VHOST_USER_SET_VRING_ERR] = on_set_vring_err,
	[VHOST_USER_GET_PROTOCOL_FEATURES] = on_get_protocol,
	[VHOST_USER_SET_PROTOCOL_FEATURES] = on_set_protocol,
	[VHOST_USER_GET_QUEUE_NUM] = on_get_queue_num,
	[VHOST_USER_SET_VRING_ENABLE] = on_set_vring_enable,
	[VHOST_USER_GET_CONFIG] = on_get_config,
	[VHOST_USER_SET_CONFIG] = on_refuse, /* the config is read-only */
	[VHOST_USER_GET_MAX_MEM_SLOTS] = on_get_max_mem_slots,
	[VHOST_USER_GET_INFLIGHT_FD] = on_get_inflight_fd,
	[VHOST_USER_SET_INFLIGHT_FD] = on_set_inflight_fd,
	[VHOST_USER_RESET_DEVICE] = on_reset,
};

/* Runs one message; false ends the session. */
static bool dispatch(struct session *s, struct vhost_user_msg *m)
{
	uint32_t r = m->hdr.request;
	handler_fn h = r < VHOST_USER_REQUEST_MAX ? handlers[r] : NULL;
	int rc;

	log_debug("%s: %s size %u", s->d->label, vhost_user_request_name(r),
		  m->hdr.size);
	if (m->hdr.flags & VHOST_USER_FLAG_REPLY)
		rc = END; /* a front-end sends requests only */
	else if (h != NULL)
		rc = h(s, m);
	else
		/* Unknown, or asks for what was not offered. A GET_* has no
		 * reply of the right shape: that ends the session. */
		rc = vhost_user_has_reply(r) ? END : FAILED;
	vhost_user_msg_close_fds(m);
	if (rc != DONE) {
		atomic_fetch_add(&s->d->c.bad_messages, 1);
		log_info("%s: %s refused%s", s->d->label,
			 vhost_user_request_name(r),
			 rc == END ? ": session ended" : "");
	}
	if (rc == END)
		return false;
	/* REPLY_ACK, for requests without a reply of their own. */
	if ((m->hdr.flags & VHOST_USER_FLAG_NEED_REPLY) &&
	    (s->protocol & 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) &&
	    !vhost_user_has_reply(r))
		return vhost_user_reply_u64(s->sock, m, rc == DONE ? 0 : 1) ==
		       0;
	return true;
}

/* The kick eventfd: consumed before draining, so that a kick for
 * entries added meanwhile stays pending. False when it broke. */
static bool on_kick(struct session *s, short revents)
{
	uint64_t n;

	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		log_warnx("%s: kick descriptor closed: queue stopped",
			  s->d->label);
		close_fd(&s->vq.kick);
		vq_stop(s);
		return false;
	}
	if (read(s->vq.kick, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return false;
	drain(s);
	return true;
}

/* Serves one front-end until it goes, breaks the protocol or stop_fd
 * becomes readable (returns true then). */
static bool session_run(struct blkd_disk *d, int sock, int stop_fd)
{
	struct session s = { .d = d, .sock = sock };
	bool stop = false;

	s.vq.kick = s.vq.call = s.vq.err = -1;
	atomic_store(&d->c.connected, true);
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = stop_fd, .events = POLLIN },
			{ .fd = sock, .events = POLLIN },
			{ .fd = s.vq.kick, .events = POLLIN },
		};
		struct vhost_user_msg m;
		int rc;

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			stop = true;
			break;
		}
		if (p[2].revents && s.vq.kick >= 0)
			on_kick(&s, p[2].revents);
		if (!p[1].revents)
			continue;
		rc = vhost_user_recv(sock, &m, BLKD_MSG_TIMEOUT);
		if (rc == VHOST_USER_ERR_CLOSED)
			break;
		if (rc != VHOST_USER_OK) {
			log_warnx("%s: front-end message: %s: session ended",
				  d->label, vhost_user_strerror(rc));
			atomic_fetch_add(&d->c.bad_messages, 1);
			break;
		}
		if (!dispatch(&s, &m))
			break;
	}
	session_reset(&s);
	atomic_store(&d->c.connected, false);
	return stop;
}

/* The peer's uid from the kernel; (uid_t)-1 when unknown. */
static uid_t peer_uid(int sock)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return (uid_t)-1;
	return cr.uid;
}

void blkd_serve(struct blkd_disk *d, int stop_fd)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = stop_fd, .events = POLLIN },
			{ .fd = d->listen_fd, .events = POLLIN },
		};
		int sock;
		uid_t uid;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		if (p[0].revents)
			return;
		if (!p[1].revents)
			continue;
		sock = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (sock < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOMEM || errno == ENOBUFS)
				usleep(100000); /* not a busy loop meanwhile */
			continue;
		}
		uid = peer_uid(sock);
		if (uid != d->peer_uid) {
			log_warnx("%s: connection from uid %d refused (only "
				  "uid %u may connect)",
				  d->label, (int)uid, (unsigned)d->peer_uid);
			atomic_fetch_add(&d->c.rejected_peers, 1);
			close(sock);
			continue;
		}
		atomic_fetch_add(&d->c.connections, 1);
		log_info("%s: front-end connected", d->label);
		if (session_run(d, sock, stop_fd)) {
			close(sock);
			return;
		}
		close(sock);
		log_info("%s: front-end gone", d->label);
	}
}
