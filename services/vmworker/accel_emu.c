/* The emu accelerator: one Unicorn engine per VP over the same guest RAM
 * (uc_mem_map_ptr), run one at a time under an execution lock taken in
 * time slices. Port I/O and MMIO are exact synchronous hooks; asynchronous
 * stops only through a block-hook flag, never uc_emu_stop from another
 * thread nor from a port or MMIO hook (both can stop after a later memory
 * access of the same block with RIP back at its start, so a store or the
 * I/O repeats; docs/emu.md, tests/emu_stop_test.c).
 * libunicorn is loaded with dlopen only when emu is chosen. */
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unicorn/unicorn.h>

#include "lib/log.h"
#include "lib/guest_ram.h"
#include "lib/util.h"
#include "services/vmworker/accel.h"
#include "services/vmworker/exception.h"
#include "services/vmworker/vm.h"

#define EMU_SLICE_NS	   2000000 /* a waiting VP asks the runner to yield */
#define EMU_IDLE_STOPS_MAX 4	   /* runs in a row that ran nothing */
#define EMU_MAX_REGIONS	   16
#define EMU_STOP_KICK	   1u
#define EMU_STOP_YIELD	   2u
#define EMU_MMIO_TOP	   (1ull << 32)
#define EMU_PTE_P	   (1ull << 0)
#define EMU_PTE_PS	   (1ull << 7)
#define EMU_PTE_NX	   (1ull << 63)
#define EMU_PTE_ADDR	   0x000ffffffffff000ull
#define EMU_CR4_LA57	   (1ull << 12)

static struct {
	void *handle;
	__typeof__(uc_open) *open;
	__typeof__(uc_close) *close;
	__typeof__(uc_mem_map_ptr) *mem_map_ptr;
	__typeof__(uc_mmio_map) *mmio_map;
	__typeof__(uc_hook_add) *hook_add;
	__typeof__(uc_emu_start) *emu_start;
	__typeof__(uc_emu_stop) *emu_stop;
	__typeof__(uc_reg_read) *reg_read;
	__typeof__(uc_reg_write) *reg_write;
	__typeof__(uc_strerror) *strerror;
	__typeof__(uc_ctl) *ctl;
	__typeof__(uc_context_alloc) *context_alloc;
	__typeof__(uc_context_save) *context_save;
	__typeof__(uc_context_restore) *context_restore;
	__typeof__(uc_context_free) *context_free;
} uc;

struct emu_region {
	struct accel_vp *avp;
	uint64_t base;
};

struct accel_vm {
	struct vm *vm;
	struct accel_mem_slot slots[EMU_MAX_REGIONS];
	size_t n_slots;
	pthread_mutex_t lock;
	pthread_cond_t turn;
	uint64_t next_ticket, serving;
	struct accel_vp *holder;
};

struct accel_vp {
	struct accel_vm *avm;
	struct vp *vp;
	uc_engine *uc;
	uc_context *boot; /* the engine's CPU state before it first ran */
	_Atomic uint32_t stop;
	bool faulted;
	int exc_vector; /* the exception that stopped the run, or -1 */
	char fault[160];
	struct vp_regs shadow; /* attributes Unicorn does not keep */
	struct emu_region regions[EMU_MAX_REGIONS];
};

#ifndef __has_feature
#define __has_feature(x) 0
#endif
/* Built with a sanitizer (SAN=, the fuzz harnesses). */
#if (defined(PARAPET_SAN) && PARAPET_SAN) || defined(__SANITIZE_ADDRESS__) ||  \
    __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) ||     \
    __has_feature(thread_sanitizer)
#define EMU_SANITIZED 1
#else
#define EMU_SANITIZED 0
#endif

/* libunicorn's ~37,000 symbol relocations (it is linked BIND_NOW) nearly
 * all resolve to itself: RTLD_DEEPBIND looks there first instead of
 * through every library vmworker links (measured: the dlopen from 4.3 to
 * 3.2 ms of CPU). Its other symbols come from libc and libm, the same
 * objects as vmworker's. Not under a sanitizer: its runtime interposes
 * malloc and refuses RTLD_DEEPBIND. */
#define EMU_DLOPEN_FLAGS                                                       \
	(RTLD_NOW | RTLD_LOCAL | (EMU_SANITIZED ? 0 : RTLD_DEEPBIND))

static pthread_once_t emu_once = PTHREAD_ONCE_INIT;
static char emu_load_error[256];

