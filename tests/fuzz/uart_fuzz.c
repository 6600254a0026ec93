/* libFuzzer harness for the 16550 UART register file (services/vmworker/
 * uart.c) over the console rings (console.c): the guest's port accesses as
 * (register, direction, value) triples. A shadow model checks LSR, the
 * data path both ways, loopback and DLAB, and the rings' bounds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/vmworker/console.h"
#include "services/vmworker/uart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct console con;
static struct uart u;

static void discard(void *ctx, const uint8_t *d, size_t len)
{
	(void)ctx;
	(void)d;
	(void)len;
}

/* Empties both rings and sets them at a chosen fill: out holds room for
 * out_room bytes, in holds the input bytes given. */
static void reset(size_t out_room, const uint8_t *in, size_t n_in)
{
	size_t base = (size_t)out_room * 977; /* wrap at varied offsets */

	atomic_store(&con.out.tail, base);
	atomic_store(&con.out.head, base + con.out.size - out_room);
	atomic_store(&con.in.tail, base);
	atomic_store(&con.in.head, base);
	if (console_input(&con, in, n_in) != n_in)
		__builtin_trap();
	{
		struct uart_backend be;

		console_uart_backend(&con, &be);
		uart_init(&u, &be);
	}
}

static void check_bounds(void)
{
	if (console_ring_used(&con.out) > con.out.size ||
	    console_ring_used(&con.in) > con.in.size)
		__builtin_trap();
}

static void check_lsr(uint8_t lsr)
{
	bool loop = u.mcr & UART_MCR_LOOP;
	bool room =
	    console_ring_used(&con.out) + UART_FIFO_SIZE <= con.out.size;
	bool dr = loop ? u.loop_full : console_ring_used(&con.in) > 0;

	if (!!(lsr & UART_LSR_THRE) != (loop || room) ||
	    !!(lsr & UART_LSR_DR) != dr)
		__builtin_trap();
}

static void do_write(unsigned reg, uint8_t val)
{
	bool dlab = u.lcr & UART_LCR_DLAB, loop = u.mcr & UART_MCR_LOOP;
	size_t used = console_ring_used(&con.out);
	uint64_t dropped = u.tx_dropped;

	uart_write(&u, reg, val);
	if (reg != 0 || dlab || loop)
		return;
	if (used < con.out.size) {
		size_t head = atomic_load(&con.out.head) - 1;

		if (console_ring_used(&con.out) != used + 1 ||
		    con.out.buf[head & (con.out.size - 1)] != val ||
		    u.tx_dropped != dropped)
			__builtin_trap();
	} else if (u.tx_dropped != dropped + 1 ||
		   console_ring_used(&con.out) != used) {
		__builtin_trap();
	}
}

static void do_read(unsigned reg, const uint8_t **in, const uint8_t *in_end)
{
	bool dlab = u.lcr & UART_LCR_DLAB, loop = u.mcr & UART_MCR_LOOP;
	uint8_t want = 0, got;

	if (reg == 5) {
		check_lsr(uart_read(&u, reg));
		return;
	}
	if (reg == 0 && !dlab && loop) {
		want = u.loop_byte;
		if (uart_read(&u, reg) != want || u.loop_full)
			__builtin_trap();
		return;
	}
	if (reg != 0 || dlab) {
		got = uart_read(&u, reg);
		if (reg >= UART_REG_COUNT && got != 0xff)
			__builtin_trap();
		if (reg == 0 && got != u.dll)
			__builtin_trap();
		return;
	}
	if (*in < in_end)
		want = *(*in)++;
	if (uart_read(&u, reg) != want)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *in, *in_end;
	size_t n_in;

	if (con.out.buf == NULL && console_init(&con, discard, NULL) != 0)
		abort();
	if (size < 2)
		return 0;
	/* Header: output room (0-255 bytes), input length; then the input
	 * bytes; then the accesses, 2 bytes each. */
	n_in = data[1] % 32;
	if (size < 2 + n_in)
		return 0;
	in = data + 2;
	in_end = in + n_in;
	reset(data[0], in, n_in);
	for (size_t i = 2 + n_in; i + 1 < size; i += 2) {
		unsigned reg = data[i] & 0x0f;
		bool is_write = data[i] & 0x80;

		if (is_write)
			do_write(reg, data[i + 1]);
		else
			do_read(reg, &in, in_end);
		check_bounds();
	}
	return 0;
}
