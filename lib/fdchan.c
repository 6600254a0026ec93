/* The host→init descriptor channel (lib/fdchan.h). */
#include "lib/fdchan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int fdchan_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

int fdchan_send(int sock, enum fdchan_kind kind, uint64_t token,
		const char *label, int fd)
{
	struct fdchan_msg m = { .version = FDCHAN_VERSION,
				.kind = kind,
				.token = token };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	snprintf(m.label, sizeof(m.label), "%s", label ? label : "");
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(m)) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Closes every descriptor a message carried. */
static void fdchan_close_all(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
	     c = CMSG_NXTHDR(mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		     k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

int fdchan_recv(int sock, struct fdchan_msg *msg, int *fd, const char **why)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { msg, sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	*why = NULL;
	do
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1; /* the host's end closed */
	c = CMSG_FIRSTHDR(&mh);
	if ((size_t)n != sizeof(*msg) || (mh.msg_flags & MSG_TRUNC))
		*why = "wrong size";
	else if (mh.msg_flags & MSG_CTRUNC)
		*why = "too many descriptors";
	else if (c == NULL || c->cmsg_level != SOL_SOCKET ||
		 c->cmsg_type != SCM_RIGHTS ||
		 c->cmsg_len != CMSG_LEN(sizeof(int)) ||
		 CMSG_NXTHDR(&mh, c) != NULL)
		*why = "not exactly one descriptor";
	else if (msg->version != FDCHAN_VERSION)
		*why = "unknown version";
	else if (msg->token == 0)
		*why = "token 0";
	else if (memchr(msg->label, '\0', sizeof(msg->label)) == NULL)
		*why = "label not terminated";
	if (*why != NULL) {
		fdchan_close_all(&mh);
		return -2;
	}
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 1;
}
