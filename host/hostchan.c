/* `parapet run`'s end of the host channel. Handlers run on nng threads
 * under one lock; long polls and ctl commands are answered later
 * (IPC_ASYNC) when stdin bytes or a command's result arrive, or at their
 * deadline from hostchan_tick in run's poll loop; console batches when a
 * thread of their own has written them. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hostchan.pb-c.h"
#include "hostctl.pb-c.h"
#include "host/hostchan.h"
#include "lib/caller.h"
#include "lib/fdchan.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

#define IN_BUF_MAX     (64u * 1024)
#define IN_CHUNK_MAX   4096u
#define POLL_MAX_MS    1000u
#define POLLS_MAX      4
#define CMD_TIMEOUT_NS (30 * UTIL_NS_PER_S)
#define CMDS_MAX       16
#define BODY_MAX       (8u * 1024 + 512)

struct parked_poll {
	struct ipc_request *req;
	Parapet__HostWork *out;
	uint64_t deadline;
};

struct hc_cmd {
	bool used, sent;
	uint64_t id, queued_ns, sent_ns;
	char command[32];
	struct ipc_request *req; /* the ctl request waiting */
	Parapet__HostCommandDone *out;
	uint64_t binary_token; /* service --binary: sent to init; 0: none */
};

/* A Console call waiting for the writer thread. */
struct console_job {
	struct ipc_request *req;
	const Parapet__ConsoleBatch *batch;
	Parapet__ConsoleBatchAck *ack;
};

/* The host channel's calls in flight: the writer's queue never fills. */
#define HC_CONTEXTS 8

struct hostchan {
	pthread_mutex_t lock, out_lock;
	/* Console calls for the writer thread: a write that stalls with
	 * stdout must not hold one of nng's threads, which every socket of
	 * the process shares (ctl.sock stopped answering, and the
	 * listeners' watchdog took their silence for a frozen listener). */
	pthread_mutex_t jobs_lock;
	pthread_cond_t jobs_cond;
	struct console_job jobs[HC_CONTEXTS];
	unsigned jobs_head, jobs_n;
	pthread_t writer;
	bool writer_started;
	struct ipc_server *chan, *ctl;
	int out_fd, in_fd;
	int fds_fd; /* the descriptor channel to init */
	uid_t hostcomm_uid;
	/* Written under out_lock (which a console write may hold for as
	 * long as stdout stalls), read without it by the main loop. */
	_Atomic uint64_t out_offset, first_console_ns;
	_Atomic bool closing; /* console writes give up: the run is ending */
	void (*tap)(void *arg, const uint8_t *p, size_t n); /* out_lock */
	void *tap_arg;
	uint8_t in_buf[IN_BUF_MAX];
	uint64_t in_base; /* stream offset of in_buf[0] */
	size_t in_len;
	bool in_closed, event_seen, vm_ended;
	char vm_state[16]; /* hostchan_state_name of hostcomm's last word */
	struct parked_poll polls[POLLS_MAX];
	struct hc_cmd cmds[CMDS_MAX];
	uint64_t next_id;
};

/* ------------------------------------------------------------- console */

/* Writes the console bytes, waiting as long as stdout stalls (that
 * back-pressures the guest: hostcomm is not acked meanwhile), but in
 * PIPE_BUF pieces after POLLOUT, so that a write never blocks for good
 * and the run can end (hostchan_stop) while its reader sleeps. */
static void hc_write_all(struct hostchan *h, int fd, const uint8_t *p, size_t n)
{
	while (n > 0 && !atomic_load(&h->closing)) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		size_t k = n < PIPE_BUF ? n : PIPE_BUF;
		ssize_t w;

		if (poll(&pf, 1, 100) == 0)
			continue;
		w = write(fd, p, k);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return; /* stdout gone: the bytes count as written */
		p += w;
		n -= (size_t)w;
	}
}

