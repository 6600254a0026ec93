/* parapet-policy (OpenHCL's openvmm_hcl): config discovery from the boot
 * device tree, the VM lifecycle state machine, VM events from vmworker
 * and commands from the host (through hostcomm) and diagd. Handlers on
 * nng's threads only queue; the service's loop (lib/svcbase.h) runs the
 * queue in order. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostcomm.pb-c.h"
#include "init.pb-c.h"
#include "lib/caller.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "services/policy/policy.h"
#include "vmworker.pb-c.h"

/* While vmworker does not answer: nothing tells policy when init gives up
 * on it (policy_sync asks init then), so it asks again this often. */
#define SYNC_RETRY_MS 500

/* A request the loop runs (queued from nng's threads). */
struct policy_work {
	struct evqueue_item item; /* first: the queue hands it back */
	struct ipc_request *req;
	const ProtobufCMessage *in;
	ProtobufCMessage *out;
	/* VmEvent: answered once queued, so the event is copied */
	char state[16], reason[256];
	int value;
	bool has_boot;
	uint64_t boot;
};

static struct policy the_policy = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.state = PS_STARTING,
};

static void policy_run_event(struct policy *p, struct policy_work *w);
static void policy_run_command(struct policy *p, struct policy_work *w);

static void policy_run_item(struct evqueue_item *it, void *ctx, bool event)
{
	struct policy_work *w = (struct policy_work *)it;

	if (event)
		policy_run_event(ctx, w);
	else
		policy_run_command(ctx, w);
	free(w);
}

static void policy_run_event_item(struct evqueue_item *it, void *ctx)
{
	policy_run_item(it, ctx, true);
}

static void policy_run_command_item(struct evqueue_item *it, void *ctx)
{
	policy_run_item(it, ctx, false);
}

static int policy_enqueue(struct ipc_request *req, const ProtobufCMessage *in,
			  ProtobufCMessage *out, void *arg)
{
	struct policy *p = arg;
	struct policy_work *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return IPC_ERR_NOMEM;
	w->item.run = policy_run_command_item;
	w->req = req;
	w->in = in;
	w->out = out;
	if (svcbase_push(p->sb, &w->item) != 0) {
		free(w);
		return IPC_ERR_UNAVAILABLE;
	}
	return IPC_ASYNC;
}

/* Answered as soon as it is queued: vmworker's VM thread waits for the
 * answer (a reboot, VmWorker.Reset, and vmworker's exit wait for that
 * thread), and the loop may be busy, or told to stop, with the same news
 * from Start's reply ahead of it. */
static int on_vm_event(struct ipc_request *req, const ProtobufCMessage *in,
		       ProtobufCMessage *out, void *arg)
{
	const Parapet__VmEventNotice *ev = (const Parapet__VmEventNotice *)in;
	struct policy *p = arg;
	struct policy_work *w = calloc(1, sizeof(*w));

	(void)req;
	(void)out;
	if (w == NULL)
		return IPC_ERR_NOMEM;
	w->item.run = policy_run_event_item;
	snprintf(w->state, sizeof(w->state), "%s",
		 ev->state ? ev->state : "crashed");
	snprintf(w->reason, sizeof(w->reason), "%s",
		 ev->reason ? ev->reason : "");
	w->value = ev->exit_value;
	w->has_boot = ev->has_boot;
	w->boot = ev->boot;
	if (svcbase_push(p->sb, &w->item) != 0) {
		free(w);
		return IPC_ERR_UNAVAILABLE;
	}
	return 0;
}

static int on_command(struct ipc_request *req, const ProtobufCMessage *in,
		      ProtobufCMessage *out, void *arg)
{
	return policy_enqueue(req, in, out, arg);
}

