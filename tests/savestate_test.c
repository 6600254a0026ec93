/* Saved state tests: a round trip of every field, each corruption refused
 * with nothing applied, and a live counter guest carried from one VM to a
 * new one on the same guest RAM memfd (emu, and kvm when present). */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "boot/loader.h"
#include "lib/guest_abi.h"
#include "lib/log.h"
#include "savedstate.pb-c.h"
#include "services/vmworker/console.h"
#include "services/vmworker/mailbox.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/vm.h"

#ifndef TEST_BUILD_DIR
#define TEST_BUILD_DIR "build"
#endif

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static char out[1 << 16];
static size_t out_len;

static void capture(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	pthread_mutex_lock(&out_lock);
	if (out_len + len < sizeof(out)) {
		memcpy(out + out_len, data, len);
		out_len += len;
	}
	pthread_mutex_unlock(&out_lock);
}

struct box {
	struct vm vm;
	struct console con;
};

static void box_create(struct box *b, const struct accel_ops *a, unsigned n_vps,
		       int mem_fd)
{
	struct vm_config cfg = { .accel = a,
				 .n_vps = n_vps,
				 .mem_size = GUEST_DEFAULT_MEM,
				 .hole_gpa = GUEST_VTL2_GPA,
				 .hole_size = GUEST_VTL2_SIZE };

	assert_int_equal(console_init(&b->con, capture, NULL), 0);
	cfg.console = &b->con;
	assert_int_equal(vm_create(&b->vm, &cfg, mem_fd), 0);
}

/* Page tables and GDT, as an image's guest has them. */
static void box_identity_map(struct box *b)
{
	struct guest_ram ram = vm_guest_ram(&b->vm);
	uint64_t *pml4 = guest_ram_ptr(&ram, GUEST_PML4_GPA, 4096);
	uint64_t *pdpt = guest_ram_ptr(&ram, GUEST_PDPT_GPA, 4096);
	uint64_t *gdt = guest_ram_ptr(&ram, GUEST_GDT_GPA, 4096);

	pml4[0] = GUEST_PDPT_GPA | 3;
	for (int i = 0; i < GUEST_PD_COUNT; i++) {
		uint64_t *pd =
		    guest_ram_ptr(&ram, GUEST_PD_GPA + 4096u * i, 4096);

		pdpt[i] = (GUEST_PD_GPA + 4096u * i) | 3;
		for (int j = 0; j < 512; j++)
			pd[j] =
			    (((uint64_t)i << 30) + ((uint64_t)j << 21)) | 0x83;
	}
	gdt[1] = 0x00af9b000000ffffull;
	gdt[2] = 0x00cf93000000ffffull;
	gdt[3] = 0x00008b0000000067ull;
}

static void box_destroy(struct box *b)
{
	vm_destroy(&b->vm);
	console_destroy(&b->con);
}

/* Rewrites the body of a saved state and fixes its header. */
static void repack(uint8_t **buf, size_t *len,
		   void (*edit)(Parapet__SavedState *st))
{
	Parapet__SavedState *st = parapet__saved_state__unpack(
	    NULL, *len - SAVESTATE_HEADER_SIZE, *buf + SAVESTATE_HEADER_SIZE);
	struct savestate_header h;
	size_t body;
	uint8_t *nb;

	assert_non_null(st);
	edit(st);
	body = parapet__saved_state__get_packed_size(st);
	nb = malloc(SAVESTATE_HEADER_SIZE + body);
	parapet__saved_state__pack(st, nb + SAVESTATE_HEADER_SIZE);
	memcpy(&h, *buf, sizeof(h));
	h.size = (uint32_t)body;
	h.crc32 = (uint32_t)crc32(0, nb + SAVESTATE_HEADER_SIZE, (uInt)body);
	memcpy(nb, &h, sizeof(h));
	parapet__saved_state__free_unpacked(st, NULL);
	free(*buf);
	*buf = nb;
	*len = SAVESTATE_HEADER_SIZE + body;
}

