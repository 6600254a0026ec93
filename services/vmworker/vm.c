/* The VM core: guest RAM in a memfd, VP threads running the accelerator's
 * exit loop, and the VM's run state (running, powered off, crashed). */
#include "services/vmworker/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/guest_abi.h"
#include "lib/futex.h"
#include "lib/log.h"
#include "lib/util.h"

static int vm_make_slots(struct vm *vm, struct accel_mem_slot *slots)
{
	uint64_t size = vm->cfg.mem_size;
	uint64_t hole = vm->cfg.hole_gpa, hole_end = hole + vm->cfg.hole_size;
	int n = 0;

	if (vm->cfg.hole_size == 0 || hole >= size) {
		slots[n++] = (struct accel_mem_slot){ 0, size, vm->mem };
		return n;
	}
	if (hole > 0)
		slots[n++] = (struct accel_mem_slot){ 0, hole, vm->mem };
	if (hole_end < size)
		slots[n++] = (struct accel_mem_slot){ hole_end, size - hole_end,
						      vm->mem + hole_end };
	return n;
}

static int vm_map_ram(struct vm *vm, int mem_fd)
{
	if (mem_fd < 0) {
		mem_fd =
		    util_memfd_create("parapet-guest-ram", vm->cfg.mem_size);
		if (mem_fd < 0) {
			log_warn("memfd for %llu bytes of guest RAM",
				 (unsigned long long)vm->cfg.mem_size);
			return -1;
		}
	}
	/* Its size is fixed: a disk backend maps it and refuses a memfd
	 * that could shrink under it (SIGBUS). The shim sealed it already;
	 * sealing again is harmless. */
	if (util_memfd_seal(mem_fd, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
		log_debug("sealing guest RAM: %s", strerror(errno));
	vm->mem_fd = mem_fd;
	vm->mem = util_map(mem_fd, vm->cfg.mem_size, PROT_READ | PROT_WRITE);
	if (vm->mem == NULL) {
		log_warn("mmap guest RAM");
		return -1;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, int mem_fd)
{
	struct accel_mem_slot slots[2];
	unsigned i;
	int n;

	/* Static in vmworker: its untouched VP slots and port table stay
	 * out of memory. */
	util_zero(vm, sizeof(*vm));
	vm->cfg = *cfg;
	vm->mem_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	if (cfg->n_vps == 0 || cfg->n_vps > VM_MAX_VPS || cfg->mem_size == 0 ||
	    cfg->mem_size % 4096 != 0) {
		log_warnx("bad VM shape: %u VPs, %llu bytes", cfg->n_vps,
			  (unsigned long long)cfg->mem_size);
		return -1;
	}
	if (vm_map_ram(vm, mem_fd) != 0)
		return -1;
	if (devices_init(&vm->devs, vm) != 0)
		return -1;
	n = vm_make_slots(vm, slots);
	if (cfg->accel->vm_create(vm, slots, (size_t)n, &vm->avm) != 0)
		return -1;
	for (i = 0; i < cfg->n_vps; i++) {
		struct vp *vp = &vm->vps[i];

		vp->vm = vm;
		vp->index = i;
		atomic_init(&vp->state, VP_NOT_STARTED);
		if (cfg->accel->vp_create(vm->avm, vp, &vp->avp) != 0)
			return -1;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->cfg.n_vps; i++)
		if (vm->vps[i].avp != NULL)
			vm->cfg.accel->vp_destroy(vm->vps[i].avp);
	if (vm->avm != NULL)
		vm->cfg.accel->vm_destroy(vm->avm);
	virtio_blk_fini(vm);
	devices_fini(&vm->devs);
	if (vm->mem != NULL)
		util_unmap(vm->mem, vm->cfg.mem_size);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	memset(vm, 0, sizeof(*vm));
	vm->mem_fd = -1;
}

void *vm_gpa_ptr(struct vm *vm, uint64_t gpa, uint64_t len)
{
	struct guest_ram ram = vm_guest_ram(vm);

	return guest_ram_ptr(&ram, gpa, len);
}

struct guest_ram vm_guest_ram(const struct vm *vm)
{
	return (struct guest_ram){ vm->mem, vm->cfg.mem_size, vm->cfg.hole_gpa,
				   vm->cfg.hole_size };
}

const char *vm_state_name(int state)
{
	static const char *const names[] = {
		[VM_STATE_CREATED] = "created",
		[VM_STATE_RUNNING] = "running",
		[VM_STATE_POWEROFF] = "poweroff",
		[VM_STATE_CRASHED] = "crashed",
		[VM_STATE_STOPPED] = "stopped",
	};

	if (state < 0 || state > VM_STATE_STOPPED)
		return "unknown";
	return names[state];
}

static void vm_kick_all(struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->cfg.n_vps; i++)
		vm->cfg.accel->vp_kick(vm->vps[i].avp);
}

/* The first end of the VM wins; later ones are ignored. */
static bool vm_end(struct vm *vm, int state)
{
	bool won = false;

	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->state) == VM_STATE_RUNNING) {
		atomic_store(&vm->state, state);
		won = true;
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (won)
		vm_kick_all(vm);
	return won;
}

void vm_poweroff(struct vm *vm, int value)
{
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->state) == VM_STATE_RUNNING)
		vm->exit_value = value;
	pthread_mutex_unlock(&vm->lock);
	vm_end(vm, VM_STATE_POWEROFF);
}

