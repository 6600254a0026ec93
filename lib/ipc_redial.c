/* A dialing socket's watchdog: it dials, and dials again, itself. nng
 * 1.5.2's dialer has two failings here. Left to redial on its own timer,
 * it costs ~1 ms of CPU per retry: nng's timer thread spins on its
 * millisecond clock until it passes each deadline, and a client retrying
 * every few milliseconds while its server was away (servicing, a
 * restart) kept most of a CPU busy. And it stops redialing for good when
 * the peer closes a connection during the SP handshake (a server exiting
 * with a connection still in its listen backlog, as a vmworker does at
 * every servicing). Closing a dialer is no cure while it negotiates:
 * nng 1.5.2's listener has the mirror bug and stops accepting for good
 * when a client drops a connection mid-handshake.
 *
 * So no dialer here ever retries: each attempt is one blocking
 * nng_dialer_start (which, failing, leaves the dialer idle, no timer, no
 * connection) on a short thread of its own, and the dialer is closed
 * when the attempt fails or when the pipe it brought goes (in the pipe's
 * removal callback, before nng would start its redial timer). Neither is
 * during a handshake: no listener sees a connection dropped by us
 * mid-handshake (nng itself gives a handshake up after 10 s).
 *
 * One thread per process (started at the first open) decides when to
 * attempt, by stat and a condition variable (no nng timer): while a
 * socket has no pipe, it stats the server's path every
 * IPC_REDIAL_WAIT_FAST_MS for IPC_REDIAL_WAIT_FAST_FOR_MS after the pipe
 * went (or the socket opened), else every IPC_REDIAL_WAIT_SLOW_MS. A
 * server renames its bound socket over the path once it listens
 * (ipc_listen_path), so a socket file other than the one last attempted
 * means a new instance accepts: the attempt starts at once. A socket file
 * that stays is attempted again every IPC_REDIAL_RETRY_MS (a server that
 * dropped the connection but lives on; a refused or full backlog), every
 * IPC_REDIAL_RETRY_SLOW_MS past the fast period; a missing one is not
 * (at boot most servers are not up yet when their clients open).
 *
 * A pipe of any dialer but the current one is closed before it joins the
 * socket (after its handshake): one dialer at a time, so the client never
 * holds two connections to a server. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/ipc_internal.h"
#include "lib/log.h"
#include "lib/util.h"

#define IPC_REDIAL_WAIT_FAST_MS	    1
#define IPC_REDIAL_WAIT_FAST_FOR_MS 2000
#define IPC_REDIAL_WAIT_SLOW_MS	    50
#define IPC_REDIAL_RETRY_MS	    100
#define IPC_REDIAL_RETRY_SLOW_MS    1000
#define IPC_REDIAL_PIPES_MAX	    8

struct ipc_redial {
	nng_socket sock;
	char url[256];
	const char *path; /* inside url */
	pthread_mutex_t lock;
	pthread_cond_t done;	    /* an attempt ended */
	nng_dialer dialer;	    /* id 0: none */
	_Atomic uint32_t dialer_id; /* the current dialer's; 0: none */
	int pipes;
	uint32_t added[IPC_REDIAL_PIPES_MAX]; /* ids of the pipes counted */
	unsigned untracked;
	bool closing;
	bool attempting; /* an attempt's thread runs */
	bool tried;	 /* the file below was attempted */
	dev_t dev;	 /* the socket file last attempted */
	ino_t ino;
	struct timespec ctime;
	struct ipc_redial *next; /* under wait_lock */
	uint64_t since_ns;	 /* opened, or its last pipe went */
	uint64_t attempted_ns;
	ipc_peer_fn on_peer; /* under lock */
	void *on_peer_arg;
};

static void redial_wait_wake(void);

/* One attempt: the dialer connects (its pipe joins the socket) or is
 * closed, idle. */
static void *redial_attempt(void *arg)
{
	struct ipc_redial *r = arg;
	nng_dialer d;
	int rv;

	pthread_mutex_lock(&r->lock);
	d = r->dialer;
	pthread_mutex_unlock(&r->lock);
	rv = nng_dialer_start(d, 0);
	pthread_mutex_lock(&r->lock);
	if (rv != 0 && r->dialer.id == d.id) {
		r->dialer.id = 0;
		atomic_store(&r->dialer_id, 0);
	}
	if (rv != 0)
		nng_dialer_close(d); /* idle: no timer, no connection */
	r->attempting = false;
	pthread_cond_broadcast(&r->done);
	pthread_mutex_unlock(&r->lock);
	redial_wait_wake(); /* failed, or its pipe may have gone already */
	return NULL;
}

