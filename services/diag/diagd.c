/* parapet-diagd: main, the Diag endpoint (owner only), and the handlers
 * that go through init and policy: Ps, Control, Logs, Vm. Each request
 * waits on other services: the handlers queue it (lib/evqueue.h) for a
 * fixed set of workers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <libfdt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkd.pb-c.h"
#include "policy.pb-c.h"
#include "services/diag/diagd.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

#define DIAGD_OWNER_BIT 1u

char *diagd_strdup(struct diagd_job *j, const char *s)
{
	size_t n = strlen(s ? s : "") + 1;
	char *d = ipc_request_alloc(j->req, n);

	if (d != NULL)
		memcpy(d, s ? s : "", n);
	return d;
}

void diagd_dt_string(const char *prop, char *out, size_t len)
{
	static uint8_t fdt[PARTITION_DTB_MAX];
	int fd = open(PARTITION_FDT_PATH, O_RDONLY | O_CLOEXEC), node, plen;
	ssize_t n = fd >= 0 ? read(fd, fdt, sizeof(fdt)) : -1;
	const char *v;

	out[0] = '\0';
	if (fd >= 0)
		close(fd);
	if (n <= 0 || fdt_check_full(fdt, (size_t)n) != 0)
		return;
	node = fdt_path_offset(fdt, "/parapet");
	v = node >= 0 ? fdt_getprop(fdt, node, prop, &plen) : NULL;
	if (v != NULL && plen > 0 && v[plen - 1] == '\0')
		snprintf(out, len, "%s", v);
}

int diagd_ps(struct diagd *d, Parapet__PsReply **out)
{
	Parapet__PsRequest q = PARAPET__PS_REQUEST__INIT;

	return ipc_call(d->init, "Ps", &q.base, (ProtobufCMessage **)out);
}

const Parapet__ServiceStatus *diagd_find(const Parapet__PsReply *ps,
					 const char *name)
{
	for (size_t i = 0; ps != NULL && i < ps->n_services; i++)
		if (ps->services[i]->name &&
		    !strcmp(ps->services[i]->name, name))
			return ps->services[i];
	return NULL;
}

static bool diagd_running(const Parapet__PsReply *ps, const char *name)
{
	const Parapet__ServiceStatus *s = diagd_find(ps, name);

	return s != NULL && s->state && !strcmp(s->state, "running");
}

/* ------------------------------------------------------------- jobs */

static void diagd_job_run(struct evqueue_item *it, void *ctx)
{
	struct diagd_job *j = (struct diagd_job *)it;
	int rc = j->work(j);

	(void)ctx;
	ipc_request_finish(j->req, rc);
	for (int i = 0; i < DIAGD_JOB_KEEP; i++)
		if (j->keep[i] != NULL)
			ipc_free(j->keep[i]);
	atomic_fetch_sub(&j->d->n_jobs, 1);
	free(j);
}

/* A worker: sleeps in poll until a job is queued, runs it. */
static void *diagd_worker(void *arg)
{
	struct diagd *d = arg;
	struct pollfd p = { .fd = evqueue_fd(&d->jobs), .events = POLLIN };

	for (;;) {
		struct evqueue_item *it;
		int woken;

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			usleep(100 * 1000);
		/* Another worker may have taken it: NULL then. */
		while ((it = evqueue_take(&d->jobs, &woken)) != NULL || woken)
			if (it != NULL)
				it->run(it, d);
	}
	return NULL;
}

/* Up to DIAGD_WORKERS threads serve the job queue, as many as requests
 * the server runs at once (its contexts), so none waits for a worker.
 * They start with the first requests that need them: an idle worker
 * still holds its stack pages, and most partitions never see a
 * diagnostic request. */
static int diagd_workers_start(struct diagd *d)
{
	pthread_mutex_init(&d->workers_lock, NULL);
	return evqueue_init(&d->jobs, DIAGD_MAX_JOBS);
}

/* A worker for each of the jobs in flight; -1 when none runs at all. */
static int diagd_worker_for(struct diagd *d, int jobs)
{
	pthread_attr_t attr;
	int n;

	pthread_mutex_lock(&d->workers_lock);
	if (jobs > d->n_workers && d->n_workers < DIAGD_WORKERS) {
		pthread_t t;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256u * 1024);
		if (pthread_create(&t, &attr, diagd_worker, d) == 0)
			d->n_workers++;
		else
			log_warnx("cannot start a worker");
		pthread_attr_destroy(&attr);
	}
	n = d->n_workers;
	pthread_mutex_unlock(&d->workers_lock);
	return n > 0 ? 0 : -1;
}

