/* vmworker's disk transport against a scripted vhost-user backend on a
 * socketpair: the registers a driver reads, feature negotiation and its
 * refusals, the start sequence at DRIVER_OK (a memory table without the
 * VTL2 hole), a notify as one kick and no kick when nothing is new, the
 * refusal of bad queues (size, rings outside RAM, in the hole or
 * misaligned), reset stopping the queue, a backend that fails, and a
 * backend that goes away and comes back (the queue started again in the
 * next instance with the same inflight region, at the guest's used
 * index, kicked once), also while a servicing waits for the queue to
 * drain. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/guest_abi.h"
#include "lib/util.h"
#include "lib/vhost_user.h"
#include "services/vmworker/console.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/vblk_watch.h"
#include "services/vmworker/vm.h"

#define BASE GUEST_VIRTIO_MMIO_GPA
#define OFFERED                                                                \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_FLUSH) |         \
	 (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << 30) /* protocol */)
#define CAPACITY 4242ull

/* The scripted backend: answers what a frontend asks and records it. */
struct backend {
	int sock;
	pthread_t thread;
	uint32_t requests[64];
	unsigned n_requests;
	struct vhost_user_mem_table mem;
	int kick_fd;
	bool fail_mem_table;	/* REPLY_ACK failure for SET_MEM_TABLE */
	bool die_at_stop;	/* hangs up at GET_VRING_BASE */
	bool inflight;		/* offers INFLIGHT_SHMFD */
	ino_t got_ino, set_ino; /* the region GET made, the one SET gave */
	uint32_t base;		/* SET_VRING_BASE */
	unsigned instance;	/* connections served (listening backend) */
	pthread_mutex_t lock;
};

