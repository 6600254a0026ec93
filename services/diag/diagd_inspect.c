/* diagd's read-only views: inspect (a JSON tree from init's Ps, every
 * service's Stats, vmworker's Inspect and policy's Status), the boot
 * device tree, the boot timeline and a service's sandbox status. */
#include <fcntl.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkd.pb-c.h"
#include "envelope.pb-c.h"
#include "policy.pb-c.h"
#include "vmworker.pb-c.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/pbjson.h"
#include "lib/registry.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "services/diag/diagd.h"

#define INSPECT_STATS_MS    1500
#define SANDBOX_MAX_THREADS 64
#define INSPECT_MAX_CLIENTS 16

/* Clients for Stats, one per service, kept open: closing nng clients
 * often is what nng 1.5.2 handles worst (see diagd_trace.c). */
static struct ipc_client *inspect_client(struct diagd *d, const char *name)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		char name[32];
		struct ipc_client *c;
	} cache[INSPECT_MAX_CLIENTS];
	char path[128];
	struct ipc_client_config cfg = {
		.name = SVC_NAME_DIAGD,
		.path = path,
		.destination = name,
		.service = &parapet__endpoint__descriptor,
		.timeout_ms = INSPECT_STATS_MS,
		.trace = d->tap,
	};
	struct ipc_client *c = NULL;
	size_t i;

	partition_sock_path(path, sizeof(path), d->ipc_dir, name, ".sock");
	pthread_mutex_lock(&lock);
	for (i = 0; i < INSPECT_MAX_CLIENTS && cache[i].c != NULL; i++)
		if (!strcmp(cache[i].name, name))
			break;
	if (i < INSPECT_MAX_CLIENTS && cache[i].c == NULL &&
	    strlen(name) < sizeof(cache[i].name) &&
	    (cache[i].c = ipc_client_open(&cfg)) != NULL)
		snprintf(cache[i].name, sizeof(cache[i].name), "%s", name);
	if (i < INSPECT_MAX_CLIENTS)
		c = cache[i].c;
	pthread_mutex_unlock(&lock);
	return c;
}

/* d->blkd, opened at its first use (see struct diagd). */
static struct ipc_client *inspect_blkd(struct diagd *d)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct ipc_client *c;

	pthread_mutex_lock(&lock);
	if (d->blkd == NULL)
		d->blkd = diagd_client(d, SVC_NAME_BLKD,
				       &parapet__blkd__descriptor, 3000);
	c = d->blkd;
	pthread_mutex_unlock(&lock);
	return c;
}

static json_t *inspect_stats_of(struct diagd *d, const char *name)
{
	char path[128];
	ProtobufCMessage *r = NULL;
	struct ipc_client *c;
	json_t *j = NULL;
	struct stat st;

	partition_sock_path(path, sizeof(path), d->ipc_dir, name, ".sock");
	if (stat(path, &st) != 0 || (c = inspect_client(d, name)) == NULL)
		return NULL;
	if (ipc_call_stats(c, &r) == 0) {
		j = pbjson_from_message(r);
		ipc_free(r);
	}
	return j;
}

static json_t *inspect_own_stats(struct diagd *d)
{
	struct ipc_stats s;

	ipc_server_stats(d->srv, &s);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "service", SVC_NAME_DIAGD, "sent", (json_int_t)s.sent,
			 "received", (json_int_t)s.received, "err_malformed",
			 (json_int_t)s.err_malformed, "err_unknown_method",
			 (json_int_t)s.err_unknown_method, "err_denied",
			 (json_int_t)s.err_denied, "err_too_big",
			 (json_int_t)s.err_too_big, "err_handler",
			 (json_int_t)s.err_handler, "oversize_drops",
			 (json_int_t)s.oversize_drops);
}

/* Adds the service's own live values (vmworker Inspect, policy Status). */
static void inspect_extra(struct diagd *d, const char *name, json_t *node)
{
	ProtobufCMessage *r = NULL;

	if (!strcmp(name, SVC_NAME_VMWORKER)) {
		Parapet__VmInspectRequest q = PARAPET__VM_INSPECT_REQUEST__INIT;

		if (ipc_call(d->vmworker, "Inspect", &q.base, &r) == 0)
			json_object_set_new(node, "vm", pbjson_from_message(r));
	} else if (!strcmp(name, SVC_NAME_POLICY)) {
		Parapet__PolicyStatusRequest q =
		    PARAPET__POLICY_STATUS_REQUEST__INIT;

		if (ipc_call(d->policy, "Status", &q.base, &r) == 0)
			json_object_set_new(node, "status",
					    pbjson_from_message(r));
	} else if (!strcmp(name, SVC_NAME_BLKD)) {
		Parapet__BlkdDisksRequest q = PARAPET__BLKD_DISKS_REQUEST__INIT;
		struct ipc_client *c = inspect_blkd(d);

		if (c != NULL && ipc_call(c, "Disks", &q.base, &r) == 0)
			json_object_set_new(node, "disks",
					    pbjson_from_message(r));
	} else if (!strcmp(name, SVC_NAME_DIAGD)) {
		json_object_set_new(node, "trace", diagd_trace_json(d->trace));
	}
	if (r != NULL)
		ipc_free(r);
}

