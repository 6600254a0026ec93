/* lib/vhost_user: whole messages over a socketpair, descriptors passed
 * and counted, replies matched, and malformed messages refused with
 * their descriptors closed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/vhost_user.h"

static int sv[2];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

static int teardown(void **state)
{
	(void)state;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* A fresh pair, after an error left the stream out of step. */
static void reset_pair(void)
{
	teardown(NULL);
	assert_int_equal(setup(NULL), 0);
}

/* Writes raw bytes as the peer would, with nfds descriptors. */
static void send_raw(const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 16)];
	} ctl;
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(sv[0], &mh, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_hdr(uint32_t req, uint32_t flags, uint32_t size,
		     const void *payload, const int *fds, unsigned nfds)
{
	uint8_t buf[1024] = { 0 };
	struct vhost_user_hdr h = { req, flags, size };

	memcpy(buf, &h, sizeof(h));
	if (!payload) { /* the header alone, whatever it claims */
		send_raw(buf, sizeof(h), fds, nfds);
		return;
	}
	assert_true(size <= sizeof(buf) - sizeof(h));
	memcpy(buf + sizeof(h), payload, size);
	send_raw(buf, sizeof(h) + size, fds, nfds);
}

/* A pipe whose write end is passed: once every copy of it is closed, the
 * read end sees end of file. */
static void assert_all_closed(int rd)
{
	char c;

	assert_int_equal(read(rd, &c, 1), 0);
	close(rd);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vhost_user_request_name(VHOST_USER_GET_FEATURES),
			    "GET_FEATURES");
	assert_string_equal(vhost_user_request_name(VHOST_USER_SET_MEM_TABLE),
			    "SET_MEM_TABLE");
	assert_string_equal(
	    vhost_user_request_name(VHOST_USER_GET_MAX_MEM_SLOTS),
	    "GET_MAX_MEM_SLOTS");
	assert_string_equal(vhost_user_request_name(9999), "UNKNOWN");
	assert_string_equal(vhost_user_strerror(VHOST_USER_ERR_SIZE),
			    "payload size wrong for the request");
}

/* A u64 request goes through whole, and a reply matches it. */
static void test_roundtrip_u64(void **state)
{
	struct vhost_user_msg m, r;

	(void)state;
	vhost_user_msg_init(&m, VHOST_USER_SET_FEATURES, 8);
	m.payload.u64 = 0x123456789ull;
	assert_int_equal(vhost_user_send(sv[0], &m), 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), 0);
	assert_int_equal(r.hdr.request, VHOST_USER_SET_FEATURES);
	assert_int_equal(r.hdr.size, 8);
	assert_int_equal(r.payload.u64, 0x123456789ull);
	assert_int_equal(r.nfds, 0);
	assert_false(vhost_user_wants_reply(&r.hdr));

	/* GET_FEATURES: the back-end's reply is queued before the call. */
	vhost_user_msg_init(&m, VHOST_USER_GET_FEATURES, 0);
	assert_true(vhost_user_wants_reply(&m.hdr));
	assert_int_equal(vhost_user_reply_u64(sv[1], &m, 1ull << 32), 0);
	assert_int_equal(vhost_user_call(sv[0], &m, &r, 1000), 0);
	assert_int_equal(r.payload.u64, 1ull << 32);
	assert_true(r.hdr.flags & VHOST_USER_FLAG_REPLY);
	/* The request itself reached the other side. */
	assert_int_equal(vhost_user_recv(sv[1], &r, 0), 0);
	assert_int_equal(r.hdr.request, VHOST_USER_GET_FEATURES);
}

/* SET_MEM_TABLE carries one descriptor per region. */
static void test_mem_table_fds(void **state)
{
	struct vhost_user_msg m, r;
	int p1[2], p2[2];

	(void)state;
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	vhost_user_msg_init(&m, VHOST_USER_SET_MEM_TABLE, 8 + 2 * 32);
	m.payload.mem.nregions = 2;
	m.payload.mem.regions[0].memory_size = 4096;
	m.payload.mem.regions[1].guest_phys_addr = 1ull << 32;
	m.fds[0] = p1[1];
	m.fds[1] = p2[1];
	m.nfds = 2;
	assert_int_equal(vhost_user_send(sv[0], &m), 0);
	close(p1[1]);
	close(p2[1]);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), 0);
	assert_int_equal(r.nfds, 2);
	assert_int_equal(r.payload.mem.nregions, 2);
	assert_int_equal(r.payload.mem.regions[1].guest_phys_addr, 1ull << 32);
	assert_true(fcntl(r.fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(r.fds[1], "x", 1), 1);
	vhost_user_msg_close_fds(&r);
	assert_int_equal(r.nfds, 0);
	{
		char c;
		assert_int_equal(read(p2[0], &c, 1), 1);
	}
	assert_all_closed(p1[0]);
	assert_all_closed(p2[0]);
}

