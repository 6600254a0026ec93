/* Builds a Parapet IGVM image from a guest ELF and the measured paravisor
 * configuration, with the memory layout of lib/guest_abi.h. */
#ifndef PARAPET_IGVM_BUILD_H
#define PARAPET_IGVM_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "boot/pvconfig.h"
#include "host/elf_load.h"

/* Parameter area indexes of a Parapet image. */
#define IGVM_BUILD_AREA_CMDLINE	 0
#define IGVM_BUILD_AREA_VP_COUNT 1
#define IGVM_BUILD_AREA_MEMMAP	 2
#define IGVM_BUILD_AREA_DT	 3

/* Guest memory size limits (the page tables map the first 4 GiB and the
 * test MMIO window sits at GUEST_TEST_MMIO_GPA). */
#define IGVM_BUILD_MIN_MEM (2ULL << 20)
#define IGVM_BUILD_MAX_MEM GUEST_TEST_MMIO_GPA

enum igvm_build_status {
	IGVM_BUILD_OK = 0,
	IGVM_BUILD_FAILED = 1, /* out of memory, internal error */
	IGVM_BUILD_BAD_INPUT = 2,
};

/* The image (malloc'd) for elf with configuration cfg (its vp_count and
 * mem_size are the image defaults). On error, a one-line reason in err. */
int igvm_build_image(const struct elf_image *elf, const struct pvconfig *cfg,
		     uint8_t **out, size_t *len, char *err, size_t errlen);

#endif
