/* libFuzzer harness for the sidecar command path (services/vmworker/
 * sidecar.c, sidecar_proto.c): fuzzed bytes as VP 1's command page (the
 * futex words aside), then sidecar_call() to the live sidecar thread of a
 * 2-VP emu VM created once; optionally SET_VP_REGISTERS from the page
 * first and fuzzed page tables in guest RAM, so TRANSLATE_GVA walks
 * hostile tables. Also checks the intercept check on the same bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "services/vmworker/console.h"
#include "services/vmworker/sidecar.h"
#include "services/vmworker/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MEM_SIZE    (32u << 20)
#define TABLES_GPA  0x200000u /* fuzzed tables go here */
#define TABLES_MAX  (16u << 10)
#define PAGE_FUZZED offsetof(struct sidecar_cmd_page, reserved)
#define HDR	    5 /* command (4), flags (1) */

static struct vm vm;
static struct console con;
static struct sidecar sc;
static struct vp_regs base;

static void discard(void *ctx, const uint8_t *d, size_t len)
{
	(void)ctx;
	(void)d;
	(void)len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Refused contexts are logged each time: keep the log quiet.
	 * libFuzzer, the sanitizers and fail() write to fd 2 directly. */
	stderr = fopen("/dev/null", "w");
	if (stderr == NULL)
		abort();
	return 0;
}

/* The first 4 GiB identity-mapped with 2 MiB pages and the flat GDT, as
 * guests have. */
static void identity_map(void)
{
	uint64_t *pml4 = vm_gpa_ptr(&vm, GUEST_PML4_GPA, 4096);
	uint64_t *pdpt = vm_gpa_ptr(&vm, GUEST_PDPT_GPA, 4096);
	uint64_t *gdt = vm_gpa_ptr(&vm, GUEST_GDT_GPA, 4096);

	/* Unicorn loads segment selectors from the GDT. */
	gdt[1] = 0x00af9b000000ffffull;
	gdt[2] = 0x00cf93000000ffffull;
	gdt[3] = 0x00008b0000000067ull;
	pml4[0] = GUEST_PDPT_GPA | 3;
	for (uint64_t i = 0; i < GUEST_PD_COUNT; i++) {
		uint64_t *pd = vm_gpa_ptr(&vm, GUEST_PD_GPA + 4096 * i, 4096);

		pdpt[i] = (GUEST_PD_GPA + 4096 * i) | 3;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = ((i << 30) + (j << 21)) | 0x83;
	}
}

/* libFuzzer ends a timed run with exit(): the sidecar thread must not be
 * left running while the process tears itself down. */
static void teardown(void)
{
	sidecar_stop(&sc);
	sidecar_destroy(&sc);
}

static void setup(void)
{
	struct vm_config cfg = { .accel = &accel_emu_ops,
				 .n_vps = 2,
				 .mem_size = MEM_SIZE,
				 .console = &con };
	struct sidecar_config scfg = { .vp_mask = 2, .region_fd = -1 };

	log_init("sidecar_fuzz");
	if (console_init(&con, discard, NULL) != 0 ||
	    vm_create(&vm, &cfg, -1) != 0)
		abort();
	identity_map();
	vpregs_long_mode(&base, GUEST_PML4_GPA, GUEST_GDT_GPA, 0x1f);
	base.rip = GUEST_LOAD_GPA;
	if (sidecar_create(&sc, &vm, &scfg) != 0 || sidecar_start(&sc) != 0 ||
	    vm.cfg.accel->vp_set_regs(vm.vps[1].avp, &base) != 0)
		abort();
	atexit(teardown);
}

/* Overlays the page with fuzzed bytes, except the words the two sides
 * synchronise on (the main loop owns them; no guest reaches them). They
 * are never written, not even for a moment: the sidecar thread spins on
 * seq and would take a half-written page as a command. */
