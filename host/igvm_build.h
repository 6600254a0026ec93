/* Builds a Parapet IGVM image from a guest ELF and the measured paravisor
 * configuration, with the memory layout of lib/guest_abi.h.
 *
 * Image contents (header order): SUPPORTED_PLATFORM (VSM isolation,
 * highest VTL 2, mask 0x1); PARAMETER_AREA + COMMAND_LINE, VP_COUNT,
 * MEMORY_MAP, DEVICE_TREE (areas 0-3) and their PARAMETER_INSERTs at
 * GUEST_CMDLINE_GPA, GUEST_VP_COUNT_GPA, GUEST_MEMMAP_GPA, GUEST_DT_GPA;
 * measured PAGE_DATA: the GDT page (null, code64 0x08, data 0x10, busy
 * 64-bit TSS descriptor 0x18 for a TSS at GUEST_GDT_GPA + 0x80), PML4,
 * PDPT and 4 PDs identity-mapping 4 GiB with 2 MiB pages, zero stack
 * pages GUEST_STACK_BASE..TOP, the guest's PT_LOAD pages (p_paddr; bss
 * as zero pages); REQUIRED_MEMORY GUEST_VTL2_GPA/SIZE VTL2-protectable
 * with the pvconfig text in PAGE_DATA at its start; VP_CONTEXT for VP 0
 * (VTL 0): long mode, CR0 0x80050033, CR3 GUEST_PML4_GPA, CR4 0x620,
 * EFER 0x500, RIP e_entry, RSP GUEST_STACK_TOP, RSI GUEST_PARAM_BASE,
 * RFLAGS 0x2, IDTR empty. */
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
