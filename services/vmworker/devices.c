/* Guest-visible devices: COM1, Parapet's ports (debug exit, timestamp,
 * VP start mailbox, test no-op) and the test MMIO window, dispatched from
 * an immutable table. Unknown accesses read all ones and are counted. */
#include "services/vmworker/devices.h"

#include <string.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/util.h"
#include "services/vmworker/console.h"
#include "services/vmworker/vm.h"

static void dev_com1(struct vp *vp, uint64_t addr, uint64_t *data, unsigned len,
		     bool is_write, void *ctx)
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

static void dev_debug_exit(struct vp *vp, uint64_t addr, uint64_t *data,
			   unsigned len, bool is_write, void *ctx)
{
	(void)addr;
	(void)len;
	(void)ctx;
	if (is_write)
		vm_poweroff(vp->vm, (int)(*data & 0xff));
}

static void dev_timestamp(struct vp *vp, uint64_t addr, uint64_t *data,
			  unsigned len, bool is_write, void *ctx)
{
	uint64_t us = (util_now_ns() - vp->vm->start_ns) / 1000;

	(void)addr;
	(void)len;
	(void)ctx;
	if (!is_write)
		*data = (uint32_t)us;
	else if (*data == GUEST_MARK_FIRST_INSN && vp->vm->first_insn_ns == 0)
		vp->vm->first_insn_ns = util_now_ns();
}

/* The guest asks for VP n to start: read and check its request. */
static uint32_t mailbox_request(struct vp *vp, uint64_t gpa)
{
	struct guest_start_vp req;
	struct vp_regs regs;
	const void *src = vm_gpa_ptr(vp->vm, gpa, sizeof(req));

	if (src == NULL)
		return GUEST_MAILBOX_EINVAL;
	memcpy(&req, src, sizeof(req));
	if (req.reserved != 0)
		return GUEST_MAILBOX_EINVAL;
	/* The new VP shares the BSP's long-mode set-up. */
	regs = vp->vm->bsp_start_regs;
	memset(regs.gpr, 0, sizeof(regs.gpr));
	regs.rip = req.rip;
	regs.gpr[VP_RSP] = req.rsp;
	regs.gpr[VP_RSI] = req.arg;
	regs.rflags = 2;
	return vm_start_vp(vp->vm, req.vp_index, &regs);
}

static void dev_mailbox(struct vp *vp, uint64_t addr, uint64_t *data,
			unsigned len, bool is_write, void *ctx)
{
	struct devices *d = ctx;

	(void)addr;
	if (!is_write)
		*data = atomic_load(&d->mailbox_status);
	else if (len != 4)
		atomic_store(&d->mailbox_status, GUEST_MAILBOX_EINVAL);
	else
		atomic_store(&d->mailbox_status,
			     mailbox_request(vp, (uint32_t)*data));
}

/* pio_loop's port and mmio_loop's window: accepted, nothing done. */
static void dev_noop(struct vp *vp, uint64_t addr, uint64_t *data, unsigned len,
		     bool is_write, void *ctx)
{
	(void)vp;
	(void)addr;
	(void)len;
	(void)ctx;
	if (!is_write)
		*data = 0;
}

static void devices_add(struct devices *d, const struct dev_entry *e)
{
	unsigned idx = d->n_entries++;
	uint64_t p;

	d->entries[idx] = *e;
	if (e->is_mmio)
		return;
	for (p = e->base; p < e->base + e->len && p < 65536; p++)
		d->pio_index[p] = (uint8_t)(idx + 1);
}

void devices_reset(struct devices *d, struct console *console)
{
	struct uart_backend be;

	console_uart_backend(console, &be);
	uart_init(&d->com1, &be);
	atomic_store(&d->mailbox_status, GUEST_MAILBOX_OK);
}