static void emu_load(void)
{
	/* Unicorn's TCG asks for huge pages on its 1 GiB translation cache
	 * (MADV_HUGEPAGE): the first translated block then takes a whole
	 * 2 MiB page, the largest part of a partition's own memory. 4 KiB
	 * pages hold just the code a guest runs. */
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
		log_warn("PR_SET_THP_DISABLE");
	uc.handle = dlopen("libunicorn.so.2", EMU_DLOPEN_FLAGS);
	if (uc.handle == NULL) {
		snprintf(emu_load_error, sizeof(emu_load_error),
			 "cannot load libunicorn: %s", dlerror());
		return;
	}
#define EMU_SYM(field, name)                                                   \
	do {                                                                   \
		*(void **)&uc.field = dlsym(uc.handle, name);                  \
		if (uc.field == NULL)                                          \
			snprintf(emu_load_error, sizeof(emu_load_error),       \
				 "libunicorn lacks %s", name);                 \
	} while (0)
	EMU_SYM(open, "uc_open");
	EMU_SYM(close, "uc_close");
	EMU_SYM(mem_map_ptr, "uc_mem_map_ptr");
	EMU_SYM(mmio_map, "uc_mmio_map");
	EMU_SYM(hook_add, "uc_hook_add");
	EMU_SYM(emu_start, "uc_emu_start");
	EMU_SYM(emu_stop, "uc_emu_stop");
	EMU_SYM(reg_read, "uc_reg_read");
	EMU_SYM(reg_write, "uc_reg_write");
	EMU_SYM(strerror, "uc_strerror");
	EMU_SYM(ctl, "uc_ctl");
	EMU_SYM(context_alloc, "uc_context_alloc");
	EMU_SYM(context_save, "uc_context_save");
	EMU_SYM(context_restore, "uc_context_restore");
	EMU_SYM(context_free, "uc_context_free");
#undef EMU_SYM
}

int accel_emu_probe(char *why, size_t why_len)
{
	pthread_once(&emu_once, emu_load);
	if (emu_load_error[0] != '\0') {
		snprintf(why, why_len, "%s", emu_load_error);
		return -1;
	}
	return 0;
}

static int emu_vm_create(struct vm *vm, const struct accel_mem_slot *slots,
			 size_t n_slots, struct accel_vm **out)
{
	struct accel_vm *a;
	char why[256];

	if (accel_emu_probe(why, sizeof(why)) != 0) {
		log_warnx("%s", why);
		return -1;
	}
	if (n_slots > EMU_MAX_REGIONS / 2)
		return -1;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -1;
	a->vm = vm;
	memcpy(a->slots, slots, n_slots * sizeof(*slots));
	a->n_slots = n_slots;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->turn, NULL);
	*out = a;
	return 0;
}

static void emu_vm_destroy(struct accel_vm *a)
{
	if (a == NULL)
		return;
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->turn);
	free(a);
}

