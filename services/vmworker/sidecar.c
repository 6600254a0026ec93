/* Sidecar CPUs: lean VP threads and the main loop that serves their
 * intercepts, talking only through the shared pages of sidecar_proto.h. */
#include "services/vmworker/sidecar.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/futex.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "services/vmworker/translate.h"
#include "services/vmworker/vm.h"

static struct sidecar_cmd_page *page_of(struct sidecar *sc, unsigned i)
{
	return &sc->pages[i];
}

static uint32_t status_of(struct sidecar *sc, unsigned i)
{
	return __atomic_load_n(&sc->ctl->status[i], __ATOMIC_ACQUIRE);
}

/* Moves VP i's status by the table; a refused move is a bug, logged. */
static void status_move(struct sidecar *sc, unsigned i, enum sidecar_event ev)
{
	int next = sidecar_status_next(status_of(sc, i), ev);

	if (next < 0) {
		log_warnx("sidecar vp%u: event %d refused in status %s", i, ev,
			  sidecar_status_name(status_of(sc, i)));
		return;
	}
	__atomic_store_n(&sc->ctl->status[i], (uint32_t)next, __ATOMIC_RELEASE);
}

static void regs_to_page(const struct vp_regs *r, struct sidecar_regs *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	memcpy(p->gpr, r->gpr, sizeof(p->gpr));
	p->rip = r->rip;
	p->rflags = r->rflags;
	p->cr0 = r->cr0;
	p->cr2 = r->cr2;
	p->cr3 = r->cr3;
	p->cr4 = r->cr4;
	p->efer = r->efer;
	p->pat = r->pat;
	for (i = 0; i < VP_NR_SEGS; i++)
		p->seg[i] =
		    (struct sidecar_segment){ r->seg[i].base, r->seg[i].limit,
					      r->seg[i].selector,
					      r->seg[i].attrib };
	p->gdtr_base = r->gdtr.base;
	p->gdtr_limit = r->gdtr.limit;
	p->idtr_base = r->idtr.base;
	p->idtr_limit = r->idtr.limit;
}

static void regs_from_page(const struct sidecar_regs *p, struct vp_regs *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	memcpy(r->gpr, p->gpr, sizeof(r->gpr));
	r->rip = p->rip;
	r->rflags = p->rflags;
	r->cr0 = p->cr0;
	r->cr2 = p->cr2;
	r->cr3 = p->cr3;
	r->cr4 = p->cr4;
	r->efer = p->efer;
	r->pat = p->pat;
	for (i = 0; i < VP_NR_SEGS; i++)
		r->seg[i] =
		    (struct vp_segment){ p->seg[i].base, p->seg[i].limit,
					 p->seg[i].selector, p->seg[i].attrib };
	r->gdtr.base = p->gdtr_base;
	r->gdtr.limit = p->gdtr_limit;
	r->idtr.base = p->idtr_base;
	r->idtr.limit = p->idtr_limit;
}

/* ---- the sidecar side ---- */

/* The stop flag each sidecar exit reads never shares a cache line with
 * the main loop's per-exit counters (sidecar.h). */
static_assert(offsetof(struct sidecar, intercepts) -
		      offsetof(struct sidecar, stopping) >=
		  64,
	      "stopping and intercepts share a cache line");
/* Nor do a VP's fields that its sidecar thread writes on each exit share
 * one with those the main loop reads or counts in (vm.h). */
static_assert(offsetof(struct vp, sidecar_seen) >=
		  offsetof(struct vp, counters) + sizeof(struct vp_counters) +
		      64,
	      "sidecar_seen shares a cache line with the counters");
static_assert(sizeof(struct vp) - offsetof(struct vp, samples_handler) > 64,
	      "a VP's per-exit fields share a cache line with the next VP");

/* After a sequentially consistent store of something the main loop waits
 * for: wake it if it sleeps (it sets main_waiting, then looks again). */
static void main_wake(struct sidecar *sc)
{
	if (__atomic_load_n(&sc->ctl->main_waiting, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&sc->ctl->request, 1, __ATOMIC_SEQ_CST);
		futex_wake(&sc->ctl->request);
	}
}

/* VP i's intercept is on its page: an awake main loop sees posted
 * change; a sleeping one gets the attention bit and a wake. */
