/* vmworker's vhost-user frontend: see vhost_front.h. */
#include "services/vmworker/vhost_front.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/vhost_user.h"
#include "services/vmworker/vm.h"

#define FRONT_REPLY_MS 5000 /* a backend's answer to one request */
#define FRONT_RETRY_MS 20   /* between connects while the socket is new */

/* The "frontend addresses" of the memory table and the ring addresses:
 * guest-physical plus this, not where this process mapped guest RAM, so
 * that the next vmworker (servicing) describes the same memory with the
 * same addresses; some backends (libvhost-user) remap the running rings
 * at SET_MEM_TABLE and cannot when they move. */
#define FRONT_UADDR_BASE 0x100000000000ull

/* virtio_blk_config up to write_zeroes_may_unmap and its padding, as
 * qemu 7.2 and Linux 6.1 define it: a backend may refuse (or assert on)
 * a larger read. */
#define VHOST_FRONT_CONFIG_SIZE 60u
_Static_assert(VHOST_FRONT_CONFIG_SIZE <= VHOST_FRONT_CONFIG_MAX,
	       "config buffer");

/* The protocol features this frontend uses when offered. */
#define FRONT_PROTOCOL_FEATURES                                                \
	((1ull << VHOST_USER_PROTOCOL_F_CONFIG) |                              \
	 (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |                           \
	 (1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))

static int front_fail(struct vhost_front *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int front_fail(struct vhost_front *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->error, sizeof(f->error), fmt, ap);
	va_end(ap);
	return -1;
}

void vhost_front_init(struct vhost_front *f, int fd, const char *path)
{
	memset(f, 0, sizeof(*f));
	f->sock = fd;
	f->kick_fd = f->call_fd = f->inflight_fd = -1;
	snprintf(f->path, sizeof(f->path), "%s", path ? path : "");
}

/* One request; with REPLY_ACK negotiated, a request without a reply of
 * its own asks for the ack, so that a refusal is seen here. 0, or the
 * vhost_user error with f->error set (and errno kept for ERR_SYS). */
static int front_call(struct vhost_front *f, struct vhost_user_msg *m,
		      struct vhost_user_msg *reply)
{
	int rc;

	if ((f->protocol_features &
	     (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)) &&
	    !vhost_user_wants_reply(&m->hdr))
		m->hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
	rc = vhost_user_call(f->sock, m, reply, FRONT_REPLY_MS);
	if (rc != VHOST_USER_OK) {
		int err = errno;

		front_fail(f, "%s: %s", vhost_user_request_name(m->hdr.request),
			   rc == VHOST_USER_ERR_SYS ? strerror(err)
						    : vhost_user_strerror(rc));
		errno = err;
	}
	return rc;
}

static int front_get_u64(struct vhost_front *f, uint32_t request, uint64_t *out)
{
	struct vhost_user_msg m, r;

	vhost_user_msg_init(&m, request, 0);
	if (front_call(f, &m, &r) != 0)
		return -1;
	vhost_user_msg_close_fds(&r);
	if (r.hdr.size != sizeof(uint64_t))
		return front_fail(f, "%s: reply of %u bytes",
				  vhost_user_request_name(request), r.hdr.size);
	*out = r.payload.u64;
	return 0;
}

static int front_set_u64(struct vhost_front *f, uint32_t request,
			 uint64_t value)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, request, sizeof(uint64_t));
	m.payload.u64 = value;
	return front_call(f, &m, NULL);
}

static int front_set_state(struct vhost_front *f, uint32_t request,
			   uint32_t num)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, request, sizeof(m.payload.state));
	m.payload.state.index = 0;
	m.payload.state.num = num;
	return front_call(f, &m, NULL);
}

int vhost_front_dial(const char *path, int wait_ms)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t until = util_deadline_ns(wait_ms);

	memcpy(a.sun_path, path, strnlen(path, sizeof(a.sun_path) - 1));
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int err;

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		err = errno;
		close(fd);
		errno = err;
		if ((err != ENOENT && err != ECONNREFUSED) ||
		    util_now_ns() >= until)
			return -1;
		usleep(FRONT_RETRY_MS * 1000);
	}
}

static int front_dial(struct vhost_front *f, int wait_ms)
{
	f->sock = vhost_front_dial(f->path, wait_ms);
	if (f->sock < 0)
		return front_fail(f, "%s: %s", f->path, strerror(errno));
	return 0;
}