static void set_distinct_regs(struct vm *vm, unsigned i)
{
	struct vp_regs r;

	vpregs_long_mode(&r, GUEST_PML4_GPA, GUEST_GDT_GPA, 0x1f);
	for (int g = 0; g < VP_NR_GPRS; g++)
		r.gpr[g] = 0x1000ull * (i + 1) + (uint64_t)g;
	r.rip = 0x100000 + i;
	r.cr2 = 0xdead000 + i;
	r.idtr.base = 0x3000;
	r.idtr.limit = 0xfff;
	assert_int_equal(vm->cfg.accel->vp_set_regs(vm->vps[i].avp, &r), 0);
	atomic_store(&vm->vps[i].state, i == 0 ? VP_RUNNING : VP_HALTED);
	vm->vps[i].counters.exits_pio = 100 + i;
	vm->vps[i].counters.vtl2_refused = 7 + i;
	vm->vps[i].counters.exits_unknown_pio = 3 + i;
	vm->vps[i].counters.exits_unknown_mmio = 2 + i;
}

/* The guest RAM the saved states below belong to. */
static int state_mem_fd = -1;

/* A saved state of a 2-VP VM with every field set. */
/* The format version make_state writes (the newest by default). */
static uint32_t make_version = SAVESTATE_WRITE_MAX;

static void make_state(uint8_t **buf, size_t *len)
{
	struct box a;
	struct uart *com1;
	struct mailbox *mailbox;

	box_create(&a, &accel_emu_ops, 2, -1);
	box_identity_map(&a);
	if (state_mem_fd >= 0)
		close(state_mem_fd);
	state_mem_fd = dup(a.vm.mem_fd);
	set_distinct_regs(&a.vm, 0);
	set_distinct_regs(&a.vm, 1);
	com1 = devices_state(&a.vm.devs, "com1");
	com1->lcr = 0x1b;
	com1->scr = 0x5a;
	com1->dll = 3;
	assert_int_equal(console_input(&a.con, (const uint8_t *)"in!", 3), 3);
	console_ring_put(&a.con.out, 'o');
	mailbox = devices_state(&a.vm.devs, "mailbox");
	atomic_store(&mailbox->status, GUEST_MAILBOX_EBUSY);
	a.vm.start_ns = 123456789;
	a.vm.paused_ns = 987654321;
	vpregs_long_mode(&a.vm.bsp_start_regs, GUEST_PML4_GPA, GUEST_GDT_GPA,
			 0x1f);
	assert_int_equal(savestate_save_version(&a.vm, make_version, buf, len),
			 0);
	box_destroy(&a);
}

static void test_round_trip(void **state)
{
	struct box b;
	struct uart *com1;
	struct mailbox *mailbox;
	struct vp_regs r;
	uint8_t *buf, byte;
	size_t len;
	char err[256];

	(void)state;
	make_state(&buf, &len);
	box_create(&b, &accel_emu_ops, 2, dup(state_mem_fd));
	assert_int_equal(savestate_restore(&b.vm, buf, len, err, sizeof(err)),
			 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(
		    b.vm.cfg.accel->vp_get_regs(b.vm.vps[i].avp, &r), 0);
		for (int g = 0; g < VP_NR_GPRS; g++)
			assert_int_equal(r.gpr[g],
					 0x1000ull * (i + 1) + (uint64_t)g);
		assert_int_equal(r.rip, 0x100000 + i);
		assert_int_equal(r.cr2, 0xdead000 + i);
		assert_int_equal(r.cr3, GUEST_PML4_GPA);
		assert_int_equal(r.idtr.limit, 0xfff);
		assert_int_equal(r.seg[VP_CS].attrib, 0xa09b);
		assert_int_equal(r.seg[VP_TR].attrib, 0x008b);
		assert_int_equal(b.vm.vps[i].counters.exits_pio, 100 + i);
		assert_int_equal(b.vm.vps[i].counters.vtl2_refused, 7 + i);
		assert_int_equal(b.vm.vps[i].counters.exits_unknown_pio, 3 + i);
		assert_int_equal(b.vm.vps[i].counters.exits_unknown_mmio,
				 2 + i);
	}
	assert_int_equal(atomic_load(&b.vm.vps[0].state), VP_RUNNING);
	assert_int_equal(atomic_load(&b.vm.vps[1].state), VP_HALTED);
	com1 = devices_state(&b.vm.devs, "com1");
	assert_int_equal(com1->lcr, 0x1b);
	assert_int_equal(com1->scr, 0x5a);
	assert_int_equal(com1->dll, 3);
	assert_true(console_ring_get(&b.con.in, &byte) && byte == 'i');
	assert_int_equal(console_ring_used(&b.con.in), 2);
	assert_int_equal(console_ring_used(&b.con.out), 1);
	mailbox = devices_state(&b.vm.devs, "mailbox");
	assert_int_equal(atomic_load(&mailbox->status), GUEST_MAILBOX_EBUSY);
	assert_int_equal(b.vm.start_ns, 123456789);
	assert_int_equal(b.vm.paused_ns, 987654321);
	assert_int_equal(b.vm.bsp_start_regs.cr3, GUEST_PML4_GPA);
	box_destroy(&b);
	free(buf);
}

