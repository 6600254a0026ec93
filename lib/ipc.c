/* lib/ipc common parts: error strings, bounded decode allocators, envelope
 * packing, listeners with explicit permissions, peer counting. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/transport/ipc/ipc.h>

#include "lib/ipc_internal.h"
#include "lib/util.h"
#include "lib/log.h"
#include "lib/util.h"

_Atomic uint32_t ipc_trace_off;

static const char *const ipc_errors[IPC_ERR_COUNT] = {
	"success",
	"invalid argument",
	"out of memory or decode budget",
	"timed out",
	"endpoint closed",
	"transport failure",
	"malformed message",
	"unknown method",
	"sender not allowed",
	"message body too big",
	"handler failed",
	"service unavailable",
};

const char *ipc_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= IPC_ERR_COUNT)
		return "unknown error";
	return ipc_errors[err];
}

int ipc_from_nng(int rv)
{
	switch (rv) {
	case 0:
		return IPC_OK;
	case NNG_ETIMEDOUT:
		return IPC_ERR_TIMEOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return IPC_ERR_CLOSED;
	case NNG_ENOMEM:
		return IPC_ERR_NOMEM;
	case NNG_EINVAL:
		return IPC_ERR_INVAL;
	default:
		return IPC_ERR_TRANSPORT;
	}
}

/* ---------------------------------------------------------------- arena */

struct ipc_arena_block {
	struct ipc_arena_block *next;
	max_align_t data[];
};

#define ARENA_ALIGN 16

