/* The VP start mailbox: a start request read from guest memory and
 * checked, the status the guest reads back, and that status's reset and
 * saved state (SavedState.mailbox_status). */
#include "services/vmworker/mailbox.h"

#include <string.h>

#include "lib/guest_abi.h"
#include "savedstate.pb-c.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/vm.h"

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

static void mailbox_access(struct vp *vp, uint64_t addr, uint64_t *data,
			   unsigned len, bool is_write, void *ctx)
{
	struct mailbox *m = ctx;

	(void)addr;
	if (!is_write)
		*data = atomic_load(&m->status);
	else if (len != 4)
		atomic_store(&m->status, GUEST_MAILBOX_EINVAL);
	else
		atomic_store(&m->status, mailbox_request(vp, (uint32_t)*data));
}

static void mailbox_reset(void *state, struct vm *vm)
{
	struct mailbox *m = state;

	(void)vm;
	atomic_store(&m->status, GUEST_MAILBOX_OK);
}

static int mailbox_save(void *state, struct vm *vm, Parapet__SavedState *st,
			struct ipc_arena *arena)
{
	struct mailbox *m = state;

	(void)vm;
	(void)arena;
	st->has_mailbox_status = 1;
	st->mailbox_status = atomic_load(&m->status);
	return 0;
}

static int mailbox_check(const Parapet__SavedState *st, char *err,
			 size_t err_len)
{
	if (st->mailbox_status > GUEST_MAILBOX_EBUSY)
		return savestate_fail(err, err_len, "saved mailbox status %u",
				      st->mailbox_status);
	return 0;
}

static void mailbox_restore(void *state, struct vm *vm,
			    const Parapet__SavedState *st)
{
	struct mailbox *m = state;

	(void)vm;
	atomic_store(&m->status, st->mailbox_status);
}

const struct dev_ops mailbox_dev = {
	.name = "mailbox",
	.base = GUEST_PORT_MAILBOX,
	.len = 1,
	.handler = mailbox_access,
	.state_size = sizeof(struct mailbox),
	.reset = mailbox_reset,
	.save = mailbox_save,
	.check = mailbox_check,
	.restore = mailbox_restore,
};