void vm_crash(struct vm *vm, const char *fmt, ...)
{
	char reason[sizeof(vm->crash_reason)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->state) == VM_STATE_RUNNING)
		snprintf(vm->crash_reason, sizeof(vm->crash_reason), "%s",
			 reason);
	pthread_mutex_unlock(&vm->lock);
	vm_end(vm, VM_STATE_CRASHED);
}

void vm_stop(struct vm *vm)
{
	vm_end(vm, VM_STATE_STOPPED);
}

unsigned vm_start_vp(struct vm *vm, unsigned index, const struct vp_regs *regs)
{
	char why[128];
	struct vp *vp;
	unsigned status = GUEST_MAILBOX_OK;

	if (index == 0 || index >= vm->cfg.n_vps)
		return GUEST_MAILBOX_ENOVP;
	if (vpregs_check(regs, why, sizeof(why)) != 0)
		return GUEST_MAILBOX_EINVAL;
	vp = &vm->vps[index];
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vp->state) != VP_NOT_STARTED) {
		status = GUEST_MAILBOX_EBUSY;
	} else {
		vp->start_regs = *regs;
		atomic_store(&vp->state, VP_RUNNING);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	if (status == GUEST_MAILBOX_OK && atomic_load(&vp->on_sidecar))
		sidecar_request_start(vm->sidecar, index);
	return status;
}

/* No VP can make progress once every started one has halted: without
 * interrupts nothing wakes them. */
static bool vm_all_halted(struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->cfg.n_vps; i++)
		if (atomic_load(&vm->vps[i].state) == VP_RUNNING)
			return false;
	return true;
}

void vm_vp_stopped(struct vp *vp, enum vp_stop why, const char *reason,
		   uint64_t rip)
{
	struct vm *vm = vp->vm;

	switch (why) {
	case VP_STOP_HALT:
		vp->counters.halts++;
		atomic_store(&vp->state, VP_HALTED);
		if (vm_all_halted(vm))
			vm_crash(vm,
				 "every VP halted (last vp%u at RIP 0x%llx)",
				 vp->index, (unsigned long long)rip);
		break;
	case VP_STOP_SHUTDOWN:
	case VP_STOP_FAULT:
		vm_crash(vm, "vp%u: %s at RIP 0x%llx", vp->index, reason,
			 (unsigned long long)rip);
		break;
	case VP_STOP_KICKED:
		break;
	}
}

static uint64_t vp_rip(struct vp *vp)
{
	struct vp_regs regs;

	if (vp->vm->cfg.accel->vp_get_regs(vp->avp, &regs) != 0)
		return 0;
	return regs.rip;
}

