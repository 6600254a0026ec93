/* parapet-boot, the shim: the first process of a partition. Parses and
 * loads the IGVM image into a guest RAM memfd, merges the configuration,
 * builds the boot device tree, hands off like a kernel and execs
 * parapet-init with the partition's memfds at fixed fd numbers. Any
 * failure exits 125 with one line naming what is wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "boot/shim.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/partition.h"
#include "lib/util.h"
#include "lib/version.h"

/* The flags `parapet run` passes. */
#define SHIM_FLAGS                                                             \
	(VMOPT(VMOPT_RUN_DIR) | VMOPT(VMOPT_LIBEXEC) | VMOPT(VMOPT_NAME) |     \
	 VMOPT(VMOPT_ACCEL) | VMOPT(VMOPT_CPUS) | VMOPT(VMOPT_SIDECAR_CPUS) |  \
	 VMOPT(VMOPT_MEM) | VMOPT(VMOPT_CMDLINE) |                             \
	 VMOPT(VMOPT_GUEST_CMDLINE) | VMOPT(VMOPT_HOST_DTB) |                  \
	 VMOPT(VMOPT_SANDBOX) | VMOPT(VMOPT_MANIFEST) |                        \
	 VMOPT(VMOPT_REFTIME_RUN_START) | VMOPT(VMOPT_DISK) |                  \
	 VMOPT(VMOPT_QUIET) | VMOPT(VMOPT_VERBOSE))

static int shim_parse_args(int argc, char **argv, struct shim *s)
{
	struct vmopts *a = &s->a;
	uint64_t v = 0;
	int next;

	switch (vmopts_parse(argc, argv, SHIM_FLAGS, VMOPTS_QUIET, a, &next)) {
	case VMOPTS_OK:
		break;
	case VMOPTS_NO_VALUE:
		log_errx("option '%s' requires an argument", argv[next - 1]);
		return -1;
	default:
		log_errx("unrecognized option '%s'", argv[next - 1]);
		return -1;
	}
	if (a->reftime_run_start != NULL &&
	    parse_uint(a->reftime_run_start, 0, UINT64_MAX, &v) != 0) {
		log_errx("--reftime-run-start '%s': want a "
			 "CLOCK_MONOTONIC time in ns",
			 a->reftime_run_start);
		return -1;
	}
	s->reftime_run_start = v;
	if (next != argc - 1 || a->run_dir == NULL || a->libexec == NULL ||
	    a->name == NULL) {
		log_errx("--run-dir, --libexec, --name and IMAGE are required "
			 "(usage: parapet-boot --run-dir DIR --libexec DIR "
			 "--name NAME [options] IMAGE.igvm, started by "
			 "`parapet run`)");
		return -1;
	}
	a->image = argv[next];
	return 0;
}

/* The guest RAM as loaded, for vmworker's reset (on-crash=reboot): a
 * sparse sealed memfd holding only what the loader wrote (the RAM memfd
 * is new, so its data extents are exactly those pages). */
