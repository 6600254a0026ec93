/* The guest-visible devices and their lookup table. The table is built
 * before the first VP runs and never changes after, so VP threads read it
 * without locks. Every handler has the same signature; each device brings
 * its own state and its reset, save and restore hooks (struct dev_ops). */
#ifndef PARAPET_DEVICES_H
#define PARAPET_DEVICES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vp;
struct vm;
struct ipc_arena;
struct Parapet__SavedState;

#define DEV_MAX 16 /* Parapet's own devices and up to 8 disks */

/* data: the value written, or where to put the value read (len bytes,
 * 1-8). Unread bytes of *data are all ones. */
typedef void (*dev_handler_fn)(struct vp *vp, uint64_t addr, uint64_t *data,
			       unsigned len, bool is_write, void *ctx);

/* One device: where it answers, and its hooks. Every hook is optional. */
struct dev_ops {
	const char *name;
	bool is_mmio;
	/* Writes have no effect a later access could observe (a sink): the
	 * accelerator may buffer them instead of exiting on each. */
	bool write_sink;
	/* Writes do nothing at all (a sink with no handler work): the exit
	 * paths count them and call no handler. Reads still go to it. */
	bool write_ignored;
	uint64_t base, len;
	dev_handler_fn handler;
	/* Bytes of per-VM state, zeroed, then reset; handed to the handler
	 * as ctx and to every hook. 0: none (ctx NULL). */
	size_t state_size;
	/* Power-on state: when the VM is created and when it is reset. */
	void (*reset)(void *state, struct vm *vm);
	/* Servicing (savestate.c). save fills this device's fields of the
	 * saved state (buffers from arena: they live until it is packed);
	 * check vets a decoded state before anything is applied, the only
	 * step of a restore that may refuse; restore then applies it. */
	int (*save)(void *state, struct vm *vm, struct Parapet__SavedState *st,
		    struct ipc_arena *arena);
	int (*check)(const struct Parapet__SavedState *st, char *err,
		     size_t err_len);
	void (*restore)(void *state, struct vm *vm,
			const struct Parapet__SavedState *st);
};

struct dev_entry {
	dev_handler_fn handler; /* ops->handler, one load less per exit */
	void *ctx;		/* the device's state */
	const struct dev_ops *ops;
	bool write_ignored; /* ops->write_ignored, likewise */
};

struct devices {
	struct dev_entry entries[DEV_MAX];
	unsigned n_entries;
	uint8_t pio_index[65536]; /* entry index + 1 per port; 0: none */
	/* Unknown accesses, over all VPs, for rate-limited warnings. */
	_Atomic uint64_t unknown_total;
};

/* Builds the table from the device list in devices.c (COM1, debug exit,
 * timestamp, mailbox, the test no-op port, the test MMIO window), each
 * device in its power-on state. 0, or -1 (logged). */
int devices_init(struct devices *d, struct vm *vm);
/* Adds one device (in its power-on state) at the end of the table.
 * 0, or -1 (logged) when the table already holds DEV_MAX devices or its
 * state cannot be allocated; the table is then unchanged. */
int devices_add(struct devices *d, struct vm *vm, const struct dev_ops *ops);
/* Frees the devices' state. */
void devices_fini(struct devices *d);
/* The state of the device called name, or NULL. */
void *devices_state(const struct devices *d, const char *name);

/* The exit paths: dispatch one access from a VP. */
void devices_pio(struct vp *vp, uint16_t port, uint64_t *data, unsigned len,
		 bool is_write);
void devices_mmio(struct vp *vp, uint64_t gpa, uint64_t *data, unsigned len,
		  bool is_write);

#endif
