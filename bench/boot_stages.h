/* Where a `parapet run` boot's time goes: the partition's boot timeline
 * (run-dir/timeline.json, read while the run lasts, as its run directory
 * goes with it) between the bench's own stamps of the exec, the first
 * console byte and the exit. */
#ifndef PARAPET_BENCH_BOOT_STAGES_H
#define PARAPET_BENCH_BOOT_STAGES_H

#include <stdbool.h>
#include <stddef.h>

#define BOOT_STAGES 7

struct boot_stages {
	bool ok; /* the timeline was read and its stamps are in order */
	double ms[BOOT_STAGES];
};

/* Runs argv, a `parapet run --name name ...` that prints on its stdout,
 * and returns its wall time in ns from fork to exit, as proc_time()
 * (stdout read and dropped instead of /dev/null), or -1 when it does not
 * exit with status 0; fills st. */
double boot_stages_run(const char *const argv[], const char *name,
		       struct boot_stages *st);

/* Prints one line per stage: the median over the n boots of st that have
 * their stages, against total_ms (the boots' median). */
void boot_stages_print(const char *metric, const struct boot_stages *st,
		       size_t n, double total_ms);

#endif
