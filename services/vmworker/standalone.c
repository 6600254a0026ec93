/* parapet-vmworker --standalone: load an IGVM file, run the VM with the
 * console on stdin/stdout, map the VM's end to an exit status. */
#include "services/vmworker/standalone.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/igvm.h"
#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/util.h"
#include "services/vmworker/console.h"
#include "boot/loader.h"
#include "boot/pvopts.h"
#include "lib/cpulist.h"
#include "services/vmworker/vm.h"

#define IMAGE_MAX_SIZE (1u << 30)

struct standalone {
	struct vm vm;
	struct console console;
	struct igvm_file image;
	uint8_t *image_buf;
	size_t image_len;
	struct loader_image boot;
	struct pvopts opts;
	struct sidecar sidecar;
	struct sidecar_config sidecar_cfg;
	struct vp_regs bsp;
	unsigned n_vps;
	uint64_t mem_size;
	unsigned timeout_ms;
};

static void stdout_sink(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* stdout gone: drop the console */
		data += n;
		len -= (size_t)n;
	}
}

/* Host stdin -> guest UART; waits while the input ring is full. */
static void *stdin_reader(void *arg)
{
	struct console *c = arg;
	uint8_t buf[512];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
		size_t done = 0;

		while (done < (size_t)n) {
			done += console_input(c, buf + done, (size_t)n - done);
			if (done < (size_t)n)
				usleep(1000);
		}
	}
	return NULL;
}

static int read_image(const char *path, struct standalone *s)
{
	struct igvm_error err;
	char msg[256];
	int rc =
	    util_read_file(path, IMAGE_MAX_SIZE, &s->image_buf, &s->image_len);

	if (rc != UTIL_READ_OK) {
		log_warnx("%s: %s%s", path, util_read_strerror(rc),
			  rc == UTIL_READ_TOO_LARGE ? " (over 1 GiB)" : "");
		return -1;
	}
	if (s->image_len == 0) {
		log_warnx("%s: size 0 is not a plausible image", path);
		return -1;
	}
	if (igvm_parse(s->image_buf, s->image_len, &s->image, &err) != 0) {
		igvm_error_format(&err, msg, sizeof(msg));
		log_warnx("%s: %s", path, msg);
		return -1;
	}
	return 0;
}

/* The paravisor command line: the image's measured part, then --cmdline
 * (standalone has no host to restrict; the partition applies the image's
 * allow-host-cmdline rule). */
static int apply_pv_cmdline(struct standalone *s, const char *host)
{
	const char *parts[] = { s->boot.config.paravisor_cmdline, host };
	struct pvopts_error err;
	char msg[256];
	size_t i;

	pvopts_init(&s->opts);
	for (i = 0; i < 2; i++) {
		if (parts[i] == NULL)
			continue;
		if (pvopts_parse(parts[i], strlen(parts[i]), &s->opts, &err) !=
		    PVOPTS_OK) {
			pvopts_error_format(&err, msg, sizeof(msg));
			log_warnx("%s command line: %s",
				  i == 0 ? "measured paravisor" : "--cmdline",
				  msg);
			return -1;
		}
	}
	if (s->opts.log_set)
		log_set_level(s->opts.log == PVOPTS_LOG_DEBUG ? LOG_LEVEL_DEBUG
			      : s->opts.log == PVOPTS_LOG_INFO
				  ? LOG_LEVEL_INFO
				  : LOG_LEVEL_WARN);
	return 0;
}

