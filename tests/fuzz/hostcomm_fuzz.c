/* libFuzzer harness for parapet-hostcomm's handling of the host's answers
 * (services/hostcomm/work.c and console.c), the partition's end of the
 * host channel that tests/fuzz/hostchan_fuzz.c fuzzes from the host's
 * side. A stand-in host gives its Poll and Console answers from the
 * input's bytes; vmworker and policy are stand-ins too. Every command it
 * hands out gets exactly one CommandDone, stdin bytes are acknowledged as
 * vmworker took them, the console ack only grows.
 * PARAPET_FUZZ_SEEDS=DIR writes the seeds and exits. */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "envelope.pb-c.h"
#include "hostchan.pb-c.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "policy.pb-c.h"
#include "services/hostcomm/hostcomm.h"
#include "tests/fuzz/fuzz_ipc.h"
#include "vmworker.pb-c.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(why)                                                              \
	(fprintf(stderr, "hostcomm_fuzz: %s\n", why), __builtin_trap())

#define REPLY_WAIT_MS 10000

#define PT_MAX_DONE 8192

/* hostcomm with a stand-in host (a raw rep socket answering from the
 * input), vmworker and policy. */
static struct {
	char dir[64];
	nng_socket host;
	struct ipc_server *vm, *policy;
	struct hostcomm hc;
	struct hostcomm_work w;
	/* The host's answers for this input. */
	const uint8_t *poll, *ack;
	size_t poll_len, ack_len;
	bool raw;
	/* CommandDone ids the host received. */
	pthread_mutex_t lock;
	uint64_t done[PT_MAX_DONE];
	size_t n_done;
} pt = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void pt_reply(const Parapet__Envelope *req, const uint8_t *body,
		     size_t len)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	nng_msg *msg;

	env.source = (char *)(uintptr_t) "host";
	env.method = req->method;
	env.has_kind = env.has_correlation_id = env.has_body = 1;
	env.kind = PARAPET__ENVELOPE__KIND__REPLY;
	env.correlation_id = req->correlation_id;
	env.body.data = (uint8_t *)(uintptr_t)body;
	env.body.len = len;
	if (nng_msg_alloc(&msg, parapet__envelope__get_packed_size(&env)))
		abort();
	parapet__envelope__pack(&env, nng_msg_body(msg));
	if (nng_sendmsg(pt.host, msg, 0) != 0)
		nng_msg_free(msg);
}

static void pt_record_done(const Parapet__Envelope *req)
{
	Parapet__HostCommandDone *d = parapet__host_command_done__unpack(
	    NULL, req->body.len, req->body.data);

	if (d == NULL || !d->has_id)
		FAIL("hostcomm sent an undecodable CommandDone");
	pthread_mutex_lock(&pt.lock);
	if (pt.n_done < PT_MAX_DONE)
		pt.done[pt.n_done++] = d->id;
	pthread_mutex_unlock(&pt.lock);
	parapet__host_command_done__free_unpacked(d, NULL);
}

/* The stand-in host: Poll and Console answered from the input (Poll as
 * a whole envelope in raw mode), CommandDone recorded and acknowledged. */
static void *pt_host(void *arg)
{
	Parapet__Envelope *env;
	nng_msg *msg;

	(void)arg;
	while (nng_recvmsg(pt.host, &msg, 0) == 0) {
		env = parapet__envelope__unpack(NULL, nng_msg_len(msg),
						nng_msg_body(msg));
		nng_msg_free(msg);
		if (env == NULL || env->method == NULL)
			FAIL("hostcomm sent an undecodable request");
		if (!strcmp(env->method, "Poll") && pt.raw) {
			if (nng_msg_alloc(&msg, 0) != 0 ||
			    nng_msg_append(msg, pt.poll, pt.poll_len) != 0 ||
			    nng_sendmsg(pt.host, msg, 0) != 0)
				abort();
		} else if (!strcmp(env->method, "Poll")) {
			pt_reply(env, pt.poll, pt.poll_len);
		} else if (!strcmp(env->method, "Console")) {
			pt_reply(env, pt.ack, pt.ack_len);
		} else {
			if (!strcmp(env->method, "CommandDone"))
				pt_record_done(env);
			pt_reply(env, NULL, 0);
		}
		parapet__envelope__free_unpacked(env, NULL);
	}
	return NULL;
}