static int shim_snapshot_ram(struct shim *s)
{
	static uint8_t buf[1u << 20];
	off_t off = 0, end;

	s->image_fd = util_memfd_create("parapet-boot-image", s->mem_size);
	if (s->image_fd < 0) {
		log_err("boot image memfd");
		return -1;
	}
	while ((off = lseek(s->ram_fd, off, SEEK_DATA)) >= 0) {
		end = lseek(s->ram_fd, off, SEEK_HOLE);
		if (end < 0)
			break;
		while (off < end) {
			size_t n = (size_t)(end - off) < sizeof(buf)
				       ? (size_t)(end - off)
				       : sizeof(buf);

			if (pread(s->ram_fd, buf, n, off) != (ssize_t)n ||
			    pwrite(s->image_fd, buf, n, off) != (ssize_t)n) {
				log_err("boot image copy");
				return -1;
			}
			off += (off_t)n;
		}
	}
	if (util_memfd_seal(s->image_fd, F_SEAL_SHRINK | F_SEAL_GROW |
					     F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
		log_err("boot image seal");
		return -1;
	}
	return 0;
}

/* Guest RAM memfd with the image's pages and parameter areas, the launch
 * measurement and the (empty) sidecar region. */
int shim_load_ram(struct shim *s)
{
	struct loader_params p = { 0 };
	struct guest_ram ram = { 0 };
	char why[256];
	int rc;

	s->ram_fd = util_memfd_create("parapet-guest-ram", s->mem_size);
	/* fixed size: disk backends map it (docs/disks.md) */
	if (s->ram_fd >= 0 &&
	    util_memfd_seal(s->ram_fd, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
		log_warn("sealing guest RAM");
	ram.mem = s->ram_fd < 0 ? NULL
				: util_map(s->ram_fd, s->mem_size,
					   PROT_READ | PROT_WRITE);
	if (ram.mem == NULL) {
		log_err("guest RAM of %llu bytes",
			(unsigned long long)s->mem_size);
		return -1;
	}
	ram.size = s->mem_size;
	ram.hole_gpa = s->img.hole_gpa;
	ram.hole_size = s->img.hole_size;
	p.guest_cmdline = s->guest_cmdline;
	p.n_vps = s->n_vps;
	rc = loader_load(&s->image, &s->img, &ram, &p, why, sizeof(why));
	util_unmap(ram.mem, s->mem_size);
	if (rc != 0) {
		log_errx("image %s: %s", s->a.image, why);
		return -1;
	}
	if (shim_snapshot_ram(s) != 0)
		return -1;
	if (igvm_measure(&s->image, s->measurement) != IGVM_OK) {
		log_errx("image %s: measurement failed", s->a.image);
		return -1;
	}
	s->sidecar_size = PARTITION_SIDECAR_CONTROL_SIZE +
			  (size_t)s->n_vps * PARTITION_SIDECAR_VP_SIZE;
	s->sidecar_fd = util_memfd_create("parapet-sidecar", s->sidecar_size);
	if (s->sidecar_fd < 0) {
		log_err("sidecar region");
		return -1;
	}
	return 0;
}

/* run-dir/boot.dtb for the host, and a sealed memfd copy for services. */
static int shim_publish_dt(struct shim *s)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/boot.dtb", s->a.run_dir);
	fp = fopen(path, "we");
	if (fp == NULL || fwrite(s->dtb, 1, s->dtb_len, fp) != s->dtb_len ||
	    fclose(fp) != 0) {
		log_err("%s", path);
		return -1;
	}
	s->dtb_fd = util_memfd_create("parapet-boot-dtb", s->dtb_len);
	if (s->dtb_fd < 0 ||
	    pwrite(s->dtb_fd, s->dtb, s->dtb_len, 0) != (ssize_t)s->dtb_len ||
	    util_memfd_seal(s->dtb_fd, F_SEAL_SHRINK | F_SEAL_GROW |
					   F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
		log_err("boot device tree memfd");
		return -1;
	}
	return 0;
}

/* The partition fds at their fixed numbers, inherited across exec. A
 * source may already sit at another one's target (a memfd opened after
 * fds were closed gets a low number), so every source is first moved
 * above all targets. */
static int shim_place_fds(struct shim *s)
{
	int *src[] = { &s->ram_fd, &s->sidecar_fd, &s->dtb_fd, &s->image_fd };
	static const int target[] = { PARTITION_FD_GUEST_RAM,
				      PARTITION_FD_SIDECAR,
				      PARTITION_FD_BOOT_DTB,
				      PARTITION_FD_BOOT_IMAGE };
	size_t i, n = sizeof(target) / sizeof(target[0]);

	for (i = 0; i < n; i++) {
		int high = fcntl(*src[i], F_DUPFD, PARTITION_FD_BOOT_IMAGE + 1);

		if (high < 0)
			return -1;
		close(*src[i]);
		*src[i] = high;
	}
	for (i = 0; i < n; i++) {
		if (dup2(*src[i], target[i]) != target[i])
			return -1;
		close(*src[i]);
		*src[i] = target[i];
	}
	return 0;
}

static int shim_exec_init(struct shim *s)
{
	static char init_name[] = "parapet-init";
	char *argv[] = { init_name, NULL };
	char path[4096];

	if (shim_place_fds(s) != 0) {
		log_err("placing the partition fds");
		return -1;
	}
	/* keeps PARTITION_FD_HOST_FDS, which parapet run handed us */
	close_range(3, PARTITION_FD_HOST_FDS - 1, 0);
	_Static_assert(PARTITION_FD_HOST_FDS + 1 == PARTITION_FD_GUEST_RAM,
		       "no gap between the inherited fds");
	close_range(PARTITION_FD_BOOT_IMAGE + 1, ~0u, 0);
	snprintf(path, sizeof(path), "%s/parapet-init", s->a.libexec);
	execv(path, argv);
	log_err("exec %s", path);
	return -1;
}

int main(int argc, char **argv)
{
	static struct shim s;

	if (version_asked("parapet-boot", argc, argv))
		return 0;
	log_init("parapet-boot");
	s.reftime_shim_start = util_now_ns();
	s.ram_fd = s.sidecar_fd = s.dtb_fd = s.image_fd = -1;
	if (shim_parse_args(argc, argv, &s) != 0)
		return PARTITION_EXIT_SETUP;
	if (shim_read_image(&s) != 0 || shim_read_host_dt(&s) != 0 ||
	    shim_resolve(&s) != 0 || shim_load_ram(&s) != 0)
		return PARTITION_EXIT_SETUP;
	if (getrandom(s.entropy, sizeof(s.entropy), 0) !=
	    (ssize_t)sizeof(s.entropy)) {
		log_err("entropy");
		return PARTITION_EXIT_SETUP;
	}
	if (shim_build_dt(&s) != 0 || shim_publish_dt(&s) != 0 ||
	    shim_handoff(&s) != 0)
		return PARTITION_EXIT_SETUP;
	log_debug("%s: %u CPUs (%u sidecar), %llu MiB, accel %s", s.a.name,
		  s.n_vps, cpulist_count(&s.sidecar),
		  (unsigned long long)(s.mem_size >> 20), s.accel);
	shim_exec_init(&s);
	return PARTITION_EXIT_SETUP;
}