static void post_attention(struct sidecar *sc, unsigned i)
{
	struct sidecar_cmd_page *p = page_of(sc, i);

	__atomic_store_n(&p->posted, p->posted + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&sc->ctl->main_waiting, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_or(&sc->ctl->needs_attention[i / 64],
				  1ull << (i % 64), __ATOMIC_SEQ_CST);
		main_wake(sc);
	}
}

/* A synchronous command is done: bump done for sidecar_call. */
static void complete_sync(struct sidecar_cmd_page *p, uint32_t err)
{
	p->has_error = err != SIDECAR_OK;
	p->error = err;
	futex_post(&p->done, &p->main_waiting);
}

/* The seq value this VP's thread has seen, shared by its outer loop and
 * the access path inside vp_run. */
static uint32_t *seen_of(struct vp *vp)
{
	return &vp->sidecar_seen;
}

void sidecar_vp_access(struct vp *vp, uint32_t kind, uint64_t addr,
		       uint64_t *data, unsigned len, bool is_write)
{
	struct sidecar *sc = vp->vm->sidecar;
	struct sidecar_cmd_page *p = page_of(sc, vp->index);

	/* Stopping: the main loop answers no more. One KVM run can bring
	 * many accesses (the coalesced ring drained at once); the stop's
	 * single post of seq only ends the one waiting. */
	if (atomic_load(&sc->stopping)) {
		if (!is_write)
			*data = ~0ull;
		return;
	}
	p->intercept.kind = kind;
	p->intercept.size = (uint8_t)len;
	p->intercept.addr = addr;
	p->intercept.data = is_write ? *data : ~0ull;
	p->intercept.is_write = is_write;
	post_attention(sc, vp->index);
	*seen_of(vp) = futex_wait_change(&p->seq, *seen_of(vp),
					 &p->sidecar_waiting, SIDECAR_SPINS);
	if (!is_write)
		*data = atomic_load(&sc->stopping) ? ~0ull : p->intercept.data;
}

static uint32_t do_translate(struct sidecar *sc, struct vp *vp,
			     struct sidecar_cmd_page *p)
{
	struct guest_ram ram = vm_guest_ram(sc->vm);
	struct vp_regs r;
	uint64_t gva, gpa;

	if (sc->vm->cfg.accel->vp_get_regs(vp->avp, &r) != 0)
		return SIDECAR_ERR_ACCEL;
	memcpy(&gva, p->request_data, sizeof(gva));
	if (translate_gva(&ram, r.cr3, gva, &gpa) != 0)
		return SIDECAR_ERR_UNMAPPED;
	memcpy(p->request_data, &gpa, sizeof(gpa));
	return SIDECAR_OK;
}

static uint32_t do_regs(struct sidecar *sc, struct vp *vp,
			struct sidecar_cmd_page *p, bool set)
{
	const struct accel_ops *a = sc->vm->cfg.accel;
	struct vp_regs r;
	char why[128];

	if (!set) {
		if (a->vp_get_regs(vp->avp, &r) != 0)
			return SIDECAR_ERR_ACCEL;
		regs_to_page(&r, &p->regs);
		return SIDECAR_OK;
	}
	regs_from_page(&p->regs, &r);
	if (vpregs_check(&r, why, sizeof(why)) != 0)
		return SIDECAR_ERR_REGS;
	return a->vp_set_regs(vp->avp, &r) == 0 ? SIDECAR_OK
						: SIDECAR_ERR_ACCEL;
}

static uint32_t exit_kind(enum vp_stop why)
{
	switch (why) {
	case VP_STOP_HALT:
		return SIDECAR_EXIT_HALT;
	case VP_STOP_SHUTDOWN:
		return SIDECAR_EXIT_SHUTDOWN;
	case VP_STOP_FAULT:
		return SIDECAR_EXIT_FAULT;
	default:
		return SIDECAR_EXIT_KICKED;
	}
}

/* RUN_VP: runs until the VP stops; posts why. Returns false when the
 * thread must leave (hot-plug). */
static bool run_vp(struct sidecar *sc, struct vp *vp,
		   struct sidecar_cmd_page *p)
{
	const struct accel_ops *a = sc->vm->cfg.accel;
	char reason[SIDECAR_REASON_MAX] = "";
	struct vp_regs r;
	enum vp_stop why;

