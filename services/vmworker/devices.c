/* Guest-visible devices: the device list, the stateless ones (Parapet's
 * debug exit, timestamp and test no-op ports, the test MMIO window), and
 * the dispatch from the immutable table built from the list. Unknown
 * accesses read all ones and are counted. COM1 and the VP start mailbox
 * live in their own files (com1.c, mailbox.c). */
#include "services/vmworker/devices.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/util.h"
#include "services/vmworker/com1.h"
#include "services/vmworker/mailbox.h"
#include "services/vmworker/virtio_blk.h"
#include "services/vmworker/vm.h"

static void dev_debug_exit(struct vp *vp, uint64_t addr, uint64_t *data,
			   unsigned len, bool is_write, void *ctx)
{
	(void)addr;
	(void)len;
	(void)ctx;
	if (is_write)
		vm_poweroff(vp->vm, (int)(*data & 0xff));
}

/* Spin relief: a guest reading the clock back to back (each read within
 * TS_SPIN_GAP_NS of the one before, no other exit between them) for
 * TS_SPIN_AFTER_NS is waiting for time to pass, like a PAUSE loop under
 * hardware pause-loop exiting. From then on each of its reads first
 * sleeps TS_SPIN_SLEEP_NS, so the host CPU goes to other work (other
 * partitions booting: the wait loops of the guests that already run would
 * otherwise take their share, and a yield does not leave a per-session
 * scheduling group). The guest sees its wait end at most about one sleep
 * late. Untouched: waits shorter than TS_SPIN_AFTER_NS, as KVM's
 * halt-polling leaves short waits alone, and a guest whose reads come
 * between other exits: a disk driver's (it reads the clock every 256 polls
 * of the used ring while a request runs, and notifies the device for the
 * next). Guests that can say they wait use GUEST_TS_WAIT instead. Not on a
 * sidecar VP: its intercepts are served by the loop that serves every
 * sidecar VP. */
#define TS_SPIN_GAP_NS	 20000
#define TS_SPIN_AFTER_NS 1000000
#define TS_SPIN_SLEEP_NS 50000

/* Every device exit of vp so far, this clock read's included. */
static uint64_t ts_dev_exits(const struct vp *vp)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < vp->vm->devs.n_entries; i++)
		n += vp->counters.dev_exits[i];
	return n;
}

static void ts_spin_relief(struct vp *vp, uint64_t now)
{
	uint64_t since = vp->ts_spin_start_ns, exits = ts_dev_exits(vp);
	bool other = exits != vp->ts_exits + 1;

	vp->ts_exits = exits;
	/* Another exit since the last read (a disk request's notify, a
	 * console byte): the guest works between its reads, it does not
	 * wait. One long gap is the VP thread preempted; two in a row, a
	 * guest doing other work without an exit. */
	if (other) {
		vp->ts_spin_start_ns = since = now;
		vp->ts_gap = false;
	} else if (now - vp->ts_last_ns > TS_SPIN_GAP_NS) {
		if (vp->ts_gap || since == 0)
			vp->ts_spin_start_ns = since = now;
		vp->ts_gap = true;
	} else {
		vp->ts_gap = false;
	}
	vp->ts_last_ns = now;
	if (now - since >= TS_SPIN_AFTER_NS &&
	    !atomic_load_explicit(&vp->on_sidecar, memory_order_relaxed)) {
		struct timespec ts = { .tv_nsec = TS_SPIN_SLEEP_NS };

		nanosleep(&ts, NULL);
		vp->ts_sleeps++;
		vp->ts_last_ns = util_now_ns();
	}
}

/* GUEST_TS_WAIT: the guest waits for time to pass, up to us µs, as a
 * halted CPU waits for its timer: the VP thread sleeps instead of the
 * guest polling the clock. Any kick of the VP (pause, servicing, power
 * off, emu's turn for another VP) ends it at once, one that came since
 * the run began included: the guest then re-reads the clock and asks
 * again. Not on a sidecar VP: the loop that serves every sidecar VP's
 * exits must not sleep for one; the guest falls back to polling. */
