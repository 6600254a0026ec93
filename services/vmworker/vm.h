/* The VM: guest RAM, VPs with their threads, devices and the VM's run
 * state. One per vmworker. */
#ifndef PARAPET_VM_H
#define PARAPET_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/futex.h"
#include "lib/guest_abi.h"
#include "lib/guest_ram.h"
#include "services/vmworker/accel.h"
#include "services/vmworker/devices.h"
#include "services/vmworker/sidecar.h"
#include "services/vmworker/virtio_blk.h"
#include "services/vmworker/vpregs.h"

#define VM_MAX_VPS   64
#define VM_SAMPLE_MS 2

enum vp_state {
	VP_NOT_STARTED, /* waits for the mailbox */
	VP_RUNNING,
	VP_HALTED,
	VP_STOPPED,
};

enum vm_state {
	VM_STATE_CREATED,
	VM_STATE_RUNNING,
	VM_STATE_POWEROFF, /* debug-exit: exit_value holds the value */
	VM_STATE_CRASHED,  /* crash_reason says why */
	VM_STATE_STOPPED,  /* stopped from outside (timeout, signal) */
};

/* Per-VP counters: written only by the VP's own thread. The exit path
 * counts per device; totals are summed when read (vp_exit_totals). */
struct vp_counters {
	uint64_t exits_pio;  /* carried over from a saved state */
	uint64_t exits_mmio; /* carried over from a saved state */
	uint64_t exits_unknown_pio;
	uint64_t exits_unknown_mmio;
	uint64_t vtl2_refused;
	uint64_t halts;
	uint64_t runs;
	uint64_t dev_exits[DEV_MAX];
};

struct vp {
	struct vm *vm;
	unsigned index;
	pthread_t thread;
	bool thread_started;
	bool resume; /* the thread continues a VP that already ran */
	/* Sidecar CPU: exits go through its command page (sidecar.c). */
	_Atomic bool on_sidecar;
	pthread_t sidecar_thread;
	bool sidecar_thread_started;
	_Atomic int state; /* enum vp_state */
	struct accel_vp *avp;
	struct vp_regs start_regs; /* set by the mailbox before starting */
	struct vp_counters counters;
	/* Bumped by every kick (vp_wake): ends a guest's timestamp wait. */
	uint32_t wake_seq;
	/* The fields below are written on each exit by the thread that runs
	 * the VP. A sidecar VP's exits are handled, and counted, by the
	 * sidecar main loop on another CPU, which reads the fields above
	 * (vm): the padding keeps them on other cache lines, here and
	 * against the next VP's (sharing one cost a sidecar exit a line's
	 * trip between CPUs; padding, not _Alignas: struct vm is calloc'ed). */
	char pad[64];
	uint32_t sidecar_seen; /* sidecar.c: the last seq its thread saw */
	/* Sampling profile: the VP thread marks device handling, the VM's
	 * main thread looks every VM_SAMPLE_MS while the VM runs unpaused (no
	 * clock read per exit). */
	_Atomic uint8_t in_exit;
	uint64_t io_data; /* emu: the port write being handled */
	_Atomic uint64_t samples_guest, samples_handler;
	/* The timestamp port's spin relief (devices.c), by the thread that
	 * handles the VP's exits. */
	uint64_t ts_last_ns, ts_spin_start_ns;
	uint64_t ts_sleeps; /* reads that slept first */
	uint64_t ts_exits;  /* device exits at the last read */
	bool ts_gap;
	/* Timestamp waits (GUEST_TS_WAIT): wake_seq when the run began. */
	uint32_t wake_seen;
	uint64_t ts_waits, ts_waits_woken; /* asked; ended by a kick */
	char pad_end[64];
};

struct vm_config {
	const struct accel_ops *accel;
	unsigned n_vps;
	uint64_t mem_size;
	/* Range the guest may never touch (VTL2-protectable), or size 0. */
	uint64_t hole_gpa, hole_size;
	/* Where the UART's bytes go and come from. */
	struct console *console;
	/* Let the accelerator buffer writes to sink devices (kvm: coalesced
	 * PIO/MMIO) instead of exiting on each. */
	bool coalesce_sinks;
	/* The guest's disks (virtio_blk.h), by index. */
	struct vm_disk_config disks[GUEST_DISK_MAX];
};

struct vm {
	struct vm_config cfg;
	int mem_fd;
	uint8_t *mem;
	struct accel_vm *avm;
	struct vp vps[VM_MAX_VPS];
	struct devices devs;
	struct sidecar *sidecar; /* NULL: every VP on a full thread */

	pthread_mutex_t lock; /* guards state changes below */
	pthread_cond_t cond;
	_Atomic int state; /* enum vm_state */
	int exit_value;
	char crash_reason[256];
	uint64_t start_ns;
	uint64_t first_insn_ns; /* the guest's first timeline mark */
	_Atomic bool pause_requested;
	unsigned parked;     /* VPs waiting out a pause (under lock) */
	uint64_t paused_ns;  /* when the last pause completed */
	uint64_t resumed_ns; /* first VP run after a restore */
	struct vp_regs bsp_start_regs; /* template for mailbox starts */
};