static int diagd_spawn(struct ipc_request *req, const ProtobufCMessage *in,
		       ProtobufCMessage *out, struct diagd *d,
		       int (*work)(struct diagd_job *))
{
	struct diagd_job *j;
	int jobs = atomic_fetch_add(&d->n_jobs, 1) + 1;

	if (jobs > DIAGD_MAX_JOBS || diagd_worker_for(d, jobs) != 0 ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		atomic_fetch_sub(&d->n_jobs, 1);
		return IPC_ERR_UNAVAILABLE;
	}
	*j = (struct diagd_job){ .item.run = diagd_job_run,
				 .d = d,
				 .req = req,
				 .in = in,
				 .out = out,
				 .work = work };
	if (evqueue_push(&d->jobs, &j->item) != 0) {
		free(j);
		atomic_fetch_sub(&d->n_jobs, 1);
		return IPC_ERR_UNAVAILABLE;
	}
	return IPC_ASYNC;
}

/* An ipc_call error as the request's error message: the callee's own
 * reason when it gave one (policy says why it refuses a command in a
 * state), else the error code's text. */
static int diagd_fail(struct diagd_job *j, const char *what, int rc)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s: %s", what,
		 *ipc_last_error() ? ipc_last_error() : ipc_strerror(rc));
	ipc_request_set_error(j->req, msg);
	return IPC_ERR_HANDLER;
}

/* --------------------------------------------------------------- ps */

static Parapet__DiagService *diagd_row(struct diagd_job *j,
				       const Parapet__ServiceStatus *s)
{
	Parapet__DiagService *r = ipc_request_alloc(j->req, sizeof(*r));

	if (r == NULL)
		return NULL;
	parapet__diag_service__init(r);
	r->name = s->name;
	r->state = s->state;
	r->last_exit = s->last_exit;
	r->has_pid = r->has_uptime_s = r->has_restarts = r->has_rss_kib = 1;
	r->pid = s->pid;
	r->uptime_s = s->has_uptime_ns ? (double)s->uptime_ns / 1e9 : 0;
	r->restarts = s->spawns > 0 ? s->spawns - 1 : 0;
	r->rss_kib = s->rss_kib;
	return r;
}

static int diagd_ps_work(struct diagd_job *j)
{
	Parapet__DiagPsReply *out = (Parapet__DiagPsReply *)j->out;
	Parapet__PsReply *ps = NULL;
	int rc = diagd_ps(j->d, &ps);

	if (rc != 0)
		return diagd_fail(j, "init Ps", rc);
	j->keep[0] = &ps->base;
	out->services =
	    ipc_request_alloc(j->req, sizeof(void *) * (ps->n_services + 1));
	if (out->services == NULL)
		return IPC_ERR_NOMEM;
	for (size_t i = 0; i < ps->n_services; i++)
		if ((out->services[out->n_services++] =
			 diagd_row(j, ps->services[i])) == NULL)
			return IPC_ERR_NOMEM;
	return 0;
}

/* ---------------------------------------------------------- control */

struct diagd_later {
	struct diagd *d;
	char method[16];
};

/* restart of diagd itself: answered first, done a moment later. */
static void *diagd_self_control(void *arg)
{
	struct diagd_later *l = arg;
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	ProtobufCMessage *reply = NULL;

	usleep(200 * 1000);
	ref.name = (char *)(uintptr_t)SVC_NAME_DIAGD;
	if (ipc_call(l->d->init, l->method, &ref.base, &reply) == 0)
		ipc_free(reply);
	free(l);
	return NULL;
}

static int diagd_control_self(struct diagd_job *j, const char *method)
{
	Parapet__DiagControlReply *out = (Parapet__DiagControlReply *)j->out;
	struct diagd_later *l = calloc(1, sizeof(*l));
	pthread_t t;

	if (l == NULL)
		return IPC_ERR_NOMEM;
	l->d = j->d;
	snprintf(l->method, sizeof(l->method), "%s", method);
	if (pthread_create(&t, NULL, diagd_self_control, l) != 0) {
		free(l);
		return IPC_ERR_UNAVAILABLE;
	}
	pthread_detach(t);
	out->note = diagd_strdup(j, "diagd answers first, then init acts");
	return 0;
}

