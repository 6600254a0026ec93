/* The guest-visible devices and their lookup table. The table is built
 * before the first VP runs and never changes after, so VP threads read it
 * without locks. Every handler has the same signature. */
#ifndef PARAPET_DEVICES_H
#define PARAPET_DEVICES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "services/vmworker/uart.h"

struct vp;
struct vm;
struct console;

#define DEV_MAX 8

/* data: the value written, or where to put the value read (len bytes,
 * 1-8). Unread bytes of *data are all ones. */
typedef void (*dev_handler_fn)(struct vp *vp, uint64_t addr, uint64_t *data,
			       unsigned len, bool is_write, void *ctx);

struct dev_entry {
	const char *name;
	bool is_mmio;
	/* Writes have no effect a later access could observe (a sink): the
	 * accelerator may buffer them instead of exiting on each. */
	bool write_sink;
	uint64_t base, len;
	dev_handler_fn handler;
	void *ctx;
};

struct devices {
	struct dev_entry entries[DEV_MAX];
	unsigned n_entries;
	uint8_t pio_index[65536]; /* entry index + 1 per port; 0: none */
	struct uart com1;
	_Atomic uint32_t mailbox_status;
	/* Unknown accesses, over all VPs, for rate-limited warnings. */
	_Atomic uint64_t unknown_total;
};

/* Builds the table: COM1, debug exit, timestamp, mailbox, the test
 * no-op port and the test MMIO window. */
void devices_init(struct devices *d, struct vm *vm, struct console *console);
/* Device state as at power-on (the table stays). */
void devices_reset(struct devices *d, struct console *console);

/* The exit paths: dispatch one access from a VP. */
void devices_pio(struct vp *vp, uint16_t port, uint64_t *data, unsigned len,
		 bool is_write);
void devices_mmio(struct vp *vp, uint64_t gpa, uint64_t *data, unsigned len,
		  bool is_write);

#endif
