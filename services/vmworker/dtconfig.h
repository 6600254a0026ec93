/* vmworker's configuration from the boot device tree the shim built
 * (DESIGN.md §2): accelerator, VPs and their roles, memory and the VTL2
 * range, sidecar mode, VP 0's context. The tree is read with libfdt and
 * checked like any input. */
#ifndef PARAPET_DTCONFIG_H
#define PARAPET_DTCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/guest_abi.h"
#include "services/vmworker/vpregs.h"

struct dtconfig {
	char accel[8];	 /* kvm or emu */
	char log[16];	 /* log level, or "default" */
	char sandbox[8]; /* strict, log or off */
	unsigned n_vps;
	uint64_t mem_size;
	uint64_t hole_gpa, hole_size; /* VTL2-protectable range */
	uint64_t sidecar_mask;	      /* bit i: cpu@i has role sidecar */
	bool sidecar_log;	      /* sidecar=log */
	struct vp_regs bsp;	      /* from /parapet/vp-context */
	struct dtconfig_disk {
		bool present;
		bool read_only;
		bool blkd; /* served by parapet-blkd, else vhost-user */
		char label[256];
	} disks[GUEST_DISK_MAX]; /* /parapet/disks, by index */
};

/* Parses the blob (len bytes). Returns 0, or -1 with a one-line reason
 * naming the node or property in err. */
int dtconfig_parse(const void *fdt, size_t len, struct dtconfig *c, char *err,
		   size_t err_len);

#endif
