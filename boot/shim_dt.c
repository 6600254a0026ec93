/* The boot device tree (DESIGN.md §2 step 4), built with libfdt's
 * read-write API: cpus with their roles, memory ranges with their types,
 * /chosen/bootargs, the sidecar region and the /parapet node. */
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/shim.h"
#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/util.h"

#define DT_TRY(expr)                                                           \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ < 0)                                                   \
			return rc_;                                            \
	} while (0)

static int dt_reg64(void *fdt, int node, uint64_t addr, uint64_t size)
{
	DT_TRY(fdt_setprop_u64(fdt, node, "reg", addr));
	return fdt_appendprop_u64(fdt, node, "reg", size);
}

/* fdt_add_subnode puts a new node before its siblings: callers add
 * nodes in reverse order. */
static int dt_cpus(const struct shim *s, void *fdt)
{
	int cpus = fdt_add_subnode(fdt, 0, "cpus");

	DT_TRY(cpus);
	DT_TRY(fdt_setprop_u32(fdt, cpus, "#address-cells", 1));
	DT_TRY(fdt_setprop_u32(fdt, cpus, "#size-cells", 0));
	for (unsigned i = s->n_vps; i-- > 0;) {
		char name[32];
		int cpu;

		snprintf(name, sizeof(name), "cpu@%u", i);
		DT_TRY(cpu = fdt_add_subnode(fdt, cpus, name));
		DT_TRY(fdt_setprop_string(fdt, cpu, "device_type", "cpu"));
		DT_TRY(fdt_setprop_u32(fdt, cpu, "reg", i));
		DT_TRY(fdt_setprop_string(
		    fdt, cpu, "parapet,role",
		    cpulist_test(&s->sidecar, i) ? "sidecar" : "linux"));
	}
	return 0;
}

static int dt_memory_node(void *fdt, uint64_t gpa, uint64_t size,
			  const char *type)
{
	char name[48];
	int node;

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)gpa);
	DT_TRY(node = fdt_add_subnode(fdt, 0, name));
	DT_TRY(fdt_setprop_string(fdt, node, "device_type", "memory"));
	DT_TRY(dt_reg64(fdt, node, gpa, size));
	return fdt_setprop_string(fdt, node, "parapet,type", type);
}

/* Guest RAM around the VTL2-protectable range (never mapped into the
 * guest), highest range first. */
static int dt_memory(const struct shim *s, void *fdt)
{
	uint64_t hole = s->img.hole_gpa, hole_end = hole + s->img.hole_size;

	if (s->img.hole_size == 0)
		return dt_memory_node(fdt, 0, s->mem_size, "ram");
	if (hole_end < s->mem_size)
		DT_TRY(dt_memory_node(fdt, hole_end, s->mem_size - hole_end,
				      "ram"));
	DT_TRY(dt_memory_node(fdt, hole, s->img.hole_size, "vtl2-protectable"));
	return hole > 0 ? dt_memory_node(fdt, 0, hole, "ram") : 0;
}

static int dt_sidecar(const struct shim *s, void *fdt)
{
	char cpus[256];
	int node = fdt_add_subnode(fdt, 0, "sidecar@0");

	DT_TRY(node);
	cpulist_format(&s->sidecar, cpus, sizeof(cpus));
	DT_TRY(fdt_setprop_string(fdt, node, "compatible", "parapet,sidecar"));
	DT_TRY(dt_reg64(fdt, node, 0, s->sidecar_size));
	DT_TRY(fdt_setprop_string(fdt, node, "parapet,region", "memfd"));
	DT_TRY(fdt_setprop_u32(fdt, node, "parapet,fd", PARTITION_FD_SIDECAR));
	DT_TRY(fdt_setprop_u32(fdt, node, "control-page-size",
			       PARTITION_SIDECAR_CONTROL_SIZE));
	DT_TRY(fdt_setprop_u32(fdt, node, "vp-page-size",
			       PARTITION_SIDECAR_VP_SIZE));
	DT_TRY(fdt_setprop_string(fdt, node, "mode",
				  pvopts_sidecar_name(s->opts.sidecar)));
	DT_TRY(fdt_setprop_string(fdt, node, "cpus", cpus));
	return fdt_setprop_string(fdt, node, "status",
				  cpulist_count(&s->sidecar) ? "okay"
							     : "disabled");
}

static int dt_parapet_strings(const struct shim *s, void *fdt, int node)
{
	DT_TRY(fdt_setprop_string(fdt, node, "partition", s->a.name));
	DT_TRY(fdt_setprop_string(fdt, node, "image", s->a.image));
	DT_TRY(fdt_setprop_string(fdt, node, "accel", s->accel));
	DT_TRY(fdt_setprop_string(fdt, node, "sandbox", s->sandbox));
	DT_TRY(fdt_setprop_string(fdt, node, "sidecar",
				  pvopts_sidecar_name(s->opts.sidecar)));
	DT_TRY(fdt_setprop_string(fdt, node, "on-crash",
				  pvopts_crash_name(s->opts.on_crash)));
	DT_TRY(fdt_setprop_string(fdt, node, "log",
				  s->opts.log_set ? pvopts_log_name(s->opts.log)
						  : "default"));
	DT_TRY(
	    fdt_setprop_string(fdt, node, "guest-cmdline", s->guest_cmdline));
	DT_TRY(fdt_setprop_string(fdt, node, "host-run-dir", s->a.run_dir));
	return fdt_setprop_string(fdt, node, "libexec-dir", s->a.libexec);
}