/* restart vmworker is servicing: through policy when it runs. */
static int diagd_service_vmworker(struct diagd_job *j)
{
	Parapet__DiagControlReply *out = (Parapet__DiagControlReply *)j->out;
	Parapet__PolicyCommand cmd = PARAPET__POLICY_COMMAND__INIT;
	ProtobufCMessage *reply = NULL;
	Parapet__PsReply *ps = NULL;
	int rc;

	cmd.command = (char *)(uintptr_t) "service";
	rc = ipc_call(j->d->policy, "Command", &cmd.base, &reply);
	if (rc != 0)
		return diagd_fail(j, "policy Command service", rc);
	j->keep[1] = reply;
	out->note = diagd_strdup(j, "servicing through policy");
	if (diagd_ps(j->d, &ps) == 0) {
		j->keep[2] = &ps->base;
		if (diagd_find(ps, SVC_NAME_VMWORKER))
			out->service =
			    diagd_row(j, diagd_find(ps, SVC_NAME_VMWORKER));
	}
	return 0;
}

static int diagd_control_work(struct diagd_job *j)
{
	const Parapet__DiagControlRequest *q =
	    (const Parapet__DiagControlRequest *)j->in;
	Parapet__DiagControlReply *out = (Parapet__DiagControlReply *)j->out;
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	Parapet__ControlReply *reply = NULL;
	Parapet__PsReply *ps = NULL;
	const char *a = q->action ? q->action : "", *method;
	int rc;

	method = !strcmp(a, "restart") ? "Restart"
		 : !strcmp(a, "stop")  ? "Stop"
		 : !strcmp(a, "start") ? "Start"
				       : NULL;
	if (method == NULL || q->service == NULL || !*q->service) {
		ipc_request_set_error(j->req, "action: restart, stop or start "
					      "of a service");
		return IPC_ERR_HANDLER;
	}
	/* diagd serves Control: stopped through itself, nothing could
	 * start it again (every parapet-diag command needs it) */
	if (!strcmp(q->service, SVC_NAME_DIAGD) && !strcmp(method, "Stop")) {
		ipc_request_set_error(
		    j->req, "diagd cannot be stopped through itself (every "
			    "parapet-diag command, start included, needs "
			    "it); restart diagd works");
		return IPC_ERR_HANDLER;
	}
	if (!strcmp(q->service, SVC_NAME_DIAGD) && strcmp(method, "Start"))
		return diagd_control_self(j, method);
	if (!strcmp(q->service, SVC_NAME_VMWORKER) &&
	    !strcmp(method, "Restart") && diagd_ps(j->d, &ps) == 0) {
		j->keep[0] = &ps->base;
		if (diagd_running(ps, SVC_NAME_POLICY))
			return diagd_service_vmworker(j);
	}
	ref.name = q->service;
	rc = ipc_call(j->d->init, method, &ref.base,
		      (ProtobufCMessage **)&reply);
	if (rc != 0)
		return diagd_fail(j, method, rc);
	j->keep[1] = &reply->base;
	if (reply->service != NULL)
		out->service = diagd_row(j, reply->service);
	return 0;
}

/* ------------------------------------------------------------- logs */

static int diagd_logs_work(struct diagd_job *j)
{
	const Parapet__DiagLogsRequest *q =
	    (const Parapet__DiagLogsRequest *)j->in;
	Parapet__LogsReply *out = (Parapet__LogsReply *)j->out, *r = NULL;
	Parapet__LogsRequest lq = PARAPET__LOGS_REQUEST__INIT;
	int rc;

	lq.name = q->service;
	lq.has_max_bytes = q->has_max_bytes;
	lq.max_bytes = q->max_bytes;
	rc = ipc_call(j->d->init, "Logs", &lq.base, (ProtobufCMessage **)&r);
	if (rc != 0)
		return diagd_fail(j, "init Logs", rc);
	j->keep[0] = &r->base;
	out->n_logs = r->n_logs;
	out->logs = r->logs;
	return 0;
}

