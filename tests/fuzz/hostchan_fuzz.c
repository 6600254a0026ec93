/* libFuzzer harness for the host side of the host channel (host/hostchan.c)
 * over real nng sockets: each input is a script of requests a partition's
 * hostcomm (Console, Event, Poll, CommandDone bodies, or raw envelopes)
 * and `parapet ctl` (Command) send to `parapet run`, mixed with stdin
 * bytes. Every request is answered with a well-formed REPLY or ERROR, the
 * console ack only grows, polls hand out only stdin bytes that were read,
 * and every ctl command is answered once its CommandDone comes (or at
 * once when refused). tests/fuzz/hostcomm_fuzz.c fuzzes the other
 * direction (hostcomm's handling of the host's answers).
 * PARAPET_FUZZ_SEEDS=DIR writes the seeds and exits. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "envelope.pb-c.h"
#include "host/hostchan.h"
#include "hostchan.pb-c.h"
#include "lib/fdchan.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "policy.pb-c.h"
#include "tests/fuzz/fuzz_ipc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(why)                                                              \
	(fprintf(stderr, "hostchan_fuzz: %s\n", why), __builtin_trap())

#define MAX_CMDS      24 /* ctl commands in flight per input */
#define MAX_IDS	      64
#define REPLY_WAIT_MS 10000

/* One op: kind byte (bit 7 on a ctl command: a raw envelope), length
 * byte, body. */
enum op {
	OP_CONSOLE,
	OP_EVENT,
	OP_POLL,
	OP_DONE,
	OP_CTL,
	OP_RAW,
	OP_STDIN,
	OP_COUNT,
};

/* Two `parapet run`s: one a guest event never reached, one whose guest
 * has ended. An input's ops go to the first until it sends an Event, to
 * the second from that Event on (inputs start over without reopening:
 * nng frees closed sockets late, which leak checks would report). */
struct chan {
	char dir[64];
	int in[2];
	int fds[2]; /* the descriptor channel (a --binary's file goes there) */
	uint64_t stdin_total, acked;
	struct hostchan *h;
	nng_socket chan, ctl;
};

static struct chan chans[2], *cur;
static int out_fd;

/* This input's state. */
static struct {
	nng_ctx ctx[MAX_CMDS];
	nng_aio *aio[MAX_CMDS], *send_aio;
	unsigned n_cmds;
	atomic_uint answered; /* ctl answers received */
	uint64_t ids[MAX_IDS];
	unsigned n_ids;
} in;

static void on_answer(void *arg)
{
	(void)arg;
	atomic_fetch_add(&in.answered, 1);
}

static void dial(struct chan *c, nng_socket *s, const char *name)
{
	char url[160];

	snprintf(url, sizeof(url), "ipc://%s/%s", c->dir, name);
	if (nng_req0_open(s) != 0 ||
	    nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, REPLY_WAIT_MS) != 0 ||
	    nng_dial(*s, url, NULL, 0) != 0)
		abort();
}

/* run's poll loop: expires parked polls every millisecond. */
static void *ticker(void *arg)
{
	(void)arg;
	for (;;) {
		for (int i = 0; i < 2; i++)
			hostchan_tick(chans[i].h);
		nng_msleep(1);
	}
	return NULL;
}

static void open_channel(struct chan *c)
{
	snprintf(c->dir, sizeof(c->dir), "/tmp/parapet-hcfuzz.XXXXXX");
	if (mkdtemp(c->dir) == NULL || pipe2(c->in, O_NONBLOCK) != 0 ||
	    fdchan_pair(c->fds) != 0)
		abort();
	c->h = hostchan_open(c->dir, out_fd, c->in[0], c->fds[0], getuid());
	if (c->h == NULL)
		abort();
	dial(c, &c->chan, "host.sock");
	dial(c, &c->ctl, "ctl.sock");
}

static void teardown(void)
{
	char path[128];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/host.sock", chans[i].dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/ctl.sock", chans[i].dir);
		unlink(path);
		rmdir(chans[i].dir);
	}
}

