/* The accelerator interface: one small set of operations that the VM core
 * uses to run VPs, implemented by KVM (accel_kvm.c) and Unicorn
 * (accel_emu.c). Port and MMIO accesses are dispatched to the device table
 * from inside the accelerator (synchronously, on the VP's thread), so that
 * an exit on emu never leaves the engine. */
#ifndef PARAPET_ACCEL_H
#define PARAPET_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "services/vmworker/vpregs.h"

struct vm;
struct vp;
struct accel_vm;
struct accel_vp;

/* Why vp_run returned (I/O and MMIO never return: they are handled
 * inside). */
enum vp_stop {
	VP_STOP_KICKED,	  /* vp_kick() or a device asked the VP to stop */
	VP_STOP_HALT,	  /* HLT with nothing to wake it */
	VP_STOP_SHUTDOWN, /* triple fault */
	VP_STOP_FAULT,	  /* exception (emu), internal or emulation error */
};

/* A guest-physical range of RAM that the accelerator maps. */
struct accel_mem_slot {
	uint64_t gpa;
	uint64_t size;
	void *host;
};

struct accel_ops {
	const char *name;
	/* Creates the VM over the RAM slots; every other gpa below 4 GiB
	 * (and above, where the accelerator allows) is MMIO. */
	int (*vm_create)(struct vm *vm, const struct accel_mem_slot *slots,
			 size_t n_slots, struct accel_vm **out);
	void (*vm_destroy)(struct accel_vm *avm);
	int (*vp_create)(struct accel_vm *avm, struct vp *vp,
			 struct accel_vp **out);
	void (*vp_destroy)(struct accel_vp *avp);
	int (*vp_get_regs)(struct accel_vp *avp, struct vp_regs *regs);
	int (*vp_set_regs)(struct accel_vp *avp, const struct vp_regs *regs);
	/* Runs the VP until it must stop; fills why (and a reason text for
	 * faults, at most reason_len bytes). Called on the VP's thread. */
	int (*vp_run)(struct accel_vp *avp, enum vp_stop *why, char *reason,
		      size_t reason_len);
	/* From any thread: make vp_run return VP_STOP_KICKED soon. */
	void (*vp_kick)(struct accel_vp *avp);
	/* State beyond vp_regs, for save and restore; NULL: none. */
	int (*vp_get_extra)(struct accel_vp *avp, struct vp_extra *x);
	int (*vp_set_extra)(struct accel_vp *avp, const struct vp_extra *x);
	/* Reset: guest RAM was rewritten behind the VP's back; forget any
	 * code translated from it and stops pending from the VM that ended.
	 * NULL: nothing cached. */
	void (*vp_flush_code)(struct accel_vp *avp);
};

extern const struct accel_ops accel_kvm_ops;
extern const struct accel_ops accel_emu_ops;

/* Returns 0 if KVM is usable (/dev/kvm opens and a VM can be created). */
int accel_kvm_probe(char *why, size_t why_len);
/* Loads libunicorn; returns 0 or -1 with why. */
int accel_emu_probe(char *why, size_t why_len);

/* The named accelerator ("kvm" or "emu") without trying KVM: for a
 * service whose accelerator the shim already chose (libunicorn is still
 * loaded here, before any sandbox). NULL with why on failure. */
const struct accel_ops *accel_lookup(const char *name, char *why,
				     size_t why_len);

/* Picks "kvm", "emu" or "auto" (kvm when it works, else emu). Returns the
 * ops or NULL with a message in why. */
const struct accel_ops *accel_select(const char *name, char *why,
				     size_t why_len);

#endif
