/* Unit tests for lib/ipc over real nng ipc:// sockets in a temp dir:
 * calls, concurrency, ERROR replies, oversize drops, events, trace tap. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "envelope.pb-c.h"
#include "lib/ipc.h"
#include "test.pb-c.h"

#define ID_A	  0x1u
#define ID_B	  0x2u
#define SMALL_MAX 128
#define RECV_MAX  (64u << 10)
/* Deadlines that only bound a hang: a call's timeout, and 10 ms polls. */
#define CALL_TIMEOUT_MS 30000
#define WAIT_TRIES	(CALL_TIMEOUT_MS / 10)

static char tmpdir[64];
static char path_a[128], path_b[128], path_ev[128], path_tr[128];

/* Requests answered asynchronously by the "Later" worker thread. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ipc_request *q[128];
	const Parapet__PingRequest *in[128];
	Parapet__PingReply *out[128];
	int n, stop;
} later = { .lock = PTHREAD_MUTEX_INITIALIZER,
	    .cond = PTHREAD_COND_INITIALIZER };

/* Everything a test opens, closed by its teardown too: an assertion that
 * ends a test early must not leave a server answering the next test's
 * calls, nor a client redialing into nng_fini. */
enum opened_kind {
	OPENED_SERVER,
	OPENED_CLIENT,
	OPENED_PUB,
	OPENED_SUB,
	OPENED_TRACE
};
static struct {
	enum opened_kind kind;
	void *p;
} opened[16];

static void *track(enum opened_kind kind, void *p)
{
	for (size_t i = 0; p != NULL && i < sizeof(opened) / sizeof(*opened);
	     i++)
		if (opened[i].p == NULL) {
			opened[i].kind = kind;
			opened[i].p = p;
			return p;
		}
	return p;
}

/* Closes p (opened with track) and forgets it. */
static void close_opened(void *p)
{
	for (size_t i = 0; i < sizeof(opened) / sizeof(*opened); i++) {
		if (opened[i].p != p || p == NULL)
			continue;
		opened[i].p = NULL;
		switch (opened[i].kind) {
		case OPENED_SERVER:
			ipc_server_close(p);
			break;
		case OPENED_CLIENT:
			ipc_client_close(p);
			break;
		case OPENED_PUB:
			ipc_pub_close(p);
			break;
		case OPENED_SUB:
			ipc_sub_close(p);
			break;
		case OPENED_TRACE:
			ipc_trace_close(p);
			break;
		}
	}
}

/* Clients first: a server closed under a live client's pipe is the
 * order services meet too, but the test needs no redial here. */
static int close_all_opened(void **state)
{
	static const enum opened_kind order[] = { OPENED_CLIENT, OPENED_SUB,
						  OPENED_SERVER, OPENED_PUB,
						  OPENED_TRACE };

	(void)state;
	for (size_t k = 0; k < sizeof(order) / sizeof(*order); k++)
		for (size_t i = 0; i < sizeof(opened) / sizeof(*opened); i++)
			if (opened[i].p != NULL && opened[i].kind == order[k])
				close_opened(opened[i].p);
	return 0;
}

static int ping(struct ipc_request *req, const ProtobufCMessage *in,
		ProtobufCMessage *out, void *arg)
{
	const Parapet__PingRequest *r = (const Parapet__PingRequest *)in;
	Parapet__PingReply *o = (Parapet__PingReply *)out;

	(void)arg;
	o->has_payload = r->has_payload;
	o->payload = r->payload;
	o->text = r->text;
	o->has_served_by = 1;
	o->served_by = ipc_request_sender(req);
	if (r->text != NULL && strcmp(r->text, "fail") == 0) {
		ipc_request_set_error(req, "asked to fail");
		return IPC_ERR_UNAVAILABLE;
	}
	return 0;
}

static int later_handler(struct ipc_request *req, const ProtobufCMessage *in,
			 ProtobufCMessage *out, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&later.lock);
	later.q[later.n] = req;
	later.in[later.n] = (const Parapet__PingRequest *)in;
	later.out[later.n] = (Parapet__PingReply *)out;
	later.n++;
	pthread_cond_signal(&later.cond);
	pthread_mutex_unlock(&later.lock);
	return IPC_ASYNC;
}