/* Writes one batch past what the host has and fills its ack. */
static void hc_console_write(struct hostchan *h, const Parapet__ConsoleBatch *b,
			     Parapet__ConsoleBatchAck *ack)
{
	uint64_t end = b->offset + b->data.len;

	pthread_mutex_lock(&h->out_lock);
	if (b->offset > h->out_offset)
		log_warnx("console: %llu bytes missing before offset %llu",
			  (unsigned long long)(b->offset - h->out_offset),
			  (unsigned long long)b->offset);
	if (end > h->out_offset) {
		uint64_t from =
		    b->offset > h->out_offset ? b->offset : h->out_offset;

		/* An empty batch past the end only declares a gap. */
		if (end > from && h->first_console_ns == 0)
			h->first_console_ns = util_now_ns();
		if (end > from && h->out_fd >= 0)
			hc_write_all(h, h->out_fd,
				     b->data.data + (from - b->offset),
				     (size_t)(end - from));
		if (end > from && h->tap)
			h->tap(h->tap_arg, b->data.data + (from - b->offset),
			       (size_t)(end - from));
		h->out_offset = end;
	}
	ack->has_acked = 1;
	ack->acked = h->out_offset;
	pthread_mutex_unlock(&h->out_lock);
}

/* The writer thread: the queued Console calls in order, each answered
 * once its bytes are out (the ack back-pressures hostcomm). Ends when
 * the run closes; calls still queued are abandoned with the server. */
static void *hc_writer(void *arg)
{
	struct hostchan *h = arg;

	pthread_mutex_lock(&h->jobs_lock);
	for (;;) {
		struct console_job j;

		while (h->jobs_n == 0 && !atomic_load(&h->closing))
			pthread_cond_wait(&h->jobs_cond, &h->jobs_lock);
		if (atomic_load(&h->closing))
			break;
		j = h->jobs[h->jobs_head];
		h->jobs_head = (h->jobs_head + 1) % HC_CONTEXTS;
		h->jobs_n--;
		pthread_mutex_unlock(&h->jobs_lock);
		hc_console_write(h, j.batch, j.ack);
		ipc_request_finish(j.req, 0);
		pthread_mutex_lock(&h->jobs_lock);
	}
	pthread_mutex_unlock(&h->jobs_lock);
	return NULL;
}

static int on_console(struct ipc_request *req, const ProtobufCMessage *in,
		      ProtobufCMessage *out, void *arg)
{
	const Parapet__ConsoleBatch *b = (const Parapet__ConsoleBatch *)in;
	struct hostchan *h = arg;
	int rc = IPC_ASYNC;

	if (b->offset + b->data.len < b->offset)
		return IPC_ERR_INVAL;
	pthread_mutex_lock(&h->jobs_lock);
	if (h->jobs_n < HC_CONTEXTS) {
		h->jobs[(h->jobs_head + h->jobs_n++) % HC_CONTEXTS] =
		    (struct console_job){ req, b,
					  (Parapet__ConsoleBatchAck *)out };
		pthread_cond_signal(&h->jobs_cond);
	} else {
		/* never with HC_CONTEXTS calls in flight at most */
		rc = IPC_ERR_UNAVAILABLE;
	}
	pthread_mutex_unlock(&h->jobs_lock);
	return rc;
}

static int on_event(struct ipc_request *req, const ProtobufCMessage *in,
		    ProtobufCMessage *out, void *arg)
{
	const Parapet__GuestEvent *ev = (const Parapet__GuestEvent *)in;
	struct hostchan *h = arg;
	bool first;

	(void)req;
	(void)out;
	pthread_mutex_lock(&h->lock);
	first = !h->event_seen;
	h->event_seen = h->vm_ended = true;
	snprintf(h->vm_state, sizeof(h->vm_state), "%s",
		 ev->state && !strcmp(ev->state, "crashed") ? "crashed"
							    : "stopped");
	pthread_mutex_unlock(&h->lock);
	if (!first)
		return 0; /* re-sent: reported already */
	if (ev->state && !strcmp(ev->state, "crashed"))
		fprintf(stderr, "parapet run: %s\n",
			ev->reason ? ev->reason : "guest crashed");
	else if (ev->exit_value >= 123)
		fprintf(stderr,
			"parapet run: guest exit value %d (exit status "
			"122)\n",
			ev->exit_value);
	return 0;
}

/* ---------------------------------------------------------- host work */