static void emu_fault(struct accel_vp *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records why the engine must stop; the VM core adds the RIP. Hooks that
 * stop Unicorn by their return value (invalid instruction, unmapped
 * access) must not also call uc_emu_stop: measured, the stop request
 * then outlives the run, and a later run (after a reset) returns at once
 * as if the guest had halted. */
static void emu_fault_note(struct accel_vp *v, const char *fmt, va_list ap)
{
	vsnprintf(v->fault, sizeof(v->fault), fmt, ap);
	v->faulted = true;
}

static void emu_fault(struct accel_vp *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void emu_fault_nostop(struct accel_vp *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void emu_fault(struct accel_vp *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emu_fault_note(v, fmt, ap);
	va_end(ap);
	uc.emu_stop(v->uc);
}

static void emu_fault_nostop(struct accel_vp *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emu_fault_note(v, fmt, ap);
	va_end(ap);
}

/* The port hooks get the struct vp itself: one load less per exit. */
static uint32_t emu_in(uc_engine *engine, uint32_t port, int size, void *user)
{
	uint64_t data;

	(void)engine;
	vp_exit_pio(user, (uint16_t)port, &data, (unsigned)size, false);
	return (uint32_t)data;
}

/* Sidecar VPs and ports with no device: the generic exit path. */
static __attribute__((noinline)) void
emu_out_slow(struct vp *vp, uint16_t port, unsigned size, uint64_t value)
{
	vp_exit_pio(vp, port, &value, size, true);
}

/* A port write, the hot exit: vp_exit_pio's device path with the handler
 * as a tail call (measured ~0.9 ns of the ~9 ns exit). So in_exit is not
 * cleared here but by emu_block at the next block and when the run
 * returns: the sampling profile counts the few guest instructions after
 * the write to the end of its block as handler time. A write the device
 * ignores is only counted: no handler runs, nothing to profile (the
 * handler's call cost ~0.85 ns of ~8.4, docs/emu.md). */
static void emu_out(uc_engine *engine, uint32_t port, int size, uint32_t value,
		    void *user)
{
	struct vp *vp = user;
	unsigned idx = vp->vm->devs.pio_index[(uint16_t)port];

	(void)engine;
	if (__builtin_expect(
		idx == 0 ||
		    atomic_load_explicit(&vp->on_sidecar, memory_order_relaxed),
		0)) {
		emu_out_slow(vp, (uint16_t)port, (unsigned)size, value);
		return;
	}
	if (vp_pio_count(vp, idx, true))
		return;
	atomic_store_explicit(&vp->in_exit, 1, memory_order_relaxed);
	vp->io_data = value;
	vp_pio_handle(vp, idx, (uint16_t)port, &vp->io_data, (unsigned)size,
		      true);
}

static uint64_t emu_mmio_read(uc_engine *engine, uint64_t offset, unsigned size,
			      void *user)
{
	struct emu_region *r = user;
	uint64_t data;

	(void)engine;
	vp_exit_mmio(r->avp->vp, r->base + offset, &data, size, false);
	return data;
}

static void emu_mmio_write(uc_engine *engine, uint64_t offset, unsigned size,
			   uint64_t value, void *user)
{
	struct emu_region *r = user;

	(void)engine;
	vp_exit_mmio(r->avp->vp, r->base + offset, &value, size, true);
}

/* The one place an asynchronous stop takes effect: a block boundary. */
static void emu_block(uc_engine *engine, uint64_t addr, uint32_t size,
		      void *user)
{
	struct accel_vp *v = user;

	(void)addr;
	(void)size;
	atomic_store_explicit(&v->vp->in_exit, 0, memory_order_relaxed);
	if (atomic_load_explicit(&v->stop, memory_order_relaxed))
		uc.emu_stop(engine);
}

/* Exceptions are never delivered to the guest on emu: a crash, named
 * in emu_exception_stop as the hardware would end it. */
static void emu_intr(uc_engine *engine, uint32_t intno, void *user)
{
	struct accel_vp *v = user;

	(void)engine;
	v->exc_vector = (int)intno;
	emu_fault(v, "exception %u", intno);
}

static bool emu_invalid(uc_engine *engine, void *user)
{
	struct accel_vp *v = user;

	(void)engine;
	v->exc_vector = EXC_UD;
	emu_fault_nostop(v, "invalid instruction");
	return false;
}

static bool emu_unmapped(uc_engine *engine, uc_mem_type type, uint64_t addr,
			 int size, int64_t value, void *user)
{
	(void)engine;
	(void)type;
	(void)size;
	(void)value;
	emu_fault_nostop(user, "access to unbacked address 0x%llx",
			 (unsigned long long)addr);
	return false;
}

/* RAM slots by pointer; every gap below 4 GiB is MMIO into the devices. */
static int emu_map_memory(struct accel_vp *v)
{
	struct accel_vm *a = v->avm;
	uint64_t next = 0;
	size_t i, n_regions = 0;

	for (i = 0; i <= a->n_slots; i++) {
		uint64_t start =
		    i < a->n_slots ? a->slots[i].gpa : EMU_MMIO_TOP;
		struct emu_region *r;

		if (start > next) {
			r = &v->regions[n_regions++];
			r->avp = v;
			r->base = next;
			if (uc.mmio_map(v->uc, next, start - next,
					emu_mmio_read, r, emu_mmio_write,
					r) != UC_ERR_OK)
				return -1;
		}
		if (i == a->n_slots)
			break;
		if (uc.mem_map_ptr(v->uc, a->slots[i].gpa, a->slots[i].size,
				   UC_PROT_ALL, a->slots[i].host) != UC_ERR_OK)
			return -1;
		next = a->slots[i].gpa + a->slots[i].size;
	}
	return 0;
}

static int emu_add_hooks(struct accel_vp *v)
{
	uc_hook h;
	int ok = 1;

	ok &= uc.hook_add(v->uc, &h, UC_HOOK_INSN, (void *)emu_in, v->vp, 1, 0,
			  UC_X86_INS_IN) == UC_ERR_OK;
	ok &= uc.hook_add(v->uc, &h, UC_HOOK_INSN, (void *)emu_out, v->vp, 1, 0,
			  UC_X86_INS_OUT) == UC_ERR_OK;
	ok &= uc.hook_add(v->uc, &h, UC_HOOK_BLOCK, (void *)emu_block, v, 1,
			  0) == UC_ERR_OK;
	ok &= uc.hook_add(v->uc, &h, UC_HOOK_INTR, (void *)emu_intr, v, 1, 0) ==
	      UC_ERR_OK;
	ok &= uc.hook_add(v->uc, &h, UC_HOOK_INSN_INVALID, (void *)emu_invalid,
			  v, 1, 0) == UC_ERR_OK;
	ok &= uc.hook_add(v->uc, &h, UC_HOOK_MEM_UNMAPPED, (void *)emu_unmapped,
			  v, 1, 0) == UC_ERR_OK;
	return ok ? 0 : -1;
}

/* dl_iterate_phdr callback: drops from this process the pages of
 * libunicorn's read-only segments (arg: its load address). */
static int emu_drop_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	(void)size;
	if (info->dlpi_addr != *(const uintptr_t *)arg)
		return 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		uintptr_t hi = lo + ph->p_memsz;

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		lo = (lo + page - 1) & ~(page - 1);
		hi &= ~(page - 1);
		if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
			log_warn("madvise libunicorn");
	}
	return 1;
}

/* libunicorn's read-only segments (symbol and relocation tables, the
 * start-up half of its code, every target it was built for) were read
 * at load and engine creation and are mostly never read again: unmap
 * them from this process (the page cache keeps them; a later read
 * faults the page back in). Never the writable or RELRO segments,
 * whose pages are private copies. */
static void emu_drop_load_pages(void)
{
	struct link_map *lm;

	if (dlinfo(uc.handle, RTLD_DI_LINKMAP, &lm) != 0)
		return;
	dl_iterate_phdr(emu_drop_segments, &lm->l_addr);
}

/* Unicorn clears the large tables it maps for each engine (its 512 KiB
 * translation-block hash among them) with memset, which makes every
 * page resident for nothing: such pages read as zero just the same
 * once dropped. The anonymous read-write mappings of this process, as
 * [lo, hi) pairs: at most EMU_MAPS_MAX, those over EMU_MAPS_SCAN_MAX
 * left out (the translation buffer is rwx, and not scanned either). */
#define EMU_MAPS_MAX	  512
#define EMU_MAPS_SCAN_MAX (64ull << 20)

struct emu_maps {
	size_t n;
	uintptr_t lo[EMU_MAPS_MAX], hi[EMU_MAPS_MAX];
};

static void emu_anon_maps(struct emu_maps *m, bool heap)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512], perms[8];
	unsigned long lo, hi, ino;
	int path = 0;

	m->n = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL &&
	       m->n < EMU_MAPS_MAX) {
		/* anonymous: inode 0 and nothing after it, or [heap] */
		if (sscanf(line, "%lx-%lx %7s %*x %*x:%*x %lu %n", &lo, &hi,
			   perms, &ino, &path) != 4 ||
		    ino != 0 || strcmp(perms, "rw-p") ||
		    hi - lo > EMU_MAPS_SCAN_MAX)
			continue;
		if (line[path] != '\0' &&
		    !(heap && !strcmp(line + path, "[heap]\n")))
			continue;
		m->lo[m->n] = lo;
		m->hi[m->n++] = hi;
	}
	if (f != NULL)
		fclose(f);
}

