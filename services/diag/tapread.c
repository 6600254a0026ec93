/* A trace tap read without nng: the IPC framing of nng's pub0 -> sub0 (see
 * tapread.h), a state machine over non-blocking reads. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "services/diag/tapread.h"

#define SP_PROTO_SUB0 0x21
#define SP_PROTO_PUB0 0x20

void tapread_adopt(struct tapread *r, int fd, size_t max)
{
	*r = (struct tapread){ .fd = fd, .max = max };
	fcntl(fd, F_SETFL, O_NONBLOCK);
}

int tapread_connect(struct tapread *r, const char *path, size_t max)
{
	static const uint8_t hello[8] = {
		0, 'S', 'P', 0, 0, SP_PROTO_SUB0, 0, 0
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	*r = (struct tapread){ .fd = -1, .max = max };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, hello, sizeof(hello)) != (ssize_t)sizeof(hello)) {
		close(fd);
		return -1;
	}
	tapread_adopt(r, fd, max);
	return 0;
}

void tapread_close(struct tapread *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	*r = (struct tapread){ .fd = -1 };
}

/* A whole header or message arrived: the next state. -1 to close. */
static int tapread_step(struct tapread *r, tapread_fn fn, void *arg)
{
	uint64_t len;

	if (!r->hello_done) {
		if (memcmp(r->head, "\0SP\0", 4) || r->head[4] != 0 ||
		    r->head[5] != SP_PROTO_PUB0)
			return -1;
		r->hello_done = true;
		return 0;
	}
	if (r->buf != NULL) {
		fn(r->buf, r->need, arg);
		free(r->buf);
		r->buf = NULL;
		return 0;
	}
	memcpy(&len, r->head + 1, 8);
	len = be64toh(len);
	if (r->head[0] != 1 || len > r->max)
		return -1;
	if (len == 0) {
		fn(r->head, 0, arg);
		return 0;
	}
	if ((r->buf = malloc(len)) == NULL)
		return -1;
	r->need = (size_t)len;
	return 0;
}

int tapread_feed(struct tapread *r, tapread_fn fn, void *arg)
{
	for (;;) {
		size_t want = !r->hello_done ? 8 : r->buf ? r->need : 9;
		uint8_t *dst = r->buf ? r->buf : r->head;
		ssize_t n = read(r->fd, dst + r->got, want - r->got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		if ((r->got += (size_t)n) < want)
			continue;
		r->got = 0;
		if (tapread_step(r, fn, arg) != 0)
			return -1;
	}
}
