/* lib/ipc servers: a rep socket with n aio contexts, each running
 * receive -> check -> decode -> handler -> reply from a dispatch table. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>

#include "lib/ipc_internal.h"
#include "lib/log.h"
#include "lib/util.h"

/* Sized for the usual envelope and body (well under 1 KiB decoded); a
 * larger one overflows into blocks freed at reset. Each context keeps its
 * buffer for life and a service has dozens: 16 KiB each cost ~8 KiB of
 * resident heap apiece, 2 KiB is all touched but small. */
#define CTX_INLINE_ARENA (2u << 10)
/* Distinct (caller, method) refusals logged by name; past that, one line
 * every IPC_DENIED_LOG_NS at most. */
#define IPC_DENIED_LOG_MAX 32
#define IPC_DENIED_LOG_NS  (10 * UTIL_NS_PER_S)

enum req_state { REQ_RECV, REQ_SEND, REQ_HANDLER };

struct method_entry {
	ipc_handler_fn handler;
	uint32_t allowed;
	size_t max_body;
	const ProtobufCMethodDescriptor *desc;
};

/* What a pipe's peer is: looked up once per pipe, not per message. */
struct pipe_info {
	uint32_t id;
	int listener;
	uint32_t identity;
	uid_t uid;
	int delivered;
	bool own;  /* the listener watchdog's probe (this process) */
	pid_t pid; /* the peer, in our pid namespace; 0: not visible */
};

/* A pipe that closed before delivering a request: an oversize drop, or a
 * client that went away without calling (a vmworker replaced while its
 * policy client sat idle). Told apart a while later: a dropped client is
 * still alive, waiting for its reply. */
#define IPC_SILENT_MAX	     64
#define IPC_SILENT_SETTLE_NS 1000000000ull
struct silent_close {
	pid_t pid;
	uint64_t at_ns;
};

struct ipc_request {
	struct ipc_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	enum req_state state;
	struct ipc_arena arena;
	nng_msg *msg;
	Parapet__Envelope *env;
	const struct method_entry *method;
	ProtobufCMessage *out;
	uint32_t sender;
	uid_t uid;
	char *err_msg;
};

struct ipc_server {
	char *name;
	nng_socket sock;
	const ProtobufCServiceDescriptor *service;
	struct method_entry *methods; /* indexed like service->methods */
	struct method_entry stats_method;
	size_t recv_max;
	void *arg;
	struct ipc_trace *trace;
	_Atomic uint32_t *trace_flag;
	_Atomic uint64_t seq;
	_Atomic int closing;
	_Atomic int serving;
	struct ipc_listen_slot *listeners; /* ids under pipes_lock */
	size_t n_listeners;
	struct ipc_watch *watch;
	_Atomic uint64_t own_pipes; /* pipes added whose peer is us */
	struct ipc_peer_uid *uids;
	size_t n_uids;
	pthread_mutex_t pipes_lock;
	struct pipe_info *pipes;
	size_t n_pipes, cap_pipes;
	struct silent_close silent[IPC_SILENT_MAX]; /* under pipes_lock */
	size_t n_silent;
	struct ipc_request *reqs;
	unsigned n_reqs;
	/* Refusals logged so far, one line per caller uid and method. */
	struct denied_seen {
		uid_t uid;
		const struct method_entry *method;
	} denied_seen[IPC_DENIED_LOG_MAX];
	size_t n_denied_seen;
	uint64_t denied_full_log_ns;
	struct {
		_Atomic uint64_t sent, received, malformed, unknown_method,
		    denied, too_big, handler, oversize, unknown_fields,
		    send_failures;
	} st;
};

static void req_recv(struct ipc_request *r);
static void req_finish(struct ipc_request *r, int rc);
static void log_denied(struct ipc_request *r, const struct method_entry *m);
static int stats_handler(struct ipc_request *r, const ProtobufCMessage *in,
			 ProtobufCMessage *out, void *arg);

