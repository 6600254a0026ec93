/* What every Parapet service does the same way inside a partition:
 * svcbase_main runs its whole life from a description (arguments refused,
 * log, sandbox, held server, stop signals, READY, then one poll loop over
 * a signalfd, the supervisor channel and an evqueue); the pieces below
 * serve it and the services: the trace tap (flag shared through
 * /run/parapet/ipc/trace.flag), the fds init sends first on the
 * supervisor channel, and clients of its peers. */
#ifndef PARAPET_SVCBASE_H
#define PARAPET_SVCBASE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/evqueue.h"
#include "lib/ipc.h"

struct sandbox_bind;
struct sandbox_spec;
struct svcbase;

/* One service: its registry row by name, and hooks, all optional, in
 * the order they run. Each returns 0, or -1 to end the start-up with
 * PARTITION_EXIT_SETUP (init does not restart that). */
struct svcbase_desc {
	const char *name; /* SVC_NAME_*: profile and interface from there */
	/* Seen in the sandbox besides the IPC directory and /dev/null. */
	const struct sandbox_bind *binds;
	size_t n_binds;
	/* Its server's methods (lib/ipc.h), arg the service's ctx. */
	const struct ipc_method *methods;
	size_t n_methods;
	unsigned queue_max; /* items its evqueue holds (0: no bound) */

	/* Privileged, before the sandbox: its fds, its configuration. */
	int (*init)(struct svcbase *sb);
	/* Changes the sandbox (sandbox/sandbox.h) before it is entered:
	 * ids, kept fds, an earlier hook, its mode. */
	void (*sandbox)(struct svcbase *sb, struct sandbox_spec *spec);
	/* Sandbox step 8, after the trace tap opened: its clients (nng's
	 * threads start here). */
	int (*open)(struct svcbase *sb);
	/* Opens its server from cfg (its socket at
	 * PARTITION_IPC_DIR/NAME/NAME.sock, callers of lib/caller.h, held),
	 * changed as it needs; NULL when it fails. Without the hook,
	 * ipc_server_open(cfg). */
	struct ipc_server *(*server)(struct svcbase *sb,
				     struct ipc_server_config *cfg);
	/* The sandbox is whole and the server answers: what runs before
	 * READY (sb->blackout_ns for a restored instance's READY). */
	int (*start)(struct svcbase *sb);
	/* In the loop, after each wake-up: does what is due at now
	 * (monotonic ns) and returns the next deadline, 0 for none. */
	uint64_t (*timer)(struct svcbase *sb, uint64_t now);
	/* A stop (SIGTERM, SIGINT, SIGHUP, or STOP from init); the listener
	 * has closed. It may _exit; otherwise the loop ends. */
	void (*stop)(struct svcbase *sb, int sig);
	/* After the loop: frees what the service holds; without it the
	 * process _exits at once (its requests may still run). */
	void (*fini)(struct svcbase *sb);
};

struct svcbase {
	const struct svcbase_desc *desc;
	void *ctx; /* the service's own state */
	int profile;
	struct ipc_server *srv;
	struct ipc_trace *trace;
	struct evqueue queue; /* work for the loop */
	int sigfd;
	uint64_t blackout_ns; /* READY's: the servicing this one continues */
	struct sandbox_status *sandbox_status; /* filled when not NULL */
	bool stopping;
	/* init's STOP said the partition powers off: no instance of ours
	 * follows (svcbase_main skips what only a restart needs) */
	bool poweroff;
};

/* The stop signals every service blocks in all its threads (before nng
 * starts them) and takes in its loop. */
void svcbase_stop_signals(sigset_t *set);

/* Runs the service d with state ctx; returns main's exit status. */
int svcbase_main(const struct svcbase_desc *d, void *ctx, int argc,
		 char **argv);

/* Hands it to the service's loop (any thread); -1 when the queue is
 * full. */
int svcbase_push(struct svcbase *sb, struct evqueue_item *it);

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

/* One fd of an FDS message and its name. */
struct svcbase_fd {
	char name[32];
	int fd;
};

/* As svcbase_take_fd, for every fd whose name starts with prefix (at
 * most max, in message order, into out; the others are closed). Returns
 * their count, 0 when no message came. */
int svcbase_take_fds(const char *prefix, int wait_ms, struct svcbase_fd *out,
		     size_t max);

/* A client of the service at /run/parapet/ipc/PEER.sock (path overrides
 * the socket path when not NULL). */
struct ipc_client *svcbase_client(const char *self, const char *peer,
				  const char *path,
				  const ProtobufCServiceDescriptor *desc,
				  int timeout_ms, struct ipc_trace *trace);

/* Reads the string property prop of /parapet in the boot device tree
 * (sysfs) into out ("" when absent). */
void svcbase_dt_string(const char *prop, char *out, size_t len);

#endif
