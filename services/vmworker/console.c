/* Console rings and the output flusher. Producers (VP threads) take a
 * spinlock held for one byte; the single consumer locks only to arm the
 * kick of its next byte before it sleeps. */
#include "services/vmworker/console.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ring_init(struct console_ring *r, size_t size)
{
	r->buf = malloc(size);
	if (r->buf == NULL)
		return -1;
	r->size = size;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_flag_clear(&r->lock);
	return 0;
}

size_t console_ring_used(const struct console_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

static void ring_lock(struct console_ring *r)
{
	while (
	    atomic_flag_test_and_set_explicit(&r->lock, memory_order_acquire))
		;
}

static void ring_unlock(struct console_ring *r)
{
	atomic_flag_clear_explicit(&r->lock, memory_order_release);
}

/* Producers' lock held. */
static bool ring_put_locked(struct console_ring *r, uint8_t byte)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (head - atomic_load_explicit(&r->tail, memory_order_acquire) >=
	    r->size)
		return false;
	r->buf[head & (r->size - 1)] = byte;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return true;
}

bool console_ring_put(struct console_ring *r, uint8_t byte)
{
	bool ok;

	ring_lock(r);
	ok = ring_put_locked(r, byte);
	ring_unlock(r);
	return ok;
}

/* Input has several consumers (any VP may read the UART): lock as well. */
bool console_ring_get(struct console_ring *r, uint8_t *byte)
{
	size_t tail;
	bool ok = false;

	while (
	    atomic_flag_test_and_set_explicit(&r->lock, memory_order_acquire))
		;
	tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (tail != atomic_load_explicit(&r->head, memory_order_acquire)) {
		*byte = r->buf[tail & (r->size - 1)];
		atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
		ok = true;
	}
	atomic_flag_clear_explicit(&r->lock, memory_order_release);
	return ok;
}

size_t console_ring_peek(const struct console_ring *r, uint8_t *out, size_t cap,
			 uint64_t *from)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t n = atomic_load_explicit(&r->head, memory_order_acquire) - tail;
	size_t i;

	if (from != NULL)
		*from = tail;

	if (n > cap)
		n = cap;
	for (i = 0; i < n; i++)
		out[i] = r->buf[(tail + i) & (r->size - 1)];
	return n;
}

uint64_t console_out_tail(const struct console *c)
{
	return atomic_load_explicit(&c->out.tail, memory_order_acquire);
}

uint64_t console_out_head(const struct console *c)
{
	return atomic_load_explicit(&c->out.head, memory_order_acquire);
}

void console_out_ack(struct console *c, uint64_t ack)
{
	uint64_t tail = console_out_tail(c);

	if (ack > tail && ack <= console_out_head(c)) {
		atomic_store_explicit(&c->out.tail, ack, memory_order_release);
		atomic_fetch_add(&c->bytes_out, ack - tail);
	}
}

size_t console_out_peek(const struct console *c, uint8_t *buf, size_t max,
			uint64_t *offset)
{
	return console_ring_peek(&c->out, buf, max, offset);
}

bool console_out_rebase(struct console *c, uint64_t offset)
{
	struct console_ring *r = &c->out;
	uint8_t *moved;
	size_t tail, n, i;
	bool done = false;

	moved = malloc(r->size);
	if (moved == NULL)
		return false;
	while (
	    atomic_flag_test_and_set_explicit(&r->lock, memory_order_acquire))
		;
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	n = atomic_load_explicit(&r->head, memory_order_relaxed) - tail;
	if (offset > tail) {
		/* The buffered bytes keep their order at their new numbers. */
		for (i = 0; i < n; i++)
			moved[i] = r->buf[(tail + i) & (r->size - 1)];
		for (i = 0; i < n; i++)
			r->buf[(offset + i) & (r->size - 1)] = moved[i];
		atomic_store_explicit(&r->tail, offset, memory_order_release);
		atomic_store_explicit(&r->head, offset + n,
				      memory_order_release);
		done = true;
	}
	atomic_flag_clear_explicit(&r->lock, memory_order_release);
	free(moved);
	return done;
}

void console_out_set_offset(struct console *c, uint64_t offset)
{
	atomic_store(&c->out.head, offset);
	atomic_store(&c->out.tail, offset);
}

int console_init(struct console *c, console_sink_fn sink, void *sink_ctx)
{
	memset(c, 0, sizeof(*c));
	if (ring_init(&c->out, CONSOLE_OUT_SIZE) != 0 ||
	    ring_init(&c->in, CONSOLE_IN_SIZE) != 0) {
		free(c->out.buf);
		return -1;
	}
	c->sink = sink;
	c->sink_ctx = sink_ctx;
	return 0;
}

