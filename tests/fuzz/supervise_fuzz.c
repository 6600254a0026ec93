/* libFuzzer harness for the supervisor channel's receive side
 * (lib/supervise.c, supervise_recv): the first byte says how many fds to
 * attach (0-3), the rest is one SOCK_SEQPACKET message as a hostile peer
 * would send it. Every outcome must leave no fd behind. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/supervise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FDS 2 /* below what a peer may attach: the overflow path */

static int sv[2] = { -1, -1 };
static int devnull = -1;

static void setup(void)
{
	if (supervise_pair(sv) != 0)
		abort();
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		abort();
}

/* Sends bytes with n copies of devnull attached. */
static void send_raw(const uint8_t *buf, size_t len, int n)
{
	union {
		struct cmsghdr hdr;
		char b[CMSG_SPACE(sizeof(int) * 3)];
	} cm;
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[3] = { devnull, devnull, devnull };

	if (n > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(&cm.hdr), fds, sizeof(int) * (size_t)n);
	}
	if (sendmsg(sv[1], &mh, MSG_NOSIGNAL) < 0)
		abort();
}

/* The lowest free fd number: it moves if an fd leaked. */
static int lowest_free_fd(void)
{
	int fd = dup(devnull);

	if (fd < 0)
		abort();
	close(fd);
	return fd;
}

static void check_received(const Parapet__SupervisorMsg *msg, const int *fds,
			   size_t n)
{
	if (msg == NULL || msg->n_fd_names != n || n > MAX_FDS)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		if (fcntl(fds[i], F_GETFD) != FD_CLOEXEC)
			__builtin_trap();
		close(fds[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Parapet__SupervisorMsg *msg;
	int fds[MAX_FDS];
	size_t n_fds;
	int before, rc;

	if (sv[0] < 0)
		setup();
	/* A seqpacket message is at most the socket's send buffer. */
	if (size < 1 || size > 64 * 1024)
		return 0;
	before = lowest_free_fd();
	send_raw(data + 1, size - 1, data[0] % 4);
	rc = supervise_recv(sv[0], &msg, fds, MAX_FDS, &n_fds);
	if (supervise_strerror(rc) == NULL)
		__builtin_trap();
	if (rc == 0)
		check_received(msg, fds, n_fds);
	else if (msg != NULL || n_fds != 0)
		__builtin_trap();
	supervise_msg_free(msg);
	if (lowest_free_fd() != before)
		__builtin_trap();
	return 0;
}