static json_t *inspect_service(struct diagd *d, const Parapet__ServiceStatus *s)
{
	json_t *node = json_object(), *ipc = NULL;
	int running = s->state && !strcmp(s->state, "running");

	json_object_set_new(node, "process", pbjson_from_message(&s->base));
	if (running)
		ipc = !strcmp(s->name, SVC_NAME_DIAGD)
			  ? inspect_own_stats(d)
			  : inspect_stats_of(d, s->name);
	if (ipc != NULL)
		json_object_set_new(node, "ipc", ipc);
	if (running)
		inspect_extra(d, s->name, node);
	return node;
}

int diagd_inspect_work(struct diagd_job *j)
{
	Parapet__DiagInspectReply *out = (Parapet__DiagInspectReply *)j->out;
	Parapet__PsReply *ps = NULL;
	json_t *root, *init;
	char *text;
	int rc = diagd_ps(j->d, &ps);

	if (rc != 0) {
		ipc_request_set_error(j->req, "init Ps failed");
		return IPC_ERR_HANDLER;
	}
	j->keep[0] = &ps->base;
	root = json_object();
	init = json_pack("{s:I, s:I}", "uptime_ns", (json_int_t)ps->uptime_ns,
			 "orphans_reaped", (json_int_t)ps->orphans_reaped);
	json_object_set_new(root, "init", init);
	for (size_t i = 0; i < ps->n_services; i++)
		if (ps->services[i]->name)
			json_object_set_new(
			    root, ps->services[i]->name,
			    inspect_service(j->d, ps->services[i]));
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		return IPC_ERR_NOMEM;
	out->json = diagd_strdup(j, text);
	free(text);
	return out->json ? 0 : IPC_ERR_NOMEM;
}

/* ---------------------------------------------------------------- dt */

static ssize_t diagd_read_fdt(void *buf, size_t cap)
{
	int fd = open(PARTITION_FDT_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, cap) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 && fdt_check_full(buf, (size_t)n) == 0 ? n : -1;
}

int diagd_dt_work(struct diagd_job *j)
{
	Parapet__DiagDtReply *out = (Parapet__DiagDtReply *)j->out;
	uint8_t *buf = ipc_request_alloc(j->req, PARTITION_DTB_MAX);
	ssize_t n = buf ? diagd_read_fdt(buf, PARTITION_DTB_MAX) : -1;

	if (n < 0) {
		ipc_request_set_error(j->req,
				      "cannot read " PARTITION_FDT_PATH);
		return IPC_ERR_HANDLER;
	}
	out->has_dtb = 1;
	out->dtb.data = buf;
	out->dtb.len = (size_t)n;
	return 0;
}

/* ---------------------------------------------------------- timeline */

/* Without timeline.json: the shim's reftime_* stamps and init's Ps. */
static json_t *timeline_rebuild(struct diagd_job *j)
{
	static uint8_t fdt[PARTITION_DTB_MAX];
	static const char *const refs[] = { "reftime_run_start",
					    "reftime_shim_start",
					    "reftime_shim_end" };
	json_t *st = json_object();
	Parapet__PsReply *ps = NULL;
	uint64_t now = util_now_ns();
	int node = -1, len;

	if (diagd_read_fdt(fdt, sizeof(fdt)) > 0)
		node = fdt_path_offset(fdt, "/parapet");
	for (size_t i = 0; node >= 0 && i < 3; i++) {
		const void *v = fdt_getprop(fdt, node, refs[i], &len);
		fdt64_t raw;

		if (v != NULL && len == 8) {
			memcpy(&raw, v, sizeof(raw));
			json_object_set_new(
			    st, refs[i] + 8,
			    json_integer((json_int_t)fdt64_to_cpu(raw)));
		}
	}
	if (diagd_ps(j->d, &ps) == 0) {
		j->keep[0] = &ps->base;
		json_object_set_new(
		    st, "init_start",
		    json_integer((json_int_t)(now - ps->uptime_ns)));
		for (size_t i = 0; i < ps->n_services; i++) {
			const Parapet__ServiceStatus *s = ps->services[i];
			char key[96];

			if (!s->has_uptime_ns)
				continue;
			snprintf(key, sizeof(key), "service_spawned.%s",
				 s->name);
			json_object_set_new(
			    st, key,
			    json_integer((json_int_t)(now - s->uptime_ns)));
			if (!s->has_ready_ns)
				continue;
			snprintf(key, sizeof(key), "service_ready.%s", s->name);
			json_object_set_new(
			    st, key,
			    json_integer((json_int_t)(now - s->uptime_ns +
						      s->ready_ns)));
		}
	}
	return st;
}

