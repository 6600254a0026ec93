/* Bare baselines: the same guest image loaded the same way, run by a
 * plain Unicorn engine (IN/OUT hooks only) or a plain KVM_RUN loop. */
#include "bench/exit_bare.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#include "bench/proc.h"
#include "bench/report.h"
#include "boot/loader.h"
#include "lib/guest_abi.h"
#include "lib/util.h"

struct bare_guest {
	char console[4096];
	size_t console_len;
	double t0;
	uint8_t *file;
	struct igvm_file igvm;
	struct loader_image img;
	struct guest_ram ram;
};

static int bare_load(const char *image, uint64_t n, struct bare_guest *g)
{
	struct loader_params p = { 0 };
	struct igvm_error ierr;
	char cmdline[64], err[256];
	struct stat st;
	int fd = open(image, O_RDONLY);

	memset(g, 0, sizeof(*g));
	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	g->file = malloc((size_t)st.st_size);
	if (g->file == NULL ||
	    read(fd, g->file, (size_t)st.st_size) != st.st_size ||
	    igvm_parse(g->file, (size_t)st.st_size, &g->igvm, &ierr) != 0 ||
	    loader_prepare(&g->igvm, &g->img, err, sizeof(err)) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	g->ram.size = GUEST_DEFAULT_MEM;
	g->ram.hole_gpa = g->img.hole_gpa;
	g->ram.hole_size = g->img.hole_size;
	g->ram.mem = mmap(NULL, g->ram.size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	snprintf(cmdline, sizeof(cmdline), "n=%llu", (unsigned long long)n);
	p.guest_cmdline = cmdline;
	p.n_vps = 1;
	return loader_load(&g->igvm, &g->img, &g->ram, &p, err, sizeof(err));
}

static void bare_free(struct bare_guest *g)
{
	munmap(g->ram.mem, g->ram.size);
	igvm_free(&g->igvm);
	free(g->file);
}

double bare_parse_loop_ns(const char *console)
{
	const char *p = strstr(console, "pio_loop: ");
	unsigned us;

	while (p != NULL) {
		if (sscanf(p, "pio_loop: %u us", &us) == 1)
			return us * 1000.0;
		p = strstr(p + 1, "pio_loop: ");
	}
	return -1;
}

/* The few ports pio_loop needs besides its loop: UART, timestamp. */
static uint32_t bare_in(struct bare_guest *g, uint32_t port)
{
	if (port == GUEST_PORT_TIMESTAMP)
		return (uint32_t)((bench_now_ns() - g->t0) / 1000);
	return 0x60; /* UART: transmitter empty */
}

/* Returns 1 at the debug exit. */
static int bare_out(struct bare_guest *g, uint32_t port, uint32_t value)
{
	if (port == GUEST_PORT_COM1 && g->console_len < sizeof(g->console) - 1)
		g->console[g->console_len++] = (char)value;
	return port == GUEST_PORT_DEBUG_EXIT;
}

/* ---- Unicorn ---- */

static uint32_t uc_in(uc_engine *uc, uint32_t port, int size, void *user)
{
	(void)uc;
	(void)size;
	return bare_in(user, port);
}

static void uc_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
		   void *user)
{
	(void)size;
	if (bare_out(user, port, value))
		uc_emu_stop(uc);
}

static void uc_set_long_mode(uc_engine *uc, const struct igvm_vp_regs *r)
{
	uc_x86_msr efer = { 0xc0000080, r->efer };
	uc_x86_mmr gdtr = { 0, r->gdtr.base, r->gdtr.limit, 0 };
	uint64_t v;

	uc_reg_write(uc, UC_X86_REG_CR3, &r->cr3);
	uc_reg_write(uc, UC_X86_REG_CR4, &r->cr4);
	uc_reg_write(uc, UC_X86_REG_MSR, &efer);
	uc_reg_write(uc, UC_X86_REG_CR0, &r->cr0);
	uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
	v = r->cs.selector;
	uc_reg_write(uc, UC_X86_REG_CS, &v);
	v = r->ss.selector;
	uc_reg_write(uc, UC_X86_REG_SS, &v);
	uc_reg_write(uc, UC_X86_REG_DS, &v);
	uc_reg_write(uc, UC_X86_REG_RSP, &r->rsp);
	uc_reg_write(uc, UC_X86_REG_RSI, &r->rsi);
}

double bare_unicorn_run(const char *image, uint64_t n)
{
	struct bare_guest g;
	uc_engine *uc;
	uc_hook h;
	uint64_t hole_end;
	double t;

	if (bare_load(image, n, &g) != 0 ||
	    uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
		return -1;
	hole_end = g.ram.hole_gpa + g.ram.hole_size;
	uc_mem_map_ptr(uc, 0, g.ram.hole_gpa, UC_PROT_ALL, g.ram.mem);
	uc_mem_map_ptr(uc, hole_end, g.ram.size - hole_end, UC_PROT_ALL,
		       g.ram.mem + hole_end);
	uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)uc_in, &g, 1, 0,
		    UC_X86_INS_IN);
	uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)uc_out, &g, 1, 0,
		    UC_X86_INS_OUT);
	uc_set_long_mode(uc, &g.img.bsp);
	g.t0 = bench_now_ns();
	t = -1;
	if (uc_emu_start(uc, g.img.bsp.rip, ~0ull, 0, 0) == UC_ERR_OK)
		t = bare_parse_loop_ns(g.console);
	uc_close(uc);
	bare_free(&g);
	return t;
}

