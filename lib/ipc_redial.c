/* A dialing socket's watchdog. nng 1.5.2's dialer stops redialing for
 * good when the peer closes a connection during the SP handshake (a
 * server exiting with a connection still in its listen backlog, as a
 * vmworker does at every servicing): the client then never reaches the
 * next instance. While the socket has no pipe, a timer checks it; when
 * none has come for IPC_REDIAL_AFTER_MS since the last dial, the dialer
 * is closed and a new one dials. Closing a dialer is harmful while it
 * negotiates: nng 1.5.2's listener has the mirror bug and stops accepting
 * for good when a client drops a connection mid-handshake. Measured: a
 * 400 ms wait did that to a vmworker starting under heavy load, and a
 * 1.5 s one to init under a load average of 17. So a dialer is replaced
 * only when it is idle: its statistics (nng counts every attempt:
 * refused, connected, timed out...) have not moved for
 * IPC_REDIAL_FROZEN_MS while it had no pipe (a live dialer retries every
 * 2-10 ms while its server is away; a dead one never moves again), or
 * when it has brought no pipe for longer than nng's own 10 s handshake
 * timeout (redial_after_ms).
 *
 * At boot most servers are not up yet when their clients open: dialing
 * then means a refused connect every 2-10 ms per client, all across the
 * boot's critical path. So the first dial waits for the socket file: one
 * thread per process (started at the first wait) stats the paths awaited
 * every IPC_REDIAL_WAIT_FAST_MS while one of them is younger than
 * IPC_REDIAL_WAIT_FAST_FOR_MS, else every IPC_REDIAL_WAIT_SLOW_MS, and
 * dials each once its file exists. Not on nng's timers: their thread
 * spins on the clock for deadlines this short.
 *
 * A dialer replaced while its connection was still in the handshake can
 * complete that connection after the new dialer's: the client would then
 * hold two connections to the server. A pipe of any dialer but the
 * current one is closed before it joins the socket (after its handshake,
 * so no listener sees a connection dropped mid-handshake).
 *
 * Tried and dropped: each attempt as one blocking nng_dialer_start on a
 * short thread, no nng timer at all. In nng 1.5.2 a dialer closed just as
 * its blocking start begins (nng_close of the socket) leaves the start
 * waiting for good: nni_aio_begin returns without completing an aio
 * stopped before it began. With closes held off while an attempt ran,
 * nng_close still hung now and then under load, its reaper thread
 * waiting on a dialer's aio. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/ipc_internal.h"
#include "lib/log.h"
#include "lib/util.h"

#define IPC_REDIAL_CHECK_MS	    250
#define IPC_REDIAL_FROZEN_MS	    2000
#define IPC_REDIAL_WAIT_FAST_MS	    1
#define IPC_REDIAL_WAIT_FAST_FOR_MS 2000
#define IPC_REDIAL_WAIT_SLOW_MS	    50
#define IPC_REDIAL_PIPES_MAX	    8

static _Atomic unsigned redial_after_ms = 12000;

void ipc_redial_set_after_ms(unsigned ms)
{
	atomic_store(&redial_after_ms, ms);
}

struct ipc_redial {
	nng_socket sock;
	char url[256];
	const char *path; /* inside url */
	pthread_mutex_t lock;
	nng_dialer dialer;
	_Atomic uint32_t dialer_id; /* the current dialer's; 0: none yet */
	nng_aio *timer;
	int pipes;
	uint32_t added[IPC_REDIAL_PIPES_MAX]; /* ids of the pipes counted */
	unsigned untracked;
	bool armed, closing;
	bool waiting; /* for the socket file: no dialer yet */
	struct ipc_redial *next_waiting; /* under wait_lock */
	uint64_t opened_ns, dialed_ns;
	uint64_t attempts, moved_ns; /* the dialer's counters, last change */
	_Atomic uint64_t redials;
	ipc_peer_fn on_peer; /* under lock */
	void *on_peer_arg;
};

