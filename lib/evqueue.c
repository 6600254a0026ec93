/* The eventfd work queue (evqueue.h). The eventfd counts wake-ups in
 * semaphore mode, so each read takes one and several threads may serve
 * one queue; an item is linked before its count is written, so a taken
 * count always finds its item (or a kick's none). */
#include "lib/evqueue.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int evqueue_init(struct evqueue *q, unsigned max)
{
	q->head = NULL;
	q->tail = &q->head;
	q->queued = 0;
	q->max = max;
	q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	if (q->fd < 0)
		return -1;
	pthread_mutex_init(&q->lock, NULL);
	return 0;
}

void evqueue_destroy(struct evqueue *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	pthread_mutex_destroy(&q->lock);
}

void evqueue_kick(struct evqueue *q)
{
	uint64_t one = 1;

	/* EAGAIN only at 2^64-2 pending wake-ups: the loop wakes anyway. */
	while (write(q->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

int evqueue_push(struct evqueue *q, struct evqueue_item *it)
{
	int full;

	it->next = NULL;
	pthread_mutex_lock(&q->lock);
	full = q->max != 0 && q->queued >= q->max;
	if (!full) {
		*q->tail = it;
		q->tail = &it->next;
		q->queued++;
	}
	pthread_mutex_unlock(&q->lock);
	if (full)
		return -1;
	evqueue_kick(q);
	return 0;
}

int evqueue_fd(const struct evqueue *q)
{
	return q->fd;
}

struct evqueue_item *evqueue_take(struct evqueue *q, int *woken)
{
	struct evqueue_item *it;
	uint64_t count;

	*woken = read(q->fd, &count, sizeof(count)) == sizeof(count);
	if (!*woken)
		return NULL; /* EAGAIN: nothing pending */
	pthread_mutex_lock(&q->lock);
	it = q->head;
	if (it != NULL) {
		q->head = it->next;
		if (q->head == NULL)
			q->tail = &q->head;
		q->queued--;
	}
	pthread_mutex_unlock(&q->lock);
	return it;
}

unsigned evqueue_run(struct evqueue *q, void *ctx)
{
	struct evqueue_item *it;
	unsigned n = 0;
	int woken;

	while ((it = evqueue_take(q, &woken)) != NULL || woken) {
		n++;
		if (it != NULL)
			it->run(it, ctx);
	}
	return n;
}
