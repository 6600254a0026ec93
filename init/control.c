/* init's control endpoint (InitControl on /run/parapet/ipc/init.sock).
 * Handlers run on nng's threads: they queue the request on init's
 * evqueue (lib/evqueue.h), which wakes the event loop; the loop answers
 * (ipc_request_finish) at once (Ps, Logs, Poweroff) or when the service is
 * ready or gone (Start, Restart, Stop). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.pb-c.h"
#include "init/init.h"
#include "lib/caller.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "lib/partition.h"
#include "lib/util.h"

#define CTL_LOG_DEFAULT (16u * 1024)

enum ctl_method {
	CTL_PS,
	CTL_RESTART,
	CTL_STOP,
	CTL_START,
	CTL_LOGS,
	CTL_POWEROFF
};

struct ctl_req {
	struct evqueue_item item; /* first: the queue hands it back */
	struct ipc_request *req;
	enum ctl_method method;
	const ProtobufCMessage *in;
	ProtobufCMessage *out;
};

struct control {
	struct init *init;
	struct ipc_server *srv;
};

static void ctl_dispatch(struct init *in, struct ctl_req *r);

static void ctl_run(struct evqueue_item *it, void *ctx)
{
	ctl_dispatch(ctx, (struct ctl_req *)it);
}

static int ctl_enqueue(struct ipc_request *req, const ProtobufCMessage *in,
		       ProtobufCMessage *out, void *arg, enum ctl_method m)
{
	struct control *c = arg;
	struct ctl_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return IPC_ERR_NOMEM;
	r->item.run = ctl_run;
	r->req = req;
	r->method = m;
	r->in = in;
	r->out = out;
	if (evqueue_push(&c->init->queue, &r->item) != 0) {
		free(r);
		return IPC_ERR_UNAVAILABLE;
	}
	return IPC_ASYNC;
}

#define CTL_HANDLER(fn, m)                                                     \
	static int fn(struct ipc_request *req, const ProtobufCMessage *in,     \
		      ProtobufCMessage *out, void *arg)                        \
	{                                                                      \
		return ctl_enqueue(req, in, out, arg, m);                      \
	}
CTL_HANDLER(ctl_ps, CTL_PS)
CTL_HANDLER(ctl_restart, CTL_RESTART)
CTL_HANDLER(ctl_stop, CTL_STOP)
CTL_HANDLER(ctl_start, CTL_START)
CTL_HANDLER(ctl_logs, CTL_LOGS)
CTL_HANDLER(ctl_poweroff, CTL_POWEROFF)

/* Callers (sandbox/README.md): policy drives the VM's lifecycle and
 * servicing; diagd serves the partition's owner (ps, restart, stop,
 * start, logs). A Restart with a binary is policy's alone (checked in
 * ctl_do_service). Nobody else reaches init. */
static const struct ipc_method ctl_methods[] = {
	{ "Ps", ctl_ps, CALLER_POLICY | CALLER_DIAGD, 64 },
	{ "Restart", ctl_restart, CALLER_POLICY | CALLER_DIAGD, 256 },
	{ "Stop", ctl_stop, CALLER_DIAGD, 256 },
	{ "Start", ctl_start, CALLER_DIAGD, 256 },
	{ "Logs", ctl_logs, CALLER_DIAGD, 256 },
	{ "Poweroff", ctl_poweroff, CALLER_POLICY, 1024 },
};