static void setup(void)
{
	pthread_t t;

	log_init("hostchan_fuzz");
	if ((out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
	for (unsigned i = 0; i < MAX_CMDS; i++)
		if (nng_aio_alloc(&in.aio[i], on_answer, NULL) != 0)
			abort();
	if (nng_aio_alloc(&in.send_aio, NULL, NULL) != 0)
		abort();
	open_channel(&chans[0]);
	open_channel(&chans[1]);
	if (pthread_create(&t, NULL, ticker, NULL) != 0)
		abort();
	pthread_detach(t);
	atexit(teardown);
}

/* ---------------------------------------------------------- requests */

static nng_msg *envelope(const char *method, const uint8_t *body, size_t len)
{
	return fuzz_envelope("hostcomm", method, body, len);
}

/* A REPLY's body unpacked as type, or NULL for a valid ERROR; frees msg. */
static ProtobufCMessage *check_reply(nng_msg *msg,
				     const ProtobufCMessageDescriptor *type)
{
	ProtobufCMessage *body = fuzz_check_reply(msg, type, false);

	nng_msg_free(msg);
	return body;
}

/* Sends req on the channel and checks the answer (parked polls are
 * answered by the ticker). */
static void call(nng_msg *req, const ProtobufCMessageDescriptor *type,
		 ProtobufCMessage **out)
{
	ProtobufCMessage *m;
	nng_msg *msg;
	int rv;

	if (nng_sendmsg(cur->chan, req, 0) != 0)
		abort();
	rv = nng_recvmsg(cur->chan, &msg, 0);
	if (rv == NNG_ETIMEDOUT)
		FAIL("no answer: the host lost a request");
	if (rv != 0)
		abort();
	m = check_reply(msg, type);
	if (out != NULL)
		*out = m;
	else if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
}

/* ---------------------------------------------------------------- ops */

static void op_console(const uint8_t *b, size_t n)
{
	Parapet__ConsoleBatchAck *ack = NULL;

	call(envelope("Console", b, n), &parapet__console_batch_ack__descriptor,
	     (ProtobufCMessage **)&ack);
	if (ack == NULL)
		return;
	if (ack->acked < cur->acked ||
	    ack->acked != hostchan_console_bytes(cur->h))
		FAIL("console ack went back or differs from what was written");
	cur->acked = ack->acked;
	parapet__console_batch_ack__free_unpacked(ack, NULL);
}

/* Work handed out: stdin bytes that were read, commands queued. */
static void check_work(const Parapet__HostWork *w)
{
	if (w->input.len > 4096 ||
	    w->input_offset + w->input.len > cur->stdin_total)
		FAIL("poll handed out stdin bytes never read");
	for (size_t i = 0; i < w->n_commands; i++) {
		const Parapet__HostCommand *c = w->commands[i];

		if (c->command == NULL || c->command->command == NULL)
			FAIL("a queued command without its name");
		if (in.n_ids < MAX_IDS)
			in.ids[in.n_ids++] = c->id;
	}
}

static void poll_work(nng_msg *req)
{
	Parapet__HostWork *w = NULL;

	call(req, &parapet__host_work__descriptor, (ProtobufCMessage **)&w);
	if (w == NULL)
		return;
	check_work(w);
	parapet__host_work__free_unpacked(w, NULL);
}

/* A poll body that decodes waits at most 2 ms (the harness must not
 * spend the host's 1 s long polls); anything else goes as it is. */
static void op_poll(const uint8_t *b, size_t n)
{
	Parapet__HostPoll *q = parapet__host_poll__unpack(NULL, n, b);
	uint8_t buf[256];

	if (q == NULL || n > sizeof(buf)) {
		if (q != NULL)
			parapet__host_poll__free_unpacked(q, NULL);
		poll_work(envelope("Poll", b, n));
		return;
	}
	q->wait_ms %= 3;
	n = parapet__host_poll__pack(q, buf);
	parapet__host_poll__free_unpacked(q, NULL);
	poll_work(envelope("Poll", buf, n));
}

/* An id below the ids seen in this input's polls names one of them. */
static void op_done(const uint8_t *b, size_t n)
{
	Parapet__HostCommandDone *d =
	    parapet__host_command_done__unpack(NULL, n, b);
	uint8_t *buf;

	if (d == NULL || !d->has_id || d->id >= in.n_ids) {
		if (d != NULL)
			parapet__host_command_done__free_unpacked(d, NULL);
		call(envelope("CommandDone", b, n), NULL, NULL);
		return;
	}
	d->id = in.ids[d->id];
	buf = malloc(parapet__host_command_done__get_packed_size(d));
	if (buf == NULL)
		abort();
	n = parapet__host_command_done__pack(d, buf);
	parapet__host_command_done__free_unpacked(d, NULL);
	call(envelope("CommandDone", buf, n), NULL, NULL);
	free(buf);
}

/* ctl commands are answered later: sent on a context of their own. */
static void op_ctl(const uint8_t *b, size_t n, bool raw)
{
	unsigned i = in.n_cmds;
	nng_msg *msg;

	if (i == MAX_CMDS)
		return;
	if (raw) {
		if (nng_msg_alloc(&msg, 0) != 0 ||
		    nng_msg_append(msg, b, n) != 0)
			abort();
	} else {
		msg = envelope("Command", b, n);
	}
	if (nng_ctx_open(&in.ctx[i], cur->ctl) != 0)
		abort();
	nng_aio_set_msg(in.send_aio, msg);
	nng_ctx_send(in.ctx[i], in.send_aio);
	nng_aio_wait(in.send_aio);
	if (nng_aio_result(in.send_aio) != 0)
		abort();
	nng_aio_set_timeout(in.aio[i], REPLY_WAIT_MS);
	nng_ctx_recv(in.ctx[i], in.aio[i]);
	in.n_cmds++;
}

static void op_raw(const uint8_t *b, size_t n)
{
	nng_msg *msg;

	if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, b, n) != 0)
		abort();
	call(msg, NULL, NULL);
}