/* The config space the backend reports (capacity, seg_max, blk_size). */
static int front_get_config(struct vhost_front *f)
{
	struct vhost_user_msg m, r;
	uint32_t size = VHOST_FRONT_CONFIG_SIZE;

	if (!(f->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_CONFIG)))
		return front_fail(f, "the backend offers no config space "
				     "(VHOST_USER_PROTOCOL_F_CONFIG)");
	vhost_user_msg_init(&m, VHOST_USER_GET_CONFIG,
			    VHOST_USER_CONFIG_HDR_SIZE + size);
	m.payload.config.size = size;
	if (front_call(f, &m, &r) != 0)
		return -1;
	vhost_user_msg_close_fds(&r);
	if (r.hdr.size != VHOST_USER_CONFIG_HDR_SIZE + size ||
	    r.payload.config.size != size)
		return front_fail(f, "GET_CONFIG: reply of %u bytes",
				  r.hdr.size);
	memcpy(f->config, r.payload.config.payload, size);
	f->has_config = true;
	return 0;
}

/* Features, protocol features, owner, config space, on f->sock. 0, or
 * -1 with f->error (the socket stays). */
static int front_handshake(struct vhost_front *f)
{
	struct vhost_user_msg owner;
	uint64_t offered = 0;

	if (front_get_u64(f, VHOST_USER_GET_FEATURES, &f->features) != 0)
		return -1;
	if (!(f->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		return front_fail(f, "the backend offers no protocol features");
	if (front_get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES, &offered) != 0 ||
	    front_set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
			  offered & FRONT_PROTOCOL_FEATURES) != 0)
		return -1;
	f->protocol_features = offered & FRONT_PROTOCOL_FEATURES;
	vhost_user_msg_init(&owner, VHOST_USER_SET_OWNER, 0);
	if (front_call(f, &owner, NULL) != 0 || front_get_config(f) != 0)
		return -1;
	return 0;
}

int vhost_front_connect(struct vhost_front *f, int wait_ms)
{
	if (f->has_config && f->sock >= 0)
		return 0;
	if (f->sock < 0 && f->path[0] == '\0')
		return front_fail(f, "no connection to a backend");
	if (f->sock < 0 && front_dial(f, wait_ms) != 0)
		return -1;
	if (front_handshake(f) != 0) {
		close(f->sock);
		f->sock = -1;
		f->protocol_features = 0;
		return -1;
	}
	return 0;
}

/* Guest RAM without the VTL2 hole: one region below it, one above. */
static int front_set_mem_table(struct vhost_front *f, struct vm *vm)
{
	struct vhost_user_msg m;
	uint64_t size = vm->cfg.mem_size, hole = vm->cfg.hole_gpa;
	uint64_t hole_end = hole + vm->cfg.hole_size;
	struct vhost_user_mem_region *r = m.payload.mem.regions;
	uint32_t n = 0;

	vhost_user_msg_init(&m, VHOST_USER_SET_MEM_TABLE,
			    sizeof(m.payload.mem));
	if (vm->cfg.hole_size == 0 || hole >= size)
		hole = hole_end = size;
	if (hole > 0)
		r[n++] = (struct vhost_user_mem_region){ 0, hole,
							 FRONT_UADDR_BASE, 0 };
	if (hole_end < size)
		r[n++] =
		    (struct vhost_user_mem_region){ hole_end, size - hole_end,
						    FRONT_UADDR_BASE + hole_end,
						    hole_end };
	m.payload.mem.nregions = n;
	/* exactly the regions sent, as the spec (and qemu) size it */
	m.hdr.size = (uint32_t)(offsetof(struct vhost_user_mem_table, regions) +
				n * sizeof(*r));
	for (uint32_t i = 0; i < n; i++)
		m.fds[i] = vm->mem_fd;
	m.nfds = n;
	return front_call(f, &m, NULL);
}

static int front_set_fd(struct vhost_front *f, uint32_t request, int fd)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, request, sizeof(uint64_t));
	m.payload.u64 = 0; /* queue 0, with a descriptor */
	m.fds[0] = fd;
	m.nfds = 1;
	return front_call(f, &m, NULL);
}

