/* The guests' disks' virtio-mmio transports: see virtio_blk.h. */
#include "services/vmworker/virtio_blk.h"

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/guest_abi.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "savedstate.pb-c.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/devices.h"
#include "services/vmworker/vblk_watch.h"
#include "services/vmworker/vm.h"

#define VBLK_MAGIC	     0x74726976u /* "virt" */
#define VBLK_VENDOR_ID	     0x54505250u /* "PRPT" */
#define VBLK_CONNECT_WAIT_MS 10000	 /* blkd may still be starting */

/* What the guest may negotiate of the backend's features: the block
 * device's own bits, indirect descriptors, event index and VERSION_1
 * (the transport is modern only); never the vhost-user protocol bit,
 * packed rings or anything of another transport. */
#define VBLK_GUEST_FEATURES                                                    \
	(((1ull << 24) - 1) | 1ull << VIRTIO_RING_F_INDIRECT_DESC |            \
	 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_F_VERSION_1)

static struct dev_ops vblk_ops[GUEST_DISK_MAX];
static char vblk_names[GUEST_DISK_MAX][16];

static uint64_t vblk_offered(const struct vblk *b)
{
	return b->front.features & VBLK_GUEST_FEATURES;
}

/* The backend on first use: the device's features and config space are
 * the backend's. A VP waits here (bounded) while blkd starts. */
static bool vblk_backend(struct vblk *b)
{
	if (b->front.has_config)
		return true;
	if (b->broken)
		return false;
	if (vhost_front_connect(&b->front, VBLK_CONNECT_WAIT_MS) != 0) {
		log_warnx("disk %u: backend %s: %s", b->index, b->cfg->label,
			  b->front.error);
		b->broken = true;
		b->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		return false;
	}
	log_info("disk %u: backend %s (%s), features 0x%llx", b->index,
		 b->cfg->backend, b->cfg->label,
		 (unsigned long long)b->front.features);
	vblk_watch_poke();
	return true;
}