/* The sum of the dialer's attempt counters; UINT64_MAX if unknown. */
static uint64_t redial_attempts(nng_dialer d)
{
	static const char *const names[] = { "connect",	   "refused",
					     "disconnect", "canceled",
					     "other",	   "timeout",
					     "proto",	   "reject" };
	uint64_t sum = 0;
	nng_stat *all, *ds;

	if (nng_stats_get(&all) != 0)
		return UINT64_MAX;
	ds = nng_stat_find_dialer(all, d);
	for (size_t i = 0; ds != NULL && i < sizeof(names) / sizeof(*names);
	     i++) {
		nng_stat *c = nng_stat_find(ds, names[i]);

		if (c != NULL)
			sum += nng_stat_value(c);
	}
	nng_stats_free(all);
	return ds != NULL ? sum : UINT64_MAX;
}

/* Lock held, no pipe: true when the dialer made no attempt for a while. */
static bool redial_frozen(struct ipc_redial *r, uint64_t now)
{
	uint64_t n = redial_attempts(r->dialer);

	if (n == UINT64_MAX || n != r->attempts) {
		r->attempts = n;
		r->moved_ns = now;
		return false;
	}
	return now - r->moved_ns >= IPC_REDIAL_FROZEN_MS * UTIL_NS_PER_MS;
}

static int redial_dial(struct ipc_redial *r)
{
	int rv;

	r->dialed_ns = r->moved_ns = util_now_ns();
	r->attempts = UINT64_MAX;
	rv = nng_dialer_create(&r->dialer, r->sock, r->url);
	if (rv != 0)
		return rv;
	/* known before its first pipe can come */
	atomic_store(&r->dialer_id, (uint32_t)nng_dialer_id(r->dialer));
	return nng_dialer_start(r->dialer, NNG_FLAG_NONBLOCK);
}

/* Lock held. */
static void redial_arm(struct ipc_redial *r)
{
	if (r->armed || r->closing || r->waiting)
		return;
	r->armed = true;
	nng_sleep_aio(IPC_REDIAL_CHECK_MS, r->timer);
}

/* The waiter: the redials whose socket file does not exist yet. Lock
 * order: wait_lock, then a redial's lock. */
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond;
static struct ipc_redial *wait_list;
static bool wait_started;

/* wait_lock held: dials r if its socket exists; true when r is done. */
static bool redial_wait_one(struct ipc_redial *r)
{
	struct stat st;
	bool done = true;

	pthread_mutex_lock(&r->lock);
	if (!r->closing && stat(r->path, &st) != 0)
		done = false;
	else if (!r->closing) {
		r->waiting = false;
		if (redial_dial(r) != 0)
			log_warnx("ipc: dial %s failed", r->url);
		redial_arm(r);
	}
	pthread_mutex_unlock(&r->lock);
	return done;
}

static void *redial_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wait_lock);
	for (;;) {
		uint64_t now = util_now_ns(), ms = IPC_REDIAL_WAIT_SLOW_MS;
		struct timespec until;

		for (struct ipc_redial **pp = &wait_list; *pp != NULL;) {
			struct ipc_redial *r = *pp;

			if (redial_wait_one(r)) {
				*pp = r->next_waiting;
				continue;
			}
			if (now - r->opened_ns <
			    IPC_REDIAL_WAIT_FAST_FOR_MS * UTIL_NS_PER_MS)
				ms = IPC_REDIAL_WAIT_FAST_MS;
			pp = &r->next_waiting;
		}
		if (wait_list == NULL) {
			pthread_cond_wait(&wait_cond, &wait_lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)(ms * UTIL_NS_PER_MS);
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&wait_cond, &wait_lock, &until);
	}
	return NULL;
}

/* Puts r (waiting, not locked) in the waiter's list; 0 or nng error. */
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
		r->next_waiting = wait_list;
		wait_list = r;
		pthread_cond_signal(&wait_cond);
	}
	pthread_mutex_unlock(&wait_lock);
	return rv;
}

/* Takes r out of the waiter's list: the waiter is not using it after. */
static void redial_wait_remove(struct ipc_redial *r)
{
	pthread_mutex_lock(&wait_lock);
	for (struct ipc_redial **pp = &wait_list; *pp != NULL;
	     pp = &(*pp)->next_waiting)
		if (*pp == r) {
			*pp = r->next_waiting;
			break;
		}
	pthread_mutex_unlock(&wait_lock);
}