static int pt_console_input(struct ipc_request *req, const ProtobufCMessage *in,
			    ProtobufCMessage *out, void *arg)
{
	const Parapet__ConsoleInputRequest *q =
	    (const Parapet__ConsoleInputRequest *)in;
	Parapet__ConsoleInputReply *o = (Parapet__ConsoleInputReply *)out;

	(void)req;
	(void)arg;
	o->has_accepted = 1;
	o->accepted = (uint32_t)q->data.len;
	return 0;
}

/* vmworker's console: three bytes past what the host acknowledged. */
static int pt_console_take(struct ipc_request *req, const ProtobufCMessage *in,
			   ProtobufCMessage *out, void *arg)
{
	const Parapet__ConsoleTakeRequest *q =
	    (const Parapet__ConsoleTakeRequest *)in;
	Parapet__ConsoleChunk *o = (Parapet__ConsoleChunk *)out;

	(void)req;
	(void)arg;
	o->has_offset = o->has_data = 1;
	o->offset = q->ack;
	o->data.data = (uint8_t *)(uintptr_t) "ok\n";
	o->data.len = 3;
	return 0;
}

static int pt_policy(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	Parapet__PolicyReply *o = (Parapet__PolicyReply *)out;

	(void)req;
	(void)in;
	(void)arg;
	o->state = (char *)(uintptr_t) "running";
	return 0;
}

/* Stand-ins for vmworker and policy, which hostcomm calls: any caller,
 * since in the harness every peer runs as the same uid. */
static const struct ipc_method pt_vm_methods[] = {
	{ "ConsoleInput", pt_console_input, IPC_SENDER_ANY, 0 },
	{ "ConsoleTake", pt_console_take, IPC_SENDER_ANY, 0 },
};
static const struct ipc_method pt_policy_methods[] = {
	{ "Command", pt_policy, IPC_SENDER_ANY, 0 },
	{ "Status", pt_policy, IPC_SENDER_ANY, 0 },
};

static struct ipc_server *pt_server(const char *name,
				    const ProtobufCServiceDescriptor *svc,
				    const struct ipc_method *m, size_t n)
{
	return fuzz_server(pt.dir, name, svc, m, n, 2, NULL);
}

static struct ipc_client *pt_client(const char *name,
				    const ProtobufCServiceDescriptor *svc)
{
	return fuzz_client(pt.dir, "hostcomm", name, svc, REPLY_WAIT_MS, 0);
}

static void pt_teardown(void)
{
	static const char *const socks[] = { "host", "vmworker", "policy" };
	char path[128];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s.sock", pt.dir, socks[i]);
		unlink(path);
	}
	rmdir(pt.dir);
}

static void pt_setup(void)
{
	pthread_condattr_t ca;
	char url[160];
	pthread_t t;

	log_init("hostcomm_fuzz");
	snprintf(pt.dir, sizeof(pt.dir), "/tmp/parapet-hcfuzz.XXXXXX");
	snprintf(url, sizeof(url), "ipc://%s/host.sock",
		 mkdtemp(pt.dir) ? pt.dir : "");
	if (nng_rep0_open(&pt.host) != 0 || nng_listen(pt.host, url, NULL, 0))
		abort();
	pt.vm = pt_server("vmworker", &parapet__vm_worker__descriptor,
			  pt_vm_methods, 2);
	pt.policy = pt_server("policy", &parapet__policy__descriptor,
			      pt_policy_methods, 2);
	pthread_mutex_init(&pt.hc.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pt.hc.cond, &ca);
	pt.hc.vm = pt_client("vmworker", &parapet__vm_worker__descriptor);
	pt.hc.host = pt_client("host", &parapet__host_channel__descriptor);
	pt.hc.policy = pt_client("policy", &parapet__policy__descriptor);
	hostcomm_work_init(&pt.w);
	if (pthread_create(&t, NULL, pt_host, NULL) != 0)
		abort();
	pthread_detach(t);
	atexit(pt_teardown);
}