static void *later_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&later.lock);
	for (;;) {
		while (later.n == 0 && !later.stop)
			pthread_cond_wait(&later.cond, &later.lock);
		if (later.stop)
			break;
		later.n--;
		later.out[later.n]->text = later.in[later.n]->text;
		ipc_request_finish(later.q[later.n], 0);
	}
	pthread_mutex_unlock(&later.lock);
	return NULL;
}

static const struct ipc_method methods[] = {
	{ "Ping", ping, IPC_SENDER_ANY, SMALL_MAX * 64 },
	{ "Later", later_handler, IPC_SENDER_ANY, 0 },
	{ "Secret", ping, ID_B, SMALL_MAX },
};

/* The uid every test server's sockets admit by ACL (off: none). */
static struct ipc_listen_acl server_acl;

static struct ipc_server *open_server_held(struct ipc_trace *trace, int held)
{
	struct ipc_listen listen[] = { { path_a, ID_A, 0 },
				       { path_b, ID_B, 0 } };
	struct ipc_server_config cfg = {
		.name = "tester",
		.listen = listen,
		.n_listen = 2,
		.acl = server_acl,
		.service = &parapet__test__descriptor,
		.methods = methods,
		.n_methods = 3,
		.recv_max = RECV_MAX,
		.n_contexts = 16,
		.trace = trace,
		.held = held,
	};

	return track(OPENED_SERVER, ipc_server_open(&cfg));
}

static struct ipc_server *open_server(struct ipc_trace *trace)
{
	return open_server_held(trace, 0);
}

static struct ipc_client *open_client(const char *path, unsigned slots,
				      struct ipc_trace *trace)
{
	struct ipc_client_config cfg = {
		.name = "client",
		.path = path,
		.destination = "tester",
		.service = &parapet__test__descriptor,
		.timeout_ms = CALL_TIMEOUT_MS,
		.n_slots = slots,
		.trace = trace,
	};

	return track(OPENED_CLIENT, ipc_client_open(&cfg));
}

static int call_ping(struct ipc_client *c, const char *method, const char *text,
		     size_t payload_len, Parapet__PingReply **out)
{
	Parapet__PingRequest req = PARAPET__PING_REQUEST__INIT;
	static uint8_t payload[RECV_MAX];

	req.text = (char *)(uintptr_t)text;
	req.has_payload = 1;
	req.payload.len = payload_len;
	req.payload.data = payload;
	return ipc_call(c, method, &req.base, (ProtobufCMessage **)out);
}

static Parapet__StatsReply *stats(struct ipc_client *c)
{
	ProtobufCMessage *m;

	assert_int_equal(ipc_call_stats(c, &m), 0);
	return (Parapet__StatsReply *)m;
}

static void test_round_trip(void **state)
{
	struct ipc_server *s = open_server(NULL);
	struct ipc_client *c = open_client(path_a, 0, NULL);
	Parapet__PingReply *r;
	Parapet__StatsReply *st;

	(void)state;
	struct stat sb;

	(void)state;
	assert_non_null(s);
	assert_non_null(c);
	assert_int_equal(stat(path_a, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0660);
	assert_int_equal(call_ping(c, "Ping", "hello", 100, &r), 0);
	assert_string_equal(r->text, "hello");
	assert_int_equal(r->payload.len, 100);
	assert_int_equal(r->served_by, ID_A);
	ipc_free(&r->base);
	assert_int_equal(call_ping(c, "Ping", "fail", 1, &r),
			 IPC_ERR_UNAVAILABLE);
	assert_null(r);
	assert_int_equal(call_ping(c, "Nope", "x", 1, &r), IPC_ERR_INVAL);
	st = stats(c);
	assert_string_equal(st->service, "tester");
	assert_int_equal(st->received, 3); /* two pings and this Stats */
	assert_int_equal(st->err_handler, 1);
	ipc_free(&st->base);
	close_opened(c);
	close_opened(s);
}

struct worker {
	struct ipc_client *c;
	int index, ok;
};

static void *concurrent_caller(void *arg)
{
	struct worker *w = arg;
	Parapet__PingReply *r;
	char text[32];
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(text, sizeof(text), "w%d-%d", w->index, i);
		if (call_ping(w->c, i % 2 ? "Later" : "Ping", text, 64, &r))
			continue;
		w->ok += strcmp(r->text, text) == 0;
		ipc_free(&r->base);
	}
	return NULL;
}

