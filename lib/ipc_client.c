/* lib/ipc clients (req sockets with a pool of contexts, one per call in
 * flight) and pub/sub endpoints for events whose loss is harmless. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "lib/ipc_internal.h"
#include "lib/log.h"
#include "lib/util.h"

/* Sized for the usual envelope and body (well under 1 KiB decoded); a
 * larger one overflows into blocks freed at reset. Each context keeps its
 * buffer for life and a service has dozens: 16 KiB each cost ~8 KiB of
 * resident heap apiece, 2 KiB is all touched but small. */
#define SLOT_INLINE_ARENA (2u << 10)

struct call_slot {
	nng_ctx ctx;
	nng_aio *aio;
	struct ipc_arena arena;
	struct call_slot *next_free;
};

struct ipc_client {
	char *name, *destination;
	const ProtobufCServiceDescriptor *service;
	nng_socket sock;
	nng_duration timeout;
	size_t recv_max;
	struct ipc_trace *trace;
	_Atomic uint32_t *trace_flag;
	_Atomic uint64_t seq;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct call_slot *slots, *free_slots;
	unsigned n_slots, n_made; /* slots[0..n_made) are set up */
	int resend_ms;		  /* for the slots made later; 0: nng's */
	struct ipc_redial *redial;
};

/* Sets up slots[n_made] (lock held): its context, aio and arena. */
static struct call_slot *slot_make(struct ipc_client *c)
{
	struct call_slot *sl = &c->slots[c->n_made];

	if (ipc_arena_init(&sl->arena, SLOT_INLINE_ARENA,
			   2 * c->recv_max + (64u << 10)) != 0 ||
	    nng_aio_alloc(&sl->aio, NULL, NULL) != 0 ||
	    nng_ctx_open(&sl->ctx, c->sock) != 0) {
		if (sl->aio != NULL)
			nng_aio_free(sl->aio);
		ipc_arena_fini(&sl->arena);
		memset(sl, 0, sizeof(*sl));
		return NULL;
	}
	if (c->resend_ms != 0)
		nng_ctx_set_ms(sl->ctx, NNG_OPT_REQ_RESENDTIME, c->resend_ms);
	c->n_made++;
	return sl;
}

/* A free slot, made when none is and fewer than n_slots exist: most
 * clients never have more than one call in flight, and each slot holds
 * an nng context, an aio and an arena. NULL: none could be made. */
static struct call_slot *slot_get(struct ipc_client *c)
{
	struct call_slot *sl;

	pthread_mutex_lock(&c->lock);
	while (c->free_slots == NULL && c->n_made == c->n_slots)
		pthread_cond_wait(&c->cond, &c->lock);
	if ((sl = c->free_slots) != NULL)
		c->free_slots = sl->next_free;
	else
		sl = slot_make(c);
	pthread_mutex_unlock(&c->lock);
	return sl;
}

static void slot_put(struct ipc_client *c, struct call_slot *sl)
{
	pthread_mutex_lock(&c->lock);
	sl->next_free = c->free_slots;
	c->free_slots = sl;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

struct ipc_client *ipc_client_open(const struct ipc_client_config *cfg)
{
	struct ipc_client *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return NULL;
	c->name = strdup(cfg->name ? cfg->name : "");
	c->destination = strdup(cfg->destination ? cfg->destination : "");
	c->service = cfg->service;
	c->timeout = cfg->timeout_ms ? cfg->timeout_ms : IPC_DEFAULT_TIMEOUT_MS;
	c->recv_max = cfg->recv_max ? cfg->recv_max : IPC_DEFAULT_RECV_MAX;
	c->trace = cfg->trace;
	c->trace_flag = ipc_trace_flag(cfg->trace);
	c->n_slots = cfg->n_slots ? cfg->n_slots : IPC_DEFAULT_CONTEXTS;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->slots = calloc(c->n_slots, sizeof(*c->slots));
	rv = nng_req0_open(&c->sock);
	if (rv != 0 || c->slots == NULL || c->name == NULL ||
	    c->destination == NULL) {
		ipc_client_close(c);
		return NULL;
	}
	rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->recv_max);
	/* Servers restart (servicing, supervision): redial every 2-10 ms, not
	 * nng's default 100 ms doubling to a minute. */
	if (rv == 0)
		rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 2);
	if (rv == 0)
		rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 10);
	if (rv == 0)
		c->redial = ipc_redial_open(c->sock, cfg->path, &rv);
	if (rv != 0) {
		log_warnx("ipc %s: dial %s: %s", c->name, cfg->path,
			  nng_strerror(rv));
		ipc_client_close(c);
		return NULL;
	}
	return c;
}