/* One poll as hostcomm's work loop makes it, and its handling. */
static void pt_poll(void)
{
	Parapet__HostPoll q = PARAPET__HOST_POLL__INIT;
	Parapet__HostWork *hw = NULL;
	uint64_t ack_before = pt.w.input_ack;

	q.has_wait_ms = q.has_input_ack = 1;
	q.wait_ms = 1000;
	q.input_ack = pt.w.input_ack;
	if (ipc_call(pt.hc.host, "Poll", &q.base, (ProtobufCMessage **)&hw))
		return;
	pt.n_done = 0;
	hostcomm_work_handle(&pt.hc, &pt.w, hw);
	if (pt.n_done != hw->n_commands || pt.hc.cmds_in_flight != 0)
		FAIL("a host command without exactly one CommandDone");
	for (size_t i = 0; i < hw->n_commands; i++)
		if (pt.done[i] != hw->commands[i]->id)
			FAIL("CommandDone answered another command");
	if (hw->has_input && hw->input.len > 0 &&
	    pt.w.input_ack != hw->input_offset + hw->input.len)
		FAIL("stdin taken by vmworker but not acknowledged");
	if (!hw->has_input && hw->has_input_offset &&
	    pt.w.input_ack !=
		(hw->input_offset > ack_before ? hw->input_offset : ack_before))
		FAIL("an input offset without input moved the ack wrongly");
	ipc_free(&hw->base);
}

/* Flags (1: Poll answer is a whole envelope, 2: a console round too),
 * the Console answer's length and body, then the Poll answer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t acked;

	if (pt.hc.host == NULL)
		pt_setup();
	if (size < 2 || (size_t)data[1] > size - 2)
		return 0;
	pt.raw = data[0] & 1;
	pt.ack = data + 2;
	pt.ack_len = data[1];
	pt.poll = data + 2 + data[1];
	pt.poll_len = size - 2 - data[1];
	pt_poll();
	if (data[0] & 2) {
		acked = pt.hc.acked;
		hostcomm_console_step(&pt.hc, pt.hc.vm, 0);
		if (pt.hc.acked < acked)
			FAIL("hostcomm's console ack went back");
	}
	return 0;
}

/* ---- seeds ---- */

/* A poll answered with stdin bytes and commands, and a console round
 * acknowledged. */
static void seed_work(const char *dir)
{
	Parapet__ConsoleBatchAck ack = PARAPET__CONSOLE_BATCH_ACK__INIT;
	Parapet__HostWork w = PARAPET__HOST_WORK__INIT;
	Parapet__HostCommand c[2] = { PARAPET__HOST_COMMAND__INIT,
				      PARAPET__HOST_COMMAND__INIT };
	Parapet__HostCommand *cp[2] = { &c[0], &c[1] };
	Parapet__PolicyCommand pc = PARAPET__POLICY_COMMAND__INIT;
	uint8_t buf[512];
	char path[4200];
	size_t n;
	FILE *f;

	ack.has_acked = 1;
	ack.acked = 3;
	buf[0] = 2;
	n = parapet__console_batch_ack__pack(&ack, buf + 2);
	buf[1] = (uint8_t)n;
	w.has_input_offset = w.has_input = w.has_input_closed = 1;
	w.input_offset = 0;
	w.input.data = (uint8_t *)(uintptr_t) "ls\n";
	w.input.len = 3;
	pc.command = (char *)(uintptr_t) "pause";
	c[0].has_id = c[1].has_id = 1;
	c[0].id = 1;
	c[0].command = &pc;
	c[1].id = 2; /* no command: refused */
	w.n_commands = 2;
	w.commands = cp;
	n += 2 + parapet__host_work__pack(&w, buf + 2 + n);
	snprintf(path, sizeof(path), "%s/partition_work", dir);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, n, f) != n ||
	    fclose(f) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("PARAPET_FUZZ_SEEDS");

	(void)argc;
	(void)argv;
	if (dir == NULL)
		return 0;
	seed_work(dir);
	exit(0);
}
