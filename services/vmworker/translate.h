/* Guest virtual to guest physical translation by walking the guest's
 * 4-level page tables in guest RAM (for the sidecar's TRANSLATE_GVA). */
#ifndef PARAPET_TRANSLATE_H
#define PARAPET_TRANSLATE_H

#include <stdint.h>

#include "lib/guest_ram.h"

/* Returns 0 and *gpa, or -1 when gva is not mapped (or a table lies
 * outside RAM). Long mode only: cr3 is the PML4's address. */
int translate_gva(const struct guest_ram *ram, uint64_t cr3, uint64_t gva,
		  uint64_t *gpa);

#endif