#define BUMP(s, field)                                                         \
	atomic_fetch_add_explicit(&(s)->st.field, 1, memory_order_relaxed)

/* ---------------------------------------------------------------- pipes */

static uint32_t pipe_identity(struct ipc_server *s, nng_pipe p, uid_t *uid)
{
	int lid = nng_listener_id(nng_pipe_listener(p));
	uint32_t identity = 0;
	uint64_t u;
	size_t i;

	for (i = 0; i < s->n_listeners; i++)
		if (ipc_slot_has(&s->listeners[i], lid))
			identity |= s->listeners[i].identity;
	*uid = (uid_t)-1;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &u) == 0)
		*uid = (uid_t)u;
	for (i = 0; i < s->n_uids; i++)
		if (s->uids[i].uid == *uid)
			identity |= s->uids[i].identity;
	return identity;
}

/* Returns the table entry of pipe id (adding it), or NULL. Lock held. */
static struct pipe_info *pipe_find(struct ipc_server *s, nng_pipe p, int add)
{
	uint32_t id = (uint32_t)nng_pipe_id(p);
	struct pipe_info *pi;
	uint64_t pid;
	size_t i;

	for (i = 0; i < s->n_pipes; i++)
		if (s->pipes[i].id == id)
			return &s->pipes[i];
	if (!add)
		return NULL;
	if (s->n_pipes == s->cap_pipes) {
		size_t cap = s->cap_pipes ? s->cap_pipes * 2 : 16;

		pi = realloc(s->pipes, cap * sizeof(*pi));
		if (pi == NULL)
			return NULL;
		s->pipes = pi;
		s->cap_pipes = cap;
	}
	pi = &s->pipes[s->n_pipes++];
	pi->id = id;
	pi->identity = pipe_identity(s, p, &pi->uid);
	pi->listener = nng_listener_id(nng_pipe_listener(p));
	pi->delivered = 0;
	pi->pid = 0;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0)
		pi->pid = (pid_t)pid;
	pi->own = pi->pid == getpid();
	return pi;
}

static bool pid_alive(pid_t pid)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return stat(path, &st) == 0;
}

/* Settles the silent closes older than IPC_SILENT_SETTLE_NS (all when
 * force): an oversize drop if the peer lives on (or cannot be seen: a
 * peer outside our pid namespace), nothing if it has exited. Lock held. */
static void silent_settle(struct ipc_server *s, bool force)
{
	uint64_t now = util_now_ns();
	size_t i = 0;

	while (i < s->n_silent) {
		struct silent_close *c = &s->silent[i];

		if (!force && now - c->at_ns < IPC_SILENT_SETTLE_NS) {
			i++;
			continue;
		}
		if (c->pid <= 0 || pid_alive(c->pid))
			BUMP(s, oversize);
		*c = s->silent[--s->n_silent];
	}
}

static void silent_add(struct ipc_server *s, pid_t pid)
{
	silent_settle(s, false);
	if (s->n_silent == IPC_SILENT_MAX)
		silent_settle(s, true);
	s->silent[s->n_silent++] =
	    (struct silent_close){ .pid = pid, .at_ns = util_now_ns() };
}

/* nng drops a message over recv-size-max by closing its pipe, without
 * telling us (its listener statistics count that error and a plain
 * hang-up alike): a pipe that goes away before delivering any request is
 * such a drop unless its peer process has exited (silent_settle). */
static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc_server *s = arg;
	struct pipe_info *pi;

	pthread_mutex_lock(&s->pipes_lock);
	/* Noted from ADD_PRE: nng runs REM_POST for a pipe that closed
	 * before ADD_POST (an oversize message read at once, on a loaded
	 * machine), and that close is a drop too. */
	pi = pipe_find(s, p, ev != NNG_PIPE_EV_REM_POST);
	if (ev == NNG_PIPE_EV_ADD_POST && pi != NULL && pi->own)
		atomic_fetch_add(&s->own_pipes, 1);
	if (ev == NNG_PIPE_EV_REM_POST && pi != NULL) {
		if (!pi->delivered && !pi->own)
			silent_add(s, pi->pid);
		*pi = s->pipes[--s->n_pipes];
	}
	pthread_mutex_unlock(&s->pipes_lock);
}