static bool vp_wait_start(struct vp *vp)
{
	struct vm *vm = vp->vm;
	bool run;

	pthread_mutex_lock(&vm->lock);
	while (atomic_load(&vp->state) == VP_NOT_STARTED &&
	       atomic_load(&vm->state) == VM_STATE_RUNNING)
		pthread_cond_wait(&vm->cond, &vm->lock);
	run = atomic_load(&vm->state) == VM_STATE_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	return run;
}

static void *vp_thread(void *arg)
{
	struct vp *vp = arg;
	struct vm *vm = vp->vm;
	char reason[200];
	enum vp_stop why;

	if (!vp->resume && !vp_wait_start(vp))
		return NULL;
	if (!vp->resume &&
	    vm->cfg.accel->vp_set_regs(vp->avp, &vp->start_regs) != 0) {
		vm_crash(vm, "vp%u: the accelerator refused its registers",
			 vp->index);
		return NULL;
	}
	while (atomic_load(&vm->state) == VM_STATE_RUNNING &&
	       atomic_load(&vp->state) == VP_RUNNING) {
		reason[0] = '\0';
		vp->counters.runs++;
		/* before the run: a kick from here on ends a timestamp wait */
		vp->wake_seen =
		    __atomic_load_n(&vp->wake_seq, __ATOMIC_SEQ_CST);
		if (vm->cfg.accel->vp_run(vp->avp, &why, reason,
					  sizeof(reason)) != 0)
			why = VP_STOP_FAULT;
		vm_vp_stopped(vp, why, reason,
			      why == VP_STOP_KICKED ? 0 : vp_rip(vp));
		if (why == VP_STOP_KICKED)
			vm_vp_park(vp);
	}
	return NULL;
}

/* A kicked VP waits here while the VM is paused (its state stays in the
 * accelerator). */
void vm_vp_park(struct vp *vp)
{
	struct vm *vm = vp->vm;

	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->pause_requested)) {
		vm->parked++;
		pthread_cond_broadcast(&vm->cond);
		while (atomic_load(&vm->pause_requested) &&
		       atomic_load(&vm->state) == VM_STATE_RUNNING)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->parked--;
	}
	pthread_mutex_unlock(&vm->lock);
}

void vm_vp_count_parked(struct vp *vp, bool parked)
{
	struct vm *vm = vp->vm;

	pthread_mutex_lock(&vm->lock);
	if (parked)
		vm->parked++;
	else if (vm->parked > 0)
		vm->parked--;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

static unsigned vm_running_vps(struct vm *vm)
{
	unsigned i, n = 0;

	for (i = 0; i < vm->cfg.n_vps; i++)
		n += atomic_load(&vm->vps[i].state) == VP_RUNNING;
	return n;
}

int vm_pause(struct vm *vm)
{
	unsigned i;

	atomic_store(&vm->pause_requested, true);
	for (i = 0; i < vm->cfg.n_vps; i++)
		vm->cfg.accel->vp_kick(vm->vps[i].avp);
	pthread_mutex_lock(&vm->lock);
	while (vm->parked < vm_running_vps(vm) &&
	       atomic_load(&vm->state) == VM_STATE_RUNNING)
		pthread_cond_wait(&vm->cond, &vm->lock);
	vm->paused_ns = util_now_ns();
	pthread_mutex_unlock(&vm->lock);
	return atomic_load(&vm->state) == VM_STATE_RUNNING ? 0 : -1;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (vm->sidecar != NULL)
		sidecar_resume(vm->sidecar);
}

int vm_start_vp_thread(struct vp *vp, bool resume)
{
	vp->resume = resume;
	if (pthread_create(&vp->thread, NULL, vp_thread, vp) != 0)
		return -1;
	vp->thread_started = true;
	return 0;
}

/* Statistical profile: where each running VP is, every sample tick. */
static void vm_sample(struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->cfg.n_vps; i++) {
		struct vp *vp = &vm->vps[i];

		if (atomic_load(&vp->state) != VP_RUNNING)
			continue;
		if (atomic_load_explicit(&vp->in_exit, memory_order_relaxed))
			atomic_fetch_add(&vp->samples_handler, 1);
		else
			atomic_fetch_add(&vp->samples_guest, 1);
	}
}

