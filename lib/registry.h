/* The one list of Parapet's IPC endpoints: the services init starts
 * (DESIGN.md §2), in the order the default manifest starts them, then the
 * other ends of the trace (init, the host, the diag CLI). Every list of
 * services reads this table: the default manifest (boot/shim_resolve.c),
 * sandbox profile names and uids (sandbox/status.c), caller identities
 * (lib/caller.c), socket directories (init/setup.c), trace ports
 * (lib/pcapng.c) and the interfaces diag decodes (diag_trace.c).
 *
 * Adding a service: its directory, its proto, one row in registry.c and
 * one SVC_NAME_ below (and its sandbox profile). A service's name is
 * spelled only here; other code uses SVC_NAME_* or the table. */
#ifndef PARAPET_REGISTRY_H
#define PARAPET_REGISTRY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SVC_NAME_VMWORKER "vmworker"
#define SVC_NAME_POLICY	  "policy"
#define SVC_NAME_HOSTCOMM "hostcomm"
#define SVC_NAME_DIAGD	  "diagd"
#define SVC_NAME_BLKD	  "blkd"
#define SVC_NAME_INIT	  "init" /* the partition's PID 1 */
#define SVC_NAME_HOST	  "host" /* parapet run's host channel */
#define SVC_NAME_DIAG	  "diag" /* the parapet-diag CLI */

struct registry_entry {
	const char *name;
	/* The binary in libexec init starts; NULL: not a supervised
	 * service (init, host, diag). */
	const char *binary;
	/* Its sandbox profile (enum sandbox_profile, also its uid offset
	 * and caller bit), or -1 (not sandboxed as a service). */
	int profile;
	/* The partition fds the default manifest hands it (MANIFEST_FD_*
	 * bits, lib/manifest.h). */
	uint32_t fds;
	/* The UDP port naming it in pcapng captures (lib/pcapng.h). */
	uint16_t trace_port;
	/* The interface it serves over IPC, or NULL. */
	const ProtobufCServiceDescriptor *desc;
	/* REGISTRY_F_* */
	uint32_t flags;
};

/* Not in the default manifest: init starts it only when the partition
 * needs it (blkd: when a disk is served by it). */
#define REGISTRY_F_ON_DEMAND 0x1u
/* At power-off init stops every other service at once, then this one
 * (vmworker: the VM outlives what serves it; hostcomm's stop drains the
 * console from it). Not on a power-off after the host got the console and
 * the guest's event (PoweroffRequest.delivered): then all stop at once. */
#define REGISTRY_F_STOP_LAST 0x2u

#define REGISTRY_MAX 16 /* rows at most (checked in registry.c) */

extern const struct registry_entry registry[];
extern const size_t registry_count;

/* The entry named name, or NULL. */
const struct registry_entry *registry_find(const char *name);

/* The supervised service running under sandbox profile profile, or NULL. */
const struct registry_entry *registry_by_profile(int profile);

/* The uid a supervised service runs as when it has a uid of its own
 * (sandbox_service_uid(profile)); root (0) for an entry without a profile. */
uid_t registry_uid(const struct registry_entry *e);

#endif
