/* Merging the shim's inputs: `parapet run` flags over the host device
 * tree and the paravisor command line over the image's defaults
 * (DESIGN.md §3), then the CPU split and the service manifest. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "boot/shim.h"
#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/registry.h"
#include "lib/util.h"

#define SHIM_MAX_VPS 64
#define SHIM_MAX_MEM (64ull << 30)

/* Appends one part of the paravisor command line after checking it. */
static int shim_pv_append(struct shim *s, const char *what, const char *text)
{
	struct pvopts_error err;
	char msg[256];
	size_t used = strlen(s->pv_cmdline);

	if (text == NULL || *text == '\0')
		return 0;
	if (pvopts_parse(text, strlen(text), &s->opts, &err) != PVOPTS_OK) {
		pvopts_error_format(&err, msg, sizeof(msg));
		log_errx("%s: %s", what, msg);
		return -1;
	}
	if (used + 1 + strlen(text) >= sizeof(s->pv_cmdline)) {
		log_errx("%s: paravisor command line too long", what);
		return -1;
	}
	snprintf(s->pv_cmdline + used, sizeof(s->pv_cmdline) - used, "%s%s",
		 used ? " " : "", text);
	return 0;
}

/* Measured part, then the host's parts only when the image allows it. */
static int shim_pv_cmdline(struct shim *s)
{
	const struct pvconfig *c = &s->img.config;
	bool host_parts =
	    s->host.bootargs[0] || (s->a.cmdline && *s->a.cmdline);

	pvopts_init(&s->opts);
	if (shim_pv_append(s, "measured paravisor command line",
			   c->paravisor_cmdline) != 0)
		return -1;
	if (host_parts && !c->allow_host_cmdline) {
		log_warnx("host paravisor command line ignored: the "
			  "image was built without --allow-host-cmdline");
		return 0;
	}
	return shim_pv_append(s, "host device tree /chosen/bootargs",
			      s->host.bootargs) ||
	       shim_pv_append(s, "--cmdline", s->a.cmdline);
}

_Static_assert((int)PVOPTS_LOG_WARN == (int)LOG_LEVEL_WARN &&
		   (int)PVOPTS_LOG_DEBUG == (int)LOG_LEVEL_DEBUG,
	       "one numbering of log levels");

/* The host's log level (--quiet, --verbose, else PARAPET_LOG) wins over
 * log= of the paravisor command line; the shim logs at the result from
 * here on, and the device tree hands it to init and every service. */
static void shim_log_level(struct shim *s)
{
	enum log_level l;

	if (s->a.quiet || s->a.verbose)
		l = s->a.quiet ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG;
	else if (log_level_parse(getenv("PARAPET_LOG"), &l) != 0) {
		if (s->opts.log_set)
			log_set_level((enum log_level)s->opts.log);
		return;
	}
	s->opts.log = (enum pvopts_log)l;
	s->opts.log_set = true;
	log_set_level(l);
}

static int shim_shape(struct shim *s)
{
	uint64_t v;

	s->n_vps = s->img.config.vp_count ? s->img.config.vp_count : 1;
	if (s->host.n_cpus)
		s->n_vps = s->host.n_cpus;
	if (s->a.cpus != NULL) {
		if (parse_uint(s->a.cpus, 1, SHIM_MAX_VPS, &v) != 0) {
			log_errx("--cpus '%s': want 1-%d", s->a.cpus,
				 SHIM_MAX_VPS);
			return -1;
		}
		s->n_vps = (unsigned)v;
	}
	if (s->n_vps > SHIM_MAX_VPS) {
		log_errx("%u CPUs asked for (image or host device tree); at "
			 "most %d",
			 s->n_vps, SHIM_MAX_VPS);
		return -1;
	}
	s->mem_size =
	    s->img.config.mem_size ? s->img.config.mem_size : GUEST_DEFAULT_MEM;
	if (s->host.mem_size)
		s->mem_size = s->host.mem_size;
	if (s->a.mem != NULL && parse_size(s->a.mem, &s->mem_size) != 0) {
		log_errx("--mem '%s': want a size such as 64M", s->a.mem);
		return -1;
	}
	if (s->mem_size % 4096 || s->mem_size < s->img.min_mem ||
	    s->mem_size > SHIM_MAX_MEM ||
	    (s->img.hole_size &&
	     s->img.hole_gpa + s->img.hole_size > s->mem_size)) {
		log_errx(
		    "guest memory %llu bytes: want whole pages, at least "
		    "%llu for this image, at most 64G",
		    (unsigned long long)s->mem_size,
		    (unsigned long long)(s->img.min_mem > s->img.hole_gpa +
							      s->img.hole_size
					     ? s->img.min_mem
					     : s->img.hole_gpa +
						   s->img.hole_size));
		return -1;
	}
	return 0;
}