/* Restores a corrupted state into a fresh VM and expects the refusal,
 * with the VM untouched. */
static void expect_refused(uint8_t *buf, size_t len, const char *want)
{
	struct box b;
	struct mailbox *mailbox;
	char err[256] = "";

	box_create(&b, &accel_emu_ops, 2, dup(state_mem_fd));
	assert_int_equal(savestate_restore(&b.vm, buf, len, err, sizeof(err)),
			 -1);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&b.vm.vps[i].state),
				 VP_NOT_STARTED);
		assert_int_equal(b.vm.vps[i].counters.exits_pio, 0);
	}
	mailbox = devices_state(&b.vm.devs, "mailbox");
	assert_int_equal(atomic_load(&mailbox->status), GUEST_MAILBOX_OK);
	assert_int_equal(b.vm.start_ns, 0);
	assert_int_equal(console_ring_used(&b.con.in), 0);
	box_destroy(&b);
}

static void edit_vp_index(Parapet__SavedState *st)
{
	st->vps[1]->index = 9;
}

static void edit_fifo(Parapet__SavedState *st)
{
	free(st->uart->rx_fifo.data);
	st->uart->rx_fifo.data = calloc(1, CONSOLE_IN_SIZE + 1);
	st->uart->rx_fifo.len = CONSOLE_IN_SIZE + 1;
}

static void edit_shape(Parapet__SavedState *st)
{
	st->vp_count = 3;
}

static void edit_regs(Parapet__SavedState *st)
{
	st->vps[0]->seg[VP_CS]->attrib = 0xe09b; /* L and D */
}

static void edit_duplicate(Parapet__SavedState *st)
{
	st->vps[1]->index = 0;
}

/* A selector whose descriptor lies past the GDT limit: the emu engine
 * would fault loading it, so the VP's state is refused, not crashed on. */
static void edit_selector(Parapet__SavedState *st)
{
	st->vps[0]->seg[VP_SS]->selector = 0x40;
}

/* The same for VP 1: VP 0's state, valid, must not be applied alone. */
static void edit_selector_ap(Parapet__SavedState *st)
{
	st->vps[1]->seg[VP_SS]->selector = 0x40;
}

static void edit_mailbox(Parapet__SavedState *st)
{
	st->mailbox_status = 7;
}

static void edit_refusals(Parapet__SavedState *st)
{
	st->vps[1]->vtl2_refused = st->vps[1]->exits_mmio + 1;
}

static void edit_unknown_pio(Parapet__SavedState *st)
{
	st->vps[0]->exits_unknown_pio = st->vps[0]->exits_pio + 1;
}

/* The refused VTL2 accesses and the unclaimed ones share the MMIO total. */
static void edit_unknown_mmio(Parapet__SavedState *st)
{
	st->vps[1]->exits_unknown_mmio =
	    st->vps[1]->exits_mmio - st->vps[1]->vtl2_refused + 1;
}

/* Each edit on a fresh state must be refused with want in the error. */
static void expect_edit_refused(void (*edit)(Parapet__SavedState *st),
				const char *want)
{
	uint8_t *buf;
	size_t len;

	make_state(&buf, &len);
	repack(&buf, &len, edit);
	expect_refused(buf, len, want);
	free(buf);
}

static void test_corrupt_fields(void **state)
{
	(void)state;
	expect_edit_refused(edit_selector_ap, "refused VP 1");
	expect_edit_refused(edit_mailbox, "mailbox status 7");
	expect_edit_refused(edit_refusals, "more VTL2 refusals");
	expect_edit_refused(edit_unknown_pio, "more unclaimed accesses");
	expect_edit_refused(edit_unknown_mmio, "more unclaimed accesses");
}

static void set_header_version(uint8_t *buf, uint32_t version)
{
	struct savestate_header h;

	memcpy(&h, buf, sizeof(h));
	h.version = version;
	memcpy(buf, &h, sizeof(h));
}