/* Waits for the VM to end, sampling the VPs every VM_SAMPLE_MS while
 * the guest runs: a paused VM (servicing, the host's pause) is not
 * sampled and does not wake this thread (vm_resume and vm_end broadcast
 * the condition). Returns -1 when timeout_ms (0: none) passed first. */
static int vm_wait_end(struct vm *vm, unsigned timeout_ms)
{
	uint64_t deadline = util_deadline_ns(timeout_ms), now, wake;
	struct timespec until;
	int timed_out = 0;

	pthread_mutex_lock(&vm->lock);
	while (atomic_load(&vm->state) == VM_STATE_RUNNING) {
		bool paused = atomic_load(&vm->pause_requested);

		now = util_now_ns();
		if (timeout_ms != 0 && now >= deadline) {
			timed_out = 1;
			break;
		}
		wake = paused ? 0 : now + VM_SAMPLE_MS * UTIL_NS_PER_MS;
		if (timeout_ms != 0 && (wake == 0 || deadline < wake))
			wake = deadline;
		if (wake == 0) {
			pthread_cond_wait(&vm->cond, &vm->lock);
			continue;
		}
		until = util_abstime_ns(CLOCK_REALTIME, wake - now);
		pthread_cond_timedwait(&vm->cond, &vm->lock, &until);
		if (!atomic_load(&vm->pause_requested))
			vm_sample(vm);
	}
	pthread_mutex_unlock(&vm->lock);
	return timed_out ? -1 : 0;
}

/* Threads for every VP: full ones for the others, the sidecar's for its
 * CPUs. A restored VM's running VPs continue where they stood. */
static void vm_start_threads(struct vm *vm, bool restored)
{
	unsigned i;

	if (vm->sidecar != NULL && sidecar_start(vm->sidecar) != 0)
		vm_crash(vm, "cannot start the sidecar threads");
	for (i = 0; i < vm->cfg.n_vps; i++) {
		struct vp *vp = &vm->vps[i];
		int st = atomic_load(&vp->state);
		bool resume = restored && st == VP_RUNNING;

		if (atomic_load(&vp->on_sidecar) ||
		    (restored && st == VP_HALTED))
			continue;
		if (vm_start_vp_thread(vp, resume) != 0) {
			vm_crash(vm, "cannot start the thread of vp%u", i);
			break;
		}
	}
	if (restored && vm->sidecar != NULL)
		sidecar_resume(vm->sidecar);
}

int vm_run(struct vm *vm, const struct vp_regs *bsp_regs, unsigned timeout_ms)
{
	char why[128];
	unsigned i;
	int timed_out;
	bool restored = bsp_regs == NULL;

	if (!restored) {
		if (vpregs_check(bsp_regs, why, sizeof(why)) != 0) {
			log_warnx("VP 0 context refused: %s", why);
			return -1;
		}
		vm->bsp_start_regs = *bsp_regs;
		vm->vps[0].start_regs = *bsp_regs;
		atomic_store(&vm->vps[0].state, VP_RUNNING);
		vm->start_ns = util_now_ns();
	}
	if (restored)
		virtio_blk_resume(vm); /* inside the blackout */
	/* resumed_ns before the state: whoever sees the VM run reads it. */
	if (restored)
		__atomic_store_n(&vm->resumed_ns, util_now_ns(),
				 __ATOMIC_RELEASE);
	atomic_store(&vm->state, VM_STATE_RUNNING);
	if (restored)
		log_info("restored: blackout %.3f ms",
			 (double)(vm->resumed_ns - vm->paused_ns) / 1e6);
	/* Whoever waits for the VM to run (vmworker's Start) sleeps on it. */
	futex_wake_all((uint32_t *)(uintptr_t)&vm->state);
	vm_start_threads(vm, restored);
	timed_out = vm_wait_end(vm, timeout_ms);
	if (timed_out)
		vm_stop(vm);
	if (vm->sidecar != NULL)
		sidecar_stop(vm->sidecar);
	for (i = 0; i < vm->cfg.n_vps; i++) {
		if (!vm->vps[i].thread_started)
			continue;
		pthread_join(vm->vps[i].thread, NULL);
		vm->vps[i].thread_started = false;
	}
	return timed_out ? 1 : 0;
}
