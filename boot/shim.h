/* parapet-boot, the shim: its resolved configuration and the steps that
 * shim.c runs in order (configuration in shim_config.c, the boot device
 * tree in shim_dt.c, the kernel handoff in handoff.c). */
#ifndef PARAPET_SHIM_H
#define PARAPET_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "boot/igvm.h"
#include "boot/loader.h"
#include "boot/pvopts.h"
#include "boot/vmopts.h"
#include "lib/diskspec.h"
#include "lib/cpulist.h"
#include "lib/manifest.h"

#define SHIM_CMDLINE_MAX 8192

/* What the host device tree says (each field 0/NULL when absent). */
struct shim_host_dt {
	unsigned n_cpus;
	uint64_t mem_size;
	char bootargs[SHIM_CMDLINE_MAX];
	char accel[16];
	char sidecar_cpus[256];
};

struct shim {
	struct vmopts a; /* flags as `parapet run` passes them */
	uint64_t reftime_run_start;
	uint8_t *image_buf;
	size_t image_len;
	struct igvm_file image;
	struct loader_image img;
	struct shim_host_dt host;
	struct pvopts opts;
	char pv_cmdline[SHIM_CMDLINE_MAX]; /* merged paravisor cmdline */
	const char *guest_cmdline;
	/* the guest's command line with the disks' virtio_mmio.device words */
	char guest_cmdline_buf[SHIM_CMDLINE_MAX];
	struct diskspec disks[VMOPTS_DISK_MAX];
	unsigned n_disks;
	unsigned n_vps;
	uint64_t mem_size;
	const char *accel; /* "kvm" or "emu" */
	const char *sandbox;
	struct cpulist sidecar; /* CPUs with role sidecar */
	struct manifest manifest;
	uint8_t measurement[IGVM_MEASUREMENT_SIZE];
	uint8_t entropy[32];
	int ram_fd, sidecar_fd, dtb_fd, image_fd;
	size_t sidecar_size;
	uint64_t reftime_shim_start;
	void *dtb;
	size_t dtb_len;
};

/* What a file that is not an IGVM image is, for a hint on how to make
 * one (`parapet run` given the guest instead of its image). */
enum shim_image_kind {
	SHIM_IMAGE_OTHER = 0,
	SHIM_IMAGE_ELF,
	SHIM_IMAGE_PVH_ELF, /* with a XEN_ELFNOTE_PHYS32_ENTRY note */
	SHIM_IMAGE_BZIMAGE, /* "HdrS" at 0x202 */
};
enum shim_image_kind shim_image_kind(const uint8_t *buf, size_t len);

/* Each returns 0, or -1 after printing one line naming what is wrong. */
int shim_read_image(struct shim *s);
int shim_read_host_dt(struct shim *s);
int shim_resolve(struct shim *s);
int shim_load_ram(struct shim *s);
int shim_build_dt(struct shim *s);
int shim_handoff(struct shim *s);

#endif
