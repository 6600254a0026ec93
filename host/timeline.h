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
	uint64_t first_guest_ns; /* 0 until learned from vmworker */
	int vm_asked;		 /* vmworker's Status was asked */
};

/* Merges t into run_dir/timeline.json when init's file lacks it;
 * init_pid locates the partition's sockets (/proc/PID/root). */
void timeline_update(const char *run_dir, pid_t init_pid,
		     struct timeline_host *t);

#endif