static void load_page(struct sidecar_cmd_page *p, const uint8_t *b, size_t n)
{
	static const struct {
		size_t off, len;
	} fields[] = {
		{ offsetof(struct sidecar_cmd_page, command), 4 },
		{ offsetof(struct sidecar_cmd_page, has_error), 12 },
		{ offsetof(struct sidecar_cmd_page, request_len), 4 },
		{ offsetof(struct sidecar_cmd_page, intercept),
		  PAGE_FUZZED - offsetof(struct sidecar_cmd_page, intercept) },
	};
	static uint8_t image[PAGE_FUZZED];

	memset(image, 0, sizeof(image));
	memcpy(image, b, n < PAGE_FUZZED ? n : PAGE_FUZZED);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		memcpy((uint8_t *)p + fields[i].off, image + fields[i].off,
		       fields[i].len);
}

static uint32_t call(uint32_t command)
{
	struct sidecar_cmd_page *p = &sc.pages[1];
	uint32_t want = SIDECAR_OK, err;

	__atomic_store_n(&p->command, command, __ATOMIC_RELAXED);
	want = sidecar_check_command(p, 1, 2);
	err = sidecar_call(&sc, 1, command);
	if (err > SIDECAR_ERR_INTERCEPT ||
	    p->has_error != (err != SIDECAR_OK) ||
	    (want != SIDECAR_OK && err != want))
		__builtin_trap();
	return err;
}

/* Names the broken invariant on stderr (fd 2), then crashes. */
static void fail(const char *what)
{
	dprintf(2, "sidecar_fuzz: %s\n", what);
	__builtin_trap();
}

static void check_regs_now(const struct sidecar_regs *want)
{
	struct vp_regs r;
	char why[128];

	if (vm.cfg.accel->vp_get_regs(vm.vps[1].avp, &r) != 0)
		fail("get_regs failed");
	if (vpregs_check(&r, why, sizeof(why)) != 0)
		fail(why);
	if (want != NULL && (r.rip != want->rip || r.cr3 != want->cr3 ||
			     r.gpr[VP_RSP] != want->gpr[VP_RSP])) {
		dprintf(
		    2, "rip %llx/%llx cr3 %llx/%llx rsp %llx/%llx\n",
		    (unsigned long long)r.rip, (unsigned long long)want->rip,
		    (unsigned long long)r.cr3, (unsigned long long)want->cr3,
		    (unsigned long long)r.gpr[VP_RSP],
		    (unsigned long long)want->gpr[VP_RSP]);
		fail("registers differ from those set");
	}
}

static void check_intercept(const struct sidecar_intercept *ic)
{
	if (sidecar_check_intercept(ic) != SIDECAR_OK)
		return;
	if ((ic->kind != SIDECAR_EXIT_IO && ic->kind != SIDECAR_EXIT_MMIO) ||
	    ic->is_write > 1 || ic->size == 0 || ic->size > 8 ||
	    (ic->kind == SIDECAR_EXIT_IO &&
	     (ic->addr > 0xffff || ic->size > 4)))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sidecar_cmd_page *p;
	struct sidecar_regs asked;
	uint32_t command, err;
	size_t n_tables = 0;

	if (vm.mem == NULL)
		setup();
	if (size < HDR)
		return 0;
	memcpy(&command, data, 4);
	/* RUN_VP never completes synchronously: not for sidecar_call. */
	if (command == SIDECAR_CMD_RUN_VP)
		return 0;
	p = &sc.pages[1];
	load_page(p, data + HDR, size - HDR);
	check_intercept(&p->intercept);
	if (size > HDR + PAGE_FUZZED) {
		n_tables = size - HDR - PAGE_FUZZED;
		n_tables = n_tables < TABLES_MAX ? n_tables : TABLES_MAX;
		memcpy(vm.mem + TABLES_GPA, data + HDR + PAGE_FUZZED, n_tables);
	}
	asked = p->regs;
	if (data[4] & 1) {
		err = call(SIDECAR_CMD_SET_VP_REGISTERS);
		check_regs_now(err == SIDECAR_OK ? &asked : NULL);
	}
	err = call(command);
	if (command == SIDECAR_CMD_GET_VP_REGISTERS && err == SIDECAR_OK)
		check_regs_now(&p->regs);
	if (command == SIDECAR_CMD_SET_VP_REGISTERS)
		check_regs_now(err == SIDECAR_OK ? &asked : NULL);
	memset(vm.mem + TABLES_GPA, 0, n_tables);
	if (vm.cfg.accel->vp_set_regs(vm.vps[1].avp, &base) != 0)
		__builtin_trap();
	return 0;
}
