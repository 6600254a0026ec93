/* Guest RAM as the loader and the VM see it: one host mapping of the
 * guest-physical range [0, size), minus a VTL2-protectable hole that the
 * guest never sees. */
#ifndef PARAPET_GUEST_RAM_H
#define PARAPET_GUEST_RAM_H

#include <stdint.h>

struct guest_ram {
	uint8_t *mem;
	uint64_t size;
	uint64_t hole_gpa;
	uint64_t hole_size;
};

/* Host pointer for [gpa, gpa+len) if it lies in RAM and outside the hole;
 * NULL otherwise. Overflow-safe for any gpa and len. */
static inline void *guest_ram_ptr(const struct guest_ram *r, uint64_t gpa,
				  uint64_t len)
{
	if (len > r->size || gpa > r->size - len)
		return (void *)0;
	if (r->hole_size != 0 && gpa < r->hole_gpa + r->hole_size &&
	    gpa + len > r->hole_gpa)
		return (void *)0;
	return r->mem + gpa;
}

#endif