static int on_status(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	struct policy *p = arg;
	Parapet__PolicyReply *r = (Parapet__PolicyReply *)out;

	(void)req;
	(void)in;
	pthread_mutex_lock(&p->lock);
	r->state = (char *)(uintptr_t)pstate_name(p->state);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static const struct ipc_method policy_methods[] = {
	/* vmworker reports its VM's events; host commands come through
	 * hostcomm, the owner's through diagd. */
	{ "VmEvent", on_vm_event, CALLER_VMWORKER, 1024 },
	{ "Command", on_command, CALLER_HOSTCOMM | CALLER_DIAGD, 1024 },
	{ "Status", on_status, CALLER_HOSTCOMM | CALLER_DIAGD, 64 },
};

/* /parapet/on-crash of the boot device tree (poweroff by default). */
static void policy_config(struct policy *p)
{
	char v[32] = "";
	int fd = open(PARTITION_DT_BASE_PATH "/parapet/on-crash",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, v, sizeof(v) - 1) : -1;

	if (fd >= 0)
		close(fd);
	v[n > 0 ? n : 0] = '\0';
	p->reboot_on_crash = !strcmp(v, "reboot");
	log_info("on-crash=%s", p->reboot_on_crash ? "reboot" : "poweroff");
}

static void policy_run_event(struct policy *p, struct policy_work *w)
{
	if (w->has_boot && w->boot < p->vm_boot) {
		log_info("VM event '%s' of an earlier boot: already handled",
			 w->state);
		return;
	}
	policy_vm_ended(p, w->state, w->value, w->reason);
}

static void policy_run_command(struct policy *p, struct policy_work *w)
{
	Parapet__VmStatus *vm = NULL;
	const Parapet__PolicyCommand *cmd =
	    (const Parapet__PolicyCommand *)w->in;
	int rc =
	    policy_command(p, w->req, cmd, (Parapet__PolicyReply *)w->out, &vm);

	log_info("command %s: %s", cmd->command ? cmd->command : "?",
		 rc ? ipc_strerror(rc) : "ok");
	ipc_request_finish(w->req, rc); /* packs the reply now */
	if (vm)
		ipc_free(&vm->base);
	if (p->poweroff_pending) {
		p->poweroff_pending = false;
		/* stop the guest first, so the console can be drained */
		policy_pause_vm(p);
		policy_finish_and_poweroff(p, "poweroff", 0, p->poweroff_reason,
					   p->poweroff_status);
	}
}

/* vmworker connected (a new instance: restarted, or policy's first
 * contact) or went away: its Status says what to do (nng's thread). */
static void policy_vm_peer(void *arg, bool up)
{
	struct policy *p = arg;

	(void)up;
	atomic_store(&p->vm_changed, true);
	evqueue_kick(&p->sb->queue);
}

/* Status of vmworker at start and whenever its connection changes;
 * again every SYNC_RETRY_MS only while it does not answer or its VM
 * still waits for a Start. VmEvent tells of the VM's end, so nothing
 * else is polled. */
static uint64_t policy_timer(struct svcbase *sb, uint64_t now)
{
	struct policy *p = sb->ctx;

	if (atomic_exchange(&p->vm_changed, false))
		p->sync_at = now;
	if (p->state == PS_STOPPED)
		return 0;
	if (p->sync_at != 0 && now >= p->sync_at)
		p->sync_at = policy_sync(p) == 0
				 ? 0
				 : util_now_ns() + SYNC_RETRY_MS * 1000000ull;
	return p->sync_at;
}

static int policy_open(struct svcbase *sb)
{
	struct policy *p = sb->ctx;

	p->sb = sb;
	p->trace = sb->trace;
	p->vm = svcbase_client(SVC_NAME_POLICY, SVC_NAME_VMWORKER, NULL,
			       &parapet__vm_worker__descriptor,
			       POLICY_VM_WAIT_MS, p->trace);
	p->vm_quick =
	    svcbase_client(SVC_NAME_POLICY, SVC_NAME_VMWORKER, NULL,
			   &parapet__vm_worker__descriptor, 500, p->trace);
	/* vmworker restarts (servicing); its methods may run twice. */
	if (p->vm)
		ipc_client_set_resend(p->vm, 1000);
	if (p->vm_quick) {
		ipc_client_set_resend(p->vm_quick, 250);
		ipc_client_on_peer(p->vm_quick, policy_vm_peer, p);
	}
	p->sync_at = util_now_ns(); /* the first Status at once */
	p->init =
	    svcbase_client(SVC_NAME_POLICY, SVC_NAME_INIT, NULL,
			   &parapet__init_control__descriptor, 30000, p->trace);
	p->hostcomm =
	    svcbase_client(SVC_NAME_POLICY, SVC_NAME_HOSTCOMM, NULL,
			   &parapet__host_comm__descriptor, 15000, p->trace);
	return p->vm && p->vm_quick && p->init && p->hostcomm ? 0 : -1;
}

static int policy_init(struct svcbase *sb)
{
	int fd = svcbase_take_fd(NULL, 50); /* the boot dtb: sysfs has it */

	if (fd >= 0)
		close(fd);
	policy_config(sb->ctx);
	return 0;
}

/* DESIGN.md §7: policy sees the IPC directory and the boot device tree. */
static const struct sandbox_bind policy_binds[] = {
	{ "/sys/firmware", "/sys/firmware", true, false },
};

/* Nothing to save at a stop: a restarted instance rebuilds its state
 * from its peers (at-least-once delivery), so it ends at once. */
static const struct svcbase_desc policy_desc = {
	.name = SVC_NAME_POLICY,
	.binds = policy_binds,
	.n_binds = 1,
	.methods = policy_methods,
	.n_methods = sizeof(policy_methods) / sizeof(policy_methods[0]),
	.init = policy_init,
	.open = policy_open,
	.timer = policy_timer,
};

int main(int argc, char **argv)
{
	return svcbase_main(&policy_desc, &the_policy, argc, argv);
}
