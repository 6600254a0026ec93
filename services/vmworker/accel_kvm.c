/* The kvm accelerator: /dev/kvm, one vCPU fd per VP, KVM_RUN exit loop.
 * Port and MMIO exits go straight to the device table on the VP thread. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "services/vmworker/accel.h"
#include "services/vmworker/vm.h"

#define KVM_KICK_SIGNAL SIGUSR1
#define KVM_MAX_CPUID	256

struct accel_vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	struct vm *vm;
	struct kvm_cpuid2 *cpuid;
	int ring_page; /* page of the coalesced ring in kvm_run, or 0 */
	uint32_t ring_entries;
	struct kvm_coalesced_mmio_ring *ring; /* shared by every vCPU */
	atomic_flag ring_lock;
};

struct accel_vp {
	struct accel_vm *avm;
	struct vp *vp;
	int fd;
	struct kvm_run *run;
	pthread_t thread; /* the thread inside vp_run, for kicks */
	_Atomic bool thread_known;
	_Atomic bool kick;
};

static void kvm_kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN (-EINTR) */
}

static int kvm_open_vm(int *kvm_fd, int *vm_fd, char *why, size_t why_len)
{
	int ver;

	*kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*kvm_fd < 0) {
		snprintf(why, why_len, "/dev/kvm: %s", strerror(errno));
		return -1;
	}
	ver = ioctl(*kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		snprintf(why, why_len, "/dev/kvm: API version %d, want %d", ver,
			 KVM_API_VERSION);
		close(*kvm_fd);
		return -1;
	}
	*vm_fd = ioctl(*kvm_fd, KVM_CREATE_VM, 0);
	if (*vm_fd < 0) {
		snprintf(why, why_len, "KVM_CREATE_VM: %s", strerror(errno));
		close(*kvm_fd);
		return -1;
	}
	return 0;
}

/* The probe's VM, kept for the first kvm_vm_create: closing a VM can take
 * hundreds of ms on some hosts (nested KVM), so it is never closed only
 * to be created again. */
static int probe_kvm_fd = -1, probe_vm_fd = -1;

int accel_kvm_probe(char *why, size_t why_len)
{
	if (probe_vm_fd >= 0)
		return 0;
	return kvm_open_vm(&probe_kvm_fd, &probe_vm_fd, why, why_len);
}

static int kvm_set_slots(struct accel_vm *a, const struct accel_mem_slot *s,
			 size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.guest_phys_addr = s[i].gpa,
			.memory_size = s[i].size,
			.userspace_addr = (uintptr_t)s[i].host,
		};

		if (ioctl(a->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			log_warn("KVM_SET_USER_MEMORY_REGION slot %zu", i);
			return -1;
		}
	}
	return 0;
}

/* Sinks (writes nobody can observe) go to the coalesced ring instead of
 * exiting on each write; the ring is drained at the next exit of any VP. */