static void test_concurrent_calls(void **state)
{
	struct ipc_server *s = open_server(NULL);
	struct ipc_client *c = open_client(path_a, 64, NULL);
	struct worker w[64];
	pthread_t t[64], lt;
	int i, ok = 0;

	(void)state;
	assert_non_null(s);
	later.stop = 0;
	assert_int_equal(pthread_create(&lt, NULL, later_worker, NULL), 0);
	for (i = 0; i < 64; i++) {
		w[i] = (struct worker){ c, i, 0 };
		assert_int_equal(
		    pthread_create(&t[i], NULL, concurrent_caller, &w[i]), 0);
	}
	for (i = 0; i < 64; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
	}
	assert_int_equal(ok, 64 * 8);
	pthread_mutex_lock(&later.lock);
	later.stop = 1;
	pthread_cond_signal(&later.cond);
	pthread_mutex_unlock(&later.lock);
	pthread_join(lt, NULL);
	close_opened(c);
	close_opened(s);
}

/* Sends raw bytes as one request on a plain req socket; returns the
 * reply envelope (NULL on timeout). */
static Parapet__Envelope *raw_call(const char *path, const void *data,
				   size_t len)
{
	nng_socket sock;
	char url[160];
	nng_msg *m;
	Parapet__Envelope *env = NULL;

	snprintf(url, sizeof(url), "ipc://%s", path);
	assert_int_equal(nng_req0_open(&sock), 0);
	assert_int_equal(
	    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, CALL_TIMEOUT_MS), 0);
	assert_int_equal(nng_dial(sock, url, NULL, 0), 0);
	assert_int_equal(nng_msg_alloc(&m, len), 0);
	memcpy(nng_msg_body(m), data, len);
	assert_int_equal(nng_sendmsg(sock, m, 0), 0);
	if (nng_recvmsg(sock, &m, 0) == 0) {
		env = parapet__envelope__unpack(NULL, nng_msg_len(m),
						nng_msg_body(m));
		nng_msg_free(m);
	}
	nng_close(sock);
	return env;
}

/* A req0 peer speaking the SP-over-IPC framing itself (8-byte hello, then
 * a type byte, a 64-bit big-endian length and the message, whose header
 * is the request id) sends one len-byte request; returns true when the
 * server then closes the connection (within 10 s) without a reply. An
 * nng req socket would do, but closing one whose pipe the server
 * dropped can hang in nng 1.5.2. */
static bool oversize_dropped_here(const char *path, size_t len);

/* From a child process (the server does not count connections of its
 * own process, its listener watchdog's probes): len == 0 connects,
 * handshakes and leaves without a request. The child stays alive, as a
 * dropped client waiting for its reply does, until *child is killed
 * (with kill_child), or exits at once when leave is set. */
static bool oversize_dropped(const char *path, size_t len, bool leave,
			     pid_t *child)
{
	int fds[2];
	char ok = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ok = oversize_dropped_here(path, len) ? 1 : 0;
		if (write(fds[1], &ok, 1) != 1 || leave)
			_exit(0);
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &ok, 1), 1);
	close(fds[0]);
	*child = pid;
	if (leave)
		assert_int_equal(waitpid(pid, NULL, 0), pid);
	return ok == 1;
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static bool oversize_dropped_here(const char *path, size_t len)
{
	static const uint8_t hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t head[9 + 4] = { 1 }, peer[8], buf[4096];
	uint64_t n = len + 4;
	struct pollfd p;
	bool closed = false;
	int fd;

	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, hello, sizeof(hello)), sizeof(hello));
	assert_int_equal(read(fd, peer, sizeof(peer)), sizeof(peer));
	assert_int_equal(peer[5], 0x31); /* rep0 */
	if (len == 0) {
		close(fd);
		return true;
	}
	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t)(n >> (56 - 8 * i));
	head[9] = 0x80; /* request id 0x80000001 */
	head[12] = 1;
	assert_int_equal(write(fd, head, sizeof(head)), sizeof(head));
	memset(buf, 0x5a, sizeof(buf));
	/* The server may close before it has all: stop at the first error. */
	for (size_t sent = 0; sent < len;) {
		size_t k = len - sent < sizeof(buf) ? len - sent : sizeof(buf);
		ssize_t w = send(fd, buf, k, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (!closed && poll(&p, 1, 10000) == 1) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r <= 0)
			closed = true;
		else
			break; /* bytes: a reply */
	}
	close(fd);
	return closed;
}