	status_move(sc, vp->index, SIDECAR_EV_RUN);
	if (a->vp_run(vp->avp, &why, reason, sizeof(reason)) != 0)
		why = VP_STOP_FAULT;
	memset(&p->intercept, 0, sizeof(p->intercept));
	p->intercept.kind = exit_kind(why);
	if (a->vp_get_regs(vp->avp, &r) == 0)
		p->intercept.rip = r.rip;
	snprintf(p->intercept.reason, sizeof(p->intercept.reason), "%s",
		 reason);
	status_move(sc, vp->index, SIDECAR_EV_STOPPED);
	if (status_of(sc, vp->index) == SIDECAR_REMOVE) {
		atomic_store(&vp->on_sidecar, false);
		status_move(sc, vp->index, SIDECAR_EV_EXITED);
		post_attention(sc, vp->index);
		return false;
	}
	post_attention(sc, vp->index);
	return true;
}

static void pin_thread(unsigned index)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (n <= 1)
		return;
	CPU_ZERO(&set);
	CPU_SET((int)(index % (unsigned long)n), &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		log_debug("sidecar vp%u: not pinned", index);
}

/* Does nothing but take commands from its page and run its VP. */
static void *sidecar_thread(void *arg)
{
	struct vp *vp = arg;
	struct sidecar *sc = vp->vm->sidecar;
	struct sidecar_cmd_page *p = page_of(sc, vp->index);

	pin_thread(vp->index);
	if (sc->cfg.thread_filter) {
		char err[160];

		/* The tightest filter of all: run the VP, wait, wake. */
		if (sandbox_thread_filter(SANDBOX_PROFILE_SIDECAR,
					  sc->cfg.kvm ? SANDBOX_F_KVM : 0, err,
					  sizeof(err)) != 0) {
			vm_crash(sc->vm, "sidecar vp%u: %s", vp->index, err);
			return NULL;
		}
	}
	while (!atomic_load(&sc->stopping)) {
		uint32_t err;

		*seen_of(vp) = futex_wait_change(
		    &p->seq, *seen_of(vp), &p->sidecar_waiting, SIDECAR_SPINS);
		if (atomic_load(&sc->stopping))
			break;
		err = sidecar_check_command(p, vp->index, sc->ctl->n_vps);
		if (err != SIDECAR_OK) {
			complete_sync(p, err);
			continue;
		}
		switch (p->command) {
		case SIDECAR_CMD_RUN_VP:
			if (!run_vp(sc, vp, p))
				return NULL;
			break;
		case SIDECAR_CMD_GET_VP_REGISTERS:
			complete_sync(p, do_regs(sc, vp, p, false));
			break;
		case SIDECAR_CMD_SET_VP_REGISTERS:
			complete_sync(p, do_regs(sc, vp, p, true));
			break;
		case SIDECAR_CMD_TRANSLATE_GVA:
			complete_sync(p, do_translate(sc, vp, p));
			break;
		}
	}
	return NULL;
}

/* ---- the main loop side ---- */

static void post_command(struct sidecar *sc, unsigned i, uint32_t command)
{
	struct sidecar_cmd_page *p = page_of(sc, i);

	if (sc->cfg.log)
		log_info("sidecar vp%u: %s", i, sidecar_command_name(command));
	__atomic_store_n(&p->command, command, __ATOMIC_RELEASE);
	futex_post(&p->seq, &p->sidecar_waiting);
}

uint32_t sidecar_call(struct sidecar *sc, unsigned index, uint32_t command)
{
	struct sidecar_cmd_page *p = page_of(sc, index);
	uint32_t done = __atomic_load_n(&p->done, __ATOMIC_ACQUIRE);

	p->has_error = 0;
	p->error = 0;
	post_command(sc, index, command);
	for (unsigned i = 0; i < SIDECAR_SPINS; i++) {
		if (__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) != done)
			return p->has_error ? p->error : SIDECAR_OK;
		cpu_relax();
	}
	/* A stopping sidecar thread may leave without answering: wait in
	 * slices and give up once the sidecar stops. */
	for (;;) {
		__atomic_store_n(&p->main_waiting, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&p->done, __ATOMIC_SEQ_CST) != done)
			break;
		if (atomic_load(&sc->stopping)) {
			__atomic_store_n(&p->main_waiting, 0, __ATOMIC_RELAXED);
			return SIDECAR_ERR_STATE;
		}
		futex_wait(&p->done, done, SIDECAR_CALL_SLICE_NS);
	}
	__atomic_store_n(&p->main_waiting, 0, __ATOMIC_RELAXED);
	return p->has_error ? p->error : SIDECAR_OK;
}

