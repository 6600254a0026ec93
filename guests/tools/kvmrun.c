/* kvmrun: a minimal KVM loader for the test guests' 64-bit entry, to check
 * the guest side of lib/guest_abi.h without the rest of Parapet: long mode
 * set up as `parapet igvm build` describes, parameter areas, COM1 output,
 * timestamp, no-op, mailbox and debug-exit ports. Not part of Parapet.
 * Usage: kvmrun GUEST.pvh.elf VPS [CMDLINE]; exit status = debug-exit value,
 * 100 on a triple fault, 101 on a loader error. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/guest_abi.h"

#define MAX_VPS	      64
#define EXIT_SHUTDOWN 100
#define EXIT_LOADER   101

static int kvm_fd, vm_fd;
static uint8_t *ram;
static size_t ram_size = GUEST_DEFAULT_MEM;
static struct kvm_cpuid2 *cpuid;
static uint64_t start_ns;
static pthread_mutex_t vp_lock = PTHREAD_MUTEX_INITIALIZER;
static int vp_started[MAX_VPS];
static unsigned int vp_total;
static uint32_t mailbox_status;

struct vp_start {
	unsigned int index;
	uint64_t rip, rsp, rsi;
};

static void die(const char *what)
{
	perror(what);
	exit(EXIT_LOADER);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void load_elf(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *f;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	int i;

	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	f = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED)
		die("mmap elf");
	eh = (Elf64_Ehdr *)f;
	ph = (Elf64_Phdr *)(f + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_paddr + ph[i].p_memsz > ram_size ||
		    ph[i].p_offset + ph[i].p_filesz > (uint64_t)st.st_size) {
			fprintf(stderr, "kvmrun: bad segment\n");
			exit(EXIT_LOADER);
		}
		memcpy(ram + ph[i].p_paddr, f + ph[i].p_offset, ph[i].p_filesz);
	}
	close(fd);
}

static void build_tables(void)
{
	uint64_t *gdt = (uint64_t *)(ram + GUEST_GDT_GPA);
	uint64_t *pml4 = (uint64_t *)(ram + GUEST_PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(ram + GUEST_PDPT_GPA);
	uint64_t *pd = (uint64_t *)(ram + GUEST_PD_GPA);
	uint64_t i;

	gdt[GUEST_CODE64_SEL / 8] = 0x00af9b000000ffffULL;
	gdt[GUEST_DATA_SEL / 8] = 0x00cf93000000ffffULL;
	pml4[0] = GUEST_PDPT_GPA | 3;
	for (i = 0; i < GUEST_PD_COUNT; i++)
		pdpt[i] = (GUEST_PD_GPA + i * 0x1000) | 3;
	for (i = 0; i < GUEST_PD_COUNT * 512; i++)
		pd[i] = (i << 21) | 0x83;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->type = code ? 0xb : 0x3;
	s->l = code;
	s->db = !code;
}

static void setup_vcpu(int fd, const struct vp_start *st)
{
	struct kvm_sregs sr;
	struct kvm_regs r;

	if (ioctl(fd, KVM_SET_CPUID2, cpuid) < 0)
		die("KVM_SET_CPUID2");
	if (ioctl(fd, KVM_GET_SREGS, &sr) < 0)
		die("KVM_GET_SREGS");
	set_seg(&sr.cs, GUEST_CODE64_SEL, 1);
	set_seg(&sr.ds, GUEST_DATA_SEL, 0);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.gdt.base = GUEST_GDT_GPA;
	sr.gdt.limit = 3 * 8 - 1;
	sr.cr3 = GUEST_PML4_GPA;
	sr.cr4 = 0x20;
	sr.efer = 0x500;
	sr.cr0 = 0x80050033;
	if (ioctl(fd, KVM_SET_SREGS, &sr) < 0)
		die("KVM_SET_SREGS");
	memset(&r, 0, sizeof(r));
	r.rip = st->rip;
	r.rsp = st->rsp;
	r.rsi = st->rsi;
	r.rflags = 2;
	if (ioctl(fd, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS");
}

static void *vp_thread(void *arg);

/* Called with vp_lock held (handle_io). */
static uint32_t mailbox_request(uint32_t gpa)
{
	struct guest_start_vp req;
	struct vp_start *st;
	pthread_t t;

	if (gpa > ram_size - sizeof(req))
		return GUEST_MAILBOX_EINVAL;
	memcpy(&req, ram + gpa, sizeof(req));
	if (req.reserved || req.rip == 0 || req.rsp == 0)
		return GUEST_MAILBOX_EINVAL;
	if (req.vp_index == 0 || req.vp_index >= vp_total)
		return GUEST_MAILBOX_ENOVP;
	if (vp_started[req.vp_index])
		return GUEST_MAILBOX_EBUSY;
	vp_started[req.vp_index] = 1;
	st = calloc(1, sizeof(*st));
	if (!st)
		die("calloc");
	*st = (struct vp_start){ req.vp_index, req.rip, req.rsp, req.arg };
	if (pthread_create(&t, NULL, vp_thread, st) != 0)
		die("pthread_create");
	pthread_detach(t);
	return GUEST_MAILBOX_OK;
}