static void op_stdin(const uint8_t *b, size_t n)
{
	ssize_t w;

	if (hostchan_input_fd(cur->h) < 0)
		return; /* run would not read now */
	w = write(cur->in[1], b, n);
	if (w > 0)
		cur->stdin_total += (uint64_t)w;
	hostchan_on_input(cur->h);
}

static void run_op(unsigned kind, const uint8_t *b, size_t n)
{
	switch ((kind & 0x7f) % OP_COUNT) {
	case OP_CONSOLE:
		op_console(b, n);
		break;
	case OP_EVENT:
		cur = &chans[1];
		call(envelope("Event", b, n), NULL, NULL);
		break;
	case OP_POLL:
		op_poll(b, n);
		break;
	case OP_DONE:
		op_done(b, n);
		break;
	case OP_CTL:
		op_ctl(b, n, kind & 0x80);
		break;
	case OP_RAW:
		op_raw(b, n);
		break;
	default:
		op_stdin(b, n);
	}
}

/* ------------------------------------------------------------- finish */

/* hostcomm's part for every command still queued: polls, then done. */
static void answer_commands_on(struct chan *c)
{
	Parapet__HostPoll q = PARAPET__HOST_POLL__INIT;
	Parapet__HostCommandDone d = PARAPET__HOST_COMMAND_DONE__INIT;
	uint8_t buf[64];
	unsigned from;

	cur = c;
	q.has_wait_ms = 1;
	q.wait_ms = 1;
	d.has_id = d.has_ok = 1;
	d.ok = true;
	in.n_ids = from = in.n_ids < MAX_IDS ? in.n_ids : 0;
	poll_work(envelope("Poll", buf, parapet__host_poll__pack(&q, buf)));
	for (unsigned i = from; i < in.n_ids; i++) {
		d.id = in.ids[i];
		call(envelope("CommandDone", buf,
			      parapet__host_command_done__pack(&d, buf)),
		     NULL, NULL);
	}
}

/* Until each ctl command has its answer: a command may be queued after
 * a poll (it comes from another socket), and a ctl command after an
 * undecodable Event went to a run whose guest has not ended. */
static void answer_commands(void)
{
	unsigned rounds = 0;

	while (atomic_load(&in.answered) < in.n_cmds) {
		if (rounds++ > REPLY_WAIT_MS)
			FAIL("a ctl command never answered");
		answer_commands_on(&chans[0]);
		answer_commands_on(&chans[1]);
	}
}

