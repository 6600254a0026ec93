/* The guest console: bounded output and input rings between the UART
 * (VP threads) and the console's user (stdout, or hostcomm later), with a
 * thread that hands output to a sink in batches. */
#ifndef PARAPET_CONSOLE_H
#define PARAPET_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/evqueue.h"
#include "services/vmworker/uart.h"

#define CONSOLE_OUT_SIZE (256u * 1024) /* power of two */
#define CONSOLE_IN_SIZE	 4096u	       /* power of two */

typedef void (*console_sink_fn)(void *ctx, const uint8_t *data, size_t len);

struct console_ring {
	uint8_t *buf;
	size_t size;
	_Atomic size_t head; /* producer position */
	_Atomic size_t tail; /* consumer position */
	atomic_flag lock;    /* serialises producers (several VPs) */
};

struct console {
	struct console_ring out, in;
	console_sink_fn sink;
	void *sink_ctx;
	pthread_t flusher;
	bool flusher_started;
	_Atomic bool stopping;
	_Atomic uint64_t bytes_out, bytes_in;
	struct evqueue *wake;	   /* kicked by the next byte out once armed */
	_Atomic bool wake_armed;   /* under out.lock */
	struct evqueue flush_wake; /* standalone: the flusher's */
};

int console_init(struct console *c, console_sink_fn sink, void *sink_ctx);
/* Starts the flusher thread (it sleeps until output comes). */
int console_start(struct console *c);
/* Stops the flusher after handing every buffered byte to the sink. */
void console_stop(struct console *c);
void console_destroy(struct console *c);

/* Feeds host input; returns how many bytes fit (the rest: try later). */
size_t console_input(struct console *c, const uint8_t *data, size_t len);

/* The UART backend over this console. */
void console_uart_backend(struct console *c, struct uart_backend *be);

/* Service mode (no flusher): the output ring is the stream of console
 * bytes not yet acknowledged by hostcomm; ring positions are stream
 * offsets. */
uint64_t console_out_tail(const struct console *c); /* oldest kept byte */
uint64_t console_out_head(const struct console *c); /* next byte */
/* Forgets the bytes below ack when it lies in [tail, head]. */
void console_out_ack(struct console *c, uint64_t ack);
/* Copies up to max bytes from the tail; returns the count and, in
 * *offset, the stream offset of the first (the tail read once: an ack
 * racing with the copy must not shift the numbering). */
size_t console_out_peek(const struct console *c, uint8_t *buf, size_t max,
			uint64_t *offset);
/* A fresh instance's stream continues the host's numbering (the host has
 * bytes of an instance that died): when offset lies past the tail, the
 * buffered bytes are renumbered from offset. Producers may run; the
 * consumer must not. True when it renumbered. */
bool console_out_rebase(struct console *c, uint64_t offset);
/* The queue the first byte out after console_out_arm kicks (service
 * mode: the loop answering ConsoleTake sleeps until then). */
void console_out_notify(struct console *c, struct evqueue *q);
/* Arms the kick; look at the ring after arming, not before. */
void console_out_arm(struct console *c);
/* Starts the stream at offset (a restored VM continues its numbering). */
void console_out_set_offset(struct console *c, uint64_t offset);

/* Copies up to cap unconsumed bytes of r without consuming them (for the
 * saved state: the producer must be stopped; a consumer may advance the
 * tail meanwhile). Returns the count and, when from is not NULL, the
 * tail the copy started at. */
size_t console_ring_peek(const struct console_ring *r, uint8_t *out, size_t cap,
			 uint64_t *from);

/* Ring primitives, exposed for tests. */
bool console_ring_put(struct console_ring *r, uint8_t byte);
bool console_ring_get(struct console_ring *r, uint8_t *byte);
size_t console_ring_used(const struct console_ring *r);

#endif