static bool emu_page_old(const struct emu_maps *old, uintptr_t page)
{
	for (size_t i = 0; i < old->n; i++)
		if (page >= old->lo[i] && page < old->hi[i])
			return true;
	return false;
}

/* This process's thread count, from /proc/self/status; -1 unknown. */
static int emu_threads(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int n = -1;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return n;
}

/* Drops the all-zero pages of the anonymous mappings made since old was
 * taken, and of the heap (Unicorn's smaller tables, calloc'd there). Only while
 * this is the process's only thread (vmworker creates its engines before any
 * other starts): no other can write a page between the check and the drop.
 * Not under a sanitizer: the heap's redzones must not be read. A run of
 * zero pages goes in one madvise (one per page took 0.55 ms of the
 * engine's set-up, 0.32 ms so). */
static void emu_drop_zero_pages(const struct emu_maps *old)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct emu_maps *now;

	if (EMU_SANITIZED || emu_threads() != 1 ||
	    (now = malloc(sizeof(*now))) == NULL)
		return;
	emu_anon_maps(now, true);
	for (size_t i = 0; i < now->n; i++) {
		uintptr_t run = 0; /* start of the zero pages before p */

		for (uintptr_t p = now->lo[i]; p <= now->hi[i]; p += page) {
			bool zero = p < now->hi[i] && !emu_page_old(old, p) &&
				    util_all_zero((const void *)p, page);

			if (zero && run == 0)
				run = p;
			else if (!zero && run != 0) {
				madvise((void *)run, p - run, MADV_DONTNEED);
				run = 0;
			}
		}
	}
	free(now);
}

static int emu_vp_create(struct accel_vm *a, struct vp *vp,
			 struct accel_vp **out)
{
	struct accel_vp *v = calloc(1, sizeof(*v));
	struct emu_maps *before = malloc(sizeof(*before));
	uc_err err;