/* Every ctl command has its answer now: a well-formed one. */
static void collect_commands(void)
{
	for (unsigned i = 0; i < in.n_cmds; i++) {
		Parapet__HostCommandDone *d;
		nng_msg *msg;

		nng_aio_wait(in.aio[i]);
		if (nng_aio_result(in.aio[i]) != 0)
			FAIL("a ctl command's answer failed");
		msg = nng_aio_get_msg(in.aio[i]);
		d = (Parapet__HostCommandDone *)check_reply(
		    msg, &parapet__host_command_done__descriptor);
		/* A failure may come without a reason: the partition's
		 * CommandDone need not give one (parapet ctl says "failed"). */
		if (d != NULL && !d->has_ok)
			FAIL("a ctl answer without ok");
		if (d != NULL)
			parapet__host_command_done__free_unpacked(d, NULL);
		nng_ctx_close(in.ctx[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (chans[0].h == NULL)
		setup();
	memset(&in.ids, 0, sizeof(in.ids));
	in.n_cmds = in.n_ids = 0;
	atomic_store(&in.answered, 0);
	cur = &chans[0];
	while (off + 2 <= size) {
		unsigned kind = data[off];
		size_t n = data[off + 1];

		off += 2;
		if (n > size - off)
			n = size - off;
		run_op(kind, data + off, n);
		off += n;
	}
	answer_commands();
	collect_commands();
	return 0;
}

/* ---- seeds: scripts of real encodings ---- */

struct script {
	uint8_t buf[4096];
	size_t len;
};

static void add(struct script *s, unsigned kind, const ProtobufCMessage *m)
{
	size_t n = m ? protobuf_c_message_get_packed_size(m) : 0;

	if (n > 255 || s->len + 2 + n > sizeof(s->buf))
		abort();
	s->buf[s->len++] = (uint8_t)kind;
	s->buf[s->len++] = (uint8_t)n;
	if (m != NULL)
		s->len += protobuf_c_message_pack(m, s->buf + s->len);
}

static void add_bytes(struct script *s, unsigned kind, const char *b)
{
	size_t n = strlen(b);

	s->buf[s->len++] = (uint8_t)kind;
	s->buf[s->len++] = (uint8_t)n;
	memcpy(s->buf + s->len, b, n);
	s->len += n;
}

static void seed_write(const char *dir, const char *name, struct script *s)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0)
		abort();
	memset(s, 0, sizeof(*s));
}

static void seeds_console(const char *dir, struct script *s)
{
	Parapet__ConsoleBatch b = PARAPET__CONSOLE_BATCH__INIT;

	b.has_offset = b.has_data = 1;
	b.data.data = (uint8_t *)(uintptr_t) "hello\n";
	b.data.len = 6;
	add(s, OP_CONSOLE, &b.base);
	add(s, OP_CONSOLE, &b.base); /* re-sent: dropped */
	b.offset = 6;
	b.data.data = (uint8_t *)(uintptr_t) "world\n";
	add(s, OP_CONSOLE, &b.base);
	seed_write(dir, "console", s);
}

static void seeds_event(const char *dir, struct script *s)
{
	Parapet__GuestEvent ev = PARAPET__GUEST_EVENT__INIT;

	ev.state = (char *)(uintptr_t) "crashed";
	ev.reason = (char *)(uintptr_t) "triple fault";
	add(s, OP_EVENT, &ev.base);
	seed_write(dir, "event_crashed", s);
	ev.state = (char *)(uintptr_t) "poweroff";
	ev.reason = NULL;
	ev.has_exit_value = 1;
	ev.exit_value = 130;
	add(s, OP_EVENT, &ev.base);
	seed_write(dir, "event_poweroff", s);
}

static void seeds_work(const char *dir, struct script *s)
{
	Parapet__HostPoll q = PARAPET__HOST_POLL__INIT;
	Parapet__PolicyCommand pc = PARAPET__POLICY_COMMAND__INIT;
	Parapet__HostCommandDone d = PARAPET__HOST_COMMAND_DONE__INIT;
	Parapet__PolicyReply r = PARAPET__POLICY_REPLY__INIT;

	add_bytes(s, OP_STDIN, "ls -l\n");
	q.has_wait_ms = q.has_input_ack = 1;
	q.wait_ms = 1;
	add(s, OP_POLL, &q.base);
	q.input_ack = 3;
	add(s, OP_POLL, &q.base);
	seed_write(dir, "stdin", s);
	pc.command = (char *)(uintptr_t) "pause";
	add(s, OP_CTL, &pc.base);
	q.input_ack = 0;
	add(s, OP_POLL, &q.base);
	d.has_id = d.has_ok = 1;
	d.ok = true;
	r.state = (char *)(uintptr_t) "paused";
	d.reply = &r;
	add(s, OP_DONE, &d.base);
	seed_write(dir, "ctl_done", s);
	pc.command = (char *)(uintptr_t) "reset";
	add(s, OP_CTL, &pc.base);
	add(s, OP_POLL, &q.base);
	d.ok = false;
	d.error = (char *)(uintptr_t) "command 'reset' not allowed";
	d.reply = NULL;
	add(s, OP_DONE, &d.base);
	seed_write(dir, "ctl_refused", s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("PARAPET_FUZZ_SEEDS");
	static struct script s;

	(void)argc;
	(void)argv;
	if (dir == NULL)
		return 0;
	seeds_console(dir, &s);
	seeds_event(dir, &s);
	seeds_work(dir, &s);
	exit(0);
}