/* Sends an envelope for method with body bytes; returns the Error code
 * of the reply (0 for a REPLY). */
static int raw_envelope(const char *path, const char *method, const void *body,
			size_t body_len)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT, *rep;
	Parapet__Error *err;
	uint8_t buf[RECV_MAX / 2];
	size_t len;
	int code = 0;

	env.method = (char *)(uintptr_t)method;
	env.has_kind = 1;
	env.kind = PARAPET__ENVELOPE__KIND__REQUEST;
	env.has_body = 1;
	env.body.len = body_len;
	env.body.data = (uint8_t *)(uintptr_t)body;
	len = parapet__envelope__pack(&env, buf);
	rep = raw_call(path, buf, len);
	assert_non_null(rep);
	if (rep->kind == PARAPET__ENVELOPE__KIND__ERROR) {
		err =
		    parapet__error__unpack(NULL, rep->body.len, rep->body.data);
		assert_non_null(err);
		code = -err->code;
		parapet__error__free_unpacked(err, NULL);
	}
	parapet__envelope__free_unpacked(rep, NULL);
	return code;
}

static void test_error_replies(void **state)
{
	struct ipc_server *s = open_server(NULL);
	struct ipc_client *ca = open_client(path_a, 0, NULL);
	struct ipc_client *cb = open_client(path_b, 0, NULL);
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x07, 0x42 };
	Parapet__PingReply *r, extra = PARAPET__PING_REPLY__INIT;
	Parapet__StatsReply *st;
	uint8_t buf[64];
	size_t len;

	(void)state;
	assert_non_null(s);
	Parapet__Envelope *env = raw_call(path_a, garbage, sizeof(garbage));
	assert_non_null(env);
	assert_int_equal(env->kind, PARAPET__ENVELOPE__KIND__ERROR);
	parapet__envelope__free_unpacked(env, NULL);
	assert_int_equal(raw_envelope(path_a, "Ping", garbage, sizeof(garbage)),
			 IPC_ERR_MALFORMED);
	assert_int_equal(raw_envelope(path_a, "Nope", NULL, 0),
			 IPC_ERR_UNKNOWN_METHOD);
	/* A PingReply's served_by is an unknown field of PingRequest. */
	extra.has_served_by = 1;
	extra.served_by = 7;
	len = parapet__ping_reply__pack(&extra, buf);
	assert_int_equal(raw_envelope(path_a, "Ping", buf, len), 0);
	assert_int_equal(call_ping(ca, "Secret", "x", 1, &r), IPC_ERR_DENIED);
	assert_int_equal(call_ping(cb, "Secret", "x", 1, &r), 0);
	assert_int_equal(r->served_by, ID_B);
	ipc_free(&r->base);
	assert_int_equal(call_ping(cb, "Secret", "x", SMALL_MAX + 1, &r),
			 IPC_ERR_TOO_BIG);
	assert_int_equal(call_ping(ca, "Ping", "still", 10, &r), 0);
	assert_string_equal(r->text, "still");
	ipc_free(&r->base);
	st = stats(ca);
	assert_int_equal(st->err_malformed, 2);
	assert_int_equal(st->err_unknown_method, 1);
	assert_int_equal(st->err_denied, 1);
	assert_int_equal(st->err_too_big, 1);
	assert_int_equal(st->unknown_fields, 1);
	ipc_free(&st->base);
	close_opened(ca);
	close_opened(cb);
	close_opened(s);
}

