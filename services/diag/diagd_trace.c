/* diagd's side of the live IPC trace: a connection to every service's
 * NAME.trace.sock, a ring of the frames received, and the shared trace
 * flag, set while a tracer keeps asking (a lease) and cleared a few
 * seconds after the last Trace call.
 *
 * The taps are nng pub0 sockets, but diagd reads them as a plain AF_UNIX
 * client speaking nng's IPC framing (8-byte SP header, then per message a
 * type byte 1 and a 64-bit big-endian length): nng 1.5.2 loses EPOLLHUP
 * in its poller (nanomsg/nng#2100), and a sub0 socket whose publisher
 * died while sending left diagd's poller thread spinning, which stopped
 * every nng socket of diagd. A plain poll loop handles the hang-up. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "envelope.pb-c.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/pbjson.h"
#include "lib/util.h"
#include "services/diag/diagd.h"

#define TRACE_RING	2048
#define TRACE_MAX_TAPS	32
#define TRACE_LEASE_NS	(3000ull * 1000 * 1000)
#define TRACE_FRAME_MAX (80u * 1024)
#define TRACE_REPLY_MAX 64
#define TRACE_SUFFIX	".trace.sock"
#define SP_PROTO_SUB0	0x21
#define SP_PROTO_PUB0	0x20

/* One connection to a tap, reading SP header then frames. */
struct tap_conn {
	int fd; /* -1: not connected */
	size_t got;
	uint8_t head[9];
	bool hello_done;
	uint8_t *buf;
	size_t need;
};

struct diagd_trace {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic uint32_t *flag;
	struct {
		uint8_t *data;
		size_t len;
	} ring[TRACE_RING];
	uint64_t next; /* sequence number of the next frame (from 1) */
	uint64_t lease_until;
	char taps[TRACE_MAX_TAPS][64];
	uint64_t tap_dropped[TRACE_MAX_TAPS];
	struct tap_conn conn[TRACE_MAX_TAPS];
	unsigned n_taps;
	uint64_t received, undecodable, reconnects;
	struct ipc_arena arena;
	bool stop;
};

static int trace_tap_index(struct diagd_trace *t, const char *name)
{
	for (unsigned i = 0; i < t->n_taps; i++)
		if (!strcmp(t->taps[i], name))
			return (int)i;
	return -1;
}

/* Connects and sends our SP header (sub0). -1 when nobody listens. */
static int tap_connect(const char *name)
{
	static const uint8_t hello[8] = {
		0, 'S', 'P', 0, 0, SP_PROTO_SUB0, 0, 0
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s%s", PARTITION_IPC_DIR,
		 name, TRACE_SUFFIX);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, hello, sizeof(hello)) != (ssize_t)sizeof(hello)) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void tap_close(struct tap_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	*c = (struct tap_conn){ .fd = -1 };
}

/* Finds new NAME.trace.sock files and (re)connects taps that are down.
 * Called with the lock held. */
static void trace_scan(struct diagd_trace *t)
{
	DIR *dir = opendir(PARTITION_IPC_DIR);
	size_t sfx = strlen(TRACE_SUFFIX), n;
	struct dirent *de;
	char name[64];
	int i;

	while (dir != NULL && (de = readdir(dir)) != NULL) {
		n = strlen(de->d_name);
		if (n <= sfx || n - sfx >= sizeof(name) ||
		    strcmp(de->d_name + n - sfx, TRACE_SUFFIX))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - sfx),
			 de->d_name);
		i = trace_tap_index(t, name);
		if (i < 0 && t->n_taps < TRACE_MAX_TAPS) {
			i = (int)t->n_taps++;
			snprintf(t->taps[i], sizeof(t->taps[0]), "%s", name);
			t->conn[i] = (struct tap_conn){ .fd = -1 };
		}
		if (i >= 0 && t->conn[i].fd < 0 &&
		    (t->conn[i].fd = tap_connect(name)) >= 0)
			t->reconnects++;
	}
	if (dir != NULL)
		closedir(dir);
}

static void trace_set_flag(struct diagd_trace *t, int on)
{
	if (t->flag != NULL)
		atomic_store(t->flag, on ? 1u : 0u);
}