static void ts_wait(struct vp *vp, uint32_t us)
{
	uint64_t now = util_now_ns(), until;
	uint32_t seen = vp->wake_seen;

	if (atomic_load_explicit(&vp->on_sidecar, memory_order_relaxed))
		return;
	if (us > GUEST_TS_WAIT_MAX_US)
		us = GUEST_TS_WAIT_MAX_US;
	until = now + (uint64_t)us * 1000u;
	vp->ts_waits++;
	while (now < until) {
		if (__atomic_load_n(&vp->wake_seq, __ATOMIC_SEQ_CST) != seen) {
			vp->ts_waits_woken++;
			break;
		}
		futex_wait(&vp->wake_seq, seen, until - now);
		now = util_now_ns();
	}
	vp->ts_spin_start_ns = 0; /* the reads after a wait start anew */
}

static void dev_timestamp(struct vp *vp, uint64_t addr, uint64_t *data,
			  unsigned len, bool is_write, void *ctx)
{
	uint64_t now = util_now_ns();

	(void)addr;
	(void)len;
	(void)ctx;
	if (!is_write) {
		ts_spin_relief(vp, now);
		*data = (uint32_t)((util_now_ns() - vp->vm->start_ns) / 1000);
	} else if (*data & GUEST_TS_WAIT) {
		ts_wait(vp, (uint32_t)(*data & ~(uint64_t)GUEST_TS_WAIT));
	} else if (*data == GUEST_MARK_FIRST_INSN && vp->vm->first_insn_ns == 0)
		__atomic_store_n(&vp->vm->first_insn_ns, util_now_ns(),
				 __ATOMIC_RELAXED);
}

/* pio_loop's port and mmio_loop's window: accepted, nothing done. */
static void dev_noop(struct vp *vp, uint64_t addr, uint64_t *data, unsigned len,
		     bool is_write, void *ctx)
{
	(void)vp;
	(void)addr;
	(void)len;
	(void)ctx;
	if (!is_write)
		*data = 0;
}

static const struct dev_ops debug_exit_dev = {
	.name = "debug-exit",
	.base = GUEST_PORT_DEBUG_EXIT,
	.len = 1,
	.handler = dev_debug_exit,
};

static const struct dev_ops timestamp_dev = {
	.name = "timestamp",
	.base = GUEST_PORT_TIMESTAMP,
	.len = 1,
	.handler = dev_timestamp,
};

static const struct dev_ops test_noop_dev = {
	.name = "test-noop",
	.write_sink = true,
	.write_ignored = true,
	.base = GUEST_PORT_TEST_NOOP,
	.len = 1,
	.handler = dev_noop,
};

static const struct dev_ops test_mmio_dev = {
	.name = "test-mmio",
	.is_mmio = true,
	.write_sink = true,
	.write_ignored = true,
	.base = GUEST_TEST_MMIO_GPA,
	.len = GUEST_TEST_MMIO_SIZE,
	.handler = dev_noop,
};

/* The devices, in the order inspect lists them. A new device is its own
 * file (its dev_ops, state and hooks) and one row here. */
static const struct dev_ops *const dev_table[] = {
	&com1_dev,    &debug_exit_dev, &timestamp_dev,
	&mailbox_dev, &test_noop_dev,  &test_mmio_dev,
};

#define DEV_TABLE_LEN (sizeof(dev_table) / sizeof(dev_table[0]))
_Static_assert(DEV_TABLE_LEN <= DEV_MAX, "more devices than DEV_MAX");