/* The server's oversize_drops once one is counted: a pipe's removal is
 * reported asynchronously and settled a second later (the deadline only
 * bounds a hang; a loaded machine may take seconds). */
static uint64_t oversize_drops_settled(struct ipc_client *c)
{
	Parapet__StatsReply *st;
	uint64_t n;

	for (int tries = 0;; tries++) {
		st = stats(c);
		n = st->oversize_drops;
		ipc_free(&st->base);
		if (n >= 1 || tries == WAIT_TRIES)
			return n;
		usleep(10000);
	}
}

static void test_oversize_dropped(void **state)
{
	struct ipc_server *s = open_server(NULL);
	struct ipc_client *c = open_client(path_a, 0, NULL);
	Parapet__PingReply *r;
	pid_t child;

	(void)state;
	assert_non_null(s);
	assert_true(oversize_dropped(path_a, 2 * RECV_MAX, false, &child));
	assert_int_equal(call_ping(c, "Ping", "after", 10, &r), 0);
	assert_string_equal(r->text, "after");
	ipc_free(&r->base);
	assert_int_equal(oversize_drops_settled(c), 1);
	kill_child(child);
	close_opened(c);
	close_opened(s);
}

/* A client that connects and exits without a request (a vmworker
 * replaced while its policy client sat idle) is not an oversize drop;
 * one that stays connected-then-closed while alive is. */
static void test_silent_exit_not_a_drop(void **state)
{
	struct ipc_server *s = open_server(NULL);
	struct ipc_client *c = open_client(path_a, 0, NULL);
	pid_t child;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 3; i++)
		assert_true(oversize_dropped(path_a, 0, true, &child));
	assert_true(oversize_dropped(path_a, 0, false, &child));
	/* The live one is counted after the settling second; by then the
	 * three that exited have been settled too. */
	assert_int_equal(oversize_drops_settled(c), 1);
	kill_child(child);
	close_opened(c);
	close_opened(s);
}

static void test_timeout_without_server(void **state)
{
	struct ipc_client_config cfg = {
		.name = "client",
		.path = path_b,
		.service = &parapet__test__descriptor,
		.timeout_ms = 100,
	};
	struct ipc_client *c = track(OPENED_CLIENT, ipc_client_open(&cfg));
	Parapet__PingReply *r;

	(void)state;
	assert_non_null(c);
	assert_int_equal(call_ping(c, "Ping", "nobody", 1, &r),
			 IPC_ERR_TIMEOUT);
	assert_null(r);
	assert_string_equal(ipc_strerror(IPC_ERR_TIMEOUT), "timed out");
	close_opened(c);
}

/* A held server listens (clients connect) but answers nothing until
 * ipc_server_serve; then the request that waited is served too. The
 * early call gets a short timeout (it must time out); everything else
 * the usual one, so that a slow machine cannot fail the test. */
static void test_held_server(void **state)
{
	struct ipc_server *s = open_server_held(NULL, 1);
	struct ipc_client_config cfg = {
		.name = "client",
		.path = path_a,
		.service = &parapet__test__descriptor,
		.timeout_ms = 300,
	};
	struct ipc_client *early = track(OPENED_CLIENT, ipc_client_open(&cfg));
	struct ipc_client *c = open_client(path_a, 0, NULL);
	Parapet__PingReply *r;
	Parapet__StatsReply *st;
	int tries;

	(void)state;
	assert_non_null(s);
	assert_non_null(early);
	assert_non_null(c);
	assert_int_equal(call_ping(early, "Ping", "early", 1, &r),
			 IPC_ERR_TIMEOUT);
	assert_null(r);
	ipc_server_serve(s);
	ipc_server_serve(s); /* a second call changes nothing */
	assert_int_equal(call_ping(c, "Ping", "served", 1, &r), 0);
	assert_string_equal(r->text, "served");
	ipc_free(&r->base);
	/* The early request, queued on its own connection, is received
	 * once serving starts: early, served and the Stats calls. */
	for (tries = 0;; tries++) {
		st = stats(c);
		if (st->received >= 2 + (uint64_t)tries + 1 ||
		    tries == WAIT_TRIES)
			break;
		ipc_free(&st->base);
		usleep(10000);
	}
	assert_int_equal(st->received, 2 + (uint64_t)tries + 1);
	ipc_free(&st->base);
	close_opened(early);
	close_opened(c);
	close_opened(s);
}

