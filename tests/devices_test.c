/* Device table tests: every row's shape and hooks, each stateful
 * device's saved section carried from one VM to another through the
 * table, the DEV_MAX refusal, and VM reset running every reset hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/guest_abi.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "savedstate.pb-c.h"
#include "services/vmworker/console.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/vm.h"

#define N_BUILTIN 6 /* devices_init's table */

static void discard(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
}

struct box {
	struct vm vm;
	struct console con;
};

static void box_create(struct box *b)
{
	struct vm_config cfg = { .accel = &accel_emu_ops,
				 .n_vps = 1,
				 .mem_size = 32ull << 20,
				 .hole_gpa = GUEST_VTL2_GPA,
				 .hole_size = GUEST_VTL2_SIZE };

	assert_int_equal(console_init(&b->con, discard, NULL), 0);
	cfg.console = &b->con;
	assert_int_equal(vm_create(&b->vm, &cfg, -1), 0);
}

static void box_destroy(struct box *b)
{
	vm_destroy(&b->vm);
	console_destroy(&b->con);
}

/* A guest's port access through the exit path. */
static uint64_t pio(struct box *b, uint16_t port, uint64_t val, unsigned len,
		    bool is_write)
{
	uint64_t data = val;

	devices_pio(&b->vm.vps[0], port, &data, len, is_write);
	return data & 0xff;
}

static void com1_out(struct box *b, unsigned reg, uint8_t val)
{
	pio(b, (uint16_t)(GUEST_PORT_COM1 + reg), val, 1, true);
}

static uint8_t com1_in(struct box *b, unsigned reg)
{
	return (uint8_t)pio(b, (uint16_t)(GUEST_PORT_COM1 + reg), 0, 1, false);
}

/* Moves every built-in stateful device away from its power-on state the
 * way a guest would. */
static void guest_touches_devices(struct box *b)
{
	com1_out(b, 3, 0x80); /* DLAB */
	com1_out(b, 0, 3);    /* DLL */
	com1_out(b, 1, 1);    /* DLM */
	com1_out(b, 3, 0x1b);
	com1_out(b, 7, 0x5a);			/* scratch */
	com1_out(b, 1, 0x05);			/* IER */
	com1_out(b, 2, 0x07);			/* FCR */
	com1_out(b, 4, 0x10);			/* loopback */
	com1_out(b, 0, 'x');			/* held in the loopback byte */
	pio(b, GUEST_PORT_MAILBOX, 0, 1, true); /* not 4 bytes: EINVAL */
}

/* Device i's section alone, packed. */
static uint8_t *section(struct vm *vm, unsigned i, size_t *len)
{
	Parapet__SavedState st = PARAPET__SAVED_STATE__INIT;
	const struct dev_entry *e = &vm->devs.entries[i];
	struct ipc_arena arena;
	uint8_t *buf;

	assert_int_equal(ipc_arena_init(&arena, 4096, SAVESTATE_MAX_SIZE), 0);
	assert_int_equal(e->ops->save(e->ctx, vm, &st, &arena), 0);
	*len = parapet__saved_state__get_packed_size(&st);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	parapet__saved_state__pack(&st, buf);
	ipc_arena_fini(&arena);
	return buf;
}

static bool same_section(struct vm *a, struct vm *b, unsigned i)
{
	size_t la, lb;
	uint8_t *sa = section(a, i, &la), *sb = section(b, i, &lb);
	bool same = la == lb && memcmp(sa, sb, la) == 0;

	free(sa);
	free(sb);
	return same;
}

/* Each row answers somewhere of its own; a device with state has every
 * hook (state without save would be lost on servicing, without reset it
 * would survive a reboot). */