	if (v == NULL || before == NULL) {
		free(v);
		free(before);
		return -1;
	}
	v->avm = a;
	v->vp = vp;
	v->exc_vector = -1;
	emu_anon_maps(before, false);
	err = uc.open(UC_ARCH_X86, UC_MODE_64, &v->uc);
	if (err != UC_ERR_OK) {
		log_warnx("uc_open: %s", uc.strerror(err));
		free(v);
		free(before);
		return -1;
	}
	if (emu_map_memory(v) != 0 || emu_add_hooks(v) != 0) {
		log_warnx("vp%u: cannot set up the Unicorn engine", vp->index);
		uc.close(v->uc);
		free(v);
		free(before);
		return -1;
	}
	if (uc.context_alloc(v->uc, &v->boot) != UC_ERR_OK ||
	    uc.context_save(v->uc, v->boot) != UC_ERR_OK)
		v->boot = NULL; /* reset then keeps the engine's state */
	emu_drop_load_pages();
	emu_drop_zero_pages(before);
	free(before);
	*out = v;
	return 0;
}

static void emu_vp_destroy(struct accel_vp *v)
{
	if (v == NULL)
		return;
	if (v->boot != NULL)
		uc.context_free(v->boot);
	uc.close(v->uc);
	free(v);
}

static const int emu_gpr_ids[VP_NR_GPRS] = {
	UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
	UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
	UC_X86_REG_R8,	UC_X86_REG_R9,	UC_X86_REG_R10, UC_X86_REG_R11,
	UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};

static int emu_write_msr(struct accel_vp *v, uint32_t msr, uint64_t value)
{
	uc_x86_msr m = { .rid = msr, .value = value };

	return uc.reg_write(v->uc, UC_X86_REG_MSR, &m) == UC_ERR_OK ? 0 : -1;
}

static int emu_set_control(struct accel_vp *v, const struct vp_regs *r)
{
	uc_x86_mmr gdtr = { 0, r->gdtr.base, r->gdtr.limit, 0 };
	uc_x86_mmr idtr = { 0, r->idtr.base, r->idtr.limit, 0 };
	int bad = 0;

	/* CR3, CR4, EFER, then CR0: the order that turns paging on. */
	bad |= uc.reg_write(v->uc, UC_X86_REG_CR3, &r->cr3);
	bad |= uc.reg_write(v->uc, UC_X86_REG_CR4, &r->cr4);
	bad |= emu_write_msr(v, 0xc0000080, r->efer);
	bad |= uc.reg_write(v->uc, UC_X86_REG_CR0, &r->cr0);
	bad |= uc.reg_write(v->uc, UC_X86_REG_CR2, &r->cr2);
	bad |= uc.reg_write(v->uc, UC_X86_REG_GDTR, &gdtr);
	bad |= uc.reg_write(v->uc, UC_X86_REG_IDTR, &idtr);
	return bad ? -1 : 0;
}

/* Whether Unicorn 2.0.1 reads va through the page tables at cr3 without
 * a fault, and reads it where a CPU would. Its walk, measured: a #PF on
 * bit 63 (EFER.NXE cannot be set there), on PS in a PML4E and on a large
 * page's reserved bits (13 up to its size); 1 GiB pages are taken. Then
 * it reads the virtual address as the physical one (PITFALLS.md), so only
 * an identity-mapped va is read where KVM would read it. */
static int emu_walk_identity(const struct guest_ram *ram, uint64_t cr3,
			     uint64_t va)
{
	uint64_t table = cr3 & ~0xfffull, pte = 0, mask = 0;
	int level;

	for (level = 3; level >= 0; level--) {
		unsigned shift = 12 + 9 * (unsigned)level;
		const void *p =
		    guest_ram_ptr(ram, table + ((va >> shift) & 0x1ff) * 8, 8);

		if (p == NULL)
			return -1;
		memcpy(&pte, p, sizeof(pte));
		mask = (1ull << shift) - 1;
		if (!(pte & EMU_PTE_P) || (pte & EMU_PTE_NX))
			return -1;
		if (level == 0)
			break;
		if (pte & EMU_PTE_PS) {
			if (level == 3 || (pte & mask & ~0x1fffull))
				return -1;
			break;
		}
		table = pte & EMU_PTE_ADDR;
	}
	return ((pte & EMU_PTE_ADDR & ~mask) | (va & mask)) == va ? 0 : -1;
}

/* Reads the 8-byte descriptor for sel from the GDT r describes, where
 * Unicorn will read it: the GDT must be identity-mapped in RAM. */
