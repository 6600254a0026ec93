/* VM core tests on real accelerators (emu always, kvm when /dev/kvm
 * works): tiny long-mode programs exercising the exit paths, devices,
 * the VTL2 hole, crashes, and the VP context checks. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "services/vmworker/console.h"
#include "services/vmworker/vm.h"

#define CODE_GPA GUEST_LOAD_GPA

static char out[256];
static size_t out_len;

static void capture(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	if (out_len + len < sizeof(out)) {
		memcpy(out + out_len, data, len);
		out_len += len;
	}
}

/* Copies of the ops so that each test's name says its accelerator. */
static struct accel_ops emu_ops, kvm_ops;

struct fixture {
	struct vm vm;
	struct console console;
	struct vp_regs regs;
};

static void build_page_tables(struct vm *vm)
{
	uint64_t *pml4 = vm_gpa_ptr(vm, GUEST_PML4_GPA, 4096);
	uint64_t *pdpt = vm_gpa_ptr(vm, GUEST_PDPT_GPA, 4096);
	uint64_t *gdt = vm_gpa_ptr(vm, GUEST_GDT_GPA, 4096);
	int i, j;

	pml4[0] = GUEST_PDPT_GPA | 3;
	for (i = 0; i < GUEST_PD_COUNT; i++) {
		uint64_t *pd = vm_gpa_ptr(vm, GUEST_PD_GPA + 4096u * i, 4096);

		pdpt[i] = (GUEST_PD_GPA + 4096u * i) | 3;
		for (j = 0; j < 512; j++)
			pd[j] =
			    (((uint64_t)i << 30) + ((uint64_t)j << 21)) | 0x83;
	}
	gdt[1] = 0x00af9b000000ffffull; /* code64 */
	gdt[2] = 0x00cf93000000ffffull; /* data */
	gdt[3] = 0x00008b0000000067ull; /* busy TSS at 0 */
}

static int setup_vm(struct fixture *f, const struct accel_ops *accel,
		    unsigned n_vps, const uint8_t *code, size_t code_len)
{
	struct vm_config cfg = {
		.accel = accel,
		.n_vps = n_vps,
		.mem_size = 32ull << 20,
		.hole_gpa = GUEST_VTL2_GPA,
		.hole_size = GUEST_VTL2_SIZE,
	};

	out_len = 0;
	if (console_init(&f->console, capture, NULL) != 0)
		return -1;
	cfg.console = &f->console;
	if (vm_create(&f->vm, &cfg, -1) != 0)
		return -1;
	build_page_tables(&f->vm);
	memcpy(vm_gpa_ptr(&f->vm, CODE_GPA, code_len), code, code_len);
	vpregs_long_mode(&f->regs, GUEST_PML4_GPA, GUEST_GDT_GPA, 0x1f);
	f->regs.rip = CODE_GPA;
	f->regs.gpr[VP_RSP] = GUEST_STACK_TOP;
	return 0;
}

static int run_vm(struct fixture *f)
{
	int rc = vm_run(&f->vm, &f->regs, 20000);

	console_stop(&f->console);
	return rc;
}

static void teardown_vm(struct fixture *f)
{
	vm_destroy(&f->vm);
	console_destroy(&f->console);
}

static const struct accel_ops *accel_or_skip(void **state)
{
	const struct accel_ops *ops = *state;
	char why[256];

	if (strcmp(ops->name, "kvm") == 0 &&
	    accel_kvm_probe(why, sizeof(why)) != 0) {
		print_message("kvm unavailable (%s): skipping\n", why);
		skip();
	}
	return ops;
}

static void test_debug_exit(void **state)
{
	static const uint8_t code[] = { 0xb0, 42, 0xe6, 0xf4, 0xf4 };
	struct fixture f;

	assert_int_equal(
	    setup_vm(&f, accel_or_skip(state), 1, code, sizeof(code)), 0);
	assert_int_equal(run_vm(&f), 0);
	assert_int_equal(atomic_load(&f.vm.state), VM_STATE_POWEROFF);
	assert_int_equal(f.vm.exit_value, 42);
	teardown_vm(&f);
}