static void test_table_rows(void **state)
{
	struct box b;
	const struct devices *d;

	(void)state;
	box_create(&b);
	d = &b.vm.devs;
	assert_int_equal(d->n_entries, N_BUILTIN);
	for (unsigned i = 0; i < d->n_entries; i++) {
		const struct dev_ops *o = d->entries[i].ops;

		assert_non_null(o->name);
		assert_non_null(o->handler);
		assert_true(o->len > 0);
		for (unsigned j = 0; j < i; j++) {
			const struct dev_ops *p = d->entries[j].ops;

			assert_string_not_equal(o->name, p->name);
			if (o->is_mmio == p->is_mmio)
				assert_true(o->base + o->len <= p->base ||
					    p->base + p->len <= o->base);
		}
		for (uint64_t port = o->base;
		     !o->is_mmio && port < o->base + o->len; port++)
			assert_int_equal(d->pio_index[port], i + 1);
		if (o->state_size == 0) {
			assert_null(d->entries[i].ctx);
			continue;
		}
		assert_non_null(d->entries[i].ctx);
		assert_ptr_equal(devices_state(d, o->name), d->entries[i].ctx);
		assert_non_null(o->reset);
		assert_non_null(o->save);
		assert_non_null(o->check);
		assert_non_null(o->restore);
	}
	assert_null(devices_state(d, "no-such-device"));
	box_destroy(&b);
}

/* Through savestate_save and _restore, every stateful device's section
 * comes back the same in the new VM, and differs from power-on (so the
 * state was really carried, not just reset on both sides). */
static void test_round_trip_every_device(void **state)
{
	struct box a, b, fresh;
	uint8_t *buf;
	size_t len;
	char err[256];
	unsigned n_stateful = 0;

	(void)state;
	box_create(&a);
	box_create(&b);
	box_create(&fresh);
	guest_touches_devices(&a);
	assert_int_equal(console_input(&a.con, (const uint8_t *)"in", 2), 2);
	assert_int_equal(savestate_save(&a.vm, &buf, &len), 0);
	assert_int_equal(savestate_restore(&b.vm, buf, len, err, sizeof(err)),
			 0);
	for (unsigned i = 0; i < a.vm.devs.n_entries; i++) {
		if (a.vm.devs.entries[i].ops->save == NULL)
			continue;
		n_stateful++;
		if (!same_section(&a.vm, &b.vm, i))
			fail_msg("device %s: restored state differs",
				 a.vm.devs.entries[i].ops->name);
		if (same_section(&a.vm, &fresh.vm, i))
			fail_msg("device %s: state not moved from power-on",
				 a.vm.devs.entries[i].ops->name);
	}
	assert_int_equal(n_stateful, 2); /* com1, mailbox */
	/* and as the guest sees it */
	assert_int_equal(com1_in(&b, 3), 0x1b);
	assert_int_equal(com1_in(&b, 7), 0x5a);
	assert_int_equal(com1_in(&b, 0), 'x');
	assert_int_equal(pio(&b, GUEST_PORT_MAILBOX, 0, 4, false),
			 GUEST_MAILBOX_EINVAL);
	free(buf);
	box_destroy(&fresh);
	box_destroy(&b);
	box_destroy(&a);
}

/* A stateful extra device: counts accesses, reset clears the count. */
struct extra {
	uint64_t accesses;
	unsigned resets;
};

static void extra_access(struct vp *vp, uint64_t addr, uint64_t *data,
			 unsigned len, bool is_write, void *ctx)
{
	struct extra *x = ctx;

	(void)vp;
	(void)addr;
	(void)len;
	x->accesses++;
	if (!is_write)
		*data = x->accesses;
}

static void extra_reset(void *state, struct vm *vm)
{
	struct extra *x = state;

	(void)vm;
	x->accesses = 0;
	x->resets++;
}

#define EXTRA_PORT 0x500
static char extra_names[DEV_MAX + 1][16];
static struct dev_ops extra_ops[DEV_MAX + 1];

static const struct dev_ops *extra_dev(unsigned k)
{
	snprintf(extra_names[k], sizeof(extra_names[k]), "extra%u", k);
	extra_ops[k] = (struct dev_ops){ .name = extra_names[k],
					 .base = EXTRA_PORT + k,
					 .len = 1,
					 .handler = extra_access,
					 .state_size = sizeof(struct extra),
					 .reset = extra_reset };
	return &extra_ops[k];
}

/* A device whose writes are ignored: each write is counted as its exit
 * and reaches no handler; reads still do. Likewise the built-in test
 * MMIO window. */