static char *ctl_strdup(struct ipc_request *req, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ipc_request_alloc(req, n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* VmRSS of pid from /proc, in KiB; 0 if unknown. */
static uint64_t ctl_rss_kib(pid_t pid)
{
	char path[64], line[128];
	unsigned long long kib = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

static Parapet__ServiceStatus *ctl_status(struct ipc_request *req,
					  const struct service *s)
{
	Parapet__ServiceStatus *st = ipc_request_alloc(req, sizeof(*st));
	uint64_t now = util_now_ns();

	if (st == NULL)
		return NULL;
	parapet__service_status__init(st);
	st->name = ctl_strdup(req, s->m.name);
	st->state = ctl_strdup(req, svc_state_name(s->sup.state));
	st->binary = ctl_strdup(req, s->path);
	st->last_exit = ctl_strdup(req, s->last_exit);
	st->has_pid = st->has_spawns = st->has_deaths = 1;
	st->pid = s->pid;
	st->spawns = s->spawns;
	st->deaths = s->deaths;
	if (s->pid > 0) {
		st->has_uptime_ns = 1;
		st->uptime_ns = now - s->sup.spawned_ns;
	}
	if (s->pid > 0 && (st->rss_kib = ctl_rss_kib(s->pid)) > 0)
		st->has_rss_kib = 1;
	if (s->ready_ns) {
		st->has_ready_ns = 1;
		st->ready_ns = s->ready_ns - s->sup.spawned_ns;
	}
	return st;
}

static int ctl_do_ps(struct init *in, struct ctl_req *r)
{
	Parapet__PsReply *out = (Parapet__PsReply *)r->out;

	out->services = ipc_request_alloc(r->req, sizeof(void *) * in->n_svc);
	if (in->n_svc && out->services == NULL)
		return IPC_ERR_NOMEM;
	for (unsigned i = 0; i < in->n_svc; i++)
		if ((out->services[out->n_services++] =
			 ctl_status(r->req, &in->svc[i])) == NULL)
			return IPC_ERR_NOMEM;
	out->has_orphans_reaped = out->has_uptime_ns = 1;
	out->orphans_reaped = in->orphans;
	out->uptime_ns = util_now_ns() - in->start_ns;
	return 0;
}

static int ctl_do_logs(struct init *in, struct ctl_req *r)
{
	const Parapet__LogsRequest *q = (const Parapet__LogsRequest *)r->in;
	Parapet__LogsReply *out = (Parapet__LogsReply *)r->out;
	size_t max =
	    q->has_max_bytes && q->max_bytes ? q->max_bytes : CTL_LOG_DEFAULT;

	if (max > LOGRING_SIZE)
		max = LOGRING_SIZE;
	out->logs = ipc_request_alloc(r->req, sizeof(void *) * in->n_svc);
	for (unsigned i = 0; out->logs != NULL && i < in->n_svc; i++) {
		const struct service *s = &in->svc[i];
		Parapet__ServiceLog *l;

		if (q->name && *q->name && strcmp(q->name, s->m.name))
			continue;
		l = ipc_request_alloc(r->req, sizeof(*l));
		if (l == NULL)
			return IPC_ERR_NOMEM;
		parapet__service_log__init(l);
		l->text.data = ipc_request_alloc(r->req, max);
		if (l->text.data == NULL)
			return IPC_ERR_NOMEM;
		l->name = ctl_strdup(r->req, s->m.name);
		l->has_text = l->has_dropped = 1;
		l->text.len = logring_tail(&s->log, l->text.data, max);
		l->dropped = logring_dropped(&s->log);
		out->logs[out->n_logs++] = l;
	}
	if (q->name && *q->name && out->n_logs == 0) {
		ipc_request_set_error(r->req, "no such service");
		return IPC_ERR_HANDLER;
	}
	return out->logs == NULL && in->n_svc ? IPC_ERR_NOMEM : 0;
}

/* Why the binary open as fd may not run as a service: init runs it as
 * root before the sandbox drops anything, so only a file no service can
 * have written qualifies (DESIGN.md §7a): a regular, executable file
 * owned by root and writable by nobody else. NULL: it may. */
static const char *ctl_binary_refusal(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return strerror(errno);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return "not an executable file";
	if (st.st_uid != 0)
		return "not owned by root";
	if (st.st_mode & 022)
		return "writable by group or others";
	return NULL;
}

/* Restart with a binary (policy's alone, relaying the host): the
 * descriptor the host sent on the descriptor channel under token
 * (hostfds.c), if it passes ctl_binary_refusal. init execs that
 * descriptor (svc_child), never a path. Only checked when !apply. */
static int ctl_set_binary(struct init *in, struct ctl_req *r, struct service *s,
			  uint64_t token, bool apply)
{
	struct init_host_fd *h;
	const char *why = NULL;
	char msg[1600];

	if (!(ipc_request_sender(r->req) & CALLER_POLICY)) {
		ipc_request_set_error(r->req, "a binary comes from the host "
					      "through policy only");
		return IPC_ERR_DENIED;
	}
	if (r->method != CTL_RESTART) {
		ipc_request_set_error(r->req, "a binary is for Restart only");
		return IPC_ERR_INVAL;
	}
	if ((h = hostfds_find(in, token)) == NULL) {
		ipc_request_set_error(r->req, "no binary from the host under "
					      "that token");
		return IPC_ERR_INVAL;
	}
	if ((why = ctl_binary_refusal(h->fd)) != NULL) {
		snprintf(msg, sizeof(msg), "binary '%.1400s': %s", h->label,
			 why);
		close(hostfds_take(h));
		ipc_request_set_error(r->req, msg);
		return IPC_ERR_INVAL;
	}
	if (!apply)
		return 0;
	log_info("%s: next instances run %s (was %s)", s->m.name, h->label,
		 s->path);
	memcpy(s->prev_path, s->path, sizeof(s->prev_path));
	snprintf(s->path, sizeof(s->path), "%s", h->label);
	if (s->prev_bin_fd >= 0)
		close(s->prev_bin_fd);
	s->prev_bin_fd = s->bin_fd;
	s->bin_fd = hostfds_take(h);
	return 0;
}

/* A check (Restart check_only) of vmworker's next binary, with a token
 * or the current one without: the saved-state versions it reads, for
 * policy's Save (docs/servicing.md). */
static int ctl_probe(struct init *in, struct ctl_req *r, struct service *s,
		     const Parapet__ServiceRef *q)
{
	Parapet__ControlReply *out = (Parapet__ControlReply *)r->out;
	struct init_host_fd *h = NULL;
	struct version_range v;

	if (r->method != CTL_RESTART || strcmp(s->m.name, SVC_NAME_VMWORKER))
		return 0;
	if (q->has_binary_token &&
	    (h = hostfds_find(in, q->binary_token)) == NULL)
		return 0;
	if (h != NULL)
		verprobe_read(h->fd, h->label, &v);
	else
		verprobe_read(s->bin_fd, s->path, &v);
	out->has_state_read_min = out->has_state_read_max = 1;
	out->state_read_min = v.min;
	out->state_read_max = v.max;
	return 0;
}

/* Start, Stop, Restart: the reply waits on the service. */
static int ctl_do_service(struct init *in, struct ctl_req *r)
{
	const Parapet__ServiceRef *q = (const Parapet__ServiceRef *)r->in;
	struct service *s = q->name ? svc_find(in, q->name) : NULL;
	int rc;

	if (s == NULL) {
		ipc_request_set_error(r->req, "no such service");
		return IPC_ERR_HANDLER;
	}
	if (q->binary != NULL) {
		ipc_request_set_error(r->req, "a binary is never named by "
					      "path: the host sends it");
		return IPC_ERR_INVAL;
	}
	if (q->standby && (q->has_binary_token || r->method != CTL_RESTART)) {
		ipc_request_set_error(r->req, "a standby is for a Restart of "
					      "the current binary only");
		return IPC_ERR_INVAL;
	}
	if (q->has_binary_token &&
	    (rc = ctl_set_binary(in, r, s, q->binary_token, !q->check_only)) !=
		0)
		return rc;
	if (q->check_only)
		return ctl_probe(in, r, s, q);
	if (in->powering_off)
		return IPC_ERR_UNAVAILABLE;
	if (q->standby) {
		standby_start(in, s, r);
		return IPC_ASYNC; /* answered by standby_start or later */
	}
	if (s->pending != NULL)
		return IPC_ERR_UNAVAILABLE;
	s->pending = r; /* answered by svc_command or later */
	svc_command(in, s,
		    r->method == CTL_STOP    ? SUP_EV_STOP
		    : r->method == CTL_START ? SUP_EV_START
					     : SUP_EV_RESTART,
		    true);
	return IPC_ASYNC;
}

static int ctl_do_poweroff(struct init *in, struct ctl_req *r)
{
	const Parapet__PoweroffRequest *q =
	    (const Parapet__PoweroffRequest *)r->in;
	int status = q->has_status ? q->status : 0;

	if (status < 0 || status > 255) {
		ipc_request_set_error(r->req, "status out of 0-255");
		return IPC_ERR_HANDLER;
	}
	init_poweroff(in, status, q->reason ? q->reason : "Poweroff request",
		      q->has_delivered && q->delivered);
	return 0;
}

static void ctl_dispatch(struct init *in, struct ctl_req *r)
{
	int rc;

	switch (r->method) {
	case CTL_PS:
		rc = ctl_do_ps(in, r);
		break;
	case CTL_LOGS:
		rc = ctl_do_logs(in, r);
		break;
	case CTL_POWEROFF:
		rc = ctl_do_poweroff(in, r);
		break;
	default:
		rc = ctl_do_service(in, r);
		break;
	}
	if (rc == IPC_ASYNC)
		return;
	ipc_request_finish(r->req, rc);
	free(r);
}

void control_answer(struct ctl_req *r, struct service *s, const char *why)
{
	Parapet__ControlReply *out = (Parapet__ControlReply *)r->out;

	out->service = ctl_status(r->req, s);
	if (why != NULL)
		ipc_request_set_error(r->req, why);
	ipc_request_finish(r->req, why != NULL ? IPC_ERR_HANDLER : 0);
	free(r);
}

void control_run_queue(struct init *in)
{
	evqueue_run(&in->queue, in);
}

struct control *control_open(struct init *in)
{
	struct control *c = calloc(1, sizeof(*c));
	struct ipc_listen listen = { PARTITION_INIT_SOCK, 0, 0660 };
	struct ipc_peer_uid uids[CALLER_UIDS_MAX];
	struct ipc_server_config cfg = {
		.name = SVC_NAME_INIT,
		.listen = &listen,
		.n_listen = 1,
		.uids = uids,
		.n_uids = caller_peer_uids(uids),
		.service = &parapet__init_control__descriptor,
		.methods = ctl_methods,
		.n_methods = sizeof(ctl_methods) / sizeof(ctl_methods[0]),
		.recv_max = 64u * 1024,
		.decode_budget = 2u << 20,
		.n_contexts = 4,
	};

	if (c == NULL)
		return NULL;
	c->init = in;
	cfg.arg = c;
	c->srv = ipc_server_open(&cfg);
	if (c->srv == NULL) {
		free(c);
		return NULL;
	}
	return c;
}