/* --------------------------------------------------------------- vm */

static int diagd_vm_work(struct diagd_job *j)
{
	const Parapet__DiagVmRequest *q = (const Parapet__DiagVmRequest *)j->in;
	Parapet__PolicyReply *out = (Parapet__PolicyReply *)j->out, *r = NULL;
	Parapet__PolicyCommand cmd = PARAPET__POLICY_COMMAND__INIT;
	Parapet__PsReply *ps = NULL;
	static const char *const ok[] = { "status", "pause", "resume",
					  "reset" };
	int rc = IPC_ERR_HANDLER;

	for (size_t i = 0; q->command && i < 4; i++)
		if (!strcmp(q->command, ok[i]))
			rc = 0;
	if (rc != 0) {
		ipc_request_set_error(j->req, "vm: status, pause, resume or "
					      "reset");
		return rc;
	}
	if (diagd_ps(j->d, &ps) == 0) {
		j->keep[0] = &ps->base;
		if (!diagd_running(ps, SVC_NAME_POLICY)) {
			ipc_request_set_error(j->req, "policy is not running");
			return IPC_ERR_UNAVAILABLE;
		}
	}
	cmd.command = q->command;
	rc = ipc_call(j->d->policy, "Command", &cmd.base,
		      (ProtobufCMessage **)&r);
	if (rc != 0)
		return diagd_fail(j, "policy Command", rc);
	j->keep[1] = &r->base;
	out->state = r->state;
	out->vm = r->vm;
	out->has_blackout_ns = r->has_blackout_ns;
	out->blackout_ns = r->blackout_ns;
	return 0;
}

/* --------------------------------------------------------- endpoint */

#define DIAGD_HANDLER(fn, work)                                                \
	static int fn(struct ipc_request *req, const ProtobufCMessage *in,     \
		      ProtobufCMessage *out, void *arg)                        \
	{                                                                      \
		return diagd_spawn(req, in, out, arg, work);                   \
	}
DIAGD_HANDLER(h_ps, diagd_ps_work)
DIAGD_HANDLER(h_control, diagd_control_work)
DIAGD_HANDLER(h_logs, diagd_logs_work)
DIAGD_HANDLER(h_trace, diagd_trace_work)
DIAGD_HANDLER(h_inspect, diagd_inspect_work)
DIAGD_HANDLER(h_dt, diagd_dt_work)
DIAGD_HANDLER(h_timeline, diagd_timeline_work)
DIAGD_HANDLER(h_vm, diagd_vm_work)
DIAGD_HANDLER(h_sandbox, diagd_sandbox_work)

static const struct ipc_method diagd_methods[] = {
	{ "Ps", h_ps, DIAGD_OWNER_BIT, 64 },
	{ "Control", h_control, DIAGD_OWNER_BIT, 256 },
	{ "Logs", h_logs, DIAGD_OWNER_BIT, 256 },
	{ "Trace", h_trace, DIAGD_OWNER_BIT, 64 },
	{ "Inspect", h_inspect, DIAGD_OWNER_BIT, 64 },
	{ "Dt", h_dt, DIAGD_OWNER_BIT, 64 },
	{ "Timeline", h_timeline, DIAGD_OWNER_BIT, 64 },
	{ "Vm", h_vm, DIAGD_OWNER_BIT, 128 },
	{ "Sandbox", h_sandbox, DIAGD_OWNER_BIT, 256 },
};

struct ipc_client *diagd_client(struct diagd *d, const char *name,
				const ProtobufCServiceDescriptor *svc,
				int timeout_ms)
{
	char path[128];
	struct ipc_client_config cfg = {
		.name = SVC_NAME_DIAGD,
		.path = path,
		.destination = name,
		.service = svc,
		.timeout_ms = timeout_ms,
		.recv_max = 4u << 20,
		.trace = d->tap,
	};

	partition_sock_path(path, sizeof(path), d->ipc_dir, name, ".sock");
	return ipc_client_open(&cfg);
}