/* --sidecar-cpus over sidecar= over the default (every AP). */
static int resolve_sidecar(const struct vmopts *a, struct standalone *s)
{
	struct sidecar_config *c = &s->sidecar_cfg;
	const char *list = a->sidecar_cpus ? a->sidecar_cpus : "auto";
	struct cpulist cl;
	uint64_t v = 100000;
	unsigned i;

	memset(c, 0, sizeof(*c));
	c->region_fd = -1;
	c->log = s->opts.sidecar == PVOPTS_SIDECAR_LOG;
	if (a->sidecar_hotplug != NULL &&
	    parse_uint(a->sidecar_hotplug, 0, UINT64_MAX, &v) != 0) {
		log_warnx("--sidecar-hotplug '%s': want a number of exits",
			  a->sidecar_hotplug);
		return -1;
	}
	c->hotplug_threshold = v;
	if (s->opts.sidecar == PVOPTS_SIDECAR_OFF || strcmp(list, "none") == 0)
		return 0;
	if (strcmp(list, "auto") == 0) {
		for (i = 1; i < s->n_vps && i < SIDECAR_MAX_VPS; i++)
			c->vp_mask |= 1ull << i;
		return 0;
	}
	if (cpulist_parse(list, s->n_vps, &cl) != CPULIST_OK ||
	    cpulist_test(&cl, 0)) {
		log_warnx("--sidecar-cpus '%s': want VP numbers 1-%u as a "
			  "cpulist, auto or none (VP 0 is never a sidecar)",
			  list, s->n_vps - 1);
		return -1;
	}
	for (i = 1; i < s->n_vps && i < SIDECAR_MAX_VPS; i++)
		if (cpulist_test(&cl, i))
			c->vp_mask |= 1ull << i;
	return 0;
}

/* Flags over the image's configuration over built-in defaults. */
static int resolve_shape(const struct vmopts *a, struct standalone *s)
{
	uint64_t v;

	s->n_vps = s->boot.config.vp_count ? s->boot.config.vp_count : 1;
	s->mem_size = s->boot.config.mem_size ? s->boot.config.mem_size
					      : GUEST_DEFAULT_MEM;
	if (a->cpus != NULL) {
		if (parse_uint(a->cpus, 1, VM_MAX_VPS, &v) != 0) {
			log_warnx("--cpus '%s': want 1-%d", a->cpus,
				  VM_MAX_VPS);
			return -1;
		}
		s->n_vps = (unsigned)v;
	}
	if (s->n_vps > VM_MAX_VPS) {
		log_warnx("image asks for %u VPs; at most %d", s->n_vps,
			  VM_MAX_VPS);
		return -1;
	}
	if (a->mem != NULL &&
	    (parse_size(a->mem, &s->mem_size) != 0 || s->mem_size % 4096)) {
		log_warnx("--mem '%s': want a size in whole pages, e.g. 64M",
			  a->mem);
		return -1;
	}
	if (s->mem_size < s->boot.min_mem || s->mem_size > (64ull << 30)) {
		log_warnx("memory size %llu: the image needs at least %llu "
			  "(and at most 64G)",
			  (unsigned long long)s->mem_size,
			  (unsigned long long)s->boot.min_mem);
		return -1;
	}
	if (a->timeout != NULL) {
		if (parse_uint(a->timeout, 1, 86400 * 7, &v) != 0) {
			log_warnx("--timeout '%s': want seconds", a->timeout);
			return -1;
		}
		s->timeout_ms = (unsigned)(v * 1000);
	}
	return 0;
}

static int setup(const struct vmopts *a, struct standalone *s)
{
	struct loader_params params = { 0 };
	struct guest_ram ram;
	struct vm_config cfg;
	char why[256];

	if (read_image(a->image, s) != 0)
		return -1;
	if (loader_prepare(&s->image, &s->boot, why, sizeof(why)) != 0) {
		log_warnx("%s: %s", a->image, why);
		return -1;
	}
	if (apply_pv_cmdline(s, a->cmdline) != 0 || resolve_shape(a, s) != 0 ||
	    resolve_sidecar(a, s) != 0)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.accel = accel_select(a->accel, why, sizeof(why));
	if (cfg.accel == NULL) {
		log_warnx("--accel %s: %s", a->accel, why);
		return -1;
	}
	if (console_init(&s->console, stdout_sink, NULL) != 0)
		return -1;
	cfg.n_vps = s->n_vps;
	cfg.mem_size = s->mem_size;
	cfg.hole_gpa = s->boot.hole_gpa;
	cfg.hole_size = s->boot.hole_size;
	cfg.console = &s->console;
	cfg.coalesce_sinks = !a->no_coalesce;
	if (vm_create(&s->vm, &cfg, -1) != 0) {
		log_warnx("cannot create the VM");
		return -1;
	}
	if (s->sidecar_cfg.vp_mask != 0 &&
	    sidecar_create(&s->sidecar, &s->vm, &s->sidecar_cfg) != 0)
		return -1;
	ram = vm_guest_ram(&s->vm);
	params.guest_cmdline = a->guest_cmdline;
	params.n_vps = s->n_vps;
	vpregs_from_igvm(&s->boot.bsp, &s->bsp);
	if (loader_load(&s->image, &s->boot, &ram, &params, why, sizeof(why)) !=
	    0) {
		log_warnx("%s: %s", a->image, why);
		return -1;
	}
	log_debug("%s: %u VPs, %llu MiB, accel %s", a->image, s->n_vps,
		  (unsigned long long)(s->mem_size >> 20), cfg.accel->name);
	return 0;
}