/* The mailbox started VP i: registers, then run. */
static void host_start_vp(struct sidecar *sc, unsigned i)
{
	struct vp *vp = &sc->vm->vps[i];
	uint32_t err;

	regs_to_page(&vp->start_regs, &page_of(sc, i)->regs);
	err = sidecar_call(sc, i, SIDECAR_CMD_SET_VP_REGISTERS);
	if (err != SIDECAR_OK) {
		vm_crash(sc->vm, "sidecar vp%u: SET_VP_REGISTERS: %s", i,
			 sidecar_strerror(err));
		return;
	}
	post_command(sc, i, SIDECAR_CMD_RUN_VP);
}

/* Hot-plug done: the sidecar thread left; a full VP thread takes over. */
static void host_hotplug(struct sidecar *sc, unsigned i)
{
	struct vp *vp = &sc->vm->vps[i];

	pthread_join(vp->sidecar_thread, NULL);
	vp->sidecar_thread_started = false;
	atomic_fetch_or(&sc->hotplugged, 1ull << i);
	log_info("sidecar vp%u: hot-plugged after %llu exits", i,
		 (unsigned long long)sc->intercepts[i]);
	if (vm_start_vp_thread(vp, true) != 0)
		vm_crash(sc->vm, "vp%u: cannot start its thread", i);
}

/* An exit of VP i's device access: emulate it, maybe hot-plug, answer. */
static void host_access(struct sidecar *sc, unsigned i)
{
	struct sidecar_cmd_page *p = page_of(sc, i);
	struct sidecar_intercept *ic = &p->intercept;
	struct vp *vp = &sc->vm->vps[i];
	uint64_t data = ic->data;

	if (sidecar_check_intercept(ic) != SIDECAR_OK) {
		vm_crash(sc->vm, "sidecar vp%u: malformed intercept", i);
		post_command(sc, i, SIDECAR_CMD_RUN_VP);
		return;
	}
	if (sc->cfg.log)
		log_info("sidecar vp%u: intercept %s %s 0x%llx", i,
			 sidecar_exit_name(ic->kind),
			 ic->is_write ? "write" : "read",
			 (unsigned long long)ic->addr);
	if (ic->kind == SIDECAR_EXIT_IO)
		devices_pio(vp, (uint16_t)ic->addr, &data, ic->size,
			    ic->is_write);
	else
		devices_mmio(vp, ic->addr, &data, ic->size, ic->is_write);
	ic->data = data;
	if (++sc->intercepts[i] == sc->cfg.hotplug_threshold &&
	    status_of(sc, i) == SIDECAR_RUN) {
		status_move(sc, i, SIDECAR_EV_REMOVE);
		sc->vm->cfg.accel->vp_kick(vp->avp);
	}
	post_command(sc, i, SIDECAR_CMD_RUN_VP);
}

/* VP i's RUN_VP ended (halt, crash, kick) or its access waits. */
static void host_attend(struct sidecar *sc, unsigned i)
{
	struct sidecar_intercept *ic = &page_of(sc, i)->intercept;
	struct vp *vp = &sc->vm->vps[i];

	switch (ic->kind) {
	case SIDECAR_EXIT_IO:
	case SIDECAR_EXIT_MMIO:
		host_access(sc, i);
		return;
	case SIDECAR_EXIT_KICKED:
		if (status_of(sc, i) == SIDECAR_REMOVED) {
			host_hotplug(sc, i);
		} else if (atomic_load(&sc->vm->pause_requested)) {
			sc->parked |= 1ull << i;
			vm_vp_count_parked(vp, true);
		} else if (atomic_load(&sc->vm->state) == VM_STATE_RUNNING) {
			post_command(sc, i, SIDECAR_CMD_RUN_VP);
		}
		return;
	case SIDECAR_EXIT_HALT:
		vm_vp_stopped(vp, VP_STOP_HALT, "", ic->rip);
		return;
	default:
		ic->reason[SIDECAR_REASON_MAX - 1] = '\0';
		vm_vp_stopped(vp,
			      ic->kind == SIDECAR_EXIT_SHUTDOWN
				  ? VP_STOP_SHUTDOWN
				  : VP_STOP_FAULT,
			      ic->reason, ic->rip);
	}
}

