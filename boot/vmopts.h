/* The flags that describe one VM, shared by `parapet run`, parapet-boot
 * (which `parapet run` starts with them) and parapet-vmworker
 * --standalone: one table of long options and one getopt parser. Each
 * program accepts its own subset, checks the values and has its own
 * --help text. */
#ifndef PARAPET_VMOPTS_H
#define PARAPET_VMOPTS_H

#include <stdbool.h>

enum vmopt {
	VMOPT_RUN_DIR,
	VMOPT_LIBEXEC,
	VMOPT_NAME,
	VMOPT_ACCEL,
	VMOPT_CPUS,
	VMOPT_SIDECAR_CPUS,
	VMOPT_SIDECAR_HOTPLUG,
	VMOPT_MEM,
	VMOPT_CMDLINE,
	VMOPT_GUEST_CMDLINE,
	VMOPT_HOST_DTB,
	VMOPT_SANDBOX,
	VMOPT_MANIFEST,
	VMOPT_TIMEOUT,
	VMOPT_REFTIME_RUN_START,
	VMOPT_STANDALONE,
	VMOPT_NO_COALESCE,
	VMOPT_QUIET,
	VMOPT_VERBOSE,
	VMOPT_DISK, /* repeatable: every value kept, in order */
	VMOPT_HELP, /* --help, and -h */
	VMOPT_COUNT
};
#define VMOPT(o) (1u << (o))

/* The most --disk values kept; vmopts_parse counts further ones in
 * n_disks without keeping them, so that the caller can name the limit. */
#define VMOPTS_DISK_MAX 8
/* Words vmopts_to_argv may add: two per option, two per kept disk. */
#define VMOPTS_ARGV_MAX (2 * VMOPT_COUNT + 2 * VMOPTS_DISK_MAX)

/* What the flags say, as given (NULL or false: not given). */
struct vmopts {
	const char *image; /* the operand: set by the caller */
	const char *run_dir, *libexec, *name;
	const char *accel, *cpus, *sidecar_cpus, *sidecar_hotplug, *mem;
	const char *cmdline, *guest_cmdline, *host_dtb, *sandbox, *manifest;
	const char *timeout, *reftime_run_start;
	bool standalone, no_coalesce, quiet, verbose;
	const char *disks[VMOPTS_DISK_MAX];
	unsigned n_disks; /* given, possibly more than VMOPTS_DISK_MAX */
};

enum vmopts_result {
	VMOPTS_OK = 0,
	VMOPTS_HELP,	 /* -h or --help (when accepted) */
	VMOPTS_UNKNOWN,	 /* an option not accepted */
	VMOPTS_NO_VALUE, /* an option without its value */
};

/* vmopts_parse flags: VMOPTS_QUIET keeps getopt's own messages
 * ("unrecognized option '--x'") off stderr. */
#define VMOPTS_QUIET 1u

/* Parses the options of argv among accept (VMOPT() bits) into o, zeroed
 * first; operands may stand anywhere (getopt permutes argv). Returns a
 * vmopts_result; *next is the index of the first operand or, on an
 * error, one past the word in error. */
int vmopts_parse(int argc, char **argv, unsigned accept, unsigned flags,
		 struct vmopts *o, int *next);

/* Appends "--NAME", "VALUE" to argv[*n] for each option of which that o
 * gives a value to (table order; a repeated option once per kept value),
 * and the flags without a value that are set. argv needs room for
 * VMOPTS_ARGV_MAX more words. */
void vmopts_to_argv(const struct vmopts *o, unsigned which, char **argv,
		    int *n);

#endif
