/* Unit tests for lib/supervise: messages and fds over a real
 * SOCK_SEQPACKET socketpair, and rejection of mismatched fd counts. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/supervise.h"
#include "lib/util.h"

static int count_open_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void test_ready(void **state)
{
	Parapet__SupervisorMsg *m;
	int sv[2], fds[2];
	size_t n;

	(void)state;
	assert_int_equal(supervise_pair(sv), 0);
	assert_int_equal(supervise_ready(sv[1], "policy"), 0);
	assert_int_equal(supervise_recv(sv[0], &m, fds, 2, &n), 0);
	assert_int_equal(m->type, PARAPET__SUPERVISOR_MSG__TYPE__READY);
	assert_string_equal(m->service, "policy");
	assert_int_equal(n, 0);
	supervise_msg_free(m);
	close(sv[1]);
	assert_int_equal(supervise_recv(sv[0], &m, fds, 2, &n),
			 SUPERVISE_ERR_CLOSED);
	close(sv[0]);
}

static void test_memfd_passes(void **state)
{
	Parapet__SupervisorMsg msg = PARAPET__SUPERVISOR_MSG__INIT, *m;
	char name[] = "guest-ram";
	char *names[] = { name };
	int sv[2], fd, got[4];
	size_t n;
	char *p, *q;

	(void)state;
	assert_int_equal(supervise_pair(sv), 0);
	fd = util_memfd_create("guest-ram", 4096);
	assert_true(fd >= 0);
	p = util_map(fd, 4096, PROT_READ | PROT_WRITE);
	assert_non_null(p);
	strcpy(p, "written by init");
	assert_int_equal(util_memfd_seal(fd, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	msg.has_type = 1;
	msg.type = PARAPET__SUPERVISOR_MSG__TYPE__FDS;
	msg.n_fd_names = 1;
	msg.fd_names = names;
	assert_int_equal(supervise_send(sv[0], &msg, &fd, 1), 0);
	assert_int_equal(supervise_recv(sv[1], &m, got, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(m->fd_names[0], "guest-ram");
	assert_int_not_equal(got[0], fd);
	assert_int_equal(util_fd_size(got[0]), 4096);
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	q = util_map(got[0], 4096, PROT_READ | PROT_WRITE);
	assert_non_null(q);
	assert_string_equal(q, "written by init");
	strcpy(q, "answered by service");
	assert_string_equal(p, "answered by service");
	util_unmap(q, 4096);
	util_unmap(p, 4096);
	supervise_msg_free(m);
	close(got[0]);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* Sends n_fds fds under a message naming n_names of them. */
static int send_raw(int sock, size_t n_names, const int *fds, size_t n_fds)
{
	Parapet__SupervisorMsg msg = PARAPET__SUPERVISOR_MSG__INIT;
	static char a[] = "a", b[] = "b", c[] = "c", d[] = "d";
	char *names[4] = { a, b, c, d };

	msg.has_type = 1;
	msg.type = PARAPET__SUPERVISOR_MSG__TYPE__FDS;
	msg.n_fd_names = n_names;
	msg.fd_names = names;
	return supervise_send(sock, &msg, fds, n_fds);
}

/* Like send_raw, bypassing supervise_send's own count check. */
static int send_unchecked(int sock, size_t n_names, const int *fds,
			  size_t n_fds)
{
	Parapet__SupervisorMsg msg = PARAPET__SUPERVISOR_MSG__INIT;
	static char a[] = "a";
	char *names[1] = { a };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 32)];
	} cm;
	uint8_t buf[64];
	struct iovec iov = { buf, 0 };
	struct msghdr mh = { 0 };

	msg.has_type = 1;
	msg.type = PARAPET__SUPERVISOR_MSG__TYPE__FDS;
	msg.n_fd_names = n_names;
	msg.fd_names = names;
	iov.iov_len = parapet__supervisor_msg__pack(&msg, buf);
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
	cm.hdr.cmsg_level = SOL_SOCKET;
	cm.hdr.cmsg_type = SCM_RIGHTS;
	cm.hdr.cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
	memcpy(CMSG_DATA(&cm.hdr), fds, sizeof(int) * n_fds);
	return sendmsg(sock, &mh, 0) < 0 ? -1 : 0;
}

static void test_unexpected_fds_closed(void **state)
{
	Parapet__SupervisorMsg *m;
	int sv[2], fds[3], got[4], many[24], before, i;
	size_t n;

	(void)state;
	assert_int_equal(supervise_pair(sv), 0);
	fds[0] = util_memfd_create("a", 1);
	fds[1] = util_memfd_create("b", 1);
	fds[2] = util_memfd_create("c", 1);
	for (i = 0; i < 24; i++)
		many[i] = fds[i % 3];
	/* The sender side refuses a count mismatch itself. */
	assert_int_equal(send_raw(sv[0], 1, fds, 2), SUPERVISE_ERR_FDS);
	before = count_open_fds();
	/* More fds than the receiver accepts: all closed. */
	assert_int_equal(send_raw(sv[0], 3, fds, 3), 0);
	assert_int_equal(supervise_recv(sv[1], &m, got, 2, &n),
			 SUPERVISE_ERR_TOO_BIG);
	assert_null(m);
	assert_int_equal(count_open_fds(), before);
	/* A message naming one fd but carrying two: both closed. */
	assert_int_equal(send_unchecked(sv[0], 1, fds, 2), 0);
	assert_int_equal(supervise_recv(sv[1], &m, got, 4, &n),
			 SUPERVISE_ERR_FDS);
	assert_null(m);
	assert_int_equal(count_open_fds(), before);
	/* More fds than the receiver's control buffer holds (MSG_CTRUNC):
	 * none of them stays open. */
	assert_int_equal(send_unchecked(sv[0], 1, many, 24), 0);
	assert_int_equal(supervise_recv(sv[1], &m, got, 4, &n),
			 SUPERVISE_ERR_TOO_BIG);
	assert_int_equal(count_open_fds(), before);
	/* Still usable afterwards. */
	assert_int_equal(send_raw(sv[0], 1, fds, 1), 0);
	assert_int_equal(supervise_recv(sv[1], &m, got, 4, &n), 0);
	assert_int_equal(n, 1);
	close(got[0]);
	supervise_msg_free(m);
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_memfd_passes),
		cmocka_unit_test(test_unexpected_fds_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
