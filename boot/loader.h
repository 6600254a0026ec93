/* Loading an IGVM image into guest RAM, the shim's first steps (and
 * vmworker's in --standalone): VP 0's context, the pages (never those of a
 * VTL2-protectable range, which only Parapet reads), the measured
 * configuration, and the parameter areas (guest command line, VP count,
 * memory map, device tree). */
#ifndef PARAPET_LOADER_H
#define PARAPET_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/igvm.h"
#include "boot/pvconfig.h"
#include "lib/guest_ram.h"

/* What the image says before any RAM exists. */
struct loader_image {
	struct igvm_vp_regs bsp; /* VP 0's context */
	struct pvconfig config;	 /* measured configuration, or defaults */
	bool has_config;	 /* the image carried one */
	uint64_t hole_gpa;	 /* VTL2-protectable range */
	uint64_t hole_size;
	uint64_t min_mem; /* end of the highest page */
};

/* Dynamic values for the parameter areas. */
struct loader_params {
	const char *guest_cmdline; /* NULL: the image's default */
	unsigned n_vps;
	/* The guest's device tree, or NULL for a minimal one (cpus, memory,
	 * chosen/bootargs). */
	const void *guest_dtb;
	size_t guest_dtb_len;
};

/* Reads VP 0's context, the hole and the configuration. Returns 0, or -1
 * with a one-line reason in err. */
int loader_prepare(const struct igvm_file *f, struct loader_image *img,
		   char *err, size_t err_len);

/* Copies the pages into ram and fills the parameter areas. */
int loader_load(const struct igvm_file *f, const struct loader_image *img,
		const struct guest_ram *ram, const struct loader_params *p,
		char *err, size_t err_len);

#endif