static void kvm_coalesce_sinks(struct accel_vm *a)
{
	const struct devices *d = &a->vm->devs;
	unsigned i;

	a->ring_page =
	    ioctl(a->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (a->ring_page <= 0) {
		a->ring_page = 0;
		return;
	}
	for (i = 0; i < d->n_entries; i++) {
		const struct dev_ops *e = d->entries[i].ops;
		struct kvm_coalesced_mmio_zone z = {
			.addr = e->base,
			.size = (uint32_t)e->len,
			.pio = !e->is_mmio,
		};

		if (!e->write_sink)
			continue;
		if (z.pio && ioctl(a->kvm_fd, KVM_CHECK_EXTENSION,
				   KVM_CAP_COALESCED_PIO) <= 0)
			continue;
		if (ioctl(a->vm_fd, KVM_REGISTER_COALESCED_MMIO, &z) < 0)
			log_warn("coalescing %s", e->name);
	}
}

static int kvm_vm_create(struct vm *vm, const struct accel_mem_slot *slots,
			 size_t n_slots, struct accel_vm **out)
{
	struct accel_vm *a = calloc(1, sizeof(*a));
	struct sigaction sa = { .sa_handler = kvm_kick_handler };
	char why[256];

	if (a == NULL)
		return -1;
	a->vm = vm;
	if (probe_vm_fd >= 0) {
		a->kvm_fd = probe_kvm_fd;
		a->vm_fd = probe_vm_fd;
		probe_kvm_fd = probe_vm_fd = -1;
	} else if (kvm_open_vm(&a->kvm_fd, &a->vm_fd, why, sizeof(why)) != 0) {
		log_warnx("%s", why);
		free(a);
		return -1;
	}
	a->cpuid = calloc(1, sizeof(*a->cpuid) +
				 KVM_MAX_CPUID * sizeof(a->cpuid->entries[0]));
	a->run_size = ioctl(a->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (a->cpuid == NULL || a->run_size <= 0)
		goto fail;
	a->cpuid->nent = KVM_MAX_CPUID;
	if (ioctl(a->kvm_fd, KVM_GET_SUPPORTED_CPUID, a->cpuid) < 0) {
		log_warn("KVM_GET_SUPPORTED_CPUID");
		goto fail;
	}
	/* Needed on Intel before any VP runs; unused by 64-bit guests. */
	if (ioctl(a->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		log_warn("KVM_SET_TSS_ADDR");
	if (kvm_set_slots(a, slots, n_slots) != 0)
		goto fail;
	atomic_flag_clear(&a->ring_lock);
	if (vm->cfg.coalesce_sinks)
		kvm_coalesce_sinks(a);
	sigemptyset(&sa.sa_mask);
	sigaction(KVM_KICK_SIGNAL, &sa, NULL); /* no SA_RESTART */
	*out = a;
	return 0;
fail:
	close(a->vm_fd);
	close(a->kvm_fd);
	free(a->cpuid);
	free(a);
	return -1;
}

static void kvm_vm_destroy(struct accel_vm *a)
{
	if (a == NULL)
		return;
	close(a->vm_fd);
	close(a->kvm_fd);
	free(a->cpuid);
	free(a);
}

static int kvm_vp_create(struct accel_vm *a, struct vp *vp,
			 struct accel_vp **out)
{
	struct accel_vp *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return -1;
	v->avm = a;
	v->vp = vp;
	v->fd = ioctl(a->vm_fd, KVM_CREATE_VCPU, (unsigned long)vp->index);
	if (v->fd < 0) {
		log_warn("KVM_CREATE_VCPU %u", vp->index);
		free(v);
		return -1;
	}
	v->run = mmap(NULL, (size_t)a->run_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		log_warn("mmap kvm_run");
		close(v->fd);
		free(v);
		return -1;
	}
	if (a->ring_page > 0 && a->ring == NULL) {
		size_t page = (size_t)getpagesize();

		a->ring =
		    (void *)((uint8_t *)v->run + (size_t)a->ring_page * page);
		a->ring_entries =
		    (uint32_t)((page - sizeof(*a->ring)) /
			       sizeof(a->ring->coalesced_mmio[0]));
	}
	/* CPUID first: KVM checks CR4 and EFER against it in SET_SREGS. */
	if (ioctl(v->fd, KVM_SET_CPUID2, a->cpuid) < 0) {
		log_warn("KVM_SET_CPUID2");
		munmap(v->run, (size_t)a->run_size);
		close(v->fd);
		free(v);
		return -1;
	}
	*out = v;
	return 0;
}

static void kvm_vp_destroy(struct accel_vp *v)
{
	if (v == NULL)
		return;
	munmap(v->run, (size_t)v->avm->run_size);
	close(v->fd);
	free(v);
}

static void seg_to_kvm(const struct vp_segment *s, struct kvm_segment *k)
{
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->attrib & 0xf;
	k->s = (s->attrib >> 4) & 1;
	k->dpl = (s->attrib >> 5) & 3;
	k->present = (s->attrib >> 7) & 1;
	k->avl = (s->attrib >> 12) & 1;
	k->l = (s->attrib >> 13) & 1;
	k->db = (s->attrib >> 14) & 1;
	k->g = (s->attrib >> 15) & 1;
	k->unusable = !k->present;
}

static void seg_from_kvm(const struct kvm_segment *k, struct vp_segment *s)
{
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	s->attrib =
	    (uint16_t)(k->type | k->s << 4 | k->dpl << 5 |
		       (k->present && !k->unusable) << 7 | k->avl << 12 |
		       k->l << 13 | k->db << 14 | k->g << 15);
}

/* Order of kvm_sregs' segment fields matching enum vp_seg. */
static struct kvm_segment *sregs_seg(struct kvm_sregs *s, int i)
{
	struct kvm_segment *const segs[VP_NR_SEGS] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};

	return segs[i];
}

/* kvm_regs orders rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp; enum vp_gpr
 * follows the instruction encoding. */
static __u64 *kvm_gpr(struct kvm_regs *kr, int i)
{
	__u64 *const map[VP_NR_GPRS] = {
		&kr->rax, &kr->rcx, &kr->rdx, &kr->rbx, &kr->rsp, &kr->rbp,
		&kr->rsi, &kr->rdi, &kr->r8,  &kr->r9,	&kr->r10, &kr->r11,
		&kr->r12, &kr->r13, &kr->r14, &kr->r15,
	};

	return map[i];
}

static void kvm_regs_from_gprs(struct kvm_regs *kr, const uint64_t *gpr)
{
	int i;

	for (i = 0; i < VP_NR_GPRS; i++)
		*kvm_gpr(kr, i) = gpr[i];
}

static void kvm_regs_to_gprs(struct kvm_regs *kr, uint64_t *gpr)
{
	int i;

	for (i = 0; i < VP_NR_GPRS; i++)
		gpr[i] = *kvm_gpr(kr, i);
}

static int kvm_vp_set_regs(struct accel_vp *v, const struct vp_regs *r)
{
	struct kvm_regs kr;
	struct kvm_sregs ks;
	int i;

	/* Get, modify, set: keeps apic_base and the rest. */
	if (ioctl(v->fd, KVM_GET_SREGS, &ks) < 0)
		return -1;
	for (i = 0; i < VP_NR_SEGS; i++)
		seg_to_kvm(&r->seg[i], sregs_seg(&ks, i));
	ks.gdt.base = r->gdtr.base;
	ks.gdt.limit = r->gdtr.limit;
	ks.idt.base = r->idtr.base;
	ks.idt.limit = r->idtr.limit;
	ks.cr0 = r->cr0;
	ks.cr2 = r->cr2;
	ks.cr3 = r->cr3;
	ks.cr4 = r->cr4;
	ks.efer = r->efer;
	if (ioctl(v->fd, KVM_SET_SREGS, &ks) < 0)
		return -1;
	memset(&kr, 0, sizeof(kr));
	kvm_regs_from_gprs(&kr, r->gpr);
	kr.rip = r->rip;
	kr.rflags = r->rflags;
	return ioctl(v->fd, KVM_SET_REGS, &kr) < 0 ? -1 : 0;
}

static int kvm_vp_get_regs(struct accel_vp *v, struct vp_regs *r)
{
	struct kvm_regs kr;
	struct kvm_sregs ks;
	int i;

	if (ioctl(v->fd, KVM_GET_REGS, &kr) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &ks) < 0)
		return -1;
	kvm_regs_to_gprs(&kr, r->gpr);
	r->rip = kr.rip;
	r->rflags = kr.rflags;
	for (i = 0; i < VP_NR_SEGS; i++)
		seg_from_kvm(sregs_seg(&ks, i), &r->seg[i]);
	r->gdtr.base = ks.gdt.base;
	r->gdtr.limit = ks.gdt.limit;
	r->idtr.base = ks.idt.base;
	r->idtr.limit = ks.idt.limit;
	r->cr0 = ks.cr0;
	r->cr2 = ks.cr2;
	r->cr3 = ks.cr3;
	r->cr4 = ks.cr4;
	r->efer = ks.efer;
	return 0;
}

/* MSRs a guest may have changed that sregs do not carry. */
static const uint32_t kvm_saved_msrs[] = {
	0x10,	    /* IA32_TSC */
	0x174,	    /* SYSENTER_CS */
	0x175,	    /* SYSENTER_ESP */
	0x176,	    /* SYSENTER_EIP */
	0x277,	    /* PAT */
	0xc0000081, /* STAR */
	0xc0000082, /* LSTAR */
	0xc0000083, /* CSTAR */
	0xc0000084, /* SFMASK */
	0xc0000102, /* KERNEL_GS_BASE */
};
#define KVM_N_SAVED_MSRS (sizeof(kvm_saved_msrs) / sizeof(kvm_saved_msrs[0]))

_Static_assert(sizeof(struct kvm_xsave) == VP_EXTRA_XSAVE, "xsave size");
_Static_assert(sizeof(struct kvm_vcpu_events) <= VP_EXTRA_EVENTS,
	       "vcpu_events size");
_Static_assert(KVM_N_SAVED_MSRS <= VP_EXTRA_MAX_MSRS, "saved MSRs");

/* KVM_GET_MSRS / KVM_SET_MSRS take a struct kvm_msrs, whose entries are
 * a flexible array: the header shares its storage (and alignment) with
 * room for the entries, as a struct with an array after it would be a GNU
 * extension. */
union kvm_msrs_buf {
	struct kvm_msrs hdr;
	uint8_t room[sizeof(struct kvm_msrs) +
		     KVM_N_SAVED_MSRS * sizeof(struct kvm_msr_entry)];
};

static int kvm_vp_get_extra(struct accel_vp *v, struct vp_extra *x)
{
	struct kvm_xsave xs;
	struct kvm_vcpu_events ev;
	union kvm_msrs_buf m;
	size_t i;
	int got;

	memset(x, 0, sizeof(*x));
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = KVM_N_SAVED_MSRS;
	if (ioctl(v->fd, KVM_GET_XSAVE, &xs) < 0 ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -1;
	memcpy(x->xsave, &xs, sizeof(x->xsave));
	x->xsave_len = sizeof(x->xsave);
	memcpy(x->events, &ev, sizeof(ev));
	x->events_len = sizeof(ev);
	for (i = 0; i < KVM_N_SAVED_MSRS; i++)
		m.hdr.entries[i].index = kvm_saved_msrs[i];
	got = ioctl(v->fd, KVM_GET_MSRS, &m);
	for (i = 0; got > 0 && i < (size_t)got; i++)
		x->msrs[x->n_msrs++] = (struct vp_msr){ m.hdr.entries[i].index,
							m.hdr.entries[i].data };
	return 0;
}

static int kvm_vp_set_extra(struct accel_vp *v, const struct vp_extra *x)
{
	union kvm_msrs_buf m;
	struct kvm_xsave xs;
	struct kvm_vcpu_events ev;
	uint32_t i;

	memset(&m, 0, sizeof(m));
	if (x->xsave_len == sizeof(xs)) {
		memcpy(&xs, x->xsave, sizeof(xs));
		if (ioctl(v->fd, KVM_SET_XSAVE, &xs) < 0)
			return -1;
	}
	if (x->events_len == sizeof(ev)) {
		memcpy(&ev, x->events, sizeof(ev));
		if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
			return -1;
	}
	for (i = 0; i < x->n_msrs && i < KVM_N_SAVED_MSRS; i++) {
		m.hdr.entries[i].index = x->msrs[i].index;
		m.hdr.entries[i].data = x->msrs[i].value;
	}
	m.hdr.nmsrs = i;
	return ioctl(v->fd, KVM_SET_MSRS, &m) == (int)i ? 0 : -1;
}

static void kvm_handle_io(struct accel_vp *v)
{
	struct kvm_run *run = v->run;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned size = run->io.size;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, p += size) {
		uint64_t data = 0;

		if (is_write)
			memcpy(&data, p, size);
		vp_exit_pio(v->vp, run->io.port, &data, size, is_write);
		if (!is_write)
			memcpy(p, &data, size);
	}
}

static void kvm_handle_mmio(struct accel_vp *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len > 8 ? 8 : run->mmio.len;
	uint64_t data = 0;

	if (run->mmio.is_write)
		memcpy(&data, run->mmio.data, len);
	vp_exit_mmio(v->vp, run->mmio.phys_addr, &data, len,
		     run->mmio.is_write);
	if (!run->mmio.is_write)
		memcpy(run->mmio.data, &data, len);
}

/* Hands the buffered sink writes to their devices, in order. */
static void kvm_drain_ring(struct accel_vp *v)
{
	struct accel_vm *a = v->avm;
	struct kvm_coalesced_mmio_ring *r = a->ring;

	while (atomic_flag_test_and_set_explicit(&a->ring_lock,
						 memory_order_acquire))
		;
	while (r->first != __atomic_load_n(&r->last, __ATOMIC_ACQUIRE)) {
		struct kvm_coalesced_mmio *m = &r->coalesced_mmio[r->first];
		uint64_t data = 0;
		unsigned len = m->len > 8 ? 8 : m->len;

		memcpy(&data, m->data, len);
		if (m->pio)
			vp_exit_pio(v->vp, (uint16_t)m->phys_addr, &data, len,
				    true);
		else
			vp_exit_mmio(v->vp, m->phys_addr, &data, len, true);
		__atomic_store_n(&r->first, (r->first + 1) % a->ring_entries,
				 __ATOMIC_RELEASE);
	}
	atomic_flag_clear_explicit(&a->ring_lock, memory_order_release);
}

/* KVM finishes an IO or MMIO exit (an IN's value, the step past the
 * instruction) only on the next KVM_RUN (KVM API, KVM_EXIT_IO): enter once
 * with immediate_exit so that a stopped VP's state is whole before it is
 * read, saved or replaced. A reset that replaced it first saw the old
 * instruction's completion overwrite its RIP (the guest then crashed). */
static void kvm_finish_exit(struct accel_vp *v)
{
	struct kvm_run *run = v->run;

	run->immediate_exit = 1;
	/* a string instruction may need more exits before it is done */
	while (ioctl(v->fd, KVM_RUN, 0) == 0) {
		if (run->exit_reason == KVM_EXIT_IO)
			kvm_handle_io(v);
		else if (run->exit_reason == KVM_EXIT_MMIO)
			kvm_handle_mmio(v);
		else
			break;
	}
	run->immediate_exit = 0;
}

static int kvm_vp_run(struct accel_vp *v, enum vp_stop *why, char *reason,
		      size_t reason_len)
{
	struct kvm_run *run = v->run;
	bool pending = false; /* an IO or MMIO exit handled, not re-entered */

	v->thread = pthread_self();
	atomic_store(&v->thread_known, true);
	for (;;) {
		if (atomic_exchange(&v->kick, false)) {
			if (pending)
				kvm_finish_exit(v);
			*why = VP_STOP_KICKED;
			return 0;
		}
		pending = false;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				continue;
			}
			snprintf(reason, reason_len, "KVM_RUN: %s",
				 strerror(errno));
			*why = VP_STOP_FAULT;
			return 0;
		}
		if (v->avm->ring != NULL &&
		    v->avm->ring->first != v->avm->ring->last)
			kvm_drain_ring(v);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			kvm_handle_io(v);
			pending = true;
			break;
		case KVM_EXIT_MMIO:
			kvm_handle_mmio(v);
			pending = true;
			break;
		case KVM_EXIT_HLT:
			*why = VP_STOP_HALT;
			return 0;
		case KVM_EXIT_SHUTDOWN:
			snprintf(reason, reason_len, "triple fault");
			*why = VP_STOP_SHUTDOWN;
			return 0;
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(reason, reason_len,
				 "VM entry failed (hardware reason 0x%llx)",
				 (unsigned long long)run->fail_entry
				     .hardware_entry_failure_reason);
			*why = VP_STOP_FAULT;
			return 0;
		case KVM_EXIT_INTERNAL_ERROR:
			snprintf(reason, reason_len,
				 "KVM internal error (suberror %u)",
				 run->internal.suberror);
			*why = VP_STOP_FAULT;
			return 0;
		default:
			snprintf(reason, reason_len, "unexpected KVM exit %u",
				 run->exit_reason);
			*why = VP_STOP_FAULT;
			return 0;
		}
	}
}

static void kvm_vp_kick(struct accel_vp *v)
{
	atomic_store(&v->kick, true);
	v->run->immediate_exit = 1;
	if (atomic_load(&v->thread_known))
		pthread_kill(v->thread, KVM_KICK_SIGNAL);
	vp_wake(v->vp);
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.vp_create = kvm_vp_create,
	.vp_destroy = kvm_vp_destroy,
	.vp_get_regs = kvm_vp_get_regs,
	.vp_set_regs = kvm_vp_set_regs,
	.vp_run = kvm_vp_run,
	.vp_kick = kvm_vp_kick,
	.vp_get_extra = kvm_vp_get_extra,
	.vp_set_extra = kvm_vp_set_extra,
};