int devices_add(struct devices *d, struct vm *vm, const struct dev_ops *ops)
{
	unsigned idx = d->n_entries;
	void *state = NULL;
	uint64_t p;

	if (idx >= DEV_MAX) {
		log_warnx("device %s: the device table is full (%d devices)",
			  ops->name, DEV_MAX);
		return -1;
	}
	if (ops->state_size != 0) {
		state = calloc(1, ops->state_size);
		if (state == NULL) {
			log_warn("device %s: state", ops->name);
			return -1;
		}
	}
	if (ops->reset != NULL)
		ops->reset(state, vm);
	d->entries[idx] =
	    (struct dev_entry){ .handler = ops->handler,
				.ctx = state,
				.ops = ops,
				.write_ignored = ops->write_ignored };
	d->n_entries++;
	if (ops->is_mmio)
		return 0;
	for (p = ops->base; p < ops->base + ops->len && p < 65536; p++)
		d->pio_index[p] = (uint8_t)(idx + 1);
	return 0;
}

int devices_init(struct devices *d, struct vm *vm)
{
	size_t i;

	util_zero(d, sizeof(*d)); /* pio_index: 64 KiB, a few ports used */
	for (i = 0; i < DEV_TABLE_LEN; i++)
		if (devices_add(d, vm, dev_table[i]) != 0)
			return -1;
	return virtio_blk_add_all(d, vm);
}

void devices_fini(struct devices *d)
{
	unsigned i;

	for (i = 0; i < d->n_entries; i++)
		free(d->entries[i].ctx);
	memset(d, 0, sizeof(*d));
}

void *devices_state(const struct devices *d, const char *name)
{
	unsigned i;

	for (i = 0; i < d->n_entries; i++)
		if (strcmp(d->entries[i].ops->name, name) == 0)
			return d->entries[i].ctx;
	return NULL;
}

/* Rate limit: the first 8 unknown accesses, then every 2^k-th. */
static void devices_unknown(struct vp *vp, const char *kind, uint64_t addr,
			    bool is_write)
{
	uint64_t n = atomic_fetch_add(&vp->vm->devs.unknown_total, 1) + 1;

	if (n <= 8 || (n & (n - 1)) == 0)
		log_warnx("vp%u: unhandled %s %s at 0x%llx (%llu so far)",
			  vp->index, kind, is_write ? "write" : "read",
			  (unsigned long long)addr, (unsigned long long)n);
}

void devices_pio(struct vp *vp, uint16_t port, uint64_t *data, unsigned len,
		 bool is_write)
{
	struct devices *d = &vp->vm->devs;
	unsigned idx = d->pio_index[port];

	if (!is_write)
		*data = ~0ull;
	if (idx == 0) {
		vp->counters.exits_unknown_pio++;
		devices_unknown(vp, "port", port, is_write);
		return;
	}
	vp_pio_claimed(vp, idx, port, data, len, is_write);
}

void devices_mmio(struct vp *vp, uint64_t gpa, uint64_t *data, unsigned len,
		  bool is_write)
{
	struct vm *vm = vp->vm;
	struct devices *d = &vm->devs;
	unsigned i;

	if (!is_write)
		*data = ~0ull;
	if (gpa - vm->cfg.hole_gpa < vm->cfg.hole_size) {
		vp->counters.vtl2_refused++;
		devices_unknown(vp, "VTL2-protected access", gpa, is_write);
		return;
	}
	for (i = 0; i < d->n_entries; i++) {
		const struct dev_entry *e = &d->entries[i];

		const struct dev_ops *o = e->ops;

		if (o->is_mmio && gpa - o->base < o->len) {
			vp->counters.dev_exits[i]++;
			if (is_write && e->write_ignored)
				return;
			o->handler(vp, gpa, data, len, is_write, e->ctx);
			return;
		}
	}
	vp->counters.exits_unknown_mmio++;
	devices_unknown(vp, "MMIO", gpa, is_write);
}

void vp_exit_totals(const struct vp *vp, uint64_t *pio, uint64_t *mmio)
{
	const struct devices *d = &vp->vm->devs;
	const struct vp_counters *c = &vp->counters;
	unsigned i;

	*pio = c->exits_pio + c->exits_unknown_pio;
	*mmio = c->exits_mmio + c->exits_unknown_mmio + c->vtl2_refused;
	for (i = 0; i < d->n_entries; i++) {
		if (d->entries[i].ops->is_mmio)
			*mmio += c->dev_exits[i];
		else
			*pio += c->dev_exits[i];
	}
}
