/* vmworker's saved state for servicing (DESIGN.md §8): a 24-byte header
 * (magic "PRPTSAVE", format version, size, CRC-32 of the body) and a
 * packed parapet.SavedState (proto/savedstate.proto). Restoring checks
 * everything before it changes anything: a corrupt, truncated or
 * mismatched state is refused whole.
 *
 * Versions (docs/servicing.md): 1 is release 0.9.0's format, which reads
 * a header of version 1 with a zero reserved field only. 2 adds the
 * SavedState fields format_version and min_reader_version. This build
 * reads 1 and 2 and writes either (lib/version.h): version 1 exactly as
 * release 0.9.0 wrote it, for servicing down to that release. */
#ifndef PARAPET_SAVESTATE_H
#define PARAPET_SAVESTATE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/version.h"

struct vm;

#define SAVESTATE_MAGIC	      "PRPTSAVE"
#define SAVESTATE_VERSION     SAVESTATE_WRITE_MAX /* the newest written */
#define SAVESTATE_MIN_READER  2u /* the oldest reader of what 2 writes */
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

/* Saves a paused VM (vm_pause) into a malloc'd buffer in the newest
 * format. 0 or -1. */
int savestate_save(struct vm *vm, uint8_t **out, size_t *len);

/* The same in format version (SAVESTATE_WRITE_MIN..SAVESTATE_WRITE_MAX). */
int savestate_save_version(struct vm *vm, uint32_t version, uint8_t **out,
			   size_t *len);

/* The version to write for a next vmworker that reads reader: the newest
 * both sides know. 0 with *version set, or -1 with the reason in err
 * (no common version: the guest must not pause for it). */
int savestate_pick_version(const struct version_range *reader,
			   uint32_t *version, char *err, size_t err_len);

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