void virtio_blk_fail(struct vblk *b, const char *what)
{
	log_warnx("disk %u: %s: %s", b->index, what, b->front.error);
	b->driver_errors++;
	b->broken = true;
	b->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* Back to the state after power-on: the queue stops in the backend. */
static void vblk_reset_regs(struct vblk *b)
{
	if (b->front.started && vhost_front_stop(&b->front, NULL) != 0)
		log_warnx("disk %u: stopping the queue: %s", b->index,
			  b->front.error);
	b->status = 0;
	b->dev_features_sel = b->drv_features_sel = 0;
	b->drv_features = 0;
	b->queue_num = b->queue_sel = 0;
	b->queue_ready = false;
	b->desc = b->avail = b->used = 0;
	b->broken = false;
}

/* FEATURES_OK holds only for a subset of what was offered that includes
 * VERSION_1; otherwise the bit stays clear, as the spec asks. */
static uint32_t vblk_check_features(struct vblk *b, uint32_t status)
{
	uint64_t f = b->drv_features;

	/* a driver may accept features it never read: learn the offer */
	if (!vblk_backend(b) || (f & ~vblk_offered(b)) != 0 ||
	    !(f & (1ull << VIRTIO_F_VERSION_1))) {
		log_warnx("disk %u: driver features 0x%llx refused (offered "
			  "0x%llx)",
			  b->index, (unsigned long long)f,
			  (unsigned long long)vblk_offered(b));
		return status & ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
	}
	return status;
}

/* A queue the backend can run: its size a power of two up to the max,
 * its rings aligned as the spec requires (a backend refuses others,
 * and the queue would hang instead of failing). */
static bool vblk_queue_ok(const struct vblk *b)
{
	return b->queue_ready && b->queue_num != 0 &&
	       b->queue_num <= VBLK_QUEUE_MAX &&
	       (b->queue_num & (b->queue_num - 1)) == 0 &&
	       (b->desc & 15) == 0 && (b->avail & 1) == 0 && (b->used & 3) == 0;
}

static void vblk_write_status(struct vblk *b, struct vm *vm, uint32_t v)
{
	uint32_t old = b->status;

	if (v == 0) {
		vblk_reset_regs(b);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK))
		v = vblk_check_features(b, v);
	b->status = v | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (!(v & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (old & VIRTIO_CONFIG_S_DRIVER_OK) || b->broken)
		return;
	/* DRIVER_OK: the queue starts in the backend */
	if (!(v & VIRTIO_CONFIG_S_FEATURES_OK) || !vblk_queue_ok(b)) {
		snprintf(b->front.error, sizeof(b->front.error),
			 "DRIVER_OK without FEATURES_OK or a ready queue "
			 "(num %u)",
			 b->queue_num);
		virtio_blk_fail(b, "driver");
		return;
	}
	if (!vblk_backend(b) ||
	    vhost_front_start(&b->front, vm, b->drv_features, b->queue_num,
			      b->desc, b->avail, b->used, 0) != 0)
		virtio_blk_fail(b, "starting the queue");
	else
		vblk_watch_poke(); /* the connection may be new */
}

static uint32_t vblk_read_config(struct vblk *b, uint64_t off, unsigned len)
{
	uint32_t v = 0;

	if (!vblk_backend(b) || off + len > sizeof(b->front.config))
		return 0;
	memcpy(&v, b->front.config + off, len);
	return v;
}

static uint32_t vblk_read(struct vblk *b, uint64_t off)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VBLK_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return VIRTIO_ID_BLOCK;
	case VIRTIO_MMIO_VENDOR_ID:
		return VBLK_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (b->dev_features_sel > 1 || !vblk_backend(b))
			return 0;
		return (uint32_t)(vblk_offered(b) >>
				  (32 * b->dev_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return b->queue_sel == 0 ? VBLK_QUEUE_MAX : 0; /* one queue */
	case VIRTIO_MMIO_QUEUE_READY:
		return b->queue_sel == 0 && b->queue_ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return 0; /* guests poll the used ring */
	case VIRTIO_MMIO_STATUS:
		return b->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return ~0u; /* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return 0;
	default:
		return 0;
	}
}

static void set_half(uint64_t *v, bool high, uint32_t half)
{
	if (high)
		*v = (*v & 0xffffffffull) | (uint64_t)half << 32;
	else
		*v = (*v & ~0xffffffffull) | half;
}

/* Queue registers change only while the queue is not ready. */
static void vblk_write(struct vblk *b, struct vm *vm, uint64_t off, uint32_t v)
{
	bool q = !b->queue_ready && b->queue_sel == 0;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		b->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		b->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (b->drv_features_sel <= 1 &&
		    !(b->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&b->drv_features, b->drv_features_sel == 1, v);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		b->queue_sel = v; /* queues but 0 do not exist: max 0 */
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q)
			b->queue_num = v;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (b->queue_sel != 0)
			break;
		if (v == 0 && b->queue_ready && b->front.started &&
		    vhost_front_stop(&b->front, NULL) != 0)
			virtio_blk_fail(b, "stopping the queue");
		b->queue_ready = v != 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q)
			set_half(&b->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH,
				 v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (q)
			set_half(&b->avail, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
				 v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (q)
			set_half(&b->used, off == VIRTIO_MMIO_QUEUE_USED_HIGH,
				 v);
		break;
	case VIRTIO_MMIO_STATUS:
		vblk_write_status(b, vm, v);
		break;
	default:
		break; /* InterruptACK, SHMSel, read-only registers */
	}
}

static void vblk_access(struct vp *vp, uint64_t addr, uint64_t *data,
			unsigned len, bool is_write, void *ctx)
{
	struct vblk *b = ctx;
	uint64_t off = addr - vblk_ops[b->index].base;

	/* the hot path: a started queue's notify, without the lock */
	if (is_write && off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		if (__atomic_load_n(&b->front.started, __ATOMIC_ACQUIRE)) {
			atomic_fetch_add_explicit(vhost_front_kick(&b->front)
						      ? &b->notifies
						      : &b->notifies_idle,
						  1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&b->notifies_dropped, 1,
						  memory_order_relaxed);
		}
		return;
	}
	pthread_mutex_lock(&b->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (!is_write && len <= 4)
			*data =
			    vblk_read_config(b, off - VIRTIO_MMIO_CONFIG, len);
		else if (!is_write) /* 64-bit config reads: capacity */
			*data =
			    vblk_read_config(b, off - VIRTIO_MMIO_CONFIG, 4) |
			    (uint64_t)vblk_read_config(
				b, off - VIRTIO_MMIO_CONFIG + 4, 4)
				<< 32;
	} else if (len != 4 || (off & 3) != 0) {
		/* the spec allows only aligned 32-bit register access */
		if (!is_write)
			*data = 0;
	} else if (is_write) {
		vblk_write(b, vp->vm, off, (uint32_t)*data);
	} else {
		*data = vblk_read(b, off);
	}
	pthread_mutex_unlock(&b->lock);
}

/* Power-on and VM reset: the registers; the backend connection stays. */
static void vblk_reset(void *state, struct vm *vm)
{
	struct vblk *b = state;

	(void)vm;
	b->resume_pending = false;
	if (!b->front_ready) {
		pthread_mutex_init(&b->lock, NULL);
		return;
	}
	pthread_mutex_lock(&b->lock);
	vblk_reset_regs(b);
	pthread_mutex_unlock(&b->lock);
}

static uint16_t ring_idx(struct vm *vm, uint64_t gpa);

/* Servicing (the VPs are paused). Every request the guest made available
 * must complete first: the backend (or its next instance, which the next
 * vmworker connects to) goes on from the avail index, not from requests
 * half done. The wait is bounded: a backend that does not finish fails
 * the servicing and the VM runs on. The lock is let go while waiting: a
 * backend that died meanwhile is replaced under it by the watch thread,
 * and the next one finishes the requests. */
#define VBLK_DRAIN_MS 5000

static int vblk_drain(struct vblk *b, struct vm *vm, uint16_t *avail_idx)
{
	uint64_t until = util_deadline_ns(VBLK_DRAIN_MS);

	for (;;) {
		uint16_t a = ring_idx(vm, b->avail), u = ring_idx(vm, b->used);

		if (a == u) {
			*avail_idx = a;
			return 0;
		}
		if (util_now_ns() >= until) {
			log_warnx("disk %u: %u requests still in flight after "
				  "%d ms: not serviced",
				  b->index, (unsigned)(uint16_t)(a - u),
				  VBLK_DRAIN_MS);
			return -1;
		}
		pthread_mutex_unlock(&b->lock);
		usleep(200);
		pthread_mutex_lock(&b->lock);
	}
}

static int vblk_save(void *state, struct vm *vm, struct Parapet__SavedState *st,
		     struct ipc_arena *arena)
{
	struct vblk *b = state;
	Parapet__SavedDisk *d;
	uint16_t base = 0;
	bool running;

	if (b->status == 0)
		return 0; /* never set up this boot: nothing to carry */
	if (st->disks == NULL) {
		st->disks =
		    ipc_arena_alloc(arena, GUEST_DISK_MAX * sizeof(*st->disks));
		if (st->disks == NULL)
			return -1;
	}
	d = ipc_arena_alloc(arena, sizeof(*d));
	if (d == NULL || st->n_disks >= GUEST_DISK_MAX)
		return -1;
	pthread_mutex_lock(&b->lock);
	running = b->front.started;
	/* drained, the queue stops in the backend: a backend may refuse to
	 * be set up again while a ring still runs at the old addresses */
	if (running && (vblk_drain(b, vm, &base) != 0 ||
			vhost_front_stop(&b->front, NULL) != 0)) {
		pthread_mutex_unlock(&b->lock);
		return -1;
	}
	/* virtio_blk_resume restarts it if this servicing fails */
	b->resume_pending = running;
	b->resume_base = base;
	parapet__saved_disk__init(d);
	d->has_index = d->has_status = d->has_driver_features = 1;
	d->has_queue_num = d->has_queue_ready = d->has_desc = 1;
	d->has_avail = d->has_used = d->has_avail_base = d->has_running = 1;
	d->has_dev_features_sel = d->has_drv_features_sel = 1;
	d->has_queue_sel = 1;
	d->index = b->index;
	d->status = b->status;
	d->driver_features = b->drv_features;
	d->queue_num = b->queue_num;
	d->queue_ready = b->queue_ready;
	d->desc = b->desc;
	d->avail = b->avail;
	d->used = b->used;
	d->avail_base = base;
	d->running = running;
	d->dev_features_sel = b->dev_features_sel;
	d->drv_features_sel = b->drv_features_sel;
	d->queue_sel = b->queue_sel;
	pthread_mutex_unlock(&b->lock);
	st->disks[st->n_disks++] = d;
	return 0;
}

static int vblk_check(const struct Parapet__SavedState *st, char *err,
		      size_t err_len)
{
	for (size_t i = 0; i < st->n_disks; i++) {
		const Parapet__SavedDisk *d = st->disks[i];

		if (d->index >= GUEST_DISK_MAX ||
		    d->queue_num > VBLK_QUEUE_MAX || d->avail_base > 0xffff)
			return savestate_fail(err, err_len,
					      "saved disk %u: bad index, "
					      "queue size or avail index",
					      d->index);
	}
	return 0;
}

/* The transport as saved; a queue that ran starts again in the backend
 * in virtio_blk_resume, before any VP runs: here vmworker has not yet
 * taken its own uid, the only one blkd lets in. */
static void vblk_restore(void *state, struct vm *vm,
			 const struct Parapet__SavedState *st)
{
	struct vblk *b = state;

	(void)vm;
	for (size_t i = 0; i < st->n_disks; i++) {
		const Parapet__SavedDisk *d = st->disks[i];

		if (d->index != b->index)
			continue;
		pthread_mutex_lock(&b->lock);
		b->status = d->status;
		b->drv_features = d->driver_features;
		b->queue_num = d->queue_num;
		b->queue_ready = d->queue_ready;
		b->desc = d->desc;
		b->avail = d->avail;
		b->used = d->used;
		b->dev_features_sel = d->dev_features_sel;
		b->drv_features_sel = d->drv_features_sel;
		b->queue_sel = d->queue_sel;
		b->resume_pending = d->running;
		b->resume_base = (uint16_t)d->avail_base;
		pthread_mutex_unlock(&b->lock);
	}
}

int virtio_blk_add_all(struct devices *d, struct vm *vm)
{
	for (unsigned i = 0; i < GUEST_DISK_MAX; i++) {
		const struct vm_disk_config *c = &vm->cfg.disks[i];
		struct vblk *b;

		if (!c->present)
			continue;
		snprintf(vblk_names[i], sizeof(vblk_names[i]), "virtio-blk%u",
			 i);
		vblk_ops[i] = (struct dev_ops){
			.name = vblk_names[i],
			.is_mmio = true,
			.base =
			    GUEST_VIRTIO_MMIO_GPA + i * GUEST_VIRTIO_MMIO_SIZE,
			.len = GUEST_VIRTIO_MMIO_SIZE,
			.handler = vblk_access,
			.state_size = sizeof(struct vblk),
			.reset = vblk_reset,
			.save = vblk_save,
			.check = vblk_check,
			.restore = vblk_restore,
		};
		if (devices_add(d, vm, &vblk_ops[i]) != 0)
			return -1;
		b = devices_state(d, vblk_names[i]);
		b->index = i;
		b->cfg = c;
		vhost_front_init(&b->front, c->conn_fd, c->sock_path);
		b->front_ready = true;
	}
	return 0;
}

/* The 16-bit index at offset 2 of a ring the guest owns, or 0. */
static uint16_t ring_idx(struct vm *vm, uint64_t gpa)
{
	const volatile uint16_t *p = vm_gpa_ptr(vm, gpa + 2, 2);

	return p != NULL ? *p : 0;
}

void virtio_blk_snapshot(struct vblk *b, struct vm *vm, struct vblk_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&b->lock);
	s->index = b->index;
	s->cfg = b->cfg;
	s->connected = b->front.has_config && b->front.sock >= 0;
	s->running = b->front.started;
	s->offered = vblk_offered(b);
	s->negotiated = b->drv_features;
	if (b->front.has_config)
		memcpy(&s->capacity, b->front.config, sizeof(s->capacity));
	s->status = b->status;
	s->queue_size = b->queue_num;
	s->notifies = atomic_load(&b->notifies);
	s->notifies_idle = atomic_load(&b->notifies_idle);
	s->notifies_dropped = atomic_load(&b->notifies_dropped);
	s->driver_errors = b->driver_errors;
	if (b->front.started) {
		s->avail_idx = ring_idx(vm, b->avail);
		s->used_idx = ring_idx(vm, b->used);
	}
	snprintf(s->error, sizeof(s->error), "%s", b->front.error);
	pthread_mutex_unlock(&b->lock);
}

/* The saved queue started again in the backend. A backend reached by
 * its path (blkd) that fails meanwhile (killed or restarted while this
 * vmworker took over) is replaced by the next instance, as the watch
 * thread replaces a running one: nothing ran from the queue since the
 * drain, so it starts at the saved avail index whatever the instance. */
static int vblk_resume_one(struct vblk *b, struct vm *vm)
{
	uint64_t until = util_deadline_ns(VBLK_RECONNECT_MS);
	uint32_t status = b->status;

	for (;;) {
		if (vblk_backend(b) &&
		    vhost_front_start(&b->front, vm, b->drv_features,
				      b->queue_num, b->desc, b->avail, b->used,
				      b->resume_base) == 0)
			return 0;
		if (b->front.path[0] == '\0' || util_now_ns() >= until)
			return -1;
		log_warnx("disk %u: %s: trying the backend's next instance",
			  b->index, b->front.error);
		vhost_front_lost(&b->front);
		b->front.has_config = false;
		b->broken = false;
		b->status = status;
		usleep(10 * 1000);
	}
}

void virtio_blk_resume(struct vm *vm)
{
	for (unsigned i = 0; i < GUEST_DISK_MAX; i++) {
		struct vblk *b = virtio_blk_get(vm, i);

		if (b == NULL)
			continue;
		pthread_mutex_lock(&b->lock);
		if (b->resume_pending && vblk_resume_one(b, vm) != 0)
			virtio_blk_fail(b,
					"restarting the queue after servicing");
		b->resume_pending = false;
		pthread_mutex_unlock(&b->lock);
	}
}

struct vblk *virtio_blk_get(struct vm *vm, unsigned index)
{
	char name[16];

	if (index >= GUEST_DISK_MAX)
		return NULL;
	snprintf(name, sizeof(name), "virtio-blk%u", index);
	return devices_state(&vm->devs, name);
}

void virtio_blk_fini(struct vm *vm)
{
	vblk_watch_stop();
	for (unsigned i = 0; i < GUEST_DISK_MAX; i++) {
		struct vblk *b = virtio_blk_get(vm, i);

		if (b != NULL && b->front_ready) {
			vhost_front_close(&b->front);
			pthread_mutex_destroy(&b->lock);
		}
	}
}
