/* run-dir/timeline.json (DESIGN.md §2): init writes the stamps it knows
 * (run start, shim start/end, init start, each service ready); `parapet
 * run` adds what only the host and the VM know (VM created, first guest
 * instruction, first console byte) once; init keeps them when it
 * rewrites the file. */
#ifndef PARAPET_HOST_TIMELINE_H
#define PARAPET_HOST_TIMELINE_H

#include <stdint.h>
#include <sys/types.h>

struct timeline_host {
	uint64_t first_console_ns;
};

/* Merges t into run_dir/timeline.json when init's file lacks it. */
void timeline_update(const char *run_dir, struct timeline_host *t);

#endif