/* Sidecar VPs whose posted word moved since the main loop last looked. */
static uint64_t host_posted(struct sidecar *sc)
{
	uint64_t mask = 0;
	unsigned i;

	for (i = 1; i < sc->ctl->n_vps; i++)
		if (__atomic_load_n(&sc->pages[i].posted, __ATOMIC_SEQ_CST) !=
		    sc->posted_seen[i])
			mask |= 1ull << i;
	return mask;
}

static bool host_has_work(struct sidecar *sc)
{
	return host_posted(sc) != 0 || atomic_load(&sc->start_pending) != 0 ||
	       atomic_load(&sc->resume_pending) || atomic_load(&sc->stopping);
}

/* Every running sidecar VP that is idle (parked, or just restored) runs
 * again. */
static void host_resume(struct sidecar *sc)
{
	unsigned i;

	for (i = 1; i < sc->ctl->n_vps; i++) {
		struct vp *vp = &sc->vm->vps[i];

		if (sc->parked & (1ull << i)) {
			sc->parked &= ~(1ull << i);
			vm_vp_count_parked(vp, false);
		}
		if (atomic_load(&vp->on_sidecar) &&
		    atomic_load(&vp->state) == VP_RUNNING &&
		    status_of(sc, i) == SIDECAR_IDLE)
			post_command(sc, i, SIDECAR_CMD_RUN_VP);
	}
}

/* Polls the pages (loads only: each line stays shared until its sidecar
 * writes it), then sleeps on request with main_waiting set. */
static void host_wait(struct sidecar *sc)
{
	uint32_t seen;
	unsigned i;

	for (i = 0; i < SIDECAR_SPINS; i++) {
		if (host_has_work(sc))
			return;
		cpu_relax();
	}
	seen = __atomic_load_n(&sc->ctl->request, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sc->ctl->main_waiting, 1, __ATOMIC_SEQ_CST);
	if (!host_has_work(sc))
		futex_wait(&sc->ctl->request, seen, 0);
	__atomic_store_n(&sc->ctl->main_waiting, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sc->ctl->needs_attention[0], 0, __ATOMIC_RELAXED);
}

static void *host_loop(void *arg)
{
	struct sidecar *sc = arg;

	pin_thread(0); /* the linux CPU serves the sidecars, as in OpenHCL */
	while (!atomic_load(&sc->stopping)) {
		uint64_t starts = 0, posted;

		host_wait(sc);
		if (atomic_load(&sc->resume_pending) &&
		    atomic_exchange(&sc->resume_pending, false))
			host_resume(sc);
		if (atomic_load(&sc->start_pending) != 0)
			starts = atomic_exchange(&sc->start_pending, 0);
		posted = host_posted(sc);
		for (unsigned i = 0; i < sc->ctl->n_vps; i++) {
			if (posted & (1ull << i)) {
				sc->posted_seen[i] = sc->pages[i].posted;
				host_attend(sc, i);
			}
			if (starts & (1ull << i))
				host_start_vp(sc, i);
		}
	}
	return NULL;
}

void sidecar_resume(struct sidecar *sc)
{
	atomic_store(&sc->resume_pending, true);
	main_wake(sc);
}

void sidecar_request_start(struct sidecar *sc, unsigned index)
{
	atomic_fetch_or(&sc->start_pending, 1ull << index);
	main_wake(sc);
}

/* ---- set-up ---- */

static int map_region(struct sidecar *sc, unsigned n_vps)
{
	sc->size = SIDECAR_REGION_SIZE(n_vps);
	sc->fd = sc->cfg.region_fd;
	if (sc->fd < 0)
		sc->fd = util_memfd_create("parapet-sidecar", sc->size);
	if (sc->fd < 0)
		return -1;
	if (util_fd_size(sc->fd) < (long long)sc->size) {
		log_warnx("sidecar region: %lld bytes, %zu needed",
			  util_fd_size(sc->fd), sc->size);
		return -1;
	}
	sc->ctl = util_map(sc->fd, sc->size, PROT_READ | PROT_WRITE);
	if (sc->ctl == NULL)
		return -1;
	sc->pages = (struct sidecar_cmd_page *)(sc->ctl + 1);
	return 0;
}

