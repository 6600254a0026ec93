/* The listener watchdog. nng 1.5.2's ipc listener stops accepting for
 * good when a peer closes a connection before or during the SP handshake
 * (upstream issue 1518; a plain connect-and-close is enough), and any
 * local process that can reach a socket can do that. So a thread checks,
 * every IPC_WATCH_PERIOD_MS, that each listener still answers an SP
 * hello, and re-creates (unlink, bind, listen) one that gave none within
 * IPC_WATCH_DEADLINE_MS. A probe that became a pipe of the socket is
 * closed at once: both ends are past the handshake then, and a closed
 * connection is harmless (the server holds no socket of its own probe
 * between rounds: a count of its descriptors is the same whenever it is
 * taken). One that did not is kept open until the next round and only
 * then closed: closing a connection during the handshake is the bug
 * itself. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/ipc_internal.h"
#include "lib/log.h"
#include "lib/util.h"

#define IPC_WATCH_PERIOD_MS   1000
#define IPC_WATCH_DEADLINE_MS 3000

struct ipc_watch {
	char *name;
	nng_socket sock;
	struct ipc_listen_slot *slots;
	size_t n;
	pthread_mutex_t *lock;
	const _Atomic uint64_t *own_pipes;
	size_t (*pipes_of)(void *owner, int listener); /* lock held */
	void *owner;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	_Atomic bool stop; /* also read, without the lock, inside a probe */
	pthread_t thread;
	_Atomic uint64_t recreated;
};

/* The SP-over-IPC hello: 0, 'S', 'P', version 0, the sender's protocol
 * (16 bits, big endian), two reserved bytes. A rep0 listener (0x31)
 * answers a req0 peer (0x30) with its own. */
static const uint8_t hello_req0[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };

/* Reads n bytes from the nonblocking fd until deadline_ns; gives up at
 * once when the watchdog is told to stop (a service about to exit must
 * not wait out a probe: init kills it 5 s after SIGTERM). */
static bool read_until(const struct ipc_watch *w, int fd, uint8_t *buf,
		       size_t n, uint64_t deadline_ns)
{
	size_t got = 0;

	while (got < n) {
		uint64_t now = util_now_ns();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (now >= deadline_ns || atomic_load(&w->stop) ||
		    poll(&p, 1, 50) < 0)
			return false;
		r = read(fd, buf + got, n - got);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return false;
		if (r > 0)
			got += (size_t)r;
	}
	return true;
}

/* Waits until the socket has added a pipe of ours past before. */
static bool pipe_added(const struct ipc_watch *w, uint64_t before,
		       uint64_t deadline_ns)
{
	while (atomic_load(w->own_pipes) <= before) {
		if (util_now_ns() >= deadline_ns || atomic_load(&w->stop))
			return false;
		usleep(2000);
	}
	return true;
}

/* Whether a connection to the listener at path becomes a pipe of the
 * socket: the transport answers the hello even when frozen; it is the
 * hand-over to the socket that stops. A connection that did not is left
 * in *keep_fd (-1 otherwise). */
static bool probe(const struct ipc_watch *w, const char *path, int *keep_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = util_deadline_ns(IPC_WATCH_DEADLINE_MS);
	uint64_t before = atomic_load(w->own_pipes);
	uint8_t peer[8];
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return true; /* nothing to check */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return true; /* cannot tell: no verdict */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    send(fd, hello_req0, sizeof(hello_req0), MSG_NOSIGNAL) !=
		sizeof(hello_req0) ||
	    !read_until(w, fd, peer, sizeof(peer), deadline) ||
	    memcmp(peer, hello_req0, 4) != 0 ||
	    !pipe_added(w, before, deadline)) {
		/* Left open: closing now, mid-handshake, is what freezes. */
		*keep_fd = fd;
		return false;
	}
	close(fd); /* a pipe of the socket: past the handshake */
	return true;
}

/* Whether this process runs under a seccomp filter (which refuses the
 * chmod nng makes for NNG_OPT_IPC_PERMISSIONS). */
static bool filtered(void)
{
	char line[128];
	bool on = false;
	FILE *f = fopen("/proc/self/status", "re");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (!strncmp(line, "Seccomp:", 8))
			on = atoi(line + 8) != 0;
	if (f != NULL)
		fclose(f);
	return on;
}

/* Closes the retired listeners whose pipes are all gone; with no room
 * left, the oldest goes regardless (its pipes with it). Lock held. */
