/* COM1: the UART's register file on the guest console, its reset, and
 * its saved state (the SavedUart section: registers plus the console
 * bytes in flight both ways). */
#include "services/vmworker/com1.h"

#include "lib/guest_abi.h"
#include "lib/ipc.h"
#include "savedstate.pb-c.h"
#include "services/vmworker/console.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/uart.h"
#include "services/vmworker/vm.h"

static void com1_access(struct vp *vp, uint64_t addr, uint64_t *data,
			unsigned len, bool is_write, void *ctx)
{
	struct uart *u = ctx;
	unsigned reg = (unsigned)(addr - GUEST_PORT_COM1);

	(void)vp;
	(void)len;
	if (is_write)
		uart_write(u, reg, (uint8_t)*data);
	else
		*data = (*data & ~0xffull) | uart_read(u, reg);
}

static void com1_reset(void *state, struct vm *vm)
{
	struct uart_backend be;

	console_uart_backend(vm->cfg.console, &be);
	uart_init(state, &be);
}

static void com1_save_regs(const struct uart *u, Parapet__SavedUart *s)
{
	s->has_ier = s->has_lcr = s->has_mcr = s->has_scr = 1;
	s->has_fcr = s->has_dll = s->has_dlm = 1;
	s->has_loop_byte = s->has_loop_full = 1;
	s->ier = u->ier;
	s->lcr = u->lcr;
	s->mcr = u->mcr;
	s->scr = u->scr;
	s->fcr = u->fcr;
	s->dll = u->dll;
	s->dlm = u->dlm;
	s->loop_byte = u->loop_byte;
	s->loop_full = u->loop_full;
}

static int com1_save(void *state, struct vm *vm, Parapet__SavedState *st,
		     struct ipc_arena *arena)
{
	struct console *con = vm->cfg.console;
	Parapet__SavedUart *s = ipc_arena_alloc(arena, sizeof(*s));
	uint8_t *rx = ipc_arena_alloc(arena, CONSOLE_IN_SIZE);
	uint8_t *tx = ipc_arena_alloc(arena, CONSOLE_OUT_SIZE);

	if (s == NULL || rx == NULL || tx == NULL)
		return -1;
	parapet__saved_uart__init(s);
	com1_save_regs(state, s);
	s->has_rx_fifo = s->has_tx_fifo = 1;
	s->rx_fifo.data = rx;
	s->rx_fifo.len = console_ring_peek(&con->in, rx, CONSOLE_IN_SIZE, NULL);
	s->tx_fifo.data = tx;
	/* The offset is the tail the copy began at: hostcomm may ack bytes
	 * (advance the tail) while the VPs are paused. Reading the tail
	 * again afterwards numbered delivered bytes anew, and the host
	 * printed them twice. */
	s->has_tx_offset = 1;
	s->tx_fifo.len =
	    console_out_peek(con, tx, CONSOLE_OUT_SIZE, &s->tx_offset);
	st->uart = s;
	return 0;
}

static int com1_check(const Parapet__SavedState *st, char *err, size_t err_len)
{
	const Parapet__SavedUart *u = st->uart;

	if (u == NULL)
		return savestate_fail(err, err_len, "saved state has no UART");
	if (u->ier > 0xff || u->lcr > 0xff || u->mcr > 0xff || u->scr > 0xff ||
	    u->fcr > 0xff || u->dll > 0xff || u->dlm > 0xff ||
	    u->loop_byte > 0xff)
		return savestate_fail(err, err_len,
				      "saved UART: register out of range");
	if (u->rx_fifo.len > CONSOLE_IN_SIZE)
		return savestate_fail(
		    err, err_len,
		    "saved UART: input FIFO of %zu bytes, at most %u",
		    u->rx_fifo.len, CONSOLE_IN_SIZE);
	if (u->tx_fifo.len > CONSOLE_OUT_SIZE)
		return savestate_fail(
		    err, err_len,
		    "saved UART: output FIFO of %zu bytes, at most %u",
		    u->tx_fifo.len, CONSOLE_OUT_SIZE);
	return 0;
}

static void com1_restore(void *state, struct vm *vm,
			 const Parapet__SavedState *st)
{
	const Parapet__SavedUart *s = st->uart;
	struct uart *u = state;
	struct console *c = vm->cfg.console;
	size_t i;

	u->ier = (uint8_t)s->ier;
	u->lcr = (uint8_t)s->lcr;
	u->mcr = (uint8_t)s->mcr;
	u->scr = (uint8_t)s->scr;
	u->fcr = (uint8_t)s->fcr;
	u->dll = (uint8_t)s->dll;
	u->dlm = (uint8_t)s->dlm;
	u->loop_byte = (uint8_t)s->loop_byte;
	u->loop_full = s->loop_full;
	for (i = 0; i < s->rx_fifo.len; i++)
		console_ring_put(&c->in, s->rx_fifo.data[i]);
	console_out_set_offset(c, s->tx_offset);
	for (i = 0; i < s->tx_fifo.len; i++)
		console_ring_put(&c->out, s->tx_fifo.data[i]);
}

const struct dev_ops com1_dev = {
	.name = "com1",
	.base = GUEST_PORT_COM1,
	.len = UART_REG_COUNT,
	.handler = com1_access,
	.state_size = sizeof(struct uart),
	.reset = com1_reset,
	.save = com1_save,
	.check = com1_check,
	.restore = com1_restore,
};