static uint32_t port_in(uint16_t port)
{
	if (port == GUEST_PORT_COM1 + 5)
		return 0x60;
	if (port == GUEST_PORT_TIMESTAMP)
		return (uint32_t)((now_ns() - start_ns) / 1000);
	if (port == GUEST_PORT_MAILBOX)
		return mailbox_status;
	return 0xffffffff;
}

static void port_out(uint16_t port, uint32_t v)
{
	if (port == GUEST_PORT_COM1) {
		putchar((int)(v & 0xff));
		if ((v & 0xff) == '\n')
			fflush(stdout);
	} else if (port == GUEST_PORT_MAILBOX) {
		mailbox_status = mailbox_request(v);
	} else if (port == GUEST_PORT_DEBUG_EXIT) {
		fflush(stdout);
		exit((int)(v & 0xff));
	}
}

static void handle_io(struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t v = 0;
	uint32_t i;

	pthread_mutex_lock(&vp_lock);
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&v, data, run->io.size);
			port_out(run->io.port, v);
		} else {
			v = port_in(run->io.port);
			memcpy(data, &v, run->io.size);
		}
	}
	pthread_mutex_unlock(&vp_lock);
}

static void *vp_thread(void *arg)
{
	struct vp_start *st = arg;
	int fd = ioctl(vm_fd, KVM_CREATE_VCPU, st->index);
	int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run;

	if (fd < 0 || size < 0)
		die("KVM_CREATE_VCPU");
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	setup_vcpu(fd, st);
	for (;;) {
		if (ioctl(fd, KVM_RUN, 0) < 0 && errno != EINTR)
			die("KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(run);
			break;
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, 8);
			break;
		case KVM_EXIT_HLT:
			return NULL;
		case KVM_EXIT_SHUTDOWN:
			fflush(stdout);
			fprintf(stderr, "kvmrun: vp %u triple fault\n",
				st->index);
			exit(EXIT_SHUTDOWN);
		default:
			fprintf(stderr, "kvmrun: vp %u exit %u\n", st->index,
				run->exit_reason);
			exit(EXIT_LOADER);
		}
	}
}

static void setup_vm(void)
{
	struct kvm_userspace_memory_region mr = { 0 };

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die("KVM_CREATE_VM");
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap ram");
	mr.memory_size = ram_size;
	mr.userspace_addr = (uintptr_t)ram;
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(cpuid->entries[0]));
	if (!cpuid)
		die("calloc");
	cpuid->nent = 256;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
}

int main(int argc, char **argv)
{
	struct vp_start bsp = { 0, 0, GUEST_STACK_TOP, GUEST_PARAM_BASE };
	Elf64_Ehdr eh;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: kvmrun ELF VPS [CMDLINE]\n");
		return EXIT_LOADER;
	}
	vp_total = (unsigned int)atoi(argv[2]);
	if (vp_total < 1 || vp_total > MAX_VPS)
		vp_total = 1;
	f = fopen(argv[1], "rb");
	if (!f || fread(&eh, sizeof(eh), 1, f) != 1)
		die(argv[1]);
	fclose(f);
	bsp.rip = eh.e_entry;
	setup_vm();
	load_elf(argv[1]);
	build_tables();
	snprintf((char *)ram + GUEST_CMDLINE_GPA, GUEST_CMDLINE_SIZE, "%s",
		 argc > 3 ? argv[3] : "");
	memcpy(ram + GUEST_VP_COUNT_GPA, &vp_total, sizeof(vp_total));
	start_ns = now_ns();
	vp_started[0] = 1;
	vp_thread(&bsp);
	fflush(stdout);
	fprintf(stderr, "kvmrun: vp 0 halted without an exit\n");
	return EXIT_LOADER;
}