void ipc_client_set_resend(struct ipc_client *c, int resend_ms)
{
	pthread_mutex_lock(&c->lock);
	c->resend_ms = resend_ms;
	for (unsigned i = 0; i < c->n_made; i++)
		nng_ctx_set_ms(c->slots[i].ctx, NNG_OPT_REQ_RESENDTIME,
			       resend_ms);
	pthread_mutex_unlock(&c->lock);
}

void ipc_client_on_peer(struct ipc_client *c, ipc_peer_fn fn, void *arg)
{
	ipc_redial_on_peer(c->redial, fn, arg);
}

void ipc_client_close(struct ipc_client *c)
{
	unsigned i;

	if (c == NULL)
		return;
	if (c->redial != NULL)
		ipc_redial_close(c->redial); /* closes the socket */
	else if (nng_socket_id(c->sock) > 0)
		nng_close(c->sock);
	for (i = 0; c->slots != NULL && i < c->n_slots; i++) {
		if (c->slots[i].aio != NULL)
			nng_aio_free(c->slots[i].aio);
		ipc_arena_fini(&c->slots[i].arena);
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c->name);
	free(c->destination);
	free(c);
}

/* Sends msg on the slot's context and waits for the reply message. */
static int slot_roundtrip(struct ipc_client *c, struct call_slot *sl,
			  nng_msg **msg)
{
	uint64_t deadline = util_deadline_ns((uint64_t)c->timeout);
	int rv, left;

	nng_aio_set_msg(sl->aio, *msg);
	nng_aio_set_timeout(sl->aio, c->timeout);
	nng_ctx_send(sl->ctx, sl->aio);
	nng_aio_wait(sl->aio);
	rv = nng_aio_result(sl->aio);
	if (rv != 0)
		return ipc_from_nng(rv); /* nng left *msg with the caller */
	*msg = NULL;
	left = util_ms_until(deadline);
	nng_aio_set_timeout(sl->aio, left > 0 ? left : 1);
	nng_ctx_recv(sl->ctx, sl->aio);
	nng_aio_wait(sl->aio);
	rv = nng_aio_result(sl->aio);
	if (rv != 0)
		return ipc_from_nng(rv);
	*msg = nng_aio_get_msg(sl->aio);
	return 0;
}

static __thread char client_last_error[160];

const char *ipc_last_error(void)
{
	return client_last_error;
}

/* Decodes a REPLY body into *out, or an ERROR into its code (and its
 * message into this thread's ipc_last_error). */
static int reply_decode(struct ipc_client *c, struct call_slot *sl,
			nng_msg *msg, uint64_t seq,
			const ProtobufCMessageDescriptor *type,
			ProtobufCMessage **out)
{
	Parapet__Envelope *env = ipc_unpack_envelope(&sl->arena, msg);
	Parapet__Error *err;
	struct ipc_budget b;

	if (env == NULL || env->correlation_id != seq)
		return IPC_ERR_MALFORMED;
	if (env->kind == PARAPET__ENVELOPE__KIND__ERROR) {
		err = parapet__error__unpack(&sl->arena.pb, env->body.len,
					     env->body.data);
		if (err == NULL || err->code <= 0 || err->code >= IPC_ERR_COUNT)
			return IPC_ERR_MALFORMED;
		snprintf(client_last_error, sizeof(client_last_error), "%s",
			 err->message ? err->message : "");
		return -err->code;
	}
	if (env->kind != PARAPET__ENVELOPE__KIND__REPLY)
		return IPC_ERR_MALFORMED;
	ipc_budget_init(&b, 2 * c->recv_max + (64u << 10));
	*out = protobuf_c_message_unpack(type, &b.pb, env->body.len,
					 env->body.data);
	return *out ? 0 : IPC_ERR_MALFORMED;
}