static _Atomic int peer_ups, peer_downs;

static void count_peer(void *arg, bool up)
{
	(void)arg;
	atomic_fetch_add(up ? &peer_ups : &peer_downs, 1);
}

static void wait_count(_Atomic int *n, int want)
{
	for (int tries = 0; atomic_load(n) < want && tries < WAIT_TRIES;
	     tries++)
		usleep(10000);
	assert_int_equal(atomic_load(n), want);
}

/* A client hears its server come, go and come back (a restarted
 * service's next instance). */
static void test_peer_events(void **state)
{
	struct ipc_client *c = open_client(path_a, 0, NULL);
	struct ipc_server *s;
	Parapet__PingReply *r;

	(void)state;
	assert_non_null(c);
	ipc_client_on_peer(c, count_peer, NULL);
	s = open_server(NULL);
	assert_non_null(s);
	wait_count(&peer_ups, 1);
	assert_int_equal(atomic_load(&peer_downs), 0);
	close_opened(s);
	wait_count(&peer_downs, 1);
	s = open_server(NULL);
	assert_non_null(s);
	wait_count(&peer_ups, 2);
	assert_int_equal(call_ping(c, "Ping", "back", 1, &r), 0);
	assert_string_equal(r->text, "back");
	ipc_free(&r->base);
	close_opened(c);
	close_opened(s);
	assert_int_equal(atomic_load(&peer_ups), 2);
	assert_int_equal(atomic_load(&peer_downs), 1);
}

static const struct ipc_event_type event_types[] = {
	{ "Tick", &parapet__counter__descriptor },
};

static void test_events(void **state)
{
	struct ipc_pub *p =
	    track(OPENED_PUB, ipc_pub_open("tester", path_ev, 0, NULL));
	struct ipc_sub *sub =
	    track(OPENED_SUB, ipc_sub_open(path_ev, event_types, 1, 0));
	const struct ipc_event_type *type;
	Parapet__Counter cnt = PARAPET__COUNTER__INIT;
	ProtobufCMessage *m;
	int i;

	(void)state;
	assert_non_null(p);
	assert_non_null(sub);
	assert_int_equal(ipc_pub_wait_peers(p, 1, 10000), 0);
	cnt.has_value = 1;
	assert_int_equal(ipc_publish(p, "Other", &cnt.base), 0);
	for (i = 0; i < 20; i++) {
		cnt.value = (uint64_t)i;
		assert_int_equal(ipc_publish(p, "Tick", &cnt.base), 0);
	}
	for (i = 0; i < 20; i++) {
		assert_int_equal(ipc_sub_recv(sub, 10000, &type, &m), 0);
		assert_string_equal(type->name, "Tick");
		assert_int_equal(((Parapet__Counter *)m)->value, i);
		ipc_free(m);
	}
	assert_int_equal(ipc_sub_skipped(sub), 1);
	close_opened(sub);
	close_opened(p);
}

static nng_socket trace_subscriber(void)
{
	nng_socket sock;
	char url[160];

	snprintf(url, sizeof(url), "ipc://%s", path_tr);
	assert_int_equal(nng_sub0_open(&sock), 0);
	assert_int_equal(nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	assert_int_equal(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 10000), 0);
	assert_int_equal(nng_dial(sock, url, NULL, 0), 0);
	return sock;
}

/* Receives one trace frame and checks it carries a Ping envelope. */
static int expect_frame(nng_socket sock)
{
	Parapet__TraceFrame *f;
	Parapet__Envelope *env;
	nng_msg *m;
	int dir;

	assert_int_equal(nng_recvmsg(sock, &m, 0), 0);
	f = parapet__trace_frame__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	assert_non_null(f);
	assert_string_equal(f->service, "tester");
	env =
	    parapet__envelope__unpack(NULL, f->envelope.len, f->envelope.data);
	assert_non_null(env);
	assert_string_equal(env->method, "Ping");
	dir = f->direction;
	parapet__envelope__free_unpacked(env, NULL);
	parapet__trace_frame__free_unpacked(f, NULL);
	return dir;
}

