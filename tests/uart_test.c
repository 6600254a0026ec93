/* Unit tests for the 16550 UART registers and the console rings. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "services/vmworker/console.h"
#include "services/vmworker/uart.h"

static uint8_t sunk[64];
static size_t sunk_len;

static void test_sink(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	memcpy(sunk + sunk_len, data, len);
	sunk_len += len;
}

static void setup_uart(struct console *c, struct uart *u)
{
	struct uart_backend be;

	sunk_len = 0;
	assert_int_equal(console_init(c, test_sink, NULL), 0);
	console_uart_backend(c, &be);
	uart_init(u, &be);
}

static void test_output_reaches_sink(void **state)
{
	struct console c;
	struct uart u;

	(void)state;
	setup_uart(&c, &u);
	assert_true(uart_read(&u, 5) & UART_LSR_THRE);
	uart_write(&u, 0, 'o');
	uart_write(&u, 0, 'k');
	console_stop(&c); /* drains without a flusher thread */
	assert_int_equal(sunk_len, 2);
	assert_memory_equal(sunk, "ok", 2);
	console_destroy(&c);
}

static void test_input_sets_data_ready(void **state)
{
	struct console c;
	struct uart u;

	(void)state;
	setup_uart(&c, &u);
	assert_false(uart_read(&u, 5) & UART_LSR_DR);
	assert_int_equal(console_input(&c, (const uint8_t *)"ab", 2), 2);
	assert_true(uart_read(&u, 5) & UART_LSR_DR);
	assert_int_equal(uart_read(&u, 0), 'a');
	assert_int_equal(uart_read(&u, 0), 'b');
	assert_false(uart_read(&u, 5) & UART_LSR_DR);
	console_destroy(&c);
}

static void test_dlab_divisor_and_scratch(void **state)
{
	struct console c;
	struct uart u;

	(void)state;
	setup_uart(&c, &u);
	uart_write(&u, 3, 0x83); /* DLAB, 8N1 */
	uart_write(&u, 0, 0x01);
	uart_write(&u, 1, 0x00);
	assert_int_equal(uart_read(&u, 0), 0x01);
	uart_write(&u, 3, 0x03);
	uart_write(&u, 7, 0x5a);
	assert_int_equal(uart_read(&u, 7), 0x5a);
	assert_int_equal(uart_read(&u, 3), 0x03);
	/* Divisor writes never reach the console. */
	console_stop(&c);
	assert_int_equal(sunk_len, 0);
	console_destroy(&c);
}

static void test_loopback(void **state)
{
	struct console c;
	struct uart u;

	(void)state;
	setup_uart(&c, &u);
	uart_write(&u, 4, UART_MCR_LOOP | 0x02);
	uart_write(&u, 0, 0x42);
	assert_true(uart_read(&u, 5) & UART_LSR_DR);
	assert_int_equal(uart_read(&u, 0), 0x42);
	assert_int_equal(uart_read(&u, 6) & 0x10, 0x10); /* RTS -> CTS */
	console_stop(&c);
	assert_int_equal(sunk_len, 0);
	console_destroy(&c);
}

static void test_full_output_throttles(void **state)
{
	struct console c;
	struct uart u;
	size_t i;

	(void)state;
	setup_uart(&c, &u);
	for (i = 0; i < CONSOLE_OUT_SIZE; i++)
		assert_true(console_ring_put(&c.out, (uint8_t)i));
	/* THRE clear: a polling guest waits instead of losing bytes. */
	assert_false(uart_read(&u, 5) & UART_LSR_THRE);
	uart_write(&u, 0, 'x');
	assert_int_equal(u.tx_dropped, 1);
	console_destroy(&c);
}

static pthread_mutex_t flushed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flushed_cond = PTHREAD_COND_INITIALIZER;

static void signalling_sink(void *ctx, const uint8_t *data, size_t len)
{
	pthread_mutex_lock(&flushed_lock);
	test_sink(ctx, data, len);
	pthread_cond_broadcast(&flushed_cond);
	pthread_mutex_unlock(&flushed_lock);
}

/* The flusher sleeps until a byte comes: every byte reaches the sink
 * while it runs (a lost wake-up would hang here), with the flusher
 * idle between bytes. */
static void test_flusher_wakes_on_output(void **state)
{
	struct console c;
	struct uart u;
	struct uart_backend be;
	size_t i;

	(void)state;
	sunk_len = 0;
	assert_int_equal(console_init(&c, signalling_sink, NULL), 0);
	console_uart_backend(&c, &be);
	uart_init(&u, &be);
	assert_int_equal(console_start(&c), 0);
	for (i = 0; i < 40; i++) {
		uart_write(&u, 0, (uint8_t)('a' + i % 26));
		pthread_mutex_lock(&flushed_lock);
		while (sunk_len < i + 1)
			pthread_cond_wait(&flushed_cond, &flushed_lock);
		pthread_mutex_unlock(&flushed_lock);
	}
	console_stop(&c);
	assert_int_equal(sunk_len, 40);
	assert_memory_equal(sunk, "abcdefghijklmnopqrstuvwxyzabcdefghijklmn",
			    40);
	console_destroy(&c);
}

static void test_input_ring_bounded(void **state)
{
	struct console c;
	uint8_t big[CONSOLE_IN_SIZE + 100];

	(void)state;
	assert_int_equal(console_init(&c, test_sink, NULL), 0);
	memset(big, 'z', sizeof(big));
	assert_int_equal(console_input(&c, big, sizeof(big)), CONSOLE_IN_SIZE);
	console_destroy(&c);
}

/* A fresh instance's bytes take the numbers after the host's: also when
 * it holds more bytes than the host has (the renumbering is by the
 * tail, not the head), and never backwards. */
static void test_rebase_continues_the_host_stream(void **state)
{
	struct console c;
	struct uart u;
	uint8_t got[8];
	uint64_t off;
	size_t n;

	(void)state;
	setup_uart(&c, &u);
	for (const char *p = "0\n1\n2\n"; *p; p++)
		uart_write(&u, 0, (uint8_t)*p);
	assert_true(console_out_rebase(&c, 4)); /* the host has 4 bytes */
	assert_int_equal(console_out_tail(&c), 4);
	assert_int_equal(console_out_head(&c), 10);
	n = console_out_peek(&c, got, sizeof(got), &off);
	assert_int_equal(off, 4);
	assert_int_equal(n, 6);
	assert_memory_equal(got, "0\n1\n2\n", 6);
	assert_false(console_out_rebase(&c, 4));
	assert_false(console_out_rebase(&c, 2));
	console_out_ack(&c, 6);
	n = console_out_peek(&c, got, sizeof(got), &off);
	assert_int_equal(off, 6);
	assert_memory_equal(got, "1\n2\n", n);
	console_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_reaches_sink),
		cmocka_unit_test(test_input_sets_data_ready),
		cmocka_unit_test(test_dlab_divisor_and_scratch),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_full_output_throttles),
		cmocka_unit_test(test_input_ring_bounded),
		cmocka_unit_test(test_flusher_wakes_on_output),
		cmocka_unit_test(test_rebase_continues_the_host_stream),
	};

	return cmocka_run_group_tests_name("uart", tests, NULL, NULL);
}