/* Whether /dev/kvm can create a VM: 0, or the errno of the open or of
 * KVM_CREATE_VM. A child process tries: tearing a VM down can take
 * hundreds of ms here (the first close in a process), so the answer
 * comes over a pipe and the child finishes on its own (init, which this
 * process becomes, reaps it). */
static int shim_kvm_works(void)
{
	int p[2], kvm, vm;
	unsigned char err = EIO;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return errno;
	pid = fork();
	if (pid == 0) {
		kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		vm = kvm >= 0 ? ioctl(kvm, KVM_CREATE_VM, 0) : -1;
		err = vm >= 0 ? 0 : (unsigned char)(errno ? errno : EIO);
		if (write(p[1], &err, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &err, 1) != 1)
		err = EIO;
	close(p[0]);
	return err;
}

/* auto: kvm when /dev/kvm opens and KVM_CREATE_VM works, else emu. */
static int shim_accel(struct shim *s)
{
	const char *want = s->a.accel
			       ? s->a.accel
			       : (s->host.accel[0] ? s->host.accel : "auto");
	int err;

	if (!strcmp(want, "emu")) {
		s->accel = "emu";
		return 0;
	}
	err = shim_kvm_works();
	if (!strcmp(want, "kvm") && err != 0) {
		log_errx("--accel kvm: /dev/kvm cannot create a VM here: %s",
			 strerror(err));
		return -1;
	}
	if (strcmp(want, "kvm") && strcmp(want, "auto")) {
		log_errx("accel '%s': want kvm, emu or auto", want);
		return -1;
	}
	s->accel = err == 0 ? "kvm" : "emu";
	return 0;
}

/* The BSP is always a linux CPU; sidecar=off makes every CPU one. */
static int shim_split_cpus(struct shim *s)
{
	const char *list = s->a.sidecar_cpus	     ? s->a.sidecar_cpus
			   : s->host.sidecar_cpus[0] ? s->host.sidecar_cpus
						     : "auto";
	int rc;

	cpulist_clear(&s->sidecar);
	if (s->opts.sidecar == PVOPTS_SIDECAR_OFF || !strcmp(list, "none"))
		return 0;
	if (!strcmp(list, "auto")) {
		for (unsigned i = 1; i < s->n_vps; i++)
			cpulist_set(&s->sidecar, i);
		return 0;
	}
	rc = cpulist_parse(list, s->n_vps, &s->sidecar);
	if (rc != CPULIST_OK) {
		log_errx("sidecar CPUs '%s': %s (the partition has CPUs "
			 "0-%u)",
			 list, cpulist_strerror(rc), s->n_vps - 1);
		return -1;
	}
	if (cpulist_test(&s->sidecar, 0)) {
		log_errx("sidecar CPUs '%s': CPU 0 (the BSP) is always a "
			 "linux CPU",
			 list);
		return -1;
	}
	return 0;
}

static bool shim_has_blkd_disk(const struct shim *s)
{
	for (unsigned i = 0; i < s->n_disks; i++)
		if (s->disks[i].backend == DISKSPEC_BLKD)
			return true;
	return false;
}

/* The services of a partition when no --manifest names them: those of
 * the registry (lib/registry.h, in its start order) whose binaries are
 * installed; a service started on demand only when it is needed
 * (parapet-blkd: when a disk is served by it). */
static int shim_default_manifest(struct shim *s)
{
	char path[4096];

	for (size_t i = 0; i < registry_count; i++) {
		const struct registry_entry *e = &registry[i];

		if (e->binary == NULL ||
		    ((e->flags & REGISTRY_F_ON_DEMAND) &&
		     !(strcmp(e->name, SVC_NAME_BLKD) == 0 &&
		       shim_has_blkd_disk(s))))
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->a.libexec, e->binary);
		if (access(path, X_OK) != 0) {
			log_info("default manifest: %s is not installed; "
				 "service %s left out",
				 path, e->name);
			continue;
		}
		manifest_add(&s->manifest, e->name, e->binary, e->fds);
	}
	return 0;
}