static void test_uart_output(void **state)
{
	static const uint8_t code[] = {
		0x66, 0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
		0xb0, 'h',  0xee,	/* out dx, al */
		0xb0, 'i',  0xee,	/* */
		0xb0, 0,    0xe6, 0xf4, /* out 0xf4, 0 */
		0xf4,
	};
	struct fixture f;

	assert_int_equal(
	    setup_vm(&f, accel_or_skip(state), 1, code, sizeof(code)), 0);
	assert_int_equal(run_vm(&f), 0);
	assert_int_equal(f.vm.exit_value, 0);
	assert_int_equal(out_len, 2);
	assert_memory_equal(out, "hi", 2);
	assert_int_equal(f.vm.vps[0].counters.dev_exits[0], 2);
	teardown_vm(&f);
}

/* Reads the VTL2 hole and an unknown port: both must be all ones. */
static void test_hole_and_unknown_read_all_ones(void **state)
{
	static const uint8_t code[] = {
		0x48, 0xa1, 0x00, 0x00, 0xe0, 0, 0, 0, 0, 0, /* movabs rax */
		0x48, 0x83, 0xf8, 0xff,			     /* cmp rax,-1 */
		0x75, 0x08,				     /* jne bad */
		0xe4, 0x80,				     /* in al, 0x80 */
		0x3c, 0xff,				     /* cmp al, 0xff */
		0x75, 0x02,				     /* jne bad */
		0xb0, 0x07,				     /* mov al, 7 */
		0xe6, 0xf4, 0xf4,			     /* bad: out */
	};
	struct fixture f;

	assert_int_equal(
	    setup_vm(&f, accel_or_skip(state), 1, code, sizeof(code)), 0);
	/* A secret in the backing memfd must never reach the guest. */
	memset(f.vm.mem + GUEST_VTL2_GPA, 0x5a, 4096);
	assert_int_equal(run_vm(&f), 0);
	assert_int_equal(f.vm.exit_value, 7);
	/* emu splits the 8-byte read in two. */
	assert_true(f.vm.vps[0].counters.vtl2_refused >= 1);
	assert_int_equal(f.vm.vps[0].counters.exits_unknown_pio, 1);
	teardown_vm(&f);
}

static void test_invalid_instruction_crashes(void **state)
{
	static const uint8_t code[] = { 0x90, 0x0f, 0x0b };
	struct fixture f;

	assert_int_equal(
	    setup_vm(&f, accel_or_skip(state), 1, code, sizeof(code)), 0);
	assert_int_equal(run_vm(&f), 0);
	assert_int_equal(atomic_load(&f.vm.state), VM_STATE_CRASHED);
	assert_non_null(strstr(f.vm.crash_reason, "vp0"));
	/* No IDT: #UD, then #GP and #DF, cannot be delivered. Both
	 * accelerators name the hardware's end, a triple fault. */
	assert_non_null(strstr(f.vm.crash_reason, "triple fault"));
	teardown_vm(&f);
}

/* A guest spinning without exits is still stopped by the timeout. */
static void test_spin_is_stoppable(void **state)
{
	static const uint8_t code[] = { 0xeb, 0xfe }; /* jmp $ */
	struct fixture f;

	assert_int_equal(
	    setup_vm(&f, accel_or_skip(state), 1, code, sizeof(code)), 0);
	assert_int_equal(vm_run(&f.vm, &f.regs, 200), 1);
	console_stop(&f.console);
	assert_int_equal(atomic_load(&f.vm.state), VM_STATE_STOPPED);
	teardown_vm(&f);
}

static void *run_untimed(void *arg)
{
	struct fixture *f = arg;

	vm_run(&f->vm, &f->regs, 0);
	return NULL;
}

static uint64_t samples(struct fixture *f)
{
	return atomic_load(&f->vm.vps[0].samples_guest) +
	       atomic_load(&f->vm.vps[0].samples_handler);
}

/* Waits (no bound: the test's own timeout) for a sample after from. */
static void wait_sampled(struct fixture *f, uint64_t from)
{
	while (samples(f) <= from)
		usleep(1000);
}

/* The sampler counts a running guest, not a paused one (it sleeps until
 * the resume), and counts again after the resume. */