/* Lock held, no pipe, no attempt running: starts one at st (the socket
 * file at the path). */
static void redial_try(struct ipc_redial *r, const struct stat *st,
		       uint64_t now)
{
	pthread_attr_t a;
	pthread_t tid;
	int rv;

	r->tried = true;
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->ctime = st->st_ctim;
	r->attempted_ns = now;
	if (r->dialer.id != 0) /* a pipe's, closed as it went */
		nng_dialer_close(r->dialer);
	rv = nng_dialer_create(&r->dialer, r->sock, r->url);
	if (rv != 0) {
		r->dialer.id = 0;
		log_warnx("ipc: dial %s: %s", r->url, nng_strerror(rv));
		return;
	}
	/* known before its pipe can come */
	atomic_store(&r->dialer_id, (uint32_t)nng_dialer_id(r->dialer));
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 << 10);
	r->attempting = pthread_create(&tid, &a, redial_attempt, r) == 0;
	pthread_attr_destroy(&a);
	if (!r->attempting) {
		nng_dialer_close(r->dialer);
		r->dialer.id = 0;
		atomic_store(&r->dialer_id, 0);
	}
}

/* The thread: every redial of the process, from open to close. Lock
 * order: wait_lock, then a redial's lock. */
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond;
static struct ipc_redial *wait_list;
static bool wait_started;

/* wait_lock held: attempts r when its time has come; returns the
 * milliseconds until it needs a look again, 0: none (a pipe, or an
 * attempt that wakes the thread when it ends). */
static uint64_t redial_poll(struct ipc_redial *r, uint64_t now)
{
	uint64_t ms = 0, fast, retry;
	struct stat st;

	pthread_mutex_lock(&r->lock);
	if (r->closing || r->pipes > 0 || r->attempting)
		goto out;
	fast = now - r->since_ns < IPC_REDIAL_WAIT_FAST_FOR_MS * UTIL_NS_PER_MS;
	ms = fast ? IPC_REDIAL_WAIT_FAST_MS : IPC_REDIAL_WAIT_SLOW_MS;
	retry = fast ? IPC_REDIAL_RETRY_MS : IPC_REDIAL_RETRY_SLOW_MS;
	if (stat(r->path, &st) != 0)
		goto out; /* no server (yet) */
	if (!r->tried || st.st_dev != r->dev || st.st_ino != r->ino ||
	    st.st_ctim.tv_sec != r->ctime.tv_sec ||
	    st.st_ctim.tv_nsec != r->ctime.tv_nsec ||
	    now - r->attempted_ns >= retry * UTIL_NS_PER_MS)
		redial_try(r, &st, now);
	if (r->attempting)
		ms = 0;
out:
	pthread_mutex_unlock(&r->lock);
	return ms;
}

static void *redial_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wait_lock);
	for (;;) {
		uint64_t now = util_now_ns(), ms = 0;
		struct timespec until;

		for (struct ipc_redial *r = wait_list; r != NULL; r = r->next) {
			uint64_t m = redial_poll(r, now);

			if (m != 0 && (ms == 0 || m < ms))
				ms = m;
		}
		if (ms == 0) { /* nothing to look at until woken */
			pthread_cond_wait(&wait_cond, &wait_lock);
			continue;
		}
		until = util_abstime_ns(CLOCK_MONOTONIC, ms * UTIL_NS_PER_MS);
		pthread_cond_timedwait(&wait_cond, &wait_lock, &until);
	}
	return NULL;
}

/* Puts r (not locked) in the thread's list; 0 or nng error. */
static int redial_wait_add(struct ipc_redial *r)
{
	int rv = 0;

	pthread_mutex_lock(&wait_lock);
	if (!wait_started) {
		pthread_condattr_t ca;
		pthread_attr_t a;
		pthread_t tid;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&wait_cond, &ca);
		pthread_condattr_destroy(&ca);
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 64 << 10);
		if (pthread_create(&tid, &a, redial_waiter, NULL) == 0)
			wait_started = true;
		else
			rv = NNG_ENOMEM;
		pthread_attr_destroy(&a);
	}
	if (rv == 0) {
		r->next = wait_list;
		wait_list = r;
		pthread_cond_signal(&wait_cond);
	}
	pthread_mutex_unlock(&wait_lock);
	return rv;
}

/* Takes r out of the thread's list: the thread is not using it after. */
static void redial_wait_remove(struct ipc_redial *r)
{
	pthread_mutex_lock(&wait_lock);
	for (struct ipc_redial **pp = &wait_list; *pp != NULL;
	     pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&wait_lock);
}

