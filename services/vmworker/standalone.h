/* One VM in the foreground from an IGVM file (parapet-vmworker
 * --standalone): image loading, console on stdin/stdout, exit statuses of
 * `parapet run` (DESIGN.md §3). */
#ifndef PARAPET_STANDALONE_H
#define PARAPET_STANDALONE_H

#include <stdbool.h>

#define STANDALONE_EXIT_BIG_VALUE 122
#define STANDALONE_EXIT_CRASH	  123
#define STANDALONE_EXIT_TIMEOUT	  124
#define STANDALONE_EXIT_SETUP	  125

struct standalone_args {
	const char *image;
	const char *accel;
	const char *cpus;
	const char *mem;
	const char *pv_cmdline;
	const char *guest_cmdline;
	const char *timeout;
	const char *sidecar_cpus;    /* LIST, auto or none */
	const char *sidecar_hotplug; /* exits before hot-plug */
	bool no_coalesce;	     /* every sink write exits (benchmarks) */
};

int standalone_run(const struct standalone_args *args);

#endif