static int emu_read_descriptor(struct accel_vp *v, const struct vp_regs *r,
			       uint16_t sel, uint64_t *desc)
{
	struct guest_ram ram = vm_guest_ram(v->avm->vm);
	uint64_t va = r->gdtr.base + (sel & ~7u);
	const void *p;

	if ((va & 0xfff) > 0xff8)
		return -1; /* crosses a page */
	if ((r->cr0 & VP_CR0_PG) && emu_walk_identity(&ram, r->cr3, va) != 0)
		return -1;
	p = guest_ram_ptr(&ram, va, 8);
	if (p == NULL)
		return -1; /* Unicorn would read a device or unmapped memory */
	memcpy(desc, p, 8);
	return 0;
}

/* Unicorn loads a selector's descriptor through the guest MMU when it is
 * written (in 64-bit mode FS and GS only, measured), and on any fault
 * there (page fault, #GP, #NP, unmapped memory) it longjmps out of
 * uc_reg_write with no handler: the whole process dies. So every
 * selector is checked here first, by the same rules, and a context that
 * would fault is refused. The accessed bit must already be set: Unicorn
 * would write it back through the MMU otherwise. */
static int emu_check_selector(struct accel_vp *v, const struct vp_regs *r,
			      int seg)
{
	uint16_t sel = r->seg[seg].selector;
	unsigned rpl = sel & 3, cpl = r->seg[VP_CS].selector & 3, dpl, type;
	uint64_t desc;

	if ((sel & ~3u) == 0)
		return seg == VP_CS || (seg == VP_SS && cpl == 3) ? -1 : 0;
	if ((sel & 4) || (sel | 7u) > r->gdtr.limit ||
	    emu_read_descriptor(v, r, sel, &desc) != 0)
		return -1;
	type = (unsigned)(desc >> 40) & 0xf;
	dpl = (unsigned)(desc >> 45) & 3;
	if (!(desc & (1ull << 47)) || !(desc & (1ull << 44)) || !(type & 1))
		return -1; /* not present, system, or not accessed */
	if (seg == VP_CS)
		return (type & 8) ? 0 : -1;
	if (seg == VP_SS)
		return !(type & 8) && (type & 2) && rpl == cpl && dpl == cpl
			   ? 0
			   : -1;
	if ((type & 0xa) == 0x8)
		return -1; /* execute-only code */
	if ((!(type & 8) || !(type & 4)) && (dpl < cpl || dpl < rpl))
		return -1;
	return 0;
}

static int emu_check_segments(struct accel_vp *v, const struct vp_regs *r)
{
	static const int segs[] = { VP_CS, VP_DS, VP_ES, VP_FS, VP_GS, VP_SS };
	size_t i;

	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (emu_check_selector(v, r, segs[i]) != 0) {
			log_warnx("vp%u: emu refuses selector 0x%x of segment "
				  "%d: its descriptor would fault",
				  v->vp->index, r->seg[segs[i]].selector,
				  segs[i]);
			return -1;
		}
	return 0;
}

/* Unicorn takes only selectors (and the FS/GS bases); the attributes are
 * checked by vpregs_check and kept in the shadow copy. */
static int emu_set_segments(struct accel_vp *v, const struct vp_regs *r)
{
	static const int ids[] = {
		UC_X86_REG_CS, UC_X86_REG_DS, UC_X86_REG_ES,
		UC_X86_REG_FS, UC_X86_REG_GS, UC_X86_REG_SS
	};
	uc_x86_mmr tr = { r->seg[VP_TR].selector, r->seg[VP_TR].base,
			  r->seg[VP_TR].limit, r->seg[VP_TR].attrib };
	int bad = 0;
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint64_t sel = r->seg[i].selector;

		bad |= uc.reg_write(v->uc, ids[i], &sel);
	}
	bad |= uc.reg_write(v->uc, UC_X86_REG_FS_BASE, &r->seg[VP_FS].base);
	bad |= uc.reg_write(v->uc, UC_X86_REG_GS_BASE, &r->seg[VP_GS].base);
	bad |= uc.reg_write(v->uc, UC_X86_REG_TR, &tr);
	return bad ? -1 : 0;
}

/* Unicorn keeps EFER.LMA once set: an EFER write cannot clear it (it is
 * read-only there, as on the CPU) and, unlike the CPU and KVM, neither
 * does turning CR0.PG off. A context outside long mode given to a VP that
 * has been in long mode would run as 64-bit code: refused instead. Also
 * refused: CR4.LA57, which its CPU lacks but its page walk obeys (five
 * levels, measured), so the 4-level descriptor checks would not hold. */