static int front_eventfds(struct vhost_front *f)
{
	if (f->kick_fd < 0)
		f->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->call_fd < 0)
		f->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->kick_fd < 0 || f->call_fd < 0)
		return front_fail(f, "eventfd: %s", strerror(errno));
	return 0;
}

/* GET_INFLIGHT_FD: a fresh region for the queue, kept in f; none when
 * the backend offers an empty one. */
static int front_get_inflight(struct vhost_front *f)
{
	struct vhost_user_msg m, r;

	vhost_user_msg_init(&m, VHOST_USER_GET_INFLIGHT_FD,
			    sizeof(m.payload.inflight));
	m.payload.inflight.num_queues = 1;
	m.payload.inflight.queue_size = (uint16_t)f->ring_num;
	if (front_call(f, &m, &r) != 0)
		return -1;
	if (r.payload.inflight.mmap_size == 0 || r.nfds != 1) {
		vhost_user_msg_close_fds(&r);
		return 0; /* the backend keeps no record: resume at used */
	}
	f->inflight_fd = r.fds[0];
	f->inflight = r.payload.inflight;
	return 0;
}

static void front_drop_inflight(struct vhost_front *f)
{
	if (f->inflight_fd >= 0)
		close(f->inflight_fd);
	f->inflight_fd = -1;
	memset(&f->inflight, 0, sizeof(f->inflight));
}

/* SET_INFLIGHT_FD with the region f keeps, getting one first when it
 * has none; nothing when the backend does not track inflight requests
 * (false then: the queue resumes at the used index). */