/* init's servicings [{service, at, blackout_ns}] as stamps named
 * "servicing.N.SERVICE (blackout X ms)" at their time; its restarts
 * [{service, at}] as "restart.N.SERVICE". */
static void timeline_events(json_t *list, bool servicing, json_t *out)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		const char *svc =
		    json_string_value(json_object_get(e, "service"));
		json_t *at = json_object_get(e, "at");
		char key[160];

		if (svc == NULL || !json_is_integer(at) ||
		    json_integer_value(at) <= 0)
			continue;
		if (servicing)
			snprintf(key, sizeof(key),
				 "servicing.%zu.%.32s (blackout %.3f ms)",
				 i + 1, svc,
				 (double)json_integer_value(
				     json_object_get(e, "blackout_ns")) /
				     1e6);
		else
			snprintf(key, sizeof(key), "restart.%zu.%.32s", i + 1,
				 svc);
		json_object_set(out, key, at);
	}
}

/* Flattens {a: 1, b: {c: 2}} into {"a": 1, "b.c": 2}; init's servicing
 * list into one stamp each. */
static void timeline_flatten(json_t *in, const char *prefix, json_t *out)
{
	const char *k;
	json_t *v;

	json_object_foreach(in, k, v)
	{
		char key[160];

		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "",
			 k);
		if (json_is_integer(v) && json_integer_value(v) > 0)
			json_object_set(out, key, v);
		else if (json_is_object(v))
			timeline_flatten(v, key, out);
		else if (json_is_array(v) && !strcmp(k, "servicing"))
			timeline_events(v, true, out);
		else if (json_is_array(v) && !strcmp(k, "restarts"))
			timeline_events(v, false, out);
	}
}

/* What timeline.json says of a stamp K in K_source (an estimate's
 * basis): {K: text}. */
static json_t *timeline_notes(json_t *file)
{
	json_t *notes = json_object(), *v;
	const char *k;

	json_object_foreach(file, k, v)
	{
		size_t n = strlen(k);
		char key[128];

		if (n <= 7 || n - 7 >= sizeof(key) || !json_is_string(v) ||
		    strcmp(k + n - 7, "_source"))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(n - 7), k);
		json_object_set(notes, key, v);
	}
	return notes;
}

/* vmworker's stamp of the guest's first timeline mark (the timestamp
 * port, written by the guest runtime's first instructions) replaces the
 * file's estimate. A guest without the mark, or a vmworker instance that
 * did not see it (serviced since), leaves the estimate. */
static void timeline_first_insn(struct diagd *d, json_t *stamps, json_t *notes)
{
	Parapet__VmInspectRequest q = PARAPET__VM_INSPECT_REQUEST__INIT;
	const Parapet__VmInspectReply *v;
	ProtobufCMessage *r = NULL;
	uint64_t now;

	if (d->vmworker == NULL ||
	    ipc_call(d->vmworker, "Inspect", &q.base, &r) != 0)
		return;
	now = util_now_ns();
	v = (const Parapet__VmInspectReply *)r;
	if (v->status != NULL && v->status->has_first_insn_ago_ns &&
	    v->status->first_insn_ago_ns <= now) {
		json_object_set_new(
		    stamps, "first_guest_instruction",
		    json_integer(
			(json_int_t)(now - v->status->first_insn_ago_ns)));
		json_object_del(notes, "first_guest_instruction");
	}
	ipc_free(r);
}

int diagd_timeline_work(struct diagd_job *j)
{
	Parapet__DiagTimelineReply *out = (Parapet__DiagTimelineReply *)j->out;
	json_t *file =
	    json_load_file(PARTITION_HOST_DIR "/timeline.json", 0, NULL);
	json_t *stamps = json_object(), *root;
	char *text;

	if (json_is_object(file)) {
		json_t *notes = timeline_notes(file);

		timeline_flatten(file, "", stamps);
		timeline_first_insn(j->d, stamps, notes);
		root = json_pack("{s:s, s:o, s:o}", "source", "timeline.json",
				 "stamps", stamps, "notes", notes);
	} else {
		json_decref(stamps);
		root = json_pack("{s:s, s:o}", "source",
				 "boot device tree and init Ps", "stamps",
				 timeline_rebuild(j));
	}
	json_decref(file);
	text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(root);
	if (text == NULL)
		return IPC_ERR_NOMEM;
	out->json = diagd_strdup(j, text);
	free(text);
	return 0;
}

