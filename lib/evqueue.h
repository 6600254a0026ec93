/* A work queue that wakes one poll loop (STYLE.md: one event loop per
 * process): a thread with work for the loop (an nng handler, a helper
 * thread) pushes an item, and the queue's eventfd becomes readable; the
 * loop runs the items in order. init's control requests and each
 * service's loop (lib/svcbase.h) go through one. */
#ifndef PARAPET_EVQUEUE_H
#define PARAPET_EVQUEUE_H

#include <pthread.h>

struct evqueue_item {
	struct evqueue_item *next;
	/* Runs the item on the loop's thread; it owns the item then. */
	void (*run)(struct evqueue_item *it, void *ctx);
};

struct evqueue {
	pthread_mutex_t lock;
	struct evqueue_item *head, **tail;
	unsigned queued, max;
	int fd; /* eventfd, semaphore mode: one count per push or kick */
};

/* max: items queued at most (0: no bound). 0, or -1 (errno). */
int evqueue_init(struct evqueue *q, unsigned max);
void evqueue_destroy(struct evqueue *q);

/* Queues it and wakes the loop; -1 when the queue is full (the caller
 * still owns it). Any thread. */
int evqueue_push(struct evqueue *q, struct evqueue_item *it);
/* Wakes the loop without an item: it looks at its state again (for
 * state other threads change, such as data arriving). Any thread; also
 * safe where nothing but write(2) is allowed. */
void evqueue_kick(struct evqueue *q);

/* The fd to poll for POLLIN. */
int evqueue_fd(const struct evqueue *q);
/* Takes one wake-up: the oldest item, or NULL after a kick or when
 * nothing is queued (*woken tells which: 1 after a wake-up, 0 when
 * none was pending). Several threads may take from one queue. */
struct evqueue_item *evqueue_take(struct evqueue *q, int *woken);
/* Runs every item queued now (the loop calls it on POLLIN); the count of
 * wake-ups taken. */
unsigned evqueue_run(struct evqueue *q, void *ctx);

#endif