/* SIGINT/SIGTERM stop the VM in order: a thread waits for them. */
static void *signal_waiter(void *arg)
{
	struct vm *vm = arg;

	log_info("signal %d: stopping the VM", util_wait_stop_signal());
	vm_stop(vm);
	return NULL;
}

static void log_counters(const struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->cfg.n_vps; i++) {
		const struct vp_counters *c = &vm->vps[i].counters;
		uint64_t pio, mmio;

		vp_exit_totals(&vm->vps[i], &pio, &mmio);
		log_debug("vp%u: %llu pio, %llu mmio, %llu unknown pio, "
			  "%llu unknown mmio, %llu vtl2 refused, %llu runs, "
			  "samples %llu guest / %llu handler",
			  i, (unsigned long long)pio, (unsigned long long)mmio,
			  (unsigned long long)c->exits_unknown_pio,
			  (unsigned long long)c->exits_unknown_mmio,
			  (unsigned long long)c->vtl2_refused,
			  (unsigned long long)c->runs,
			  (unsigned long long)vm->vps[i].samples_guest,
			  (unsigned long long)vm->vps[i].samples_handler);
	}
}

static int exit_status(struct vm *vm, int timed_out)
{
	switch (atomic_load(&vm->state)) {
	case VM_STATE_POWEROFF:
		if (vm->exit_value >= STANDALONE_EXIT_CRASH) {
			log_warnx("guest exit value %d", vm->exit_value);
			return STANDALONE_EXIT_BIG_VALUE;
		}
		return vm->exit_value;
	case VM_STATE_CRASHED:
		log_warnx("guest crashed: %s", vm->crash_reason);
		return STANDALONE_EXIT_CRASH;
	default:
		if (timed_out) {
			log_warnx("timeout: guest stopped");
			return STANDALONE_EXIT_TIMEOUT;
		}
		log_info("VM stopped");
		return STANDALONE_EXIT_SETUP;
	}
}

int standalone_run(const struct vmopts *args)
{
	struct standalone *s = calloc(1, sizeof(*s));
	pthread_t reader, sigthr;
	sigset_t set;
	int rc, timed_out;

	if (s == NULL)
		return STANDALONE_EXIT_SETUP;
	s->vm.mem_fd = -1;
	util_stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (setup(args, s) != 0) {
		rc = STANDALONE_EXIT_SETUP;
		goto out;
	}
	console_start(&s->console);
	pthread_create(&reader, NULL, stdin_reader, &s->console);
	pthread_detach(reader);
	pthread_create(&sigthr, NULL, signal_waiter, &s->vm);
	pthread_detach(sigthr);
	timed_out = vm_run(&s->vm, &s->bsp, s->timeout_ms);
	console_stop(&s->console);
	log_counters(&s->vm);
	rc = timed_out < 0 ? STANDALONE_EXIT_SETUP
			   : exit_status(&s->vm, timed_out);
out:
	sidecar_destroy(&s->sidecar);
	vm_destroy(&s->vm);
	console_destroy(&s->console);
	igvm_free(&s->image);
	free(s->image_buf);
	free(s);
	return rc;
}