/* Keeps the frame and its tap's drop counter; lock held. */
static void trace_store(struct diagd_trace *t, const void *data, size_t len)
{
	Parapet__TraceFrame *f = NULL;
	size_t slot = t->next % TRACE_RING;
	uint8_t *copy;
	int i;

	ipc_arena_reset(&t->arena);
	if (pbjson_unpack(&parapet__trace_frame__descriptor, data, len,
			  TRACE_FRAME_MAX, &t->arena.pb,
			  (ProtobufCMessage **)&f) != 0) {
		t->undecodable++;
		return;
	}
	i = f->service ? trace_tap_index(t, f->service) : -1;
	if (i >= 0 && f->has_dropped_total)
		t->tap_dropped[i] = f->dropped_total;
	copy = malloc(len);
	if (copy == NULL)
		return;
	memcpy(copy, data, len);
	free(t->ring[slot].data);
	t->ring[slot].data = copy;
	t->ring[slot].len = len;
	t->next++;
	t->received++;
	pthread_cond_broadcast(&t->cond);
}

/* Reads what is there; -1 when the connection must close. Lock held. */
static int tap_read(struct diagd_trace *t, struct tap_conn *c)
{
	for (;;) {
		size_t want = !c->hello_done ? 8 : c->buf ? c->need : 9;
		uint8_t *dst = c->buf ? c->buf : c->head;
		ssize_t n = read(c->fd, dst + c->got, want - c->got);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if ((c->got += (size_t)n) < want)
			continue;
		c->got = 0;
		if (!c->hello_done) {
			if (memcmp(c->head, "\0SP\0", 4) ||
			    c->head[5] != SP_PROTO_PUB0)
				return -1;
			c->hello_done = true;
		} else if (c->buf == NULL) {
			uint64_t len;

			memcpy(&len, c->head + 1, 8);
			len = be64toh(len);
			if (c->head[0] != 1 || len > TRACE_FRAME_MAX ||
			    !(c->buf = malloc(len ? len : 1)))
				return -1;
			c->need = (size_t)len;
			if (len == 0) {
				free(c->buf);
				c->buf = NULL;
			}
		} else {
			trace_store(t, c->buf, c->need);
			free(c->buf);
			c->buf = NULL;
		}
	}
}

/* One round of the reader: poll the taps for up to 500 ms. */
static void trace_poll_once(struct diagd_trace *t)
{
	struct pollfd p[TRACE_MAX_TAPS];
	int idx[TRACE_MAX_TAPS];
	nfds_t n = 0;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n_taps; i++)
		if (t->conn[i].fd >= 0) {
			idx[n] = (int)i;
			p[n++] = (struct pollfd){ .fd = t->conn[i].fd,
						  .events = POLLIN };
		}
	pthread_mutex_unlock(&t->lock);
	if (poll(p, n, 500) < 0 && errno != EINTR)
		usleep(100 * 1000);
	pthread_mutex_lock(&t->lock);
	for (nfds_t k = 0; k < n; k++)
		if (p[k].revents && tap_read(t, &t->conn[idx[k]]) != 0)
			tap_close(&t->conn[idx[k]]);
	if (t->lease_until && util_now_ns() > t->lease_until) {
		t->lease_until = 0;
		trace_set_flag(t, 0);
		for (unsigned i = 0; i < t->n_taps; i++)
			tap_close(&t->conn[i]);
		log_info("trace: no tracer left; tap flag off");
	} else if (t->lease_until)
		trace_scan(t); /* services restart: reconnect their taps */
	pthread_mutex_unlock(&t->lock);
}

static void *trace_reader(void *arg)
{
	struct diagd_trace *t = arg;

	while (!t->stop)
		trace_poll_once(t);
	return NULL;
}

struct diagd_trace *diagd_trace_open(void)
{
	struct diagd_trace *t = calloc(1, sizeof(*t));
	int fd;

	if (t == NULL || ipc_arena_init(&t->arena, 64u * 1024, 1u << 20))
		return NULL;
	t->next = 1;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	fd = open(PARTITION_TRACE_FLAG, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		t->flag = (_Atomic uint32_t *)util_map(
		    fd, PARTITION_TRACE_FLAG_SIZE, PROT_READ | PROT_WRITE);
		close(fd);
	}
	if (t->flag == NULL)
		log_warn("%s: trace flag unavailable", PARTITION_TRACE_FLAG);
	else
		trace_set_flag(t, 0); /* a diagd that died tracing left it on */
	if (pthread_create(&t->thread, NULL, trace_reader, t) != 0) {
		log_warnx("trace: cannot start the reader");
		return NULL;
	}
	return t;
}