static void req_identify(struct ipc_request *r)
{
	struct ipc_server *s = r->srv;
	nng_pipe p = nng_msg_get_pipe(r->msg);
	struct pipe_info *pi;

	pthread_mutex_lock(&s->pipes_lock);
	pi = pipe_find(s, p, 1);
	if (pi != NULL) {
		pi->delivered = 1;
		r->sender = pi->identity;
		r->uid = pi->uid;
	} else {
		r->sender = pipe_identity(s, p, &r->uid);
	}
	pthread_mutex_unlock(&s->pipes_lock);
}

/* ------------------------------------------------------------- dispatch */

static const struct method_entry *req_method(struct ipc_request *r)
{
	struct ipc_server *s = r->srv;
	const ProtobufCMethodDescriptor *md;

	if (strcmp(r->env->method, "Stats") == 0)
		return &s->stats_method;
	md = protobuf_c_service_descriptor_get_method_by_name(s->service,
							      r->env->method);
	if (md == NULL || s->methods[md - s->service->methods].handler == NULL)
		return NULL;
	return &s->methods[md - s->service->methods];
}

static void count_unknown(struct ipc_server *s, const ProtobufCMessage *m)
{
	if (m->n_unknown_fields > 0)
		atomic_fetch_add_explicit(&s->st.unknown_fields,
					  m->n_unknown_fields,
					  memory_order_relaxed);
}

/* Checks and decodes the request; returns 0 with r->out ready for the
 * handler, or a negative ipc_err for an ERROR reply. */
static int req_decode(struct ipc_request *r, ProtobufCMessage **in)
{
	struct ipc_server *s = r->srv;
	const struct method_entry *m;
	const ProtobufCMessageDescriptor *od;

	r->env = ipc_unpack_envelope(&r->arena, r->msg);
	if (r->env == NULL)
		return r->arena.exhausted ? IPC_ERR_TOO_BIG : IPC_ERR_MALFORMED;
	count_unknown(s, &r->env->base);
	if (r->env->kind != PARAPET__ENVELOPE__KIND__REQUEST ||
	    r->env->method == NULL)
		return IPC_ERR_MALFORMED;
	m = r->method = req_method(r);
	if (m == NULL)
		return IPC_ERR_UNKNOWN_METHOD;
	if (m->allowed != IPC_SENDER_ANY && (m->allowed & r->sender) == 0) {
		log_denied(r, m);
		return IPC_ERR_DENIED;
	}
	if (r->env->body.len > m->max_body)
		return IPC_ERR_TOO_BIG;
	*in = protobuf_c_message_unpack(m->desc->input, &r->arena.pb,
					r->env->body.len, r->env->body.data);
	if (*in == NULL)
		return r->arena.exhausted ? IPC_ERR_TOO_BIG : IPC_ERR_MALFORMED;
	count_unknown(s, *in);
	od = m->desc->output;
	r->out = ipc_arena_alloc(&r->arena, od->sizeof_message);
	if (r->out == NULL)
		return IPC_ERR_NOMEM;
	protobuf_c_message_init(od, r->out);
	return 0;
}

/* A refused call is logged once per caller uid and method: a hostile
 * peer repeating it cannot flood the log (the counter counts them all). */
