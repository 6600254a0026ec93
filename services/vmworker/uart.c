/* 16550 UART registers for polled input and output (no interrupts, no
 * FIFO timing): enough for guests that poll LSR. */
#include "services/vmworker/uart.h"

#include <string.h>

enum {
	REG_DATA = 0, /* RBR/THR, DLL with DLAB */
	REG_IER = 1,  /* DLM with DLAB */
	REG_IIR = 2,  /* FCR on write */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

void uart_init(struct uart *u, const struct uart_backend *be)
{
	memset(u, 0, sizeof(*u));
	u->be = *be;
	u->dll = 12; /* 9600 baud, as after reset */
	u->lcr = 0x03;
}

static uint8_t uart_lsr(struct uart *u)
{
	uint8_t lsr = 0;

	if (u->mcr & UART_MCR_LOOP) {
		if (u->loop_full)
			lsr |= UART_LSR_DR;
		return lsr | UART_LSR_THRE | UART_LSR_TEMT;
	}
	if (u->be.rx_ready(u->be.ctx))
		lsr |= UART_LSR_DR;
	if (u->be.tx_ready(u->be.ctx))
		lsr |= UART_LSR_THRE | UART_LSR_TEMT;
	return lsr;
}

static uint8_t uart_read_data(struct uart *u)
{
	uint8_t byte = 0;

	if (u->mcr & UART_MCR_LOOP) {
		u->loop_full = false;
		return u->loop_byte;
	}
	if (!u->be.rx(u->be.ctx, &byte))
		return 0;
	return byte;
}

/* In loopback, MSR reflects MCR's outputs (RTS->CTS, DTR->DSR,
 * OUT1->RI, OUT2->DCD); otherwise a present, ready line. */
static uint8_t uart_msr(const struct uart *u)
{
	if (u->mcr & UART_MCR_LOOP)
		return (
		    uint8_t)(((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5) |
			     ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
	return 0xb0;
}

uint8_t uart_read(struct uart *u, unsigned reg)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		return dlab ? u->dll : uart_read_data(u);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR:
		/* No interrupt pending; FIFOs enabled if FCR asked. */
		return (u->fcr & 1) ? 0xc1 : 0x01;
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return uart_lsr(u);
	case REG_MSR:
		return uart_msr(u);
	case REG_SCR:
		return u->scr;
	default:
		return 0xff;
	}
}

static void uart_write_data(struct uart *u, uint8_t val)
{
	if (u->mcr & UART_MCR_LOOP) {
		u->loop_byte = val;
		u->loop_full = true;
		return;
	}
	if (!u->be.tx(u->be.ctx, val))
		u->tx_dropped++;
}

void uart_write(struct uart *u, unsigned reg, uint8_t val)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		if (dlab)
			u->dll = val;
		else
			uart_write_data(u, val);
		break;
	case REG_IER:
		if (dlab)
			u->dlm = val;
		else
			u->ier = val & 0x0f;
		break;
	case REG_IIR:
		u->fcr = val;
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		u->mcr = val & 0x1f;
		break;
	case REG_SCR:
		u->scr = val;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}