static void test_write_ignored(void **state)
{
	struct dev_ops ops = *extra_dev(0);
	struct box b;
	struct extra *x;
	unsigned idx, mmio_idx = 0;
	uint64_t data = 0x5a;

	(void)state;
	box_create(&b);
	ops.write_ignored = true;
	assert_int_equal(devices_add(&b.vm.devs, &b.vm, &ops), 0);
	x = devices_state(&b.vm.devs, "extra0");
	idx = b.vm.devs.pio_index[EXTRA_PORT] - 1u;
	pio(&b, EXTRA_PORT, 1, 1, true);
	pio(&b, EXTRA_PORT, 2, 1, true);
	assert_int_equal(x->accesses, 0);
	assert_int_equal(b.vm.vps[0].counters.dev_exits[idx], 2);
	assert_int_equal(pio(&b, EXTRA_PORT, 0, 1, false), 1);
	assert_int_equal(b.vm.vps[0].counters.dev_exits[idx], 3);

	while (b.vm.devs.entries[mmio_idx].ops->base != GUEST_TEST_MMIO_GPA)
		mmio_idx++;
	devices_mmio(&b.vm.vps[0], GUEST_TEST_MMIO_GPA, &data, 4, true);
	devices_mmio(&b.vm.vps[0], GUEST_TEST_MMIO_GPA, &data, 4, false);
	assert_int_equal(data, 0);
	assert_int_equal(b.vm.vps[0].counters.dev_exits[mmio_idx], 2);
	box_destroy(&b);
}

/* The table takes DEV_MAX devices, then refuses with nothing changed;
 * those it took are reset and reachable. */
static void test_dev_max_refused(void **state)
{
	struct box b;
	struct devices *d;
	struct extra *x;
	unsigned k;

	(void)state;
	box_create(&b);
	d = &b.vm.devs;
	for (k = 0; d->n_entries < DEV_MAX; k++)
		assert_int_equal(devices_add(d, &b.vm, extra_dev(k)), 0);
	assert_int_equal(k, DEV_MAX - N_BUILTIN);
	x = devices_state(d, "extra0");
	assert_non_null(x);
	assert_int_equal(x->resets, 1);
	assert_int_equal(pio(&b, EXTRA_PORT, 0, 1, false), 1);
	assert_int_equal(devices_add(d, &b.vm, extra_dev(k)), -1);
	assert_int_equal(d->n_entries, DEV_MAX);
	assert_int_equal(d->pio_index[EXTRA_PORT + k], 0);
	assert_null(devices_state(d, extra_names[k]));
	box_destroy(&b);
}

/* vm_reset runs every device's reset hook, an added device's too: each
 * stateful built-in device's section is back to power-on. */
static void test_reset_clears_devices(void **state)
{
	struct box b, fresh;
	struct extra *x;
	char err[256];
	int image;

	(void)state;
	box_create(&b);
	box_create(&fresh);
	assert_int_equal(devices_add(&b.vm.devs, &b.vm, extra_dev(0)), 0);
	x = devices_state(&b.vm.devs, "extra0");
	guest_touches_devices(&b);
	pio(&b, EXTRA_PORT, 0, 1, true);
	assert_int_equal(x->accesses, 1);
	image = memfd_create("boot-image", 0);
	assert_true(image >= 0);
	assert_int_equal(ftruncate(image, (off_t)b.vm.cfg.mem_size), 0);
	assert_int_equal(vm_reset(&b.vm, image, err, sizeof(err)), 0);
	close(image);
	for (unsigned i = 0; i < fresh.vm.devs.n_entries; i++)
		if (fresh.vm.devs.entries[i].ops->save != NULL &&
		    !same_section(&b.vm, &fresh.vm, i))
			fail_msg("device %s: not reset",
				 fresh.vm.devs.entries[i].ops->name);
	assert_int_equal(x->accesses, 0);
	assert_int_equal(x->resets, 2);
	assert_int_equal(com1_in(&b, 3), 0x03);
	assert_int_equal(com1_in(&b, 7), 0);
	assert_int_equal(pio(&b, GUEST_PORT_MAILBOX, 0, 4, false),
			 GUEST_MAILBOX_OK);
	box_destroy(&fresh);
	box_destroy(&b);
}

