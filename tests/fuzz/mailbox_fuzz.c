/* libFuzzer harness for the VP start mailbox (services/vmworker/devices.c
 * dev_mailbox -> vm_start_vp): a guest's OUT to GUEST_PORT_MAILBOX with
 * fuzzed guest memory at the request gpa, on a 4-VP emu VM created once.
 * A request may start only VP 1-3, only one not yet started, only with a
 * context KVM would accept; nothing else may change. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "services/vmworker/console.h"
#include "services/vmworker/mailbox.h"
#include "services/vmworker/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_VPS	 4
#define MEM_SIZE (16u << 20)
#define REQ_MAX	 64 /* request bytes placed in guest memory */

static struct vm vm;
static struct console con;
static const struct vp_regs zero_regs;

static struct mailbox *mailbox(void)
{
	return devices_state(&vm.devs, "mailbox");
}

static void discard(void *ctx, const uint8_t *d, size_t len)
{
	(void)ctx;
	(void)d;
	(void)len;
}

static void setup(void)
{
	struct vm_config cfg = { .accel = &accel_emu_ops,
				 .n_vps = N_VPS,
				 .mem_size = MEM_SIZE,
				 .hole_gpa = GUEST_VTL2_GPA,
				 .hole_size = 2u << 20,
				 .console = &con };

	log_init("mailbox_fuzz");
	if (console_init(&con, discard, NULL) != 0 ||
	    vm_create(&vm, &cfg, -1) != 0)
		abort();
	/* What vm_run keeps as the template for mailbox starts. */
	vpregs_long_mode(&vm.bsp_start_regs, GUEST_PML4_GPA, GUEST_GDT_GPA,
			 0x1f);
	vm.bsp_start_regs.rip = GUEST_LOAD_GPA;
}

/* The request bytes go where the guest would put them; bytes past RAM
 * are dropped (the hole is written too: the guest cannot, a host could). */
static void place(uint64_t gpa, const uint8_t *req, size_t n, bool clear)
{
	for (size_t i = 0; i < n; i++)
		if (gpa + i < MEM_SIZE)
			vm.mem[gpa + i] = clear ? 0 : req[i];
}

/* One VP changed to RUNNING, the one asked for, with a valid context. */
static void check_started(unsigned was_running, uint64_t gpa)
{
	const void *src = vm_gpa_ptr(&vm, gpa, sizeof(struct guest_start_vp));
	struct guest_start_vp r, *req = &r;
	char why[128];
	unsigned i;

	/* The guest may put the request at any (unaligned) gpa. */
	if (src == NULL)
		__builtin_trap();
	memcpy(&r, src, sizeof(r));
	if (req->reserved != 0 || req->vp_index == 0 ||
	    req->vp_index >= N_VPS || (was_running >> req->vp_index) & 1)
		__builtin_trap();
	for (i = 1; i < N_VPS; i++) {
		bool now = atomic_load(&vm.vps[i].state) == VP_RUNNING;

		if (now != (((was_running >> i) & 1) || i == req->vp_index))
			__builtin_trap();
	}
	i = req->vp_index;
	if (vm.vps[i].start_regs.rip != req->rip ||
	    vm.vps[i].start_regs.gpr[VP_RSP] != req->rsp ||
	    vm.vps[i].start_regs.gpr[VP_RSI] != req->arg ||
	    vpregs_check(&vm.vps[i].start_regs, why, sizeof(why)) != 0)
		__builtin_trap();
}

static void check_unchanged(unsigned was_running)
{
	for (unsigned i = 1; i < N_VPS; i++)
		if ((atomic_load(&vm.vps[i].state) == VP_RUNNING) !=
		    ((was_running >> i) & 1))
			__builtin_trap();
}

static void reset(int vp0_state)
{
	for (unsigned i = 1; i < N_VPS; i++) {
		atomic_store(&vm.vps[i].state, VP_NOT_STARTED);
		vm.vps[i].start_regs = zero_regs;
	}
	atomic_store(&vm.vps[0].state, vp0_state);
	atomic_store(&mailbox()->status, GUEST_MAILBOX_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned lens[4] = { 4, 1, 2, 8 };
	uint64_t value, readback;
	unsigned len, caller, running;
	uint32_t status;
	int vp0_state;

	if (vm.mem == NULL)
		setup();
	/* value (8), access size, flags, then the request bytes. */
	if (size < 10)
		return 0;
	memcpy(&value, data, 8);
	len = lens[data[8] & 3];
	running = data[9] & 0x0e; /* VPs 1-3 already started */
	caller = (data[9] >> 4) & 3;
	vp0_state = data[9] & 0x40 ? VP_NOT_STARTED : VP_RUNNING;
	reset(vp0_state);
	for (unsigned i = 1; i < N_VPS; i++)
		if ((running >> i) & 1)
			atomic_store(&vm.vps[i].state, VP_RUNNING);
	place((uint32_t)value, data + 10,
	      size - 10 < REQ_MAX ? size - 10 : REQ_MAX, false);
	devices_pio(&vm.vps[caller], GUEST_PORT_MAILBOX, &value, len, true);
	status = atomic_load(&mailbox()->status);
	readback = 0;
	devices_pio(&vm.vps[caller], GUEST_PORT_MAILBOX, &readback, 4, false);
	if (readback != status || status > GUEST_MAILBOX_EBUSY)
		__builtin_trap();
	if (len != 4 && status != GUEST_MAILBOX_EINVAL)
		__builtin_trap();
	if (status == GUEST_MAILBOX_OK)
		check_started(running, (uint32_t)value);
	else
		check_unchanged(running);
	/* VP 0 and the VPs past n_vps never move. */
	if (atomic_load(&vm.vps[0].state) != vp0_state)
		__builtin_trap();
	for (unsigned i = N_VPS; i < VM_MAX_VPS; i++)
		if (atomic_load(&vm.vps[i].state) != VP_NOT_STARTED ||
		    memcmp(&vm.vps[i].start_regs, &zero_regs,
			   sizeof(zero_regs)) != 0)
			__builtin_trap();
	place((uint32_t)value, data + 10, REQ_MAX, true);
	return 0;
}