static void edit_min_reader_3(Parapet__SavedState *st)
{
	st->format_version = 3;
	st->min_reader_version = 3;
}

static void edit_format_3(Parapet__SavedState *st)
{
	st->format_version = 3;
}

static void edit_no_format(Parapet__SavedState *st)
{
	st->has_format_version = 0;
}

/* Versions (docs/servicing.md): 1 is what release 0.9.0 reads (header
 * version 1, reserved 0, none of the later fields), 2 names itself in
 * its body, and a newer version is read only when its body says a
 * reader of 2 may. */
static void test_versions(void **state)
{
	struct savestate_header h;
	Parapet__SavedState *st;
	struct version_range r;
	struct box b;
	uint32_t v;
	uint8_t *buf;
	size_t len;
	char err[256];

	(void)state;
	make_version = 1;
	make_state(&buf, &len);
	make_version = SAVESTATE_WRITE_MAX;
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.version, 1);
	assert_int_equal(h.reserved, 0);
	st = parapet__saved_state__unpack(NULL, len - SAVESTATE_HEADER_SIZE,
					  buf + SAVESTATE_HEADER_SIZE);
	assert_non_null(st);
	assert_false(st->has_format_version || st->has_min_reader_version);
	assert_int_equal(st->base.n_unknown_fields, 0);
	parapet__saved_state__free_unpacked(st, NULL);
	box_create(&b, &accel_emu_ops, 2, dup(state_mem_fd));
	assert_int_equal(savestate_restore(&b.vm, buf, len, err, sizeof(err)),
			 0);
	box_destroy(&b);
	free(buf);

	make_state(&buf, &len);
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.version, 2);
	st = parapet__saved_state__unpack(NULL, len - SAVESTATE_HEADER_SIZE,
					  buf + SAVESTATE_HEADER_SIZE);
	assert_non_null(st);
	assert_int_equal(st->format_version, 2);
	assert_int_equal(st->min_reader_version, 2);
	parapet__saved_state__free_unpacked(st, NULL);
	/* a version 3 that a reader of 2 may read: read */
	repack(&buf, &len, edit_format_3);
	set_header_version(buf, 3);
	box_create(&b, &accel_emu_ops, 2, dup(state_mem_fd));
	assert_int_equal(savestate_restore(&b.vm, buf, len, err, sizeof(err)),
			 0);
	box_destroy(&b);
	/* one that needs a reader of 3: refused, nothing applied */
	repack(&buf, &len, edit_min_reader_3);
	expect_refused(buf, len, "needs a vmworker that reads version 3");
	free(buf);
	make_state(&buf, &len);
	repack(&buf, &len, edit_no_format);
	expect_refused(buf, len, "without a matching version");
	free(buf);

	/* what to write for a next vmworker's range */
	r = (struct version_range){ 1, 1 };
	assert_int_equal(savestate_pick_version(&r, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1);
	r = (struct version_range){ 1, 9 };
	assert_int_equal(savestate_pick_version(&r, &v, err, sizeof(err)), 0);
	assert_int_equal(v, SAVESTATE_WRITE_MAX);
	r = (struct version_range){ 3, 3 };
	assert_int_equal(savestate_pick_version(&r, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no common version"));
	r = (struct version_range){ 0, 0 };
	assert_int_equal(savestate_pick_version(&r, &v, err, sizeof(err)), -1);
}

/* --version's saved-state line, as init reads it. */
static void test_version_parse(void **state)
{
	static const char ok[] = "parapet-vmworker 0.10.0\n"
				 "saved-state read 1 2\n"
				 "saved-state write 1 2\n";
	struct version_range r;

	(void)state;
	assert_int_equal(version_parse_read(ok, strlen(ok), &r), 0);
	assert_int_equal(r.min, 1);
	assert_int_equal(r.max, 2);
	assert_int_equal(version_parse_read("usage: x\n", 9, &r), -1);
	assert_int_equal(version_parse_read("saved-state read 2 1\n", 21, &r),
			 -1);
	assert_int_equal(version_parse_read("saved-state read 0 1\n", 21, &r),
			 -1);
	assert_int_equal(version_parse_read("saved-state read 1\n", 19, &r),
			 -1);
	assert_int_equal(version_parse_read("saved-state read 1 2", 20, &r), 0);
}

/* Port and MMIO exit totals (refused VTL2 accesses count as MMIO exits)
 * stay the same across any number of save/restore cycles. */
static void test_counters_carried(void **state)
{
	uint64_t pio, mmio;
	uint8_t *buf;
	size_t len;
	char err[256];

	(void)state;
	make_state(&buf, &len);
	for (int round = 0; round < 3; round++) {
		struct box b;

		box_create(&b, &accel_emu_ops, 2, dup(state_mem_fd));
		assert_int_equal(
		    savestate_restore(&b.vm, buf, len, err, sizeof(err)), 0);
		for (unsigned i = 0; i < 2; i++) {
			vp_exit_totals(&b.vm.vps[i], &pio, &mmio);
			assert_int_equal(pio, 100 + i + 3 + i);
			assert_int_equal(mmio, 7 + i + 2 + i);
			assert_int_equal(b.vm.vps[i].counters.vtl2_refused,
					 7 + i);
		}
		free(buf);
		assert_int_equal(savestate_save(&b.vm, &buf, &len), 0);
		box_destroy(&b);
	}
	free(buf);
}

static void test_corrupt_states(void **state)
{
	uint8_t *buf;
	size_t len;

	(void)state;
	make_state(&buf, &len);
	expect_refused(buf, len - 1, "header says");
	expect_refused(buf, 10, "truncated");
	buf[0] ^= 1;
	expect_refused(buf, len, "bad magic");
	buf[0] ^= 1;
	buf[8] = 0; /* version */
	expect_refused(buf, len, "format version 0");
	buf[8] = 2;
	buf[len - 3] ^= 0x40;
	expect_refused(buf, len, "checksum");
	buf[len - 3] ^= 0x40;
	repack(&buf, &len, edit_vp_index);
	expect_refused(buf, len, "index 9 past");
	free(buf);
	make_state(&buf, &len);
	repack(&buf, &len, edit_fifo);
	expect_refused(buf, len, "input FIFO");
	free(buf);
	make_state(&buf, &len);
	repack(&buf, &len, edit_shape);
	expect_refused(buf, len, "for 3 VPs");
	free(buf);
	make_state(&buf, &len);
	repack(&buf, &len, edit_regs);
	expect_refused(buf, len, "CS attributes");
	free(buf);
	make_state(&buf, &len);
	repack(&buf, &len, edit_duplicate);
	expect_refused(buf, len, "twice");
	free(buf);
	make_state(&buf, &len);
	repack(&buf, &len, edit_selector);
	expect_refused(buf, len, "refused VP 0");
	free(buf);
}

/* ---- a live guest carried across ---- */

struct runner {
	struct vm *vm;
	const struct vp_regs *bsp;
	pthread_t t;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	vm_run(r->vm, r->bsp, 0);
	return NULL;
}

static void load_counter(struct box *b, struct vp_regs *bsp)
{
	static uint8_t file[1 << 20];
	struct loader_params p = { .guest_cmdline = "delay_ms=1", .n_vps = 1 };
	struct loader_image img;
	struct igvm_file f;
	struct guest_ram ram;
	char err[256];
	int fd = open(TEST_BUILD_DIR "/guests/counter.igvm", O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, file, sizeof(file));
	close(fd);
	assert_true(n > 0);
	assert_int_equal(igvm_parse(file, (size_t)n, &f, NULL), 0);
	assert_int_equal(loader_prepare(&f, &img, err, sizeof(err)), 0);
	ram = vm_guest_ram(&b->vm);
	assert_int_equal(loader_load(&f, &img, &ram, &p, err, sizeof(err)), 0);
	vpregs_from_igvm(&img.bsp, bsp);
	igvm_free(&f);
}

/* Waits for n bytes of guest output; the 60 s bound only catches a
 * stall (a sanitizer build on a loaded machine is slow, not stuck). */
static void wait_output(size_t n)
{
	for (int i = 0; i < 12000; i++) {
		size_t got;

		pthread_mutex_lock(&out_lock);
		got = out_len;
		pthread_mutex_unlock(&out_lock);
		if (got >= n)
			return;
		usleep(5000);
	}
	fail_msg("guest output stalled at %zu bytes", out_len);
}

/* Every line 0, 1, 2, ... exactly once. */
static unsigned check_counter_lines(void)
{
	unsigned want = 0;
	char *line = out, *nl;

	out[out_len] = '\0';
	while ((nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		if (strtoul(line, NULL, 10) != want)
			fail_msg("line %u reads '%s'", want, line);
		want++;
		line = nl + 1;
	}
	return want;
}

static void test_live_carry(void **state)
{
	const struct accel_ops *accel = *state;
	struct box a, b;
	struct runner ra, rb;
	struct vp_regs bsp;
	uint8_t *buf;
	size_t len;
	char err[256];

	/* The state holds a copy of the ops: probe by name, not address. */
	if (strcmp(accel->name, "kvm") == 0 &&
	    accel_kvm_probe(err, sizeof(err)) != 0) {
		print_message("kvm unavailable (%s): skipping\n", err);
		skip();
	}
	out_len = 0;
	box_create(&a, accel, 1, -1);
	load_counter(&a, &bsp);
	console_start(&a.con);
	ra = (struct runner){ &a.vm, &bsp, 0 };
	pthread_create(&ra.t, NULL, run_thread, &ra);
	wait_output(40);
	assert_int_equal(vm_pause(&a.vm), 0);
	console_stop(&a.con);
	assert_int_equal(savestate_save(&a.vm, &buf, &len), 0);
	/* The new VM maps the same guest RAM: nothing is copied. */
	box_create(&b, accel, 1, dup(a.vm.mem_fd));
	vm_stop(&a.vm);
	pthread_join(ra.t, NULL);
	box_destroy(&a);
	assert_int_equal(savestate_restore(&b.vm, buf, len, err, sizeof(err)),
			 0);
	console_start(&b.con);
	rb = (struct runner){ &b.vm, NULL, 0 };
	pthread_create(&rb.t, NULL, run_thread, &rb);
	wait_output(out_len + 40);
	vm_stop(&b.vm);
	pthread_join(rb.t, NULL);
	console_stop(&b.con);
	assert_true(check_counter_lines() >= 15);
	box_destroy(&b);
	free(buf);
}

struct acker {
	struct console *con;
	_Atomic bool stop;
};

/* hostcomm acknowledging console bytes while the VM is being saved. */
static void *ack_forward(void *arg)
{
	struct acker *a = arg;

	while (!atomic_load(&a->stop) &&
	       console_out_tail(a->con) < console_out_head(a->con))
		console_out_ack(a->con, console_out_tail(a->con) + 1);
	return NULL;
}

/* Every saved console byte keeps its stream offset even while acks move
 * the tail during the save: the byte at offset k is (k & 0xff). */
static void test_console_offsets_under_acks(void **state)
{
	Parapet__SavedState *st;
	struct acker ack;
	pthread_t tid;
	struct box a;
	uint8_t *buf;
	size_t len;

	(void)state;
	box_create(&a, &accel_emu_ops, 1, -1);
	for (int round = 0; round < 200; round++) {
		uint64_t head = console_out_head(&a.con);

		while (console_ring_put(&a.con.out, (uint8_t)head))
			head++;
		ack = (struct acker){ .con = &a.con };
		assert_int_equal(pthread_create(&tid, NULL, ack_forward, &ack),
				 0);
		assert_int_equal(savestate_save(&a.vm, &buf, &len), 0);
		atomic_store(&ack.stop, true);
		pthread_join(tid, NULL);
		st = parapet__saved_state__unpack(NULL,
						  len - SAVESTATE_HEADER_SIZE,
						  buf + SAVESTATE_HEADER_SIZE);
		assert_non_null(st);
		for (size_t i = 0; i < st->uart->tx_fifo.len; i++)
			if (st->uart->tx_fifo.data[i] !=
			    (uint8_t)(st->uart->tx_offset + i))
				fail_msg("round %d: byte %zu of the saved "
					 "console is numbered wrong",
					 round, i);
		parapet__saved_state__free_unpacked(st, NULL);
		free(buf);
	}
	box_destroy(&a);
}

int main(void)
{
	static struct accel_ops emu, kvm;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_corrupt_states),
		cmocka_unit_test(test_corrupt_fields),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_version_parse),
		cmocka_unit_test(test_counters_carried),
		cmocka_unit_test(test_console_offsets_under_acks),
		{ "test_live_carry/emu", test_live_carry, NULL, NULL, &emu },
		{ "test_live_carry/kvm", test_live_carry, NULL, NULL, &kvm },
	};

	emu = accel_emu_ops;
	kvm = accel_kvm_ops;
	log_init("savestate_test");
	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests_name("savestate", tests, NULL, NULL);
}