static void retire(struct ipc_watch *w, struct ipc_listen_slot *sl,
		   int room_for)
{
	for (int i = 0; i < IPC_RETIRED_MAX; i++) {
		nng_listener l = { (uint32_t)sl->retired[i] };

		if (sl->retired[i] == 0 ||
		    w->pipes_of(w->owner, sl->retired[i]))
			continue;
		nng_listener_close(l);
		sl->retired[i] = 0;
	}
	if (room_for == 0)
		return;
	if (sl->retired[IPC_RETIRED_MAX - 1] != 0) {
		nng_listener l = { (uint32_t)sl->retired[0] };

		nng_listener_close(l);
		sl->retired[0] = 0;
	}
	for (int i = 0; i < IPC_RETIRED_MAX; i++)
		if (sl->retired[i] == 0) {
			sl->retired[i] = room_for;
			return;
		}
}

/* Listens on the path anew (the new socket is renamed over the path, so
 * it never goes missing, see ipc_listen_path); the old listener is
 * retired, not closed: established connections work on through a frozen
 * listener, and closing it would end them (seen: hostcomm's connection to
 * host.sock never came back). A retired listener is closed once its pipes
 * are gone, or when IPC_RETIRED_MAX newer ones wait. Connections caught
 * in its hand-over stay stuck until it closes: a client that connected in
 * the few seconds before the watchdog acted times out once. Lock held.
 * Under a filter the socket's mode comes from the umask the sandbox set. */
static void recreate(struct ipc_watch *w, struct ipc_listen_slot *sl)
{
	nng_listener l;
	int rv;

	rv = ipc_listen_path(w->sock, sl->path,
			     filtered() ? IPC_MODE_UMASK : sl->mode, &sl->acl,
			     &l);
	if (rv != 0) {
		log_warnx("ipc %s: listener %s stopped accepting; listening "
			  "again failed: %s",
			  w->name, sl->path, nng_strerror(rv));
		return;
	}
	retire(w, sl, sl->id);
	sl->id = nng_listener_id(l);
	atomic_fetch_add(&w->recreated, 1);
	log_warnx("ipc %s: listener %s stopped accepting (a connection "
		  "dropped mid-handshake): listening anew",
		  w->name, sl->path);
}

static void watch_round(struct ipc_watch *w)
{
	for (size_t i = 0; i < w->n && !atomic_load(&w->stop); i++) {
		struct ipc_listen_slot *sl = &w->slots[i];
		int fd = -1, old = sl->probe_fd;
		bool ok = probe(w, sl->path, &fd);

		sl->probe_fd = fd;
		if (old >= 0)
			close(old); /* a round old: past any handshake */
		if (atomic_load(&w->stop))
			break; /* a probe cut short proves nothing */
		pthread_mutex_lock(w->lock);
		if (!ok)
			recreate(w, sl);
		else
			retire(w, sl, 0);
		pthread_mutex_unlock(w->lock);
	}
}

static void *watch_thread(void *arg)
{
	struct ipc_watch *w = arg;
	struct timespec until;

	pthread_mutex_lock(&w->wake_lock);
	while (!w->stop) {
		until = util_abstime_ns(CLOCK_MONOTONIC,
					IPC_WATCH_PERIOD_MS * UTIL_NS_PER_MS);
		pthread_cond_timedwait(&w->wake, &w->wake_lock, &until);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->wake_lock);
		watch_round(w);
		pthread_mutex_lock(&w->wake_lock);
	}
	pthread_mutex_unlock(&w->wake_lock);
	return NULL;
}

struct ipc_watch *ipc_watch_open(const char *name, nng_socket sock,
				 struct ipc_listen_slot *slots, size_t n,
				 pthread_mutex_t *lock,
				 const _Atomic uint64_t *own_pipes,
				 size_t (*pipes_of)(void *owner, int listener),
				 void *owner)
{
	struct ipc_watch *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (w == NULL || (w->name = strdup(name)) == NULL) {
		free(w);
		return NULL;
	}
	w->sock = sock;
	w->slots = slots;
	w->n = n;
	w->lock = lock;
	w->own_pipes = own_pipes;
	w->pipes_of = pipes_of;
	w->owner = owner;
	pthread_mutex_init(&w->wake_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->wake_lock);
		free(w->name);
		free(w);
		return NULL;
	}
	return w;
}

void ipc_watch_close(struct ipc_watch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->wake_lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->wake_lock);
	pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->n; i++)
		if (w->slots[i].probe_fd >= 0) {
			close(w->slots[i].probe_fd);
			w->slots[i].probe_fd = -1;
		}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->wake_lock);
	free(w->name);
	free(w);
}

uint64_t ipc_watch_recreated(const struct ipc_watch *w)
{
	return w ? atomic_load(&w->recreated) : 0;
}