static void test_trace_tap(void **state)
{
	struct ipc_trace_config tc = { "tester", path_tr, 4, 0, NULL, 0 };
	struct ipc_trace *t = track(OPENED_TRACE, ipc_trace_open(&tc));
	struct ipc_server *s = open_server(t);
	struct ipc_client *c = open_client(path_a, 0, NULL);
	struct ipc_trace_stats ts;
	Parapet__PingReply *r;
	nng_socket sub = trace_subscriber();
	int i;

	(void)state;
	assert_non_null(t);
	assert_non_null(s);
	assert_int_equal(ipc_trace_wait_peers(t, 1, 10000), 0);
	/* Off: nothing copied. */
	assert_int_equal(call_ping(c, "Ping", "off", 8, &r), 0);
	ipc_free(&r->base);
	ipc_trace_stats(t, &ts);
	assert_int_equal(ts.frames, 0);
	/* On: the server's received and sent envelopes are published. */
	ipc_trace_enable(t, 1);
	assert_int_equal(call_ping(c, "Ping", "on", 8, &r), 0);
	ipc_free(&r->base);
	assert_int_equal(expect_frame(sub),
			 PARAPET__TRACE_FRAME__DIRECTION__RECEIVED);
	assert_int_equal(expect_frame(sub),
			 PARAPET__TRACE_FRAME__DIRECTION__SENT);
	/* Held publisher, 4 slots: 5 calls make 10 frames, 6 dropped. */
	ipc_trace_hold(t, 1);
	for (i = 0; i < 5; i++) {
		assert_int_equal(call_ping(c, "Ping", "full", 8, &r), 0);
		ipc_free(&r->base);
	}
	ipc_trace_stats(t, &ts);
	assert_int_equal(ts.frames, 6);
	assert_int_equal(ts.dropped, 6);
	ipc_trace_hold(t, 0);
	for (i = 0; i < 4; i++)
		expect_frame(sub);
	ipc_trace_enable(t, 0);
	nng_close(sub);
	close_opened(c);
	close_opened(s);
	close_opened(t);
}

/* Whether path's ACL has an entry for uid (tag ACL_USER, perm rw). */
static bool acl_has_uid(const char *path, uid_t uid)
{
	uint8_t blob[256];
	ssize_t n =
	    getxattr(path, "system.posix_acl_access", blob, sizeof(blob));

	for (ssize_t off = 4; off + 8 <= n; off += 8) {
		uint16_t tag, perm;
		uint32_t id;

		memcpy(&tag, blob + off, 2);
		memcpy(&perm, blob + off + 2, 2);
		memcpy(&id, blob + off + 4, 4);
		if (tag == 0x02 && id == uid && perm == 6)
			return true;
	}
	return false;
}

/* Connections closed before the SP handshake stop an nng 1.5.2 listener
 * for good; the server's watchdog listens anew, so a client that comes
 * afterwards is served (within its call timeout), and the new socket
 * keeps the server's ACL entry. */
/* The sockets this process holds. */
static int count_sockets(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[300], target[64];
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len > 0 &&
		    (target[len] = '\0', !strncmp(target, "socket:", 7)))
			n++;
	}
	closedir(d);
	return n;
}

/* The fewest sockets this process held over n samples 50 ms apart. */
static int fewest_sockets(int n)
{
	int fewest = -1;

	for (int i = 0; i < n; i++) {
		int k = count_sockets();

		if (fewest < 0 || k < fewest)
			fewest = k;
		usleep(50000);
	}
	return fewest;
}

/* The listener watchdog's probe that became a pipe is closed at once:
 * between rounds the server holds no connection of its own, so the
 * fewest sockets seen over its second period are no more than before
 * its first round (a period after the open). Connections of earlier
 * tests that nng still closes can only lower the later count. */
