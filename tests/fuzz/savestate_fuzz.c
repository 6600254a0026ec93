/* libFuzzer harness for vmworker's saved-state restore
 * (services/vmworker/savestate.c): any bytes as a saved state restored
 * into a 2-VP emu VM created once. A refused state changes nothing; an
 * accepted one leaves valid VP contexts and devices, and saves back to a
 * state that restores to the same bytes. The first byte picks a whole
 * state or a body given a correct header of version 2 or 1.
 * PARAPET_FUZZ_SEEDS=DIR writes the seed corpus (states made by
 * savestate_save_version, v1-* and v2-*: one set for each released
 * format version) and exits. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "services/vmworker/console.h"
#include "services/vmworker/mailbox.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/vm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_VPS	 2
#define MEM_SIZE (16u << 20)

/* A broken property: says which, then stops like a crash. */
#define FAIL(why)                                                              \
	(fprintf(stderr, "savestate_fuzz: %s\n", why), __builtin_trap())

static struct vm vm;
static struct console con;

static void discard(void *ctx, const uint8_t *d, size_t len)
{
	(void)ctx;
	(void)d;
	(void)len;
}

static struct uart *com1(void)
{
	return devices_state(&vm.devs, "com1");
}

static struct mailbox *mailbox(void)
{
	return devices_state(&vm.devs, "mailbox");
}

/* Page tables and GDT, as an image's guest has them: emu checks a
 * restored selector against the guest's GDT. */
static void identity_map(void)
{
	struct guest_ram ram = vm_guest_ram(&vm);
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

static void setup(void)
{
	struct vm_config cfg = { .accel = &accel_emu_ops,
				 .n_vps = N_VPS,
				 .mem_size = MEM_SIZE,
				 .hole_gpa = GUEST_VTL2_GPA,
				 .hole_size = GUEST_VTL2_SIZE,
				 .console = &con };

	log_init("savestate_fuzz");
	if (console_init(&con, discard, NULL) != 0 ||
	    vm_create(&vm, &cfg, -1) != 0)
		abort();
	identity_map();
}

/* The VM as vm_create left it: every VP not started, empty rings. */
static void reset(void)
{
	struct uart_backend be;
	uint8_t b;

	for (unsigned i = 0; i < N_VPS; i++) {
		atomic_store(&vm.vps[i].state, VP_NOT_STARTED);
		memset(&vm.vps[i].counters, 0, sizeof(vm.vps[i].counters));
	}
	memset(&vm.bsp_start_regs, 0, sizeof(vm.bsp_start_regs));
	be = com1()->be;
	memset(com1(), 0, sizeof(struct uart));
	com1()->be = be;
	while (console_ring_get(&con.in, &b))
		;
	console_out_set_offset(&con, 0);
	atomic_store(&mailbox()->status, GUEST_MAILBOX_OK);
	vm.start_ns = vm.paused_ns = 0;
}

/* What a restored VM may hold. */
static void check_restored(void)
{
	struct vp_regs r;
	char why[128];

	for (unsigned i = 0; i < N_VPS; i++) {
		int st = atomic_load(&vm.vps[i].state);

		if (st != VP_NOT_STARTED && st != VP_RUNNING && st != VP_HALTED)
			FAIL("VP run state out of range");
		if (st == VP_NOT_STARTED)
			continue;
		if (vm.cfg.accel->vp_get_regs(vm.vps[i].avp, &r) != 0 ||
		    vpregs_check(&r, why, sizeof(why)) != 0)
			FAIL("a started VP has an invalid context");
	}
	if (atomic_load(&mailbox()->status) > GUEST_MAILBOX_EBUSY)
		FAIL("mailbox status out of range");
	if (console_ring_used(&con.in) > CONSOLE_IN_SIZE ||
	    console_ring_used(&con.out) > CONSOLE_OUT_SIZE)
		FAIL("console ring over its size");
}

/* A refused state applied nothing: the VM is as reset() left it. */
static void check_unchanged(void)
{
	static const struct vp_counters zero_counters;
	static const struct vp_regs zero_regs;
	struct uart zero_uart;

	for (unsigned i = 0; i < N_VPS; i++)
		if (atomic_load(&vm.vps[i].state) != VP_NOT_STARTED ||
		    memcmp(&vm.vps[i].counters, &zero_counters,
			   sizeof(zero_counters)) != 0)
			FAIL("a refused state changed a VP");
	memset(&zero_uart, 0, sizeof(zero_uart));
	zero_uart.be = com1()->be;
	if (memcmp(&vm.bsp_start_regs, &zero_regs, sizeof(zero_regs)) != 0 ||
	    memcmp(com1(), &zero_uart, sizeof(zero_uart)) != 0 ||
	    console_ring_used(&con.in) != 0 || console_out_head(&con) != 0 ||
	    atomic_load(&mailbox()->status) != GUEST_MAILBOX_OK ||
	    vm.start_ns != 0 || vm.paused_ns != 0)
		FAIL("a refused state changed the VM");
}

/* save(restore(x)) restores again, and saves to the same bytes. */
static void check_round_trip(void)
{
	uint8_t *a, *b;
	size_t alen, blen;
	char err[256];

	if (savestate_save(&vm, &a, &alen) != 0)
		FAIL("a restored VM cannot be saved");
	reset();
	if (savestate_restore(&vm, a, alen, err, sizeof(err)) != 0) {
		fprintf(stderr, "savestate_fuzz: %s\n", err);
		FAIL("a restored VM's own state is refused");
	}
	if (savestate_save(&vm, &b, &blen) != 0 || alen != blen ||
	    memcmp(a, b, alen) != 0)
		FAIL("save, restore, save changed the state");
	free(a);
	free(b);
}

/* Body mode: a correct header for the rest, so mutations of the body
 * get past the checksum. */
static uint8_t *with_header(const uint8_t *body, size_t len, uint32_t version,
			    size_t *out_len)
{
	struct savestate_header h = { .version = version };
	uint8_t *buf = malloc(SAVESTATE_HEADER_SIZE + len);

	if (buf == NULL)
		abort();
	memcpy(h.magic, SAVESTATE_MAGIC, sizeof(h.magic));
	h.size = (uint32_t)len;
	h.crc32 = (uint32_t)crc32(0, body, (uInt)len);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + SAVESTATE_HEADER_SIZE, body, len);
	*out_len = SAVESTATE_HEADER_SIZE + len;
	return buf;
}

