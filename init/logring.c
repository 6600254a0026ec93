/* The per-service log ring: the tail of a service's stderr, for Logs. */
#include <string.h>

#include "init/init.h"

void logring_write(struct logring *r, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (len > LOGRING_SIZE) {
		r->written += len - LOGRING_SIZE;
		p += len - LOGRING_SIZE;
		len = LOGRING_SIZE;
	}
	while (len > 0) {
		size_t off = r->written % LOGRING_SIZE;
		size_t n = LOGRING_SIZE - off < len ? LOGRING_SIZE - off : len;

		memcpy(r->buf + off, p, n);
		r->written += n;
		p += n;
		len -= n;
	}
}

size_t logring_tail(const struct logring *r, uint8_t *out, size_t max)
{
	size_t have =
	    r->written < LOGRING_SIZE ? (size_t)r->written : LOGRING_SIZE;
	size_t n = have < max ? have : max;
	uint64_t start = r->written - n;

	for (size_t i = 0; i < n;) {
		size_t off = (start + i) % LOGRING_SIZE;
		size_t chunk =
		    LOGRING_SIZE - off < n - i ? LOGRING_SIZE - off : n - i;

		memcpy(out + i, r->buf + off, chunk);
		i += chunk;
	}
	return n;
}

uint64_t logring_dropped(const struct logring *r)
{
	return r->written > LOGRING_SIZE ? r->written - LOGRING_SIZE : 0;
}