struct ipc_server *diagd_server_open(struct diagd *d, const char *path)
{
	struct ipc_listen listen = { path, 0, 0600 };
	struct ipc_peer_uid owner = { d->owner, DIAGD_OWNER_BIT };
	struct ipc_server_config cfg = {
		.name = SVC_NAME_DIAGD,
		.listen = &listen,
		.n_listen = 1,
		/* 0600, and the owner by an ACL entry: unprivileged with
		 * subordinate ids the owner is neither diagd's uid nor the
		 * host's root */
		.acl = { d->owner, d->owner != geteuid() },
		.uids = &owner,
		.n_uids = 1,
		.service = &parapet__diag__descriptor,
		.methods = diagd_methods,
		.n_methods = sizeof(diagd_methods) / sizeof(diagd_methods[0]),
		.recv_max = DIAGD_RECV_MAX,
		.decode_budget = 4u << 20,
		.n_contexts = DIAGD_WORKERS,
		.arg = d,
		.held = 1, /* served once the sandbox is whole */
	};

	if (diagd_workers_start(d) != 0) {
		log_warnx("cannot set up its job queue");
		return NULL;
	}
	return ipc_server_open(&cfg);
}

/* Sandbox step 8: its clients and the trace reader (nng starts its
 * threads here); its tap (sb->trace) traces its own calls. */
static int diagd_open(struct svcbase *sb)
{
	struct diagd *d = sb->ctx;

	d->ipc_dir = PARTITION_IPC_DIR;
	d->tap = sb->trace;
	d->init = diagd_client(d, SVC_NAME_INIT,
			       &parapet__init_control__descriptor, 60000);
	d->policy = diagd_client(d, SVC_NAME_POLICY,
				 &parapet__policy__descriptor, 60000);
	d->vmworker = diagd_client(d, SVC_NAME_VMWORKER,
				   &parapet__vm_worker__descriptor, 3000);
	d->trace = diagd_trace_open(d->ipc_dir);
	return d->init && d->policy && d->vmworker && d->trace ? 0 : -1;
}

/* The Diag endpoint: diag.sock in the host run directory, the VM's
 * owner its only caller (diagd_server_open). */
static struct ipc_server *diagd_server(struct svcbase *sb,
				       struct ipc_server_config *cfg)
{
	struct diagd *d = sb->ctx;

	(void)cfg;
	d->srv = diagd_server_open(d, DIAGD_SOCK);
	return d->srv;
}

/* Who owns the host run directory owns the VM: diagd serves that user
 * and runs as them. */
static int diagd_init(struct svcbase *sb)
{
	struct diagd *d = sb->ctx;
	struct stat st;

	d->start_ns = util_now_ns();
	if (stat(PARTITION_HOST_DIR, &st) != 0) {
		log_warn("%s", PARTITION_HOST_DIR);
		return -1;
	}
	d->owner = st.st_uid;
	d->owner_gid = st.st_gid;
	return 0;
}

static void diagd_sandbox(struct svcbase *sb, struct sandbox_spec *spec)
{
	struct diagd *d = sb->ctx;

	spec->uid = d->owner;
	spec->gid = d->owner ? d->owner_gid : 0;
}

static int diagd_start(struct svcbase *sb)
{
	struct diagd *d = sb->ctx;

	log_info("serving %s for uid %u", DIAGD_SOCK, (unsigned)d->owner);
	return 0;
}

/* Requests may still run on the workers: leave without freeing what
 * they use. */
static void diagd_stop(struct svcbase *sb, int sig)
{
	(void)sb;
	(void)sig;
	unlink(DIAGD_SOCK);
	log_info("stopping");
}

/* DESIGN.md §7: a root holding the IPC directory, the host run directory
 * (diag.sock; init lets diagd's uid create it there), the boot device
 * tree and /dev/null. */
static const struct sandbox_bind diagd_binds[] = {
	{ PARTITION_HOST_DIR, SANDBOX_HOST_DIR, false, false },
	{ "/sys/firmware", "/sys/firmware", true, false },
};

static const struct svcbase_desc diagd_desc = {
	.name = SVC_NAME_DIAGD,
	.binds = diagd_binds,
	.n_binds = 2,
	.init = diagd_init,
	.sandbox = diagd_sandbox,
	.open = diagd_open,
	.server = diagd_server,
	.start = diagd_start,
	.stop = diagd_stop,
};

int main(int argc, char **argv)
{
	static struct diagd d;

	return svcbase_main(&diagd_desc, &d, argc, argv);
}