static int client_call(struct ipc_client *c, const char *method,
		       const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *type,
		       ProtobufCMessage **out)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	struct call_slot *sl;
	nng_msg *msg = NULL;
	int rc;

	*out = NULL;
	env.source = c->name;
	env.destination = c->destination;
	env.has_seq = env.has_correlation_id = 1;
	env.seq = env.correlation_id =
	    atomic_fetch_add_explicit(&c->seq, 1, memory_order_relaxed) + 1;
	env.method = (char *)(uintptr_t)method;
	env.has_kind = 1;
	env.kind = PARAPET__ENVELOPE__KIND__REQUEST;
	env.has_sent_ns = 1;
	env.sent_ns = util_now_ns();
	rc = ipc_pack_envelope(&msg, &env, req);
	if (rc != 0)
		return rc;
	ipc_tap(c->trace, c->trace_flag, PARAPET__TRACE_FRAME__DIRECTION__SENT,
		msg);
	if ((sl = slot_get(c)) == NULL) {
		nng_msg_free(msg);
		return IPC_ERR_NOMEM;
	}
	rc = slot_roundtrip(c, sl, &msg);
	if (rc == 0) {
		ipc_tap(c->trace, c->trace_flag,
			PARAPET__TRACE_FRAME__DIRECTION__RECEIVED, msg);
		ipc_arena_reset(&sl->arena);
		rc = reply_decode(c, sl, msg, env.seq, type, out);
	}
	if (msg != NULL)
		nng_msg_free(msg);
	slot_put(c, sl);
	return rc;
}

int ipc_call(struct ipc_client *c, const char *method,
	     const ProtobufCMessage *req, ProtobufCMessage **reply_out)
{
	const ProtobufCMethodDescriptor *md;

	*reply_out = NULL;
	client_last_error[0] = '\0';
	md = protobuf_c_service_descriptor_get_method_by_name(c->service,
							      method);
	if (md == NULL || req == NULL || req->descriptor != md->input)
		return IPC_ERR_INVAL;
	return client_call(c, md->name, req, md->output, reply_out);
}

int ipc_call_stats(struct ipc_client *c, ProtobufCMessage **reply_out)
{
	Parapet__StatsRequest req = PARAPET__STATS_REQUEST__INIT;

	return client_call(c, "Stats", &req.base,
			   &parapet__stats_reply__descriptor, reply_out);
}

/* ---------------------------------------------------------------- pub */

struct ipc_pub {
	char *name;
	nng_socket sock;
	struct ipc_peers peers;
	struct ipc_trace *trace;
	_Atomic uint32_t *trace_flag;
	_Atomic uint64_t seq;
};

struct ipc_pub *ipc_pub_open(const char *name, const char *path, mode_t mode,
			     struct ipc_trace *trace)
{
	struct ipc_pub *p = calloc(1, sizeof(*p));
	nng_listener l;
	int rv;

	if (p == NULL)
		return NULL;
	p->name = strdup(name);
	p->trace = trace;
	p->trace_flag = ipc_trace_flag(trace);
	rv = nng_pub0_open(&p->sock);
	if (rv != 0 || p->name == NULL) {
		free(p->name);
		free(p);
		return NULL;
	}
	ipc_peers_init(&p->peers, p->sock);
	rv = nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, 1024);
	/* A burst beyond the per-subscriber queue drops its oldest events. */
	if (rv == 0)
		rv = nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, 256);
	if (rv == 0)
		rv = ipc_listen_path(p->sock, path, mode, NULL, &l);
	if (rv != 0) {
		log_warnx("ipc %s: listen %s: %s", name, path,
			  nng_strerror(rv));
		ipc_pub_close(p);
		return NULL;
	}
	return p;
}

void ipc_pub_close(struct ipc_pub *p)
{
	if (p == NULL)
		return;
	nng_close(p->sock);
	ipc_peers_fini(&p->peers);
	free(p->name);
	free(p);
}

int ipc_pub_wait_peers(struct ipc_pub *p, int n, int timeout_ms)
{
	return ipc_peers_wait(&p->peers, n, timeout_ms);
}

int ipc_publish(struct ipc_pub *p, const char *event,
		const ProtobufCMessage *body)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	nng_msg *msg = NULL;
	int rc;

	env.source = p->name;
	env.has_seq = 1;
	env.seq = atomic_fetch_add(&p->seq, 1) + 1;
	env.method = (char *)(uintptr_t)event;
	env.has_kind = 1;
	env.kind = PARAPET__ENVELOPE__KIND__EVENT;
	env.has_sent_ns = 1;
	env.sent_ns = util_now_ns();
	rc = ipc_pack_envelope(&msg, &env, body);
	if (rc != 0)
		return rc;
	ipc_tap(p->trace, p->trace_flag, PARAPET__TRACE_FRAME__DIRECTION__SENT,
		msg);
	rc = nng_sendmsg(p->sock, msg, 0);
	if (rc != 0)
		nng_msg_free(msg);
	return ipc_from_nng(rc);
}