/* GET_INFLIGHT_FD: a sealed memfd, remembered by its inode. */
static void backend_inflight(struct backend *be, struct vhost_user_msg *m)
{
	struct vhost_user_inflight in = m->payload.inflight;
	int fd = util_memfd_create("vblk-test-inflight", 4096);
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(util_memfd_seal(fd, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	assert_int_equal(fstat(fd, &st), 0);
	be->got_ino = st.st_ino;
	in.mmap_size = 4096;
	in.mmap_offset = 0;
	vhost_user_reply_fd(be->sock, m, &in, sizeof(in), fd);
	close(fd);
}

static void backend_answer(struct backend *be, struct vhost_user_msg *m)
{
	uint8_t config[VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_CONFIG_MAX];
	uint32_t size;
	uint64_t status = 0;

	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		vhost_user_reply_u64(be->sock, m, OFFERED);
		return;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		vhost_user_reply_u64(
		    be->sock, m,
		    (1ull << VHOST_USER_PROTOCOL_F_CONFIG) |
			(1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			((uint64_t)be->inflight
			 << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD));
		return;
	case VHOST_USER_GET_INFLIGHT_FD:
		backend_inflight(be, m);
		return;
	case VHOST_USER_SET_INFLIGHT_FD: {
		struct stat st;

		if (fstat(m->fds[0], &st) == 0)
			be->set_ino = st.st_ino;
		break;
	}
	case VHOST_USER_SET_VRING_BASE:
		be->base = m->payload.state.num;
		break;
	case VHOST_USER_GET_CONFIG:
		size = m->payload.config.size;
		memcpy(config, &m->payload.config, VHOST_USER_CONFIG_HDR_SIZE);
		memset(config + VHOST_USER_CONFIG_HDR_SIZE, 0, size);
		memcpy(config + VHOST_USER_CONFIG_HDR_SIZE,
		       &(uint64_t){ CAPACITY }, 8);
		vhost_user_reply(be->sock, m, config,
				 VHOST_USER_CONFIG_HDR_SIZE + size);
		return;
	case VHOST_USER_GET_VRING_BASE:
		if (be->die_at_stop) {
			shutdown(be->sock, SHUT_RDWR);
			return;
		}
		vhost_user_reply(be->sock, m,
				 &(struct vhost_user_vring_state){ 0, 0 },
				 sizeof(struct vhost_user_vring_state));
		return;
	case VHOST_USER_SET_MEM_TABLE:
		be->mem = m->payload.mem;
		status = be->fail_mem_table;
		break;
	case VHOST_USER_SET_VRING_KICK:
		if (be->kick_fd >= 0)
			close(be->kick_fd);
		be->kick_fd = dup(m->fds[0]);
		break;
	default:
		break;
	}
	if (m->hdr.flags & VHOST_USER_FLAG_NEED_REPLY)
		vhost_user_reply_u64(be->sock, m, status);
}

static void *backend_main(void *arg)
{
	struct backend *be = arg;
	struct vhost_user_msg m;

	while (vhost_user_recv(be->sock, &m, -1) == VHOST_USER_OK) {
		pthread_mutex_lock(&be->lock);
		if (be->n_requests < 64)
			be->requests[be->n_requests++] = m.hdr.request;
		backend_answer(be, &m);
		pthread_mutex_unlock(&be->lock);
		vhost_user_msg_close_fds(&m);
	}
	return NULL;
}

struct box {
	struct vm vm;
	struct console con;
	struct backend be;
};

static void discard(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
}

static int box_setup(void **state)
{
	struct box *b = calloc(1, sizeof(*b));
	struct vm_config cfg = { .accel = &accel_emu_ops,
				 .n_vps = 1,
				 .mem_size = 32ull << 20,
				 .hole_gpa = GUEST_VTL2_GPA,
				 .hole_size = GUEST_VTL2_SIZE };
	int sv[2];

	assert_non_null(b);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	b->be.sock = sv[1];
	b->be.kick_fd = -1;
	pthread_mutex_init(&b->be.lock, NULL);
	assert_int_equal(
	    pthread_create(&b->be.thread, NULL, backend_main, &b->be), 0);
	assert_int_equal(console_init(&b->con, discard, NULL), 0);
	cfg.console = &b->con;
	cfg.disks[0] = (struct vm_disk_config){ .present = true,
						.conn_fd = sv[0],
						.backend = "vhost-user",
						.label = "test" };
	for (unsigned i = 1; i < GUEST_DISK_MAX; i++)
		cfg.disks[i].conn_fd = -1;
	assert_int_equal(vm_create(&b->vm, &cfg, -1), 0);
	*state = b;
	return 0;
}

static int box_teardown(void **state)
{
	struct box *b = *state;

	vm_destroy(&b->vm); /* closes the connection: the backend ends */
	pthread_join(b->be.thread, NULL);
	close(b->be.sock);
	if (b->be.kick_fd >= 0)
		close(b->be.kick_fd);
	console_destroy(&b->con);
	free(b);
	return 0;
}

static uint32_t rd(struct box *b, uint64_t off)
{
	uint64_t v = 0;

	devices_mmio(&b->vm.vps[0], BASE + off, &v, 4, false);
	return (uint32_t)v;
}

static void wr(struct box *b, uint64_t off, uint32_t val)
{
	uint64_t v = val;

	devices_mmio(&b->vm.vps[0], BASE + off, &v, 4, true);
}

static bool backend_saw(struct box *b, uint32_t request)
{
	bool seen = false;

	pthread_mutex_lock(&b->be.lock);
	for (unsigned i = 0; i < b->be.n_requests; i++)
		seen |= b->be.requests[i] == request;
	pthread_mutex_unlock(&b->be.lock);
	return seen;
}

static uint64_t device_features(struct box *b)
{
	wr(b, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(b, VIRTIO_MMIO_DEVICE_FEATURES);

	wr(b, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)rd(b, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void driver_features(struct box *b, uint64_t f)
{
	wr(b, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(b, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(b, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(b, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* A driver's set-up up to FEATURES_OK; the status it reads back. */
static uint32_t negotiate(struct box *b, uint64_t f)
{
	wr(b, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(b, VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	driver_features(b, f);
	wr(b, VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	       VIRTIO_CONFIG_S_FEATURES_OK);
	return rd(b, VIRTIO_MMIO_STATUS);
}

static void queue(struct box *b, uint32_t num, uint64_t desc, uint64_t avail,
		  uint64_t used)
{
	wr(b, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(b, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(b, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(b, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(b, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(b, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(b, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(b, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	wr(b, VIRTIO_MMIO_QUEUE_READY, 1);
}

static uint32_t driver_ok(struct box *b)
{
	wr(b, VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	return rd(b, VIRTIO_MMIO_STATUS);
}

static uint64_t kicks(struct box *b)
{
	uint64_t n = 0;
	struct pollfd p = { .fd = b->be.kick_fd, .events = POLLIN };

	if (poll(&p, 1, 0) == 1 && read(b->be.kick_fd, &n, sizeof(n)) != 8)
		n = 0;
	return n;
}

static struct vblk_snapshot snapshot(struct box *b)
{
	struct vblk_snapshot s;

	virtio_blk_snapshot(virtio_blk_get(&b->vm, 0), &b->vm, &s);
	return s;
}

static void test_identity_and_features(void **state)
{
	struct box *b = *state;
	uint64_t cap;

	assert_int_equal(rd(b, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(b, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(b, VIRTIO_MMIO_DEVICE_ID), 2);
	/* the backend's features, without the vhost-user protocol bit */
	assert_int_equal(device_features(b), OFFERED & ~(1ull << 30));
	assert_true(backend_saw(b, VHOST_USER_SET_OWNER));
	cap = rd(b, VIRTIO_MMIO_CONFIG) |
	      (uint64_t)rd(b, VIRTIO_MMIO_CONFIG + 4) << 32;
	assert_int_equal(cap, CAPACITY);
	wr(b, VIRTIO_MMIO_QUEUE_SEL, 1); /* one queue only */
	assert_int_equal(rd(b, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(b, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(b, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
}

static void test_features_refused(void **state)
{
	struct box *b = *state;

	/* a bit not offered */
	assert_false(negotiate(b, (1ull << VIRTIO_F_VERSION_1) |
				      (1ull << VIRTIO_BLK_F_RO)) &
		     VIRTIO_CONFIG_S_FEATURES_OK);
	wr(b, VIRTIO_MMIO_STATUS, 0);
	/* a legacy driver (no VERSION_1) */
	assert_false(negotiate(b, 1ull << VIRTIO_BLK_F_FLUSH) &
		     VIRTIO_CONFIG_S_FEATURES_OK);
	wr(b, VIRTIO_MMIO_STATUS, 0);
	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
}

static void test_start_notify_reset(void **state)
{
	struct box *b = *state;
	struct vhost_user_mem_table *t = &b->be.mem;
	volatile uint16_t *avail_idx;

	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	assert_int_equal(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	assert_true(backend_saw(b, VHOST_USER_SET_VRING_ENABLE));
	/* guest RAM in two regions around the VTL2 hole, never in it */
	assert_int_equal(t->nregions, 2);
	assert_int_equal(t->regions[0].guest_phys_addr, 0);
	assert_int_equal(t->regions[0].memory_size, GUEST_VTL2_GPA);
	assert_int_equal(t->regions[1].guest_phys_addr,
			 GUEST_VTL2_GPA + GUEST_VTL2_SIZE);
	assert_int_equal(t->regions[1].mmap_offset,
			 GUEST_VTL2_GPA + GUEST_VTL2_SIZE);
	assert_true(b->be.kick_fd >= 0);
	(void)kicks(b); /* the kick at start */
	/* a notify with a new avail index kicks; one with nothing new not */
	avail_idx = vm_gpa_ptr(&b->vm, 0x101002, 2);
	*avail_idx = 1;
	wr(b, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(kicks(b), 1);
	wr(b, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(kicks(b), 0);
	*avail_idx = 2;
	wr(b, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(kicks(b), 1);
	/* reset: the backend stops the queue */
	wr(b, VIRTIO_MMIO_STATUS, 0);
	assert_true(backend_saw(b, VHOST_USER_GET_VRING_BASE));
	assert_int_equal(rd(b, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(b, VIRTIO_MMIO_QUEUE_READY), 0);
}

/* Queues a driver may not start: each sets DEVICE_NEEDS_RESET and
 * starts nothing in the backend. */
static void test_bad_queues(void **state)
{
	struct box *b = *state;
	static const struct {
		uint32_t num;
		uint64_t desc, avail, used;
	} bad[] = {
		{ 6, 0x100000, 0x101000, 0x102000 },   /* not a power of 2 */
		{ 512, 0x100000, 0x101000, 0x102000 }, /* over the max */
		{ 8, GUEST_VTL2_GPA, 0x101000, 0x102000 },    /* in the hole */
		{ 8, 0x100000, 0x101000, (32ull << 20) - 8 }, /* past RAM */
		{ 8, 0x100000, 0x101000, ~0ull - 4 },	      /* wraps */
		{ 8, 0x100008, 0x101000, 0x102000 }, /* misaligned desc */
		{ 8, 0x100000, 0x101001, 0x102000 }, /* misaligned avail */
		{ 8, 0x100000, 0x101000, 0x102002 }, /* misaligned used */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr(b, VIRTIO_MMIO_STATUS, 0);
		assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
			    VIRTIO_CONFIG_S_FEATURES_OK);
		queue(b, bad[i].num, bad[i].desc, bad[i].avail, bad[i].used);
		assert_true(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET);
		/* each refusal counted, not only the last one shown */
		assert_int_equal(snapshot(b).driver_errors, i + 1);
	}
	assert_false(backend_saw(b, VHOST_USER_SET_VRING_KICK));
	/* queue registers are fixed while the queue is ready */
	wr(b, VIRTIO_MMIO_STATUS, 0);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	wr(b, VIRTIO_MMIO_QUEUE_NUM, 6);
	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* The backend refuses the memory table: the device needs a reset, the
 * VM lives on. */
static void test_backend_failure(void **state)
{
	struct box *b = *state;

	pthread_mutex_lock(&b->be.lock);
	b->be.fail_mem_table = true;
	pthread_mutex_unlock(&b->be.lock);
	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	assert_true(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_false(backend_saw(b, VHOST_USER_SET_VRING_KICK));
	assert_int_equal(snapshot(b).driver_errors, 1);
	/* a notify now goes nowhere, counted */
	wr(b, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(snapshot(b).notifies_dropped, 1);
	assert_int_equal(snapshot(b).notifies, 0);
}

/* ------------------------------------------- a backend that restarts */

/* A backend listening on a path, one connection (instance) at a time,
 * as parapet-blkd: the test ends an instance by shutting its socket. */
struct listener {
	struct box box; /* vm, console, be (be.sock: the instance's) */
	int listen_fd;
	char path[108];
	pthread_t thread;
};

static void *listener_main(void *arg)
{
	struct listener *l = arg;

	for (;;) {
		int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&l->box.be.lock);
		l->box.be.sock = fd;
		l->box.be.n_requests = 0;
		l->box.be.instance++;
		pthread_mutex_unlock(&l->box.be.lock);
		backend_main(&l->box.be);
		close(fd);
	}
}

static int listener_setup(void **state)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct box *b = &l->box;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vm_config cfg = { .accel = &accel_emu_ops,
				 .n_vps = 1,
				 .mem_size = 32ull << 20,
				 .hole_gpa = GUEST_VTL2_GPA,
				 .hole_size = GUEST_VTL2_SIZE };

	assert_non_null(l);
	snprintf(l->path, sizeof(l->path), "/tmp/vblk-test.%d.sock",
		 (int)getpid());
	unlink(l->path);
	memcpy(a.sun_path, l->path, strlen(l->path));
	l->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l->listen_fd, (struct sockaddr *)&a, sizeof(a)),
			 0);
	assert_int_equal(listen(l->listen_fd, 4), 0);
	b->be.sock = b->be.kick_fd = -1;
	b->be.inflight = true;
	pthread_mutex_init(&b->be.lock, NULL);
	assert_int_equal(pthread_create(&l->thread, NULL, listener_main, l), 0);
	assert_int_equal(console_init(&b->con, discard, NULL), 0);
	cfg.console = &b->con;
	cfg.disks[0] = (struct vm_disk_config){ .present = true,
						.conn_fd = -1,
						.backend = "blkd",
						.label = "test" };
	memcpy(cfg.disks[0].sock_path, l->path, strlen(l->path) + 1);
	for (unsigned i = 1; i < GUEST_DISK_MAX; i++)
		cfg.disks[i].conn_fd = -1;
	assert_int_equal(vm_create(&b->vm, &cfg, -1), 0);
	assert_int_equal(vblk_watch_start(&b->vm), 0);
	*state = l;
	return 0;
}

static int listener_teardown(void **state)
{
	struct listener *l = *state;

	vm_destroy(&l->box.vm); /* the watcher stops, the connection ends */
	shutdown(l->listen_fd, SHUT_RDWR);
	pthread_join(l->thread, NULL);
	close(l->listen_fd);
	unlink(l->path);
	if (l->box.be.kick_fd >= 0)
		close(l->box.be.kick_fd);
	console_destroy(&l->box.con);
	free(l);
	return 0;
}

static bool instance_enabled(struct box *b, unsigned instance)
{
	bool on;

	pthread_mutex_lock(&b->be.lock);
	on = b->be.instance == instance;
	pthread_mutex_unlock(&b->be.lock);
	return on && backend_saw(b, VHOST_USER_SET_VRING_ENABLE);
}

/* The backend goes while the guest has requests out and notifies in the
 * gap: the next instance gets the same inflight region, the queue from
 * the guest's used index, and a kick; the guest sees no reset. */
static void test_backend_restart(void **state)
{
	struct listener *l = *state;
	struct box *b = &l->box;
	volatile uint16_t *avail_idx, *used_idx;
	ino_t region;

	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	assert_int_equal(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	assert_true(instance_enabled(b, 1));
	assert_true(backend_saw(b, VHOST_USER_GET_INFLIGHT_FD));
	pthread_mutex_lock(&b->be.lock);
	region = b->be.got_ino;
	assert_int_equal(b->be.set_ino, region);
	pthread_mutex_unlock(&b->be.lock);
	(void)kicks(b);
	/* the guest: 5 requests out, 3 completed */
	avail_idx = vm_gpa_ptr(&b->vm, 0x101002, 2);
	used_idx = vm_gpa_ptr(&b->vm, 0x102002, 2);
	*avail_idx = 5;
	*used_idx = 3;
	/* the instance dies; the guest notifies before the next one */
	pthread_mutex_lock(&b->be.lock);
	shutdown(b->be.sock, SHUT_RDWR);
	pthread_mutex_unlock(&b->be.lock);
	*avail_idx = 6;
	wr(b, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	while (!instance_enabled(b, 2))
		usleep(1000);
	pthread_mutex_lock(&b->be.lock);
	assert_int_equal(b->be.set_ino, region); /* handed over, not new */
	assert_int_equal(b->be.base, 3);
	pthread_mutex_unlock(&b->be.lock);
	assert_false(backend_saw(b, VHOST_USER_GET_INFLIGHT_FD));
	assert_true(kicks(b) >= 1); /* the gap's notify and the restart's */
	assert_int_equal(
	    rd(b, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	/* a reset and a new start: a fresh region */
	wr(b, VIRTIO_MMIO_STATUS, 0);
	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	assert_int_equal(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	pthread_mutex_lock(&b->be.lock);
	assert_int_not_equal(b->be.got_ino, region);
	assert_int_equal(b->be.set_ino, b->be.got_ino);
	pthread_mutex_unlock(&b->be.lock);
}

struct saver {
	struct vm *vm;
	pthread_t tid;
	int rc;
};

static void *saver_main(void *arg)
{
	struct saver *s = arg;
	uint8_t *buf = NULL;
	size_t len = 0;

	s->rc = savestate_save(s->vm, &buf, &len);
	free(buf);
	return NULL;
}

/* A servicing's drain while the backend is replaced: the backend dies
 * with requests out, the save waits for them, the next instance gets the
 * queue meanwhile (the drain does not hold the device) and completes
 * them; the save then stops the queue there. */
static void test_drain_across_restart(void **state)
{
	struct listener *l = *state;
	struct box *b = &l->box;
	volatile uint16_t *avail_idx, *used_idx;
	struct saver s = { .vm = &b->vm, .rc = -2 };
	char away[128];

	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	assert_int_equal(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	assert_true(instance_enabled(b, 1));
	avail_idx = vm_gpa_ptr(&b->vm, 0x101002, 2);
	used_idx = vm_gpa_ptr(&b->vm, 0x102002, 2);
	*avail_idx = 5;
	*used_idx = 3;
	/* nobody listens at the path until the save drains */
	snprintf(away, sizeof(away), "%s.away", l->path);
	assert_int_equal(rename(l->path, away), 0);
	pthread_mutex_lock(&b->be.lock);
	shutdown(b->be.sock, SHUT_RDWR);
	pthread_mutex_unlock(&b->be.lock);
	while (snapshot(b).connected)
		usleep(1000);
	assert_int_equal(pthread_create(&s.tid, NULL, saver_main, &s), 0);
	usleep(100 * 1000); /* into the drain (else this test proves less) */
	assert_int_equal(rename(away, l->path), 0);
	while (!instance_enabled(b, 2))
		usleep(1000);
	assert_int_equal(s.rc, -2); /* still draining */
	*used_idx = 5;		    /* the next instance completed them */
	pthread_join(s.tid, NULL);
	assert_int_equal(s.rc, 0);
	assert_true(backend_saw(b, VHOST_USER_GET_VRING_BASE));
}

/* An external backend's connection closes: it cannot be dialled again,
 * the device needs a reset. */
static void test_external_gone(void **state)
{
	struct box *b = *state;

	assert_int_equal(vblk_watch_start(&b->vm), 0);
	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	assert_int_equal(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	shutdown(b->be.sock, SHUT_RDWR);
	while (!(rd(b, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET))
		usleep(1000);
}

/* A servicing's save meets a backend that dies as it stops the queue
 * (blkd killed then): the queue went with it, after a complete drain, so
 * the save goes on and carries the queue to the next instance. */
static void test_backend_dies_at_stop(void **state)
{
	struct box *b = *state;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_true(negotiate(b, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	queue(b, 8, 0x100000, 0x101000, 0x102000);
	assert_int_equal(driver_ok(b) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	assert_true(snapshot(b).connected);
	pthread_mutex_lock(&b->be.lock);
	b->be.die_at_stop = true;
	pthread_mutex_unlock(&b->be.lock);
	assert_int_equal(savestate_save(&b->vm, &buf, &len), 0);
	assert_true(len > 0);
	free(buf);
	assert_true(backend_saw(b, VHOST_USER_GET_VRING_BASE));
	assert_false(snapshot(b).connected);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_features,
						box_setup, box_teardown),
		cmocka_unit_test_setup_teardown(test_features_refused,
						box_setup, box_teardown),
		cmocka_unit_test_setup_teardown(test_start_notify_reset,
						box_setup, box_teardown),
		cmocka_unit_test_setup_teardown(test_bad_queues, box_setup,
						box_teardown),
		cmocka_unit_test_setup_teardown(test_backend_failure, box_setup,
						box_teardown),
		cmocka_unit_test_setup_teardown(
		    test_backend_restart, listener_setup, listener_teardown),
		cmocka_unit_test_setup_teardown(test_drain_across_restart,
						listener_setup,
						listener_teardown),
		cmocka_unit_test_setup_teardown(test_external_gone, box_setup,
						box_teardown),
		cmocka_unit_test_setup_teardown(test_backend_dies_at_stop,
						box_setup, box_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