static void log_denied(struct ipc_request *r, const struct method_entry *m)
{
	struct ipc_server *s = r->srv;
	bool say = true;
	size_t i;

	pthread_mutex_lock(&s->pipes_lock);
	for (i = 0; i < s->n_denied_seen; i++)
		if (s->denied_seen[i].uid == r->uid &&
		    s->denied_seen[i].method == m)
			say = false;
	if (say && s->n_denied_seen < IPC_DENIED_LOG_MAX) {
		s->denied_seen[s->n_denied_seen].uid = r->uid;
		s->denied_seen[s->n_denied_seen++].method = m;
	} else if (say) {
		uint64_t now = util_now_ns();

		say = now - s->denied_full_log_ns >= IPC_DENIED_LOG_NS;
		if (say)
			s->denied_full_log_ns = now;
	}
	pthread_mutex_unlock(&s->pipes_lock);
	if (say)
		log_warnx("ipc %s: refused %s from uid %d: not an allowed "
			  "caller",
			  s->name, m->desc ? m->desc->name : "Stats",
			  r->uid == (uid_t)-1 ? -1 : (int)r->uid);
}

static void count_error(struct ipc_server *s, int rc)
{
	switch (rc) {
	case IPC_ERR_MALFORMED:
		BUMP(s, malformed);
		break;
	case IPC_ERR_UNKNOWN_METHOD:
		BUMP(s, unknown_method);
		break;
	case IPC_ERR_DENIED:
		BUMP(s, denied);
		break;
	case IPC_ERR_TOO_BIG:
		BUMP(s, too_big);
		break;
	default:
		BUMP(s, handler);
		break;
	}
}

static void req_handle(struct ipc_request *r)
{
	struct ipc_server *s = r->srv;
	ProtobufCMessage *in = NULL;
	int rc;

	BUMP(s, received);
	ipc_tap(s->trace, s->trace_flag,
		PARAPET__TRACE_FRAME__DIRECTION__RECEIVED, r->msg);
	ipc_arena_reset(&r->arena);
	r->env = NULL;
	r->method = NULL;
	r->out = NULL;
	r->err_msg = NULL;
	req_identify(r);
	rc = req_decode(r, &in);
	if (rc == 0) {
		r->state = REQ_HANDLER;
		rc = r->method->handler(r, in, r->out, s->arg);
		if (rc == IPC_ASYNC)
			return;
		if (rc > 0)
			rc = IPC_ERR_HANDLER;
	} else {
		count_error(s, rc);
		rc = rc == IPC_ERR_NOMEM ? IPC_ERR_TOO_BIG : rc;
	}
	req_finish(r, rc);
}

/* ---------------------------------------------------------------- reply */

static int req_pack(struct ipc_request *r, int rc)
{
	struct ipc_server *s = r->srv;
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	Parapet__Error err = PARAPET__ERROR__INIT;

	env.source = s->name;
	if (r->env != NULL) {
		env.destination = r->env->source;
		env.method = r->env->method;
		env.has_correlation_id = 1;
		env.correlation_id = r->env->correlation_id;
	}
	env.has_seq = 1;
	env.seq = atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed);
	env.has_kind = 1;
	env.has_sent_ns = 1;
	env.sent_ns = util_now_ns();
	if (rc == 0) {
		env.kind = PARAPET__ENVELOPE__KIND__REPLY;
		return ipc_pack_envelope(&r->msg, &env, r->out);
	}
	env.kind = PARAPET__ENVELOPE__KIND__ERROR;
	err.has_code = 1;
	err.code = -rc;
	err.message =
	    r->err_msg ? r->err_msg : (char *)(uintptr_t)ipc_strerror(rc);
	return ipc_pack_envelope(&r->msg, &env, &err.base);
}

static void req_finish(struct ipc_request *r, int rc)
{
	struct ipc_server *s = r->srv;

	if (rc < 0 && r->state == REQ_HANDLER)
		BUMP(s, handler);
	if (req_pack(r, rc) != 0) {
		BUMP(s, send_failures);
		nng_msg_free(r->msg);
		r->msg = NULL;
		req_recv(r);
		return;
	}
	ipc_tap(s->trace, s->trace_flag, PARAPET__TRACE_FRAME__DIRECTION__SENT,
		r->msg);
	r->state = REQ_SEND;
	nng_aio_set_msg(r->aio, r->msg);
	r->msg = NULL;
	nng_ctx_send(r->ctx, r->aio);
}

void ipc_request_finish(struct ipc_request *r, int rc)
{
	req_finish(r, rc > 0 ? IPC_ERR_HANDLER : rc);
}