static void *arena_pb_alloc(void *data, size_t size)
{
	return ipc_arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

/* The inline buffer comes with the first allocation: a client's slots
 * are taken last-freed first, so most never decode anything. */
int ipc_arena_init(struct ipc_arena *a, size_t inline_cap, size_t budget)
{
	memset(a, 0, sizeof(*a));
	a->cap = inline_cap;
	a->budget = budget;
	a->pb.alloc = arena_pb_alloc;
	a->pb.free = arena_pb_free;
	a->pb.allocator_data = a;
	return 0;
}

void ipc_arena_reset(struct ipc_arena *a)
{
	struct ipc_arena_block *b, *next;

	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->blocks = NULL;
	a->used = 0;
	a->spent = 0;
	a->exhausted = 0;
}

void ipc_arena_fini(struct ipc_arena *a)
{
	ipc_arena_reset(a);
	free(a->buf);
	a->buf = NULL;
}

void *ipc_arena_alloc(struct ipc_arena *a, size_t size)
{
	size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct ipc_arena_block *b;

	if (rounded < size || rounded > a->budget - a->spent) {
		a->exhausted = 1;
		return NULL;
	}
	a->spent += rounded;
	if (rounded <= a->cap - a->used) {
		void *p;

		if (a->buf == NULL && (a->buf = malloc(a->cap)) == NULL) {
			a->exhausted = 1;
			return NULL;
		}
		p = a->buf + a->used;

		a->used += rounded;
		return p;
	}
	b = malloc(sizeof(*b) + rounded);
	if (b == NULL) {
		a->exhausted = 1;
		return NULL;
	}
	b->next = a->blocks;
	a->blocks = b;
	return b->data;
}

static void *budget_alloc(void *data, size_t size)
{
	struct ipc_budget *b = data;

	if (size > b->left)
		return NULL;
	b->left -= size;
	return malloc(size);
}

static void budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

void ipc_budget_init(struct ipc_budget *b, size_t budget)
{
	b->left = budget;
	b->pb.alloc = budget_alloc;
	b->pb.free = budget_free;
	b->pb.allocator_data = b;
}

void ipc_free(ProtobufCMessage *msg)
{
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* ------------------------------------------------------------- envelope */

#define ENVELOPE_BODY_TAG ((8u << 3) | 2u) /* field 8, length-delimited */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* The body goes last as field 8, packed straight into the nng message:
 * one pack of each message and no intermediate buffer. */
int ipc_pack_envelope(nng_msg **msgp, const Parapet__Envelope *env,
		      const ProtobufCMessage *body)
{
	size_t env_len = parapet__envelope__get_packed_size(env);
	size_t body_len = body ? protobuf_c_message_get_packed_size(body) : 0;
	size_t total = env_len;
	uint8_t *p;

	if (body != NULL)
		total += 1 + varint_len(body_len) + body_len;
	if (*msgp == NULL) {
		if (nng_msg_alloc(msgp, total) != 0)
			return IPC_ERR_NOMEM;
	} else {
		nng_msg_clear(*msgp);
		if (nng_msg_realloc(*msgp, total) != 0)
			return IPC_ERR_NOMEM;
	}
	p = nng_msg_body(*msgp);
	p += parapet__envelope__pack(env, p);
	if (body != NULL) {
		*p++ = ENVELOPE_BODY_TAG;
		p += varint_put(p, body_len);
		protobuf_c_message_pack(body, p);
	}
	return 0;
}

Parapet__Envelope *ipc_unpack_envelope(struct ipc_arena *a, nng_msg *msg)
{
	return parapet__envelope__unpack(&a->pb, nng_msg_len(msg),
					 nng_msg_body(msg));
}

/* -------------------------------------------------------------- sockets */

/* Every listener binds a name of its own (PATH.lN) that is then renamed
 * to PATH: nng unlinks a listener's bound name when the listener closes,
 * and the watchdog (ipc_watch.c) closes a replaced listener only after a
 * new one took PATH over; unlinking PATH then would remove the new one's
 * socket. The rename also replaces a socket left by a dead instance, and
 * PATH never goes missing while a listener is replaced. */
int ipc_listen_path(nng_socket s, const char *path, mode_t mode,
		    const struct ipc_listen_acl *acl, nng_listener *out)
{
	static _Atomic unsigned serial;
	char url[256], bound[240];
	int rv;

	if ((size_t)snprintf(bound, sizeof(bound), "%s.l%u", path,
			     atomic_fetch_add(&serial, 1)) >= sizeof(bound) ||
	    (size_t)snprintf(url, sizeof(url), "ipc://%s", bound) >=
		sizeof(url))
		return NNG_EINVAL;
	if (unlink(bound) < 0 && errno != ENOENT)
		return NNG_EPERM;
	rv = nng_listener_create(out, s, url);
	if (rv != 0)
		return rv;
	rv = mode == IPC_MODE_UMASK
		 ? 0
		 : nng_listener_set_int(*out, NNG_OPT_IPC_PERMISSIONS,
					(int)(mode ? mode : IPC_DEFAULT_MODE));
	if (rv == 0)
		rv = nng_listener_start(*out, 0);
	/* without it the uid is refused at connect, nothing else breaks */
	if (rv == 0 && acl != NULL && acl->on &&
	    util_acl_grant(bound, 6, acl->uid, 6, 0, 0) != 0)
		log_warn("%s: ACL for uid %u", path, (unsigned)acl->uid);
	if (rv == 0 && rename(bound, path) != 0)
		rv = NNG_EPERM;
	if (rv != 0)
		nng_listener_close(*out);
	return rv;
}

/* ---------------------------------------------------------------- peers */

static void peers_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct ipc_peers *p = arg;

	(void)pipe;
	pthread_mutex_lock(&p->lock);
	p->n += ev == NNG_PIPE_EV_ADD_POST ? 1 : -1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int ipc_peers_init(struct ipc_peers *p, nng_socket s)
{
	pthread_condattr_t ca;

	p->n = 0;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, peers_cb, p) != 0 ||
	    nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, peers_cb, p) != 0)
		return IPC_ERR_TRANSPORT;
	return 0;
}

void ipc_peers_fini(struct ipc_peers *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

int ipc_peers_wait(struct ipc_peers *p, int n, int timeout_ms)
{
	struct timespec ts = util_abstime_ns(
	    CLOCK_MONOTONIC, (uint64_t)timeout_ms * UTIL_NS_PER_MS);
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	while (p->n < n && rc == 0)
		rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	rc = p->n >= n ? 0 : IPC_ERR_TIMEOUT;
	pthread_mutex_unlock(&p->lock);
	return rc;
}
