/* What every Parapet service does the same way inside a partition: its
 * trace tap (flag shared through /run/parapet/ipc/trace.flag), the fds
 * init sends first on the supervisor channel, and clients of its peers. */
#ifndef PARAPET_SVCBASE_H
#define PARAPET_SVCBASE_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/ipc.h"

/* Services take no arguments (init starts them): 0, or -1 after naming
 * the first one. */
int svcbase_no_args(int argc, char **argv);

/* The tap publishing on /run/parapet/ipc/NAME.trace.sock, switched by the
 * u32 at offset 0 of trace.flag when init created it (else by a private
 * flag, off). NULL when the tap cannot start (the service runs without). */
struct ipc_trace *svcbase_trace(const char *service);

/* Takes the FDS message init queued on fd 3 (waits up to wait_ms): the fd
 * named name is returned (the others are closed), or -1. */
int svcbase_take_fd(const char *name, int wait_ms);

/* A client of the service at /run/parapet/ipc/PEER.sock (path overrides
 * the socket path when not NULL). */
struct ipc_client *svcbase_client(const char *self, const char *peer,
				  const char *path,
				  const ProtobufCServiceDescriptor *desc,
				  int timeout_ms, struct ipc_trace *trace);

/* Reads the string property prop of /parapet in the boot device tree
 * (sysfs) into out ("" when absent). */
void svcbase_dt_string(const char *prop, char *out, size_t len);

struct sandbox_bind;
/* Enters the service's sandbox (sandbox/sandbox.h) in the mode of
 * /parapet/sandbox, binding the IPC directory, /dev/null and extra;
 * open(ctx) runs at step 8 (nng starts there). 0, or -1 logged. */
int svcbase_sandbox(const char *service, int profile,
		    const struct sandbox_bind *extra, size_t n_extra,
		    int (*open)(void *ctx), void *ctx);
/* The same, running as uid/gid (0: the profile's own ids), as diagd does
 * for the VM's owner. */
int svcbase_sandbox_as(const char *service, int profile,
		       const struct sandbox_bind *extra, size_t n_extra,
		       int (*open)(void *ctx), void *ctx, uid_t uid, gid_t gid);

#endif