/* Creates guest RAM (a memfd) of cfg->mem_size, the VM and its VPs.
 * mem_fd >= 0 maps that memfd instead of making a new one. */
int vm_create(struct vm *vm, const struct vm_config *cfg, int mem_fd);
void vm_destroy(struct vm *vm);

/* Host pointer for [gpa, gpa+len) of RAM outside the hole, or NULL. */
void *vm_gpa_ptr(struct vm *vm, uint64_t gpa, uint64_t len);
struct guest_ram vm_guest_ram(const struct vm *vm);

/* Starts VP 0 with regs and waits until the VM powers off, crashes or is
 * stopped (timeout_ms 0: no timeout). bsp_regs NULL: the VM was restored
 * (savestate.h); its VPs continue as saved. */
int vm_run(struct vm *vm, const struct vp_regs *bsp_regs, unsigned timeout_ms);

/* Starts a VP from the mailbox (any VP thread). Returns a mailbox status. */
unsigned vm_start_vp(struct vm *vm, unsigned index, const struct vp_regs *regs);

/* Stops every VP where it stands (kicked and parked; sidecar VPs idle)
 * and returns once all have; vm_resume lets them run on. -1 when the VM
 * ended instead. Not from a VP thread. */
int vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* A kicked full VP waits out a pause here. */
void vm_vp_park(struct vp *vp);
/* The sidecar main loop counts its VPs in and out of a pause. */
void vm_vp_count_parked(struct vp *vp, bool parked);

/* Starts VP's full thread; resume: it continues where the VP stands. */
int vm_start_vp_thread(struct vp *vp, bool resume);

/* What a VP's stop means for the VM (halt, triple fault, fault). */
void vm_vp_stopped(struct vp *vp, enum vp_stop why, const char *reason,
		   uint64_t rip);

/* The exit paths the accelerators call: a sidecar VP's accesses go to
 * the main loop through its page, a full VP's straight to the devices. */
static inline void vp_exit_pio(struct vp *vp, uint16_t port, uint64_t *data,
			       unsigned len, bool is_write)
{
	atomic_store_explicit(&vp->in_exit, 1, memory_order_relaxed);
	if (__builtin_expect(
		atomic_load_explicit(&vp->on_sidecar, memory_order_relaxed), 0))
		sidecar_vp_access(vp, SIDECAR_EXIT_IO, port, data, len,
				  is_write);
	else
		devices_pio(vp, port, data, len, is_write);
	atomic_store_explicit(&vp->in_exit, 0, memory_order_relaxed);
}

static inline void vp_exit_mmio(struct vp *vp, uint64_t gpa, uint64_t *data,
				unsigned len, bool is_write)
{
	atomic_store_explicit(&vp->in_exit, 1, memory_order_relaxed);
	if (__builtin_expect(
		atomic_load_explicit(&vp->on_sidecar, memory_order_relaxed), 0))
		sidecar_vp_access(vp, SIDECAR_EXIT_MMIO, gpa, data, len,
				  is_write);
	else
		devices_mmio(vp, gpa, data, len, is_write);
	atomic_store_explicit(&vp->in_exit, 0, memory_order_relaxed);
}

/* Port and MMIO exits of vp so far (restored base included). */
void vp_exit_totals(const struct vp *vp, uint64_t *pio, uint64_t *mmio);

/* State changes requested by devices or from outside; the first one wins.
 * Every VP is kicked. */
void vm_poweroff(struct vm *vm, int value);
void vm_crash(struct vm *vm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vm_stop(struct vm *vm);
/* Back to the boot state from image_fd (the shim's boot image): see
 * reset.c. The VM must have ended (vm_run returned). 0, or -1 and err. */
int vm_reset(struct vm *vm, int image_fd, char *err, size_t err_len);

const char *vm_state_name(int state);

/* With every kick of vp (any thread): a timestamp wait the guest is in,
 * or starts in the run the kick ends, returns at once (devices.c). */
static inline void vp_wake(struct vp *vp)
{
	__atomic_fetch_add(&vp->wake_seq, 1, __ATOMIC_SEQ_CST);
	futex_wake(&vp->wake_seq);
}

/* A port access the device at pio_index idx (not 0) claimed, counted:
 * true when it is a write the device ignores (nothing more to do). */
static inline bool vp_pio_count(struct vp *vp, unsigned idx, bool is_write)
{
	vp->counters.dev_exits[idx - 1]++;
	return is_write && vp->vm->devs.entries[idx - 1].write_ignored;
}

/* ... else handed to the device's handler. */
static inline void vp_pio_handle(struct vp *vp, unsigned idx, uint16_t port,
				 uint64_t *data, unsigned len, bool is_write)
{
	const struct dev_entry *e = &vp->vm->devs.entries[idx - 1];

	e->handler(vp, port, data, len, is_write, e->ctx);
}

/* Both. Inline, so the emu port-write hook (which checks first, then
 * marks the exit) ends in the handler's call (a tail call) as
 * devices_pio() does. */
static inline void vp_pio_claimed(struct vp *vp, unsigned idx, uint16_t port,
				  uint64_t *data, unsigned len, bool is_write)
{
	if (!vp_pio_count(vp, idx, is_write))
		vp_pio_handle(vp, idx, port, data, len, is_write);
}

#endif