/* Config messages: size must match the header's count. */
static void test_config(void **state)
{
	struct vhost_user_msg m, r;
	struct vhost_user_config c = { 0, 8, 0, { 1, 2, 3 } };

	(void)state;
	vhost_user_msg_init(&m, VHOST_USER_GET_CONFIG, 12 + 8);
	m.payload.config = c;
	assert_int_equal(vhost_user_send(sv[0], &m), 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), 0);
	assert_int_equal(r.payload.config.size, 8);

	c.size = 16; /* says 16, carries 8 */
	send_hdr(VHOST_USER_GET_CONFIG, 1, 12 + 8, &c, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1),
			 VHOST_USER_ERR_PAYLOAD);

	c.size = 8;
	c.offset = 252; /* past the config space */
	send_hdr(VHOST_USER_SET_CONFIG, 1, 12 + 8, &c, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1),
			 VHOST_USER_ERR_PAYLOAD);
}

/* Wrong version, sizes too small or too large. */
static void test_bad_header(void **state)
{
	struct vhost_user_msg r;
	uint64_t v = 0;

	(void)state;
	send_hdr(VHOST_USER_SET_FEATURES, 2, 8, &v, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1),
			 VHOST_USER_ERR_VERSION);
	reset_pair();
	send_hdr(VHOST_USER_SET_FEATURES, 1, 4, &v, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_SIZE);
	reset_pair();

	/* Oversize refused from the header alone: nothing more is read. */
	send_hdr(VHOST_USER_SET_FEATURES, 1, 0xffffffffu, NULL, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_SIZE);
	send_hdr(9999, 1, VHOST_USER_PAYLOAD_MAX + 1, NULL, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_SIZE);
	/* An unknown request within the bound is read whole (to refuse). */
	send_hdr(9999, 1, 16, &(uint8_t[16]){ 0 }, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), 0);
	assert_int_equal(r.hdr.size, 16);

	/* A reply to SET_OWNER is a REPLY_ACK u64, nothing else. */
	send_hdr(VHOST_USER_SET_OWNER, 1 | VHOST_USER_FLAG_REPLY, 0, NULL, NULL,
		 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_SIZE);
}

/* Descriptors that do not belong to the request are refused and closed. */
static void test_bad_fds(void **state)
{
	struct vhost_user_msg r;
	struct vhost_user_mem_table t = { .nregions = 2 };
	uint64_t idx = 0;
	int p[2], fds[9];

	(void)state;
	/* Two regions, one descriptor. */
	assert_int_equal(pipe(p), 0);
	send_hdr(VHOST_USER_SET_MEM_TABLE, 1, 8 + 64, &t, &p[1], 1);
	close(p[1]);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_FDS);
	assert_all_closed(p[0]);

	/* nregions over 8. */
	t.nregions = 9;
	send_hdr(VHOST_USER_SET_MEM_TABLE, 1, 8 + 64, &t, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1),
			 VHOST_USER_ERR_PAYLOAD);

	/* A descriptor on GET_FEATURES. */
	assert_int_equal(pipe(p), 0);
	send_hdr(VHOST_USER_GET_FEATURES, 1, 0, NULL, &p[1], 1);
	close(p[1]);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_FDS);
	assert_all_closed(p[0]);

	/* KICK without a descriptor and without NOFD; with NOFD and one. */
	send_hdr(VHOST_USER_SET_VRING_KICK, 1, 8, &idx, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_FDS);
	idx = VHOST_USER_VRING_NOFD_MASK;
	assert_int_equal(pipe(p), 0);
	send_hdr(VHOST_USER_SET_VRING_CALL, 1, 8, &idx, &p[1], 1);
	close(p[1]);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_FDS);
	assert_all_closed(p[0]);
	idx = 1ull << 40; /* stray bits */
	send_hdr(VHOST_USER_SET_VRING_ERR, 1, 8, &idx, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1),
			 VHOST_USER_ERR_PAYLOAD);

	/* Nine descriptors: more than a message may carry. */
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < 9; i++)
		fds[i] = p[1];
	send_hdr(9999, 1, 0, NULL, fds, 9);
	close(p[1]);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_FDS);
	assert_all_closed(p[0]);
}

