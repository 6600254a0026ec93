/* Sidecar CPUs (DESIGN.md §6): VPs run by lean threads that talk to the
 * vmworker main loop only through the shared-memory pages of
 * sidecar_proto.h. Each exit of a sidecar VP is posted as an intercept;
 * the main loop emulates the device and answers; a VP that exits too
 * often is hot-plugged, one way, into a full VP thread. */
#ifndef PARAPET_SIDECAR_H
#define PARAPET_SIDECAR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "services/vmworker/sidecar_proto.h"

struct vm;
struct vp;

/* Spins on a shared word before sleeping on its futex: about 20-50 us
 * of pause instructions, longer than a round trip through the other
 * side (~0.1 us when it is running) and shorter than the cost of a
 * futex wake on these machines (tens of us). */
#define SIDECAR_SPINS	      2000
#define SIDECAR_CALL_SLICE_NS 10000000u /* sidecar_call notices a stop */

struct sidecar_config {
	uint64_t vp_mask;	    /* bit i: VP i is a sidecar CPU */
	bool log;		    /* sidecar=log */
	uint64_t hotplug_threshold; /* exits before hot-plug; 0: never */
	int region_fd;		    /* the shim's region, or -1 */
	bool thread_filter;	    /* sandboxed: each thread adds its own */
	bool kvm;		    /* the thread filter allows KVM_RUN */
};

struct sidecar {
	/* Read by the sidecar threads on each exit, written only when the
	 * sidecar starts and stops. */
	struct vm *vm;
	struct sidecar_config cfg;
	int fd;
	size_t size;
	struct sidecar_control *ctl;
	struct sidecar_cmd_page *pages; /* one per VP */
	pthread_t host;
	bool host_started;
	_Atomic bool stopping;
	/* Keeps the main loop's per-exit writes below off the cache lines
	 * above: sharing one cost each exit a line's trip between CPUs
	 * (padding, not _Alignas: the struct lives in calloc'ed memory). */
	char pad[64];
	uint64_t intercepts[SIDECAR_MAX_VPS];
	uint32_t posted_seen[SIDECAR_MAX_VPS]; /* main loop's view */
	uint64_t parked;		/* main loop: VPs idle for a pause */
	_Atomic uint64_t start_pending; /* VPs the mailbox started */
	_Atomic uint64_t hotplugged;	/* bit i: VP i left the sidecar */
	_Atomic bool resume_pending;
};

/* Maps (or creates) the region and marks the sidecar VPs. */
int sidecar_create(struct sidecar *sc, struct vm *vm,
		   const struct sidecar_config *cfg);
void sidecar_destroy(struct sidecar *sc);

/* Starts the sidecar threads and the main loop's thread (vm_run). */
int sidecar_start(struct sidecar *sc);
/* Stops every sidecar thread and the main loop; joins them. */
void sidecar_stop(struct sidecar *sc);
/* After sidecar_stop, for a VM reset: every sidecar VP leaves the sidecar
 * (as a hot-plug does; its state would otherwise have to be rebuilt on
 * the shared pages) and sidecar_start may run again. */
void sidecar_reset(struct sidecar *sc);

/* The mailbox started a sidecar VP: the main loop sets its registers and
 * runs it. */
void sidecar_request_start(struct sidecar *sc, unsigned index);

/* After a pause or a restore: run every running sidecar VP again. */
void sidecar_resume(struct sidecar *sc);

/* From a sidecar VP's exit path: posts the access and waits for the main
 * loop's answer. */
void sidecar_vp_access(struct vp *vp, uint32_t kind, uint64_t addr,
		       uint64_t *data, unsigned len, bool is_write);

/* For the host loop and tests: run one command on VP index's page and
 * wait for it (not RUN_VP). Returns an enum sidecar_error. */
uint32_t sidecar_call(struct sidecar *sc, unsigned index, uint32_t command);

#endif
