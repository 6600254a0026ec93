/* vmworker's watch over its disks' backends: see vblk_watch.h. The
 * thread polls every connected backend socket for a hang-up (it never
 * reads: requests and replies stay with whoever holds the device's
 * lock). A lost backend's socket is closed at once; the queue stays
 * "started" for the VPs, whose notifies land in the kick eventfd that
 * the next backend takes over, so none is lost. Then the thread dials
 * the disk's socket until the next instance listens (bounded) and hands
 * it the queue under the device's lock (vhost_front_restart). */
#include "services/vmworker/vblk_watch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/util.h"
#include "services/vmworker/virtio_blk.h"
#include "services/vmworker/vm.h"

#define WATCH_RETRY_MS 10 /* between dials while nobody listens */

static struct {
	struct vm *vm;
	pthread_t tid;
	bool running;
	int wake_fd; /* eventfd: a disk connected, or stop */
	atomic_bool stopping;
} W = { .wake_fd = -1 };

void vblk_watch_poke(void)
{
	uint64_t one = 1;

	if (W.wake_fd >= 0 && write(W.wake_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		log_debug("disk watch: wake: %s", strerror(errno));
}

static void watch_drain_wake(void)
{
	uint64_t v;

	if (read(W.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("disk watch: wake: %s", strerror(errno));
}

/* Whether the device's socket is still fd and has hung up (the number
 * polled may have been closed and reused meanwhile). Under the lock. */
static bool watch_hung_up(const struct vblk *b, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return b->front.sock == fd && poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

/* Waits (up to VBLK_RECONNECT_MS, or a stop) for the next backend of b.
 * Its socket, or -1 (also when the guest stopped the queue meanwhile: a
 * VP then connects at the next start, and a second connection here would
 * only hold up that one, blkd serving one at a time). */
static int watch_dial(struct vblk *b, uint64_t until)
{
	while (!atomic_load(&W.stopping) &&
	       __atomic_load_n(&b->front.started, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = W.wake_fd, .events = POLLIN };
		int fd = vhost_front_dial(b->front.path, 0);

		if (fd >= 0)
			return fd;
		if (util_now_ns() >= until)
			return -1;
		/* a poke does not end the wait (the set is built again
		 * after it); a stop does */
		if (poll(&p, 1, WATCH_RETRY_MS) > 0)
			watch_drain_wake();
	}
	return -1;
}

/* One attempt at the next backend: false to try again. *rc: 0 the queue
 * runs there, 1 it no longer needed to (the guest stopped it), -1 no
 * backend came. */
static bool watch_reconnect(struct vblk *b, uint64_t until, int *rc)
{
	int sock = watch_dial(b, until);

	if (sock < 0) {
		*rc = __atomic_load_n(&b->front.started, __ATOMIC_ACQUIRE) ? -1
									   : 1;
		return true;
	}
	pthread_mutex_lock(&b->lock);
	if (b->front.sock >= 0 || !b->front.started) {
		/* the guest reset the device meanwhile and a VP connected */
		pthread_mutex_unlock(&b->lock);
		close(sock);
		*rc = 1;
		return true;
	}
	*rc = vhost_front_restart(&b->front, W.vm, sock);
	if (*rc != 0) {
		/* the new instance went too, or refused: try the next one */
		log_warnx("disk %u: %s", b->index, b->front.error);
		vhost_front_lost(&b->front);
	}
	pthread_mutex_unlock(&b->lock);
	return *rc == 0 || util_now_ns() >= until || atomic_load(&W.stopping);
}

/* The backend behind dead hung up. */
static void watch_recover(struct vblk *b, int dead)
{
	uint64_t t0 = util_now_ns();
	uint64_t until = t0 + VBLK_RECONNECT_MS * 1000000ull;
	bool started, external;
	int rc;

	pthread_mutex_lock(&b->lock);
	if (!watch_hung_up(b, dead)) {
		pthread_mutex_unlock(&b->lock);
		return;
	}
	vhost_front_lost(&b->front);
	started = b->front.started;
	external = b->front.path[0] == '\0';
	if (started && external) {
		snprintf(b->front.error, sizeof(b->front.error),
			 "the backend closed the connection");
		virtio_blk_fail(b, "backend");
	}
	pthread_mutex_unlock(&b->lock);
	if (!started || external) {
		log_info("disk %u: backend gone%s", b->index,
			 external ? "" : ": reconnecting at the next start");
		return;
	}
	log_warnx("disk %u: backend gone: waiting for the next one", b->index);
	while (!watch_reconnect(b, until, &rc))
		;
	pthread_mutex_lock(&b->lock);
	if (rc < 0 && !atomic_load(&W.stopping)) {
		snprintf(b->front.error, sizeof(b->front.error),
			 "no backend at %s within %d ms", b->front.path,
			 VBLK_RECONNECT_MS);
		virtio_blk_fail(b, "backend");
	}
	pthread_mutex_unlock(&b->lock);
	if (rc == 0)
		log_info("disk %u: queue restarted in the new backend after "
			 "%llu us",
			 b->index,
			 (unsigned long long)((util_now_ns() - t0) / 1000));
}

/* The sockets to watch: p[1..] and their disks in who[]. */
static int watch_set(struct pollfd *p, struct vblk **who)
{
	int n = 1;

	p[0] = (struct pollfd){ .fd = W.wake_fd, .events = POLLIN };
	for (unsigned i = 0; i < GUEST_DISK_MAX; i++) {
		struct vblk *b = virtio_blk_get(W.vm, i);
		int fd;

		if (b == NULL || !b->front_ready)
			continue;
		pthread_mutex_lock(&b->lock);
		fd = b->front.sock;
		pthread_mutex_unlock(&b->lock);
		if (fd < 0)
			continue;
		who[n - 1] = b;
		p[n++] = (struct pollfd){ .fd = fd, .events = POLLRDHUP };
	}
	return n;
}

static void *watch_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&W.stopping)) {
		struct pollfd p[1 + GUEST_DISK_MAX];
		struct vblk *who[GUEST_DISK_MAX];
		int n = watch_set(p, who);

		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("disk watch: poll");
			break;
		}
		if (p[0].revents)
			watch_drain_wake();
		for (int i = 1; i < n && !atomic_load(&W.stopping); i++)
			if (p[i].revents &
			    (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))
				watch_recover(who[i - 1], p[i].fd);
	}
	return NULL;
}

int vblk_watch_start(struct vm *vm)
{
	bool any = false;

	for (unsigned i = 0; i < GUEST_DISK_MAX; i++)
		any |= virtio_blk_get(vm, i) != NULL;
	if (!any || W.running)
		return 0;
	W.vm = vm;
	atomic_store(&W.stopping, false);
	W.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (W.wake_fd < 0) {
		log_warn("disk watch: eventfd");
		return -1;
	}
	if (pthread_create(&W.tid, NULL, watch_thread, NULL) != 0) {
		log_warnx("disk watch: no thread");
		close(W.wake_fd);
		W.wake_fd = -1;
		return -1;
	}
	W.running = true;
	return 0;
}

void vblk_watch_stop(void)
{
	if (!W.running)
		return;
	atomic_store(&W.stopping, true);
	vblk_watch_poke();
	pthread_join(W.tid, NULL);
	close(W.wake_fd);
	W.wake_fd = -1;
	W.running = false;
}