static void test_paused_not_sampled(void **state)
{
	static const uint8_t code[] = { 0xeb, 0xfe }; /* jmp $ */
	struct fixture f;
	pthread_t t;
	uint64_t n;

	assert_int_equal(
	    setup_vm(&f, accel_or_skip(state), 1, code, sizeof(code)), 0);
	assert_int_equal(pthread_create(&t, NULL, run_untimed, &f), 0);
	wait_sampled(&f, 0);
	while (vm_pause(&f.vm) != 0) /* -1 only before it runs */
		usleep(1000);
	n = samples(&f);
	usleep(20 * VM_SAMPLE_MS * 1000); /* ticks enough to be seen */
	assert_int_equal(samples(&f), n);
	vm_resume(&f.vm);
	wait_sampled(&f, n);
	vm_stop(&f.vm);
	assert_int_equal(pthread_join(t, NULL), 0);
	console_stop(&f.console);
	teardown_vm(&f);
}

static void test_device_table(void **state)
{
	struct fixture f;
	static const uint8_t code[] = { 0xf4 };

	(void)state;
	assert_int_equal(setup_vm(&f, &accel_emu_ops, 1, code, sizeof(code)),
			 0);
	for (unsigned p = GUEST_PORT_COM1; p < GUEST_PORT_COM1 + 8; p++)
		assert_string_equal(
		    f.vm.devs.entries[f.vm.devs.pio_index[p] - 1].ops->name,
		    "com1");
	assert_int_equal(f.vm.devs.pio_index[GUEST_PORT_COM1 + 8], 0);
	assert_string_equal(
	    f.vm.devs.entries[f.vm.devs.pio_index[GUEST_PORT_DEBUG_EXIT] - 1]
		.ops->name,
	    "debug-exit");
	assert_int_equal(f.vm.devs.pio_index[0x80], 0);
	assert_int_equal(f.vm.devs.pio_index[0xf3], 0);
	assert_null(vm_gpa_ptr(&f.vm, GUEST_VTL2_GPA, 1));
	assert_null(vm_gpa_ptr(&f.vm, GUEST_VTL2_GPA - 1, 2));
	assert_null(vm_gpa_ptr(&f.vm, 32ull << 20, 1));
	assert_non_null(vm_gpa_ptr(&f.vm, 0, 4096));
	teardown_vm(&f);
}

static void test_vpregs_check(void **state)
{
	struct vp_regs r;
	char why[128];

	(void)state;
	vpregs_long_mode(&r, 0x2000, 0x1000, 0x1f);
	assert_int_equal(vpregs_check(&r, why, sizeof(why)), 0);
	r.seg[VP_CS].attrib = 0xe09b; /* L and D */
	assert_int_equal(vpregs_check(&r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "CS"));
	vpregs_long_mode(&r, 0x2000, 0x1000, 0x1f);
	r.cr4 = 0; /* long mode without PAE */
	assert_int_equal(vpregs_check(&r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "PAE"));
	vpregs_long_mode(&r, 0x2000, 0x1000, 0x1f);
	r.rip = 0x0000800000000000ull;
	assert_int_equal(vpregs_check(&r, why, sizeof(why)), -1);
	vpregs_long_mode(&r, 0x2000, 0x1000, 0x1f);
	r.seg[VP_TR].attrib = 0x0089; /* available, not busy */
	assert_int_equal(vpregs_check(&r, why, sizeof(why)), -1);
}

/* A VP in long mode given a 32-bit PAE context: KVM leaves long mode;
 * Unicorn cannot (it keeps EFER.LMA), so emu refuses the context and the
 * VP keeps its state. emu used to accept it and run 64-bit code with
 * EFER.LMA set and LME clear (found by the sidecar fuzz harness). */
