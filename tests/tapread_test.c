/* Unit tests for diagd's tap reader (services/diag/tapread.c): the
 * framing over a socketpair (split reads, empty and oversized messages,
 * a bad header, hang-up), and frames of a real lib/ipc trace tap. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "envelope.pb-c.h"
#include "lib/ipc.h"
#include "services/diag/tapread.h"
#include "test.pb-c.h"

struct got {
	int n;
	size_t len[8];
	uint8_t data[8][64];
	char service[8][16];
};

static void on_msg(const uint8_t *data, size_t len, void *arg)
{
	struct got *g = arg;
	Parapet__TraceFrame *f;

	if (g->n >= 8)
		return;
	g->len[g->n] = len;
	memcpy(g->data[g->n], data, len < 64 ? len : 64);
	f = parapet__trace_frame__unpack(NULL, len, data);
	if (f != NULL && f->service != NULL)
		snprintf(g->service[g->n], 16, "%s", f->service);
	if (f != NULL)
		parapet__trace_frame__free_unpacked(f, NULL);
	g->n++;
}

/* A framed message: type 1, 64-bit big-endian length, body. */
static size_t frame(uint8_t *out, const void *body, uint64_t len)
{
	out[0] = 1;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(len >> (56 - 8 * i));
	memcpy(out + 9, body, (size_t)len);
	return 9 + (size_t)len;
}

static const uint8_t pub_hello[8] = { 0, 'S', 'P', 0, 0, 0x20, 0, 0 };

static void test_framing(void **state)
{
	struct tapread r;
	struct got g = { 0 };
	uint8_t buf[256];
	size_t n;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	tapread_adopt(&r, sv[0], 100);
	assert_int_equal(write(sv[1], pub_hello, 5), 5); /* split header */
	assert_int_equal(tapread_feed(&r, on_msg, &g), 0);
	assert_int_equal(write(sv[1], pub_hello + 5, 3), 3);
	n = frame(buf, "hello", 5);
	assert_int_equal(write(sv[1], buf, 4), 4); /* split length */
	assert_int_equal(tapread_feed(&r, on_msg, &g), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(write(sv[1], buf + 4, n - 4), (ssize_t)(n - 4));
	n = frame(buf, "", 0);
	n += frame(buf + n, "world!", 6);
	assert_int_equal(write(sv[1], buf, n), (ssize_t)n);
	assert_int_equal(tapread_feed(&r, on_msg, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.len[0], 5);
	assert_memory_equal(g.data[0], "hello", 5);
	assert_int_equal(g.len[1], 0);
	assert_int_equal(g.len[2], 6);
	assert_memory_equal(g.data[2], "world!", 6);
	/* a length over the limit closes before allocating */
	buf[0] = 1;
	memset(buf + 1, 0xff, 8);
	assert_int_equal(write(sv[1], buf, 9), 9);
	assert_int_equal(tapread_feed(&r, on_msg, &g), -1);
	tapread_close(&r);
	close(sv[1]);
}

static void test_bad_peer(void **state)
{
	static const uint8_t req_hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	struct tapread r;
	struct got g = { 0 };
	uint8_t buf[32];
	int sv[2];

	(void)state;
	/* not a publisher */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	tapread_adopt(&r, sv[0], 100);
	assert_int_equal(write(sv[1], req_hello, 8), 8);
	assert_int_equal(tapread_feed(&r, on_msg, &g), -1);
	tapread_close(&r);
	close(sv[1]);
	/* a message type other than 1, then a hang-up mid-message */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	tapread_adopt(&r, sv[0], 100);
	assert_int_equal(write(sv[1], pub_hello, 8), 8);
	frame(buf, "x", 1);
	buf[0] = 2;
	assert_int_equal(write(sv[1], buf, 10), 10);
	assert_int_equal(tapread_feed(&r, on_msg, &g), -1);
	tapread_close(&r);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	tapread_adopt(&r, sv[0], 100);
	assert_int_equal(write(sv[1], pub_hello, 8), 8);
	frame(buf, "abc", 3);
	assert_int_equal(write(sv[1], buf, 6), 6); /* 3 of 12 bytes */
	close(sv[1]);
	assert_int_equal(tapread_feed(&r, on_msg, &g), -1);
	assert_int_equal(g.n, 0);
	tapread_close(&r);
}

/* A lib/ipc tap publishing the events of a pub socket. */
static void test_real_tap(void **state)
{
	char dir[] = "/tmp/tapread-test.XXXXXX", tap[128], ev[128];
	struct ipc_trace_config tc = { .service = "tester", .path = tap };
	Parapet__Counter c = PARAPET__COUNTER__INIT;
	struct ipc_trace *t;
	struct ipc_pub *p;
	struct tapread r;
	struct got g = { 0 };

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(tap, sizeof(tap), "%s/tester.trace.sock", dir);
	snprintf(ev, sizeof(ev), "%s/ev.sock", dir);
	t = ipc_trace_open(&tc);
	assert_non_null(t);
	p = ipc_pub_open("tester", ev, 0, t);
	assert_non_null(p);
	assert_int_equal(tapread_connect(&r, tap, 64u << 10), 0);
	assert_int_equal(ipc_trace_wait_peers(t, 1, 30000), 0);
	ipc_trace_enable(t, 1);
	c.has_value = 1;
	for (int i = 0; i < 3; i++) {
		c.value = (uint64_t)i;
		assert_int_equal(ipc_publish(p, "Tick", &c.base), 0);
	}
	for (int tries = 0; g.n < 3 && tries < 600; tries++) {
		struct pollfd pf = { .fd = r.fd, .events = POLLIN };

		poll(&pf, 1, 100);
		assert_int_equal(tapread_feed(&r, on_msg, &g), 0);
	}
	assert_int_equal(g.n, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(g.service[i], "tester");
	/* the tap going away is a hang-up, not a spin */
	ipc_pub_close(p);
	ipc_trace_close(t);
	{
		struct pollfd pf = { .fd = r.fd, .events = POLLIN };

		assert_int_equal(poll(&pf, 1, 30000), 1);
		assert_int_equal(tapread_feed(&r, on_msg, &g), -1);
	}
	tapread_close(&r);
	unlink(tap);
	unlink(ev);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_bad_peer),
		cmocka_unit_test(test_real_tap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