static char *hc_strdup(struct ipc_request *req, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ipc_request_alloc(req, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

static bool hc_cmd_due(const struct hc_cmd *c)
{
	return c->used && !c->sent;
}

static bool hc_has_work(struct hostchan *h)
{
	if (h->in_len > 0)
		return true;
	for (int i = 0; i < CMDS_MAX; i++)
		if (hc_cmd_due(&h->cmds[i]))
			return true;
	return false;
}

static Parapet__HostCommand *hc_command_msg(struct ipc_request *req,
					    struct hc_cmd *c)
{
	Parapet__HostCommand *hc = ipc_request_alloc(req, sizeof(*hc));
	Parapet__PolicyCommand *pc = ipc_request_alloc(req, sizeof(*pc));

	if (hc == NULL || pc == NULL)
		return NULL;
	parapet__host_command__init(hc);
	parapet__policy_command__init(pc);
	pc->command = hc_strdup(req, c->command);
	if (c->binary_token != 0) {
		pc->has_binary_token = 1;
		pc->binary_token = c->binary_token;
	}
	hc->has_id = 1;
	hc->id = c->id;
	hc->command = pc;
	return hc;
}

/* Fills a HostWork reply (lock held). */
static void hc_fill_work(struct hostchan *h, struct ipc_request *req,
			 Parapet__HostWork *w)
{
	size_t n = h->in_len < IN_CHUNK_MAX ? h->in_len : IN_CHUNK_MAX;
	uint64_t now = util_now_ns();

	w->has_input_offset = w->has_input_closed = 1;
	w->input_offset = h->in_base;
	w->input_closed = h->in_closed;
	if (n > 0 && (w->input.data = ipc_request_alloc(req, n)) != NULL) {
		memcpy(w->input.data, h->in_buf, n);
		w->has_input = 1;
		w->input.len = n;
	}
	w->commands = ipc_request_alloc(req, sizeof(void *) * CMDS_MAX);
	for (int i = 0; w->commands && i < CMDS_MAX; i++) {
		struct hc_cmd *c = &h->cmds[i];

		if (!hc_cmd_due(c))
			continue;
		w->commands[w->n_commands] = hc_command_msg(req, c);
		if (w->commands[w->n_commands] == NULL)
			break;
		w->n_commands++;
		c->sent = true;
		c->sent_ns = now;
	}
}

/* Answers parked polls that have work, or whose time is up (lock held). */
static void hc_wake_polls(struct hostchan *h, bool expire_only)
{
	uint64_t now = util_now_ns();

	for (int i = 0; i < POLLS_MAX; i++) {
		struct parked_poll *p = &h->polls[i];

		if (p->req == NULL)
			continue;
		if (!expire_only && hc_has_work(h))
			hc_fill_work(h, p->req, p->out);
		else if (now < p->deadline)
			continue;
		ipc_request_finish(p->req, 0);
		p->req = NULL;
	}
}

static void hc_input_ack(struct hostchan *h, uint64_t ack)
{
	uint64_t drop;

	if (ack <= h->in_base)
		return;
	drop = ack - h->in_base;
	if (drop > h->in_len)
		drop = h->in_len;
	memmove(h->in_buf, h->in_buf + drop, h->in_len - drop);
	h->in_len -= drop;
	h->in_base += drop;
}

static int hc_park(struct hostchan *h, struct ipc_request *req,
		   Parapet__HostWork *w, uint32_t wait_ms)
{
	for (int i = 0; i < POLLS_MAX; i++)
		if (h->polls[i].req == NULL) {
			h->polls[i] =
			    (struct parked_poll){ req, w,
						  util_deadline_ns(wait_ms) };
			return IPC_ASYNC;
		}
	return 0; /* too many pollers: an empty answer at once */
}

/* hostcomm polls again only after it answered every command of the last
 * poll (CommandDone comes first), and one hostcomm runs at a time: a
 * command still not done was lost with a hostcomm that died (re-send
 * it), and a poll still parked belongs to that dead one (answer it). */
static void hc_new_poller(struct hostchan *h)
{
	for (int i = 0; i < CMDS_MAX; i++)
		h->cmds[i].sent = false;
	for (int i = 0; i < POLLS_MAX; i++)
		if (h->polls[i].req != NULL) {
			ipc_request_finish(h->polls[i].req, 0);
			h->polls[i].req = NULL;
		}
}

static int on_poll(struct ipc_request *req, const ProtobufCMessage *in,
		   ProtobufCMessage *out, void *arg)
{
	const Parapet__HostPoll *q = (const Parapet__HostPoll *)in;
	Parapet__HostWork *w = (Parapet__HostWork *)out;
	struct hostchan *h = arg;
	uint32_t wait = q->wait_ms < POLL_MAX_MS ? q->wait_ms : POLL_MAX_MS;
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	hc_new_poller(h);
	hc_input_ack(h, q->input_ack);
	if (hostchan_state_name(q->vm_state) != NULL && !h->vm_ended)
		snprintf(h->vm_state, sizeof(h->vm_state), "%s",
			 hostchan_state_name(q->vm_state));
	if (hc_has_work(h) || wait == 0)
		hc_fill_work(h, req, w);
	else
		rc = hc_park(h, req, w, wait);
	if (rc == 0 && !w->has_input_offset)
		hc_fill_work(h, req, w);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* ------------------------------------------------------------ commands */

/* Answers a ctl request from a HostCommandDone (copied: the done
 * message belongs to the partition's request). Lock held. */
static void hc_answer(struct hc_cmd *c, const Parapet__HostCommandDone *d,
		      const char *error)
{
	Parapet__HostCommandDone *o = c->out;
	ProtobufCMessage *copy = NULL;
	uint8_t buf[BODY_MAX];
	size_t n;

	o->has_id = o->has_ok = 1;
	o->id = c->id;
	if (d && protobuf_c_message_get_packed_size(&d->base) <= sizeof(buf)) {
		n = protobuf_c_message_pack(&d->base, buf);
		copy =
		    protobuf_c_message_unpack(d->base.descriptor, NULL, n, buf);
	}
	if (copy) {
		const Parapet__HostCommandDone *cd =
		    (const Parapet__HostCommandDone *)copy;

		o->ok = cd->ok;
		o->error = cd->error ? hc_strdup(c->req, cd->error) : NULL;
		o->reply = cd->reply;
	} else {
		o->ok = false;
		o->error = hc_strdup(c->req, error ? error : "no answer");
	}
	ipc_request_finish(c->req, 0); /* packs now */
	if (copy)
		protobuf_c_message_free_unpacked(copy, NULL);
	c->used = false;
	c->req = NULL;
}

static int on_command_done(struct ipc_request *req, const ProtobufCMessage *in,
			   ProtobufCMessage *out, void *arg)
{
	const Parapet__HostCommandDone *d =
	    (const Parapet__HostCommandDone *)in;
	struct hostchan *h = arg;

	(void)req;
	(void)out;
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < CMDS_MAX; i++)
		if (h->cmds[i].used && h->cmds[i].id == d->id)
			hc_answer(&h->cmds[i], d, NULL);
	pthread_mutex_unlock(&h->lock);
	return 0; /* an unknown id: answered already (a duplicate) */
}

static int hc_ctl_refuse(struct ipc_request *req, Parapet__HostCommandDone *o,
			 const char *why)
{
	o->has_ok = 1;
	o->ok = false;
	o->error = hc_strdup(req, why);
	return 0;
}

/* service --binary PATH: opened here, with the rights of the user who
 * ran us (ctl.sock is that user's alone), and sent to init on the
 * descriptor channel under the command's id; the command names the id.
 * init checks the file and execs that descriptor. 0, or -1 refused. */
static int hc_send_binary(struct hostchan *h, struct ipc_request *req,
			  Parapet__HostCommandDone *o, const char *path,
			  uint64_t token)
{
	char why[FDCHAN_LABEL_MAX + 64];
	int fd;

	if (path[0] != '/' || strlen(path) >= FDCHAN_LABEL_MAX) {
		snprintf(why, sizeof(why),
			 "binary '%.200s': not an absolute "
			 "path",
			 path);
		hc_ctl_refuse(req, o, why);
		return -1;
	}
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0 ||
	    fdchan_send(h->fds_fd, FDCHAN_BINARY, token, path, fd) != 0) {
		snprintf(why, sizeof(why), "binary '%s': %s%s", path,
			 fd < 0 ? "" : "cannot pass it to the partition: ",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		hc_ctl_refuse(req, o, why);
		return -1;
	}
	close(fd);
	return 0;
}

static int on_ctl_command(struct ipc_request *req, const ProtobufCMessage *in,
			  ProtobufCMessage *out, void *arg)
{
	const Parapet__PolicyCommand *pc = (const Parapet__PolicyCommand *)in;
	Parapet__HostCommandDone *o = (Parapet__HostCommandDone *)out;
	struct hostchan *h = arg;
	int rc = 0;

	if (pc->command == NULL || strlen(pc->command) >= 32)
		return hc_ctl_refuse(req, o, "bad command");
	if (pc->has_binary_token)
		return hc_ctl_refuse(req, o, "a binary is given by its path");
	pthread_mutex_lock(&h->lock);
	if (h->vm_ended)
		rc = hc_ctl_refuse(req, o, "VM not running (it has ended)");
	for (int i = 0; h->vm_ended == false && i < CMDS_MAX; i++) {
		struct hc_cmd *c = &h->cmds[i];

		if (c->used)
			continue;
		*c = (struct hc_cmd){ .used = true,
				      .id = ++h->next_id,
				      .queued_ns = util_now_ns(),
				      .req = req,
				      .out = o };
		snprintf(c->command, sizeof(c->command), "%s", pc->command);
		if (pc->binary != NULL &&
		    hc_send_binary(h, req, o, pc->binary, c->id) != 0) {
			c->used = false;
			break;
		}
		c->binary_token = pc->binary != NULL ? c->id : 0;
		rc = IPC_ASYNC;
		break;
	}
	if (rc == 0 && !h->vm_ended && o->error == NULL)
		rc = hc_ctl_refuse(req, o, "too many commands queued");
	if (rc == IPC_ASYNC)
		hc_wake_polls(h, false);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* ---------------------------------------------------------- life cycle */

/* host.sock: the partition's hostcomm (by its uid, hc_server), and the
 * VM's owner itself, who could do all of it as the owner anyway. */
static const struct ipc_method chan_methods[] = {
	{ "Console", on_console, CALLER_HOSTCOMM, BODY_MAX },
	{ "Event", on_event, CALLER_HOSTCOMM, 2048 },
	{ "Poll", on_poll, CALLER_HOSTCOMM, 256 },
	{ "CommandDone", on_command_done, CALLER_HOSTCOMM, BODY_MAX },
};

/* ctl.sock is the owner's (mode 0600 in the owner's run directory): the
 * file mode is the check, so any peer that can connect may command. */
static const struct ipc_method ctl_methods[] = {
	{ "Command", on_ctl_command, IPC_SENDER_ANY, 256 },
};

/* Both sockets are owner-only; host.sock also lets the partition's
 * hostcomm in (its own uid, host/ids.h) by a POSIX ACL entry, kept when
 * the watchdog listens anew. Where every service runs as the owner, no
 * entry is needed. */
static struct ipc_server *hc_server(struct hostchan *h, const char *path,
				    const ProtobufCServiceDescriptor *desc,
				    const struct ipc_method *m, size_t n,
				    bool hostcomm)
{
	struct ipc_listen l = { path, 0, 0600 };
	struct ipc_peer_uid uids[] = {
		{ h->hostcomm_uid, CALLER_HOSTCOMM },
		{ getuid(), CALLER_HOSTCOMM },
	};
	struct ipc_server_config cfg = {
		.name = "host",
		.listen = &l,
		.n_listen = 1,
		.acl = { h->hostcomm_uid,
			 hostcomm && h->hostcomm_uid != getuid() },
		.uids = uids,
		.n_uids = 2,
		.service = desc,
		.methods = m,
		.n_methods = n,
		.recv_max = 64 * 1024,
		.n_contexts = HC_CONTEXTS,
		.arg = h,
	};

	return ipc_server_open(&cfg);
}

struct hostchan *hostchan_open(const char *run_dir, int out_fd, int in_fd,
			       int fds_fd, uid_t hostcomm_uid)
{
	struct hostchan *h = calloc(1, sizeof(*h));
	char path[4200];

	if (h == NULL)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->out_lock, NULL);
	pthread_mutex_init(&h->jobs_lock, NULL);
	pthread_cond_init(&h->jobs_cond, NULL);
	h->out_fd = out_fd;
	h->in_fd = in_fd;
	h->fds_fd = fds_fd;
	h->hostcomm_uid = hostcomm_uid;
	h->in_closed = in_fd < 0;
	if (pthread_create(&h->writer, NULL, hc_writer, h) != 0) {
		log_warnx("host channel: cannot start the console writer");
		hostchan_close(h);
		return NULL;
	}
	h->writer_started = true;
	snprintf(path, sizeof(path), "%s/host.sock", run_dir);
	h->chan = hc_server(h, path, &parapet__host_channel__descriptor,
			    chan_methods, 4, true);
	snprintf(path, sizeof(path), "%s/ctl.sock", run_dir);
	h->ctl = h->chan ? hc_server(h, path, &parapet__host_ctl__descriptor,
				     ctl_methods, 1, false)
			 : NULL;
	if (h->ctl == NULL) {
		hostchan_close(h);
		return NULL;
	}
	return h;
}

void hostchan_stop(struct hostchan *h)
{
	if (h == NULL || atomic_exchange(&h->closing, true))
		return;
	if (h->writer_started) {
		/* before the server: no request is finished after its close */
		pthread_mutex_lock(&h->jobs_lock);
		pthread_cond_signal(&h->jobs_cond);
		pthread_mutex_unlock(&h->jobs_lock);
		pthread_join(h->writer, NULL);
	}
	ipc_server_stop_watch(h->ctl);
	ipc_server_stop_watch(h->chan);
}

void hostchan_close(struct hostchan *h)
{
	if (h == NULL)
		return;
	hostchan_stop(h);
	if (h->ctl)
		ipc_server_close(h->ctl);
	if (h->chan)
		ipc_server_close(h->chan);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->out_lock);
	pthread_mutex_destroy(&h->jobs_lock);
	pthread_cond_destroy(&h->jobs_cond);
	free(h);
}

int hostchan_input_fd(struct hostchan *h)
{
	int fd;

	pthread_mutex_lock(&h->lock);
	fd = h->in_closed || h->in_len >= IN_BUF_MAX ? -1 : h->in_fd;
	pthread_mutex_unlock(&h->lock);
	return fd;
}

void hostchan_on_input(struct hostchan *h)
{
	ssize_t n;

	pthread_mutex_lock(&h->lock);
	n = read(h->in_fd, h->in_buf + h->in_len, IN_BUF_MAX - h->in_len);
	if (n > 0)
		h->in_len += (size_t)n;
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		h->in_closed = true; /* EOF only closes the guest's input */
	hc_wake_polls(h, false);
	pthread_mutex_unlock(&h->lock);
}

void hostchan_set_tap(struct hostchan *h,
		      void (*tap)(void *arg, const uint8_t *p, size_t n),
		      void *arg)
{
	pthread_mutex_lock(&h->out_lock);
	h->tap = tap;
	h->tap_arg = arg;
	pthread_mutex_unlock(&h->out_lock);
}

size_t hostchan_put_input(struct hostchan *h, const void *p, size_t n)
{
	pthread_mutex_lock(&h->lock);
	if (n > IN_BUF_MAX - h->in_len)
		n = IN_BUF_MAX - h->in_len;
	memcpy(h->in_buf + h->in_len, p, n);
	h->in_len += n;
	if (n > 0)
		hc_wake_polls(h, false);
	pthread_mutex_unlock(&h->lock);
	return n;
}

size_t hostchan_input_room(struct hostchan *h)
{
	size_t room;

	pthread_mutex_lock(&h->lock);
	room = IN_BUF_MAX - h->in_len;
	pthread_mutex_unlock(&h->lock);
	return room;
}

int hostchan_tick(struct hostchan *h)
{
	uint64_t now = util_now_ns();

	pthread_mutex_lock(&h->lock);
	hc_wake_polls(h, true);
	for (int i = 0; i < CMDS_MAX; i++) {
		struct hc_cmd *c = &h->cmds[i];

		if (c->used && now - c->queued_ns > CMD_TIMEOUT_NS)
			hc_answer(c, NULL,
				  "timed out: the partition did not answer");
	}
	pthread_mutex_unlock(&h->lock);
	return 100;
}

const char *hostchan_state_name(const char *policy_state)
{
	static const char *const names[][2] = {
		{ "starting", "booting" },    { "running", "running" },
		{ "paused", "paused" },	      { "saving", "servicing" },
		{ "restoring", "servicing" }, { "stopped", "stopped" },
		{ "crashed", "crashed" },
	};

	for (size_t i = 0; policy_state && i < sizeof(names) / sizeof(*names);
	     i++)
		if (!strcmp(policy_state, names[i][0]))
			return names[i][1];
	return NULL;
}

/* A `service` from the host runs in hostcomm's poll loop, which polls
 * again only once it is done: while it is out, the VM is servicing. */
static bool hc_servicing(const struct hostchan *h)
{
	for (int i = 0; i < CMDS_MAX; i++)
		if (h->cmds[i].used && h->cmds[i].sent &&
		    !strcmp(h->cmds[i].command, "service"))
			return true;
	return false;
}

void hostchan_vm_state(struct hostchan *h, char *out, size_t len)
{
	pthread_mutex_lock(&h->lock);
	snprintf(out, len, "%s",
		 hc_servicing(h) && !h->vm_ended ? "servicing" : h->vm_state);
	pthread_mutex_unlock(&h->lock);
}

uint64_t hostchan_first_console_ns(struct hostchan *h)
{
	return atomic_load(&h->first_console_ns);
}

uint64_t hostchan_console_bytes(struct hostchan *h)
{
	return atomic_load(&h->out_offset);
}