static void test_set_regs_outside_long_mode(void **state)
{
	const struct accel_ops *ops = accel_or_skip(state);
	static const uint8_t hlt[] = { 0xf4 };
	struct fixture f;
	struct vp_regs pae, back;
	struct accel_vp *avp;
	char why[128];

	assert_int_equal(setup_vm(&f, ops, 1, hlt, sizeof(hlt)), 0);
	avp = f.vm.vps[0].avp;
	assert_int_equal(ops->vp_set_regs(avp, &f.regs), 0);
	pae = f.regs;
	pae.efer = 0;
	pae.seg[VP_CS].attrib = 0xc09b; /* 32-bit code */
	assert_int_equal(vpregs_check(&pae, why, sizeof(why)), 0);
	if (ops == &emu_ops) {
		assert_int_equal(ops->vp_set_regs(avp, &pae), -1);
		assert_int_equal(ops->vp_get_regs(avp, &back), 0);
		assert_int_equal(back.efer, f.regs.efer);
	} else {
		assert_int_equal(ops->vp_set_regs(avp, &pae), 0);
		assert_int_equal(ops->vp_get_regs(avp, &back), 0);
		assert_int_equal(back.efer & VP_EFER_LMA, 0);
	}
	assert_int_equal(vpregs_check(&back, why, sizeof(why)), 0);
	/* Long mode again. */
	assert_int_equal(ops->vp_set_regs(avp, &f.regs), 0);
	assert_int_equal(ops->vp_get_regs(avp, &back), 0);
	assert_int_equal(back.efer & (VP_EFER_LMA | VP_EFER_LME),
			 VP_EFER_LMA | VP_EFER_LME);
	teardown_vm(&f);
}

/* Hostile page tables under the GDT. Unicorn reads a selector's
 * descriptor through its MMU when the selector is written; a fault there
 * would longjmp out of uc_reg_write and take the process down. Each row
 * passes vpregs_check; whether the accelerator takes it or refuses it,
 * the process lives on and the VP takes a good context afterwards. */
static void test_set_regs_hostile_tables(void **state)
{
	const struct accel_ops *ops = accel_or_skip(state);
	static const uint8_t hlt[] = { 0xf4 };
	const uint64_t pml4_gpa = 0x300000, pdpt_gpa = 0x301000;
	static const struct {
		const char *what;
		uint64_t pml4e, pdpte; /* flags; addresses are filled in */
		bool pd_reserved, pae32;
	} rows[] = {
		{ "1 GiB page", 0x3, 0x83, false, false },
		{ "PS in the PML4", 0x83, 0x3, false, false },
		{ "NX with EFER.NXE clear", 0x3, 0x3 | (1ull << 63), false,
		  false },
		{ "reserved bits in a 2 MiB page", 0x3, 0x3, true, false },
		{ "32-bit PAE paging", 0x3, 0x1, false, true },
	};
	struct fixture f;
	size_t i;

	assert_int_equal(setup_vm(&f, ops, 1, hlt, sizeof(hlt)), 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t *pml4 = vm_gpa_ptr(&f.vm, pml4_gpa, 4096);
		uint64_t *pdpt = vm_gpa_ptr(&f.vm, pdpt_gpa, 4096);
		uint64_t *pd = vm_gpa_ptr(&f.vm, GUEST_PD_GPA, 4096);
		uint64_t pd0 = pd[0];
		struct vp_regs r = f.regs;
		char why[128];
		int rc;

		memset(pml4, 0, 4096);
		memset(pdpt, 0, 4096);
		pml4[0] = pdpt_gpa | rows[i].pml4e;
		pdpt[0] =
		    (rows[i].pdpte & 0x80 ? 0 : GUEST_PD_GPA) | rows[i].pdpte;
		if (rows[i].pd_reserved)
			pd[0] |= 1ull << 13;
		r.cr3 = pml4_gpa;
		if (rows[i].pae32) {
			/* CR3 names the 4-entry PDPT: entry 0 is the PD. */
			pml4[0] = GUEST_PD_GPA | 0x1;
			r.efer = 0;
			r.seg[VP_CS].attrib = 0xc09b;
		}
		assert_int_equal(vpregs_check(&r, why, sizeof(why)), 0);
		rc = ops->vp_set_regs(f.vm.vps[0].avp, &r);
		print_message("%s: %s\n", rows[i].what,
			      rc == 0 ? "taken" : "refused");
		pd[0] = pd0;
		/* The VP still takes a good context afterwards. */
		assert_int_equal(ops->vp_set_regs(f.vm.vps[0].avp, &f.regs), 0);
	}
	teardown_vm(&f);
}

/* Reset: RAM back to the boot image (its data extents; the rest zero),
 * VPs waiting to start, and the VM runs again from VP 0's entry. */