/* /parapet/disks/disk@N (docs/disks.md); added last to first, since
 * libfdt puts a new node before its siblings. */
static int dt_disks(const struct shim *s, void *fdt, int parapet)
{
	int disks, node;
	char name[32];

	if (s->n_disks == 0)
		return 0;
	DT_TRY(disks = fdt_add_subnode(fdt, parapet, "disks"));
	DT_TRY(fdt_setprop_u32(fdt, disks, "#address-cells", 2));
	DT_TRY(fdt_setprop_u32(fdt, disks, "#size-cells", 2));
	for (unsigned i = s->n_disks; i-- > 0;) {
		const struct diskspec *d = &s->disks[i];

		snprintf(name, sizeof(name), "disk@%llx",
			 (unsigned long long)diskspec_gpa(i));
		DT_TRY(node = fdt_add_subnode(fdt, disks, name));
		DT_TRY(fdt_setprop_u32(fdt, node, "index", i));
		DT_TRY(fdt_appendprop_u64(fdt, node, "reg", diskspec_gpa(i)));
		DT_TRY(fdt_appendprop_u64(fdt, node, "reg",
					  GUEST_VIRTIO_MMIO_SIZE));
		DT_TRY(
		    fdt_setprop_u32(fdt, node, "interrupts", diskspec_irq(i)));
		DT_TRY(
		    fdt_setprop_string(fdt, node, "compatible", "virtio,mmio"));
		DT_TRY(fdt_setprop_string(fdt, node, "backend",
					  diskspec_backend_name(d->backend)));
		DT_TRY(fdt_setprop_string(fdt, node, "label", d->path));
		if (d->read_only)
			DT_TRY(fdt_setprop_empty(fdt, node, "read-only"));
	}
	return 0;
}

static int dt_parapet(const struct shim *s, void *fdt)
{
	char hex[IGVM_MEASUREMENT_SIZE * 2 + 1];
	int node = fdt_add_subnode(fdt, 0, "parapet");
	const uint8_t *vp_ctx;
	size_t vp_ctx_len = 0;

	DT_TRY(node);
	for (unsigned i = 0; i < IGVM_MEASUREMENT_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", s->measurement[i]);
	DT_TRY(dt_parapet_strings(s, fdt, node));
	DT_TRY(fdt_setprop_string(fdt, node, "measurement", hex));
	DT_TRY(fdt_setprop_u32(fdt, node, "vp-count", s->n_vps));
	/* VP 0's IGVM context (its VBS register list) for vmworker. */
	vp_ctx = igvm_vp_context_data(&s->image, 0, &vp_ctx_len);
	if (vp_ctx != NULL)
		DT_TRY(fdt_setprop(fdt, node, "vp-context", vp_ctx,
				   (int)vp_ctx_len));
	DT_TRY(fdt_setprop_u64(fdt, node, "mem-size", s->mem_size));
	DT_TRY(
	    fdt_setprop_u32(fdt, node, "guest-ram-fd", PARTITION_FD_GUEST_RAM));
	DT_TRY(fdt_setprop_u32(fdt, node, "sidecar-fd", PARTITION_FD_SIDECAR));
	DT_TRY(
	    fdt_setprop_u32(fdt, node, "boot-dtb-fd", PARTITION_FD_BOOT_DTB));
	DT_TRY(fdt_setprop_u32(fdt, node, "boot-image-fd",
			       PARTITION_FD_BOOT_IMAGE));
	DT_TRY(
	    fdt_setprop(fdt, node, "entropy", s->entropy, sizeof(s->entropy)));
	DT_TRY(fdt_setprop_u64(fdt, node, "reftime_run_start",
			       s->reftime_run_start));
	DT_TRY(fdt_setprop_u64(fdt, node, "reftime_shim_start",
			       s->reftime_shim_start));
	DT_TRY(fdt_setprop_u64(fdt, node, "reftime_shim_end", util_now_ns()));
	DT_TRY(dt_disks(s, fdt, node));
	return manifest_to_fdt(&s->manifest, fdt, node);
}

static int dt_build(const struct shim *s, void *fdt)
{
	int chosen;

	DT_TRY(fdt_create_empty_tree(fdt, PARTITION_DTB_MAX));
	DT_TRY(fdt_setprop_string(fdt, 0, "compatible", "parapet,partition"));
	DT_TRY(fdt_setprop_string(fdt, 0, "model", "Parapet partition"));
	DT_TRY(fdt_setprop_u32(fdt, 0, "#address-cells", 2));
	DT_TRY(fdt_setprop_u32(fdt, 0, "#size-cells", 2));
	/* Reverse order of appearance: /parapet ends up last. */
	DT_TRY(dt_parapet(s, fdt));
	DT_TRY(dt_sidecar(s, fdt));
	DT_TRY(chosen = fdt_add_subnode(fdt, 0, "chosen"));
	DT_TRY(fdt_setprop_string(fdt, chosen, "bootargs", s->pv_cmdline));
	DT_TRY(dt_memory(s, fdt));
	DT_TRY(dt_cpus(s, fdt));
	return fdt_pack(fdt);
}

int shim_build_dt(struct shim *s)
{
	int rc;

	s->dtb = calloc(1, PARTITION_DTB_MAX);
	if (s->dtb == NULL)
		return -1;
	rc = dt_build(s, s->dtb);
	if (rc < 0) {
		log_errx("boot device tree: %s", fdt_strerror(rc));
		return -1;
	}
	s->dtb_len = fdt_totalsize(s->dtb);
	return 0;
}
