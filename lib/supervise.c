/* The supervisor channel: SupervisorMsg protobufs on a SOCK_SEQPACKET
 * socketpair with SCM_RIGHTS fds, validated on receipt. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/supervise.h"

static const char *const supervise_errors[] = {
	"success",	     "system call failed",
	"channel closed",    "malformed message",
	"fd count mismatch", "message or fds over the limit",
};

const char *supervise_strerror(int err)
{
	if (err > 0 || -err >= (int)(sizeof(supervise_errors) /
				     sizeof(supervise_errors[0])))
		return "unknown error";
	return supervise_errors[-err];
}

int supervise_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

union supervise_cmsg {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(sizeof(int) * SUPERVISE_MAX_FDS)];
};

int supervise_send(int sock, const Parapet__SupervisorMsg *msg, const int *fds,
		   size_t n_fds)
{
	uint8_t buf[SUPERVISE_MAX_MSG];
	union supervise_cmsg cm;
	struct iovec iov;
	struct msghdr mh = { 0 };
	size_t len = parapet__supervisor_msg__get_packed_size(msg);
	ssize_t n;

	if (len > sizeof(buf) || n_fds > SUPERVISE_MAX_FDS)
		return SUPERVISE_ERR_TOO_BIG;
	if (msg->n_fd_names != n_fds)
		return SUPERVISE_ERR_FDS;
	parapet__supervisor_msg__pack(msg, buf);
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (n_fds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(&cm.hdr), fds, sizeof(int) * n_fds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? SUPERVISE_ERR_SYS : 0;
}

/* Collects every SCM_RIGHTS fd of mh into fds (up to max), closing the
 * rest. Returns how many were received in total. */
static size_t take_fds(struct msghdr *mh, int *fds, size_t max, size_t *kept)
{
	struct cmsghdr *c;
	size_t total = 0, i, n;
	int fd;

	*kept = 0;
	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++, total++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*kept < max)
				fds[(*kept)++] = fd;
			else
				close(fd);
		}
	}
	return total;
}

static void close_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

int supervise_recv(int sock, Parapet__SupervisorMsg **msg_out, int *fds,
		   size_t max_fds, size_t *n_fds)
{
	uint8_t buf[SUPERVISE_MAX_MSG];
	union supervise_cmsg cm;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { 0 };
	size_t total, kept;
	ssize_t n;

	*msg_out = NULL;
	*n_fds = 0;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return SUPERVISE_ERR_SYS;
	if (n == 0 && mh.msg_controllen == 0)
		return SUPERVISE_ERR_CLOSED;
	total = take_fds(&mh, fds, max_fds, &kept);
	if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC) || total > max_fds) {
		close_fds(fds, kept);
		return SUPERVISE_ERR_TOO_BIG;
	}
	*msg_out = parapet__supervisor_msg__unpack(NULL, (size_t)n, buf);
	if (*msg_out == NULL) {
		close_fds(fds, kept);
		return SUPERVISE_ERR_MALFORMED;
	}
	if ((*msg_out)->n_fd_names != kept) {
		close_fds(fds, kept);
		supervise_msg_free(*msg_out);
		*msg_out = NULL;
		return SUPERVISE_ERR_FDS;
	}
	*n_fds = kept;
	return 0;
}

void supervise_msg_free(Parapet__SupervisorMsg *msg)
{
	if (msg != NULL)
		parapet__supervisor_msg__free_unpacked(msg, NULL);
}

int supervise_ready(int sock, const char *service)
{
	return supervise_ready_restored(sock, service, 0);
}

int supervise_loaded(int sock, const char *service)
{
	Parapet__SupervisorMsg m = PARAPET__SUPERVISOR_MSG__INIT;

	m.has_type = 1;
	m.type = PARAPET__SUPERVISOR_MSG__TYPE__LOADED;
	m.service = (char *)(uintptr_t)service;
	return supervise_send(sock, &m, NULL, 0);
}

int supervise_ready_restored(int sock, const char *service,
			     uint64_t blackout_ns)
{
	Parapet__SupervisorMsg m = PARAPET__SUPERVISOR_MSG__INIT;

	m.has_type = 1;
	m.type = PARAPET__SUPERVISOR_MSG__TYPE__READY;
	m.service = (char *)(uintptr_t)service;
	m.has_blackout_ns = blackout_ns != 0;
	m.blackout_ns = blackout_ns;
	return supervise_send(sock, &m, NULL, 0);
}