/* A peer that stops half-way: timeout, or end of file. */
static void test_truncated(void **state)
{
	struct vhost_user_msg r;
	struct vhost_user_hdr h = { VHOST_USER_SET_FEATURES, 1, 8 };

	(void)state;
	assert_int_equal(vhost_user_recv(sv[1], &r, 0), VHOST_USER_ERR_TIMEOUT);
	send_raw(&h, 6, NULL, 0);
	assert_int_equal(vhost_user_recv(sv[1], &r, 10),
			 VHOST_USER_ERR_TIMEOUT);
	send_raw((const uint8_t *)&h + 6, 6, NULL, 0);
	send_raw("abc", 3, NULL, 0);
	close(sv[0]);
	sv[0] = -1;
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_CLOSED);
	assert_int_equal(vhost_user_recv(sv[1], &r, -1), VHOST_USER_ERR_CLOSED);
}

/* The front-end's call: a mismatched reply, a failed REPLY_ACK. */
static void test_call_replies(void **state)
{
	struct vhost_user_msg m, r;

	(void)state;
	vhost_user_msg_init(&m, VHOST_USER_GET_PROTOCOL_FEATURES, 0);
	send_hdr(VHOST_USER_GET_FEATURES, 1 | VHOST_USER_FLAG_REPLY, 8,
		 &(uint64_t){ 0 }, NULL, 0);
	assert_int_equal(vhost_user_call(sv[1], &m, &r, 1000),
			 VHOST_USER_ERR_REPLY);
	reset_pair();

	/* A request that is not a reply where a reply was awaited. */
	{
		int t[2];
		struct vhost_user_msg req;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t), 0);
		vhost_user_msg_init(&req, VHOST_USER_GET_QUEUE_NUM, 0);
		vhost_user_msg_init(&m, VHOST_USER_GET_QUEUE_NUM, 0);
		assert_int_equal(vhost_user_send(t[1], &m), VHOST_USER_OK);
		assert_int_equal(vhost_user_call(t[0], &req, &r, 1000),
				 VHOST_USER_ERR_REPLY);
		close(t[0]);
		close(t[1]);
	}

	/* NEED_REPLY on SET_VRING_NUM: status 0 is success, 1 failure. */
	vhost_user_msg_init(&m, VHOST_USER_SET_VRING_NUM, 8);
	m.hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
	assert_int_equal(vhost_user_reply_u64(sv[1], &m, 0), 0);
	assert_int_equal(vhost_user_call(sv[0], &m, NULL, 1000), 0);
	assert_int_equal(vhost_user_reply_u64(sv[1], &m, 1), 0);
	assert_int_equal(vhost_user_call(sv[0], &m, NULL, 1000),
			 VHOST_USER_ERR_FAILED);

	/* No reply at all: the call times out. */
	vhost_user_msg_init(&m, VHOST_USER_GET_FEATURES, 0);
	assert_int_equal(vhost_user_call(sv[0], &m, &r, 20),
			 VHOST_USER_ERR_TIMEOUT);

	/* Without NEED_REPLY, a SET returns once sent. */
	vhost_user_msg_init(&m, VHOST_USER_SET_OWNER, 0);
	assert_int_equal(vhost_user_call(sv[0], &m, NULL, 0), 0);
}

/* Sending to a closed peer is an error, not SIGPIPE. */
static void test_send_closed(void **state)
{
	struct vhost_user_msg m;

	(void)state;
	close(sv[1]);
	sv[1] = -1;
	vhost_user_msg_init(&m, VHOST_USER_SET_OWNER, 0);
	assert_int_equal(vhost_user_send(sv[0], &m), VHOST_USER_ERR_SYS);
	assert_int_equal(errno, EPIPE);
	m.nfds = 9;
	assert_int_equal(vhost_user_send(sv[0], &m), VHOST_USER_ERR_FDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_roundtrip_u64, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_fds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_replies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_send_closed, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