/* ---------------------------------------------------------------- sub */

struct ipc_sub {
	nng_socket sock;
	struct ipc_redial *redial;
	nng_aio *aio;
	const struct ipc_event_type *types;
	size_t n_types, recv_max;
	struct ipc_arena arena;
	_Atomic uint64_t skipped;
};

struct ipc_sub *ipc_sub_open(const char *path,
			     const struct ipc_event_type *types, size_t n_types,
			     size_t recv_max)
{
	struct ipc_sub *s = calloc(1, sizeof(*s));
	int rv;

	if (s == NULL)
		return NULL;
	s->types = types;
	s->n_types = n_types;
	s->recv_max = recv_max ? recv_max : IPC_DEFAULT_RECV_MAX;
	if (ipc_arena_init(&s->arena, 4096, 2 * s->recv_max) != 0 ||
	    nng_aio_alloc(&s->aio, NULL, NULL) != 0 ||
	    nng_sub0_open(&s->sock) != 0) {
		ipc_sub_close(s);
		return NULL;
	}
	rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->recv_max);
	if (rv == 0)
		rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	if (rv == 0)
		s->redial = ipc_redial_open(s->sock, path, &rv);
	if (rv != 0) {
		log_warnx("ipc: subscribe %s: %s", path, nng_strerror(rv));
		ipc_sub_close(s);
		return NULL;
	}
	return s;
}

void ipc_sub_close(struct ipc_sub *s)
{
	if (s == NULL)
		return;
	if (s->redial != NULL)
		ipc_redial_close(s->redial); /* closes the socket */
	else if (nng_socket_id(s->sock) > 0)
		nng_close(s->sock);
	if (s->aio != NULL)
		nng_aio_free(s->aio);
	ipc_arena_fini(&s->arena);
	free(s);
}

uint64_t ipc_sub_skipped(struct ipc_sub *s)
{
	return atomic_load(&s->skipped);
}

static int sub_decode(struct ipc_sub *s, nng_msg *msg,
		      const struct ipc_event_type **type_out,
		      ProtobufCMessage **body_out)
{
	Parapet__Envelope *env;
	struct ipc_budget b;
	size_t i;

	ipc_arena_reset(&s->arena);
	env = ipc_unpack_envelope(&s->arena, msg);
	if (env == NULL || env->kind != PARAPET__ENVELOPE__KIND__EVENT ||
	    env->method == NULL)
		return IPC_ERR_MALFORMED;
	for (i = 0; i < s->n_types; i++)
		if (strcmp(s->types[i].name, env->method) == 0)
			break;
	if (i == s->n_types)
		return IPC_ERR_UNKNOWN_METHOD;
	ipc_budget_init(&b, 2 * s->recv_max);
	*body_out = protobuf_c_message_unpack(s->types[i].type, &b.pb,
					      env->body.len, env->body.data);
	*type_out = &s->types[i];
	return *body_out ? 0 : IPC_ERR_MALFORMED;
}

int ipc_sub_recv(struct ipc_sub *s, int timeout_ms,
		 const struct ipc_event_type **type_out,
		 ProtobufCMessage **body_out)
{
	uint64_t deadline = util_deadline_ns((uint64_t)timeout_ms);
	nng_msg *msg;
	int rv, left;

	*body_out = NULL;
	for (;;) {
		left = util_ms_until(deadline);
		if (left == 0)
			return IPC_ERR_TIMEOUT;
		nng_aio_set_timeout(s->aio, left);
		nng_recv_aio(s->sock, s->aio);
		nng_aio_wait(s->aio);
		rv = nng_aio_result(s->aio);
		if (rv != 0)
			return ipc_from_nng(rv);
		msg = nng_aio_get_msg(s->aio);
		rv = sub_decode(s, msg, type_out, body_out);
		nng_msg_free(msg);
		if (rv == 0)
			return 0;
		atomic_fetch_add(&s->skipped, 1);
	}
}