static int emu_check_mode(struct accel_vp *v, const struct vp_regs *r)
{
	uc_x86_msr efer = { .rid = 0xc0000080 };

	if (r->cr4 & EMU_CR4_LA57) {
		log_warnx("vp%u: emu refuses CR4.LA57", v->vp->index);
		return -1;
	}
	if (r->efer & VP_EFER_LMA)
		return 0;
	if (uc.reg_read(v->uc, UC_X86_REG_MSR, &efer) != UC_ERR_OK)
		return -1;
	if (!(efer.value & VP_EFER_LMA))
		return 0;
	log_warnx("vp%u: emu cannot leave long mode (EFER 0x%llx asked)",
		  v->vp->index, (unsigned long long)r->efer);
	return -1;
}

static int emu_vp_set_regs(struct accel_vp *v, const struct vp_regs *r)
{
	int bad = 0, i;

	if (emu_check_mode(v, r) != 0 || emu_check_segments(v, r) != 0 ||
	    emu_set_control(v, r) != 0 || emu_set_segments(v, r) != 0)
		return -1;
	for (i = 0; i < VP_NR_GPRS; i++)
		bad |= uc.reg_write(v->uc, emu_gpr_ids[i], &r->gpr[i]);
	bad |= uc.reg_write(v->uc, UC_X86_REG_RIP, &r->rip);
	bad |= uc.reg_write(v->uc, UC_X86_REG_RFLAGS, &r->rflags);
	v->shadow = *r;
	return bad ? -1 : 0;
}

static int emu_vp_get_regs(struct accel_vp *v, struct vp_regs *r)
{
	uc_x86_mmr gdtr, idtr;
	uc_x86_msr efer = { .rid = 0xc0000080 };
	int bad = 0, i;

	*r = v->shadow;
	for (i = 0; i < VP_NR_GPRS; i++)
		bad |= uc.reg_read(v->uc, emu_gpr_ids[i], &r->gpr[i]);
	bad |= uc.reg_read(v->uc, UC_X86_REG_RIP, &r->rip);
	bad |= uc.reg_read(v->uc, UC_X86_REG_RFLAGS, &r->rflags);
	bad |= uc.reg_read(v->uc, UC_X86_REG_CR0, &r->cr0);
	bad |= uc.reg_read(v->uc, UC_X86_REG_CR2, &r->cr2);
	bad |= uc.reg_read(v->uc, UC_X86_REG_CR3, &r->cr3);
	bad |= uc.reg_read(v->uc, UC_X86_REG_CR4, &r->cr4);
	bad |= uc.reg_read(v->uc, UC_X86_REG_MSR, &efer);
	bad |= uc.reg_read(v->uc, UC_X86_REG_GDTR, &gdtr);
	bad |= uc.reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
	r->efer = efer.value;
	r->gdtr.base = gdtr.base;
	r->gdtr.limit = (uint16_t)gdtr.limit;
	r->idtr.base = idtr.base;
	r->idtr.limit = (uint16_t)idtr.limit;
	return bad ? -1 : 0;
}

/* FIFO execution lock; a VP that waits longer than a slice asks the
 * running one to yield at its next block boundary. */
static void emu_exec_lock(struct accel_vm *a, struct accel_vp *v)
{
	uint64_t ticket;

	pthread_mutex_lock(&a->lock);
	ticket = a->next_ticket++;
	while (a->serving != ticket) {
		struct timespec ts =
		    util_abstime_ns(CLOCK_REALTIME, EMU_SLICE_NS);

		if (pthread_cond_timedwait(&a->turn, &a->lock, &ts) ==
			ETIMEDOUT &&
		    a->holder != NULL) {
			atomic_fetch_or(&a->holder->stop, EMU_STOP_YIELD);
			vp_wake(a->holder->vp); /* out of a timestamp wait */
		}
	}
	a->holder = v;
	pthread_mutex_unlock(&a->lock);
}

static void emu_exec_unlock(struct accel_vm *a)
{
	pthread_mutex_lock(&a->lock);
	a->holder = NULL;
	a->serving++;
	pthread_cond_broadcast(&a->turn);
	pthread_mutex_unlock(&a->lock);
}

/* The end a CPU would reach for the exception that stopped the run: a
 * triple fault (the kvm accelerator's KVM_EXIT_SHUTDOWN) when the IDT
 * cannot deliver it, else a handler emu cannot enter. */
