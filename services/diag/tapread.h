/* diagd's reader of one trace tap: a plain AF_UNIX client of an nng pub0
 * socket speaking nng's IPC framing (an 8-byte SP header each way, then
 * per message a type byte 1 and a 64-bit big-endian length), so that a
 * publisher hanging up never reaches nng 1.5.2's poller (see README). */
#ifndef PARAPET_DIAG_TAPREAD_H
#define PARAPET_DIAG_TAPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tapread {
	int fd; /* -1: not connected */
	size_t got;
	uint8_t head[9];
	bool hello_done;
	uint8_t *buf;
	size_t need, max;
};

/* Called for each whole message (a packed TraceFrame). */
typedef void (*tapread_fn)(const uint8_t *data, size_t len, void *arg);

/* Connects to the pub socket at path and sends the sub0 header; messages
 * over max bytes close the connection. 0, or -1 (r->fd stays -1). */
int tapread_connect(struct tapread *r, const char *path, size_t max);
/* Starts a reader on an fd that is already connected (tests). */
void tapread_adopt(struct tapread *r, int fd, size_t max);
/* Reads what the (non-blocking) fd has, calling fn per message. 0, or -1
 * when the connection must be closed (hang-up, bad framing, too big). */
int tapread_feed(struct tapread *r, tapread_fn fn, void *arg);
void tapread_close(struct tapread *r);

#endif