static int shim_manifest(struct shim *s)
{
	uint8_t *text;
	size_t len;
	unsigned line = 0;
	int rc;

	memset(&s->manifest, 0, sizeof(s->manifest));
	if (s->a.manifest == NULL)
		return shim_default_manifest(s);
	rc = util_read_file(s->a.manifest, MANIFEST_TEXT_MAX, &text, &len);
	if (rc == UTIL_READ_OK)
		rc = manifest_parse((const char *)text, len, &s->manifest,
				    &line);
	else if (rc == UTIL_READ_TOO_LARGE)
		rc = MANIFEST_ERR_TOO_LONG;
	else {
		log_errx("--manifest %s: %s", s->a.manifest,
			 util_read_strerror(rc));
		return -1;
	}
	free(text);
	if (rc != MANIFEST_OK) {
		log_errx("--manifest %s, line %u: %s", s->a.manifest, line,
			 manifest_strerror(rc));
		return -1;
	}
	return 0;
}

/* The --disk values (parapet run opened them and sends their
 * descriptors to init) and the guest command line that announces them
 * the way qemu microvm does. */
static int shim_disks(struct shim *s)
{
	size_t len;
	const char *why;

	if (s->a.n_disks > VMOPTS_DISK_MAX) {
		log_errx("%u disks: at most %d", s->a.n_disks, VMOPTS_DISK_MAX);
		return -1;
	}
	s->n_disks = s->a.n_disks;
	if (s->n_disks > 0 && s->mem_size > GUEST_VIRTIO_MMIO_GPA) {
		log_errx("guest memory %llu bytes overlaps the disks' "
			 "registers at 0x%llx: at most %llu MiB with --disk",
			 (unsigned long long)s->mem_size,
			 (unsigned long long)GUEST_VIRTIO_MMIO_GPA,
			 (unsigned long long)(GUEST_VIRTIO_MMIO_GPA >> 20));
		return -1;
	}
	len =
	    (size_t)snprintf(s->guest_cmdline_buf, sizeof(s->guest_cmdline_buf),
			     "%s", s->guest_cmdline ? s->guest_cmdline : "");
	for (unsigned i = 0; i < s->n_disks; i++) {
		if (diskspec_parse(s->a.disks[i], &s->disks[i], &why) != 0) {
			log_errx("--disk '%s': %s", s->a.disks[i], why);
			return -1;
		}
		len += (size_t)snprintf(
		    s->guest_cmdline_buf + len,
		    len < sizeof(s->guest_cmdline_buf)
			? sizeof(s->guest_cmdline_buf) - len
			: 0,
		    "%svirtio_mmio.device=%llu@0x%llx:%u", len ? " " : "",
		    (unsigned long long)GUEST_VIRTIO_MMIO_SIZE,
		    (unsigned long long)diskspec_gpa(i), diskspec_irq(i));
	}
	if (len >= GUEST_CMDLINE_SIZE) {
		log_errx("the guest command line with the disks is %zu "
			 "bytes; at most %llu",
			 len, (unsigned long long)GUEST_CMDLINE_SIZE - 1);
		return -1;
	}
	if (s->n_disks > 0)
		s->guest_cmdline = s->guest_cmdline_buf;
	return 0;
}

int shim_resolve(struct shim *s)
{
	s->guest_cmdline = s->a.guest_cmdline ? s->a.guest_cmdline
					      : s->img.config.guest_cmdline;
	if (s->a.quiet && s->a.verbose) {
		log_errx("--quiet and --verbose: at most one");
		return -1;
	}
	if (shim_pv_cmdline(s) != 0)
		return -1;
	shim_log_level(s);
	if (shim_shape(s) != 0 || shim_accel(s) != 0 ||
	    shim_split_cpus(s) != 0 || shim_disks(s) != 0 ||
	    shim_manifest(s) != 0)
		return -1;
	s->sandbox = s->a.sandbox ? s->a.sandbox : "strict";
	if (strcmp(s->sandbox, "strict") && strcmp(s->sandbox, "log") &&
	    strcmp(s->sandbox, "off")) {
		log_errx("--sandbox '%s': want strict, log or off", s->sandbox);
		return -1;
	}
	return 0;
}