int sidecar_create(struct sidecar *sc, struct vm *vm,
		   const struct sidecar_config *cfg)
{
	unsigned i, n = vm->cfg.n_vps;

	memset(sc, 0, sizeof(*sc));
	sc->vm = vm;
	sc->cfg = *cfg;
	sc->fd = -1;
	if (n > SIDECAR_MAX_VPS || (cfg->vp_mask & 1)) {
		log_warnx(
		    "sidecar: VP 0 is never a sidecar CPU, at most %u VPs",
		    SIDECAR_MAX_VPS);
		return -1;
	}
	if (map_region(sc, n) != 0) {
		log_warn("sidecar region");
		return -1;
	}
	memset(sc->ctl, 0, sc->size);
	sc->ctl->magic = SIDECAR_MAGIC;
	sc->ctl->version = SIDECAR_VERSION;
	sc->ctl->n_vps = n;
	sc->ctl->flags = cfg->log ? SIDECAR_FLAG_LOG : 0;
	for (i = 0; i < n; i++) {
		bool on = cfg->vp_mask & (1ull << i);

		sc->pages[i].vp_index = i;
		sc->ctl->status[i] = on ? SIDECAR_IDLE : SIDECAR_REMOVED;
		atomic_store(&vm->vps[i].on_sidecar, on);
	}
	vm->sidecar = sc;
	return 0;
}

void sidecar_destroy(struct sidecar *sc)
{
	if (sc->vm == NULL)
		return; /* never created */
	if (sc->ctl != NULL)
		util_unmap(sc->ctl, sc->size);
	if (sc->fd >= 0 && sc->fd != sc->cfg.region_fd)
		close(sc->fd);
	if (sc->vm != NULL && sc->vm->sidecar == sc)
		sc->vm->sidecar = NULL;
	sc->ctl = NULL;
}

int sidecar_start(struct sidecar *sc)
{
	unsigned i;

	for (i = 0; i < sc->ctl->n_vps; i++) {
		struct vp *vp = &sc->vm->vps[i];

		if (!atomic_load(&vp->on_sidecar))
			continue;
		if (pthread_create(&vp->sidecar_thread, NULL, sidecar_thread,
				   vp) != 0)
			return -1;
		vp->sidecar_thread_started = true;
	}
	if (pthread_create(&sc->host, NULL, host_loop, sc) != 0)
		return -1;
	sc->host_started = true;
	return 0;
}

void sidecar_reset(struct sidecar *sc)
{
	unsigned i;

	for (i = 0; i < sc->ctl->n_vps; i++) {
		struct vp *vp = &sc->vm->vps[i];

		if (!atomic_load(&vp->on_sidecar))
			continue;
		atomic_store(&vp->on_sidecar, false);
		atomic_fetch_or(&sc->hotplugged, 1ull << i);
		__atomic_store_n(&sc->ctl->status[i], (uint32_t)SIDECAR_REMOVED,
				 __ATOMIC_RELEASE);
		log_info("sidecar vp%u: a full VP from this reset on", i);
	}
	/* Nothing the stopped threads posted is news to the next main loop
	 * (it would take a posted kick of a removed VP for a hot-plug). */
	for (i = 0; i < sc->ctl->n_vps; i++)
		sc->posted_seen[i] =
		    __atomic_load_n(&sc->pages[i].posted, __ATOMIC_ACQUIRE);
	atomic_store(&sc->start_pending, 0);
	atomic_store(&sc->resume_pending, false);
	sc->parked = 0;
	atomic_store(&sc->stopping, false);
}

void sidecar_stop(struct sidecar *sc)
{
	unsigned i;

	atomic_store(&sc->stopping, true);
	main_wake(sc);
	if (sc->host_started)
		pthread_join(sc->host, NULL);
	sc->host_started = false;
	for (i = 0; i < sc->ctl->n_vps; i++) {
		struct vp *vp = &sc->vm->vps[i];

		if (!vp->sidecar_thread_started)
			continue;
		if (status_of(sc, i) != SIDECAR_REMOVED)
			status_move(sc, i, SIDECAR_EV_STOP);
		sc->vm->cfg.accel->vp_kick(vp->avp);
		futex_post(&page_of(sc, i)->seq,
			   &page_of(sc, i)->sidecar_waiting);
		pthread_join(vp->sidecar_thread, NULL);
		vp->sidecar_thread_started = false;
	}
}
