/* The IPC trace tap: a bounded ring of TraceFrames drained by one thread
 * (started by the first frame) onto the service's trace pub socket. Pushing
 * never blocks on the publisher: a full ring drops and counts. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>

#include "lib/ipc_internal.h"
#include "lib/log.h"
#include "lib/util.h"

#define TRACE_DEFAULT_SLOTS	256
#define TRACE_DEFAULT_MAX_FRAME (64u << 10)

struct ipc_trace {
	char *service;
	_Atomic uint32_t own_flag;
	_Atomic uint32_t *flag;
	size_t max_frame;
	nng_socket pub;
	int has_pub;
	struct ipc_peers peers;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	nng_msg **ring;
	size_t slots, head, count;
	int hold, stop;
	bool started; /* the publisher runs (under lock) */
	_Atomic uint64_t frames, dropped, published;
};

static void *trace_publisher(void *arg);

static int trace_open_pub(struct ipc_trace *t, const struct ipc_trace_config *c)
{
	nng_listener l;
	int rv;

	if (c->path == NULL)
		return 0;
	if (nng_pub0_open(&t->pub) != 0)
		return -1;
	t->has_pub = 1;
	rv = ipc_peers_init(&t->peers, t->pub) ? NNG_EINTERNAL : 0;
	if (rv == 0)
		rv = nng_socket_set_size(t->pub, NNG_OPT_RECVMAXSZ, 1024);
	if (rv == 0)
		rv = ipc_listen_path(t->pub, c->path, c->mode, NULL, &l);
	if (rv != 0) {
		log_warnx("trace: listen %s: %s", c->path, nng_strerror(rv));
		return -1;
	}
	return 0;
}

struct ipc_trace *ipc_trace_open(const struct ipc_trace_config *c)
{
	struct ipc_trace *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->service = strdup(c->service ? c->service : "");
	t->flag = c->flag ? c->flag : &t->own_flag;
	t->max_frame = c->max_frame ? c->max_frame : TRACE_DEFAULT_MAX_FRAME;
	t->slots = c->ring_slots ? c->ring_slots : TRACE_DEFAULT_SLOTS;
	t->ring = calloc(t->slots, sizeof(*t->ring));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (t->service == NULL || t->ring == NULL || trace_open_pub(t, c)) {
		ipc_trace_close(t);
		return NULL;
	}
	return t;
}

void ipc_trace_close(struct ipc_trace *t)
{
	bool started;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	started = t->started;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (started)
		pthread_join(t->thread, NULL);
	if (t->has_pub) {
		nng_close(t->pub);
		ipc_peers_fini(&t->peers);
	}
	for (; t->ring != NULL && t->count > 0; t->count--) {
		nng_msg_free(t->ring[t->head]);
		t->head = (t->head + 1) % t->slots;
	}
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t->ring);
	free(t->service);
	free(t);
}

void ipc_trace_enable(struct ipc_trace *t, int on)
{
	atomic_store(t->flag, on ? 1u : 0u);
}

_Atomic uint32_t *ipc_trace_flag(struct ipc_trace *t)
{
	return t ? t->flag : &ipc_trace_off;
}

void ipc_trace_hold(struct ipc_trace *t, int hold)
{
	pthread_mutex_lock(&t->lock);
	t->hold = hold;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

int ipc_trace_wait_peers(struct ipc_trace *t, int n, int timeout_ms)
{
	if (!t->has_pub)
		return IPC_ERR_INVAL;
	return ipc_peers_wait(&t->peers, n, timeout_ms);
}

void ipc_trace_stats(struct ipc_trace *t, struct ipc_trace_stats *out)
{
	out->frames = atomic_load(&t->frames);
	out->dropped = atomic_load(&t->dropped);
	out->published = atomic_load(&t->published);
}

static nng_msg *trace_frame(struct ipc_trace *t, int direction, nng_msg *env)
{
	Parapet__TraceFrame f = PARAPET__TRACE_FRAME__INIT;
	nng_msg *m;

	f.service = t->service;
	f.has_direction = 1;
	f.direction = direction;
	f.has_ts_ns = 1;
	f.ts_ns = util_now_ns();
	f.has_dropped_total = 1;
	f.dropped_total =
	    atomic_load_explicit(&t->dropped, memory_order_relaxed);
	f.has_envelope = 1;
	f.envelope.len = nng_msg_len(env);
	f.envelope.data = nng_msg_body(env);
	if (nng_msg_alloc(&m, parapet__trace_frame__get_packed_size(&f)) != 0)
		return NULL;
	parapet__trace_frame__pack(&f, nng_msg_body(m));
	return m;
}

static int trace_full(struct ipc_trace *t)
{
	int full;

	pthread_mutex_lock(&t->lock);
	full = t->count == t->slots;
	pthread_mutex_unlock(&t->lock);
	return full;
}

/* The publisher starts with the first frame (under lock): most services
 * are never traced, and an idle thread still holds its stack pages. */
static bool trace_started(struct ipc_trace *t)
{
	if (!t->started && !t->stop)
		t->started =
		    pthread_create(&t->thread, NULL, trace_publisher, t) == 0;
	return t->started;
}

void ipc_trace_push(struct ipc_trace *t, int direction, nng_msg *env)
{
	nng_msg *m = NULL;
	int queued = 0;

	/* Check first so a full ring costs no allocation. */
	if (nng_msg_len(env) <= t->max_frame && !trace_full(t))
		m = trace_frame(t, direction, env);
	if (m != NULL) {
		pthread_mutex_lock(&t->lock);
		if (t->count < t->slots && trace_started(t)) {
			t->ring[(t->head + t->count) % t->slots] = m;
			t->count++;
			queued = 1;
			pthread_cond_signal(&t->cond);
		}
		pthread_mutex_unlock(&t->lock);
	}
	if (queued) {
		atomic_fetch_add_explicit(&t->frames, 1, memory_order_relaxed);
		return;
	}
	if (m != NULL)
		nng_msg_free(m);
	atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
}

static void *trace_publisher(void *arg)
{
	struct ipc_trace *t = arg;
	nng_msg *m;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->stop && (t->count == 0 || t->hold))
			pthread_cond_wait(&t->cond, &t->lock);
		if (t->stop)
			break;
		m = t->ring[t->head];
		t->head = (t->head + 1) % t->slots;
		t->count--;
		pthread_mutex_unlock(&t->lock);
		if (t->has_pub && nng_sendmsg(t->pub, m, 0) == 0)
			atomic_fetch_add(&t->published, 1);
		else
			nng_msg_free(m);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}