/* Hands the buffered output to the sink in at most two contiguous runs. */
static size_t console_drain(struct console *c)
{
	struct console_ring *r = &c->out;
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t n = head - tail, done = 0;

	while (done < n) {
		size_t off = (tail + done) & (r->size - 1);
		size_t run = r->size - off;

		if (run > n - done)
			run = n - done;
		c->sink(c->sink_ctx, r->buf + off, run);
		done += run;
	}
	atomic_store_explicit(&r->tail, head, memory_order_release);
	atomic_fetch_add(&c->bytes_out, n);
	return n;
}

/* Bytes gather this long after the first before the flusher writes them:
 * a line goes in one write, and a VP pays one kick per batch at most. */
#define CONSOLE_BATCH_NS 1000000

/* Sleeps until the next byte out (its kick) or console_stop. */
static void console_flusher_wait(struct console *c)
{
	struct pollfd p = { .fd = evqueue_fd(&c->flush_wake),
			    .events = POLLIN };

	if (console_ring_used(&c->out) == 0) {
		console_out_arm(c);
		if (console_ring_used(&c->out) == 0 &&
		    !atomic_load(&c->stopping))
			poll(&p, 1, -1);
	}
	evqueue_run(&c->flush_wake, NULL); /* takes the kicks (no items) */
}

static void *console_flusher(void *arg)
{
	struct console *c = arg;
	const struct timespec batch = { 0, CONSOLE_BATCH_NS };

	while (!atomic_load(&c->stopping)) {
		console_flusher_wait(c);
		if (!atomic_load(&c->stopping))
			nanosleep(&batch, NULL);
		console_drain(c);
	}
	console_drain(c);
	return NULL;
}

/* Standalone: the flusher hands output to the sink; the first byte after
 * it armed the kick wakes it (as the service's loop, console_out_notify). */
int console_start(struct console *c)
{
	int rc;

	if (evqueue_init(&c->flush_wake, 0) != 0)
		return -1;
	c->wake = &c->flush_wake;
	rc = pthread_create(&c->flusher, NULL, console_flusher, c);
	if (rc != 0) {
		c->wake = NULL;
		evqueue_destroy(&c->flush_wake);
		errno = rc;
		return -1;
	}
	c->flusher_started = true;
	return 0;
}

/* The UART has stopped (the VM ended): no byte kicks after this. */
void console_stop(struct console *c)
{
	if (!c->flusher_started) {
		console_drain(c);
		return;
	}
	atomic_store(&c->stopping, true);
	evqueue_kick(&c->flush_wake);
	pthread_join(c->flusher, NULL);
	c->flusher_started = false;
	c->wake = NULL;
	evqueue_destroy(&c->flush_wake);
}

void console_destroy(struct console *c)
{
	free(c->out.buf);
	free(c->in.buf);
	c->out.buf = c->in.buf = NULL;
}

size_t console_input(struct console *c, const uint8_t *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!console_ring_put(&c->in, data[i]))
			break;
	atomic_fetch_add(&c->bytes_in, i);
	return i;
}

void console_out_notify(struct console *c, struct evqueue *q)
{
	c->wake = q;
}

/* Under the producers' lock, as be_tx looks at it: a byte put after the
 * arm sees it, or the consumer's next look at the ring sees the byte. */
void console_out_arm(struct console *c)
{
	ring_lock(&c->out);
	atomic_store_explicit(&c->wake_armed, true, memory_order_relaxed);
	ring_unlock(&c->out);
}

/* A VP thread: one relaxed load per byte, a write(2) only for the first
 * byte after the consumer armed the kick. */
static bool be_tx(void *ctx, uint8_t byte)
{
	struct console *c = ctx;
	bool ok, kick = false;

	ring_lock(&c->out);
	ok = ring_put_locked(&c->out, byte);
	if (ok && c->wake != NULL &&
	    atomic_load_explicit(&c->wake_armed, memory_order_relaxed)) {
		atomic_store_explicit(&c->wake_armed, false,
				      memory_order_relaxed);
		kick = true;
	}
	ring_unlock(&c->out);
	if (kick)
		evqueue_kick(c->wake);
	return ok;
}

/* THRE promises room for a whole FIFO load, as a 16550A's empty FIFO. */
static bool be_tx_ready(void *ctx)
{
	struct console *c = ctx;

	return console_ring_used(&c->out) + UART_FIFO_SIZE <= c->out.size;
}

static bool be_rx(void *ctx, uint8_t *byte)
{
	struct console *c = ctx;

	return console_ring_get(&c->in, byte);
}

static bool be_rx_ready(void *ctx)
{
	struct console *c = ctx;

	return console_ring_used(&c->in) > 0;
}

void console_uart_backend(struct console *c, struct uart_backend *be)
{
	be->tx = be_tx;
	be->tx_ready = be_tx_ready;
	be->rx = be_rx;
	be->rx_ready = be_rx_ready;
	be->ctx = c;
}