double bare_unicorn_cpu(const char *image, uint64_t n)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(bare_unicorn_run(image, n) > 0 ? 0 : 1);
	return proc_wait_cpu(pid, "bare unicorn", 0);
}

/* ---- KVM ---- */

static void kvm_flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type,
			     int code)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->l = code;
	s->db = !code;
	s->g = 1;
}

static int kvm_setup_vcpu(int kvm, int vcpu, const struct igvm_vp_regs *r)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cpuid = { .c.nent = 256 };
	struct kvm_sregs sr;
	struct kvm_regs regs = { 0 };

	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0 ||
	    ioctl(vcpu, KVM_SET_CPUID2, &cpuid) < 0 ||
	    ioctl(vcpu, KVM_GET_SREGS, &sr) < 0)
		return -1;
	kvm_flat_segment(&sr.cs, r->cs.selector, 11, 1);
	kvm_flat_segment(&sr.ds, r->ds.selector, 3, 0);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.type = 11;
	sr.tr.present = 1;
	sr.tr.limit = 0x67;
	sr.gdt.base = r->gdtr.base;
	sr.gdt.limit = r->gdtr.limit;
	sr.cr0 = r->cr0;
	sr.cr3 = r->cr3;
	sr.cr4 = r->cr4;
	sr.efer = r->efer;
	regs.rip = r->rip;
	regs.rsp = r->rsp;
	regs.rsi = r->rsi;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_SREGS, &sr) < 0 ||
	    ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return -1;
	return 0;
}

static int kvm_loop(struct bare_guest *g, int vcpu, struct kvm_run *run)
{
	for (;;) {
		uint8_t *d = (uint8_t *)run + run->io.data_offset;
		uint32_t v = 0;

		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			return -1;
		if (run->exit_reason == KVM_EXIT_MMIO)
			continue;
		if (run->exit_reason != KVM_EXIT_IO)
			return -1;
		if (run->io.direction == KVM_EXIT_IO_IN) {
			v = bare_in(g, run->io.port);
			memcpy(d, &v, run->io.size);
			continue;
		}
		memcpy(&v, d, run->io.size);
		if (bare_out(g, run->io.port, v))
			return 0;
	}
}

static int kvm_map(int vm, const struct guest_ram *ram)
{
	uint64_t hole_end = ram->hole_gpa + ram->hole_size;
	struct kvm_userspace_memory_region lo = { 0, 0, 0, ram->hole_gpa,
						  (uintptr_t)ram->mem };
	struct kvm_userspace_memory_region hi = {
		1, 0, hole_end, ram->size - hole_end,
		(uintptr_t)(ram->mem + hole_end)
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &lo) < 0 ||
		       ioctl(vm, KVM_SET_USER_MEMORY_REGION, &hi) < 0
		   ? -1
		   : 0;
}

double bare_kvm_run(const char *image, uint64_t n)
{
	struct bare_guest g;
	double t = -1;
	int kvm, vm = -1, vcpu = -1;
	struct kvm_run *run;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || bare_load(image, n, &g) != 0)
		return -1;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm >= 0 && kvm_map(vm, &g.ram) == 0)
		vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu >= 0 && kvm_setup_vcpu(kvm, vcpu, &g.img.bsp) == 0) {
		int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);

		run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
			   MAP_SHARED, vcpu, 0);
		g.t0 = bench_now_ns();
		if (run != MAP_FAILED && kvm_loop(&g, vcpu, run) == 0)
			t = bare_parse_loop_ns(g.console);
	}
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	close(kvm);
	bare_free(&g);
	return t;
}