static void req_recv(struct ipc_request *r)
{
	if (atomic_load(&r->srv->closing))
		return;
	r->state = REQ_RECV;
	nng_ctx_recv(r->ctx, r->aio);
}

static void req_cb(void *arg)
{
	struct ipc_request *r = arg;
	int rv = nng_aio_result(r->aio);

	if (r->state == REQ_SEND) {
		if (rv == 0) {
			BUMP(r->srv, sent);
		} else {
			nng_msg_free(nng_aio_get_msg(r->aio));
			BUMP(r->srv, send_failures);
		}
	} else if (rv == 0) {
		r->msg = nng_aio_get_msg(r->aio);
		req_handle(r);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	req_recv(r);
}

/* ------------------------------------------------------ request helpers */

uint32_t ipc_request_sender(const struct ipc_request *r)
{
	return r->sender;
}

uid_t ipc_request_uid(const struct ipc_request *r)
{
	return r->uid;
}

void *ipc_request_alloc(struct ipc_request *r, size_t size)
{
	return ipc_arena_alloc(&r->arena, size);
}

void ipc_request_set_error(struct ipc_request *r, const char *message)
{
	size_t n = strlen(message) + 1;

	r->err_msg = ipc_arena_alloc(&r->arena, n);
	if (r->err_msg != NULL)
		memcpy(r->err_msg, message, n);
}

void ipc_server_stats(struct ipc_server *s, struct ipc_stats *o)
{
	o->sent = atomic_load(&s->st.sent);
	o->received = atomic_load(&s->st.received);
	o->err_malformed = atomic_load(&s->st.malformed);
	o->err_unknown_method = atomic_load(&s->st.unknown_method);
	o->err_denied = atomic_load(&s->st.denied);
	o->err_too_big = atomic_load(&s->st.too_big);
	o->err_handler = atomic_load(&s->st.handler);
	pthread_mutex_lock(&s->pipes_lock);
	silent_settle(s, false);
	pthread_mutex_unlock(&s->pipes_lock);
	o->oversize_drops = atomic_load(&s->st.oversize);
	o->unknown_fields = atomic_load(&s->st.unknown_fields);
	o->send_failures = atomic_load(&s->st.send_failures);
	o->listeners_recreated = ipc_watch_recreated(s->watch);
}

/* The method table's callers, as the server enforces them (for
 * `parapet-diag inspect` and the caller-matrix test). */
static int stats_callers(struct ipc_request *r, Parapet__StatsReply *o)
{
	struct ipc_server *s = r->srv;
	size_t n = s->service->n_methods, k = 0;
	Parapet__MethodCallers *mc;

	o->callers = ipc_request_alloc(r, n * sizeof(*o->callers));
	mc = ipc_request_alloc(r, n * sizeof(*mc));
	if (n > 0 && (o->callers == NULL || mc == NULL))
		return IPC_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (s->methods[i].handler == NULL)
			continue;
		parapet__method_callers__init(&mc[k]);
		mc[k].method = (char *)(uintptr_t)s->service->methods[i].name;
		mc[k].has_allowed = 1;
		mc[k].allowed = s->methods[i].allowed;
		o->callers[k] = &mc[k];
		k++;
	}
	o->n_callers = k;
	return 0;
}

static int stats_handler(struct ipc_request *r, const ProtobufCMessage *in,
			 ProtobufCMessage *out, void *arg)
{
	Parapet__StatsReply *o = (Parapet__StatsReply *)out;
	struct ipc_trace_stats ts = { 0 };
	struct ipc_stats st;

	(void)in;
	(void)arg;
	ipc_server_stats(r->srv, &st);
	if (r->srv->trace != NULL)
		ipc_trace_stats(r->srv->trace, &ts);
	o->service = r->srv->name;
#define SET(f, v) (o->has_##f = 1, o->f = (v))
	SET(sent, st.sent);
	SET(received, st.received);
	SET(err_malformed, st.err_malformed);
	SET(err_unknown_method, st.err_unknown_method);
	SET(err_denied, st.err_denied);
	SET(err_too_big, st.err_too_big);
	SET(err_handler, st.err_handler);
	SET(trace_frames, ts.frames);
	SET(trace_dropped, ts.dropped);
	SET(oversize_drops, st.oversize_drops);
	SET(unknown_fields, st.unknown_fields);
	SET(send_failures, st.send_failures);
	SET(listeners_recreated, st.listeners_recreated);
#undef SET
	return stats_callers(r, o);
}

