/* Shared by the IPC fuzz harnesses: see fuzz_ipc.h. */
#include "tests/fuzz/fuzz_ipc.h"

#include <stdio.h>
#include <stdlib.h>

#include "envelope.pb-c.h"

#define FAIL(why) (fprintf(stderr, "fuzz: %s\n", why), __builtin_trap())

nng_msg *fuzz_envelope(const char *source, const char *method,
		       const uint8_t *body, size_t len)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	nng_msg *msg;
	size_t n;

	env.source = (char *)(uintptr_t)source;
	env.method = (char *)(uintptr_t)method;
	env.has_kind = env.has_seq = env.has_correlation_id = 1;
	env.kind = PARAPET__ENVELOPE__KIND__REQUEST;
	env.seq = env.correlation_id = 1;
	env.has_body = 1;
	env.body.data = (uint8_t *)(uintptr_t)body;
	env.body.len = len;
	n = parapet__envelope__get_packed_size(&env);
	if (nng_msg_alloc(&msg, n) != 0)
		abort();
	parapet__envelope__pack(&env, nng_msg_body(msg));
	return msg;
}

ProtobufCMessage *fuzz_check_reply(nng_msg *msg,
				   const ProtobufCMessageDescriptor *type,
				   bool need_message)
{
	Parapet__Envelope *env = parapet__envelope__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	ProtobufCMessage *body = NULL;
	Parapet__Error *err;

	if (env == NULL || !env->has_kind)
		FAIL("undecodable answer");
	if (env->kind == PARAPET__ENVELOPE__KIND__ERROR) {
		err =
		    parapet__error__unpack(NULL, env->body.len, env->body.data);
		if (err == NULL || !err->has_code || err->code <= 0 ||
		    err->code >= IPC_ERR_COUNT ||
		    (need_message && err->message == NULL))
			FAIL("ERROR without a known code (or a message)");
		parapet__error__free_unpacked(err, NULL);
	} else if (env->kind != PARAPET__ENVELOPE__KIND__REPLY) {
		FAIL("answer neither REPLY nor ERROR");
	} else if (type != NULL) {
		body = protobuf_c_message_unpack(type, NULL, env->body.len,
						 env->body.data);
		if (body == NULL)
			FAIL("REPLY body is not the method's output");
	}
	parapet__envelope__free_unpacked(env, NULL);
	return body;
}

struct ipc_server *fuzz_server(const char *dir, const char *name,
			       const ProtobufCServiceDescriptor *svc,
			       const struct ipc_method *m, size_t n,
			       unsigned n_contexts, struct ipc_trace *tap)
{
	char path[128];
	struct ipc_listen l = { path, 1, 0600 };
	struct ipc_server_config cfg = { .name = name,
					 .listen = &l,
					 .n_listen = 1,
					 .service = svc,
					 .methods = m,
					 .n_methods = n,
					 .n_contexts = n_contexts,
					 .trace = tap };
	struct ipc_server *s;

	snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
	if ((s = ipc_server_open(&cfg)) == NULL)
		abort();
	return s;
}

struct ipc_client *fuzz_client(const char *dir, const char *self,
			       const char *name,
			       const ProtobufCServiceDescriptor *svc,
			       int timeout_ms, size_t recv_max)
{
	char path[128];
	struct ipc_client_config cfg = { .name = self,
					 .path = path,
					 .destination = name,
					 .service = svc,
					 .timeout_ms = timeout_ms,
					 .recv_max = recv_max };
	struct ipc_client *c;

	snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
	if ((c = ipc_client_open(&cfg)) == NULL)
		abort();
	return c;
}