static void test_watchdog_probe_not_held(void **state)
{
	struct ipc_server *s;
	int before, after;

	(void)state;
	s = open_server(NULL);
	assert_non_null(s);
	before = fewest_sockets(12);
	usleep(700000);
	after = fewest_sockets(24);
	assert_in_range(after, 0, before);
	close_opened(s);
}

static void test_listener_survives_dropped_handshakes(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ipc_server *s;
	struct ipc_client *c;
	Parapet__PingReply *r;
	Parapet__StatsReply *st;

	(void)state;
	server_acl = (struct ipc_listen_acl){ 4242, true };
	s = open_server(NULL);
	server_acl.on = false;
	assert_non_null(s);
	assert_true(acl_has_uid(path_a, 4242));
	assert_true(strlen(path_a) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path_a, strlen(path_a) + 1);
	for (int i = 0; i < 20; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		assert_true(fd >= 0);
		assert_int_equal(
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
	}
	c = open_client(path_a, 0, NULL);
	assert_non_null(c);
	assert_int_equal(call_ping(c, "Ping", "after", 1, &r), 0);
	assert_string_equal(r->text, "after");
	ipc_free(&r->base);
	st = stats(c);
	print_message("listeners re-created: %llu\n",
		      (unsigned long long)st->listeners_recreated);
	ipc_free(&st->base);
	assert_true(acl_has_uid(path_a, 4242));
	close_opened(c);
	close_opened(s);
}

/* A server that exits with a client's connection still unanswered (in
 * its listen backlog, mid-handshake: every vmworker at servicing): nng
 * 1.5.2's dialer then never dials again. The client's redial watchdog
 * must reach the next server at the same path. */
static void test_redial_after_dropped_handshake(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ipc_client *c;
	struct ipc_server *s;
	Parapet__PingReply *r;
	int lfd, cfd;

	(void)state;
	ipc_redial_set_after_ms(1000); /* no server is slow here */
	assert_true(strlen(path_a) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path_a, strlen(path_a) + 1);
	unlink(path_a);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	c = open_client(path_a, 0, NULL);
	assert_non_null(c);
	cfd = accept(lfd, NULL, NULL); /* the dialer's first connection */
	assert_true(cfd >= 0);
	close(cfd); /* dropped before the SP header is read */
	close(lfd);
	unlink(path_a);
	usleep(50000); /* the dialer has given up by now */
	s = open_server(NULL);
	assert_non_null(s);
	assert_int_equal(call_ping(c, "Ping", "again", 1, &r), 0);
	assert_string_equal(r->text, "again");
	ipc_free(&r->base);
	close_opened(c);
	close_opened(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_round_trip, close_all_opened),
		cmocka_unit_test_teardown(test_concurrent_calls,
					  close_all_opened),
		cmocka_unit_test_teardown(test_error_replies, close_all_opened),
		cmocka_unit_test_teardown(test_silent_exit_not_a_drop,
					  close_all_opened),
		cmocka_unit_test_teardown(test_oversize_dropped,
					  close_all_opened),
		cmocka_unit_test_teardown(test_timeout_without_server,
					  close_all_opened),
		cmocka_unit_test_teardown(test_held_server, close_all_opened),
		cmocka_unit_test_teardown(test_peer_events, close_all_opened),
		cmocka_unit_test_teardown(test_events, close_all_opened),
		cmocka_unit_test_teardown(test_trace_tap, close_all_opened),
		cmocka_unit_test_teardown(test_watchdog_probe_not_held,
					  close_all_opened),
		cmocka_unit_test_teardown(
		    test_listener_survives_dropped_handshakes,
		    close_all_opened),
		cmocka_unit_test_teardown(test_redial_after_dropped_handshake,
					  close_all_opened),
	};
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/parapet-ipc-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(path_a, sizeof(path_a), "%s/a.sock", tmpdir);
	snprintf(path_b, sizeof(path_b), "%s/b.sock", tmpdir);
	snprintf(path_ev, sizeof(path_ev), "%s/ev.sock", tmpdir);
	snprintf(path_tr, sizeof(path_tr), "%s/trace.sock", tmpdir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path_a);
	unlink(path_b);
	unlink(path_ev);
	unlink(path_tr);
	rmdir(tmpdir);
	nng_fini();
	return rc;
}