/* ------------------------------------------------------------ open/close */

static size_t limit_or(size_t v, size_t limit)
{
	return v == 0 || v > limit ? limit : v;
}

static int server_methods(struct ipc_server *s,
			  const struct ipc_server_config *c)
{
	const ProtobufCMethodDescriptor *md;
	struct method_entry *e;
	size_t i;

	s->methods = calloc(c->service->n_methods + 1, sizeof(*s->methods));
	if (s->methods == NULL)
		return -1;
	for (i = 0; i < c->service->n_methods; i++)
		s->methods[i].desc = &c->service->methods[i];
	for (i = 0; i < c->n_methods; i++) {
		md = protobuf_c_service_descriptor_get_method_by_name(
		    c->service, c->methods[i].name);
		if (md == NULL) {
			log_warnx("ipc %s: no method %s in %s", s->name,
				  c->methods[i].name, c->service->name);
			return -1;
		}
		e = &s->methods[md - c->service->methods];
		e->handler = c->methods[i].handler;
		e->allowed = c->methods[i].allowed;
		e->max_body = limit_or(c->methods[i].max_body, s->recv_max);
	}
	s->stats_method.handler = stats_handler;
	s->stats_method.allowed = IPC_SENDER_ANY;
	s->stats_method.max_body = s->recv_max;
	s->stats_method.desc = &parapet__endpoint__descriptor.methods[0];
	return 0;
}

/* Pipes accepted by listener (pipes_lock held): for the watchdog. */
static size_t pipes_of(void *owner, int listener)
{
	struct ipc_server *s = owner;
	size_t n = 0;

	for (size_t i = 0; i < s->n_pipes; i++)
		n += s->pipes[i].listener == listener;
	return n;
}

static int server_listen(struct ipc_server *s,
			 const struct ipc_server_config *c)
{
	nng_listener l;
	size_t i;
	int rv;

	s->listeners = calloc(c->n_listen + 1, sizeof(*s->listeners));
	s->uids = calloc(c->n_uids + 1, sizeof(*s->uids));
	if (s->listeners == NULL || s->uids == NULL)
		return -1;
	if (c->n_uids > 0)
		memcpy(s->uids, c->uids, c->n_uids * sizeof(*s->uids));
	s->n_uids = c->n_uids;
	for (i = 0; i < c->n_listen; i++) {
		rv = ipc_listen_path(s->sock, c->listen[i].path,
				     c->listen[i].mode, &c->acl, &l);
		if (rv != 0) {
			log_warnx("ipc %s: listen %s: %s", s->name,
				  c->listen[i].path, nng_strerror(rv));
			return -1;
		}
		s->listeners[i].id = nng_listener_id(l);
		s->listeners[i].identity = c->listen[i].identity;
		s->listeners[i].mode = c->listen[i].mode;
		s->listeners[i].acl = c->acl;
		s->listeners[i].probe_fd = -1;
		s->n_listeners = i + 1;
		if ((s->listeners[i].path = strdup(c->listen[i].path)) == NULL)
			return -1;
	}
	/* No peer may stop a listener (DESIGN.md §7a): see ipc_watch.c. */
	s->watch =
	    ipc_watch_open(s->name, s->sock, s->listeners, s->n_listeners,
			   &s->pipes_lock, &s->own_pipes, pipes_of, s);
	return s->watch != NULL ? 0 : -1;
}

