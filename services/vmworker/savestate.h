/* vmworker's saved state for servicing (DESIGN.md §8): a 24-byte header
 * (magic "PRPTSAVE", format version, size, CRC-32 of the body) and a
 * packed parapet.SavedState (proto/savedstate.proto). Restoring checks
 * everything before it changes anything: a corrupt, truncated or
 * mismatched state is refused whole. */
#ifndef PARAPET_SAVESTATE_H
#define PARAPET_SAVESTATE_H

#include <stddef.h>
#include <stdint.h>

struct vm;

#define SAVESTATE_MAGIC	      "PRPTSAVE"
#define SAVESTATE_VERSION     1u
#define SAVESTATE_HEADER_SIZE 24u
#define SAVESTATE_MAX_SIZE    (8u << 20)

struct savestate_header {
	char magic[8];
	uint32_t version;
	uint32_t size; /* bytes of body after the header */
	uint32_t crc32;
	uint32_t reserved; /* zero */
};

_Static_assert(sizeof(struct savestate_header) == SAVESTATE_HEADER_SIZE,
	       "saved state header");

/* Saves a paused VM (vm_pause) into a malloc'd buffer. 0 or -1. */
int savestate_save(struct vm *vm, uint8_t **out, size_t *len);

/* Restores buf into a VM created with the same shape (not yet running):
 * registers, run states, sidecar state, counters, and each device's
 * section through its hooks (devices.h; COM1's holds the console rings).
 * Returns 0, or -1 with a one-line reason in err (nothing applied). Then
 * vm_run(vm, NULL, ...) continues the guest. */
int savestate_restore(struct vm *vm, const uint8_t *buf, size_t len, char *err,
		      size_t err_len);

/* Writes a restore's refusal into err; returns -1. For the devices'
 * check hooks too (devices.h), so every refusal reads alike. */
int savestate_fail(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
