/* A 16550 UART's register file (polled use: no interrupts), independent of
 * where its bytes go: the console supplies the byte callbacks. */
#ifndef PARAPET_UART_H
#define PARAPET_UART_H

#include <stdbool.h>
#include <stdint.h>

#define UART_REG_COUNT 8
#define UART_FIFO_SIZE 16 /* bytes a guest may write after seeing THRE */

#define UART_LSR_DR   0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10

struct uart_backend {
	/* Takes one output byte; false when the output buffer is full. */
	bool (*tx)(void *ctx, uint8_t byte);
	/* True when tx would take a byte. */
	bool (*tx_ready)(void *ctx);
	/* Gives one input byte; false when there is none. */
	bool (*rx)(void *ctx, uint8_t *byte);
	bool (*rx_ready)(void *ctx);
	void *ctx;
};

struct uart {
	struct uart_backend be;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t loop_byte; /* loopback mode: the last byte written */
	bool loop_full;
	uint64_t tx_dropped; /* written while the buffer was full */
};

void uart_init(struct uart *u, const struct uart_backend *be);
/* Register access at offset reg (0-7) from the base port. */
uint8_t uart_read(struct uart *u, unsigned reg);
void uart_write(struct uart *u, unsigned reg, uint8_t val);

#endif