static void redial_tick(void *arg)
{
	struct ipc_redial *r = arg;
	uint64_t now;

	pthread_mutex_lock(&r->lock);
	r->armed = false;
	if (r->closing || r->pipes > 0 ||
	    r->waiting) { /* waiting: the waiter dials */
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (nng_aio_result(r->timer) != 0) {
		/* Canceled by a pipe that has gone again since: check anew. */
		if (nng_aio_result(r->timer) == NNG_ECANCELED)
			redial_arm(r);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	now = util_now_ns();
	if (redial_frozen(r, now) ||
	    now - r->dialed_ns >=
		atomic_load(&redial_after_ms) * UTIL_NS_PER_MS) {
		nng_dialer_close(r->dialer);
		if (redial_dial(r) != 0)
			log_warnx("ipc: redial %s failed", r->url);
		atomic_fetch_add(&r->redials, 1);
	}
	redial_arm(r);
	pthread_mutex_unlock(&r->lock);
}

/* Before a pipe joins the socket: a replaced dialer's late connection
 * does not. No lock: nng_dialer_close may wait for this callback. */
static void redial_pipe_pre(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct ipc_redial *r = arg;
	nng_dialer d = nng_pipe_dialer(pipe);
	uint32_t cur = atomic_load(&r->dialer_id);

	(void)ev;
	if (cur != 0 && nng_dialer_id(d) > 0 &&
	    (uint32_t)nng_dialer_id(d) != cur)
		nng_pipe_close(pipe);
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
	bool add = ev == NNG_PIPE_EV_ADD_POST;

	pthread_mutex_lock(&r->lock);
	if (!redial_track(r, pipe, add)) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (add) {
		/* The check has nothing to do while there is a pipe; left to
		 * expire it would cost nng's timer thread a millisecond of
		 * CPU: nng 1.5.2's thread spins on its millisecond clock until
		 * it passes a deadline. The tick sees the cancellation. */
		if (r->pipes++ == 0 && r->armed)
			nng_aio_cancel(r->timer);
	} else if (r->pipes > 0 && --r->pipes == 0) {
		/* The peer went away: its next instance gets a fresh wait. */
		r->dialed_ns = r->moved_ns = util_now_ns();
		r->attempts = UINT64_MAX;
		redial_arm(r);
	}
	if (r->on_peer != NULL && !r->closing)
		r->on_peer(r->on_peer_arg, ev == NNG_PIPE_EV_ADD_POST);
	pthread_mutex_unlock(&r->lock);
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
	struct stat st;

	*rv = NNG_ENOMEM;
	if (r == NULL)
		return NULL;
	r->sock = s;
	pthread_mutex_init(&r->lock, NULL);
	if ((size_t)snprintf(r->url, sizeof(r->url), "ipc://%s", path) >=
	    sizeof(r->url)) {
		*rv = NNG_EINVAL;
		goto fail;
	}
	r->path = r->url + strlen("ipc://");
	if ((*rv = nng_aio_alloc(&r->timer, redial_tick, r)) != 0 ||
	    (*rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, redial_pipe_pre,
				   r)) != 0 ||
	    (*rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, redial_pipe_event,
				   r)) != 0 ||
	    (*rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, redial_pipe_event,
				   r)) != 0)
		goto fail;
	r->opened_ns = util_now_ns();
	if (stat(r->path, &st) != 0) {
		r->waiting = true; /* the server is not up yet */
		if ((*rv = redial_wait_add(r)) == 0)
			return r;
		goto fail;
	}
	pthread_mutex_lock(&r->lock);
	*rv = redial_dial(r);
	if (*rv == 0)
		redial_arm(r);
	pthread_mutex_unlock(&r->lock);
	if (*rv == 0)
		return r;
fail:
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, NULL, NULL);
	nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, NULL, NULL);
	if (r->timer != NULL)
		nng_aio_free(r->timer);
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
	redial_wait_remove(r);	/* the waiter is done with it */
	nng_aio_stop(r->timer); /* no tick runs after this */
	nng_close(r->sock);	/* nor any pipe event */
	nng_aio_free(r->timer);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

uint64_t ipc_redial_count(const struct ipc_redial *r)
{
	return r ? atomic_load(&r->redials) : 0;
}
