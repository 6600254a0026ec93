/* Sidecar protocol tests: the status table, checks of malformed pages and
 * intercepts, the GVA walk, and every command against a live sidecar
 * thread on the emu accelerator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "services/vmworker/console.h"
#include "services/vmworker/sidecar.h"
#include "services/vmworker/translate.h"
#include "services/vmworker/vm.h"

static void test_status_table(void **state)
{
	(void)state;
	assert_int_equal(sidecar_status_next(SIDECAR_IDLE, SIDECAR_EV_RUN),
			 SIDECAR_RUN);
	assert_int_equal(sidecar_status_next(SIDECAR_RUN, SIDECAR_EV_STOPPED),
			 SIDECAR_IDLE);
	assert_int_equal(sidecar_status_next(SIDECAR_RUN, SIDECAR_EV_STOP),
			 SIDECAR_STOP);
	assert_int_equal(sidecar_status_next(SIDECAR_STOP, SIDECAR_EV_STOPPED),
			 SIDECAR_IDLE);
	assert_int_equal(sidecar_status_next(SIDECAR_RUN, SIDECAR_EV_REMOVE),
			 SIDECAR_REMOVE);
	assert_int_equal(
	    sidecar_status_next(SIDECAR_REMOVE, SIDECAR_EV_STOPPED),
	    SIDECAR_REMOVE);
	assert_int_equal(sidecar_status_next(SIDECAR_REMOVE, SIDECAR_EV_EXITED),
			 SIDECAR_REMOVED);
	/* One way: nothing leaves REMOVED, and REMOVE never runs again. */
	for (int ev = 0; ev < SIDECAR_NR_EVENTS; ev++)
		assert_int_equal(sidecar_status_next(SIDECAR_REMOVED, ev), -1);
	assert_int_equal(sidecar_status_next(SIDECAR_REMOVE, SIDECAR_EV_RUN),
			 -1);
	assert_int_equal(sidecar_status_next(SIDECAR_STOP, SIDECAR_EV_RUN), -1);
	assert_int_equal(sidecar_status_next(SIDECAR_IDLE, SIDECAR_EV_EXITED),
			 -1);
	assert_int_equal(sidecar_status_next(SIDECAR_NR_STATUS, SIDECAR_EV_RUN),
			 -1);
	assert_int_equal(sidecar_status_next(SIDECAR_IDLE, SIDECAR_NR_EVENTS),
			 -1);
}

static void test_check_command(void **state)
{
	struct sidecar_cmd_page p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.vp_index = 1;
	p.command = SIDECAR_CMD_GET_VP_REGISTERS;
	assert_int_equal(sidecar_check_command(&p, 1, 4), SIDECAR_OK);
	p.command = SIDECAR_CMD_NONE;
	assert_int_equal(sidecar_check_command(&p, 1, 4), SIDECAR_ERR_COMMAND);
	p.command = 77;
	assert_int_equal(sidecar_check_command(&p, 1, 4), SIDECAR_ERR_COMMAND);
	p.command = SIDECAR_CMD_RUN_VP;
	assert_int_equal(sidecar_check_command(&p, 2, 4), SIDECAR_ERR_VP);
	p.vp_index = 9;
	assert_int_equal(sidecar_check_command(&p, 9, 4), SIDECAR_ERR_VP);
	p.vp_index = 1;
	p.request_len = SIDECAR_REQUEST_MAX + 1;
	assert_int_equal(sidecar_check_command(&p, 1, 4), SIDECAR_ERR_LENGTH);
	p.request_len = 4;
	p.command = SIDECAR_CMD_TRANSLATE_GVA;
	assert_int_equal(sidecar_check_command(&p, 1, 4), SIDECAR_ERR_LENGTH);
	p.request_len = 8;
	assert_int_equal(sidecar_check_command(&p, 1, 4), SIDECAR_OK);
}