void devices_init(struct devices *d, struct vm *vm, struct console *console)
{
	struct uart_backend be;

	memset(d, 0, sizeof(*d));
	(void)vm;
	console_uart_backend(console, &be);
	uart_init(&d->com1, &be);
	atomic_init(&d->mailbox_status, GUEST_MAILBOX_OK);
	devices_add(d, &(struct dev_entry){ .name = "com1",
					    .base = GUEST_PORT_COM1,
					    .len = UART_REG_COUNT,
					    .handler = dev_com1,
					    .ctx = &d->com1 });
	devices_add(d, &(struct dev_entry){ .name = "debug-exit",
					    .base = GUEST_PORT_DEBUG_EXIT,
					    .len = 1,
					    .handler = dev_debug_exit });
	devices_add(d, &(struct dev_entry){ .name = "timestamp",
					    .base = GUEST_PORT_TIMESTAMP,
					    .len = 1,
					    .handler = dev_timestamp });
	devices_add(d, &(struct dev_entry){ .name = "mailbox",
					    .base = GUEST_PORT_MAILBOX,
					    .len = 1,
					    .handler = dev_mailbox,
					    .ctx = d });
	devices_add(d, &(struct dev_entry){ .name = "test-noop",
					    .write_sink = true,
					    .base = GUEST_PORT_TEST_NOOP,
					    .len = 1,
					    .handler = dev_noop });
	devices_add(d, &(struct dev_entry){ .name = "test-mmio",
					    .is_mmio = true,
					    .write_sink = true,
					    .base = GUEST_TEST_MMIO_GPA,
					    .len = GUEST_TEST_MMIO_SIZE,
					    .handler = dev_noop });
}

/* Rate limit: the first 8 unknown accesses, then every 2^k-th. */
static void devices_unknown(struct vp *vp, const char *kind, uint64_t addr,
			    bool is_write)
{
	uint64_t n = atomic_fetch_add(&vp->vm->devs.unknown_total, 1) + 1;

	if (n <= 8 || (n & (n - 1)) == 0)
		log_warnx("vp%u: unhandled %s %s at 0x%llx (%llu so far)",
			  vp->index, kind, is_write ? "write" : "read",
			  (unsigned long long)addr, (unsigned long long)n);
}

void devices_pio(struct vp *vp, uint16_t port, uint64_t *data, unsigned len,
		 bool is_write)
{
	struct devices *d = &vp->vm->devs;
	unsigned idx = d->pio_index[port];
	const struct dev_entry *e;

	if (!is_write)
		*data = ~0ull;
	if (idx == 0) {
		vp->counters.exits_unknown_pio++;
		devices_unknown(vp, "port", port, is_write);
		return;
	}
	e = &d->entries[idx - 1];
	vp->counters.dev_exits[idx - 1]++;
	e->handler(vp, port, data, len, is_write, e->ctx);
}

void devices_mmio(struct vp *vp, uint64_t gpa, uint64_t *data, unsigned len,
		  bool is_write)
{
	struct vm *vm = vp->vm;
	struct devices *d = &vm->devs;
	unsigned i;

	if (!is_write)
		*data = ~0ull;
	if (gpa - vm->cfg.hole_gpa < vm->cfg.hole_size) {
		vp->counters.vtl2_refused++;
		devices_unknown(vp, "VTL2-protected access", gpa, is_write);
		return;
	}
	for (i = 0; i < d->n_entries; i++) {
		const struct dev_entry *e = &d->entries[i];

		if (e->is_mmio && gpa - e->base < e->len) {
			vp->counters.dev_exits[i]++;
			e->handler(vp, gpa, data, len, is_write, e->ctx);
			return;
		}
	}
	vp->counters.exits_unknown_mmio++;
	devices_unknown(vp, "MMIO", gpa, is_write);
}

void vp_exit_totals(const struct vp *vp, uint64_t *pio, uint64_t *mmio)
{
	const struct devices *d = &vp->vm->devs;
	const struct vp_counters *c = &vp->counters;
	unsigned i;

	*pio = c->exits_pio + c->exits_unknown_pio;
	*mmio = c->exits_mmio + c->exits_unknown_mmio + c->vtl2_refused;
	for (i = 0; i < d->n_entries; i++) {
		if (d->entries[i].is_mmio)
			*mmio += c->dev_exits[i];
		else
			*pio += c->dev_exits[i];
	}
}