static void test_reset(void **state)
{
	const struct accel_ops *ops = accel_or_skip(state);
	static const uint8_t prog[] = { 0xb0, 0x07, 0xe6,
					GUEST_PORT_DEBUG_EXIT };
	struct fixture f;
	uint8_t *p;
	char err[256];
	int image;

	assert_int_equal(setup_vm(&f, ops, 2, prog, sizeof(prog)), 0);
	/* The boot image: RAM as set up (sparse: written pages only). */
	image = memfd_create("boot-image", 0);
	assert_true(image >= 0);
	assert_int_equal(ftruncate(image, (off_t)f.vm.cfg.mem_size), 0);
	for (uint64_t off = 0; off < f.vm.cfg.mem_size; off += 4096) {
		p = f.vm.mem + off;
		if (p[0] || memcmp(p, p + 1, 4095))
			assert_int_equal(pwrite(image, p, 4096, (off_t)off),
					 4096);
	}
	assert_int_equal(run_vm(&f), 0);
	assert_int_equal(f.vm.exit_value, 7);
	/* The guest's RAM changes; a reset undoes it. */
	memset(f.vm.mem + 0x300000, 0xaa, 8192);
	f.vm.mem[CODE_GPA + 1] = 0x09;
	assert_int_equal(vm_reset(&f.vm, image, err, sizeof(err)), 0);
	assert_int_equal(f.vm.mem[0x300000], 0);
	assert_int_equal(f.vm.mem[0x301fff], 0);
	assert_int_equal(f.vm.mem[CODE_GPA + 1], 0x07);
	assert_int_equal(atomic_load(&f.vm.state), VM_STATE_CREATED);
	assert_int_equal(atomic_load(&f.vm.vps[1].state), VP_NOT_STARTED);
	assert_int_equal(run_vm(&f), 0);
	assert_int_equal(f.vm.exit_value, 7);
	/* Not while it runs; not without an image. */
	assert_int_equal(vm_reset(&f.vm, -1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no boot image"));
	close(image);
	teardown_vm(&f);
}

/* A guest that crashed crashes the same way after a reset: nothing of the
 * crash (a pending fault or stop in the engine) survives it. */
static void test_reset_after_crash(void **state)
{
	const struct accel_ops *ops = accel_or_skip(state);
	static const uint8_t ud2[] = { 0x0f, 0x0b };
	struct fixture f;
	char err[256], first[256];
	int image;

	assert_int_equal(setup_vm(&f, ops, 1, ud2, sizeof(ud2)), 0);
	image = memfd_create("boot-image", 0);
	assert_true(image >= 0);
	assert_int_equal(ftruncate(image, (off_t)f.vm.cfg.mem_size), 0);
	assert_int_equal(pwrite(image, f.vm.mem, f.vm.cfg.mem_size, 0),
			 (ssize_t)f.vm.cfg.mem_size);
	assert_int_equal(run_vm(&f), 0);
	assert_int_equal(atomic_load(&f.vm.state), VM_STATE_CRASHED);
	snprintf(first, sizeof(first), "%s", f.vm.crash_reason);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vm_reset(&f.vm, image, err, sizeof(err)), 0);
		assert_int_equal(run_vm(&f), 0);
		assert_int_equal(atomic_load(&f.vm.state), VM_STATE_CRASHED);
		assert_string_equal(f.vm.crash_reason, first);
	}
	close(image);
	teardown_vm(&f);
}

#define BOTH(fn)                                                               \
	{ #fn "/emu", fn, NULL, NULL, &emu_ops },                              \
	{                                                                      \
#fn "/kvm", fn, NULL, NULL, &kvm_ops                           \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_debug_exit),
		BOTH(test_uart_output),
		BOTH(test_hole_and_unknown_read_all_ones),
		BOTH(test_invalid_instruction_crashes),
		BOTH(test_spin_is_stoppable),
		BOTH(test_paused_not_sampled),
		BOTH(test_set_regs_outside_long_mode),
		BOTH(test_set_regs_hostile_tables),
		BOTH(test_reset),
		BOTH(test_reset_after_crash),
		cmocka_unit_test(test_device_table),
		cmocka_unit_test(test_vpregs_check),
	};

	emu_ops = accel_emu_ops;
	kvm_ops = accel_kvm_ops;
	log_init("vm_test");
	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