static void test_check_intercept(void **state)
{
	struct sidecar_intercept ic = { .kind = SIDECAR_EXIT_IO,
					.size = 1,
					.addr = 0x3f8 };

	(void)state;
	assert_int_equal(sidecar_check_intercept(&ic), SIDECAR_OK);
	ic.size = 3;
	assert_int_equal(sidecar_check_intercept(&ic), SIDECAR_ERR_INTERCEPT);
	ic.size = 8; /* no 8-byte port access */
	assert_int_equal(sidecar_check_intercept(&ic), SIDECAR_ERR_INTERCEPT);
	ic.size = 4;
	ic.addr = 0x10000;
	assert_int_equal(sidecar_check_intercept(&ic), SIDECAR_ERR_INTERCEPT);
	ic.kind = SIDECAR_EXIT_MMIO;
	ic.size = 8;
	assert_int_equal(sidecar_check_intercept(&ic), SIDECAR_OK);
	ic.is_write = 2;
	assert_int_equal(sidecar_check_intercept(&ic), SIDECAR_ERR_INTERCEPT);
	ic.is_write = 1;
	ic.kind = SIDECAR_EXIT_HALT;
	assert_int_equal(sidecar_check_intercept(&ic), SIDECAR_ERR_INTERCEPT);
}

/* Identity map of the first 4 GiB with 2 MiB pages, as guests have. */
static void identity_map(struct guest_ram *ram)
{
	uint64_t *pml4 = guest_ram_ptr(ram, GUEST_PML4_GPA, 4096);
	uint64_t *pdpt = guest_ram_ptr(ram, GUEST_PDPT_GPA, 4096);
	uint64_t *gdt = guest_ram_ptr(ram, GUEST_GDT_GPA, 4096);

	pml4[0] = GUEST_PDPT_GPA | 3;
	for (int i = 0; i < GUEST_PD_COUNT; i++) {
		uint64_t *pd =
		    guest_ram_ptr(ram, GUEST_PD_GPA + 4096u * i, 4096);

		pdpt[i] = (GUEST_PD_GPA + 4096u * i) | 3;
		for (int j = 0; j < 512; j++)
			pd[j] =
			    (((uint64_t)i << 30) + ((uint64_t)j << 21)) | 0x83;
	}
	gdt[1] = 0x00af9b000000ffffull;
	gdt[2] = 0x00cf93000000ffffull;
	gdt[3] = 0x00008b0000000067ull;
}

static void test_translate(void **state)
{
	struct guest_ram ram = { calloc(1, 32u << 20), 32u << 20, 0, 0 };
	uint64_t gpa = 0;

	(void)state;
	identity_map(&ram);
	assert_int_equal(translate_gva(&ram, GUEST_PML4_GPA, 0x123456, &gpa),
			 0);
	assert_int_equal(gpa, 0x123456);
	assert_int_equal(
	    translate_gva(&ram, GUEST_PML4_GPA, 0xfee00abcull, &gpa), 0);
	assert_int_equal(gpa, 0xfee00abcull);
	/* PML4 entry 1 is empty; a non-canonical address never walks. */
	assert_int_equal(
	    translate_gva(&ram, GUEST_PML4_GPA, 0x0000008000000000ull, &gpa),
	    -1);
	assert_int_equal(
	    translate_gva(&ram, GUEST_PML4_GPA, 0x0000800000000000ull, &gpa),
	    -1);
	/* A CR3 outside RAM fails instead of reading past it. */
	assert_int_equal(translate_gva(&ram, 64ull << 30, 0x1000, &gpa), -1);
	free(ram.mem);
}

static void discard(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
}

struct live {
	struct vm vm;
	struct console console;
	struct sidecar sc;
};

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));
	struct vm_config cfg = { .accel = &accel_emu_ops,
				 .n_vps = 2,
				 .mem_size = 32u << 20 };
	struct sidecar_config scfg = { .vp_mask = 2, .region_fd = -1 };
	struct guest_ram ram;

	assert_int_equal(console_init(&l->console, discard, NULL), 0);
	cfg.console = &l->console;
	assert_int_equal(vm_create(&l->vm, &cfg, -1), 0);
	ram = vm_guest_ram(&l->vm);
	identity_map(&ram);
	assert_int_equal(sidecar_create(&l->sc, &l->vm, &scfg), 0);
	assert_int_equal(sidecar_start(&l->sc), 0);
	*state = l;
	return 0;
}