static void ts_sleep_us(long us)
{
	struct timespec ts = { .tv_nsec = us * 1000 };

	nanosleep(&ts, NULL);
}

/* Spin relief: back-to-back clock reads sleep once they have gone on for
 * 1 ms (each then takes at least the 50 us sleep); reads with a pause
 * between each never do, and one long gap (the VP thread preempted) does
 * not end a spin. */
static void test_timestamp_spin_relief(void **state)
{
	struct vp *vp;
	struct box b;
	uint64_t t0, t1;

	(void)state;
	box_create(&b);
	vp = &b.vm.vps[0];
	for (int i = 0; i < 20; i++) {
		pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
		ts_sleep_us(100);
	}
	assert_int_equal(vp->ts_sleeps, 0);
	t0 = util_now_ns();
	/* bounded only for a loaded host preempting this thread twice in a
	 * row again and again */
	while (vp->ts_sleeps == 0 && util_now_ns() - t0 < 5000000000ull)
		pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
	assert_true(util_now_ns() - t0 >= 1000000);
	assert_true(vp->ts_sleeps > 0);
	t0 = util_now_ns();
	pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
	t1 = util_now_ns();
	assert_true(t1 - t0 >= 50000);
	{
		/* an exit to another device between two reads: the guest
		 * works (a disk driver notifying), it does not wait */
		uint64_t slept = vp->ts_sleeps;

		pio(&b, GUEST_PORT_TEST_NOOP, 0, 1, true);
		pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
		assert_int_equal(vp->ts_sleeps, slept);
		t0 = util_now_ns(); /* and spins anew: 1 ms without sleeps */
		while (vp->ts_sleeps == slept &&
		       util_now_ns() - t0 < 5000000000ull)
			pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
		assert_true(util_now_ns() - t0 >= 1000000);
	}
	ts_sleep_us(100); /* one gap: still spinning */
	t0 = util_now_ns();
	pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
	pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
	assert_true(util_now_ns() - t0 >= 100000);
	ts_sleep_us(100); /* two gaps in a row: a new start */
	pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
	ts_sleep_us(100);
	vp->ts_sleeps = 0;
	pio(&b, GUEST_PORT_TIMESTAMP, 0, 4, false);
	assert_int_equal(vp->ts_sleeps, 0);
	box_destroy(&b);
}

/* GUEST_TS_WAIT: the VP sleeps out the time asked (no upper bound is
 * checked: a loaded host may oversleep); a kick that came since the run
 * began ends the wait at once, even one as long as the cap. */
static void test_timestamp_wait(void **state)
{
	struct vp *vp;
	struct box b;
	uint64_t t0;

	(void)state;
	box_create(&b);
	vp = &b.vm.vps[0];
	vp->wake_seen = vp->wake_seq;
	t0 = util_now_ns();
	pio(&b, GUEST_PORT_TIMESTAMP, GUEST_TS_WAIT | 2000, 4, true);
	assert_true(util_now_ns() - t0 >= 2000000);
	assert_int_equal(vp->ts_waits, 1);
	assert_int_equal(vp->ts_waits_woken, 0);

	vp_wake(vp); /* the kick comes before the guest asks */
	pio(&b, GUEST_PORT_TIMESTAMP, GUEST_TS_WAIT | GUEST_TS_WAIT_MAX_US, 4,
	    true);
	assert_int_equal(vp->ts_waits, 2);
	assert_int_equal(vp->ts_waits_woken, 1);

	/* a mark is no wait */
	pio(&b, GUEST_PORT_TIMESTAMP, GUEST_MARK_FIRST_INSN, 4, true);
	assert_int_equal(vp->ts_waits, 2);
	box_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_round_trip_every_device),
		cmocka_unit_test(test_write_ignored),
		cmocka_unit_test(test_dev_max_refused),
		cmocka_unit_test(test_reset_clears_devices),
		cmocka_unit_test(test_timestamp_spin_relief),
		cmocka_unit_test(test_timestamp_wait),
	};

	log_init("devices_test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