static enum vp_stop emu_exception_stop(struct accel_vp *v, char *reason,
				       size_t reason_len)
{
	struct guest_ram ram = vm_guest_ram(v->vp->vm);
	unsigned vector = (unsigned)v->exc_vector, handler;
	char name[16], hname[16];
	struct vp_regs regs;

	exception_name(vector, name, sizeof(name));
	if (emu_vp_get_regs(v, &regs) != 0 ||
	    exception_outcome(&ram, &regs, vector, &handler) ==
		EXC_TRIPLE_FAULT) {
		snprintf(reason, reason_len,
			 "triple fault (%s with no IDT gate to deliver it)",
			 name);
		return VP_STOP_SHUTDOWN;
	}
	snprintf(reason, reason_len,
		 "exception %s: the guest's %s handler is not entered "
		 "(the emu accelerator delivers no exceptions)",
		 name, exception_name(handler, hname, sizeof(hname)));
	return VP_STOP_FAULT;
}

static int emu_vp_run(struct accel_vp *v, enum vp_stop *why, char *reason,
		      size_t reason_len)
{
	unsigned idle_stops = 0;

	for (;;) {
		uint64_t rip = 0, rip_after = 0;
		uint32_t stop;
		uc_err err;

		emu_exec_lock(v->avm, v);
		/* A kick that came before the run: stopping Unicorn in its
		 * first block leaves it stopping the next run at once, as if
		 * the guest had halted (seen after a reset). */
		if (atomic_load(&v->stop) & EMU_STOP_KICK) {
			emu_exec_unlock(v->avm);
			atomic_fetch_and(&v->stop, ~(uint32_t)EMU_STOP_KICK);
			*why = VP_STOP_KICKED;
			return 0;
		}
		uc.reg_read(v->uc, UC_X86_REG_RIP, &rip);
		err = uc.emu_start(v->uc, rip, ~0ull, 0, 0);
		atomic_store_explicit(&v->vp->in_exit, 0, memory_order_relaxed);
		emu_exec_unlock(v->avm);
		stop = atomic_exchange(&v->stop, 0);
		if (v->exc_vector >= 0) {
			*why = emu_exception_stop(v, reason, reason_len);
			v->faulted = false;
			v->exc_vector = -1;
			return 0;
		}
		if (v->faulted || err != UC_ERR_OK) {
			if (v->faulted)
				snprintf(reason, reason_len, "%s", v->fault);
			else
				snprintf(reason, reason_len, "emulation: %s",
					 uc.strerror(err));
			v->faulted = false;
			*why = VP_STOP_FAULT;
			return 0;
		}
		if (stop & EMU_STOP_KICK) {
			*why = VP_STOP_KICKED;
			return 0;
		}
		if (stop & EMU_STOP_YIELD)
			continue;
		/* The engine stopped by itself: HLT, which leaves RIP past
		 * it. Unicorn 2.0.1 also returns at once, having run nothing,
		 * after some earlier stops (seen after a reset): run again. */
		uc.reg_read(v->uc, UC_X86_REG_RIP, &rip_after);
		if (rip_after == rip && ++idle_stops < EMU_IDLE_STOPS_MAX)
			continue;
		if (rip_after == rip) {
			snprintf(reason, reason_len,
				 "emulation stops without running");
			*why = VP_STOP_FAULT;
			return 0;
		}
		*why = VP_STOP_HALT;
		return 0;
	}
}

static void emu_vp_kick(struct accel_vp *v)
{
	atomic_fetch_or(&v->stop, EMU_STOP_KICK);
	vp_wake(v->vp);
}

/* Unicorn notices the guest's own stores to code, not the host's. Its
 * code is dropped range by range: a whole-cache flush (UC_CTL_TB_FLUSH)
 * took 4.5 s the first time here, removing 64 MiB of ranges 0.4 ms. */
static void emu_vp_flush_code(struct accel_vp *v)
{
	atomic_store(&v->stop, 0); /* kicks of the VM that ended */
	if (v->boot != NULL && uc.context_restore(v->uc, v->boot) != UC_ERR_OK)
		log_warnx("vp%u: restoring the engine's boot state failed",
			  v->vp->index);
	for (size_t i = 0; i < v->avm->n_slots; i++) {
		const struct accel_mem_slot *s = &v->avm->slots[i];

		if (uc.ctl(v->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2),
			   s->gpa, s->gpa + s->size) != UC_ERR_OK)
			log_warnx("vp%u: dropping translated code failed",
				  v->vp->index);
	}
}

const struct accel_ops accel_emu_ops = {
	.name = "emu",
	.vm_create = emu_vm_create,
	.vm_destroy = emu_vm_destroy,
	.vp_create = emu_vp_create,
	.vp_destroy = emu_vp_destroy,
	.vp_get_regs = emu_vp_get_regs,
	.vp_set_regs = emu_vp_set_regs,
	.vp_run = emu_vp_run,
	.vp_kick = emu_vp_kick,
	.vp_flush_code = emu_vp_flush_code,
};