/* ----------------------------------------------------------- sandbox */

static char *sandbox_hex(struct diagd_job *j, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)v);
	return diagd_strdup(j, buf);
}

static Parapet__DiagThread *
sandbox_thread(struct diagd_job *j, const struct sandbox_thread_status *t)
{
	Parapet__DiagThread *o = ipc_request_alloc(j->req, sizeof(*o));

	if (o == NULL)
		return NULL;
	parapet__diag_thread__init(o);
	o->has_tid = o->has_seccomp = o->has_seccomp_filters = 1;
	o->has_no_new_privs = o->has_uid = o->has_gid = 1;
	o->tid = t->tid;
	o->comm = diagd_strdup(j, t->comm);
	o->seccomp = t->seccomp;
	o->seccomp_filters = t->seccomp_filters;
	o->no_new_privs = t->no_new_privs != 0;
	o->cap_eff = sandbox_hex(j, t->cap_eff);
	o->cap_prm = sandbox_hex(j, t->cap_prm);
	o->cap_bnd = sandbox_hex(j, t->cap_bnd);
	o->uid = t->uid;
	o->gid = t->gid;
	return o;
}

static void sandbox_note(struct diagd_job *j, Parapet__DiagSandboxReply *out,
			 const char *mode)
{
	char note[256] = "";
	int unfiltered = 0;

	for (size_t i = 0; i < out->n_threads; i++)
		unfiltered += out->threads[i]->seccomp == 0;
	if (unfiltered)
		snprintf(note, sizeof(note),
			 "%d of %zu threads have no seccomp filter%s",
			 unfiltered, out->n_threads,
			 !strcmp(mode, "off") ? " (sandbox off)" : "");
	else if (out->n_threads && out->has_want_uid &&
		 out->threads[0]->uid != out->want_uid)
		snprintf(note, sizeof(note),
			 "unprivileged: runs as uid %u, not the service's "
			 "uid %u (one mapped uid; setgroups skipped)",
			 out->threads[0]->uid, out->want_uid);
	out->note = diagd_strdup(j, note);
}

int diagd_sandbox_work(struct diagd_job *j)
{
	const Parapet__DiagSandboxRequest *q =
	    (const Parapet__DiagSandboxRequest *)j->in;
	Parapet__DiagSandboxReply *out = (Parapet__DiagSandboxReply *)j->out;
	static __thread struct sandbox_thread_status th[SANDBOX_MAX_THREADS];
	const Parapet__ServiceStatus *s;
	Parapet__PsReply *ps = NULL;
	enum sandbox_profile prof;
	char mode[16];
	size_t n = 0;

	if (q->service == NULL || diagd_ps(j->d, &ps) != 0) {
		ipc_request_set_error(j->req, "init Ps failed");
		return IPC_ERR_HANDLER;
	}
	j->keep[0] = &ps->base;
	if ((s = diagd_find(ps, q->service)) == NULL || s->pid <= 0) {
		ipc_request_set_error(j->req, s ? "service is not running"
						: "no such service");
		return IPC_ERR_HANDLER;
	}
	diagd_dt_string("sandbox", mode, sizeof(mode));
	out->service = s->name;
	out->mode = diagd_strdup(j, mode[0] ? mode : "strict");
	out->has_pid = 1;
	out->pid = s->pid;
	if (sandbox_profile_parse(q->service, &prof) == 0) {
		out->profile = diagd_strdup(j, sandbox_profile_name(prof));
		out->has_profile_syscalls = out->has_want_uid = 1;
		out->profile_syscalls = sandbox_profile_count(prof, 0);
		out->want_uid = sandbox_service_uid((int)prof);
	} else
		out->profile = diagd_strdup(j, "none");
	if (sandbox_read_threads(s->pid, th, SANDBOX_MAX_THREADS, &n) != 0) {
		ipc_request_set_error(j->req,
				      "cannot read /proc of the service");
		return IPC_ERR_HANDLER;
	}
	n = n < SANDBOX_MAX_THREADS ? n : SANDBOX_MAX_THREADS;
	out->threads = ipc_request_alloc(j->req, sizeof(void *) * (n + 1));
	for (size_t i = 0; out->threads != NULL && i < n; i++)
		if ((out->threads[out->n_threads] = sandbox_thread(j, &th[i])))
			out->n_threads++;
	sandbox_note(j, out, out->mode);
	return 0;
}
