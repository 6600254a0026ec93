/* diagd's side of the live IPC trace: a connection to every service's
 * NAME.trace.sock, a ring of the frames received, and the shared trace
 * flag, set while a tracer keeps asking (a lease) and cleared a few
 * seconds after the last Trace call.
 * The taps are read without nng (tapread.c): nng 1.5.2's poller can spin
 * on a hung-up pipe and stop every nng socket of the process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "envelope.pb-c.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/pbjson.h"
#include "lib/util.h"
#include "services/diag/diagd.h"
#include "services/diag/tapread.h"

#define TRACE_RING	2048
#define TRACE_MAX_TAPS	32
#define TRACE_LEASE_NS	(3000ull * 1000 * 1000)
#define TRACE_FRAME_MAX (80u * 1024)
#define TRACE_REPLY_MAX 64
#define TRACE_SUFFIX	".trace.sock"

struct diagd_trace {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct evqueue wake; /* kicks the reader: its taps changed */
	_Atomic uint32_t *flag;
	struct {
		uint8_t *data;
		size_t len;
	} ring[TRACE_RING];
	uint64_t next; /* sequence number of the next frame (from 1) */
	uint64_t lease_until;
	char taps[TRACE_MAX_TAPS][64];
	uint64_t tap_dropped[TRACE_MAX_TAPS];
	struct tapread conn[TRACE_MAX_TAPS];
	unsigned n_taps;
	uint64_t received, undecodable, reconnects;
	struct ipc_arena arena;
	bool stop;
	bool started;  /* the reader runs (under lock) */
	char dir[200]; /* where the taps are: PARTITION_IPC_DIR */
};

static int trace_tap_index(struct diagd_trace *t, const char *name)
{
	for (unsigned i = 0; i < t->n_taps; i++)
		if (!strcmp(t->taps[i], name))
			return (int)i;
	return -1;
}

/* Finds new taps, NAME/NAME.trace.sock in the services' directories, and
 * (re)connects taps that are down. Called with the lock held. */
static void trace_scan(struct diagd_trace *t)
{
	DIR *dir = opendir(t->dir);
	struct dirent *de;
	char name[64], path[sizeof(t->dir) + 2 * sizeof(de->d_name) + 16];
	struct stat st;
	int i;

	while (dir != NULL && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strlen(de->d_name) >= sizeof(name) ||
		    (size_t)partition_sock_path(path, sizeof(path), t->dir,
						de->d_name,
						TRACE_SUFFIX) >= sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		memcpy(name, de->d_name, strlen(de->d_name) + 1);
		i = trace_tap_index(t, name);
		if (i < 0 && t->n_taps < TRACE_MAX_TAPS) {
			i = (int)t->n_taps++;
			snprintf(t->taps[i], sizeof(t->taps[0]), "%s", name);
			t->conn[i] = (struct tapread){ .fd = -1 };
		}
		if (i >= 0 && t->conn[i].fd < 0 &&
		    tapread_connect(&t->conn[i], path, TRACE_FRAME_MAX) == 0)
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
static void trace_store(const uint8_t *data, size_t len, void *arg)
{
	struct diagd_trace *t = arg;
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

/* One round of the reader: poll the taps (and the kick) until a frame
 * or a kick comes; while tracing, at most 500 ms (the lease may end, a
 * restarted service's tap wants reconnecting); idle, without end. */
static void trace_poll_once(struct diagd_trace *t)
{
	struct pollfd p[TRACE_MAX_TAPS + 1];
	int idx[TRACE_MAX_TAPS];
	nfds_t n = 0;
	int timeout;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n_taps; i++)
		if (t->conn[i].fd >= 0) {
			idx[n] = (int)i;
			p[n++] = (struct pollfd){ .fd = t->conn[i].fd,
						  .events = POLLIN };
		}
	timeout = t->lease_until ? 500 : -1;
	pthread_mutex_unlock(&t->lock);
	p[n] = (struct pollfd){ .fd = evqueue_fd(&t->wake), .events = POLLIN };
	if (poll(p, n + 1, timeout) < 0 && errno != EINTR)
		usleep(100 * 1000);
	if (p[n].revents & POLLIN)
		evqueue_run(&t->wake, NULL);
	pthread_mutex_lock(&t->lock);
	for (nfds_t k = 0; k < n; k++)
		if (p[k].revents &&
		    tapread_feed(&t->conn[idx[k]], trace_store, t) != 0)
			tapread_close(&t->conn[idx[k]]);
	if (t->lease_until && util_now_ns() > t->lease_until) {
		t->lease_until = 0;
		trace_set_flag(t, 0);
		for (unsigned i = 0; i < t->n_taps; i++)
			tapread_close(&t->conn[i]);
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

struct diagd_trace *diagd_trace_open(const char *ipc_dir)
{
	struct diagd_trace *t = calloc(1, sizeof(*t));
	char flag[256];
	int fd;

	if (t == NULL || ipc_arena_init(&t->arena, 64u * 1024, 1u << 20))
		return NULL;
	t->next = 1;
	if (evqueue_init(&t->wake, 0) != 0)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	snprintf(t->dir, sizeof(t->dir), "%s", ipc_dir);
	/* PARTITION_TRACE_FLAG in the partition's IPC directory */
	snprintf(flag, sizeof(flag), "%s/trace.flag", ipc_dir);
	fd = open(flag, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		t->flag = (_Atomic uint32_t *)util_map(
		    fd, PARTITION_TRACE_FLAG_SIZE, PROT_READ | PROT_WRITE);
		close(fd);
	}
	if (t->flag == NULL)
		log_warn("%s: trace flag unavailable", flag);
	else
		trace_set_flag(t, 0); /* a diagd that died tracing left it on */
	return t;
}

/* The reader starts with the first tracer (lock held): most partitions
 * are never traced, and an idle thread still holds its stack pages. */
static bool trace_reader_started(struct diagd_trace *t)
{
	if (!t->started && !t->stop) {
		t->started =
		    pthread_create(&t->thread, NULL, trace_reader, t) == 0;
		if (!t->started)
			log_warnx("trace: cannot start the reader");
	}
	return t->started;
}

void diagd_trace_close(struct diagd_trace *t)
{
	bool started;

	if (t == NULL)
		return;
	trace_set_flag(t, 0);
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	started = t->started;
	pthread_mutex_unlock(&t->lock);
	evqueue_kick(&t->wake);
	if (started)
		pthread_join(t->thread, NULL);
}

/* Waits (lock held) until a frame past cursor arrives or wait_ms pass. */
static void trace_wait(struct diagd_trace *t, uint64_t cursor, unsigned ms)
{
	struct timespec until =
	    util_abstime_ns(CLOCK_REALTIME, ms * UTIL_NS_PER_MS);

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
	if (!trace_reader_started(t)) {
		pthread_mutex_unlock(&t->lock);
		return IPC_ERR_UNAVAILABLE;
	}
	if (t->lease_until == 0)
		log_info("trace: tracer attached; tap flag on");
	t->lease_until = util_now_ns() + TRACE_LEASE_NS;
	trace_set_flag(t, 1);
	trace_scan(t);
	evqueue_kick(&t->wake); /* the reader polls the new taps now */
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