void diagd_trace_close(struct diagd_trace *t)
{
	if (t == NULL)
		return;
	trace_set_flag(t, 0);
	t->stop = true;
	pthread_join(t->thread, NULL);
}

/* Waits (lock held) until a frame past cursor arrives or wait_ms pass. */
static void trace_wait(struct diagd_trace *t, uint64_t cursor, unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (t->next <= cursor &&
	       pthread_cond_timedwait(&t->cond, &t->lock, &until) == 0)
		;
}

/* Copies frames [cursor, next) into the reply; lock held. */
static int trace_fill(struct diagd_job *j, struct diagd_trace *t,
		      uint64_t cursor, unsigned max)
{
	Parapet__DiagTraceReply *out = (Parapet__DiagTraceReply *)j->out;
	uint64_t oldest = t->next > TRACE_RING ? t->next - TRACE_RING : 1;
	size_t total = 0;

	if (cursor < oldest) {
		out->has_lost = 1;
		out->lost = oldest - cursor;
		cursor = oldest;
	}
	out->frames =
	    ipc_request_alloc(j->req, sizeof(ProtobufCBinaryData) * max);
	if (out->frames == NULL)
		return IPC_ERR_NOMEM;
	for (; cursor < t->next && out->n_frames < max; cursor++) {
		size_t slot = cursor % TRACE_RING, len = t->ring[slot].len;
		ProtobufCBinaryData *b = &out->frames[out->n_frames];

		if (total + len > DIAGD_TRACE_REPLY)
			break;
		if ((b->data = ipc_request_alloc(j->req, len)) == NULL)
			break;
		memcpy(b->data, t->ring[slot].data, len);
		b->len = len;
		total += len;
		out->n_frames++;
	}
	out->has_cursor = 1;
	out->cursor = cursor;
	return 0;
}

static void trace_fill_taps(struct diagd_job *j, struct diagd_trace *t)
{
	Parapet__DiagTraceReply *out = (Parapet__DiagTraceReply *)j->out;

	out->has_tap_dropped = 1;
	out->taps = ipc_request_alloc(j->req, sizeof(char *) * t->n_taps);
	for (unsigned i = 0; out->taps != NULL && i < t->n_taps; i++) {
		out->taps[out->n_taps++] = diagd_strdup(j, t->taps[i]);
		out->tap_dropped += t->tap_dropped[i];
	}
}

int diagd_trace_work(struct diagd_job *j)
{
	const Parapet__DiagTraceRequest *q =
	    (const Parapet__DiagTraceRequest *)j->in;
	struct diagd_trace *t = j->d->trace;
	unsigned max = q->has_max_frames && q->max_frames ? q->max_frames : 64;
	unsigned wait = q->has_wait_ms ? q->wait_ms : 0;
	uint64_t cursor;
	int rc;

	if (max > TRACE_REPLY_MAX)
		max = TRACE_REPLY_MAX;
	if (wait > 1000)
		wait = 1000;
	pthread_mutex_lock(&t->lock);
	if (t->lease_until == 0)
		log_info("trace: tracer attached; tap flag on");
	t->lease_until = util_now_ns() + TRACE_LEASE_NS;
	trace_set_flag(t, 1);
	trace_scan(t);
	cursor = q->has_cursor && q->cursor ? q->cursor : t->next;
	trace_wait(t, cursor, wait);
	rc = trace_fill(j, t, cursor, max);
	trace_fill_taps(j, t);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

json_t *diagd_trace_json(struct diagd_trace *t)
{
	json_t *o, *taps = json_object();

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n_taps; i++)
		json_object_set_new(
		    taps, t->taps[i],
		    json_integer((json_int_t)t->tap_dropped[i]));
	o = json_pack("{s:I, s:I, s:I, s:b, s:o}", "frames_received",
		      (json_int_t)t->received, "undecodable",
		      (json_int_t)t->undecodable, "connects",
		      (json_int_t)t->reconnects, "tracing", t->lease_until != 0,
		      "tap_dropped", taps);
	pthread_mutex_unlock(&t->lock);
	return o;
}
