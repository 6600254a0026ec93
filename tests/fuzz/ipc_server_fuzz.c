/* libFuzzer harness for the server side of lib/ipc (lib/ipc_server.c):
 * each input is one request message, sent as raw bytes from a req socket
 * to a real in-process server on an ipc:// path in a temporary directory,
 * so it goes through nng, the envelope and body decoders with their
 * budgets, the dispatch table (Ping, an asynchronous Later, a Secret no
 * peer may call, the built-in Stats) and the reply. Every request must get
 * a well-formed REPLY or ERROR envelope back. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "envelope.pb-c.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "test.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID_PEER	  0x1u
#define ID_SECRET 0x2u /* granted to nobody */
#define RECV_MAX  (64u << 10)
#define PING_MAX  256

static char dir[64], path[128], url[160];
static struct ipc_server *srv;
static nng_socket cli;

/* Later's requests, answered by one worker thread. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ipc_request *req;
} later = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL };

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
	(void)in;
	(void)out;
	(void)arg;
	pthread_mutex_lock(&later.lock);
	later.req = req;
	pthread_cond_signal(&later.cond);
	pthread_mutex_unlock(&later.lock);
	return IPC_ASYNC;
}

static void *later_worker(void *arg)
{
	struct ipc_request *req;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&later.lock);
		while (later.req == NULL)
			pthread_cond_wait(&later.cond, &later.lock);
		req = later.req;
		later.req = NULL;
		pthread_mutex_unlock(&later.lock);
		ipc_request_finish(req, 0);
	}
	return NULL;
}

static const struct ipc_method methods[] = {
	{ "Ping", ping, IPC_SENDER_ANY, PING_MAX },
	{ "Later", later_handler, ID_PEER, 0 },
	{ "Secret", ping, ID_SECRET, 0 },
};

static void teardown(void)
{
	nng_close(cli);
	ipc_server_close(srv);
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	struct ipc_listen listen = { path, ID_PEER, 0 };
	struct ipc_server_config cfg = {
		.name = "fuzz",
		.listen = &listen,
		.n_listen = 1,
		.service = &parapet__test__descriptor,
		.methods = methods,
		.n_methods = 3,
		.recv_max = RECV_MAX,
		.n_contexts = 2,
	};
	pthread_t t;

	log_init("ipc_server_fuzz");
	snprintf(dir, sizeof(dir), "/tmp/parapet-ipcfuzz.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/srv.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	srv = ipc_server_open(&cfg);
	if (srv == NULL || pthread_create(&t, NULL, later_worker, NULL) != 0 ||
	    nng_req0_open(&cli) != 0 ||
	    nng_socket_set_ms(cli, NNG_OPT_RECVTIMEO, 10000) != 0 ||
	    nng_dial(cli, url, NULL, 0) != 0)
		abort();
	pthread_detach(t);
	atexit(teardown);
}

/* The reply: an envelope of kind REPLY or ERROR; an ERROR carries a
 * known code. */
static void check_reply(const uint8_t *buf, size_t len)
{
	Parapet__Envelope *env = parapet__envelope__unpack(NULL, len, buf);
	Parapet__Error *err;

	if (env == NULL || !env->has_kind)
		__builtin_trap();
	if (env->kind == PARAPET__ENVELOPE__KIND__ERROR) {
		err =
		    parapet__error__unpack(NULL, env->body.len, env->body.data);
		if (err == NULL || !err->has_code || err->code <= 0 ||
		    err->code >= IPC_ERR_COUNT || err->message == NULL)
			__builtin_trap();
		parapet__error__free_unpacked(err, NULL);
	} else if (env->kind != PARAPET__ENVELOPE__KIND__REPLY ||
		   env->method == NULL) {
		__builtin_trap();
	}
	parapet__envelope__free_unpacked(env, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nng_msg *msg;

	if (srv == NULL)
		setup();
	/* nng drops a message over recv-size-max without an answer. */
	if (size > RECV_MAX - 1024)
		return 0;
	if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, data, size) != 0)
		abort();
	if (nng_sendmsg(cli, msg, 0) != 0)
		abort();
	if (nng_recvmsg(cli, &msg, 0) != 0)
		__builtin_trap(); /* no answer: the server lost a request */
	check_reply(nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	return 0;
}