/* First byte: 0 the rest is a whole saved state, 1 a body only (format
 * version 2), 2 a body of version 1. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *state = NULL;
	char err[256];
	int rc;

	if (vm.mem == NULL)
		setup();
	if (size < 1 || data[0] > 2)
		return 0;
	if (data[0] != 0)
		data = state = with_header(data + 1, size - 1,
					   data[0] == 1 ? 2 : 1, &size);
	else
		data++, size--;
	reset();
	err[0] = '\0';
	rc = savestate_restore(&vm, data, size, err, sizeof(err));
	free(state);
	if (rc != 0) {
		if (err[0] == '\0')
			FAIL("a refusal without a reason");
		check_unchanged();
		return 0;
	}
	check_restored();
	check_round_trip();
	return 0;
}

/* ---- seeds: real saved states of this VM shape ---- */

static void seed_write_version(const char *dir, const char *name,
			       uint32_t version)
{
	char path[4200];
	uint8_t *buf;
	size_t len;
	FILE *f;
	int mode = version == 1 ? 2 : 1;

	snprintf(path, sizeof(path), "%s/v%u-%s", dir, version, name);
	/* As a whole state (mode 0) and as a body (mode 1 or 2). */
	if (savestate_save_version(&vm, version, &buf, &len) != 0 ||
	    (f = fopen(path, "wb")) == NULL || fputc(0, f) != 0 ||
	    fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/v%u-%s.body", dir, version, name);
	if ((f = fopen(path, "wb")) == NULL || fputc(mode, f) != mode ||
	    fwrite(buf + SAVESTATE_HEADER_SIZE, 1, len - SAVESTATE_HEADER_SIZE,
		   f) != len - SAVESTATE_HEADER_SIZE ||
	    fclose(f) != 0)
		abort();
	free(buf);
}

static void seed_write(const char *dir, const char *name)
{
	for (uint32_t v = SAVESTATE_WRITE_MIN; v <= SAVESTATE_WRITE_MAX; v++)
		seed_write_version(dir, name, v);
}

static void seed_vp(unsigned i, int state, uint64_t rip)
{
	struct vp_regs r;

	vpregs_long_mode(&r, GUEST_PML4_GPA, GUEST_GDT_GPA, 0x1f);
	r.rip = rip;
	r.gpr[VP_RSP] = 0x80000 + 0x1000 * i;
	if (vm.cfg.accel->vp_set_regs(vm.vps[i].avp, &r) != 0)
		abort();
	atomic_store(&vm.vps[i].state, state);
	vm.vps[i].counters.exits_pio = 10 * i + 1;
	vm.vps[i].counters.vtl2_refused = i;
}

static void seeds(const char *dir)
{
	setup();
	reset();
	seed_write(dir, "fresh");
	seed_vp(0, VP_RUNNING, GUEST_LOAD_GPA);
	vpregs_long_mode(&vm.bsp_start_regs, GUEST_PML4_GPA, GUEST_GDT_GPA,
			 0x1f);
	vm.bsp_start_regs.rip = GUEST_LOAD_GPA;
	vm.start_ns = 1000;
	vm.paused_ns = 2000;
	seed_write(dir, "bsp_running");
	seed_vp(1, VP_HALTED, GUEST_LOAD_GPA + 0x40);
	atomic_store(&mailbox()->status, GUEST_MAILBOX_EBUSY);
	seed_write(dir, "ap_halted");
	com1()->lcr = 0x03;
	com1()->ier = 0x01;
	com1()->dll = 1;
	console_input(&con, (const uint8_t *)"ls\n", 3);
	console_out_set_offset(&con, 4096);
	for (const char *p = "hello\n"; *p; p++)
		console_ring_put(&con.out, (uint8_t)*p);
	seed_write(dir, "console");
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("PARAPET_FUZZ_SEEDS");

	(void)argc;
	(void)argv;
	if (dir != NULL)
		seeds(dir);
	return 0;
}
