/* The VM flags' table (names, value or not, where each is stored) and
 * the getopt loop over it; see vmopts.h. */
#include "boot/vmopts.h"

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#define VMOPT_VAL 256 /* getopt value of table entry i: VMOPT_VAL + i */

struct vmopt_def {
	const char *flag; /* "--name" */
	int has_arg;
	size_t off; /* of the const char * (with a value) or the bool */
};

#define STR(field)  required_argument, offsetof(struct vmopts, field)
#define FLAG(field) no_argument, offsetof(struct vmopts, field)
/* A repeatable option: its values go to the array at off, counted in
 * n_disks (the one repeatable option so far). */
#define MULTI_ARG    3
#define MULTI(field) MULTI_ARG, offsetof(struct vmopts, field)

static const struct vmopt_def vmopt_table[VMOPT_COUNT] = {
	[VMOPT_RUN_DIR] = { "--run-dir", STR(run_dir) },
	[VMOPT_LIBEXEC] = { "--libexec", STR(libexec) },
	[VMOPT_NAME] = { "--name", STR(name) },
	[VMOPT_ACCEL] = { "--accel", STR(accel) },
	[VMOPT_CPUS] = { "--cpus", STR(cpus) },
	[VMOPT_SIDECAR_CPUS] = { "--sidecar-cpus", STR(sidecar_cpus) },
	[VMOPT_SIDECAR_HOTPLUG] = { "--sidecar-hotplug", STR(sidecar_hotplug) },
	[VMOPT_MEM] = { "--mem", STR(mem) },
	[VMOPT_CMDLINE] = { "--cmdline", STR(cmdline) },
	[VMOPT_GUEST_CMDLINE] = { "--guest-cmdline", STR(guest_cmdline) },
	[VMOPT_HOST_DTB] = { "--host-dtb", STR(host_dtb) },
	[VMOPT_SANDBOX] = { "--sandbox", STR(sandbox) },
	[VMOPT_MANIFEST] = { "--manifest", STR(manifest) },
	[VMOPT_TIMEOUT] = { "--timeout", STR(timeout) },
	[VMOPT_REFTIME_RUN_START] = { "--reftime-run-start",
				      STR(reftime_run_start) },
	[VMOPT_STANDALONE] = { "--standalone", FLAG(standalone) },
	[VMOPT_NO_COALESCE] = { "--no-coalesce", FLAG(no_coalesce) },
	[VMOPT_QUIET] = { "--quiet", FLAG(quiet) },
	[VMOPT_VERBOSE] = { "--verbose", FLAG(verbose) },
	[VMOPT_DISK] = { "--disk", MULTI(disks) },
	[VMOPT_HELP] = { "--help", no_argument, 0 },
};

static void vmopts_store(struct vmopts *o, int i, char *value)
{
	void *field = (char *)o + vmopt_table[i].off;

	if (vmopt_table[i].has_arg == MULTI_ARG) {
		if (o->n_disks < VMOPTS_DISK_MAX)
			((const char **)field)[o->n_disks] = value;
		o->n_disks++;
	} else if (vmopt_table[i].has_arg == required_argument)
		*(const char **)field = value;
	else
		*(bool *)field = true;
}

int vmopts_parse(int argc, char **argv, unsigned accept, unsigned flags,
		 struct vmopts *o, int *next)
{
	struct option opts[VMOPT_COUNT + 1] = { { 0 } };
	const char *optstring;
	int n = 0, c;

	*o = (struct vmopts){ 0 };
	for (int i = 0; i < VMOPT_COUNT; i++)
		if (accept & VMOPT(i))
			opts[n++] =
			    (struct option){ vmopt_table[i].flag + 2,
					     vmopt_table[i].has_arg == MULTI_ARG
						 ? required_argument
						 : vmopt_table[i].has_arg,
					     NULL, VMOPT_VAL + i };
	/* A leading ':' reports a missing value apart (as ':'), but also
	 * silences getopt's message for it. */
	if (flags & VMOPTS_QUIET)
		optstring = accept & VMOPT(VMOPT_HELP) ? ":h" : ":";
	else
		optstring = accept & VMOPT(VMOPT_HELP) ? "h" : "";
	opterr = !(flags & VMOPTS_QUIET);
	optind = 0; /* glibc: start over on this argv */
	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		*next = optind;
		if (c == 'h' || c == VMOPT_VAL + VMOPT_HELP)
			return VMOPTS_HELP;
		if (c == ':' || (c == '?' && optopt >= VMOPT_VAL))
			return VMOPTS_NO_VALUE;
		if (c < VMOPT_VAL)
			return VMOPTS_UNKNOWN;
		vmopts_store(o, c - VMOPT_VAL, optarg);
	}
	*next = optind;
	return VMOPTS_OK;
}

void vmopts_to_argv(const struct vmopts *o, unsigned which, char **argv, int *n)
{
	for (int i = 0; i < VMOPT_COUNT; i++) {
		const struct vmopt_def *d = &vmopt_table[i];
		const void *field = (const char *)o + d->off;
		const char *value;

		if (d->has_arg == MULTI_ARG) {
			for (unsigned k = 0;
			     (which & VMOPT(i)) && k < o->n_disks &&
			     k < VMOPTS_DISK_MAX;
			     k++) {
				argv[(*n)++] = (char *)(uintptr_t)d->flag;
				argv[(*n)++] = (char *)(uintptr_t)o->disks[k];
			}
			continue;
		}
		value = d->has_arg == required_argument
			    ? *(const char *const *)field
			    : NULL;

		if (!(which & VMOPT(i)) || i == VMOPT_HELP ||
		    (d->has_arg == required_argument && value == NULL) ||
		    (d->has_arg == no_argument && !*(const bool *)field))
			continue;
		argv[(*n)++] = (char *)(uintptr_t)d->flag;
		if (value != NULL)
			argv[(*n)++] = (char *)(uintptr_t)value;
	}
}
