/* Parapet's release and the saved-state format versions it reads and
 * writes (docs/servicing.md). Every program prints them with --version:
 *
 *   parapet-vmworker 0.10.0
 *   saved-state read 1 2
 *   saved-state write 1 2
 *
 * init reads that from a binary servicing is about to run; a binary that
 * prints nothing of the kind (release 0.9.0 and older) reads 1 only. */
#ifndef PARAPET_VERSION_H
#define PARAPET_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARAPET_VERSION "0.10.0"

/* vmworker's saved state (services/vmworker/savestate.h). */
#define SAVESTATE_READ_MIN  1u
#define SAVESTATE_READ_MAX  2u
#define SAVESTATE_WRITE_MIN 1u
#define SAVESTATE_WRITE_MAX 2u

/* A range of saved-state versions a binary reads. */
struct version_range {
	uint32_t min, max;
};

/* The one argument --version: prints prog's lines on stdout and returns
 * true (main then exits 0); false for anything else. */
bool version_asked(const char *prog, int argc, char *const *argv);

/* Prints the three lines of --version for prog on stdout. */
void version_print(const char *prog);

/* The "saved-state read A B" line of a --version output (text, len
 * bytes). 0 with r filled, or -1 when there is none or it is malformed. */
int version_parse_read(const char *text, size_t len, struct version_range *r);

#endif