static int front_set_inflight(struct vhost_front *f, bool *tracked)
{
	struct vhost_user_msg m;

	*tracked = false;
	if (!(f->protocol_features &
	      (1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		return 0;
	if (f->inflight_fd < 0 && front_get_inflight(f) != 0)
		return -1;
	if (f->inflight_fd < 0)
		return 0;
	vhost_user_msg_init(&m, VHOST_USER_SET_INFLIGHT_FD,
			    sizeof(m.payload.inflight));
	m.payload.inflight = f->inflight;
	m.fds[0] = f->inflight_fd;
	m.nfds = 1;
	if (front_call(f, &m, NULL) != 0)
		return -1;
	*tracked = true;
	return 0;
}

/* The queue as f records it, in the backend, from avail entry base. */
static int front_ring_up(struct vhost_front *f, struct vm *vm, uint16_t base,
			 bool *tracked)
{
	struct vhost_user_msg m;

	if (front_set_u64(f, VHOST_USER_SET_FEATURES,
			  f->ring_features |
			      (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) != 0 ||
	    front_set_mem_table(f, vm) != 0 ||
	    front_set_inflight(f, tracked) != 0 ||
	    front_set_state(f, VHOST_USER_SET_VRING_NUM, f->ring_num) != 0 ||
	    front_set_state(f, VHOST_USER_SET_VRING_BASE, base) != 0)
		return -1;
	vhost_user_msg_init(&m, VHOST_USER_SET_VRING_ADDR,
			    sizeof(m.payload.addr));
	m.payload.addr.desc_user_addr = FRONT_UADDR_BASE + f->ring_desc;
	m.payload.addr.avail_user_addr = FRONT_UADDR_BASE + f->ring_avail;
	m.payload.addr.used_user_addr = FRONT_UADDR_BASE + f->ring_used;
	if (front_call(f, &m, NULL) != 0 ||
	    front_set_fd(f, VHOST_USER_SET_VRING_KICK, f->kick_fd) != 0 ||
	    front_set_fd(f, VHOST_USER_SET_VRING_CALL, f->call_fd) != 0 ||
	    front_set_state(f, VHOST_USER_SET_VRING_ENABLE, 1) != 0)
		return -1;
	return 0;
}

/* The next kick wakes the backend whatever the avail index: entries
 * made available before it listened. */
static void front_kick_now(struct vhost_front *f)
{
	atomic_store(&f->kicked_idx, 0x10000u);
	vhost_front_kick(f);
}

int vhost_front_start(struct vhost_front *f, struct vm *vm, uint64_t features,
		      unsigned num, uint64_t desc, uint64_t avail,
		      uint64_t used, uint16_t base)
{
	const void *d = vm_gpa_ptr(vm, desc, 16ull * num);
	const void *a = vm_gpa_ptr(vm, avail, 6 + 2ull * num);
	const void *u = vm_gpa_ptr(vm, used, 6 + 8ull * num);
	bool tracked;

	if (d == NULL || a == NULL || u == NULL)
		return front_fail(f,
				  "queue 0: a ring lies outside guest RAM "
				  "(desc 0x%llx avail 0x%llx used 0x%llx)",
				  (unsigned long long)desc,
				  (unsigned long long)avail,
				  (unsigned long long)used);
	if (vhost_front_connect(f, FRONT_REPLY_MS) != 0 ||
	    front_eventfds(f) != 0)
		return -1;
	f->ring_features = features;
	f->ring_num = num;
	f->ring_desc = desc;
	f->ring_avail = avail;
	f->ring_used = used;
	f->ring_used_idx = (const uint16_t *)((const uint8_t *)u + 2);
	/* a new queue: what an earlier one left in flight is void */
	front_drop_inflight(f);
	if (front_ring_up(f, vm, base, &tracked) != 0)
		return -1;
	f->avail_idx = (const volatile uint16_t *)((const uint8_t *)a + 2);
	__atomic_store_n(&f->started, true, __ATOMIC_RELEASE);
	/* requests made available before DRIVER_OK */
	front_kick_now(f);
	return 0;
}

void vhost_front_lost(struct vhost_front *f)
{
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
}

int vhost_front_restart(struct vhost_front *f, struct vm *vm, int sock)
{
	uint16_t used;
	bool tracked;

	vhost_front_lost(f);
	f->sock = sock;
	if (front_handshake(f) != 0)
		return -1;
	if ((f->ring_features & ~f->features) != 0)
		return front_fail(
		    f,
		    "the new backend lacks features 0x%llx "
		    "the driver accepted",
		    (unsigned long long)(f->ring_features & ~f->features));
	if (!f->started)
		return 0;
	/* The guest's used index: every request before it is complete; a
	 * backend with the inflight region recomputes its next avail entry
	 * from there, one without resumes there. */
	used = __atomic_load_n(f->ring_used_idx, __ATOMIC_ACQUIRE);
	if (front_ring_up(f, vm, used, &tracked) != 0)
		return -1;
	if (!tracked)
		log_info("disk backend %s keeps no inflight record: its queue "
			 "resumes at used index %u",
			 f->path, used);
	f->restarts++;
	front_kick_now(f);
	return 0;
}

int vhost_front_stop(struct vhost_front *f, uint32_t *last_avail)
{
	struct vhost_user_msg m, r;
	int rc;

	if (!f->started)
		return 0;
	__atomic_store_n(&f->started, false, __ATOMIC_RELEASE);
	if (f->sock < 0)
		return 0; /* the backend is gone: the queue with it */
	vhost_user_msg_init(&m, VHOST_USER_GET_VRING_BASE,
			    sizeof(m.payload.state));
	rc = front_call(f, &m, &r);
	if (rc == VHOST_USER_ERR_CLOSED ||
	    (rc == VHOST_USER_ERR_SYS &&
	     (errno == ECONNRESET || errno == EPIPE))) {
		/* it died while stopping (a servicing's save meets a blkd
		 * killed): the queue went with it, as above */
		log_info("disk backend %s: gone while its queue stopped",
			 f->path[0] ? f->path : "(external)");
		vhost_front_lost(f);
		return 0;
	}
	if (rc != VHOST_USER_OK)
		return -1;
	vhost_user_msg_close_fds(&r);
	if (last_avail != NULL)
		*last_avail = r.payload.state.num;
	return 0;
}

bool vhost_front_kick(struct vhost_front *f)
{
	uint32_t idx = f->avail_idx != NULL ? *f->avail_idx : 0x20000u;
	uint64_t one = 1;

	if (atomic_exchange(&f->kicked_idx, idx) == idx)
		return false;
	/* EAGAIN: the counter is full, a wake-up is pending anyway */
	if (write(f->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("disk kick: %s", strerror(errno));
	return true;
}

void vhost_front_close(struct vhost_front *f)
{
	if (f->sock >= 0)
		close(f->sock);
	if (f->kick_fd >= 0)
		close(f->kick_fd);
	if (f->call_fd >= 0)
		close(f->call_fd);
	front_drop_inflight(f);
	f->sock = f->kick_fd = f->call_fd = -1;
	f->started = f->has_config = false;
}