/* The thread has a socket to look at (no redial lock held). */
static void redial_wait_wake(void)
{
	pthread_mutex_lock(&wait_lock);
	pthread_cond_signal(&wait_cond);
	pthread_mutex_unlock(&wait_lock);
}

/* Before a pipe joins the socket: one of a dialer already replaced does
 * not (after its handshake: no listener sees it dropped mid-handshake). */
static void redial_pipe_pre(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct ipc_redial *r = arg;
	nng_dialer d = nng_pipe_dialer(pipe);
	uint32_t cur = atomic_load(&r->dialer_id);

	(void)ev;
	if (nng_dialer_id(d) > 0 && (uint32_t)nng_dialer_id(d) != cur) {
		nng_pipe_close(pipe);
		nng_dialer_close(d); /* else it would redial */
	}
}

/* Lock held: records an added pipe (true), or forgets a removed one
 * (true if it had been added: a pipe closed before it joined the socket
 * may still report its removal). */
static bool redial_track(struct ipc_redial *r, nng_pipe pipe, bool add)
{
	uint32_t id = (uint32_t)nng_pipe_id(pipe);

	for (int i = 0; i < IPC_REDIAL_PIPES_MAX; i++)
		if (add ? r->added[i] == 0 : r->added[i] == id) {
			r->added[i] = add ? id : 0;
			return true;
		}
	if (add)
		r->untracked++;
	else if (r->untracked > 0)
		r->untracked--; /* more pipes than slots: count them */
	else
		return false;
	return true;
}

static void redial_pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct ipc_redial *r = arg;
	bool add = ev == NNG_PIPE_EV_ADD_POST, gone = false;
	nng_dialer d = NNG_DIALER_INITIALIZER;

	pthread_mutex_lock(&r->lock);
	if (!add && nng_pipe_dialer(pipe).id == r->dialer.id) {
		/* Its dialer goes with it (one pipe per dialer), before nng
		 * starts its redial timer: nng removes the pipe from its
		 * dialer after this callback. */
		d = r->dialer;
		r->dialer.id = 0;
		atomic_store(&r->dialer_id, 0);
	}
	if (redial_track(r, pipe, add)) {
		if (add) {
			r->pipes++;
		} else if (r->pipes > 0 && --r->pipes == 0) {
			/* its next instance gets a fresh wait */
			r->since_ns = util_now_ns();
			r->tried = false;
			gone = !r->closing;
		}
		if (r->on_peer != NULL && !r->closing)
			r->on_peer(r->on_peer_arg, add);
	}
	pthread_mutex_unlock(&r->lock);
	if (d.id != 0)
		nng_dialer_close(d);
	if (gone || d.id != 0)
		redial_wait_wake();
}

void ipc_redial_on_peer(struct ipc_redial *r, ipc_peer_fn fn, void *arg)
{
	pthread_mutex_lock(&r->lock);
	r->on_peer = fn;
	r->on_peer_arg = arg;
	pthread_mutex_unlock(&r->lock);
}

struct ipc_redial *ipc_redial_open(nng_socket s, const char *path, int *rv)
{
	struct ipc_redial *r = calloc(1, sizeof(*r));

	*rv = NNG_ENOMEM;
	if (r == NULL)
		return NULL;
	r->sock = s;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->done, NULL);
	if ((size_t)snprintf(r->url, sizeof(r->url), "ipc://%s", path) >=
	    sizeof(r->url)) {
		*rv = NNG_EINVAL;
		goto fail;
	}
	r->path = r->url + strlen("ipc://");
	if ((*rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, redial_pipe_pre,
				   r)) != 0 ||
	    (*rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, redial_pipe_event,
				   r)) != 0 ||
	    (*rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, redial_pipe_event,
				   r)) != 0)
		goto fail;
	r->since_ns = util_now_ns();
	if ((*rv = redial_wait_add(r)) == 0) {
		struct stat st;

		/* the server is up: the first attempt at once, not at the
		 * thread's first look */
		pthread_mutex_lock(&r->lock);
		if (!r->tried && !r->attempting && stat(r->path, &st) == 0)
			redial_try(r, &st, util_now_ns());
		pthread_mutex_unlock(&r->lock);
		return r;
	}
fail:
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, NULL, NULL);
	nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, NULL, NULL);
	pthread_cond_destroy(&r->done);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

void ipc_redial_close(struct ipc_redial *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_mutex_unlock(&r->lock);
	redial_wait_remove(r); /* the thread is done with it */
	nng_close(r->sock);    /* ends an attempt; no pipe event after */
	pthread_mutex_lock(&r->lock);
	while (r->attempting)
		pthread_cond_wait(&r->done, &r->lock);
	pthread_mutex_unlock(&r->lock);
	pthread_cond_destroy(&r->done);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