static int server_contexts(struct ipc_server *s,
			   const struct ipc_server_config *c)
{
	size_t budget =
	    c->decode_budget ? c->decode_budget : 4 * s->recv_max + (64u << 10);
	struct ipc_request *r;
	unsigned i;

	s->n_reqs = c->n_contexts ? c->n_contexts : IPC_DEFAULT_CONTEXTS;
	s->reqs = calloc(s->n_reqs, sizeof(*s->reqs));
	if (s->reqs == NULL)
		return -1;
	for (i = 0; i < s->n_reqs; i++) {
		r = &s->reqs[i];
		r->srv = s;
		if (ipc_arena_init(&r->arena, CTX_INLINE_ARENA, budget) != 0 ||
		    nng_aio_alloc(&r->aio, req_cb, r) != 0 ||
		    nng_ctx_open(&r->ctx, s->sock) != 0)
			return -1;
	}
	return 0;
}

struct ipc_server *ipc_server_open(const struct ipc_server_config *c)
{
	struct ipc_server *s;

	if (c->name == NULL || c->service == NULL || c->n_listen == 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->name = strdup(c->name);
	s->service = c->service;
	s->recv_max = c->recv_max ? c->recv_max : IPC_DEFAULT_RECV_MAX;
	s->arg = c->arg;
	s->trace = c->trace;
	s->trace_flag = ipc_trace_flag(c->trace);
	pthread_mutex_init(&s->pipes_lock, NULL);
	if (nng_rep0_open(&s->sock) != 0) {
		ipc_server_close(s);
		return NULL;
	}
	if (s->name == NULL || server_methods(s, c) ||
	    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->recv_max) ||
	    nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_event, s) ||
	    nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, pipe_event, s) ||
	    nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_event, s) ||
	    server_contexts(s, c) || server_listen(s, c)) {
		ipc_server_close(s);
		return NULL;
	}
	if (!c->held)
		ipc_server_serve(s);
	return s;
}

void ipc_server_stop_watch(struct ipc_server *s)
{
	if (s == NULL)
		return;
	ipc_watch_close(s->watch);
	s->watch = NULL;
}

void ipc_server_stop_listening(struct ipc_server *s)
{
	if (s == NULL)
		return;
	ipc_server_stop_watch(s); /* else it would listen again */
	pthread_mutex_lock(&s->pipes_lock);
	for (size_t i = 0; i < s->n_listeners; i++) {
		nng_listener l = { (uint32_t)s->listeners[i].id };

		nng_listener_close(l);
		for (int k = 0; k < IPC_RETIRED_MAX; k++) {
			nng_listener r = {
				(uint32_t)s->listeners[i].retired[k]
			};

			if (r.id != 0)
				nng_listener_close(r);
		}
	}
	pthread_mutex_unlock(&s->pipes_lock);
}

void ipc_server_serve(struct ipc_server *s)
{
	unsigned i;

	if (s == NULL || atomic_exchange(&s->serving, 1))
		return;
	for (i = 0; i < s->n_reqs; i++)
		req_recv(&s->reqs[i]);
}

void ipc_server_close(struct ipc_server *s)
{
	struct ipc_request *r;
	unsigned i;

	if (s == NULL)
		return;
	atomic_store(&s->closing, 1);
	ipc_watch_close(s->watch);
	if (nng_socket_id(s->sock) > 0)
		nng_close(s->sock);
	for (i = 0; s->reqs != NULL && i < s->n_reqs; i++) {
		r = &s->reqs[i];
		if (r->aio != NULL)
			nng_aio_free(r->aio);
		if (r->msg != NULL)
			nng_msg_free(r->msg);
		ipc_arena_fini(&r->arena);
	}
	pthread_mutex_destroy(&s->pipes_lock);
	free(s->reqs);
	free(s->pipes);
	for (i = 0; s->listeners != NULL && i < s->n_listeners; i++)
		free(s->listeners[i].path);
	free(s->listeners);
	free(s->uids);
	free(s->methods);
	free(s->name);
	free(s);
}
