/* Loading an IGVM image into a VM, as vmworker does until the shim hands
 * it a prepared partition: VP 0's context, the pages (never those of a
 * VTL2-protectable range), the measured configuration and the parameter
 * areas (guest command line, VP count, memory map, device tree). */
#ifndef PARAPET_IMAGE_H
#define PARAPET_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/igvm.h"
#include "boot/pvconfig.h"
#include "services/vmworker/vpregs.h"

struct vm;

struct image_boot {
	struct vp_regs bsp;	/* VP 0's context */
	struct pvconfig config; /* measured configuration, or defaults */
	bool has_config;	/* the image carried one */
	uint64_t hole_gpa;	/* VTL2-protectable range */
	uint64_t hole_size;
	uint64_t min_mem; /* end of the highest page */
};

/* Reads what the VM needs before it exists. Returns 0, or -1 with a
 * one-line reason in err. */
int image_prepare(const struct igvm_file *f, struct image_boot *b, char *err,
		  size_t err_len);

/* Copies the pages into guest RAM and fills the parameter areas. */
int image_load(const struct igvm_file *f, const struct image_boot *b,
	       struct vm *vm, const char *guest_cmdline, char *err,
	       size_t err_len);

#endif