static int live_teardown(void **state)
{
	struct live *l = *state;

	sidecar_stop(&l->sc);
	sidecar_destroy(&l->sc);
	vm_destroy(&l->vm);
	console_destroy(&l->console);
	free(l);
	return 0;
}

static void test_live_registers(void **state)
{
	struct live *l = *state;
	struct sidecar_cmd_page *p = &l->sc.pages[1];
	struct vp_regs r;

	assert_int_equal(l->sc.ctl->status[1], SIDECAR_IDLE);
	assert_int_equal(l->sc.ctl->status[0], SIDECAR_REMOVED);
	vpregs_long_mode(&r, GUEST_PML4_GPA, GUEST_GDT_GPA, 0x1f);
	r.rip = 0x100000;
	memset(&p->regs, 0, sizeof(p->regs));
	memcpy(p->regs.gpr, r.gpr, sizeof(r.gpr));
	p->regs.rip = r.rip;
	p->regs.rflags = r.rflags;
	p->regs.cr0 = r.cr0;
	p->regs.cr3 = r.cr3;
	p->regs.cr4 = r.cr4;
	p->regs.efer = r.efer;
	for (int i = 0; i < VP_NR_SEGS; i++)
		p->regs.seg[i] =
		    (struct sidecar_segment){ r.seg[i].base, r.seg[i].limit,
					      r.seg[i].selector,
					      r.seg[i].attrib };
	p->regs.gdtr_base = r.gdtr.base;
	p->regs.gdtr_limit = r.gdtr.limit;
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_SET_VP_REGISTERS),
			 SIDECAR_OK);
	memset(&p->regs, 0, sizeof(p->regs));
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_GET_VP_REGISTERS),
			 SIDECAR_OK);
	assert_int_equal(p->regs.rip, 0x100000);
	assert_int_equal(p->regs.cr3, GUEST_PML4_GPA);
	/* A context KVM would refuse is refused here, on emu too. */
	p->regs.seg[VP_CS].attrib = 0xe09b;
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_SET_VP_REGISTERS),
			 SIDECAR_ERR_REGS);
	assert_int_equal(p->has_error, 1);
}

static void test_live_translate_and_malformed(void **state)
{
	struct live *l = *state;
	struct sidecar_cmd_page *p = &l->sc.pages[1];
	uint64_t gva = 0x200123, gpa = 0;
	struct vp_regs r;

	/* Paging on: the walk uses the VP's own CR3. */
	vpregs_long_mode(&r, GUEST_PML4_GPA, GUEST_GDT_GPA, 0x1f);
	assert_int_equal(l->vm.cfg.accel->vp_set_regs(l->vm.vps[1].avp, &r), 0);
	p->request_len = 8;
	memcpy(p->request_data, &gva, 8);
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_TRANSLATE_GVA),
			 SIDECAR_OK);
	memcpy(&gpa, p->request_data, 8);
	assert_int_equal(gpa, 0x200123);
	gva = 0x0000010000000000ull;
	memcpy(p->request_data, &gva, 8);
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_TRANSLATE_GVA),
			 SIDECAR_ERR_UNMAPPED);
	p->request_len = 4000;
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_TRANSLATE_GVA),
			 SIDECAR_ERR_LENGTH);
	p->request_len = 0;
	assert_int_equal(sidecar_call(&l->sc, 1, 42), SIDECAR_ERR_COMMAND);
	p->vp_index = 7; /* a page claiming another VP */
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_GET_VP_REGISTERS),
			 SIDECAR_ERR_VP);
	p->vp_index = 1;
	/* The thread survived every malformed command. */
	assert_int_equal(sidecar_call(&l->sc, 1, SIDECAR_CMD_GET_VP_REGISTERS),
			 SIDECAR_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_check_command),
		cmocka_unit_test(test_check_intercept),
		cmocka_unit_test(test_translate),
		cmocka_unit_test_setup_teardown(test_live_registers, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(
		    test_live_translate_and_malformed, live_setup,
		    live_teardown),
	};

	log_init("sidecar_test");
	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests_name("sidecar", tests, NULL, NULL);
}
