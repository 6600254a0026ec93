/* parapet-diagd: the diagnostics server of a partition (DESIGN.md §9).
 * Serves the Diag protocol to the VM's owner on the host run directory's
 * diag.sock and answers from init (processes, logs), the services (Stats,
 * Inspect), policy (VM commands), the trace taps and the device tree. */
#ifndef PARAPET_DIAGD_H
#define PARAPET_DIAGD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "diag.pb-c.h"
#include "init.pb-c.h"
#include "lib/evqueue.h"
#include "lib/ipc.h"
#include "lib/svcbase.h"

#define DIAGD_SOCK	  "/run/parapet/host/diag/diag.sock"
#define DIAGD_MAX_JOBS	  16 /* queued or running */
#define DIAGD_WORKERS	  8
#define DIAGD_JOB_KEEP	  4
#define DIAGD_RECV_MAX	  (1024u * 1024)
#define DIAGD_TRACE_REPLY (768u * 1024)

struct diagd_trace;

struct diagd {
	uid_t owner;
	gid_t owner_gid;
	const char *ipc_dir; /* the services' sockets: PARTITION_IPC_DIR */
	struct ipc_server *srv;
	struct ipc_trace *tap; /* diagd's own calls (to init, policy, ...) */
	struct ipc_client *init, *policy, *vmworker;
	/* Opened by the first inspect that finds blkd running: without a
	 * disk there is none, and a client would redial its absent socket
	 * every 2-10 ms (a third of a core) for the partition's life. */
	struct ipc_client *blkd;
	struct diagd_trace *trace;
	struct evqueue jobs; /* for the workers */
	atomic_int n_jobs;
	pthread_mutex_t workers_lock;
	int n_workers; /* started so far (under workers_lock) */
	uint64_t start_ns;
};

/* One request, run by a worker: the handlers block on calls to init and
 * the services. keep[] are freed after the reply is sent (reply fields
 * may point into them). */
struct diagd_job {
	struct evqueue_item item; /* first: the queue hands it back */
	struct diagd *d;
	struct ipc_request *req;
	const ProtobufCMessage *in;
	ProtobufCMessage *out;
	ProtobufCMessage *keep[DIAGD_JOB_KEEP];
	int (*work)(struct diagd_job *j);
};

/* diagd.c */
/* init's Ps (ipc_free it). 0 or ipc_err. */
int diagd_ps(struct diagd *d, Parapet__PsReply **out);
/* The status of name in ps, or NULL. */
const Parapet__ServiceStatus *diagd_find(const Parapet__PsReply *ps,
					 const char *name);
char *diagd_strdup(struct diagd_job *j, const char *s);
/* A client of the service name's socket in d->ipc_dir; NULL on failure. */
struct ipc_client *diagd_client(struct diagd *d, const char *name,
				const ProtobufCServiceDescriptor *svc,
				int timeout_ms);
/* A /parapet string property of the boot device tree into out ("" if
 * none). */
void diagd_dt_string(const char *prop, char *out, size_t len);

/* The Diag endpoint on path, for d->owner (d's clients and trace open
 * already), held: it answers after ipc_server_serve. NULL on failure
 * (logged). */
struct ipc_server *diagd_server_open(struct diagd *d, const char *path);

/* diagd_trace.c */
/* Reads the taps NAME.trace.sock in ipc_dir and switches its trace.flag. */
struct diagd_trace *diagd_trace_open(const char *ipc_dir);
void diagd_trace_close(struct diagd_trace *t);
int diagd_trace_work(struct diagd_job *j);
/* Counters of the trace subscription for inspect. */
json_t *diagd_trace_json(struct diagd_trace *t);

/* diagd_inspect.c */
int diagd_inspect_work(struct diagd_job *j);
int diagd_timeline_work(struct diagd_job *j);
int diagd_sandbox_work(struct diagd_job *j);
int diagd_dt_work(struct diagd_job *j);

#endif
